/**
 * The counters panel: one small chart per software counter over the llama_decode calls (the calling
 * thread's count over each call, and the sum over the op spans of all threads that began in it),
 * the lines naming the counters the profile lacks, and the counters per op. Hover a chart for a
 * call's figures.
 */
import { axisBottom, axisLeft } from "d3-axis";
import { scaleLinear } from "d3-scale";
import { pointer, select } from "d3-selection";
import { line } from "d3-shape";
import type { CounterSeries, CountersData } from "../protocol";
import { el, tableOf } from "../dom";
import { formatDuration } from "../timeline/scale";

const WIDTH = 400;
const HEIGHT = 170;
const M = { top: 10, right: 12, bottom: 24, left: 56 };
/** The two lines of a chart: the calling thread's count, and the op spans' sum. */
const LINES = [
  { key: "call", name: "llama_decode thread", className: "series-call" },
  { key: "ops", name: "op spans, all threads", className: "series-ops" },
] as const;

function formatValue(value: number, unit: CounterSeries["unit"]): string {
  if (Number.isNaN(value)) return "not recorded (the call's end was not seen)";
  return unit === "ns" ? formatDuration(value) : value.toLocaleString();
}

export class CountersView {
  private readonly tooltip = el("div", { className: "tooltip", hidden: true });

  constructor(private readonly root: HTMLElement) {}

  show(data: CountersData): void {
    const n = data.calls.start.length;
    const prefill = Array.from(data.calls.nTokens).filter((t) => t > 1).length;
    const summary = el("div", {
      className: "status",
      textContent: n
        ? `${data.series.length} software counters over ${n} llama_decode calls (${prefill} prefill, shaded). Hover a chart for a call's figures.`
        : "No llama_decode calls were recorded: there is nothing to chart per call (the per-op counters are below).",
    });
    const lacking = el("div", { className: "counters-lacking" }, data.lacking.map((text) => el("div", { className: "notice", textContent: text })));
    const legend = el(
      "div",
      { className: "legend" },
      LINES.map((l) => el("span", { className: "legend-item" }, [el("span", { className: `swatch ${l.className}` }), el("span", { textContent: l.name })])),
    );
    const outside = data.spansOutsideCalls ? [el("div", { className: "note", textContent: `${data.spansOutsideCalls.toLocaleString()} op spans began outside every llama_decode call: they are in the per-op table, not in the charts.` })] : [];
    const charts = el("div", { className: "counter-charts" }, n ? data.series.map((s) => this.chart(data, s)) : []);
    const perOp = tableOf(
      ["op", "calls", ...data.series.map((s) => s.name)],
      data.ops.map((o) => [o.op, o.calls.toLocaleString(), ...o.values.map((v, k) => formatValue(v, data.series[k].unit))]),
    );
    perOp.classList.add("counters-per-op");
    this.root.replaceChildren(summary, lacking, legend, ...outside, el("div", { className: "chart" }, [charts, this.tooltip]), el("h4", { textContent: "Per op, over all its spans" }), perOp);
  }

  private chart(data: CountersData, series: CounterSeries): HTMLElement {
    const n = data.calls.start.length;
    const scale = series.unit === "ns" ? 1e6 : 1;
    // A counter that stayed 0 still gets an axis up to 1 (one count, or 1 ms).
    const max = Math.max(scale, ...Array.from(series.call).filter((v) => !Number.isNaN(v)), ...series.ops) / scale;
    const x = scaleLinear().domain([0, Math.max(1, n - 1)]).range([M.left, WIDTH - M.right]);
    const y = scaleLinear().domain([0, max]).range([HEIGHT - M.bottom, M.top]).nice();
    const svg = select(document.createElementNS("http://www.w3.org/2000/svg", "svg")).attr("class", "counter-svg").attr("width", WIDTH).attr("height", HEIGHT);
    const step = n > 1 ? x(1) - x(0) : WIDTH - M.left - M.right;
    svg
      .append("g")
      .selectAll("rect")
      .data(Array.from(data.calls.nTokens.keys()).filter((i) => data.calls.nTokens[i] > 1))
      .join("rect")
      .attr("class", "prefill-band")
      .attr("x", (i) => Math.max(M.left, x(i) - step / 2))
      .attr("width", (i) => Math.min(WIDTH - M.right, x(i) + step / 2) - Math.max(M.left, x(i) - step / 2))
      .attr("y", M.top)
      .attr("height", HEIGHT - M.top - M.bottom);
    svg.append("g").attr("class", "axis").attr("transform", `translate(0,${HEIGHT - M.bottom})`).call(axisBottom(x).tickValues(x.ticks(Math.min(6, n)).filter(Number.isInteger)).tickFormat((i) => String(Number(i) + 1)));
    const yTicks = series.unit === "ns" ? y.ticks(4) : y.ticks(4).filter(Number.isInteger);
    svg.append("g").attr("class", "axis").attr("transform", `translate(${M.left},0)`).call(axisLeft(y).tickValues(yTicks).tickFormat((v) => Number(v).toLocaleString()));
    for (const l of LINES) {
      const values = series[l.key];
      const path = line<number>()
        .defined((i) => !Number.isNaN(values[i]))
        .x((i) => x(i))
        .y((i) => y(values[i] / scale));
      svg.append("path").attr("class", `series ${l.className}`).attr("d", path(Array.from(values.keys())) ?? "");
    }
    const marker = svg.append("line").attr("class", "hover-line").attr("y1", M.top).attr("y2", HEIGHT - M.bottom).attr("visibility", "hidden");
    svg
      .append("rect")
      .attr("class", "hover-area")
      .attr("x", M.left)
      .attr("y", M.top)
      .attr("width", WIDTH - M.left - M.right)
      .attr("height", HEIGHT - M.top - M.bottom)
      .on("mousemove", (event: MouseEvent) => {
        const i = Math.max(0, Math.min(n - 1, Math.round(x.invert(pointer(event, svg.node())[0]))));
        marker.attr("x1", x(i)).attr("x2", x(i)).attr("visibility", "visible");
        this.hover(event, data, series, i);
      })
      .on("mouseleave", () => {
        marker.attr("visibility", "hidden");
        this.tooltip.hidden = true;
      });
    const title = el("div", { className: "counter-title", textContent: `${series.name}${series.unit === "ns" ? " (ms)" : ""} per call` });
    const box = el("div", { className: "counter-chart" }, [title, svg.node()!]);
    box.dataset.counter = series.key;
    return box;
  }

  private hover(event: MouseEvent, data: CountersData, series: CounterSeries, i: number): void {
    const tokens = data.calls.nTokens[i];
    const batch = tokens < 0 ? "batch size unknown" : `${tokens} token${tokens === 1 ? "" : "s"}, ${tokens > 1 ? "prefill" : "decode"}`;
    const lines = [
      `call ${i + 1} of ${data.calls.start.length} (${batch}) at ${formatDuration(data.calls.start[i])}`,
      `${series.name}:`,
      ...LINES.map((l) => `${l.name}: ${formatValue(series[l.key][i], series.unit)}`),
    ];
    this.tooltip.replaceChildren(...lines.map((text) => el("div", { textContent: text })));
    this.tooltip.hidden = false;
    const box = this.tooltip.parentElement!.getBoundingClientRect();
    this.tooltip.style.left = `${event.clientX - box.left + 12}px`;
    this.tooltip.style.top = `${event.clientY - box.top + 12}px`;
  }
}
