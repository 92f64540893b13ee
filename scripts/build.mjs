// Bundles the extension host code, the CLI and the webviews with esbuild.
import * as esbuild from "esbuild";

const watch = process.argv.includes("--watch");
const common = { bundle: true, sourcemap: true, logLevel: "warning", minify: !watch };

/**
 * One namespace object for `vscode`: esbuild copies an external CommonJS module's properties into a
 * fresh namespace for every module that imports it (16 copies of ~200 names at activation, ~10 ms);
 * re-exported by one ES module, they are copied once.
 */
const vscodeOnce = {
  name: "vscode-once",
  setup(build) {
    build.onResolve({ filter: /^vscode$/ }, (args) =>
      args.namespace === "vscode-once" ? { path: "vscode", external: true } : { path: "vscode", namespace: "vscode-once" },
    );
    build.onLoad({ filter: /.*/, namespace: "vscode-once" }, () => ({ contents: 'export * from "vscode";', loader: "js" }));
  },
};

const node = {
  ...common,
  outdir: "dist",
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode", "@lydell/node-pty"],
  plugins: [vscodeOnce],
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
