#!/usr/bin/env bash
# npm run package: the platform-specific VSIX (linux-x64) and the CLI's npm package, in dist/package/.
#
# Both are packed from staging folders, so that the helpers copied next to the bundled scripts
# never shadow bpf/build/ in the source tree (the CLI looks next to itself first):
#   VSIX: dist/{extension,cli,webview}.js, dist/webview.css, dist/ggml-lens-probe, dist/ggml-lens-machine,
#         node_modules/@lydell/node-pty and its linux-x64 prebuilt (dist/extension.js requires it),
#         media/, README.md, CHANGELOG.md, LICENSE; .vscodeignore keeps everything else out.
#   npm:  dist/cli.js (bin: ggml-lens) with the same two helpers, as package.json "files" says.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/dist/package
TARGET=linux-x64
VERSION=$(node -p 'require("./package.json").version')

fail() { echo "package: $*" >&2; exit 1; }

[ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || fail "builds the $TARGET VSIX only on Linux x86_64 (this is $(uname -s)-$(uname -m))"

node scripts/build.mjs
make -s -C bpf
HELPERS=(bpf/build/ggml-lens-probe bpf/build/ggml-lens-machine)

# The shipped helpers must run on current Debian, Ubuntu and Fedora without extra packages: glibc only.
for helper in "${HELPERS[@]}"; do
  needed=$(readelf -d "$helper" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | grep -vE '^(libc\.so\.6|ld-linux-x86-64\.so\.2)$' || true)
  [ -z "$needed" ] || fail "$helper needs shared libraries beyond glibc: $(echo "$needed" | tr '\n' ' '); link them statically (bpf/Makefile)"
done

PTY=node_modules/@lydell/node-pty
PTY_BINARY=node_modules/@lydell/node-pty-$TARGET
[ -f "$PTY/package.json" ] && [ -f "$PTY_BINARY/pty.node" ] || fail "$PTY and $PTY_BINARY are not installed: run npm ci"

rm -rf "$OUT"
mkdir -p "$OUT"

# Copies the repository's files named in "$@" into staging folder $1, keeping their paths.
stage() {
  local dir=$1
  shift
  mkdir -p "$dir/dist"
  cp -r --parents "$@" "$dir/"
  cp "${HELPERS[@]}" "$dir/dist/"
  # Their debug information serves only their own development.
  strip "$dir/dist/ggml-lens-probe" "$dir/dist/ggml-lens-machine"
}

# A package.json for a staging folder: the repository's, less what only development uses and the
# keys named in $2; dependencies keep those named in $3 (the rest is in the bundles).
write_manifest() {
  node -e '
    const [to, drop, keep] = process.argv.slice(1);
    const manifest = require("./package.json");
    for (const key of ["scripts", "devDependencies", "allowScripts", ...drop.split(",").filter(Boolean)]) delete manifest[key];
    const kept = Object.entries(manifest.dependencies ?? {}).filter(([name]) => keep.split(",").includes(name));
    if (kept.length > 0) manifest.dependencies = Object.fromEntries(kept);
    else delete manifest.dependencies;
    require("fs").writeFileSync(to, JSON.stringify(manifest, null, 2) + "\n");
  ' "$1" "$2" "${3:-}"
}

VSIX_STAGE=$OUT/stage-vsix
stage "$VSIX_STAGE" dist/extension.js dist/cli.js dist/webview.js dist/webview.css media README.md CHANGELOG.md LICENSE .vscodeignore "$PTY" "$PTY_BINARY"
# "files" goes (vsce refuses .vscodeignore and "files" together); node-pty is the one dependency
# left outside the bundles: vsce adds it from node_modules, and .vscodeignore picks its files.
write_manifest "$VSIX_STAGE/package.json" files @lydell/node-pty
VSIX=$OUT/ggml-lens-$TARGET-$VERSION.vsix
(cd "$VSIX_STAGE" && "$ROOT/node_modules/.bin/vsce" package --target "$TARGET" --allow-missing-repository --no-rewrite-relative-links --out "$VSIX" >/dev/null)

NPM_STAGE=$OUT/stage-npm
stage "$NPM_STAGE" dist/cli.js README.md CHANGELOG.md LICENSE
# The CLI is one bundle: it needs none of the extension's dependencies, nor its main script.
write_manifest "$NPM_STAGE/package.json" main
TARBALL=$(cd "$NPM_STAGE" && npm pack --silent --pack-destination "$OUT")

rm -rf "$VSIX_STAGE" "$NPM_STAGE"
echo "package: $VSIX ($(du -k "$VSIX" | cut -f1) KiB)"
echo "package: $OUT/$TARBALL ($(du -k "$OUT/$TARBALL" | cut -f1) KiB)"
