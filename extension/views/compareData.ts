/**
 * What the editor says when the selected profile is compared with a baseline: the change per op
 * (CodeLens `+12% vs baseline`, the op table's before → after). Pure: no `vscode` import.
 */
import type { OpChange, ProfileDiff } from "../profile/diff";
import { SIGNIFICANCE_LEVEL } from "../profile/diff";
import { formatDuration } from "./opCosts";

/** The changes of a comparison by op class, and what the per-token times are taken over. */
export interface OpChanges {
  /** "decode call", or "llama_decode call" for runs without decode calls. */
  unit: string;
  byOp: Map<string, OpChange>;
}

export function changeKey(op: string, fused: boolean): string {
  return `${op}\0${fused}`;
}

export function opChanges(diff: ProfileDiff): OpChanges {
  return { unit: diff.token_unit, byOp: new Map(diff.ops.map((change) => [changeKey(change.op, change.fused), change])) };
}

/** `+12%`, `-3.4%`, `+0.0%`: whole percents from 10% up. */
export function percentChange(ratio: number): string {
  const percent = (ratio - 1) * 100;
  const text = Math.abs(percent) >= 10 ? percent.toFixed(0) : percent.toFixed(1);
  return `${percent >= 0 && !text.startsWith("-") ? "+" : ""}${text}%`;
}

/** `+12% vs baseline`; `new vs baseline`; `+1.3% vs baseline, within noise` when the test says it is not significant. */
export function changeTitle(change: OpChange): string {
  if (change.ratio === null) return "new vs baseline";
  const noise = change.p !== null && !change.significant ? ", within noise" : "";
  return `${percentChange(change.ratio)} vs baseline${noise}`;
}

/** `41.2 µs → 46.1 µs per decode call (+12%)` */
export function beforeAfter(change: OpChange, unit: string): string {
  const before = change.ratio === null ? "none" : formatDuration(change.before.per_token_mean_ns);
  const percent = change.ratio === null ? "new" : percentChange(change.ratio);
  return `${before} → ${formatDuration(change.after.per_token_mean_ns)} per ${unit} (${percent})`;
}

/** The lens tooltip: before → after and what the test said. */
export function changeTooltip(change: OpChange, unit: string): string {
  const test =
    change.p === null
      ? "too few tokens on one side for a test"
      : `Mann-Whitney U p = ${change.p < 0.001 ? "<0.001" : change.p.toFixed(3)}: ${change.significant ? "a significant change" : `not significant at ${SIGNIFICANCE_LEVEL}`}`;
  return `Mean time per ${unit}, summed over threads: ${beforeAfter(change, unit)}; ${test}. Click for the whole comparison.`;
}
