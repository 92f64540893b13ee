/**
 * The computation graph panel: the DAG of one graph structure, boxes coloured by the time their
 * spans took, layers (`blk.N`, `name-N`) collapsed into one box until clicked; clicking a node shows
 * its span statistics. Drawn as SVG with d3; every name is set with .text().
 */
import "@vscode-elements/elements/dist/vscode-button/index.js";
import { select } from "d3-selection";
import { interpolateYlOrRd } from "d3-scale-chromatic";
import type { GraphData, GraphNodeData, WebviewMessage } from "../protocol";
import { el, tableOf } from "../dom";
import { formatDuration } from "../timeline/scale";
import { layoutGraph, type Box, type GraphLayout } from "./layout";

const BOX_W = 168;
const BOX_H = 36;
const GAP_X = 16;
const GAP_Y = 26;
const MARGIN = 8;

export class GraphView {
  private data: GraphData | undefined;
  private expanded = new Set<number>();
  private selected: number | undefined;
  private readonly picker = el("select", { className: "structure" });
  private readonly summary = el("span", { className: "status" });
  private readonly canvas = el("div", { className: "graph-scroll" });
  private readonly details = el("div", { className: "details" });

  constructor(
    root: HTMLElement,
    private readonly post: (message: WebviewMessage) => void,
  ) {
    const expandAll = el("vscode-button", { textContent: "Expand all", secondary: true });
    expandAll.addEventListener("click", () => this.setExpanded(this.layers()));
    const collapseAll = el("vscode-button", { textContent: "Collapse all", secondary: true });
    collapseAll.addEventListener("click", () => this.setExpanded([]));
    this.picker.addEventListener("change", () => this.post({ type: "selectGraph", signature: this.picker.value }));
    root.replaceChildren(el("div", { className: "toolbar" }, [this.picker, expandAll, collapseAll, this.summary]), this.details, this.canvas);
  }

  show(data: GraphData): void {
    if (this.data?.signature !== data.signature) {
      this.expanded = new Set();
      this.selected = undefined;
    }
    this.data = data;
    this.picker.replaceChildren(
      ...data.structures.map((s) => el("option", { value: s.signature, textContent: `graph ${s.signature}: ${s.nodes} nodes, ${s.runs} runs`, selected: s.signature === data.signature })),
    );
    this.render();
  }

  private layers(): number[] {
    return [...new Set(this.data?.nodes.map((n) => n.layer).filter((l) => l >= 0))];
  }

  private setExpanded(layers: number[]): void {
    this.expanded = new Set(layers);
    this.render();
  }

  private render(): void {
    const data = this.data!;
    const layout = layoutGraph(data.nodes, this.expanded);
    const layers = this.layers().length;
    this.summary.textContent = `${data.nodes.length} nodes in ${layers} layers; ${layout.boxes.length} boxes shown (click a layer to open it, a node for its statistics)`;
    this.canvas.replaceChildren(this.svg(data.nodes, layout));
    this.renderDetails();
  }

  private svg(nodes: GraphNodeData[], layout: GraphLayout): SVGSVGElement {
    const maxNs = Math.max(1, ...layout.boxes.map((b) => boxTime(nodes, b)));
    const x = (b: Box): number => MARGIN + b.order * (BOX_W + GAP_X);
    const y = (b: Box): number => MARGIN + b.rank * (BOX_H + GAP_Y);
    const svg = select(document.createElementNS("http://www.w3.org/2000/svg", "svg"))
      .attr("class", "graph-svg")
      .attr("width", 2 * MARGIN + layout.width * (BOX_W + GAP_X))
      .attr("height", 2 * MARGIN + layout.ranks * (BOX_H + GAP_Y));
    svg
      .append("g")
      .selectAll("path")
      .data(layout.edges)
      .join("path")
      .attr("class", "graph-edge")
      .attr("d", ([from, to]) => {
        const a = layout.boxes[from];
        const b = layout.boxes[to];
        const [x1, y1, x2, y2] = [x(a) + BOX_W / 2, y(a) + BOX_H, x(b) + BOX_W / 2, y(b)];
        return `M${x1},${y1} C${x1},${(y1 + y2) / 2} ${x2},${(y1 + y2) / 2} ${x2},${y2}`;
      });
    const box = svg
      .append("g")
      .selectAll("g")
      .data(layout.boxes)
      .join("g")
      .attr("class", (b) => `graph-node${!b.collapsed && b.members[0] === this.selected ? " selected" : ""}`)
      .attr("data-id", (b) => b.id)
      .attr("transform", (b) => `translate(${x(b)},${y(b)})`)
      .on("click", (_event, b) => this.onClick(b));
    box
      .append("rect")
      .attr("width", BOX_W)
      .attr("height", BOX_H)
      .attr("rx", (b) => (b.collapsed ? 8 : 2))
      .attr("fill", (b) => interpolateYlOrRd(0.1 + 0.85 * (boxTime(nodes, b) / maxNs)));
    box.append("title").text((b) => this.boxTitle(nodes, b));
    box
      .append("text")
      .attr("x", 6)
      .attr("y", 14)
      .attr("fill", "#000")
      .text((b) => clip(b.collapsed ? `layer ${b.layer} (${b.members.length} nodes)` : nodes[b.members[0]].name || "(unnamed)"));
    box
      .append("text")
      .attr("x", 6)
      .attr("y", 29)
      .attr("fill", "#000")
      .text((b) => clip(b.collapsed ? formatDuration(boxTime(nodes, b)) : `${nodes[b.members[0]].op} · ${costText(nodes[b.members[0]])}`));
    return svg.node()!;
  }

  private boxTitle(nodes: GraphNodeData[], b: Box): string {
    if (b.collapsed) return `layer ${b.layer}: ${b.members.length} nodes, ${formatDuration(boxTime(nodes, b))} in spans; click to open`;
    const n = nodes[b.members[0]];
    return `${n.name}\n${n.op} ${n.type} [${n.shape}]\n${formatDuration(n.totalNs)} over ${n.calls} spans`;
  }

  private onClick(b: Box): void {
    if (b.collapsed) {
      this.expanded.add(b.layer);
      this.render();
      return;
    }
    this.selected = b.members[0];
    this.render();
  }

  private renderDetails(): void {
    const n = this.selected === undefined ? undefined : this.data?.nodes[this.selected];
    if (!n) {
      this.details.replaceChildren();
      return;
    }
    const reveal = el("vscode-button", { textContent: "Open the op's source" });
    reveal.addEventListener("click", () => this.post({ type: "revealOp", op: n.op }));
    const timeline = el("vscode-button", { textContent: "Show in the timeline", secondary: true });
    timeline.addEventListener("click", () => this.post({ type: "openTimeline", op: n.op }));
    const table = tableOf(
      ["node", "op", "type", "shape", "spans", "total", "mean", "longest"],
      [[`#${n.index} ${n.name}`, n.op, n.type, n.shape, String(n.calls), formatDuration(n.totalNs), formatDuration(n.meanNs), formatDuration(n.maxNs)]],
    );
    this.details.replaceChildren(table, el("div", { className: "toolbar" }, [reveal, timeline]));
  }
}

/** A node's time, or why it has none: views, reshapes and permutes are never computed. */
function costText(n: GraphNodeData): string {
  return n.calls ? formatDuration(n.totalNs) : "no spans";
}

function boxTime(nodes: GraphNodeData[], b: Box): number {
  return b.members.reduce((sum, i) => sum + nodes[i].totalNs, 0);
}

function clip(text: string, max = 24): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
