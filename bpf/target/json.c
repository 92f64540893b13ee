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
#include "jsonw.h"

#define jw_obj(w, k) json_open(w, k, '{')
#define jw_end_obj(w) json_close(w, '}')
#define jw_arr(w, k) json_open(w, k, '[')
#define jw_end_arr(w) json_close(w, ']')

/* "name": vaddr and "nameOffset": file offset (null if not in the file). */
static void jw_addr(struct json *w, const struct gl_layout *l, const char *key, uint64_t a)
{
	char k[64];
	uint64_t off;

	json_uint(w, key, a);
	snprintf(k, sizeof(k), "%sOffset", key);
	if (gl_file_offset(l, a, &off) == 0)
		json_uint(w, k, off);
	else
		json_null(w, k);
}

static void jw_strlist(struct json *w, const char *key, const struct gl_strlist *sl)
{
	jw_arr(w, key);
	for (size_t i = 0; i < sl->n; i++)
		json_str(w, NULL, sl->v[i]);
	jw_end_arr(w);
}

static const char *const LOC_KIND[] = {"none", "reg", "regOffset", "mem", "const", "unsupported"};

static void write_loc(struct json *w, const char *key, const struct gl_loc *loc)
{
	jw_obj(w, key);
	json_str(w, "kind", LOC_KIND[loc->kind]);
	if (loc->reg >= 0 && loc->kind != GL_LOC_NONE) {
		json_str(w, "reg", gl_reg_name(loc->reg));
		json_str(w, "ptRegs", gl_ptregs_field(loc->reg));
		json_int(w, "dwarfReg", loc->reg);
	}
	if (loc->kind == GL_LOC_REG_OFFSET || loc->kind == GL_LOC_MEM || loc->kind == GL_LOC_CONST)
		json_int(w, loc->kind == GL_LOC_CONST ? "value" : "offset", loc->offset);
	json_str(w, "expr", loc->expr);
	jw_end_obj(w);
}

static void write_field(struct json *w, const struct gl_field *f)
{
	jw_obj(w, f->name);
	json_uint(w, "offset", f->offset);
	json_uint(w, "size", f->size);
	if (f->count) {
		json_uint(w, "count", f->count);
		json_uint(w, "elemSize", f->elem_size);
	}
	jw_end_obj(w);
}

static void write_structs(struct json *w, const struct gl_layout *l)
{
	jw_obj(w, "structs");
	for (size_t i = 0; i < l->n_structs; i++) {
		const struct gl_struct *s = &l->structs[i];
		if (!s->found)
			continue;
		jw_obj(w, s->name);
		json_uint(w, "size", s->size);
		json_str(w, "source", l->layout_donor ? "dwarf-donor" : "dwarf");
		jw_obj(w, "fields");
		for (size_t k = 0; k < s->n_fields; k++)
			if (s->fields[k].found)
				write_field(w, &s->fields[k]);
		jw_end_obj(w);
		jw_arr(w, "missingFields");
		for (size_t k = 0; k < s->n_fields; k++)
			if (!s->fields[k].found)
				json_str(w, NULL, s->fields[k].name);
		jw_end_arr(w);
		jw_end_obj(w);
	}
	jw_end_obj(w);
}

/* Array bounds of ggml_tensor members are ggml's compile-time limits. */
static void write_constants(struct json *w, const struct gl_layout *l)
{
	const struct gl_struct *t = gl_find_struct(l, "ggml_tensor");
	const struct gl_field *f;

	jw_obj(w, "constants");
	if (t && t->found) {
		if ((f = gl_find_field(t, "ne")) && f->count)
			json_uint(w, "GGML_MAX_DIMS", f->count);
		if ((f = gl_find_field(t, "src")) && f->count)
			json_uint(w, "GGML_MAX_SRC", f->count);
		if ((f = gl_find_field(t, "name")) && f->count)
			json_uint(w, "GGML_MAX_NAME", f->count);
		if ((f = gl_find_field(t, "op_params")) && f->found) {
			json_uint(w, "GGML_MAX_OP_PARAMS", f->size);
			json_uint(w, "opParamsCount", f->count);
		}
		json_uint(w, "GGML_TENSOR_SIZE", t->size);
	}
	jw_end_obj(w);
}

static void write_enums(struct json *w, const struct gl_layout *l)
{
	jw_obj(w, "enums");
	for (size_t i = 0; i < l->n_enums; i++) {
		const struct gl_enum *e = &l->enums[i];
		if (!e->found)
			continue;
		jw_obj(w, e->name);
		for (size_t k = 0; k < e->n; k++)
			json_int(w, e->items[k].name, e->items[k].value);
		jw_end_obj(w);
	}
	jw_end_obj(w);
}

static void write_names(struct json *w, const char *key, const struct gl_names *n)
{
	if (!n->found) {
		json_null(w, key);
		return;
	}
	jw_arr(w, key);
	for (size_t i = 0; i < n->n; i++)
		json_str(w, NULL, n->v[i]);
	jw_end_arr(w);
}

static void write_traits(struct json *w, const struct gl_layout *l)
{
	if (!l->traits_source) {
		json_null(w, "typeTraits");
		return;
	}
	jw_arr(w, "typeTraits");
	for (size_t i = 0; i < l->n_traits; i++) {
		const struct gl_type_trait *t = &l->traits[i];
		jw_obj(w, NULL);
		json_int(w, "type", t->type);
		json_str(w, "name", t->name);
		json_int(w, "blckSize", t->blck_size);
		json_uint(w, "typeSize", t->type_size);
		json_bool(w, "isQuantized", t->is_quantized);
		if (t->has_interleave)
			json_int(w, "blckSizeInterleave", t->blck_size_interleave);
		jw_end_obj(w);
	}
	jw_end_arr(w);
}

static void write_vec_dot_types(struct json *w, const struct gl_layout *l)
{
	if (!l->vec_dot_types_source) {
		json_null(w, "vecDotTypes");
		return;
	}
	jw_arr(w, "vecDotTypes");
	for (size_t i = 0; i < l->n_vec_dot_types; i++)
		json_int(w, NULL, l->vec_dot_types[i]);
	jw_end_arr(w);
}

static void write_call(struct json *w, const struct gl_layout *l, const struct gl_call *c)
{
	jw_obj(w, NULL);
	json_str(w, "callee", c->callee);
	json_str(w, "inlinedIn", c->inlined_in);
	jw_addr(w, l, "returnPc", c->return_pc);
	if (c->call_pc)
		jw_addr(w, l, "callPc", c->call_pc);
	else
		json_null(w, "callPc");
	if (c->tail)
		json_bool(w, "tail", 1);
	jw_arr(w, "args");
	for (size_t i = 0; i < c->n_args; i++)
		write_loc(w, NULL, &c->args[i]);
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_param(struct json *w, const struct gl_param *p)
{
	jw_obj(w, NULL);
	json_str(w, "name", p->name);
	write_loc(w, "atEntry", &p->at_entry);
	write_loc(w, "atLowPc", &p->at_low);
	jw_arr(w, "list");
	for (size_t i = 0; i < p->n_list; i++) {
		jw_obj(w, NULL);
		json_uint(w, "lo", p->list[i].lo);
		json_uint(w, "hi", p->list[i].hi);
		write_loc(w, "loc", &p->list[i].loc);
		jw_end_obj(w);
	}
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_instance(struct json *w, const struct gl_layout *l, const struct gl_instance *in)
{
	jw_obj(w, NULL);
	json_str(w, "func", in->func);
	json_bool(w, "inlined", in->inlined);
	json_str(w, "caller", in->caller);
	jw_addr(w, l, "callerAddr", in->caller_addr);
	json_str(w, "callFile", in->call_file);
	json_int(w, "callLine", in->call_line);
	jw_addr(w, l, "entryPc", in->entry_pc);
	jw_addr(w, l, "lowPc", in->low_pc);
	jw_addr(w, l, "highPc", in->high_pc);
	jw_arr(w, "ranges");
	for (size_t i = 0; i < in->n_ranges; i++) {
		jw_arr(w, NULL);
		json_uint(w, NULL, in->ranges[i].lo);
		json_uint(w, NULL, in->ranges[i].hi);
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

static void write_probe(struct json *w, const struct gl_layout *l, const char *key,
			const struct gl_probe *p)
{
	if (!p->have) {
		json_null(w, key);
		return;
	}
	jw_obj(w, key);
	json_str(w, "what", p->what);
	jw_addr(w, l, "addr", p->addr);
	if (p->params.kind != GL_LOC_NONE)
		write_loc(w, "params", &p->params);
	if (p->tensor.kind != GL_LOC_NONE)
		write_loc(w, "tensor", &p->tensor);
	jw_end_obj(w);
}

static void write_sites(struct json *w, const struct gl_layout *l)
{
	jw_obj(w, "sites");
	json_str(w, "mode", l->sites_mode);
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
		json_str(w, "name", s->name);
		jw_addr(w, l, "addr", s->addr);
		json_uint(w, "size", s->size);
		json_bool(w, "global", s->global);
		json_bool(w, "exported", s->dynamic);
		jw_end_obj(w);
	}
	jw_end_arr(w);
	jw_end_obj(w);
}

static void write_elf(struct json *w, const struct gl_layout *l)
{
	jw_obj(w, "elf");
	json_int(w, "class", l->elf_class);
	json_str(w, "machine", l->machine == EM_X86_64 ? "x86_64" : l->machine == EM_AARCH64 ? "aarch64" : "other");
	json_str(w, "type", l->elf_type == ET_DYN ? "DYN" : l->elf_type == ET_EXEC ? "EXEC" : "other");
	json_bool(w, "hasSymtab", l->has_symtab);
	json_bool(w, "hasDynsym", l->has_dynsym);
	jw_arr(w, "loads");
	for (size_t i = 0; i < l->n_loads; i++) {
		const struct gl_load *ld = &l->loads[i];
		char fl[4] = {ld->flags & PF_R ? 'r' : '-', ld->flags & PF_W ? 'w' : '-',
			      ld->flags & PF_X ? 'x' : '-', 0};
		jw_obj(w, NULL);
		json_uint(w, "vaddr", ld->vaddr);
		json_uint(w, "offset", ld->offset);
		json_uint(w, "filesz", ld->filesz);
		json_uint(w, "memsz", ld->memsz);
		json_str(w, "flags", fl);
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

static void write_sources(struct json *w, const struct gl_layout *l)
{
	jw_obj(w, "sources");
	const char *dwarf = l->layout_donor ? "dwarf-donor" : "dwarf";
	json_str(w, "structs", any_struct(l) ? dwarf : NULL);
	json_str(w, "enums", l->n_enums && (l->has_dwarf || l->layout_donor) ? dwarf : NULL);
	json_str(w, "opNames", l->op_names.found ? l->op_names.source : NULL);
	json_str(w, "typeTraits", l->traits_source);
	json_str(w, "sites", l->instances.n ? "dwarf" : l->symbols.n ? "symbols" : NULL);
	jw_end_obj(w);
}

void gl_layout_write_json(const struct gl_layout *l, FILE *f, int pretty)
{
	struct json w;

	json_init(&w, f, pretty);
	jw_obj(&w, NULL);
	json_str(&w, "path", l->path);
	json_str(&w, "buildId", l->build_id);
	json_bool(&w, "hasDwarf", l->has_dwarf);
	if (l->layout_donor) {
		jw_obj(&w, "layoutDonor");
		json_str(&w, "path", l->layout_donor);
		json_str(&w, "buildId", l->layout_donor_build_id);
		jw_end_obj(&w);
	} else {
		json_null(&w, "layoutDonor");
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
		write_vec_dot_types(&w, l);
		write_sites(&w, l);
		gl_source_lines_write_json(&w, "sourceLines", &l->source_lines);
		write_sources(&w, l);
	}
	json_bool(&w, "usable", !l->fatal);
	jw_strlist(&w, "errors", &l->errors);
	jw_strlist(&w, "warnings", &l->warnings);
	json_uint(&w, "elapsedUs", (uint64_t)(l->elapsed_ms * 1000));
	jw_end_obj(&w);
	fputc('\n', f);
}
