// Small statistics for the benchmark: median, quartiles and range of a list of numbers.

export interface Spread {
  n: number;
  median: number;
  q1: number;
  q3: number;
  min: number;
  max: number;
}

/** Quantile with linear interpolation between closest ranks (the common "type 7"). */
function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** Median, quartiles and range of the finite values; undefined when there are none. */
export function spread(values: Array<number | null | undefined>): Spread | undefined {
  const v = values.filter((x): x is number => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return {
    n: v.length,
    median: quantile(v, 0.5),
    q1: quantile(v, 0.25),
    q3: quantile(v, 0.75),
    min: v[0],
    max: v[v.length - 1],
  };
}

/** "1.234 (IQR 1.1-1.3, range 1.0-1.4, n=8)" with the given number formatter. */
export function describe(s: Spread | undefined, fmt: (x: number) => string): string {
  if (!s) return "n/a";
  return `${fmt(s.median)} (IQR ${fmt(s.q1)} to ${fmt(s.q3)}; range ${fmt(s.min)} to ${fmt(s.max)}; n=${s.n})`;
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
