// A real llama-server for the tests that attach to a running process: started on a free port,
// asked for completions, and the probe helper attached to it by PID.
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import assert from "node:assert/strict";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A TCP port nothing listens on now (a fixed one could be held by a server another test left). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Starts llama-server on `port` with `model` (2 threads, 512 tokens of context), its output in `log`; resolves once healthy. */
export async function startLlamaServer(server: string, model: string, port: number, log: string): Promise<ChildProcess> {
  const logFd = fs.openSync(log, "w");
  const child = spawn(server, ["-m", model, "--host", "127.0.0.1", "--port", String(port), "-t", "2", "-c", "512", "--no-warmup"], { stdio: ["ignore", logFd, logFd] });
  fs.closeSync(logFd);
  for (let i = 0; i < 240; i++) {
    try {
      assert.equal(child.exitCode, null, "llama-server exited while starting");
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child;
    } catch {
      // not listening yet
    }
    await sleep(250);
  }
  child.kill("SIGKILL");
  throw new Error("llama-server did not become healthy");
}

/**
 * A greedy completion of `prompt` (its prompt evaluated anew each time); a failure shows the end of the server's log.
 * Each request has its own connection: fetch's pooled keep-alive connection could be one the server
 * was just closing after an idle pause, and the request would fail without reaching it.
 */
export async function completion(port: number, prompt: string, log: string, nPredict = 16): Promise<string> {
  const body = JSON.stringify({ prompt, n_predict: nPredict, temperature: 0, seed: 1, cache_prompt: false });
  const { status, text } = await post(port, "/completion", body).catch((err: Error) => {
    throw new Error(`llama-server request failed (${err.message}); the end of its log:\n${fs.readFileSync(log, "utf8").slice(-2000)}`);
  });
  if (status !== 200) throw new Error(`completion request failed: ${status} ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { content: string }).content;
}

function post(port: number, route: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: route, method: "POST", agent: false, timeout: 60_000,
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("no answer in 60 s")));
    req.on("error", reject);
    req.end(body);
  });
}

/** Starts the probe helper and resolves once it says it is attached (or rejects when it exits first). */
export function startHelper(probe: string, args: string[]): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const helper = spawn(probe, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    helper.stderr!.on("data", (d: Buffer) => {
      err += d.toString();
      if (/attached in/.test(err)) resolve(helper);
    });
    helper.once("exit", (code) => reject(new Error(`helper exited (${code}) before attaching: ${err}`)));
  });
}

export function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once("exit", () => resolve()));
}
