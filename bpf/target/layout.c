/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/* gl_layout_analyze: runs the readers in order and judges the result. */
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Separate debug info installed by build id (/usr/lib/debug/.build-id). */
static Dwarf *open_debug_file(struct gl_ctx *c)
{
	char path[512];
	const char *id = c->l->build_id;

	if (!id || strlen(id) < 4)
		return NULL;
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	c->debug_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->debug_fd < 0)
		return NULL;
	c->debug_elf = elf_begin(c->debug_fd, ELF_C_READ_MMAP, NULL);
	Dwarf *dw = c->debug_elf ? dwarf_begin_elf(c->debug_elf, DWARF_C_READ, NULL) : NULL;
	if (dw)
		gl_strlist_add(&c->l->warnings, "DWARF read from %s", path);
	return dw;
}

static void open_dwarf(struct gl_ctx *c)
{
	c->dw = dwarf_begin_elf(c->elf, DWARF_C_READ, NULL);
	if (!c->dw)
		c->dw = open_debug_file(c);
	c->l->has_dwarf = c->dw != NULL;
	c->cfi = dwarf_getcfi_elf(c->elf);
}

static void close_all(struct gl_ctx *c)
{
	if (c->cfi)
		dwarf_cfi_end(c->cfi);
	if (c->dw)
		dwarf_end(c->dw);
	if (c->debug_elf)
		elf_end(c->debug_elf);
	if (c->debug_fd >= 0)
		close(c->debug_fd);
	gl_dwarf_index_free(c);
	gl_symbols_free(&c->all);
	gl_elf_close(c);
}

static int has_enum(const struct gl_layout *l, const char *name)
{
	const struct gl_enum *e = gl_find_enum(l, name);
	return e && e->found;
}

static int has_ggml_types(const struct gl_layout *l)
{
	const struct gl_struct *t = gl_find_struct(l, "ggml_tensor");
	return t && t->found;
}

/* Files the probe helper cannot use at all. */
static void judge_fatal(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;
	int syms = gl_has_ggml_symbols(c);

	if (!l->has_symtab && !l->has_dwarf && !syms) {
		gl_strlist_add(&l->errors, "stripped or not a ggml program: no .symtab, no DWARF and "
					   "no ggml_*/llama_* symbols in .dynsym");
		l->fatal = 1;
		return;
	}
	if (!syms && !has_ggml_types(l) && !l->op_names.found) {
		gl_strlist_add(&l->errors, "no ggml found: no ggml_*/llama_* symbols, no ggml DWARF "
					   "types and no GGML_OP_NAME table");
		l->fatal = 1;
	}
}

/* What is missing from a usable file. */
static void judge_gaps(struct gl_ctx *c)
{
	struct gl_layout *l = c->l;

	if (l->has_dwarf && !has_ggml_types(l))
		gl_strlist_add(&l->warnings, "DWARF present but without struct ggml_tensor");
	if (!l->traits_source && gl_sym_by_name(&c->all, "type_traits"))
		gl_strlist_add(&l->errors,
			       "type_traits: table found (symbol type_traits) but the layout of "
			       "struct ggml_type_traits is unknown without DWARF");
	if (!l->op_names.found && !has_enum(l, "ggml_op") &&
	    gl_sym_by_name(&c->all, "ggml_op_name"))
		gl_strlist_add(&l->errors,
			       "op names unknown: no GGML_OP_NAME table (a local symbol, gone when "
			       ".symtab is stripped) and no DWARF enum ggml_op");
	if (!l->has_dwarf && !l->layout_donor)
		gl_strlist_add(&l->errors,
			       "no DWARF: struct layouts (ggml_tensor: op, ne, nb, src, name, ...; "
			       "ggml_cgraph; ggml_compute_params) and inlined call sites cannot be "
			       "read from this file; give a layout donor (a build of the same ggml "
			       "with DWARF: ggml-lens-layout --layout-from LIB) or install the "
			       "debug file under /usr/lib/debug/.build-id");
	else if (!l->has_dwarf)
		gl_strlist_add(&l->warnings, "no DWARF: inlined call sites unknown; op probes use "
					     "exported symbols");
}

struct gl_layout *gl_layout_analyze(const char *path)
{
	return gl_layout_analyze_with(path, NULL);
}

struct gl_layout *gl_layout_analyze_with(const char *path, const struct gl_layout *donor)
{
	struct gl_layout *l = gl_xcalloc(1, sizeof(*l));
	struct gl_ctx c = {.l = l, .fd = -1, .debug_fd = -1};
	double t0 = now_ms();

	l->path = gl_xstrdup(path);
	if (gl_elf_open(&c, path) != 0) {
		l->fatal = 1;
		close_all(&c);
		return l;
	}
	gl_symbols_load(&c);
	open_dwarf(&c);
	gl_dwarf_types(&c);
	gl_tables(&c);
	gl_dwarf_sites(&c);
	gl_source_lines_finish(&c);
	gl_symbols_select(&c);
	gl_donor(&c, donor);
	gl_plan(&c);
	l->sites_mode = l->instances.n ? "dwarf" : "symbols";
	judge_fatal(&c);
	if (!l->fatal)
		judge_gaps(&c);
	close_all(&c);
	l->elapsed_ms = now_ms() - t0;
	return l;
}

void gl_layout_free(struct gl_layout *l)
{
	if (!l)
		return;
	free(l->path);
	free(l->build_id);
	free(l->layout_donor);
	free(l->layout_donor_build_id);
	free(l->loads);
	for (size_t i = 0; i < l->n_structs; i++)
		free(l->structs[i].fields);
	free(l->structs);
	for (size_t i = 0; i < l->n_enums; i++) {
		for (size_t k = 0; k < l->enums[i].n; k++)
			free(l->enums[i].items[k].name);
		free(l->enums[i].items);
	}
	free(l->enums);
	gl_names_free(&l->op_names);
	gl_names_free(&l->op_symbols);
	gl_names_free(&l->unary_op_names);
	gl_names_free(&l->glu_op_names);
	for (size_t i = 0; i < l->n_traits; i++)
		free(l->traits[i].name);
	free(l->traits);
	free(l->vec_dot_types);
	gl_instances_free(&l->instances);
	gl_symbols_free(&l->symbols);
	gl_plan_free(&l->plan);
	gl_source_lines_free(&l->source_lines);
	gl_strlist_free(&l->errors);
	gl_strlist_free(&l->warnings);
	free(l);
}

const struct gl_struct *gl_find_struct(const struct gl_layout *l, const char *name)
{
	for (size_t i = 0; i < l->n_structs; i++)
		if (!strcmp(l->structs[i].name, name))
			return &l->structs[i];
	return NULL;
}

const struct gl_field *gl_find_field(const struct gl_struct *s, const char *name)
{
	for (size_t i = 0; s && i < s->n_fields; i++)
		if (!strcmp(s->fields[i].name, name))
			return &s->fields[i];
	return NULL;
}

const struct gl_enum *gl_find_enum(const struct gl_layout *l, const char *name)
{
	for (size_t i = 0; i < l->n_enums; i++)
		if (!strcmp(l->enums[i].name, name))
			return &l->enums[i];
	return NULL;
}

const struct gl_symbol *gl_find_symbol(const struct gl_layout *l, const char *name)
{
	for (size_t i = 0; i < l->symbols.n; i++)
		if (!strcmp(l->symbols.v[i].name, name))
			return &l->symbols.v[i];
	return NULL;
}
