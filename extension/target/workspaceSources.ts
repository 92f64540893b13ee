/**
 * Which workspace files are the profiled program's source: the DWARF paths of the profile's samples
 * matched by path suffix against the workspace's files, or, for a target without DWARF, the files
 * that define the `ggml_compute_forward_*` kernels of the ops that ran.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import type { Profile } from "../profile/model";
import { bestSuffixMatch, checkFrames, commonSuffixLength, profiledFiles, profiledFrames, type StaleCheck } from "./ggmlSource";

/** A match by suffix must share the file name and at least its directory. */
const MIN_SUFFIX = 2;
const EXCLUDE = "{**/node_modules/**,**/.git/**}";
const MAX_SCANNED_FILES = 5000;

export interface SourceMatch {
  /** Workspace file -> the profiled (DWARF) path it is, undefined when matched by symbol name. */
  files: Map<string, string | undefined>;
  /** How the files were found. */
  method: "dwarf-path" | "symbol-name" | "none";
}

/** The workspace files that are the profile's sources. */
export async function locateSources(profile: Profile): Promise<SourceMatch> {
  const byPath = await matchByPath(profiledFiles(profile));
  if (byPath.size > 0) return { files: byPath, method: "dwarf-path" };
  const bySymbol = await matchBySymbol(profile);
  return { files: bySymbol, method: bySymbol.size > 0 ? "symbol-name" : "none" };
}

async function matchByPath(profiled: string[]): Promise<Map<string, string | undefined>> {
  const files = new Map<string, string | undefined>();
  const byName = new Map<string, string[]>();
  for (const file of profiled) byName.set(path.basename(file), [...(byName.get(path.basename(file)) ?? []), file]);
  for (const [name, paths] of byName) {
    const found = (await vscode.workspace.findFiles(`**/${name}`, EXCLUDE, 50)).map((uri) => uri.fsPath);
    for (const profiledPath of paths) {
      const match = bestSuffixMatch(profiledPath, found);
      if (match && commonSuffixLength(match, profiledPath) >= MIN_SUFFIX) files.set(match, profiledPath);
    }
  }
  return files;
}

/** Files defining the kernel of an op that ran (`ggml_compute_forward_<op>`), for targets without DWARF. */
async function matchBySymbol(profile: Profile): Promise<Map<string, string | undefined>> {
  const kernels = profile.ops.filter((s) => !s.fused).map((s) => new RegExp(`^\\w[\\w\\s*]*\\bggml_compute_forward_${s.op.toLowerCase()}\\s*\\(`, "m"));
  const files = new Map<string, string | undefined>();
  if (kernels.length === 0) return files;
  for (const uri of await vscode.workspace.findFiles("**/*.{c,cpp}", EXCLUDE, MAX_SCANNED_FILES)) {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    if (text.includes("ggml_compute_forward_") && kernels.some((kernel) => kernel.test(text))) files.set(uri.fsPath, undefined);
  }
  return files;
}

/** How a document relates to the profile: the profiled path it is, and whether it still agrees. */
export interface DocumentSource {
  profiledPath: string | undefined;
  check: StaleCheck | undefined;
}

/** Relates `document` to `profile` by path suffix, and checks its text against the sampled frames. */
export function documentSource(profile: Profile, document: vscode.TextDocument): DocumentSource {
  const candidates = profiledFiles(profile);
  const profiledPath = bestProfiledPath(document.uri.fsPath, candidates);
  if (!profiledPath) return { profiledPath: undefined, check: undefined };
  const frames = profiledFrames(profile).filter((frame) => frame.file === profiledPath);
  return { profiledPath, check: checkFrames(document.getText(), frames) };
}

function bestProfiledPath(file: string, profiled: string[]): string | undefined {
  const match = bestSuffixMatch(file, profiled);
  return match && commonSuffixLength(match, file) >= MIN_SUFFIX ? match : undefined;
}

/** The workspace file a profiled path is, among `match`'s files. */
export function workspaceFileOf(match: SourceMatch, profiledPath: string): string | undefined {
  for (const [file, profiled] of match.files) if (profiled === profiledPath) return file;
  return undefined;
}
