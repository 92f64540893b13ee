/* Timer samples: the distinct user IPs seen, symbolized at the end of the run from the files the
 * target had mapped (function, source file:line, inline chain). */
#ifndef GGML_LENS_SAMPLES_H
#define GGML_LENS_SAMPLES_H
#include <stddef.h>
#include <stdint.h>
#include "target/jsonw.h"

struct samples;

struct samples *samples_new(void);
void samples_add_ip(struct samples *s, uint64_t ip);
/* Records the target's current executable mappings; call it while the target runs. */
void samples_snapshot_maps(struct samples *s, int pid);
/* Writes "symbols": [{ip, path, build_id, file_vaddr, function, file, line, inline_callers}] under the
 * open object: function/file/line of the instruction itself, then the functions it was inlined
 * into, innermost first, each with the line of its call site. */
void samples_write_symbols(struct samples *s, struct json *j);
void samples_free(struct samples *s);
#endif
