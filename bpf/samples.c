#include <stdlib.h>
#include "samples.h"
#include "target/symbolize.h"

#define MAX_INLINE_DEPTH 16
#define MAX_DISTINCT_IPS (1u << 22)

struct samples {
	uint64_t *slots; /* open addressing; 0 = empty (0 is never a sampled IP) */
	size_t cap, n;
	struct gl_symbolizer *symbolizer;
};

struct samples *samples_new(void)
{
	struct samples *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cap = 1024;
	s->slots = calloc(s->cap, sizeof(uint64_t));
	s->symbolizer = gl_symbolizer_new();
	if (!s->slots || !s->symbolizer) {
		samples_free(s);
		return NULL;
	}
	return s;
}

static size_t slot_of(const uint64_t *slots, size_t cap, uint64_t ip)
{
	size_t i = (size_t)((ip * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
	while (slots[i] && slots[i] != ip)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(struct samples *s)
{
	size_t cap = s->cap * 2;
	uint64_t *slots = calloc(cap, sizeof(uint64_t));
	if (!slots)
		return -1;
	for (size_t i = 0; i < s->cap; i++)
		if (s->slots[i])
			slots[slot_of(slots, cap, s->slots[i])] = s->slots[i];
	free(s->slots);
	s->slots = slots;
	s->cap = cap;
	return 0;
}

void samples_add_ip(struct samples *s, uint64_t ip)
{
	if (!s || !ip || s->n >= MAX_DISTINCT_IPS)
		return;
	if (s->n * 2 >= s->cap && grow(s))
		return;
	size_t i = slot_of(s->slots, s->cap, ip);
	if (!s->slots[i]) {
		s->slots[i] = ip;
		s->n++;
	}
}

void samples_snapshot_maps(struct samples *s, int pid)
{
	if (s)
		gl_symbolizer_add_process(s->symbolizer, pid);
}

static void write_frame(struct json *j, struct gl_symbolizer *sym, uint64_t ip)
{
	struct gl_frame_info info = { 0 };
	struct gl_inline_frame frames[MAX_INLINE_DEPTH];
	int depth = gl_symbolize_inlines(sym, ip, &info, frames, MAX_INLINE_DEPTH);
	json_open(j, NULL, '{');
	json_uint(j, "ip", ip);
	if (depth >= 0) {
		json_str(j, "path", info.path);
		json_str(j, "build_id", info.build_id);
		json_uint(j, "file_vaddr", info.file_vaddr);
		json_str(j, "function", info.function);
		json_str(j, "file", info.file);
		json_int(j, "line", info.line);
		json_open(j, "inline_callers", '[');
		for (int k = 1; k < depth && k < MAX_INLINE_DEPTH; k++) {
			json_open(j, NULL, '{');
			json_str(j, "function", frames[k].function);
			json_str(j, "file", frames[k].file);
			json_int(j, "line", frames[k].line);
			json_close(j, '}');
		}
		json_close(j, ']');
	}
	json_close(j, '}');
}

void samples_write_symbols(struct samples *s, struct json *j)
{
	json_open(j, "symbols", '[');
	for (size_t i = 0; s && i < s->cap; i++)
		if (s->slots[i])
			write_frame(j, s->symbolizer, s->slots[i]);
	json_close(j, ']');
}

void samples_free(struct samples *s)
{
	if (!s)
		return;
	if (s->symbolizer)
		gl_symbolizer_free(s->symbolizer);
	free(s->slots);
	free(s);
}
