/* Timer samples: the distinct user IPs seen, symbolized at the end of the run from the files the
 * target had mapped (function, source file:line, inline chain). */
#ifndef GGML_LENS_SAMPLES_H
#define GGML_LENS_SAMPLES_H
#include <stddef.h>
#include <stdint.h>
#include "probe.h"
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
/* Unwinds a sample's caller chain from its user registers and stack top with the DWARF call frame
 * information of the files process `pid` maps (no frame pointers needed), adds its frames to the IPs to
 * symbolize and returns 1 + the chain's index in "stacks", or 0 when no caller was found (or pid is 0:
 * the process is not known). */
uint32_t samples_add_stack(struct samples *s, int pid, const struct gl_sample_unwind *rec);
/* Writes "stacks": [[ip, caller ip, ...], ...] (innermost first; callers as return address - 1) and
 * "stack_walks": {samples, with_callers} under the open object. */
void samples_write_stacks(struct samples *s, struct json *j);
void samples_free(struct samples *s);
#endif
