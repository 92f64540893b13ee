/**
 * Layout of the computation graph: nodes of a collapsed layer become one box, the boxes are ranked
 * by their longest path from the graph's inputs (rows, top to bottom) and ordered within a row by
 * their first node's position in the graph. No DOM: unit tests run it in Node.
 */

export interface LayoutInput {
  /** Indices of the nodes (in this list) each node reads. */
  inputs: number[];
  /** Layer number, -1 outside layers (never collapsed). */
  layer: number;
}

export interface Box {
  /** "n<index>" for a node, "L<layer>" for a collapsed layer. */
  id: string;
  /** Node indices inside (one for a node). */
  members: number[];
  layer: number;
  collapsed: boolean;
  rank: number;
  /** Position in its rank, from 0. */
  order: number;
}

export interface GraphLayout {
  boxes: Box[];
  /** Edges between boxes, by index in `boxes`, each once. */
  edges: [number, number][];
  ranks: number;
  /** Most boxes in one rank. */
  width: number;
}

export function layoutGraph(nodes: LayoutInput[], expanded: ReadonlySet<number>): GraphLayout {
  const boxOf = new Int32Array(nodes.length);
  const boxes: Box[] = [];
  const layerBox = new Map<number, number>();
  nodes.forEach((node, i) => {
    const collapse = node.layer >= 0 && !expanded.has(node.layer);
    const existing = collapse ? layerBox.get(node.layer) : undefined;
    if (existing !== undefined) {
      boxes[existing].members.push(i);
      boxOf[i] = existing;
      return;
    }
    boxOf[i] = boxes.push({ id: collapse ? `L${node.layer}` : `n${i}`, members: [i], layer: node.layer, collapsed: collapse, rank: 0, order: 0 }) - 1;
    if (collapse) layerBox.set(node.layer, boxOf[i]);
  });
  const edges = boxEdges(nodes, boxOf);
  const ranks = rankBoxes(boxes, edges);
  const width = orderWithinRanks(boxes);
  return { boxes, edges, ranks, width };
}

function boxEdges(nodes: LayoutInput[], boxOf: Int32Array): [number, number][] {
  const seen = new Set<number>();
  const edges: [number, number][] = [];
  nodes.forEach((node, to) => {
    for (const from of node.inputs) {
      const a = boxOf[from];
      const b = boxOf[to];
      if (a === b || seen.has(a * 1e6 + b)) continue;
      seen.add(a * 1e6 + b);
      edges.push([a, b]);
    }
  });
  return edges;
}

/**
 * Longest path from the inputs. Nodes come in computation order, so a node's inputs precede it,
 * but a collapsed layer can both feed and read a box between its members: such back edges are
 * ignored for ranking (a bounded number of passes).
 */
function rankBoxes(boxes: Box[], edges: [number, number][]): number {
  for (let pass = 0; pass < boxes.length; pass++) {
    let changed = false;
    for (const [from, to] of edges) {
      if (from < to && boxes[to].rank < boxes[from].rank + 1) {
        boxes[to].rank = boxes[from].rank + 1;
        changed = true;
      }
    }
    if (!changed) break;
  }
  return boxes.reduce((n, b) => Math.max(n, b.rank + 1), 0);
}

function orderWithinRanks(boxes: Box[]): number {
  const next = new Map<number, number>();
  for (const box of boxes) {
    box.order = next.get(box.rank) ?? 0;
    next.set(box.rank, box.order + 1);
  }
  return Math.max(0, ...next.values());
}
