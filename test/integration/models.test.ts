// Every synthetic model in the setup's manifest loads in the real llama.cpp with the shape the
// manifest records, generates tokens in llama-completion and runs in llama-bench.
// Needs `npm run setup` (fixtures: llama.cpp binaries and the models manifest).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";

interface Fixtures {
  cache: string;
  llamaCompletion?: string;
  llamaBench?: string;
  models: Record<string, string>;
}

interface ModelParams {
  layers: number;
  embd: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  experts: number;
  expertsUsed: number;
}

interface Manifest {
  models: Record<string, { path: string; bytes: number; params: ModelParams }>;
}

interface BenchResult {
  n_prompt: number;
  n_gen: number;
  avg_ts: number;
}

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const THREADS = "2";
const PREDICT = 8;
const TIMEOUT_MS = 180_000;

function loadFixtures(): Fixtures {
  return JSON.parse(execFileSync("npm", ["run", "--silent", "fixtures"], { encoding: "utf8" })) as Fixtures;
}

function loadManifest(fixtures: Fixtures): Manifest {
  return JSON.parse(fs.readFileSync(path.join(fixtures.cache, "models", "manifest.json"), "utf8")) as Manifest;
}

function required(file: string | undefined, what: string): string {
  assert.ok(file && fs.existsSync(file), `${what} is missing from the fixtures: run 'npm run setup'`);
  return file;
}

function run(command: string, args: readonly string[]): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], timeout: TIMEOUT_MS });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The `print_info: NAME = VALUE` lines llama.cpp logs (at verbosity 4) when it loads a model. */
function loadInfo(log: string): Map<string, string> {
  const info = new Map<string, string>();
  for (const match of log.matchAll(/\bprint_info: (\w[\w ]*?)\s+= (.*)$/gm)) info.set(match[1], match[2].trim());
  return info;
}

/**
 * N in "eval time = ... ms / N runs": the decode steps after the prompt; null when the line is
 * missing (llama.cpp logs from a thread of its own, and its last lines can be lost at exit).
 */
function evalRuns(log: string): number | null {
  const match = /\beval time =\s+[\d.]+ ms \/\s+(\d+) runs/.exec(log);
  if (!match) return null;
  return Number(match[1]);
}

function checkShape(info: Map<string, string>, params: ModelParams): void {
  const expected: Record<string, number> = {
    n_layer: params.layers,
    n_embd: params.embd,
    n_head: params.heads,
    n_head_kv: params.kvHeads,
    n_ff: params.ffn,
    n_vocab: params.vocab,
    n_expert: params.experts,
    n_expert_used: params.expertsUsed,
  };
  for (const [key, value] of Object.entries(expected)) {
    assert.equal(info.get(key), String(value), `llama.cpp's ${key}`);
  }
}

const fixtures = loadFixtures();
const manifest = loadManifest(fixtures);

describe("synthetic models in llama.cpp", () => {
  it("the fixtures list every model of the manifest, and the files are there", () => {
    for (const [name, entry] of Object.entries(manifest.models)) {
      assert.equal(fixtures.models[name], entry.path, name);
      assert.equal(fs.statSync(entry.path).size, entry.bytes, name);
    }
    assert.ok("tinyDense" in manifest.models && "tinyMoe" in manifest.models, "the tiny models are always made");
  });

  for (const [name, { path: model, params }] of Object.entries(manifest.models)) {
    describe(name, () => {
      it(`loads with the manifest's shape and generates ${PREDICT} tokens in llama-completion`, async (t) => {
        const completion = required(fixtures.llamaCompletion, "llama-completion");
        const args = ["-m", model, "-p", "Hello world", "-n", String(PREDICT), "-no-cnv", "--temp", "0", "--ignore-eos"];
        const result = await run(completion, [...args, "-t", THREADS, "-lv", "4"]);
        assert.equal(result.code, 0, result.stderr.slice(-2000));
        checkShape(loadInfo(result.stderr), params);
        const runs = evalRuns(result.stderr);
        if (runs === null) t.diagnostic(`no eval timing in the log; its end: ${result.stderr.slice(-300)}`);
        else assert.ok(runs >= PREDICT - 1, "decode steps");
        const text = result.stdout.trimStart();
        assert.ok(text.startsWith("Hello world") && text.length > "Hello world".length, `prompt and generated text: ${JSON.stringify(text)}`);
        const timing = result.stderr.match(/\b(?:prompt )?eval time = .*$/gm) ?? [];
        timing.forEach((line) => t.diagnostic(line));
      });

      it("runs in llama-bench", async (t) => {
        const bench = required(fixtures.llamaBench, "llama-bench");
        const result = await run(bench, ["-m", model, "-p", "16", "-n", String(PREDICT), "-r", "1", "-t", THREADS, "-o", "json"]);
        assert.equal(result.code, 0, result.stderr.slice(-2000));
        const runs = JSON.parse(result.stdout) as BenchResult[];
        const prefill = runs.find((r) => r.n_prompt === 16 && r.n_gen === 0);
        const decode = runs.find((r) => r.n_prompt === 0 && r.n_gen === PREDICT);
        assert.ok(prefill && decode, `pp16 and tg${PREDICT} results: ${result.stdout}`);
        for (const r of [prefill, decode]) assert.ok(r.avg_ts > 0 && Number.isFinite(r.avg_ts), `tokens/s ${r.avg_ts}`);
        t.diagnostic(`pp16 ${prefill.avg_ts.toFixed(1)} tok/s, tg${PREDICT} ${decode.avg_ts.toFixed(1)} tok/s`);
      });
    });
  }
});
