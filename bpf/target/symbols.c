/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * ELF symbols (.symtab and .dynsym merged) and the functions a probe may
 * attach to when the file has no DWARF: exported ggml_compute_forward_*
 * kernels, the graph compute thread, the CPU extra-buffer hook, decode.
 */
#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int by_name(const void *a, const void *b)
{
	const struct gl_symbol *x = a, *y = b;
	int r = strcmp(x->name, y->name);
	if (r)
		return r;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void add_symbol(struct gl_symbols *s, const char *name, const GElf_Sym *sym, int dynamic)
{
	GL_GROW(s->v, s->n, s->cap);
	struct gl_symbol *g = &s->v[s->n++];
	g->name = gl_xstrdup(name);
	g->addr = sym->st_value;
	g->size = sym->st_size;
	g->global = GELF_ST_BIND(sym->st_info) != STB_LOCAL;
	g->dynamic = dynamic;
}

static void load_table(struct gl_ctx *c, Elf_Scn *scn, GElf_Shdr *sh, int dynamic)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym sym;

	for (size_t i = 0; d && i < n; i++) {
		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		int t = GELF_ST_TYPE(sym.st_info);
		if (t != STT_FUNC && t != STT_OBJECT && t != STT_GNU_IFUNC)
			continue;
		const char *name = elf_strptr(c->elf, sh->sh_link, sym.st_name);
		if (name && *name)
			add_symbol(&c->all, name, &sym, dynamic);
	}
}

/* Merge duplicates (same name and address): keep one, note if exported. */
static void dedupe(struct gl_symbols *s)
{
	size_t w = 0;

	qsort(s->v, s->n, sizeof(*s->v), by_name);
	for (size_t i = 0; i < s->n; i++) {
		if (w && !strcmp(s->v[w - 1].name, s->v[i].name) && s->v[w - 1].addr == s->v[i].addr) {
			s->v[w - 1].dynamic |= s->v[i].dynamic;
			s->v[w - 1].global |= s->v[i].global;
			if (!s->v[w - 1].size)
				s->v[w - 1].size = s->v[i].size;
			free(s->v[i].name);
			continue;
		}
		s->v[w++] = s->v[i];
	}
	s->n = w;
}

void gl_symbols_load(struct gl_ctx *c)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(c->elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB) {
			c->l->has_symtab = 1;
			load_table(c, scn, &sh, 0);
		} else if (sh.sh_type == SHT_DYNSYM) {
			c->l->has_dynsym = 1;
			load_table(c, scn, &sh, 1);
		}
	}
	dedupe(&c->all);
}

const struct gl_symbol *gl_sym_by_name(const struct gl_symbols *s, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) { /* first entry with this name */
		size_t mid = (lo + hi) / 2;
		if (strcmp(s->v[mid].name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && !strcmp(s->v[lo].name, name) ? &s->v[lo] : NULL;
}

/* The symbol that contains addr; a global name wins over a local alias. */
const struct gl_symbol *gl_sym_by_addr(const struct gl_symbols *s, uint64_t addr)
{
	const struct gl_symbol *best = NULL;

	for (size_t i = 0; i < s->n; i++) {
		const struct gl_symbol *g = &s->v[i];
		if (addr < g->addr || addr >= g->addr + (g->size ? g->size : 1))
			continue;
		if (!best || (g->global && !best->global))
			best = g;
	}
	return best;
}

/* Names before a compiler suffix: "f.isra.0" -> "f". */
static int base_is(const char *name, const char *base)
{
	size_t n = strlen(base);
	return !strncmp(name, base, n) && (name[n] == 0 || name[n] == '.');
}

static int interesting(const char *name)
{
	static const char *const exact[] = {
		"ggml_graph_compute_thread", "ggml_graph_compute", "ggml_graph_compute_with_ctx",
		"ggml_barrier", "ggml_cpu_extra_compute_forward", "llama_decode", "llama_encode",
		"ggml_compute_forward", "ggml_backend_tensor_copy", "ggml_backend_tensor_copy_async",
		"ggml_backend_tensor_set_async", "ggml_backend_name", "ggml_backend_dev_name",
	};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (base_is(name, exact[i]))
			return 1;
	if (!strncmp(name, "ggml_compute_forward_", 21) || strstr(name, "compute_forward"))
		return 1;
	return !strncmp(name, "ggml_backend_", 13) && strstr(name, "graph_compute");
}

void gl_symbols_select(struct gl_ctx *c)
{
	struct gl_symbols *out = &c->l->symbols;

	for (size_t i = 0; i < c->all.n; i++) {
		const struct gl_symbol *g = &c->all.v[i];
		uint64_t off;
		if (!interesting(g->name) || gl_file_offset(c->l, g->addr, &off) != 0)
			continue;
		if (i && !strcmp(c->all.v[i - 1].name, g->name))
			continue; /* same name, other address: keep the first */
		GL_GROW(out->v, out->n, out->cap);
		out->v[out->n] = *g;
		out->v[out->n++].name = gl_xstrdup(g->name);
	}
}

int gl_has_ggml_symbols(const struct gl_ctx *c)
{
	for (size_t i = 0; i < c->all.n; i++)
		if (!strncmp(c->all.v[i].name, "ggml_", 5) || !strncmp(c->all.v[i].name, "llama_", 6))
			return 1;
	return 0;
}

void gl_symbols_free(struct gl_symbols *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int in_exec_segment(const struct gl_layout *l, uint64_t a)
{
	for (size_t i = 0; i < l->n_loads; i++)
		if ((l->loads[i].flags & PF_X) && a >= l->loads[i].vaddr &&
		    a < l->loads[i].vaddr + l->loads[i].memsz)
			return 1;
	return 0;
}

static int in_any_segment(const struct gl_layout *l, uint64_t a)
{
	for (size_t i = 0; i < l->n_loads; i++)
		if (a >= l->loads[i].vaddr && a < l->loads[i].vaddr + l->loads[i].memsz)
			return 1;
	return 0;
}

static int32_t rel32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[3] << 24);
}

/*
 * DWARF 5 gives a call's return address; a uprobe on the call itself needs
 * the call instruction.  Decode the x86-64 call forms a compiler emits and
 * check that the decoded target is plausible.  0 when unsure.
 */
uint64_t gl_call_pc(struct gl_ctx *c, uint64_t ret)
{
	unsigned char b[7];

	if (c->l->machine != EM_X86_64 || ret < 7 || gl_elf_read(c, ret - 7, b, 7) != 0)
		return 0;
	/* b[7 - k] is the byte at ret - k */
	if (b[2] == 0xe8 && in_exec_segment(c->l, ret + (uint64_t)(int64_t)rel32(b + 3)))
		return ret - 5; /* call rel32 */
	if (b[1] == 0xff && b[2] == 0x15 && in_any_segment(c->l, ret + (uint64_t)(int64_t)rel32(b + 3)))
		return ret - 6; /* call *disp32(%rip) */
	if (b[5] == 0xff && (b[6] & 0xf8) == 0xd0)
		return b[4] == 0x41 ? ret - 3 : ret - 2; /* call *%reg */
	if (b[4] == 0xff && (b[5] & 0xf8) == 0x50 && (b[5] & 7) != 4)
		return b[3] == 0x41 ? ret - 4 : ret - 3; /* call *disp8(%reg) */
	return 0;
}
