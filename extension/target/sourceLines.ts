/**
 * Whether a workspace file is, line for line, the source the profiled program was built from: the
 * helper records where the build's DWARF puts each `ggml_compute_forward_*` definition and each
 * call of one from the op switch (header: libraries[].source_lines); a file that does not hold those
 * names at those lines has changed, even where no sample fell. Pure text work, shared with tests.
 */
import type { Profile } from "../profile/model";
import { librarySourceLines, type FunctionLine, type SourceFileLines } from "../profile/stream";
import { bestSuffixMatch, commonSuffixLength } from "./ggmlSource";

/** A recorded path is a workspace file when they share the file name and at least its directory. */
const MIN_SUFFIX = 2;

/** A recorded line the file does not hold: `text` is what the file has there (undefined: past its end). */
export interface LineMismatch {
  kind: "definition" | "call";
  line: number;
  function: string;
  text: string | undefined;
}

/**
 * The lines the profile recorded for the source file `file` (a workspace path), merged over its CPU
 * libraries: those of the header, and those the program loaded later (the trailer's late_libraries).
 */
export function recordedLines(profile: Profile, file: string): SourceFileLines | undefined {
  const recorded = allRecordedLines(profile);
  const match = bestSuffixMatch(file, [...new Set(recorded.map((lines) => lines.file))]);
  if (!match || commonSuffixLength(match, file) < MIN_SUFFIX) return undefined;
  const same = recorded.filter((lines) => lines.file === match);
  return { file: match, definitions: same.flatMap((lines) => lines.definitions), calls: same.flatMap((lines) => lines.calls) };
}

/** Every file's recorded lines, of the header's libraries and of the trailer's late_libraries. */
export function allRecordedLines(profile: Profile): SourceFileLines[] {
  const late = profile.trailer?.raw.late_libraries;
  return [...profile.header.libraries.flatMap((library) => library.source_lines), ...(Array.isArray(late) ? late.flatMap(librarySourceLines) : [])];
}

/** The recorded lines that `text` does not hold (the function's name, as a whole word, at the line), first lines first. */
export function checkRecordedLines(text: string, recorded: SourceFileLines): LineMismatch[] {
  const lines = text.split("\n");
  const misses = (kind: LineMismatch["kind"]) => (at: FunctionLine) => {
    const found = lines[at.line - 1];
    return found !== undefined && holdsName(found, at.function) ? [] : [{ kind, line: at.line, function: at.function, text: found }];
  };
  return [...recorded.definitions.flatMap(misses("definition")), ...recorded.calls.flatMap(misses("call"))].sort((a, b) => a.line - b.line);
}

function holdsName(line: string, name: string): boolean {
  let at = line.indexOf(name);
  while (at >= 0) {
    if (!isWordChar(line[at - 1]) && !isWordChar(line[at + name.length])) return true;
    at = line.indexOf(name, at + 1);
  }
  return false;
}

function isWordChar(c: string | undefined): boolean {
  return c !== undefined && /\w/.test(c);
}

/** One line for the user: which recorded line the file breaks, and how many do. */
export function mismatchSummary(mismatches: readonly LineMismatch[], total: number): string {
  const [first] = mismatches;
  const where = first.text === undefined ? "past the end of this file" : `not at line ${first.line} here`;
  const what = first.kind === "definition" ? `the definition of ${first.function}` : `the call of ${first.function}`;
  return `${mismatches.length} of ${total} lines the build's DWARF names differ, e.g. ${what} is ${where}`;
}
