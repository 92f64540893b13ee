/**
 * Level of detail for the timeline: turns the intervals of one lane that fall into the visible time
 * range into at most a few rectangles per pixel column. Intervals wide enough are drawn one by one;
 * narrower ones are merged into one-pixel columns whose opacity is the share of the column's time
 * they cover (exact, from prefix sums) and whose colour is the category running at the column's
 * middle. Visible intervals are found by binary search, and a column of merged intervals is skipped
 * in one binary search too, so a frame costs O(columns x log n + wide intervals), whatever n is.
 * No DOM: unit tests run it in Node.
 */

/** Non-overlapping intervals sorted by start: rows first .. first+count of the arrays. */
export interface LaneSource {
  start: Float64Array;
  end: Float64Array;
  category: ArrayLike<number>;
  first: number;
  count: number;
  /** cumulative[k] = total length of intervals first .. first+k-1 (count+1 entries). */
  cumulative: Float64Array;
  /** Row in the unfiltered table of each row here; absent when these are the table's own rows. */
  rows?: Uint32Array;
}

export interface Viewport {
  t0: number;
  t1: number;
  /** Pixels across t0 .. t1. */
  width: number;
}

/** Rectangles to draw on one lane: x and w in pixels; row -1 for a merged column. */
export class DrawList {
  length = 0;
  x: Float32Array;
  w: Float32Array;
  alpha: Float32Array;
  category: Int32Array;
  row: Int32Array;

  constructor(capacity = 4096) {
    this.x = new Float32Array(capacity);
    this.w = new Float32Array(capacity);
    this.alpha = new Float32Array(capacity);
    this.category = new Int32Array(capacity);
    this.row = new Int32Array(capacity);
  }

  clear(): void {
    this.length = 0;
  }

  push(x: number, w: number, alpha: number, category: number, row: number): void {
    if (this.length === this.x.length) this.grow();
    const k = this.length++;
    this.x[k] = x;
    this.w[k] = w;
    this.alpha[k] = alpha;
    this.category[k] = category;
    this.row[k] = row;
  }

  private grow(): void {
    const size = this.x.length * 2;
    const copy = <T extends Float32Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      b.set(a);
      return b;
    };
    this.x = copy(this.x, (n) => new Float32Array(n));
    this.w = copy(this.w, (n) => new Float32Array(n));
    this.alpha = copy(this.alpha, (n) => new Float32Array(n));
    this.category = copy(this.category, (n) => new Int32Array(n));
    this.row = copy(this.row, (n) => new Int32Array(n));
  }
}

/** First index in [lo, hi) with a[i] >= value (hi when none). */
export function lowerBound(a: ArrayLike<number>, value: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** lowerBound for a value expected near lo: doubles the step from lo, then bisects (O(log distance)). */
export function gallopLowerBound(a: ArrayLike<number>, value: number, lo: number, hi: number): number {
  let step = 1;
  let from = lo;
  while (from + step < hi && a[from + step] < value) {
    from += step;
    step *= 2;
  }
  return lowerBound(a, value, from, Math.min(hi, from + step + 1));
}

/** First index in [lo, hi) with a[i] > value (hi when none). */
export function upperBound(a: ArrayLike<number>, value: number, lo = 0, hi = a.length): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function cumulativeLengths(start: Float64Array, end: Float64Array, first: number, count: number): Float64Array {
  const cumulative = new Float64Array(count + 1);
  for (let k = 0; k < count; k++) cumulative[k + 1] = cumulative[k] + (end[first + k] - start[first + k]);
  return cumulative;
}

export function laneSource(start: Float64Array, end: Float64Array, category: ArrayLike<number>, first = 0, count = start.length): LaneSource {
  return { start, end, category, first, count, cumulative: cumulativeLengths(start, end, first, count) };
}

/** The subset of `lane` whose rows pass `keep`, in arrays of its own. */
export function filteredLane(lane: LaneSource, keep: (row: number) => boolean): LaneSource {
  const rows: number[] = [];
  for (let i = lane.first; i < lane.first + lane.count; i++) if (keep(lane.rows ? lane.rows[i] : i)) rows.push(i);
  const start = Float64Array.from(rows, (i) => lane.start[i]);
  const end = Float64Array.from(rows, (i) => lane.end[i]);
  const category = Int32Array.from(rows, (i) => lane.category[i]);
  return { ...laneSource(start, end, category), rows: Uint32Array.from(rows, (i) => (lane.rows ? lane.rows[i] : i)) };
}

/** Appends the rectangles of `lane` in `view` to `out`; intervals narrower than minPx are merged. */
export function layoutLane(lane: LaneSource, view: Viewport, out: DrawList, minPx = 1): void {
  const { start, end, category, cumulative } = lane;
  const last = lane.first + lane.count;
  const k = view.width / (view.t1 - view.t0);
  if (!(k > 0) || lane.count === 0) return;
  const rowOf = (i: number): number => (lane.rows ? lane.rows[i] : i);
  let i = Math.max(lane.first, upperBound(start, view.t0, lane.first, last) - 1);
  let nextColumn = -Infinity;
  while (i < last && start[i] < view.t1) {
    const x0 = (start[i] - view.t0) * k;
    const x1 = (end[i] - view.t0) * k;
    if (x1 <= 0) {
      i++;
      continue;
    }
    if (x1 - x0 >= minPx) {
      const left = Math.max(x0, 0);
      out.push(left, Math.min(x1, view.width) - left, 1, category[i], rowOf(i));
      i++;
      continue;
    }
    const column = Math.max(Math.floor(x0), nextColumn);
    if (column >= view.width) break;
    const columnStart = view.t0 + column / k;
    const columnEnd = view.t0 + (column + 1) / k;
    const j = Math.max(i + 1, gallopLowerBound(start, columnEnd, i, last));
    const covered =
      cumulative[j - lane.first] -
      cumulative[i - lane.first] -
      Math.max(0, columnStart - start[i]) -
      Math.max(0, end[j - 1] - columnEnd);
    const middle = Math.max(i, upperBound(start, (columnStart + columnEnd) / 2, i, j) - 1);
    out.push(column, 1, Math.min(1, Math.max(0, covered * k)), category[middle], -1);
    nextColumn = column + 1;
    i = end[j - 1] > columnEnd ? j - 1 : j;
  }
}

/**
 * The row of the interval under time t, or the nearest one within `tolerance` (time units);
 * -1 when none. The row is in the unfiltered table.
 */
export function intervalAt(lane: LaneSource, t: number, tolerance: number): number {
  const last = lane.first + lane.count;
  const i = upperBound(lane.start, t, lane.first, last) - 1;
  let best = -1;
  let bestDistance = tolerance;
  for (const c of [i, i + 1]) {
    if (c < lane.first || c >= last) continue;
    const distance = t < lane.start[c] ? lane.start[c] - t : t > lane.end[c] ? t - lane.end[c] : 0;
    if (distance <= bestDistance) {
      best = c;
      bestDistance = distance;
    }
  }
  return best < 0 ? -1 : lane.rows ? lane.rows[best] : best;
}
