/** The timeline's time axis: the visible range, zoom and pan within the recorded range, and ticks. */

const MIN_SPAN_NS = 100;

export class TimeScale {
  t0: number;
  t1: number;

  constructor(
    /** The recorded range, which the view never leaves. */
    readonly domainStart: number,
    readonly domainEnd: number,
    public width: number,
  ) {
    this.t0 = domainStart;
    this.t1 = Math.max(domainEnd, domainStart + MIN_SPAN_NS);
  }

  x(t: number): number {
    return ((t - this.t0) / (this.t1 - this.t0)) * this.width;
  }

  t(x: number): number {
    return this.t0 + (x / this.width) * (this.t1 - this.t0);
  }

  /** ns per pixel. */
  get resolution(): number {
    return (this.t1 - this.t0) / this.width;
  }

  /** Zooms by `factor` (> 1 zooms in) keeping the time under pixel x in place. */
  zoomAt(x: number, factor: number): void {
    const anchor = this.t(x);
    const span = Math.max(MIN_SPAN_NS, (this.t1 - this.t0) / factor);
    const share = x / this.width;
    this.set(anchor - share * span, anchor + (1 - share) * span);
  }

  /** Moves the view by `dx` pixels (positive: later times come into view). */
  panBy(dx: number): void {
    const dt = dx * this.resolution;
    this.set(this.t0 + dt, this.t1 + dt);
  }

  /** Shows [t0, t1], clamped to the recorded range. */
  set(t0: number, t1: number): void {
    const full = Math.max(this.domainEnd - this.domainStart, MIN_SPAN_NS);
    const span = Math.min(Math.max(t1 - t0, MIN_SPAN_NS), full);
    let from = t0;
    if (from < this.domainStart) from = this.domainStart;
    if (from + span > this.domainStart + full) from = this.domainStart + full - span;
    this.t0 = from;
    this.t1 = from + span;
  }

  reset(): void {
    this.set(this.domainStart, this.domainEnd);
  }

  /** Tick times at a 1-2-5 step giving about one tick per `spacingPx` pixels. */
  ticks(spacingPx = 100): { step: number; times: number[] } {
    const step = niceStep((this.t1 - this.t0) * (spacingPx / this.width));
    const times: number[] = [];
    for (let t = Math.ceil(this.t0 / step) * step; t <= this.t1; t += step) times.push(t);
    return { step, times };
  }
}

/** The smallest 1, 2 or 5 times a power of ten that is >= raw. */
export function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** A duration in ns as text with a unit: "850 ns", "12.5 µs", "3.20 ms", "1.50 s". */
export function formatDuration(ns: number): string {
  const abs = Math.abs(ns);
  if (abs < 1e3) return `${Math.round(ns)} ns`;
  if (abs < 1e6) return `${trim(ns / 1e3)} µs`;
  if (abs < 1e9) return `${trim(ns / 1e6)} ms`;
  return `${trim(ns / 1e9)} s`;
}

/** A tick's time in the unit of its magnitude, with as many decimals as the step between ticks needs. */
export function formatTick(ns: number, step: number): string {
  const [unit, name] = Math.abs(ns) >= 1e9 ? [1e9, "s"] : Math.abs(ns) >= 1e6 ? [1e6, "ms"] : Math.abs(ns) >= 1e3 ? [1e3, "µs"] : [1, "ns"];
  const decimals = Math.min(9, Math.max(0, -Math.floor(Math.log10(step / unit) + 1e-9)));
  return `${(ns / unit).toFixed(decimals)} ${name}`;
}

function trim(v: number): string {
  const abs = Math.abs(v);
  return v.toFixed(abs >= 100 ? 0 : abs >= 10 ? 1 : 2);
}
