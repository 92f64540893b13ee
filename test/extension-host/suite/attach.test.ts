// "GGML Lens: Attach to process" in the extension host (see ../extension-host.test.ts): a real
// llama-completion started here keeps generating while the extension attaches to it by PID, for a
// duration and until stopped, and keeps running afterwards.
import * as assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadProfile } from "../../../extension/profile/file";
import type { AttachArgs } from "../../../extension/session/attach";
import { findGgmlProcesses } from "../../../extension/session/ggmlProcesses";
import type { ProfileRunResult } from "../../../extension/session/profileRun";
import { api, fixtures, waitFor } from "./common";

const ATTACH = "ggmlLens.attach";
/** Printed text past the prompt: the target is decoding tokens. */
const GENERATING_BYTES = 64;
/** The helper's first figures and the live profile take a few seconds on a busy machine. */
const LIVE_TIMEOUT_MS = 30_000;

async function attach(args: AttachArgs): Promise<ProfileRunResult> {
  const result = await vscode.commands.executeCommand<ProfileRunResult | undefined>(ATTACH, args);
  assert.ok(result, "the command returned no result");
  return result;
}

suite("Attach to process", function () {
  this.timeout(180_000);
  const argv = (): string[] => {
    const { llamaCompletion, tinyDense } = fixtures();
    // its context shifts when full: it generates until killed, however fast this machine is
    return [llamaCompletion, "-m", tinyDense, "-p", "Hello", "-n", "1000000", "--ignore-eos", "-no-cnv", "-t", "2", "--no-warmup", "--context-shift"];
  };
  let target: ChildProcess;
  let work: string;

  suiteSetup(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-attach-"));
    const [program, ...args] = argv();
    target = spawn(program, args, { stdio: ["ignore", "pipe", "ignore"] });
    // Generating: the text it prints grows token by token (read on, so that it never blocks).
    let printed = 0;
    target.stdout?.on("data", (chunk: Buffer) => (printed += chunk.length));
    await waitFor("llama-completion to generate", () => (printed >= GENERATING_BYTES ? true : undefined), 60_000);
  });

  suiteTeardown(() => {
    target?.kill("SIGKILL");
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("the running llama-completion is offered with its command line, user and ggml libraries", () => {
    const found = findGgmlProcesses().processes.find((p) => p.pid === target.pid);
    assert.ok(found, "listed");
    assert.equal(found.command, argv().join(" "));
    assert.equal(found.uid, os.userInfo().uid);
    assert.equal(found.user, os.userInfo().username);
    for (const library of [/^libggml-base\.so/, /^libggml-cpu\.so/, /^libllama\.so/]) {
      assert.ok(found.libraries.some((name) => library.test(name)), `${library} in ${found.libraries.join(", ")}`);
    }
    const self = findGgmlProcesses().processes.find((p) => p.pid === process.pid);
    assert.equal(self, undefined, "the extension host maps no ggml library");
  });

  test("attach for a duration records its decode calls and ops, loads the profile, and leaves it running", async () => {
    const out = path.join(work, "for-3-seconds.ggmlprof");
    const started = Date.now();
    const result = await attach({ pid: target.pid!, durationS: 4, mode: "full", out });
    assert.equal(result.exitCode, 0, `the run failed: ${result.error}`);
    assert.equal(result.profile, out);
    assert.ok(Date.now() - started >= 4000, "recorded for the duration");
    const profile = await loadProfile(out);
    assert.equal(profile.header.target.pid, target.pid);
    assert.equal(profile.header.target.launched, false, "attached, not launched");
    assert.ok(profile.calls.length > 0 && profile.spans.count > 0, `${profile.calls.length} decode calls, ${profile.spans.count} op spans`);
    assert.equal((await api()).store.selected?.path, out, "the profile is the one shown");
    assert.equal(target.exitCode, null, "the target still runs");
    assert.equal(target.signalCode, null, "the target still runs");
  });

  test("attach until stopped: live figures in the status bar, Stop ends the recording and keeps the profile", async () => {
    const lens = await api();
    const out = path.join(work, "until-stopped.ggmlprof");
    const running = attach({ pid: target.pid!, mode: "full", out });
    // The status bar shows the helper's figures once ops come in.
    const status = await waitFor("the status bar's live figures", () => {
      const text = lens.statusText();
      const ops = /\$\(record\) GGML Lens: .* · ([\d,]+) ops · /.exec(text);
      return ops && Number(ops[1].replace(/,/g, "")) > 0 ? text : undefined;
    }, LIVE_TIMEOUT_MS);
    assert.match(status, /tok\/s/);
    // The live profile follows the run.
    await waitFor("the live profile in the store", () => (lens.store.selected?.path === out && lens.store.selected.live ? true : undefined), LIVE_TIMEOUT_MS);
    await vscode.commands.executeCommand("ggmlLens.stopRun");
    const result = await running;
    assert.equal(result.exitCode, 0, `the run failed: ${result.error}`);
    const profile = await loadProfile(out);
    assert.ok(profile.spans.count > 0, "op spans recorded until stopped");
    assert.equal(lens.store.selected?.live, false, "the finished profile replaced the live one");
    assert.doesNotMatch(lens.statusText(), /\$\(record\)/, "the status bar no longer shows a run");
    assert.equal(target.exitCode, null, "the target still runs after Stop");
  });

  test("a process that is gone is refused with the helper's reason", async () => {
    const gone = spawn("/bin/true");
    await new Promise((resolve) => gone.on("exit", resolve));
    const result = await attach({ pid: gone.pid!, durationS: 1, mode: "full", out: path.join(work, "gone.ggmlprof") });
    assert.notEqual(result.exitCode, 0);
    assert.equal(result.profile, undefined);
    assert.match(result.error ?? "", /no process with PID/);
  });
});
