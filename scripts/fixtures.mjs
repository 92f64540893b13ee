// Prints (or, with --write CACHE, records) one JSON object with the absolute paths of what
// `npm run setup` built: llama.cpp binaries (and the BLAS + RPC build's) and source, stock prebuilt libraries, models, code-server.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const cache =
  process.env.GGML_LENS_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "ggml-lens");
const fixturesFile = path.join(cache, "fixtures.json");
const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

function existing(p) {
  return p && fs.existsSync(p) ? p : undefined;
}

function collect() {
  const llamaDir = fs.readFileSync(path.join(cache, "llama.cpp.current"), "utf8").trim();
  const bin = path.join(llamaDir, "build", "bin");
  const offloadBin = path.join(llamaDir, "build-offload", "bin");
  const prebuilt = fs.readdirSync(cache).find((d) => d.startsWith("prebuilt-linux-x64-"));
  const codeServer = fs.readdirSync(cache).find((d) => d.startsWith("code-server-"));
  const manifest = JSON.parse(fs.readFileSync(path.join(cache, "models", "manifest.json"), "utf8"));
  return {
    cache,
    llamaCompletion: existing(path.join(bin, "llama-completion")),
    llamaBench: existing(path.join(bin, "llama-bench")),
    llamaServer: existing(path.join(bin, "llama-server")),
    llamaLibDir: bin,
    // The same source built with the BLAS and RPC backends too (setup's build_llama_offload).
    offload: {
      llamaCompletion: existing(path.join(offloadBin, "llama-completion")),
      rpcServer: existing(path.join(offloadBin, "ggml-rpc-server")),
      libDir: existing(offloadBin),
    },
    ggmlSource: path.join(llamaDir, "src"),
    prebuiltLibDir: prebuilt && existing(path.join(cache, prebuilt, "bins", "linux-x64")),
    stockRunner: prebuilt && existing(path.join(cache, prebuilt.replace("prebuilt-linux-x64-", "stock-runner-"))),
    codeServer: codeServer && existing(path.join(cache, codeServer, "node_modules", ".bin", "code-server")),
    chromium: existing("/usr/bin/chromium"),
    models: Object.fromEntries(Object.entries(manifest.models).map(([k, v]) => [k, v.path])),
  };
}

if (process.argv[2] === "--write") {
  const fixtures = collect();
  fs.writeFileSync(fixturesFile, JSON.stringify(fixtures, null, 2) + "\n");
} else {
  if (!fs.existsSync(fixturesFile)) {
    console.error(`ggml-lens: no fixtures at ${fixturesFile}; run 'npm run setup' first`);
    process.exit(1);
  }
  // The cache is shared by checkouts; the probe helper is this checkout's own build.
  const fixtures = JSON.parse(fs.readFileSync(fixturesFile, "utf8"));
  delete fixtures.probeHelper;
  const probeHelper = existing(path.join(repo, "bpf", "build", "ggml-lens-probe"));
  process.stdout.write(JSON.stringify({ ...fixtures, probeHelper }, null, 2) + "\n");
}
