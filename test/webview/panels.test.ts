// The webview panels in the real VS Code (code-server + Chromium) on real recordings of the tiny
// models made here with the CLI (root): open each panel from the command palette, interact (zoom,
// hover, filter, click, select a range) and check what was drawn; screenshots go to test/artifacts/.
// A profile whose tensor names are HTML shows them as text, and the panel's CSP blocks inline scripts.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import type { FrameLocator, Page } from "playwright-core";
import { loadProfile } from "../../extension/profile/file";
import type { Profile } from "../../extension/profile/model";
import { kernelDefinitionLine } from "../../extension/views/opSource";
import { countersData } from "../../extension/views/countersData";
import { rooflineData } from "../../extension/views/rooflineData";
import { offloadData } from "../../extension/views/offloadData";
import { timelineData } from "../../extension/views/timelineData";
import { buildProfile, laneOf } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { cpuThenBlas } from "../unit/offloadRuns";
import { formatDuration } from "../../webview/timeline/scale";
import { openWorkbench, runPaletteCommand, webviewFrame } from "../harness/browser";
import { workbenchUrl } from "../harness/codeServer";
import { recordedFixtures, REPO } from "../harness/fixtures";
import { startSession } from "../harness/session";
import { DEFAULT_HEADER, StreamBuilder } from "../unit/streamBuilder";

const ARTIFACTS = path.join(REPO, "test", "artifacts");
const HOSTILE = `<img src=x onerror="document.title='pwned'">`;

async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, name) });
}

/** A full-mode recording of `model` by the CLI, written to `out`. */
function record(llamaCompletion: string, model: string, out: string): void {
  execFileSync(
    process.execPath,
    [path.join(REPO, "dist", "cli.js"), "record", "--mode", "full", "--out", out, "--", llamaCompletion, "-m", model, "-p", "Hello", "-n", "32", "-t", "2", "--no-warmup", "-no-cnv"],
    { stdio: ["ignore", "ignore", "inherit"], timeout: 120_000 },
  );
}

/** A stream whose one graph node is named like HTML. */
function hostileProfile(file: string): void {
  const b = new StreamBuilder({ ...DEFAULT_HEADER, ops: ["NONE", HOSTILE, "ADD"] })
    .graphNode({ tid: 1, ts: 1000, signature: 0x77n, tensor: 0xa0, index: 0, op: 1, name: HOSTILE })
    .decodeBegin({ tid: 1, ts: 1000, nTokens: 1 })
    .graphBegin({ tid: 1, ts: 1010, signature: 0x77n, nNodes: 1 })
    .opBegin({ tid: 1, ts: 1020, tensor: 0xa0, op: 1 })
    .opEnd({ tid: 1, ts: 900_000, tensor: 0xa0 })
    .graphEnd({ tid: 1, ts: 900_010 })
    .decodeEnd({ tid: 1, ts: 900_020 })
    .trailer();
  fs.writeFileSync(file, b.bytes());
}

/**
 * Answers VS Code's simple open dialog (a quick input holding a path, over a listing of that
 * folder) with `file`. The dialog rewrites its input once the listing has loaded, so the answer is
 * given after the listing shows, and again if the dialog is still open.
 */
async function answerOpenDialog(page: Page, file: string): Promise<void> {
  const widget = page.locator(".quick-input-widget");
  const input = widget.locator(".quick-input-box input");
  await widget.locator(".monaco-list-row", { hasText: ".." }).first().waitFor({ timeout: 30_000 });
  for (let attempt = 1; ; attempt++) {
    await input.fill(file);
    await page.keyboard.press("Enter");
    const closed = await widget.waitFor({ state: "hidden", timeout: 5_000 }).then(
      () => true,
      () => false,
    );
    if (closed) return;
    if (attempt === 3) throw new Error(`the open dialog did not take ${file}`);
  }
}

/** Opens a panel from the palette; with no profile in the window, answers the open dialog with `file`. */
async function openPanel(page: Page, title: string, file?: string): Promise<FrameLocator> {
  await closeEditors(page); // one webview at a time: webviewFrame() expects one
  await runPaletteCommand(page, title);
  if (file) await answerOpenDialog(page, file);
  const frame = webviewFrame(page);
  await frame.locator(".panel-content").waitFor({ timeout: 30_000 });
  return frame;
}

/** The webview of the active editor when several webviews exist (the others are hidden). */
function visibleWebview(page: Page): FrameLocator {
  return page.locator("iframe.webview.ready:visible").contentFrame().locator("#active-frame").contentFrame();
}

async function closeEditors(page: Page): Promise<void> {
  await runPaletteCommand(page, "View: Close All Editors");
}

/** Threads the timeline has a row for: those with op spans or scheduler events. */
function threadCount(profile: Profile): number {
  return new Set([...profile.threads.map((t) => t.tid), ...profile.sched.tid]).size;
}

/** Screen position of time `ns` (absolute) on the lane of thread `tid`, at the current view. */
async function lanePoint(frame: FrameLocator, tid: number, xShare: number): Promise<{ x: number; y: number }> {
  const canvas = await frame.locator(".timeline-canvas").boundingBox();
  const label = frame.locator(".lane-label", { hasText: `thread ${tid}` });
  const box = await label.boundingBox();
  assert.ok(canvas && box, "canvas and lane label are on screen");
  return { x: canvas.x + xShare * canvas.width, y: box.y + box.height / 2 };
}

test("panels in VS Code on real recordings: timeline, graph, roofline phases, counters, offload, MoE routing; hostile names stay text", { timeout: 600_000 }, async (t) => {
  const { server, browser, fixtures } = await startSession(t);
  const { page } = browser;
  page.setDefaultNavigationTimeout(120_000); // a busy machine loads the workbench slowly
  const recorded = recordedFixtures();
  const workspace = server.workspace;
  // The op sources the click should reveal: ggml's CPU backend, as in a llama.cpp checkout.
  const cpuSources = path.join(workspace, "ggml", "src", "ggml-cpu");
  fs.mkdirSync(cpuSources, { recursive: true });
  for (const file of ["ops.cpp", "ggml-cpu.c"]) fs.copyFileSync(path.join(recorded.ggmlSource!, "ggml", "src", "ggml-cpu", file), path.join(cpuSources, file));
  const dense = path.join(workspace, "dense.ggmlprof");
  record(fixtures.llamaCompletion, fixtures.tinyDense, dense);
  const hostile = path.join(workspace, "hostile.ggmlprof");
  hostileProfile(hostile);
  const url = workbenchUrl(server, { extensionDevelopmentPath: REPO });
  /** A subtest that leaves a screenshot when it fails. */
  const step = (name: string, artifact: string, body: () => Promise<void>): Promise<void> =>
    t.test(name, async () => {
      try {
        await body();
      } catch (error) {
        await screenshot(page, `webview-failure-${artifact}.png`);
        throw error;
      }
    });

  {
    await step("hostile tensor names are drawn as text and the CSP blocks inline scripts", "hostile", async () => {
      await openWorkbench(page, url);
      const frame = await openPanel(page, "GGML Lens: Open timeline", hostile);
      await frame.locator(".lane-label").first().waitFor();
      const point = await lanePoint(frame, 1, 0.5);
      await page.mouse.move(point.x, point.y);
      const tooltip = frame.locator(".tooltip");
      await tooltip.waitFor({ state: "visible" });
      assert.ok((await tooltip.textContent())?.includes(HOSTILE), `tooltip shows the name as text: ${await tooltip.textContent()}`);
      assert.equal(await frame.locator("img").count(), 0, "no element was made from the name");
      const legend = await frame.locator(".legend").textContent();
      assert.ok(legend?.includes(HOSTILE), "the op name from the header is text in the legend");
      const inline = await frame.locator("body").evaluate(async () => {
        const blocked = new Promise<string>((resolve) => document.addEventListener("securitypolicyviolation", (e) => resolve(e.violatedDirective), { once: true }));
        const script = document.createElement("script");
        script.textContent = "window.ggmlLensInlineRan = true";
        document.body.append(script);
        return { ran: (window as unknown as { ggmlLensInlineRan?: boolean }).ggmlLensInlineRan === true, directive: await blocked, title: document.title };
      });
      assert.deepEqual({ ran: inline.ran, directive: inline.directive }, { ran: false, directive: "script-src-elem" });
      assert.notEqual(inline.title, "pwned");
      await screenshot(page, "webview-hostile-names.png");
    });

    await step("timeline: a lane per thread, zoom, hover, filter, range table, click reveals the op's kernel", "timeline", async () => {
      const profile = await loadProfile(dense);
      await page.reload();
      await page.locator(".monaco-workbench").waitFor({ timeout: 60_000 });
      const frame = await openPanel(page, "GGML Lens: Open timeline", dense);
      await frame.locator(".lane-label").first().waitFor();
      assert.equal(await frame.locator(".lane-label").count(), threadCount(profile));
      assert.equal(await frame.locator(".status").textContent(), `${profile.spans.count.toLocaleString("en-US")} spans`);
      await screenshot(page, "webview-timeline.png");

      // Zoom in on the middle of the longest MUL_MAT span of a worker thread, then hover it.
      const matmul = profile.labels.findIndex((l) => l.name === "MUL_MAT");
      let longest = -1;
      for (let s = 0; s < profile.spans.count; s++) {
        if (profile.spans.label[s] !== matmul) continue;
        if (longest < 0 || profile.spans.endNs[s] - profile.spans.startNs[s] > profile.spans.endNs[longest] - profile.spans.startNs[longest]) longest = s;
      }
      const origin = Number(await frame.locator(".timeline-canvas").evaluate(() => 0)); // the canvas exists
      assert.equal(origin, 0);
      const first = Math.min(...profile.threads.map((l) => profile.spans.startNs[l.first]), ...profile.calls.map((c) => c.startNs), ...Array.from(profile.sched.ts), ...Array.from(profile.windows.ts));
      const last = Math.max(...profile.threads.map((l) => profile.spans.endNs[l.first + l.count - 1]), ...profile.calls.map((c) => c.endNs), ...Array.from(profile.sched.ts), ...Array.from(profile.windows.ts));
      const middle = (profile.spans.startNs[longest] + profile.spans.endNs[longest]) / 2;
      const point = await lanePoint(frame, laneOf(profile.threads, longest)?.tid ?? -1, (middle - first) / (last - first));
      await page.mouse.move(point.x, point.y);
      for (let i = 0; i < 12; i++) await page.mouse.wheel(0, -300);
      await page.mouse.move(point.x + 1, point.y);
      const tooltip = frame.locator(".tooltip");
      await tooltip.waitFor({ state: "visible" });
      const text = (await tooltip.textContent()) ?? "";
      assert.match(text, /^MUL_MAT/, `tooltip: ${text}`);
      assert.match(text, /cpu .* faults \d+ · context switches \d+/);
      await screenshot(page, "webview-timeline-zoomed-hover.png");

      // Click: the editor opens ggml_compute_forward_mul_mat's definition.
      await page.mouse.click(point.x + 1, point.y);
      const tab = page.locator(".tabs-container .tab.active", { hasText: "ggml-cpu.c" });
      await tab.waitFor({ timeout: 15_000 });
      const expectedLine = kernelDefinitionLine(fs.readFileSync(path.join(cpuSources, "ggml-cpu.c"), "utf8"), "MUL_MAT") + 1;
      const selection = page.locator("#status\\.editor\\.selection");
      await selection.filter({ hasText: `Ln ${expectedLine},` }).waitFor({ timeout: 10_000 });
      await screenshot(page, "webview-timeline-reveal.png");

      // Filter: only MUL_MAT spans remain.
      const frame2 = webviewFrame(page);
      await frame2.locator("body").evaluate(() => undefined).catch(() => undefined);
      await page.locator(".tabs-container .tab", { hasText: "Timeline" }).click();
      const field = frame.locator("vscode-textfield.filter input");
      await field.fill("op:MUL_MAT");
      const matmuls = Array.from(profile.spans.label).filter((l) => l === matmul).length;
      await frame.locator(".status", { hasText: `${matmuls.toLocaleString("en-US")} of ${profile.spans.count.toLocaleString("en-US")} spans match` }).waitFor({ timeout: 5_000 });

      // Shift+drag across the whole canvas: the range table lists only MUL_MAT now.
      await frame.locator(".timeline-canvas").press("0");
      const canvas = (await frame.locator(".timeline-canvas").boundingBox())!;
      await page.keyboard.down("Shift");
      await page.mouse.move(canvas.x + 2, canvas.y + 30);
      await page.mouse.down();
      await page.mouse.move(canvas.x + canvas.width / 2, canvas.y + 30, { steps: 5 });
      await page.mouse.move(canvas.x + canvas.width - 2, canvas.y + 30, { steps: 5 });
      await page.mouse.up();
      await page.keyboard.up("Shift");
      const rows = frame.locator(".range tbody tr");
      await rows.first().waitFor({ timeout: 5_000 });
      assert.deepEqual(await rows.locator("td:first-child").allTextContents(), ["MUL_MAT"]);
      await screenshot(page, "webview-timeline-range.png");
      await closeEditors(page);
    });

    await step("graph: layers collapsed, a click opens one, a node's statistics", "graph", async () => {
      const profile = await loadProfile(dense);
      const frame = await openPanel(page, "GGML Lens: Open computation graph");
      const nodes = frame.locator(".graph-node");
      await nodes.first().waitFor();
      const layers = frame.locator('.graph-node[data-id^="L"]');
      const collapsed = await layers.count();
      assert.ok(collapsed >= 2, `the tiny model's layers are collapsed: ${collapsed}`);
      const before = await nodes.count();
      await layers.first().click();
      await frame.locator(`.graph-node`).nth(before).waitFor();
      assert.equal(await layers.count(), collapsed - 1);
      assert.ok((await nodes.count()) > before, "the opened layer shows its nodes");
      // The most run graph's first node: its span statistics in the details table.
      const runs = new Map<string, number>();
      for (const g of profile.graphs) runs.set(g.signature, (runs.get(g.signature) ?? 0) + 1);
      const signature = [...runs.entries()].sort((a, b) => b[1] - a[1])[0][0];
      const first = profile.structures.get(signature)![0];
      await frame.locator('.graph-node[data-id="n0"]').click();
      const row = frame.locator(".details tbody tr td");
      await row.first().waitFor();
      const cells = await row.allTextContents();
      assert.deepEqual(cells.slice(0, 3), [`#${first.index} ${first.name}`, first.op, first.type]);
      assert.ok(Number(cells[4]) > 0, `the node ran in spans: ${cells.join(" | ")}`);
      await screenshot(page, "webview-graph.png");
      await closeEditors(page);
    });

    await step("roofline: a point per op class with figures on hover, a click filters the timeline; MoE routing explains a dense model", "roofline", async () => {
      const frame = await openPanel(page, "GGML Lens: Open roofline");
      const points = frame.locator(".roofline-point");
      await points.first().waitFor();
      assert.ok((await points.count()) >= 3, "several op classes are drawn");
      await points.last().hover(); // the smallest, drawn on top
      const tooltip = frame.locator(".tooltip");
      await tooltip.waitFor({ state: "visible" });
      assert.match((await tooltip.textContent()) ?? "", /intensity .* FLOP\/B · .* GFLOP\/s · .* GB\/s/);
      await screenshot(page, "webview-roofline.png");
      // Clicking the point opens the timeline filtered to its op.
      const op = ((await tooltip.locator("div").first().textContent()) ?? "").split(" ")[0];
      const profile = await loadProfile(dense);
      const ofOp = Array.from(profile.spans.label).filter((l) => {
        const name = profile.labels[l].name;
        return name === op || name.split("+").includes(op);
      }).length;
      await points.last().click();
      const timeline = visibleWebview(page);
      await timeline
        .locator(".status", { hasText: `${ofOp.toLocaleString("en-US")} of ${profile.spans.count.toLocaleString("en-US")} spans match` })
        .waitFor({ timeout: 15_000 });
      assert.equal(await timeline.locator("vscode-textfield.filter").evaluate((f) => (f as HTMLInputElement).value), `op:${op}`);
      await closeEditors(page);
      const experts = await openPanel(page, "GGML Lens: Open MoE routing");
      await experts.locator(".explanation", { hasText: "dense" }).waitFor();
      await closeEditors(page);
    });

    await step("roofline: the prefill / decode toggle draws the op classes of that phase", "roofline-phases", async () => {
      const phases = rooflineData(await loadProfile(dense), "dense.ggmlprof", null).phases;
      assert.ok(phases.prefill.points.length > 0 && phases.decode.points.length > 0, "the recording has prefill and decode op classes");
      const frame = await openPanel(page, "GGML Lens: Open roofline");
      const points = frame.locator(".roofline-point");
      await points.first().waitFor();
      /** The drawn points as "cx,cy,r", sorted. */
      const drawn = (): Promise<string[]> => points.evaluateAll((circles) => circles.map((c) => ["cx", "cy", "r"].map((a) => c.getAttribute(a)).join(",")).sort());
      const seen: Record<string, string[]> = {};
      for (const phase of ["prefill", "decode", "all"] as const) {
        await frame.locator(`vscode-radio[data-phase="${phase}"]`).click();
        await frame.locator(".status", { hasText: phase === "all" ? /op classes with known FLOPs and bytes;/ : `in ${phase} calls` }).waitFor({ timeout: 5_000 });
        seen[phase] = await drawn();
        assert.equal(seen[phase].length, phases[phase].points.length, `${phase}: one point per op class`);
        await screenshot(page, `webview-roofline-${phase}.png`);
      }
      assert.notDeepEqual(seen.prefill, seen.decode, "prefill and decode points sit in different places");
      assert.notDeepEqual(seen.all, seen.decode);
      // Hover in the decode phase: the figures say so.
      await frame.locator('vscode-radio[data-phase="decode"]').click();
      await points.last().hover();
      await frame.locator(".tooltip", { hasText: "in decode calls" }).waitFor({ state: "visible", timeout: 5_000 });
      await closeEditors(page);
    });

    await step("counters: a chart per counter over the decode calls, a call's figures on hover, the lacking counters named", "counters", async () => {
      const data = countersData(await loadProfile(dense), "dense.ggmlprof");
      const frame = await openPanel(page, "GGML Lens: Open counters");
      const charts = frame.locator(".counter-chart");
      await charts.first().waitFor();
      assert.deepEqual(
        await charts.evaluateAll((boxes) => boxes.map((b) => (b as HTMLElement).dataset.counter)),
        data.series.map((s) => s.key),
      );
      assert.equal(await frame.locator(".counter-chart path.series-call").count(), data.series.length);
      assert.deepEqual(await frame.locator(".counters-lacking .notice").allTextContents(), data.lacking);
      assert.match(data.lacking.join(" "), /hardware counters/i, "the recording says which hardware counters it lacked");
      // Hover the right end of the CPU time chart: the last call's figures.
      const cpu = data.series.findIndex((s) => s.key === "cpu_ns");
      const area = (await charts.nth(cpu).locator(".hover-area").boundingBox())!;
      await page.mouse.move(area.x + area.width - 1, area.y + area.height / 2);
      const tooltip = frame.locator(".tooltip");
      await tooltip.waitFor({ state: "visible" });
      const n = data.calls.start.length;
      const lines = await tooltip.locator("div").allTextContents();
      assert.match(lines[0], new RegExp(`^call ${n} of ${n} \\(1 token, decode\\) at `));
      assert.deepEqual(lines.slice(2), [`llama_decode thread: ${formatDuration(data.series[cpu].call[n - 1])}`, `op spans, all threads: ${formatDuration(data.series[cpu].ops[n - 1])}`]);
      // A tiny model's ops are microseconds long: a single call's may all fall between two updates of
      // the task's runtime (it moves at scheduler events), so the whole run's op spans are checked.
      assert.ok(data.series[cpu].ops.some((ns) => ns > 0), "the op spans used CPU time");
      await screenshot(page, "webview-counters.png");
      await closeEditors(page);
      // The side bar: the op table's title bar opens the same panel.
      await runPaletteCommand(page, "View: Show GGML Lens");
      const header = page.locator(".pane-header", { hasText: "Ops of the selected run" });
      await header.hover();
      await header.locator('.action-label[aria-label="Open counters"]').click();
      await webviewFrame(page).locator(".counter-chart").first().waitFor({ timeout: 30_000 });
      await screenshot(page, "webview-counters-from-side-bar.png");
      await closeEditors(page);
    });

    await step("offload: a single-backend recording names its backend and says nothing was offloaded", "offload-single", async () => {
      const profile = await loadProfile(dense);
      const data = offloadData(profile, "dense.ggmlprof");
      assert.equal(profile.backends.length, 1, `the CPU run's backends: ${profile.backends.map((b) => b.name).join(", ")}`);
      const frame = await openPanel(page, "GGML Lens: Open offload");
      const summary = frame.locator(".offload-summary");
      await summary.waitFor();
      assert.equal(await summary.textContent(), data.summary);
      assert.match(data.summary ?? "", new RegExp(`^One backend computed every graph: ${profile.backends[0].name} \\(.*Nothing was offloaded`));
      assert.deepEqual(await frame.locator(".offload-backends tbody td:first-child").allTextContents(), [profile.backends[0].name]);
      assert.equal(await frame.locator(".offload-flows").count(), 0, "no copies");
      await screenshot(page, "webview-offload-single.png");
      await closeEditors(page);
    });

    await step("offload: splits per backend, a copy's bytes and direction on hover; the timeline's backend row", "offload", async () => {
      const file = path.join(workspace, "offload.ggmlprof");
      const stream = cpuThenBlas(3);
      fs.writeFileSync(file, stream.bytes());
      const data = offloadData(buildProfile(decodeStream(stream.bytes())), "offload.ggmlprof");
      await runPaletteCommand(page, "GGML Lens: Open profile…");
      await answerOpenDialog(page, file);
      const frame = await openPanel(page, "GGML Lens: Open offload");
      const splits = frame.locator(".offload-svg rect.split");
      await splits.first().waitFor();
      assert.equal(await splits.count(), data.splits.start.length);
      assert.deepEqual(await frame.locator(".offload-svg .row-name").allTextContents(), [...data.splits.names, "copies"]);
      assert.deepEqual(await frame.locator(".offload-flows tbody td:first-child").allTextContents(), ["CPU", "host memory"]);
      await frame.locator(".offload-svg rect.copy").first().hover();
      const tooltip = frame.locator(".tooltip");
      await tooltip.waitFor({ state: "visible" });
      assert.deepEqual((await tooltip.locator("div").allTextContents()).slice(0, 2), ["attn_norm-0: 8.0 KiB", "CPU → BLAS (copy)"]);
      await splits.nth(1).hover();
      await frame.locator(".tooltip", { hasText: "BLAS: a graph of 1 node" }).waitFor({ state: "visible", timeout: 5_000 });
      await screenshot(page, "webview-offload.png");
      await closeEditors(page);
      // The timeline of the same profile: a backends row above the threads, its splits on hover.
      const timeline = await openPanel(page, "GGML Lens: Open timeline");
      const row = timeline.locator(".row-label", { hasText: "backends" });
      await row.waitFor();
      assert.deepEqual(await timeline.locator(".legend .backend-item").allTextContents(), ["backend CPU", "backend BLAS"]);
      const canvas = (await timeline.locator(".timeline-canvas").boundingBox())!;
      const box = (await row.boundingBox())!;
      // The middle of the second split (BLAS), on the timeline's own time axis.
      const axis = timelineData(buildProfile(decodeStream(stream.bytes())), "offload.ggmlprof", false);
      const middle = (axis.splits.start[1] + axis.splits.end[1]) / 2;
      await page.mouse.move(canvas.x + (middle / axis.durationNs) * canvas.width, box.y + box.height / 2);
      await timeline.locator(".tooltip", { hasText: "BLAS: a graph of 1 node" }).waitFor({ state: "visible", timeout: 5_000 });
      await screenshot(page, "webview-timeline-backends.png");
      await closeEditors(page);
    });

    await step("MoE routing: one heatmap row per MoE layer of a real MoE recording", "experts", async () => {
      const moe = path.join(workspace, "moe.ggmlprof");
      record(fixtures.llamaCompletion, recorded.models!.tinyMoe!, moe);
      const profile = await loadProfile(moe);
      await runPaletteCommand(page, "GGML Lens: Open profile…");
      await answerOpenDialog(page, moe);
      const frame = await openPanel(page, "GGML Lens: Open MoE routing");
      const rows = frame.locator(".heatmap-row");
      await rows.first().waitFor();
      const layers = new Set<number>();
      for (const nodes of profile.structures.values()) for (const n of nodes) if (n.op === "MUL_MAT_ID") layers.add(Number(/-(\d+)$/.exec(n.name)?.[1]));
      assert.equal(await rows.count(), layers.size);
      const cells = frame.locator(".heatmap-row").first().locator("rect.cell");
      const experts = await cells.count();
      assert.ok(experts >= 2, `experts per layer: ${experts}`);
      await screenshot(page, "webview-experts.png");
    });
  }
});
