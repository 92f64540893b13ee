/**
 * scripts/setup/lib.sh: what setup says on machines it cannot serve, and how it tells a damaged
 * cached llama.cpp build from an intact one. Runs the real shell functions with stand-ins for the
 * machine facts they read (uname, id, apt).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";

const lib = path.resolve(__dirname, "../../scripts/setup/lib.sh");

function runSetupShell(script: string, cache = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-setup-"))) {
  const run = spawnSync("bash", ["-c", `set -euo pipefail; REPO=/nonexistent; source "${lib}"; ${script}`], {
    encoding: "utf8",
    env: { ...process.env, GGML_LENS_CACHE: cache },
  });
  return { status: run.status, stderr: run.stderr };
}

test("setup on a non-Linux system names what is missing", () => {
  const r = runSetupShell('uname() { [ "$1" = -s ] && echo Darwin || echo arm64; }; check_platform');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /needs Linux \(found Darwin\)/);
  assert.match(r.stderr, /fix: run setup on a Linux machine/);
});

test("setup without root, with Debian packages missing, says which and how to install them", () => {
  const r = runSetupShell("id() { echo 1000; }; dpkg-query() { return 1; }; install_apt_packages");
  assert.equal(r.status, 1);
  assert.match(r.stderr, /missing Debian packages: clang .*installing them needs root/);
  assert.match(r.stderr, /fix: run 'sudo apt-get install -y clang/);
});

test("setup on a machine without dpkg/apt lists the packages to install by hand", () => {
  const r = runSetupShell('command() { [ "$2" = dpkg-query ] && return 1 || builtin command "$@"; }; install_apt_packages');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /no dpkg\/apt/);
  assert.match(r.stderr, /install by hand the equivalents of: clang/);
});

test("a damaged cached llama.cpp output is detected by its hash", () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-setup-"));
  const dir = path.join(cache, "llama.cpp-test");
  fs.mkdirSync(path.join(dir, "build", "bin"), { recursive: true });
  fs.writeFileSync(path.join(dir, "build", "bin", "llama-completion"), "a real binary");
  const record = 'echo "${LLAMA_CMAKE_FLAGS[*]}" > "$D/build.flags"; (cd "$D/build" && sha256sum bin/llama-completion) > "$D/build.sha256"';
  const check = 'llama_build_is_intact "$D" build "${LLAMA_CMAKE_FLAGS[*]}" && echo intact || echo damaged';
  const intact = spawnSync("bash", ["-c", `source "${lib}"; D="${dir}"; ${record}; ${check}`], { encoding: "utf8", env: { ...process.env, GGML_LENS_CACHE: cache } });
  assert.equal(intact.stdout.trim(), "intact");
  fs.appendFileSync(path.join(dir, "build", "bin", "llama-completion"), "flipped");
  const damaged = spawnSync("bash", ["-c", `source "${lib}"; D="${dir}"; ${check}`], { encoding: "utf8", env: { ...process.env, GGML_LENS_CACHE: cache } });
  assert.equal(damaged.stdout.trim(), "damaged");
});

test("the offload build is cached apart from the main one: its own outputs, hashes and flags", () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-setup-"));
  const dir = path.join(cache, "llama.cpp-test");
  fs.mkdirSync(path.join(dir, "build-offload", "bin"), { recursive: true });
  fs.writeFileSync(path.join(dir, "build-offload", "bin", "ggml-rpc-server"), "a real binary");
  fs.writeFileSync(path.join(dir, "build-offload", "bin", "libggml-blas.so"), "a real library");
  const shell = (script: string): string =>
    spawnSync("bash", ["-c", `source "${lib}"; D="${dir}"; ${script}`], { encoding: "utf8", env: { ...process.env, GGML_LENS_CACHE: cache } }).stdout.trim();
  const record = 'echo "${OFFLOAD_CMAKE_FLAGS[*]}" > "$D/build-offload.flags"; (cd "$D/build-offload" && llama_outputs "$D/build-offload" ggml-rpc-server | sed "s|^$D/build-offload/||" | xargs sha256sum) > "$D/build-offload.sha256"';
  const check = (flags: string) => `llama_build_is_intact "$D" build-offload "\${${flags}[*]}" && echo intact || echo damaged`;
  assert.equal(shell(`${record}; ${check("OFFLOAD_CMAKE_FLAGS")}`), "intact");
  assert.match(shell("cat \"$D/build-offload.sha256\""), /bin\/libggml-blas\.so/, "its libraries are hashed too");
  assert.equal(shell(check("LLAMA_CMAKE_FLAGS")), "damaged", "the main build's flags are not the offload build's");
  assert.equal(shell('echo "${OFFLOAD_CMAKE_FLAGS[*]}"').includes("-DGGML_BLAS=ON -DGGML_BLAS_VENDOR=OpenBLAS -DGGML_RPC=ON"), true);
  fs.appendFileSync(path.join(dir, "build-offload", "bin", "libggml-blas.so"), "flipped");
  assert.equal(shell(check("OFFLOAD_CMAKE_FLAGS")), "damaged");
});
