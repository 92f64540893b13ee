/**
 * A ggml CPU backend loaded with dlopen after the helper attached (needs root: eBPF): the program of
 * test/fixtures/late-cpu-backend.c, linked against libggml-base alone, dlopens a copy of the real
 * libggml-cpu from a directory the helper cannot know up front, then computes a small graph; the
 * helper notices the library in /proc/PID/maps, plans and attaches it, and says so in the trailer.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import assert from "node:assert/strict";
import { buildProfile } from "../../extension/profile/model";
import { decodeStream, OpFlags } from "../../extension/profile/stream";
import { checkRecordedLines, recordedLines } from "../../extension/target/sourceLines";
import { buildFixtureProgram } from "../harness/cPrograms";
import { recordedFixtures } from "../harness/fixtures";
import { exited, startHelper } from "../harness/llamaServer";
import { launchedTarget } from "../harness/probe";

const repo = path.resolve(__dirname, "../..");
const probe = path.join(repo, "bpf/build/ggml-lens-probe");
const fixtures = recordedFixtures();
const isRoot = process.getuid?.() === 0;

/** libggml-base alone in one directory (so nothing there hints at a CPU backend), a copy of libggml-cpu in another. */
function stageLibraries(work: string): { lib: string; plugin: string } {
  const bin = fixtures.llamaLibDir ?? "";
  const lib = path.join(work, "lib");
  const plugins = path.join(work, "plugins");
  fs.mkdirSync(lib);
  fs.mkdirSync(plugins);
  const base = fs.realpathSync(path.join(bin, "libggml-base.so"));
  const soname = path.basename(fs.realpathSync(path.join(bin, "libggml-base.so")).replace(/(\.so\.\d+)\..*$/, "$1"));
  fs.copyFileSync(base, path.join(lib, soname));
  fs.symlinkSync(soname, path.join(lib, "libggml-base.so"));
  const plugin = path.join(plugins, "libggml-cpu.so");
  fs.copyFileSync(fs.realpathSync(path.join(bin, "libggml-cpu.so")), plugin);
  return { lib, plugin };
}

/** The fixture program, built against the staged libggml-base, and the plugin it is to load. */
function lateProgram(t: TestContext): { work: string; program: string; plugin: string } {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-late-"));
  t.after(() => process.env.GGML_LENS_KEEP || fs.rmSync(work, { recursive: true, force: true }));
  const { lib, plugin } = stageLibraries(work);
  const include = path.join(fixtures.ggmlSource ?? "", "ggml", "include");
  const program = buildFixtureProgram("late-cpu-backend", work, [`-I${include}`, `-L${lib}`, "-lggml-base", "-ldl", `-Wl,-rpath,${lib}`]);
  return { work, program, plugin };
}

test("a CPU backend dlopened after the start is probed: op spans from the late library", { skip: !isRoot && "needs root (eBPF)", timeout: 300_000 }, (t) => {
  const { work, program, plugin } = lateProgram(t);
  const out = path.join(work, "late.stream");
  const run = spawnSync(probe, ["--mode", "full", "--sample-hz", "0", "--out", out, "--", program, plugin, "1000", "3000"], { encoding: "utf8", timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /no ggml CPU backend loaded yet/);
  assert.match(run.stderr, /probed \S*plugins\/libggml-cpu\.so, loaded after the start, \d+ ms after it was seen \(\d+ op sites\)/);
  const computed = Number(/computed the graph (\d+) times \(3 nodes\)/.exec(run.stdout)?.[1]);
  assert.ok(computed > 0, run.stdout);

  const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
  assert.ok(!stream.header.info.libraries.some((l) => l.path === plugin), "the plugin was not known when the run started");
  const late = stream.trailer!.late_libraries;
  assert.equal(late.length, 1, "one library attached late");
  assert.equal(late[0].path, plugin);
  assert.equal(late[0].op_method, "dwarf-inline");
  assert.ok(late[0].attached_ns > stream.header.info.start_ns, "attached after the start");
  const rawSites = (stream.trailer!.raw.late_libraries as { sites: { index: number; library: string }[] }[])[0].sites;
  assert.ok(late[0].sites.length > 0 && rawSites.every((s) => s.library === plugin), "its sites are in it");
  const headerSites = stream.header.info.raw.sites as unknown[];
  assert.ok(late[0].sites.every((index) => index >= headerSites.length), "numbered after the header's sites");
  // Its source lines come with it: the lenses check ggml-cpu.c against the op switch's calls.
  const dispatch = recordedLines(buildProfile(stream), path.join(fixtures.ggmlSource ?? "", "ggml", "src", "ggml-cpu", "ggml-cpu.c"));
  assert.ok(dispatch && dispatch.calls.length > 0, "the late library's lines of ggml-cpu.c");
  assert.deepEqual(checkRecordedLines(fs.readFileSync(dispatch.file, "utf8"), dispatch), [], "the source it was built from holds them");

  // Every op span comes from the late library's sites, after it was attached.
  const begin = stream.tables.opBegin;
  const lateSites = new Set(late[0].sites);
  assert.ok(begin.count > 0, "ops traced");
  for (let i = 0; i < begin.count; i++) {
    assert.ok(lateSites.has(begin.site[i]), `op begin ${i} at site ${begin.site[i]}`);
    assert.ok(begin.ts[i] >= late[0].attached_ns, "no op before the probes were attached");
    // a graph the program built itself has no uid, and could change shapes under the same signature
    assert.equal(begin.flags[i] & OpFlags.ShapeInGraph, 0, "shapes read live in a graph without a uid");
    assert.deepEqual(Array.from(begin.ne.subarray(4 * i, 4 * i + 2)), [128, 4], "the fixture's shapes");
  }
  const profile = buildProfile(stream);
  assert.deepEqual(profile.errors, []);
  assert.ok(profile.graphs.length > 0 && profile.graphs.length <= computed, `${profile.graphs.length} graphs of ${computed} computed`);
  // Each graph run once the library was probed: both threads ran its three nodes, one span each, in order.
  const ops = new Set<string>();
  const probed = profile.graphs.filter((g) => g.startNs >= late[0].attached_ns);
  assert.ok(probed.length > 0, "graphs computed after the library was probed");
  for (const g of probed) {
    const nodes = profile.structures.get(g.signature);
    assert.deepEqual(nodes?.map((n) => n.op), ["MUL_MAT", "ADD", "SOFT_MAX"], "the fixture's graph");
    const byThread = new Map<number, number[]>();
    for (const { tid, first, count } of profile.threads) {
      for (let s = first; s < first + count; s++) {
        if (profile.spans.startNs[s] < g.startNs || profile.spans.startNs[s] > g.endNs) continue;
        byThread.set(tid, [...(byThread.get(tid) ?? []), Number(begin.tensor[profile.spans.row[s]])]);
        ops.add(profile.labels[profile.spans.label[s]].name);
      }
    }
    assert.equal(byThread.size, 2, "both worker threads traced");
    for (const tensors of byThread.values()) assert.deepEqual(tensors, nodes!.map((n) => n.tensor));
  }
  assert.deepEqual([...ops].sort(), ["ADD", "MUL_MAT", "SOFT_MAX"]);

  // The report says which library came late and from when it was probed.
  const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", path.join(repo, "extension/cli.ts"), "report", out, ...args], { encoding: "utf8", cwd: repo });
  const json = JSON.parse(cli(["--json"]).stdout) as { late_libraries: { path: string; attached_ns: number }[] };
  assert.deepEqual(json.late_libraries.map((l) => [l.path, l.attached_ns]), [[plugin, late[0].attached_ns]]);
  const intoRun = Math.round((late[0].attached_ns - stream.header.info.start_ns) / 1e6);
  assert.match(cli([]).stdout, new RegExp(`late {6}${plugin.replace(/[.]/g, "\\.")} loaded after the start, probed ${intoRun} ms in`));
});

test("attached by PID before the program loads its CPU backend: the late library is followed too", { skip: !isRoot && "needs root (eBPF)", timeout: 300_000 }, async (t) => {
  const { work, program, plugin } = lateProgram(t);
  const target = spawn(program, [plugin, "2500", "2000"], { stdio: "ignore" });
  const out = path.join(work, "attached.stream");
  const helper = await startHelper(probe, ["--pid", String(target.pid), "--mode", "full", "--sample-hz", "0", "--out", out]);
  await exited(target);
  await exited(helper);
  assert.equal(target.exitCode, 0, "the program ran to its end");
  assert.equal(helper.exitCode, 0, "the helper ended with the program");
  const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
  assert.deepEqual(stream.trailer?.late_libraries.map((l) => l.path), [plugin]);
  const lateSites = new Set(stream.trailer!.late_libraries[0].sites);
  const begin = stream.tables.opBegin;
  assert.ok(begin.count > 0 && [...begin.site].every((site) => lateSites.has(site)), `${begin.count} op begins, all at the late library's sites`);
});

test("a stopped program that does not end on SIGINT is killed after the grace period: nothing left running", { skip: !isRoot && "needs root (eBPF)", timeout: 120_000 }, async (t) => {
  const { work, program, plugin } = lateProgram(t);
  const out = path.join(work, "stopped.stream");
  const helper = spawn(probe, ["--mode", "sample", "--out", out, "--", program, plugin, "0", "60000"],
    { env: { ...process.env, IGNORE_SIGINT: "1" }, stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  helper.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const ended = new Promise<number | null>((resolve) => helper.once("exit", (code) => resolve(code)));
  while (!/attached in/.test(err) && helper.exitCode === null) await sleep(100);
  await sleep(500);
  const target = launchedTarget(helper.pid!);
  assert.ok(target > 0, "the program runs as the helper's child");
  const stopped = Date.now();
  helper.kill("SIGINT");
  const status = await ended;
  const tookS = (Date.now() - stopped) / 1000;
  assert.match(err, /the program did not end within 10 s after SIGINT: killed/);
  assert.ok(tookS >= 9.5 && tookS < 30, `ended ${tookS.toFixed(1)} s after the stop`);
  assert.equal(status, 128 + 9, "the helper exits with the program's status (SIGKILL)");
  assert.ok(!fs.existsSync(`/proc/${target}`), "the program is gone");
  const stream = decodeStream(new Uint8Array(fs.readFileSync(out)));
  assert.equal(stream.truncated, false, "the profile was finished");
});
