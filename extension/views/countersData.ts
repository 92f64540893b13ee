/**
 * The counters panel's data: per llama_decode call, each software counter the profile carries, as
 * the calling thread counted it over the call (its DECODE_END record) and summed over the op spans
 * of every thread that began inside the call (their OP_END records); per op, the counters over its
 * spans; and which counters the helper could not record on this machine (the header's `counters`).
 * No `vscode` import.
 */
import { callAt } from "../profile/instances";
import type { Profile, SoftwareCounters } from "../profile/model";
import type { CounterSeries, CountersData } from "../../webview/protocol";

/** The software counters of the stream (struct gl_sw_counters), by the names the header lists them under. */
interface Counter {
  key: string;
  name: string;
  unit: "" | "ns";
  of: (c: SoftwareCounters) => number;
}

const SOFTWARE: readonly Counter[] = [
  { key: "cpu_ns", name: "CPU time", unit: "ns", of: (c) => c.cpu_ns },
  { key: "min_flt", name: "minor page faults", unit: "", of: (c) => c.minor_faults },
  { key: "maj_flt", name: "major page faults", unit: "", of: (c) => c.major_faults },
  { key: "nvcsw", name: "voluntary context switches (the thread slept)", unit: "", of: (c) => c.voluntary_switches },
  { key: "nivcsw", name: "involuntary context switches (preempted)", unit: "", of: (c) => c.involuntary_switches },
];

/** The header's `counters` object, as the helper writes it (bpf/output.c); absent from older profiles. */
interface CountersInfo {
  software?: unknown;
  hardware?: unknown;
  hardware_unavailable?: unknown;
}

function stringsOf(value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : null;
}

function countersInfo(profile: Profile): { software: string[] | null; hardware: string[] | null; hardwareReason: string | null } {
  const raw = profile.header.raw.counters;
  const info = (typeof raw === "object" && raw !== null ? raw : {}) as CountersInfo;
  return {
    software: stringsOf(info.software),
    hardware: stringsOf(info.hardware),
    hardwareReason: typeof info.hardware_unavailable === "string" ? info.hardware_unavailable : null,
  };
}

/** Lines naming the counters this profile lacks, and why. */
function lackingLines(info: ReturnType<typeof countersInfo>, shown: string[]): string[] {
  const lines: string[] = [];
  if (info.software === null) lines.push("The profile's header does not list its counters (an older helper): the software counters below are those every stream carries.");
  const missing = SOFTWARE.filter((c) => !shown.includes(c.key)).map((c) => `${c.name} (${c.key})`);
  if (missing.length) lines.push(`Software counters not recorded on this machine: ${missing.join(", ")}.`);
  if (info.hardware?.length) lines.push(`Hardware counters ${info.hardware.join(", ")} were available, but this profile's stream carries no hardware counter values.`);
  else lines.push(`No hardware counters (cycles, instructions, cache misses): ${info.hardwareReason ?? "the profile does not say whether the machine had a PMU"}.`);
  return lines;
}

export function countersData(profile: Profile, title: string): CountersData {
  const info = countersInfo(profile);
  const counters = SOFTWARE.filter((c) => info.software === null || info.software.includes(c.key));
  const calls = profile.calls;
  const n = calls.length;
  const series: CounterSeries[] = counters.map((c) => ({
    key: c.key,
    name: c.name,
    unit: c.unit,
    call: Float64Array.from(calls, (call) => (call.counters ? c.of(call.counters) : NaN)),
    ops: new Float64Array(n),
  }));
  const spansOutsideCalls = addOpSpans(profile, series, counters);
  const origin = n ? calls[0].startNs : 0;
  return {
    title,
    calls: { start: Float64Array.from(calls, (c) => c.startNs - origin), nTokens: Int32Array.from(calls, (c) => c.nTokens) },
    series,
    lacking: lackingLines(info, counters.map((c) => c.key)),
    ops: profile.ops.map((o) => ({ op: o.op, calls: o.calls, values: counters.map((c) => c.of(o.counters)) })),
    spansOutsideCalls,
  };
}

/**
 * Adds each op span's counters (its OP_END) to the call it began in; returns how many spans with
 * counters began outside every call.
 */
function addOpSpans(profile: Profile, series: CounterSeries[], counters: readonly Counter[]): number {
  const { spans, calls } = profile;
  const end = profile.opRecords.end;
  const starts = Float64Array.from(calls, (c) => c.startNs);
  const span: SoftwareCounters = { minor_faults: 0, major_faults: 0, voluntary_switches: 0, involuntary_switches: 0, cpu_ns: 0 };
  let outside = 0;
  for (let s = 0; s < spans.count; s++) {
    const e = spans.endRow[s];
    if (e < 0) continue;
    const call = callAt(calls, starts, spans.startNs[s]);
    if (call < 0) {
      outside++;
      continue;
    }
    span.minor_faults = end.minFlt[e];
    span.major_faults = end.majFlt[e];
    span.voluntary_switches = end.nvcsw[e];
    span.involuntary_switches = end.nivcsw[e];
    span.cpu_ns = end.cpuNs[e];
    for (let k = 0; k < counters.length; k++) series[k].ops[call] += counters[k].of(span);
  }
  return outside;
}
