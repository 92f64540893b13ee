/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * Struct layouts, enums and global variables from DWARF.  Only names are
 * written here; every offset, size, count and value is read from the file.
 */
#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Field names: a leading '?' marks a member a ggml version may lack;
 * "a.b" reaches into a nested struct. */
struct spec {
	const char *name;
	const char *const *fields;
};

#define FIELDS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct spec STRUCTS[] = {
	{"ggml_tensor", FIELDS("type", "buffer", "ne", "nb", "op", "op_params", "flags", "src",
			       "view_src", "view_offs", "data", "name", "?extra")},
	{"ggml_cgraph", FIELDS("size", "n_nodes", "n_leafs", "nodes", "leafs", "?grads",
			       "?grad_accs", "?use_counts", "?order", "?uid")},
	{"ggml_compute_params", FIELDS("ith", "nth", "?wsize", "?wdata", "?threadpool", "?use_ref")},
	{"ggml_type_traits", FIELDS("type_name", "blck_size", "type_size", "is_quantized",
				    "?blck_size_interleave", "?to_float", "?from_float_ref")},
	{"ggml_type_traits_cpu", FIELDS("vec_dot_type", "?from_float", "?vec_dot", "?nrows")},
	{"ggml_cplan", FIELDS("?work_size", "?work_data", "?n_threads", "?threadpool",
			      "?abort_callback", "?abort_callback_data", "?use_ref")},
	{"ggml_compute_state", FIELDS("?ith", "?threadpool", "?last_graph", "?pending")},
	{"ggml_threadpool", FIELDS("?cgraph", "?cplan", "?n_graph", "?n_barrier",
				   "?n_barrier_passed", "?current_chunk", "?abort", "?workers",
				   "?n_threads", "?ec")},
	{"llama_batch", FIELDS("n_tokens", "?token", "?embd", "?pos", "?n_seq_id", "?seq_id",
			       "?logits")},
	{"ggml_backend", FIELDS("?guid", "?iface", "?device", "?context", "?iface.get_name",
				"?iface.graph_compute")},
	{"ggml_backend_buffer", FIELDS("?iface", "?buft", "?context", "?size", "?usage")},
	{"ggml_backend_sched", FIELDS("?n_backends", "?backends", "?graph", "?graph.n_nodes",
				      "?graph.nodes", "?splits", "?n_splits", "?n_copies",
				      "?cur_copy", "?node_backend_ids", "?callback_eval")},
	{"ggml_backend_sched_split", FIELDS("?backend_id", "?i_start", "?i_end", "?inputs",
					    "?n_inputs", "?graph")},
};

static const char *const ENUMS[] = {
	"ggml_op", "ggml_type", "ggml_unary_op", "ggml_glu_op", "ggml_tensor_flag",
	"ggml_status", "ggml_backend_buffer_usage",
};

static const char *const VARS[] = {
	"GGML_OP_NAME", "GGML_OP_SYMBOL", "GGML_UNARY_OP_NAME", "GGML_GLU_OP_NAME", "type_traits",
	"type_traits_cpu",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
enum { N_STRUCTS = N_OF(STRUCTS), N_ENUMS = N_OF(ENUMS), N_VARS = N_OF(VARS) };

/* What the scan of the CUs' top level found (per context). */
struct index {
	Dwarf_Die structs[N_STRUCTS], enums[N_ENUMS], vars[N_VARS];
	unsigned char s_ok[N_STRUCTS], e_ok[N_ENUMS], v_ok[N_VARS];
	size_t missing;
	size_t n_units, cap_units; /* units defining a probe-site function */
	Dwarf_Off *units;
};

static struct index *idx_of(struct gl_ctx *c);

static int is_struct_tag(int tag)
{
	return tag == DW_TAG_structure_type || tag == DW_TAG_class_type || tag == DW_TAG_union_type;
}

static int has_children_def(Dwarf_Die *d)
{
	return !dwarf_hasattr(d, DW_AT_declaration) && dwarf_haschildren(d) > 0;
}

static void take(Dwarf_Die *slot, unsigned char *ok, Dwarf_Die *d, size_t *missing)
{
	if (*ok)
		return;
	*slot = *d;
	*ok = 1;
	(*missing)--;
}

/* Name of a top-level DIE; only variable definitions split from their
 * declaration need the (costly) DW_AT_specification lookup. */
static const char *top_name(Dwarf_Die *d, int tag)
{
	Dwarf_Attribute a;
	const char *name = dwarf_diename(d);

	if (!name && tag == DW_TAG_variable)
		name = dwarf_formstring(dwarf_attr_integrate(d, DW_AT_name, &a));
	return name;
}

static void match_die(struct index *x, Dwarf_Die *d)
{
	int tag = dwarf_tag(d);
	const char *name;

	if (!is_struct_tag(tag) && tag != DW_TAG_enumeration_type && tag != DW_TAG_variable)
		return;
	if (!(name = top_name(d, tag)))
		return;
	if (is_struct_tag(tag) && has_children_def(d)) {
		for (size_t i = 0; i < N_STRUCTS; i++)
			if (!strcmp(name, STRUCTS[i].name))
				take(&x->structs[i], &x->s_ok[i], d, &x->missing);
	} else if (tag == DW_TAG_enumeration_type && has_children_def(d)) {
		for (size_t i = 0; i < N_ENUMS; i++)
			if (!strcmp(name, ENUMS[i]))
				take(&x->enums[i], &x->e_ok[i], d, &x->missing);
	} else if (tag == DW_TAG_variable && dwarf_hasattr(d, DW_AT_location)) {
		for (size_t i = 0; i < N_VARS; i++)
			if (!strcmp(name, VARS[i]))
				take(&x->vars[i], &x->v_ok[i], d, &x->missing);
	}
}

/* A unit where a probe-site function is defined: the abstract or only DIE
 * of a C function carries DW_AT_name itself. */
static int defines_site(Dwarf_Die *d)
{
	return dwarf_tag(d) == DW_TAG_subprogram && gl_is_site_function(dwarf_diename(d)) &&
	       !dwarf_hasattr(d, DW_AT_declaration);
}

/* One pass over the top level of every unit. */
static void scan(struct gl_ctx *c, struct index *x)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, child;
	uint8_t unit_type;
	Dwarf_Half version;

	x->missing = N_STRUCTS + N_ENUMS + N_VARS;
	while (dwarf_get_units(c->dw, cu, &cu, &version, &unit_type, &cudie, NULL) == 0) {
		int site = 0;
		if (dwarf_child(&cudie, &child) != 0)
			continue;
		do {
			match_die(x, &child);
			site = site || defines_site(&child);
			gl_source_definition(c, &cudie, &child);
		} while (dwarf_siblingof(&child, &child) == 0);
		if (!site)
			continue;
		GL_GROW(x->units, x->n_units, x->cap_units);
		x->units[x->n_units++] = dwarf_dieoffset(&cudie);
	}
}

size_t gl_dwarf_site_units(struct gl_ctx *c, const Dwarf_Off **units)
{
	struct index *x = idx_of(c);

	*units = x->units;
	return x->n_units;
}

void gl_dwarf_index_free(struct gl_ctx *c)
{
	struct index *x = c->dwarf_index;

	if (x)
		free(x->units);
	free(x);
	c->dwarf_index = NULL;
}

static struct index *idx_of(struct gl_ctx *c)
{
	if (!c->dwarf_index) {
		c->dwarf_index = gl_xcalloc(1, sizeof(struct index));
		if (c->dw)
			scan(c, c->dwarf_index);
	}
	return c->dwarf_index;
}

int gl_member_offset(Dwarf_Die *member, uint64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Op *ops;
	size_t n;

	if (!dwarf_attr(member, DW_AT_data_member_location, &a)) {
		*off = 0; /* union members and the first C++ base */
		return 0;
	}
	if (dwarf_formudata(&a, &w) == 0) {
		*off = w;
		return 0;
	}
	if (dwarf_getlocation(&a, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_plus_uconst) {
		*off = ops[0].number;
		return 0;
	}
	return -1;
}

static int peel(Dwarf_Die *d, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	Dwarf_Die t;

	if (!dwarf_formref_die(dwarf_attr_integrate(d, DW_AT_type, &a), &t))
		return -1;
	return dwarf_peel_type(&t, out);
}

/* Member by (dotted) name, looking through anonymous structs/unions. */
int gl_find_member(Dwarf_Die *st, const char *name, Dwarf_Die *member, uint64_t *off)
{
	const char *dot = strchr(name, '.');
	size_t len = dot ? (size_t)(dot - name) : strlen(name);
	Dwarf_Die m, t;
	uint64_t mo;

	if (dwarf_child(st, &m) != 0)
		return -1;
	do {
		int tag = dwarf_tag(&m);
		if ((tag != DW_TAG_member && tag != DW_TAG_inheritance) || gl_member_offset(&m, &mo))
			continue;
		const char *mn = dwarf_diename(&m);
		if (!mn || tag == DW_TAG_inheritance) { /* anonymous: look inside */
			if (peel(&m, &t) == 0 && gl_find_member(&t, name, member, off) == 0) {
				*off += mo;
				return 0;
			}
			continue;
		}
		if (strlen(mn) != len || strncmp(mn, name, len))
			continue;
		if (!dot) {
			*member = m;
			*off = mo;
			return 0;
		}
		if (peel(&m, &t) == 0 && gl_find_member(&t, dot + 1, member, off) == 0) {
			*off += mo;
			return 0;
		}
		return -1;
	} while (dwarf_siblingof(&m, &m) == 0);
	return -1;
}

/* Elements of an array type (product over its dimensions). */
static uint64_t array_count(Dwarf_Die *arr)
{
	Dwarf_Die sub;
	Dwarf_Attribute a;
	Dwarf_Word v;
	uint64_t count = 1;

	if (dwarf_child(arr, &sub) != 0)
		return 0;
	do {
		if (dwarf_tag(&sub) != DW_TAG_subrange_type)
			continue;
		if (dwarf_formudata(dwarf_attr(&sub, DW_AT_count, &a), &v) == 0)
			count *= v;
		else if (dwarf_formudata(dwarf_attr(&sub, DW_AT_upper_bound, &a), &v) == 0)
			count *= v + 1;
		else
			return 0; /* flexible array */
	} while (dwarf_siblingof(&sub, &sub) == 0);
	return count;
}

static void fill_field(Dwarf_Die *st, struct gl_field *f)
{
	Dwarf_Die m, t, et;
	Dwarf_Word sz;

	if (gl_find_member(st, f->name, &m, &f->offset) != 0 || peel(&m, &t) != 0)
		return;
	f->found = 1;
	if (dwarf_aggregate_size(&t, &sz) == 0)
		f->size = sz;
	if (dwarf_tag(&t) != DW_TAG_array_type)
		return;
	f->count = array_count(&t);
	if (peel(&t, &et) == 0 && dwarf_aggregate_size(&et, &sz) == 0)
		f->elem_size = sz;
}

static void fill_struct(struct gl_ctx *c, struct index *x, size_t i, struct gl_struct *s)
{
	const struct spec *sp = &STRUCTS[i];
	Dwarf_Word sz;

	s->name = sp->name;
	while (sp->fields[s->n_fields])
		s->n_fields++;
	s->fields = gl_xcalloc(s->n_fields, sizeof(*s->fields));
	for (size_t k = 0; k < s->n_fields; k++)
		s->fields[k].name = sp->fields[k] + (sp->fields[k][0] == '?');
	if (!x->s_ok[i])
		return;
	s->found = 1;
	if (dwarf_aggregate_size(&x->structs[i], &sz) == 0)
		s->size = sz;
	for (size_t k = 0; k < s->n_fields; k++) {
		fill_field(&x->structs[i], &s->fields[k]);
		if (!s->fields[k].found && sp->fields[k][0] != '?')
			gl_strlist_add(&c->l->errors, "DWARF struct %s has no member '%s'", sp->name,
				       s->fields[k].name);
	}
}

static void fill_enum(struct index *x, size_t i, struct gl_enum *e)
{
	Dwarf_Die d;
	Dwarf_Attribute a;
	Dwarf_Sword v;
	size_t cap = 0;

	e->name = ENUMS[i];
	if (!x->e_ok[i] || dwarf_child(&x->enums[i], &d) != 0)
		return;
	e->found = 1;
	do {
		if (dwarf_tag(&d) != DW_TAG_enumerator ||
		    dwarf_formsdata(dwarf_attr(&d, DW_AT_const_value, &a), &v) != 0)
			continue;
		GL_GROW(e->items, e->n, cap);
		e->items[e->n].name = gl_xstrdup(dwarf_diename(&d));
		e->items[e->n++].value = v;
	} while (dwarf_siblingof(&d, &d) == 0);
}

int gl_dwarf_struct_die(struct gl_ctx *c, const char *name, Dwarf_Die *out)
{
	struct index *x = idx_of(c);

	for (size_t i = 0; i < N_STRUCTS; i++)
		if (x->s_ok[i] && !strcmp(STRUCTS[i].name, name)) {
			*out = x->structs[i];
			return 0;
		}
	return -1;
}

/* A global array: its address (DW_OP_addr), elements and element type. */
int gl_dwarf_var_addr(struct gl_ctx *c, const char *name, uint64_t *addr, uint64_t *count,
		      Dwarf_Die *elem_type)
{
	struct index *x = idx_of(c);
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	Dwarf_Die t;
	size_t n;

	for (size_t i = 0; i < N_VARS; i++) {
		if (!x->v_ok[i] || strcmp(VARS[i], name))
			continue;
		if (dwarf_getlocation(dwarf_attr(&x->vars[i], DW_AT_location, &a), &ops, &n) != 0 ||
		    n != 1 || ops[0].atom != DW_OP_addr)
			return -1;
		*addr = ops[0].number;
		if (peel(&x->vars[i], &t) != 0 || dwarf_tag(&t) != DW_TAG_array_type)
			return -1;
		*count = array_count(&t);
		return peel(&t, elem_type);
	}
	return -1;
}

void gl_dwarf_types(struct gl_ctx *c)
{
	struct index *x = idx_of(c);
	struct gl_layout *l = c->l;

	l->n_structs = N_STRUCTS;
	l->structs = gl_xcalloc(N_STRUCTS, sizeof(*l->structs));
	for (size_t i = 0; i < N_STRUCTS; i++)
		fill_struct(c, x, i, &l->structs[i]);
	l->n_enums = N_ENUMS;
	l->enums = gl_xcalloc(N_ENUMS, sizeof(*l->enums));
	for (size_t i = 0; i < N_ENUMS; i++)
		fill_enum(x, i, &l->enums[i]);
}
