/**
 * The MoE routing panel: a heatmap of how often each expert was chosen in each MoE layer, with the
 * layer's load imbalance (busiest expert over the mean); a dense model gets an explanation instead.
 */
import { interpolateBlues } from "d3-scale-chromatic";
import { select } from "d3-selection";
import type { ExpertsData } from "../protocol";
import { el } from "../dom";

const CELL = 22;
const LABEL_W = 170;
const IMBALANCE_W = 120;
const HEADER_H = 20;

export class ExpertsView {
  constructor(private readonly root: HTMLElement) {}

  show(data: ExpertsData): void {
    if (data.explanation) {
      this.root.replaceChildren(el("div", { className: "explanation", textContent: data.explanation }));
      return;
    }
    const selections = data.layers.reduce((n, l) => n + l.counts.reduce((a, b) => a + b, 0), 0);
    const summary = el("div", {
      className: "status",
      textContent: `${data.layers.length} MoE layers × ${data.nExperts} experts, ${selections.toLocaleString()} selections. Cell: selections of the expert in the layer; imbalance: busiest expert over the mean (1 = even).`,
    });
    const notes = data.truncatedRecords
      ? [el("div", { className: "notice", textContent: `${data.truncatedRecords} records carried only the first ids of a large batch (the stream keeps 64 per record): their remaining selections are not counted.` })]
      : [];
    this.root.replaceChildren(summary, ...notes, this.heatmap(data));
  }

  private heatmap(data: ExpertsData): SVGSVGElement {
    const max = Math.max(1, ...data.layers.flatMap((l) => l.counts));
    const maxImbalance = Math.max(1, ...data.layers.map((l) => l.imbalance));
    const width = LABEL_W + data.nExperts * CELL + 12 + IMBALANCE_W;
    const svg = select(document.createElementNS("http://www.w3.org/2000/svg", "svg"))
      .attr("class", "heatmap")
      .attr("width", width)
      .attr("height", HEADER_H + data.layers.length * CELL + 4);
    const header = svg.append("g").attr("class", "heatmap-header");
    header
      .selectAll("text")
      .data(Array.from({ length: data.nExperts }, (_, e) => e))
      .join("text")
      .attr("x", (e) => LABEL_W + e * CELL + CELL / 2)
      .attr("y", 14)
      .attr("text-anchor", "middle")
      .text((e) => String(e));
    header.append("text").attr("x", LABEL_W + data.nExperts * CELL + 12).attr("y", 14).text("imbalance");
    const rows = svg
      .append("g")
      .selectAll("g")
      .data(data.layers)
      .join("g")
      .attr("class", "heatmap-row")
      .attr("transform", (_l, i) => `translate(0,${HEADER_H + i * CELL})`);
    rows
      .append("text")
      .attr("x", LABEL_W - 6)
      .attr("y", CELL / 2 + 4)
      .attr("text-anchor", "end")
      .text((l) => (l.layer >= 0 ? `layer ${l.layer}` : l.name));
    rows
      .selectAll("rect.cell")
      .data((l) => l.counts.map((count, expert) => ({ l, count, expert })))
      .join("rect")
      .attr("class", "cell")
      .attr("x", (d) => LABEL_W + d.expert * CELL)
      .attr("width", CELL - 1)
      .attr("height", CELL - 1)
      .attr("fill", (d) => interpolateBlues(0.05 + 0.95 * (d.count / max)))
      .append("title")
      .text((d) => `${d.l.name}: expert ${d.expert} chosen ${d.count} times`);
    const bar = rows.append("g").attr("transform", `translate(${LABEL_W + data.nExperts * CELL + 12},0)`);
    bar
      .append("rect")
      .attr("class", "imbalance")
      .attr("y", 4)
      .attr("height", CELL - 8)
      .attr("width", (l) => Math.max(1, ((IMBALANCE_W - 40) * l.imbalance) / maxImbalance))
      .attr("fill", "#e15759");
    bar
      .append("text")
      .attr("x", (l) => Math.max(1, ((IMBALANCE_W - 40) * l.imbalance) / maxImbalance) + 4)
      .attr("y", CELL / 2 + 4)
      .text((l) => l.imbalance.toFixed(2));
    return svg.node()!;
  }
}
