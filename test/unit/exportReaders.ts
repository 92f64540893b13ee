/**
 * Independent readers of the export formats, for the tests: pprof decoded with protobufjs against
 * the official profile.proto, Trace Event format rules, an RFC 4180 CSV reader.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import protobuf from "protobufjs";

export interface PprofMessage {
  sampleType: { type: number; unit: number }[];
  sample: { locationId: number[]; value: number[]; label: { key: number; num: number }[] }[];
  mapping: { id: number; filename: number; buildId: number }[];
  location: { id: number; mappingId?: number; address?: number; line: { functionId: number; line?: number }[] }[];
  function: { id: number; name: number; filename: number }[];
  stringTable: string[];
  defaultSampleType: number;
  period: number;
  periodType: { type: number; unit: number };
}

export function readPprof(bytes: Uint8Array): PprofMessage {
  const root = protobuf.loadSync(path.join(__dirname, "..", "fixtures", "pprof", "profile.proto"));
  const type = root.lookupType("perftools.profiles.Profile");
  return type.toObject(type.decode(gunzipSync(bytes)), { longs: Number, defaults: true }) as PprofMessage;
}

/** Each sample as its frames, leaf first: "function file:line" joined by " < " per location. */
export function stacks(p: PprofMessage): { frames: string[]; values: number[]; thread: number }[] {
  const str = (i: number): string => p.stringTable[i];
  const fn = new Map(p.function.map((f) => [f.id, f]));
  const loc = new Map(p.location.map((l) => [l.id, l]));
  return p.sample.map((s) => ({
    frames: s.locationId.map((id) => {
      const l = loc.get(id);
      assert.ok(l, `location ${id} exists`);
      return l.line
        .map((line) => {
          const f = fn.get(line.functionId);
          assert.ok(f, `function ${line.functionId} exists`);
          return line.line ? `${str(f.name)} ${str(f.filename)}:${line.line}` : str(f.name);
        })
        .join(" < ");
    }),
    values: s.value,
    thread: s.label.find((l) => str(l.key) === "thread")?.num ?? -1,
  }));
}

export interface TraceEvent {
  ph: string;
  ts?: number;
  dur?: number;
  pid: number;
  tid: number;
  name: string;
  cat?: string;
  args?: Record<string, unknown>;
}

/** The Trace Event format's rules for what ggml-lens writes (X, B/E, C, i and M events). */
export function assertValidTrace(trace: { traceEvents: TraceEvent[] }): void {
  assert.ok(Array.isArray(trace.traceEvents), "traceEvents is an array");
  const open = new Map<string, string[]>();
  const slices = new Map<string, [number, number][]>();
  for (const e of trace.traceEvents) {
    assert.ok(["X", "B", "E", "C", "i", "M"].includes(e.ph), `ph ${e.ph}`);
    assert.ok(Number.isInteger(e.pid) && Number.isInteger(e.tid), "integer pid and tid");
    assert.equal(typeof e.name, "string");
    const thread = `${e.pid}/${e.tid}`;
    if (e.ph === "M") {
      assert.ok(["process_name", "thread_name", "thread_sort_index", "process_sort_index"].includes(e.name), e.name);
      assert.ok(e.args && (typeof e.args.name === "string" || Number.isInteger(e.args.sort_index)), "metadata args");
      continue;
    }
    assert.ok(typeof e.ts === "number" && e.ts >= 0, `ts of ${e.name}`);
    if (e.ph === "X") {
      assert.ok(typeof e.dur === "number" && e.dur >= 0, `dur of ${e.name}`);
      slices.set(thread, [...(slices.get(thread) ?? []), [e.ts, e.ts + e.dur]]);
    }
    if (e.ph === "B") open.set(thread, [...(open.get(thread) ?? []), e.name]);
    if (e.ph === "E") assert.ok(open.get(thread)?.pop() !== undefined, "E closes a B");
    if (e.ph === "C") assert.ok(e.args && Object.values(e.args).every((v) => typeof v === "number"), "counter values are numbers");
  }
  for (const names of open.values()) assert.equal(names.length, 0, "every B is closed");
  for (const [thread, list] of slices) {
    list.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    const stack: number[] = [];
    for (const [start, end] of list) {
      while (stack.length && stack[stack.length - 1] <= start + 1e-9) stack.pop();
      assert.ok(!stack.length || end <= stack[stack.length - 1] + 1e-9, `slices on ${thread} nest: [${start}, ${end}] crosses its parent's end ${stack[stack.length - 1]}`);
      stack.push(end);
    }
  }
}

/** An RFC 4180 reader: CRLF records, quoted fields with doubled quotes. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else {
      assert.ok(c !== "\n" && c !== "\r", "bare line breaks only inside quotes");
      field += c;
    }
  }
  assert.equal(field + row.join(""), "", "the last record ends with CRLF");
  return rows;
}

