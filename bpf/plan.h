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
	/* Symbols only, op ends at ggml_barrier's entry (barrier_vaddr != 0): only when called from
	 * [caller_lo, caller_hi), the compute loop, not from a kernel synchronizing internally. */
	uint64_t barrier_vaddr, caller_lo, caller_hi;
};

struct probe_point {
	const char *path; /* library or executable */
	uint64_t file_offset;
	int found;
};

struct tensor_layout {
	int64_t type, ne, nb, op, op_params, flags, src, data, name;
	int64_t n_dims, n_src, name_len;
	int64_t graph_n_nodes, graph_nodes, params_ith, batch_n_tokens;
	int64_t graph_uid; /* ggml_cgraph.uid (set when the scheduler splits a graph anew), -1 when absent */
	int64_t op_none, op_mul_mat_id;
	int64_t flag_compute; /* GGML_TENSOR_FLAG_COMPUTE, -1 when unknown */
	const char *source; /* library whose DWARF gave the offsets */
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
	const char *op_method; /* "dwarf-inline" or "symbols" */
	size_t n_sites;
	struct op_site sites[PLAN_MAX_SITES];
	struct tensor_layout layout;
	const struct gl_names *op_names;
	const struct gl_layout *traits_from;
	char error[512];
};

/* Analyses the given files (executable and its libraries) and fills the plan. layout_from: NULL, or a
 * directory holding a build of the same ggml with DWARF, whose layout files without DWARF borrow.
 * Returns 0, or -1 with plan->error naming what is missing and how to fix it. */
int plan_build(struct plan *plan, const char *const *paths, size_t n_paths, const char *layout_from);
void plan_free(struct plan *plan);
#endif
