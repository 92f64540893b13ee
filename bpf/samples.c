#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include "samples.h"
#include "target/symbolize.h"

#define MAX_INLINE_DEPTH 16
#define MAX_DISTINCT_IPS (1u << 22)
#define MAX_FRAMES 64
#define MAX_STACKS (1u << 20)
#define MAX_PROCESSES 8

struct stack {
	uint64_t hash;
	uint32_t n;
	uint64_t *pcs; /* innermost first: the sampled IP, then each caller's return address - 1 */
};

struct samples {
	uint64_t *slots; /* open addressing; 0 = empty (0 is never a sampled IP) */
	size_t cap, n;
	struct gl_symbolizer *symbolizer;
	/* Caller chains, unwound with libdwfl from each sample's registers and stack top: one Dwfl per
	 * traced process (the target and --also-pid ones). */
	struct process_modules {
		int pid;
		Dwfl *dwfl;
		double opened;
	} processes[MAX_PROCESSES];
	const struct gl_sample_unwind *current;
	struct stack *stacks;
	size_t n_stacks, stacks_cap;
	uint32_t *stack_slots; /* open addressing of 1 + stack index; 0 = empty */
	size_t stack_slots_cap;
	uint64_t walks, walks_with_callers;
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

/* ---- caller chains ------------------------------------------------------------------------ */

static pid_t current_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
	(void)dwfl;
	struct samples *s = arg;
	if (*thread_arg)
		return 0;
	*thread_arg = s;
	return (pid_t)s->current->sample.hdr.tid;
}

static bool get_current_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
	(void)dwfl;
	(void)tid;
	*thread_arg = arg;
	return true;
}

/* Whether the 8 bytes at addr are in the sample's stack copy (written so that no sum can wrap: a
 * walk gone wrong asks for any address, up to the top of the address space). */
static bool in_stack_copy(const struct gl_sample_unwind *rec, uint64_t addr)
{
	uint64_t sp = rec->regs[7];
	return addr >= sp && rec->stack_len >= 8 && addr - sp <= rec->stack_len - 8;
}

/* Stack memory as it was when sampled: the copied top of the stack, nothing else. */
static bool read_sampled_stack(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	(void)dwfl;
	const struct gl_sample_unwind *rec = ((struct samples *)arg)->current;
	if (!in_stack_copy(rec, addr))
		return false;
	memcpy(result, rec->stack + (addr - rec->regs[7]), sizeof(*result));
	return true;
}

static bool sampled_registers(Dwfl_Thread *thread, void *arg)
{
	const struct gl_sample_unwind *rec = ((struct samples *)arg)->current;
	Dwarf_Word regs[GL_UNWIND_REGS];
	for (int i = 0; i < GL_UNWIND_REGS; i++)
		regs[i] = rec->regs[i];
	dwfl_thread_state_register_pc(thread, rec->regs[16]);
	return dwfl_thread_state_registers(thread, 0, GL_UNWIND_REGS, regs);
}

static const Dwfl_Thread_Callbacks SAMPLED_THREAD = {
	.next_thread = current_thread,
	.get_thread = get_current_thread,
	.memory_read = read_sampled_stack,
	.set_initial_registers = sampled_registers,
};

static char *debuginfo_path;
static const Dwfl_Callbacks PROCESS_FILES = {
	.find_elf = dwfl_linux_proc_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static double monotonic_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A process's modules as mapped now, for their call frame information (.eh_frame, .debug_frame). */
static int open_dwfl(struct samples *s, struct process_modules *m, int pid)
{
	if (m->dwfl)
		dwfl_end(m->dwfl);
	*m = (struct process_modules){ .pid = pid, .opened = monotonic_s(), .dwfl = dwfl_begin(&PROCESS_FILES) };
	if (!m->dwfl)
		return -1;
	dwfl_report_begin(m->dwfl);
	if (dwfl_linux_proc_report(m->dwfl, pid) != 0 || dwfl_report_end(m->dwfl, NULL, NULL) != 0 ||
	    !dwfl_attach_state(m->dwfl, NULL, pid, &SAMPLED_THREAD, s)) {
		dwfl_end(m->dwfl);
		m->dwfl = NULL;
		return -1;
	}
	return 0;
}

/* The process's modules, read again when an IP falls outside them (a library loaded since), at
 * most once a second; NULL when they cannot be read. */
static Dwfl *modules_for(struct samples *s, int pid, uint64_t ip)
{
	struct process_modules *m = NULL;
	for (size_t i = 0; i < MAX_PROCESSES && !m; i++)
		if (s->processes[i].pid == pid || !s->processes[i].pid)
			m = &s->processes[i];
	if (!m)
		return NULL;
	if (m->dwfl && dwfl_addrmodule(m->dwfl, ip))
		return m->dwfl;
	if (m->pid == pid && monotonic_s() - m->opened < 1)
		return NULL;
	return open_dwfl(s, m, pid) ? NULL : m->dwfl;
}

struct walk {
	uint64_t pcs[MAX_FRAMES];
	uint32_t n;
	const struct gl_sample_unwind *rec;
};

#define RETURN_ADDRESS_REG 16 /* x86-64 DWARF numbering */

/* Whether .eh_frame and the copied stack give the caller of the frame at pc. Where they do not (an
 * outermost frame, or a frame above the copy), libdwfl would look for .debug_frame next and load
 * the module's whole DWARF for it: hundreds of milliseconds for libllama, on the target's time. */
static bool caller_from_eh_frame(Dwfl_Frame *frame, Dwfl_Module *mod, Dwarf_Addr pc, const struct gl_sample_unwind *rec)
{
	Dwarf_Addr bias;
	Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
	Dwarf_Frame *rules = NULL;
	if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &rules) != 0)
		return false;
	bool known = true;
	Dwarf_Op *cfa_ops, ra_mem[3], *ra_ops;
	size_t cfa_n, ra_n;
	Dwarf_Word base;
	if (dwarf_frame_register(rules, RETURN_ADDRESS_REG, ra_mem, &ra_ops, &ra_n) != 0 || (ra_n == 0 && ra_ops == NULL))
		known = false; /* undefined: the outermost frame */
	else if (dwarf_frame_cfa(rules, &cfa_ops, &cfa_n) == 0 && cfa_n == 1 && cfa_ops[0].atom == DW_OP_bregx &&
		 ra_n == 2 && ra_ops[0].atom == DW_OP_call_frame_cfa && ra_ops[1].atom == DW_OP_plus_uconst) {
		/* the usual rules, register + offset and "saved at CFA + n": the slot must be in the copy */
		if (dwfl_frame_reg(frame, (unsigned)cfa_ops[0].number, &base) != 0)
			known = false;
		else {
			known = in_stack_copy(rec, base + cfa_ops[0].number2 + ra_ops[1].number);
		}
	}
	free(rules);
	return known;
}

static int on_frame(Dwfl_Frame *frame, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	bool activation;
	if (!dwfl_frame_pc(frame, &pc, &activation))
		return DWARF_CB_ABORT;
	if (!activation)
		pc--; /* a return address: the call is the instruction before */
	/* A frame in no mapped file is where the walk went wrong (or left the program): the chain ends. */
	Dwfl_Module *mod = dwfl_addrmodule(dwfl_thread_dwfl(dwfl_frame_thread(frame)), pc);
	if (!mod)
		return DWARF_CB_ABORT;
	w->pcs[w->n++] = pc;
	return w->n < MAX_FRAMES && caller_from_eh_frame(frame, mod, pc, w->rec) ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static uint64_t hash_frames(const uint64_t *pcs, uint32_t n)
{
	uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 0xff51afd7ed558ccdull;
	return h ^ (h >> 29);
}

static int grow_stack_slots(struct samples *s)
{
	size_t cap = s->stack_slots_cap ? s->stack_slots_cap * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (size_t i = 0; i < s->n_stacks; i++) {
		size_t k = s->stacks[i].hash & (cap - 1);
		while (slots[k])
			k = (k + 1) & (cap - 1);
		slots[k] = (uint32_t)i + 1;
	}
	free(s->stack_slots);
	s->stack_slots = slots;
	s->stack_slots_cap = cap;
	return 0;
}

/* 1 + the index of this chain in the table (added when new), 0 when the table is full. */
static uint32_t intern_stack(struct samples *s, const struct walk *w)
{
	if (s->n_stacks * 2 >= s->stack_slots_cap && (s->n_stacks >= MAX_STACKS || grow_stack_slots(s)))
		return 0;
	uint64_t h = hash_frames(w->pcs, w->n);
	size_t k = h & (s->stack_slots_cap - 1);
	for (; s->stack_slots[k]; k = (k + 1) & (s->stack_slots_cap - 1)) {
		const struct stack *known = &s->stacks[s->stack_slots[k] - 1];
		if (known->hash == h && known->n == w->n && !memcmp(known->pcs, w->pcs, w->n * sizeof(uint64_t)))
			return s->stack_slots[k];
	}
	if (s->n_stacks == s->stacks_cap) {
		size_t cap = s->stacks_cap ? s->stacks_cap * 2 : 256;
		struct stack *grown = realloc(s->stacks, cap * sizeof(*grown));
		if (!grown)
			return 0;
		s->stacks = grown;
		s->stacks_cap = cap;
	}
	uint64_t *pcs = malloc(w->n * sizeof(uint64_t));
	if (!pcs)
		return 0;
	memcpy(pcs, w->pcs, w->n * sizeof(uint64_t));
	s->stacks[s->n_stacks] = (struct stack){ .hash = h, .n = w->n, .pcs = pcs };
	s->stack_slots[k] = (uint32_t)++s->n_stacks;
	return s->stack_slots[k];
}

uint32_t samples_add_stack(struct samples *s, int pid, const struct gl_sample_unwind *rec)
{
	Dwfl *dwfl = s && pid > 0 && rec->stack_len ? modules_for(s, pid, rec->regs[16]) : NULL;
	if (!dwfl)
		return 0;
	s->walks++;
	s->current = rec;
	struct walk w = { .n = 0, .rec = rec };
	dwfl_getthread_frames(dwfl, (pid_t)rec->sample.hdr.tid, on_frame, &w); /* ends in an error where the chain stops */
	s->current = NULL;
	if (w.n < 2)
		return 0;
	s->walks_with_callers++;
	for (uint32_t i = 0; i < w.n; i++)
		samples_add_ip(s, w.pcs[i]);
	return intern_stack(s, &w);
}

void samples_write_stacks(struct samples *s, struct json *j)
{
	json_open(j, "stacks", '[');
	for (size_t i = 0; s && i < s->n_stacks; i++) {
		json_open(j, NULL, '[');
		for (uint32_t k = 0; k < s->stacks[i].n; k++)
			json_uint(j, NULL, s->stacks[i].pcs[k]);
		json_close(j, ']');
	}
	json_close(j, ']');
	json_open(j, "stack_walks", '{');
	json_uint(j, "samples", s ? s->walks : 0);
	json_uint(j, "with_callers", s ? s->walks_with_callers : 0);
	json_close(j, '}');
}

void samples_free(struct samples *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < MAX_PROCESSES; i++)
		if (s->processes[i].dwfl)
			dwfl_end(s->processes[i].dwfl);
	for (size_t i = 0; i < s->n_stacks; i++)
		free(s->stacks[i].pcs);
	free(s->stacks);
	free(s->stack_slots);
	if (s->symbolizer)
		gl_symbolizer_free(s->symbolizer);
	free(s->slots);
	free(s);
}
