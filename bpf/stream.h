/* The ggml-lens stream: what the probe helper writes on its output, read by extension/profile/stream.ts.
 *
 * Layout of a stream:
 *   file header   "GGMLLENS" magic, u16 major, u16 minor, u32 length of the JSON header, JSON header
 *                 (clock, target, mapped libraries with build ids, layout and where it came from,
 *                 mode, op method, probes; minor 4: per CPU library with DWARF its source_lines, the
 *                 lines of the ggml_compute_forward_* definitions and of their calls in the op
 *                 switch, per file, as [line, function] pairs; the trailer's late_libraries too),
 *                 padded with zeros to a multiple of 8 so that the records are 8-aligned in the file
 *   records       a sequence of records, each starting with struct gl_record; `size` counts the whole
 *                 record and is a multiple of 8. Readers skip record types they do not know.
 *   trailer       a GL_REC_TRAILER record carrying a JSON object (per-probe hits, events lost per
 *                 buffer, exit status); a stream without one was cut short and says so.
 * All integers are little-endian; times are CLOCK_MONOTONIC nanoseconds.
 * A change that only adds record types or appends fields bumps the minor version; anything else
 * bumps the major version, which readers refuse when newer than theirs.
 */
#ifndef GGML_LENS_STREAM_H
#define GGML_LENS_STREAM_H

#ifdef __bpf__
typedef __u8 gl_u8;
typedef __u16 gl_u16;
typedef __u32 gl_u32;
typedef __s32 gl_s32;
typedef __u64 gl_u64;
typedef __s64 gl_s64;
#else
#include <stdint.h>
typedef uint8_t gl_u8;
typedef uint16_t gl_u16;
typedef uint32_t gl_u32;
typedef int32_t gl_s32;
typedef uint64_t gl_u64;
typedef int64_t gl_s64;
#endif

#define GL_STREAM_MAGIC "GGMLLENS"
#define GL_STREAM_VERSION_MAJOR 2
#define GL_STREAM_VERSION_MINOR 1

/* Capacities of the fixed-size fields. The target's own sizes come from its DWARF; when the
 * target's are larger, the header says so and fields are truncated, never overrun. */
#define GL_NAME_CAP 64
#define GL_MAX_DIMS_CAP 4
#define GL_MAX_SRC_CAP 10
#define GL_EXPERT_IDS_CAP 64

enum gl_record_type {
	GL_REC_DECODE_BEGIN = 1, /* llama_decode entered */
	GL_REC_DECODE_END = 2,   /* llama_decode returned */
	GL_REC_GRAPH_BEGIN = 3,  /* a ggml graph starts computing */
	GL_REC_GRAPH_END = 4,    /* ... and finished */
	GL_REC_GRAPH_NODE = 5,   /* one node of a graph seen for the first time */
	GL_REC_OP_BEGIN = 6,     /* a worker thread starts one op (or a fused group); written when the op
				  * ends, right before its OP_END (major 2), so out of time order there */
	GL_REC_OP_END = 7,       /* ... and reaches the barrier after it */
	GL_REC_EXPERT_IDS = 8,   /* MUL_MAT_ID: the experts selected per token */
	GL_REC_SAMPLE = 9,       /* timer sample of a target thread's user IP */
	GL_REC_SCHED = 10,       /* a target thread switched in or out, or was woken */
	GL_REC_WINDOW = 11,      /* op tracing switched on or off (duty cycle) */
	GL_REC_TRAILER = 12,     /* last record: JSON summary */
	GL_REC_GRAPH_LEAF = 13,  /* a source of a node that the graph does not compute (minor 2) */
	/* minor 3: backends and the copies between them */
	GL_REC_BACKEND_GRAPH_BEGIN = 14, /* a ggml backend starts computing a graph (a split of the scheduler's) */
	GL_REC_BACKEND_GRAPH_END = 15,   /* ... and returned (an asynchronous backend: once the graph is queued) */
	GL_REC_SCHED_GRAPH_BEGIN = 16,   /* the backend scheduler starts computing a whole graph, split by split */
	GL_REC_SCHED_GRAPH_END = 17,     /* ... and returned */
	GL_REC_TENSOR_COPY = 18,         /* a tensor copied into a backend's memory */
	GL_REC_BACKEND_NAME = 19,        /* the name a backend or a device gave itself */
	GL_REC_THREAD = 20,              /* the process of a traced thread, once per thread */
};

struct gl_record {
	gl_u16 type;
	gl_u16 size;
	gl_u32 tid;
	gl_u64 ts;
};

struct gl_decode_begin {
	struct gl_record hdr;
	gl_u64 ctx;
	gl_s32 n_tokens; /* -1 when the batch layout is unknown (no DWARF for llama_batch) */
	gl_u32 cpu;
};

/* Software counters of the calling thread over a span (the kernel's per-task counts): page faults,
 * context switches, and CPU time (updated by the scheduler at switches and ticks, so coarse on short
 * spans). Hardware counters are reported separately when the machine has a PMU. */
struct gl_sw_counters {
	gl_u32 min_flt;
	gl_u32 maj_flt;
	gl_u32 nvcsw;  /* voluntary context switches (the thread slept) */
	gl_u32 nivcsw; /* involuntary ones (preempted) */
	gl_u64 cpu_ns;
};

struct gl_decode_end {
	struct gl_record hdr;
	gl_s32 ret;
	gl_u32 cpu;
	struct gl_sw_counters delta; /* since the matching DECODE_BEGIN (minor 1) */
};

struct gl_graph_begin {
	struct gl_record hdr;
	gl_u64 graph;     /* address of the ggml_cgraph */
	gl_u64 signature; /* identifies the graph's structure; GRAPH_NODE records carry the same */
	gl_s32 n_nodes;
	gl_u32 cpu;
};

struct gl_graph_end {
	struct gl_record hdr;
	gl_u64 graph;
	gl_s32 status;
	gl_u32 cpu;
};

struct gl_graph_node {
	struct gl_record hdr;
	gl_u64 signature;
	gl_u64 tensor;
	gl_u64 src[GL_MAX_SRC_CAP];
	gl_s64 ne[GL_MAX_DIMS_CAP];
	gl_u64 nb[GL_MAX_DIMS_CAP];
	gl_s32 index;
	gl_s32 op;
	gl_s32 type;
	gl_s32 flags;
	gl_s32 op_params0; /* first op parameter (unary / glu sub-op) */
	gl_u32 pad;
	char name[GL_NAME_CAP];
};

/* A tensor that nodes of a graph read but the graph does not compute (its op is GGML_OP_NONE):
 * weights, inputs, the KV cache. Written once per distinct graph, after the node that reads it, once
 * for each node reading it. */
struct gl_graph_leaf {
	struct gl_record hdr;
	gl_u64 signature;
	gl_u64 tensor;
	gl_s64 ne[GL_MAX_DIMS_CAP];
	gl_u64 nb[GL_MAX_DIMS_CAP];
	gl_s32 type;
	gl_s32 consumer; /* index of the node that reads it */
	char name[GL_NAME_CAP];
};

enum gl_op_flags {
	GL_OP_FUSED = 1, /* tensor2 ran fused with tensor */
	/* op, type and ne are not in the record (-1, -1, zeros): the tensor's GRAPH_NODE in the graph
	 * running has them (minor 1) */
	GL_OP_SHAPE_IN_GRAPH = 2,
};

struct gl_op_begin {
	struct gl_record hdr;
	gl_u64 tensor;
	gl_u64 tensor2; /* second node of a fused group, else 0 */
	gl_s64 ne[GL_MAX_DIMS_CAP];
	gl_s32 op;
	gl_s32 type;
	gl_s32 ith; /* worker index within the graph's threads, -1 when unknown */
	gl_u32 cpu;
	gl_u32 site;  /* probe site index (header lists them) */
	gl_u32 flags; /* enum gl_op_flags */
	/* major 1 had the tensor's name here (GL_NAME_CAP chars); since major 2 it comes from the
	 * graph's GRAPH_NODE of the same tensor, read once per graph rather than once per op */
};

struct gl_op_end {
	struct gl_record hdr;
	gl_u64 tensor;
	gl_u32 cpu;
	gl_u32 pad;
	struct gl_sw_counters delta; /* since the matching OP_BEGIN (minor 1) */
};

struct gl_expert_ids {
	struct gl_record hdr;
	gl_u64 tensor;    /* the MUL_MAT_ID node */
	gl_s32 n_used;    /* experts per token (ids ne[0]) */
	gl_s32 n_tokens;  /* tokens (ids ne[1]) */
	gl_u32 count;     /* ids carried below, at most GL_EXPERT_IDS_CAP (bounded per event) */
	gl_u32 pad;
	gl_s32 ids[GL_EXPERT_IDS_CAP];
};

struct gl_sample {
	struct gl_record hdr;
	gl_u64 ip;
	gl_u64 tensor; /* op executing on this thread when sampled, else 0 */
	gl_u32 cpu;
	gl_u32 stack; /* 1 + index of its caller chain in the trailer's "stacks", 0 when none (minor 3) */
};

/* Written by the helper itself, never by BPF: the JSON summary follows, json_len bytes padded to 8. */
struct gl_trailer {
	struct gl_record hdr; /* size covers this struct only */
	gl_u32 json_len;
	gl_u32 pad;
};

enum gl_sched_kind { GL_SCHED_OUT_SLEEP = 1, GL_SCHED_OUT_PREEMPT = 2, GL_SCHED_IN = 3, GL_SCHED_WAKEUP = 4 };

struct gl_sched {
	struct gl_record hdr;
	gl_u32 kind;
	gl_u32 cpu;
};

struct gl_window {
	struct gl_record hdr;
	gl_u32 on;
	gl_u32 pad;
};

/* A graph given to a backend (ggml_backend_graph_compute_async) or to the backend scheduler
 * (ggml_backend_sched_graph_compute_async). For a backend, GRAPH_NODE records with the same signature
 * list the graph's nodes (written once per distinct graph, whichever backend computes it). */
struct gl_backend_graph_begin {
	struct gl_record hdr;
	gl_u64 backend;    /* ggml_backend_t; for SCHED_GRAPH_BEGIN the ggml_backend_sched_t */
	gl_u64 graph;      /* the ggml_cgraph */
	gl_u64 signature;  /* structure of the graph (0 for SCHED_GRAPH_BEGIN: its nodes are not written) */
	gl_u64 compute_fn; /* the backend's iface.graph_compute (the trailer's symbols name it); 0 when unknown */
	gl_u64 device;     /* the backend's device (ggml_backend_dev_t); 0 when unknown */
	gl_s32 n_nodes;
	gl_u32 cpu;
};

struct gl_backend_graph_end {
	struct gl_record hdr;
	gl_s32 status;
	gl_u32 cpu;
};

enum gl_copy_kind {
	GL_COPY_SYNC = 1,      /* ggml_backend_tensor_copy(src, dst) */
	GL_COPY_ASYNC = 2,     /* ggml_backend_tensor_copy_async(backend_src, backend_dst, src, dst) */
	GL_COPY_SET_ASYNC = 3, /* ggml_backend_tensor_set_async(backend, dst, data, offset, size): a part of
				* dst written from host memory (the scheduler's copies of the used experts) */
};

/* Written when the outermost copy call returns: hdr.ts is when it started, end_ts when it returned. */
struct gl_tensor_copy {
	struct gl_record hdr;
	gl_u64 end_ts;
	gl_u64 src;      /* source tensor; 0 for GL_COPY_SET_ASYNC */
	gl_u64 dst;      /* destination tensor */
	gl_u64 backend;  /* GL_COPY_ASYNC: the source backend; GL_COPY_SET_ASYNC: the destination backend */
	gl_u64 backend2; /* GL_COPY_ASYNC: the destination backend */
	gl_u64 offset;   /* GL_COPY_SET_ASYNC: byte offset and size written; else 0 */
	gl_u64 size;
	gl_s64 ne[GL_MAX_DIMS_CAP]; /* dst's shape, strides and type: its bytes follow from the header's type traits */
	gl_u64 nb[GL_MAX_DIMS_CAP];
	gl_s32 type;
	gl_u32 kind; /* enum gl_copy_kind */
	char name[GL_NAME_CAP]; /* the source tensor's name (dst's for GL_COPY_SET_ASYNC) */
};

enum gl_name_kind {
	GL_NAME_BACKEND = 1, /* ggml_backend_name(backend) returned it */
	GL_NAME_DEVICE = 2,  /* ggml_backend_dev_name(device) returned it */
};

struct gl_backend_name {
	struct gl_record hdr;
	gl_u64 object; /* the backend or the device */
	gl_u32 kind;   /* enum gl_name_kind */
	gl_u32 pad;
	char name[GL_NAME_CAP];
};

/* hdr.tid belongs to process pid (a run may trace several processes: a client and its RPC server). */
struct gl_thread {
	struct gl_record hdr;
	gl_u32 pid;
	gl_u32 pad;
};

/* Probe kinds, index of the per-probe hit counters. */
enum gl_probe_kind {
	GL_PROBE_DECODE_ENTER,
	GL_PROBE_DECODE_EXIT,
	GL_PROBE_GRAPH_ENTER,
	GL_PROBE_GRAPH_EXIT,
	GL_PROBE_OP_BEGIN,
	GL_PROBE_OP_FUSED,
	GL_PROBE_OP_END,
	GL_PROBE_SAMPLE,
	GL_PROBE_SCHED,
	GL_PROBE_BACKEND_GRAPH, /* minor 3 */
	GL_PROBE_TENSOR_COPY,
	GL_PROBE_BACKEND_NAME,
	GL_PROBE_COUNT,
};

#endif
