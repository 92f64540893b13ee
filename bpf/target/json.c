/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/* gl_layout -> one JSON object.  Addresses are vaddrs; *Offset members
 * are file offsets (what a uprobe takes). */
#include <elf.h>
#include <inttypes.h>
#include <string.h>

#include "internal.h"

struct jw {
	FILE *f;
	int pretty, depth;
	int first[64]; /* no member written yet at this depth */
};

static void jw_sep(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = 0;
	if (w->pretty && w->depth)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	if (!key)
		return;
	fputc('"', w->f);
	fputs(key, w->f); /* keys are ours: plain ASCII */
	fputs(w->pretty ? "\": " : "\":", w->f);
}

static void jw_raw_str(struct jw *w, const char *s)
{
	fputc('"', w->f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(w->f, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(w->f, "\\u%04x", *p);
		else
			fputc(*p, w->f);
	}
	fputc('"', w->f);
}

static void jw_open(struct jw *w, const char *key, char c)
{
	jw_sep(w, key);
	fputc(c, w->f);
	w->first[++w->depth] = 1;
}

static void jw_close(struct jw *w, char c)
{
	int empty = w->first[w->depth];
	w->depth--;
	if (w->pretty && !empty)
		fprintf(w->f, "\n%*s", 2 * w->depth, "");
	fputc(c, w->f);
}

#define jw_obj(w, k) jw_open(w, k, '{')
#define jw_end_obj(w) jw_close(w, '}')
#define jw_arr(w, k) jw_open(w, k, '[')
#define jw_end_arr(w) jw_close(w, ']')

static void jw_str(struct jw *w, const char *key, const char *s)
{
	jw_sep(w, key);
	if (s)
		jw_raw_str(w, s);
	else
		fputs("null", w->f);
}

static void jw_int(struct jw *w, const char *key, int64_t v)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRId64, v);
}

static void jw_uint(struct jw *w, const char *key, uint64_t v)
{
	jw_sep(w, key);
	fprintf(w->f, "%" PRIu64, v);
}

static void jw_bool(struct jw *w, const char *key, int v)
{
	jw_sep(w, key);
	fputs(v ? "true" : "false", w->f);
}

static void jw_null(struct jw *w, const char *key)
{
	jw_sep(w, key);
	fputs("null", w->f);
}

/* "name": vaddr and "nameOffset": file offset (null if not in the file). */
static void jw_addr(struct jw *w, const struct gl_layout *l, const char *key, uint64_t a)
{
	char k[64];
	uint64_t off;

	jw_uint(w, key, a);
	snprintf(k, sizeof(k), "%sOffset", key);
	if (gl_file_offset(l, a, &off) == 0)
		jw_uint(w, k, off);
	else
		jw_null(w, k);
}

static void jw_strlist(struct jw *w, const char *key, const struct gl_strlist *sl)
{
	jw_arr(w, key);
	for (size_t i = 0; i < sl->n; i++)
		jw_str(w, NULL, sl->v[i]);
	jw_end_arr(w);
}

static const char *const LOC_KIND[] = {"none", "reg", "regOffset", "mem", "const", "unsupported"};

static void write_loc(struct jw *w, const char *key, const struct gl_loc *loc)
{
	jw_obj(w, key);
	jw_str(w, "kind", LOC_KIND[loc->kind]);
	if (loc->reg >= 0 && loc->kind != GL_LOC_NONE) {
		jw_str(w, "reg", gl_reg_name(loc->reg));
		jw_str(w, "ptRegs", gl_ptregs_field(loc->reg));
		jw_int(w, "dwarfReg", loc->reg);
	}
	if (loc->kind == GL_LOC_REG_OFFSET || loc->kind == GL_LOC_MEM || loc->kind == GL_LOC_CONST)
		jw_int(w, loc->kind == GL_LOC_CONST ? "value" : "offset", loc->offset);
	jw_str(w, "expr", loc->expr);
	jw_end_obj(w);
}

static void write_field(struct jw *w, const struct gl_field *f)
{
	jw_obj(w, f->name);
	jw_uint(w, "offset", f->offset);
	jw_uint(w, "size", f->size);
	if (f->count) {
		jw_uint(w, "count", f->count);
		jw_uint(w, "elemSize", f->elem_size);
	}
	jw_end_obj(w);
}

static void write_structs(struct jw *w, const struct gl_layout *l)
{
	jw_obj(w, "structs");
	for (size_t i = 0; i < l->n_structs; i++) {
		const struct gl_struct *s = &l->structs[i];
		if (!s->found)
			continue;
		jw_obj(w, s->name);
		jw_uint(w, "size", s->size);
		jw_str(w, "source", l->layout_donor ? "dwarf-donor" : "dwarf");
		jw_obj(w, "fields");
		for (size_t k = 0; k < s->n_fields; k++)
			if (s->fields[k].found)
				write_field(w, &s->fields[k]);
		jw_end_obj(w);
		jw_arr(w, "missingFields");
		for (size_t k = 0; k < s->n_fields; k++)
			if (!s->fields[k].found)
				jw_str(w, NULL, s->fields[k].name);
		jw_end_arr(w);
		jw_end_obj(w);
	}
	jw_end_obj(w);
}

/* Array bounds of ggml_tensor members are ggml's compile-time limits. */
static void write_constants(struct jw *w, const struct gl_layout *l)
{
	const struct gl_struct *t = gl_find_struct(l, "ggml_tensor");
	const struct gl_field *f;

	jw_obj(w, "constants");
	if (t && t->found) {
		if ((f = gl_find_field(t, "ne")) && f->count)
			jw_uint(w, "GGML_MAX_DIMS", f->count);
		if ((f = gl_find_field(t, "src")) && f->count)
			jw_uint(w, "GGML_MAX_SRC", f->count);
		if ((f = gl_find_field(t, "name")) && f->count)
			jw_uint(w, "GGML_MAX_NAME", f->count);
		if ((f = gl_find_field(t, "op_params")) && f->found) {
			jw_uint(w, "GGML_MAX_OP_PARAMS", f->size);
			jw_uint(w, "opParamsCount", f->count);
		}
		jw_uint(w, "GGML_TENSOR_SIZE", t->size);
	}
	jw_end_obj(w);
}

static void write_enums(struct jw *w, const struct gl_layout *l)
{
	jw_obj(w, "enums");
	for (size_t i = 0; i < l->n_enums; i++) {
		const struct gl_enum *e = &l->enums[i];
		if (!e->found)
			continue;
		jw_obj(w, e->name);
		for (size_t k = 0; k < e->n; k++)
			jw_int(w, e->items[k].name, e->items[k].value);
		jw_end_obj(w);
	}
	jw_end_obj(w);
}

static void write_names(struct jw *w, const char *key, const struct gl_names *n)
{
	if (!n->found) {
		jw_null(w, key);
		return;
	}
	jw_arr(w, key);
	for (size_t i = 0; i < n->n; i++)
		jw_str(w, NULL, n->v[i]);
	jw_end_arr(w);
}

static void write_traits(struct jw *w, const struct gl_layout *l)
{
	if (!l->traits_source) {
		jw_null(w, "typeTraits");
		return;
	}
	jw_arr(w, "typeTraits");
	for (size_t i = 0; i < l->n_traits; i++) {
		const struct gl_type_trait *t = &l->traits[i];
		jw_obj(w, NULL);
		jw_int(w, "type", t->type);
		jw_str(w, "name", t->name);
		jw_int(w, "blckSize", t->blck_size);
		jw_uint(w, "typeSize", t->type_size);
		jw_bool(w, "isQuantized", t->is_quantized);
		if (t->has_interleave)
			jw_int(w, "blckSizeInterleave", t->blck_size_interleave);
		jw_end_obj(w);
	}
	jw_end_arr(w);
}

static void write_call(struct jw *w, const struct gl_layout *l, const struct gl_call *c)
{
	jw_obj(w, NULL);
	jw_str(w, "callee", c->callee);
	jw_str(w, "inlinedIn", c->inlined_in);
	jw_addr(w, l, "returnPc", c->return_pc);
	if (c->call_pc)
		jw_addr(w, l, "callPc", c->call_pc);
	else
		jw_null(w, "callPc");
	if (c->tail)
		jw_bool(w, "tail", 1);
	jw_arr(w, "args");
	for (size_t i = 0; i < c->n_args; i++)
		write_loc(w, NULL, &c->args[i]);
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_param(struct jw *w, const struct gl_param *p)
{
	jw_obj(w, NULL);
	jw_str(w, "name", p->name);
	write_loc(w, "atEntry", &p->at_entry);
	write_loc(w, "atLowPc", &p->at_low);
	jw_arr(w, "list");
	for (size_t i = 0; i < p->n_list; i++) {
		jw_obj(w, NULL);
		jw_uint(w, "lo", p->list[i].lo);
		jw_uint(w, "hi", p->list[i].hi);
		write_loc(w, "loc", &p->list[i].loc);
		jw_end_obj(w);
	}
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_instance(struct jw *w, const struct gl_layout *l, const struct gl_instance *in)
{
	jw_obj(w, NULL);
	jw_str(w, "func", in->func);
	jw_bool(w, "inlined", in->inlined);
	jw_str(w, "caller", in->caller);
	jw_addr(w, l, "callerAddr", in->caller_addr);
	jw_str(w, "callFile", in->call_file);
	jw_int(w, "callLine", in->call_line);
	jw_addr(w, l, "entryPc", in->entry_pc);
	jw_addr(w, l, "lowPc", in->low_pc);
	jw_addr(w, l, "highPc", in->high_pc);
	jw_arr(w, "ranges");
	for (size_t i = 0; i < in->n_ranges; i++) {
		jw_arr(w, NULL);
		jw_uint(w, NULL, in->ranges[i].lo);
		jw_uint(w, NULL, in->ranges[i].hi);
		jw_end_arr(w);
	}
	jw_end_arr(w);
	jw_arr(w, "params");
	for (size_t i = 0; i < in->n_params; i++)
		write_param(w, &in->params[i]);
	jw_end_arr(w);
	jw_arr(w, "calls");
	for (size_t i = 0; i < in->n_calls; i++)
		write_call(w, l, &in->calls[i]);
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_probe(struct jw *w, const struct gl_layout *l, const char *key,
			const struct gl_probe *p)
{
	if (!p->have) {
		jw_null(w, key);
		return;
	}
	jw_obj(w, key);
	jw_str(w, "what", p->what);
	jw_addr(w, l, "addr", p->addr);
	if (p->params.kind != GL_LOC_NONE)
		write_loc(w, "params", &p->params);
	if (p->tensor.kind != GL_LOC_NONE)
		write_loc(w, "tensor", &p->tensor);
	jw_end_obj(w);
}

static void write_sites(struct jw *w, const struct gl_layout *l)
{
	jw_obj(w, "sites");
	jw_str(w, "mode", l->sites_mode);
	jw_obj(w, "plan");
	write_probe(w, l, "opStart", &l->plan.op_start);
	jw_arr(w, "opEnd");
	for (size_t i = 0; i < l->plan.n_op_end; i++)
		write_probe(w, l, NULL, &l->plan.op_end[i]);
	jw_end_arr(w);
	jw_arr(w, "outsideSwitch");
	for (size_t i = 0; i < l->plan.n_outside; i++)
		write_probe(w, l, NULL, &l->plan.outside[i]);
	jw_end_arr(w);
	jw_end_obj(w);
	jw_arr(w, "instances");
	for (size_t i = 0; i < l->instances.n; i++)
		write_instance(w, l, &l->instances.v[i]);
	jw_end_arr(w);
	jw_arr(w, "symbols");
	for (size_t i = 0; i < l->symbols.n; i++) {
		const struct gl_symbol *s = &l->symbols.v[i];
		jw_obj(w, NULL);
		jw_str(w, "name", s->name);
		jw_addr(w, l, "addr", s->addr);
		jw_uint(w, "size", s->size);
		jw_bool(w, "global", s->global);
		jw_bool(w, "exported", s->dynamic);
		jw_end_obj(w);
	}
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_elf(struct jw *w, const struct gl_layout *l)
{
	jw_obj(w, "elf");
	jw_int(w, "class", l->elf_class);
	jw_str(w, "machine", l->machine == EM_X86_64 ? "x86_64" : l->machine == EM_AARCH64 ? "aarch64" : "other");
	jw_str(w, "type", l->elf_type == ET_DYN ? "DYN" : l->elf_type == ET_EXEC ? "EXEC" : "other");
	jw_bool(w, "hasSymtab", l->has_symtab);
	jw_bool(w, "hasDynsym", l->has_dynsym);
	jw_arr(w, "loads");
	for (size_t i = 0; i < l->n_loads; i++) {
		const struct gl_load *ld = &l->loads[i];
		char fl[4] = {ld->flags & PF_R ? 'r' : '-', ld->flags & PF_W ? 'w' : '-',
			      ld->flags & PF_X ? 'x' : '-', 0};
		jw_obj(w, NULL);
		jw_uint(w, "vaddr", ld->vaddr);
		jw_uint(w, "offset", ld->offset);
		jw_uint(w, "filesz", ld->filesz);
		jw_uint(w, "memsz", ld->memsz);
		jw_str(w, "flags", fl);
		jw_end_obj(w);
	}
	jw_end_arr(w);
	jw_end_obj(w);
}

static int any_struct(const struct gl_layout *l)
{
	for (size_t i = 0; i < l->n_structs; i++)
		if (l->structs[i].found)
			return 1;
	return 0;
}

static void write_sources(struct jw *w, const struct gl_layout *l)
{
	jw_obj(w, "sources");
	const char *dwarf = l->layout_donor ? "dwarf-donor" : "dwarf";
	jw_str(w, "structs", any_struct(l) ? dwarf : NULL);
	jw_str(w, "enums", l->n_enums && (l->has_dwarf || l->layout_donor) ? dwarf : NULL);
	jw_str(w, "opNames", l->op_names.found ? l->op_names.source : NULL);
	jw_str(w, "typeTraits", l->traits_source);
	jw_str(w, "sites", l->instances.n ? "dwarf" : l->symbols.n ? "symbols" : NULL);
	jw_end_obj(w);
}

void gl_layout_write_json(const struct gl_layout *l, FILE *f, int pretty)
{
	struct jw w = {.f = f, .pretty = pretty};

	w.first[0] = 1;
	jw_obj(&w, NULL);
	jw_str(&w, "path", l->path);
	jw_str(&w, "buildId", l->build_id);
	jw_bool(&w, "hasDwarf", l->has_dwarf);
	if (l->layout_donor) {
		jw_obj(&w, "layoutDonor");
		jw_str(&w, "path", l->layout_donor);
		jw_str(&w, "buildId", l->layout_donor_build_id);
		jw_end_obj(&w);
	} else {
		jw_null(&w, "layoutDonor");
	}
	if (l->is_elf) {
		write_elf(&w, l);
		write_structs(&w, l);
		write_constants(&w, l);
		write_enums(&w, l);
		write_names(&w, "opNames", &l->op_names);
		write_names(&w, "opSymbols", &l->op_symbols);
		write_names(&w, "unaryOpNames", &l->unary_op_names);
		write_names(&w, "gluOpNames", &l->glu_op_names);
		write_traits(&w, l);
		write_sites(&w, l);
		write_sources(&w, l);
	}
	jw_bool(&w, "usable", !l->fatal);
	jw_strlist(&w, "errors", &l->errors);
	jw_strlist(&w, "warnings", &l->warnings);
	jw_uint(&w, "elapsedUs", (uint64_t)(l->elapsed_ms * 1000));
	jw_end_obj(&w);
	fputc('\n', f);
}
