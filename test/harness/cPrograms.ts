// Small C programs of test/fixtures/, compiled by the test that runs them (a second of cc each), so
// that a test never runs a stale build of its own fixture.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { REPO } from "./fixtures";

/** Compiles test/fixtures/`name`.c into `dir` with `flags` (include paths, libraries) and returns the program's path. */
export function buildFixtureProgram(name: string, dir: string, flags: string[] = []): string {
  const out = path.join(dir, name);
  const source = path.join(REPO, "test", "fixtures", `${name}.c`);
  const cc = spawnSync("cc", ["-O2", "-g", "-Wall", "-Wextra", "-Werror", "-o", out, source, ...flags], { encoding: "utf8" });
  if (cc.status !== 0) throw new Error(`cannot compile ${source}: ${cc.stderr || cc.error?.message}`);
  return out;
}
