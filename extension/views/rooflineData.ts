/**
 * The roofline panel's data: op classes from extension/profile/roofline.ts against this machine's
 * cached ceilings (extension/profile/machine.ts; `ggml-lens machine` measures them), for the whole
 * run and for each phase (prefill, decode: the op spans that began inside those llama_decode calls).
 * No `vscode` import.
 */
import type { MachineCeilings } from "../profile/machine";
import { scaled } from "../profile/machine";
import type { Profile } from "../profile/model";
import { analyze, type Analysis } from "../profile/roofline";
import { callsOf, phaseProfile, type Phase } from "../profile/instances";
import type { RooflineCeiling, RooflineData, RooflinePhasePoints, RooflinePoint } from "../../webview/protocol";

/** The ceilings for the threads the run used: compute, then each memory level. */
export function ceilingsFor(ceilings: MachineCeilings, threads: number): RooflineCeiling[] {
  return [
    { name: `peak f32 (${threads} thread${threads === 1 ? "" : "s"})`, value: scaled(ceilings.peak_gflops, threads), kind: "compute" },
    ...ceilings.bandwidth_gbps.map((level): RooflineCeiling => ({ name: level.level, value: scaled(level, threads), kind: "memory" })),
  ];
}

/** The drawable op classes of an analysis, and how many had no FLOP or byte count (or no time). */
function pointsOf(analysis: Analysis): { points: RooflinePoint[]; unknown: number } {
  const points: RooflinePoint[] = [];
  let unknown = 0;
  for (const c of analysis.classes) {
    if (c.intensity === null || c.gflops === null || c.gbps === null || !(c.intensity > 0) || !(c.gflops > 0)) {
      unknown++;
      continue;
    }
    points.push({ label: `${c.op} ${c.shape}`, op: c.op, intensity: c.intensity, gflops: c.gflops, gbps: c.gbps, totalNs: c.total_ns, bound: `${c.bound.verdict}: ${c.bound.reason}` });
  }
  return { points, unknown };
}

function phasePoints(profile: Profile, phase: Phase, ceilings: MachineCeilings | null): RooflinePhasePoints {
  const calls = callsOf(profile, phase).length;
  if (calls === 0) {
    const batch = phase === "prefill" ? "more than one token" : "one token";
    return { points: [], calls, empty: `No ${phase} calls: no llama_decode call of ${batch} was recorded (or the batch size is unknown).` };
  }
  const part = phaseProfile(profile, phase);
  if (part.spans.count === 0) return { points: [], calls, empty: `No op spans began inside the ${calls} ${phase} calls (op tracing was off, or default mode).` };
  const { points } = pointsOf(analyze(part, ceilings));
  return { points, calls, empty: points.length ? null : `None of the ${phase} op classes has a known FLOP and byte count.` };
}

export function rooflineData(profile: Profile, title: string, ceilings: MachineCeilings | null): RooflineData {
  const analysis = analyze(profile, ceilings);
  const threads = Math.max(1, profile.threads.length);
  const { points, unknown } = pointsOf(analysis);
  const notes = [...analysis.assumptions];
  if (!ceilings) notes.unshift("No measured ceilings for this machine yet: run `ggml-lens machine` once to measure them; the points are shown without roofs.");
  if (unknown) notes.push(`${unknown} op classes have no FLOP or byte count (or no time) and are not drawn.`);
  notes.push("Prefill / decode: the op spans that began inside llama_decode calls of more than one token / of one token.");
  return {
    title,
    ceilings: ceilings ? ceilingsFor(ceilings, threads) : [],
    phases: {
      all: { points, calls: profile.calls.length, empty: points.length ? null : "No op class has a known FLOP and byte count." },
      prefill: phasePoints(profile, "prefill", ceilings),
      decode: phasePoints(profile, "decode", ceilings),
    },
    notes,
  };
}
