/**
 * The offload panel: the graphs (the scheduler's splits) each ggml backend computed, one row per
 * backend on the time axis, the tensor copies between backends on a row of their own (hover: bytes
 * and direction), time per backend and bytes per direction, and the break-even per offloaded op and
 * shape. With one backend (or none) it says so.
 */
import { axisBottom } from "d3-axis";
import { scaleLinear } from "d3-scale";
import { select } from "d3-selection";
import type { OffloadData } from "../protocol";
import { categoryColor } from "../colors";
import { el, tableOf } from "../dom";
import { formatDuration, formatTick } from "../timeline/scale";

const WIDTH = 900;
const ROW_H = 22;
const GAP = 6;
const LABEL_W = 130;
const AXIS_H = 24;

/** "1.5 MiB", "512 B". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "unknown size";
  const units = ["B", "KiB", "MiB", "GiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value.toFixed(0) : value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

function breakEvenTable(data: OffloadData): HTMLTableElement {
  const cell = (b: OffloadData["breakEven"][number]["backends"][number]): string =>
    `${b.name} ${formatDuration(b.perCallNs)}${b.measured ? "" : "*"}${b.copyBytes > 0 ? ` (${formatBytes(b.copyBytes)} copied)` : ""} × ${b.calls.toLocaleString()}`;
  const table = tableOf(
    ["op", "batch", "shape", "backends per call"],
    data.breakEven.map((r) => [r.op, String(r.batch), r.shape, r.backends.map(cell).join("  |  ")]),
  );
  table.classList.add("offload-break-even");
  return table;
}

export class OffloadView {
  private readonly tooltip = el("div", { className: "tooltip", hidden: true });

  constructor(private readonly root: HTMLElement) {}

  show(data: OffloadData): void {
    const copied = data.flows.reduce((sum, f) => sum + f.bytes, 0);
    const status = data.summary ?? `${data.backends.length} backends computed ${data.splits.start.length.toLocaleString()} graphs (splits); ${data.copies.start.length.toLocaleString()} tensor copies moved ${formatBytes(copied)}. Hover a split or a copy for its details.`;
    const summary = el("div", { className: data.summary ? "explanation offload-summary" : "status offload-summary", textContent: status });
    const perBackend = tableOf(
      ["backend", "pid", "graphs (splits)", "nodes", "time computing", "share"],
      data.backends.map((b) => [b.name, String(b.pid), b.splits.toLocaleString(), b.nodes.toLocaleString(), formatDuration(b.computeNs), `${(b.share * 100).toFixed(1)}%`]),
    );
    perBackend.classList.add("offload-backends");
    const flows = tableOf(
      ["from", "to", "copies", "bytes", "time copying"],
      data.flows.map((f) => [f.from, f.to, f.count.toLocaleString(), formatBytes(f.bytes), formatDuration(f.ns)]),
    );
    flows.classList.add("offload-flows");
    const parts: Node[] = [summary];
    if (data.splits.start.length) parts.push(el("div", { className: "chart" }, [this.timeline(data), this.tooltip]));
    if (data.backends.length) parts.push(el("h4", { textContent: "Time per backend" }), perBackend);
    if (data.flows.length) parts.push(el("h4", { textContent: "Copies per direction (source: the backend that computed the tensor; host memory for weights and inputs)" }), flows);
    if (data.breakEven.length) parts.push(el("h4", { textContent: "Break-even per op and shape: time per call with the copies of its inputs, fastest first (* the split's time divided by FLOPs)" }), breakEvenTable(data));
    this.root.replaceChildren(...parts);
  }

  /** One row per backend with its splits, then the copies' row, on one time axis. */
  private timeline(data: OffloadData): SVGSVGElement {
    const names = data.splits.names;
    const rows = names.length + (data.copies.start.length ? 1 : 0);
    const height = AXIS_H + rows * (ROW_H + GAP);
    const x = scaleLinear()
      .domain([0, Math.max(1, data.durationNs)])
      .range([LABEL_W, WIDTH - 10]);
    const svg = select(document.createElementNS("http://www.w3.org/2000/svg", "svg")).attr("class", "offload-svg").attr("width", WIDTH).attr("height", height);
    const step = Math.max(1, data.durationNs / 6);
    svg
      .append("g")
      .attr("class", "axis")
      .attr("transform", `translate(0,${height - AXIS_H})`)
      .call(axisBottom(x).ticks(6).tickFormat((t) => formatTick(Number(t), step)));
    const rowY = (row: number): number => row * (ROW_H + GAP);
    names.forEach((name, b) => {
      svg.append("text").attr("class", "row-name").attr("x", LABEL_W - 6).attr("y", rowY(b) + ROW_H / 2 + 4).attr("text-anchor", "end").text(name);
    });
    const width = (start: number, end: number): number => Math.max(1, x(end) - x(start));
    const splits = data.splits;
    svg
      .append("g")
      .selectAll("rect")
      .data(Array.from(splits.backend.keys()))
      .join("rect")
      .attr("class", "split")
      .attr("x", (i) => x(splits.start[i]))
      .attr("y", (i) => rowY(splits.backend[i]))
      .attr("width", (i) => width(splits.start[i], splits.end[i]))
      .attr("height", ROW_H)
      .attr("fill", (i) => categoryColor(splits.backend[i]))
      .on("mousemove", (event: MouseEvent, i) => this.hover(event, this.describeSplit(data, i)))
      .on("mouseleave", () => (this.tooltip.hidden = true));
    if (!data.copies.start.length) return svg.node()!;
    const copies = data.copies;
    const y = rowY(names.length);
    svg.append("text").attr("class", "row-name").attr("x", LABEL_W - 6).attr("y", y + ROW_H / 2 + 4).attr("text-anchor", "end").text("copies");
    svg
      .append("g")
      .selectAll("rect")
      .data(Array.from(copies.start.keys()))
      .join("rect")
      .attr("class", "copy")
      .attr("x", (i) => x(copies.start[i]))
      .attr("y", y)
      .attr("width", (i) => Math.max(2, width(copies.start[i], copies.end[i])))
      .attr("height", ROW_H)
      .on("mousemove", (event: MouseEvent, i) => this.hover(event, this.describeCopy(data, i)))
      .on("mouseleave", () => (this.tooltip.hidden = true));
    return svg.node()!;
  }

  private describeSplit(data: OffloadData, i: number): string[] {
    const s = data.splits;
    const lines = [`${s.names[s.backend[i]]}: a graph of ${s.nNodes[i]} node${s.nNodes[i] === 1 ? "" : "s"}`];
    if (s.label[i]) lines.push(s.label[i]);
    lines.push(`${formatDuration(s.end[i] - s.start[i])} at ${formatDuration(s.start[i])}`);
    return lines;
  }

  private describeCopy(data: OffloadData, i: number): string[] {
    const c = data.copies;
    return [`${c.name[i]}: ${formatBytes(c.bytes[i])}`, `${c.from[i]} → ${c.to[i]} (${c.kind[i]})`, `${formatDuration(c.end[i] - c.start[i])} at ${formatDuration(c.start[i])}`];
  }

  private hover(event: MouseEvent, lines: string[]): void {
    this.tooltip.replaceChildren(...lines.map((text) => el("div", { textContent: text })));
    this.tooltip.hidden = false;
    const box = this.tooltip.parentElement!.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - box.left + 12}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 12}px`;
  }
}
