/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
/*
 * The file names of a unit's line table, read from the table's header alone. libdw 0.188 gives
 * them only with the whole line program decoded and sorted (dwarf_getsrcfiles): ~150 ms for the
 * units of ggml-cpu, where the source lines need one name per DW_AT_decl_file. DWARF 2-5.
 */
#include <dwarf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct reader {
	const unsigned char *p, *end;
	int offset_size; /* 4 or 8 (64-bit DWARF) */
	int failed;
};

static int need(struct reader *r, size_t n)
{
	if (r->failed || (size_t)(r->end - r->p) < n)
		return r->failed = 1, 0;
	return 1;
}

static uint64_t fixed(struct reader *r, size_t n)
{
	uint64_t v = 0;
	if (!need(r, n))
		return 0;
	for (size_t i = 0; i < n; i++) /* little-endian: the only byte order the target reader supports */
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += n;
	return v;
}

static uint64_t uleb(struct reader *r)
{
	uint64_t v = 0;
	for (int shift = 0; need(r, 1); shift += 7) {
		unsigned char b = *r->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	return 0;
}

static const char *inline_string(struct reader *r)
{
	const char *s = (const char *)r->p;
	const unsigned char *nul = need(r, 1) ? memchr(r->p, 0, (size_t)(r->end - r->p)) : NULL;
	if (!nul)
		return r->failed = 1, NULL;
	r->p = nul + 1;
	return s;
}

/* A section's bytes (decompressed in place when SHF_COMPRESSED), or NULL. */
static Elf_Data *section_data(Elf *elf, const char *name)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		const char *n = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
		if (!n || strcmp(n, name) != 0)
			continue;
		if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
			return NULL;
		return elf_getdata(scn, NULL);
	}
	return NULL;
}

struct sections {
	Elf_Data *line, *line_str, *str;
};

static const char *string_at(Elf_Data *d, uint64_t off)
{
	if (!d || off >= d->d_size || !memchr((const char *)d->d_buf + off, 0, d->d_size - off))
		return NULL;
	return (const char *)d->d_buf + off;
}

/* One attribute of a DWARF 5 directory or file entry: a string for DW_LNCT_path, else a number
 * (directory index) or nothing. */
static void read_form(struct reader *r, const struct sections *s, uint64_t form, const char **str, uint64_t *num)
{
	switch (form) {
	case DW_FORM_string: *str = inline_string(r); break;
	case DW_FORM_line_strp: *str = string_at(s->line_str, fixed(r, (size_t)r->offset_size)); break;
	case DW_FORM_strp: *str = string_at(s->str, fixed(r, (size_t)r->offset_size)); break;
	case DW_FORM_udata: *num = uleb(r); break;
	case DW_FORM_data1: *num = fixed(r, 1); break;
	case DW_FORM_data2: *num = fixed(r, 2); break;
	case DW_FORM_data4: *num = fixed(r, 4); break;
	case DW_FORM_data8: *num = fixed(r, 8); break;
	case DW_FORM_data16: fixed(r, 8), fixed(r, 8); break;
	case DW_FORM_block: {
		uint64_t n = uleb(r);
		if (need(r, n))
			r->p += n;
		break;
	}
	default: r->failed = 1; /* strx forms need .debug_str_offsets: leave it to libdw */
	}
}

/* DWARF 5 entries: `count` of them, each with the (content type, form) pairs of `formats`. */
static const char **read_entries(struct reader *r, const struct sections *s, uint64_t **dirs, size_t *count)
{
	unsigned n_formats = (unsigned)fixed(r, 1);
	uint64_t formats[2 * 16];
	if (n_formats > 16)
		return r->failed = 1, NULL;
	for (unsigned i = 0; i < 2 * n_formats; i++)
		formats[i] = uleb(r);
	*count = (size_t)uleb(r);
	if (r->failed || *count > (size_t)(r->end - r->p))
		return r->failed = 1, NULL;
	const char **paths = gl_xcalloc(*count + 1, sizeof(*paths));
	*dirs = gl_xcalloc(*count + 1, sizeof(**dirs));
	for (size_t e = 0; e < *count && !r->failed; e++)
		for (unsigned f = 0; f < n_formats; f++) {
			const char *str = NULL;
			uint64_t num = 0;
			read_form(r, s, formats[2 * f + 1], &str, &num);
			if (formats[2 * f] == DW_LNCT_path)
				paths[e] = str;
			else if (formats[2 * f] == DW_LNCT_directory_index)
				(*dirs)[e] = num;
		}
	return paths;
}

/* DWARF 2-4: include directories (strings up to an empty one), then file entries (name, directory
 * index, time, size) up to an empty name. Directory 0 is the unit's own directory. */
static void read_v4_tables(struct reader *r, const char ***dirs, size_t *n_dirs, const char ***files, uint64_t **file_dirs, size_t *n_files)
{
	size_t cap = 0;
	*dirs = NULL;
	*n_dirs = 1;
	GL_GROW(*dirs, *n_dirs - 1, cap);
	(*dirs)[0] = NULL;
	for (const char *d; (d = inline_string(r)) && *d;) {
		GL_GROW(*dirs, *n_dirs, cap);
		(*dirs)[(*n_dirs)++] = d;
	}
	size_t fcap = 0, dcap = 0;
	*files = NULL;
	*file_dirs = NULL;
	*n_files = 0;
	GL_GROW(*files, *n_files, fcap); /* index 0: no file */
	GL_GROW(*file_dirs, *n_files, dcap);
	(*files)[0] = NULL;
	(*file_dirs)[(*n_files)++] = 0;
	for (const char *f; !r->failed && (f = inline_string(r)) && *f;) {
		GL_GROW(*files, *n_files, fcap);
		GL_GROW(*file_dirs, *n_files, dcap);
		(*files)[*n_files] = f;
		(*file_dirs)[(*n_files)++] = uleb(r);
		uleb(r), uleb(r);
	}
}

static char *join(const char *dir, const char *name)
{
	char *path = NULL;
	if (!name)
		return NULL;
	if (name[0] == '/' || !dir || !*dir)
		return gl_xstrdup(name);
	return asprintf(&path, "%s/%s", dir, name) < 0 ? NULL : path;
}

static int read_header(struct reader *r, const struct sections *s, struct gl_line_files *out)
{
	uint64_t length = fixed(r, 4);
	r->offset_size = 4;
	if (length == 0xffffffff)
		length = fixed(r, 8), r->offset_size = 8;
	if (!need(r, length))
		return -1;
	r->end = r->p + length;
	unsigned version = (unsigned)fixed(r, 2);
	if (version < 2 || version > 5)
		return -1;
	if (version >= 5)
		fixed(r, 2); /* address size, segment selector size */
	fixed(r, (size_t)r->offset_size); /* header length */
	fixed(r, version >= 4 ? 2 : 1);   /* minimum instruction length, maximum operations */
	fixed(r, 3);                      /* default_is_stmt, line_base, line_range */
	unsigned opcode_base = (unsigned)fixed(r, 1);
	if (opcode_base > 0 && need(r, opcode_base - 1))
		r->p += opcode_base - 1;
	const char **dirs = NULL, **files = NULL;
	uint64_t *dir_of = NULL, *unused = NULL;
	size_t n_dirs = 0, n_files = 0;
	if (version >= 5) {
		dirs = read_entries(r, s, &unused, &n_dirs);
		files = dirs ? read_entries(r, s, &dir_of, &n_files) : NULL;
	} else {
		read_v4_tables(r, &dirs, &n_dirs, &files, &dir_of, &n_files);
	}
	if (!r->failed) {
		out->n = n_files;
		out->path = gl_xcalloc(n_files + 1, sizeof(*out->path));
		for (size_t i = 0; i < n_files; i++)
			out->path[i] = join(dir_of[i] < n_dirs ? dirs[dir_of[i]] : NULL, files[i]);
	}
	free(dirs);
	free(files);
	free(dir_of);
	free(unused);
	return r->failed ? -1 : 0;
}

int gl_line_files_read(Dwarf *dw, Dwarf_Die *cudie, struct gl_line_files *out)
{
	Dwarf_Attribute a;
	Dwarf_Word at;
	Elf *elf = dwarf_getelf(dw);
	struct sections s = {0};

	memset(out, 0, sizeof(*out));
	if (!elf || dwarf_formudata(dwarf_attr(cudie, DW_AT_stmt_list, &a), &at) != 0)
		return -1;
	s.line = section_data(elf, ".debug_line");
	s.line_str = section_data(elf, ".debug_line_str");
	s.str = section_data(elf, ".debug_str");
	if (!s.line || at >= s.line->d_size)
		return -1;
	struct reader r = { (const unsigned char *)s.line->d_buf + at, (const unsigned char *)s.line->d_buf + s.line->d_size, 4, 0 };
	if (read_header(&r, &s, out) != 0) {
		gl_line_files_free(out);
		return -1;
	}
	return 0;
}

const char *gl_line_file(const struct gl_line_files *f, Dwarf_Word index)
{
	return index < f->n ? f->path[index] : NULL;
}

void gl_line_files_free(struct gl_line_files *f)
{
	for (size_t i = 0; f->path && i < f->n; i++)
		free(f->path[i]);
	free(f->path);
	memset(f, 0, sizeof(*f));
}
