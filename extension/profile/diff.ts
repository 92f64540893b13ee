/**
 * Two profiles compared: per op class, its time and share before and after and whether the change
 * stands out from the token-to-token spread (a Mann-Whitney U test on the op's time per decode call),
 * and what differs between the two runs (command line, model, threads, weight types, builds, mode).
 */
import type { OpStat, Profile } from "./model";
import { lastAtOrBefore } from "./sorted";

/** p below this is reported as a significant change. */
export const SIGNIFICANCE_LEVEL = 0.05;
/** Fewer tokens than this on either side: no test (the normal approximation needs a few). */
export const MIN_TOKENS_FOR_TEST = 5;

export interface Side {
  total_ns: number;
  share: number;
  calls: number;
  /** Median over tokens of the op's time in one token (summed over threads). */
  per_token_median_ns: number;
  per_token_mean_ns: number;
}

export interface OpChange {
  op: string;
  fused: boolean;
  before: Side;
  after: Side;
  /** after / before of the mean time per token; null when the op did not run before. */
  ratio: number | null;
  /** Two-sided p of the Mann-Whitney U test on the per-token times; null with too few tokens. */
  p: number | null;
  significant: boolean;
}

export interface RunFacts {
  command: string;
  model: string | null;
  /** -t of the command line, when given. */
  threads_option: string | null;
  /** Threads that ran op spans. */
  threads_traced: number;
  /** Types of the matrix products' weights (first source of MUL_MAT / MUL_MAT_ID nodes), with node counts. */
  weight_types: Record<string, number>;
  /** Build id by library file name. */
  builds: Record<string, string>;
  mode: string;
  op_method: string;
  tokens: { prefill: number; decode: number };
  tpot_ms: number | null;
  ttft_ms: number | null;
}

export interface RunChange {
  what: keyof RunFacts;
  before: unknown;
  after: unknown;
}

export interface ProfileDiff {
  /** What the per-token distributions are taken over: "decode call" or, without any, "llama_decode call". */
  token_unit: string;
  tokens: { before: number; after: number };
  run: { before: RunFacts; after: RunFacts; changed: RunChange[] };
  /** Largest absolute change of time per token first. */
  ops: OpChange[];
}

// ---- statistics --------------------------------------------------------------------------

/** erf by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

function normalTail(z: number): number {
  return 0.5 * (1 - erf(z / Math.SQRT2));
}

/**
 * Two-sided p of the Mann-Whitney U test (normal approximation with tie correction and continuity
 * correction); 1 when every value is the same.
 */
export function mannWhitneyP(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n1 = a.length;
  const n2 = b.length;
  const all = [...Array.from(a, (v) => [v, 0]), ...Array.from(b, (v) => [v, 1])].sort((x, y) => x[0] - y[0]);
  const n = all.length;
  let rankSumA = 0;
  let ties = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && all[j][0] === all[i][0]) j++;
    const rank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) if (all[k][1] === 0) rankSumA += rank;
    ties += (j - i) ** 3 - (j - i);
    i = j;
  }
  const u = rankSumA - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = Math.max(0, Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return Math.min(1, 2 * normalTail(z));
}

function median(sorted: Float64Array): number {
  if (sorted.length === 0) return 0;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

// ---- per-token times ---------------------------------------------------------------------

const key = (op: string, fused: boolean): string => `${op}\0${fused}`;

interface TokenTimes {
  unit: string;
  tokens: number;
  /** Per op class: its time in each token (summed over threads), sorted ascending. */
  byOp: Map<string, Float64Array>;
}

/** Each op span counted in the call it started in: decode calls, or every call when there are none. */
function tokenTimes(p: Profile): TokenTimes {
  const decode = p.calls.filter((c) => c.kind === "decode");
  const calls = decode.length ? decode : p.calls;
  const starts = Float64Array.from(calls, (c) => c.startNs);
  const perLabel = p.labels.map(() => new Float64Array(calls.length));
  for (let s = 0; s < p.spans.count; s++) {
    const at = p.spans.startNs[s];
    const c = lastAtOrBefore(starts, at);
    if (c >= 0 && calls[c].endNs >= at) perLabel[p.spans.label[s]][c] += p.spans.endNs[s] - p.spans.startNs[s];
  }
  const byOp = new Map<string, Float64Array>();
  p.labels.forEach((label, i) => byOp.set(key(label.name, label.fused), perLabel[i].sort()));
  return { unit: decode.length ? "decode call" : "llama_decode call", tokens: calls.length, byOp };
}

function side(stat: OpStat | undefined, times: Float64Array): Side {
  const sum = times.reduce((n, v) => n + v, 0);
  return {
    total_ns: stat?.total_ns ?? 0,
    share: stat?.share ?? 0,
    calls: stat?.calls ?? 0,
    per_token_median_ns: median(times),
    per_token_mean_ns: times.length ? sum / times.length : 0,
  };
}

function opChanges(a: Profile, b: Profile, ta: TokenTimes, tb: TokenTimes): OpChange[] {
  const statsA = new Map(a.ops.map((s) => [key(s.op, s.fused), s]));
  const statsB = new Map(b.ops.map((s) => [key(s.op, s.fused), s]));
  const keys = [...new Set([...statsA.keys(), ...statsB.keys()])];
  const testable = ta.tokens >= MIN_TOKENS_FOR_TEST && tb.tokens >= MIN_TOKENS_FOR_TEST;
  const changes = keys.map((k) => {
    const stat = statsA.get(k) ?? statsB.get(k);
    const timesA = ta.byOp.get(k) ?? new Float64Array(ta.tokens);
    const timesB = tb.byOp.get(k) ?? new Float64Array(tb.tokens);
    const before = side(statsA.get(k), timesA);
    const after = side(statsB.get(k), timesB);
    const p = testable ? mannWhitneyP(timesA, timesB) : null;
    return {
      op: stat?.op ?? "",
      fused: stat?.fused ?? false,
      before,
      after,
      ratio: before.per_token_mean_ns > 0 ? after.per_token_mean_ns / before.per_token_mean_ns : null,
      p,
      significant: p !== null && p < SIGNIFICANCE_LEVEL,
    };
  });
  const delta = (c: OpChange): number => Math.abs(c.after.per_token_mean_ns - c.before.per_token_mean_ns);
  return changes.sort((x, y) => delta(y) - delta(x) || x.op.localeCompare(y.op));
}

// ---- the runs ----------------------------------------------------------------------------

/** The value of a command-line option given as "-x V", "--long V" or "--long=V". */
function optionValue(argv: string[], names: string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    if (names.includes(argv[i]) && i + 1 < argv.length) return argv[i + 1];
    const long = names.find((n) => n.startsWith("--") && argv[i].startsWith(`${n}=`));
    if (long) return argv[i].slice(long.length + 1);
  }
  return null;
}

function weightTypes(p: Profile): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const nodes of p.structures.values()) {
    for (const node of nodes) {
      if (node.op !== "MUL_MAT" && node.op !== "MUL_MAT_ID") continue;
      const type = node.srcTypes?.[0] || "unknown";
      counts[type] = (counts[type] ?? 0) + 1;
    }
  }
  return Object.fromEntries(Object.entries(counts).sort(([x], [y]) => x.localeCompare(y)));
}

function basename(file: string): string {
  return file.slice(file.lastIndexOf("/") + 1);
}

export function runFacts(p: Profile): RunFacts {
  const argv = p.header.target.argv;
  const ms = (ns: number | null): number | null => (ns === null ? null : ns / 1e6);
  return {
    command: argv.join(" ") || p.header.target.exe,
    model: optionValue(argv, ["-m", "--model"]),
    threads_option: optionValue(argv, ["-t", "--threads"]),
    threads_traced: p.threads.length,
    weight_types: weightTypes(p),
    builds: Object.fromEntries(p.header.libraries.map((l) => [basename(l.path), l.build_id])),
    mode: p.header.mode,
    op_method: p.header.op_method,
    tokens: { prefill: p.tokens.prefill.tokens, decode: p.tokens.decode.tokens },
    tpot_ms: ms(p.tokens.tpotNs),
    ttft_ms: ms(p.tokens.ttftNs),
  };
}

/** What differs, field by field (timings excepted: they are the measurement, not the setup). */
function runChanges(a: RunFacts, b: RunFacts): RunChange[] {
  const setup: (keyof RunFacts)[] = ["command", "model", "threads_option", "threads_traced", "weight_types", "builds", "mode", "op_method", "tokens"];
  return setup.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).map((k) => ({ what: k, before: a[k], after: b[k] }));
}

export function diffProfiles(a: Profile, b: Profile): ProfileDiff {
  const ta = tokenTimes(a);
  const tb = tokenTimes(b);
  const before = runFacts(a);
  const after = runFacts(b);
  return {
    token_unit: ta.unit === tb.unit ? ta.unit : `${ta.unit} / ${tb.unit}`,
    tokens: { before: ta.tokens, after: tb.tokens },
    run: { before, after, changed: runChanges(before, after) },
    ops: opChanges(a, b, ta, tb),
  };
}

// ---- text --------------------------------------------------------------------------------

function describe(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
  return String(value);
}

function runLines(d: ProfileDiff): string[] {
  const { before, after, changed } = d.run;
  const tpot = (f: RunFacts): string => (f.tpot_ms === null ? "-" : `${f.tpot_ms.toFixed(3)} ms`);
  const lines = [`  time per output token  ${tpot(before)} -> ${tpot(after)}`];
  if (changed.length === 0) lines.push("  same command, model, threads, weight types, builds and mode");
  for (const c of changed) lines.push(`  ${c.what.padEnd(14)} ${describe(c.before)} -> ${describe(c.after)}`);
  return lines;
}

function opLines(d: ProfileDiff): string[] {
  const us = (ns: number): string => (ns / 1e3).toFixed(1);
  const pct = (share: number): string => (share * 100).toFixed(1);
  const header = ["op", "µs/token before", "after", "change", "share % before", "after", "p", ""];
  const rows = d.ops.map((c) => [
    c.fused && !c.op.includes("+") ? `${c.op} (fused)` : c.op,
    us(c.before.per_token_mean_ns),
    us(c.after.per_token_mean_ns),
    c.ratio === null ? "new" : `${c.ratio >= 1 ? "+" : ""}${((c.ratio - 1) * 100).toFixed(1)}%`,
    pct(c.before.share),
    pct(c.after.share),
    c.p === null ? "-" : c.p < 0.001 ? "<0.001" : c.p.toFixed(3),
    c.significant ? "*" : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)];
}

export function diffText(fileA: string, fileB: string, d: ProfileDiff): string {
  const lines = [
    `before ${fileA}`,
    `after  ${fileB}`,
    "",
    "Run",
    ...runLines(d),
    "",
    `Ops: mean time per ${d.token_unit} (${d.tokens.before} before, ${d.tokens.after} after), summed over threads; ` +
      `p: Mann-Whitney U on the per-token times, * below ${SIGNIFICANCE_LEVEL}`,
    ...(d.ops.length ? opLines(d) : ["no op spans in either profile"]),
  ];
  return `${lines.join("\n")}\n`;
}
