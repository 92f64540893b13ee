/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * Tables in the binary's data: the op-name string arrays (GGML_OP_NAME,
 * GGML_OP_SYMBOL, GGML_UNARY_OP_NAME, GGML_GLU_OP_NAME) and type_traits.
 * Pointer slots are resolved through the dynamic relocations, so this works
 * on shared libraries (R_X86_64_RELATIVE addends) and on executables.
 * Array bounds come from DWARF or, without it, from the symbol's size.
 */
#include <ctype.h>
#include <dwarf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Locate a global array: DWARF variable first, then the symbol table.
 * elem_size 0 asks for the element size from DWARF (or pointer size). */
static int locate(struct gl_ctx *c, const char *sym, uint64_t elem_size, uint64_t *addr,
		  uint64_t *count, Dwarf_Die *elem, const char **source)
{
	const struct gl_symbol *s;

	if (c->dw && gl_dwarf_var_addr(c, sym, addr, count, elem) == 0) {
		*source = "dwarf-variable+data";
		return 0;
	}
	s = gl_sym_by_name(&c->all, sym);
	if (!s || !elem_size || !s->size)
		return -1;
	*addr = s->addr;
	*count = s->size / elem_size;
	*source = "symtab+data";
	return 0;
}

static void read_names(struct gl_ctx *c, struct gl_names *nm, const char *sym)
{
	uint64_t ptr = gl_elf_ptr_size(c), count, target;
	Dwarf_Die elem;

	nm->symbol = sym;
	if (locate(c, sym, ptr, &nm->addr, &count, &elem, &nm->source) != 0)
		return;
	nm->found = 1;
	nm->n = count;
	nm->v = gl_xcalloc(count, sizeof(*nm->v));
	for (uint64_t i = 0; i < count; i++)
		if (gl_elf_read_ptr(c, nm->addr + i * ptr, &target) == 0 && target)
			nm->v[i] = gl_elf_read_cstr(c, target);
}

static const struct gl_enumerator *enum_value(const struct gl_enum *e, int64_t v)
{
	for (size_t i = 0; e && i < e->n; i++)
		if (e->items[i].value == v)
			return &e->items[i];
	return NULL;
}

static int64_t enum_count(const struct gl_enum *e, const char *count_name)
{
	for (size_t i = 0; e && i < e->n; i++)
		if (!strcmp(e->items[i].name, count_name))
			return e->items[i].value;
	return -1;
}

/* "GGML_OP_" + "ADD" == enumerator name (case-insensitive for types). */
static int same_name(const char *prefix, const char *short_name, const char *full)
{
	size_t n = strlen(prefix);
	return !strncmp(full, prefix, n) && !strcasecmp(full + n, short_name);
}

static void check_names(struct gl_ctx *c, const struct gl_names *nm, const char *enum_name,
			const char *prefix)
{
	const struct gl_enum *e = gl_find_enum(c->l, enum_name);
	char count_name[64];
	int64_t count;

	if (!nm->found || !e || !e->found)
		return;
	snprintf(count_name, sizeof(count_name), "%sCOUNT", prefix);
	count = enum_count(e, count_name);
	if (count >= 0 && (uint64_t)count != nm->n)
		gl_strlist_add(&c->l->errors, "%s has %zu entries but enum %s says %s = %lld",
			       nm->symbol, nm->n, enum_name, count_name, (long long)count);
	for (size_t i = 0; i < nm->n; i++) {
		const struct gl_enumerator *en = enum_value(e, (int64_t)i);
		if (en && nm->v[i] && !same_name(prefix, nm->v[i], en->name))
			gl_strlist_add(&c->l->errors, "%s[%zu] = \"%s\" but enum %s has %s = %zu",
				       nm->symbol, i, nm->v[i], enum_name, en->name, i);
	}
}

static int64_t sext(uint64_t v, uint64_t size)
{
	if (size >= 8 || size == 0)
		return (int64_t)v;
	uint64_t sign = 1ull << (8 * size - 1);
	return (int64_t)((v ^ sign) - sign);
}

static int read_field(struct gl_ctx *c, uint64_t base, const struct gl_field *f, uint64_t *v)
{
	return f && f->found ? gl_elf_read_uint(c, base + f->offset, f->size, v) : -1;
}

static void read_trait(struct gl_ctx *c, const struct gl_struct *st, uint64_t base,
		       struct gl_type_trait *t)
{
	uint64_t v;
	const struct gl_field *f;

	if (gl_elf_read_ptr(c, base + gl_find_field(st, "type_name")->offset, &v) == 0 && v)
		t->name = gl_elf_read_cstr(c, v);
	f = gl_find_field(st, "blck_size");
	if (read_field(c, base, f, &v) == 0)
		t->blck_size = sext(v, f->size);
	f = gl_find_field(st, "blck_size_interleave");
	if (read_field(c, base, f, &v) == 0) {
		t->blck_size_interleave = sext(v, f->size);
		t->has_interleave = 1;
	}
	if (read_field(c, base, gl_find_field(st, "type_size"), &v) == 0)
		t->type_size = v;
	if (read_field(c, base, gl_find_field(st, "is_quantized"), &v) == 0)
		t->is_quantized = v != 0;
}

static void check_traits(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;
	const struct gl_enum *e = gl_find_enum(l, "ggml_type");
	int64_t count = enum_count(e, "GGML_TYPE_COUNT");

	if (!e || !e->found)
		return;
	if (count >= 0 && (uint64_t)count != l->n_traits)
		gl_strlist_add(&l->errors, "type_traits has %zu entries but GGML_TYPE_COUNT = %lld",
			       l->n_traits, (long long)count);
	for (size_t i = 0; i < l->n_traits; i++) {
		const struct gl_enumerator *en = enum_value(e, (int64_t)i);
		const char *name = l->traits[i].name;
		if (en && name && !same_name("GGML_TYPE_", name, en->name))
			gl_strlist_add(&l->warnings, "type_traits[%zu].type_name = \"%s\" but enum has %s",
				       i, name, en->name);
	}
}

static int die_is(Dwarf_Die *d, const char *name)
{
	const char *n = dwarf_diename(d);
	return n && !strcmp(n, name);
}

void gl_tables_traits(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;
	const struct gl_struct *st = gl_find_struct(l, "ggml_type_traits");
	uint64_t addr, count;
	Dwarf_Die elem;
	const char *src;

	if (!st || !st->found || !st->size || l->traits_source)
		return;
	if (locate(c, "type_traits", st->size, &addr, &count, &elem, &src) != 0)
		return;
	if (c->dw && src[0] == 'd' && !die_is(&elem, "ggml_type_traits"))
		return;
	l->traits_source = src;
	l->n_traits = count;
	l->traits = gl_xcalloc(count, sizeof(*l->traits));
	for (uint64_t i = 0; i < count; i++) {
		l->traits[i].type = (int64_t)i;
		read_trait(c, st, addr + i * st->size, &l->traits[i]);
	}
	check_traits(c);
}

/* The CPU backend's type_traits_cpu: vec_dot_type per type (a static table: found through DWARF or
 * the symbol table's local symbol). */
void gl_tables_cpu_traits(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;
	const struct gl_struct *st = gl_find_struct(l, "ggml_type_traits_cpu");
	const struct gl_field *f = st && st->found ? gl_find_field(st, "vec_dot_type") : NULL;
	uint64_t addr, count, v;
	Dwarf_Die elem;
	const char *src;

	if (!f || !f->found || !st->size || l->vec_dot_types_source)
		return;
	if (locate(c, "type_traits_cpu", st->size, &addr, &count, &elem, &src) != 0)
		return;
	if (c->dw && src[0] == 'd' && !die_is(&elem, "ggml_type_traits_cpu"))
		return;
	l->vec_dot_types_source = src;
	l->n_vec_dot_types = count;
	l->vec_dot_types = gl_xcalloc(count, sizeof(*l->vec_dot_types));
	for (uint64_t i = 0; i < count; i++)
		l->vec_dot_types[i] = read_field(c, addr + i * st->size, f, &v) == 0 ? sext(v, f->size) : -1;
}

void gl_tables(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;

	read_names(c, &l->op_names, "GGML_OP_NAME");
	read_names(c, &l->op_symbols, "GGML_OP_SYMBOL");
	read_names(c, &l->unary_op_names, "GGML_UNARY_OP_NAME");
	read_names(c, &l->glu_op_names, "GGML_GLU_OP_NAME");
	gl_tables_check(c);
	if (l->op_symbols.found && l->op_names.found && l->op_symbols.n != l->op_names.n)
		gl_strlist_add(&l->errors, "GGML_OP_SYMBOL has %zu entries, GGML_OP_NAME %zu",
			       l->op_symbols.n, l->op_names.n);
	gl_tables_traits(c);
	gl_tables_cpu_traits(c);
}

/* Op names again once enums arrived from elsewhere (a layout donor). */
void gl_tables_check(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;

	check_names(c, &l->op_names, "ggml_op", "GGML_OP_");
	check_names(c, &l->unary_op_names, "ggml_unary_op", "GGML_UNARY_OP_");
	check_names(c, &l->glu_op_names, "ggml_glu_op", "GGML_GLU_OP_");
}

void gl_names_free(struct gl_names *n)
{
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	n->v = NULL;
	n->n = 0;
}
