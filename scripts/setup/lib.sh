# Steps of scripts/setup.sh. Each step checks what is already there and does only what is missing.
# shellcheck shell=bash

CACHE="${GGML_LENS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ggml-lens}"
mkdir -p "$CACHE"

# Pinned inputs: versions and the registry's integrity hashes.
NODE_LLAMA_CPP_VERSION="3.21.1"
NODE_LLAMA_CPP_INTEGRITY="sha512-E3N0Ev2Va0wzydvXYFwM9Hvyo07PoWjt8T/9GMc43Cvt8YkV/NU/tYUgEMC1grTPv2o9PRjQi0G3Wb5P/awiMg=="
PREBUILT_PACKAGE="@node-llama-cpp/linux-x64"
PREBUILT_INTEGRITY="sha512-Totj6RTDMGo3FoK2yNUaz/oGmZD0olAqTrRluFUWmu0kW2i9TOzHSW0OWCAiGkzRCVX0WsU2CyUQo/W2NYtdPA=="
CODE_SERVER_VERSION="4.100.3"
CODE_SERVER_INTEGRITY="sha512-q/Fh2DOxCRNhC/WiG/6sAhSKnj7ZACTVBaeeZ+rWjol//0FCbl/qg1ln5ecZ99jYcfqMxZZAyWcN+YBIo0DgpA=="
LLAMA_TARGETS=(llama-bench llama-completion llama-server)
LLAMA_CMAKE_FLAGS=(
  -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGGML_NATIVE=ON -DGGML_OPENMP=OFF -DGGML_CCACHE=OFF
  -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
  -DLLAMA_CURL=OFF
)
# A second build of the same source with two more ggml backends, for real multi-backend runs on a
# CPU machine: BLAS (Debian's OpenBLAS; the scheduler moves large matrix products to it) and RPC
# (ggml-rpc-server runs offloaded layers in another process).
OFFLOAD_TARGETS=(llama-completion ggml-rpc-server)
OFFLOAD_CMAKE_FLAGS=("${LLAMA_CMAKE_FLAGS[@]}" -DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS -DGGML_RPC=ON)
# libbpf >= 1.4 (uprobe_multi links: many uprobes attached and detached in one go) and bpftool 7.5
# come from bookworm-backports on Debian 12; newer releases have them in their main suite.
BACKPORTS_PACKAGES=(libbpf-dev bpftool)
MIN_LIBBPF_VERSION="1:1.4"
APT_PACKAGES=(
  clang llvm libelf-dev libdw-dev zlib1g-dev pkg-config make cmake ninja-build
  git elfutils dwarves gdb linux-perf bpftrace chromium libkrb5-dev ripgrep procps libopenblas-dev
)

log() { printf '[setup] %s\n' "$*" >&2; }
die() {
  printf '[setup] error: %s\n' "$1" >&2
  [ $# -gt 1 ] && printf '[setup] fix: %s\n' "$2" >&2
  exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

check_platform() {
  [ "$(uname -s)" = Linux ] ||
    die "ggml-lens needs Linux (found $(uname -s)): it profiles with eBPF uprobes" \
      "run setup on a Linux machine (Debian 12 or newer), or in a Linux VM"
  case "$(uname -m)" in
    x86_64 | aarch64) ;;
    *) die "unsupported CPU architecture $(uname -m)" "use an x86_64 or aarch64 Linux machine" ;;
  esac
  local node_major
  node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  [ "$node_major" -ge 20 ] || die "Node.js 20 or newer is required (found: ${node_major})" \
    "install Node.js 20+ (for example from your distribution or nodejs.org)"
}

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || echo "$pkg"
  done
}

install_apt_packages() {
  command -v dpkg-query >/dev/null ||
    die "this machine has no dpkg/apt; setup installs Debian packages" \
      "install by hand the equivalents of: ${APT_PACKAGES[*]}"
  local missing
  missing="$(missing_apt_packages | tr '\n' ' ')"
  if [ -z "${missing// /}" ]; then
    log "Debian packages: all present"
    return
  fi
  command -v apt-get >/dev/null ||
    die "missing packages ($missing) and no apt-get to install them" "install them by hand"
  is_root || die "missing Debian packages: $missing; installing them needs root" \
    "run 'sudo apt-get install -y $missing' once, then 'npm run setup' again"
  log "installing Debian packages: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # shellcheck disable=SC2086
  apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

libbpf_is_recent() {
  local have
  have="$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null)" || return 1
  dpkg --compare-versions "$have" ge "$MIN_LIBBPF_VERSION" &&
    dpkg-query -W -f='${Status}' bpftool 2>/dev/null | grep -q 'install ok installed'
}

install_recent_libbpf() {
  if libbpf_is_recent; then
    log "libbpf/bpftool: recent enough"
    return
  fi
  is_root || die "libbpf-dev >= 1.4 and bpftool are needed; installing them needs root" \
    "on Debian 12: enable bookworm-backports and run 'sudo apt-get install -t bookworm-backports libbpf-dev bpftool'"
  local suite=""
  if grep -q '^12' /etc/debian_version 2>/dev/null; then
    suite=bookworm-backports
    if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
      log "enabling Debian's bookworm-backports suite for libbpf 1.4 / bpftool 7.5"
      printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        >/etc/apt/sources.list.d/bookworm-backports.sources
    fi
  fi
  log "installing ${BACKPORTS_PACKAGES[*]}${suite:+ from $suite}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${suite:+-t "$suite"} \
    "${BACKPORTS_PACKAGES[@]}" >/dev/null
  libbpf_is_recent || die "libbpf-dev is still older than 1.4 after the install" \
    "install libbpf-dev >= 1.4 and bpftool >= 7.5 from your distribution"
}

install_npm_packages() {
  local stamp="$REPO/node_modules/.ggml-lens-lock.sha256" want
  want="$(sha256sum "$REPO/package-lock.json" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    log "npm packages: up to date"
    return
  fi
  log "npm ci"
  (cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" >"$stamp"
}

mount_kernel_filesystems() {
  is_root || return 0
  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
}

# Fetches NAME@VERSION's tarball with `npm pack` into the cache and checks its integrity hash.
npm_pack_verified() {
  local spec="$1" integrity="$2" dir="$CACHE/npm" tarball
  mkdir -p "$dir"
  tarball="$dir/$(echo "$spec" | sed 's|^@||; s|/|-|; s|@|-|').tgz"
  if [ ! -f "$tarball" ] || [ "$(tarball_integrity "$tarball")" != "$integrity" ]; then
    log "fetching $spec from the npm registry"
    local tmp
    tmp="$(mktemp -d)"
    (cd "$tmp" && npm pack "$spec" --silent >/dev/null)
    mv "$tmp"/*.tgz "$tarball"
    rmdir "$tmp"
  fi
  [ "$(tarball_integrity "$tarball")" = "$integrity" ] ||
    die "$spec: integrity mismatch for $tarball" "delete it and run setup again; if it persists the registry copy changed"
  echo "$tarball"
}

tarball_integrity() { echo "sha512-$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }

llama_dir() {
  local tarball tag
  tarball="$(npm_pack_verified "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" "$NODE_LLAMA_CPP_INTEGRITY")"
  tag="$(tar -xzOf "$tarball" package/llama/llama.cpp.info.json | node -p 'JSON.parse(require("fs").readFileSync(0)).tag')"
  echo "$CACHE/llama.cpp-$tag|$tarball"
}

# llama_outputs BUILD TARGET...: the files a build made (its programs and shared libraries).
llama_outputs() {
  local build="$1" t
  shift
  for t in "$@"; do echo "$build/bin/$t"; done
  find "$build/bin" -maxdepth 1 -name 'lib*.so*' -type f | sort
}

# llama_build_is_intact DIR SUB FLAGS: DIR/SUB holds the outputs DIR/SUB.sha256 lists, built with FLAGS.
llama_build_is_intact() {
  local dir="$1" sub="$2" flags="$3"
  [ -f "$dir/$sub.sha256" ] && [ "$(cat "$dir/$sub.flags" 2>/dev/null)" = "$flags" ] &&
    (cd "$dir/$sub" && sha256sum --quiet -c "$dir/$sub.sha256" >/dev/null 2>&1)
}

# build_llama_variant DIR SUB WHAT FLAGS_ARRAY TARGETS_ARRAY: builds the targets of DIR/src in DIR/SUB
# with the flags, unless the cached build is intact; a damaged one rebuilds what is damaged.
build_llama_variant() {
  local dir="$1" sub="$2" what="$3"
  local -n flags="$4" targets="$5"
  if llama_build_is_intact "$dir" "$sub" "${flags[*]}"; then
    log "$what: cached build intact ($dir/$sub)"
    return
  fi
  if [ -f "$dir/$sub.sha256" ]; then
    log "$what: cached build is damaged or was built with other flags; rebuilding the damaged outputs"
    (cd "$dir/$sub" && sha256sum -c "$dir/$sub.sha256" 2>/dev/null | grep -v ': OK$' | cut -d: -f1 | xargs -r rm -f)
  fi
  rm -f "$dir/$sub.sha256"
  log "$what: building ${targets[*]} in $dir/$sub (first time: ~20 min on 2 cores)"
  cmake -S "$dir/src" -B "$dir/$sub" "${flags[@]}" >"$dir/$sub-cmake.log" 2>&1 ||
    die "$what: configure failed" "see $dir/$sub-cmake.log"
  nice -n 10 ninja -C "$dir/$sub" "${targets[@]}" >"$dir/$sub-ninja.log" 2>&1 ||
    die "$what: build failed" "see $dir/$sub-ninja.log"
  echo "${flags[*]}" >"$dir/$sub.flags"
  (cd "$dir/$sub" && llama_outputs "$dir/$sub" "${targets[@]}" | sed "s|^$dir/$sub/||" | xargs sha256sum) >"$dir/$sub.sha256"
}

prepare_llama_source() {
  local dir="$1" tarball="$2" extract
  if [ -f "$dir/src.ok" ] && git -C "$dir/src" rev-parse -q --verify HEAD >/dev/null 2>&1 &&
    [ "$(git -C "$dir/src" diff --stat | sha256sum)" = "$(cat "$dir/src.ok")" ]; then
    return
  fi
  log "unpacking llama.cpp source from node-llama-cpp@$NODE_LLAMA_CPP_VERSION"
  extract="$(mktemp -d)"
  tar -xzf "$tarball" -C "$extract" package/llama/gitRelease.bundle package/llama/patches
  rm -rf "$dir/src" "$dir/build" "$dir/build-offload"
  mkdir -p "$dir"
  git clone -q "$extract/package/llama/gitRelease.bundle" "$dir/src" 2>/dev/null
  local patch
  for patch in "$extract"/package/llama/patches/*.diff; do
    [ -f "$patch" ] && git -C "$dir/src" apply "$patch"
  done
  rm -rf "$extract"
  git -C "$dir/src" diff --stat | sha256sum >"$dir/src.ok"
}

build_llama_cpp() {
  local entry dir tarball
  entry="$(llama_dir)"
  dir="${entry%%|*}"
  tarball="${entry#*|}"
  prepare_llama_source "$dir" "$tarball"
  build_llama_variant "$dir" build llama.cpp LLAMA_CMAKE_FLAGS LLAMA_TARGETS
  echo "$dir" >"$CACHE/llama.cpp.current"
}

# The offload build (OFFLOAD_CMAKE_FLAGS) of the same source, in build-offload next to the main build.
build_llama_offload() {
  build_llama_variant "$(cat "$CACHE/llama.cpp.current")" build-offload "llama.cpp with BLAS and RPC" \
    OFFLOAD_CMAKE_FLAGS OFFLOAD_TARGETS
}

fetch_prebuilt_libs() {
  local tarball dir="$CACHE/prebuilt-linux-x64-$NODE_LLAMA_CPP_VERSION"
  [ "$(uname -m)" = x86_64 ] || return 0
  if [ -f "$dir/ok" ]; then
    log "prebuilt libraries: present"
    return
  fi
  tarball="$(npm_pack_verified "$PREBUILT_PACKAGE@$NODE_LLAMA_CPP_VERSION" "$PREBUILT_INTEGRITY")"
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -xzf "$tarball" -C "$dir" --strip-components=1
  touch "$dir/ok"
}

# A small llama.cpp program linked against the stock prebuilt libraries (no DWARF), for the
# "stock binary" tests: test/fixtures/stock-runner.c.
build_stock_runner() {
  local prebuilt="$CACHE/prebuilt-linux-x64-$NODE_LLAMA_CPP_VERSION/bins/linux-x64" src out tag
  [ -d "$prebuilt" ] || return 0
  src="$(cat "$CACHE/llama.cpp.current")/src"
  tag="$(basename "$(dirname "$src")")"
  tag="${tag#llama.cpp-}" # the prebuilt libraries are named after the llama.cpp release
  out="$CACHE/stock-runner-$NODE_LLAMA_CPP_VERSION"
  [ "$out" -nt "$REPO/test/fixtures/stock-runner.c" ] && return 0
  log "building the stock-library test program"
  cc -O2 -Wall -Wextra -o "$out" "$REPO/test/fixtures/stock-runner.c" -I"$src/include" -I"$src/ggml/include" \
    -L"$prebuilt" -l:libllama."$tag".so -l:libggml."$tag".so -l:libggml-base.so -Wl,-rpath,"$prebuilt" ||
    die "cannot build test/fixtures/stock-runner.c against $prebuilt"
}

install_code_server() {
  local dir="$CACHE/code-server-$CODE_SERVER_VERSION"
  if [ -x "$dir/node_modules/.bin/code-server" ] && [ -f "$dir/ok" ]; then
    log "code-server: present"
    return
  fi
  log "installing code-server@$CODE_SERVER_VERSION (a real VS Code for the tests, ~2 min)"
  rm -rf "$dir"
  mkdir -p "$dir/tmp"
  # code-server's postinstall downloads ripgrep unless it finds it in this cache: give it Debian's.
  local rg_cache="$dir/tmp/vscode-ripgrep-cache-1.15.11"
  mkdir -p "$rg_cache"
  tar -czf "$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C /usr/bin rg
  (cd "$dir" && echo '{"private":true}' >package.json &&
    TMPDIR="$dir/tmp" npm_config_yes=true npm install "code-server@$CODE_SERVER_VERSION" \
      --unsafe-perm --no-audit --no-fund --loglevel=error >"$dir/install.log" 2>&1) ||
    die "code-server install failed" "see $dir/install.log"
  grep -q "\"integrity\": \"$CODE_SERVER_INTEGRITY\"" "$dir/package-lock.json" ||
    die "code-server: integrity hash differs from the pinned one" "delete $dir and run setup again"
  rm -rf "$dir/tmp"
  touch "$dir/ok"
}

build_probe_helper() {
  [ -f "$REPO/bpf/Makefile" ] || return 0
  log "building the probe helper (bpf/)"
  make -s -C "$REPO/bpf" >&2
}

make_models() {
  local bench="$1" args=(--out "$CACHE/models")
  [ "$bench" = 1 ] && args+=(--bench)
  (cd "$REPO" && node_modules/.bin/tsx scripts/models/make-models.ts "${args[@]}")
}

build_bundles() {
  log "bundling extension, CLI and webviews"
  (cd "$REPO" && node scripts/build.mjs)
}

write_fixtures() {
  (cd "$REPO" && node scripts/fixtures.mjs --write "$CACHE")
}
