// Writes the synthetic test and benchmark models and their manifest:
//   tsx scripts/models/make-models.ts --out DIR [--bench]
// Models go to DIR/<key>/<name>.gguf, where <key> hashes this generator's own source files, so a
// changed generator makes new files; DIR/manifest.json lists path, sha256, size and shape of each.
// A second run checks each listed file against its sha256 and regenerates only what is missing or
// damaged. Benchmark models are made with --bench, and kept up to date once they are listed.
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { writeGguf } from "./gguf-writer";
import { elementCount } from "./ggml-types";
import { llamaMetadata, llamaTensors } from "./llama-gguf";
import { MODEL_SPECS, type ModelSpec, type SpecSummary, specSummary } from "./model-specs";

interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
  params: SpecSummary & { paramCount: number };
}

interface Manifest {
  generator: string;
  models: Record<string, ManifestEntry>;
}

interface Options {
  out: string;
  bench: boolean;
}

function log(message: string): void {
  process.stderr.write(`[setup] ${message}\n`);
}

function seconds(since: bigint): string {
  return `${(Number(process.hrtime.bigint() - since) / 1e9).toFixed(1)} s`;
}

function parseArgs(argv: readonly string[]): Options {
  const usage = "usage: make-models.ts --out DIR [--bench]";
  let out: string | undefined;
  let bench = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--out" && i + 1 < argv.length) out = argv[++i];
    else if (argv[i] === "--bench") bench = true;
    else throw new Error(`unknown argument ${argv[i]}; ${usage}`);
  }
  if (!out) throw new Error(usage);
  return { out: path.resolve(out), bench };
}

/** 16 hex digits of the SHA-256 over this generator's source files (names and contents). */
function generatorKey(): string {
  const hash = crypto.createHash("sha256");
  for (const file of fs.readdirSync(__dirname).filter((f) => f.endsWith(".ts")).sort()) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(__dirname, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

/** The models an earlier run listed (none when there is no readable manifest). */
function listedModels(file: string): Record<string, ManifestEntry> {
  if (!fs.existsSync(file)) return {};
  try {
    return (JSON.parse(fs.readFileSync(file, "utf8")) as Partial<Manifest>).models ?? {};
  } catch (error) {
    log(`${file} is unreadable (${(error as Error).message}); checking every model again`);
    return {};
  }
}

function writeManifest(file: string, manifest: Manifest): void {
  const temporary = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(temporary, JSON.stringify(manifest, null, 2) + "\n");
  fs.renameSync(temporary, file);
}

/** SHA-256 of a file, read synchronously through one reused buffer (faster than a stream). */
function fileSha256(file: string): string {
  const hash = crypto.createHash("sha256");
  const buffer = Buffer.allocUnsafe(1 << 23);
  const fd = fs.openSync(file, "r");
  try {
    for (let n = fs.readSync(fd, buffer); n > 0; n = fs.readSync(fd, buffer)) {
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

/** Tiny models always; benchmark models with --bench or when the manifest already lists them. */
function wantedSpecs(options: Options, listed: Record<string, ManifestEntry>): ModelSpec[] {
  return MODEL_SPECS.filter((spec) => !spec.bench || options.bench || spec.name in listed);
}

/** The manifest entry if its file is where this generator writes it and intact; logs why not. */
function intactEntry(spec: ModelSpec, file: string, entry: ManifestEntry | undefined): ManifestEntry | undefined {
  if (!entry) {
    log(`model ${spec.name}: generating`);
    return undefined;
  }
  if (entry.path !== file) {
    log(`model ${spec.name}: generator changed, regenerating`);
    return undefined;
  }
  if (!fs.existsSync(file)) {
    log(`model ${spec.name} missing, regenerating`);
    return undefined;
  }
  const started = process.hrtime.bigint();
  if (fs.statSync(file).size !== entry.bytes || fileSha256(file) !== entry.sha256) {
    log(`model ${spec.name} corrupted, regenerating`);
    return undefined;
  }
  log(`model ${spec.name}: intact (${(entry.bytes / 2 ** 20).toFixed(1)} MiB, sha256 checked in ${seconds(started)})`);
  return entry;
}

function generate(spec: ModelSpec, file: string): ManifestEntry {
  const started = process.hrtime.bigint();
  const tensors = llamaTensors(spec);
  const { bytes, sha256 } = writeGguf(file, llamaMetadata(spec), tensors);
  const paramCount = tensors.reduce((n, t) => n + elementCount(t.shape), 0);
  log(`model ${spec.name}: wrote ${(bytes / 2 ** 20).toFixed(1)} MiB in ${seconds(started)} (${file})`);
  return { path: file, sha256, bytes, params: { ...specSummary(spec), paramCount } };
}

/** Deletes model folders of earlier generator versions. */
function removeStaleFolders(out: string, key: string): void {
  for (const entry of fs.readdirSync(out, { withFileTypes: true })) {
    if (entry.isDirectory() && /^[0-9a-f]{16}$/.test(entry.name) && entry.name !== key) {
      log(`removing models of an earlier generator version: ${entry.name}`);
      fs.rmSync(path.join(out, entry.name), { recursive: true, force: true });
    }
  }
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const key = generatorKey();
  const dir = path.join(options.out, key);
  fs.mkdirSync(dir, { recursive: true });
  const manifestFile = path.join(options.out, "manifest.json");
  const previous = listedModels(manifestFile);
  const manifest: Manifest = { generator: key, models: {} };
  for (const spec of wantedSpecs(options, previous)) {
    const file = path.join(dir, `${spec.name}.gguf`);
    manifest.models[spec.name] = intactEntry(spec, file, previous[spec.name]) ?? generate(spec, file);
    // Saved after each model, so that an interrupted run keeps what it already checked or made.
    writeManifest(manifestFile, { generator: key, models: { ...previous, ...manifest.models } });
  }
  writeManifest(manifestFile, manifest);
  removeStaleFolders(options.out, key);
}

try {
  main();
} catch (error) {
  log(`error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
