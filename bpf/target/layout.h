/* SPDX-License-Identifier: MIT */
/*
 * ggml-lens target analysis: what a ggml program looks like, read from its
 * ELF file (symbols, data, relocations) and DWARF (struct layout, enums,
 * inlined call sites, variable locations).  Unprivileged; no ggml struct
 * offset, op number, type size or block size is known to this code: every
 * number in a gl_layout comes from the analysed file.
 *
 * Usage:
 *     struct gl_layout *l = gl_layout_analyze("/path/libggml-cpu.so");
 *     ... l->errors.n == 0 ? use it : report l->errors ...
 *     gl_layout_free(l);
 */
#ifndef GGML_LENS_TARGET_LAYOUT_H
#define GGML_LENS_TARGET_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

struct gl_strlist {
	char **v;
	size_t n, cap;
};

/* One PT_LOAD program header: vaddr -> file offset for uprobes. */
struct gl_load {
	uint64_t vaddr, memsz, filesz, offset;
	uint32_t flags; /* PF_X | PF_W | PF_R */
};

struct gl_field {
	const char *name; /* requested member name */
	int found;
	uint64_t offset;    /* bytes from the start of the struct */
	uint64_t size;      /* bytes */
	uint64_t count;     /* array elements, 0 when not an array */
	uint64_t elem_size; /* bytes per element when an array */
};

struct gl_struct {
	const char *name; /* DWARF name (struct tag or typedef) */
	int found;
	uint64_t size;
	size_t n_fields;
	struct gl_field *fields;
};

struct gl_enumerator {
	char *name;
	int64_t value;
};

struct gl_enum {
	const char *name;
	int found;
	size_t n;
	struct gl_enumerator *items;
};

/* A string table such as GGML_OP_NAME, read from the binary's data. */
struct gl_names {
	const char *symbol; /* e.g. "GGML_OP_NAME" */
	int found;
	uint64_t addr; /* vaddr of the array */
	size_t n;
	char **v;           /* NULL entries where a slot had no string */
	const char *source; /* "dwarf-var+data" or "symtab+data" */
};

struct gl_type_trait {
	int64_t type; /* index = enum ggml_type value */
	char *name;
	int64_t blck_size;
	int64_t blck_size_interleave; /* valid when has_interleave */
	int has_interleave;
	uint64_t type_size;
	int is_quantized;
};

/* Where a value lives at a given pc, in pt_regs terms. */
enum gl_loc_kind {
	GL_LOC_NONE,        /* not described at that pc (optimized out) */
	GL_LOC_REG,         /* value = reg */
	GL_LOC_REG_OFFSET,  /* value = reg + offset (e.g. &local) */
	GL_LOC_MEM,         /* value = *(uint64_t *)(reg + offset) */
	GL_LOC_CONST,       /* value = offset */
	GL_LOC_UNSUPPORTED, /* expression we do not translate; see expr */
};

struct gl_loc {
	enum gl_loc_kind kind;
	int reg; /* DWARF register number, -1 if none */
	int64_t offset;
	char expr[160]; /* the DWARF expression as text, for humans */
};

struct gl_loc_range {
	uint64_t lo, hi;
	struct gl_loc loc;
};

struct gl_param {
	char *name;
	struct gl_loc at_entry; /* at the instance's entry pc */
	struct gl_loc at_low;   /* at the lowest address of the instance */
	size_t n_list;          /* the whole location list */
	struct gl_loc_range *list;
};

struct gl_range {
	uint64_t lo, hi;
};

struct gl_call {
	char *callee;     /* DWARF name (linkage name if any), NULL if indirect */
	char *inlined_in; /* innermost inlined function around the call, or NULL */
	uint64_t return_pc;
	uint64_t call_pc; /* 0 when the call instruction could not be decoded */
	int tail;         /* tail call: return_pc is not a return address */
	size_t n_args;    /* DW_TAG_call_site_parameter: where the args are put */
	struct gl_loc *args;
};

/* One instance of a function in the code: inlined or out of line. */
struct gl_instance {
	char *func;      /* the function, e.g. "ggml_compute_forward" */
	int inlined;     /* 1: DW_TAG_inlined_subroutine, 0: concrete */
	char *caller;    /* containing concrete function (ELF symbol if any) */
	uint64_t caller_addr;
	char *call_file; /* for inlined: DW_AT_call_file / line */
	int call_line;
	uint64_t entry_pc, low_pc, high_pc; /* high_pc: end of the last range */
	size_t n_ranges;
	struct gl_range *ranges;
	size_t n_params;
	struct gl_param *params;
	size_t n_calls; /* calls whose nearest enclosing instance is this one */
	struct gl_call *calls;
};

struct gl_instances {
	size_t n, cap;
	struct gl_instance *v;
};

struct gl_symbol {
	char *name;
	uint64_t addr, size;
	int global; /* STB_GLOBAL / STB_WEAK */
	int dynamic; /* also in .dynsym (exported) */
};

struct gl_symbols {
	size_t n, cap;
	struct gl_symbol *v;
};

/* A suggested uprobe: where, and where params / tensor are there. */
struct gl_probe {
	int have;
	uint64_t addr;
	char what[160]; /* human description, e.g. "call ggml_barrier in f" */
	struct gl_loc params, tensor; /* kind GL_LOC_NONE when not applicable */
};

/* A source line that the build's DWARF vouches for: where a ggml_compute_forward_* function is
 * defined, or where the op switch calls one. The editor checks workspace files against these. */
struct gl_source_line {
	char *function;
	char *file; /* absolute when the unit's DW_AT_comp_dir allows */
	int line;   /* 1-based */
	int is_call;
};

struct gl_source_lines {
	size_t n, cap;
	struct gl_source_line *v; /* sorted by file, then line */
};

/* Suggested op span probes (derived from sites; see plan.c). */
struct gl_plan {
	struct gl_probe op_start;  /* every op that reaches the op switch */
	size_t n_op_end;
	struct gl_probe *op_end;   /* where the thread leaves the op */
	size_t n_outside;
	struct gl_probe *outside;  /* kernels the compute loop calls without
				      going through the op switch (fused ops) */
};

struct gl_layout {
	char *path;
	char *build_id; /* lowercase hex, NULL if none */
	int is_elf, has_dwarf, has_symtab, has_dynsym;
	int elf_class;    /* 32 or 64 */
	int little_endian;
	unsigned machine; /* e_machine */
	unsigned elf_type; /* ET_DYN, ET_EXEC, ... */
	size_t n_loads;
	struct gl_load *loads;

	size_t n_structs;
	struct gl_struct *structs;
	size_t n_enums;
	struct gl_enum *enums;

	struct gl_names op_names, op_symbols, unary_op_names, glu_op_names;
	size_t n_traits;
	struct gl_type_trait *traits;
	const char *traits_source;
	/* CPU backend (type_traits_cpu): per type, the type the other operand of its dot products is
	 * converted to (vec_dot_type), -1 where unknown */
	size_t n_vec_dot_types;
	int64_t *vec_dot_types;
	const char *vec_dot_types_source;

	/* probe sites */
	const char *sites_mode; /* "dwarf" or "symbols" */
	struct gl_instances instances; /* compute_forward, mul_mat_id, thread */
	struct gl_symbols symbols;     /* functions of interest from symtab */
	struct gl_plan plan;
	struct gl_source_lines source_lines;

	/* set when structs/enums were borrowed from a build with DWARF */
	char *layout_donor, *layout_donor_build_id;

	int fatal; /* nothing usable: not ELF, no ggml, stripped */
	struct gl_strlist errors, warnings;
	double elapsed_ms;
};

/* Analyse one file.  Never returns NULL except on out-of-memory; problems
 * are listed in ->errors (fatal for the probe helper) and ->warnings. */
struct gl_layout *gl_layout_analyze(const char *path);
/* Same; a file without DWARF borrows donor's struct layouts and enums if
 * the two files agree (op-name table, type_traits size, exported kernels).
 * donor: the analysis of a build of the same ggml with DWARF, or NULL. */
struct gl_layout *gl_layout_analyze_with(const char *path, const struct gl_layout *donor);
void gl_layout_free(struct gl_layout *l);

/* vaddr -> file offset through the PT_LOAD headers; returns 0 and sets
 * *off, or -1 if the address is not backed by the file. */
int gl_file_offset(const struct gl_layout *l, uint64_t vaddr, uint64_t *off);

/* Lookups; NULL when absent. */
const struct gl_struct *gl_find_struct(const struct gl_layout *l, const char *name);
const struct gl_field *gl_find_field(const struct gl_struct *s, const char *name);
const struct gl_enum *gl_find_enum(const struct gl_layout *l, const char *name);
const struct gl_symbol *gl_find_symbol(const struct gl_layout *l, const char *name);

/* x86-64 DWARF register number -> "rdi" / kernel struct pt_regs member
 * ("di"); NULL for numbers that are not general-purpose registers. */
const char *gl_reg_name(int dwarf_reg);
const char *gl_ptregs_field(int dwarf_reg);

/* Writes the source lines as a JSON array under key (see source_lines.c). */
struct json;
void gl_source_lines_write_json(struct json *j, const char *key, const struct gl_source_lines *v);

/* Print the analysis as one JSON object (one line unless pretty). */
void gl_layout_write_json(const struct gl_layout *l, FILE *f, int pretty);

#ifdef __cplusplus
}
#endif
#endif
