/**
 * The timeline's search box: `op:NAME` keeps spans of that op (a fused group "A+B" counts for A and
 * B); any other text keeps spans whose op or tensor name contains it (case-insensitive).
 */
import type { SpanTable } from "../protocol";

export interface SpanFilter {
  /** The query, normalized, for display. */
  query: string;
  keep(row: number): boolean;
}

export function spanFilter(query: string, labels: string[], nodeNames: string[], spans: Pick<SpanTable, "label" | "node">): SpanFilter | null {
  const text = query.trim();
  if (!text) return null;
  const exact = /^op:\s*(.+)$/i.exec(text);
  const labelMatch = Uint8Array.from(labels, (label) => (exact ? opMatches(label, exact[1]) : contains(label, text)) ? 1 : 0);
  const nodeMatch = Uint8Array.from(nodeNames, (name) => (!exact && contains(name, text) ? 1 : 0));
  return {
    query: text,
    keep: (row) => labelMatch[spans.label[row]] === 1 || (spans.node[row] >= 0 && nodeMatch[spans.node[row]] === 1),
  };
}

function opMatches(label: string, op: string): boolean {
  const wanted = op.trim().toUpperCase();
  return label.toUpperCase() === wanted || label.toUpperCase().split("+").includes(wanted);
}

function contains(text: string, part: string): boolean {
  return text.toLowerCase().includes(part.toLowerCase());
}
