#!/usr/bin/env bash
# `npm test`: setup (idempotent, cached), type check, lint, then every suite under one
# node:test run so that one summary line closes the output and any failure exits non-zero.
#   unit/            pure TypeScript
#   integration/     real eBPF on the real llama.cpp (root)
#   extension-host/  mocha inside a real VS Code (code-server + Chromium)
#   e2e/             the workbench driven from a browser
#   webview/         the webview panels in a real VS Code on real recordings
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
npm run --silent typecheck
npm run --silent lint
shopt -s nullglob
suites=(test/unit/*.test.ts test/integration/*.test.ts test/extension-host/*.test.ts test/e2e/*.test.ts test/webview/*.test.ts)
exec node --import tsx --test --test-concurrency=1 --test-reporter=spec "${suites[@]}"
