// SPDX-License-Identifier: GPL-2.0 OR MIT
/* BPF side of ggml-lens-probe: uprobes on llama.cpp / ggml and scheduler and timer events of the
 * target process, written as gl_* records (stream.h) into one ring buffer.
 * Every ggml layout detail arrives through the read-only config below, filled in by the helper
 * from the target's own DWARF / symbols before the programs are loaded. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "stream.h"
#include "probe.h"

#define GL_MAX_SITES 128 /* PLAN_MAX_SITES in plan.h */
#define GL_MAX_GRAPH_NODES 65536

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Set by the helper before load. */
const volatile __u32 target_tgid = 0;
/* Other processes traced with the target (--also-pid: e.g. the RPC server of a client), 0 = none */
const volatile __u32 also_tgid[GL_MAX_ALSO_PIDS] = {};
/* ggml_tensor field offsets */
const volatile __u32 off_tensor_type = 0;
const volatile __u32 off_tensor_ne = 0;
const volatile __u32 off_tensor_nb = 0;
const volatile __u32 off_tensor_op = 0;
const volatile __u32 off_tensor_op_params = 0;
const volatile __u32 off_tensor_flags = 0;
const volatile __u32 off_tensor_src = 0;
const volatile __u32 off_tensor_data = 0;
const volatile __u32 off_tensor_name = 0;
const volatile __u32 tensor_n_dims = 0;  /* GGML_MAX_DIMS, capped at GL_MAX_DIMS_CAP */
const volatile __u32 tensor_n_src = 0;   /* GGML_MAX_SRC, capped at GL_MAX_SRC_CAP */
const volatile __u32 tensor_name_len = 0; /* GGML_MAX_NAME, capped at GL_NAME_CAP */
/* ggml_cgraph and ggml_compute_params */
const volatile __u32 off_graph_n_nodes = 0;
const volatile __u32 off_graph_nodes = 0;
/* ggml_cgraph.uid: a new value each time the scheduler splits a graph anew (its shapes may have
 * changed while its address, size and end nodes stay the same); -1 when the target has none */
const volatile __s32 off_graph_uid = -1;
/* ggml_compute_params.ith, from the CPU backend's DWARF; mutable like the site table below, since
 * the first CPU backend may be one the target loads later (dlopen) */
volatile __s32 off_params_ith = -1;
/* llama_batch.n_tokens; the batch is passed by value on the stack, -1 when unknown */
const volatile __s32 off_batch_n_tokens = -1;
/* struct ggml_backend: iface.graph_compute and device, -1 when the target's DWARF lacks them */
const volatile __s32 off_backend_graph_compute = -1;
const volatile __s32 off_backend_device = -1;
/* GGML_OP_NONE's value in this target (the op of tensors that graphs read but do not compute) */
const volatile __s32 op_none = -1;
/* GGML_OP_MUL_MAT_ID's value in this target, -1 when not to be read */
const volatile __s32 op_mul_mat_id = -1;
/* Read each op's op, type and shape from its tensor as it begins; else, in a graph with a uid, the
 * reader takes them from the tensor's GRAPH_NODE (GL_OP_SHAPE_IN_GRAPH), sparing a user memory
 * read (~0.1 us) an op. */
const volatile bool op_shapes_live = true;
/* A graph structure written so far had MUL_MAT_ID nodes (in expert_ops). */
volatile bool expert_ops_seen = false;
/* The graph ggml_graph_compute runs has a uid (the scheduler split it): its structure, written
 * again whenever the uid changes, has the shapes its ops run with. A graph a program built and
 * computes itself has none, and may change shapes under the same signature. */
volatile bool graph_has_uid = false;
/* The op site table is mutable (.bss): the helper fills the entries of a CPU backend the target
 * loads after the start (dlopen) before it attaches that library's op probes.
 * Per op-begin site (the uprobe's cookie): where the tensor and params pointers live there.
 * A DWARF register number (x86-64 numbering), or -1 for the function-entry ABI (rdi, rsi). */
volatile __s32 site_tensor_reg[GL_MAX_SITES] = {};
volatile __s32 site_params_reg[GL_MAX_SITES] = {};
/* Op-end sites at ggml_barrier's entry (symbols only, barrier_vaddr != 0): the op ends only when
 * the barrier is called from [caller_lo, caller_hi), the compute loop (link-time addresses). */
volatile __u64 site_barrier_vaddr[GL_MAX_SITES] = {};
volatile __u64 site_caller_lo[GL_MAX_SITES] = {};
volatile __u64 site_caller_hi[GL_MAX_SITES] = {};
/* Kind of each op site (enum gl_site_kind in probe.h): one program serves them all, so that the op
 * probes of a library are one link, attached and detached in one step. */
volatile __u8 site_kind[GL_MAX_SITES] = {};
const volatile bool trace_sched = false;
/* Readers are woken early when a CPU's ring buffer holds more than this (half its size). */
const volatile __u64 wake_bytes = 4 << 20;
/* Bytes of user stack copied with each timer sample for the caller chain (at most
 * GL_STACK_COPY_CAP); 0: samples carry the IP alone. */
const volatile __u32 sample_stack_bytes = GL_STACK_COPY_CAP;

/* One ring buffer per CPU (the helper creates them and merges them by time, rings.h): the target's
 * workers record at the same moments (each barrier), and one shared ring made them contend. They
 * are small enough to stay in the CPU's caches; a graph's structure, written in one burst, goes to
 * a ring of its own that holds the largest graph. */
struct cpu_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20); /* resized by the helper */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1); /* the number of possible CPUs, set by the helper */
	__type(key, __u32);
	__array(values, struct cpu_ring);
} rings SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} structures SEC(".maps");

/* Each CPU's op log (struct gl_op_log_head, then op_log_entries struct gl_op_pair): one value per
 * possible CPU, sized by the helper. */
const volatile __u32 op_log_entries = 1; /* a power of two */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct gl_op_log_head) + sizeof(struct gl_op_pair));
} op_logs SEC(".maps");

/* Per-CPU counters: probe hits and records lost for want of ring buffer space, by probe kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GL_PROBE_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GL_PROBE_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* Per target thread: the op running (closed at the next barrier; also tags samples) and the
 * thread's software counters when its op and its llama_decode call began. */
/* A copy call in progress on a thread (the outermost of nested ones: copy_async may call copy). */
struct pending_copy {
	__u64 start;
	__u64 src, dst, backend, backend2, offset, size;
	__u32 kind;
	__u32 depth;
};

struct thread_state {
	struct gl_op_begin op; /* the op running, written when it ends (op.tensor 0: none) */
	struct gl_sw_counters op_start;
	struct gl_sw_counters decode_start;
	struct pending_copy copy;
	__u64 name_object; /* argument of ggml_backend_name / ggml_backend_dev_name until it returns */
	__u32 name_kind;
	__u32 pad;
	__u64 stack_end; /* end of the mapping its stack lies in, once a sample looked it up */
	__u64 params;    /* the compute-params block its ith was read from */
	__s32 ith;
	__u32 pad2;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct thread_state);
} threads SEC(".maps");

/* MUL_MAT_ID nodes of the graph structures written (tensor address), so that an op begin knows one
 * without reading the tensor (a hit is checked: the address may have been reused since). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, __u8);
} expert_ops SEC(".maps");

/* Graph structures already written to the stream. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u8);
} seen_graphs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct window_state);
} window SEC(".maps");

static __always_inline struct window_state *window_state(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&window, &zero);
}

static __always_inline bool window_open(void)
{
	struct window_state *w = window_state();
	return w && w->open;
}

static __always_inline void count(__u32 kind, void *map)
{
	__u64 *value = bpf_map_lookup_elem(map, &kind);
	if (value)
		*value += 1;
}

static __always_inline bool is_traced_tgid(__u32 tgid)
{
	if (tgid == target_tgid)
		return true;
	for (int i = 0; i < GL_MAX_ALSO_PIDS; i++)
		if (also_tgid[i] && tgid == also_tgid[i])
			return true;
	return false;
}

static __always_inline bool is_target(void)
{
	return is_traced_tgid(bpf_get_current_pid_tgid() >> 32);
}

/* This CPU's ring buffer (BPF programs run with migration disabled). */
static __always_inline void *cpu_ring(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&rings, &cpu);
}

/* Reserves a record in `ring`; counts it lost when the ring is full. */
/* A record's header, stamped now. */
static __always_inline void stamp(struct gl_record *rec, __u32 size, __u16 type, __u32 tid)
{
	rec->type = type;
	rec->size = size;
	rec->tid = tid;
	rec->ts = bpf_ktime_get_ns();
}

static __always_inline void *reserve_in(void *ring, __u32 size, __u16 type, __u32 kind)
{
	struct gl_record *rec = ring ? bpf_ringbuf_reserve(ring, size, 0) : NULL;
	if (!rec) {
		count(kind, &lost);
		return NULL;
	}
	stamp(rec, size, type, (__u32)bpf_get_current_pid_tgid());
	return rec;
}

/* Reserves a record in this CPU's ring. */
static __always_inline void *reserve(__u32 size, __u16 type, __u32 kind)
{
	return reserve_in(cpu_ring(), size, type, kind);
}

/* Readers are woken by the helper's poll timeout, not per record, unless the buffer fills up. */
static __always_inline void submit_to(void *ring, void *rec)
{
	__u64 avail = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(rec, avail > wake_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* Submits a record reserved in this CPU's ring. */
static __always_inline void submit(void *rec)
{
	void *ring = cpu_ring();
	if (ring)
		submit_to(ring, rec);
	else
		bpf_ringbuf_discard(rec, 0);
}

/* Op tracing switched on or off by the kernel side of the window; the reader is woken at once when
 * it switches off, so that the helper detaches the op probes without delay. */
static __always_inline void emit_window(__u32 on)
{
	struct gl_window *rec = reserve(sizeof(*rec), GL_REC_WINDOW, GL_PROBE_DECODE_ENTER);
	if (!rec)
		return;
	rec->on = on;
	rec->pad = 0;
	bpf_ringbuf_submit(rec, on ? BPF_RB_NO_WAKEUP : BPF_RB_FORCE_WAKEUP);
}

static __always_inline __u64 read_ptr(__u64 addr)
{
	__u64 value = 0;
	bpf_probe_read_user(&value, sizeof(value), (void *)addr);
	return value;
}

static __always_inline __s32 read_s32(__u64 addr)
{
	__s32 value = 0;
	bpf_probe_read_user(&value, sizeof(value), (void *)addr);
	return value;
}

static __always_inline void read_ne(__u64 tensor, __s64 *ne)
{
	__u32 n = tensor_n_dims < GL_MAX_DIMS_CAP ? tensor_n_dims : GL_MAX_DIMS_CAP;
	bpf_probe_read_user(ne, n * sizeof(__s64) & (GL_MAX_DIMS_CAP * sizeof(__s64) * 2 - 1),
			    (void *)(tensor + off_tensor_ne));
}

static __always_inline void read_nb(__u64 tensor, __u64 *nb)
{
	__u32 n = tensor_n_dims < GL_MAX_DIMS_CAP ? tensor_n_dims : GL_MAX_DIMS_CAP;
	bpf_probe_read_user(nb, n * sizeof(__u64) & (GL_MAX_DIMS_CAP * sizeof(__u64) * 2 - 1),
			    (void *)(tensor + off_tensor_nb));
}

static __always_inline void read_name(__u64 tensor, char *name)
{
	__u32 n = tensor_name_len < GL_NAME_CAP ? tensor_name_len : GL_NAME_CAP;
	bpf_probe_read_user_str(name, n & (GL_NAME_CAP * 2 - 1), (void *)(tensor + off_tensor_name));
}

/* The calling thread's state, created on first use; a THREAD record then says its process. */
static __always_inline struct thread_state *thread_state(void)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct thread_state *st = bpf_task_storage_get(&threads, task, 0, 0);
	if (st)
		return st;
	st = bpf_task_storage_get(&threads, task, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!st)
		return NULL;
	struct gl_thread *rec = reserve(sizeof(*rec), GL_REC_THREAD, GL_PROBE_DECODE_ENTER);
	if (rec) {
		rec->pid = bpf_get_current_pid_tgid() >> 32;
		rec->pad = 0;
		bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	}
	return st;
}

/* The calling thread's state when it has one. */
static __always_inline struct thread_state *existing_thread_state(void)
{
	return bpf_task_storage_get(&threads, bpf_get_current_task_btf(), 0, 0);
}

static __always_inline void read_counters(struct gl_sw_counters *c)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	c->min_flt = task->min_flt;
	c->maj_flt = task->maj_flt;
	c->nvcsw = task->nvcsw;
	c->nivcsw = task->nivcsw;
	c->cpu_ns = task->se.sum_exec_runtime;
}

static __always_inline void counters_since(const struct gl_sw_counters *start, struct gl_sw_counters *delta)
{
	struct gl_sw_counters now;
	read_counters(&now);
	delta->min_flt = now.min_flt - start->min_flt;
	delta->maj_flt = now.maj_flt - start->maj_flt;
	delta->nvcsw = now.nvcsw - start->nvcsw;
	delta->nivcsw = now.nivcsw - start->nivcsw;
	delta->cpu_ns = now.cpu_ns - start->cpu_ns;
}

/* ---- token level ---------------------------------------------------------------------- */

SEC("uprobe")
int BPF_UPROBE(decode_enter, __u64 llama_ctx)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_DECODE_ENTER, &hits);
	struct window_state *w = window_state();
	if (w && w->armed && !w->open) {
		w->open = 1;
		w->done = 0;
		emit_window(1);
	}
	struct thread_state *st = thread_state();
	if (st)
		read_counters(&st->decode_start);
	struct gl_decode_begin *rec = reserve(sizeof(*rec), GL_REC_DECODE_BEGIN, GL_PROBE_DECODE_ENTER);
	if (!rec)
		return 0;
	rec->ctx = llama_ctx;
	rec->cpu = bpf_get_smp_processor_id();
	/* llama_batch is passed in memory: it starts just above the return address. */
	rec->n_tokens = off_batch_n_tokens < 0 ? -1 : read_s32(PT_REGS_SP(ctx) + 8 + off_batch_n_tokens);
	submit(rec);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(decode_exit, int ret)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_DECODE_EXIT, &hits);
	struct window_state *w = window_state();
	bool closed = false;
	if (w && w->open && ++w->done >= w->decodes) {
		w->open = 0;
		w->armed = 0;
		closed = true;
	}
	struct gl_decode_end *rec = reserve(sizeof(*rec), GL_REC_DECODE_END, GL_PROBE_DECODE_EXIT);
	if (rec) {
		rec->ret = ret;
		rec->cpu = bpf_get_smp_processor_id();
		struct thread_state *st = thread_state();
		if (st)
			counters_since(&st->decode_start, &rec->delta);
		else
			__builtin_memset(&rec->delta, 0, sizeof(rec->delta));
		submit(rec);
	}
	if (closed)
		emit_window(0);
	return 0;
}

/* ---- graph level ---------------------------------------------------------------------- */

struct node_walk {
	__u64 signature;
	__u64 nodes;
	__s32 n_nodes;
};

/* The sources of node `index` that the graph does not compute, as GRAPH_LEAF records. */
static __always_inline void emit_leaves(const struct node_walk *walk, __s32 index, const __u64 *src)
{
	for (int i = 0; i < GL_MAX_SRC_CAP; i++) {
		if (i >= tensor_n_src || !src[i] || read_s32(src[i] + off_tensor_op) != op_none)
			continue;
		struct gl_graph_leaf *leaf = reserve_in(&structures, sizeof(*leaf), GL_REC_GRAPH_LEAF, GL_PROBE_GRAPH_ENTER);
		if (!leaf)
			return;
		leaf->signature = walk->signature;
		leaf->tensor = src[i];
		leaf->type = read_s32(src[i] + off_tensor_type);
		leaf->consumer = index;
		__builtin_memset(leaf->ne, 0, sizeof(leaf->ne));
		__builtin_memset(leaf->nb, 0, sizeof(leaf->nb));
		read_ne(src[i], leaf->ne);
		read_nb(src[i], leaf->nb);
		leaf->name[0] = 0;
		read_name(src[i], leaf->name);
		bpf_ringbuf_submit(leaf, BPF_RB_NO_WAKEUP);
	}
}

static long emit_node(__u64 index, struct node_walk *walk)
{
	if ((__s64)index >= walk->n_nodes)
		return 1;
	__u64 tensor = read_ptr(walk->nodes + index * 8);
	struct gl_graph_node *rec = reserve_in(&structures, sizeof(*rec), GL_REC_GRAPH_NODE, GL_PROBE_GRAPH_ENTER);
	if (!rec)
		return 1;
	rec->signature = walk->signature;
	rec->tensor = tensor;
	rec->index = index;
	rec->op = read_s32(tensor + off_tensor_op);
	rec->type = read_s32(tensor + off_tensor_type);
	rec->flags = read_s32(tensor + off_tensor_flags);
	rec->op_params0 = read_s32(tensor + off_tensor_op_params);
	rec->pad = 0;
	if (op_mul_mat_id >= 0 && rec->op == op_mul_mat_id) {
		__u8 one = 1;
		bpf_map_update_elem(&expert_ops, &tensor, &one, BPF_ANY);
		expert_ops_seen = true;
	}
	__builtin_memset(rec->src, 0, sizeof(rec->src));
	__builtin_memset(rec->ne, 0, sizeof(rec->ne));
	__builtin_memset(rec->nb, 0, sizeof(rec->nb));
	__u32 src_bytes = tensor_n_src * 8;
	if (src_bytes > sizeof(rec->src))
		src_bytes = sizeof(rec->src);
	bpf_probe_read_user(rec->src, src_bytes, (void *)(tensor + off_tensor_src));
	read_ne(tensor, rec->ne);
	read_nb(tensor, rec->nb);
	rec->name[0] = 0;
	read_name(tensor, rec->name);
	__u64 src[GL_MAX_SRC_CAP];
	__builtin_memcpy(src, rec->src, sizeof(src));
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
	if (op_none >= 0)
		emit_leaves(walk, index, src);
	return 0;
}

static __always_inline __u64 graph_uid(__u64 graph)
{
	return off_graph_uid >= 0 ? read_ptr(graph + off_graph_uid) : 0;
}

/* Cheap identity of a graph's structure: its address, uid, size and the first and last nodes. */
static __always_inline __u64 graph_signature(__u64 graph, __u64 uid, __u64 nodes, __s32 n_nodes)
{
	__u64 first = read_ptr(nodes), last = read_ptr(nodes + (__u64)(n_nodes - 1) * 8);
	__s64 ne_first[GL_MAX_DIMS_CAP] = {}, ne_last[GL_MAX_DIMS_CAP] = {};
	read_ne(first, ne_first);
	read_ne(last, ne_last);
	__u64 h = (graph ^ uid * 0xd6e8feb86659fd93ull) * 0x9E3779B97F4A7C15ull ^ (__u64)n_nodes;
	h = (h ^ first) * 0xff51afd7ed558ccdull;
	h = (h ^ last) * 0xc4ceb9fe1a85ec53ull;
	for (int i = 0; i < GL_MAX_DIMS_CAP; i++)
		h = (h ^ (__u64)ne_first[i] ^ ((__u64)ne_last[i] << 17)) * 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

/* The nodes (and leaves) of a graph, once per distinct structure. */
static __always_inline void emit_structure(__u64 signature, __u64 nodes, __s32 n_nodes)
{
	__u8 one = 1;
	if (n_nodes <= 0 || bpf_map_lookup_elem(&seen_graphs, &signature))
		return;
	struct node_walk walk = { .signature = signature, .nodes = nodes, .n_nodes = n_nodes };
	bpf_loop(n_nodes < GL_MAX_GRAPH_NODES ? n_nodes : GL_MAX_GRAPH_NODES, emit_node, &walk, 0);
	bpf_map_update_elem(&seen_graphs, &signature, &one, BPF_ANY);
}

/* ggml_graph_compute of each CPU backend, attached as uprobe_multi links (also to a backend the
 * target loads later, when the helper holds only CAP_BPF and CAP_PERFMON). */
SEC("uprobe.multi")
int BPF_UPROBE(graph_enter, __u64 graph)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_GRAPH_ENTER, &hits);
	__s32 n_nodes = read_s32(graph + off_graph_n_nodes);
	__u64 nodes = read_ptr(graph + off_graph_nodes);
	__u64 uid = graph_uid(graph);
	__u64 signature = n_nodes > 0 ? graph_signature(graph, uid, nodes, n_nodes) : 0;
	graph_has_uid = uid != 0;
	struct gl_graph_begin *rec = reserve(sizeof(*rec), GL_REC_GRAPH_BEGIN, GL_PROBE_GRAPH_ENTER);
	if (!rec)
		return 0;
	rec->graph = graph;
	rec->signature = signature;
	rec->n_nodes = n_nodes;
	rec->cpu = bpf_get_smp_processor_id();
	submit(rec);
	emit_structure(signature, nodes, n_nodes);
	return 0;
}

SEC("uretprobe.multi")
int BPF_URETPROBE(graph_exit, int status)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_GRAPH_EXIT, &hits);
	struct gl_graph_end *rec = reserve(sizeof(*rec), GL_REC_GRAPH_END, GL_PROBE_GRAPH_EXIT);
	if (!rec)
		return 0;
	rec->graph = 0;
	rec->status = status;
	rec->cpu = bpf_get_smp_processor_id();
	submit(rec);
	return 0;
}

/* ---- backends -------------------------------------------------------------------------- */

static __always_inline void emit_graph_begin(__u16 type, __u64 backend, __u64 graph, __u64 signature, __s32 n_nodes)
{
	struct gl_backend_graph_begin *rec = reserve(sizeof(*rec), type, GL_PROBE_BACKEND_GRAPH);
	if (!rec)
		return;
	rec->backend = backend;
	rec->graph = graph;
	rec->signature = signature;
	bool is_backend = type == GL_REC_BACKEND_GRAPH_BEGIN;
	rec->compute_fn = is_backend && off_backend_graph_compute >= 0 ? read_ptr(backend + off_backend_graph_compute) : 0;
	rec->device = is_backend && off_backend_device >= 0 ? read_ptr(backend + off_backend_device) : 0;
	rec->n_nodes = n_nodes;
	rec->cpu = bpf_get_smp_processor_id();
	submit(rec);
}

static __always_inline void emit_graph_end(__u16 type, int status)
{
	struct gl_backend_graph_end *rec = reserve(sizeof(*rec), type, GL_PROBE_BACKEND_GRAPH);
	if (!rec)
		return;
	rec->status = status;
	rec->cpu = bpf_get_smp_processor_id();
	submit(rec);
}

/* ggml_backend_graph_compute_async(backend, cgraph): one split of the scheduler's graph on one
 * backend; its nodes are written here, so they are known whichever backend computes them. */
SEC("uprobe")
int BPF_UPROBE(backend_graph_enter, __u64 backend, __u64 graph)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_BACKEND_GRAPH, &hits);
	thread_state();
	__s32 n_nodes = read_s32(graph + off_graph_n_nodes);
	__u64 nodes = read_ptr(graph + off_graph_nodes);
	__u64 signature = n_nodes > 0 ? graph_signature(graph, graph_uid(graph), nodes, n_nodes) : 0;
	emit_graph_begin(GL_REC_BACKEND_GRAPH_BEGIN, backend, graph, signature, n_nodes);
	emit_structure(signature, nodes, n_nodes);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(backend_graph_exit, int status)
{
	if (is_target())
		emit_graph_end(GL_REC_BACKEND_GRAPH_END, status);
	return 0;
}

/* ggml_backend_sched_graph_compute_async(sched, graph): a whole graph, split by split. */
SEC("uprobe")
int BPF_UPROBE(sched_graph_enter, __u64 sched, __u64 graph)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_BACKEND_GRAPH, &hits);
	thread_state();
	emit_graph_begin(GL_REC_SCHED_GRAPH_BEGIN, sched, graph, 0, read_s32(graph + off_graph_n_nodes));
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(sched_graph_exit, int status)
{
	if (is_target())
		emit_graph_end(GL_REC_SCHED_GRAPH_END, status);
	return 0;
}

/* Notes a copy call; only the outermost of nested ones (copy_async falls back to copy) is written. */
static __always_inline void copy_enter(__u32 kind, __u64 src, __u64 dst, __u64 backend, __u64 backend2, __u64 offset, __u64 size)
{
	count(GL_PROBE_TENSOR_COPY, &hits);
	struct thread_state *st = thread_state();
	if (!st || st->copy.depth++ > 0)
		return;
	st->copy = (struct pending_copy){ .start = bpf_ktime_get_ns(), .src = src, .dst = dst, .backend = backend,
					  .backend2 = backend2, .offset = offset, .size = size, .kind = kind, .depth = 1 };
}

SEC("uprobe")
int BPF_UPROBE(copy_sync_enter, __u64 src, __u64 dst)
{
	if (is_target())
		copy_enter(GL_COPY_SYNC, src, dst, 0, 0, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(copy_async_enter, __u64 backend_src, __u64 backend_dst, __u64 src, __u64 dst)
{
	if (is_target())
		copy_enter(GL_COPY_ASYNC, src, dst, backend_src, backend_dst, 0, 0);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(set_async_enter, __u64 backend, __u64 tensor, __u64 data, __u64 offset, __u64 size)
{
	if (is_target())
		copy_enter(GL_COPY_SET_ASYNC, 0, tensor, backend, 0, offset, size);
	return 0;
}

/* Every copy call's return: the outermost one writes the copy, with dst's shape, strides and type. */
SEC("uretprobe")
int BPF_URETPROBE(copy_exit)
{
	if (!is_target())
		return 0;
	struct thread_state *st = existing_thread_state();
	if (!st || st->copy.depth == 0 || --st->copy.depth > 0)
		return 0;
	struct gl_tensor_copy *rec = reserve(sizeof(*rec), GL_REC_TENSOR_COPY, GL_PROBE_TENSOR_COPY);
	if (!rec)
		return 0;
	const struct pending_copy *c = &st->copy;
	rec->hdr.ts = c->start;
	rec->end_ts = bpf_ktime_get_ns();
	rec->src = c->src;
	rec->dst = c->dst;
	rec->backend = c->backend;
	rec->backend2 = c->backend2;
	rec->offset = c->offset;
	rec->size = c->size;
	rec->kind = c->kind;
	rec->type = read_s32(c->dst + off_tensor_type);
	__builtin_memset(rec->ne, 0, sizeof(rec->ne));
	__builtin_memset(rec->nb, 0, sizeof(rec->nb));
	read_ne(c->dst, rec->ne);
	read_nb(c->dst, rec->nb);
	rec->name[0] = 0;
	read_name(c->src ? c->src : c->dst, rec->name);
	submit(rec);
	return 0;
}

static __always_inline void name_enter(__u64 object, __u32 kind)
{
	count(GL_PROBE_BACKEND_NAME, &hits);
	struct thread_state *st = thread_state();
	if (st) {
		st->name_object = object;
		st->name_kind = kind;
	}
}

SEC("uprobe")
int BPF_UPROBE(backend_name_enter, __u64 backend)
{
	if (is_target())
		name_enter(backend, GL_NAME_BACKEND);
	return 0;
}

SEC("uprobe")
int BPF_UPROBE(device_name_enter, __u64 device)
{
	if (is_target())
		name_enter(device, GL_NAME_DEVICE);
	return 0;
}

/* ggml_backend_name / ggml_backend_dev_name returned: the name the backend or device gave itself. */
SEC("uretprobe")
int BPF_URETPROBE(name_exit, __u64 name)
{
	if (!is_target())
		return 0;
	struct thread_state *st = existing_thread_state();
	if (!st || !st->name_object || !name)
		return 0;
	struct gl_backend_name *rec = reserve(sizeof(*rec), GL_REC_BACKEND_NAME, GL_PROBE_BACKEND_NAME);
	if (rec) {
		rec->object = st->name_object;
		rec->kind = st->name_kind;
		rec->pad = 0;
		rec->name[0] = 0;
		bpf_probe_read_user_str(rec->name, sizeof(rec->name), (void *)name);
		submit(rec);
	}
	st->name_object = 0;
	return 0;
}

/* ---- op level ------------------------------------------------------------------------- */

/* The registers in DWARF's x86-64 numbering (0 rax, 1 rdx, 2 rcx, 3 rbx, 4 rsi, 5 rdi, 6 rbp, 7 rsp,
 * 8-15 r8-r15), then the IP. */
static __always_inline void copy_user_registers(__u64 *regs, struct pt_regs *user)
{
	regs[0] = user->ax, regs[1] = user->dx, regs[2] = user->cx, regs[3] = user->bx;
	regs[4] = user->si, regs[5] = user->di, regs[6] = user->bp, regs[7] = user->sp;
	regs[8] = user->r8, regs[9] = user->r9, regs[10] = user->r10, regs[11] = user->r11;
	regs[12] = user->r12, regs[13] = user->r13, regs[14] = user->r14, regs[15] = user->r15;
	regs[16] = user->ip;
}

static __always_inline void emit_expert_ids(__u64 tensor)
{
	__u64 ids = read_ptr(tensor + off_tensor_src + 2 * 8);
	if (!ids)
		return;
	struct gl_expert_ids *rec = reserve(sizeof(*rec), GL_REC_EXPERT_IDS, GL_PROBE_OP_BEGIN);
	if (!rec)
		return;
	__s64 ne[GL_MAX_DIMS_CAP] = {};
	read_ne(ids, ne);
	rec->tensor = tensor;
	rec->n_used = ne[0];
	rec->n_tokens = ne[1];
	__s64 total = ne[0] * ne[1];
	rec->count = total < 0 ? 0 : total > GL_EXPERT_IDS_CAP ? GL_EXPERT_IDS_CAP : total;
	rec->pad = 0;
	__builtin_memset(rec->ids, 0, sizeof(rec->ids));
	/* ids are I32 and contiguous along ne[0]; rows may be strided by nb[1]. */
	__u64 data = read_ptr(ids + off_tensor_data);
	__u64 nb1 = read_ptr(ids + off_tensor_nb + 8);
	__u32 used = rec->n_used > 0 && rec->n_used <= GL_EXPERT_IDS_CAP ? rec->n_used : 1;
	for (__u32 i = 0; i < GL_EXPERT_IDS_CAP; i++) {
		if (i >= rec->count)
			break;
		__u64 row = i / used, col = i % used;
		rec->ids[i] = read_s32(data + row * nb1 + col * 4);
	}
	submit(rec);
}

#define GL_TENSOR_HEAD_CAP 128

static __always_inline __u32 min_u32(__u32 a, __u32 b) { return a < b ? a : b; }
static __always_inline __u32 max_u32(__u32 a, __u32 b) { return a > b ? a : b; }

/* The op, type and shape of a tensor. They lead ggml_tensor, so one read of the bytes they span
 * does (each user memory read costs about 60 ns here, however few its bytes). */
static __always_inline void read_op_shape(__u64 tensor, struct gl_op_begin *op)
{
	__u32 n_dims = tensor_n_dims < GL_MAX_DIMS_CAP ? tensor_n_dims : GL_MAX_DIMS_CAP;
	__u32 lo = min_u32(min_u32(off_tensor_type, off_tensor_op), off_tensor_ne);
	__u32 hi = max_u32(max_u32(off_tensor_type, off_tensor_op) + 4, off_tensor_ne + n_dims * 8);
	__builtin_memset(op->ne, 0, sizeof(op->ne));
	if (hi - lo > GL_TENSOR_HEAD_CAP) {
		op->op = read_s32(tensor + off_tensor_op);
		op->type = read_s32(tensor + off_tensor_type);
		read_ne(tensor, op->ne);
		return;
	}
	__u8 head[GL_TENSOR_HEAD_CAP];
	if (bpf_probe_read_user(head, hi - lo, (void *)(tensor + lo))) {
		op->op = op->type = -1;
		return;
	}
	op->op = *(__s32 *)(head + (off_tensor_op - lo));
	op->type = *(__s32 *)(head + (off_tensor_type - lo));
	for (__u32 i = 0; i < GL_MAX_DIMS_CAP; i++)
		if (i < n_dims)
			op->ne[i] = *(__s64 *)(head + (off_tensor_ne - lo) + i * 8);
}

/* The worker index, read once per compute-params block (it lives on the worker's stack for the
 * whole graph). */
static __always_inline __s32 worker_index(struct thread_state *st, __u64 params)
{
	if (!params || off_params_ith < 0)
		return -1;
	if (st->params != params) {
		st->params = params;
		st->ith = read_s32(params + off_params_ith);
	}
	return st->ith;
}

/* Whether the op beginning is a MUL_MAT_ID (whose expert ids are written). */
static __always_inline bool is_expert_op(const struct gl_op_begin *op, __u64 tensor)
{
	if (op_mul_mat_id < 0)
		return false;
	if (!(op->flags & GL_OP_SHAPE_IN_GRAPH))
		return op->op == op_mul_mat_id;
	return expert_ops_seen && bpf_map_lookup_elem(&expert_ops, &tensor) && read_s32(tensor + off_tensor_op) == op_mul_mat_id;
}

/* An op that began and did not end (no barrier followed it): its OP_BEGIN alone. */
static __always_inline void write_unended_op(struct thread_state *st)
{
	void *ring = cpu_ring();
	struct gl_op_begin *rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec) {
		count(GL_PROBE_OP_BEGIN, &lost);
		return;
	}
	__builtin_memcpy(rec, &st->op, sizeof(*rec));
	submit_to(ring, rec);
}

/* An op begins: its OP_BEGIN is kept with the thread until the op ends (op_end writes both at once:
 * one ring buffer record instead of two). */
static __always_inline int op_begin(__u64 params, __u64 tensor, __u64 tensor2, __u32 site)
{
	struct thread_state *st = thread_state();
	if (!st) {
		count(GL_PROBE_OP_BEGIN, &lost);
		return 0;
	}
	struct gl_op_begin *op = &st->op;
	if (op->tensor)
		write_unended_op(st);
	stamp(&op->hdr, sizeof(*op), GL_REC_OP_BEGIN, (__u32)bpf_get_current_pid_tgid());
	op->tensor = tensor;
	op->tensor2 = tensor2;
	op->flags = tensor2 ? GL_OP_FUSED : 0;
	op->site = site;
	op->cpu = bpf_get_smp_processor_id();
	op->ith = worker_index(st, params);
	if (op_shapes_live || !graph_has_uid) {
		read_op_shape(tensor, op);
	} else {
		op->op = op->type = -1;
		__builtin_memset(op->ne, 0, sizeof(op->ne));
		op->flags |= GL_OP_SHAPE_IN_GRAPH;
	}
	read_counters(&st->op_start);
	if (op->ith == 0 && is_expert_op(op, tensor))
		emit_expert_ids(tensor);
	return 0;
}

/* Where this site's probe finds the tensor and params pointers (cookie = site index). */
static __always_inline void site_pointers(struct pt_regs *ctx, __u32 site, __u64 *params, __u64 *tensor)
{
	__s32 treg = site_tensor_reg[site], preg = site_params_reg[site];
	__u64 regs[GL_UNWIND_REGS];
	copy_user_registers(regs, ctx);
	/* -1: the function's own arguments, params in rdi and the tensor in rsi */
	*tensor = regs[treg < 0 ? 4 : treg & 15];
	*params = regs[preg < 0 ? 5 : preg & 15];
}

/* Entered from a kernel rather than from the compute loop: not the end of the op. */
static __always_inline bool barrier_inside_kernel(struct pt_regs *ctx, __u32 site)
{
	if (!site_barrier_vaddr[site] || !site_caller_hi[site])
		return false;
	__u64 bias = PT_REGS_IP(ctx) - site_barrier_vaddr[site];
	__u64 caller = read_ptr(PT_REGS_SP(ctx)) - bias;
	return caller < site_caller_lo[site] || caller >= site_caller_hi[site];
}

/* The op the thread ran, as it ends now. */
static __always_inline void write_pair(struct gl_op_pair *rec, struct thread_state *st)
{
	__builtin_memcpy(&rec->begin, &st->op, sizeof(rec->begin));
	struct gl_op_end *end = &rec->end;
	stamp(&end->hdr, sizeof(*end), GL_REC_OP_END, st->op.hdr.tid);
	end->tensor = st->op.tensor;
	end->cpu = bpf_get_smp_processor_id();
	end->pad = 0;
	counters_since(&st->op_start, &end->delta);
}

/* Wakes the helper (through the CPU's ring: the log cannot). */
static __always_inline void wake_helper(void)
{
	void *ring = cpu_ring();
	struct gl_record *rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec)
		return;
	stamp(rec, sizeof(*rec), GL_REC_WAKE, 0);
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
}

/* Writes the op pair into this CPU's op log; false when the log is full or another writer on this
 * CPU holds it (preempted in the middle of its write). */
static __always_inline bool write_to_log(struct thread_state *st)
{
	__u32 cpu = bpf_get_smp_processor_id();
	__u8 *log = bpf_map_lookup_elem(&op_logs, &cpu);
	if (!log)
		return false;
	struct gl_op_log_head *head = (struct gl_op_log_head *)log;
	if (__sync_lock_test_and_set(&head->busy, 1))
		return false;
	__u64 produced = head->produced;
	__u64 used = produced - *(volatile __u64 *)&head->consumed;
	bool room = used < op_log_entries;
	if (room) {
		__u64 at = sizeof(*head) + (produced & (op_log_entries - 1)) * sizeof(struct gl_op_pair);
		write_pair((struct gl_op_pair *)(log + at), st);
		barrier(); /* the entry before its count: x86 keeps stores in order */
		*(volatile __u64 *)&head->produced = produced + 1;
	}
	barrier();
	*(volatile __u64 *)&head->busy = 0;
	if (used + 1 == op_log_entries / 2)
		wake_helper();
	return room;
}

/* Writes the op pair into this CPU's ring buffer. */
static __always_inline void write_to_ring(struct thread_state *st)
{
	void *ring = cpu_ring();
	struct gl_op_pair *rec = ring ? bpf_ringbuf_reserve(ring, sizeof(*rec), 0) : NULL;
	if (!rec) {
		count(GL_PROBE_OP_BEGIN, &lost);
		count(GL_PROBE_OP_END, &lost);
		return;
	}
	write_pair(rec, st);
	submit_to(ring, rec);
}

/* A worker reaches the barrier after its op: the op's span ends. */
static __always_inline int op_end(struct pt_regs *ctx, __u32 site)
{
	count(GL_PROBE_OP_END, &hits);
	if (barrier_inside_kernel(ctx, site))
		return 0;
	struct thread_state *st = existing_thread_state();
	if (!st || !st->op.tensor)
		return 0;
	if (!write_to_log(st))
		write_to_ring(st);
	st->op.tensor = 0;
	return 0;
}

/* Every op site (cookie = site index): an op starts as it enters the op dispatch, a fused group as
 * the compute loop calls a fused kernel (params, first node, second node), and the op ends as the
 * worker reaches the barrier after it. */
SEC("uprobe.multi")
int op_probe(struct pt_regs *ctx)
{
	if (!is_target())
		return 0;
	__u32 site = bpf_get_attach_cookie(ctx) & (GL_MAX_SITES - 1);
	__u8 kind = site_kind[site];
	if (kind == GL_SITE_OP_END)
		return op_end(ctx, site);
	bool fused = kind == GL_SITE_OP_FUSED;
	count(fused ? GL_PROBE_OP_FUSED : GL_PROBE_OP_BEGIN, &hits);
	if (!window_open())
		return 0;
	__u64 params, tensor;
	site_pointers(ctx, site, &params, &tensor);
	return op_begin(params, tensor, fused ? PT_REGS_PARM3(ctx) : 0, site);
}

/* ---- timer samples and thread states --------------------------------------------------- */

static long stack_mapping_end(struct task_struct *task, struct vm_area_struct *vma, void *end)
{
	*(__u64 *)end = vma->vm_end;
	return 0;
}

/* The end of the mapping the thread's stack lies in (its outermost frames lie below it), looked up
 * once per thread: the lookup takes the mmap lock and, from this interrupt, a self-IPI to drop it. */
static __always_inline __u64 stack_end(struct thread_state *st, __u64 sp)
{
	__u64 end = st ? st->stack_end : 0;
	if (end > sp)
		return end;
	if (bpf_find_vma(bpf_get_current_task_btf(), sp, stack_mapping_end, &end, 0) || end <= sp)
		return 0;
	if (st)
		st->stack_end = end;
	return end;
}

/* The top of the thread's user stack: from the stack pointer up to the end of its mapping, at most
 * sample_stack_bytes (a copy costs one to three microseconds per KiB here). Where the mapping is
 * not known (its lock was taken), the longest of sample_stack_bytes, its half, ... that can be read
 * (a read that crosses the end of the stack fails whole). */
static __always_inline void copy_user_stack(struct gl_sample_unwind *rec, struct thread_state *st)
{
	__u64 sp = rec->regs[7];
	__u64 end = stack_end(st, sp);
	rec->stack_len = 0;
	if (end) {
		__u64 len = end - sp;
		if (len > sample_stack_bytes)
			len = sample_stack_bytes;
		if (len <= GL_STACK_COPY_CAP && bpf_probe_read_user(rec->stack, len, (void *)sp) == 0) {
			rec->stack_len = len;
			return;
		}
	}
#pragma unroll
	for (int i = 0; i < 6; i++) {
		__u32 len = sample_stack_bytes >> i;
		if (len > GL_STACK_COPY_CAP || len < 512)
			return;
		if (bpf_probe_read_user(rec->stack, len, (void *)sp) == 0) {
			rec->stack_len = len;
			return;
		}
	}
}

#define GL_MAX_RETURN_INSTANCES 16

/* A uretprobe (ours on llama_decode, ggml_graph_compute and the backend calls) replaces its
 * function's return address on the stack with the uprobes trampoline: the copy gets the real one
 * back from the kernel's list of pending returns, so the unwinder sees the real callers. */
static __always_inline void restore_return_addresses(struct gl_sample_unwind *rec)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct uprobe_task *utask = task->utask;
	struct return_instance *ri = utask ? utask->return_instances : NULL;
	__u64 sp = rec->regs[7];
	for (int i = 0; i < GL_MAX_RETURN_INSTANCES && ri; i++) {
		__u64 off = ri->stack - sp;
		if ((off & 7) == 0 && off <= GL_STACK_COPY_CAP - 8 && off + 8 <= rec->stack_len)
			*(__u64 *)(rec->stack + off) = ri->orig_ret_vaddr;
		ri = ri->next;
	}
}

/* A timer sample: the user IP, the op its thread runs, and the user registers and stack top, from
 * which the helper unwinds the caller chain with the target's DWARF call frame information (frame
 * pointers are not needed: ggml is built without them by default). */
SEC("perf_event")
int sample(struct bpf_perf_event_data *ctx)
{
	if (!is_target())
		return 0;
	count(GL_PROBE_SAMPLE, &hits);
	/* the thread's user registers, as they were when it last entered the kernel (this interrupt,
	 * or the system call it is in) */
	struct pt_regs *user = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u64 ip = user->ip;
	if (!ip)
		return 0;
	struct thread_state *st = sample_stack_bytes ? thread_state() : existing_thread_state();
	if (!sample_stack_bytes) {
		struct gl_sample *plain = reserve(sizeof(*plain), GL_REC_SAMPLE, GL_PROBE_SAMPLE);
		if (!plain)
			return 0;
		plain->ip = ip;
		plain->tensor = st ? st->op.tensor : 0;
		plain->cpu = bpf_get_smp_processor_id();
		plain->stack = 0;
		submit(plain);
		return 0;
	}
	struct gl_sample_unwind *rec = reserve(sizeof(*rec), GL_REC_SAMPLE_UNWIND, GL_PROBE_SAMPLE);
	if (!rec)
		return 0;
	rec->sample.ip = ip;
	rec->sample.tensor = st ? st->op.tensor : 0;
	rec->sample.cpu = bpf_get_smp_processor_id();
	rec->sample.stack = 0;
	copy_user_registers(rec->regs, user);
	copy_user_stack(rec, st);
	restore_return_addresses(rec);
	rec->sample.hdr.size = __builtin_offsetof(struct gl_sample_unwind, stack) + rec->stack_len;
	submit(rec);
	return 0;
}

static __always_inline void emit_sched(__u32 tid, __u32 kind)
{
	count(GL_PROBE_SCHED, &hits);
	struct gl_sched *rec = reserve(sizeof(*rec), GL_REC_SCHED, GL_PROBE_SCHED);
	if (!rec)
		return;
	rec->hdr.tid = tid;
	rec->kind = kind;
	rec->cpu = bpf_get_smp_processor_id();
	submit(rec);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	if (!trace_sched)
		return 0;
	if (is_traced_tgid(BPF_CORE_READ(prev, tgid)))
		emit_sched(BPF_CORE_READ(prev, pid), preempt ? GL_SCHED_OUT_PREEMPT : GL_SCHED_OUT_SLEEP);
	if (is_traced_tgid(BPF_CORE_READ(next, tgid)))
		emit_sched(BPF_CORE_READ(next, pid), GL_SCHED_IN);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(sched_wakeup, struct task_struct *p)
{
	if (trace_sched && is_traced_tgid(BPF_CORE_READ(p, tgid)))
		emit_sched(BPF_CORE_READ(p, pid), GL_SCHED_WAKEUP);
	return 0;
}
