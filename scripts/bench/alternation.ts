// Default mode's cost to decode speed, measured rather than added up: on one running target, the
// helper is attached in default mode and detached again, in turns, while bpftrace timestamps each
// token the target writes (llama-completion's log thread writes and flushes every generated token
// on its own). Each on phase's tokens/s is set against the mean of the off phases on either side
// of it, so that the target's slow drift cancels, and so does whatever the machine does to one
// process and not another: both sides are the same process. Every other on phase runs a stand-in
// that attaches nothing (it says it attached, then sleeps): its ratios are the method's own noise.
import type { ChildProcess } from "node:child_process";
import { cpuAfterMark, launch, sleep, start } from "./proc";
import { spread } from "./stats";

/** Seconds of an on phase left out after the helper's "attached" line: its start-up, and the first
 * window, which opens at the first llama_decode call after attaching. */
export const ON_SETTLE_S = 5;
/** Seconds of an on phase left out before its --duration ends (the helper then drains and writes). */
const ON_TAIL_S = 2;
/** Seconds of an off phase left out after the helper exited. */
const OFF_SETTLE_S = 1;

export type PhaseKind = "off" | "default" | "stand-in";

export interface Phase {
  kind: PhaseKind;
  /** the measured span, CLOCK_MONOTONIC ns (bpftrace's nsecs) */
  fromNs: number;
  toNs: number;
  tokens: number;
  tokS?: number;
  /** on phases: the helper's CPU time over the measured span, % of one core */
  helperCpuPct?: number;
  helperOk?: boolean;
}

export interface AlternationResult {
  onSeconds: number;
  offSeconds: number;
  args: string[];
  phases: Phase[];
  /** per on phase of each kind: its tokens/s over the mean of the two off phases around it */
  ratios: { default: number[]; standIn: number[] };
}

export interface AlternationOptions {
  helper: string;
  pid: number;
  /** on phases of each kind */
  cycles: number;
  onSeconds: number;
  offSeconds: number;
  /** more helper options (none: the defaults) */
  args?: string[];
  out: string;
  log: (message: string) => void;
}

const nowNs = (): number => Number(process.hrtime.bigint());

const TOKEN_SCRIPT = (pid: number) => `tracepoint:syscalls:sys_enter_write /pid == ${pid} && args->fd == 1/ { printf("T %lld\\n", nsecs); }`;

async function startTokenTimer(pid: number, stamps: number[]): Promise<ChildProcess> {
  let ready = false;
  const child = start(["bpftrace", "-B", "none", "-e", TOKEN_SCRIPT(pid)], (line) => {
    if (line.startsWith("Attaching")) ready = true;
    else if (line.startsWith("T ")) stamps.push(Number(line.slice(2)));
  }, "pipe");
  for (let i = 0; i < 150 && !ready && child.exitCode === null; i++) await sleep(100);
  if (!ready) throw new Error("bpftrace could not attach the write tracepoint that times the target's tokens");
  return child;
}

/** Tokens/s within [fromNs, toNs): tokens after the first over the time from the first to the last. */
export function tokenRate(stamps: number[], fromNs: number, toNs: number): { tokens: number; tokS?: number } {
  const inside = stamps.filter((t) => t >= fromNs && t < toNs);
  const span = inside.length > 1 ? inside[inside.length - 1] - inside[0] : 0;
  return { tokens: inside.length, tokS: span > 0 ? ((inside.length - 1) * 1e9) / span : undefined };
}

/** Each on phase's rate over the mean of the off phases just before and after it (phases alternate off, on, ..., off). */
export function onOffRatios(phases: Phase[], kind: Exclude<PhaseKind, "off">): number[] {
  const ratios: number[] = [];
  phases.forEach((p, i) => {
    const before = phases[i - 1];
    const after = phases[i + 1];
    if (p.kind !== kind || before?.kind !== "off" || after?.kind !== "off") return;
    if (p.tokS === undefined || before.tokS === undefined || after.tokS === undefined) return;
    ratios.push(p.tokS / ((before.tokS + after.tokS) / 2));
  });
  return ratios;
}

async function offPhase(o: AlternationOptions): Promise<Phase> {
  const started = nowNs();
  await sleep(o.offSeconds * 1000);
  return { kind: "off", fromNs: started + OFF_SETTLE_S * 1e9, toNs: nowNs(), tokens: 0 };
}

const standIn = (seconds: number): string[] => ["bash", "-c", `echo "stand-in: attached in 0 ms" >&2; sleep ${seconds}`];

async function onPhase(o: AlternationOptions, kind: Exclude<PhaseKind, "off">): Promise<Phase> {
  const helper = cpuAfterMark(/attached in/, ON_SETTLE_S, o.onSeconds - ON_TAIL_S);
  const argv = kind === "stand-in" ? standIn(o.onSeconds)
    : [o.helper, "--mode", "default", ...(o.args ?? []), "--pid", String(o.pid), "--duration", String(o.onSeconds), "--out", o.out];
  const r = await launch(argv, { target: "-", timeoutMs: (o.onSeconds + 60) * 1000, ...helper.hooks });
  const helperCpuPct = helper.pct();
  const attachedNs = helper.markedNs();
  const from = (attachedNs ?? nowNs()) + ON_SETTLE_S * 1e9;
  const to = (attachedNs ?? nowNs()) + (o.onSeconds - ON_TAIL_S) * 1e9;
  return { kind, fromNs: from, toNs: to, tokens: 0, helperCpuPct: kind === "default" ? helperCpuPct : undefined, helperOk: r.code === 0 && attachedNs !== undefined };
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
    timer.kill("SIGINT");
    await new Promise((resolve) => (timer.exitCode !== null ? resolve(null) : timer.once("close", resolve)));
  }
  for (const p of phases) Object.assign(p, tokenRate(stamps, p.fromNs, p.toNs));
  return { onSeconds: o.onSeconds, offSeconds: o.offSeconds, args: o.args ?? [], phases,
    ratios: { default: onOffRatios(phases, "default"), standIn: onOffRatios(phases, "stand-in") } };
}

/** The ratios of each kind, the default phases' helper CPU, and default mode's slowdown against the stand-in's (%). */
export function summarize(a: AlternationResult) {
  const ratio = spread(a.ratios.default);
  const standIn = spread(a.ratios.standIn);
  return {
    ratio,
    standIn,
    slowdownPct: ratio && standIn ? (1 - ratio.median / standIn.median) * 100 : undefined,
    helperCpuPct: spread(a.phases.filter((p) => p.kind === "default" && p.helperCpuPct !== undefined).map((p) => p.helperCpuPct as number)),
    tokensPerPhase: spread(a.phases.filter((p) => p.kind !== "off").map((p) => p.tokens)),
    failed: a.phases.filter((p) => p.kind !== "off" && !p.helperOk).length,
  };
}
