// The offload panel's data and the timeline's backend row, from streams with backend records (1.3).
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { offloadData } from "../../extension/views/offloadData";
import { timelineData } from "../../extension/views/timelineData";
import { DEFAULT_HEADER, StreamBuilder } from "./streamBuilder";
import { CPU, CPU_FN, cpuThenBlas, OFFLOAD_TRAILER, SPLIT_CPU } from "./offloadRuns";

function profileOf(b: StreamBuilder): Profile {
  return buildProfile(decodeStream(b.bytes()));
}

test("offload data: splits per backend on the time axis, copies with bytes and direction, time per backend", () => {
  const data = offloadData(profileOf(cpuThenBlas(3)), "offload.ggmlprof");
  assert.equal(data.summary, null);
  assert.deepEqual(data.splits.names, ["CPU", "BLAS"]);
  assert.deepEqual(Array.from(data.splits.backend), [0, 1, 0, 1, 0, 1]);
  assert.deepEqual(Array.from(data.splits.start), [0, 130, 1000, 1130, 2000, 2130], "ns since the first split");
  assert.deepEqual(Array.from(data.splits.end), [90, 530, 1090, 1530, 2090, 2530]);
  assert.deepEqual(data.splits.label.slice(0, 2), ["norm-0 … attn_norm-0", "ffn_up-0"]);
  assert.equal(data.durationNs, 2530);
  assert.deepEqual(
    data.backends.map((b) => [b.name, b.splits, b.nodes, b.computeNs]),
    [
      ["BLAS", 3, 3, 1200],
      ["CPU", 3, 6, 270],
    ],
  );
  assert.ok(Math.abs(data.backends[0].share - 1200 / 1470) < 1e-12);
  assert.equal(data.copies.start.length, 4);
  assert.deepEqual([data.copies.name[0], data.copies.bytes[0], data.copies.from[0], data.copies.to[0], data.copies.kind[0]], ["attn_norm-0", 64 * 32 * 4, "CPU", "BLAS", "copy"]);
  assert.deepEqual([data.copies.name[1], data.copies.bytes[1], data.copies.from[1], data.copies.to[1], data.copies.kind[1]], ["ffn_up.weight", 4096, "host memory", "BLAS", "set_async"]);
  assert.deepEqual(data.flows, [
    { from: "CPU", to: "BLAS", count: 3, bytes: 3 * 8192, ns: 60 },
    { from: "host memory", to: "BLAS", count: 1, bytes: 4096, ns: 8 },
  ]);
});

test("offload data: one backend is named and nothing offloaded; a stream before 1.3 says it has no backend records", () => {
  const b = new StreamBuilder(DEFAULT_HEADER, 1, 3);
  for (const t of [100, 1100]) b.backendGraphBegin({ tid: 7, ts: t, backend: CPU, computeFn: CPU_FN, signature: SPLIT_CPU, nNodes: 4 }).backendGraphEnd({ tid: 7, ts: t + 500 });
  const single = offloadData(profileOf(b.trailer(OFFLOAD_TRAILER)), "cpu.ggmlprof");
  assert.equal(single.summary, "One backend computed every graph: CPU (2 graphs). Nothing was offloaded and no tensor was copied between backends.");
  assert.deepEqual(single.backends.map((x) => [x.name, x.splits, x.share]), [["CPU", 2, 1]]);
  const old = offloadData(profileOf(new StreamBuilder(DEFAULT_HEADER, 1, 2).decodeBegin({ tid: 1, ts: 5, nTokens: 1 }).decodeEnd({ tid: 1, ts: 9 }).trailer()), "old.ggmlprof");
  assert.match(old.summary ?? "", /^No backend records: this profile's stream \(version 1\.2\) predates them \(1\.3\)/);
  assert.equal(old.splits.start.length, 0);
});

test("timeline data: the backend row holds every split, on the timeline's own time axis", () => {
  const profile = profileOf(cpuThenBlas(2));
  const data = timelineData(profile, "offload.ggmlprof", false);
  assert.equal(data.originNs, 90, "the decode call starts first");
  assert.deepEqual(Array.from(data.splits.start), [20, 150, 1020, 1150]);
  assert.deepEqual(Array.from(data.splits.backend), [0, 1, 0, 1]);
  assert.deepEqual(data.splits.names, ["CPU", "BLAS"]);
  assert.equal(data.durationNs, 2100 - 90);
});
