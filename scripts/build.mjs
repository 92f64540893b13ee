// Bundles the extension host code, the CLI and the webviews with esbuild.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const common = { bundle: true, sourcemap: true, logLevel: "warning", minify: !watch };

const node = {
  ...common,
  outdir: "dist",
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode", "@lydell/node-pty"],
};

const builds = [
  { ...node, entryPoints: { extension: "extension/extension.ts" } },
  { ...node, entryPoints: { cli: "extension/cli.ts" }, banner: { js: "#!/usr/bin/env node" } },
  {
    ...common,
    entryPoints: { webview: "webview/main.ts" },
    outdir: "dist",
    platform: "browser",
    format: "iife",
    target: "es2022",
  },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
