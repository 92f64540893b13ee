/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, dlsym(RTLD_DEFAULT) */
#endif
/*
 * Symbolizer for sampled instruction addresses (see symbolize.h).
 *
 * Lookups go through sorted range tables: mappings (run-time address ->
 * file and file vaddr), compilation units (their DW_AT_ranges, built from
 * the unit DIEs, so .debug_aranges is not needed), and per unit its
 * concrete subprograms (built on the first address in that unit).  From the
 * subprogram the lookup walks down the nested lexical blocks and inlined
 * subroutines that contain the address; the line comes from libdw's sorted
 * line table (dwarf_getsrc_die).  Symbol tables (.symtab, .dynsym, the debug
 * file's .symtab) are the fallback for the function name.
 */
#include <dlfcn.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"
#include "symbolize.h"

#define PAGE_MASK_4K (~(uint64_t)0xfff)

/* An address range [lo, hi) naming entry idx of some table; maxhi is the
 * largest hi of this and all earlier entries once sorted. */
struct range {
	uint64_t lo, hi, maxhi;
	size_t idx;
};

struct ranges {
	struct range *v;
	size_t n, cap;
};

/* An inlined subroutine in a subprogram's scope tree. */
struct inl {
	Dwarf_Die die;
	int parent;   /* index of the enclosing inlined subroutine, -1: the subprogram */
	int resolved; /* the fields below are read from the DIE on first use */
	const char *function, *call_file;
	int call_line, call_column;
};

/* A concrete subprogram; its inline tree is flattened on the first address in it. */
struct subprog {
	Dwarf_Die die;
	int flat;
	const char *name;
	struct ranges inl_ranges; /* idx into inls; nested ranges sort inner last */
	struct inl *inls;
	size_t n_inls, cap_inls;
};

struct unit {
	Dwarf_Die die;
	int indexed;
	struct ranges sub_ranges; /* idx into subs */
	struct subprog *subs;
	size_t n_subs, cap_subs;
};

struct seg {
	uint64_t off_lo, off_hi; /* file offsets, off_lo rounded down to a page */
	uint64_t delta;          /* p_vaddr - p_offset */
	int exec;
};

struct sfile {
	char *path;
	dev_t dev;
	ino_t ino;
	int fd, debug_fd;
	Elf *elf, *debug_elf;
	Dwarf *dw;
	int dwarf_tried, syms_tried;
	char *build_id;
	struct seg *segs;
	size_t n_segs;
	struct ranges syms; /* idx into sym_names */
	const char **sym_names;
	struct unit *units;
	size_t n_units, cap_units;
	struct ranges unit_ranges; /* idx into units */
};

struct mapping {
	uint64_t start, end, offset, delta;
	char *path;
	struct sfile *file; /* NULL when the file could not be read */
};

/* Mangled name (pointer into the file's string data) -> demangled. */
struct dcache {
	const char **keys, **vals;
	size_t n, cap;
};

typedef char *(*demangle_fn)(const char *, char *, size_t *, int *);

struct gl_symbolizer {
	struct sfile **files;
	size_t n_files, cap_files;
	struct mapping *maps;
	size_t n_maps, cap_maps;
	struct ranges map_index; /* idx into maps; rebuilt when dirty */
	int map_dirty;
	struct dcache dc;    /* mangled -> demangled names */
	struct dcache paths; /* relative source path -> joined with the unit's comp_dir */
	char **owned;
	size_t n_owned, cap_owned;
	void *libstdcxx;
	demangle_fn demangle;
	int demangle_tried;
};

/* ---- range tables ---- */

static void ranges_add(struct ranges *r, uint64_t lo, uint64_t hi, size_t idx)
{
	if (hi <= lo)
		return;
	GL_GROW(r->v, r->n, r->cap);
	r->v[r->n++] = (struct range){ .lo = lo, .hi = hi, .idx = idx };
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void ranges_sort(struct ranges *r)
{
	uint64_t maxhi = 0;

	qsort(r->v, r->n, sizeof(*r->v), range_cmp);
	for (size_t i = 0; i < r->n; i++) {
		if (r->v[i].hi > maxhi)
			maxhi = r->v[i].hi;
		r->v[i].maxhi = maxhi;
	}
}

/* The containing range with the largest start (the latest added on ties). */
static const struct range *ranges_find(const struct ranges *r, uint64_t x)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid].lo <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo-- > 0) {
		if (r->v[lo].maxhi <= x)
			return NULL;
		if (x < r->v[lo].hi)
			return &r->v[lo];
	}
	return NULL;
}

/* ---- strings and demangling ---- */

static const char *own(struct gl_symbolizer *s, char *str)
{
	GL_GROW(s->owned, s->n_owned, s->cap_owned);
	s->owned[s->n_owned++] = str;
	return str;
}

static void load_demangler(struct gl_symbolizer *s)
{
	void *fn = dlsym(RTLD_DEFAULT, "__cxa_demangle");

	s->demangle_tried = 1;
	if (!fn) {
		s->libstdcxx = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
		fn = s->libstdcxx ? dlsym(s->libstdcxx, "__cxa_demangle") : NULL;
	}
	memcpy(&s->demangle, &fn, sizeof(fn));
}

static size_t dcache_slot(const struct dcache *c, const char *key)
{
	size_t h = (size_t)((uintptr_t)key * 0x9E3779B97F4A7C15ull);

	for (size_t i = h & (c->cap - 1);; i = (i + 1) & (c->cap - 1))
		if (!c->keys[i] || c->keys[i] == key)
			return i;
}

static void dcache_grow(struct dcache *c)
{
	struct dcache old = *c;

	c->cap = old.cap ? 2 * old.cap : 256;
	c->keys = gl_xcalloc(c->cap, sizeof(*c->keys));
	c->vals = gl_xcalloc(c->cap, sizeof(*c->vals));
	for (size_t i = 0; i < old.cap; i++) {
		if (!old.keys[i])
			continue;
		size_t j = dcache_slot(c, old.keys[i]);
		c->keys[j] = old.keys[i];
		c->vals[j] = old.vals[i];
	}
	free(old.keys);
	free(old.vals);
}

/* The slot of key, inserted (value NULL) when new. */
static const char **dcache_get(struct dcache *c, const char *key)
{
	if (2 * (c->n + 1) > c->cap)
		dcache_grow(c);
	size_t i = dcache_slot(c, key);
	if (!c->keys[i]) {
		c->keys[i] = key;
		c->n++;
	}
	return &c->vals[i];
}

/* `name` must stay valid as long as the symbolizer (file string data). */
static const char *demangled(struct gl_symbolizer *s, const char *name)
{
	if (!name || strncmp(name, "_Z", 2) != 0)
		return name;
	if (!s->demangle_tried)
		load_demangler(s);
	if (!s->demangle)
		return name;
	const char **v = dcache_get(&s->dc, name);
	if (!*v) {
		int status = -1;
		char *d = s->demangle(name, NULL, NULL, &status);
		*v = status == 0 && d ? own(s, d) : (free(d), name);
	}
	return *v;
}

/* A relative source path joined to the unit's DW_AT_comp_dir (as llvm-symbolizer does). */
static const char *source_path(struct gl_symbolizer *s, Dwarf_Die *cudie, const char *file)
{
	Dwarf_Attribute a;
	const char *dir;

	if (!file || file[0] == '/')
		return file;
	const char **v = dcache_get(&s->paths, file);
	if (!*v) {
		dir = dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &a));
		char *joined = NULL;
		if (dir && *dir && asprintf(&joined, "%s/%s", dir, file) >= 0)
			*v = own(s, joined);
		else
			*v = file;
	}
	return *v;
}

/* ---- ELF files: segments, build id, symbols ---- */

static void read_segments(struct sfile *f)
{
	size_t n;
	GElf_Phdr ph;

	if (elf_getphdrnum(f->elf, &n) != 0)
		return;
	f->segs = gl_xcalloc(n, sizeof(*f->segs));
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(f->elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		struct seg *g = &f->segs[f->n_segs++];
		g->off_lo = ph.p_offset & PAGE_MASK_4K;
		g->off_hi = ph.p_offset + ph.p_filesz;
		g->delta = ph.p_vaddr - ph.p_offset;
		g->exec = (ph.p_flags & PF_X) != 0;
	}
}

static char *hex_build_id(Elf *elf)
{
	const void *id;
	ssize_t n = dwelf_elf_gnu_build_id(elf, &id);

	if (n <= 0)
		return NULL;
	char *hex = gl_xcalloc((size_t)n * 2 + 1, 1);
	for (ssize_t i = 0; i < n; i++)
		sprintf(hex + 2 * i, "%02x", ((const unsigned char *)id)[i]);
	return hex;
}

/* vaddr - file offset for a mapping at file offset `off` (0 if unknown). */
static uint64_t mapping_delta(const struct sfile *f, uint64_t off)
{
	const struct seg *any = NULL;

	for (size_t i = 0; f && i < f->n_segs; i++) {
		const struct seg *g = &f->segs[i];
		if (off < g->off_lo || off >= g->off_hi)
			continue;
		if (g->exec)
			return g->delta;
		any = any ? any : g;
	}
	return any ? any->delta : 0;
}

struct rawsym {
	uint64_t lo, size;
	const char *name;
	int global;
};

struct rawsyms {
	struct rawsym *v;
	size_t n, cap;
};

static void add_table(struct rawsyms *out, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;
	GElf_Sym sym;

	for (size_t i = 0; d && i < n; i++) {
		if (!gelf_getsym(d, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
			continue;
		int t = GELF_ST_TYPE(sym.st_info);
		const char *name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if ((t != STT_FUNC && t != STT_GNU_IFUNC) || !name || !*name)
			continue;
		GL_GROW(out->v, out->n, out->cap);
		out->v[out->n++] = (struct rawsym){ sym.st_value, sym.st_size, name,
						    GELF_ST_BIND(sym.st_info) != STB_LOCAL };
	}
}

static void add_tables(struct rawsyms *out, Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, &sh) && (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM))
			add_table(out, elf, scn, &sh);
}

/* By address; at one address the global, then the sized, symbol first. */
static int rawsym_cmp(const void *a, const void *b)
{
	const struct rawsym *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->global != y->global)
		return y->global - x->global;
	return (y->size > x->size) - (y->size < x->size);
}

static void load_symbols(struct sfile *f)
{
	struct rawsyms raw = { 0 };
	size_t w = 0;

	f->syms_tried = 1;
	add_tables(&raw, f->elf);
	if (f->debug_elf)
		add_tables(&raw, f->debug_elf);
	qsort(raw.v, raw.n, sizeof(*raw.v), rawsym_cmp);
	for (size_t i = 0; i < raw.n; i++)
		if (!w || raw.v[w - 1].lo != raw.v[i].lo)
			raw.v[w++] = raw.v[i];
	f->sym_names = gl_xcalloc(w, sizeof(*f->sym_names));
	for (size_t i = 0; i < w; i++) {
		uint64_t hi = raw.v[i].lo + raw.v[i].size;
		if (!raw.v[i].size)
			hi = i + 1 < w ? raw.v[i + 1].lo : raw.v[i].lo + 1;
		f->sym_names[i] = raw.v[i].name;
		ranges_add(&f->syms, raw.v[i].lo, hi, i);
	}
	ranges_sort(&f->syms);
	free(raw.v);
}

static const char *symbol_name(struct gl_symbolizer *s, struct sfile *f, uint64_t vaddr)
{
	if (!f->syms_tried)
		load_symbols(f);
	const struct range *r = ranges_find(&f->syms, vaddr);
	return r ? demangled(s, f->sym_names[r->idx]) : NULL;
}

/* ---- separate debug files ---- */

static uint32_t file_crc(int fd)
{
	struct stat st;
	uLong crc = crc32(0, Z_NULL, 0);

	if (fstat(fd, &st) != 0 || st.st_size <= 0)
		return 0;
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 0;
	for (off_t done = 0; done < st.st_size;) {
		uInt chunk = st.st_size - done > (1 << 30) ? 1u << 30 : (uInt)(st.st_size - done);
		crc = crc32(crc, (const Bytef *)p + done, chunk);
		done += chunk;
	}
	munmap(p, (size_t)st.st_size);
	return (uint32_t)crc;
}

/* Same build id, or (when either has none) the .gnu_debuglink CRC. */
static int debug_matches(const struct sfile *f, int fd, Elf *elf, const uint32_t *crc)
{
	char *id = hex_build_id(elf);
	int ok;

	if (id && f->build_id)
		ok = !strcmp(id, f->build_id);
	else
		ok = crc && file_crc(fd) == *crc;
	free(id);
	return ok;
}

static int try_debug_file(struct sfile *f, const char *path, const uint32_t *crc)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	Elf *elf = NULL;
	Dwarf *dw = NULL;
	if (fstat(fd, &st) == 0 && !(st.st_dev == f->dev && st.st_ino == f->ino))
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && debug_matches(f, fd, elf, crc))
		dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (!dw) {
		elf_end(elf);
		close(fd);
		return 0;
	}
	f->debug_fd = fd;
	f->debug_elf = elf;
	f->dw = dw;
	return 1;
}

static void find_debug_file(struct sfile *f)
{
	char path[4096], dir[4096];
	GElf_Word crc;
	const char *link = dwelf_elf_gnu_debuglink(f->elf, &crc);
	const char *slash = strrchr(f->path, '/');

	if (f->build_id && strlen(f->build_id) > 2) {
		snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", f->build_id,
			 f->build_id + 2);
		if (try_debug_file(f, path, NULL))
			return;
	}
	if (!link)
		return;
	uint32_t crc32v = crc;
	if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - f->path), f->path);
	else
		snprintf(dir, sizeof(dir), ".");
	const char *fmts[] = { "%s/%s", "%s/.debug/%s", "/usr/lib/debug%s/%s" };
	for (size_t i = 0; i < sizeof(fmts) / sizeof(*fmts); i++) {
		snprintf(path, sizeof(path), fmts[i], dir, link);
		if (try_debug_file(f, path, &crc32v))
			return;
	}
}

/* ---- DWARF: units and their subprograms ---- */

static void add_unit(struct sfile *f, Dwarf_Die *cudie)
{
	ptrdiff_t off = 0;
	Dwarf_Addr base, lo, hi;

	GL_GROW(f->units, f->n_units, f->cap_units);
	struct unit *u = &f->units[f->n_units];
	memset(u, 0, sizeof(*u));
	u->die = *cudie;
	while ((off = dwarf_ranges(cudie, off, &base, &lo, &hi)) > 0)
		ranges_add(&f->unit_ranges, lo, hi, f->n_units);
	f->n_units++;
}

static void index_units(struct sfile *f)
{
	Dwarf_CU *cu = NULL;
	Dwarf_Die cudie, subdie;
	Dwarf_Half version;
	uint8_t type;

	while (dwarf_get_units(f->dw, cu, &cu, &version, &type, &cudie, &subdie) == 0)
		if (type == DW_UT_compile)
			add_unit(f, &cudie);
	ranges_sort(&f->unit_ranges);
}

static void open_dwarf(struct sfile *f)
{
	f->dwarf_tried = 1;
	f->dw = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
	if (f->dw) {
		index_units(f);
		if (f->n_units)
			return;
		dwarf_end(f->dw);
		f->dw = NULL;
	}
	find_debug_file(f);
	if (f->dw)
		index_units(f);
}

static void add_subprogram(struct unit *u, Dwarf_Die *d)
{
	ptrdiff_t off = 0;
	Dwarf_Addr base, lo, hi;
	size_t before = u->sub_ranges.n;

	while ((off = dwarf_ranges(d, off, &base, &lo, &hi)) > 0)
		ranges_add(&u->sub_ranges, lo, hi, u->n_subs);
	if (u->sub_ranges.n == before)
		return;
	GL_GROW(u->subs, u->n_subs, u->cap_subs);
	memset(&u->subs[u->n_subs], 0, sizeof(*u->subs));
	u->subs[u->n_subs++].die = *d;
}

/* Whether concrete subprograms may be nested in a DIE with this tag:
 * namespaces, and inside functions their blocks and local classes (GCC puts
 * a lambda's operator() in the closure type inside the enclosing function). */
static int may_hold_subprograms(int tag, int in_function)
{
	switch (tag) {
	case DW_TAG_namespace:
		return 1;
	case DW_TAG_lexical_block:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
		return in_function;
	default:
		return 0;
	}
}

static void index_scope(struct unit *u, Dwarf_Die *scope, int in_function, int depth)
{
	Dwarf_Die d;

	if (depth > 64 || dwarf_child(scope, &d) != 0)
		return;
	do {
		int tag = dwarf_tag(&d);
		if (tag == DW_TAG_subprogram) {
			add_subprogram(u, &d);
			index_scope(u, &d, 1, depth + 1);
		} else if (may_hold_subprograms(tag, in_function)) {
			index_scope(u, &d, in_function, depth + 1);
		}
	} while (dwarf_siblingof(&d, &d) == 0);
}

static struct unit *find_unit(struct sfile *f, uint64_t vaddr)
{
	const struct range *r = ranges_find(&f->unit_ranges, vaddr);

	if (!r)
		return NULL;
	struct unit *u = &f->units[r->idx];
	if (!u->indexed) {
		u->indexed = 1;
		index_scope(u, &u->die, 0, 0);
		ranges_sort(&u->sub_ranges);
	}
	return u;
}

/* ---- DWARF: names, lines, inline trees ---- */

/* C++: the demangled linkage name (qualified, with parameters); C: DW_AT_name
 * (a C linkage name is an asm label such as glibc's __GI_ aliases). */
static const char *die_name(struct gl_symbolizer *s, Dwarf_Die *d)
{
	Dwarf_Attribute a;
	const char *link = dwarf_formstring(dwarf_attr_integrate(d, DW_AT_linkage_name, &a));
	const char *name = dwarf_diename(d);

	if (!link)
		link = dwarf_formstring(dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &a));
	if (link && (!name || !strncmp(link, "_Z", 2)))
		return demangled(s, link);
	return name;
}

static int die_int(Dwarf_Die *d, unsigned int name)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	return dwarf_formudata(dwarf_attr(d, name, &a), &w) == 0 ? (int)w : 0;
}

/* Call site of an inlined subroutine: file (from its unit's table), line, column. */
static void call_site(struct gl_symbolizer *s, struct unit *u, Dwarf_Die *d, struct inl *out)
{
	Dwarf_Attribute a;
	Dwarf_Word idx;
	Dwarf_Files *files;
	size_t n;

	out->call_line = die_int(d, DW_AT_call_line);
	out->call_column = die_int(d, DW_AT_call_column);
	if (dwarf_formudata(dwarf_attr(d, DW_AT_call_file, &a), &idx) == 0 &&
	    dwarf_getsrcfiles(&u->die, &files, &n) == 0 && idx < n)
		out->call_file = source_path(s, &u->die, dwarf_filesrc(files, idx, NULL, NULL));
}

static int add_inl(struct subprog *sp, Dwarf_Die *d, int parent)
{
	ptrdiff_t off = 0;
	Dwarf_Addr base, lo, hi;
	int k = (int)sp->n_inls;

	GL_GROW(sp->inls, sp->n_inls, sp->cap_inls);
	struct inl *n = &sp->inls[sp->n_inls++];
	memset(n, 0, sizeof(*n));
	n->die = *d;
	n->parent = parent;
	while ((off = dwarf_ranges(d, off, &base, &lo, &hi)) > 0)
		ranges_add(&sp->inl_ranges, lo, hi, (size_t)k);
	return k;
}

static int is_block(int tag)
{
	return tag == DW_TAG_lexical_block || tag == DW_TAG_try_block || tag == DW_TAG_catch_block;
}

/* Pre-order walk: an inlined subroutine's index is above its parent's. */
static void flatten(struct subprog *sp, Dwarf_Die *scope, int parent, int depth)
{
	Dwarf_Die d;

	if (depth > 256 || dwarf_child(scope, &d) != 0)
		return;
	do {
		int tag = dwarf_tag(&d);
		if (tag == DW_TAG_inlined_subroutine)
			flatten(sp, &d, add_inl(sp, &d, parent), depth + 1);
		else if (is_block(tag))
			flatten(sp, &d, parent, depth + 1);
	} while (dwarf_siblingof(&d, &d) == 0);
}

static const struct inl *inl_at(struct gl_symbolizer *s, struct unit *u, struct subprog *sp,
				 int k)
{
	struct inl *n = &sp->inls[k];

	if (!n->resolved) {
		n->resolved = 1;
		n->function = die_name(s, &n->die);
		call_site(s, u, &n->die, n);
	}
	return n;
}

static const char *own_prefix(struct gl_symbolizer *s, const char *str, size_t n)
{
	char *p = gl_xcalloc(n + 1, 1);

	memcpy(p, str, n);
	return own(s, p);
}

/* The name of a concrete subprogram.  Without a linkage name (C++ static
 * functions, a lambda's operator()) the symbol table's demangled name there
 * qualifies it, less GCC's " [clone .cold]" suffixes. */
static const char *concrete_name(struct gl_symbolizer *s, struct sfile *f, Dwarf_Die *d,
				 uint64_t pc)
{
	Dwarf_Attribute a;
	const char *name = die_name(s, d);

	if (dwarf_attr_integrate(d, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &a))
		return name;
	if (!f->syms_tried)
		load_symbols(f);
	const struct range *r = ranges_find(&f->syms, pc);
	const char *raw = r ? f->sym_names[r->idx] : NULL;
	const char *sym = demangled(s, raw);
	if (!raw || sym == raw || strncmp(raw, "_Z", 2) != 0)
		return name;
	const char *clone = strstr(sym, " [clone ");
	return clone ? own_prefix(s, sym, (size_t)(clone - sym)) : sym;
}

static struct subprog *find_subprog(struct gl_symbolizer *s, struct sfile *f, struct unit *u,
				    uint64_t pc)
{
	const struct range *r = ranges_find(&u->sub_ranges, pc);

	if (!r)
		return NULL;
	struct subprog *sp = &u->subs[r->idx];
	if (!sp->flat) {
		sp->flat = 1;
		sp->name = concrete_name(s, f, &sp->die, pc);
		flatten(sp, &sp->die, -1, 0);
		ranges_sort(&sp->inl_ranges);
	}
	return sp;
}

static void line_of(struct gl_symbolizer *s, struct unit *u, uint64_t pc,
		    struct gl_frame_info *out)
{
	Dwarf_Line *ln = dwarf_getsrc_die(&u->die, pc);

	if (!ln)
		return;
	out->file = source_path(s, &u->die, dwarf_linesrc(ln, NULL, NULL));
	dwarf_lineno(ln, &out->line);
	dwarf_linecol(ln, &out->column);
}

/* frames[0..]: innermost first; each outer line is the inner one's call site. */
static int fill_frames(struct gl_symbolizer *s, struct unit *u, struct subprog *sp, int inner,
		       const struct gl_frame_info *out, struct gl_inline_frame *frames, int max)
{
	int depth = 1;

	if (max > 0)
		frames[0] = (struct gl_inline_frame){ out->function, out->file, out->line, out->column };
	for (int k = inner; k >= 0; k = sp->inls[k].parent, depth++) {
		if (depth >= max)
			continue;
		const struct inl *n = inl_at(s, u, sp, k);
		const char *outer = n->parent >= 0 ? inl_at(s, u, sp, n->parent)->function : sp->name;
		frames[depth] = (struct gl_inline_frame){ outer, n->call_file, n->call_line,
							  n->call_column };
	}
	return depth;
}

static int dwarf_frame(struct gl_symbolizer *s, struct sfile *f, uint64_t pc,
		       struct gl_frame_info *out, struct gl_inline_frame *frames, int max)
{
	struct unit *u = find_unit(f, pc);

	if (!u)
		return 0;
	line_of(s, u, pc, out);
	struct subprog *sp = find_subprog(s, f, u, pc);
	if (!sp)
		return 0;
	const struct range *r = ranges_find(&sp->inl_ranges, pc);
	int inner = r ? (int)r->idx : -1;
	out->function = sp->name;
	if (inner >= 0) {
		const struct inl *n = inl_at(s, u, sp, inner);
		out->function = n->function;
		out->inlined_into = sp->name;
		out->call_file = n->call_file;
		out->call_line = n->call_line;
	}
	return fill_frames(s, u, sp, inner, out, frames, frames ? max : 0);
}

/* ---- files and mappings ---- */

static void sfile_free(struct sfile *f)
{
	for (size_t i = 0; i < f->n_units; i++) {
		struct unit *u = &f->units[i];
		for (size_t k = 0; k < u->n_subs; k++) {
			free(u->subs[k].inl_ranges.v);
			free(u->subs[k].inls);
		}
		free(u->sub_ranges.v);
		free(u->subs);
	}
	free(f->units);
	free(f->unit_ranges.v);
	free(f->syms.v);
	free(f->sym_names);
	if (f->dw)
		dwarf_end(f->dw);
	elf_end(f->debug_elf);
	if (f->debug_fd >= 0)
		close(f->debug_fd);
	elf_end(f->elf);
	close(f->fd);
	free(f->segs);
	free(f->build_id);
	free(f->path);
	free(f);
}

static struct sfile *sfile_open(int fd, const struct stat *st, const char *path)
{
	struct sfile *f = gl_xcalloc(1, sizeof(*f));

	f->fd = fd;
	f->debug_fd = -1;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->path = gl_xstrdup(path);
	f->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!f->elf || elf_kind(f->elf) != ELF_K_ELF) {
		sfile_free(f);
		return NULL;
	}
	read_segments(f);
	f->build_id = hex_build_id(f->elf);
	return f;
}

/* The file open_path names (path if that fails), opened once per inode. */
static struct sfile *file_for(struct gl_symbolizer *s, const char *path, const char *open_path)
{
	struct stat st;
	int fd = open(open_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 && open_path != path)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return NULL;
	}
	for (size_t i = 0; i < s->n_files; i++) {
		if (s->files[i]->dev == st.st_dev && s->files[i]->ino == st.st_ino) {
			close(fd);
			return s->files[i];
		}
	}
	struct sfile *f = sfile_open(fd, &st, path);
	if (f) {
		GL_GROW(s->files, s->n_files, s->cap_files);
		s->files[s->n_files++] = f;
	}
	return f;
}

static int known_mapping(const struct gl_symbolizer *s, uint64_t start, uint64_t end, uint64_t off,
			 const char *path)
{
	for (size_t i = s->n_maps; i-- > 0;) {
		const struct mapping *m = &s->maps[i];
		if (m->start == start && m->end == end && m->offset == off && !strcmp(m->path, path))
			return 1;
	}
	return 0;
}

static int add_mapping_from(struct gl_symbolizer *s, uint64_t start, uint64_t end, uint64_t off,
			    const char *path, const char *open_path)
{
	if (end <= start || !path)
		return -1;
	if (known_mapping(s, start, end, off, path))
		return 0;
	struct sfile *f = file_for(s, path, open_path);
	GL_GROW(s->maps, s->n_maps, s->cap_maps);
	s->maps[s->n_maps++] = (struct mapping){ start, end, off, mapping_delta(f, off),
						 gl_xstrdup(path), f };
	s->map_dirty = 1;
	return f ? 0 : -1;
}

static const struct mapping *find_mapping(struct gl_symbolizer *s, uint64_t ip)
{
	if (s->map_dirty) {
		s->map_index.n = 0;
		for (size_t i = 0; i < s->n_maps; i++)
			ranges_add(&s->map_index, s->maps[i].start, s->maps[i].end, i);
		ranges_sort(&s->map_index);
		s->map_dirty = 0;
	}
	const struct range *r = ranges_find(&s->map_index, ip);
	return r ? &s->maps[r->idx] : NULL;
}

/* One line of /proc/PID/maps: 1 when it is a file-backed executable mapping. */
static int add_maps_line(struct gl_symbolizer *s, int pid, char *line)
{
	unsigned long long start, end, off, ino;
	char perms[8], open_path[96];
	int at = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %*x:%*x %llu %n", &start, &end, perms, &off, &ino,
		   &at) < 5 || !at || perms[2] != 'x' || line[at] != '/')
		return 0;
	char *path = line + at;
	path[strcspn(path, "\n")] = '\0';
	size_t len = strlen(path);
	if (len > 10 && !strcmp(path + len - 10, " (deleted)"))
		path[len - 10] = '\0';
	snprintf(open_path, sizeof(open_path), "/proc/%d/map_files/%llx-%llx", pid, start, end);
	add_mapping_from(s, start, end, off, path, open_path);
	return 1;
}

/* ---- public API ---- */

struct gl_symbolizer *gl_symbolizer_new(void)
{
	if (elf_version(EV_CURRENT) == EV_NONE)
		return NULL;
	return gl_xcalloc(1, sizeof(struct gl_symbolizer));
}

int gl_symbolizer_add_mapping(struct gl_symbolizer *s, uint64_t start, uint64_t end,
			      uint64_t file_offset, const char *path)
{
	return add_mapping_from(s, start, end, file_offset, path, path);
}

int gl_symbolizer_add_process(struct gl_symbolizer *s, int pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int count = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *fp = fopen(path, "re");
	if (!fp)
		return -1;
	while (getline(&line, &cap, fp) > 0)
		count += add_maps_line(s, pid, line);
	free(line);
	fclose(fp);
	return count;
}

int gl_symbolize_inlines(struct gl_symbolizer *s, uint64_t runtime_ip, struct gl_frame_info *out,
			 struct gl_inline_frame *frames, int max)
{
	const struct mapping *m = find_mapping(s, runtime_ip);
	int depth = 0;

	memset(out, 0, sizeof(*out));
	if (!m)
		return -1;
	out->path = m->path;
	if (!m->file)
		return 0;
	struct sfile *f = m->file;
	uint64_t pc = runtime_ip - m->start + m->offset + m->delta;
	out->build_id = f->build_id;
	out->file_vaddr = pc;
	if (!f->dwarf_tried)
		open_dwarf(f);
	if (f->dw)
		depth = dwarf_frame(s, f, pc, out, frames, max);
	if (!out->function)
		out->function = symbol_name(s, f, pc);
	if (depth == 0 && (out->function || out->file)) {
		if (max > 0 && frames)
			frames[0] = (struct gl_inline_frame){ out->function, out->file, out->line,
							      out->column };
		depth = 1;
	}
	return depth;
}

int gl_symbolize(struct gl_symbolizer *s, uint64_t runtime_ip, struct gl_frame_info *out)
{
	return gl_symbolize_inlines(s, runtime_ip, out, NULL, 0) < 0 ? -1 : 0;
}

void gl_symbolizer_free(struct gl_symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_files; i++)
		sfile_free(s->files[i]);
	for (size_t i = 0; i < s->n_maps; i++)
		free(s->maps[i].path);
	for (size_t i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
	free(s->files);
	free(s->maps);
	free(s->map_index.v);
	free(s->owned);
	free(s->dc.keys);
	free(s->dc.vals);
	free(s->paths.keys);
	free(s->paths.vals);
	if (s->libstdcxx)
		dlclose(s->libstdcxx);
	free(s);
}
