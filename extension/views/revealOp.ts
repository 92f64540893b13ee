/**
 * Opens the source that computes an op: its ggml_compute_forward_* kernel (at the line the profiled
 * build's DWARF recorded, while the workspace file is still that source), else its case in the op
 * switch.
 */
import * as path from "node:path";
import * as vscode from "vscode";
import type { Profile } from "../profile/model";
import { bestSuffixMatch, commonSuffixLength } from "../target/ggmlSource";
import { allRecordedLines, checkRecordedLines, recordedLines } from "../target/sourceLines";
import { kernelDefinitionLine, opCaseLine, opOfLabel, recordedKernelDefinition } from "./opSource";

const CPU_SOURCES = "**/ggml-cpu/**/*.{c,cpp}";
const EXCLUDE = "**/node_modules/**";
const MAX_FILES = 200;
/** A recorded path is a workspace file when they share the file name and at least its directory. */
const MIN_SUFFIX = 2;

interface SourceLine {
  uri: vscode.Uri;
  line: number;
}

export async function revealOpSource(label: string, profile?: Profile): Promise<void> {
  const op = opOfLabel(label);
  const found = (profile && (await recordedDefinition(profile, op))) ?? (await searchedSource(op));
  if (!found) {
    void vscode.window.showInformationMessage(
      `GGML Lens: no source of ${op} in this workspace (looked for ggml_compute_forward_${op.toLowerCase()} and case GGML_OP_${op} under ggml-cpu/); open the llama.cpp tree to jump to it.`,
    );
    return;
  }
  const editor = await vscode.window.showTextDocument(found.uri, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  const position = new vscode.Position(found.line, 0);
  editor.selection = new vscode.Selection(position, position);
  editor.revealRange(new vscode.Range(position, position), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
}

/** The kernel's definition where the profile's DWARF lines put it, when the workspace file still holds all of them. */
async function recordedDefinition(profile: Profile, op: string): Promise<SourceLine | undefined> {
  const at = recordedKernelDefinition(allRecordedLines(profile), op);
  if (!at) return undefined;
  const candidates = (await vscode.workspace.findFiles(`**/${path.basename(at.file)}`, EXCLUDE, 50)).map((uri) => uri.fsPath);
  const file = bestSuffixMatch(at.file, candidates);
  if (!file || commonSuffixLength(file, at.file) < MIN_SUFFIX) return undefined;
  const recorded = recordedLines(profile, file);
  const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.file(file)));
  if (!recorded || checkRecordedLines(text, recorded).length > 0) return undefined;
  return { uri: vscode.Uri.file(file), line: at.line - 1 };
}

async function searchedSource(op: string): Promise<SourceLine | undefined> {
  const files = await vscode.workspace.findFiles(CPU_SOURCES, EXCLUDE, MAX_FILES);
  return (await firstMatch(files, (text) => kernelDefinitionLine(text, op))) ?? (await firstMatch(files, (text) => opCaseLine(text, op)));
}

async function firstMatch(files: vscode.Uri[], lineOf: (text: string) => number): Promise<SourceLine | undefined> {
  for (const uri of files) {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    const line = lineOf(text);
    if (line >= 0) return { uri, line };
  }
  return undefined;
}
