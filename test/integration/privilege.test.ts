/**
 * Least privilege of the probe helper on the real llama.cpp (root): once it has attached, the
 * helper runs as the invoking sudo user (or stays uid 0 for plain root) with CAP_BPF and
 * CAP_PERFMON only, an empty bounding set and no_new_privs, and still re-attaches the op probes
 * window after window (default mode). Its pins are gone when it ends.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeStream } from "../../extension/profile/stream";
import { recordedFixtures } from "../harness/fixtures";
import { launchedTarget } from "../harness/probe";

const repo = path.resolve(__dirname, "../..");
// As `record` finds it: GGML_LENS_PROBE, else the source tree's build.
const probe = process.env.GGML_LENS_PROBE ?? path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures();
const isRoot = process.getuid?.() === 0;
const PIN_ROOT = "/sys/fs/bpf/ggml-lens";
const NOBODY = 65534;
// From linux/capability.h: the two capabilities the helper keeps.
const CAP_PERFMON = 38;
const CAP_BPF = 39;
const CAP_SYS_PTRACE = 19;
const KEPT = (1n << BigInt(CAP_BPF)) | (1n << BigInt(CAP_PERFMON));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface ProcStatus {
  uid: string[];
  gid: string[];
  groups: string;
  caps: Record<"CapInh" | "CapPrm" | "CapEff" | "CapBnd" | "CapAmb", bigint>;
  noNewPrivs: string;
}

function procStatus(pid: number): ProcStatus {
  const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => text.match(new RegExp(`^${name}:[ \\t]*(.*)$`, "m"))?.[1].trim() ?? "";
  const caps = Object.fromEntries(["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"].map((c) => [c, BigInt(`0x${field(c)}`)]));
  return { uid: field("Uid").split(/\s+/), gid: field("Gid").split(/\s+/), groups: field("Groups"), caps: caps as ProcStatus["caps"], noNewPrivs: field("NoNewPrivs") };
}

/** A run in default mode with short windows, until the helper has opened `windows` of them; then the target is stopped. */
async function runUntilWindows(env: NodeJS.ProcessEnv, command: string[], out: string, windows: number): Promise<{ status: ProcStatus; pid: number; err: string }> {
  const helper = spawn(probe, ["--mode", "default", "--window-every", "0.3", "--window-decodes", "1", "--out", out, "--", ...command], { env, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  helper.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise((resolve) => helper.once("exit", resolve));
  const opened = () => Math.max(0, ...[...err.matchAll(/progress decodes=\d+ ops=\d+ lost=\d+ windows=(\d+)/g)].map((m) => Number(m[1])));
  for (let i = 0; i < 1200 && opened() < windows && helper.exitCode === null; i++) await sleep(100);
  assert.ok(opened() >= windows, `the helper opened ${opened()} windows: ${err}`);
  const status = procStatus(helper.pid!);
  stopTarget(helper);
  await exited;
  return { status, pid: helper.pid!, err };
}

function stopTarget(helper: ChildProcess): void {
  const target = launchedTarget(helper.pid!);
  assert.ok(target > 0, "the target runs as the helper's child");
  process.kill(target, "SIGTERM"); // not SIGINT: llama-completion's handler logs and can deadlock on its own log mutex
}

/**
 * Op records after the helper re-attached (in the third window and later: the first attached before
 * the drop), and samples symbolized from the target's files, read after the drop.
 */
function assertRecordedAfterDrop(out: string): void {
  const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
  assert.ok((stream.trailer?.raw.windows as number) > 1, `windows in the trailer: ${JSON.stringify(stream.trailer?.raw.windows)}`);
  const symbols = (stream.trailer?.raw.symbols ?? []) as { function?: string }[];
  assert.ok(symbols.some((s) => s.function), `samples symbolized: ${JSON.stringify(symbols.slice(0, 3))}`);
  const { window, opBegin } = stream.tables;
  const opens = Array.from(window.ts).filter((_, i) => window.on[i] === 1);
  assert.ok(opens.length >= 3, `${opens.length} windows opened`);
  const later = Array.from(opBegin.ts).filter((ts) => ts > opens[2]).length;
  assert.ok(later > 0, "op records in the third window and after");
}

function assertDropped(status: ProcStatus, uid: number): void {
  assert.deepEqual(status.uid, Array(4).fill(String(uid)), "real, effective, saved and file-system uid");
  assert.deepEqual(status.gid, Array(4).fill(String(uid)));
  assert.equal(status.groups, "", "no supplementary groups");
  // Plain root's target keeps root's capabilities: reading its /proc files takes CAP_SYS_PTRACE too.
  const kept = uid === 0 ? KEPT | (1n << BigInt(CAP_SYS_PTRACE)) : KEPT;
  assert.equal(status.caps.CapEff, kept, `CapEff ${status.caps.CapEff.toString(16)}: CAP_BPF and CAP_PERFMON${uid === 0 ? " and CAP_SYS_PTRACE" : ""}`);
  assert.equal(status.caps.CapPrm, kept, `CapPrm ${status.caps.CapPrm.toString(16)}`);
  assert.deepEqual([status.caps.CapInh, status.caps.CapAmb, status.caps.CapBnd], [0n, 0n, 0n], "nothing inheritable, ambient or in the bounding set");
  assert.equal(status.noNewPrivs, "1");
}

function pinsOf(pid: number): string[] | undefined {
  const dir = path.join(PIN_ROOT, String(pid));
  return fs.existsSync(dir) ? fs.readdirSync(dir) : undefined;
}

function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.cpSync(from, to, { dereference: false });
  }
}

test("privilege drop after attaching", { skip: !isRoot && "needs root (eBPF)" }, async (t) => {
  const model = fixtures.models?.tinyDense;
  assert.ok(model && fixtures.llamaCompletion, "run 'npm run setup' first");
  // The build lives under /root (mode 700): link it where the unprivileged user can reach it.
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-privilege-"));
  t.after(() => fs.rmSync(shared, { recursive: true, force: true }));
  fs.chmodSync(shared, 0o755);
  const bin = path.dirname(fixtures.llamaCompletion);
  for (const f of fs.readdirSync(bin)) linkOrCopy(path.join(bin, f), path.join(shared, f));
  linkOrCopy(model, path.join(shared, "model.gguf"));
  const writable = path.join(shared, "out");
  fs.mkdirSync(writable);
  fs.chmodSync(writable, 0o777);
  const command = [path.join(shared, "llama-completion"), "-m", path.join(shared, "model.gguf"), "-p", "Hi", "-n", "100000", "--ignore-eos", "-no-cnv", "-t", "2", "--no-warmup"];
  const env = { ...process.env, LD_LIBRARY_PATH: shared };

  await t.test("through sudo: the invoking user's uids, CAP_BPF and CAP_PERFMON only, no_new_privs; op probes still re-attach each window", { timeout: 300_000 }, async () => {
    const out = path.join(writable, "sudo.stream");
    const run = await runUntilWindows({ ...env, SUDO_UID: String(NOBODY), SUDO_GID: String(NOBODY) }, command, out, 4);
    assert.match(run.err, /ggml-lens-probe: done: \d+ records/);
    assertDropped(run.status, NOBODY);
    assertRecordedAfterDrop(out);
    assert.equal(pinsOf(run.pid), undefined, "the pins and their directory (root's) are gone when the helper has ended");
  });

  await t.test("as plain root: uid 0 stays, with CAP_BPF and CAP_PERFMON only; the pins and their directory are removed", { timeout: 300_000 }, async () => {
    const out = path.join(writable, "root.stream");
    // Without the variables sudo sets (the tests themselves may run under sudo).
    const plain = Object.fromEntries(Object.entries(env).filter(([name]) => !["SUDO_UID", "SUDO_GID", "PKEXEC_UID"].includes(name)));
    const run = await runUntilWindows(plain, command, out, 4);
    assert.match(run.err, /ggml-lens-probe: done: \d+ records/);
    assertDropped(run.status, 0);
    assertRecordedAfterDrop(out);
    assert.equal(pinsOf(run.pid), undefined);
  });
});
