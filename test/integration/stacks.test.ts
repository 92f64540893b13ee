/**
 * Caller chains of timer samples (needs root: eBPF): llama.cpp is built RelWithDebInfo without frame
 * pointers, so the helper copies each sampled thread's user registers and stack top and unwinds them
 * with the DWARF call frame information of the mapped files. A sampled run of llama-completion must
 * yield chains that reach llama_decode above the ggml frames, and the pprof export must carry them.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { pprofProfile } from "../../extension/profile/export/pprof";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream, type SampleSymbol } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";
import { readPprof, stacks } from "../unit/exportReaders";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures();
const isRoot = process.getuid?.() === 0;

/** The functions of a frame, innermost first: the inlined ones, then the one they were inlined into. */
function functionsOf(symbol: SampleSymbol | undefined): string[] {
  if (!symbol) return [];
  return [symbol.function ?? "", ...(symbol.inline_callers ?? []).map((c) => c.function ?? "")];
}

test("sample mode: caller chains unwound with DWARF reach llama_decode above ggml frames", { skip: !isRoot && "needs root (eBPF)", timeout: 300_000 }, (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-stacks-"));
  t.after(() => process.env.GGML_LENS_KEEP || fs.rmSync(work, { recursive: true, force: true }));
  const out = path.join(work, "sampled.stream");
  const command = [fixtures.llamaCompletion ?? "", "-m", fixtures.models?.tinyDense ?? "", "-p", "The quick brown fox", "-n", "400", "--ignore-eos",
    "-c", "2048", "-no-cnv", "--temp", "0", "-t", "2", "--no-warmup"];
  const run = spawnSync(probe, ["--mode", "sample", "--sample-hz", "199", "--out", out, "--", ...command], { encoding: "utf8", timeout: 240_000 });
  assert.equal(run.status, 0, run.stderr);

  const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
  const trailer = stream.trailer!;
  const walks = trailer.raw.stack_walks as { samples: number; with_callers: number };
  const samples = stream.tables.sample;
  assert.ok(samples.count > 50, `${samples.count} samples`);
  assert.ok(walks.with_callers > 0 && trailer.stacks.length > 0, JSON.stringify(walks));
  const symbols = new Map(trailer.symbols.map((s) => [s.ip, s]));
  let withStack = 0;
  for (let i = 0; i < samples.count; i++) {
    if (samples.stack[i] === 0) continue;
    withStack++;
    const chain = trailer.stacks[samples.stack[i] - 1];
    assert.ok(chain, `sample ${i}: stack ${samples.stack[i]} is in the trailer`);
    assert.equal(chain[0], Number(samples.ip[i]), "a chain starts at the sampled instruction");
    for (const ip of chain) assert.ok(symbols.has(ip), `frame 0x${ip.toString(16)} symbolized`);
  }
  assert.equal(withStack, walks.with_callers, "every chain found is a sample's");

  // Chains of the main thread: a ggml frame (the compute loop or an op kernel) under llama_decode.
  const reaching = trailer.stacks.filter((chain) => {
    const functions = chain.map((ip) => functionsOf(symbols.get(ip)));
    const decode = functions.findIndex((f) => f.includes("llama_decode"));
    return decode > 0 && functions.slice(0, decode).some((f) => f.some((name) => name.startsWith("ggml_")));
  });
  assert.ok(reaching.length > 0, `a chain from a ggml frame up to llama_decode among ${trailer.stacks.length}`);

  // The pprof export (read back with the official profile.proto) has those callers between the
  // sampled line and the run's context frames.
  const exported = stacks(readPprof(pprofProfile({ stream, profile: buildProfile(stream), meta: undefined })));
  assert.ok(exported.some((s) => {
    if (s.values[1] === 0) return false;
    const decode = s.frames.findIndex((f) => /(^| < )llama_decode( |$)/.test(f));
    return decode > 0 && s.frames.slice(0, decode).some((f) => /(^| < )ggml_/.test(f));
  }), "a pprof sample with ggml frames under llama_decode");

  // --stack-kb 0: samples with their IP alone.
  const plainOut = path.join(work, "plain.stream");
  const plain = spawnSync(probe, ["--mode", "sample", "--sample-hz", "199", "--stack-kb", "0", "--out", plainOut, "--", ...command.slice(0, 5), "-n", "100", ...command.slice(7)], { encoding: "utf8", timeout: 240_000 });
  assert.equal(plain.status, 0, plain.stderr);
  const plainStream = decodeStream(new Uint8Array(fs.readFileSync(plainOut)));
  assert.ok(plainStream.tables.sample.count > 0);
  assert.ok([...plainStream.tables.sample.stack].every((k) => k === 0) && plainStream.trailer!.stacks.length === 0, "no chains");
});
