/* SPDX-License-Identifier: MIT */
/* Internal interfaces of the target analysis; not for the probe helper. */
#ifndef GGML_LENS_TARGET_INTERNAL_H
#define GGML_LENS_TARGET_INTERNAL_H

#include <elfutils/libdw.h>
#include <gelf.h>
#include <stdbool.h>

#include "layout.h"

/* A pointer-sized slot whose run-time value is set by a relocation. */
struct gl_reloc {
	uint64_t where;  /* vaddr of the slot */
	uint64_t value;  /* target vaddr (RELATIVE / RELR / defined symbol) */
	int resolved;    /* 0: points to an undefined (external) symbol */
};

struct gl_ctx {
	struct gl_layout *l;
	int fd;
	Elf *elf;
	Dwarf *dw;         /* NULL without DWARF */
	int debug_fd;      /* separate debug file, -1 if none */
	Elf *debug_elf;
	Dwarf_CFI *cfi;    /* .eh_frame / .debug_frame, may be NULL */
	size_t n_relocs;
	struct gl_reloc *relocs; /* sorted by where */
	struct gl_symbols all;   /* every named function/object symbol */
	void *dwarf_index;       /* dwarf_types.c: DIEs found at the top level */
	struct gl_line_files *unit_files; /* source_lines.c: the file table of the unit last asked */
	Dwarf_Off unit_files_at;          /* ... that unit's offset */
};

/* A unit's line-table file names by DW_AT_decl_file index (line_files.c). */
struct gl_line_files {
	size_t n;
	char **path; /* NULL where an entry has no name */
};

/* util.c */
void *gl_xcalloc(size_t n, size_t size);
void *gl_xrealloc(void *p, size_t n, size_t size);
char *gl_xstrdup(const char *s);
void gl_strlist_add(struct gl_strlist *sl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void gl_strlist_free(struct gl_strlist *sl);
#define GL_GROW(arr, n, cap)                                              \
	do {                                                              \
		if ((n) == (cap)) {                                       \
			(cap) = (cap) ? 2 * (cap) : 16;                   \
			(arr) = gl_xrealloc((arr), (cap), sizeof(*(arr))); \
		}                                                         \
	} while (0)

/* elfimg.c: the ELF file */
int gl_elf_open(struct gl_ctx *c, const char *path);
void gl_elf_close(struct gl_ctx *c);
int gl_elf_read(struct gl_ctx *c, uint64_t vaddr, void *buf, size_t len);
int gl_elf_read_uint(struct gl_ctx *c, uint64_t vaddr, size_t size, uint64_t *out);
int gl_elf_read_ptr(struct gl_ctx *c, uint64_t vaddr, uint64_t *out);
char *gl_elf_read_cstr(struct gl_ctx *c, uint64_t vaddr);
size_t gl_elf_ptr_size(const struct gl_ctx *c);

/* symbols.c */
void gl_symbols_load(struct gl_ctx *c);
const struct gl_symbol *gl_sym_by_name(const struct gl_symbols *s, const char *name);
const struct gl_symbol *gl_sym_by_addr(const struct gl_symbols *s, uint64_t addr);
void gl_symbols_select(struct gl_ctx *c);
int gl_has_ggml_symbols(const struct gl_ctx *c);
void gl_symbols_free(struct gl_symbols *s);
uint64_t gl_call_pc(struct gl_ctx *c, uint64_t return_pc);

/* dwarf_types.c */
void gl_dwarf_types(struct gl_ctx *c);
int gl_dwarf_var_addr(struct gl_ctx *c, const char *name, uint64_t *addr,
		      uint64_t *count, Dwarf_Die *elem_type);
int gl_dwarf_struct_die(struct gl_ctx *c, const char *name, Dwarf_Die *out);
int gl_member_offset(Dwarf_Die *member, uint64_t *off);
int gl_find_member(Dwarf_Die *st, const char *name, Dwarf_Die *member, uint64_t *off);
size_t gl_dwarf_site_units(struct gl_ctx *c, const Dwarf_Off **units);
void gl_dwarf_index_free(struct gl_ctx *c);

/* dwarf_loc.c */
void gl_loc_from_expr(struct gl_ctx *c, Dwarf_Die *scope, uint64_t pc,
		      const Dwarf_Op *ops, size_t n, struct gl_loc *out);
void gl_loc_at(struct gl_ctx *c, Dwarf_Die *scope, Dwarf_Die *var, uint64_t pc,
	       struct gl_loc *out);
size_t gl_loc_list(struct gl_ctx *c, Dwarf_Die *scope, Dwarf_Die *var,
		   struct gl_loc_range **out);

/* dwarf_sites.c */
void gl_dwarf_sites(struct gl_ctx *c);
int gl_is_site_function(const char *name);
void gl_instances_free(struct gl_instances *v);

/* source_lines.c */
int gl_is_kernel_name(const char *name);
void gl_source_definition(struct gl_ctx *c, Dwarf_Die *cudie, Dwarf_Die *d);
void gl_source_inlined_call(struct gl_ctx *c, Dwarf_Die *d, const char *callee, const char *file, int line);
void gl_source_call(struct gl_ctx *c, Dwarf_Die *d, const char *callee, uint64_t call_pc);
void gl_source_lines_finish(struct gl_ctx *c);
void gl_source_lines_free(struct gl_source_lines *v);

/* line_files.c */
int gl_line_files_read(Dwarf *dw, Dwarf_Die *cudie, struct gl_line_files *out);
const char *gl_line_file(const struct gl_line_files *f, Dwarf_Word index);
void gl_line_files_free(struct gl_line_files *f);

/* plan.c */
void gl_plan(struct gl_ctx *c);
void gl_plan_free(struct gl_plan *p);

/* tables.c */
void gl_tables(struct gl_ctx *c);
void gl_tables_traits(struct gl_ctx *c);
void gl_tables_cpu_traits(struct gl_ctx *c);
void gl_tables_check(struct gl_ctx *c);

/* donor.c */
void gl_donor(struct gl_ctx *c, const struct gl_layout *donor);
void gl_names_free(struct gl_names *n);

#endif
