// Saved profiles in the extension host (see ../extension-host.test.ts): .ggmlprof files open in the
// profile editor (timeline, store, lenses), a damaged one shows the loader's error there, and
// "Compare with…" adds each op's change against a baseline to the lenses. Two real recordings of
// the tiny model, on one and on two threads, are made here.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";
import { diffProfiles } from "../../../extension/profile/diff";
import { loadProfile } from "../../../extension/profile/file";
import type { OpStat, Profile } from "../../../extension/profile/model";
import type { CompareResult } from "../../../extension/views/compare";
import type { ProfileRunResult } from "../../../extension/session/profileRun";
import { GGML_CPU_DIR } from "../../harness/workspace";
import { api, fixtures, waitFor, workspaceFile } from "./common";

const PROFILE_EDITOR = "ggmlLens.profileEditor";

async function record(out: string, threads: number): Promise<Profile> {
  const { llamaCompletion, tinyDense } = fixtures();
  const argv = [llamaCompletion, "-m", tinyDense, "-p", "Hello", "-n", "24", "-no-cnv", "-t", String(threads), "--no-warmup"];
  const result = await vscode.commands.executeCommand<ProfileRunResult>("ggmlLens.profileRun", { argv, mode: "full", out });
  assert.equal(result?.exitCode, 0, `the run failed: ${result?.error}`);
  return loadProfile(out);
}

/** 0-based line of `case GGML_OP_<op>:` in the op dispatch of ggml-cpu.c. */
function caseLine(file: string, op: string): number {
  const lines = fs.readFileSync(file, "utf8").split("\n");
  const dispatch = lines.findIndex((line) => /^static void ggml_compute_forward\(/.test(line));
  const line = lines.findIndex((text, i) => i > dispatch && new RegExp(`^\\s*case GGML_OP_${op}:`).test(text));
  assert.ok(dispatch >= 0 && line >= 0, `case GGML_OP_${op} in the dispatch`);
  return line;
}

async function titlesAt(file: string, line: number): Promise<string[]> {
  const uri = vscode.Uri.file(file);
  await vscode.workspace.openTextDocument(uri);
  const lenses = (await vscode.commands.executeCommand<vscode.CodeLens[]>("vscode.executeCodeLensProvider", uri, 1000)) ?? [];
  return lenses.filter((lens) => lens.range.start.line === line).map((lens) => lens.command?.title ?? "");
}

function prefix(stat: OpStat): string {
  return `${stat.op} ${(stat.share * 100).toFixed(1)}% · ${stat.calls.toLocaleString("en-US")} calls · `;
}

function plainStat(profile: Profile, op: string): OpStat {
  const stat = profile.ops.find((s) => s.op === op && !s.fused);
  assert.ok(stat, `${op} ran`);
  return stat;
}

async function openInEditor(file: string): Promise<void> {
  await vscode.commands.executeCommand("vscode.openWith", vscode.Uri.file(file), PROFILE_EDITOR);
}

suite("Saved profiles and comparison", function () {
  this.timeout(180_000);
  let work: string;
  let oneThread: { file: string; profile: Profile };
  let twoThreads: { file: string; profile: Profile };
  const ggmlCpu = (): string => workspaceFile(GGML_CPU_DIR, "ggml-cpu.c");

  suiteSetup(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-saved-"));
    const a = path.join(work, "one-thread.ggmlprof");
    const b = path.join(work, "two-threads.ggmlprof");
    oneThread = { file: a, profile: await record(a, 1) };
    twoThreads = { file: b, profile: await record(b, 2) };
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand("ggmlLens.stopComparing");
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test("a .ggmlprof opens in the profile editor with the timeline, and becomes the profile the lenses show", async () => {
    const lens = await api();
    await openInEditor(oneThread.file);
    const state = await waitFor("the profile editor", () => lens.profileEditorState(oneThread.file));
    assert.equal(state.error, undefined);
    assert.match(state.html, /<body data-panel="timeline">/);
    assert.match(state.html, /Content-Security-Policy" content="default-src 'none';[^"]*script-src 'nonce-[\w-]+'/);
    assert.equal(vscode.window.tabGroups.activeTabGroup.activeTab?.input instanceof vscode.TabInputCustom, true, "a custom editor tab");
    assert.equal(lens.store.selected?.path, oneThread.file);
    const mulMat = plainStat(oneThread.profile, "MUL_MAT");
    const titles = await titlesAt(ggmlCpu(), caseLine(ggmlCpu(), "MUL_MAT"));
    assert.ok(titles.some((title) => title.startsWith(prefix(mulMat))), `${JSON.stringify(titles)} has ${prefix(mulMat)}…`);
  });

  test("Open profile… with a file opens it in the profile editor", async () => {
    const lens = await api();
    await vscode.commands.executeCommand("ggmlLens.openProfile", vscode.Uri.file(twoThreads.file));
    await waitFor("the second profile's editor", () => lens.profileEditorState(twoThreads.file));
    assert.equal(lens.store.selected?.path, twoThreads.file);
  });

  test("a damaged file shows the loader's one-line error in the editor, and the views keep their profile", async () => {
    const lens = await api();
    const damaged = path.join(work, "damaged.ggmlprof");
    const bytes = fs.readFileSync(oneThread.file);
    fs.writeFileSync(damaged, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const expected = await loadProfile(damaged).then(
      () => assert.fail("the cut-short file loads"),
      (error: Error) => error.message,
    );
    assert.ok(!expected.includes("\n") && expected.includes(damaged), `one line naming the file: ${expected}`);
    const shown = lens.store.selected?.path;
    await openInEditor(damaged);
    const state = await waitFor("the damaged file's editor", () => lens.profileEditorState(damaged));
    assert.equal(state.error, expected);
    const escaped = expected.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    assert.ok(state.html.includes(escaped), "the page says the loader's error");
    assert.doesNotMatch(state.html, /<script/, "the error page runs nothing");
    assert.equal(lens.store.selected?.path, shown, "the views still show the profile they showed");
    const compared = await vscode.commands.executeCommand<CompareResult>("ggmlLens.compare", { baseline: damaged });
    assert.equal(compared.error, expected, "a damaged baseline is refused with the same error");
  });

  test("Compare with…: the lenses add each op's change against the baseline, by the diff of the two runs", async () => {
    const lens = await api();
    await openInEditor(twoThreads.file);
    await waitFor("two threads shown", () => (lens.store.selected?.path === twoThreads.file ? true : undefined));
    const compared = await vscode.commands.executeCommand<CompareResult>("ggmlLens.compare", { baseline: oneThread.file });
    assert.deepEqual(compared, { baseline: oneThread.file });
    const diff = diffProfiles(oneThread.profile, twoThreads.profile);
    const checked: string[] = [];
    for (const op of ["MUL_MAT", "ADD", "GET_ROWS", "SOFT_MAX", "ROPE"]) {
      const change = diff.ops.find((c) => c.op === op && !c.fused);
      if (!change || change.ratio === null || !twoThreads.profile.ops.some((s) => s.op === op && !s.fused)) continue;
      const at = await titlesAt(ggmlCpu(), caseLine(ggmlCpu(), op));
      assert.ok(at.some((title) => title.startsWith(prefix(plainStat(twoThreads.profile, op)))), `${op}'s own lens stays: ${JSON.stringify(at)}`);
      const changeTitle = at.find((title) => title.includes("vs baseline"));
      assert.ok(changeTitle, `${op} has a change lens: ${JSON.stringify(at)}`);
      const match = /^([+-]\d+(?:\.\d)?)% vs baseline(, within noise)?$/.exec(changeTitle);
      assert.ok(match, `${op}: ${changeTitle}`);
      const percent = (change.ratio - 1) * 100;
      assert.ok(Math.abs(Number(match[1]) - percent) <= 0.5, `${op}: ${changeTitle} for a ratio of ${change.ratio}`);
      assert.equal(match[2] !== undefined, change.p !== null && !change.significant, `${op}: within noise iff the test says so (p ${change.p})`);
      checked.push(op);
    }
    assert.ok(checked.includes("MUL_MAT") && checked.length >= 3, `ops checked: ${checked.join(", ")}`);
  });

  test("the baseline itself gets no change lenses, and Stop comparing removes them", async () => {
    const lens = await api();
    const line = caseLine(ggmlCpu(), "MUL_MAT");
    lens.store.select(oneThread.file);
    assert.ok(!(await titlesAt(ggmlCpu(), line)).some((title) => title.includes("vs baseline")), "no change against itself");
    lens.store.select(twoThreads.file);
    assert.ok((await titlesAt(ggmlCpu(), line)).some((title) => title.includes("vs baseline")));
    await vscode.commands.executeCommand("ggmlLens.stopComparing");
    const titles = await titlesAt(ggmlCpu(), line);
    assert.ok(titles.length > 0 && !titles.some((title) => title.includes("vs baseline")), JSON.stringify(titles));
  });
});
