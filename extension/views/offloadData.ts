/**
 * The offload panel's data: the graphs (the scheduler's splits) each ggml backend computed, on the
 * time axis, the tensors copied between backends (bytes, direction), and the time per backend, from
 * the backend model (extension/profile/backends.ts). Also the backend row of the timeline. No `vscode` import.
 */
import { backendTimes, copyVolume } from "../profile/backends";
import { hasOffloadBackend, offloadAnalysis } from "../profile/offload";
import type { Profile } from "../profile/model";
import type { BackendSplits, OffloadData, OffloadShape } from "../../webview/protocol";

/** "ffn_up-0 … result_output": the first and last node of a split, "" when its nodes were not recorded. */
function splitLabel(profile: Profile, signature: string): string {
  const nodes = profile.structures.get(signature);
  if (!nodes?.length) return "";
  const first = nodes[0].name;
  const last = nodes[nodes.length - 1].name;
  return nodes.length === 1 ? first : `${first} … ${last}`;
}

/** Backend names, with the process where two processes' backends share a name (a client and its RPC server). */
function backendNames(profile: Profile): string[] {
  const names = profile.backends.map((b) => b.name);
  return profile.backends.map((b, i) => (names.indexOf(b.name) !== names.lastIndexOf(b.name) && new Set(profile.backends.filter((o) => o.name === b.name).map((o) => o.pid)).size > 1 ? `${names[i]} (pid ${b.pid})` : names[i]));
}

/** The splits per backend on the time axis (ns since `origin`), sorted by start. */
export function backendSplits(profile: Profile, origin: number): BackendSplits {
  const spans = profile.backendSpans;
  return {
    names: backendNames(profile),
    start: Float64Array.from(spans, (s) => s.startNs - origin),
    end: Float64Array.from(spans, (s) => s.endNs - origin),
    backend: Uint16Array.from(spans, (s) => s.backend),
    nNodes: Int32Array.from(spans, (s) => s.nNodes),
    label: spans.map((s) => splitLabel(profile, s.signature)),
  };
}

/** What the panel says when nothing was offloaded: no backend records, or one backend only. */
function singleBackendSummary(profile: Profile): string | null {
  if (profile.backends.length === 0) {
    return profile.version.major < 2 && profile.version.minor < 3
      ? `No backend records: this profile's stream (version ${profile.version.major}.${profile.version.minor}) predates them (1.3). Record again to see the backends.`
      : "No ggml backend computed a graph while the run was recorded (no ggml_backend_graph_compute call was seen): nothing to show.";
  }
  if (profile.backends.length > 1 || profile.copies.length > 0) return null;
  const only = profile.backends[0];
  return `One backend computed every graph: ${only.name} (${profile.backendSpans.length.toLocaleString("en-US")} graphs). Nothing was offloaded and no tensor was copied between backends.`;
}

export function offloadData(profile: Profile, title: string): OffloadData {
  const starts = [...profile.backendSpans.map((s) => s.startNs), ...profile.copies.map((c) => c.startNs)];
  const ends = [...profile.backendSpans.map((s) => s.endNs), ...profile.copies.map((c) => c.endNs)];
  const origin = starts.length ? Math.min(...starts) : 0;
  const copies = profile.copies;
  const totalCompute = profile.backendSpans.reduce((sum, s) => sum + (s.endNs - s.startNs), 0);
  const names = backendNames(profile);
  const source = (backend: number): string => (backend < 0 ? "host memory" : names[backend]);
  const destination = (backend: number): string => (backend < 0 ? "no later split" : names[backend]);
  const volume = copyVolume(copies);
  return {
    title,
    durationNs: ends.length ? Math.max(...ends) - origin : 0,
    splits: backendSplits(profile, origin),
    backends: backendTimes(profile).map((t) => ({ name: names[t.backend], pid: t.pid, splits: t.spans, nodes: t.nodes, computeNs: t.computeNs, share: totalCompute > 0 ? t.computeNs / totalCompute : 0 })),
    copies: {
      start: Float64Array.from(copies, (c) => c.startNs - origin),
      end: Float64Array.from(copies, (c) => c.endNs - origin),
      bytes: Float64Array.from(copies, (c) => c.bytes),
      from: copies.map((c) => source(c.fromBackend)),
      to: copies.map((c) => destination(c.toBackend)),
      name: copies.map((c) => c.name),
      kind: copies.map((c) => c.kind),
    },
    flows: volume.flows.map((f) => ({ from: source(f.fromBackend), to: destination(f.toBackend), count: f.count, bytes: f.bytes, ns: f.ns })),
    summary: singleBackendSummary(profile),
    breakEven: breakEvenRows(profile),
  };
}

/** The offload break-even per op and shape, when a backend other than the CPU one ran. */
function breakEvenRows(profile: Profile): OffloadShape[] {
  if (!hasOffloadBackend(profile)) return [];
  return offloadAnalysis(profile).ops.flatMap((o) =>
    o.rows.map((r) => ({
      op: o.op,
      batch: r.batch,
      shape: r.shape,
      backends: r.backends.map((b) => ({ name: b.name, calls: b.calls, perCallNs: b.perCallNs, copyBytes: b.copyBytes / b.calls, measured: b.measured })),
    })),
  );
}
