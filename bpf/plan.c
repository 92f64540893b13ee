#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "plan.h"

#define ERR(plan, ...) (snprintf((plan)->error, sizeof((plan)->error), __VA_ARGS__), -1)

static int has_symbol(const struct gl_layout *l, const char *name)
{
	return gl_find_symbol(l, name) != NULL;
}

static const struct gl_layout *lib_with_symbol(const struct plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_libs; i++)
		if (has_symbol(plan->libs[i], name))
			return plan->libs[i];
	return NULL;
}

static struct probe_point symbol_point(const struct gl_layout *l, const char *name)
{
	struct probe_point p = { 0 };
	const struct gl_symbol *s = l ? gl_find_symbol(l, name) : NULL;
	if (s && gl_file_offset(l, s->addr, &p.file_offset) == 0) {
		p.path = l->path;
		p.found = 1;
	}
	return p;
}

static int64_t field_offset(const struct gl_struct *s, const char *name)
{
	const struct gl_field *f = s ? gl_find_field(s, name) : NULL;
	return f && f->found ? (int64_t)f->offset : -1;
}

static int64_t field_count(const struct gl_struct *s, const char *name)
{
	const struct gl_field *f = s ? gl_find_field(s, name) : NULL;
	return f && f->found ? (int64_t)f->count : -1;
}

static const struct gl_struct *found_struct(const struct gl_layout *l, const char *name)
{
	const struct gl_struct *s = l ? gl_find_struct(l, name) : NULL;
	return s && s->found ? s : NULL;
}

static int64_t enum_value(const struct gl_layout *l, const char *enum_name, const char *item)
{
	const struct gl_enum *e = l ? gl_find_enum(l, enum_name) : NULL;
	for (size_t i = 0; e && e->found && i < e->n; i++)
		if (strcmp(e->items[i].name, item) == 0)
			return e->items[i].value;
	return -1;
}

static int64_t name_index(const struct gl_names *names, const char *item)
{
	for (size_t i = 0; names && i < names->n; i++)
		if (names->v[i] && strcmp(names->v[i], item) == 0)
			return (int64_t)i;
	return -1;
}

/* Struct offsets from the first library whose DWARF describes struct ggml_tensor. */
static int fill_layout(struct plan *plan)
{
	const struct gl_layout *candidates[] = { plan->cpu, plan->base, plan->llama };
	const struct gl_layout *from = NULL;
	const struct gl_struct *tensor = NULL;
	for (size_t i = 0; i < 3 && !tensor; i++)
		if ((tensor = found_struct(candidates[i], "ggml_tensor")))
			from = candidates[i];
	if (!tensor)
		return ERR(plan, "no DWARF description of struct ggml_tensor in %s or its ggml libraries; "
				 "build llama.cpp with -DCMAKE_BUILD_TYPE=RelWithDebInfo (or Debug) to profile it",
			   plan->cpu->path);
	struct tensor_layout *t = &plan->layout;
	t->type = field_offset(tensor, "type");
	t->ne = field_offset(tensor, "ne");
	t->nb = field_offset(tensor, "nb");
	t->op = field_offset(tensor, "op");
	t->op_params = field_offset(tensor, "op_params");
	t->flags = field_offset(tensor, "flags");
	t->src = field_offset(tensor, "src");
	t->data = field_offset(tensor, "data");
	t->name = field_offset(tensor, "name");
	t->n_dims = field_count(tensor, "ne");
	t->n_src = field_count(tensor, "src");
	t->name_len = field_count(tensor, "name");
	const struct gl_struct *graph = found_struct(from, "ggml_cgraph");
	t->graph_n_nodes = field_offset(graph, "n_nodes");
	t->graph_nodes = field_offset(graph, "nodes");
	t->params_ith = field_offset(found_struct(plan->cpu, "ggml_compute_params"), "ith");
	t->batch_n_tokens = field_offset(found_struct(plan->llama, "llama_batch"), "n_tokens");
	t->source = from->path;
	int64_t required[] = { t->type, t->ne, t->nb, t->op, t->flags, t->src, t->name, t->n_dims, t->n_src,
			       t->name_len, t->graph_n_nodes, t->graph_nodes };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (required[i] < 0)
			return ERR(plan, "the DWARF of %s lacks a field of ggml_tensor or ggml_cgraph that ggml-lens reads; "
					 "this ggml version is not supported",
				   from->path);
	t->op_mul_mat_id = enum_value(from, "ggml_op", "GGML_OP_MUL_MAT_ID");
	if (t->op_mul_mat_id < 0)
		t->op_mul_mat_id = name_index(plan->op_names, "MUL_MAT_ID");
	return 0;
}

static int add_site(struct plan *plan, enum site_kind kind, const char *func, uint64_t vaddr, int treg, int preg)
{
	if (plan->n_sites >= PLAN_MAX_SITES)
		return ERR(plan, "more than %d op probe sites in %s", PLAN_MAX_SITES, plan->cpu->path);
	struct op_site *s = &plan->sites[plan->n_sites];
	if (gl_file_offset(plan->cpu, vaddr, &s->file_offset) != 0)
		return ERR(plan, "address 0x%llx of %s is not backed by %s", (unsigned long long)vaddr, func,
			   plan->cpu->path);
	s->kind = kind;
	s->func = func;
	s->vaddr = vaddr;
	s->tensor_reg = treg;
	s->params_reg = preg;
	plan->n_sites++;
	return 0;
}

static const struct gl_param *instance_param(const struct gl_instance *in, const char *name)
{
	for (size_t i = 0; i < in->n_params; i++)
		if (in->params[i].name && strcmp(in->params[i].name, name) == 0)
			return &in->params[i];
	return NULL;
}

static int is_op_dispatch(const struct gl_instance *in)
{
	return in->inlined && strcmp(in->func, "ggml_compute_forward") == 0 && in->caller &&
	       strstr(in->caller, "ggml_graph_compute_thread");
}

/* The inlined op switch's entry, where DWARF says the tensor pointer sits in a register. */
static int add_inline_sites(struct plan *plan)
{
	const struct gl_instances *all = &plan->cpu->instances;
	size_t before = plan->n_sites;
	for (size_t i = 0; i < all->n; i++) {
		const struct gl_instance *in = &all->v[i];
		if (!is_op_dispatch(in))
			continue;
		const struct gl_param *tensor = instance_param(in, "tensor");
		const struct gl_param *params = instance_param(in, "params");
		if (!tensor || tensor->at_entry.kind != GL_LOC_REG) {
			plan->n_sites = before; /* not usable: use the symbols method instead */
			return 0;
		}
		int preg = params && params->at_entry.kind == GL_LOC_REG ? params->at_entry.reg : -2;
		if (add_site(plan, SITE_OP_INLINE, in->func, in->entry_pc, tensor->at_entry.reg, preg))
			return -1;
	}
	return (int)(plan->n_sites - before);
}

static int add_symbol_site(struct plan *plan, enum site_kind kind, const char *name)
{
	const struct gl_symbol *s = gl_find_symbol(plan->cpu, name);
	return s ? add_site(plan, kind, s->name, s->addr, -1, -1) : 0;
}

static int add_fused_sites(struct plan *plan)
{
	const struct gl_symbols *syms = &plan->cpu->symbols;
	for (size_t i = 0; i < syms->n; i++) {
		const char *name = syms->v[i].name;
		size_t len = strlen(name);
		if (strncmp(name, "ggml_compute_forward_", 21) == 0 && len > 6 && strcmp(name + len - 6, "_fused") == 0 &&
		    add_symbol_site(plan, SITE_OP_FUSED, name))
			return -1;
	}
	return 0;
}

static int plan_sites(struct plan *plan)
{
	int inline_sites = plan->cpu->has_dwarf ? add_inline_sites(plan) : 0;
	if (inline_sites < 0)
		return -1;
	if (inline_sites > 0) {
		plan->op_method = "dwarf-inline";
	} else {
		plan->op_method = "symbols";
		if (!gl_find_symbol(plan->cpu, "ggml_cpu_extra_compute_forward"))
			return ERR(plan, "%s has neither DWARF for the inlined op dispatch nor the symbol "
					 "ggml_cpu_extra_compute_forward; ops cannot be traced (use --mode sample)",
				   plan->cpu->path);
		if (add_symbol_site(plan, SITE_OP_ENTRY, "ggml_cpu_extra_compute_forward"))
			return -1;
	}
	return add_fused_sites(plan);
}

static int open_libraries(struct plan *plan, const char *const *paths, size_t n_paths)
{
	for (size_t i = 0; i < n_paths && plan->n_libs < PLAN_MAX_LIBS; i++) {
		struct gl_layout *l = gl_layout_analyze(paths[i]);
		if (!l)
			return ERR(plan, "out of memory analysing %s", paths[i]);
		if (!l->is_elf) {
			gl_layout_free(l);
			continue;
		}
		plan->libs[plan->n_libs++] = l;
	}
	return 0;
}

int plan_build(struct plan *plan, const char *const *paths, size_t n_paths)
{
	memset(plan, 0, sizeof(*plan));
	if (open_libraries(plan, paths, n_paths))
		return -1;
	plan->cpu = lib_with_symbol(plan, "ggml_graph_compute");
	plan->llama = lib_with_symbol(plan, "llama_decode");
	for (size_t i = 0; i < plan->n_libs && !plan->base; i++)
		if (plan->libs[i]->op_names.found)
			plan->base = plan->libs[i];
	if (!plan->cpu)
		return ERR(plan, "%s: no ggml CPU backend (symbol ggml_graph_compute) in the program or its libraries; "
				 "is it a ggml / llama.cpp program?",
			   n_paths ? paths[0] : "target");
	if (!plan->base)
		return ERR(plan, "the ggml op-name table (GGML_OP_NAME) was not found in the program's libraries");
	plan->op_names = &plan->base->op_names;
	plan->traits_from = plan->base;
	plan->cpu_path = plan->cpu->path;
	plan->decode = symbol_point(plan->llama, "llama_decode");
	plan->graph_compute = symbol_point(plan->cpu, "ggml_graph_compute");
	plan->barrier = symbol_point(plan->cpu, "ggml_barrier");
	if (!plan->barrier.found)
		return ERR(plan, "%s: symbol ggml_barrier not found; op spans cannot be closed", plan->cpu->path);
	if (fill_layout(plan))
		return -1;
	return plan_sites(plan);
}

void plan_free(struct plan *plan)
{
	for (size_t i = 0; i < plan->n_libs; i++)
		gl_layout_free(plan->libs[i]);
	plan->n_libs = 0;
}
