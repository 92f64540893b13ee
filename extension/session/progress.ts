/**
 * The live figures of a run, read from the probe helper's progress lines in the terminal output
 * (`ggml-lens-probe: progress decodes=N ops=N lost=N windows=N`, one a second). Pure.
 */

export interface RunFigures {
  /** llama_decode calls completed. */
  decodes: number;
  /** Op spans begun (op records written). */
  ops: number;
  lost: number;
  /** llama_decode calls per second over the last interval: tokens per second while generating. */
  tokensPerSecond: number | undefined;
}

const PROGRESS = /ggml-lens-probe: progress decodes=(\d+) ops=(\d+) lost=(\d+)/;

/** Feeds on terminal output as it comes (lines may be split across chunks). */
export class ProgressReader {
  figures: RunFigures = { decodes: 0, ops: 0, lost: 0, tokensPerSecond: undefined };
  private partial = "";
  private last: { decodes: number; at: number } | undefined;

  /** Reads `chunk`; returns true when it held a progress line (the figures changed). */
  push(chunk: string, nowMs: number): boolean {
    const lines = (this.partial + chunk).split(/\r?\n|\r/);
    this.partial = lines.pop() ?? "";
    let changed = false;
    for (const line of lines) changed = this.take(line, nowMs) || changed;
    return changed;
  }

  private take(line: string, nowMs: number): boolean {
    const match = PROGRESS.exec(line);
    if (!match) return false;
    const [decodes, ops, lost] = match.slice(1, 4).map(Number);
    const rate = this.last && nowMs > this.last.at ? ((decodes - this.last.decodes) * 1000) / (nowMs - this.last.at) : undefined;
    this.last = { decodes, at: nowMs };
    this.figures = { decodes, ops, lost, tokensPerSecond: rate };
    return true;
  }
}

/** `42 tok/s · 12,345 ops · 0 lost` */
export function figuresText(f: RunFigures): string {
  const number = new Intl.NumberFormat("en-US");
  const rate = f.tokensPerSecond === undefined ? "… tok/s" : `${f.tokensPerSecond.toFixed(0)} tok/s`;
  return `${rate} · ${number.format(f.ops)} ops · ${number.format(f.lost)} lost`;
}
