/**
 * What the editor says about an op's cost: the CodeLens line, the breakdown by type and shape for
 * hovers, and the sampled hot lines. Pure (no `vscode` import), so tests check it directly.
 */
import { typeName, type OpStat, type Profile } from "../profile/model";
import { MAX_DIMS_CAP } from "../profile/stream";

/** What the roofline analysis adds to an op, when it is there (GFLOP/s, GB/s, bound). */
export interface OpRate {
  gflopsPerS: number | null;
  gbPerS: number | null;
  /** e.g. "memory-bound", "compute-bound"; null when unknown (no machine ceilings). */
  bound: string | null;
}

let countFormat: Intl.NumberFormat | undefined;

/** "1,234". The format is made on first use: making one loads ICU data, ~45 ms of the extension's activation. */
export function formatCount(n: number): string {
  countFormat ??= new Intl.NumberFormat("en-US");
  return countFormat.format(n);
}

/** A duration in the unit that keeps three significant digits readable: 850 ns, 41.2 µs, 3.07 ms. */
export function formatDuration(ns: number): string {
  const [value, unit] = ns < 1e3 ? [ns, "ns"] : ns < 1e6 ? [ns / 1e3, "µs"] : ns < 1e9 ? [ns / 1e6, "ms"] : [ns / 1e9, "s"];
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${unit}`;
}

export function formatShare(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/** The op name as shown: a fused group whose second op is unknown says so. */
export function displayName(stat: OpStat): string {
  return stat.fused && !stat.op.includes("+") ? `${stat.op} (fused)` : stat.op;
}

/** `MUL_MAT 71.3% · 1,024 calls · 412 µs avg · 23 GFLOP/s · 11.7 GB/s · memory-bound` */
export function lensTitle(stat: OpStat, rate?: OpRate): string {
  const parts = [`${displayName(stat)} ${formatShare(stat.share)}`, `${formatCount(stat.calls)} calls`, `${formatDuration(stat.mean_ns)} avg`];
  if (rate?.gflopsPerS != null) parts.push(`${rate.gflopsPerS.toPrecision(3)} GFLOP/s`);
  if (rate?.gbPerS != null) parts.push(`${rate.gbPerS.toPrecision(3)} GB/s`);
  if (rate?.bound) parts.push(rate.bound);
  return parts.join(" · ");
}

/**
 * The op stats shown at an op's anchors, by op name: the op's own stat first, then the fused groups
 * it starts (RMS_NORM+MUL runs under RMS_NORM). Ops that did not run are absent.
 */
export function statsByOp(profile: Profile): Map<string, OpStat[]> {
  const byOp = new Map<string, OpStat[]>();
  for (const stat of profile.ops) {
    const label = profile.labels.find((l) => l.name === stat.op && l.fused === stat.fused);
    const first = label ? (profile.header.ops[label.op] ?? stat.op) : stat.op;
    const list = byOp.get(first) ?? [];
    list.push(stat);
    byOp.set(first, list);
  }
  for (const list of byOp.values()) list.sort((a, b) => Number(a.fused) - Number(b.fused) || b.total_ns - a.total_ns);
  return byOp;
}

/** One row of an op's breakdown: the spans of one output type and shape. */
export interface BreakdownRow {
  type: string;
  /** ne of the op's output tensor, trailing 1s dropped: "4096×32". */
  shape: string;
  calls: number;
  totalNs: number;
  meanNs: number;
  /** Share of the op's time. */
  share: number;
}

function shapeOf(ne: Float64Array, row: number): string {
  const dims = Array.from(ne.subarray(row * MAX_DIMS_CAP, (row + 1) * MAX_DIMS_CAP));
  while (dims.length > 1 && dims[dims.length - 1] === 1) dims.pop();
  return dims.join("×");
}

/** The spans of `stat` grouped by output type and shape, most time first. */
export function breakdown(profile: Profile, stat: OpStat): BreakdownRow[] {
  const label = profile.labels.findIndex((l) => l.name === stat.op && l.fused === stat.fused);
  const { begin } = profile.opRecords;
  const groups = new Map<string, BreakdownRow>();
  const { spans } = profile;
  for (let s = 0; s < spans.count; s++) {
    if (spans.label[s] !== label) continue;
    const row = spans.row[s];
    const type = typeName(profile.header, begin.type[row]);
    const shape = shapeOf(begin.ne, row);
    const key = `${type} ${shape}`;
    const group = groups.get(key) ?? { type, shape, calls: 0, totalNs: 0, meanNs: 0, share: 0 };
    group.calls++;
    group.totalNs += spans.endNs[s] - spans.startNs[s];
    groups.set(key, group);
  }
  const rows = [...groups.values()];
  for (const r of rows) {
    r.meanNs = r.totalNs / r.calls;
    r.share = stat.total_ns > 0 ? r.totalNs / stat.total_ns : 0;
  }
  return rows.sort((a, b) => b.totalNs - a.totalNs);
}

/** The breakdown as a Markdown table (hovers). */
export function breakdownMarkdown(profile: Profile, stat: OpStat, maxRows = 12): string {
  const rows = breakdown(profile, stat);
  const lines = [
    `**${displayName(stat)}**: ${formatShare(stat.share)} of op time, ${formatCount(stat.calls)} calls on ${stat.threads} threads, ` +
      `mean ${formatDuration(stat.mean_ns)}, p50 ${formatDuration(stat.p50_ns)}, p99 ${formatDuration(stat.p99_ns)}`,
    "",
    "| type | shape | calls | total | avg | share |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
    ...rows
      .slice(0, maxRows)
      .map((r) => `| ${r.type} | ${r.shape} | ${formatCount(r.calls)} | ${formatDuration(r.totalNs)} | ${formatDuration(r.meanNs)} | ${formatShare(r.share)} |`),
  ];
  if (rows.length > maxRows) lines.push("", `${rows.length - maxRows} more shapes`);
  return lines.join("\n");
}

// ---- sampled hot lines ---------------------------------------------------------------------------

/** A source line where timer samples landed (the sampled instruction's own line, 1-based). */
export interface HotLine {
  file: string;
  line: number;
  function: string;
  samples: number;
  /** Share of all samples of the run. */
  share: number;
}

/** Sampled lines with a known source position, most samples first. */
export function hotLines(profile: Profile): HotLine[] {
  const symbols = new Map((profile.trailer?.symbols ?? []).map((s) => [s.ip, s]));
  const total = profile.samples.count;
  const byLine = new Map<string, HotLine>();
  const ips = profile.samples.ip;
  for (let i = 0; i < total; i++) {
    const symbol = symbols.get(ips[i]);
    if (!symbol?.file || !symbol.line) continue;
    const key = `${symbol.file}:${symbol.line}`;
    const hot = byLine.get(key) ?? { file: symbol.file, line: symbol.line, function: symbol.function ?? "?", samples: 0, share: 0 };
    hot.samples++;
    byLine.set(key, hot);
  }
  const lines = [...byLine.values()];
  for (const hot of lines) hot.share = hot.samples / total;
  return lines.sort((a, b) => b.samples - a.samples || a.file.localeCompare(b.file) || a.line - b.line);
}
