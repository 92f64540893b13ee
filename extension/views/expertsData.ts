/** The MoE routing panel's data: how often each expert was chosen, per layer. No `vscode` import. */
import type { Profile } from "../profile/model";
import { EXPERT_IDS_CAP } from "../profile/stream";
import type { ExpertLayer, ExpertsData } from "../../webview/protocol";
import { layerOf } from "./graphData";

/** Names of MUL_MAT_ID tensors by address, from every graph structure. */
function expertTensorNames(profile: Profile): Map<number, string> {
  const names = new Map<number, string>();
  for (const nodes of profile.structures.values()) for (const n of nodes) if (n.op === "MUL_MAT_ID") names.set(n.tensor, n.name);
  return names;
}

/** Number of experts: the first dimension of the expert weights (MUL_MAT_ID's src0 ne[2]), else the largest id seen + 1. */
function expertCount(profile: Profile): number {
  for (const nodes of profile.structures.values()) {
    for (const n of nodes) if (n.op === "MUL_MAT_ID" && n.srcNe?.[0]?.[2]) return n.srcNe[0][2];
  }
  return profile.experts.reduce((max, e) => Math.max(max, ...e.ids.map((id) => id + 1)), 0);
}

function explanation(profile: Profile): string {
  const hasExpertOps = [...profile.structures.values()].some((nodes) => nodes.some((n) => n.op === "MUL_MAT_ID"));
  if (!hasExpertOps && profile.structures.size > 0) return "This model is dense: its graphs have no MUL_MAT_ID (mixture-of-experts) node, so there is no routing to show.";
  if (profile.header.mode === "sample") return "No expert selections: sample mode traces no ops. Record in full or default mode to see the routing.";
  return "No expert selections were recorded (op tracing saw no MUL_MAT_ID).";
}

/**
 * Every MUL_MAT_ID of a layer (gate, up, down) applies the same routing: each layer counts the
 * selections of its first MUL_MAT_ID tensor (by name), so that a choice is counted once.
 */
export function expertsData(profile: Profile, title: string): ExpertsData {
  const names = expertTensorNames(profile);
  const nExperts = expertCount(profile);
  const nameOf = (tensor: number): string => names.get(tensor) ?? `tensor 0x${tensor.toString(16)}`;
  const layerTensor = new Map<string, number>();
  for (const e of profile.experts) {
    const name = nameOf(e.tensor);
    const key = layerOf(name) >= 0 ? `layer ${layerOf(name)}` : name;
    const chosen = layerTensor.get(key);
    if (chosen === undefined || name < nameOf(chosen)) layerTensor.set(key, e.tensor);
  }
  const counted = new Set(layerTensor.values());
  const byTensor = new Map<number, number[]>();
  let truncatedRecords = 0;
  for (const e of profile.experts) {
    if (!counted.has(e.tensor)) continue;
    const counts = byTensor.get(e.tensor) ?? new Array<number>(nExperts).fill(0);
    for (const id of e.ids) if (id >= 0 && id < nExperts) counts[id]++;
    if (e.nUsed * e.nTokens > EXPERT_IDS_CAP) truncatedRecords++;
    byTensor.set(e.tensor, counts);
  }
  const layers: ExpertLayer[] = [...byTensor.entries()].map(([tensor, counts]) => {
    const name = nameOf(tensor);
    const mean = counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length);
    return { layer: layerOf(name), name, counts, imbalance: mean > 0 ? Math.max(...counts) / mean : 0 };
  });
  layers.sort((a, b) => a.layer - b.layer || a.name.localeCompare(b.name));
  return { title, nExperts, layers, explanation: layers.length ? null : explanation(profile), truncatedRecords };
}
