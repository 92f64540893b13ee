/* Types shared by probe.bpf.c and the helper's userspace (not part of the stream). */
#ifndef GGML_LENS_PROBE_H
#define GGML_LENS_PROBE_H
#include "stream.h"

/* Op tracing window: armed by the helper, it opens at the next llama_decode call and closes after
 * `decodes` whole calls, so a window traces complete tokens however late the helper reacts. */
struct window_state {
	unsigned int armed;
	unsigned int open;
	unsigned int decodes; /* whole calls to trace once open */
	unsigned int done;    /* calls completed since it opened */
};
/* Processes traced besides the target (--also-pid). */
#define GL_MAX_ALSO_PIDS 4
/* A timer sample as the BPF side writes it: the stream's gl_sample (stream.h) plus what a DWARF
 * unwinder needs, the thread's user registers and the top of its user stack. The helper unwinds it
 * and writes the gl_sample alone, with its stack's index (never written to the stream as is). */
#define GL_REC_SAMPLE_UNWIND 0xfff0
#define GL_UNWIND_REGS 17		/* x86-64 DWARF numbering: 0-15 as in dwarf_reg(), 16 the ip */
/* Bytes of user stack copied from the stack pointer up: llama_context::process_ubatch alone takes
 * 36 KiB, so llama_decode sits ~40 KiB above a ggml kernel's stack pointer (gl_record.size is a u16). */
#define GL_STACK_COPY_CAP 49152
struct gl_sample_unwind {
	struct gl_sample sample; /* hdr.type is GL_REC_SAMPLE_UNWIND until the helper rewrites it; hdr.size
				  * counts the bytes used (up to stack_len), less than the reservation */
	gl_u64 regs[GL_UNWIND_REGS];
	gl_u64 stack_len; /* bytes of stack[] copied from regs[7] (the stack pointer) up */
	gl_u8 stack[GL_STACK_COPY_CAP];
};
/* What an op site is (the op probe's cookie indexes a table of them). */
enum gl_site_kind { GL_SITE_OP_START, GL_SITE_OP_FUSED, GL_SITE_OP_END };
#endif
