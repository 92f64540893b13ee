/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * Probe sites from DWARF: every instance (inlined or out of line) of the
 * functions in TARGETS, with its address ranges, where its parameters are
 * at its entry, and the calls made from it (DW_TAG_call_site), e.g. to the
 * op kernels, to ggml_cpu_extra_compute_forward and to ggml_barrier.
 */
#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const TARGETS[] = {
	"ggml_graph_compute_thread",
	"ggml_compute_forward",
	"ggml_compute_forward_mul_mat_id",
};
enum { N_TARGETS = sizeof(TARGETS) / sizeof(TARGETS[0]), MAX_DEPTH = 64 };

struct walk {
	struct gl_ctx *c;
	Dwarf_Die subprog; /* innermost concrete function */
	int have_subprog;
	long inst;         /* innermost target instance (index), -1 none */
	const char *inl[MAX_DEPTH]; /* inlined function names, outermost first */
	int n_inl, inst_inl;        /* n_inl at the instance */
};

static const char *die_name(Dwarf_Die *d)
{
	Dwarf_Attribute a;
	return dwarf_formstring(dwarf_attr_integrate(d, DW_AT_name, &a));
}

static const char *callee_name(Dwarf_Die *d)
{
	Dwarf_Attribute a;
	const char *n = dwarf_formstring(dwarf_attr_integrate(d, DW_AT_linkage_name, &a));
	return n ? n : die_name(d);
}

static int is_target(const char *name)
{
	for (size_t i = 0; name && i < N_TARGETS; i++)
		if (!strcmp(name, TARGETS[i]))
			return 1;
	return 0;
}

static void read_ranges(Dwarf_Die *d, struct gl_instance *in)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	size_t cap = 0;

	while ((off = dwarf_ranges(d, off, &base, &lo, &hi)) > 0) {
		GL_GROW(in->ranges, in->n_ranges, cap);
		in->ranges[in->n_ranges++] = (struct gl_range){lo, hi};
		if (!in->low_pc || lo < in->low_pc)
			in->low_pc = lo;
		if (hi > in->high_pc)
			in->high_pc = hi;
	}
}

static void read_call_origin(Dwarf_Die *d, struct gl_instance *in)
{
	Dwarf_Attribute a;
	Dwarf_Word line, file;
	Dwarf_Die cu;
	Dwarf_Files *files;
	size_t nfiles;

	if (dwarf_formudata(dwarf_attr(d, DW_AT_call_line, &a), &line) == 0)
		in->call_line = (int)line;
	if (dwarf_formudata(dwarf_attr(d, DW_AT_call_file, &a), &file) != 0 ||
	    !dwarf_diecu(d, &cu, NULL, NULL) || dwarf_getsrcfiles(&cu, &files, &nfiles) != 0 ||
	    file >= nfiles)
		return;
	in->call_file = gl_xstrdup(dwarf_filesrc(files, file, NULL, NULL));
}

static void set_caller(struct walk *w, struct gl_instance *in)
{
	Dwarf_Addr pc = 0;
	const struct gl_symbol *sym;

	if (!w->have_subprog)
		return;
	if (dwarf_entrypc(&w->subprog, &pc) != 0)
		dwarf_lowpc(&w->subprog, &pc);
	in->caller_addr = pc;
	sym = gl_sym_by_addr(&w->c->all, pc);
	in->caller = gl_xstrdup(sym ? sym->name : die_name(&w->subprog));
}

static long new_instance(struct walk *w, Dwarf_Die *d, const char *name, int inlined)
{
	struct gl_instances *v = &w->c->l->instances;
	Dwarf_Addr pc;

	GL_GROW(v->v, v->n, v->cap);
	struct gl_instance *in = &v->v[v->n];
	memset(in, 0, sizeof(*in));
	in->func = gl_xstrdup(name);
	in->inlined = inlined;
	read_ranges(d, in);
	in->entry_pc = dwarf_entrypc(d, &pc) == 0 ? pc : in->low_pc;
	if (inlined)
		read_call_origin(d, in);
	set_caller(w, in);
	return (long)v->n++;
}

static void add_param(struct walk *w, Dwarf_Die *d)
{
	struct gl_instance *in = &w->c->l->instances.v[w->inst];
	Dwarf_Die *scope = w->have_subprog ? &w->subprog : NULL;

	in->params = gl_xrealloc(in->params, in->n_params + 1, sizeof(*in->params));
	struct gl_param *p = &in->params[in->n_params++];
	memset(p, 0, sizeof(*p));
	p->name = gl_xstrdup(die_name(d));
	gl_loc_at(w->c, scope, d, in->entry_pc, &p->at_entry);
	gl_loc_at(w->c, scope, d, in->low_pc, &p->at_low);
	p->n_list = gl_loc_list(w->c, scope, d, &p->list);
}

static void read_call_args(struct walk *w, Dwarf_Die *site, struct gl_call *call)
{
	Dwarf_Die p;
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;

	if (dwarf_child(site, &p) != 0)
		return;
	do {
		int tag = dwarf_tag(&p);
		if (tag != DW_TAG_call_site_parameter && tag != DW_TAG_GNU_call_site_parameter)
			continue;
		if (dwarf_getlocation(dwarf_attr(&p, DW_AT_location, &a), &ops, &n) != 0)
			continue;
		call->args = gl_xrealloc(call->args, call->n_args + 1, sizeof(*call->args));
		gl_loc_from_expr(w->c, NULL, 0, ops, n, &call->args[call->n_args++]);
	} while (dwarf_siblingof(&p, &p) == 0);
}

/* Directly in the op switch (ggml_compute_forward), not in a function inlined into it. */
static int in_op_switch(const struct walk *w)
{
	return w->inst >= 0 && w->n_inl == w->inst_inl &&
	       !strcmp(w->c->l->instances.v[w->inst].func, "ggml_compute_forward");
}

static void add_call(struct walk *w, Dwarf_Die *d)
{
	struct gl_instance *in = &w->c->l->instances.v[w->inst];
	Dwarf_Attribute a;
	Dwarf_Addr ret = 0, cpc = 0;
	Dwarf_Die origin;
	bool tail = false;

	if (dwarf_formaddr(dwarf_attr(d, DW_AT_call_return_pc, &a), &ret) != 0 &&
	    dwarf_formaddr(dwarf_attr(d, DW_AT_low_pc, &a), &ret) != 0)
		return;
	in->calls = gl_xrealloc(in->calls, in->n_calls + 1, sizeof(*in->calls));
	struct gl_call *call = &in->calls[in->n_calls++];
	memset(call, 0, sizeof(*call));
	if (dwarf_formref_die(dwarf_attr(d, DW_AT_call_origin, &a), &origin) ||
	    dwarf_formref_die(dwarf_attr(d, DW_AT_abstract_origin, &a), &origin))
		call->callee = gl_xstrdup(callee_name(&origin));
	if (w->n_inl > w->inst_inl)
		call->inlined_in = gl_xstrdup(w->inl[w->n_inl - 1]);
	dwarf_formflag(dwarf_attr(d, DW_AT_call_tail_call, &a), &tail);
	call->tail = tail;
	call->return_pc = ret;
	if (dwarf_formaddr(dwarf_attr(d, DW_AT_call_pc, &a), &cpc) == 0)
		call->call_pc = cpc;
	else if (!tail)
		call->call_pc = gl_call_pc(w->c, ret);
	read_call_args(w, d, call);
	if (in_op_switch(w))
		gl_source_call(w->c, d, call->callee, call->call_pc);
}

/* Parameters are direct children of the instance DIE. */
static void read_params(struct walk *w, long idx, Dwarf_Die *d)
{
	Dwarf_Die ch;

	w->inst = idx;
	if (dwarf_child(d, &ch) != 0)
		return;
	do
		if (dwarf_tag(&ch) == DW_TAG_formal_parameter)
			add_param(w, &ch);
	while (dwarf_siblingof(&ch, &ch) == 0);
}

static void visit(struct walk *w, Dwarf_Die *d);

static void visit_children(struct walk *w, Dwarf_Die *d)
{
	Dwarf_Die ch;

	if (dwarf_child(d, &ch) != 0)
		return;
	do
		visit(w, &ch);
	while (dwarf_siblingof(&ch, &ch) == 0);
}

static int has_code(Dwarf_Die *d)
{
	return dwarf_hasattr(d, DW_AT_low_pc) || dwarf_hasattr(d, DW_AT_ranges);
}

/* A function body (concrete or inlined): maybe a new instance, then its
 * children, with the walk context saved and restored around it. */
static void visit_scope(struct walk *w, Dwarf_Die *d, int inlined)
{
	struct walk saved = *w;
	const char *name = die_name(d);

	if (inlined && in_op_switch(w)) {
		struct gl_instance call = {0};
		read_call_origin(d, &call);
		gl_source_inlined_call(w->c, d, name, call.call_file, call.call_line);
		free(call.call_file);
	}
	if (!inlined) {
		w->subprog = *d;
		w->have_subprog = 1;
		w->n_inl = 0;
		w->inst = -1;
	} else if (w->n_inl < MAX_DEPTH) {
		w->inl[w->n_inl++] = name ? name : "?";
	}
	if (is_target(name)) {
		read_params(w, new_instance(w, d, name, inlined), d);
		w->inst_inl = w->n_inl;
	}
	visit_children(w, d);
	saved.c = w->c;
	*w = saved;
}

static void visit(struct walk *w, Dwarf_Die *d)
{
	int tag = dwarf_tag(d);

	switch (tag) {
	case DW_TAG_subprogram:
		if (has_code(d))
			visit_scope(w, d, 0);
		break;
	case DW_TAG_inlined_subroutine:
		visit_scope(w, d, 1);
		break;
	case DW_TAG_lexical_block:
		visit_children(w, d);
		break;
	case DW_TAG_call_site:
	case DW_TAG_GNU_call_site:
		if (w->inst >= 0)
			add_call(w, d);
		break;
	}
}

int gl_is_site_function(const char *name)
{
	return is_target(name);
}

void gl_dwarf_sites(struct gl_ctx *c)
{
	const Dwarf_Off *units;
	size_t n = c->dw ? gl_dwarf_site_units(c, &units) : 0;
	Dwarf_Die cudie;

	for (size_t i = 0; i < n; i++) {
		struct walk w = {.c = c, .inst = -1};
		if (dwarf_offdie(c->dw, units[i], &cudie))
			visit_children(&w, &cudie);
	}
}

static void free_instance(struct gl_instance *in)
{
	free(in->func);
	free(in->caller);
	free(in->call_file);
	free(in->ranges);
	for (size_t i = 0; i < in->n_params; i++) {
		free(in->params[i].name);
		free(in->params[i].list);
	}
	free(in->params);
	for (size_t i = 0; i < in->n_calls; i++) {
		free(in->calls[i].callee);
		free(in->calls[i].inlined_in);
		free(in->calls[i].args);
	}
	free(in->calls);
}

void gl_instances_free(struct gl_instances *v)
{
	for (size_t i = 0; i < v->n; i++)
		free_instance(&v->v[i]);
	free(v->v);
	memset(v, 0, sizeof(*v));
}
