/** Opens the source that computes an op: its ggml_compute_forward_* kernel, else its case in the op switch. */
import * as vscode from "vscode";
import { kernelDefinitionLine, opCaseLine, opOfLabel } from "./opSource";

const CPU_SOURCES = "**/ggml-cpu/**/*.{c,cpp}";
const MAX_FILES = 200;

export async function revealOpSource(label: string): Promise<void> {
  const op = opOfLabel(label);
  const files = await vscode.workspace.findFiles(CPU_SOURCES, "**/node_modules/**", MAX_FILES);
  const found = (await firstMatch(files, (text) => kernelDefinitionLine(text, op))) ?? (await firstMatch(files, (text) => opCaseLine(text, op)));
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

async function firstMatch(files: vscode.Uri[], lineOf: (text: string) => number): Promise<{ uri: vscode.Uri; line: number } | undefined> {
  for (const uri of files) {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    const line = lineOf(text);
    if (line >= 0) return { uri, line };
  }
  return undefined;
}
