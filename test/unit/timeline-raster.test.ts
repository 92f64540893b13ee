// The timeline's rasterizer (webview/timeline/raster.ts), in Node: rows drawn into one pixel buffer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DrawList, laneSource, layoutLane } from "../../webview/timeline/lod";
import { packRgb, PixelBuffer, rasterizeRow } from "../../webview/timeline/raster";

const BACKGROUND = packRgb(30, 30, 30);
const COLORS = [packRgb(200, 0, 0), packRgb(0, 100, 250)];

function rgb(pixel: number): [number, number, number] {
  return [pixel & 0xff, (pixel >>> 8) & 0xff, (pixel >>> 16) & 0xff];
}

test("packRgb: the bytes of an opaque RGBA pixel, read as a little-endian u32", () => {
  const pixel = new Uint32Array([packRgb(1, 2, 3)]);
  assert.deepEqual(Array.from(new Uint8Array(pixel.buffer)), [1, 2, 3, 255]);
});

test("a row: wide spans opaque with a one-pixel gap, merged columns blended by their share of time", () => {
  const list = new DrawList(2);
  list.push(2, 10, 1, 0, 0); // a wide span, x 2 .. 12: drawn 2 .. 11, then the gap
  list.push(12, 3, 1, 1, 1); // a narrow wide span, no gap: 12 .. 15
  list.push(20, 1, 0.25, 1, -1); // a merged column, a quarter covered
  const target = new PixelBuffer(24, 10);
  target.fill(BACKGROUND);
  rasterizeRow(target, list, 4, 3, 1, (c) => COLORS[c]);
  const line = (y: number): number[] => Array.from(target.pixels.subarray(y * 24, (y + 1) * 24));
  const expected = new Array<number>(24).fill(BACKGROUND);
  for (let x = 2; x < 11; x++) expected[x] = COLORS[0];
  for (let x = 12; x < 15; x++) expected[x] = COLORS[1];
  expected[20] = packRgb(Math.round(0.75 * 30), Math.round(0.25 * 100 + 0.75 * 30), Math.round(0.25 * 250 + 0.75 * 30));
  for (const y of [4, 5, 6]) assert.deepEqual(line(y), expected, `line ${y}`);
  for (const y of [0, 3, 7, 9]) assert.deepEqual(line(y), new Array<number>(24).fill(BACKGROUND), `line ${y} is outside the row`);
});

test("device pixels: a ratio of 2 doubles every rectangle; nothing is drawn outside the buffer", () => {
  const list = new DrawList();
  list.push(1, 2, 1, 0, 0);
  list.push(-3, 5, 1, 1, 3);
  list.push(9, 4, 1, 1, 4);
  const target = new PixelBuffer(20, 8);
  target.fill(BACKGROUND);
  rasterizeRow(target, list, 1, 2, 2, (c) => COLORS[c]);
  const top = Array.from(target.pixels.subarray(0, 20));
  assert.deepEqual(top, new Array<number>(20).fill(BACKGROUND));
  const row = Array.from(target.pixels.subarray(2 * 20, 3 * 20)).map((p) => (p === BACKGROUND ? "." : p === COLORS[0] ? "a" : "b"));
  assert.equal(row.join(""), "bbaaaa............bb");
  assert.deepEqual(rgb(target.pixels[6 * 20 - 1]), rgb(COLORS[1]));
  assert.deepEqual(rgb(target.pixels[6 * 20]), rgb(BACKGROUND), "the line below the row");
});

test("a zoomed-out lane of 100k spans: every merged column's colour is the exact blend of its coverage", () => {
  const n = 100_000;
  const start = Float64Array.from({ length: n }, (_, i) => i * 10);
  const end = Float64Array.from(start, (s, i) => s + (i % 2 ? 2 : 6));
  const lane = laneSource(start, end, new Int32Array(n));
  const list = new DrawList();
  layoutLane(lane, { t0: 0, t1: n * 10, width: 500 }, list);
  const target = new PixelBuffer(500, 4);
  target.fill(packRgb(0, 0, 0));
  rasterizeRow(target, list, 0, 4, 1, () => packRgb(200, 100, 40));
  // Every column covers 200 spans, 40% of its time: the colour at 40% over black.
  for (let x = 0; x < 500; x++) assert.deepEqual(rgb(target.pixels[x]), [80, 40, 16], `column ${x}`);
});
