/**
 * Profile files and their exports on real recordings: `ggml-lens record` (the CLI, run from source)
 * records the tiny dense model on 1 and on 2 threads with timer samples; each file must be a
 * container that reads the same as the raw stream it came from, export to a pprof that protobufjs
 * decodes against profile.proto with op time and symbolized samples, to a valid Perfetto trace, and
 * to CSV; diff must name the thread change. Needs root (run by `npm test` as root).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { diffProfiles } from "../../extension/profile/diff";
import { opTableCsv } from "../../extension/profile/export/csv";
import { perfettoTrace } from "../../extension/profile/export/perfetto";
import { pprofProfile } from "../../extension/profile/export/pprof";
import { convertToContainer, loadRecording, type Recording } from "../../extension/profile/file";
import { isContainer } from "../../extension/profile/format";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";
import { assertValidTrace, parseCsv, readPprof, stacks } from "../unit/exportReaders";

const repo = path.resolve(__dirname, "../..");
const fixtures = recordedFixtures();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-profile-file-"));
after(() => fs.rmSync(work, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? "needs root" : !fixtures.llamaCompletion || !fixtures.models?.tinyDense ? "needs npm run setup" : false;

function recordCli(name: string, threads: number): { file: string; stderr: string } {
  const file = path.join(work, `${name}.ggmlprof`);
  const command = [fixtures.llamaCompletion as string, "-m", fixtures.models?.tinyDense as string, "-p", "The quick brown fox",
    "-n", "96", "-no-cnv", "--temp", "0", "-t", String(threads), "--no-warmup"];
  const run = spawnSync(process.execPath, ["--import", "tsx", "extension/cli.ts", "record", "--mode", "full", "--sample-hz", "997", "--out", file, "--", ...command],
    { cwd: repo, encoding: "utf8", timeout: 300_000, env: { ...process.env, GGML_LENS_PROBE: fixtures.probeHelper ?? path.join(repo, "bpf/build/ggml-lens-probe") } });
  assert.equal(run.status, 0, run.stderr);
  return { file, stderr: run.stderr };
}

let one: Recording;
let two: Recording;

test("record saves a container, tensor names and all", { skip }, async () => {
  const { file, stderr } = recordCli("t2", 2);
  assert.match(stderr, /ggml-lens: wrote .*t2\.ggmlprof \(\d+\.\d MiB\)/);
  assert.doesNotMatch(stderr, /kept the raw stream/);
  assert.ok(isContainer(new Uint8Array(fs.readFileSync(file))), "a container, not the raw stream");
  two = await loadRecording(file);
  assert.ok(two.meta && two.meta.tool.name === "ggml-lens");
  assert.ok(two.profile.header.target.argv.includes("--no-warmup"), "the command line, added by record");
  assert.ok(two.profile.spans.count > 1000 && two.profile.samples.count > 0, `${two.profile.spans.count} spans, ${two.profile.samples.count} samples`);
  assert.ok([...two.profile.structures.values()].flat().every((n) => n.name !== ""), "tensor names read back");
  one = await loadRecording(recordCli("t1", 1).file);
});

test("a real raw stream and its container give the same profile", { skip }, async () => {
  const rawFile = path.join(work, "raw.stream");
  const helper = fixtures.probeHelper ?? path.join(repo, "bpf/build/ggml-lens-probe");
  const run = spawnSync(helper, ["--mode", "full", "--sample-hz", "997", "--out", rawFile, "--", fixtures.llamaCompletion as string,
    "-m", fixtures.models?.tinyDense as string, "-p", "Hello", "-n", "8", "-no-cnv", "-t", "2", "--no-warmup"], { encoding: "utf8", timeout: 300_000 });
  assert.equal(run.status, 0, run.stderr);
  const raw = decodeStream(new Uint8Array(fs.readFileSync(rawFile)));
  await convertToContainer(rawFile, { tool: { name: "ggml-lens", version: "test" } });
  const loaded = await loadRecording(rawFile);
  assert.ok(loaded.meta, "converted");
  const a = buildProfile(raw);
  const b = loaded.profile;
  assert.deepEqual(b.ops, a.ops);
  assert.deepEqual(b.calls, a.calls);
  assert.deepEqual(b.graphs, a.graphs);
  assert.deepEqual([...b.structures], [...a.structures]);
  assert.deepEqual(Array.from(b.spans.startNs), Array.from(a.spans.startNs));
  assert.deepEqual(Array.from(b.samples.ip), Array.from(a.samples.ip));
  assert.deepEqual(b.trailer, a.trailer);
  assert.deepEqual(b.header, a.header);
});

test("pprof of a real run: op time adds up, samples end in symbolized source lines", { skip }, () => {
  const p = readPprof(pprofProfile(two));
  const all = stacks(p);
  const opTotal = all.reduce((n, s) => n + s.values[0], 0);
  assert.equal(opTotal, two.profile.ops.reduce((n, s) => n + s.total_ns, 0));
  assert.equal(all.reduce((n, s) => n + s.values[1], 0), two.profile.samples.count);
  const leaves = all.filter((s) => s.values[1] > 0).map((s) => s.frames[0]);
  assert.ok(leaves.some((f) => /\S+ \S+\.(c|cpp|h):\d+/.test(f)), `a sampled frame with file:line in ${leaves.slice(0, 5)}`);
  assert.ok(all.some((s) => s.values[0] > 0 && s.frames.length === 3 && /^llama_decode /.test(s.frames[2])), "op stacks end in a decode call");
});

test("Perfetto trace and CSV of a real run", { skip }, () => {
  const trace = JSON.parse([...perfettoTrace(two)].join(""));
  assertValidTrace(trace);
  const ops = trace.traceEvents.filter((e: { cat?: string }) => e.cat === "op");
  assert.equal(ops.length, two.profile.spans.count);
  const unnamed = ops.filter((e: { args: { tensor: string } }) => e.args.tensor === "");
  assert.equal(unnamed.length, 0, "every op span's tensor named from its graph's structure");
  const rows = parseCsv(opTableCsv(two.profile.ops));
  assert.equal(rows.length, two.profile.ops.length + 1);
});

test("diff of the 1-thread and 2-thread runs names the thread change", { skip }, () => {
  const d = diffProfiles(one.profile, two.profile);
  const changed = Object.fromEntries(d.run.changed.map((c) => [c.what, [c.before, c.after]]));
  assert.deepEqual(changed.threads_option, ["1", "2"]);
  assert.deepEqual(changed.threads_traced, [1, 2]);
  assert.equal(changed.model, undefined, "same model");
  assert.ok(d.tokens.before >= 5 && d.ops.every((c) => c.p !== null), "enough tokens for a test");
});
