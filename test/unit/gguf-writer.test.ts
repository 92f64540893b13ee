// The project's GGUF writer and synthetic-model generator, checked against hand-computed
// encodings and read back with an independent GGUF reader (@huggingface/gguf).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { GGUFValueType, gguf } from "@huggingface/gguf";
import { GGUF_ALIGNMENT, type Metadata, type TensorToWrite, writeGguf } from "../../scripts/models/gguf-writer";
import { GgmlType, type QuantType, tensorBytes } from "../../scripts/models/ggml-types";
import { llamaMetadata, llamaTensors } from "../../scripts/models/llama-gguf";
import { MODEL_SPECS } from "../../scripts/models/model-specs";
import { encodeValues, f32ToF16Bits, randomBlocks } from "../../scripts/models/quantize";
import { Rng } from "../../scripts/models/random";
import { TokenType, buildSpmVocab } from "../../scripts/models/tokenizer";

let tmp = "";
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gguf-writer-test-"));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A Float32Array of `length` zeros with `head` at the start and `at` entries set. */
function block(length: number, head: number[], at: Record<number, number> = {}): Float32Array {
  const values = new Float32Array(length);
  values.set(head);
  for (const [i, v] of Object.entries(at)) values[Number(i)] = v;
  return values;
}

function sha256(file: string): string {
  return crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

describe("f32 -> f16", () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00],
    [-2, 0xc000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [-0, 0x8000],
    [65504, 0x7bff], // largest finite half
    [65519, 0x7bff], // below the halfway point to 65536
    [65520, 0x7c00], // halfway: rounds (to even) into infinity
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [NaN, 0x7e00],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [3 * 2 ** -25, 0x0002], // 1.5 units: tie, to even
    [2 ** -25, 0x0000], // 0.5 unit: tie, to even (zero)
    [3 * 2 ** -26, 0x0001], // 0.75 unit: rounds up
    [1e-9, 0x0000],
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10: to even
    [1 + 3 * 2 ** -11, 0x3c02], // tie between 1+2^-10 and 1+2^-9: to even
  ];
  for (const [value, bits] of cases) {
    it(`${value} -> 0x${bits.toString(16).padStart(4, "0")}`, () => {
      assert.equal(f32ToF16Bits(value), bits);
    });
  }

  it("F16 tensors are little-endian halves", () => {
    assert.deepEqual([...encodeValues(GgmlType.F16, new Float32Array([1, -2]))], [0x00, 0x3c, 0x00, 0xc0]);
  });

  it("F32 tensors are the raw little-endian floats", () => {
    assert.deepEqual([...encodeValues(GgmlType.F32, new Float32Array([1]))], [0x00, 0x00, 0x80, 0x3f]);
  });
});

describe("Q8_0 blocks (f16 scale d = max|x|/127, then 32 x int8 round(x/d))", () => {
  it("d = 1: rounds halves away from zero", () => {
    const bytes = encodeValues(GgmlType.Q8_0, block(32, [127, -127, 1.4, -1.6, 0.5, -0.5, 2.5]));
    const expected = [0x00, 0x3c, 127, 0x81, 1, 0xfe, 1, 0xff, 3, ...new Array(25).fill(0)];
    assert.deepEqual([...bytes], expected);
  });

  it("d = 0.5 in the second block of a row", () => {
    const values = new Float32Array(64);
    values.set([63.5, 1, -0.25], 32);
    const bytes = encodeValues(GgmlType.Q8_0, values);
    assert.equal(bytes.length, 68);
    assert.deepEqual([...bytes.subarray(0, 34)], new Array(34).fill(0), "an all-zero block has d = 0 and zero quants");
    assert.deepEqual([...bytes.subarray(34, 39)], [0x00, 0x38, 127, 2, 0xff]);
  });
});

describe("Q4_0 blocks (d = x_maxabs/-8, nibble = min(15, trunc(x/d + 8.5)), byte j = q[j] | q[j+16] << 4)", () => {
  it("negative extreme: d = 1", () => {
    const bytes = encodeValues(GgmlType.Q4_0, block(32, [-8, 7, 0, 3.2, -7.9], { 16: 7.49, 17: -0.6 }));
    assert.deepEqual([...bytes], [0x00, 0x3c, 0xf0, 0x7f, 0x88, 0x8b, 0x80, ...new Array(11).fill(0x88)]);
  });

  it("positive extreme: d = -2, the first of equal magnitudes wins, clamps at 15", () => {
    const bytes = encodeValues(GgmlType.Q4_0, block(32, [16, -14, -16], { 16: 3 }));
    assert.deepEqual([...bytes], [0x00, 0xc0, 0x70, 0x8f, 0x8f, ...new Array(13).fill(0x88)]);
  });

  it("rejects a partial block", () => {
    assert.throws(() => encodeValues(GgmlType.Q4_0, new Float32Array(33)), /not a whole number of 32-value blocks/);
  });
});

/** binary16 bits -> number (normal and subnormal values; the scales here are finite). */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  return sign * (exponent === 0 ? fraction * 2 ** -24 : (1 + fraction / 1024) * 2 ** (exponent - 15));
}

/** Dequantized weights of Q8_0 (d * int8) or Q4_0 (d * (nibble - 8)) blocks. */
function dequantize(type: QuantType, bytes: Uint8Array): number[] {
  const blockBytes = tensorBytes(type, [32]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const values: number[] = [];
  for (let at = 0; at < bytes.length; at += blockBytes) {
    const d = halfToFloat(view.getUint16(at, true));
    for (let j = 0; j < 32; j++) {
      const q = type === GgmlType.Q8_0 ? view.getInt8(at + 2 + j) : ((view.getUint8(at + 2 + (j % 16)) >> (j < 16 ? 0 : 4)) & 15) - 8;
      values.push(d * q);
    }
  }
  return values;
}

describe("random quantized blocks", () => {
  for (const type of [GgmlType.Q8_0, GgmlType.Q4_0] as const) {
    it(`${GgmlType[type]}: deterministic per seed, positive scales, weights of the requested RMS`, () => {
      const bytes = randomBlocks(type, 1000, new Rng("seed"), 0.02);
      assert.equal(bytes.length, tensorBytes(type, [32 * 1000]));
      assert.deepEqual(bytes, randomBlocks(type, 1000, new Rng("seed"), 0.02));
      assert.notDeepEqual(bytes, randomBlocks(type, 1000, new Rng("other seed"), 0.02));
      const view = new DataView(bytes.buffer);
      for (let at = 0; at < bytes.length; at += bytes.length / 1000) {
        const d = halfToFloat(view.getUint16(at, true));
        assert.ok(d > 0 && d < 0.02, `scale ${d}`);
      }
      const weights = dequantize(type, bytes);
      const rms = Math.sqrt(weights.reduce((sum, w) => sum + w * w, 0) / weights.length);
      assert.ok(Math.abs(rms / 0.02 - 1) < 0.1, `rms ${rms}`);
    });
  }

  it("dequantize() agrees with the hand-computed Q4_0 block", () => {
    const values = block(32, [-8, 7, 0, 3.2, -7.9], { 16: 7.49, 17: -0.6 });
    assert.deepEqual(dequantize(GgmlType.Q4_0, encodeValues(GgmlType.Q4_0, values)).slice(0, 5), [-8, 7, 0, 3, -8]);
  });
});

describe("GGUF writer, read back with @huggingface/gguf", () => {
  const metadata: Metadata = [
    ["test.u32", { type: "u32", value: 4_000_000_000 }],
    ["test.i32", { type: "i32", value: -7 }],
    ["test.f32", { type: "f32", value: 0.1 }],
    ["test.bool", { type: "bool", value: true }],
    ["test.string", { type: "string", value: "h\u00e9llo \u2581world" }],
    ["test.strings", { type: "string[]", value: ["<s>", "\u2581the", ""] }],
    ["test.f32s", { type: "f32[]", value: [1.5, -0.1] }],
    ["test.i32s", { type: "i32[]", value: Int32Array.of(6, -1) }],
    ["test.u32s", { type: "u32[]", value: [1, 4_000_000_000] }],
  ];
  const f32Values = new Float32Array([1, 2, 3]); // 12 bytes: the next tensor needs padding
  const f16Values = block(40, [0.5, -0.25]);
  const q8Values = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 10);
  const q4Values = Float32Array.from({ length: 96 }, (_, i) => Math.sin(i));
  const contents: Array<{ name: string; shape: number[]; type: GgmlType; bytes: Uint8Array }> = [
    { name: "a.f32", shape: [3], type: GgmlType.F32, bytes: encodeValues(GgmlType.F32, f32Values) },
    { name: "b.f16", shape: [8, 5], type: GgmlType.F16, bytes: encodeValues(GgmlType.F16, f16Values) },
    { name: "c.q8_0", shape: [32, 2], type: GgmlType.Q8_0, bytes: encodeValues(GgmlType.Q8_0, q8Values) },
    { name: "d.q4_0", shape: [32, 1, 3], type: GgmlType.Q4_0, bytes: encodeValues(GgmlType.Q4_0, q4Values) },
  ];
  /** Each tensor handed over in pieces of 7 bytes, as a streamed source would. */
  const tensors: TensorToWrite[] = contents.map(({ name, shape, type, bytes }) => ({
    name,
    shape,
    type,
    chunks: function* () {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    },
  }));
  let file = "";
  let written = { bytes: 0, sha256: "" };

  before(() => {
    file = path.join(tmp, "small.gguf");
    written = writeGguf(file, metadata, tensors);
  });

  it("reports the file's size and sha256, and leaves no temporary file", () => {
    assert.equal(written.bytes, fs.statSync(file).size);
    assert.equal(written.sha256, sha256(file));
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith("small.gguf")), ["small.gguf"]);
  });

  it("writes a v3 header and every metadata value with its type", async () => {
    const { metadata: plain, typedMetadata: typed } = await gguf(file, { allowLocalFile: true, typedMetadata: true });
    assert.equal(plain.version, 3);
    assert.equal(plain.tensor_count, BigInt(tensors.length));
    assert.equal(plain.kv_count, BigInt(metadata.length + 1));
    const expected: Record<string, [unknown, GGUFValueType, GGUFValueType?]> = {
      "general.alignment": [GGUF_ALIGNMENT, GGUFValueType.UINT32],
      "test.u32": [4_000_000_000, GGUFValueType.UINT32],
      "test.i32": [-7, GGUFValueType.INT32],
      "test.f32": [Math.fround(0.1), GGUFValueType.FLOAT32],
      "test.bool": [true, GGUFValueType.BOOL],
      "test.string": ["h\u00e9llo \u2581world", GGUFValueType.STRING],
      "test.strings": [["<s>", "\u2581the", ""], GGUFValueType.ARRAY, GGUFValueType.STRING],
      "test.f32s": [[1.5, Math.fround(-0.1)], GGUFValueType.ARRAY, GGUFValueType.FLOAT32],
      "test.i32s": [[6, -1], GGUFValueType.ARRAY, GGUFValueType.INT32],
      "test.u32s": [[1, 4_000_000_000], GGUFValueType.ARRAY, GGUFValueType.UINT32],
    };
    for (const [key, [value, type, subType]] of Object.entries(expected)) {
      assert.deepEqual(typed[key], subType === undefined ? { value, type } : { value, type, subType }, key);
    }
  });

  it("writes tensor infos: names, shapes, types, aligned back-to-back offsets", async () => {
    const { tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
    assert.equal(Number(tensorDataOffset) % GGUF_ALIGNMENT, 0);
    let offset = 0;
    tensorInfos.forEach((info, i) => {
      const { name, shape, type, bytes } = contents[i];
      assert.equal(info.name, name);
      assert.deepEqual(info.shape, shape.map(BigInt));
      assert.equal(info.n_dims, shape.length);
      assert.equal(Number(info.dtype), type);
      assert.equal(Number(info.offset), offset, `${name} offset`);
      assert.equal(bytes.length, tensorBytes(type, shape));
      offset += Math.ceil(bytes.length / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
    });
    assert.equal(fs.statSync(file).size, Number(tensorDataOffset) + offset, "the last tensor is padded too");
  });

  it("writes each tensor's bytes at its offset", async () => {
    const { tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
    const data = fs.readFileSync(file);
    tensorInfos.forEach((info, i) => {
      const start = Number(tensorDataOffset + info.offset);
      assert.deepEqual(data.subarray(start, start + contents[i].bytes.length), Buffer.from(contents[i].bytes), info.name);
    });
  });

  it("refuses a tensor whose data has the wrong size, leaving no file behind", () => {
    const short: TensorToWrite = { name: "short", shape: [32], type: GgmlType.Q8_0, chunks: () => [new Uint8Array(33)] };
    const target = path.join(tmp, "short.gguf");
    assert.throws(() => writeGguf(target, [], [short]), /got 33 bytes, expected 34/);
    assert.deepEqual(fs.readdirSync(tmp).filter((f) => f.startsWith("short.gguf")), []);
  });

  it("refuses duplicate keys, duplicate tensor names and rows that are not whole blocks", () => {
    const t = (name: string, shape: number[]): TensorToWrite => ({ name, shape, type: GgmlType.Q4_0, chunks: () => [] });
    const target = path.join(tmp, "bad.gguf");
    assert.throws(() => writeGguf(target, [["general.alignment", { type: "u32", value: 64 }]], []), /duplicate metadata key/);
    assert.throws(() => writeGguf(target, [], [t("x", [32]), t("x", [32])]), /duplicate tensor name x/);
    assert.throws(() => writeGguf(target, [], [t("x", [48])]), /multiple of 32/);
    assert.equal(fs.existsSync(target), false);
  });
});

describe("SentencePiece vocabulary", () => {
  const vocab = buildSpmVocab(4096);

  it("has exactly the requested number of distinct tokens, with scores and types for each", () => {
    assert.equal(vocab.tokens.length, 4096);
    assert.equal(new Set(vocab.tokens).size, 4096);
    assert.equal(vocab.scores.length, 4096);
    assert.equal(vocab.types.length, 4096);
  });

  it("starts with <unk>, <s>, </s> and the 256 byte tokens", () => {
    assert.deepEqual(
      [vocab.unkId, vocab.bosId, vocab.eosId].map((id) => [vocab.tokens[id], vocab.types[id]]),
      [
        ["<unk>", TokenType.Unknown],
        ["<s>", TokenType.Control],
        ["</s>", TokenType.Control],
      ],
    );
    for (let byte = 0; byte < 256; byte++) {
      const id = vocab.tokens.indexOf(`<0x${byte.toString(16).toUpperCase().padStart(2, "0")}>`);
      assert.ok(id >= 0, `byte token ${byte}`);
      assert.equal(vocab.types[id], TokenType.Byte);
    }
  });

  it("has word pieces reachable by merges: every longer piece's prefix is a piece", () => {
    const tokens = new Set(vocab.tokens);
    for (const word of ["\u2581the", "\u2581Hello", "\u2581world"]) assert.ok(tokens.has(word), word);
    vocab.tokens.forEach((token, id) => {
      const chars = [...token];
      if (vocab.types[id] === TokenType.Normal && chars.length > 1) {
        assert.ok(tokens.has(chars.slice(0, -1).join("")), `prefix of ${token}`);
      }
    });
  });

  it("scores normal pieces by rank: earlier pieces merge first", () => {
    const normal = [...vocab.scores].filter((_, id) => vocab.types[id] === TokenType.Normal);
    assert.ok(normal.every((s, i) => i === 0 || s < normal[i - 1]));
  });
});

describe("make-models and the synthetic llama models", () => {
  interface Listed {
    path: string;
    sha256: string;
    bytes: number;
  }
  const script = path.join(__dirname, "..", "..", "scripts", "models", "make-models.ts");
  const tsx = path.join(__dirname, "..", "..", "node_modules", ".bin", "tsx");
  const moe = MODEL_SPECS.find((spec) => spec.moe && !spec.bench);
  assert.ok(moe, "a tiny MoE spec");
  let out = "";

  /** Runs the CLI; returns its log (stderr). */
  const makeModels = (): string => {
    const result = spawnSync(tsx, [script, "--out", out], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    return result.stderr;
  };
  const listed = (): Record<string, Listed> =>
    (JSON.parse(fs.readFileSync(path.join(out, "manifest.json"), "utf8")) as { models: Record<string, Listed> }).models;

  before(() => {
    out = path.join(tmp, "models");
    makeModels();
  });

  it("writes the tiny models under a generator-key folder and lists them with their sha256", () => {
    const models = listed();
    assert.deepEqual(Object.keys(models).sort(), MODEL_SPECS.filter((s) => !s.bench).map((s) => s.name).sort());
    for (const [name, entry] of Object.entries(models)) {
      assert.match(path.relative(out, entry.path), new RegExp(`^[0-9a-f]{16}/${name}\\.gguf$`));
      assert.equal(sha256(entry.path), entry.sha256);
      assert.equal(fs.statSync(entry.path).size, entry.bytes);
    }
  });

  it("writes the same bytes in every process", () => {
    const again = writeGguf(path.join(tmp, "moe-again.gguf"), llamaMetadata(moe), llamaTensors(moe));
    assert.equal(again.sha256, listed()[moe.name].sha256);
  });

  it("gives the MoE model the llama keys and expert tensors llama.cpp loads", async () => {
    const { metadata, tensorInfos } = await gguf(listed()[moe.name].path, { allowLocalFile: true });
    const kv = metadata as Record<string, unknown>;
    assert.equal(kv["general.architecture"], "llama");
    assert.equal(kv["llama.block_count"], moe.layers);
    assert.equal(kv["llama.embedding_length"], moe.embd);
    assert.equal(kv["llama.attention.head_count_kv"], moe.kvHeads);
    assert.equal(kv["llama.rope.dimension_count"], moe.embd / moe.heads);
    assert.equal(kv["llama.expert_count"], moe.moe?.experts);
    assert.equal(kv["llama.expert_used_count"], moe.moe?.expertsUsed);
    assert.equal((kv["tokenizer.ggml.tokens"] as string[]).length, moe.vocab);
    const shapes = new Map(tensorInfos.map((t) => [t.name, t.shape.map(Number)]));
    assert.equal(tensorInfos.length, 3 + moe.layers * 10);
    assert.deepEqual(shapes.get("token_embd.weight"), [moe.embd, moe.vocab]);
    assert.deepEqual(shapes.get("blk.0.attn_k.weight"), [moe.embd, (moe.embd / moe.heads) * moe.kvHeads]);
    assert.deepEqual(shapes.get("blk.0.ffn_gate_inp.weight"), [moe.embd, moe.moe?.experts]);
    assert.deepEqual(shapes.get(`blk.${moe.layers - 1}.ffn_down_exps.weight`), [moe.ffn, moe.embd, moe.moe?.experts]);
  });

  it("leaves intact models alone and removes the folders of other generator versions", () => {
    const { tinyDense } = listed();
    const untouched = fs.statSync(tinyDense.path).mtimeMs;
    const stale = path.join(out, "0123456789abcdef");
    fs.mkdirSync(stale);
    assert.match(makeModels(), /^\[setup\] model tinyDense: intact/m);
    assert.equal(fs.statSync(tinyDense.path).mtimeMs, untouched);
    assert.equal(fs.existsSync(stale), false);
  });

  it("regenerates corrupted and missing models", () => {
    const { tinyDense, tinyMoe } = listed();
    const fd = fs.openSync(tinyMoe.path, "r+");
    fs.writeSync(fd, Buffer.from([0xff, 0xfe]), 0, 2, Math.floor(tinyMoe.bytes / 2));
    fs.closeSync(fd);
    fs.rmSync(tinyDense.path);
    const log = makeModels();
    assert.match(log, /^\[setup\] model tinyMoe corrupted, regenerating$/m);
    assert.match(log, /^\[setup\] model tinyDense missing, regenerating$/m);
    assert.equal(sha256(tinyMoe.path), tinyMoe.sha256);
    assert.equal(sha256(tinyDense.path), tinyDense.sha256);
  });
});
