/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
/*
 * Source lines the editor checks a workspace file against before it puts op costs on it: where
 * each ggml_compute_forward_* function is defined (DW_AT_decl_file / DW_AT_decl_line) and where
 * the op switch calls one (the inlined call's DW_AT_call_line, or the line table at the call
 * instruction). A file whose text is not at these lines is not the source that was built.
 */
#include <dwarf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jsonw.h"

static const char KERNEL_PREFIX[] = "ggml_compute_forward_";

int gl_is_kernel_name(const char *name)
{
	return name && !strncmp(name, KERNEL_PREFIX, sizeof(KERNEL_PREFIX) - 1);
}

/* A relative path joined to the unit's DW_AT_comp_dir, as the symbolizer names sampled files. */
static char *unit_path(Dwarf_Die *cudie, const char *file)
{
	Dwarf_Attribute a;
	const char *dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &a));
	char *joined = NULL;

	if (file[0] == '/' || !dir || !*dir || asprintf(&joined, "%s/%s", dir, file) < 0)
		return gl_xstrdup(file);
	return joined;
}

static int same_line(const struct gl_source_line *s, const char *function, const char *file, int line, int is_call)
{
	return s->line == line && s->is_call == is_call && !strcmp(s->function, function) && !strcmp(s->file, file);
}

/* function: as DWARF names it; a template instance's arguments ("f<int, float>") are left out, as
 * the source spells the name once for all of them. */
static void add_line(struct gl_ctx *c, Dwarf_Die *cudie, const char *function, const char *file, int line, int is_call)
{
	struct gl_source_lines *v = &c->l->source_lines;

	if (!file || line <= 0)
		return;
	char *name = strndup(function, strcspn(function, "<"));
	char *path = unit_path(cudie, file);
	for (size_t i = 0; name && i < v->n; i++)
		if (same_line(&v->v[i], name, path, line, is_call)) {
			free(name);
			free(path);
			return;
		}
	GL_GROW(v->v, v->n, v->cap);
	v->v[v->n++] = (struct gl_source_line){ name ? name : gl_xstrdup(function), path, line, is_call };
}

/* The file a DIE's DW_AT_decl_file names, from the file table of the unit holding the attribute
 * (read once per unit, see line_files.c); libdw's own answer where that table cannot be read. */
static const char *decl_file(struct gl_ctx *c, Dwarf_Die *d)
{
	Dwarf_Attribute a;
	Dwarf_Word index;
	Dwarf_Die unit;

	if (dwarf_formudata(dwarf_attr_integrate(d, DW_AT_decl_file, &a), &index) != 0 ||
	    !dwarf_cu_die(a.cu, &unit, NULL, NULL, NULL, NULL, NULL, NULL))
		return NULL;
	if (!c->unit_files || c->unit_files_at != dwarf_dieoffset(&unit)) {
		if (c->unit_files)
			gl_line_files_free(c->unit_files);
		else
			c->unit_files = gl_xcalloc(1, sizeof(*c->unit_files));
		c->unit_files_at = dwarf_dieoffset(&unit);
		gl_line_files_read(c->dw, &unit, c->unit_files);
	}
	const char *file = gl_line_file(c->unit_files, index);
	return file ? file : dwarf_decl_file(d);
}

void gl_source_definition(struct gl_ctx *c, Dwarf_Die *cudie, Dwarf_Die *d)
{
	Dwarf_Attribute a;
	int line;

	if (dwarf_tag(d) != DW_TAG_subprogram || dwarf_hasattr(d, DW_AT_declaration))
		return;
	const char *name = dwarf_formstring(dwarf_attr_integrate(d, DW_AT_name, &a));
	if (!gl_is_kernel_name(name) || dwarf_decl_line(d, &line) != 0)
		return;
	add_line(c, cudie, name, decl_file(c, d), line, 0);
}

void gl_source_inlined_call(struct gl_ctx *c, Dwarf_Die *d, const char *callee, const char *file, int line)
{
	Dwarf_Die cudie;

	if (gl_is_kernel_name(callee) && dwarf_diecu(d, &cudie, NULL, NULL))
		add_line(c, &cudie, callee, file, line, 1);
}

void gl_source_call(struct gl_ctx *c, Dwarf_Die *d, const char *callee, uint64_t call_pc)
{
	Dwarf_Die cudie;
	Dwarf_Line *row;
	int line;

	if (!gl_is_kernel_name(callee) || !call_pc || !dwarf_diecu(d, &cudie, NULL, NULL))
		return;
	row = dwarf_getsrc_die(&cudie, call_pc);
	if (row && dwarf_lineno(row, &line) == 0)
		add_line(c, &cudie, callee, dwarf_linesrc(row, NULL, NULL), line, 1);
}

static int by_file_then_line(const void *pa, const void *pb)
{
	const struct gl_source_line *a = pa, *b = pb;
	int files = strcmp(a->file, b->file);
	return files ? files : a->line != b->line ? (a->line > b->line) - (a->line < b->line) : a->is_call - b->is_call;
}

/* Once the units are read: the lines in order, the file table cache freed. */
void gl_source_lines_finish(struct gl_ctx *c)
{
	struct gl_source_lines *v = &c->l->source_lines;

	if (v->n)
		qsort(v->v, v->n, sizeof(*v->v), by_file_then_line);
	if (c->unit_files)
		gl_line_files_free(c->unit_files);
	free(c->unit_files);
	c->unit_files = NULL;
}

static void write_pairs(struct json *j, const char *key, const struct gl_source_line *from, const struct gl_source_line *to,
			int is_call)
{
	json_open(j, key, '[');
	for (const struct gl_source_line *s = from; s < to; s++) {
		if (s->is_call != is_call)
			continue;
		json_open(j, NULL, '[');
		json_int(j, NULL, s->line);
		json_str(j, NULL, s->function);
		json_close(j, ']');
	}
	json_close(j, ']');
}

/* Per file: "definitions" and "calls", each a list of [line, function]. Lines are sorted. */
void gl_source_lines_write_json(struct json *j, const char *key, const struct gl_source_lines *v)
{
	json_open(j, key, '[');
	for (size_t i = 0; i < v->n;) {
		size_t end = i + 1;
		while (end < v->n && !strcmp(v->v[end].file, v->v[i].file))
			end++;
		json_open(j, NULL, '{');
		json_str(j, "file", v->v[i].file);
		write_pairs(j, "definitions", &v->v[i], &v->v[end], 0);
		write_pairs(j, "calls", &v->v[i], &v->v[end], 1);
		json_close(j, '}');
		i = end;
	}
	json_close(j, ']');
}

void gl_source_lines_free(struct gl_source_lines *v)
{
	for (size_t i = 0; i < v->n; i++) {
		free(v->v[i].function);
		free(v->v[i].file);
	}
	free(v->v);
	memset(v, 0, sizeof(*v));
}
