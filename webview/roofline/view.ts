/**
 * The roofline panel: achieved GFLOP/s against arithmetic intensity, log-log, under this machine's
 * measured ceilings (compute, and each memory level's bandwidth); one point per op class sized by
 * its total time and coloured by op. Hover gives the figures, click shows the op in the timeline.
 */
import { axisBottom, axisLeft } from "d3-axis";
import { scaleLog, scaleSqrt } from "d3-scale";
import { select } from "d3-selection";
import type { RooflineData, RooflinePoint, WebviewMessage } from "../protocol";
import { categoryColor } from "../colors";
import { el } from "../dom";
import { formatDuration } from "../timeline/scale";

const WIDTH = 760;
const HEIGHT = 460;
const M = { top: 16, right: 150, bottom: 42, left: 64 };

export class RooflineView {
  private readonly tooltip = el("div", { className: "tooltip", hidden: true });

  constructor(
    private readonly root: HTMLElement,
    private readonly post: (message: WebviewMessage) => void,
  ) {}

  show(data: RooflineData): void {
    const notes = el("details", { className: "notes" }, [
      el("summary", { textContent: "How these figures are computed" }),
      ...data.notes.map((text) => el("div", { className: "note", textContent: text })),
    ]);
    const chart = el("div", { className: "chart" }, [this.tooltip]);
    if (data.points.length) chart.prepend(this.plot(data));
    const summary = el("div", { className: "status", textContent: `${data.points.length} op classes with known FLOPs and bytes; point area: total time. Click a point to see its op in the timeline.` });
    this.root.replaceChildren(summary, notes, chart);
  }

  private plot(data: RooflineData): SVGSVGElement {
    const points = data.points;
    const memory = data.ceilings.filter((c) => c.kind === "memory");
    const compute = data.ceilings.filter((c) => c.kind === "compute");
    const xs = points.map((p) => p.intensity);
    const ys = [...points.map((p) => p.gflops), ...compute.map((c) => c.value)];
    const x = scaleLog()
      .domain([Math.min(...xs) / 4, Math.max(...xs) * 4])
      .range([M.left, WIDTH - M.right])
      .nice();
    const y = scaleLog()
      .domain([Math.max(1e-4, Math.min(...ys) / 4), Math.max(...ys) * 4])
      .range([HEIGHT - M.bottom, M.top])
      .nice();
    const r = scaleSqrt()
      .domain([0, Math.max(...points.map((p) => p.totalNs))])
      .range([3, 22]);
    const ops = [...new Set(points.map((p) => p.op))];
    const svg = select(document.createElementNS("http://www.w3.org/2000/svg", "svg")).attr("class", "roofline-svg").attr("width", WIDTH).attr("height", HEIGHT);
    svg.append("g").attr("class", "axis").attr("transform", `translate(0,${HEIGHT - M.bottom})`).call(axisBottom(x).ticks(6, "~g"));
    svg.append("g").attr("class", "axis").attr("transform", `translate(${M.left},0)`).call(axisLeft(y).ticks(6, "~g"));
    svg.append("text").attr("x", (M.left + WIDTH - M.right) / 2).attr("y", HEIGHT - 6).attr("text-anchor", "middle").text("arithmetic intensity (FLOP/byte)");
    svg.append("text").attr("transform", `translate(14,${(M.top + HEIGHT - M.bottom) / 2}) rotate(-90)`).attr("text-anchor", "middle").text("achieved GFLOP/s");
    const [x0, x1] = x.domain();
    for (const c of compute) this.ceiling(svg, x(x0), y(c.value), x(x1), y(c.value), `${c.name} ${c.value.toFixed(0)} GFLOP/s`, "start");
    const peak = Math.max(0, ...compute.map((c) => c.value));
    for (const m of memory) {
      // The memory roof y = bandwidth x intensity, up to where it meets the compute roof.
      const ridge = peak > 0 ? peak / m.value : x1;
      const end = Math.min(x1, ridge);
      if (end <= x0) continue;
      this.ceiling(svg, x(x0), y(Math.max(y.domain()[0], m.value * x0)), x(end), y(m.value * end), `${m.name} ${m.value.toFixed(0)} GB/s`, "start");
    }
    svg
      .append("g")
      .selectAll("circle")
      // Largest first, so that a small point is never hidden under a big one.
      .data([...points].sort((a, b) => b.totalNs - a.totalNs))
      .join("circle")
      .attr("class", "roofline-point")
      .attr("cx", (p) => x(p.intensity))
      .attr("cy", (p) => y(Math.max(y.domain()[0], p.gflops)))
      .attr("r", (p) => r(p.totalNs))
      .attr("fill", (p) => categoryColor(ops.indexOf(p.op)))
      .attr("fill-opacity", 0.75)
      .attr("stroke", "#000")
      .on("mousemove", (event: MouseEvent, p) => this.hover(event, p))
      .on("mouseleave", () => (this.tooltip.hidden = true))
      .on("click", (_event, p) => this.post({ type: "openTimeline", op: p.op }));
    return svg.node()!;
  }

  /** A roof from (x1, y1) to (x2, y2), labelled after its end or above its start. */
  private ceiling(svg: ReturnType<typeof select<SVGSVGElement, unknown>>, x1: number, y1: number, x2: number, y2: number, label: string, at: "start" | "end"): void {
    svg.append("line").attr("class", "ceiling").attr("x1", x1).attr("y1", y1).attr("x2", x2).attr("y2", y2);
    const [x, y] = at === "end" ? [x2 + 4, y2 + 4] : [x1 + 4, y1 - 4];
    svg.append("text").attr("class", "ceiling-label").attr("x", x).attr("y", y).text(label);
  }

  private hover(event: MouseEvent, p: RooflinePoint): void {
    const lines = [
      p.label,
      `intensity ${p.intensity.toPrecision(3)} FLOP/B · ${p.gflops.toPrecision(3)} GFLOP/s · ${p.gbps.toPrecision(3)} GB/s`,
      `${formatDuration(p.totalNs)} in total · ${p.bound}`,
    ];
    this.tooltip.replaceChildren(...lines.map((text) => el("div", { textContent: text })));
    this.tooltip.hidden = false;
    const box = this.root.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - box.left + 12}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 12}px`;
  }
}
