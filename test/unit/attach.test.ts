import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { findGgmlProcesses, ggmlLibraries } from "../../extension/session/ggmlProcesses";
import { cannotProfileReason } from "../../extension/session/platform";

const MAPS = [
  "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1 /opt/llama/bin/llama-server",
  "7f0000000000-7f0000100000 r-xp 00000000 08:01 2 /opt/llama/bin/libggml-base.so",
  "7f0000100000-7f0000200000 r-xp 00000000 08:01 3 /opt/llama/bin/libggml-cpu-haswell.so",
  "7f0000200000-7f0000300000 r--p 00100000 08:01 3 /opt/llama/bin/libggml-cpu-haswell.so",
  "7f0000300000-7f0000400000 r-xp 00000000 08:01 4 /opt/llama/bin/libllama.so.0.0.1 (deleted)",
  "7f0000400000-7f0000500000 r-xp 00000000 08:01 5 /usr/lib/x86_64-linux-gnu/libc.so.6",
  "7f0000500000-7f0000600000 r-xp 00000000 08:01 6 /opt/my ggml app/libggml.so",
  "7f0000600000-7f0000700000 rw-p 00000000 00:00 0 [heap]",
  "7f0000700000-7f0000800000 r-xp 00000000 08:01 7 /opt/llama/bin/libggml-base.so.bak",
  "",
].join("\n");

test("ggml libraries are picked out of a memory map by file name, once each, paths with spaces included", () => {
  assert.deepEqual(ggmlLibraries(MAPS), ["libggml-base.so", "libggml-cpu-haswell.so", "libggml.so", "libllama.so.0.0.1"]);
  assert.deepEqual(ggmlLibraries("7f0000400000-7f0000500000 r-xp 00000000 08:01 5 /usr/lib/libc.so.6\n"), []);
});

/** A /proc-like tree: one directory per process with maps, cmdline and status. */
function fakeProc(processes: Record<string, { maps: string; cmdline: string[]; uid: number }>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-proc-"));
  for (const [pid, p] of Object.entries(processes)) {
    const dir = path.join(root, pid);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "maps"), p.maps);
    fs.writeFileSync(path.join(dir, "cmdline"), p.cmdline.map((word) => `${word}\0`).join(""));
    fs.writeFileSync(path.join(dir, "status"), `Name:\tx\nUid:\t${p.uid}\t${p.uid}\t${p.uid}\t${p.uid}\nGid:\t0\t0\t0\t0\n`);
  }
  fs.mkdirSync(path.join(root, "self"));
  fs.writeFileSync(path.join(root, "uptime"), "1 1\n");
  return root;
}

test("processes that map a ggml library are listed with command line, user and libraries; others are not", (t) => {
  const root = fakeProc({
    "4242": { maps: MAPS, cmdline: ["/opt/llama/bin/llama-server", "-m", "my model.gguf"], uid: 1000 },
    "17": { maps: "7f0000400000-7f0000500000 r-xp 00000000 08:01 5 /usr/lib/libc.so.6\n", cmdline: ["sleep", "9"], uid: 0 },
    "99": { maps: MAPS, cmdline: [], uid: 4321 },
  });
  const passwd = path.join(root, "passwd");
  fs.writeFileSync(passwd, "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n");
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const scan = findGgmlProcesses({ procRoot: root, passwd });
  assert.equal(scan.unreadable, 0);
  assert.deepEqual(scan.processes, [
    { pid: 99, command: "[pid 99]", user: "4321", uid: 4321, libraries: ggmlLibraries(MAPS) },
    { pid: 4242, command: "/opt/llama/bin/llama-server -m my model.gguf", user: "alice", uid: 1000, libraries: ggmlLibraries(MAPS) },
  ]);
});

test("processes whose memory map this user may not read are counted, not listed", { skip: process.getuid?.() !== 0 && "needs root to run the scan as another user" }, (t) => {
  const root = fakeProc({
    "10": { maps: MAPS, cmdline: ["llama-server"], uid: 0 },
    "11": { maps: MAPS, cmdline: ["llama-cli"], uid: 65534 },
  });
  fs.chmodSync(root, 0o755);
  fs.chmodSync(path.join(root, "10", "maps"), 0o600);
  fs.chmodSync(path.join(root, "11", "maps"), 0o644);
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const script = `const { findGgmlProcesses } = require(${JSON.stringify(path.resolve(__dirname, "../../extension/session/ggmlProcesses.ts"))});
    process.stdout.write(JSON.stringify(findGgmlProcesses({ procRoot: ${JSON.stringify(root)} })));`;
  const run = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "--import", "tsx", "-e", script], {
    encoding: "utf8",
    cwd: path.resolve(__dirname, "../.."),
  });
  assert.equal(run.status, 0, run.stderr);
  const scan = JSON.parse(run.stdout) as ReturnType<typeof findGgmlProcesses>;
  assert.equal(scan.unreadable, 1);
  assert.deepEqual(scan.processes.map((p) => p.pid), [11]);
});

test("profiling is refused off Linux with the reason and what still works; Linux is not refused", () => {
  assert.equal(cannotProfileReason("linux"), undefined);
  for (const platform of ["darwin", "win32", "freebsd"] as const) {
    const reason = cannotProfileReason(platform);
    assert.ok(reason, platform);
    assert.match(reason, new RegExp(`needs Linux \\(eBPF uprobes\\), and this is ${platform}`));
    assert.match(reason, /Remote-SSH/);
    assert.match(reason, /saved \.ggmlprof profiles still open here/);
  }
});
