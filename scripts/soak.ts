// `npm run soak`: a long attach to a llama-server under steady load. The probe helper records it in
// default mode while a local client sends completion requests to 127.0.0.1 (bounded in count and
// time) and this process follows the growing stream with the live decoder, as the editor does.
// Every few seconds it samples the helper's and its own memory; at the end it writes
// bench/soak-results.md: peak RSS, RSS growth over the run, events per second, events lost.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { StreamDecoder } from "../extension/profile/stream";

const repo = path.resolve(__dirname, "..");

interface Options {
  minutes: number;
  model: string;
  port: number;
  out: string;
}

interface MemorySample {
  atS: number;
  helperRssKiB: number;
  helperHwmKiB: number;
  readerRssKiB: number;
  streamBytes: number;
  records: number;
  requests: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { minutes: 30, model: "tinyDense", port: 18473, out: path.join(repo, "bench", "soak-results.md") };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[++i];
    if (argv[i - 1] === "--minutes" && Number(value) > 0) o.minutes = Number(value);
    else if (argv[i - 1] === "--model" && value) o.model = value;
    else if (argv[i - 1] === "--port" && Number(value) > 1023) o.port = Number(value);
    else if (argv[i - 1] === "--out" && value) o.out = path.resolve(value);
    else {
      console.error("usage: npm run soak [-- --minutes M (default 30)] [--model KEY of `npm run fixtures` (default tinyDense)] [--port P] [--out FILE]");
      process.exit(2);
    }
  }
  return o;
}

function fixtures(): { llamaServer: string; models: Record<string, string> } {
  const json = execFileSync(process.execPath, [path.join(repo, "scripts", "fixtures.mjs")], { encoding: "utf8" });
  return JSON.parse(json) as { llamaServer: string; models: Record<string, string> };
}

function statusKiB(pid: number, field: "VmRSS" | "VmHWM"): number {
  try {
    const line = fs.readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith(field + ":"));
    return line ? Number(line.split(/\s+/)[1]) : 0;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForServer(port: number, deadlineMs: number): Promise<void> {
  while (performance.now() < deadlineMs) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(500);
  }
  throw new Error("llama-server did not become healthy in time");
}

/** Sequential completion requests until `untilMs`, at most `maxRequests`; returns how many succeeded. */
async function client(port: number, untilMs: number, maxRequests: number, counter: { ok: number; failed: number }): Promise<void> {
  for (let i = 0; i < maxRequests && performance.now() < untilMs; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/completion`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ prompt: `Request ${i}: the quick brown fox`, n_predict: 24, temperature: 0 }),
        signal: AbortSignal.timeout(60_000),
      });
      await r.text();
      if (r.ok) counter.ok++;
      else counter.failed++;
    } catch {
      counter.failed++;
    }
  }
}

/** Follows the growing stream file like the editor's live view: decodes and counts, keeps no records. */
function follow(file: string): { read: () => void; records: () => number; decoder: StreamDecoder; bytes: () => number } {
  const decoder = new StreamDecoder();
  let offset = 0;
  let records = 0;
  const buffer = Buffer.alloc(1 << 20);
  return {
    decoder,
    records: () => records,
    bytes: () => offset,
    read() {
      if (!fs.existsSync(file)) return;
      const fd = fs.openSync(file, "r");
      try {
        for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, offset)) > 0; offset += n) {
          records += decoder.push(new Uint8Array(buffer.subarray(0, n))).count;
        }
      } finally {
        fs.closeSync(fd);
      }
    },
  };
}

function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once("exit", () => resolve());
    child.kill(signal);
  });
}

function report(o: Options, samples: MemorySample[], summary: Record<string, string | number>): string {
  const first = samples.find((s) => s.atS >= 60) ?? samples[0];
  const last = samples[samples.length - 1];
  const rows = samples.filter((s, i) => i === samples.length - 1 || Math.floor(s.atS / 60) !== Math.floor((samples[i + 1]?.atS ?? 0) / 60));
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  return [
    "# ggml-lens soak run",
    "",
    `Generated by \`npm run soak -- --minutes ${o.minutes} --model ${o.model}\` on ${new Date().toISOString()} (${os.cpus().length} CPUs, kernel ${os.release()}).`,
    "A llama-server under steady load (sequential completion requests of 24 tokens from a client on 127.0.0.1),",
    "attached to by `ggml-lens-probe --pid PID --duration S` in default mode; this script follows the growing",
    "stream with the live decoder (StreamDecoder), as the editor does during a run, keeping counts only.",
    "The last row is sampled after the duration, while the helper symbolizes the sampled addresses with libdw.",
    "",
    "| figure | value |",
    "| --- | --- |",
    ...Object.entries(summary).map(([k, v]) => `| ${k} | ${v} |`),
    `| helper RSS after the first minute / at the end (MiB) | ${mib(first.helperRssKiB)} / ${mib(last.helperRssKiB)} |`,
    `| reader RSS after the first minute / at the end (MiB) | ${mib(first.readerRssKiB)} / ${mib(last.readerRssKiB)} |`,
    "",
    "| minute | helper RSS MiB | helper peak MiB | reader RSS MiB | stream MiB | records | requests |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows.map((s) => `| ${(s.atS / 60).toFixed(1)} | ${mib(s.helperRssKiB)} | ${mib(s.helperHwmKiB)} | ${mib(s.readerRssKiB)} | ${(s.streamBytes / 2 ** 20).toFixed(1)} | ${s.records} | ${s.requests} |`),
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error("npm run soak needs root (eBPF): run it as root or through sudo");
  const f = fixtures();
  const model = f.models[o.model];
  if (!model) throw new Error(`no model '${o.model}' in \`npm run fixtures\`; run 'npm run setup'`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-soak-"));
  const stream = path.join(work, "soak.stream");
  const server = spawn(f.llamaServer, ["-m", model, "--host", "127.0.0.1", "--port", String(o.port), "-t", "2", "-c", "1024", "--no-warmup"], { stdio: "ignore" });
  let helper: ChildProcess | undefined;
  try {
    await waitForServer(o.port, performance.now() + 120_000);
    const seconds = o.minutes * 60;
    helper = spawn(path.join(repo, "bpf", "build", "ggml-lens-probe"), ["--pid", String(server.pid), "--duration", String(seconds), "--out", stream], { stdio: ["ignore", "ignore", "pipe"] });
    let helperLog = "";
    helper.stderr!.on("data", (d: Buffer) => (helperLog = (helperLog + d.toString()).slice(-4000)));
    const helperExit = new Promise<number | null>((resolve) => helper!.once("exit", (code) => resolve(code)));
    const t0 = performance.now();
    const requests = { ok: 0, failed: 0 };
    const load = client(o.port, t0 + seconds * 1000, seconds * 20, requests);
    const reader = follow(stream);
    const samples: MemorySample[] = [];
    let helperDone = false;
    void helperExit.then(() => (helperDone = true));
    while (!helperDone) {
      await sleep(5000);
      reader.read();
      samples.push({
        atS: (performance.now() - t0) / 1000,
        helperRssKiB: statusKiB(helper.pid!, "VmRSS") || (samples.at(-1)?.helperRssKiB ?? 0),
        helperHwmKiB: statusKiB(helper.pid!, "VmHWM") || (samples.at(-1)?.helperHwmKiB ?? 0),
        readerRssKiB: Math.round(process.memoryUsage().rss / 1024),
        streamBytes: reader.bytes(),
        records: reader.records(),
        requests: requests.ok,
      });
      if (samples.length % 12 === 0) console.log(`soak: ${(samples.at(-1)!.atS / 60).toFixed(1)} min, ${reader.records()} records, ${requests.ok} requests`);
    }
    const code = await helperExit;
    await load;
    reader.read();
    reader.decoder.end();
    const trailer = reader.decoder.trailer;
    if (code !== 0 || !trailer) throw new Error(`the helper failed (exit ${code}):\n${helperLog}`);
    const lost = Object.values(trailer.lost).reduce((a, b) => a + b, 0);
    const durationS = trailer.duration_ns / 1e9;
    const summary = {
      "duration (min)": (durationS / 60).toFixed(1),
      "requests served (failed)": `${requests.ok} (${requests.failed})`,
      "records written": reader.records(),
      "records per second": (reader.records() / durationS).toFixed(0),
      "probe hits per second": (Object.values(trailer.hits).reduce((a, b) => a + b, 0) / durationS).toFixed(0),
      "op-tracing windows": trailer.windows,
      "events lost": lost,
      "stream size (MiB)": (reader.bytes() / 2 ** 20).toFixed(1),
      "helper peak RSS (MiB)": (Math.max(...samples.map((s) => s.helperHwmKiB)) / 1024).toFixed(1),
      "reader peak RSS (MiB)": (Math.max(...samples.map((s) => s.readerRssKiB)) / 1024).toFixed(1),
    };
    fs.writeFileSync(o.out, report(o, samples, summary));
    console.log(`soak: wrote ${path.relative(repo, o.out)}`);
    for (const [k, v] of Object.entries(summary)) console.log(`  ${k}: ${v}`);
  } finally {
    if (helper) await stop(helper, "SIGINT");
    await stop(server, "SIGTERM");
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  console.error(`soak: ${err.message}`);
  process.exit(1);
});
