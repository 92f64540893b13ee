#!/usr/bin/env bash
# `npm run demo`: the main job on the built-in default. Sets everything up, profiles llama.cpp
# generating text with the bundled synthetic model, and prints the per-op report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
fixtures="$(node scripts/fixtures.mjs)"
field() { node -e 'const f=JSON.parse(process.argv[1]); console.log(process.argv[2].split(".").reduce((o,k)=>o[k],f))' "$fixtures" "$1"; }
out="${GGML_LENS_DEMO_OUT:-$(pwd)/demo.ggmlprof}"
node dist/cli.js record --mode full --out "$out" -- \
  "$(field llamaCompletion)" -m "$(field models.tinyDense)" -p "The quick brown fox" -n 32 -no-cnv --temp 0 -t 2
node dist/cli.js report "$out"
echo "profile saved to $out (open it again with: node dist/cli.js report $out)"
