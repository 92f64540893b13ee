// The symbolizer (bpf/target/symbolize.c, CLI bpf/build/ggml-lens-symbolize) on a live llama.cpp
// process: addresses of known functions, taken from its /proc/PID/maps and the libraries' symbol
// tables, against llvm-symbolizer and eu-addr2line (function, file, line, the inline chain); an
// address in no mapping; a library without DWARF (symbol table only); and the symbolization rate.
// Needs `npm run setup` (llama.cpp RelWithDebInfo build, tiny model), or GGML_LENS_LLAMA_COMPLETION
// and GGML_LENS_TINY_DENSE; GGML_LENS_PREBUILT_LIB_DIR adds the stock prebuilt libraries.
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { recordedFixtures } from "../harness/fixtures";

const REPO = path.resolve(__dirname, "..", "..");
const CLI = path.join(REPO, "bpf", "build", "ggml-lens-symbolize");
const RATE_ADDRESSES = 100_000;
const MAX_WARM_PASS_MS = 1_000;

interface Frame {
  function: string | null;
  file: string | null;
  line: number;
  column: number;
}

interface Symbolized {
  addr: number;
  ok: boolean;
  error?: string;
  path?: string | null;
  buildId?: string | null;
  fileVaddr?: number;
  function?: string | null;
  file?: string | null;
  line?: number;
  column?: number;
  inlinedInto?: string | null;
  callFile?: string | null;
  callLine?: number;
  inlines?: Frame[];
}

interface Stats {
  addresses: number;
  missing: number;
  withFunction: number;
  withLine: number;
  inlined: number;
  passUs: number[];
}

interface Mapping {
  start: number;
  end: number;
  offset: number;
  path: string;
}

interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
  exec: boolean;
}

interface LlvmFrame {
  FunctionName: string;
  FileName: string;
  Line: number;
  Column: number;
}


function fixture(env: string, value: string | undefined, what: string): string {
  const file = process.env[env] ?? value;
  assert.ok(file && fs.existsSync(file), `${what} is missing (${file ?? "unknown"}): run 'npm run setup' or set ${env}`);
  return file;
}

/** Runs the CLI; one parsed object per output line (a last {"stats"} line is split off). */
function symbolize(args: string[], input?: string): { status: number | null; results: Symbolized[]; stats?: Stats; stderr: string } {
  const r = spawnSync(CLI, args, { encoding: "utf8", input, maxBuffer: 512 << 20 });
  assert.ifError(r.error);
  const lines = r.stdout.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Symbolized & { stats?: Stats });
  const stats = lines.at(-1)?.stats;
  return { status: r.status, results: stats ? lines.slice(0, -1) : lines, stats, stderr: r.stderr };
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function readMaps(pid: number): Mapping[] {
  const maps: Mapping[] = [];
  for (const line of fs.readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \d+\s+(\/.*)$/.exec(line);
    if (m && m[3].includes("x")) maps.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), offset: parseInt(m[4], 16), path: m[5] });
  }
  return maps;
}

function segments(lib: string): Segment[] {
  const out = execFileSync("readelf", ["-lW", lib], { encoding: "utf8" });
  const segs: Segment[] = [];
  for (const line of out.split("\n")) {
    const m = /^\s*LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+([RWE ]+?)\s+0x[0-9a-f]+$/.exec(line);
    if (m) segs.push({ offset: Number(m[1]), vaddr: Number(m[2]), filesz: Number(m[3]), exec: m[4].includes("E") });
  }
  assert.ok(segs.some((s) => s.exec), `readelf: no executable PT_LOAD in ${lib}`);
  return segs;
}

/** readelf's function symbol `name` (or a GCC clone `name.isra.0`, ...): file vaddr and size. */
function readelfSymbol(lib: string, name: string): { addr: number; size: number; name: string } {
  const out = execFileSync("readelf", ["-sW", lib], { encoding: "utf8", maxBuffer: 256 << 20 });
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[3] !== "FUNC" || f[6] === "UND") continue;
    if (f[7] === name || f[7].startsWith(`${name}.`)) return { addr: parseInt(f[1], 16), size: Number(f[2]), name: f[7] };
  }
  assert.fail(`readelf: no function ${name} in ${lib}`);
}

function readelfBuildId(lib: string): string {
  const m = /Build ID: ([0-9a-f]+)/.exec(execFileSync("readelf", ["-n", lib], { encoding: "utf8" }));
  assert.ok(m, `readelf: no build id in ${lib}`);
  return m[1];
}

/** A library's file vaddr <-> run-time address, from its maps entry and program headers. */
class Loaded {
  readonly segs: Segment[];
  constructor(readonly map: Mapping) {
    this.segs = segments(map.path);
  }
  private seg(): Segment {
    const s = this.segs.find((g) => g.exec && (g.offset & ~0xfff) <= this.map.offset && this.map.offset < g.offset + g.filesz);
    assert.ok(s, `no executable segment of ${this.map.path} at offset ${hex(this.map.offset)}`);
    return s;
  }
  runtime(vaddr: number): number {
    const s = this.seg();
    return this.map.start + (vaddr - s.vaddr + s.offset) - this.map.offset;
  }
  vaddr(runtime: number): number {
    const s = this.seg();
    return runtime - this.map.start + this.map.offset + s.vaddr - s.offset;
  }
}

function llvmSymbolize(lib: string, vaddrs: number[]): LlvmFrame[][] {
  const out = execFileSync("llvm-symbolizer", [`--obj=${lib}`, "--inlining", "--output-style=JSON", ...vaddrs.map(hex)], {
    encoding: "utf8",
    maxBuffer: 512 << 20,
  });
  const parsed = JSON.parse(out) as { Symbol: LlvmFrame[] }[];
  assert.equal(parsed.length, vaddrs.length);
  return parsed.map((p) => p.Symbol);
}

/** eu-addr2line -f -i: innermost first, [function, file, line]. */
function euAddr2line(lib: string, vaddr: number): [string, string, number][] {
  const lines = execFileSync("eu-addr2line", ["-f", "-i", "-e", lib, hex(vaddr)], { encoding: "utf8" }).trim().split("\n");
  const frames: [string, string, number][] = [];
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const loc = /^(.*?):(\d+)(?::\d+)?$/.exec(lines[i + 1]);
    assert.ok(loc, `eu-addr2line: unexpected line ${lines[i + 1]}`);
    frames.push([lines[i].split(" inlined at ")[0], loc[1], Number(loc[2])]);
  }
  return frames;
}

/**
 * Function names up to the tools' differences: GCC clone suffixes (`.isra.0`, ` (.cold)`,
 * ` [clone .cold]`, which llvm-symbolizer takes from the symbol table for the outermost frame) and
 * the demanglers' spellings (lambdas, nullptr_t, vector types, spaces; LLVM 14 leaves some names
 * mangled, which then cannot be compared).
 */
function normName(x: string | null | undefined): string {
  return (x ?? "")
      .replace(/ \[clone [^\]]*\]| \(\.[\w.]+\)$|\.(?:isra|part|constprop|cold|lto_priv)(?:\.\d+)*$/g, "")
      .replace(/\{lambda\(.*?\)#\d+\}|'lambda\d*'\(.*?\)(?=::)/g, "lambda")
      .replace(/decltype\(nullptr\)/g, "std::nullptr_t")
      .replace(/__vector\((\d+)\)/g, "vector[$1]")
      .replace(/\s+/g, "");
}

function sameName(ours: string | null | undefined, theirs: string | null | undefined): boolean {
  return normName(ours) === normName(theirs) || (theirs ?? "").startsWith("_Z");
}

/** A C function (or a C++ one without namespace, class, template or demangled parameters). */
const isCName = (name: string): boolean => /^[A-Za-z_]\w*$/.test(normName(name));

/** Our chain in llvm-symbolizer's shape; an address with nothing known is one empty frame. */
function chainOf(r: Symbolized): LlvmFrame[] {
  const frames = r.inlines ?? [];
  if (frames.length === 0) return [{ FunctionName: "", FileName: "", Line: 0, Column: 0 }];
  return frames.map((f) => ({ FunctionName: f.function ?? "", FileName: f.file ?? "", Line: f.line, Column: f.column }));
}

function sameLocations(ours: LlvmFrame[], theirs: LlvmFrame[]): boolean {
  if (ours.length !== theirs.length) return false;
  // llvm-symbolizer names the compilation unit's file for line-0 rows that libdw does not return
  return ours.every((o, i) => o.Line === theirs[i].Line && o.Column === theirs[i].Column && (o.FileName === theirs[i].FileName || o.Line === 0));
}

function sameChain(ours: LlvmFrame[], theirs: LlvmFrame[]): boolean {
  return sameLocations(ours, theirs) && ours.every((o, i) => sameName(o.FunctionName, theirs[i].FunctionName));
}

/** Deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function waitForMaps(pid: number, libs: string[], timeoutMs: number): Promise<Mapping[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const maps = fs.existsSync(`/proc/${pid}/maps`) ? readMaps(pid) : [];
    if (libs.every((l) => maps.some((m) => path.basename(m.path).startsWith(l)))) return maps;
    assert.ok(Date.now() < deadline, `llama-completion did not map ${libs.join(", ")} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("ggml-lens-symbolize: sampled addresses of a live llama.cpp process", () => {
  let target: ChildProcess;
  let pid: number;
  let maps: Mapping[];
  let cpu: Loaded;
  let llama: Loaded;
  let work: string;
  const lib = (prefix: string): Loaded => {
    const m = maps.find((x) => path.basename(x.path).startsWith(prefix));
    assert.ok(m, `${prefix} is not mapped`);
    return new Loaded(m);
  };

  before(async () => {
    execFileSync("make", ["-s", "-C", path.join(REPO, "bpf", "target")], { stdio: "inherit" });
    const recorded = recordedFixtures();
    const completion = fixture("GGML_LENS_LLAMA_COMPLETION", recorded.llamaCompletion, "llama-completion");
    const model = fixture("GGML_LENS_TINY_DENSE", recorded.models?.tinyDense, "the tinyDense model");
    work = fs.mkdtempSync(path.join(os.tmpdir(), "ggml-lens-symbolize-"));
    target = spawn(completion, ["-m", model, "-p", "Hello", "-n", "100000", "--ignore-eos", "--context-shift", "-no-cnv", "-t", "1", "--no-warmup"], {
      stdio: "ignore",
    });
    assert.ok(target.pid, "llama-completion did not start");
    pid = target.pid;
    maps = await waitForMaps(pid, ["libggml-cpu.so", "libllama.so", "libggml-base.so"], 60_000);
    cpu = lib("libggml-cpu.so");
    llama = lib("libllama.so");
  });

  after(() => {
    target?.kill("SIGKILL");
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("known functions: same function, file and line as llvm-symbolizer and eu-addr2line; path and build id", () => {
    const cases = [
      { at: cpu, name: "ggml_graph_compute", off: 0x10 },
      { at: cpu, name: "ggml_compute_forward_mul_mat", off: 0x10 },
      { at: llama, name: "llama_decode", off: 0x8 },
    ];
    const addrs = cases.map((c) => c.at.runtime(readelfSymbol(c.at.map.path, c.name).addr + c.off));
    const { status, results } = symbolize(["--pid", String(pid), ...addrs.map(hex)]);
    assert.equal(status, 0);
    cases.forEach((c, i) => {
      const r = results[i];
      const vaddr = readelfSymbol(c.at.map.path, c.name).addr + c.off;
      assert.ok(r.ok, `${c.name}: ${r.error}`);
      assert.equal(r.path, c.at.map.path);
      assert.equal(r.buildId, readelfBuildId(c.at.map.path));
      assert.equal(r.fileVaddr, vaddr, `${c.name}: file vaddr`);
      const [llvm] = llvmSymbolize(c.at.map.path, [vaddr]);
      const eu = euAddr2line(c.at.map.path, vaddr);
      assert.ok(sameChain(chainOf(r), llvm), `${c.name}+${hex(c.off)}: ${JSON.stringify(chainOf(r))} vs llvm ${JSON.stringify(llvm)}`);
      const outer = llvm.at(-1);
      assert.ok(outer && sameName(outer.FunctionName, c.name), `${c.name}: llvm says ${outer?.FunctionName}`);
      assert.equal(r.function, r.inlines?.[0].function);
      assert.deepEqual([r.function, r.file, r.line], eu[0], `${c.name}: eu-addr2line`);
    });
  });

  it("every address of ggml_graph_compute_thread: the inline chain equals llvm-symbolizer's (inlined op switch)", () => {
    const sym = readelfSymbol(cpu.map.path, "ggml_graph_compute_thread");
    const vaddrs = Array.from({ length: sym.size }, (_, i) => sym.addr + i);
    const { results } = symbolize(["--pid", String(pid), "-"], vaddrs.map((v) => hex(cpu.runtime(v))).join("\n"));
    const llvm = llvmSymbolize(cpu.map.path, vaddrs);
    const differing = vaddrs.filter((_, i) => !sameChain(chainOf(results[i]), llvm[i]));
    assert.deepEqual(differing.slice(0, 5).map((v) => {
      const i = vaddrs.indexOf(v);
      return { vaddr: hex(v), ours: chainOf(results[i]), llvm: llvm[i] };
    }), []);
    // the op switch (static ggml_compute_forward in ggml-cpu.c) is inlined into the thread function
    const inSwitch = results.findIndex((r) => r.function === "ggml_compute_forward");
    assert.ok(inSwitch >= 0, "no address in the inlined ggml_compute_forward");
    const r = results[inSwitch];
    assert.equal(r.inlinedInto, "ggml_graph_compute_thread");
    assert.match(r.file ?? "", /ggml-cpu\.c$/);
    assert.match(r.callFile ?? "", /ggml-cpu\.c$/);
    assert.equal(llvm[inSwitch][0].FunctionName, "ggml_compute_forward");
    assert.equal(r.callLine, llvm[inSwitch][1]?.Line, "the call site is the next frame's line");
    const eu = euAddr2line(cpu.map.path, vaddrs[inSwitch]);
    assert.deepEqual(eu.map((f) => f[2]), chainOf(r).map((f) => f.Line), "eu-addr2line: lines of the chain");
    const inlined = results.filter((x) => x.inlinedInto).length;
    console.log(`ggml_graph_compute_thread: ${inlined}/${results.length} addresses are in inlined code`);
  });

  it("an address in no mapping fails clearly", () => {
    const { status, results } = symbolize(["--pid", String(pid), "0x10", hex(cpu.runtime(readelfSymbol(cpu.map.path, "ggml_graph_compute").addr))]);
    assert.equal(status, 1);
    assert.equal(results[0].ok, false);
    assert.match(results[0].error ?? "", /no known mapping/);
    assert.equal(results[1].ok, true);
  });

  it("a library without DWARF (strip --strip-debug): function from the symbol table, no line", () => {
    const stripped = path.join(work, "libggml-cpu.so");
    execFileSync("strip", ["--strip-debug", "-o", stripped, cpu.map.path]);
    const m = cpu.map;
    const syms = ["ggml_graph_compute", "ggml_graph_compute_thread"].map((n) => readelfSymbol(stripped, n));
    const args = ["--map", hex(m.start), hex(m.end), hex(m.offset), stripped, "--"];
    const { status, results } = symbolize([...args, ...syms.map((s) => hex(cpu.runtime(s.addr + 0x10)))]);
    assert.equal(status, 0);
    results.forEach((r, i) => {
      assert.equal(r.function, syms[i].name);
      assert.equal(r.file, null);
      assert.equal(r.line, 0);
      assert.equal(r.inlinedInto, null);
      assert.equal(r.path, stripped);
      assert.equal(r.buildId, readelfBuildId(cpu.map.path), "strip keeps the build id");
    });
  });

  it("separate debug info through .gnu_debuglink (stripped library, DWARF in .debug/)", () => {
    const dir = path.join(work, "debuglink");
    fs.mkdirSync(path.join(dir, ".debug"), { recursive: true });
    const lib = path.join(dir, "libggml-cpu.so");
    const debug = path.join(dir, ".debug", "libggml-cpu.so.debug");
    execFileSync("objcopy", ["--only-keep-debug", cpu.map.path, debug]);
    execFileSync("strip", ["--strip-debug", "-o", lib, cpu.map.path]);
    execFileSync("objcopy", [`--add-gnu-debuglink=${debug}`, lib]);
    const vaddr = readelfSymbol(cpu.map.path, "ggml_graph_compute").addr + 0x10;
    const m = cpu.map;
    const { results } = symbolize(["--map", hex(m.start), hex(m.end), hex(m.offset), lib, "--", hex(cpu.runtime(vaddr))]);
    const [llvm] = llvmSymbolize(cpu.map.path, [vaddr]);
    assert.ok(sameChain(chainOf(results[0]), llvm), JSON.stringify(results[0]));
    assert.ok(results[0].line && results[0].line > 0);
  });

  it("a program deleted and replaced while it runs: the mapped inode is read (/proc/PID/map_files)", async () => {
    const dir = path.join(work, "deleted");
    fs.mkdirSync(dir);
    const src = path.join(dir, "spin.c");
    fs.writeFileSync(src, "static int sq(int x) { return x * x + 1; }\nint main(void) {\n  volatile int s = 0;\n  for (;;) s = sq(s);\n}\n");
    const exe = path.join(dir, "spin");
    execFileSync("cc", ["-g", "-O2", "-o", exe, src]);
    const original = path.join(dir, "spin.orig");
    fs.copyFileSync(exe, original);
    const main = readelfSymbol(exe, "main");
    const child = spawn(exe, [], { stdio: "ignore" });
    try {
      assert.ok(child.pid);
      const map = (await waitForMaps(child.pid, ["spin"], 10_000)).find((m) => m.path === exe);
      assert.ok(map, "spin is not mapped");
      const runtime = new Loaded({ ...map, path: original }).runtime(main.addr);
      fs.rmSync(exe);
      execFileSync("cc", ["-O0", "-x", "c", "-o", exe, "-"], { input: "int other(void) { return 1; }\nint main(void) { return other(); }\n" });
      const { results } = symbolize(["--pid", String(child.pid), hex(runtime)]);
      const [llvm] = llvmSymbolize(original, [main.addr]);
      assert.equal(results[0].path, exe);
      assert.equal(results[0].fileVaddr, main.addr);
      assert.ok(sameChain(chainOf(results[0]), llvm), `${JSON.stringify(results[0])} vs llvm ${JSON.stringify(llvm)}`);
      assert.equal(results[0].inlines?.at(-1)?.function, "main");
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("the stock prebuilt libggml-cpu (no DWARF, with .symtab): functions from the symbol table", (t) => {
    const dir = process.env.GGML_LENS_PREBUILT_LIB_DIR ?? recordedFixtures().prebuiltLibDir;
    const stock = dir && fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => /^libggml-cpu.*\.so$/.test(f)) : undefined;
    if (!dir || !stock) {
      t.skip("no prebuilt libraries (npm run setup, or GGML_LENS_PREBUILT_LIB_DIR)");
      return;
    }
    const file = path.join(dir, stock);
    const text = segments(file).find((s) => s.exec);
    assert.ok(text);
    // mapped as the loader would: page-aligned, at an arbitrary base
    const base = 0x7f1234560000;
    const map = { start: base + (text.vaddr & ~0xfff), end: base + text.vaddr + text.filesz, offset: text.offset & ~0xfff, path: file };
    const at = new Loaded(map);
    const syms = ["ggml_graph_compute", "ggml_graph_compute_thread", "ggml_compute_forward_mul_mat"].map((n) => readelfSymbol(file, n));
    const vaddrs = syms.map((sym) => sym.addr + Math.floor(sym.size / 2));
    const { status, results } = symbolize(["--map", hex(map.start), hex(map.end), hex(map.offset), file, "--", ...vaddrs.map((v) => hex(at.runtime(v)))]);
    assert.equal(status, 0);
    results.forEach((r, i) => {
      assert.equal(r.function, syms[i].name);
      assert.equal(r.fileVaddr, vaddrs[i]);
      assert.equal(r.file, null);
      assert.equal(r.line, 0);
      assert.equal(r.buildId, readelfBuildId(file));
    });
  });

  it(`rate: ${RATE_ADDRESSES} distinct addresses in the ggml and llama libraries; a sample agrees with llvm-symbolizer`, () => {
    const libs = maps.filter((m) => /\/lib(ggml|llama)[^/]*\.so/.test(m.path));
    const total = libs.reduce((n, m) => n + m.end - m.start, 0);
    assert.ok(total > RATE_ADDRESSES);
    const next = random(7);
    const chosen = new Set<number>();
    while (chosen.size < RATE_ADDRESSES) {
      let k = Math.floor(next() * total);
      for (const m of libs) {
        if (k < m.end - m.start) {
          chosen.add(m.start + k);
          break;
        }
        k -= m.end - m.start;
      }
    }
    const addrs = [...chosen].sort((a, b) => a - b);
    const { stats } = symbolize(["--quiet", "--stats", "--repeat", "3", "--pid", String(pid), "-"], addrs.map(hex).join("\n"));
    assert.ok(stats);
    assert.equal(stats.missing, 0);
    const [cold, ...warm] = stats.passUs;
    const best = Math.min(...warm);
    const rate = (us: number): string => `${Math.round((RATE_ADDRESSES / us) * 1e6).toLocaleString("en")} addresses/s`;
    console.log(
      `symbolize: ${RATE_ADDRESSES} addresses over ${libs.length} mappings; first pass ${(cold / 1e3).toFixed(0)} ms ` +
        `(${rate(cold)}, opens and indexes the DWARF), warm ${(best / 1e3).toFixed(1)} ms (${rate(best)}); ` +
        `function ${stats.withFunction}, line ${stats.withLine}, inlined ${stats.inlined} ` +
        `(${((100 * stats.inlined) / stats.addresses).toFixed(1)}%)`,
    );
    assert.ok(best < MAX_WARM_PASS_MS * 1e3, `warm pass took ${best / 1e3} ms`);

    // 300 of them, file by file, against llvm-symbolizer
    const sample = addrs.filter((_, i) => i % Math.floor(RATE_ADDRESSES / 300) === 0);
    const { results } = symbolize(["--pid", String(pid), ...sample.map(hex)]);
    let locations = 0;
    const names = { c: { same: 0, all: 0 }, cpp: { same: 0, all: 0 } };
    for (const m of libs) {
      const at = new Loaded(m);
      const idx = sample.map((a, i) => (a >= m.start && a < m.end ? i : -1)).filter((i) => i >= 0);
      if (idx.length === 0) continue;
      const llvm = llvmSymbolize(m.path, idx.map((i) => at.vaddr(sample[i])));
      idx.forEach((i, k) => {
        assert.equal(results[i].fileVaddr, at.vaddr(sample[i]));
        const ours = chainOf(results[i]);
        if (!sameLocations(ours, llvm[k])) return;
        locations++;
        ours.forEach((f, j) => {
          const count = isCName(llvm[k][j].FunctionName) ? names.c : names.cpp;
          count.all++;
          if (sameName(f.FunctionName, llvm[k][j].FunctionName)) count.same++;
        });
      });
    }
    console.log(
      `llvm-symbolizer agrees on ${locations}/${sample.length} inline chains (file:line:column of every frame); ` +
        `function names: C ${names.c.same}/${names.c.all}, C++ ${names.cpp.same}/${names.cpp.all} (demanglers differ)`,
    );
    assert.ok(locations >= 0.99 * sample.length, `file:line:column agree on ${locations}/${sample.length}`);
    assert.equal(names.c.same, names.c.all, "C function names");
    assert.ok(names.cpp.same >= 0.85 * names.cpp.all, `C++ names agree on ${names.cpp.same}/${names.cpp.all}`);
  });
});
