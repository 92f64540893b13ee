/**
 * The roofline panel: achieved GFLOP/s against arithmetic intensity, log-log, under this machine's
 * measured ceilings (compute, and each memory level's bandwidth); one point per op class sized by
 * its total time and coloured by op. A toggle shows all calls, prefill or decode only (the axes stay
 * put, so the phases can be compared). Hover gives the figures, click shows the op in the timeline.
 */
import "@vscode-elements/elements/dist/vscode-radio-group/index.js";
import "@vscode-elements/elements/dist/vscode-radio/index.js";
import { axisBottom, axisLeft } from "d3-axis";
import { scaleLog, scaleSqrt, type ScaleLogarithmic, type ScalePower } from "d3-scale";
import { select } from "d3-selection";
import { ROOFLINE_PHASES, type RooflineData, type RooflinePhase, type RooflinePoint, type WebviewMessage } from "../protocol";
import { categoryColor } from "../colors";
import { el } from "../dom";
import { formatDuration } from "../timeline/scale";

const WIDTH = 760;
const HEIGHT = 460;
const M = { top: 16, right: 150, bottom: 42, left: 64 };
const PHASE_NAMES: Record<RooflinePhase, string> = { all: "all calls", prefill: "prefill", decode: "decode" };

type Svg = ReturnType<typeof select<SVGSVGElement, unknown>>;

interface Scales {
  x: ScaleLogarithmic<number, number>;
  y: ScaleLogarithmic<number, number>;
  r: ScalePower<number, number>;
  /** Op names in colour order, over every phase (an op keeps its colour when the phase changes). */
  ops: string[];
}

export class RooflineView {
  private readonly tooltip = el("div", { className: "tooltip", hidden: true });
  private readonly chart = el("div", { className: "chart" });
  private readonly summary = el("span", { className: "status" });
  private phase: RooflinePhase = "all";
  private data: RooflineData | undefined;

  constructor(
    private readonly root: HTMLElement,
    private readonly post: (message: WebviewMessage) => void,
  ) {}

  show(data: RooflineData): void {
    this.data = data;
    const notes = el("details", { className: "notes" }, [
      el("summary", { textContent: "How these figures are computed" }),
      ...data.notes.map((text) => el("div", { className: "note", textContent: text })),
    ]);
    const toolbar = el("div", { className: "toolbar" }, [this.phaseToggle(data), this.summary]);
    this.root.replaceChildren(toolbar, notes, this.chart);
    this.render();
  }

  private phaseToggle(data: RooflineData): HTMLElement {
    const group = el("vscode-radio-group", { className: "phase-toggle" });
    for (const phase of ROOFLINE_PHASES) {
      const calls = data.phases[phase].calls;
      const radio = el("vscode-radio", { name: "phase", value: phase, label: `${PHASE_NAMES[phase]} (${calls} call${calls === 1 ? "" : "s"})`, checked: phase === this.phase });
      radio.dataset.phase = phase;
      radio.addEventListener("change", () => {
        if (!(radio as unknown as { checked: boolean }).checked) return;
        this.phase = phase;
        this.render();
      });
      group.append(radio);
    }
    return group;
  }

  private render(): void {
    const data = this.data!;
    const shown = data.phases[this.phase];
    const what = this.phase === "all" ? "" : ` in ${this.phase} calls`;
    this.summary.textContent = shown.empty ?? `${shown.points.length} op classes with known FLOPs and bytes${what}; point area: total time. Click a point to see its op in the timeline.`;
    this.tooltip.hidden = true;
    const allPoints = ROOFLINE_PHASES.flatMap((p) => data.phases[p].points);
    this.chart.replaceChildren(this.tooltip);
    if (allPoints.length) this.chart.prepend(this.plot(data, shown.points, scalesFor(data, allPoints)));
  }

  private plot(data: RooflineData, points: RooflinePoint[], { x, y, r, ops }: Scales): SVGSVGElement {
    const memory = data.ceilings.filter((c) => c.kind === "memory");
    const compute = data.ceilings.filter((c) => c.kind === "compute");
    const svg = select(document.createElementNS("http://www.w3.org/2000/svg", "svg")).attr("class", "roofline-svg").attr("width", WIDTH).attr("height", HEIGHT);
    svg.append("g").attr("class", "axis").attr("transform", `translate(0,${HEIGHT - M.bottom})`).call(axisBottom(x).ticks(6, "~g"));
    svg.append("g").attr("class", "axis").attr("transform", `translate(${M.left},0)`).call(axisLeft(y).ticks(6, "~g"));
    svg.append("text").attr("x", (M.left + WIDTH - M.right) / 2).attr("y", HEIGHT - 6).attr("text-anchor", "middle").text("arithmetic intensity (FLOP/byte)");
    svg.append("text").attr("transform", `translate(14,${(M.top + HEIGHT - M.bottom) / 2}) rotate(-90)`).attr("text-anchor", "middle").text("achieved GFLOP/s");
    const [x0, x1] = x.domain();
    for (const c of compute) this.ceiling(svg, x(x0), y(c.value), x(x1), y(c.value), `${c.name} ${c.value.toFixed(0)} GFLOP/s`);
    const peak = Math.max(0, ...compute.map((c) => c.value));
    for (const m of memory) {
      // The memory roof y = bandwidth x intensity, up to where it meets the compute roof.
      const ridge = peak > 0 ? peak / m.value : x1;
      const end = Math.min(x1, ridge);
      if (end <= x0) continue;
      this.ceiling(svg, x(x0), y(Math.max(y.domain()[0], m.value * x0)), x(end), y(m.value * end), `${m.name} ${m.value.toFixed(0)} GB/s`);
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

  /** A roof from (x1, y1) to (x2, y2), labelled above its start. */
  private ceiling(svg: Svg, x1: number, y1: number, x2: number, y2: number, label: string): void {
    svg.append("line").attr("class", "ceiling").attr("x1", x1).attr("y1", y1).attr("x2", x2).attr("y2", y2);
    svg.append("text").attr("class", "ceiling-label").attr("x", x1 + 4).attr("y", y1 - 4).text(label);
  }

  private hover(event: MouseEvent, p: RooflinePoint): void {
    const lines = [
      p.label,
      `intensity ${p.intensity.toPrecision(3)} FLOP/B · ${p.gflops.toPrecision(3)} GFLOP/s · ${p.gbps.toPrecision(3)} GB/s`,
      `${formatDuration(p.totalNs)} in total${this.phase === "all" ? "" : ` in ${this.phase} calls`} · ${p.bound}`,
    ];
    this.tooltip.replaceChildren(...lines.map((text) => el("div", { textContent: text })));
    this.tooltip.hidden = false;
    const box = this.root.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - box.left + 12}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 12}px`;
  }
}

/** Axes over the points of every phase and the compute roofs: switching phase moves points, not axes. */
function scalesFor(data: RooflineData, points: RooflinePoint[]): Scales {
  const xs = points.map((p) => p.intensity);
  const ys = [...points.map((p) => p.gflops), ...data.ceilings.filter((c) => c.kind === "compute").map((c) => c.value)];
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
  return { x, y, r, ops: [...new Set(points.map((p) => p.op))] };
}
