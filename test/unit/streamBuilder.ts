/**
 * Test encoder of the ggml-lens stream, written byte by byte from bpf/stream.h on its own (it does
 * not use the offsets of extension/profile/stream.ts, so the decoder is checked against the header).
 */

export const DEFAULT_HEADER = {
  format: "ggml-lens-stream",
  mode: "full",
  op_method: "dwarf-inline",
  clock: "CLOCK_MONOTONIC",
  start_ns: 1_000_000,
  target: { pid: 4242, launched: true, exe: "/build/bin/llama-completion" },
  libraries: [{ path: "/lib/libggml-cpu.so", build_id: "abcd", has_dwarf: true, roles: ["ggml-cpu"] }],
  ops: ["NONE", "DUP", "ADD", "MUL", "RMS_NORM", "MUL_MAT", "SOFT_MAX"],
  types: [
    { name: "f32", blck_size: 1, type_size: 4, is_quantized: false },
    { name: "f16", blck_size: 1, type_size: 2, is_quantized: false },
    { name: "q4_0", blck_size: 32, type_size: 18, is_quantized: true },
  ],
  layout: { source: "dwarf" },
  sites: [],
};

export const DEFAULT_TRAILER = {
  hits: { op_begin: 10, op_end: 10 },
  lost: { op_begin: 2, sample: 1 },
  exit_status: 0,
  windows: 0,
  duration_ns: 5_000_000,
};

export const OP = { NONE: 0, DUP: 1, ADD: 2, MUL: 3, RMS_NORM: 4, MUL_MAT: 5, SOFT_MAX: 6 } as const;

interface Common {
  tid: number;
  ts: number;
}

export interface OpBeginFields extends Common {
  tensor: number;
  tensor2?: number;
  ne?: number[];
  op: number;
  type?: number;
  ith?: number;
  cpu?: number;
  site?: number;
  flags?: number;
  name?: string;
}

export interface GraphNodeFields extends Common {
  signature: bigint;
  tensor: number;
  src?: number[];
  ne?: number[];
  nb?: number[];
  index: number;
  op: number;
  type?: number;
  flags?: number;
  opParams0?: number;
  name?: string;
}

export interface GraphLeafFields extends Common {
  signature: bigint;
  tensor: number;
  ne?: number[];
  nb?: number[];
  type?: number;
  consumer?: number;
  name?: string;
}

export interface BackendGraphFields extends Common {
  backend: number;
  graph?: number;
  signature?: bigint;
  computeFn?: number;
  device?: number;
  nNodes: number;
}

export interface TensorCopyFields extends Common {
  endTs: number;
  src?: number;
  dst: number;
  backend?: number;
  backend2?: number;
  offset?: number;
  size?: number;
  ne?: number[];
  nb?: number[];
  type?: number;
  /** enum gl_copy_kind: 1 copy, 2 copy_async, 3 set_async */
  kind?: number;
  name?: string;
}

function writeBackendGraph(v: DataView, c: BackendGraphFields): void {
  v.setBigUint64(16, BigInt(c.backend), true);
  v.setBigUint64(24, BigInt(c.graph ?? 0x7000), true);
  v.setBigUint64(32, c.signature ?? 0n, true);
  v.setBigUint64(40, BigInt(c.computeFn ?? 0), true);
  v.setBigUint64(48, BigInt(c.device ?? 0), true);
  v.setInt32(56, c.nNodes, true);
}

type Fill = (view: DataView, bytes: Uint8Array) => void;

export class StreamBuilder {
  private readonly parts: Uint8Array[] = [];

  constructor(header: object = DEFAULT_HEADER, major = 1, minor = 1, padHeader = true) {
    const json = new TextEncoder().encode(JSON.stringify(header));
    const total = 16 + json.length;
    const bytes = new Uint8Array(padHeader ? Math.ceil(total / 8) * 8 : total);
    bytes.set(new TextEncoder().encode("GGMLLENS"), 0);
    const view = new DataView(bytes.buffer);
    view.setUint16(8, major, true);
    view.setUint16(10, minor, true);
    view.setUint32(12, json.length, true);
    bytes.set(json, 16);
    this.parts.push(bytes);
  }

  /** Any record: the 16-byte gl_record header, then `fill` writes the rest. */
  record(type: number, size: number, c: Common, fill: Fill = () => {}, length = size): this {
    const bytes = new Uint8Array(length);
    const view = new DataView(bytes.buffer);
    view.setUint16(0, type, true);
    view.setUint16(2, size, true);
    view.setUint32(4, c.tid, true);
    view.setBigUint64(8, BigInt(c.ts), true);
    fill(view, bytes);
    this.parts.push(bytes);
    return this;
  }

  decodeBegin(c: Common & { ctx?: number; nTokens: number; cpu?: number }): this {
    return this.record(1, 32, c, (v) => {
      v.setBigUint64(16, BigInt(c.ctx ?? 0x5000), true);
      v.setInt32(24, c.nTokens, true);
      v.setUint32(28, c.cpu ?? 0, true);
    });
  }

  /** DECODE_END, with the calling thread's software counters over the call (gl_sw_counters at 24). */
  decodeEnd(c: Common & { ret?: number; minFlt?: number; majFlt?: number; nvcsw?: number; nivcsw?: number; cpuNs?: number }): this {
    return this.record(2, 48, c, (v) => {
      v.setInt32(16, c.ret ?? 0, true);
      v.setUint32(20, 1, true);
      v.setUint32(24, c.minFlt ?? 0, true);
      v.setUint32(28, c.majFlt ?? 0, true);
      v.setUint32(32, c.nvcsw ?? 0, true);
      v.setUint32(36, c.nivcsw ?? 0, true);
      v.setBigUint64(40, BigInt(c.cpuNs ?? 0), true);
    });
  }

  graphBegin(c: Common & { graph?: number; signature: bigint; nNodes: number }): this {
    return this.record(3, 40, c, (v) => {
      v.setBigUint64(16, BigInt(c.graph ?? 0x7000), true);
      v.setBigUint64(24, c.signature, true);
      v.setInt32(32, c.nNodes, true);
      v.setUint32(36, 0, true);
    });
  }

  graphEnd(c: Common & { status?: number }): this {
    return this.record(4, 32, c, (v) => {
      v.setBigUint64(16, 0n, true);
      v.setInt32(24, c.status ?? 0, true);
    });
  }

  graphNode(c: GraphNodeFields): this {
    return this.record(5, 264, c, (v, b) => {
      v.setBigUint64(16, c.signature, true);
      v.setBigUint64(24, BigInt(c.tensor), true);
      (c.src ?? []).forEach((s, i) => v.setBigUint64(32 + 8 * i, BigInt(s), true));
      (c.ne ?? [1, 1, 1, 1]).forEach((n, i) => v.setBigInt64(112 + 8 * i, BigInt(n), true));
      (c.nb ?? []).forEach((n, i) => v.setBigUint64(144 + 8 * i, BigInt(n), true));
      v.setInt32(176, c.index, true);
      v.setInt32(180, c.op, true);
      v.setInt32(184, c.type ?? 0, true);
      v.setInt32(188, c.flags ?? 0, true);
      v.setInt32(192, c.opParams0 ?? 0, true);
      b.set(new TextEncoder().encode(c.name ?? ""), 200);
    });
  }

  /** GRAPH_LEAF (minor 2): a source of a node that the graph does not compute. */
  graphLeaf(c: GraphLeafFields): this {
    return this.record(13, 168, c, (v, b) => {
      v.setBigUint64(16, c.signature, true);
      v.setBigUint64(24, BigInt(c.tensor), true);
      (c.ne ?? [1, 1, 1, 1]).forEach((n, i) => v.setBigInt64(32 + 8 * i, BigInt(n), true));
      (c.nb ?? []).forEach((n, i) => v.setBigUint64(64 + 8 * i, BigInt(n), true));
      v.setInt32(96, c.type ?? 0, true);
      v.setInt32(100, c.consumer ?? 0, true);
      b.set(new TextEncoder().encode(c.name ?? ""), 104);
    });
  }

  /** OP_BEGIN as stream major 2 writes it (88 bytes), or with a name as major 1 did (152). */
  opBegin(c: OpBeginFields): this {
    return this.record(6, c.name === undefined ? 88 : 152, c, (v, b) => {
      v.setBigUint64(16, BigInt(c.tensor), true);
      v.setBigUint64(24, BigInt(c.tensor2 ?? 0), true);
      (c.ne ?? [1, 1, 1, 1]).forEach((n, i) => v.setBigInt64(32 + 8 * i, BigInt(n), true));
      v.setInt32(64, c.op, true);
      v.setInt32(68, c.type ?? 0, true);
      v.setInt32(72, c.ith ?? 0, true);
      v.setUint32(76, c.cpu ?? 0, true);
      v.setUint32(80, c.site ?? 0, true);
      v.setUint32(84, c.flags ?? 0, true);
      if (c.name !== undefined) b.set(new TextEncoder().encode(c.name), 88);
    });
  }

  opEnd(c: Common & { tensor: number; minFlt?: number; majFlt?: number; nvcsw?: number; nivcsw?: number; cpuNs?: number }): this {
    return this.record(7, 56, c, (v) => {
      v.setBigUint64(16, BigInt(c.tensor), true);
      v.setUint32(24, 0, true);
      v.setUint32(32, c.minFlt ?? 0, true);
      v.setUint32(36, c.majFlt ?? 0, true);
      v.setUint32(40, c.nvcsw ?? 0, true);
      v.setUint32(44, c.nivcsw ?? 0, true);
      v.setBigUint64(48, BigInt(c.cpuNs ?? 0), true);
    });
  }

  expertIds(c: Common & { tensor: number; nUsed: number; nTokens: number; ids: number[] }): this {
    return this.record(8, 296, c, (v) => {
      v.setBigUint64(16, BigInt(c.tensor), true);
      v.setInt32(24, c.nUsed, true);
      v.setInt32(28, c.nTokens, true);
      v.setUint32(32, c.ids.length, true);
      c.ids.forEach((id, i) => v.setInt32(40 + 4 * i, id, true));
    });
  }

  /** `stack`: 1 + index of its caller chain in the trailer's stacks, 0 (default) for none. */
  sample(c: Common & { ip: number; tensor?: number; stack?: number }): this {
    return this.record(9, 40, c, (v) => {
      v.setBigUint64(16, BigInt(c.ip), true);
      v.setBigUint64(24, BigInt(c.tensor ?? 0), true);
      v.setUint32(32, 1, true);
      v.setUint32(36, c.stack ?? 0, true);
    });
  }

  sched(c: Common & { kind: number }): this {
    return this.record(10, 24, c, (v) => {
      v.setUint32(16, c.kind, true);
      v.setUint32(20, 0, true);
    });
  }

  window(c: Common & { on: boolean }): this {
    return this.record(11, 24, c, (v) => v.setUint32(16, c.on ? 1 : 0, true));
  }

  /** BACKEND_GRAPH_BEGIN (minor 3): `backend` starts computing a graph (a split); `computeFn` is its iface.graph_compute. */
  backendGraphBegin(c: BackendGraphFields): this {
    return this.record(14, 64, c, (v) => writeBackendGraph(v, c));
  }

  backendGraphEnd(c: Common & { status?: number }): this {
    return this.record(15, 24, c, (v) => v.setInt32(16, c.status ?? 0, true));
  }

  /** SCHED_GRAPH_BEGIN (minor 3): the scheduler `backend` (a ggml_backend_sched_t) starts a whole graph. */
  schedGraphBegin(c: BackendGraphFields): this {
    return this.record(16, 64, c, (v) => writeBackendGraph(v, c));
  }

  schedGraphEnd(c: Common & { status?: number }): this {
    return this.record(17, 24, c, (v) => v.setInt32(16, c.status ?? 0, true));
  }

  /** TENSOR_COPY (minor 3): ts is when the copy started, endTs when it returned. */
  tensorCopy(c: TensorCopyFields): this {
    return this.record(18, 208, c, (v, b) => {
      v.setBigUint64(16, BigInt(c.endTs), true);
      v.setBigUint64(24, BigInt(c.src ?? 0), true);
      v.setBigUint64(32, BigInt(c.dst), true);
      v.setBigUint64(40, BigInt(c.backend ?? 0), true);
      v.setBigUint64(48, BigInt(c.backend2 ?? 0), true);
      v.setBigUint64(56, BigInt(c.offset ?? 0), true);
      v.setBigUint64(64, BigInt(c.size ?? 0), true);
      (c.ne ?? [1, 1, 1, 1]).forEach((n, i) => v.setBigInt64(72 + 8 * i, BigInt(n), true));
      (c.nb ?? []).forEach((n, i) => v.setBigUint64(104 + 8 * i, BigInt(n), true));
      v.setInt32(136, c.type ?? 0, true);
      v.setUint32(140, c.kind ?? 1, true);
      b.set(new TextEncoder().encode(c.name ?? ""), 144);
    });
  }

  /** BACKEND_NAME (minor 3): kind 1 a backend's name (ggml_backend_name), 2 a device's. */
  backendName(c: Common & { object: number; kind?: number; name: string }): this {
    return this.record(19, 96, c, (v, b) => {
      v.setBigUint64(16, BigInt(c.object), true);
      v.setUint32(24, c.kind ?? 1, true);
      b.set(new TextEncoder().encode(c.name), 32);
    });
  }

  /** THREAD (minor 3): thread `tid` belongs to process `pid`. */
  thread(c: Common & { pid: number }): this {
    return this.record(20, 24, c, (v) => v.setUint32(16, c.pid, true));
  }

  /** The trailer: gl_trailer (24 bytes), then the JSON padded to 8. */
  trailer(json: object = DEFAULT_TRAILER, ts = 9_000_000): this {
    const text = new TextEncoder().encode(JSON.stringify(json));
    const length = 24 + Math.ceil(text.length / 8) * 8;
    return this.record(
      12,
      24,
      { tid: 0, ts },
      (v, b) => {
        v.setUint32(16, text.length, true);
        b.set(text, 24);
      },
      length,
    );
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/** `n` OP_BEGIN/OP_END pairs on 3 threads, 10 ns apart. */
export function manyOps(n: number, builder = new StreamBuilder()): StreamBuilder {
  for (let i = 0; i < n; i++) {
    builder.opBegin({ tid: 1 + (i % 3), ts: 10 * i, tensor: 0x1000 + i, op: i % 7, name: `t${i}` });
    builder.opEnd({ tid: 1 + (i % 3), ts: 10 * i + 5, tensor: 0x1000 + i });
  }
  return builder;
}

/** For speed checks: `repeats` blocks of 1000 op pairs, a sample and a sched event (no trailer). */
export function benchStream(repeats: number): { bytes: Uint8Array; events: number } {
  const block = manyOps(1000).sample({ tid: 1, ts: 1, ip: 0x400000 }).sched({ tid: 1, ts: 2, kind: 3 }).bytes();
  const header = new StreamBuilder().bytes();
  const body = block.subarray(header.length);
  const bytes = new Uint8Array(header.length + body.length * repeats);
  bytes.set(header);
  for (let i = 0; i < repeats; i++) bytes.set(body, header.length + i * body.length);
  return { bytes, events: 2002 * repeats };
}

/** Best of 3 CPU times (user + system, so that page faults count) of `run`, as events per second. */
export function eventRate(events: number, run: () => void): string {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    best = Math.min(best, (used.user + used.system) / 1e6);
  }
  return `${(events / best / 1e6).toFixed(1)} M events/s`;
}
