/**
 * Where an op is computed in ggml's CPU backend source: the `ggml_compute_forward_<op>` definition,
 * else the `case GGML_OP_<OP>:` of the op switch; by the lines the profiled build's DWARF recorded,
 * or by text search. Pure: unit tests run it in Node.
 */
import type { SourceFileLines } from "../profile/stream";


/** The op an op label stands for: "RMS_NORM+MUL" (a fused group) is computed from its first op. */
export function opOfLabel(label: string): string {
  return label.split("+")[0].trim();
}

/** Where the profiled build's DWARF puts the op's kernel definition (`ggml_compute_forward_<op>`): file and 1-based line. */
export function recordedKernelDefinition(files: readonly SourceFileLines[], op: string): { file: string; line: number } | undefined {
  const name = `ggml_compute_forward_${op.toLowerCase()}`;
  for (const lines of files) {
    const definition = lines.definitions.find((d) => d.function === name);
    if (definition) return { file: lines.file, line: definition.line };
  }
  return undefined;
}

/** 0-based line of the op's kernel definition in `text`, or -1. */
export function kernelDefinitionLine(text: string, op: string): number {
  const name = `ggml_compute_forward_${op.toLowerCase()}`;
  const lines = text.split("\n");
  // A definition starts at column 0 (return type or name) and is not a declaration (no ';' on the line).
  const pattern = new RegExp(`^[A-Za-z_].*\\b${name}\\s*\\(`);
  return lines.findIndex((line) => pattern.test(line) && !line.trimEnd().endsWith(";"));
}

/** 0-based line of `case GGML_OP_<OP>:` in `text`, or -1. */
export function opCaseLine(text: string, op: string): number {
  const pattern = new RegExp(`\\bcase\\s+GGML_OP_${op.toUpperCase()}\\s*:`);
  return text.split("\n").findIndex((line) => pattern.test(line));
}
