/**
 * Real eBPF on the real llama.cpp: ggml-lens-probe records a llama-completion run of the synthetic
 * models and the TypeScript side decodes it. Needs root (run by `npm test` as root).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeStream, OpFlags, type DecodedStream } from "../../extension/profile/stream";
import { GraphIndex } from "../../extension/profile/instances";
import { buildProfile, type GraphNode, type Profile } from "../../extension/profile/model";
import { recordedFixtures, type RecordedFixtures } from "../harness/fixtures";
import { withBpfStats } from "../harness/bpfStats";
import { linksLeftSince, probeLinks } from "../harness/probe";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures() as Required<Pick<RecordedFixtures, "llamaCompletion" | "llamaLibDir">> &
  RecordedFixtures & { models: Record<string, string> };
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-capture-"));
const isRoot = process.getuid?.() === 0;
const EMPTY_OPS = new Set(["NONE", "RESHAPE", "VIEW", "PERMUTE", "TRANSPOSE"]);
const PROMPT = "The quick brown fox";
const N_PREDICT = 6;

interface Recording {
  status: number | null;
  stderr: string;
  stream: DecodedStream;
  profile: Profile;
}

function completionArgs(model: string, extra: string[] = []): string[] {
  return [fixtures.llamaCompletion, "-m", model, "-p", PROMPT, "-n", String(N_PREDICT), "-no-cnv",
    "--temp", "0", "-t", "2", "--no-warmup", ...extra];
}

function record(name: string, probeArgs: string[], command: string[]): Recording {
  const out = path.join(work, `${name}.stream`);
  const run = spawnSync(probe, [...probeArgs, "--out", out, "--", ...command], { encoding: "utf8", timeout: 300_000 });
  assert.ok(fs.existsSync(out), `no stream written: ${run.stderr}`);
  const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
  return { status: run.status, stderr: run.stderr, stream, profile: buildProfile(stream) };
}

/**
 * Each CPU writes its own ring buffer and the helper merges them by time: every thread's records are
 * in time order in the stream (a thread that moved between CPUs wrote to two rings), but for an op's
 * OP_BEGIN, which is written when the op ends, right before its OP_END: a thread's OP_BEGINs are in
 * time order among themselves. The op records came from more than one CPU (so the merge had work to
 * do). Returns the CPUs seen.
 */
function assertThreadsInTimeOrder(stream: DecodedStream): Set<number> {
  const inOrder = (tables: { count: number; offset: Uint32Array; ts: Float64Array; tid: Uint32Array }[], what: string): void => {
    const records: { offset: number; ts: number; tid: number }[] = [];
    for (const table of tables) {
      for (let i = 0; i < table.count; i++) if (table.tid[i] !== 0) records.push({ offset: table.offset[i], ts: table.ts[i], tid: table.tid[i] });
    }
    records.sort((a, b) => a.offset - b.offset);
    const last = new Map<number, number>();
    for (const { ts, tid, offset } of records) {
      assert.ok(ts >= (last.get(tid) ?? 0), `thread ${tid}: ${what} at ${offset} (ts ${ts}) follows one at ts ${last.get(tid)}`);
      last.set(tid, ts);
    }
  };
  const { opBegin, opEnd } = stream.tables;
  inOrder(Object.entries(stream.tables).filter(([name]) => name !== "opBegin").map(([, table]) => table), "record");
  inOrder([opBegin], "OP_BEGIN");
  return new Set([...opBegin.cpu.subarray(0, opBegin.count), ...opEnd.cpu.subarray(0, opEnd.count)]);
}

function header(p: Profile): Record<string, unknown> {
  return p.header.raw;
}

/** What each worker thread must run, in order: non-empty ops flagged for compute; a fused pair is one. */
function expectedTensors(nodes: GraphNode[], computeFlag: number, fusedSeconds: Set<number>): number[] {
  return nodes
    .filter((n) => !EMPTY_OPS.has(n.op) && (n.flags & computeFlag) !== 0 && !fusedSeconds.has(n.tensor))
    .map((n) => n.tensor);
}

/** Tensors of the op spans that started inside [startNs, endNs], per thread, in order. */
function tensorsByThread(r: Recording, startNs: number, endNs: number): Map<number, number[]> {
  const { spans } = r.profile;
  const begin = r.stream.tables.opBegin;
  const byThread = new Map<number, number[]>();
  for (const { tid, first, count } of r.profile.threads) {
    for (let i = first; i < first + count; i++) {
      if (spans.startNs[i] < startNs || spans.startNs[i] > endNs) continue;
      const list = byThread.get(tid) ?? [];
      list.push(Number(begin.tensor[spans.row[i]]));
      byThread.set(tid, list);
    }
  }
  return byThread;
}

function fusedSecondTensors(r: Recording): Set<number> {
  const begin = r.stream.tables.opBegin;
  const seconds = new Set<number>();
  for (let i = 0; i < begin.count; i++) if (begin.tensor2[i]) seconds.add(Number(begin.tensor2[i]));
  return seconds;
}

/** Every (traced) graph: each thread ran exactly the graph's compute nodes, one span each, in order. */
function assertSpansMatchGraphs(r: Recording, only?: Set<number>): void {
  const p = r.profile;
  const computeFlag = (header(p).layout as Record<string, number>).GGML_TENSOR_FLAG_COMPUTE;
  const seconds = fusedSecondTensors(r);
  for (const [index, g] of p.graphs.entries()) {
    if (only && !only.has(index)) continue;
    const nodes = p.structures.get(g.signature);
    assert.ok(nodes && nodes.length === g.nNodes, `structure of graph ${g.signature} recorded`);
    const expected = expectedTensors(nodes, computeFlag, seconds);
    const byThread = tensorsByThread(r, g.startNs, g.endNs);
    assert.equal(byThread.size, 2, "both worker threads traced");
    for (const [tid, tensors] of byThread) assert.deepEqual(tensors, expected, `thread ${tid}, graph at ${g.startNs}`);
  }
}

/** Every source of every node is described (type and shape), weights as leaves named like the GGUF's tensors. */
function assertSourcesDescribed(p: Profile): void {
  for (const [signature, nodes] of p.structures) {
    for (const node of nodes) {
      node.src.forEach((address, i) => {
        if (address === 0) return;
        assert.notEqual(node.srcTypes[i], "", `source ${i} of ${node.name} described`);
        assert.ok(node.srcNe[i].every((n) => n >= 1), `source ${i} of ${node.name} has a shape`);
      });
      if (node.op !== "MUL_MAT") continue;
      const weight = p.leaves.get(signature)?.get(node.src[0]);
      assert.ok(weight && /^(blk\.\d+\.|output|token_embd)/.test(weight.name), `${node.name} reads a weight leaf`);
      assert.equal(weight.ne[0], node.srcNe[1][0], `${node.name}: K of the weight equals K of the activations`);
    }
  }
}

test("capture", { skip: !isRoot && "needs root (eBPF)" }, async (t) => {
  await t.test("full mode on the tiny dense model: tokens, graphs and every op of every thread", () => {
    const r = record("dense-full", ["--mode", "full", "--sample-hz", "0"], completionArgs(fixtures.models.tinyDense));
    const { status, profile: p } = r;
    assert.equal(status, 0);
    assert.equal(p.truncated, false);
    assert.deepEqual(p.errors, []);
    assert.equal(header(p).op_method, "dwarf-inline");
    assert.equal(p.header.op_shapes, "graph", "a ggml whose graphs carry a uid: op shapes from the graph's structure");
    // one prompt batch, then one decode per generated token except the last, which is not fed back
    assert.equal(p.tokens.prefill.calls, 1);
    assert.equal(p.tokens.decode.calls, N_PREDICT - 1);
    assert.equal(p.graphs.length, p.calls.length, "one CPU graph per llama_decode");
    assert.equal(p.backendSpans.length, p.graphs.length, "each graph reached the CPU backend through ggml_backend_graph_compute_async");
    assert.equal(p.schedGraphs.length, 0, "a ggml that can only use the CPU: its scheduler (one split a graph) is not probed");
    assert.equal(p.lostEvents, 0);
    assertSpansMatchGraphs(r);
    assertSourcesDescribed(p);
    assert.ok(assertThreadsInTimeOrder(r.stream).size >= Math.min(2, os.availableParallelism()), "op records from each CPU's ring");
    assert.ok(p.ops.length > 5);
    assert.ok(Math.abs(p.ops.reduce((s, o) => s + o.share, 0) - 1) < 1e-9);
    assert.equal(p.pairing.ops.unterminated, 0);
    assert.equal(p.pairing.ops.unmatchedEnds, 0);
    const counters = header(p).counters as { software: string[]; hardware: string[]; hardware_unavailable?: string };
    assert.deepEqual(counters.software, ["min_flt", "maj_flt", "nvcsw", "nivcsw", "cpu_ns"]);
    assert.ok(counters.hardware.length > 0 || /PMU/.test(counters.hardware_unavailable ?? ""), "says why there are no hardware counters");
    const faults = p.ops.reduce((sum, o) => sum + o.counters.minor_faults + o.counters.major_faults, 0);
    assert.ok(faults > 0, "first touches of the weights fault pages in during op spans");
  });

  await t.test("full mode on the tiny MoE model: expert ids in range, expert_used_count per token", () => {
    const r = record("moe-full", ["--mode", "full", "--sample-hz", "0"], completionArgs(fixtures.models.tinyMoe));
    const p = r.profile;
    assert.equal(r.status, 0);
    assertSpansMatchGraphs(r);
    const params = modelParams("tinyMoe");
    assert.ok(p.experts.length > 0, "MUL_MAT_ID selections recorded");
    for (const e of p.experts) {
      assert.equal(e.nUsed, params.expertsUsed);
      assert.equal(e.ids.length, Math.min(e.nUsed * e.nTokens, 64));
      for (const id of e.ids) assert.ok(id >= 0 && id < params.experts, `expert id ${id} in range`);
      for (let tok = 0; tok * e.nUsed < e.ids.length; tok++) {
        const chosen = e.ids.slice(tok * e.nUsed, (tok + 1) * e.nUsed);
        assert.equal(new Set(chosen).size, chosen.length, "distinct experts per token");
      }
    }
  });

  await t.test("--live-shapes: each op's type and shape read from its tensor as it begins equal its graph node's", () => {
    const args = completionArgs(fixtures.models.tinyMoe, ["-n", "40", "-b", "4", "-ub", "4"]);
    const live = record("moe-live", ["--mode", "full", "--sample-hz", "0", "--live-shapes"], args);
    const p = live.profile;
    assert.equal(live.status, 0, live.stderr);
    assert.equal(p.header.op_shapes, "live");
    const begin = p.opRecords.begin;
    assert.ok(p.calls.length > 40, "prompt batches of 4 tokens, then decodes: graphs of several shapes");
    const graphs = new GraphIndex(p);
    const typeName = (t: number): string => p.header.types[t]?.name ?? `type#${t}`;
    for (let s = 0; s < p.spans.count; s++) {
      const row = p.spans.row[s];
      assert.equal(begin.flags[row] & OpFlags.ShapeInGraph, 0, "written with its shape");
      const node = graphs.node(graphs.graphAt(p.spans.startNs[s]), begin.tensor[row]);
      assert.ok(node, `span ${s}: its tensor is a node of the graph running`);
      const ne = Array.from(begin.ne.subarray(row * 4, row * 4 + 4));
      assert.deepEqual([p.header.ops[begin.op[row]], typeName(begin.type[row]), ne], [node.op, node.type, node.ne], `span ${s} (${node.name})`);
    }
    const fromGraph = record("moe-graph", ["--mode", "full", "--sample-hz", "0"], args);
    assert.equal(fromGraph.profile.header.op_shapes, "graph");
    assert.deepEqual(fromGraph.profile.errors, []);
    const flagged = fromGraph.profile.opRecords.begin.flags.filter((f) => (f & OpFlags.ShapeInGraph) !== 0).length;
    assert.equal(flagged, fromGraph.profile.opRecords.begin.count, "written without their shapes");
    const totals = (q: Profile): string[] => q.ops.map((o) => `${o.op} ${o.calls}`).sort();
    assert.deepEqual(totals(fromGraph.profile), totals(p), "the same ops, as often");
    assert.equal(fromGraph.profile.experts.length, p.experts.length, "expert ids of every MUL_MAT_ID");
  });

  await t.test("stock prebuilt libraries without DWARF: symbols method, every op of every thread", { skip: !fixtures.stockRunner && "no stock libraries" }, () => {
    const command = [fixtures.stockRunner!, fixtures.models.tinyDense, String(N_PREDICT), "2", fixtures.prebuiltLibDir!];
    const refused = spawnSync(probe, ["--mode", "full", "--out", path.join(work, "refused.stream"), "--", ...command], { encoding: "utf8" });
    assert.notEqual(refused.status, 0);
    assert.match(refused.stderr, /no DWARF description of struct ggml_tensor .*RelWithDebInfo/);
    assert.ok(!fs.existsSync(path.join(work, "refused.stream")));
    const r = record("stock", ["--mode", "full", "--sample-hz", "0", "--layout-from", fixtures.llamaLibDir], command);
    const p = r.profile;
    assert.equal(r.status, 0, r.stderr);
    assert.equal(header(p).op_method, "symbols");
    const cpus = p.header.libraries.filter((l) => l.roles.includes("ggml-cpu"));
    assert.ok(cpus.length > 1 && cpus.every((l) => !l.has_dwarf), "every dlopen-able CPU variant probed, none with DWARF");
    assert.equal(p.calls.length, N_PREDICT);
    assert.equal(p.graphs.length, N_PREDICT);
    assert.equal(p.lostEvents, 0);
    assert.equal(p.pairing.ops.unterminated, 0);
    assertSpansMatchGraphs(r);
    assertSourcesDescribed(p);
  });

  await t.test("default mode: token and graph probes always, op probes only in windows", () => {
    const r = record("dense-default", ["--mode", "default", "--window-every", "0.02", "--window-decodes", "1"],
      completionArgs(fixtures.models.tinyDense, ["-n", "600"]));
    const p = r.profile;
    assert.equal(r.status, 0);
    assert.equal(p.lostEvents, 0);
    const opened = Array.from(p.windows.on).filter((on) => on === 1).length;
    assert.ok(opened >= 2, "windows opened and closed again");
    const traced = new Set<number>();
    for (let i = 0; i < p.spans.count; i++) traced.add(graphAt(p, p.spans.startNs[i]));
    assert.ok(traced.size >= 1, "some graphs traced op by op");
    // each window traces whole llama_decode calls: --window-decodes 1 of them
    assert.ok(traced.size <= opened, `${traced.size} graphs traced in ${opened} windows`);
    assertSpansMatchGraphs(r, traced);
    assert.ok(traced.size < p.graphs.length, `only a share of the ${p.graphs.length} graphs traced`);
    assert.ok(traced.has(0), "the first window opens at the first llama_decode: the prompt's graph is traced");
    // 600 tokens cross the KV cache's 256-cell padding twice: the graph is split anew, at the same
    // address and size, with larger attention shapes; each shape is a structure of its own
    const kvLengths = new Set([...p.structures.values()].flatMap((nodes) => nodes.filter((n) => n.op === "FLASH_ATTN_EXT").map((n) => n.srcNe[1][1])));
    assert.ok(kvLengths.size >= 3, `attention over ${[...kvLengths].join(", ")} KV cells`);
    // the kernel side switches tracing on at a llama_decode call and off after --window-decodes of them
    const states = Array.from(p.windows.on);
    assert.deepEqual(states, states.map((_, i) => (i % 2 === 0 ? 1 : 0)), "windows alternate on, off and end off");
    for (let w = 0; w < states.length; w += 2) {
      const [on, off] = [p.windows.ts[w], p.windows.ts[w + 1]];
      const inside = p.calls.filter((c) => c.startNs >= on && c.endNs <= off);
      assert.equal(inside.length, 1, `window ${w / 2} spans one whole llama_decode call`);
    }
  });

  await t.test("default mode: each window opens --window-every seconds after the previous one opened", () => {
    const every = 1;
    const r = record("dense-period", ["--mode", "default", "--window-every", String(every), "--sample-hz", "0"],
      completionArgs(fixtures.models.tinyDense, ["-n", "1500", "--ignore-eos"]));
    assert.equal(r.status, 0);
    const w = r.profile.windows;
    const openings = Array.from(w.ts).filter((_, i) => w.on[i] === 1);
    assert.ok(openings.length >= 3, `${openings.length} windows`);
    assert.ok(Math.abs(openings[0] - r.profile.calls[0].startNs) < 1e6, "the first opens at the first llama_decode call");
    // counted from the opening before (not from the attach: the first window waits for the model to load)
    for (let i = 1; i < openings.length; i++) {
      const gap = (openings[i] - openings[i - 1]) / 1e9;
      assert.ok(gap >= every - 0.01 && gap < every + 0.5, `window ${i} opened ${gap.toFixed(3)} s after the one before`);
    }
  });

  await t.test("the probes' own cost: with kernel.bpf_stats_enabled the trailer has each program's runs and time", () => {
    const withStats = (on: boolean, name: string, args: string[]): Recording =>
      withBpfStats(on, () => record(name, args, completionArgs(fixtures.models.tinyDense)));
    const r = withStats(true, "dense-cost", ["--mode", "full", "--sample-hz", "0"]);
    const { hits, program_cost: cost } = r.profile.trailer!;
    assert.equal(r.status, 0);
    // one program serves every op site: it runs once per op begin, fused begin and op end
    assert.equal(cost.op_probe?.runs, hits.op_begin + (hits.op_fused ?? 0) + hits.op_end);
    assert.equal(cost.decode_enter?.runs, hits.decode_enter);
    for (const [name, c] of Object.entries(cost)) assert.ok(c.ns > 0 && c.ns / c.runs < 1e6, `${name}: ${c.ns} ns in ${c.runs} runs`);
    const report = spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "extension/cli.ts"), "report", path.join(work, "dense-cost.stream")], { encoding: "utf8", cwd: repo });
    assert.match(report.stdout, /bpf cost\s+[\d.]+ ms in the probes' BPF programs .*op_probe \d+ ns x \d+/, report.stdout);
    const plain = withStats(false, "dense-no-cost", ["--mode", "sample", "--sample-hz", "0"]);
    assert.deepEqual(plain.profile.trailer?.program_cost, {}, "nothing when the kernel kept no statistics");
  });

  await t.test("sample mode: timer samples symbolized to function and source line, inline chain included", () => {
    const r = record("dense-sample", ["--mode", "sample", "--sample-hz", "997"],
      completionArgs(fixtures.models.tinyDense, ["-n", "300"]));
    const p = r.profile;
    assert.equal(r.status, 0);
    assert.equal(p.spans.count, 0, "no op probes in sample mode");
    const symbols = p.trailer?.symbols ?? [];
    assert.ok(p.samples.count > 20 && symbols.length > 5, `${p.samples.count} samples, ${symbols.length} distinct IPs`);
    const ips = new Set(symbols.map((s) => s.ip));
    for (let i = 0; i < p.samples.count; i++) assert.ok(ips.has(Number(p.samples.ip[i])), "every sampled IP symbolized");
    const inGgml = symbols.filter((s) => /libggml-cpu/.test(s.path ?? ""));
    assert.ok(inGgml.length > 0, "samples land in ggml's CPU kernels");
    // PLT stubs and the like have no source line; ggml's own code does
    const withLines = inGgml.filter((s) => s.function && s.file && s.line && s.line > 0);
    assert.ok(withLines.length >= 0.8 * inGgml.length, `${withLines.length} of ${inGgml.length} with a source line`);
    assert.ok(inGgml.some((s) => (s.inline_callers ?? []).length > 0), "inlined code is attributed to its callers too");
  });

  await t.test("attach by PID to a running target, then detach leaving it unharmed", async () => {
    const target = spawn(completionArgs(fixtures.models.tinyDense)[0],
      completionArgs(fixtures.models.tinyDense, ["-n", "100000", "--ignore-eos"]).slice(1), { stdio: "ignore" });
    const before = probeLinks();
    try {
      await waitForDecoding(target);
      const out = path.join(work, "attach.stream");
      const run = spawnSync(probe, ["--mode", "full", "--pid", String(target.pid), "--duration", "2", "--out", out],
        { encoding: "utf8", timeout: 60_000 });
      assert.equal(run.status, 0, run.stderr);
      const p = buildProfile(decodeStream(new Uint8Array(fs.readFileSync(out))));
      assert.ok(p.calls.length > 0 && p.spans.count > 0, "decodes and ops seen while attached");
      assert.equal(target.exitCode, null, "target still running after detach");
      assert.deepEqual(linksLeftSince(before), []);
    } finally {
      target.kill("SIGKILL");
    }
  });

  await t.test("privilege: refuses without root, and a PID the invoking sudo user does not own", () => {
    const unprivileged = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", probe, "--", "/bin/true"], { encoding: "utf8" });
    assert.equal(unprivileged.status, 1);
    assert.match(unprivileged.stderr, /needs root .*sudo/);
    const rootOwned = spawn("sleep", ["30"]);
    try {
      const run = spawnSync(probe, ["--pid", String(rootOwned.pid), "--duration", "1"], {
        encoding: "utf8",
        env: { ...process.env, SUDO_UID: "65534", SUDO_GID: "65534" },
      });
      assert.equal(run.status, 1);
      assert.match(run.stderr, /belongs to uid 0, not to you \(uid 65534\)/);
    } finally {
      rootOwned.kill("SIGKILL");
    }
  });

  await t.test("bad input: one-line errors, nothing attached, no file left", () => {
    const cases: Array<[string[], RegExp]> = [
      [["--", "/bin/true"], /no ggml CPU backend .*is it a ggml/],
      [["--pid", "999999999"], /--pid must be a process id|no process with PID/],
      [["--pid", String(deadPid())], /no process with PID/],
      [["--mode", "fast", "--", "/bin/true"], /--mode must be default, full or sample/],
      [["--", "/nonexistent/llama"], /command not found/],
    ];
    const before = probeLinks();
    for (const [args, message] of cases) {
      const out = path.join(work, "bad.stream");
      const run = spawnSync(probe, ["--out", out, ...args], { encoding: "utf8", timeout: 60_000 });
      assert.notEqual(run.status, 0, args.join(" "));
      assert.match(run.stderr, message);
      assert.ok(!fs.existsSync(out), "no output file left behind");
    }
    assert.deepEqual(linksLeftSince(before), []);
    const pins = fs.existsSync("/sys/fs/bpf/ggml-lens") ? fs.readdirSync("/sys/fs/bpf/ggml-lens") : [];
    assert.deepEqual(pins.filter((pid) => !isAlive(Number(pid))), [], "no pins of finished runs");
  });
});

function modelParams(name: string): { experts: number; expertsUsed: number } {
  const manifest = JSON.parse(fs.readFileSync(path.join(path.dirname(path.dirname(fixtures.models[name])), "manifest.json"), "utf8"));
  return manifest.models[name].params;
}

function graphAt(p: Profile, ts: number): number {
  return p.graphs.findIndex((g) => g.startNs <= ts && ts <= g.endNs);
}

async function waitForDecoding(child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const maps = fs.readFileSync(`/proc/${child.pid}/maps`, "utf8");
    if (maps.includes(".gguf")) return new Promise((resolve) => setTimeout(resolve, 500));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("target did not load its model");
}

function isAlive(pid: number): boolean {
  return fs.existsSync(`/proc/${pid}`);
}

function deadPid(): number {
  const child = spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" });
  return Number(child.stdout.trim());
}
