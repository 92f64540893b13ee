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
/* An op's OP_BEGIN and the OP_END that closes it, written together when the op ends: one entry of a
 * CPU's op log, or of its ring buffer when the log is full or taken. */
struct gl_op_pair {
	struct gl_op_begin begin;
	struct gl_op_end end;
};
/* Each CPU's op log: op pairs in a memory-mapped array map, written by the op probe and read by the
 * helper without a lock, since a ring buffer's reserve and submit cost about 0.1 us an op here. The
 * writer marks the log busy (an exchange), so that a program preempted on the CPU by another traced
 * thread keeps it: the other writes to the ring. Entries are produced % entries, in time order. */
struct gl_op_log_head {
	gl_u64 produced; /* entries written (the op probe) */
	gl_u64 pad0[7];
	gl_u64 consumed; /* entries read (the helper) */
	gl_u64 pad1[7];
	gl_u64 busy; /* a writer holds the log */
	gl_u64 pad2[7];
};
/* A record the op probe puts in the CPU's ring to wake the helper when the CPU's op log is half full
 * (the log itself cannot wake it); never written to the stream. */
#define GL_REC_WAKE 0xfff1
/* What an op site is (the op probe's cookie indexes a table of them). */
enum gl_site_kind { GL_SITE_OP_START, GL_SITE_OP_FUSED, GL_SITE_OP_END };
#endif
