/**
 * The offload analysis on a real BLAS run: llama.cpp's offload build (BLAS backend) records a long
 * prompt (prefill matrix products large enough for ggml-blas) and a few decode tokens (batch 1),
 * and the analysis must put MUL_MAT's batches where ggml-blas.cpp's supports_op puts them, with the
 * threshold read from that source. Needs root and setup's offload build (build-offload).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { findings } from "../../extension/profile/findings";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { breakEvenText, compareOffload, comparisonText, offloadAnalysis, splitNodes } from "../../extension/profile/offload";
import { decodeStream } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";
import { exited, freePort } from "../harness/llamaServer";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures() as ReturnType<typeof recordedFixtures> & { offload?: { llamaCompletion?: string; rpcServer?: string; libDir?: string } };
const offload = fixtures.offload;
const model = fixtures.models?.tinyDense;
const blasSource = fixtures.ggmlSource ? path.join(fixtures.ggmlSource, "ggml/src/ggml-blas/ggml-blas.cpp") : undefined;
/** About 150 tokens: one prefill batch well past any small threshold. */
const LONG_PROMPT = Array.from({ length: 12 }, (_, i) => `Sentence ${i} tells the quick brown fox to jump over the lazy dog.`).join(" ");

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return "needs root (eBPF)";
  if (!offload?.llamaCompletion) return "no offload build of llama.cpp (build-offload with the BLAS backend): run 'npm run setup' to build it";
  if (!model) return "no tinyDense model: run 'npm run setup'";
  if (!blasSource || !fs.existsSync(blasSource)) return "no ggml source (ggml-blas.cpp): run 'npm run setup'";
  return false;
}

/** ggml-blas.cpp's supports_op: MUL_MAT goes to BLAS when ne0, ne1 and src1's ne0 are all >= min_batch. */
function blasMinBatch(): number {
  const source = fs.readFileSync(blasSource!, "utf8");
  const match = /min_batch\s*=\s*(\d+)\s*;/.exec(source);
  assert.ok(match, `min_batch found in ${blasSource}`);
  assert.match(source, /ne0 >= min_batch && ne1 >= min_batch && ne10 >= min_batch/, "the condition this test assumes is still the source's");
  return Number(match[1]);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-offload-analysis-"));

/** The same prompt and tokens through `llamaCompletion` (the offload build's, else the CPU-only one). */
function recordRun(name: string, llamaCompletion: string, libDir: string | undefined, extra: { probe?: string[]; llama?: string[] } = {}): Profile {
  const out = path.join(work, `${name}.stream`);
  // -nr: repacked weights live in the CPU backend's own buffer type, which BLAS cannot read, so
  // their matrix products would all stay on the CPU.
  const command = [llamaCompletion, "-m", model!, "-p", LONG_PROMPT, "-n", "6", "-t", "2", "-nr", "-no-cnv", "--temp", "0", "--no-warmup", ...(extra.llama ?? [])];
  const env = { ...process.env, LD_LIBRARY_PATH: [libDir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":") };
  const run = spawnSync(probe, ["--mode", "full", "--sample-hz", "0", ...(extra.probe ?? []), "--out", out, "--", ...command], { encoding: "utf8", timeout: 120_000, env });
  assert.equal(run.status, 0, run.stderr);
  return buildProfile(decodeStream(new Uint8Array(fs.readFileSync(out))));
}

let blasProfile: Profile | undefined;
function blasRun(): Profile {
  return (blasProfile ??= recordRun("blas", offload!.llamaCompletion!, offload!.libDir));
}

test("offload analysis of a real BLAS run: MUL_MAT batches split where ggml-blas.cpp's condition puts them", { skip: skipReason() }, (t) => {
  const minBatch = blasMinBatch();
  const p = blasRun();
  assert.ok(p.tokens.prefill.tokens >= 2 * minBatch, `a prompt of ${p.tokens.prefill.tokens} tokens`);
  assert.ok(p.tokens.decode.calls >= 3, `${p.tokens.decode.calls} decode calls`);
  const a = offloadAnalysis(p);
  t.diagnostic(breakEvenText(a).join("\n"));
  const blas = a.backends.find((b) => p.backends[b.id].library?.includes("libggml-blas"));
  const cpu = a.backends.find((b) => p.backends[b.id].library?.includes("libggml-cpu"));
  assert.ok(blas && cpu, `a BLAS and a CPU backend among ${JSON.stringify(a.backends)}`);
  const mulMat = a.ops.find((o) => o.op === "MUL_MAT");
  assert.ok(mulMat, `MUL_MAT offloaded (ops: ${a.ops.map((o) => o.op)})`);
  for (const row of mulMat.rows) {
    const on = new Set(row.backends.map((b) => b.name));
    if (row.batch < minBatch) assert.deepEqual([...on], [cpu.name], `batch ${row.batch} < ${minBatch} stays on the CPU`);
    if (on.has(blas.name)) assert.ok(row.batch >= minBatch, `BLAS took batch ${row.batch}`);
    for (const b of row.backends) assert.ok(b.calls > 0 && b.perCallNs > 0, `${b.name} at batch ${row.batch}: ${b.calls} calls, ${b.perCallNs} ns`);
  }
  assert.ok(mulMat.rows.some((r) => r.batch === 1 && r.backends.some((b) => b.name === cpu.name && b.measured)), "decode's batch 1 measured on the CPU");
  const prefill = mulMat.rows.filter((r) => r.backends.some((b) => b.name === blas.name));
  assert.ok(prefill.length > 0 && prefill.every((r) => r.batch >= minBatch), "BLAS took prefill batches");
  // Every MUL_MAT the BLAS splits hold meets the three dimensions of the condition.
  for (const [s, span] of p.backendSpans.entries()) {
    if (span.backend !== blas.id) continue;
    for (const node of splitNodes(p, s).filter((n) => n.op === "MUL_MAT")) {
      assert.ok(node.ne[0] >= minBatch && node.ne[1] >= minBatch && (node.srcNe[1]?.[0] ?? 0) >= minBatch, `${node.name} ${JSON.stringify(node.ne)} on BLAS`);
    }
  }
  // The BLAS calls' time adds up to the BLAS splits' time: apportioned, nothing lost.
  const blasClassNs = a.classes.flatMap((c) => c.backends).filter((b) => b.name === blas.name).reduce((n, b) => n + b.ns, 0);
  const blasSpanNs = p.backendSpans.filter((s) => s.backend === blas.id).reduce((n, s) => n + s.endNs - s.startNs, 0);
  assert.ok(Math.abs(blasClassNs - blasSpanNs) <= 1e-6 * blasSpanNs, `BLAS class time ${blasClassNs} = split time ${blasSpanNs}`);
  const finding = findings(p, null).find((f) => f.kind === "offload");
  assert.ok(finding && finding.id !== "offload:none", `an offload finding: ${finding?.title}`);
  assert.deepEqual(finding.evidence, [{ kind: "offload", op: "MUL_MAT" }]);
  assert.ok(finding.details.some((d) => d.startsWith("MUL_MAT: ") && d.includes(`on ${blas.name}`)), finding.details.join("\n"));
  t.diagnostic(`${finding.title}\n${finding.details.join("\n")}`);
});

test("a CPU-only run of the same prompt against the BLAS run: each BLAS class compared with the same class on the CPU", { skip: skipReason() || (!fixtures.llamaCompletion && "no CPU-only llama.cpp build: run 'npm run setup'") }, (t) => {
  const cpuOnly = recordRun("cpu", fixtures.llamaCompletion!, fixtures.llamaLibDir);
  assert.equal(cpuOnly.backends.length, 1, `one backend in the CPU-only run: ${cpuOnly.backends.map((b) => b.name)}`);
  const blas = blasRun();
  const blasClasses = offloadAnalysis(blas).classes.filter((c) => c.backends.some((b) => libraryOf(blas, b.backend).includes("libggml-blas")));
  assert.ok(blasClasses.length > 0, "classes BLAS computed");
  const compared = new Map(compareOffload(cpuOnly, blas).classes.map((c) => [c.key, c]));
  for (const c of blasClasses) {
    const k = compared.get(c.key);
    assert.ok(k, `${c.key} compared (compared: ${[...compared.keys()].join("; ")})`);
    assert.equal(k.before.name, "CPU");
    const calls = c.backends.reduce((n, b) => n + b.calls, 0);
    assert.ok(k.before.measured && k.before.calls === calls, `${c.key}: the CPU run measured the same ${calls} calls (${k.before.calls})`);
    assert.ok(Number.isFinite(k.ratio) && k.ratio > 0, `${c.key}: ratio ${k.ratio}`);
  }
  t.diagnostic(comparisonText(compareOffload(cpuOnly, blas)).join("\n"));
});

/** The library of a backend of the profile. */
function libraryOf(profile: Profile, backend: number): string {
  return profile.backends[backend]?.library ?? "";
}

test("an RPC run: the offloaded nodes timed by the traced server's op spans, the copies to the server counted", { skip: skipReason() || (!offload?.rpcServer && "no ggml-rpc-server in the offload build: run 'npm run setup'") }, async (t) => {
  const port = await freePort();
  // -d CPU: the server of a BLAS build would otherwise serve the BLAS device (matrix products only).
  const server = spawn(offload!.rpcServer!, ["-H", "127.0.0.1", "-p", String(port), "-t", "1", "-d", "CPU"], { stdio: "ignore" });
  try {
    await listening(port);
    const p = recordRun("rpc", offload!.llamaCompletion!, offload!.libDir, { probe: ["--also-pid", String(server.pid)], llama: ["--rpc", `127.0.0.1:${port}`, "-ngl", "99"] });
    const rpc = p.backends.find((b) => b.library?.includes("libggml-rpc"));
    assert.ok(rpc, `an RPC backend among ${p.backends.map((b) => b.name)}`);
    const a = offloadAnalysis(p);
    const onRpc = a.classes.flatMap((c) => c.backends.filter((b) => b.backend === rpc.id).map((b) => ({ key: c.key, ...b })));
    assert.ok(onRpc.some((c) => c.key.startsWith("MUL_MAT ")), "matrix products offloaded to the server");
    for (const c of onRpc) assert.ok(c.measured, `${c.key}: timed by the server's op spans`);
    // Per RPC split, its calls' compute time is the server's op time of the same graph: inside the server split's time.
    const serverNs = p.backendSpans.filter((s) => s.pid === server.pid).reduce((n, s) => n + s.endNs - s.startNs, 0);
    const rpcNs = onRpc.reduce((n, c) => n + c.ns, 0);
    assert.ok(rpcNs > 0 && rpcNs <= serverNs, `RPC op time ${rpcNs} ns within the server's splits' ${serverNs} ns`);
    const copied = p.copies.filter((c) => c.toBackend === rpc.id).reduce((n, c) => n + c.bytes, 0);
    const attributed = onRpc.reduce((n, c) => n + c.copyBytes, 0);
    assert.ok(attributed > 0 && attributed <= copied + 1e-6, `copies to the server attributed: ${attributed} of ${copied} B`);
    t.diagnostic(breakEvenText(a).slice(0, 12).join("\n"));
  } finally {
    server.kill("SIGKILL");
    await exited(server);
  }
});

/** Resolves once something accepts connections on the port (10 s at most). */
async function listening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => (socket.destroy(), resolve(true)));
      socket.once("error", () => resolve(false));
    });
    if (up) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`ggml-rpc-server did not listen on ${port}`);
}
