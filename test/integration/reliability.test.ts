/**
 * Reliability of the probe helper on the real llama.cpp (root): killed with SIGKILL over and over
 * while attached to a busy llama-server, a target that crashes mid-run, a ring buffer far too small,
 * and privilege (files and processes of the invoking sudo user only).
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeStream } from "../../extension/profile/stream";
import { buildProfile } from "../../extension/profile/model";
import { loadProfile } from "../../extension/profile/file";
import { recordedFixtures } from "../harness/fixtures";
import { launchedTarget, linksLeftSince, probeLinks } from "../harness/probe";
import { completion, exited, freePort, startHelper, startLlamaServer } from "../harness/llamaServer";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures();
const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-reliability-"));
const isRoot = process.getuid?.() === 0;
const KILL_CYCLES = Number(process.env.GGML_LENS_KILL_CYCLES ?? 100);
const PIN_ROOT = "/sys/fs/bpf/ggml-lens";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tinyModel(): string {
  const model = fixtures.models?.tinyDense;
  assert.ok(model && fixtures.llamaServer && fixtures.llamaCompletion, "run 'npm run setup' first");
  return model;
}

const serverLog = (port: number) => path.join(work, `server-${port}.log`);
const startServer = (port: number) => startLlamaServer(fixtures.llamaServer!, tinyModel(), port, serverLog(port));
const complete = (port: number, prompt: string) => completion(port, prompt, serverLog(port));

function deadPins(): string[] {
  return fs.existsSync(PIN_ROOT) ? fs.readdirSync(PIN_ROOT).filter((pid) => !fs.existsSync(`/proc/${pid}`)) : [];
}

/** Bytes of the target's memory at each op site equal the library file's: no breakpoint left in its code. */
function assertCodeIntact(pid: number, sites: { library: string; vaddr: number; file_offset: number }[]): void {
  const maps = fs.readFileSync(`/proc/${pid}/maps`, "utf8").split("\n");
  const mem = fs.openSync(`/proc/${pid}/mem`, "r");
  try {
    for (const site of sites) {
      const mapping = maps
        .map((l) => l.split(/\s+/))
        .map((f) => ({ range: f[0].split("-").map((x) => parseInt(x, 16)), offset: parseInt(f[2], 16), file: f[5] ?? "" }))
        .find((m) => m.file.startsWith("/") && fs.realpathSync(m.file) === site.library &&
          m.offset <= site.file_offset && site.file_offset < m.offset + m.range[1] - m.range[0]);
      assert.ok(mapping, `${site.library} maps the site's file offset`);
      const address = mapping.range[0] + site.file_offset - mapping.offset;
      const inMemory = Buffer.alloc(8);
      fs.readSync(mem, inMemory, 0, 8, address);
      const inFile = Buffer.alloc(8);
      const fd = fs.openSync(site.library, "r");
      fs.readSync(fd, inFile, 0, 8, site.file_offset);
      fs.closeSync(fd);
      assert.deepEqual(inMemory, inFile, `code at ${site.library}+0x${site.file_offset.toString(16)} as in the file`);
    }
  } finally {
    fs.closeSync(mem);
  }
}

test("reliability", { skip: !isRoot && "needs root (eBPF)" }, async (t) => {
  t.after(() => process.env.GGML_LENS_KEEP || fs.rmSync(work, { recursive: true, force: true }));

  await t.test(`helper killed with SIGKILL mid-run, ${KILL_CYCLES} cycles: nothing left behind, the target unharmed`, { timeout: 1_800_000 }, async () => {
    const port = await freePort();
    const server = await startServer(port);
    try {
      const expected = await complete(port, "The quick brown fox");
      const before = probeLinks();
      // Requests keep the server computing while helpers come and go (their answers are not checked).
      let busy = true;
      let served = 0;
      const load = (async () => {
        for (let i = 0; busy; i++) served += await complete(port, `Request ${i}`).then(() => 1, () => 0);
      })();
      for (let cycle = 0; cycle < KILL_CYCLES; cycle++) {
        const out = path.join(work, `killed-${cycle}.stream`);
        const helper = await startHelper(probe, ["--pid", String(server.pid), "--mode", cycle % 2 ? "full" : "default", "--sample-hz", "99", "--out", out]);
        await sleep(Math.floor(Math.random() * 300));
        helper.kill("SIGKILL");
        await exited(helper);
      }
      busy = false;
      await load;
      assert.ok(served > 0, "the server answered requests while helpers were killed");
      assert.deepEqual(linksLeftSince(before), [], "no link of a killed helper is left");
      assert.deepEqual(deadPins(), [], "each killed helper's reaper removed its pins");
      const last = path.join(work, "after.stream");
      const run = spawnSync(probe, ["--pid", String(server.pid), "--mode", "full", "--duration", "1", "--out", last], { encoding: "utf8" });
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(deadPins(), []);
      assert.deepEqual(linksLeftSince(before), []);
      assert.equal(server.exitCode, null, "the server survived");
      const sites = decodeStream(new Uint8Array(fs.readFileSync(last))).header.info.raw.sites as { library: string; vaddr: number; file_offset: number }[];
      assertCodeIntact(server.pid!, sites);
      assert.equal(await complete(port, "The quick brown fox"), expected, "the server still computes the same tokens");
    } finally {
      server.kill("SIGKILL");
      await exited(server);
    }
  });

  await t.test("the editor's host dies during a run (its terminal hangs up): the helper stops cleanly and keeps the profile", { timeout: 300_000 }, async () => {
    // A stand-in for the extension host: the CLI in a node-pty terminal, as "Profile this run" runs it.
    const out = path.join(work, "hangup.ggmlprof");
    const marker = `hangup-${process.pid}`;
    const host = spawn(process.execPath, ["-e", `const pty = require(${JSON.stringify(path.join(repo, "node_modules/@lydell/node-pty"))});
      const p = pty.spawn(process.execPath, process.argv.slice(1), { cols: 120, rows: 30, env: process.env });
      p.onData((d) => process.stdout.write(d));`, "--", "--import", "tsx", path.join(repo, "extension/cli.ts"), "record", "--mode", "full", "--out", out, "--",
      fixtures.llamaCompletion!, "-m", tinyModel(), "-p", marker, "-n", "100000", "--ignore-eos", "-no-cnv", "-t", "2", "--no-warmup"], { stdio: ["ignore", "pipe", "inherit"] });
    const before = probeLinks();
    let seen = "";
    host.stdout!.on("data", (d: Buffer) => (seen += d.toString()));
    while (!/progress decodes=([3-9]|\d\d)/.test(seen) && host.exitCode === null) await sleep(100);
    host.kill("SIGKILL");
    let left = true;
    for (let i = 0; i < 300 && left; i++) {
      await sleep(100);
      left = spawnSync("pgrep", ["-f", marker]).status === 0;
    }
    assert.ok(!left, "the helper and the program it ran are gone");
    assert.deepEqual(linksLeftSince(before), []);
    const p = await loadProfile(out);
    assert.equal(p.truncated, false, "the helper wrote its trailer");
    assert.deepEqual(p.errors, []);
    assert.ok(p.calls.length >= 3);
  });

  await t.test("the target crashes mid-run: the partial profile is saved with its exit status and opens", { timeout: 300_000 }, async () => {
    const out = path.join(work, "crash.stream");
    const helper = spawn(probe, ["--mode", "full", "--out", out, "--", fixtures.llamaCompletion!, "-m", tinyModel(), "-p", "Once upon a time",
      "-n", "100000", "--ignore-eos", "-no-cnv", "-t", "2", "--no-warmup"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    helper.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    while (!/progress decodes=([3-9]|\d\d)/.test(err) && helper.exitCode === null) await sleep(100);
    const target = launchedTarget(helper.pid!);
    assert.ok(target > 0, "the target runs as the helper's child");
    process.kill(target, "SIGSEGV");
    const status = await new Promise<number | null>((resolve) => helper.once("exit", (code) => resolve(code)));
    assert.equal(status, 128 + 11, `the helper exits with the program's status: ${err}`);
    const p = await loadProfile(out);
    assert.equal(p.truncated, false, "the trailer was written");
    assert.equal(p.trailer?.exit_status, 128 + 11);
    assert.deepEqual(p.errors, []);
    assert.ok(p.calls.length >= 3 && p.spans.count > 0, "what ran before the crash is in the profile");
  });

  await t.test("a ring buffer far too small: events lost are counted and shown, the profile stays consistent", { timeout: 300_000 }, () => {
    const out = path.join(work, "tiny-ring.stream");
    const run = spawnSync(probe, ["--mode", "full", "--ringbuf-kb", "4", "--out", out, "--", fixtures.llamaCompletion!, "-m", tinyModel(),
      "-p", "Once upon a time", "-n", "32", "-no-cnv", "-t", "2", "--no-warmup"], { encoding: "utf8", timeout: 240_000 });
    assert.equal(run.status, 0, run.stderr);
    const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
    const p = buildProfile(stream);
    const lost = Object.values(p.trailer?.lost ?? {}).reduce((a, b) => a + b, 0);
    assert.ok(lost > 0, "a 4 KiB ring buffer overflows in full mode");
    assert.equal(p.lostEvents, lost);
    assert.deepEqual(p.errors, []);
    const pairs = p.pairing.ops;
    assert.equal(pairs.paired + pairs.unterminated + pairs.openAtEnd + pairs.cutByWindow, stream.tables.opBegin.count, "every op begin accounted for");
    for (let i = 0; i < p.spans.count; i++) assert.ok(p.spans.endNs[i] >= p.spans.startNs[i]);
    const report = spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "extension/cli.ts"), "report", out], { encoding: "utf8", cwd: repo });
    assert.match(report.stdout, new RegExp(`lost\\s+${lost} events`), report.stdout);
  });

  await t.test("privilege: through sudo, the target runs as the invoking user and files are written only where that user can", { timeout: 300_000 }, async () => {
    // The build lives under /root (mode 700): link it where the unprivileged user can reach it.
    const shared = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-shared-"));
    fs.chmodSync(shared, 0o755);
    const bin = path.dirname(fixtures.llamaCompletion!);
    for (const f of fs.readdirSync(bin)) linkOrCopy(path.join(bin, f), path.join(shared, f));
    linkOrCopy(tinyModel(), path.join(shared, "model.gguf"));
    const writable = path.join(shared, "out");
    fs.mkdirSync(writable, { mode: 0o777 });
    fs.chmodSync(writable, 0o777);
    const sudo = { ...process.env, SUDO_UID: "65534", SUDO_GID: "65534", LD_LIBRARY_PATH: shared };
    const command = [path.join(shared, "llama-completion"), "-m", path.join(shared, "model.gguf"), "-p", "Hi", "-n", "4000", "--ignore-eos", "-no-cnv", "-t", "2", "--no-warmup"];
    try {
      const refused = spawnSync(probe, ["--out", "/root/ggml-lens-refused.stream", "--", ...command], { encoding: "utf8", env: sudo });
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /cannot write \/root\/ggml-lens-refused\.stream: Permission denied/);
      assert.ok(!fs.existsSync("/root/ggml-lens-refused.stream"));
      const foreignDir = spawnSync(probe, ["--layout-from", bin, "--out", path.join(writable, "x.stream"), "--", ...command], { encoding: "utf8", env: sudo });
      assert.equal(foreignDir.status, 1);
      assert.match(foreignDir.stderr, /--layout-from .*: Permission denied/, "a directory the invoking user may not read is refused");
      const out = path.join(writable, "user.stream");
      const helper = spawn(probe, ["--mode", "sample", "--out", out, "--", ...command], { env: sudo, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      helper.stderr!.on("data", (d: Buffer) => (err += d.toString()));
      while (!/progress decodes=\d+/.test(err) && helper.exitCode === null) await sleep(100);
      const target = launchedTarget(helper.pid!);
      const uids = fs.readFileSync(`/proc/${target}/status`, "utf8").match(/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)/m);
      assert.deepEqual(uids?.slice(1), ["65534", "65534", "65534"], "the target runs as the invoking user, not as root");
      process.kill(target, "SIGTERM"); // not SIGINT: llama-completion's handler logs and can deadlock on its own log mutex
      await exited(helper);
      assert.equal(fs.statSync(out).uid, 65534, "the profile belongs to the invoking user");
    } finally {
      fs.rmSync(shared, { recursive: true, force: true });
    }
  });
});

function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.cpSync(from, to, { dereference: false });
  }
}
