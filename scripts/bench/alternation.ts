// Default mode's cost to decode speed, measured rather than added up: on one running target, the
// helper is attached in default mode and detached again, in turns, while bpftrace timestamps each
// token the target writes (llama-completion's log thread writes and flushes every generated token
// on its own). Each on phase's tokens/s is set against the mean of the off phases on either side
// of it, so that the target's slow drift cancels, and so does whatever the machine does to one
// process and not another: both sides are the same process. An on phase is measured for one window
// period (--window-every) from ATTACH_S after the helper's "attached" line, so that it holds exactly
// one op-tracing window (the second), the share a long run has. What attaching costs the target is a
// one-off, not decode speed: the first ATTACH_S are measured apart, and the helper's start-up before
// its line and its teardown after the span are left out. Every other on phase runs a stand-in that
// attaches nothing (it says it attached, then sleeps): default mode's slowdown is its ratios against
// the stand-in's, which also cancels what the helper leaves behind in the off phase after it.
import type { ChildProcess } from "node:child_process";
import { cpuAfterMark, launch, sleep, startBpftrace, stopProcess } from "./proc";
import { bootstrapInterval, spread } from "./stats";

/** Seconds after the "attached" line before an on phase's measured span: attaching's aftermath and the first window. */
export const ATTACH_S = 2;
/** Seconds the helper stays attached after its measured span. */
const ON_TAIL_S = 1;
/** Seconds of an off phase left out after the helper exited. */
const OFF_SETTLE_S = 0.5;

export type PhaseKind = "off" | "default" | "stand-in";

export interface Phase {
  kind: PhaseKind;
  /** the measured span, CLOCK_MONOTONIC ns (bpftrace's nsecs) */
  fromNs: number;
  toNs: number;
  tokens: number;
  tokS?: number;
  /** on phases: tokens/s over the ATTACH_S before the measured span */
  attachTokS?: number;
  /** on phases: the helper's CPU time over the measured span, % of one core */
  helperCpuPct?: number;
  helperOk?: boolean;
}

export interface AlternationResult {
  /** each on phase's measured span: one window period, from ATTACH_S after the helper's "attached" line */
  onSeconds: number;
  offSeconds: number;
  args: string[];
  phases: Phase[];
  /** per on phase of each kind: its tokens/s over the mean of the two off phases around it */
  ratios: { default: number[]; standIn: number[] };
  /** per on phase of each kind: the decode time its first ATTACH_S seconds lost (ms) */
  attachCostsMs?: { default: number[]; standIn: number[] };
}

export interface AlternationOptions {
  helper: string;
  pid: number;
  /** on phases of each kind */
  cycles: number;
  /** the measured span of an on phase: default mode's window period */
  onSeconds: number;
  offSeconds: number;
  /** more helper options (none: the defaults) */
  args?: string[];
  out: string;
  log: (message: string) => void;
}

const nowNs = (): number => Number(process.hrtime.bigint());

const TOKEN_SCRIPT = (pid: number) => `tracepoint:syscalls:sys_enter_write /pid == ${pid} && args->fd == 1/ { printf("T %lld\\n", nsecs); }`;

function startTokenTimer(pid: number, stamps: number[]): Promise<ChildProcess> {
  return startBpftrace(TOKEN_SCRIPT(pid), (line) => {
    if (line.startsWith("T ")) stamps.push(Number(line.slice(2)));
  }, "the write tracepoint that times the target's tokens");
}

/** Tokens/s within [fromNs, toNs): tokens after the first over the time from the first to the last. */
export function tokenRate(stamps: number[], fromNs: number, toNs: number): { tokens: number; tokS?: number } {
  const inside = stamps.filter((t) => t >= fromNs && t < toNs);
  const span = inside.length > 1 ? inside[inside.length - 1] - inside[0] : 0;
  return { tokens: inside.length, tokS: span > 0 ? ((inside.length - 1) * 1e9) / span : undefined };
}

/**
 * Each on phase's rate (its measured span's, or `onRate`) over the mean of the off phases just
 * before and after it (phases alternate off, on, ..., off).
 */
export function onOffRatios(phases: Phase[], kind: Exclude<PhaseKind, "off">, onRate = (p: Phase) => p.tokS): number[] {
  const ratios: number[] = [];
  phases.forEach((p, i) => {
    const ratio = p.kind === kind ? againstOffPhases(phases, i, 1, onRate(p)) : undefined;
    if (ratio !== undefined) ratios.push(ratio);
  });
  return ratios;
}

/** `rate` over the mean of the off phases `step` phases before and after phase `i`, when both have one. */
function againstOffPhases(phases: Phase[], i: number, step: number, rate: number | undefined): number | undefined {
  const [before, after] = [phases[i - step], phases[i + step]];
  if (rate === undefined || before?.kind !== "off" || after?.kind !== "off" || before.tokS === undefined || after.tokS === undefined) return undefined;
  return rate / ((before.tokS + after.tokS) / 2);
}

/** Decode time attaching cost each on phase (ms): the first ATTACH_S seconds' tokens/s against the off phases'. */
function attachCostsMs(phases: Phase[], kind: Exclude<PhaseKind, "off">): number[] {
  return onOffRatios(phases, kind, (p) => p.attachTokS).map((r) => ATTACH_S * 1000 * (1 - r));
}

async function offPhase(o: AlternationOptions): Promise<Phase> {
  const started = nowNs();
  await sleep(o.offSeconds * 1000);
  return { kind: "off", fromNs: started + OFF_SETTLE_S * 1e9, toNs: nowNs(), tokens: 0 };
}

const standIn = (seconds: number): string[] => ["bash", "-c", `echo "stand-in: attached in 0 ms" >&2; sleep ${seconds}`];

async function onPhase(o: AlternationOptions, kind: Exclude<PhaseKind, "off">): Promise<Phase> {
  const helper = cpuAfterMark(/attached in/, ATTACH_S, ATTACH_S + o.onSeconds);
  const seconds = ATTACH_S + o.onSeconds + ON_TAIL_S;
  const argv = kind === "stand-in" ? standIn(seconds)
    : [o.helper, "--mode", "default", "--window-every", String(o.onSeconds), ...(o.args ?? []), "--pid", String(o.pid), "--duration", String(seconds), "--out", o.out];
  const r = await launch(argv, { target: "-", timeoutMs: (seconds + 60) * 1000, ...helper.hooks });
  const helperCpuPct = helper.pct();
  const attachedNs = helper.markedNs();
  const at = attachedNs ?? nowNs();
  return { kind, fromNs: at + ATTACH_S * 1e9, toNs: at + (ATTACH_S + o.onSeconds) * 1e9, tokens: 0, helperCpuPct: kind === "default" ? helperCpuPct : undefined, helperOk: r.code === 0 && attachedNs !== undefined };
}

/** Off, default, off, stand-in, off, ...: `cycles` on phases of each kind, each between two off phases. */
export async function alternate(o: AlternationOptions): Promise<AlternationResult> {
  const stamps: number[] = [];
  const timer = await startTokenTimer(o.pid, stamps);
  const phases: Phase[] = [];
  try {
    phases.push(await offPhase(o));
    for (let i = 0; i < 2 * o.cycles; i++) {
      const kind = i % 2 === 0 ? "default" : "stand-in";
      const on = await onPhase(o, kind);
      phases.push(on, await offPhase(o));
      if (kind === "default") o.log(`alternation ${i / 2 + 1}/${o.cycles}: default mode attached for ${o.onSeconds} s` +
        (on.helperCpuPct === undefined ? "" : `, helper CPU ${on.helperCpuPct.toFixed(3)}% of a core`));
    }
  } finally {
    await stopProcess(timer);
  }
  for (const p of phases) {
    Object.assign(p, tokenRate(stamps, p.fromNs, p.toNs));
    if (p.kind !== "off") p.attachTokS = tokenRate(stamps, p.fromNs - ATTACH_S * 1e9, p.fromNs).tokS;
  }
  return { onSeconds: o.onSeconds, offSeconds: o.offSeconds, args: o.args ?? [], phases,
    ratios: { default: onOffRatios(phases, "default"), standIn: onOffRatios(phases, "stand-in") },
    attachCostsMs: { default: attachCostsMs(phases, "default"), standIn: attachCostsMs(phases, "stand-in") } };
}

const median = (values: number[]): number => spread(values)?.median ?? NaN;
const belowOnePct = (ratios: number[]): number => (1 - median(ratios)) * 100;
const belowPct = (these: number[], those: number[]): number => (1 - median(these) / median(those)) * 100;

/**
 * Each off phase's rate over the mean of the off phases two phases before and after it, split by
 * the kind of on phase it follows: an off phase after default mode against one after the stand-in
 * shows what the helper leaves behind once it has exited.
 */
export function offAfterRatios(phases: Phase[]): { default: number[]; standIn: number[] } {
  const out = { default: [] as number[], standIn: [] as number[] };
  phases.forEach((p, i) => {
    const ratio = p.kind === "off" && i > 0 ? againstOffPhases(phases, i, 2, p.tokS) : undefined;
    if (ratio !== undefined) (phases[i - 1].kind === "default" ? out.default : out.standIn).push(ratio);
  });
  return out;
}

/**
 * The ratios of each kind and the default phases' helper CPU. Default mode's slowdown is its median
 * ratio against the stand-in's (%, with its 95% bootstrap interval): an off phase after default mode
 * runs slower than one after the stand-in (what the helper leaves behind, measured apart as
 * `aftermathPct`), which lifts both kinds' ratios to their own off phases alike.
 */
export function summarize(a: AlternationResult) {
  const ratio = spread(a.ratios.default);
  const standIn = spread(a.ratios.standIn);
  const offAfter = offAfterRatios(a.phases);
  return {
    ratio,
    standIn,
    slowdownPct: ratio && standIn ? belowPct(a.ratios.default, a.ratios.standIn) : undefined,
    slowdownInterval: bootstrapInterval([a.ratios.default, a.ratios.standIn], belowPct),
    ownOffPct: ratio ? belowOnePct(a.ratios.default) : undefined,
    standInOwnOffPct: standIn ? belowOnePct(a.ratios.standIn) : undefined,
    aftermathPct: offAfter.default.length && offAfter.standIn.length ? belowPct(offAfter.default, offAfter.standIn) : undefined,
    aftermathInterval: bootstrapInterval([offAfter.default, offAfter.standIn], belowPct),
    /** seconds of an off phase that are measured */
    offMeasuredS: a.offSeconds - OFF_SETTLE_S,
    attachCostMs: spread(a.attachCostsMs?.default ?? []),
    standInAttachCostMs: spread(a.attachCostsMs?.standIn ?? []),
    helperCpuPct: spread(a.phases.filter((p) => p.kind === "default" && p.helperCpuPct !== undefined).map((p) => p.helperCpuPct as number)),
    tokensPerPhase: spread(a.phases.filter((p) => p.kind !== "off").map((p) => p.tokens)),
    failed: a.phases.filter((p) => p.kind !== "off" && !p.helperOk).length,
  };
}
