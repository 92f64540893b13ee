/** The op table as CSV (RFC 4180): a header row, then one row per op class, as `report` lists them. */
import type { OpStat } from "../model";

const COLUMNS: [string, (s: OpStat) => string | number | boolean][] = [
  ["op", (s) => s.op],
  ["fused", (s) => s.fused],
  ["calls", (s) => s.calls],
  ["threads", (s) => s.threads],
  ["total_ns", (s) => s.total_ns],
  ["share", (s) => s.share],
  ["mean_ns", (s) => s.mean_ns],
  ["p50_ns", (s) => s.p50_ns],
  ["p99_ns", (s) => s.p99_ns],
  ["minor_faults", (s) => s.counters.minor_faults],
  ["major_faults", (s) => s.counters.major_faults],
  ["voluntary_switches", (s) => s.counters.voluntary_switches],
  ["involuntary_switches", (s) => s.counters.involuntary_switches],
  ["cpu_ns", (s) => s.counters.cpu_ns],
];

/** A field quoted when it holds a comma, a quote or a line break; quotes inside are doubled. */
export function csvField(value: string | number | boolean): string {
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function opTableCsv(ops: OpStat[]): string {
  const rows = [COLUMNS.map(([name]) => name), ...ops.map((s) => COLUMNS.map(([, get]) => csvField(get(s))))];
  return rows.map((row) => `${row.join(",")}\r\n`).join("");
}
