/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * Suggested probes for op spans, derived from the sites found:
 *  - op start: the entry of ggml_cpu_extra_compute_forward(params, tensor),
 *    which ggml_compute_forward calls first for every op that is not empty
 *    (so also for ops the CPU extra buffers run, e.g. repacked matmuls).
 *    Its arguments are in the SysV argument registers.  Without that
 *    function, the call or the (inlined) ggml_compute_forward entry.
 *  - op end: the calls to ggml_barrier made by the graph compute loop
 *    itself (not those inside kernels), from DW_TAG_call_site.
 *  - outside: op kernels the compute loop calls directly, bypassing the op
 *    switch (fused RMS_NORM+MUL): their call sites, args from DWARF.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

enum { DW_X86_RSI = 4, DW_X86_RDI = 5 }; /* DWARF numbering, x86-64 psABI */

static void reg_loc(struct gl_loc *l, int reg, const char *why)
{
	memset(l, 0, sizeof(*l));
	l->kind = GL_LOC_REG;
	l->reg = reg;
	snprintf(l->expr, sizeof(l->expr), "%s", why);
}

static const struct gl_instance *instance(const struct gl_layout *l, const char *func)
{
	for (size_t i = 0; i < l->instances.n; i++)
		if (!strcmp(l->instances.v[i].func, func))
			return &l->instances.v[i];
	return NULL;
}

static const struct gl_call *call_to(const struct gl_instance *in, const char *callee)
{
	for (size_t i = 0; in && i < in->n_calls; i++)
		if (in->calls[i].callee && !strcmp(in->calls[i].callee, callee))
			return &in->calls[i];
	return NULL;
}

static const struct gl_param *param(const struct gl_instance *in, size_t i)
{
	return in && i < in->n_params ? &in->params[i] : NULL;
}

/* The argument a call passes in register reg (DW_TAG_call_site_parameter). */
static int arg_in(const struct gl_call *call, int reg, struct gl_loc *out)
{
	for (size_t i = 0; i < call->n_args; i++)
		if (call->args[i].kind == GL_LOC_REG && call->args[i].reg == reg) {
			*out = call->args[i];
			return 1;
		}
	return 0;
}

static int start_at_extra_entry(struct gl_layout *l, struct gl_probe *p)
{
	const struct gl_symbol *s = gl_find_symbol(l, "ggml_cpu_extra_compute_forward");

	if (!s || l->machine != EM_X86_64)
		return 0;
	p->have = 1;
	p->addr = s->addr;
	snprintf(p->what, sizeof(p->what), "entry of ggml_cpu_extra_compute_forward");
	reg_loc(&p->params, DW_X86_RDI, "argument 1 (SysV ABI)");
	reg_loc(&p->tensor, DW_X86_RSI, "argument 2 (SysV ABI)");
	return 1;
}

static int start_at_extra_call(struct gl_layout *l, struct gl_probe *p)
{
	const struct gl_instance *in = instance(l, "ggml_compute_forward");
	const struct gl_call *call = call_to(in, "ggml_cpu_extra_compute_forward");

	if (!call || !call->call_pc || l->machine != EM_X86_64 ||
	    !arg_in(call, DW_X86_RDI, &p->params) || !arg_in(call, DW_X86_RSI, &p->tensor))
		return 0;
	p->have = 1;
	p->addr = call->call_pc;
	snprintf(p->what, sizeof(p->what), "call ggml_cpu_extra_compute_forward in %s",
		 in->caller ? in->caller : "?");
	return 1;
}

static int start_at_instance(struct gl_layout *l, struct gl_probe *p)
{
	const struct gl_instance *in = instance(l, "ggml_compute_forward");
	const struct gl_param *pp = param(in, 0), *pt = param(in, 1);

	if (!in || !pp || !pt)
		return 0;
	p->have = 1;
	p->addr = in->inlined ? in->low_pc : in->entry_pc;
	snprintf(p->what, sizeof(p->what), "%s ggml_compute_forward in %s",
		 in->inlined ? "lowest address of inlined" : "entry of",
		 in->caller ? in->caller : "?");
	p->params = in->inlined ? pp->at_low : pp->at_entry;
	p->tensor = in->inlined ? pt->at_low : pt->at_entry;
	return 1;
}

static struct gl_probe *push(struct gl_probe **v, size_t *n)
{
	*v = gl_xrealloc(*v, *n + 1, sizeof(**v));
	struct gl_probe *e = &(*v)[(*n)++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void add_end(struct gl_plan *p, uint64_t addr, const char *what, const char *where)
{
	struct gl_probe *e = push(&p->op_end, &p->n_op_end);

	e->have = 1;
	e->addr = addr;
	snprintf(e->what, sizeof(e->what), "%s%s", what, where ? where : "");
	e->params.reg = e->tensor.reg = -1;
}

static void ends(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;
	const struct gl_symbol *b;

	for (size_t i = 0; i < l->instances.n; i++) {
		const struct gl_instance *in = &l->instances.v[i];
		if (strcmp(in->func, "ggml_graph_compute_thread"))
			continue;
		for (size_t k = 0; k < in->n_calls; k++)
			if (in->calls[k].callee && !strcmp(in->calls[k].callee, "ggml_barrier") &&
			    in->calls[k].call_pc)
				add_end(&l->plan, in->calls[k].call_pc, "call ggml_barrier in ",
					in->caller);
	}
	if (l->plan.n_op_end || !(b = gl_find_symbol(l, "ggml_barrier")))
		return;
	add_end(&l->plan, b->addr, "entry of ggml_barrier (also entered inside some kernels)", NULL);
}

static int is_kernel(const char *name)
{
	return name && !strncmp(name, "ggml_compute_forward_", 21);
}

static void outside_calls(struct gl_layout *l, const struct gl_instance *in)
{
	for (size_t k = 0; k < in->n_calls; k++) {
		const struct gl_call *call = &in->calls[k];
		struct gl_loc params, tensor;
		if (!is_kernel(call->callee) || !call->call_pc || l->machine != EM_X86_64 ||
		    !arg_in(call, DW_X86_RDI, &params) || !arg_in(call, DW_X86_RSI, &tensor))
			continue;
		struct gl_probe *p = push(&l->plan.outside, &l->plan.n_outside);
		p->have = 1;
		p->params = params;
		p->tensor = tensor;
		p->addr = call->call_pc;
		snprintf(p->what, sizeof(p->what), "call %s in %s%s%s", call->callee,
			 in->caller ? in->caller : "?", call->inlined_in ? " via inlined " : "",
			 call->inlined_in ? call->inlined_in : "");
	}
}

/* Without DWARF: exported kernels named *_fused, entered with ABI args. */
static void outside_symbols(struct gl_layout *l)
{
	for (size_t i = 0; i < l->symbols.n && l->machine == EM_X86_64; i++) {
		const char *name = l->symbols.v[i].name;
		size_t n = strlen(name);
		if (!is_kernel(name) || n < 6 || strcmp(name + n - 6, "_fused"))
			continue;
		struct gl_probe *p = push(&l->plan.outside, &l->plan.n_outside);
		p->have = 1;
		p->addr = l->symbols.v[i].addr;
		snprintf(p->what, sizeof(p->what), "entry of %s", name);
		reg_loc(&p->params, DW_X86_RDI, "argument 1 (SysV ABI)");
		reg_loc(&p->tensor, DW_X86_RSI, "argument 2 (SysV ABI)");
	}
}

static void outside(struct gl_layout *l)
{
	int dwarf = 0;

	for (size_t i = 0; i < l->instances.n; i++)
		if (!strcmp(l->instances.v[i].func, "ggml_graph_compute_thread")) {
			outside_calls(l, &l->instances.v[i]);
			dwarf = 1;
		}
	if (!dwarf)
		outside_symbols(l);
}

/* GCC's DW_AT_entry_pc of an inlined body need not be on every path. */
static void warn_entry_pc(struct gl_layout *l)
{
	for (size_t i = 0; i < l->instances.n; i++) {
		const struct gl_instance *in = &l->instances.v[i];
		if (in->inlined && in->n_ranges > 1 && in->entry_pc != in->low_pc)
			gl_strlist_add(&l->warnings,
				       "inlined %s in %s: DW_AT_entry_pc 0x%llx is not its lowest "
				       "address 0x%llx and need not lie on every path into it; a probe "
				       "there can miss calls (use sites.plan)",
				       in->func, in->caller ? in->caller : "?",
				       (unsigned long long)in->entry_pc, (unsigned long long)in->low_pc);
	}
}

void gl_plan(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;
	struct gl_probe *s = &l->plan.op_start;

	s->params.reg = s->tensor.reg = -1;
	if (!start_at_extra_entry(l, s) && !start_at_extra_call(l, s))
		start_at_instance(l, s);
	if (instance(l, "ggml_compute_forward") && gl_find_symbol(l, "ggml_cpu_extra_compute_forward") &&
	    !call_to(instance(l, "ggml_compute_forward"), "ggml_cpu_extra_compute_forward"))
		gl_strlist_add(&l->warnings, "DWARF shows no call from ggml_compute_forward to "
					     "ggml_cpu_extra_compute_forward: op start probe unverified");
	ends(c);
	outside(l);
	warn_entry_pc(l);
}

void gl_plan_free(struct gl_plan *p)
{
	free(p->op_end);
	free(p->outside);
	memset(p, 0, sizeof(*p));
}
