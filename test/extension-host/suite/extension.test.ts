// Runs inside the extension host of a real VS Code (see ../extension-host.test.ts). The workspace is
// a copy of the ggml CPU backend's source the llama-completion fixture was built from.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { loadProfile } from "../../../extension/profile/file";
import type { OpStat, Profile } from "../../../extension/profile/model";
import type { ProfileRunArgs, ProfileRunResult } from "../../../extension/session/profileRun";
import { checkFrames, isStale, profiledFrames } from "../../../extension/target/ggmlSource";
import { recordedLines } from "../../../extension/target/sourceLines";
import { GGML_CPU_DIR } from "../../harness/workspace";
import { api, EXTENSION_ID, fixtures, waitFor, workspaceFile } from "./common";

const PROFILE_RUN = "ggmlLens.profileRun";
/** Timer samples often enough that a short run of the tiny model lands many in ggml's source. */
const RECORD_ARGS = ["--sample-hz", "999"];

function tinyRun(): ProfileRunArgs {
  const { llamaCompletion, tinyDense } = fixtures();
  const argv = [llamaCompletion, "-m", tinyDense, "-p", "Hello", "-n", "24", "-no-cnv", "-t", "2", "--no-warmup"];
  return { argv, mode: "full", recordArgs: RECORD_ARGS };
}

async function profileRun(args: ProfileRunArgs): Promise<ProfileRunResult> {
  const result = await vscode.commands.executeCommand<ProfileRunResult | undefined>(PROFILE_RUN, args);
  assert.ok(result, "the command returned no result");
  return result;
}

async function lensesOf(file: string): Promise<vscode.CodeLens[]> {
  const uri = vscode.Uri.file(file);
  await vscode.workspace.openTextDocument(uri);
  return (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", uri, 1000)) ?? [];
}

/** 0-based line of the first line matching `pattern` at or after line `from`. */
function lineOf(file: string, pattern: RegExp, from = 0): number {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const line = lines.findIndex((text, i) => i >= from && pattern.test(text));
  assert.ok(line >= 0, `${path.basename(file)} has no line matching ${pattern}`);
  return line;
}

/** The lens text of a stat, written out here from the profile (not with the extension's formatter). */
function expectedPrefix(stat: OpStat): string {
  return `${stat.op} ${(stat.share * 100).toFixed(1)}% · ${stat.calls.toLocaleString("en-US")} calls · `;
}

function titlesAt(lenses: vscode.CodeLens[], line: number): string[] {
  return lenses.filter((lens) => lens.range.start.line === line).map((lens) => lens.command?.title ?? "");
}

/** Samples per line of `fileSuffix`, counted here from the trailer's symbols and the sample table. */
function samplesPerLine(profile: Profile, fileSuffix: string): Map<number, number> {
  const lineOfIp = new Map<number, number>();
  for (const symbol of profile.trailer?.symbols ?? []) {
    if (symbol.file?.endsWith(fileSuffix) && symbol.line) lineOfIp.set(symbol.ip, symbol.line);
  }
  const counts = new Map<number, number>();
  for (let i = 0; i < profile.samples.count; i++) {
    const line = lineOfIp.get(profile.samples.ip[i]);
    if (line !== undefined) counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return counts;
}

suite("GGML Lens in the extension host", function () {
  // A recording analyses the target and symbolizes its samples: seconds, more on a busy machine.
  this.timeout(120_000);
  let run: ProfileRunResult;
  let profile: Profile;
  const cpuDir = (): string => path.join(workspaceFile(), GGML_CPU_DIR);

  test("the extension activates and registers its commands", async () => {
    await api();
    const commands = await vscode.commands.getCommands(true);
    for (const command of [PROFILE_RUN, "ggmlLens.stopRun", "ggmlLens.toggleHotLines", "ggmlLens.showHottestLines", "ggmlLens.openProfile"]) {
      assert.ok(commands.includes(command), `${command} is not registered`);
    }
  });

  test("Profile this run records llama-completion on the tiny model and loads the profile", async () => {
    run = await profileRun(tinyRun());
    assert.equal(run.exitCode, 0, `the run failed: ${run.error}`);
    assert.ok(run.profile && fs.existsSync(run.profile), "the profile file exists");
    profile = await loadProfile(run.profile);
    assert.ok(profile.spans.count > 0, "the profile has op spans");
    assert.equal((await api()).store.selected?.path, run.profile, "the new profile is the one shown");
    const sources = (run.sources ?? []).map((file) => path.relative(workspaceFile(), file));
    for (const name of ["ggml-cpu.c", "ops.cpp"]) assert.ok(sources.includes(path.join(GGML_CPU_DIR, name)), `${name} in ${sources.join(", ")}`);
  });

  test("lenses over the op dispatch cases and the kernel definitions of ggml-cpu.c carry the profile's numbers", async () => {
    const file = path.join(cpuDir(), "ggml-cpu.c");
    const lenses = await lensesOf(file);
    const dispatch = lineOf(file, /^static void ggml_compute_forward\(/);
    const plain = profile.ops.filter((stat) => !stat.fused);
    assert.ok(plain.length >= 5, `ops of the run: ${plain.map((s) => s.op).join(", ")}`);
    for (const stat of plain) {
      const line = lineOf(file, new RegExp(`^\\s*case GGML_OP_${stat.op}:`), dispatch);
      const titles = titlesAt(lenses, line);
      assert.ok(
        titles.some((title) => title.startsWith(expectedPrefix(stat))),
        `line ${line + 1} (case GGML_OP_${stat.op}) shows ${JSON.stringify(titles)}, expected ${expectedPrefix(stat)}…`,
      );
    }
    const mulMat = profile.ops.find((stat) => stat.op === "MUL_MAT" && !stat.fused);
    assert.ok(mulMat, "the run has MUL_MAT");
    const definition = lineOf(file, /^void ggml_compute_forward_mul_mat\(/);
    assert.ok(titlesAt(lenses, definition).some((title) => title.startsWith(expectedPrefix(mulMat))), "a lens above ggml_compute_forward_mul_mat");
    const lensLines = new Set(lenses.map((lens) => lens.range.start.line));
    assert.ok(!lensLines.has(lineOf(file, /^\s*case GGML_OP_CONV_2D:/, dispatch)), "no lens on an op that did not run");
  });

  test("lenses over the kernel definitions of ops.cpp", async () => {
    const file = path.join(cpuDir(), "ops.cpp");
    const lenses = await lensesOf(file);
    const text = fs.readFileSync(file, "utf8");
    const defined = profile.ops.filter((stat) => !stat.fused && new RegExp(`^void ggml_compute_forward_${stat.op.toLowerCase()}\\(`, "m").test(text));
    assert.ok(defined.length >= 3, `ops defined in ops.cpp: ${defined.map((s) => s.op).join(", ")}`);
    for (const stat of defined) {
      const line = lineOf(file, new RegExp(`^void ggml_compute_forward_${stat.op.toLowerCase()}\\(`));
      assert.ok(titlesAt(lenses, line).some((title) => title.startsWith(expectedPrefix(stat))), `${stat.op} at line ${line + 1}`);
    }
  });

  test("hot lines decorate the sampled lines of ggml-cpu.c with their share of samples", async () => {
    const file = path.join(cpuDir(), "ggml-cpu.c");
    const expected = samplesPerLine(profile, "/ggml-cpu/ggml-cpu.c");
    assert.ok(expected.size > 0, "the run has timer samples in ggml-cpu.c");
    await vscode.window.showTextDocument(vscode.Uri.file(file));
    const lens = await api();
    const decorated = await waitFor("hot-line decorations", () => {
      const lines = lens.hotLineDecorations(file);
      return lines.length > 0 ? lines : undefined;
    });
    assert.deepEqual(
      decorated.map((d) => [d.line + 1, d.samples]).sort((a, b) => a[0] - b[0]),
      [...expected].sort((a, b) => a[0] - b[0]),
    );
    for (const d of decorated) assert.equal(d.share, d.samples / profile.samples.count);
    await vscode.commands.executeCommand("ggmlLens.toggleHotLines");
    assert.deepEqual(lens.hotLineDecorations(file), [], "toggled off");
    await vscode.commands.executeCommand("ggmlLens.toggleHotLines");
    assert.equal(lens.hotLineDecorations(file).length, decorated.length, "toggled on again");
  });

  test("the status bar sums up the shown run", async () => {
    assert.match((await api()).statusText(), new RegExp(`${profile.tokens.tokens} tokens · ${profile.lostEvents} lost`));
  });

  test("stale source: a changed ggml-cpu.c gets one lens saying so, not numbers on wrong lines", async () => {
    const staleDir = path.join(workspaceFile(), "newer", GGML_CPU_DIR);
    fs.mkdirSync(staleDir, { recursive: true });
    const original = fs.readFileSync(path.join(cpuDir(), "ggml-cpu.c"), "utf8");
    const added = Array.from({ length: 300 }, (_, i) => `static int added_in_a_newer_version_${i}(void) { return ${i}; }`).join("\n");
    const stale = path.join(staleDir, "ggml-cpu.c");
    fs.writeFileSync(stale, `${added}\n${original}`);
    try {
      const lenses = await lensesOf(stale);
      assert.equal(lenses.length, 1, `one lens, got ${JSON.stringify(lenses.map((l) => l.command?.title))}`);
      assert.match(lenses[0].command?.title ?? "", /differs from the profiled build/);
    } finally {
      fs.rmSync(path.join(workspaceFile(), "newer"), { recursive: true, force: true });
    }
  });

  test("stale source: lines shifted inside a function no sample fell in are caught at the lines the build's DWARF names", async () => {
    const original = fs.readFileSync(path.join(cpuDir(), "ops.cpp"), "utf8");
    const recorded = recordedLines(profile, path.join(cpuDir(), "ops.cpp"));
    assert.ok(recorded && recorded.definitions.length >= 2, "the profile names the kernel definitions of ops.cpp");
    // Below the last sampled line of ops.cpp, so that the sampled frames cannot tell the change.
    const frames = profiledFrames(profile).filter((frame) => frame.file.endsWith("/ggml-cpu/ops.cpp"));
    const lastSampled = Math.max(0, ...frames.map((frame) => frame.line));
    const unsampled = recorded.definitions.filter((d) => d.line > lastSampled).sort((a, b) => a.line - b.line);
    assert.ok(unsampled.length >= 2, `kernels defined below line ${lastSampled} of ops.cpp`);
    const lines = original.split("\n");
    const bodyStart = lines.findIndex((text, i) => i >= unsampled[0].line - 1 && text.includes("{"));
    lines.splice(bodyStart + 1, 0, "    // a line added inside the function in a newer version");
    const edited = lines.join("\n");
    assert.equal(isStale(checkFrames(edited, frames)), false, "the sampled frames alone do not see the change");
    const copy = (dir: string, text: string): string => {
      fs.mkdirSync(path.join(workspaceFile(), dir, GGML_CPU_DIR), { recursive: true });
      fs.writeFileSync(path.join(workspaceFile(), dir, GGML_CPU_DIR, "ops.cpp"), text);
      return path.join(workspaceFile(), dir, GGML_CPU_DIR, "ops.cpp");
    };
    try {
      const same = await lensesOf(copy("same", original));
      assert.ok(same.length > 1 && same.every((lens) => !/differs/.test(lens.command?.title ?? "")), "an unchanged copy gets its lenses");
      const lenses = await lensesOf(copy("newer", edited));
      assert.equal(lenses.length, 1, `one lens, got ${JSON.stringify(lenses.map((l) => l.command?.title))}`);
      const title = lenses[0].command?.title ?? "";
      assert.match(title, /differs from the profiled build/);
      assert.match(title, new RegExp(`the definition of ${unsampled[1].function} is not at line ${unsampled[1].line} here`));
    } finally {
      for (const dir of ["same", "newer"]) fs.rmSync(path.join(workspaceFile(), dir), { recursive: true, force: true });
    }
  });

  test("no ggml source in the workspace: the run is still loaded, and the user is told where lenses would go", async () => {
    const aside = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-aside-"));
    const ggml = path.join(workspaceFile(), "ggml");
    fs.renameSync(ggml, path.join(aside, "ggml"));
    try {
      const result = await profileRun(tinyRun());
      assert.equal(result.exitCode, 0, `the run failed: ${result.error}`);
      assert.deepEqual(result.sources, []);
      assert.ok(result.profile && fs.existsSync(result.profile));
    } finally {
      fs.renameSync(path.join(aside, "ggml"), ggml);
      fs.rmSync(aside, { recursive: true, force: true });
    }
  });

  test("helper denied: without elevation, a helper that is not root fails with its own reason", async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension);
    const helper = path.join(extension.extensionPath, "bpf", "build", "ggml-lens-probe");
    const runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].find((file) => fs.existsSync(file));
    assert.ok(runuser, "runuser (util-linux) is installed");
    const wrapper = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-unprivileged-")), "probe-as-nobody");
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec ${runuser} -u nobody -- ${helper} "$@"\n`, { mode: 0o755 });
    const settings = vscode.workspace.getConfiguration("ggmlLens");
    await settings.update("elevation", "none", vscode.ConfigurationTarget.Workspace);
    process.env.GGML_LENS_PROBE = wrapper;
    try {
      const result = await profileRun({ ...tinyRun(), out: path.join(path.dirname(wrapper), "denied.ggmlprof") });
      assert.notEqual(result.exitCode, 0);
      assert.equal(result.profile, undefined);
      assert.match(result.error ?? "", /needs root to load eBPF programs/);
    } finally {
      delete process.env.GGML_LENS_PROBE;
      await settings.update("elevation", undefined, vscode.ConfigurationTarget.Workspace);
      fs.rmSync(path.dirname(wrapper), { recursive: true, force: true });
    }
  });

  test("a program that is not a ggml program is refused with the helper's reason", async () => {
    const result = await profileRun({ argv: ["/bin/sh", "-c", "exit 3"], mode: "full" });
    assert.notEqual(result.exitCode, 0);
    assert.match(result.error ?? "", /no ggml CPU backend/);
  });

  test("shell syntax in a command line is refused before anything runs", async () => {
    const result = await profileRun({ command: "llama-completion -m m.gguf | tee out" });
    assert.equal(result.exitCode, undefined);
    assert.match(result.error ?? "", /shell syntax/);
  });
});
