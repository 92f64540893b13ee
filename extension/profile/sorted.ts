/** Search in ascending arrays (times, starts): one binary search for the model, its exports, the views and the benchmarks. */

/** Index of the last element <= `value` in ascending `sorted[from..to)`; `from - 1` when none. */
export function lastAtOrBefore(sorted: ArrayLike<number>, value: number, from = 0, to = sorted.length): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** The same over a list sorted by `key` (spans by their start): index of the last with key <= `value`, -1 when none. */
export function lastAtOrBeforeBy<T>(list: readonly T[], key: (item: T) => number, value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (key(list[mid]) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}
