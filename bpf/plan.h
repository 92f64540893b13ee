/* What to probe in one target: which libraries play which role, where the probe sites are and
 * what the BPF programs must know of ggml's layout. Everything is read from the target's files. */
#ifndef GGML_LENS_PLAN_H
#define GGML_LENS_PLAN_H
#include <stddef.h>
#include <stdint.h>
#include "target/layout.h"
#include "probe.h"

#define PLAN_MAX_SITES 128 /* GL_MAX_SITES in probe.bpf.c */
#define PLAN_MAX_LIBS 64
#define PLAN_MAX_CPUS 24

struct op_site {
	enum gl_site_kind kind;
	const struct gl_layout *lib; /* the CPU backend library it is in */
	const char *what;     /* e.g. "call ggml_barrier in ggml_graph_compute_thread" */
	uint64_t vaddr;       /* in the library */
	uint64_t file_offset; /* what the uprobe needs */
	int tensor_reg;       /* DWARF register of the tensor pointer, -1: entry ABI */
	int params_reg;       /* DWARF register of the compute params pointer, -1: entry ABI */
	/* Symbols only, op ends at ggml_barrier's entry (barrier_vaddr != 0, the probed address there):
	 * only when called from [caller_lo, caller_hi), the compute loop, not from a kernel
	 * synchronizing internally. */
	uint64_t barrier_vaddr, caller_lo, caller_hi;
};

struct probe_point {
	const char *path; /* library or executable */
	uint64_t file_offset;
	int found;
};

/* Functions of ggml's backend API (ggml-base) probed at entry and return: where graphs reach the
 * backends and the scheduler, where tensors are copied between backends, where backends say their names. */
enum plan_backend_fn {
	PLAN_BACKEND_GRAPH,     /* ggml_backend_graph_compute_async */
	PLAN_SCHED_GRAPH,       /* ggml_backend_sched_graph_compute_async */
	PLAN_TENSOR_COPY,       /* ggml_backend_tensor_copy */
	PLAN_TENSOR_COPY_ASYNC, /* ggml_backend_tensor_copy_async */
	PLAN_TENSOR_SET_ASYNC,  /* ggml_backend_tensor_set_async */
	PLAN_BACKEND_NAME,      /* ggml_backend_name */
	PLAN_DEVICE_NAME,       /* ggml_backend_dev_name */
	PLAN_BACKEND_FNS,
};
extern const char *const PLAN_BACKEND_SYMBOLS[PLAN_BACKEND_FNS];

struct tensor_layout {
	int64_t type, ne, nb, op, op_params, flags, src, data, name;
	int64_t n_dims, n_src, name_len;
	int64_t graph_n_nodes, graph_nodes, params_ith, batch_n_tokens;
	int64_t graph_uid; /* ggml_cgraph.uid (set when the scheduler splits a graph anew), -1 when absent */
	int64_t op_none, op_mul_mat_id;
	int64_t flag_compute; /* GGML_TENSOR_FLAG_COMPUTE, -1 when unknown */
	int64_t backend_graph_compute, backend_device; /* struct ggml_backend: iface.graph_compute, device; -1 when unknown */
	const char *source; /* library whose DWARF gave the offsets */
};

/* A CPU backend the target loaded after the helper attached (dlopen), and its op sites. */
struct late_library {
	const struct gl_layout *lib;
	size_t first_site, n_sites;
	uint64_t attached_ns; /* CLOCK_MONOTONIC, set by the helper once its probes are attached */
};

struct plan {
	size_t n_libs;
	struct gl_layout *libs[PLAN_MAX_LIBS];
	size_t n_donors; /* --layout-from: DWARF builds of the same ggml */
	struct gl_layout *donors[PLAN_MAX_LIBS];
	const struct gl_layout *llama, *base;
	/* CPU backends: linked, or variants a program may dlopen (all probed; only the loaded one fires) */
	size_t n_cpus;
	const struct gl_layout *cpus[PLAN_MAX_CPUS];
	const struct gl_layout *cpu; /* the first: its layout and op method describe the run */
	struct probe_point decode, graph_compute[PLAN_MAX_CPUS];
	struct probe_point backend_fns[PLAN_BACKEND_FNS];
	int may_split_graphs; /* a backend other than the CPU's may compute graphs (plan.c: may_split_graphs) */
	const char *op_method; /* "dwarf-inline" or "symbols" */
	/* Where an op span's op, type and shape come from: its graph's GRAPH_NODE (0; the target's graphs
	 * have a uid, so a structure is written again whenever shapes may change), or the tensor as the
	 * op begins (1: set by the helper) */
	int op_shapes_live;
	size_t n_sites;
	struct op_site sites[PLAN_MAX_SITES];
	struct tensor_layout layout;
	const struct gl_names *op_names;
	const struct gl_layout *traits_from;
	size_t n_late;
	struct late_library late[PLAN_MAX_CPUS];
	char error[512];
};

/* Analyses the given files (executable and its libraries) and fills the plan. A program with ggml but
 * no CPU backend yet (it will dlopen one) gets a plan with n_cpus == 0. layout_from: NULL, or a
 * directory holding a build of the same ggml with DWARF, whose layout files without DWARF borrow.
 * Returns 0, or -1 with plan->error naming what is missing and how to fix it. */
int plan_build(struct plan *plan, const char *const *paths, size_t n_paths, const char *layout_from);
/* A file the target mapped after plan_build: when it is a ggml CPU backend not probed yet, the plan
 * gains it and its op sites (numbered after the others) as plan->late[plan->n_late - 1] and 1 is
 * returned; 0 when it is something else; -1 with plan->error. A plan built before any CPU backend was
 * loaded takes its layout details and op method from the first. */
int plan_add_late_library(struct plan *plan, const char *path);
/* Whether the file at path is a ggml backend library other than the CPU's (by its name: libggml-NAME.so). */
int plan_is_other_backend(const char *path);
void plan_free(struct plan *plan);
#endif
