#!/usr/bin/env bash
# One-command setup for ggml-lens: system packages, npm packages, llama.cpp built from the
# npm registry's source bundle (and again with the BLAS and RPC backends), the stock prebuilt
# libraries, a real VS Code (code-server), the probe helper, and synthetic GGUF models.
# Idempotent; heavy things are cached outside the repo.
#   npm run setup                     everything tests and the demo need
#   npm run setup -- --bench-models   also the 1B-class benchmark models
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=setup/lib.sh
source "$REPO/scripts/setup/lib.sh"

BENCH_MODELS=0
for arg in "$@"; do
  case "$arg" in
    --bench-models) BENCH_MODELS=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$arg'" "run 'npm run setup -- --help' for the options" ;;
  esac
done

check_platform
install_apt_packages
install_recent_libbpf
install_npm_packages
mount_kernel_filesystems
build_llama_cpp
build_llama_offload
fetch_prebuilt_libs
build_stock_runner
install_code_server
build_probe_helper
make_models "$BENCH_MODELS"
build_bundles
write_fixtures
log "setup complete (cache: $CACHE)"
