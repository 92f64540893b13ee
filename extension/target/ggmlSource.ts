/**
 * ggml source files as the views see them: where op costs go (the `case GGML_OP_*:` labels of the
 * CPU backend's op dispatch and the `ggml_compute_forward_*` definitions), which workspace file a
 * profile's DWARF path is, and whether a workspace file is still the source the profile was built
 * from. Pure text work: no `vscode` import, shared with tests.
 */
import type { Profile } from "../profile/model";

/** A line of a source file that gets an op's cost (0-based line). */
export interface OpAnchor {
  line: number;
  /** The op's name as the profile's header spells it (header.ops). */
  op: string;
  kind: "case" | "definition";
}

const CASE_LABEL = /^\s*case\s+GGML_OP_([A-Z0-9_]+)\s*:/;
const DISPATCH_CALL = /\bggml_compute_forward_\w+\s*\(/;
const FORWARD_DEFINITION = /^[A-Za-z_][\w\s*]*\bggml_compute_forward_(\w+)\s*\(/;

/**
 * The op anchors of `text`: each `case GGML_OP_X:` whose case body calls a `ggml_compute_forward_*`
 * kernel (the dispatch switch, not the other switches on ops) and each definition of
 * `ggml_compute_forward_x` where `X` is an op of `ops`. Ops not in `ops` get nothing.
 */
export function findOpAnchors(text: string, ops: readonly string[]): OpAnchor[] {
  const known = new Set(ops);
  const byLowerName = new Map(ops.map((op) => [op.toLowerCase(), op]));
  const lines = text.split("\n");
  const anchors: OpAnchor[] = [];
  for (let line = 0; line < lines.length; line++) {
    const label = CASE_LABEL.exec(lines[line]);
    if (label && known.has(label[1]) && caseBodyDispatches(lines, line)) anchors.push({ line, op: label[1], kind: "case" });
    const definition = FORWARD_DEFINITION.exec(lines[line]);
    const op = definition ? byLowerName.get(definition[1]) : undefined;
    if (op && isDefinition(lines, line)) anchors.push({ line, op, kind: "definition" });
  }
  return anchors;
}

/** Whether the body after a group of case labels starting at `line` calls an op kernel. */
function caseBodyDispatches(lines: string[], line: number): boolean {
  let i = line + 1;
  while (i < lines.length && CASE_LABEL.test(lines[i])) i++;
  for (; i < lines.length && i < line + 40; i++) {
    if (CASE_LABEL.test(lines[i]) || /^\s*default\s*:/.test(lines[i])) return false;
    if (DISPATCH_CALL.test(lines[i])) return true;
    if (/\bbreak\s*;/.test(lines[i])) return false;
  }
  return false;
}

/** Whether the declaration starting at `line` has a body (`{` comes before `;`). */
function isDefinition(lines: string[], line: number): boolean {
  for (let i = line; i < lines.length && i < line + 12; i++) {
    const brace = lines[i].indexOf("{");
    const semicolon = lines[i].indexOf(";");
    if (semicolon >= 0 && (brace < 0 || semicolon < brace)) return false;
    if (brace >= 0) return true;
  }
  return false;
}

// ---- matching the profile's paths to workspace files -------------------------------------------

function pathParts(file: string): string[] {
  return file.split(/[\\/]+/).filter((part) => part !== "" && part !== ".");
}

/** How many trailing path components `a` and `b` share. */
export function commonSuffixLength(a: string, b: string): number {
  const pa = pathParts(a);
  const pb = pathParts(b);
  let n = 0;
  while (n < pa.length && n < pb.length && pa[pa.length - 1 - n] === pb[pb.length - 1 - n]) n++;
  return n;
}

/**
 * The candidate that is `profiledPath` by suffix: the one sharing the most trailing components (the
 * file name at least); undefined when none has its file name or two share the same longest suffix.
 */
export function bestSuffixMatch(profiledPath: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestLength = 0;
  let tie = false;
  for (const candidate of candidates) {
    const n = commonSuffixLength(profiledPath, candidate);
    if (n > bestLength) [best, bestLength, tie] = [candidate, n, false];
    else if (n === bestLength && n > 0) tie = true;
  }
  return tie ? undefined : best;
}

// ---- what the profile's DWARF says about source lines ------------------------------------------

/** A source line the profile places inside a function (1-based line, as DWARF gives it). */
export interface SourceFrame {
  file: string;
  line: number;
  function: string;
}

/** Every frame of every symbolized sample: the sampled line and the call sites it was inlined at. */
export function profiledFrames(profile: Profile): SourceFrame[] {
  const frames: SourceFrame[] = [];
  for (const symbol of profile.trailer?.symbols ?? []) {
    const chain = [{ function: symbol.function ?? null, file: symbol.file ?? null, line: symbol.line ?? 0 }, ...(symbol.inline_callers ?? [])];
    for (const frame of chain) {
      if (frame.file && frame.function && frame.line > 0) frames.push({ file: frame.file, line: frame.line, function: frame.function });
    }
  }
  return frames;
}

/** The distinct source files the profile names (DWARF paths of its samples). */
export function profiledFiles(profile: Profile): string[] {
  return [...new Set(profiledFrames(profile).map((frame) => frame.file))];
}

/**
 * The plain name of a function as a definition spells it: DWARF and symbol decorations removed
 * ("f(int)" -> "f", "ns::C::f" -> "f", "f.isra.0" -> "f", "f(int)::{lambda()#1}::operator()" -> "f").
 */
export function plainFunctionName(name: string): string {
  const beforeArgs = name.split("(")[0];
  const last = beforeArgs.split("::").pop() ?? beforeArgs;
  return /^[A-Za-z_]\w*/.exec(last)?.[0] ?? last;
}

const DEFINITION_HEAD = /^(?!(?:if|for|while|switch|return|else|do|case|typedef|struct|enum|union)\b)[A-Za-z_][^;{}=#]*?\b([A-Za-z_]\w*)\s*\(/;

/** Top-level function definitions of `lines`: 0-based line and plain name, in order. */
export function functionDefinitions(lines: readonly string[]): { line: number; name: string }[] {
  const found: { line: number; name: string }[] = [];
  for (let line = 0; line < lines.length; line++) {
    const head = DEFINITION_HEAD.exec(lines[line]);
    if (head && isDefinition(lines as string[], line)) found.push({ line, name: head[1] });
  }
  return found;
}

export interface StaleCheck {
  /** Frames of this file whose line lies in the function DWARF names. */
  agreeing: number;
  /** Frames whose line lies in another function than the one DWARF names: the file changed. */
  disagreeing: SourceFrame[];
}

/**
 * Compares a workspace file with the profile's frames in it: a frame agrees when its line lies in
 * the definition of its function (the last top-level definition at or above it), and disagrees
 * when it lies in another function or past the end. Frames of functions the file does not define
 * at top level (methods, functions of headers) are not counted otherwise.
 */
export function checkFrames(text: string, frames: readonly SourceFrame[]): StaleCheck {
  const lines = text.split("\n");
  const definitions = functionDefinitions(lines);
  const defined = new Set(definitions.map((d) => d.name));
  const result: StaleCheck = { agreeing: 0, disagreeing: [] };
  for (const frame of frames) {
    const name = plainFunctionName(frame.function);
    if (frame.line > lines.length) result.disagreeing.push(frame);
    else if (!defined.has(name)) continue;
    else if (enclosingDefinition(definitions, frame.line - 1) === name) result.agreeing++;
    else result.disagreeing.push(frame);
  }
  return result;
}

function enclosingDefinition(definitions: { line: number; name: string }[], line: number): string | undefined {
  let found: string | undefined;
  for (const d of definitions) {
    if (d.line > line) break;
    found = d.name;
  }
  return found;
}

/** A file is stale when any profiled frame falls in another function than DWARF says. */
export function isStale(check: StaleCheck): boolean {
  return check.disagreeing.length > 0;
}
