/**
 * Rasterizes the timeline's rows into one pixel buffer (RGBA, one u32 per pixel, little-endian as
 * every browser's ImageData is on the machines VS Code runs on), put on the canvas at once: a frame
 * then costs one putImageData instead of a canvas call per rectangle and a read-back per row.
 * No DOM: unit tests run it in Node.
 */
import type { DrawList } from "./lod";

/** An opaque colour as the u32 of an RGBA pixel. */
export function packRgb(r: number, g: number, b: number): number {
  return ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

export class PixelBuffer {
  pixels: Uint32Array;

  constructor(
    /** Device pixels. */
    public width: number,
    public height: number,
    buffer?: ArrayBufferLike,
  ) {
    this.pixels = new Uint32Array(buffer ?? new ArrayBuffer(width * height * 4));
  }

  fill(color: number): void {
    this.pixels.fill(color);
  }

  /** Fills columns x0 .. x1 (exclusive) of lines y0 .. y1 (exclusive). */
  fillRect(x0: number, x1: number, y0: number, y1: number, color: number): void {
    const from = Math.max(0, x0);
    const to = Math.min(this.width, x1);
    if (to <= from) return;
    for (let y = Math.max(0, y0), end = Math.min(this.height, y1); y < end; y++) this.pixels.fill(color, y * this.width + from, y * this.width + to);
  }

  /**
   * Blends `color` at opacity `alpha` over columns x0 .. x1 of lines y0 .. y1. A row's pixels are
   * alike down each column (every rectangle spans the row's height), so each column blends once.
   */
  blendColumns(x0: number, x1: number, y0: number, y1: number, color: number, alpha: number): void {
    const from = Math.max(0, x0);
    const to = Math.min(this.width, x1);
    const top = Math.max(0, y0);
    const bottom = Math.min(this.height, y1);
    if (to <= from || bottom <= top) return;
    const keep = 1 - alpha;
    const r = (color & 0xff) * alpha;
    const g = ((color >>> 8) & 0xff) * alpha;
    const b = ((color >>> 16) & 0xff) * alpha;
    const pixels = this.pixels;
    for (let x = from; x < to; x++) {
      const under = pixels[top * this.width + x];
      const blended = packRgb(Math.round(r + (under & 0xff) * keep), Math.round(g + ((under >>> 8) & 0xff) * keep), Math.round(b + ((under >>> 16) & 0xff) * keep));
      for (let y = top; y < bottom; y++) pixels[y * this.width + x] = blended;
    }
  }
}

/**
 * Draws one row's rectangles (CSS pixels, scaled by `ratio` to device pixels) at CSS y .. y+h:
 * merged one-pixel columns blended by their opacity, wide rectangles opaque with a one-pixel gap
 * before their neighbour when wider than 4 pixels.
 */
export function rasterizeRow(target: PixelBuffer, list: DrawList, y: number, h: number, ratio: number, colorOf: (category: number) => number): void {
  const y0 = Math.round(y * ratio);
  const y1 = Math.round((y + h) * ratio);
  for (let k = 0; k < list.length; k++) {
    const x = list.x[k];
    if (list.row[k] < 0) {
      target.blendColumns(Math.round(x * ratio), Math.round((x + 1) * ratio), y0, y1, colorOf(list.category[k]), list.alpha[k]);
      continue;
    }
    const w = list.w[k] > 4 ? list.w[k] - 1 : list.w[k];
    const x0 = Math.round(x * ratio);
    target.fillRect(x0, Math.max(x0 + 1, Math.round((x + w) * ratio)), y0, y1, colorOf(list.category[k]));
  }
}
