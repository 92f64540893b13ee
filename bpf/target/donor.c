/* SPDX-License-Identifier: MIT */
/*
 * A layout donor: a file without DWARF (a stock prebuilt library) borrows
 * the struct layouts and enums of a build of the same ggml with DWARF.
 * Accepted only on evidence read from both files, and rejected on any
 * disagreement:
 *  - the target's op-name table equals the donor's enum ggml_op;
 *  - the target's type_traits symbol is exactly GGML_TYPE_COUNT *
 *    sizeof(struct ggml_type_traits) of the donor;
 *  - the target exports the same ggml_compute_forward_* kernels.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct verdict {
	int evidence, against;
};

static int64_t enum_item(const struct gl_layout *l, const char *e, const char *item)
{
	const struct gl_enum *en = gl_find_enum(l, e);

	for (size_t i = 0; en && i < en->n; i++)
		if (!strcmp(en->items[i].name, item))
			return en->items[i].value;
	return -1;
}

static void check_ops(struct gl_ctx *c, const struct gl_layout *d, struct verdict *v)
{
	const struct gl_names *ops = &c->l->op_names;
	const struct gl_enum *e = gl_find_enum(d, "ggml_op");
	char want[128];

	if (!ops->found || !e || !e->found)
		return;
	for (size_t i = 0; i < ops->n; i++) {
		snprintf(want, sizeof(want), "GGML_OP_%s", ops->v[i] ? ops->v[i] : "");
		if (enum_item(d, "ggml_op", want) != (int64_t)i) {
			gl_strlist_add(&c->l->errors, "layout donor %s rejected: op %zu is \"%s\" here "
				       "but not in its enum ggml_op", d->path, i, ops->v[i] ? ops->v[i] : "");
			v->against++;
			return;
		}
	}
	if (enum_item(d, "ggml_op", "GGML_OP_COUNT") != (int64_t)ops->n) {
		gl_strlist_add(&c->l->errors, "layout donor %s rejected: GGML_OP_COUNT differs",
			       d->path);
		v->against++;
		return;
	}
	gl_strlist_add(&c->l->warnings, "layout donor: op-name table (%zu ops) matches", ops->n);
	v->evidence++;
}

static void check_traits_size(struct gl_ctx *c, const struct gl_layout *d, struct verdict *v)
{
	const struct gl_symbol *s = gl_sym_by_name(&c->all, "type_traits");
	const struct gl_struct *st = gl_find_struct(d, "ggml_type_traits");
	int64_t count = enum_item(d, "ggml_type", "GGML_TYPE_COUNT");

	if (!s || !st || !st->found || count <= 0)
		return;
	if (s->size != (uint64_t)count * st->size) {
		gl_strlist_add(&c->l->errors, "layout donor %s rejected: type_traits is %llu bytes "
			       "here, %lld x %llu there", d->path, (unsigned long long)s->size,
			       (long long)count, (unsigned long long)st->size);
		v->against++;
		return;
	}
	gl_strlist_add(&c->l->warnings, "layout donor: type_traits size (%lld types) matches",
		       (long long)count);
	v->evidence++;
}

static size_t count_kernels(const struct gl_symbols *s, const struct gl_symbols *other,
			    const char **missing)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const char *name = s->v[i].name;
		if (strncmp(name, "ggml_compute_forward_", 21) || !s->v[i].dynamic)
			continue;
		n++;
		int found = 0;
		for (size_t k = 0; k < other->n && !found; k++)
			found = other->v[k].dynamic && !strcmp(other->v[k].name, name);
		if (!found && !*missing)
			*missing = name;
	}
	return n;
}

static void check_kernels(struct gl_ctx *c, const struct gl_layout *d, struct verdict *v)
{
	const char *miss_here = NULL, *miss_there = NULL;
	size_t here = count_kernels(&c->l->symbols, &d->symbols, &miss_there);
	size_t there = count_kernels(&d->symbols, &c->l->symbols, &miss_here);

	if (!here && !there)
		return;
	if (here != there || miss_here || miss_there) {
		gl_strlist_add(&c->l->errors, "layout donor %s rejected: exported kernels differ "
			       "(%zu here, %zu there; e.g. %s)", d->path, here, there,
			       miss_here ? miss_here : miss_there ? miss_there : "?");
		v->against++;
		return;
	}
	gl_strlist_add(&c->l->warnings, "layout donor: the %zu exported kernels match", here);
	v->evidence++;
}

static void copy_structs(struct gl_layout *l, const struct gl_layout *d)
{
	for (size_t i = 0; i < l->n_structs; i++)
		free(l->structs[i].fields);
	free(l->structs);
	l->n_structs = d->n_structs;
	l->structs = gl_xcalloc(d->n_structs, sizeof(*l->structs));
	for (size_t i = 0; i < d->n_structs; i++) {
		l->structs[i] = d->structs[i];
		l->structs[i].fields = gl_xcalloc(d->structs[i].n_fields, sizeof(struct gl_field));
		memcpy(l->structs[i].fields, d->structs[i].fields,
		       d->structs[i].n_fields * sizeof(struct gl_field));
	}
}

static void copy_enums(struct gl_layout *l, const struct gl_layout *d)
{
	for (size_t i = 0; i < l->n_enums; i++) {
		for (size_t k = 0; k < l->enums[i].n; k++)
			free(l->enums[i].items[k].name);
		free(l->enums[i].items);
	}
	free(l->enums);
	l->n_enums = d->n_enums;
	l->enums = gl_xcalloc(d->n_enums, sizeof(*l->enums));
	for (size_t i = 0; i < d->n_enums; i++) {
		l->enums[i] = d->enums[i];
		l->enums[i].items = gl_xcalloc(d->enums[i].n, sizeof(struct gl_enumerator));
		for (size_t k = 0; k < d->enums[i].n; k++) {
			l->enums[i].items[k].name = gl_xstrdup(d->enums[i].items[k].name);
			l->enums[i].items[k].value = d->enums[i].items[k].value;
		}
	}
}

void gl_donor(struct gl_ctx *c, const struct gl_layout *d)
{
	struct gl_layout *l = c->l;
	struct verdict v = {0, 0};

	if (!d || l->has_dwarf)
		return;
	if (!d->has_dwarf || d->fatal) {
		gl_strlist_add(&l->errors, "layout donor %s rejected: it has no usable DWARF", d->path);
		return;
	}
	check_ops(c, d, &v);
	check_traits_size(c, d, &v);
	check_kernels(c, d, &v);
	if (v.against)
		return;
	if (!v.evidence) {
		gl_strlist_add(&l->errors, "layout donor %s rejected: nothing in this file shows it is "
			       "the same ggml (no op-name table, type_traits or kernels to compare)",
			       d->path);
		return;
	}
	copy_structs(l, d);
	copy_enums(l, d);
	l->layout_donor = gl_xstrdup(d->path);
	l->layout_donor_build_id = gl_xstrdup(d->build_id);
	gl_tables_traits(c);
	gl_tables_cpu_traits(c);
	gl_tables_check(c);
}
