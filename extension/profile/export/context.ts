/**
 * What a moment of the run belongs to: the llama_decode call and the graph computing at that time
 * (both found by start time; the exports nest op spans and samples under them).
 */
import type { GraphRun, Profile, TokenCall } from "../model";
import { lastAtOrBeforeBy } from "../sorted";

interface Interval {
  startNs: number;
  endNs: number;
}

/** The interval of a list sorted by start that covers `ns` (the latest started one), or undefined. */
function covering<T extends Interval>(list: T[], ns: number): T | undefined {
  const at = lastAtOrBeforeBy(list, (interval) => interval.startNs, ns);
  return at >= 0 && list[at].endNs >= ns ? list[at] : undefined;
}

export class RunContext {
  constructor(private readonly profile: Profile) {}

  callAt(ns: number): TokenCall | undefined {
    return covering(this.profile.calls, ns);
  }

  graphAt(ns: number): GraphRun | undefined {
    return covering(this.profile.graphs, ns);
  }
}

/** "prefill" / "decode" / "unknown batch" name of a llama_decode call, as the exports show it. */
export function callName(call: TokenCall | undefined): string {
  if (!call) return "outside llama_decode";
  if (call.kind === "prefill") return `llama_decode prefill (${call.nTokens} tokens)`;
  return call.kind === "decode" ? "llama_decode decode (1 token)" : "llama_decode (batch size unknown)";
}

/** A graph is named by its structure signature (the same structure is the same graph computed again). */
export function graphName(graph: GraphRun | undefined): string {
  return graph ? `graph ${graph.signature} (${graph.nNodes} nodes)` : "outside graphs";
}
