/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * The ELF image: program headers (vaddr -> file offset), build id, reading
 * initialised data at a vaddr, and the relocations that fill pointer slots
 * at load time (RELA RELATIVE / absolute, and packed RELR).
 */
#include <elf.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#ifndef SHT_RELR
#define SHT_RELR 19
#endif

size_t gl_elf_ptr_size(const struct gl_ctx *c)
{
	return c->l->elf_class == 64 ? 8 : 4;
}

static void read_build_id(struct gl_ctx *c)
{
	const void *id;
	ssize_t n = dwelf_elf_gnu_build_id(c->elf, &id);

	if (n <= 0)
		return;
	c->l->build_id = gl_xcalloc((size_t)n * 2 + 1, 1);
	for (ssize_t i = 0; i < n; i++)
		sprintf(c->l->build_id + 2 * i, "%02x", ((const unsigned char *)id)[i]);
}

static void read_loads(struct gl_ctx *c)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(c->elf, &n) != 0)
		return;
	c->l->loads = gl_xcalloc(n, sizeof(*c->l->loads));
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(c->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		struct gl_load *ld = &c->l->loads[c->l->n_loads++];
		ld->vaddr = ph.p_vaddr;
		ld->memsz = ph.p_memsz;
		ld->filesz = ph.p_filesz;
		ld->offset = ph.p_offset;
		ld->flags = ph.p_flags;
	}
}

int gl_file_offset(const struct gl_layout *l, uint64_t vaddr, uint64_t *off)
{
	for (size_t i = 0; i < l->n_loads; i++) {
		const struct gl_load *ld = &l->loads[i];
		if (vaddr >= ld->vaddr && vaddr < ld->vaddr + ld->filesz) {
			*off = vaddr - ld->vaddr + ld->offset;
			return 0;
		}
	}
	return -1;
}

/* Reads initialised bytes; .bss (memsz beyond filesz) reads as zero. */
int gl_elf_read(struct gl_ctx *c, uint64_t vaddr, void *buf, size_t len)
{
	for (size_t i = 0; i < c->l->n_loads; i++) {
		const struct gl_load *ld = &c->l->loads[i];
		if (vaddr < ld->vaddr || vaddr + len > ld->vaddr + ld->memsz)
			continue;
		uint64_t rel = vaddr - ld->vaddr;
		size_t in_file = rel >= ld->filesz ? 0 : ld->filesz - rel;
		if (in_file > len)
			in_file = len;
		memset(buf, 0, len);
		if (in_file && pread(c->fd, buf, in_file, (off_t)(ld->offset + rel)) != (ssize_t)in_file)
			return -1;
		return 0;
	}
	return -1;
}

int gl_elf_read_uint(struct gl_ctx *c, uint64_t vaddr, size_t size, uint64_t *out)
{
	unsigned char b[8];
	uint64_t v = 0;

	if (size == 0 || size > 8 || gl_elf_read(c, vaddr, b, size) != 0)
		return -1;
	for (size_t i = 0; i < size; i++) {
		size_t k = c->l->little_endian ? size - 1 - i : i;
		v = (v << 8) | b[k];
	}
	*out = v;
	return 0;
}

static int reloc_cmp(const void *a, const void *b)
{
	const struct gl_reloc *x = a, *y = b;
	return x->where < y->where ? -1 : x->where > y->where;
}

static const struct gl_reloc *find_reloc(const struct gl_ctx *c, uint64_t vaddr)
{
	struct gl_reloc key = {.where = vaddr};
	return bsearch(&key, c->relocs, c->n_relocs, sizeof(key), reloc_cmp);
}

/* A pointer slot: the relocation's value if one applies, else the bytes. */
int gl_elf_read_ptr(struct gl_ctx *c, uint64_t vaddr, uint64_t *out)
{
	const struct gl_reloc *r = find_reloc(c, vaddr);

	if (r) {
		if (!r->resolved)
			return -1;
		*out = r->value;
		return 0;
	}
	return gl_elf_read_uint(c, vaddr, gl_elf_ptr_size(c), out);
}

char *gl_elf_read_cstr(struct gl_ctx *c, uint64_t vaddr)
{
	enum { CHUNK = 64, MAX_LEN = 4096 };
	char *s = gl_xcalloc(1, 1);
	size_t len = 0;

	while (len < MAX_LEN) {
		char buf[CHUNK];
		size_t got = CHUNK;
		/* shrink the read near the end of a segment */
		while (got && gl_elf_read(c, vaddr + len, buf, got) != 0)
			got /= 2;
		if (!got)
			break;
		char *nul = memchr(buf, 0, got);
		size_t take = nul ? (size_t)(nul - buf) : got;
		s = gl_xrealloc(s, len + take + 1, 1);
		memcpy(s + len, buf, take);
		len += take;
		s[len] = 0;
		if (nul)
			return s;
	}
	free(s);
	return NULL;
}

static void add_reloc(struct gl_ctx *c, size_t *cap, uint64_t where, uint64_t value, int resolved)
{
	GL_GROW(c->relocs, c->n_relocs, *cap);
	c->relocs[c->n_relocs++] = (struct gl_reloc){where, value, resolved};
}

static int rela_sym_value(struct gl_ctx *c, GElf_Shdr *sh, size_t symi, uint64_t *val)
{
	Elf_Scn *symscn = elf_getscn(c->elf, sh->sh_link);
	Elf_Data *d = symscn ? elf_getdata(symscn, NULL) : NULL;
	GElf_Sym sym;

	if (!d || !gelf_getsym(d, (int)symi, &sym) || sym.st_shndx == SHN_UNDEF)
		return 0;
	*val = sym.st_value;
	return 1;
}

/* x86-64 and i386 relocation types that store a plain address. */
static int reloc_kind(unsigned machine, unsigned type)
{
	if (machine == EM_X86_64) {
		if (type == R_X86_64_RELATIVE)
			return 1;
		if (type == R_X86_64_64 || type == R_X86_64_GLOB_DAT)
			return 2;
	} else if (machine == EM_AARCH64) {
		if (type == R_AARCH64_RELATIVE)
			return 1;
		if (type == R_AARCH64_ABS64 || type == R_AARCH64_GLOB_DAT)
			return 2;
	}
	return 0;
}

static void load_rela(struct gl_ctx *c, Elf_Scn *scn, GElf_Shdr *sh, size_t *cap)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Rela r;

	for (size_t i = 0; d && i < n; i++) {
		if (!gelf_getrela(d, (int)i, &r))
			break;
		unsigned type = (unsigned)GELF_R_TYPE(r.r_info);
		int kind = reloc_kind(c->l->machine, type);
		uint64_t v = 0;
		if (kind == 1) {
			add_reloc(c, cap, r.r_offset, (uint64_t)r.r_addend, 1);
		} else if (kind == 2) {
			int ok = rela_sym_value(c, sh, GELF_R_SYM(r.r_info), &v);
			add_reloc(c, cap, r.r_offset, v + (uint64_t)r.r_addend, ok);
		}
	}
}

/* SHT_RELR: addresses to relocate by the load base, addend in place. */
static void load_relr(struct gl_ctx *c, Elf_Scn *scn, size_t *cap)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t w = gl_elf_ptr_size(c);
	uint64_t where = 0, v;

	for (size_t i = 0; d && i + w <= d->d_size; i += w) {
		uint64_t e = 0;
		memcpy(&e, (char *)d->d_buf + i, w);
		if ((e & 1) == 0) {
			where = e;
			if (gl_elf_read_uint(c, where, w, &v) == 0)
				add_reloc(c, cap, where, v, 1);
			where += w;
			continue;
		}
		for (size_t bit = 1; bit < 8 * w; bit++) {
			uint64_t at = where + (bit - 1) * w;
			if (((e >> bit) & 1) && gl_elf_read_uint(c, at, w, &v) == 0)
				add_reloc(c, cap, at, v, 1);
		}
		where += (8 * w - 1) * w;
	}
}

static void load_relocs(struct gl_ctx *c)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t cap = 0;

	while ((scn = elf_nextscn(c->elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (sh.sh_type == SHT_RELA)
			load_rela(c, scn, &sh, &cap);
		else if (sh.sh_type == SHT_RELR)
			load_relr(c, scn, &cap);
	}
	if (c->n_relocs)
		qsort(c->relocs, c->n_relocs, sizeof(*c->relocs), reloc_cmp);
}

static void read_header(struct gl_ctx *c, GElf_Ehdr *eh)
{
	struct gl_layout *l = c->l;

	l->is_elf = 1;
	l->elf_class = gelf_getclass(c->elf) == ELFCLASS64 ? 64 : 32;
	l->little_endian = eh->e_ident[EI_DATA] == ELFDATA2LSB;
	l->machine = eh->e_machine;
	l->elf_type = eh->e_type;
}

int gl_elf_open(struct gl_ctx *c, const char *path)
{
	GElf_Ehdr eh;

	elf_version(EV_CURRENT);
	c->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		gl_strlist_add(&c->l->errors, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	c->elf = elf_begin(c->fd, ELF_C_READ_MMAP, NULL);
	if (!c->elf || elf_kind(c->elf) != ELF_K_ELF || !gelf_getehdr(c->elf, &eh)) {
		gl_strlist_add(&c->l->errors, "not an ELF file: %s", path);
		return -1;
	}
	read_header(c, &eh);
	read_build_id(c);
	read_loads(c);
	load_relocs(c);
	return 0;
}

void gl_elf_close(struct gl_ctx *c)
{
	if (c->elf)
		elf_end(c->elf);
	if (c->fd >= 0)
		close(c->fd);
	free(c->relocs);
	c->relocs = NULL;
	c->elf = NULL;
	c->fd = -1;
}
