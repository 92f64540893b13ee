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

/** A seeded generator of uniform numbers in [0, 1) (mulberry32): the same report from the same numbers. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The 95% percentile-bootstrap interval of `statistic` over samples drawn with replacement from
 * each list on its own (undefined when a list has fewer than two values).
 */
export function bootstrapInterval(lists: number[][], statistic: (...resampled: number[][]) => number, rounds = 4000): [number, number] | undefined {
  if (lists.some((l) => l.length < 2)) return undefined;
  const random = seededRandom(1);
  const draws: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const resampled = lists.map((l) => l.map(() => l[Math.floor(random() * l.length)]));
    draws.push(statistic(...resampled));
  }
  draws.sort((a, b) => a - b);
  return [quantile(draws, 0.025), quantile(draws, 0.975)];
}

export function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
