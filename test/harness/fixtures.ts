// Paths of what `npm run setup` built, as `npm run fixtures` prints them. Each can be overridden
// (or supplied before setup has finished) by an environment variable.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export const REPO = path.resolve(__dirname, "..", "..");

export interface Fixtures {
  codeServer: string;
  chromium: string;
  llamaCompletion: string;
  tinyDense: string;
  /** The llama.cpp source tree the llama-completion fixture was built from. */
  ggmlSource: string;
}

const OVERRIDES: Record<keyof Fixtures, string> = {
  codeServer: "GGML_LENS_CODE_SERVER",
  chromium: "GGML_LENS_CHROMIUM",
  llamaCompletion: "GGML_LENS_LLAMA_COMPLETION",
  tinyDense: "GGML_LENS_TINY_DENSE",
  ggmlSource: "GGML_LENS_GGML_SOURCE",
};

/** What scripts/fixtures.mjs prints; every path may be missing before setup has run. */
export interface RecordedFixtures {
  cache?: string;
  llamaCompletion?: string;
  llamaBench?: string;
  llamaServer?: string;
  llamaLibDir?: string;
  ggmlSource?: string;
  prebuiltLibDir?: string;
  stockRunner?: string;
  codeServer?: string;
  chromium?: string;
  probeHelper?: string;
  models?: Record<string, string | undefined>;
  /** The same llama.cpp built with the BLAS and RPC backends too (setup's build-offload). */
  offload?: { llamaCompletion?: string; rpcServer?: string; libDir?: string };
}

export function recordedFixtures(): RecordedFixtures {
  try {
    const json = execFileSync(process.execPath, [path.join(REPO, "scripts", "fixtures.mjs")], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return JSON.parse(json) as RecordedFixtures;
  } catch {
    return {}; // no setup yet: the environment must say everything
  }
}

/** The fixtures the VS Code tests need; throws naming what is missing and how to get it. */
export function loadFixtures(): Fixtures {
  const recorded = recordedFixtures();
  const found: Record<keyof Fixtures, string | undefined> = {
    codeServer: recorded.codeServer,
    chromium: recorded.chromium,
    llamaCompletion: recorded.llamaCompletion,
    tinyDense: recorded.models?.tinyDense,
    ggmlSource: recorded.ggmlSource,
  };
  const fixtures = {} as Fixtures;
  const missing: string[] = [];
  for (const key of Object.keys(OVERRIDES) as (keyof Fixtures)[]) {
    const file = process.env[OVERRIDES[key]] ?? found[key];
    if (file && fs.existsSync(file)) fixtures[key] = file;
    else missing.push(`${key} (${file ?? "unknown"}; or set ${OVERRIDES[key]})`);
  }
  if (missing.length > 0) throw new Error(`missing test fixtures: ${missing.join(", ")}; run 'npm run setup'`);
  return fixtures;
}
