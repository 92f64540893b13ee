/**
 * Streams with backend records (1.3) for the offload tests: `runs` scheduler runs 1000 ns apart, each
 * a CPU split (2 nodes) computing 0xa2, copied (64x32 f32) to 0xd1 for a BLAS split that reads it;
 * the first run also copies a weight from host memory. Backends are named by their graph_compute
 * functions' symbols, as the trailer gives them.
 */
import { CopyKind } from "../../extension/profile/stream";
import { DEFAULT_HEADER, DEFAULT_TRAILER, OP, StreamBuilder } from "./streamBuilder";

export const CPU = 0xc000;
const BLAS = 0xb000;
export const CPU_FN = 0x7f0000001000;
const BLAS_FN = 0x7f0000002000;
export const SPLIT_CPU = 0x1111n;
const SPLIT_BLAS = 0x2222n;
export const OFFLOAD_TRAILER = {
  ...DEFAULT_TRAILER,
  symbols: [
    { ip: CPU_FN, path: "/lib/libggml-cpu.so", function: "ggml_backend_cpu_graph_compute" },
    { ip: BLAS_FN, path: "/lib/libggml-blas.so", function: "ggml_backend_blas_graph_compute" },
  ],
};

/** The whole stream, with its trailer, inside one llama_decode call of 4 tokens. */
export function cpuThenBlas(runs: number): StreamBuilder {
  const b = new StreamBuilder(DEFAULT_HEADER, 1, 3).decodeBegin({ tid: 7, ts: 90, nTokens: 4 });
  for (let r = 0; r < runs; r++) {
    const t = 100 + 1000 * r;
    b.schedGraphBegin({ tid: 7, ts: t, backend: 0x5000, nNodes: 3 }).backendGraphBegin({ tid: 7, ts: t + 10, backend: CPU, computeFn: CPU_FN, signature: SPLIT_CPU, nNodes: 2 });
    if (r === 0) {
      b.graphNode({ tid: 7, ts: t, signature: SPLIT_CPU, tensor: 0xa1, index: 0, op: OP.RMS_NORM, src: [0xe1], name: "norm-0" });
      b.graphNode({ tid: 7, ts: t, signature: SPLIT_CPU, tensor: 0xa2, index: 1, op: OP.MUL, src: [0xa1], name: "attn_norm-0" });
    }
    b.backendGraphEnd({ tid: 7, ts: t + 100 }).tensorCopy({ tid: 7, ts: t + 110, endTs: t + 130, src: 0xa2, dst: 0xd1, ne: [64, 32, 1, 1], nb: [4, 256, 8192, 8192], type: 0, kind: CopyKind.Sync, name: "attn_norm-0" });
    if (r === 0) b.tensorCopy({ tid: 7, ts: t + 131, endTs: t + 139, dst: 0xf1, size: 4096, kind: CopyKind.SetAsync, name: "ffn_up.weight" });
    b.backendGraphBegin({ tid: 7, ts: t + 140, backend: BLAS, computeFn: BLAS_FN, signature: SPLIT_BLAS, nNodes: 1 });
    if (r === 0) {
      b.graphNode({ tid: 7, ts: t, signature: SPLIT_BLAS, tensor: 0xb1, index: 0, op: OP.MUL_MAT, src: [0xf1, 0xd1], name: "ffn_up-0" });
      b.graphLeaf({ tid: 7, ts: t, signature: SPLIT_BLAS, tensor: 0xd1, consumer: 0, name: "BLAS#attn_norm-0#0" });
      b.graphLeaf({ tid: 7, ts: t, signature: SPLIT_BLAS, tensor: 0xf1, consumer: 0, name: "ffn_up.weight" });
    }
    b.backendGraphEnd({ tid: 7, ts: t + 540 }).schedGraphEnd({ tid: 7, ts: t + 560 });
  }
  return b.decodeEnd({ tid: 7, ts: 100 + 1000 * runs }).trailer(OFFLOAD_TRAILER);
}
