/**
 * The roofline panel's data: op classes from extension/profile/roofline.ts against this machine's
 * cached ceilings (extension/profile/machine.ts; `ggml-lens machine` measures them). No `vscode` import.
 */
import type { MachineCeilings } from "../profile/machine";
import { scaled } from "../profile/machine";
import type { Profile } from "../profile/model";
import { analyze } from "../profile/roofline";
import type { RooflineCeiling, RooflineData, RooflinePoint } from "../../webview/protocol";

/** The ceilings for the threads the run used: compute, then each memory level. */
export function ceilingsFor(ceilings: MachineCeilings, threads: number): RooflineCeiling[] {
  return [
    { name: `peak f32 (${threads} thread${threads === 1 ? "" : "s"})`, value: scaled(ceilings.peak_gflops, threads), kind: "compute" },
    ...ceilings.bandwidth_gbps.map((level): RooflineCeiling => ({ name: level.level, value: scaled(level, threads), kind: "memory" })),
  ];
}

export function rooflineData(profile: Profile, title: string, ceilings: MachineCeilings | null): RooflineData {
  const analysis = analyze(profile, ceilings);
  const threads = Math.max(1, profile.threads.length);
  const points: RooflinePoint[] = [];
  let unknown = 0;
  for (const c of analysis.classes) {
    if (c.intensity === null || c.gflops === null || c.gbps === null || !(c.intensity > 0) || !(c.gflops > 0)) {
      unknown++;
      continue;
    }
    points.push({ label: `${c.op} ${c.shape}`, op: c.op, intensity: c.intensity, gflops: c.gflops, gbps: c.gbps, totalNs: c.total_ns, bound: `${c.bound.verdict}: ${c.bound.reason}` });
  }
  const notes = [...analysis.assumptions];
  if (!ceilings) notes.unshift("No measured ceilings for this machine yet: run `ggml-lens machine` once to measure them; the points are shown without roofs.");
  if (unknown) notes.push(`${unknown} op classes have no FLOP or byte count (or no time) and are not drawn.`);
  return { title, ceilings: ceilings ? ceilingsFor(ceilings, threads) : [], points, notes };
}
