/**
 * The ggml-lens stream: the one TypeScript mirror of bpf/stream.h, and its decoder.
 *
 * test/unit/c-layout.test.ts compiles stream.h and checks every size, offset and constant below
 * against what the C compiler says, so the two sides cannot drift apart silently.
 *
 * Decoding is column-wise: one walk over the record headers validates the framing and collects the
 * offsets of each type's records; each field then becomes one typed array (struct of arrays), read
 * from the buffer the first time it is accessed. No object is made per record, and a field nobody
 * looks at costs neither time nor memory.
 *
 * 64-bit integers become JavaScript numbers (exact up to 2^53: user-space addresses always are,
 * CLOCK_MONOTONIC nanoseconds are for the first 104 days of uptime), except graph signatures,
 * which are full 64-bit hashes and stay bigints.
 */

export const STREAM_MAGIC = "GGMLLENS";
export const STREAM_VERSION_MAJOR = 2;
export const STREAM_VERSION_MINOR = 1;

/** magic[8], u16 major, u16 minor, u32 length of the JSON header. */
export const FILE_HEADER = { size: 16, major: 8, minor: 10, jsonLen: 12 } as const;
/** struct gl_record, at the start of every record. */
export const RECORD_HEADER = { size: 16, type: 0, recordSize: 2, tid: 4, ts: 8 } as const;

export const NAME_CAP = 64;
export const MAX_DIMS_CAP = 4;
export const MAX_SRC_CAP = 10;
export const EXPERT_IDS_CAP = 64;

/** Largest JSON header or trailer accepted, so that a corrupt length cannot exhaust memory. */
export const MAX_JSON_BYTES = 64 << 20;
/** Errors kept per decode; more are counted in one last message. */
export const MAX_ERRORS = 50;

export enum RecordType {
  DecodeBegin = 1,
  DecodeEnd = 2,
  GraphBegin = 3,
  GraphEnd = 4,
  GraphNode = 5,
  OpBegin = 6,
  OpEnd = 7,
  ExpertIds = 8,
  Sample = 9,
  Sched = 10,
  Window = 11,
  Trailer = 12,
  GraphLeaf = 13,
  /** Minor 3: backends and the copies between them. */
  BackendGraphBegin = 14,
  BackendGraphEnd = 15,
  SchedGraphBegin = 16,
  SchedGraphEnd = 17,
  TensorCopy = 18,
  BackendName = 19,
  Thread = 20,
}

/** enum gl_copy_kind: which ggml call copied a tensor into a backend's memory. */
export enum CopyKind {
  Sync = 1,
  Async = 2,
  SetAsync = 3,
}

/** enum gl_name_kind: whose name a BACKEND_NAME record carries. */
export enum NameKind {
  Backend = 1,
  Device = 2,
}

/** enum gl_op_flags */
export enum OpFlags {
  Fused = 1,
  /** op, type and ne are not in the record: the tensor's GRAPH_NODE has them (minor 1). */
  ShapeInGraph = 2,
}

/** enum gl_sched_kind */
export enum SchedKind {
  OutSleep = 1,
  OutPreempt = 2,
  In = 3,
  Wakeup = 4,
}

/** enum gl_probe_kind: index of the helper's per-probe hit and loss counters. */
export enum ProbeKind {
  DecodeEnter,
  DecodeExit,
  GraphEnter,
  GraphExit,
  OpBegin,
  OpFused,
  OpEnd,
  Sample,
  Sched,
  BackendGraph,
  TensorCopy,
  BackendName,
  Count,
}

/** How a field is stored: u64/i64 become numbers, h64 (hashes) bigints, char stays in the bytes. */
export type FieldKind = "u32" | "i32" | "u64" | "i64" | "h64" | "char";

export interface FieldLayout<K extends FieldKind = FieldKind> {
  /** Field name in stream.h. */
  readonly c: string;
  /** Byte offset in the record (offsetof). */
  readonly at: number;
  readonly kind: K;
  /** Array length (1 for scalars). */
  readonly n: number;
}

type Fields = Readonly<Record<string, FieldLayout>>;

export interface RecordLayout<F extends Fields = Fields> {
  readonly type: RecordType;
  /** Struct name in stream.h. */
  readonly c: string;
  /** sizeof: the smallest record of this type; newer minor versions may append fields. */
  readonly size: number;
  readonly fields: F;
}

function field<K extends FieldKind>(c: string, at: number, kind: K, n = 1): FieldLayout<K> {
  return { c, at, kind, n };
}

/** Names a table already uses for the record header; a field named so would hide them. */
type NotReserved = Partial<Record<"count" | "offset" | "ts" | "tid", never>>;

function layout<F extends Fields & NotReserved>(type: RecordType, c: string, size: number, fields: F): RecordLayout<F> {
  return { type, c, size, fields };
}

/** struct gl_sw_counters: a thread's software counters over a span (page faults, context switches, CPU time). */
export const SW_COUNTERS_LAYOUT = {
  c: "gl_sw_counters",
  size: 24,
  fields: {
    minFlt: field("min_flt", 0, "u32"),
    majFlt: field("maj_flt", 4, "u32"),
    nvcsw: field("nvcsw", 8, "u32"),
    nivcsw: field("nivcsw", 12, "u32"),
    cpuNs: field("cpu_ns", 16, "u64"),
  },
} as const;

/** The counters embedded as the record's `delta` member at offset `at`. */
function swCounters(at: number) {
  const f = SW_COUNTERS_LAYOUT.fields;
  const member = <K extends FieldKind>(x: FieldLayout<K>) => field(`delta.${x.c}`, at + x.at, x.kind);
  return { minFlt: member(f.minFlt), majFlt: member(f.majFlt), nvcsw: member(f.nvcsw), nivcsw: member(f.nivcsw), cpuNs: member(f.cpuNs) };
}

/** struct gl_backend_graph_begin: BACKEND_GRAPH_BEGIN and SCHED_GRAPH_BEGIN share it. */
function backendGraphFields() {
  return {
    backend: field("backend", 16, "u64"),
    graph: field("graph", 24, "u64"),
    signature: field("signature", 32, "h64"),
    computeFn: field("compute_fn", 40, "u64"),
    device: field("device", 48, "u64"),
    nNodes: field("n_nodes", 56, "i32"),
    cpu: field("cpu", 60, "u32"),
  };
}

function backendGraphEndFields() {
  return { status: field("status", 16, "i32"), cpu: field("cpu", 20, "u32") };
}

/** The record types decoded into tables (padding fields are not listed). */
export const LAYOUTS = {
  decodeBegin: layout(RecordType.DecodeBegin, "gl_decode_begin", 32, {
    ctx: field("ctx", 16, "u64"),
    nTokens: field("n_tokens", 24, "i32"),
    cpu: field("cpu", 28, "u32"),
  }),
  decodeEnd: layout(RecordType.DecodeEnd, "gl_decode_end", 48, {
    ret: field("ret", 16, "i32"),
    cpu: field("cpu", 20, "u32"),
    ...swCounters(24),
  }),
  graphBegin: layout(RecordType.GraphBegin, "gl_graph_begin", 40, {
    graph: field("graph", 16, "u64"),
    signature: field("signature", 24, "h64"),
    nNodes: field("n_nodes", 32, "i32"),
    cpu: field("cpu", 36, "u32"),
  }),
  graphEnd: layout(RecordType.GraphEnd, "gl_graph_end", 32, {
    graph: field("graph", 16, "u64"),
    status: field("status", 24, "i32"),
    cpu: field("cpu", 28, "u32"),
  }),
  graphNode: layout(RecordType.GraphNode, "gl_graph_node", 264, {
    signature: field("signature", 16, "h64"),
    tensor: field("tensor", 24, "u64"),
    src: field("src", 32, "u64", MAX_SRC_CAP),
    ne: field("ne", 112, "i64", MAX_DIMS_CAP),
    nb: field("nb", 144, "u64", MAX_DIMS_CAP),
    index: field("index", 176, "i32"),
    op: field("op", 180, "i32"),
    type: field("type", 184, "i32"),
    flags: field("flags", 188, "i32"),
    opParams0: field("op_params0", 192, "i32"),
    name: field("name", 200, "char", NAME_CAP),
  }),
  graphLeaf: layout(RecordType.GraphLeaf, "gl_graph_leaf", 168, {
    signature: field("signature", 16, "h64"),
    tensor: field("tensor", 24, "u64"),
    ne: field("ne", 32, "i64", MAX_DIMS_CAP),
    nb: field("nb", 64, "u64", MAX_DIMS_CAP),
    type: field("type", 96, "i32"),
    consumer: field("consumer", 100, "i32"),
    name: field("name", 104, "char", NAME_CAP),
  }),
  opBegin: layout(RecordType.OpBegin, "gl_op_begin", 88, {
    tensor: field("tensor", 16, "u64"),
    tensor2: field("tensor2", 24, "u64"),
    ne: field("ne", 32, "i64", MAX_DIMS_CAP),
    op: field("op", 64, "i32"),
    type: field("type", 68, "i32"),
    ith: field("ith", 72, "i32"),
    cpu: field("cpu", 76, "u32"),
    site: field("site", 80, "u32"),
    flags: field("flags", 84, "u32"),
    // major 1 appended the tensor's name (read no more: the graph's GRAPH_NODE names it)
  }),
  opEnd: layout(RecordType.OpEnd, "gl_op_end", 56, {
    tensor: field("tensor", 16, "u64"),
    cpu: field("cpu", 24, "u32"),
    ...swCounters(32),
  }),
  expertIds: layout(RecordType.ExpertIds, "gl_expert_ids", 296, {
    tensor: field("tensor", 16, "u64"),
    nUsed: field("n_used", 24, "i32"),
    nTokens: field("n_tokens", 28, "i32"),
    idCount: field("count", 32, "u32"),
    ids: field("ids", 40, "i32", EXPERT_IDS_CAP),
  }),
  sample: layout(RecordType.Sample, "gl_sample", 40, {
    ip: field("ip", 16, "u64"),
    tensor: field("tensor", 24, "u64"),
    cpu: field("cpu", 32, "u32"),
    /** 1 + index of the sample's caller chain in Trailer.stacks, 0 when none (minor 3; 0 before). */
    stack: field("stack", 36, "u32"),
  }),
  sched: layout(RecordType.Sched, "gl_sched", 24, {
    kind: field("kind", 16, "u32"),
    cpu: field("cpu", 20, "u32"),
  }),
  window: layout(RecordType.Window, "gl_window", 24, {
    on: field("on", 16, "u32"),
  }),
  backendGraphBegin: layout(RecordType.BackendGraphBegin, "gl_backend_graph_begin", 64, backendGraphFields()),
  backendGraphEnd: layout(RecordType.BackendGraphEnd, "gl_backend_graph_end", 24, backendGraphEndFields()),
  schedGraphBegin: layout(RecordType.SchedGraphBegin, "gl_backend_graph_begin", 64, backendGraphFields()),
  schedGraphEnd: layout(RecordType.SchedGraphEnd, "gl_backend_graph_end", 24, backendGraphEndFields()),
  tensorCopy: layout(RecordType.TensorCopy, "gl_tensor_copy", 208, {
    endTs: field("end_ts", 16, "u64"),
    src: field("src", 24, "u64"),
    dst: field("dst", 32, "u64"),
    backend: field("backend", 40, "u64"),
    backend2: field("backend2", 48, "u64"),
    byteOffset: field("offset", 56, "u64"),
    size: field("size", 64, "u64"),
    ne: field("ne", 72, "i64", MAX_DIMS_CAP),
    nb: field("nb", 104, "u64", MAX_DIMS_CAP),
    type: field("type", 136, "i32"),
    kind: field("kind", 140, "u32"),
    name: field("name", 144, "char", NAME_CAP),
  }),
  backendName: layout(RecordType.BackendName, "gl_backend_name", 96, {
    object: field("object", 16, "u64"),
    kind: field("kind", 24, "u32"),
    name: field("name", 32, "char", NAME_CAP),
  }),
  thread: layout(RecordType.Thread, "gl_thread", 24, {
    pid: field("pid", 16, "u32"),
  }),
} as const;

/** struct gl_trailer: its `size` covers the struct only; json_len bytes of JSON follow, padded to 8. */
export const TRAILER_LAYOUT = layout(RecordType.Trailer, "gl_trailer", 24, {
  jsonLen: field("json_len", 16, "u32"),
});

export type TableName = keyof typeof LAYOUTS;
export const TABLE_NAMES = Object.keys(LAYOUTS) as TableName[];

type Column<K extends FieldKind> = K extends "u32"
  ? Uint32Array
  : K extends "i32"
    ? Int32Array
    : K extends "h64"
      ? BigUint64Array
      : Float64Array;

/**
 * Records of one type, one typed array per field (read on first access, then kept); arrays of n
 * are flattened (row i at i*n).
 */
export type Table<F extends Fields> = {
  count: number;
  /** Byte offset of each record in the batch's bytes: stream order, and access to char fields. */
  offset: Uint32Array;
  ts: Float64Array;
  tid: Uint32Array;
} & { [P in keyof F as F[P]["kind"] extends "char" ? never : P]: Column<F[P]["kind"]> };

export type RecordTables = { [K in TableName]: Table<(typeof LAYOUTS)[K]["fields"]> };

/** Records decoded from one buffer (the whole stream, or one chunk of a live one). */
export interface RecordBatch {
  /** The bytes the tables' offsets point into. */
  bytes: Uint8Array;
  tables: RecordTables;
  /** Records of types this reader does not know, skipped by size: count per type. */
  unknown: Map<number, number>;
  /** All records, known or not, trailer excluded. */
  count: number;
  /** Tensor names kept apart from `bytes`, by table (a recording read from a .ggmlprof container). */
  names?: Partial<Record<TableName, (row: number) => string>>;
}

export interface LibraryInfo {
  path: string;
  build_id: string;
  /** What the library is to ggml-lens: "llama", "ggml-cpu", "ggml-base" (a "role" string counts as one). */
  roles: string[];
  has_dwarf: boolean;
  /** Where the build's DWARF puts the op kernels in the source, per file (CPU libraries with DWARF; minor 4). */
  source_lines: SourceFileLines[];
}

/** A function's name at a 1-based source line. */
export interface FunctionLine {
  line: number;
  function: string;
}

/** The lines of one source file: `ggml_compute_forward_*` definitions and their calls from the op switch. */
export interface SourceFileLines {
  file: string;
  definitions: FunctionLine[];
  calls: FunctionLine[];
}

export interface TypeInfo {
  name: string;
  blck_size: number;
  type_size: number;
  is_quantized: boolean;
}

/** The JSON header, with the fields readers rely on checked and defaulted. */
export interface HeaderInfo {
  format: "ggml-lens-stream";
  mode: string;
  op_method: string;
  /** Where op spans' op, type and shape come from: "graph" (the tensor's GRAPH_NODE, minor 1), "live" (read as each op began), "" (before minor 1: live). */
  op_shapes: string;
  clock: string;
  start_ns: number;
  /** The profiled process: its executable, and its command line when the helper gives it. */
  target: { pid: number; exe: string; argv: string[]; launched: boolean };
  libraries: LibraryInfo[];
  /** Op names; index = ggml_op value in the target. */
  ops: string[];
  /** Type traits; index = ggml_type value in the target. */
  types: TypeInfo[];
  /** The whole JSON object, for fields not listed above. */
  raw: Record<string, unknown>;
}

export interface StreamHeader {
  major: number;
  minor: number;
  info: HeaderInfo;
  /** Offset of the first record. */
  recordsStart: number;
}

/** Where a sampled instruction is: the instruction's function and line, then the functions it was
 * inlined into (innermost first, each at its call site's line). */
export interface SampleSymbol {
  ip: number;
  path?: string;
  build_id?: string | null;
  file_vaddr?: number;
  function?: string | null;
  file?: string | null;
  line?: number;
  inline_callers?: { function: string | null; file: string | null; line: number }[];
}

export interface Trailer {
  hits: Record<string, number>;
  lost: Record<string, number>;
  exit_status: number | null;
  windows: number;
  duration_ns: number;
  /** The distinct sampled IPs, symbolized by the helper from the files the target mapped. */
  symbols: SampleSymbol[];
  /** Caller chains of the samples, innermost first (the sampled IP, then each caller's return address - 1; all in symbols). */
  stacks: number[][];
  /** CPU backends the target loaded after the helper attached: probed from attached_ns on. */
  late_libraries: LateLibrary[];
  /**
   * Runs and run time of each BPF program, by program name, when the kernel kept them
   * (kernel.bpf_stats_enabled was 1): the profiler's own cost in the kernel. Empty otherwise.
   */
  program_cost: Record<string, ProgramCost>;
  raw: Record<string, unknown>;
}

export interface ProgramCost {
  runs: number;
  ns: number;
}

export interface LateLibrary {
  path: string;
  build_id: string;
  op_method: string;
  /** When its probes were in place (the stream's clock); what it computed before is not recorded. */
  attached_ns: number;
  /** Its op sites' indices (gl_op_begin.site), numbered after the header's sites. */
  sites: number[];
}

export interface DecodedStream extends RecordBatch {
  header: StreamHeader;
  /** Undefined when the stream has no (readable) trailer. */
  trailer: Trailer | undefined;
  /** The stream was cut short (no trailer, or it stops inside a record): what precedes is kept. */
  truncated: boolean;
  /** Problems met while decoding what could be decoded; at most MAX_ERRORS + 1 entries. */
  errors: string[];
}

/** The bytes are not a ggml-lens stream this reader can decode. */
export class ProfileFormatError extends Error {
  override name = "ProfileFormatError";
}

const utf8 = new TextDecoder("utf-8");

/** A copy in a buffer of its own (a Node Buffer's slice() would share the memory). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** A NUL-terminated string of at most `cap` bytes at `at`. */
export function cString(bytes: Uint8Array, at: number, cap: number): string {
  const limit = Math.min(at + cap, bytes.length);
  let end = at;
  let ascii = true;
  for (; end < limit && bytes[end] !== 0; end++) if (bytes[end] >= 0x80) ascii = false;
  // Tensor names are ASCII: String.fromCharCode is several times faster than a TextDecoder call.
  return ascii ? String.fromCharCode.apply(null, bytes.subarray(at, end) as unknown as number[]) : utf8.decode(bytes.subarray(at, end));
}

/** The name carried by row `row` of a table with a name field (a tensor's; a backend's for BACKEND_NAME). */
export function tensorName(batch: RecordBatch, table: "graphNode" | "graphLeaf" | "tensorCopy" | "backendName", row: number): string {
  const names = batch.names?.[table];
  if (names) return names(row);
  return cString(batch.bytes, batch.tables[table].offset[row] + LAYOUTS[table].fields.name.at, NAME_CAP);
}

// ---- errors ------------------------------------------------------------------------------

class ErrorLog {
  readonly messages: string[] = [];
  private dropped = 0;

  add(message: string): void {
    if (this.messages.length < MAX_ERRORS) this.messages.push(message);
    else this.dropped++;
  }

  list(): string[] {
    return this.dropped ? [...this.messages, `... and ${this.dropped} more errors`] : [...this.messages];
  }
}

// ---- file header -------------------------------------------------------------------------

type HeaderParse = { header: StreamHeader } | { needBytes: number };

function checkMagic(bytes: Uint8Array): void {
  const n = Math.min(bytes.length, STREAM_MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== STREAM_MAGIC.charCodeAt(i)) {
      throw new ProfileFormatError(`not a ggml-lens profile: it does not start with "${STREAM_MAGIC}"`);
    }
  }
}

/**
 * Parses the file header when `bytes` hold all of it, else says how many bytes it needs. A growing
 * stream (`complete` false) waits for the padding after the JSON, to tell whether there is any.
 */
function parseHeader(bytes: Uint8Array, complete: boolean): HeaderParse {
  checkMagic(bytes);
  if (bytes.length < FILE_HEADER.size) return { needBytes: FILE_HEADER.size };
  const view = viewOf(bytes);
  const major = view.getUint16(FILE_HEADER.major, true);
  const minor = view.getUint16(FILE_HEADER.minor, true);
  if (major > STREAM_VERSION_MAJOR) {
    throw new ProfileFormatError(
      `written by a newer ggml-lens: major ${major} > supported ${STREAM_VERSION_MAJOR}; update ggml-lens`,
    );
  }
  const jsonLen = view.getUint32(FILE_HEADER.jsonLen, true);
  if (jsonLen > MAX_JSON_BYTES) {
    throw new ProfileFormatError(`corrupt header: JSON length ${jsonLen} exceeds the limit of ${MAX_JSON_BYTES} bytes`);
  }
  const jsonEnd = FILE_HEADER.size + jsonLen;
  const needBytes = complete ? jsonEnd : align8(jsonEnd);
  if (bytes.length < needBytes) return { needBytes };
  const info = parseHeaderJson(bytes.subarray(FILE_HEADER.size, jsonEnd));
  return { header: { major, minor, info, recordsStart: recordsStart(bytes, jsonEnd) } };
}

/**
 * Records start right after the JSON header, or at the next multiple of 8 when the writer padded it
 * with zero bytes. A record never starts with a zero byte (type 1-255 in its low byte), so the two
 * cannot be confused.
 */
function recordsStart(bytes: Uint8Array, jsonEnd: number): number {
  const padded = Math.min(align8(jsonEnd), bytes.length);
  for (let i = jsonEnd; i < padded; i++) if (bytes[i] !== 0) return jsonEnd;
  return padded;
}

/** A JSON parser's message (which quotes the input) as one printable line: control characters escaped. */
export function jsonErrorText(err: unknown): string {
  // eslint-disable-next-line no-control-regex
  return (err as Error).message.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function parseJsonObject(bytes: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    throw new ProfileFormatError(`${what} is not valid JSON: ${jsonErrorText(err)}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProfileFormatError(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function str(value: unknown, fallback = ""): string {
  return typeof value === "string" ? value : fallback;
}

function num(value: unknown, fallback = 0): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function obj(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function counters(value: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(obj(value))) out[key] = num(n);
  return out;
}

function parseHeaderJson(bytes: Uint8Array): HeaderInfo {
  const raw = parseJsonObject(bytes, "the stream's JSON header");
  if (raw.format !== "ggml-lens-stream") {
    throw new ProfileFormatError(`not a ggml-lens stream: header format is ${JSON.stringify(raw.format)}`);
  }
  const target = obj(raw.target);
  return {
    format: "ggml-lens-stream",
    mode: str(raw.mode),
    op_method: str(raw.op_method),
    op_shapes: str(obj(raw.layout).op_shapes),
    clock: str(raw.clock),
    start_ns: num(raw.start_ns),
    target: {
      pid: num(target.pid),
      exe: str(target.exe),
      argv: list(target.argv).map((a) => str(a)),
      launched: target.launched === true,
    },
    libraries: list(raw.libraries).map(libraryInfo),
    ops: list(raw.ops).map((name, i) => str(name, `op#${i}`)),
    types: list(raw.types).map(typeInfo),
    raw,
  };
}

function libraryInfo(value: unknown): LibraryInfo {
  const lib = obj(value);
  const roles = typeof lib.role === "string" ? [lib.role] : list(lib.roles).map((r) => str(r));
  return { path: str(lib.path), build_id: str(lib.build_id), roles, has_dwarf: lib.has_dwarf === true, source_lines: librarySourceLines(lib) };
}

/** The source lines of a library entry of the header or of the trailer's late_libraries. */
export function librarySourceLines(value: unknown): SourceFileLines[] {
  return list(obj(value).source_lines).map(sourceFileLines);
}

function sourceFileLines(value: unknown): SourceFileLines {
  const lines = obj(value);
  return { file: str(lines.file), definitions: functionLines(lines.definitions), calls: functionLines(lines.calls) };
}

/** [line, function] pairs; malformed ones are left out. */
function functionLines(value: unknown): FunctionLine[] {
  return list(value).flatMap((pair) => {
    const [line, name] = list(pair);
    return typeof line === "number" && Number.isInteger(line) && line > 0 && typeof name === "string" ? [{ line, function: name }] : [];
  });
}

function typeInfo(value: unknown, index: number): TypeInfo {
  const t = obj(value);
  return {
    name: str(t.name, `type#${index}`),
    blck_size: num(t.blck_size, 1),
    type_size: num(t.type_size),
    is_quantized: t.is_quantized === true,
  };
}

function parseTrailerJson(bytes: Uint8Array): Trailer {
  const raw = parseJsonObject(bytes, "the trailer");
  const exit = raw.exit_status;
  return {
    hits: counters(raw.hits),
    lost: counters(raw.lost),
    exit_status: typeof exit === "number" ? exit : null,
    windows: num(raw.windows),
    duration_ns: num(raw.duration_ns),
    symbols: sampleSymbols(raw.symbols),
    stacks: list(raw.stacks).map((frames) => list(frames).filter((ip): ip is number => typeof ip === "number")),
    late_libraries: list(raw.late_libraries).map(lateLibrary),
    program_cost: Object.fromEntries(Object.entries(obj(raw.program_cost)).map(([name, v]) => [name, { runs: num(obj(v).runs), ns: num(obj(v).ns) }])),
    raw,
  };
}

function lateLibrary(value: unknown): LateLibrary {
  const lib = obj(value);
  return {
    path: str(lib.path),
    build_id: str(lib.build_id),
    op_method: str(lib.op_method),
    attached_ns: num(lib.attached_ns),
    sites: list(lib.sites).map((site) => num(obj(site).index, -1)).filter((index) => index >= 0),
  };
}

/** The trailer's symbols: objects with a numeric ip; anything else is left out. */
function sampleSymbols(value: unknown): SampleSymbol[] {
  if (!Array.isArray(value)) return [];
  return value.filter((v): v is SampleSymbol => typeof v === "object" && v !== null && typeof v.ip === "number");
}

// ---- record framing ----------------------------------------------------------------------

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * The records of a buffer seen as 32-bit words: every field of stream.h sits at a multiple of 4 in
 * its record and every record at a multiple of 8, so typed arrays read them directly (copied once
 * when the buffer itself is not 4-aligned). Offsets are limited to 4 GiB, as are Node's buffers.
 */
interface Region {
  bytes: Uint8Array;
  u32: Uint32Array;
  i32: Int32Array;
  /** Offset of bytes[0] in the stream, for messages. */
  base: number;
}

function regionOf(bytes: Uint8Array, start: number, base: number): Region {
  if (!LITTLE_ENDIAN) throw new Error("ggml-lens decodes its streams on little-endian hosts only");
  const aligned = (bytes.byteOffset + start) % 4 === 0 ? bytes.subarray(start) : copyOf(bytes.subarray(start));
  const words = aligned.length >>> 2;
  return {
    bytes: aligned,
    u32: new Uint32Array(aligned.buffer, aligned.byteOffset, words),
    i32: new Int32Array(aligned.buffer, aligned.byteOffset, words),
    base: base + start,
  };
}

/** Layouts of the known table records, indexed by record type (dense: holes are undefined). */
const LAYOUT_BY_TYPE: (RecordLayout | undefined)[] = Array.from({ length: Math.max(...Object.values(LAYOUTS).map((l) => l.type)) + 1 }, (_, type) =>
  Object.values(LAYOUTS).find((l) => l.type === type),
);

/** The size of each known table record type (its struct's sizeof), 0 for the other types. */
const MIN_SIZE_BY_TYPE = Uint32Array.from(LAYOUT_BY_TYPE, (layout) => layout?.size ?? 0);

/** Where a walk over the records stopped, and why. */
interface Walk {
  /** Offset just past the last whole record walked. */
  end: number;
  /** Offset of the trailer record, or -1. */
  trailerAt: number;
  /** The bytes ended inside a record (more may come). */
  cut: boolean;
  /** Framing is broken at `end`: nothing after it can be read. */
  corrupt: string | undefined;
}

function recordType(region: Region, pos: number): number {
  return region.u32[pos >>> 2] & 0xffff;
}

function recordSize(region: Region, pos: number): number {
  return region.u32[pos >>> 2] >>> 16;
}

function corruptRecord(region: Region, pos: number, size: number): Walk {
  const corrupt =
    `corrupt record at offset ${region.base + pos} (type ${recordType(region, pos)}): size ${size} is not ` +
    `a multiple of 8 of at least ${RECORD_HEADER.size}; the rest of the stream is unreadable`;
  return { end: pos, trailerAt: -1, cut: false, corrupt };
}

// ---- columns -----------------------------------------------------------------------------

type NumericField = FieldLayout<Exclude<FieldKind, "char">>;
type ColumnArray = Uint32Array | Int32Array | Float64Array | BigUint64Array;

const TS_FIELD = field("ts", RECORD_HEADER.ts, "u64");
const TID_FIELD = field("tid", RECORD_HEADER.tid, "u32");

function isNumeric(entry: [string, FieldLayout]): entry is [string, NumericField] {
  return entry[1].kind !== "char";
}

/*
 * Each reader copies rows [from, to) of a column into `out` (the whole column). One function per
 * element type keeps each loop monomorphic (several times faster in V8).
 */
function readU32(words: Uint32Array, offsets: Uint32Array, f: NumericField, out: Uint32Array, from: number, to: number): void {
  const n = f.n;
  const at = f.at >>> 2;
  if (n === 1) for (let i = from; i < to; i++) out[i] = words[(offsets[i] >>> 2) + at];
  else {
    for (let i = from, k = from * n; i < to; i++) {
      const w = (offsets[i] >>> 2) + at;
      for (let j = 0; j < n; j++) out[k++] = words[w + j];
    }
  }
}

function readI32(words: Int32Array, offsets: Uint32Array, f: NumericField, out: Int32Array, from: number, to: number): void {
  const n = f.n;
  const at = f.at >>> 2;
  if (n === 1) for (let i = from; i < to; i++) out[i] = words[(offsets[i] >>> 2) + at];
  else {
    for (let i = from, k = from * n; i < to; i++) {
      const w = (offsets[i] >>> 2) + at;
      for (let j = 0; j < n; j++) out[k++] = words[w + j];
    }
  }
}

/** u64 as numbers: low word + high word * 2^32. */
function readU64(u32: Uint32Array, offsets: Uint32Array, f: NumericField, out: Float64Array, from: number, to: number): void {
  const n = f.n;
  const at = f.at >>> 2;
  if (n === 1) {
    for (let i = from; i < to; i++) out[i] = u32[(offsets[i] >>> 2) + at] + u32[(offsets[i] >>> 2) + at + 1] * 4294967296;
  } else {
    for (let i = from, k = from * n; i < to; i++) {
      const w = (offsets[i] >>> 2) + at;
      for (let j = 0; j < 2 * n; j += 2) out[k++] = u32[w + j] + u32[w + j + 1] * 4294967296;
    }
  }
}

/** i64 as numbers: unsigned low word + signed high word * 2^32. */
function readI64(region: Region, offsets: Uint32Array, f: NumericField, out: Float64Array, from: number, to: number): void {
  const { u32, i32 } = region;
  const n = f.n;
  const at = f.at >>> 2;
  for (let i = from, k = from * n; i < to; i++) {
    const w = (offsets[i] >>> 2) + at;
    for (let j = 0; j < 2 * n; j += 2) out[k++] = u32[w + j] + i32[w + j + 1] * 4294967296;
  }
}

function readHash(u32: Uint32Array, offsets: Uint32Array, f: NumericField, out: BigUint64Array, from: number, to: number): void {
  const at = f.at >>> 2;
  for (let i = from; i < to; i++) {
    const w = (offsets[i] >>> 2) + at;
    out[i] = BigInt(u32[w]) | (BigInt(u32[w + 1]) << 32n);
  }
}

function newColumn(f: NumericField, rows: number): ColumnArray {
  switch (f.kind) {
    case "u32":
      return new Uint32Array(rows * f.n);
    case "i32":
      return new Int32Array(rows * f.n);
    case "u64":
    case "i64":
      return new Float64Array(rows * f.n);
    case "h64":
      return new BigUint64Array(rows);
  }
}

/** Copies rows [from, to) into `out`, a column made by newColumn(f). */
function readRows(region: Region, offsets: Uint32Array, f: NumericField, out: ColumnArray, from: number, to: number): void {
  switch (f.kind) {
    case "u32":
      return readU32(region.u32, offsets, f, out as Uint32Array, from, to);
    case "i32":
      return readI32(region.i32, offsets, f, out as Int32Array, from, to);
    case "u64":
      return readU64(region.u32, offsets, f, out as Float64Array, from, to);
    case "i64":
      return readI64(region, offsets, f, out as Float64Array, from, to);
    case "h64":
      return readHash(region.u32, offsets, f, out as BigUint64Array, from, to);
  }
}

/** The columns of each table: header fields, then the record's numeric fields. */
const COLUMNS_BY_TYPE: [string, NumericField][][] = LAYOUT_BY_TYPE.map((layout) => [
  ["ts", TS_FIELD],
  ["tid", TID_FIELD],
  ...Object.entries(layout?.fields ?? {}).filter(isNumeric),
]);

/** The region each table reads its columns from (needed on a column's first access only). */
const TABLE_REGIONS = new WeakMap<object, Region>();

type TableClass = (new (region: Region, offsets: Uint32Array) => object) & { readonly columns: ReadonlyMap<string, NumericField> };

/**
 * A class of tables for one record type: count, offset, and per column a getter that reads the
 * column on first access and keeps it as an own property. A profile that never looks at a field
 * never pays for it, in time or memory.
 */
function tableClass(columns: [string, NumericField][]): TableClass {
  class LazyTable {
    static readonly columns: ReadonlyMap<string, NumericField> = new Map(columns);
    readonly count: number;

    constructor(
      region: Region,
      readonly offset: Uint32Array,
    ) {
      this.count = offset.length;
      TABLE_REGIONS.set(this, region);
    }
  }
  for (const [key, f] of columns) {
    Object.defineProperty(LazyTable.prototype, key, {
      get(this: LazyTable) {
        const value = newColumn(f, this.count);
        readRows(TABLE_REGIONS.get(this) as Region, this.offset, f, value, 0, this.count);
        Object.defineProperty(this, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return LazyTable;
}

const TABLE_CLASSES: TableClass[] = COLUMNS_BY_TYPE.map(tableClass);

/**
 * Rows per block when several columns are read together: a block's records (a few hundred KiB at
 * most) stay in the CPU's cache from the first column to the last, so the stream's bytes are
 * fetched from memory about once instead of once per column.
 */
const BLOCK_ROWS = 256;

/** The column names of a table (everything but count and offset). */
export type ColumnName<T> = Exclude<keyof T & string, "count" | "offset">;

/**
 * Reads several columns of a table in one pass over its records, for a reader that will use them
 * all (the columns are the same as when read one by one on first access). Columns already read,
 * and tables not decoded from a stream's bytes, are left as they are.
 */
export function readColumns<T extends { count: number; offset: Uint32Array }>(table: T, names: readonly ColumnName<T>[]): void {
  const region = TABLE_REGIONS.get(table);
  const columns = (table.constructor as Partial<TableClass>).columns;
  if (!region || !columns) return;
  const wanted: [string, NumericField, ColumnArray][] = [];
  for (const name of names) {
    const f = columns.get(name);
    if (f && !Object.hasOwn(table, name)) wanted.push([name, f, newColumn(f, table.count)]);
  }
  for (let from = 0; from < table.count; from += BLOCK_ROWS) {
    const to = Math.min(table.count, from + BLOCK_ROWS);
    for (const [, f, out] of wanted) readRows(region, table.offset, f, out, from, to);
  }
  for (const [name, , value] of wanted) Object.defineProperty(table, name, { value, enumerable: true });
}

/**
 * Scalar fields of a table's rows as 32-bit words: field `f` of row i starts at word
 * `(position[i] >>> 2) + at[f]`; a 64-bit field takes two words, the low one first (read an i32
 * field with `| 0`).
 */
export interface RecordFields<K extends string> {
  words: Uint32Array;
  /** Byte position of each row in `words`: for a table decoded from a stream's bytes, its offsets. */
  position: Uint32Array;
  at: Record<K, number>;
}

/** A 64-bit field of RecordFields (two words, low first) as a number. */
export function u64At(words: Uint32Array, w: number): number {
  return words[w] + words[w + 1] * 4294967296;
}

/**
 * A table's scalar fields as words, for a reader that walks many rows once and needs a few fields
 * of each: for a table decoded from a stream's bytes, the records themselves (nothing is copied; a
 * walk in row order reads the stream front to back); for any other table, its columns packed row
 * by row into words of their own.
 */
export function recordFields<T extends { count: number }, K extends ColumnName<T>>(table: T, names: readonly K[]): RecordFields<K> {
  const region = TABLE_REGIONS.get(table);
  const columns = (table.constructor as Partial<TableClass>).columns;
  const offset = (table as { offset?: Uint32Array }).offset;
  if (region && columns && offset) {
    const at = {} as Record<K, number>;
    for (const name of names) at[name] = scalarField(columns.get(name), name).at >>> 2;
    return { words: region.u32, position: offset, at };
  }
  return packedFields(table, names);
}

function scalarField(f: FieldLayout | undefined, name: string): FieldLayout {
  if (!f || f.n !== 1 || f.kind === "h64" || f.kind === "char") throw new Error(`recordFields: ${name} is not a scalar number field`);
  return f;
}

/** Columns packed row by row: u32/i32 columns take a word, 64-bit (Float64Array) columns two. */
function packedFields<T extends { count: number }, K extends ColumnName<T>>(table: T, names: readonly K[]): RecordFields<K> {
  const columns = names.map((name) => table[name] as unknown as Uint32Array | Int32Array | Float64Array);
  const at = {} as Record<K, number>;
  let stride = 0;
  names.forEach((name, k) => {
    at[name] = stride;
    stride += columns[k] instanceof Float64Array ? 2 : 1;
  });
  const words = new Uint32Array(table.count * stride);
  const position = new Uint32Array(table.count);
  for (let i = 0; i < table.count; i++) position[i] = 4 * i * stride;
  names.forEach((name, k) => {
    const column = columns[k];
    for (let i = 0, w = at[name]; i < table.count; i++, w += stride) {
      const value = column[i];
      words[w] = value % 4294967296;
      if (column instanceof Float64Array) words[w + 1] = Math.floor(value / 4294967296);
    }
  });
  return { words, position, at };
}

// ---- batches -----------------------------------------------------------------------------

interface Collected {
  walk: Walk;
  /** Offsets of the records of each known type, indexed by record type. */
  offsets: Uint32Array[];
  unknown: Map<number, number>;
  count: number;
}

/**
 * The offsets of each known type's records, up to the trailer: one walk over the record headers
 * counts them, a second fills arrays of exactly that size (cheaper than growing arrays: fresh
 * memory costs more than reading the headers again).
 */
function collectOffsets(region: Region, errors: ErrorLog): Collected {
  const counts = new Uint32Array(LAYOUT_BY_TYPE.length);
  const unknown = new Map<number, number>();
  const walk = walkRecords(region, counts, unknown, errors);
  const offsets = Array.from(counts, (n) => new Uint32Array(n));
  fillOffsets(region.u32, walk.end, offsets);
  let count = walk.skipped;
  for (const n of unknown.values()) count += n;
  for (const n of counts) count += n;
  return { walk, offsets, unknown, count };
}

/**
 * Fills `offsets` with the position of each known record of [0, end) that fits its layout: the
 * records walkRecords counted, so each array is filled exactly. The loop stays free of calls and
 * object reads, as it runs once per record, mostly before the JIT has compiled it.
 */
function fillOffsets(u32: Uint32Array, end: number, offsets: Uint32Array[]): void {
  const filled = new Uint32Array(offsets.length);
  const known = MIN_SIZE_BY_TYPE.length;
  for (let pos = 0; pos < end; ) {
    const word = u32[pos >>> 2];
    const type = word & 0xffff;
    const size = word >>> 16;
    if (type < known && MIN_SIZE_BY_TYPE[type] !== 0 && size >= MIN_SIZE_BY_TYPE[type]) offsets[type][filled[type]++] = pos;
    pos += size;
  }
}

/**
 * Walks the record headers up to the trailer: counts the whole records of each known type that fit
 * their layout (the others are reported and skipped), and of each unknown type; says where and why
 * the walk stopped.
 */
function walkRecords(region: Region, counts: Uint32Array, unknown: Map<number, number>, errors: ErrorLog): Walk & { skipped: number } {
  const { u32 } = region;
  const length = region.bytes.length;
  const known = MIN_SIZE_BY_TYPE.length;
  let pos = 0;
  let skipped = 0;
  let stop: Walk | undefined;
  while (pos + RECORD_HEADER.size <= length) {
    const word = u32[pos >>> 2];
    const type = word & 0xffff;
    const size = word >>> 16;
    if (size < RECORD_HEADER.size || (size & 7) !== 0) stop = corruptRecord(region, pos, size);
    else if (type === RecordType.Trailer) stop = { end: pos, trailerAt: pos, cut: false, corrupt: undefined };
    if (stop || pos + size > length) break;
    const minSize = type < known ? MIN_SIZE_BY_TYPE[type] : 0;
    if (minSize === 0) unknown.set(type, (unknown.get(type) ?? 0) + 1);
    else if (size >= minSize) counts[type]++;
    else {
      reportSmall(region, pos, type, errors);
      skipped++;
    }
    pos += size;
  }
  return { ...(stop ?? { end: pos, trailerAt: -1, cut: pos < length, corrupt: undefined }), skipped };
}

function reportSmall(region: Region, pos: number, type: number, errors: ErrorLog): void {
  const layout = LAYOUT_BY_TYPE[type] as RecordLayout;
  errors.add(`record at offset ${region.base + pos}: ${layout.c} of ${recordSize(region, pos)} bytes is smaller than its ${layout.size}; skipped`);
}

function buildBatch(region: Region, collected: Pick<Collected, "offsets" | "unknown" | "count">): RecordBatch {
  const tables = {} as Record<TableName, unknown>;
  for (const name of TABLE_NAMES) {
    const layout = LAYOUTS[name];
    tables[name] = new TABLE_CLASSES[layout.type](region, collected.offsets[layout.type] ?? new Uint32Array(0));
  }
  return { bytes: region.bytes, tables: tables as RecordTables, unknown: collected.unknown, count: collected.count };
}

let emptyTables: RecordTables | undefined;

/** A batch without records (tables of length 0 cannot be changed, so they are shared). */
function emptyBatch(): RecordBatch {
  emptyTables ??= buildBatch(regionOf(new Uint8Array(0), 0, 0), { offsets: [], unknown: new Map(), count: 0 }).tables;
  return { bytes: new Uint8Array(0), tables: emptyTables, unknown: new Map(), count: 0 };
}

// ---- trailer -----------------------------------------------------------------------------

type TrailerParse = { trailer: Trailer | undefined; end: number } | { needBytes: number };

/** Reads the trailer at `at`, or says how many bytes it needs; a bad one is reported, not thrown. */
function parseTrailer(region: Region, at: number, errors: ErrorLog): TrailerParse {
  const { bytes } = region;
  const size = recordSize(region, at);
  if (size < TRAILER_LAYOUT.size) {
    errors.add(`trailer at offset ${region.base + at} is ${size} bytes, smaller than its ${TRAILER_LAYOUT.size}`);
    return { trailer: undefined, end: bytes.length };
  }
  if (at + size > bytes.length) return { needBytes: at + size };
  const jsonLen = region.u32[(at + TRAILER_LAYOUT.fields.jsonLen.at) >>> 2];
  if (jsonLen > MAX_JSON_BYTES) {
    errors.add(`trailer JSON length ${jsonLen} exceeds the limit of ${MAX_JSON_BYTES} bytes`);
    return { trailer: undefined, end: bytes.length };
  }
  const jsonAt = at + size;
  if (jsonAt + jsonLen > bytes.length) return { needBytes: jsonAt + jsonLen };
  const end = Math.min(align8(jsonAt + jsonLen), bytes.length);
  try {
    return { trailer: parseTrailerJson(bytes.subarray(jsonAt, jsonAt + jsonLen)), end };
  } catch (err) {
    errors.add((err as Error).message);
    return { trailer: undefined, end };
  }
}

// ---- whole stream ------------------------------------------------------------------------

/**
 * Decodes a whole stream. Throws ProfileFormatError when nothing can be read (bad magic, newer
 * major version, unreadable JSON header); otherwise returns what could be read, with `truncated`
 * and `errors` saying what could not. Record offsets in the tables count from the first record.
 */
export function decodeStream(bytes: Uint8Array): DecodedStream {
  const parsed = parseHeader(bytes, true);
  if ("needBytes" in parsed) {
    throw new ProfileFormatError(
      `not a complete ggml-lens stream: its header needs ${parsed.needBytes} bytes, there are ${bytes.length}`,
    );
  }
  const { header } = parsed;
  const errors = new ErrorLog();
  const region = regionOf(bytes, header.recordsStart, 0);
  const collected = collectOffsets(region, errors);
  const { walk } = collected;
  if (walk.corrupt) errors.add(walk.corrupt);
  if (walk.cut) errors.add(`the stream ends inside a record at offset ${region.base + walk.end} (cut short)`);
  const trailer = walk.trailerAt >= 0 ? finalTrailer(region, walk.trailerAt, errors) : undefined;
  return {
    ...buildBatch(region, collected),
    header,
    trailer: trailer === "cut" ? undefined : trailer,
    truncated: walk.trailerAt < 0 || trailer === "cut",
    errors: errors.list(),
  };
}

function finalTrailer(region: Region, at: number, errors: ErrorLog): Trailer | undefined | "cut" {
  const parsed = parseTrailer(region, at, errors);
  if ("needBytes" in parsed) {
    errors.add(`the trailer at offset ${region.base + at} is cut short`);
    return "cut";
  }
  const extra = region.bytes.length - parsed.end;
  if (extra > 0) errors.add(`${extra} bytes after the trailer ignored`);
  return parsed.trailer;
}

// ---- growing stream ----------------------------------------------------------------------

/**
 * Decodes a stream as it grows (live views): push() each chunk as it arrives and get back the
 * records it completed; push() throws ProfileFormatError when the file header is unreadable.
 * Memory stays bounded: between pushes at most one partial record (or the header or trailer, each
 * at most MAX_JSON_BYTES) is held; the returned batches own their bytes.
 */
export class StreamDecoder {
  header: StreamHeader | undefined;
  trailer: Trailer | undefined;
  private sawTrailer = false;
  private corrupt = false;
  private readonly log = new ErrorLog();
  private pending: Uint8Array = new Uint8Array(0);
  private offset = 0;

  /** Problems met so far. */
  get errors(): string[] {
    return this.log.list();
  }

  /** The trailer was reached or the stream is corrupt: later bytes are ignored. */
  get done(): boolean {
    return this.sawTrailer || this.corrupt;
  }

  /** Adds bytes; returns the records they completed (none while the header is incomplete). */
  push(chunk: Uint8Array): RecordBatch {
    if (this.done) return emptyBatch();
    this.pending = concat(this.pending, chunk);
    if (!this.header && !this.takeHeader()) return emptyBatch();
    return this.takeRecords();
  }

  /** The stream ended: returns true when it was cut short (no trailer, or corrupt). */
  end(): boolean {
    if (!this.header) this.log.add("the stream ends inside its header");
    else if (!this.done && this.pending.length > 0) this.log.add(`the stream ends inside a record at offset ${this.offset}`);
    return !this.sawTrailer || this.corrupt;
  }

  private takeHeader(): boolean {
    const parsed = parseHeader(this.pending, false);
    if ("needBytes" in parsed) return false;
    this.header = parsed.header;
    this.consume(parsed.header.recordsStart);
    return true;
  }

  private takeRecords(): RecordBatch {
    const region = regionOf(this.pending, 0, this.offset);
    const collected = collectOffsets(region, this.log);
    const { walk } = collected;
    if (walk.corrupt) {
      this.log.add(walk.corrupt);
      this.corrupt = true;
    } else if (walk.trailerAt >= 0) {
      this.takeTrailer(region, walk.trailerAt);
    }
    const batch = collected.count > 0 ? buildBatch(regionOf(copyOf(region.bytes.subarray(0, walk.end)), 0, 0), collected) : emptyBatch();
    this.consume(this.done ? region.bytes.length : walk.end);
    return batch;
  }

  private takeTrailer(region: Region, at: number): void {
    const parsed = parseTrailer(region, at, this.log);
    if ("needBytes" in parsed) return;
    this.trailer = parsed.trailer;
    this.sawTrailer = true;
  }

  /** Drops `n` decoded bytes, copying the rest so that the chunk they came in can be freed. */
  private consume(n: number): void {
    this.pending = copyOf(this.pending.subarray(n));
    this.offset += n;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
