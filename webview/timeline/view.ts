/**
 * The timeline panel: tokens (llama_decode calls), graphs and the graphs each ggml backend computed
 * (the scheduler's splits, one row, coloured by backend) on top, then per thread a state band
 * (running / runnable / sleeping) above the thread's op spans, on one canvas. Wheel, drag and keys
 * zoom and pan; hover shows a span; click asks the host to reveal the op's source; shift+drag selects
 * a range and lists its ops. Strings from the profile only ever reach the page as textContent.
 */
import "@vscode-elements/elements/dist/vscode-textfield/index.js";
import "@vscode-elements/elements/dist/vscode-button/index.js";
import { categoryColor, rgbOf, themeColor } from "../colors";
import { ThreadState, type TimelineData, type WebviewMessage } from "../protocol";
import { DrawList, filteredLane, intervalAt, laneSource, layoutLane, type LaneSource } from "./lod";
import { rangeTable } from "./rangeTable";
import { packRgb, PixelBuffer, rasterizeRow } from "./raster";
import { formatDuration, formatTick, TimeScale } from "./scale";
import { spanFilter, type SpanFilter } from "./filter";
import { el, tableOf } from "../dom";

const AXIS_H = 20;
const CALL_H = 16;
const GRAPH_H = 12;
const SPLIT_H = 12;
const STATE_H = 6;
const LANE_H = 20;
const GAP = 4;
const STATE_COLORS: Record<ThreadState, string> = {
  [ThreadState.Running]: "#59a14f",
  [ThreadState.Runnable]: "#edc948",
  [ThreadState.Sleeping]: "#7f7f7f",
};
const STATE_NAMES = ["running", "runnable", "sleeping"];
/** Gutter labels of the rows above the threads (a state band has none). */
const ROW_NAMES: Partial<Record<Row["kind"], string>> = { calls: "tokens", graphs: "graphs", splits: "backends", state: "" };

interface Row {
  kind: "calls" | "graphs" | "splits" | "state" | "spans";
  y: number;
  h: number;
  source: LaneSource;
  /** Thread of a state or span row. */
  tid?: number;
}

export class TimelineView {
  private data: TimelineData | undefined;
  private scale = new TimeScale(0, 1, 1);
  private rows: Row[] = [];
  private spanLanes: LaneSource[] = [];
  private filter: SpanFilter | null = null;
  private selection: [number, number] | null = null;
  private readonly drawList = new DrawList();
  private raster: { image: ImageData; pixels: PixelBuffer } | undefined;
  private readonly spanColors: number[] = [];
  private readonly packedColors = new Map<string, number>();
  private frameRequested = false;

  private readonly filterInput = el("vscode-textfield", { className: "filter", placeholder: "Filter: op or tensor name, or op:MUL_MAT" });
  private readonly status = el("span", { className: "status" });
  private readonly notices = el("div", { className: "notices" });
  private readonly gutter = el("div", { className: "gutter" });
  private readonly canvas = el("canvas", { className: "timeline-canvas", tabIndex: 0 });
  private readonly tooltip = el("div", { className: "tooltip", hidden: true });
  private readonly range = el("div", { className: "range" });
  private readonly legend = el("div", { className: "legend" });

  constructor(
    root: HTMLElement,
    private readonly post: (message: WebviewMessage) => void,
  ) {
    const reset = el("vscode-button", { className: "reset", textContent: "Reset zoom" });
    reset.addEventListener("click", () => this.resetZoom());
    const toolbar = el("div", { className: "toolbar" }, [this.filterInput, reset, this.status]);
    const chart = el("div", { className: "chart" }, [this.gutter, this.canvas, this.tooltip]);
    root.replaceChildren(toolbar, this.notices, chart, this.legend, this.range);
    this.listen();
    new ResizeObserver(() => this.resize()).observe(chart);
  }

  show(data: TimelineData): void {
    const keepView = this.data !== undefined && this.data.originNs === data.originNs;
    const [t0, t1] = [this.scale.t0, this.scale.t1];
    this.data = data;
    this.scale = new TimeScale(0, data.durationNs, this.scale.width);
    if (keepView) this.scale.set(t0, t1);
    this.applyFilter();
    this.renderNotices();
    this.renderLegend();
  }

  /** Shows only the spans of `op` (a CodeLens or the roofline asked for it). */
  filterOp(op: string): void {
    this.filterInput.value = `op:${op}`;
    this.applyFilter();
  }

  private listen(): void {
    this.filterInput.addEventListener("input", () => this.applyFilter());
    const c = this.canvas;
    c.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    c.addEventListener("mousedown", (e) => this.onMouseDown(e));
    c.addEventListener("mousemove", (e) => this.onHover(e));
    c.addEventListener("mouseleave", () => (this.tooltip.hidden = true));
    c.addEventListener("keydown", (e) => this.onKey(e));
  }

  private resize(): void {
    const width = Math.max(100, this.canvas.parentElement!.clientWidth - this.gutter.offsetWidth);
    this.scale.width = width;
    this.requestDraw();
  }

  private resetZoom(): void {
    this.scale.reset();
    this.requestDraw();
  }

  // ---- data -> rows ------------------------------------------------------------------------

  private applyFilter(): void {
    const data = this.data;
    if (!data) return;
    this.filter = spanFilter(this.filterInput.value ?? "", data.labels, data.nodes.name, data.spans);
    const all = data.lanes.map((l) => laneSource(data.spans.start, data.spans.end, data.spans.label, l.first, l.count));
    const filter = this.filter;
    this.spanLanes = filter ? all.map((lane) => filteredLane(lane, filter.keep)) : all;
    const shown = this.spanLanes.reduce((n, l) => n + l.count, 0);
    this.status.textContent = filter ? `${shown.toLocaleString()} of ${data.spans.start.length.toLocaleString()} spans match` : `${shown.toLocaleString()} span${shown === 1 ? "" : "s"}`;
    this.buildRows();
    if (this.selection) this.renderRange();
    this.requestDraw();
  }

  private buildRows(): void {
    const data = this.data!;
    const rows: Row[] = [];
    let y = AXIS_H;
    const add = (row: Omit<Row, "y">): void => {
      rows.push({ ...row, y });
      y += row.h + (row.kind === "state" ? 1 : GAP);
    };
    add({ kind: "calls", h: CALL_H, source: laneSource(data.calls.start, data.calls.end, Uint8Array.from(data.calls.nTokens, (n) => (n > 1 ? 1 : 0))) });
    add({ kind: "graphs", h: GRAPH_H, source: laneSource(data.graphs.start, data.graphs.end, new Uint8Array(data.graphs.start.length)) });
    if (data.splits.start.length) add({ kind: "splits", h: SPLIT_H, source: laneSource(data.splits.start, data.splits.end, data.splits.backend) });
    const tids = [...new Set([...data.lanes.map((l) => l.tid), ...data.states.map((s) => s.tid)])].sort((a, b) => a - b);
    for (const tid of tids) {
      const states = data.states.find((s) => s.tid === tid);
      if (states) add({ kind: "state", h: STATE_H, source: laneSource(states.start, states.end, states.state), tid });
      const lane = data.lanes.findIndex((l) => l.tid === tid);
      add({ kind: "spans", h: LANE_H, source: lane >= 0 ? this.spanLanes[lane] : laneSource(new Float64Array(0), new Float64Array(0), []), tid });
    }
    this.rows = rows;
    this.canvas.style.height = `${y}px`;
    this.renderGutter();
    this.resize();
  }

  private renderGutter(): void {
    const labels = this.rows.map((row) => {
      const text = ROW_NAMES[row.kind] ?? `thread ${row.tid}`;
      const label = el("div", { className: row.kind === "spans" ? "lane-label" : "row-label", textContent: text });
      label.style.top = `${row.y}px`;
      label.style.height = `${row.h}px`;
      return label;
    });
    this.gutter.replaceChildren(...labels);
    this.gutter.style.height = this.canvas.style.height;
  }

  private renderNotices(): void {
    const data = this.data!;
    const notes: string[] = [];
    if (data.lostEvents === null) notes.push("The recording has no trailer (the run did not end cleanly): events lost are unknown.");
    else if (data.lostEvents > 0) notes.push(`${data.lostEvents.toLocaleString()} events were lost (ring buffer full): spans are missing where lanes show holes.`);
    if (data.truncated) notes.push("The recording is cut short: what follows its last complete record is missing.");
    if (data.gaps.start.length) notes.push(`Op tracing was off in ${data.gaps.start.length} periods (${data.mode} mode), hatched: no op spans exist there.`);
    if (data.live) notes.push("Recording: the timeline grows as the run goes on.");
    this.notices.replaceChildren(...notes.map((text) => el("div", { className: "notice", textContent: text })));
  }

  private renderLegend(): void {
    const data = this.data!;
    const items = data.labels.map((label, i) => {
      const swatch = el("span", { className: "swatch" });
      swatch.style.background = categoryColor(i);
      return el("span", { className: "legend-item" }, [swatch, el("span", { textContent: label })]);
    });
    const states = STATE_NAMES.map((name, s) => {
      const swatch = el("span", { className: "swatch" });
      swatch.style.background = STATE_COLORS[s as ThreadState];
      return el("span", { className: "legend-item" }, [swatch, el("span", { textContent: name })]);
    });
    const backends = data.splits.names.map((name, b) => {
      const swatch = el("span", { className: "swatch" });
      swatch.style.background = categoryColor(b);
      return el("span", { className: "legend-item backend-item" }, [swatch, el("span", { textContent: `backend ${name}` })]);
    });
    this.legend.replaceChildren(...items, ...states, ...(data.splits.start.length ? backends : []));
  }

  // ---- drawing -----------------------------------------------------------------------------

  private requestDraw(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.draw();
    });
  }

  private draw(): void {
    const data = this.data;
    const canvas = this.canvas;
    const ratio = window.devicePixelRatio || 1;
    const width = this.scale.width;
    const height = parseFloat(canvas.style.height) || 0;
    canvas.style.width = `${width}px`;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d", { alpha: false })!;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const raster = this.rasterOf(canvas.width, canvas.height);
    if (!raster) return;
    raster.pixels.fill(this.packedColor(themeColor("editor-background", "#1e1e1e")));
    if (data) for (const row of this.rows) this.drawRow(raster.pixels, row, ratio);
    ctx.putImageData(raster.image, 0, 0);
    if (!data) return;
    this.drawAxis(ctx, height);
    this.drawGaps(ctx, height);
    this.drawSelection(ctx, height);
    canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
  }

  /** The frame's pixel buffer, kept from frame to frame while the canvas keeps its size. */
  private rasterOf(width: number, height: number): { image: ImageData; pixels: PixelBuffer } | undefined {
    if (width <= 0 || height <= 0) return undefined;
    const raster = this.raster;
    if (raster && raster.image.width === width && raster.image.height === height) return raster;
    const image = new ImageData(width, height);
    this.raster = { image, pixels: new PixelBuffer(width, height, image.data.buffer) };
    return this.raster;
  }

  /** Draws a row's rectangles (level of detail from lod.ts) into the frame's pixels. */
  private drawRow(pixels: PixelBuffer, row: Row, ratio: number): void {
    const list = this.drawList;
    list.clear();
    layoutLane(row.source, { t0: this.scale.t0, t1: this.scale.t1, width: this.scale.width }, list, row.kind === "spans" ? 1 : 0.5);
    rasterizeRow(pixels, list, row.y, row.h, ratio, row.kind === "spans" ? this.spanColor : (category) => this.packedColor(this.colorOf(row, category)));
  }

  /** An op's colour as a pixel, by label index (kept: a zoomed-out lane asks for it per pixel column). */
  private readonly spanColor = (category: number): number => (this.spanColors[category] ??= this.packedColor(categoryColor(category)));

  private packedColor(css: string): number {
    let packed = this.packedColors.get(css);
    if (packed === undefined) {
      const [r, g, b] = rgbOf(css);
      packed = packRgb(r, g, b);
      this.packedColors.set(css, packed);
    }
    return packed;
  }

  private colorOf(row: Row, category: number): string {
    switch (row.kind) {
      case "spans":
      case "splits":
        return categoryColor(category);
      case "state":
        return STATE_COLORS[category as ThreadState];
      case "calls":
        return category === 1 ? "#b07aa1" : "#76b7b2";
      default:
        return "#9c755f";
    }
  }

  private drawAxis(ctx: CanvasRenderingContext2D, height: number): void {
    const fg = themeColor("editor-foreground", "#cccccc");
    const { step, times } = this.scale.ticks(120);
    ctx.font = "11px sans-serif";
    ctx.textBaseline = "top";
    for (const t of times) {
      const x = Math.round(this.scale.x(t)) + 0.5;
      ctx.fillStyle = themeColor("editorLineNumber-foreground", "#6e7681");
      ctx.fillRect(x, AXIS_H - 4, 1, height);
      ctx.fillStyle = fg;
      ctx.fillText(formatTick(t, step), x + 3, 3);
    }
  }

  private drawGaps(ctx: CanvasRenderingContext2D, height: number): void {
    const gaps = this.data!.gaps;
    ctx.fillStyle = themeColor("editorWarning-foreground", "#cca700");
    for (let i = 0; i < gaps.start.length; i++) {
      const x0 = Math.max(0, this.scale.x(gaps.start[i]));
      const x1 = Math.min(this.scale.width, this.scale.x(gaps.end[i]));
      if (x1 <= x0) continue;
      ctx.globalAlpha = 0.15;
      ctx.fillRect(x0, AXIS_H, x1 - x0, height - AXIS_H);
      ctx.globalAlpha = 0.5;
      for (let x = x0 - ((x0 % 8) + 8); x < x1; x += 8) {
        ctx.fillRect(Math.max(x, x0), AXIS_H, 1, height - AXIS_H);
      }
    }
    ctx.globalAlpha = 1;
  }

  private drawSelection(ctx: CanvasRenderingContext2D, height: number): void {
    if (!this.selection) return;
    const x0 = this.scale.x(this.selection[0]);
    const x1 = this.scale.x(this.selection[1]);
    ctx.fillStyle = themeColor("editor-selectionBackground", "#264f78");
    ctx.globalAlpha = 0.35;
    ctx.fillRect(x0, 0, x1 - x0, height);
    ctx.globalAlpha = 1;
  }

  // ---- interaction -------------------------------------------------------------------------

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    const x = e.offsetX;
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) this.scale.panBy(e.shiftKey ? e.deltaY : e.deltaX);
    else this.scale.zoomAt(x, Math.exp(-e.deltaY * 0.002));
    this.requestDraw();
  }

  private onKey(e: KeyboardEvent): void {
    const middle = this.scale.width / 2;
    const step = this.scale.width / 5;
    const actions: Record<string, () => void> = {
      w: () => this.scale.zoomAt(middle, 1.5),
      "+": () => this.scale.zoomAt(middle, 1.5),
      "=": () => this.scale.zoomAt(middle, 1.5),
      s: () => this.scale.zoomAt(middle, 1 / 1.5),
      "-": () => this.scale.zoomAt(middle, 1 / 1.5),
      a: () => this.scale.panBy(-step),
      ArrowLeft: () => this.scale.panBy(-step),
      d: () => this.scale.panBy(step),
      ArrowRight: () => this.scale.panBy(step),
      "0": () => this.scale.reset(),
      Home: () => this.scale.reset(),
      Escape: () => this.clearSelection(),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
    this.requestDraw();
  }

  private onMouseDown(e: MouseEvent): void {
    this.canvas.focus();
    const startX = e.offsetX;
    const startClient = e.clientX;
    let moved = false;
    const move = (m: MouseEvent): void => {
      const dx = m.clientX - startClient;
      if (Math.abs(dx) > 3) moved = true;
      if (!moved) return;
      if (e.shiftKey) {
        const a = this.scale.t(startX);
        const b = this.scale.t(startX + dx);
        this.selection = [Math.min(a, b), Math.max(a, b)];
      } else {
        this.scale.panBy(-(m.movementX || 0));
      }
      this.requestDraw();
    };
    const up = (u: MouseEvent): void => {
      window.removeEventListener("mousemove", move);
      window.removeEventListener("mouseup", up);
      if (moved && e.shiftKey) this.renderRange();
      else if (!moved) this.onClick(u);
    };
    window.addEventListener("mousemove", move);
    window.addEventListener("mouseup", up);
  }

  private onClick(e: MouseEvent): void {
    const hit = this.hitTest(e);
    if (hit?.kind === "spans") this.post({ type: "revealOp", op: this.data!.labels[this.data!.spans.label[hit.index]] });
  }

  private hitTest(e: MouseEvent): { kind: Row["kind"]; index: number; row: Row } | undefined {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    const row = this.rows.find((r) => y >= r.y && y < r.y + r.h);
    if (!row) return undefined;
    const index = intervalAt(row.source, this.scale.t(x), 3 * this.scale.resolution);
    return index < 0 ? undefined : { kind: row.kind, index, row };
  }

  private onHover(e: MouseEvent): void {
    const hit = this.hitTest(e);
    if (!hit) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.replaceChildren(...this.describe(hit.kind, hit.index, hit.row).map((line) => el("div", { textContent: line })));
    this.tooltip.hidden = false;
    const chart = this.canvas.parentElement!.getBoundingClientRect();
    const left = Math.min(e.clientX - chart.left + 14, chart.width - this.tooltip.offsetWidth - 4);
    this.tooltip.style.left = `${Math.max(0, left)}px`;
    this.tooltip.style.top = `${e.clientY - chart.top + 14}px`;
  }

  /** Tooltip lines of interval `i` of a row. */
  private describe(kind: Row["kind"], i: number, row: Row): string[] {
    const d = this.data!;
    const duration = (start: Float64Array, end: Float64Array): string => `${formatDuration(end[i] - start[i])} at ${formatDuration(start[i])}`;
    switch (kind) {
      case "calls": {
        const n = d.calls.nTokens[i];
        return [`llama_decode: ${n < 0 ? "batch size unknown" : `${n} token${n === 1 ? "" : "s"} (${n > 1 ? "prefill" : "decode"})`}`, duration(d.calls.start, d.calls.end)];
      }
      case "splits": {
        const s = d.splits;
        const lines = [`${s.names[s.backend[i]]}: a graph of ${s.nNodes[i]} node${s.nNodes[i] === 1 ? "" : "s"}`];
        if (s.label[i]) lines.push(s.label[i]);
        return [...lines, duration(s.start, s.end)];
      }
      case "graphs":
        return [`graph compute: ${d.graphs.nNodes[i]} nodes`, duration(d.graphs.start, d.graphs.end)];
      case "state":
        return [`thread ${row.tid}: ${STATE_NAMES[row.source.category[i]]}`, duration(row.source.start, row.source.end)];
      default:
        return this.describeSpan(i);
    }
  }

  private describeSpan(i: number): string[] {
    const d = this.data!;
    const s = d.spans;
    const node = s.node[i];
    const lines = [d.labels[s.label[i]]];
    if (node >= 0) lines.push(`${d.nodes.name[node]}  ${d.nodes.type[node]} [${d.nodes.shape[node]}]`);
    lines.push(`${formatDuration(s.end[i] - s.start[i])} at ${formatDuration(s.start[i])}${s.unterminated[i] ? " (end not seen: closed by the next op)" : ""}`);
    if (!s.unterminated[i]) lines.push(`cpu ${formatDuration(s.cpuNs[i])} · faults ${s.faults[i]} · context switches ${s.switches[i]}`);
    lines.push("click: open the op's source");
    return lines;
  }

  // ---- range table -------------------------------------------------------------------------

  private clearSelection(): void {
    this.selection = null;
    this.range.replaceChildren();
  }

  private renderRange(): void {
    if (!this.selection || !this.data) return;
    const [from, to] = this.selection;
    const rows = rangeTable(this.spanLanes, from, to);
    const labels = this.data.labels;
    const title = el("div", { className: "range-title", textContent: `Ops from ${formatDuration(from)} to ${formatDuration(to)} (${formatDuration(to - from)}); Esc clears` });
    const table = tableOf(
      ["op", "calls", "time in range", "share"],
      rows.map((r) => [labels[r.label], r.calls.toLocaleString(), formatDuration(r.totalNs), `${(r.share * 100).toFixed(1)}%`]),
    );
    this.range.replaceChildren(title, table);
  }
}
