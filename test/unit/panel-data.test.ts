// What the host sends the panels (extension/views/*Data.ts), the panel HTML's CSP, and finding an op's source.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream, SchedKind } from "../../extension/profile/stream";
import { timelineData } from "../../extension/views/timelineData";
import { graphData, layerOf } from "../../extension/views/graphData";
import { expertsData } from "../../extension/views/expertsData";
import { contentSecurityPolicy, panelHtml } from "../../extension/views/panelHtml";
import { kernelDefinitionLine, opCaseLine, opOfLabel } from "../../extension/views/opSource";
import { ThreadState } from "../../webview/protocol";
import { DEFAULT_HEADER, OP, StreamBuilder } from "./streamBuilder";

const SIG = 0xabc0000000000001n;
const T = 1_000_000; // every time below is T + offset

function profileOf(b: StreamBuilder): Profile {
  return buildProfile(decodeStream(b.bytes()));
}

/** One decode call computing a 3-node graph (norm -> mul -> matmul) on threads 1 and 2, with sched events. */
function smallRun(): StreamBuilder {
  const b = new StreamBuilder()
    .graphNode({ tid: 1, ts: T, signature: SIG, tensor: 0xa0, index: 0, op: OP.RMS_NORM, ne: [256, 9, 1, 1], name: "norm-0" })
    .graphNode({ tid: 1, ts: T, signature: SIG, tensor: 0xb0, src: [0xa0, 0x999], index: 1, op: OP.MUL, ne: [256, 9, 1, 1], name: "attn_norm-0" })
    .graphNode({ tid: 1, ts: T, signature: SIG, tensor: 0xc0, src: [0x998, 0xb0], index: 2, op: OP.MUL_MAT, type: 0, ne: [512, 9, 1, 1], name: "Qcur-1" })
    .window({ tid: 0, ts: T, on: true })
    .sched({ tid: 2, ts: T + 5, kind: SchedKind.Wakeup })
    .sched({ tid: 2, ts: T + 8, kind: SchedKind.In })
    .decodeBegin({ tid: 1, ts: T + 10, nTokens: 9 })
    .graphBegin({ tid: 1, ts: T + 20, signature: SIG, nNodes: 3 });
  let t = T + 30;
  for (const [tensor, op, dur] of [
    [0xa0, OP.RMS_NORM, 10],
    [0xb0, OP.MUL, 20],
    [0xc0, OP.MUL_MAT, 100],
  ] as const) {
    for (const tid of [1, 2]) {
      b.opBegin({ tid, ts: t, tensor, op });
      b.opEnd({ tid, ts: t + dur - tid, tensor, cpuNs: dur - 3, minFlt: tid, majFlt: 1, nvcsw: 2, nivcsw: tid });
    }
    t += dur;
  }
  return b
    .sched({ tid: 2, ts: t + 1, kind: SchedKind.OutPreempt })
    .sched({ tid: 2, ts: t + 3, kind: SchedKind.In })
    .sched({ tid: 2, ts: t + 4, kind: SchedKind.Wakeup }) // already running: no change
    .sched({ tid: 2, ts: t + 6, kind: SchedKind.OutSleep })
    .graphEnd({ tid: 1, ts: t + 5 })
    .decodeEnd({ tid: 1, ts: t + 8 })
    .window({ tid: 0, ts: t + 10, on: false })
    .window({ tid: 0, ts: t + 50, on: true })
    .opBegin({ tid: 1, ts: t + 60, tensor: 0xfff, op: OP.ADD })
    .opEnd({ tid: 1, ts: t + 70, tensor: 0xfff })
    .trailer();
}

test("timeline data: lanes per thread, spans relative to the first event, tensors and counters resolved", () => {
  const data = timelineData(profileOf(smallRun()), "run.ggmlprof", false);
  assert.equal(data.originNs, T);
  assert.deepEqual(data.lanes, [
    { tid: 1, first: 0, count: 4 },
    { tid: 2, first: 4, count: 3 },
  ]);
  const s = data.spans;
  assert.deepEqual(Array.from(s.start.subarray(0, 4)), [30, 40, 60, 220]);
  assert.deepEqual(Array.from(s.end.subarray(4, 7)), [38, 58, 158]);
  assert.deepEqual(
    Array.from(s.label.subarray(0, 4), (l) => data.labels[l]),
    ["RMS_NORM", "MUL", "MUL_MAT", "ADD"],
  );
  const names = Array.from(s.node.subarray(0, 4), (n) => (n < 0 ? null : data.nodes.name[n]));
  assert.deepEqual(names, ["norm-0", "attn_norm-0", "Qcur-1", null], "a tensor outside every graph has no node");
  const matmul = s.node[2];
  assert.equal(data.nodes.shape[matmul], "512x9x1x1");
  assert.equal(data.nodes.type[matmul], DEFAULT_HEADER.types[0].name);
  assert.deepEqual([s.cpuNs[4], s.faults[4], s.switches[4]], [7, 3, 4], "thread 2's norm: cpu 10-3, faults 2+1, switches 2+2");
  assert.deepEqual(Array.from(data.calls.nTokens), [9]);
  assert.deepEqual([data.calls.start[0], data.calls.end[0]], [10, 168]);
  assert.deepEqual([data.graphs.start[0], data.graphs.nNodes[0]], [20, 3]);
  assert.equal(data.lostEvents, 3);
  assert.equal(data.durationNs, 230);
});

test("timeline data: thread states from scheduler events, and gaps where op tracing was off", () => {
  const data = timelineData(profileOf(smallRun()), "run.ggmlprof", false);
  assert.equal(data.states.length, 1);
  const st = data.states[0];
  assert.equal(st.tid, 2);
  assert.deepEqual(
    Array.from(st.state).map((x, i) => [ThreadState[x], st.start[i], st.end[i]]),
    [
      ["Runnable", 5, 8],
      ["Running", 8, 161],
      ["Runnable", 161, 163],
      ["Running", 163, 166],
      ["Sleeping", 166, 230],
    ],
  );
  assert.deepEqual([Array.from(data.gaps.start), Array.from(data.gaps.end)], [[170], [210]]);
});

test("graph data: one structure with inputs, layers and the time of each node's spans", () => {
  const data = graphData(profileOf(smallRun()), "run.ggmlprof");
  assert.equal(data.signature, SIG.toString(16).padStart(16, "0"));
  assert.deepEqual(data.structures, [{ signature: data.signature, nodes: 3, runs: 1 }]);
  assert.deepEqual(
    data.nodes.map((n) => [n.name, n.op, n.inputs, n.layer, n.calls, n.totalNs, n.maxNs]),
    [
      ["norm-0", "RMS_NORM", [], 0, 2, 10 - 1 + 10 - 2, 9],
      ["attn_norm-0", "MUL", [0], 0, 2, 19 + 18, 19],
      ["Qcur-1", "MUL_MAT", [1], 1, 2, 99 + 98, 99],
    ],
  );
  assert.deepEqual(
    ["blk.12.ffn_up.weight", "ffn_out-3", "Kcur-2 (view) (permuted)", "cache_k_l7 (view)", "result_output", "inp_embd", "node_21"].map(layerOf),
    [12, 3, 2, 7, -1, -1, -1],
  );
});

test("experts data: selections per expert and layer with the load imbalance; dense models explained", () => {
  const header = { ...DEFAULT_HEADER, ops: [...DEFAULT_HEADER.ops, "MUL_MAT_ID"] };
  const MUL_MAT_ID = header.ops.length - 1;
  const b = new StreamBuilder(header)
    .graphNode({ tid: 1, ts: T, signature: SIG, tensor: 0xe0, index: 0, op: MUL_MAT_ID, name: "ffn_moe_gate-0" })
    .graphNode({ tid: 1, ts: T, signature: SIG, tensor: 0xe1, index: 1, op: MUL_MAT_ID, name: "ffn_moe_gate-1" })
    .graphNode({ tid: 1, ts: T, signature: SIG, tensor: 0xe2, index: 2, op: MUL_MAT_ID, name: "ffn_moe_up-0" })
    .expertIds({ tid: 1, ts: T + 1, tensor: 0xe0, nUsed: 2, nTokens: 2, ids: [0, 3, 0, 1] })
    .expertIds({ tid: 1, ts: T + 1, tensor: 0xe2, nUsed: 2, nTokens: 2, ids: [0, 3, 0, 1] }) // the same routing, counted once
    .expertIds({ tid: 1, ts: T + 2, tensor: 0xe1, nUsed: 2, nTokens: 1, ids: [2, 3] })
    .expertIds({ tid: 1, ts: T + 3, tensor: 0xe0, nUsed: 2, nTokens: 1, ids: [0, 2] })
    .trailer();
  const data = expertsData(profileOf(b), "moe.ggmlprof");
  assert.equal(data.explanation, null);
  assert.equal(data.nExperts, 4);
  assert.deepEqual(
    data.layers.map((l) => [l.layer, l.name, l.counts, l.imbalance]),
    [
      [0, "ffn_moe_gate-0", [3, 1, 1, 1], 2],
      [1, "ffn_moe_gate-1", [0, 0, 1, 1], 2],
    ],
  );
  const dense = expertsData(profileOf(smallRun()), "dense.ggmlprof");
  assert.deepEqual(dense.layers, []);
  assert.match(dense.explanation ?? "", /dense: its graphs have no MUL_MAT_ID/);
});

test("panel HTML: scripts only by nonce, nothing inline allowed, no remote source", () => {
  const csp = contentSecurityPolicy("https://self.example", "N0NCE");
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'nonce-N0NCE'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  const html = panelHtml("timeline", 'a "title" <b>', { cspSource: "https://self.example", scriptUri: "https://self.example/dist/webview.js", styleUri: "https://self.example/dist/webview.css" }, "N0NCE");
  assert.equal((html.match(/<script/g) ?? []).length, 1);
  assert.match(html, /<script nonce="N0NCE" src="https:\/\/self.example\/dist\/webview.js"><\/script>/);
  assert.match(html, /<title>a &quot;title&quot; &lt;b&gt;<\/title>/);
  assert.match(html, /<body data-panel="timeline">/);
});

test("an op's source: its kernel's definition, else its case in the op switch", () => {
  const source = [
    "void ggml_compute_forward_mul_mat(const struct ggml_compute_params * params, struct ggml_tensor * dst);",
    "static void ggml_compute_forward_mul_mat_one_chunk(",
    "void ggml_compute_forward_mul_mat(",
    "        const struct ggml_compute_params * params,",
    "    switch (tensor->op) {",
    "        case GGML_OP_RMS_NORM:",
    "            ggml_compute_forward_rms_norm(params, tensor);",
  ].join("\n");
  assert.equal(kernelDefinitionLine(source, "MUL_MAT"), 2, "the definition, not the declaration or a longer name");
  assert.equal(kernelDefinitionLine(source, "RMS_NORM"), -1, "a call is no definition");
  assert.equal(opCaseLine(source, "RMS_NORM"), 5);
  assert.equal(opCaseLine(source, "ADD"), -1);
  assert.equal(opOfLabel("RMS_NORM+MUL"), "RMS_NORM");
});
