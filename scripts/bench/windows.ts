// What each default-mode window cost the target, read from its own recording. A window is three
// kinds of decode call: the one during which the helper attached the op probes, the traced ones,
// and the one during which it detached them. Each is compared with the median of its untraced
// neighbours (up to NEIGHBOURS on each side, none next to a window), so that what the machine does
// to every call (and the slow drift of a run) cancels out; the trap counts of the cost model miss
// the attach and detach, which change the target's code pages under it.
import type { Profile } from "../../extension/profile/model";
import { spread } from "./stats";

const NEIGHBOURS = 4;

interface Call {
  startNs: number;
  endNs: number;
}

/** [open, close] of each window that both opened and closed, in stream order. */
export function windowIntervals(p: Pick<Profile, "windows">): Array<[number, number]> {
  const w = p.windows;
  const out: Array<[number, number]> = [];
  let open = -1;
  for (let i = 0; i < w.count; i++) {
    if (w.on[i] && open < 0) open = w.ts[i];
    else if (!w.on[i] && open >= 0) {
      out.push([open, w.ts[i]]);
      open = -1;
    }
  }
  return out;
}

/** What one window added to the decode calls around it, in ms. */
export interface WindowExcess {
  /** the call during which the op probes were attached */
  before: number;
  /** each traced call */
  traced: number[];
  /** the call during which they were detached */
  after: number;
}

/** One window with `decodes` traced calls, from the per-part medians of the measured windows. */
export function windowCostMs(windows: WindowExcess[], decodes: number): number | undefined {
  const before = spread(windows.map((w) => w.before))?.median;
  const traced = spread(windows.flatMap((w) => w.traced))?.median;
  const after = spread(windows.map((w) => w.after))?.median;
  return before === undefined || traced === undefined || after === undefined ? undefined : before + decodes * traced + after;
}

/**
 * What each window added to the decode calls around it, against the median of the untraced
 * neighbours; windows at either end of the run, without neighbours on both sides, are left out.
 */
export function windowExcess(calls: Call[], windows: Array<[number, number]>): WindowExcess[] {
  const traced = calls.map((c) => windows.findIndex(([open, close]) => c.startNs < close && c.endNs > open));
  const nearWindow = (i: number) => [i - 1, i, i + 1].some((k) => k >= 0 && k < calls.length && traced[k] >= 0);
  const duration = (i: number) => calls[i].endNs - calls[i].startNs;
  const out: WindowExcess[] = [];
  windows.forEach((_, w) => {
    const first = traced.indexOf(w);
    const last = traced.lastIndexOf(w);
    if (first < 1 || last < 0 || last + 1 >= calls.length) return;
    const before: number[] = [];
    for (let k = first - 2; k >= 0 && before.length < NEIGHBOURS; k--) if (!nearWindow(k)) before.push(duration(k));
    const after: number[] = [];
    for (let k = last + 2; k < calls.length && after.length < NEIGHBOURS; k++) if (!nearWindow(k)) after.push(duration(k));
    const base = before.length && after.length ? spread([...before, ...after])?.median : undefined;
    if (base === undefined) return;
    const excessMs = (k: number) => (duration(k) - base) / 1e6;
    const tracedMs: number[] = [];
    for (let k = first; k <= last; k++) tracedMs.push(excessMs(k));
    out.push({ before: excessMs(first - 1), traced: tracedMs, after: excessMs(last + 1) });
  });
  return out;
}

/** The windows of a default-mode recording: single-token decode calls only (prompt calls differ in length). */
export function windowExcessOf(p: Pick<Profile, "calls" | "windows">): WindowExcess[] {
  return windowExcess(p.calls.filter((c) => c.kind === "decode"), windowIntervals(p));
}
