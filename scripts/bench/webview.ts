/**
 * Timeline panel benchmark in Chromium (playwright-core, the system /usr/bin/chromium): the panel's
 * page (its HTML, CSP and bundle) on a synthetic profile of N op spans built as a real stream
 * (test/unit/streamBuilder.ts) and read by the real decoder, profile model and panel data code.
 *
 *   node --import tsx scripts/bench/webview.ts [--spans 1000000] [--runs 5] [--baseline REV] [--out bench/webview-results.md]
 *   node --import tsx scripts/bench/webview.ts --profile F.ggmlprof --screenshot out.png   (look at one)
 *
 * --baseline REV also bundles webview/ as it was at git revision REV (same esbuild options as
 * scripts/build.mjs) and measures both bundles in the same browser, in alternating order, run by
 * run: the results file gives both and their ratio, so a change is judged on equal load.
 *
 * Per run (a fresh page): first paint = from posting the host message to the end of the first frame
 * drawn; then 120 zoom and pan steps (wheel in and out at several places, shift+wheel, keys), each
 * timed as the main thread's work for it (event handler + the frame callback that drew + flushing
 * the canvas with getImageData); memory = the page's JS heap after a GC.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as esbuild from "esbuild";
import { chromium, type Browser, type Page } from "playwright-core";
import { loadProfile } from "../../extension/profile/file";
import { buildProfile, type Profile } from "../../extension/profile/model";
import { decodeStream } from "../../extension/profile/stream";
import { timelineData } from "../../extension/views/timelineData";
import { DEFAULT_HEADER, StreamBuilder } from "../../test/unit/streamBuilder";
import type { HostMessage } from "../../webview/protocol";
import { processTree } from "../../test/harness/processTree";
import { serveWebviewPage, type WebviewPage } from "./webviewPage";
import { describe, spread } from "./stats";

const REPO = path.resolve(__dirname, "..", "..");

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** llama-like decode calls on 2 threads: per call one graph of `nodes` ops, 1-20 µs each, a few sched events. */
export function syntheticProfile(spans: number, nodes = 130): Profile {
  const ops = ["NONE", "GET_ROWS", "RMS_NORM", "MUL", "MUL_MAT", "ROPE", "ADD", "SOFT_MAX", "GLU", "SET_ROWS", "FLASH_ATTN_EXT"];
  const b = new StreamBuilder({ ...DEFAULT_HEADER, ops });
  const signature = 0x5151n;
  for (let i = 0; i < nodes; i++) b.graphNode({ tid: 1, ts: 0, signature, tensor: 0x10000 + i * 0x100, src: i ? [0x10000 + (i - 1) * 0x100] : [], index: i, op: 1 + (i % (ops.length - 1)), ne: [256, 1, 1, 1], name: `node-${i % 4}-${i}` });
  let ts = 1_000_000;
  let seed = 7;
  const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let made = 0; made < spans; ) {
    b.decodeBegin({ tid: 1, ts, nTokens: made === 0 ? 9 : 1 });
    b.graphBegin({ tid: 1, ts: ts + 500, signature, nNodes: nodes });
    b.sched({ tid: 2, ts: ts + 600, kind: 4 }).sched({ tid: 2, ts: ts + 900, kind: 3 });
    let t = ts + 1000;
    for (let i = 0; i < nodes && made < spans; i++) {
      const duration = 1000 + Math.floor(random() * 19000);
      for (const tid of [1, 2]) {
        if (made >= spans) break;
        const tensor = 0x10000 + i * 0x100;
        b.opBegin({ tid, ts: t, tensor, op: 1 + (i % (ops.length - 1)) });
        b.opEnd({ tid, ts: t + duration - (tid === 2 ? 200 : 0), tensor, cpuNs: duration - 300, minFlt: i % 3 });
        made++;
      }
      t += duration + 300;
    }
    b.sched({ tid: 2, ts: t + 100, kind: 1 });
    b.graphEnd({ tid: 1, ts: t + 200 });
    b.decodeEnd({ tid: 1, ts: t + 400 });
    ts = t + 5000;
  }
  b.trailer({ hits: {}, lost: {}, exit_status: 0, windows: 0, duration_ns: ts }, ts + 1);
  return buildProfile(decodeStream(b.bytes()));
}

/** ms from posting the host message to its delivery (structured clone) and to the first frame drawn. */
async function firstPaint(page: Page): Promise<{ total: number; delivered: number }> {
  return page.evaluate(async () => {
    const canvas = document.querySelector<HTMLCanvasElement>(".timeline-canvas")!;
    const before = Number(canvas.dataset.frames ?? 0);
    const t0 = performance.now();
    (window as unknown as { ggmlLensPost(): void }).ggmlLensPost();
    for (;;) {
      await new Promise((resolve) => requestAnimationFrame(resolve));
      if (Number(canvas.dataset.frames ?? 0) > before) break;
    }
    canvas.getContext("2d")!.getImageData(0, 0, 1, 1);
    const delivered = (window as unknown as { ggmlLensDelivered: number }).ggmlLensDelivered - t0;
    return { total: performance.now() - t0, delivered };
  });
}

/**
 * Main-thread work of 120 zoom/pan steps (ms): the input event's handler, the animation-frame
 * callbacks it requested (the draw), and flushing the canvas. Waiting for the display's next frame
 * is not counted: it is idle time.
 */
async function zoomPanFrames(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const canvas = document.querySelector<HTMLCanvasElement>(".timeline-canvas")!;
    const rect = canvas.getBoundingClientRect();
    const nextFrame = window.requestAnimationFrame.bind(window);
    let work = 0;
    window.requestAnimationFrame = (callback) =>
      nextFrame((time) => {
        const t0 = performance.now();
        callback(time);
        work += performance.now() - t0;
      });
    const times: number[] = [];
    const step = async (event: Event): Promise<void> => {
      await new Promise((resolve) => nextFrame(resolve));
      const frames = Number(canvas.dataset.frames ?? 0);
      work = 0;
      const t0 = performance.now();
      canvas.dispatchEvent(event);
      work += performance.now() - t0;
      while (Number(canvas.dataset.frames ?? 0) === frames) await new Promise((resolve) => nextFrame(resolve));
      const t1 = performance.now();
      canvas.getContext("2d")!.getImageData(0, 0, 1, 1);
      times.push(work + performance.now() - t1);
    };
    const wheel = (x: number, deltaY: number, shiftKey = false): WheelEvent =>
      new WheelEvent("wheel", { deltaY, shiftKey, clientX: rect.left + x, clientY: rect.top + 40, bubbles: true, cancelable: true });
    for (let i = 0; i < 40; i++) await step(wheel(rect.width * ((i % 7) / 7 + 0.05), -120));
    for (let i = 0; i < 20; i++) await step(wheel(0, i % 2 ? 200 : -200, true));
    for (let i = 0; i < 40; i++) await step(wheel(rect.width * ((i % 5) / 5 + 0.1), 120));
    for (const key of ["w", "w", "d", "d", "a", "s", "ArrowRight", "ArrowLeft", "w", "s", "d", "a", "+", "-", "d", "a", "w", "s", "0", "w"]) {
      await step(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
    }
    window.requestAnimationFrame = nextFrame;
    return times;
  });
}

async function heapMb(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  const { usedSize } = await cdp.send("Runtime.getHeapUsage");
  await cdp.detach();
  return usedSize / 2 ** 20;
}

/** Resident memory of this benchmark's Chromium renderer processes (MiB): the page with its canvas and arrays. */
function rendererRssMb(): number {
  let kb = 0;
  for (const pid of processTree(process.pid)) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--type=renderer")) continue;
      kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

/** CPU time (user + system, ms) used so far by this benchmark's Chromium renderer processes. */
function rendererCpuMs(): number {
  const tick = 1000 / 100; // USER_HZ
  let ticks = 0;
  for (const pid of processTree(process.pid)) {
    try {
      if (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("--type=renderer")) continue;
      const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // exited meanwhile
    }
  }
  return ticks * tick;
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
}

interface Run {
  firstPaintMs: number;
  deliveredMs: number;
  framesP95Ms: number;
  framesMedianMs: number;
  heapMb: number;
  rendererMb: number;
  /** Renderer CPU time from posting the message to the first frame, and per zoom/pan step (mean). */
  firstPaintCpuMs: number;
  stepCpuMs: number;
}

/** One measured page load: first paint, then the zoom/pan steps. */
async function measure(browser: Browser, server: WebviewPage, label: string, screenshot?: string): Promise<Run> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // tsx (esbuild keepNames) wraps the named functions of page.evaluate callbacks in __name().
  await page.addInitScript("globalThis.__name = (f) => f");
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  await page.goto(server.url);
  await page.evaluate(() => (window as unknown as { ggmlLensLoaded: Promise<number> }).ggmlLensLoaded);
  const cpu0 = rendererCpuMs();
  const { total: paint, delivered } = await firstPaint(page);
  const cpu1 = rendererCpuMs();
  if (screenshot) {
    await page.screenshot({ path: screenshot });
    console.log(`screenshot: ${screenshot}`);
  }
  const cpu2 = rendererCpuMs();
  const frames = await zoomPanFrames(page);
  const stepCpu = (rendererCpuMs() - cpu2) / frames.length;
  if (process.env.GGML_LENS_BENCH_DEBUG) console.log(frames.map((f) => f.toFixed(1)).join(" "));
  const heap = await heapMb(page);
  const renderer = rendererRssMb();
  await page.close();
  if (errors.length) throw new Error(`page errors (${label}): ${errors.join("; ")}`);
  const run = { firstPaintMs: paint, deliveredMs: delivered, framesP95Ms: p95(frames), framesMedianMs: spread(frames)!.median, heapMb: heap, rendererMb: renderer, firstPaintCpuMs: cpu1 - cpu0, stepCpuMs: stepCpu };
  console.log(`${label}: first paint ${paint.toFixed(0)} ms (message delivered after ${delivered.toFixed(0)} ms), frame p95 ${run.framesP95Ms.toFixed(1)} ms (median ${run.framesMedianMs.toFixed(1)}), JS heap ${heap.toFixed(0)} MiB, renderer RSS ${renderer.toFixed(0)} MiB; renderer CPU: ${(cpu1 - cpu0).toFixed(0)} ms to first paint, ${stepCpu.toFixed(1)} ms per step`);
  return run;
}

/** dist/webview.js and .css of webview/ at git revision `rev`, bundled as scripts/build.mjs does, in a new folder. */
async function bundleAt(rev: string): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-bench-baseline-"));
  const archive = execFileSync("git", ["archive", "--format=tar", rev, "webview"], { cwd: REPO, maxBuffer: 1 << 28 });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  await esbuild.build({
    entryPoints: { webview: path.join(dir, "webview", "main.ts") },
    outdir: path.join(dir, "dist"),
    bundle: true,
    minify: true,
    logLevel: "warning",
    platform: "browser",
    format: "iife",
    target: "es2022",
    nodePaths: [path.join(REPO, "node_modules")],
  });
  return path.join(dir, "dist");
}

interface Variant {
  label: string;
  server: WebviewPage;
  runs: Run[];
}

async function main(): Promise<void> {
  const spans = Number(option("spans") ?? 1_000_000);
  const runs = Number(option("runs") ?? 5);
  const profileFile = option("profile");
  const screenshot = option("screenshot");
  const baseline = option("baseline");
  const loadBefore = os.loadavg()[0];
  const t0 = performance.now();
  const profile = profileFile ? await loadProfile(profileFile) : syntheticProfile(spans);
  const built = performance.now();
  const message: HostMessage = { type: "timeline", data: timelineData(profile, profileFile ? path.basename(profileFile) : `synthetic ${spans} spans`, false) };
  const prepared = performance.now();
  console.log(`profile: ${profile.spans.count} spans (built in ${(built - t0).toFixed(0)} ms); panel data in ${(prepared - built).toFixed(0)} ms`);
  const baselineDist = baseline ? await bundleAt(baseline) : undefined;
  const variants: Variant[] = [{ label: "this tree", server: await serveWebviewPage(REPO, "timeline", message), runs: [] }];
  if (baselineDist) variants.push({ label: `baseline ${baseline}`, server: await serveWebviewPage(REPO, "timeline", message, baselineDist), runs: [] });
  const home = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-bench-chromium-"));
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"], env: { ...process.env, HOME: home } });
  try {
    for (let run = 0; run < (screenshot ? 1 : runs); run++) {
      // Alternating order: neither bundle always runs first (a warmer, or busier, machine).
      const order = run % 2 ? [...variants].reverse() : variants;
      for (const v of order) v.runs.push(await measure(browser, v.server, `run ${run + 1}, ${v.label}`, screenshot));
    }
  } finally {
    await browser.close();
    for (const v of variants) await v.server.close();
    fs.rmSync(home, { recursive: true, force: true });
    if (baselineDist) fs.rmSync(path.dirname(baselineDist), { recursive: true, force: true });
  }
  const out = option("out");
  const command = `node --import tsx scripts/bench/webview.ts --spans ${spans} --runs ${runs}${baseline ? ` --baseline ${baseline}` : ""} --out ${out ?? "FILE"}`;
  if (out) fs.writeFileSync(out, report(command, spans, variants, prepared - built, [loadBefore, os.loadavg()[0]]));
}

interface Metric {
  name: string;
  target?: { text: string; met: (median: number) => boolean };
  of: (r: Run) => number;
  unit: "ms" | "MiB";
}

const METRICS: Metric[] = [
  { name: "first paint (host message posted -> first frame drawn)", target: { text: "< 1 s", met: (m) => m < 1000 }, of: (r) => r.firstPaintMs, unit: "ms" },
  { name: "of which: host message delivered (buffer transferred, as VS Code does)", of: (r) => r.deliveredMs, unit: "ms" },
  { name: "zoom/pan frame p95 (120 steps per run)", target: { text: "< 16 ms", met: (m) => m < 16 }, of: (r) => r.framesP95Ms, unit: "ms" },
  { name: "zoom/pan frame median", of: (r) => r.framesMedianMs, unit: "ms" },
  { name: "renderer CPU time, message posted -> first frame (all its threads, 10 ms ticks)", of: (r) => r.firstPaintCpuMs, unit: "ms" },
  { name: "renderer CPU time per zoom/pan step, mean over the 120 steps (all its threads, incl. compositing)", of: (r) => r.stepCpuMs, unit: "ms" },
  { name: "page JS heap after GC (typed arrays' buffers not included)", target: { text: "reported", met: () => true }, of: (r) => r.heapMb, unit: "MiB" },
  { name: "renderer process RSS (page, arrays, canvas)", target: { text: "reported", met: () => true }, of: (r) => r.rendererMb, unit: "MiB" },
];

function report(command: string, spans: number, variants: Variant[], panelDataMs: number, load: [number, number]): string {
  const format = (unit: Metric["unit"]) => (x: number): string => (unit === "ms" ? `${x.toFixed(1)} ms` : `${x.toFixed(0)} MiB`);
  const [current, baseline] = variants;
  const cell = (m: Metric, v: Variant): string => {
    const s = spread(v.runs.map(m.of));
    const verdict = m.target && s && m.target.text !== "reported" ? (m.target.met(s.median) ? " met" : " NOT met") : "";
    return `${describe(s, format(m.unit))}${verdict}`;
  };
  const ratio = (m: Metric): string => {
    const [a, b] = [spread(current.runs.map(m.of)), spread(baseline.runs.map(m.of))];
    return a && b && b.median > 0 ? `${(a.median / b.median).toFixed(2)}` : "n/a";
  };
  const header = baseline
    ? `| metric | target | this tree: median over runs (spread) | ${baseline.label}: median over runs (spread) | this / baseline (medians) |\n| --- | --- | --- | --- | --- |`
    : "| metric | target | median over runs (spread) |\n| --- | --- | --- |";
  const rows = METRICS.map((m) => `| ${m.name} | ${m.target?.text ?? ""} | ${cell(m, current)} |${baseline ? ` ${cell(m, baseline)} | ${ratio(m)} |` : ""}`);
  const alternating = baseline ? `\nBoth bundles ran in the same browser, alternately (run 1: this tree first, run 2: the baseline first, ...), on the same\nhost message; the ratio compares medians measured under the same load.\n` : "";
  return `# Timeline panel benchmark

\`${command}\`, ${new Date().toISOString().slice(0, 10)},
${os.cpus().length} cores (${os.cpus()[0]?.model ?? "unknown CPU"}), headless Chromium with --disable-gpu (software canvas).
Load average (1 min) before and after: ${load[0].toFixed(1)} and ${load[1].toFixed(1)}, benchmark at nice ${os.getPriority()}: timings are
wall clock, and other work on the machine stretches them.

Synthetic profile: ${spans.toLocaleString("en")} op spans on 2 threads, llama-like decode calls with one 130-node graph each,
built as a real stream and read by the real decoder, profile model and panel data code (host side: ${panelDataMs.toFixed(1)} ms).
${alternating}
${header}
${rows.join("\n")}

A frame's time is the main thread's work for one input step: the event handler, the animation-frame
callback that drew, and flushing the canvas (getImageData); the wait for the display's next frame is idle
time and not counted. The renderer CPU times do not grow when other work competes for the cores, the wall
clock times do.
`;
}

void main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
