#!/usr/bin/env bash
# `npm run demo`: the main job on the built-in default. Sets everything up, profiles llama.cpp
# generating text with the bundled synthetic model, prints the per-op report, then serves a real
# VS Code (code-server on 127.0.0.1) with the extension and the llama.cpp source as workspace,
# ggml-cpu.c open at its op costs. Ctrl-C stops it.
#   GGML_LENS_DEMO_OUT    where the profile goes (default ./demo.ggmlprof)
#   GGML_LENS_DEMO_PORT   the port (default 8080)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$(pwd)"
bash scripts/setup.sh
fixtures="$(node scripts/fixtures.mjs)"
field() { node -e 'const f=JSON.parse(process.argv[1]); console.log(process.argv[2].split(".").reduce((o,k)=>o[k],f))' "$fixtures" "$1"; }
out="${GGML_LENS_DEMO_OUT:-$(pwd)/demo.ggmlprof}"
node dist/cli.js record --mode full --sample-hz 199 --out "$out" -- \
  "$(field llamaCompletion)" -m "$(field models.tinyDense)" -p "The quick brown fox" -n 32 -no-cnv --temp 0 -t 2
node dist/cli.js report "$out"
echo "profile saved to $out (open it again with: node dist/cli.js report $out)"

# code-server keeps all its state in a temporary directory: nothing lands in ~.
source_tree="$(field ggmlSource)"
port="${GGML_LENS_DEMO_PORT:-8080}"
state="$(mktemp -d "${TMPDIR:-/tmp}/ggml-lens-demo-XXXXXX")"
mkdir -p "$state/user-data/User"
node -e '
  const [file, profile] = process.argv.slice(1);
  const settings = { "workbench.startupEditor": "none", "workbench.tips.enabled": false, "extensions.autoCheckUpdates": false,
    "extensions.autoUpdate": false, "ggmlLens.startupProfile": profile };
  require("fs").writeFileSync(file, JSON.stringify(settings, null, 2));' "$state/user-data/User/settings.json" "$out"
echo "{}" >"$state/config.yaml"
env XDG_CONFIG_HOME="$state/xdg-config" XDG_DATA_HOME="$state/xdg-data" XDG_CACHE_HOME="$state/xdg-cache" XDG_STATE_HOME="$state/xdg-state" \
  "$(field codeServer)" --bind-addr "127.0.0.1:$port" --auth none --disable-telemetry --disable-update-check \
  --disable-workspace-trust --user-data-dir "$state/user-data" --extensions-dir "$state/extensions" \
  --config "$state/config.yaml" "$source_tree" >"$state/code-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$state"' EXIT
trap 'exit 130' INT TERM
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$state/code-server.log"; echo "demo: code-server did not start (port $port taken? set GGML_LENS_DEMO_PORT)" >&2; exit 1; }
  sleep 0.2
done
url="$(node -e '
  const [port, folder, repo] = process.argv.slice(1);
  const url = new URL(`http://127.0.0.1:${port}/`);
  url.searchParams.set("folder", folder);
  url.searchParams.set("payload", JSON.stringify([["extensionDevelopmentPath", `vscode-remote://127.0.0.1:${port}${repo}`]]));
  console.log(url.href);' "$port" "$source_tree" "$repo")"
echo
echo "GGML Lens in VS Code: open $url"
echo "(ggml-cpu.c opens at its op costs; Ctrl-C stops the server)"
wait $server
