#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <elf.h>
#include <string.h>
#include <fcntl.h>
#include <gelf.h>
#include <unistd.h>
#include <sys/stat.h>
#include "plan.h"

const char *const PLAN_BACKEND_SYMBOLS[PLAN_BACKEND_FNS] = {
	[PLAN_BACKEND_GRAPH] = "ggml_backend_graph_compute_async",
	[PLAN_SCHED_GRAPH] = "ggml_backend_sched_graph_compute_async",
	[PLAN_TENSOR_COPY] = "ggml_backend_tensor_copy",
	[PLAN_TENSOR_COPY_ASYNC] = "ggml_backend_tensor_copy_async",
	[PLAN_TENSOR_SET_ASYNC] = "ggml_backend_tensor_set_async",
	[PLAN_BACKEND_NAME] = "ggml_backend_name",
	[PLAN_DEVICE_NAME] = "ggml_backend_dev_name",
};

#define ERR(plan, ...) (snprintf((plan)->error, sizeof((plan)->error), __VA_ARGS__), -1)

static int has_symbol(const struct gl_layout *l, const char *name)
{
	return gl_find_symbol(l, name) != NULL;
}

static const struct gl_layout *lib_with_symbol(const struct plan *plan, const char *name)
{
	for (size_t i = 0; i < plan->n_libs; i++)
		if (has_symbol(plan->libs[i], name))
			return plan->libs[i];
	return NULL;
}

#define ENTRY_PROBE_SKIP_MAX 8 /* entry_probe_offset moves a probe at most this far: endbr64, test */

static int is_push(const uint8_t *i)
{
	return (i[0] & 0xf8) == 0x50 || (i[0] == 0x41 && (i[1] & 0xf8) == 0x50);
}

static int is_conditional_jump(const uint8_t *i)
{
	return (i[0] & 0xf0) == 0x70 || (i[0] == 0x0f && (i[1] & 0xf0) == 0x80);
}

/* Where to probe the entry of the function at file offset off. The kernel single-steps a probed
 * instruction it cannot emulate: 20-24 us a hit in a VM, against ~6 us for an emulated push or
 * branch. A function that starts with [endbr64] push, or [endbr64] test r64,r64 then a conditional
 * jump, is probed at the push or the jump: endbr64 and test touch neither the stack nor the argument
 * registers (arguments and, for uretprobes, the return address are where they were at entry), and
 * neither a push nor a jump on the test's flags is a branch target within the function. Any other
 * instruction (a call site's call) is probed where it is. */
static uint64_t entry_probe_offset(const char *path, uint64_t off)
{
	static const uint8_t ENDBR64[] = { 0xf3, 0x0f, 0x1e, 0xfa };
	uint8_t code[12];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? pread(fd, code, sizeof(code), (off_t)off) : -1;
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(code))
		return off;
	size_t at = memcmp(code, ENDBR64, sizeof(ENDBR64)) ? 0 : sizeof(ENDBR64);
	const uint8_t *i = code + at;
	if (is_push(i))
		return off + at;
	if ((i[0] & 0xf8) == 0x48 && i[1] == 0x85 && (i[2] & 0xc0) == 0xc0 && is_conditional_jump(i + 3)) /* test r64,r64 */
		return off + at + 3;
	return off;
}

static struct probe_point symbol_point(const struct gl_layout *l, const char *name)
{
	struct probe_point p = { 0 };
	const struct gl_symbol *s = l ? gl_find_symbol(l, name) : NULL;
	if (s && gl_file_offset(l, s->addr, &p.file_offset) == 0) {
		p.path = l->path;
		p.file_offset = entry_probe_offset(l->path, p.file_offset);
		p.found = 1;
	}
	return p;
}

static int64_t field_offset(const struct gl_struct *s, const char *name)
{
	const struct gl_field *f = s ? gl_find_field(s, name) : NULL;
	return f && f->found ? (int64_t)f->offset : -1;
}

static int64_t field_count(const struct gl_struct *s, const char *name)
{
	const struct gl_field *f = s ? gl_find_field(s, name) : NULL;
	return f && f->found ? (int64_t)f->count : -1;
}

static const struct gl_struct *found_struct(const struct gl_layout *l, const char *name)
{
	const struct gl_struct *s = l ? gl_find_struct(l, name) : NULL;
	return s && s->found ? s : NULL;
}

static int64_t enum_value(const struct gl_layout *l, const char *enum_name, const char *item)
{
	const struct gl_enum *e = l ? gl_find_enum(l, enum_name) : NULL;
	for (size_t i = 0; e && e->found && i < e->n; i++)
		if (strcmp(e->items[i].name, item) == 0)
			return e->items[i].value;
	return -1;
}

static int64_t name_index(const struct gl_names *names, const char *item)
{
	for (size_t i = 0; names && i < names->n; i++)
		if (names->v[i] && strcmp(names->v[i], item) == 0)
			return (int64_t)i;
	return -1;
}

/* Struct offsets from the first library whose DWARF describes struct ggml_tensor. */
static int fill_layout(struct plan *plan)
{
	const struct gl_layout *candidates[] = { plan->cpu, plan->base, plan->llama };
	const struct gl_layout *from = NULL;
	const struct gl_struct *tensor = NULL;
	for (size_t i = 0; i < 3 && !tensor; i++)
		if ((tensor = found_struct(candidates[i], "ggml_tensor")))
			from = candidates[i];
	if (!tensor)
		return ERR(plan, "no DWARF description of struct ggml_tensor in %s or its ggml libraries; "
				 "build llama.cpp with -DCMAKE_BUILD_TYPE=RelWithDebInfo (or Debug) to profile it",
			   (plan->cpu ? plan->cpu : plan->base)->path);
	struct tensor_layout *t = &plan->layout;
	t->type = field_offset(tensor, "type");
	t->ne = field_offset(tensor, "ne");
	t->nb = field_offset(tensor, "nb");
	t->op = field_offset(tensor, "op");
	t->op_params = field_offset(tensor, "op_params");
	t->flags = field_offset(tensor, "flags");
	t->src = field_offset(tensor, "src");
	t->data = field_offset(tensor, "data");
	t->name = field_offset(tensor, "name");
	t->n_dims = field_count(tensor, "ne");
	t->n_src = field_count(tensor, "src");
	t->name_len = field_count(tensor, "name");
	const struct gl_struct *graph = found_struct(from, "ggml_cgraph");
	t->graph_n_nodes = field_offset(graph, "n_nodes");
	t->graph_nodes = field_offset(graph, "nodes");
	t->graph_uid = field_offset(graph, "uid");
	t->params_ith = field_offset(found_struct(plan->cpu, "ggml_compute_params"), "ith");
	t->batch_n_tokens = field_offset(found_struct(plan->llama, "llama_batch"), "n_tokens");
	t->source = from->path;
	int64_t required[] = { t->type, t->ne, t->nb, t->op, t->flags, t->src, t->name, t->n_dims, t->n_src,
			       t->name_len, t->graph_n_nodes, t->graph_nodes };
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (required[i] < 0)
			return ERR(plan, "the DWARF of %s lacks a field of ggml_tensor or ggml_cgraph that ggml-lens reads; "
					 "this ggml version is not supported",
				   from->path);
	t->flag_compute = enum_value(from, "ggml_tensor_flag", "GGML_TENSOR_FLAG_COMPUTE");
	const struct gl_struct *backend = found_struct(plan->base, "ggml_backend");
	if (!backend)
		backend = found_struct(plan->cpu, "ggml_backend");
	t->backend_graph_compute = field_offset(backend, "iface.graph_compute");
	t->backend_device = field_offset(backend, "device");
	t->op_none = enum_value(from, "ggml_op", "GGML_OP_NONE");
	if (t->op_none < 0)
		t->op_none = name_index(plan->op_names, "NONE");
	t->op_mul_mat_id = enum_value(from, "ggml_op", "GGML_OP_MUL_MAT_ID");
	if (t->op_mul_mat_id < 0)
		t->op_mul_mat_id = name_index(plan->op_names, "MUL_MAT_ID");
	return 0;
}

static int loc_reg(const struct gl_loc *loc)
{
	return loc->kind == GL_LOC_REG ? loc->reg : -1;
}

static int add_site(struct plan *plan, const struct gl_layout *lib, enum gl_site_kind kind, const struct gl_probe *probe)
{
	if (plan->n_sites >= PLAN_MAX_SITES)
		return ERR(plan, "more than %d op probe sites in the CPU backends", PLAN_MAX_SITES);
	struct op_site *s = &plan->sites[plan->n_sites];
	memset(s, 0, sizeof(*s));
	if (gl_file_offset(lib, probe->addr, &s->file_offset) != 0)
		return ERR(plan, "address 0x%llx (%s) is not backed by %s", (unsigned long long)probe->addr, probe->what,
			   lib->path);
	uint64_t probed = entry_probe_offset(lib->path, s->file_offset); /* a kernel's entry (symbols only) */
	s->kind = kind;
	s->lib = lib;
	s->what = probe->what;
	s->vaddr = probe->addr + (probed - s->file_offset);
	s->file_offset = probed;
	s->tensor_reg = loc_reg(&probe->tensor);
	s->params_reg = loc_reg(&probe->params);
	if (kind != GL_SITE_OP_END && s->tensor_reg < 0)
		return ERR(plan, "%s: the tensor pointer is not in a register at %s", lib->path, probe->what);
	plan->n_sites++;
	return 0;
}

/* Symbols only: ggml_barrier's entry ends an op when called from the compute loop itself,
 * not from a kernel that synchronizes internally; the loop function bounds that check. */
static void bound_barrier_entry(const struct gl_layout *lib, struct op_site *end)
{
	const struct gl_symbol *barrier = gl_find_symbol(lib, "ggml_barrier");
	if (!barrier || end->vaddr < barrier->addr || end->vaddr - barrier->addr >= ENTRY_PROBE_SKIP_MAX)
		return; /* not at its entry (entry_probe_offset may have moved the probe past endbr64) */
	end->barrier_vaddr = end->vaddr;
	for (size_t i = 0; i < lib->symbols.n; i++)
		if (strncmp(lib->symbols.v[i].name, "ggml_graph_compute_thread", 25) == 0 && lib->symbols.v[i].size) {
			end->caller_lo = lib->symbols.v[i].addr;
			end->caller_hi = lib->symbols.v[i].addr + lib->symbols.v[i].size;
			return;
		}
}

/* Op spans: start where every op enters the dispatch, end where the compute loop reaches the
 * barrier after it; fused groups start where the loop calls the fused kernel. The analysis
 * (target/plan.c) derives these from DWARF call sites, or from symbols without DWARF. */
static int plan_sites(struct plan *plan, const struct gl_layout *lib)
{
	const struct gl_plan *p = &lib->plan;
	if (!p->op_start.have || !p->n_op_end)
		return ERR(plan, "%s: no usable op probe sites (%s); use --mode sample", lib->path,
			   lib->errors.n ? lib->errors.v[0] : "no op dispatch found");
	if (add_site(plan, lib, GL_SITE_OP_START, &p->op_start))
		return -1;
	for (size_t i = 0; i < p->n_outside; i++)
		if (add_site(plan, lib, GL_SITE_OP_FUSED, &p->outside[i]))
			return -1;
	for (size_t i = 0; i < p->n_op_end; i++) {
		if (add_site(plan, lib, GL_SITE_OP_END, &p->op_end[i]))
			return -1;
		bound_barrier_entry(lib, &plan->sites[plan->n_sites - 1]);
	}
	return 0;
}

static const char *basename_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/* A donor library of the layout_from build: the one playing the same role, with DWARF. */
static const struct gl_layout *donor_for(const struct plan *plan, const struct gl_layout *l)
{
	static const char *const roles[] = { "ggml_graph_compute", "llama_decode", "ggml_op_name" };
	for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++) {
		if (!gl_find_symbol(l, roles[r]))
			continue;
		for (size_t i = 0; i < plan->n_donors; i++)
			if (plan->donors[i]->has_dwarf && gl_find_symbol(plan->donors[i], roles[r]))
				return plan->donors[i];
	}
	return NULL;
}

#if defined(__x86_64__)
#define HOST_ELF_MACHINE EM_X86_64
#elif defined(__aarch64__)
#define HOST_ELF_MACHINE EM_AARCH64
#else
#error "ggml-lens-probe supports x86-64 and aarch64 hosts"
#endif

static int add_library(struct plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->n_libs; i++)
		if (strcmp(plan->libs[i]->path, path) == 0)
			return 0;
	if (plan->n_libs >= PLAN_MAX_LIBS)
		return 0;
	struct gl_layout *l = gl_layout_analyze(path);
	if (!l)
		return ERR(plan, "out of memory analysing %s", path);
	const struct gl_layout *donor = l->is_elf && !l->has_dwarf ? donor_for(plan, l) : NULL;
	if (donor) {
		gl_layout_free(l);
		if (!(l = gl_layout_analyze_with(path, donor)))
			return ERR(plan, "out of memory analysing %s", path);
	}
	if (!l->is_elf) {
		gl_layout_free(l);
		return 0;
	}
	if (l->machine != HOST_ELF_MACHINE) {
		int rc = ERR(plan, "%s is built for another architecture (ELF machine %u) than this helper and machine (%u); "
				   "profile it on a machine of its own architecture with a helper built there",
			     path, l->machine, HOST_ELF_MACHINE);
		gl_layout_free(l);
		return rc;
	}
	plan->libs[plan->n_libs++] = l;
	return 0;
}

static int is_shared_object(const char *name)
{
	return strstr(name, ".so") != NULL;
}

/* Uprobes belong to files (inodes), whatever path names them: a library is known by its inode. */
static int known_library(const struct plan *plan, const char *path)
{
	struct stat a, b;
	if (stat(path, &a))
		return 1; /* gone: nothing to probe */
	for (size_t i = 0; i < plan->n_libs; i++)
		if (stat(plan->libs[i]->path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return 1;
	return 0;
}

/* ggml loads CPU backend variants with dlopen from the directory of its own libraries (each file
 * once: libggml-cpu.so, .so.0 and .so.0.23.0 may be links to one). */
static int add_dlopen_candidates(struct plan *plan)
{
	size_t n = plan->n_libs;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(basename_of(plan->libs[i]->path), "libggml", 7) != 0)
			continue;
		char dir[4096];
		snprintf(dir, sizeof(dir), "%s", plan->libs[i]->path);
		*(char *)basename_of(dir) = 0;
		DIR *d = opendir(dir);
		for (struct dirent *e; d && (e = readdir(d));) {
			char path[4096 + 256];
			if (strncmp(e->d_name, "libggml-cpu", 11) != 0 || !is_shared_object(e->d_name))
				continue;
			snprintf(path, sizeof(path), "%s%s", dir, e->d_name);
			if (known_library(plan, path))
				continue;
			if (add_library(plan, path)) {
				closedir(d);
				return -1;
			}
		}
		if (d)
			closedir(d);
	}
	return 0;
}

static int open_donors(struct plan *plan, const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return ERR(plan, "--layout-from %s: %s", dir, strerror(errno));
	for (struct dirent *e; (e = readdir(d)) && plan->n_donors < PLAN_MAX_LIBS;) {
		char path[4096 + 256];
		if (strncmp(e->d_name, "lib", 3) != 0 || !is_shared_object(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct gl_layout *l = gl_layout_analyze(path);
		if (l && l->is_elf && l->has_dwarf)
			plan->donors[plan->n_donors++] = l;
		else if (l)
			gl_layout_free(l);
	}
	closedir(d);
	if (!plan->n_donors)
		return ERR(plan, "--layout-from %s: no library with DWARF there; give the bin/ directory of a "
				 "RelWithDebInfo or Debug build of the same ggml",
			   dir);
	return 0;
}

static int is_cpu_backend(const struct gl_layout *l)
{
	return gl_find_symbol(l, "ggml_graph_compute") != NULL;
}

static void add_cpu(struct plan *plan, const struct gl_layout *l)
{
	if (plan->n_cpus >= PLAN_MAX_CPUS)
		return;
	plan->graph_compute[plan->n_cpus] = symbol_point(l, "ggml_graph_compute");
	plan->cpus[plan->n_cpus++] = l;
}

static void find_roles(struct plan *plan)
{
	for (size_t i = 0; i < plan->n_libs; i++) {
		const struct gl_layout *l = plan->libs[i];
		if (is_cpu_backend(l))
			add_cpu(plan, l);
		if (!plan->llama && gl_find_symbol(l, "llama_decode"))
			plan->llama = l;
		if (!plan->base && l->op_names.found)
			plan->base = l;
	}
	plan->cpu = plan->n_cpus ? plan->cpus[0] : NULL;
}

static void set_op_method(struct plan *plan)
{
	plan->op_method = strcmp(plan->cpu->sites_mode, "dwarf") == 0 ? "dwarf-inline" : "symbols";
}

int plan_is_other_backend(const char *path)
{
	const char *name = basename_of(path);
	return strncmp(name, "libggml-", 8) == 0 && strncmp(name, "libggml-base", 12) != 0 &&
	       strncmp(name, "libggml-cpu", 11) != 0 && is_shared_object(name);
}

static int dir_has_other_backend(const char *lib_path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", lib_path);
	*(char *)basename_of(dir) = 0;
	DIR *d = opendir(dir);
	int found = 0;
	for (struct dirent *e; d && !found && (e = readdir(d));)
		found = plan_is_other_backend(e->d_name);
	if (d)
		closedir(d);
	return found;
}

/* Whether the program may compute graphs on a backend other than the CPU's, so that the scheduler
 * may split a graph: a ggml backend library other than the CPU's among its libraries or beside its
 * ggml libraries (where ggml dlopens backends from), or a ggml linked in whole (whatever backends it
 * was built with). A program whose ggml can only use the CPU computes each graph as one split, whose
 * backend calls say all the scheduler's would. */
static int may_split_graphs(const struct plan *plan)
{
	const struct probe_point *sched = &plan->backend_fns[PLAN_SCHED_GRAPH];
	if (sched->found && strncmp(basename_of(sched->path), "libggml-base", 12) != 0)
		return 1;
	for (size_t i = 0; i < plan->n_libs; i++) {
		const char *path = plan->libs[i]->path;
		if (plan_is_other_backend(path) || (strncmp(basename_of(path), "libggml", 7) == 0 && dir_has_other_backend(path)))
			return 1;
	}
	return 0;
}

int plan_build(struct plan *plan, const char *const *paths, size_t n_paths, const char *layout_from)
{
	memset(plan, 0, sizeof(*plan));
	if (layout_from && open_donors(plan, layout_from))
		return -1;
	for (size_t i = 0; i < n_paths; i++)
		if (add_library(plan, paths[i]))
			return -1;
	if (!lib_with_symbol(plan, "ggml_graph_compute") && add_dlopen_candidates(plan))
		return -1;
	find_roles(plan);
	if (!plan->cpu && !plan->base)
		return ERR(plan, "%s: no ggml CPU backend (symbol ggml_graph_compute) in the program or its libraries; "
				 "is it a ggml / llama.cpp program?",
			   n_paths ? paths[0] : "target");
	if (!plan->base)
		return ERR(plan, "the ggml op-name table (GGML_OP_NAME) was not found in the program's libraries");
	plan->op_names = &plan->base->op_names;
	plan->traits_from = plan->base;
	plan->decode = symbol_point(plan->llama, "llama_decode");
	for (size_t i = 0; i < PLAN_BACKEND_FNS; i++)
		plan->backend_fns[i] = symbol_point(lib_with_symbol(plan, PLAN_BACKEND_SYMBOLS[i]), PLAN_BACKEND_SYMBOLS[i]);
	plan->may_split_graphs = may_split_graphs(plan);
	if (fill_layout(plan))
		return -1;
	if (plan->cpu)
		set_op_method(plan);
	for (size_t i = 0; i < plan->n_cpus; i++)
		if (plan_sites(plan, plan->cpus[i]))
			return -1;
	return 0;
}

/* Whether the ELF file defines `name` in .dynsym or .symtab: a cheap look before the full analysis
 * of its DWARF, which a library that is no CPU backend does not need. */
static int defines_symbol(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
	Elf *elf = fd < 0 || elf_version(EV_CURRENT) == EV_NONE ? NULL : elf_begin(fd, ELF_C_READ_MMAP, NULL);
	for (Elf_Scn *scn = NULL; elf && !found && (scn = elf_nextscn(elf, scn));) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB) || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && !found && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *sym_name = gelf_getsym(data, (int)i, &sym) ? elf_strptr(elf, sh.sh_link, sym.st_name) : NULL;
			found = sym.st_shndx != SHN_UNDEF && sym_name && strcmp(sym_name, name) == 0;
		}
	}
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
	return found;
}

int plan_add_late_library(struct plan *plan, const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real) || known_library(plan, real) || !defines_symbol(real, "ggml_graph_compute"))
		return 0;
	size_t n_libs = plan->n_libs, n_sites = plan->n_sites;
	if (add_library(plan, real))
		return -1;
	if (plan->n_libs == n_libs || !is_cpu_backend(plan->libs[n_libs]))
		return 0;
	const struct gl_layout *lib = plan->libs[n_libs];
	if (plan->n_cpus >= PLAN_MAX_CPUS)
		return ERR(plan, "%.400s: more than %d CPU backends loaded; not probed", real, PLAN_MAX_CPUS);
	int first_cpu = !plan->cpu;
	if (plan_sites(plan, lib)) {
		plan->n_sites = n_sites;
		return -1;
	}
	add_cpu(plan, lib);
	if (first_cpu) {
		plan->cpu = lib;
		plan->layout.params_ith = field_offset(found_struct(lib, "ggml_compute_params"), "ith");
		set_op_method(plan);
	}
	plan->late[plan->n_late++] = (struct late_library){ .lib = lib, .first_site = n_sites, .n_sites = plan->n_sites - n_sites };
	return 1;
}

void plan_free(struct plan *plan)
{
	for (size_t i = 0; i < plan->n_libs; i++)
		gl_layout_free(plan->libs[i]);
	for (size_t i = 0; i < plan->n_donors; i++)
		gl_layout_free(plan->donors[i]);
	plan->n_libs = plan->n_donors = 0;
}
