/**
 * Keeps extension/profile/stream.ts mirrored on bpf/stream.h: compiles a C program that prints the
 * sizeof / offsetof of every struct and the value of every constant of the header, and compares.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as stream from "../../extension/profile/stream";

const HEADER = path.join(__dirname, "..", "..", "bpf", "stream.h");
const hasCc = spawnSync("cc", ["--version"]).status === 0;

interface CStruct {
  name: string;
  fields: string[];
}

/** Structs of stream.h and their field names, read from its text. */
function parseStructs(text: string): CStruct[] {
  const clean = text.replace(/\/\*[\s\S]*?\*\//g, "");
  return [...clean.matchAll(/struct\s+(gl_\w+)\s*\{([^}]*)\};/g)].map(([, name, body]) => ({
    name,
    fields: [...body.matchAll(/(\w+)\s*(?:\[[^\]]*\])?\s*;/g)].map(([, field]) => field),
  }));
}

/** Names of the enum constants and #defined numbers of stream.h. */
function parseConstants(text: string): string[] {
  const clean = text.replace(/\/\*[\s\S]*?\*\//g, "");
  const enums = [...clean.matchAll(/enum\s+\w+\s*\{([^}]*)\}/g)].flatMap(([, body]) => [...body.matchAll(/\b(GL_\w+)/g)].map((m) => m[1]));
  const defines = [...clean.matchAll(/#define\s+(GL_\w+)\s+\d+/g)].map((m) => m[1]);
  return [...defines, ...enums];
}

function cProgram(structs: CStruct[], constants: string[]): string {
  const lines = structs.flatMap((s) => [
    `printf("sizeof %s %zu\\n", "${s.name}", sizeof(struct ${s.name}));`,
    ...s.fields.map((f) => `printf("offsetof %s.%s %zu\\n", "${s.name}", "${f}", offsetof(struct ${s.name}, ${f}));`),
  ]);
  lines.push(...constants.map((c) => `printf("const %s %lld\\n", "${c}", (long long)(${c}));`));
  lines.push(`printf("magic %s\\n", GL_STREAM_MAGIC);`);
  return `#include <stdio.h>\n#include <stddef.h>\n#include "stream.h"\nint main(void) {\n${lines.join("\n")}\nreturn 0;\n}\n`;
}

/** Compiles and runs the program: "sizeof S" / "offsetof S.f" / "const NAME" -> value. */
function measure(structs: CStruct[], constants: string[]): Map<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), "ggml-lens-layout-"));
  try {
    writeFileSync(path.join(dir, "layout.c"), cProgram(structs, constants));
    const exe = path.join(dir, "layout");
    execFileSync("cc", ["-std=c11", "-Wall", "-I", path.dirname(HEADER), path.join(dir, "layout.c"), "-o", exe]);
    const out = execFileSync(exe, { encoding: "utf8" });
    return new Map(out.trim().split("\n").map((line) => {
      const at = line.lastIndexOf(" ");
      return [line.slice(0, at), line.slice(at + 1)];
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** "DecodeBegin" -> "DECODE_BEGIN" */
function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

function enumEntries(e: object): [string, number][] {
  return Object.entries(e).filter((entry): entry is [string, number] => typeof entry[1] === "number");
}

/** Every layout of stream.ts with the TS name of its fields, the record header included. */
function tsLayouts(): { c: string; size: number; fields: { c: string; at: number }[] }[] {
  const h = stream.RECORD_HEADER;
  const header = { c: "gl_record", size: h.size, fields: [{ c: "type", at: h.type }, { c: "size", at: h.recordSize }, { c: "tid", at: h.tid }, { c: "ts", at: h.ts }] };
  const records = [...Object.values(stream.LAYOUTS), stream.TRAILER_LAYOUT, stream.SW_COUNTERS_LAYOUT].map((l) => ({
    c: l.c,
    size: l.size,
    fields: Object.values(l.fields) as { c: string; at: number }[],
  }));
  return [header, ...records];
}

test("stream.ts mirrors every struct, field and constant of bpf/stream.h", { skip: !hasCc && "no C compiler (cc)" }, () => {
  const text = readFileSync(HEADER, "utf8");
  const structs = parseStructs(text);
  const constants = parseConstants(text);
  const c = measure(structs, constants);
  const ts = tsLayouts();

  assert.deepEqual([...new Set(ts.map((l) => l.c))].sort(), structs.map((s) => s.name).sort(), "the same structs on both sides");
  for (const s of structs) {
    const mirror = ts.find((l) => l.c === s.name);
    assert.ok(mirror);
    assert.equal(String(mirror.size), c.get(`sizeof ${s.name}`), `sizeof(struct ${s.name})`);
    assert.equal(mirror.size % 8, 0, `${s.name} keeps records 8-aligned`);
    const named = s.fields.filter((f) => f !== "hdr" && f !== "pad");
    const members = [...new Set(mirror.fields.map((f) => f.c.split(".")[0]))]; // "delta.min_flt" is member "delta"
    assert.deepEqual(members.sort(), named.sort(), `fields of ${s.name}`);
    for (const f of mirror.fields) {
      const [member, inner] = f.c.split(".");
      const at = Number(c.get(`offsetof ${s.name}.${member}`)) + (inner ? Number(c.get(`offsetof gl_sw_counters.${inner}`)) : 0);
      assert.equal(f.at, at, `offsetof(struct ${s.name}, ${f.c})`);
    }
  }

  const tsConstants = new Map<string, number>([
    ["GL_STREAM_VERSION_MAJOR", stream.STREAM_VERSION_MAJOR],
    ["GL_STREAM_VERSION_MINOR", stream.STREAM_VERSION_MINOR],
    ["GL_NAME_CAP", stream.NAME_CAP],
    ["GL_MAX_DIMS_CAP", stream.MAX_DIMS_CAP],
    ["GL_MAX_SRC_CAP", stream.MAX_SRC_CAP],
    ["GL_EXPERT_IDS_CAP", stream.EXPERT_IDS_CAP],
    ...enumEntries(stream.RecordType).map(([k, v]) => [`GL_REC_${snake(k)}`, v] as [string, number]),
    ...enumEntries(stream.OpFlags).map(([k, v]) => [`GL_OP_${snake(k)}`, v] as [string, number]),
    ...enumEntries(stream.SchedKind).map(([k, v]) => [`GL_SCHED_${snake(k)}`, v] as [string, number]),
    ...enumEntries(stream.CopyKind).map(([k, v]) => [`GL_COPY_${snake(k)}`, v] as [string, number]),
    ...enumEntries(stream.NameKind).map(([k, v]) => [`GL_NAME_${snake(k)}`, v] as [string, number]),
    ...enumEntries(stream.ProbeKind).map(([k, v]) => [`GL_PROBE_${snake(k)}`, v] as [string, number]),
  ]);
  assert.deepEqual([...tsConstants.keys()].sort(), [...constants].sort(), "the same constants on both sides");
  for (const [name, value] of tsConstants) assert.equal(String(value), c.get(`const ${name}`), name);
  assert.equal(c.get("magic"), stream.STREAM_MAGIC);
});
