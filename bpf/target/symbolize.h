/* SPDX-License-Identifier: MIT */
/*
 * Symbolizer for sampled user instruction addresses (run-time virtual
 * addresses of a target process): mapped file and GNU build id, function,
 * source file:line:column, and the inline chain, read with elfutils libdw
 * from the very files that were mapped.
 *
 * Each file is opened once (when its first mapping is added, so a file that
 * is later replaced or deleted on disk is still the one that was mapped);
 * its DWARF is opened on the first address in it and indexed lazily, one
 * compilation unit at a time.  Without DWARF (also none in a separate debug
 * file found by build id or .gnu_debuglink) the function comes from the ELF
 * symbol table and there is no file/line.
 *
 * Sampled addresses are the interrupted instruction itself.  Return
 * addresses from a stack walk must be passed as `ret - 1`.  A symbolizer is
 * not thread-safe: use one per thread or lock around it.
 */
#ifndef GGML_LENS_SYMBOLIZE_H
#define GGML_LENS_SYMBOLIZE_H

#include <stdint.h>

struct gl_symbolizer;

struct gl_symbolizer *gl_symbolizer_new(void);

/*
 * Records one executable mapping (a line of /proc/PID/maps that maps a file:
 * start, end, file offset, path).  Call it for every snapshot of the maps;
 * duplicates are ignored.  Returns 0, or -1 when the file cannot be opened
 * or is not ELF (the mapping is still recorded: its addresses resolve to the
 * path alone).
 */
int gl_symbolizer_add_mapping(struct gl_symbolizer *s, uint64_t start, uint64_t end,
			      uint64_t file_offset, const char *path);

/*
 * Reads /proc/PID/maps and adds its file-backed executable mappings, opening
 * each file through /proc/PID/map_files (the mapped inode, even if replaced
 * or deleted since) where allowed, else by path.  Returns how many mappings
 * it found, or -1.
 */
int gl_symbolizer_add_process(struct gl_symbolizer *s, int pid);

struct gl_frame_info {
	const char *path;     /* the mapped file, as given */
	const char *build_id; /* hex, NULL if the file has none */
	const char *function; /* innermost function (demangled when libstdc++ is at hand) */
	const char *file;     /* source file of the instruction */
	int line, column;
	const char *inlined_into; /* enclosing concrete function when `function` is inlined, else NULL */
	const char *call_file;    /* where the innermost inlined function was called */
	int call_line;
	uint64_t file_vaddr; /* the address in the file's own ELF vaddr space */
};

/*
 * 0 on success; -1 when the address is in no known mapping.  Fields are
 * NULL/0 where unknown.  Strings live as long as the symbolizer.
 */
int gl_symbolize(struct gl_symbolizer *s, uint64_t runtime_ip, struct gl_frame_info *out);

/* One level of the inline chain. */
struct gl_inline_frame {
	const char *function, *file;
	int line, column;
};

/*
 * Like gl_symbolize, and also fills frames[0..] with the whole inline
 * chain, innermost first: frames[0] is the instruction's function and line,
 * frames[k] the function that frames[k-1] was inlined into, at the call
 * site's line; the last is the concrete (out-of-line) function.  Returns the
 * chain's depth (1 when nothing is inlined, 0 when no DWARF covers the
 * address; at most max frames are written), or -1 when in no mapping.
 */
int gl_symbolize_inlines(struct gl_symbolizer *s, uint64_t runtime_ip, struct gl_frame_info *out,
			 struct gl_inline_frame *frames, int max);

void gl_symbolizer_free(struct gl_symbolizer *s);

#endif
