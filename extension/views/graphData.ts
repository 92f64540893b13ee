/** The computation graph panel's data: one graph structure with the time its nodes took. No `vscode` import. */
import type { Profile } from "../profile/model";
import type { GraphData, GraphNodeData } from "../../webview/protocol";
import { lastAtOrBefore } from "../profile/sorted";
import { shapeText } from "./timelineData";

/**
 * Layer of a tensor from its name, -1 when none: `blk.N.` (weights), `name-N` (llama.cpp's
 * per-layer results), `cache_k_lN` (the KV cache), each possibly followed by " (view)" and the like.
 */
export function layerOf(name: string): number {
  const base = name.replace(/(\s*\([^)]*\))+$/, "");
  const match = /^blk\.(\d+)\./.exec(base) ?? /-(\d+)$/.exec(base) ?? /_l(\d+)$/.exec(base);
  return match ? Number(match[1]) : -1;
}

function runsBySignature(profile: Profile): Map<string, number> {
  const runs = new Map<string, number>();
  for (const g of profile.graphs) runs.set(g.signature, (runs.get(g.signature) ?? 0) + 1);
  return runs;
}

/** Time, calls and longest span per tensor address of the spans that ran while a graph of `signature` computed. */
function spanStats(profile: Profile, signature: string): Map<number, { totalNs: number; calls: number; maxNs: number }> {
  const starts = Float64Array.from(profile.graphs, (g) => g.startNs);
  const stats = new Map<number, { totalNs: number; calls: number; maxNs: number }>();
  const { spans } = profile;
  const tensors = profile.opRecords.begin.tensor;
  for (let s = 0; s < spans.count; s++) {
    const graph = lastAtOrBefore(starts, spans.startNs[s]);
    if (graph < 0 || profile.graphs[graph].signature !== signature) continue;
    const tensor = tensors[spans.row[s]];
    const ns = spans.endNs[s] - spans.startNs[s];
    const stat = stats.get(tensor) ?? { totalNs: 0, calls: 0, maxNs: 0 };
    stat.totalNs += ns;
    stat.calls++;
    stat.maxNs = Math.max(stat.maxNs, ns);
    stats.set(tensor, stat);
  }
  return stats;
}


export function graphData(profile: Profile, title: string, wanted?: string): GraphData {
  const runs = runsBySignature(profile);
  const structures = [...profile.structures.entries()]
    .map(([signature, nodes]) => ({ signature, nodes: nodes.length, runs: runs.get(signature) ?? 0 }))
    .sort((a, b) => b.runs - a.runs || b.nodes - a.nodes);
  const signature = wanted !== undefined && profile.structures.has(wanted) ? wanted : (structures[0]?.signature ?? "");
  const nodes = profile.structures.get(signature) ?? [];
  const position = new Map(nodes.map((n, i) => [n.tensor, i]));
  const stats = spanStats(profile, signature);
  return {
    title,
    signature,
    structures,
    nodes: nodes.map((n): GraphNodeData => {
      const stat = stats.get(n.tensor);
      return {
        index: n.index,
        name: n.name,
        op: n.op,
        type: n.type,
        shape: shapeText(n.ne),
        inputs: n.src.map((address) => position.get(address)).filter((i): i is number => i !== undefined),
        layer: layerOf(n.name),
        totalNs: stat?.totalNs ?? 0,
        calls: stat?.calls ?? 0,
        meanNs: stat ? stat.totalNs / stat.calls : 0,
        maxNs: stat?.maxNs ?? 0,
      };
    }),
  };
}
