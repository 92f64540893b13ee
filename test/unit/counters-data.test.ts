// The counters panel's data: software counters per llama_decode call (the calling thread's, and the
// sum over the op spans that began in the call), per op, and the counters the profile lacks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { countersData } from "../../extension/views/countersData";
import type { CounterSeries } from "../../webview/protocol";
import { DEFAULT_HEADER, OP, StreamBuilder } from "./streamBuilder";

const NO_PMU = "no hardware PMU available to perf_event_open (No such file or directory): typical of virtual machines";

/** A prompt call (4 tokens) and a decode call, op spans on threads 1 and 2 in each, one span before both. */
function twoCalls(header: object): Profile {
  const b = new StreamBuilder(header)
    .opBegin({ tid: 2, ts: 100, tensor: 0xa0, op: OP.ADD })
    .opEnd({ tid: 2, ts: 150, tensor: 0xa0, minFlt: 1000, cpuNs: 40 });
  for (const [at, nTokens, k] of [
    [1_000, 4, 1],
    [10_000, 1, 2],
  ] as const) {
    b.decodeBegin({ tid: 1, ts: at, nTokens });
    for (const tid of [1, 2]) {
      b.opBegin({ tid, ts: at + 10, tensor: 0xb0, op: OP.MUL_MAT });
      b.opEnd({ tid, ts: at + 500, tensor: 0xb0, minFlt: 10 * k * tid, majFlt: k, nvcsw: tid, nivcsw: 0, cpuNs: 400 * k });
      b.opBegin({ tid, ts: at + 600, tensor: 0xc0, op: OP.ADD });
      b.opEnd({ tid, ts: at + 700, tensor: 0xc0, minFlt: 1, cpuNs: 90 });
    }
    b.decodeEnd({ tid: 1, ts: at + 800, minFlt: 100 * k, majFlt: k, nvcsw: 3, nivcsw: 1, cpuNs: 700 * k });
  }
  // A call whose end was not seen (the next call's begin closed it): its counters are unknown, its spans still count.
  b.decodeBegin({ tid: 1, ts: 20_000, nTokens: 1 });
  b.opBegin({ tid: 2, ts: 20_010, tensor: 0xb0, op: OP.MUL_MAT });
  b.opEnd({ tid: 2, ts: 20_100, tensor: 0xb0, minFlt: 5, cpuNs: 80 });
  b.decodeBegin({ tid: 1, ts: 30_000, nTokens: 1 });
  return buildProfile(decodeStream(b.trailer().bytes()));
}

function series(all: CounterSeries[], key: string): CounterSeries {
  const found = all.find((s) => s.key === key);
  assert.ok(found, `${key} among ${all.map((s) => s.key).join(", ")}`);
  return found;
}

test("counters data: per call, the calling thread's counters and the sum over the call's op spans", () => {
  const header = { ...DEFAULT_HEADER, counters: { software: ["min_flt", "maj_flt", "nvcsw", "nivcsw", "cpu_ns"], software_scope: "per thread", hardware: [], hardware_unavailable: NO_PMU } };
  const profile = twoCalls(header);
  const data = countersData(profile, "run.ggmlprof");
  assert.deepEqual(Array.from(data.calls.nTokens), [4, 1, 1]);
  assert.deepEqual(Array.from(data.calls.start), [0, 9_000, 19_000]);
  assert.deepEqual(
    data.series.map((s) => s.key),
    ["cpu_ns", "min_flt", "maj_flt", "nvcsw", "nivcsw"],
  );
  const faults = series(data.series, "min_flt");
  assert.deepEqual(Array.from(faults.call), [100, 200, NaN]);
  // Call 1: MUL_MAT 10 + 20 on threads 1 and 2, ADD 1 + 1; call 2: 20 + 40 + 1 + 1; call 3: 5.
  assert.deepEqual(Array.from(faults.ops), [32, 62, 5]);
  const cpu = series(data.series, "cpu_ns");
  assert.deepEqual(Array.from(cpu.call), [700, 1400, NaN]);
  assert.deepEqual(Array.from(cpu.ops), [2 * 400 + 2 * 90, 2 * 800 + 2 * 90, 80]);
  assert.deepEqual(Array.from(series(data.series, "nvcsw").ops), [3, 3, 0]);
  assert.equal(data.spansOutsideCalls, 1);
  // Per op: the op table's counters (every span, the one outside the calls too).
  const add = data.ops.find((o) => o.op === "ADD");
  assert.ok(add);
  assert.equal(add.calls, 5);
  assert.equal(add.values[data.series.indexOf(faults)], 1000 + 4);
  assert.deepEqual(data.lacking, [`No hardware counters (cycles, instructions, cache misses): ${NO_PMU}.`]);
});

test("counters data: counters the header does not list are named as lacking; an old header says it lists none", () => {
  const partial = countersData(twoCalls({ ...DEFAULT_HEADER, counters: { software: ["min_flt", "cpu_ns"], hardware: [], hardware_unavailable: NO_PMU } }), "a");
  assert.deepEqual(
    partial.series.map((s) => s.key),
    ["cpu_ns", "min_flt"],
  );
  assert.equal(partial.lacking.length, 2);
  assert.match(partial.lacking[0], /^Software counters not recorded on this machine: major page faults \(maj_flt\), voluntary context switches .*\(nvcsw\), involuntary .*\(nivcsw\)\.$/);
  const old = countersData(twoCalls(DEFAULT_HEADER), "b");
  assert.equal(old.series.length, 5);
  assert.match(old.lacking[0], /does not list its counters/);
  assert.match(old.lacking[1], /does not say whether the machine had a PMU/);
});
