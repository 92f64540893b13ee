/* The ggml-lens stream: what the probe helper writes on its output, read by extension/profile/stream.ts.
 *
 * Layout of a stream:
 *   file header   "GGMLLENS" magic, u16 major, u16 minor, u32 length of the JSON header, JSON header
 *                 (clock, target, mapped libraries with build ids, layout and where it came from,
 *                 mode, op method, probes), padded with zeros to a multiple of 8 so that the
 *                 records are 8-aligned in the file
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
#define GL_STREAM_VERSION_MAJOR 1
#define GL_STREAM_VERSION_MINOR 2

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
	GL_REC_OP_BEGIN = 6,     /* a worker thread starts one op (or a fused group) */
	GL_REC_OP_END = 7,       /* ... and reaches the barrier after it */
	GL_REC_EXPERT_IDS = 8,   /* MUL_MAT_ID: the experts selected per token */
	GL_REC_SAMPLE = 9,       /* timer sample of a target thread's user IP */
	GL_REC_SCHED = 10,       /* a target thread switched in or out, or was woken */
	GL_REC_WINDOW = 11,      /* op tracing switched on or off (duty cycle) */
	GL_REC_TRAILER = 12,     /* last record: JSON summary */
	GL_REC_GRAPH_LEAF = 13,  /* a source of a node that the graph does not compute (minor 2) */
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
	char name[GL_NAME_CAP];
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
	gl_u32 pad;
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
	GL_PROBE_COUNT,
};

#endif
