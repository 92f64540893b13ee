// Test workspaces: a copy of the ggml CPU backend's source from the llama.cpp tree the fixtures were
// built from, under the same relative path, so that the profile's DWARF paths match it by suffix.
import * as fs from "node:fs";
import * as path from "node:path";
import type { Fixtures } from "./fixtures";

/** Where the CPU backend's source lives in a llama.cpp tree. */
export const GGML_CPU_DIR = path.join("ggml", "src", "ggml-cpu");

/** Copies the C and C++ sources and headers of the CPU backend (not its subfolders) into `dir`. */
export function copyGgmlCpuSource(dir: string, fixtures: Fixtures): void {
  const from = path.join(fixtures.ggmlSource, GGML_CPU_DIR);
  const to = path.join(dir, GGML_CPU_DIR);
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    if (/\.(c|cpp|h)$/.test(name)) fs.copyFileSync(path.join(from, name), path.join(to, name));
  }
}
