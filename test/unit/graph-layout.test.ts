// Layout of the computation graph panel (webview/graph/layout.ts), in Node.
import { test } from "node:test";
import assert from "node:assert/strict";
import { layoutGraph, type LayoutInput } from "../../webview/graph/layout";

/** embd -> layer 0 (a -> b) -> layer 1 (c -> d) -> out, with a skip edge from embd to out. */
const NODES: LayoutInput[] = [
  { inputs: [], layer: -1 }, // 0 embd
  { inputs: [0], layer: 0 }, // 1
  { inputs: [1], layer: 0 }, // 2
  { inputs: [2], layer: 1 }, // 3
  { inputs: [3, 2], layer: 1 }, // 4
  { inputs: [4, 0], layer: -1 }, // 5 out
];

test("collapsed layers become one box each, ranked by longest path, edges once", () => {
  const layout = layoutGraph(NODES, new Set());
  assert.deepEqual(
    layout.boxes.map((b) => [b.id, b.members, b.rank, b.order]),
    [
      ["n0", [0], 0, 0],
      ["L0", [1, 2], 1, 0],
      ["L1", [3, 4], 2, 0],
      ["n5", [5], 3, 0],
    ],
  );
  assert.deepEqual(layout.edges, [
    [0, 1],
    [1, 2],
    [2, 3],
    [0, 3],
  ]);
  assert.equal(layout.ranks, 4);
  assert.equal(layout.width, 1);
});

test("an expanded layer shows its nodes; boxes of one rank are ordered by graph position", () => {
  const layout = layoutGraph(NODES, new Set([1]));
  assert.deepEqual(
    layout.boxes.map((b) => [b.id, b.rank]),
    [
      ["n0", 0],
      ["L0", 1],
      ["n3", 2],
      ["n4", 3],
      ["n5", 4],
    ],
  );
  const wide = layoutGraph(
    [
      { inputs: [], layer: -1 },
      { inputs: [0], layer: -1 },
      { inputs: [0], layer: -1 },
      { inputs: [1, 2], layer: -1 },
    ],
    new Set(),
  );
  assert.deepEqual(
    wide.boxes.map((b) => [b.rank, b.order]),
    [
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 0],
    ],
  );
  assert.equal(wide.width, 2);
});
