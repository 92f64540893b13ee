/** The op table of a selected time range: time of each op inside the range, over all lanes. */
import { upperBound, type LaneSource } from "./lod";

export interface RangeRow {
  label: number;
  /** Spans that overlap the range. */
  calls: number;
  /** Time of those spans inside the range, summed over threads (ns). */
  totalNs: number;
  share: number;
}

export function rangeTable(lanes: LaneSource[], from: number, to: number): RangeRow[] {
  const byLabel = new Map<number, { calls: number; totalNs: number }>();
  let total = 0;
  for (const lane of lanes) {
    const last = lane.first + lane.count;
    for (let i = Math.max(lane.first, upperBound(lane.start, from, lane.first, last) - 1); i < last && lane.start[i] < to; i++) {
      const inside = Math.min(lane.end[i], to) - Math.max(lane.start[i], from);
      if (inside <= 0) continue;
      const row = byLabel.get(lane.category[i]) ?? { calls: 0, totalNs: 0 };
      row.calls++;
      row.totalNs += inside;
      byLabel.set(lane.category[i], row);
      total += inside;
    }
  }
  return [...byLabel.entries()]
    .map(([label, r]) => ({ label, calls: r.calls, totalNs: r.totalNs, share: total > 0 ? r.totalNs / total : 0 }))
    .sort((a, b) => b.totalNs - a.totalNs || a.label - b.label);
}
