/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * DWARF location expressions -> "where is this value at pc", in pt_regs
 * terms a BPF uprobe program can read: a register, register + offset, or
 * memory at register + offset.  DW_OP_fbreg is resolved through the frame
 * base of the containing function and, for DW_OP_call_frame_cfa, the CFI
 * (.eh_frame) at that pc.
 */
#include <dwarf.h>
#include <elf.h>
#include <elfutils/known-dwarf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const struct {
	unsigned code;
	const char *name;
} OP_NAMES[] = {
#define DWARF_ONE_KNOWN_DW_OP(NAME, CODE) {CODE, #CODE},
	DWARF_ALL_KNOWN_DW_OP
#undef DWARF_ONE_KNOWN_DW_OP
};

static const char *op_name(unsigned code)
{
	for (size_t i = 0; i < sizeof(OP_NAMES) / sizeof(OP_NAMES[0]); i++)
		if (OP_NAMES[i].code == code)
			return OP_NAMES[i].name;
	return "DW_OP_?";
}

static const char *const REGS[] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
				   "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
				   "rip"};
static const char *const PT_REGS[] = {"ax", "dx", "cx", "bx", "si", "di", "bp", "sp", "r8",
				      "r9", "r10", "r11", "r12", "r13", "r14", "r15", "ip"};

const char *gl_reg_name(int r)
{
	return r >= 0 && r < (int)(sizeof(REGS) / sizeof(REGS[0])) ? REGS[r] : NULL;
}

const char *gl_ptregs_field(int r)
{
	return r >= 0 && r < (int)(sizeof(PT_REGS) / sizeof(PT_REGS[0])) ? PT_REGS[r] : NULL;
}

static void expr_text(const Dwarf_Op *ops, size_t n, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && len < size; i++) {
		int w = snprintf(buf + len, size - len, "%s%s", i ? "; " : "", op_name(ops[i].atom));
		len += w > 0 ? (size_t)w : 0;
		if (ops[i].atom >= DW_OP_breg0 && ops[i].atom <= DW_OP_breg31 && len < size)
			w = snprintf(buf + len, size - len, " %" PRId64, (int64_t)ops[i].number);
		else if ((ops[i].atom == DW_OP_fbreg || ops[i].atom == DW_OP_consts) && len < size)
			w = snprintf(buf + len, size - len, " %" PRId64, (int64_t)ops[i].number);
		else if (ops[i].atom == DW_OP_bregx && len < size)
			w = snprintf(buf + len, size - len, " %" PRIu64 " %" PRId64, ops[i].number,
				     (int64_t)ops[i].number2);
		else if ((ops[i].atom == DW_OP_addr || ops[i].atom == DW_OP_regx ||
			  ops[i].atom == DW_OP_plus_uconst || ops[i].atom == DW_OP_constu) && len < size)
			w = snprintf(buf + len, size - len, " 0x%" PRIx64, ops[i].number);
		else
			w = 0;
		len += w > 0 ? (size_t)w : 0;
	}
}

/* A register-relative base: DW_OP_bregN / DW_OP_bregx. */
static int base_reg(const Dwarf_Op *op, int *reg, int64_t *off)
{
	if (op->atom >= DW_OP_breg0 && op->atom <= DW_OP_breg31) {
		*reg = op->atom - DW_OP_breg0;
		*off = (int64_t)op->number;
		return 0;
	}
	if (op->atom == DW_OP_bregx) {
		*reg = (int)op->number;
		*off = (int64_t)op->number2;
		return 0;
	}
	return -1;
}

static int cfa_at(struct gl_ctx *c, uint64_t pc, int *reg, int64_t *off)
{
	Dwarf_Frame *frame = NULL;
	Dwarf_Op *ops;
	size_t n;
	int rc = -1;

	if (!c->cfi || dwarf_cfi_addrframe(c->cfi, pc, &frame) != 0)
		return -1;
	if (dwarf_frame_cfa(frame, &ops, &n) == 0 && n == 1)
		rc = base_reg(&ops[0], reg, off);
	free(frame);
	return rc;
}

/* The frame base of the concrete function `scope` at pc, as reg + off. */
static int frame_base(struct gl_ctx *c, Dwarf_Die *scope, uint64_t pc, int *reg, int64_t *off)
{
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;

	if (!scope || !dwarf_attr(scope, DW_AT_frame_base, &a) ||
	    dwarf_getlocation_addr(&a, pc, &ops, &n, 1) != 1 || n != 1)
		return -1;
	if (ops[0].atom == DW_OP_call_frame_cfa)
		return cfa_at(c, pc, reg, off);
	return base_reg(&ops[0], reg, off);
}

static int is_reg_op(const Dwarf_Op *op, int *reg)
{
	if (op->atom >= DW_OP_reg0 && op->atom <= DW_OP_reg31) {
		*reg = op->atom - DW_OP_reg0;
		return 1;
	}
	if (op->atom == DW_OP_regx) {
		*reg = (int)op->number;
		return 1;
	}
	return 0;
}

static int is_const_op(const Dwarf_Op *op, int64_t *v)
{
	if (op->atom >= DW_OP_lit0 && op->atom <= DW_OP_lit31) {
		*v = op->atom - DW_OP_lit0;
		return 1;
	}
	switch (op->atom) {
	case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u: case DW_OP_const8u:
	case DW_OP_constu: case DW_OP_const1s: case DW_OP_const2s: case DW_OP_const4s:
	case DW_OP_const8s: case DW_OP_consts:
		*v = (int64_t)op->number;
		return 1;
	}
	return 0;
}

/* Translate one expression (the part valid at pc). */
void gl_loc_from_expr(struct gl_ctx *c, Dwarf_Die *scope, uint64_t pc, const Dwarf_Op *ops,
		      size_t n, struct gl_loc *out)
{
	int value = n == 2 && ops[1].atom == DW_OP_stack_value;
	int reg;
	int64_t off, v;

	memset(out, 0, sizeof(*out));
	out->reg = -1;
	out->kind = GL_LOC_UNSUPPORTED;
	expr_text(ops, n, out->expr, sizeof(out->expr));
	if (n == 0) {
		out->kind = GL_LOC_NONE;
	} else if (n == 1 && is_reg_op(&ops[0], &reg)) {
		out->kind = GL_LOC_REG;
		out->reg = reg;
	} else if ((n == 1 || value) && base_reg(&ops[0], &reg, &off) == 0) {
		out->kind = value ? GL_LOC_REG_OFFSET : GL_LOC_MEM;
		out->reg = reg;
		out->offset = off;
	} else if ((n == 1 || value) && ops[0].atom == DW_OP_fbreg &&
		   frame_base(c, scope, pc, &reg, &off) == 0) {
		out->kind = value ? GL_LOC_REG_OFFSET : GL_LOC_MEM;
		out->reg = reg;
		out->offset = off + (int64_t)ops[0].number;
	} else if (n == 1 && ops[0].atom == DW_OP_addr) {
		out->kind = GL_LOC_MEM; /* absolute address, reg -1 */
		out->offset = (int64_t)ops[0].number;
	} else if (value && is_const_op(&ops[0], &v)) {
		out->kind = GL_LOC_CONST;
		out->offset = v;
	}
}

void gl_loc_at(struct gl_ctx *c, Dwarf_Die *scope, Dwarf_Die *var, uint64_t pc, struct gl_loc *out)
{
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->reg = -1;
	if (!dwarf_attr(var, DW_AT_location, &a)) {
		snprintf(out->expr, sizeof(out->expr), "no DW_AT_location (optimized out)");
		return;
	}
	int got = dwarf_getlocation_addr(&a, pc, &ops, &n, 1);
	if (got != 1) {
		snprintf(out->expr, sizeof(out->expr), "not described at this pc");
		return;
	}
	gl_loc_from_expr(c, scope, pc, ops, n, out);
}

size_t gl_loc_list(struct gl_ctx *c, Dwarf_Die *scope, Dwarf_Die *var, struct gl_loc_range **out)
{
	Dwarf_Attribute a;
	Dwarf_Addr base, start, end;
	Dwarf_Op *ops;
	size_t n, count = 0, cap = 0;
	ptrdiff_t off = 0;

	*out = NULL;
	if (!dwarf_attr(var, DW_AT_location, &a))
		return 0;
	while ((off = dwarf_getlocations(&a, off, &base, &start, &end, &ops, &n)) > 0) {
		GL_GROW(*out, count, cap);
		struct gl_loc_range *r = &(*out)[count++];
		r->lo = start;
		r->hi = end;
		gl_loc_from_expr(c, scope, start, ops, n, &r->loc);
	}
	return count;
}
