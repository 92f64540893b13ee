/* ggml-lens-probe: the privileged helper. Starts (or finds) a ggml program, attaches the BPF
 * programs of probe.bpf.c to it at places read from its own DWARF / symbols, and writes the
 * ggml-lens stream (stream.h) to a file or stdout. It accepts only its own embedded programs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/perf_event.h>
#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "launch.h"
#include "output.h"
#include "plan.h"
#include "privilege.h"
#include "probe.h"
#include "rings.h"
#include "samples.h"
#include "probe.skel.h"
#include "stream.h"

#define MAX_CPUS 1024
#define MAX_WINDOW_S 5.0 /* longest a default-mode window may stay open */
#define STOP_GRACE_S 10.0 /* a stopped program's time to end after SIGINT */
/* Between ring turns, and between checks of the target's maps. Each turn wakes the helper on a core
 * the target computes on (an epoll wakeup, a write, a statm read: ~0.2 ms of CPU a turn in this VM),
 * so turns are long where records are few; full mode reads its rings more often so that they never
 * fill. */
#define TURN_S 0.25
#define FULL_MODE_TURN_S 0.1
/* A launched program's first half second: it maps its libraries, and a short one (a tiny model, a
 * few tokens) is gone within 50 ms, its maps with it. Maps never read leave every address in it
 * unsymbolized, so they are checked, and the rings turned, this often until then. */
#define STARTUP_S 0.5
#define STARTUP_TURN_S 0.005

static const char USAGE[] =
	"Usage: ggml-lens-probe [options] -- COMMAND [ARGS...]\n"
	"       ggml-lens-probe [options] --pid PID [--duration SECONDS]\n"
	"Profiles a llama.cpp / ggml program with eBPF and writes the ggml-lens stream.\n"
	"  --mode MODE        default: token, graph, thread-state and sampling probes always on,\n"
	"                     op probes in windows; full: every op of every token; sample: no op probes\n"
	"  --out FILE         write the stream to FILE (created as the invoking user); default stdout\n"
	"  --sample-hz N      timer samples per second per CPU (0 disables; default 11)\n"
	"  --stack-kb N       KiB of user stack copied per sample to unwind its caller chain, 0 to 48\n"
	"                     (0: no chains; default 48)\n"
	"  --ringbuf-kb N     size of each CPU's ring buffer in KiB, a power of two >= 4 (default 2048;\n"
	"                     32768 / the number of CPUs beyond 16 CPUs, at least 512); each CPU's op\n"
	"                     log takes about as much again\n"
	"  --window-every S   default mode: seconds from the opening of one op-tracing window to the\n"
	"                     next (default 10); the first opens at the first llama_decode call\n"
	"  --window-decodes N default mode: llama_decode calls traced per window (default 1)\n"
	"  --live-shapes      read each op's type and shape from its tensor as it begins (about 0.1 us\n"
	"                     more an op) instead of from its graph's structure; always so for a ggml\n"
	"                     whose graphs carry no uid\n"
	"  --layout-from DIR  for libraries without DWARF: a directory with a build of the same ggml\n"
	"                     that has DWARF (e.g. llama.cpp's build/bin), to borrow its layout from\n"
	"  --pid PID          attach to a running process instead of starting COMMAND\n"
	"  --duration S       with --pid: stop after S seconds (default: until the process exits or Ctrl-C)\n"
	"  --also-pid PID     trace this running process too, on the same clock (e.g. the ggml-rpc-server\n"
	"                     of an RPC client); repeatable, up to 4; its probes then fire system-wide and\n"
	"                     are filtered by process\n"
	"  -h, --help         this help\n";

enum mode { MODE_DEFAULT, MODE_FULL, MODE_SAMPLE };
static const char *const MODE_NAMES[] = { [MODE_DEFAULT] = "default", [MODE_FULL] = "full", [MODE_SAMPLE] = "sample" };

struct options {
	enum mode mode;
	const char *out;
	const char *layout_from;
	long sample_hz;
	long stack_kb;
	long ringbuf_kb;
	double window_every;
	long window_decodes;
	int live_shapes;
	pid_t pid;
	double duration;
	pid_t also_pids[GL_MAX_ALSO_PIDS];
	size_t n_also;
	char **argv;
};

struct run {
	struct options opt;
	struct invoker who;
	struct target target;
	struct target also[GL_MAX_ALSO_PIDS]; /* --also-pid processes */
	struct plan plan;
	struct probe *skel;
	struct rings *rings;
	struct output out;
	struct bpf_link *fixed_links[8 + 2 * PLAN_BACKEND_FNS + 2 * PLAN_MAX_CPUS + MAX_CPUS];
	size_t n_fixed_links;
	int scheduler_probed; /* attach_scheduler */
	struct bpf_link *op_links[PLAN_MAX_CPUS];
	size_t n_op_links;
	int perf_fds[MAX_CPUS];
	int n_perf_fds;
	char pin_dir[128];
	pid_t pin_reaper;   /* the pin reaper, or 0 */
	int pin_reaper_fd; /* the write end of its pipe */
	int windows;
	int window_on;         /* the last WINDOW record written says op tracing is on */
	double window_opened; /* when the last window opened: the next opens window_every later */
	int exit_status;
	int out_created;
	struct samples *samples;
	double maps_checked;  /* when the target's maps were last checked for changes */
	double released;      /* when the launched target was let go (0: attached by PID) */
	int libraries_due;    /* they changed: follow_libraries reads them */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested++;
}

static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ggml-lens-probe: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0 && v < 1e7))
		return -1;
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "mode", required_argument, 0, 'm' },	       { "out", required_argument, 0, 'o' },
		{ "sample-hz", required_argument, 0, 's' },    { "stack-kb", required_argument, 0, 'k' },    { "ringbuf-kb", required_argument, 0, 'r' },
		{ "window-every", required_argument, 0, 'w' }, { "window-decodes", required_argument, 0, 'n' },
		{ "pid", required_argument, 0, 'p' },	       { "duration", required_argument, 0, 'd' },
		{ "layout-from", required_argument, 0, 'l' }, { "also-pid", required_argument, 0, 'a' },
		{ "live-shapes", no_argument, 0, 'L' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	*o = (struct options){ .mode = MODE_DEFAULT, .sample_hz = 11, .stack_kb = GL_STACK_COPY_CAP / 1024, .ringbuf_kb = 0, .window_every = 10,
			       .window_decodes = 1 };
	long pid = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (!strcmp(optarg, "default"))
				o->mode = MODE_DEFAULT;
			else if (!strcmp(optarg, "full"))
				o->mode = MODE_FULL;
			else if (!strcmp(optarg, "sample"))
				o->mode = MODE_SAMPLE;
			else
				return fail("--mode must be default, full or sample (got '%s')", optarg), -1;
			break;
		case 'o': o->out = optarg; break;
		case 'l': o->layout_from = optarg; break;
		case 'L': o->live_shapes = 1; break;
		case 's':
			if (parse_long(optarg, 0, 10000, &o->sample_hz))
				return fail("--sample-hz must be an integer from 0 to 10000"), -1;
			break;
		case 'k':
			if (parse_long(optarg, 0, GL_STACK_COPY_CAP / 1024, &o->stack_kb))
				return fail("--stack-kb must be an integer from 0 to %d", GL_STACK_COPY_CAP / 1024), -1;
			break;
		case 'r':
			if (parse_long(optarg, 4, 1 << 18, &o->ringbuf_kb) || (o->ringbuf_kb & (o->ringbuf_kb - 1)))
				return fail("--ringbuf-kb must be a power of two from 4 to 262144"), -1;
			break;
		case 'w':
			if (parse_seconds(optarg, &o->window_every))
				return fail("--window-every must be a positive number of seconds"), -1;
			break;
		case 'n':
			if (parse_long(optarg, 1, 1000000, &o->window_decodes))
				return fail("--window-decodes must be a positive integer"), -1;
			break;
		case 'p':
			if (parse_long(optarg, 1, 1 << 30, &pid))
				return fail("--pid must be a process id"), -1;
			o->pid = (pid_t)pid;
			break;
		case 'a':
			if (parse_long(optarg, 1, 1 << 30, &pid))
				return fail("--also-pid must be a process id"), -1;
			if (o->n_also >= GL_MAX_ALSO_PIDS)
				return fail("--also-pid is accepted at most %d times", GL_MAX_ALSO_PIDS), -1;
			o->also_pids[o->n_also++] = (pid_t)pid;
			break;
		case 'd':
			if (parse_seconds(optarg, &o->duration))
				return fail("--duration must be a positive number of seconds"), -1;
			break;
		case 'h': fputs(USAGE, stdout); exit(0);
		default: fputs(USAGE, stderr); return -1;
		}
	}
	o->argv = argv + optind;
	if (!o->pid == !o->argv[0])
		return fail("give either -- COMMAND [ARGS] or --pid PID (see --help)"), -1;
	if (o->duration && !o->pid)
		return fail("--duration applies to --pid only"), -1;
	return 0;
}

#define PIN_ROOT_PARENT "/sys/fs/bpf"
#define PIN_ROOT PIN_ROOT_PARENT "/ggml-lens"

static int is_bpffs(const char *path)
{
	struct statfs st;
	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

/* No shell and no PATH lookup anywhere in this privileged helper: syscalls only. */
static int check_system(void)
{
	if (geteuid() != 0)
		return fail("needs root to load eBPF programs and create uprobes; run it through sudo "
			    "(ggml-lens record does this) or as root"),
		       -1;
	if (access("/sys/kernel/btf/vmlinux", R_OK))
		return fail("this kernel has no BTF (/sys/kernel/btf/vmlinux); use a kernel built with "
			    "CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu and Fedora kernels are)"),
		       -1;
	if (access("/sys/bus/event_source/devices/uprobe/type", R_OK))
		return fail("this kernel has no uprobes (CONFIG_UPROBE_EVENTS); use a kernel with uprobe support"), -1;
	if (!is_bpffs(PIN_ROOT_PARENT) && mount("bpf", PIN_ROOT_PARENT, "bpf", 0, NULL) != 0)
		fprintf(stderr, "ggml-lens-probe: warning: cannot mount bpffs on %s (%s); maps are not pinned\n",
			PIN_ROOT_PARENT, strerror(errno));
	return 0;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && !getenv("GGML_LENS_DEBUG"))
		return 0;
	return vfprintf(stderr, fmt, args);
}

/* The op site table from site `from` on (and what the first CPU backend tells), in the BPF side's
 * mutable data: before load, and for a library loaded later before its probes attach. */
static void configure_sites(struct run *r, size_t from)
{
	struct probe__bss *bss = r->skel->bss;
	for (size_t i = from; i < r->plan.n_sites; i++) {
		const struct op_site *site = &r->plan.sites[i];
		bss->site_kind[i] = site->kind;
		bss->site_tensor_reg[i] = site->tensor_reg;
		bss->site_params_reg[i] = site->params_reg;
		bss->site_barrier_vaddr[i] = site->barrier_vaddr;
		bss->site_caller_lo[i] = site->caller_lo;
		bss->site_caller_hi[i] = site->caller_hi;
	}
	r->skel->data->off_params_ith = r->plan.layout.params_ith;
}

static int possible_cpus(void)
{
	int n = libbpf_num_possible_cpus();
	return n > 0 ? n : 1;
}

/* Each CPU's ring: --ringbuf-kb, else 2 MiB (32 MiB shared out among the CPUs beyond 16 of them, at
 * least 512 KiB each). Small rings stay in the caches: on the benchmark model in full mode the op
 * probe took 0.85-0.90 us per hit with 2 MiB rings and 1.21-1.27 us with 8 MiB ones. */
static __u32 ring_bytes(const struct run *r)
{
	if (r->opt.ringbuf_kb)
		return (__u32)r->opt.ringbuf_kb * 1024;
	__u32 kb = 2048;
	while (kb > 512 && kb * (long)possible_cpus() > 32768)
		kb /= 2;
	return kb * 1024;
}

/* Op pairs in each CPU's op log: about as many bytes as its ring (a power of two). */
static __u32 op_log_entries(const struct run *r)
{
	__u32 entries = 1;
	while ((__u64)entries * sizeof(struct gl_op_pair) < ring_bytes(r))
		entries *= 2;
	return entries;
}

static __u32 op_log_bytes(const struct run *r)
{
	return sizeof(struct gl_op_log_head) + op_log_entries(r) * sizeof(struct gl_op_pair);
}

static void configure(struct run *r)
{
	const struct tensor_layout *t = &r->plan.layout;
	struct probe__rodata *ro = r->skel->rodata;
	ro->target_tgid = r->target.pid;
	for (size_t i = 0; i < r->opt.n_also; i++)
		ro->also_tgid[i] = r->also[i].pid;
	ro->off_backend_graph_compute = t->backend_graph_compute < 0 ? -1 : t->backend_graph_compute;
	ro->off_backend_device = t->backend_device < 0 ? -1 : t->backend_device;
	ro->off_tensor_type = t->type;
	ro->off_tensor_ne = t->ne;
	ro->off_tensor_nb = t->nb;
	ro->off_tensor_op = t->op;
	ro->off_tensor_op_params = t->op_params < 0 ? 0 : t->op_params;
	ro->off_tensor_flags = t->flags;
	ro->off_tensor_src = t->src;
	ro->off_tensor_data = t->data < 0 ? 0 : t->data;
	ro->off_tensor_name = t->name;
	ro->tensor_n_dims = t->n_dims;
	ro->tensor_n_src = t->n_src;
	ro->tensor_name_len = t->name_len;
	ro->off_graph_n_nodes = t->graph_n_nodes;
	ro->off_graph_uid = t->graph_uid;
	ro->off_graph_nodes = t->graph_nodes;
	ro->off_batch_n_tokens = t->batch_n_tokens;
	ro->op_none = t->op_none;
	ro->op_mul_mat_id = t->data < 0 ? -1 : t->op_mul_mat_id;
	r->plan.op_shapes_live = r->opt.live_shapes || t->graph_uid < 0;
	ro->op_shapes_live = r->plan.op_shapes_live;
	configure_sites(r, 0);
	ro->trace_sched = true;
	ro->sample_stack_bytes = (__u32)r->opt.stack_kb * 1024;
	bpf_map__set_max_entries(r->skel->maps.rings, (__u32)possible_cpus());
	ro->wake_bytes = ring_bytes(r) / 2;
	ro->op_log_entries = op_log_entries(r);
	bpf_map__set_max_entries(r->skel->maps.op_logs, (__u32)possible_cpus());
	bpf_map__set_value_size(r->skel->maps.op_logs, op_log_bytes(r));
	/* Op probes attach in windows (default) or not at all (sample): they are not autoattached. */
	bpf_program__set_autoattach(r->skel->progs.op_probe, false);
}

static int keep_link(struct run *r, struct bpf_link *link, const char *what)
{
	if (!link)
		return fail("cannot attach %s: %s", what, strerror(errno)), -1;
	r->fixed_links[r->n_fixed_links++] = link;
	return 0;
}

/* Uprobes fire for the target only, or, when other processes are traced too, for every process
 * mapping the file (the programs keep those of the traced processes). */
static pid_t probe_pid(const struct run *r)
{
	return r->opt.n_also ? -1 : r->target.pid;
}

static int attach_point(struct run *r, struct bpf_program *prog, const struct probe_point *p, int ret, const char *what)
{
	if (!p->found)
		return 0;
	LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret);
	return keep_link(r, bpf_program__attach_uprobe_opts(prog, probe_pid(r), p->path, p->file_offset, &opts), what);
}

/* The scheduler's graphs (ggml_backend_sched_graph_compute_async), whose splits the backend probes
 * see: probed where graphs may be split (plan.c: may_split_graphs) or the backends' graphs are not
 * probed, and from when the target maps a backend library other than the CPU's; in a program that
 * can only use the CPU they would add two traps a graph and tell nothing the backend's do not. */
static int attach_scheduler(struct run *r)
{
	const struct probe_point *p = &r->plan.backend_fns[PLAN_SCHED_GRAPH];
	if (r->scheduler_probed || !p->found)
		return 0;
	r->scheduler_probed = 1;
	return attach_point(r, r->skel->progs.sched_graph_enter, p, 0, PLAN_BACKEND_SYMBOLS[PLAN_SCHED_GRAPH]) ||
	       attach_point(r, r->skel->progs.sched_graph_exit, p, 1, PLAN_BACKEND_SYMBOLS[PLAN_SCHED_GRAPH]);
}

/* The backend API: graphs given to backends and to the scheduler, copies, names. A ggml without one
 * of these functions is profiled without what it would tell. */
static int attach_backends(struct run *r)
{
	struct probe *s = r->skel;
	const struct probe_point *fn = r->plan.backend_fns;
	struct { struct bpf_program *enter, *exit; } progs[PLAN_BACKEND_FNS] = {
		[PLAN_BACKEND_GRAPH] = { s->progs.backend_graph_enter, s->progs.backend_graph_exit },
		[PLAN_SCHED_GRAPH] = { s->progs.sched_graph_enter, s->progs.sched_graph_exit },
		[PLAN_TENSOR_COPY] = { s->progs.copy_sync_enter, s->progs.copy_exit },
		[PLAN_TENSOR_COPY_ASYNC] = { s->progs.copy_async_enter, s->progs.copy_exit },
		[PLAN_TENSOR_SET_ASYNC] = { s->progs.set_async_enter, s->progs.copy_exit },
		[PLAN_BACKEND_NAME] = { s->progs.backend_name_enter, s->progs.name_exit },
		[PLAN_DEVICE_NAME] = { s->progs.device_name_enter, s->progs.name_exit },
	};
	for (size_t i = 0; i < PLAN_BACKEND_FNS; i++) {
		if (i == PLAN_SCHED_GRAPH)
			continue;
		if (attach_point(r, progs[i].enter, &fn[i], 0, PLAN_BACKEND_SYMBOLS[i]) ||
		    attach_point(r, progs[i].exit, &fn[i], 1, PLAN_BACKEND_SYMBOLS[i]))
			return -1;
	}
	return r->plan.may_split_graphs || !fn[PLAN_BACKEND_GRAPH].found ? attach_scheduler(r) : 0;
}

/* A CPU backend's ggml_graph_compute, entry and return: uprobe_multi links, which need no more
 * than CAP_BPF and CAP_PERFMON, so a backend loaded after the start is attached the same way. */
static int attach_graph_probes(struct run *r, const struct probe_point *p)
{
	if (!p->found)
		return 0;
	unsigned long offset = p->file_offset;
	LIBBPF_OPTS(bpf_uprobe_multi_opts, enter, .offsets = &offset, .cnt = 1);
	LIBBPF_OPTS(bpf_uprobe_multi_opts, exit, .offsets = &offset, .cnt = 1, .retprobe = true);
	struct probe *s = r->skel;
	return keep_link(r, bpf_program__attach_uprobe_multi(s->progs.graph_enter, probe_pid(r), p->path, NULL, &enter), "ggml_graph_compute") ||
	       keep_link(r, bpf_program__attach_uprobe_multi(s->progs.graph_exit, probe_pid(r), p->path, NULL, &exit), "ggml_graph_compute return");
}

static int attach_fixed(struct run *r)
{
	struct probe *s = r->skel;
	const struct plan *p = &r->plan;
	if (attach_point(r, s->progs.decode_enter, &p->decode, 0, "llama_decode") ||
	    attach_point(r, s->progs.decode_exit, &p->decode, 1, "llama_decode return"))
		return -1;
	for (size_t i = 0; i < p->n_cpus; i++)
		if (attach_graph_probes(r, &p->graph_compute[i]))
			return -1;
	if (attach_backends(r))
		return -1;
	if (keep_link(r, bpf_program__attach(s->progs.sched_switch), "sched_switch") ||
	    keep_link(r, bpf_program__attach(s->progs.sched_wakeup), "sched_wakeup"))
		return -1;
	return 0;
}

static void op_probes_off(struct run *r);

/* One uprobe_multi link per library for all its op sites: it attaches, and above all detaches (its
 * breakpoints all go at once), in one step. */
static int attach_sites(struct run *r, const struct gl_layout *lib)
{
	unsigned long offsets[PLAN_MAX_SITES];
	__u64 cookies[PLAN_MAX_SITES];
	size_t n = 0;
	for (size_t i = 0; i < r->plan.n_sites; i++) {
		if (r->plan.sites[i].lib != lib)
			continue;
		offsets[n] = r->plan.sites[i].file_offset;
		cookies[n] = i;
		n++;
	}
	if (!n)
		return 0;
	LIBBPF_OPTS(bpf_uprobe_multi_opts, opts, .offsets = offsets, .cookies = cookies, .cnt = n);
	struct bpf_link *link = bpf_program__attach_uprobe_multi(r->skel->progs.op_probe, probe_pid(r), lib->path, NULL, &opts);
	if (!link)
		return fail("cannot attach the op probes in %s: %s", lib->path, strerror(errno)), -1;
	r->op_links[r->n_op_links++] = link;
	return 0;
}

/* at_s: when the window switched (CLOCK_MONOTONIC seconds, the clock of the records) */
static void note_window(struct run *r, int on, double at_s)
{
	r->window_on = on;
	if (on)
		r->window_opened = at_s;
}

/* A WINDOW record of the helper's own follows everything the kernel wrote so far. */
static void write_window(struct run *r, int on)
{
	if (r->rings)
		rings_drain(r->rings);
	output_window(&r->out, on);
	note_window(r, on, now_s());
}

static void set_window(struct run *r, const struct window_state *state)
{
	__u32 zero = 0;
	bpf_map__update_elem(r->skel->maps.window, &zero, sizeof(zero), state, sizeof(*state), BPF_ANY);
}

/* Full mode, and a program without llama_decode (plain ggml), are traced throughout. */
static int traced_throughout(struct run *r)
{
	return r->opt.mode == MODE_FULL || !r->plan.decode.found;
}

/* Arms the in-kernel window: op records flow for the next `decodes` whole llama_decode calls; the
 * kernel side writes the WINDOW records as it opens and closes. */
static void arm_window(struct run *r, long decodes)
{
	int always = traced_throughout(r);
	struct window_state state = { .armed = 1, .open = always, .decodes = always ? 0xffffffff : (unsigned int)decodes };
	set_window(r, &state);
	if (always)
		write_window(r, 1);
}

static int window_closed(struct run *r)
{
	__u32 zero = 0;
	struct window_state state = { 0 };
	bpf_map__lookup_elem(r->skel->maps.window, &zero, sizeof(zero), &state, sizeof(state), 0);
	return !state.armed && !state.open;
}

static int op_probes_on(struct run *r)
{
	/* No CPU backend loaded yet: a window opens once one is (follow_libraries). */
	if (r->n_op_links || (!r->plan.n_cpus && !traced_throughout(r)))
		return 0;
	for (size_t i = 0; i < r->plan.n_cpus; i++) {
		if (attach_sites(r, r->plan.cpus[i])) {
			op_probes_off(r);
			return -1;
		}
	}
	/* Armed once every probe is in place, so the window's first llama_decode is traced whole. */
	arm_window(r, r->opt.window_decodes);
	r->windows++;
	return 0;
}

/* Detaches the op probes and disarms the window; a window the kernel side left open (the run ends,
 * or no llama_decode call completed it in time) is closed here. */
static void op_probes_off(struct run *r)
{
	if (!r->n_op_links)
		return;
	for (size_t i = 0; i < r->n_op_links; i++)
		bpf_link__destroy(r->op_links[i]);
	r->n_op_links = 0;
	struct window_state closed = { 0 };
	set_window(r, &closed);
	if (r->rings)
		rings_drain(r->rings); /* a WINDOW the kernel side wrote before it was disarmed */
	if (r->window_on)
		write_window(r, 0);
}

/* Probes a CPU backend the target loaded after the start: its graph probes, and its op probes
 * when op tracing is on now (else the next window attaches them with the others). */
static void attach_late(struct run *r, struct late_library *late, double noticed)
{
	const struct probe_point *graph = &r->plan.graph_compute[r->plan.n_cpus - 1];
	configure_sites(r, late->first_site);
	if (attach_graph_probes(r, graph))
		return;
	if ((r->n_op_links || traced_throughout(r)) && r->opt.mode != MODE_SAMPLE && attach_sites(r, late->lib))
		return;
	late->attached_ns = clock_ns(CLOCK_MONOTONIC);
	fprintf(stderr, "ggml-lens-probe: probed %s, loaded after the start, %.0f ms after it was seen (%zu op sites)\n",
		late->lib->path, (now_s() - noticed) * 1e3, late->n_sites);
}

/* Libraries the target mapped since the last look (ggml dlopens its CPU backends, from any
 * directory): a CPU backend not probed yet is analysed and probed now. /proc/PID/maps is read when
 * it may have changed (snapshot_maps_when_due, at most every 100 ms; it sees a library however it
 * was mapped); what the library computes before its probes are in place is not traced, and the
 * trailer says when they were. */
static void follow_libraries(struct run *r)
{
	if (!r->libraries_due)
		return;
	r->libraries_due = 0;
	for (size_t i = target_refresh_files(&r->target); i < r->target.n_files; i++) {
		double noticed = now_s();
		if (!r->scheduler_probed && plan_is_other_backend(r->target.files[i]) && attach_scheduler(r) == 0 && r->scheduler_probed)
			fprintf(stderr, "ggml-lens-probe: probed the backend scheduler: the target loaded %s\n", r->target.files[i]);
		files_as_invoker(&r->who);
		int added = plan_add_late_library(&r->plan, r->target.files[i]);
		files_as_self();
		if (added < 0)
			fprintf(stderr, "ggml-lens-probe: warning: %s\n", r->plan.error);
		else if (added)
			attach_late(r, &r->plan.late[r->plan.n_late - 1], noticed);
	}
}

static int perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return (int)syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static int attach_sampling(struct run *r)
{
	if (r->opt.sample_hz == 0)
		return 0;
	/* A fixed period in nanoseconds of the CPU clock, not .freq: in frequency mode the kernel stops
	 * and restarts the event's timer at every scheduler tick to adjust its period. */
	struct perf_event_attr attr = { .type = PERF_TYPE_SOFTWARE, .size = sizeof(attr), .config = PERF_COUNT_SW_CPU_CLOCK,
					.sample_period = 1000000000ull / r->opt.sample_hz };
	int n_cpus = libbpf_num_possible_cpus();
	for (int cpu = 0; cpu < n_cpus && cpu < MAX_CPUS; cpu++) {
		int fd = perf_event_open(&attr, -1, cpu);
		if (fd < 0)
			continue; /* offline CPU */
		r->perf_fds[r->n_perf_fds++] = fd;
		if (keep_link(r, bpf_program__attach_perf_event(r->skel->progs.sample, fd), "timer sampling"))
			return -1;
	}
	return 0;
}

/* The process of a traced thread: the target, unless --also-pid traces others too; 0 when the
 * thread has gone and its process cannot be told. */
static pid_t process_of(const struct run *r, unsigned int tid)
{
	if (!r->opt.n_also)
		return r->target.pid;
	char path[64], line[128];
	pid_t tgid = 0;
	snprintf(path, sizeof(path), "/proc/%u/status", tid);
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f) && sscanf(line, "Tgid: %d", &tgid) != 1)
		;
	if (f)
		fclose(f);
	return tgid;
}

static double turn_s(const struct run *r)
{
	if (r->released && now_s() - r->released < STARTUP_S)
		return STARTUP_TURN_S;
	return r->opt.mode == MODE_FULL ? FULL_MODE_TURN_S : TURN_S;
}

/* Reads the maps of the target (and --also-pid processes) again, for symbolizing samples and for
 * follow_libraries, when a turn (turn_s) has passed since the last check and they may have changed
 * (target_maps_changed). Called between ring turns and also while samples are consumed, since a
 * turn's records can take longer to process than a short target lives, and a target whose maps
 * were never read leaves every sample unsymbolized. Libraries may be dlopened at any time. */
static void snapshot_maps_when_due(struct run *r)
{
	double t = now_s();
	if (t - r->maps_checked < turn_s(r))
		return;
	r->maps_checked = t;
	if (target_maps_changed(&r->target)) {
		samples_snapshot_maps(r->samples, r->target.pid);
		r->libraries_due = 1;
	}
	for (size_t i = 0; i < r->opt.n_also; i++)
		if (target_maps_changed(&r->also[i]))
			samples_snapshot_maps(r->samples, r->also[i].pid);
}

/* A sample with its registers and stack top is unwound as its ring is read, and only the stream's
 * gl_sample waits in the queue (rings.h): copying the stack top there cost as much as unwinding it. */
static size_t reduce_record(void *ctx, const void *data, size_t size, void *out, size_t out_cap)
{
	struct run *r = ctx;
	const struct gl_sample_unwind *raw = data;
	size_t stack_at = offsetof(struct gl_sample_unwind, stack);
	if (raw->sample.hdr.type != GL_REC_SAMPLE_UNWIND || size < stack_at || raw->stack_len > size - stack_at ||
	    out_cap < sizeof(struct gl_sample))
		return 0;
	snapshot_maps_when_due(r);
	struct gl_sample sample = raw->sample;
	sample.hdr.type = GL_REC_SAMPLE;
	sample.hdr.size = sizeof(sample);
	sample.stack = samples_add_stack(r->samples, process_of(r, sample.hdr.tid), raw);
	samples_add_ip(r->samples, sample.ip);
	memcpy(out, &sample, sizeof(sample));
	return sizeof(sample);
}

static void on_record(void *ctx, const void *data, size_t size)
{
	struct run *r = ctx;
	const struct gl_record *rec = data;
	if (rec->type == GL_REC_SAMPLE_UNWIND)
		return; /* one reduce_record could not read */
	output_record(&r->out, data, size);
	if (rec->type == GL_REC_WINDOW)
		note_window(r, ((const struct gl_window *)data)->on != 0, rec->ts / 1e9);
	if (rec->type == GL_REC_BACKEND_GRAPH_BEGIN) /* the trailer's symbols name the backend's graph_compute */
		samples_add_ip(r->samples, ((const struct gl_backend_graph_begin *)data)->compute_fn);
}

static void remove_pin_dir(const char *dir)
{
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The helper gives up root once attached (privilege.c) and may then not remove its pins from root's
 * PIN_ROOT, nor can it when it is SIGKILLed: a child that stays root for this one job waits for the
 * helper's end (EOF on a pipe whose only writer is the helper) and removes them. It holds nothing else
 * and reads nothing but that EOF. */
static pid_t start_pin_reaper(const char *dir, int *write_end)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return -1;
	pid_t pid = fork();
	if (pid < 0) {
		close(fds[0]), close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		signal(SIGINT, SIG_IGN), signal(SIGTERM, SIG_IGN), signal(SIGHUP, SIG_IGN);
		if (fds[0] > 0)
			syscall(SYS_close_range, 0, fds[0] - 1, 0);
		syscall(SYS_close_range, fds[0] + 1, ~0U, 0);
		for (char c;;) {
			ssize_t n = read(fds[0], &c, 1);
			if (n == 0 || (n < 0 && errno != EINTR))
				break;
		}
		remove_pin_dir(dir);
		_exit(0);
	}
	close(fds[0]);
	*write_end = fds[1];
	return pid;
}

static void pin_maps(struct run *r)
{
	if (!is_bpffs(PIN_ROOT_PARENT) || (mkdir(PIN_ROOT, 0700) != 0 && errno != EEXIST))
		return;
	snprintf(r->pin_dir, sizeof(r->pin_dir), PIN_ROOT "/%d", (int)getpid());
	/* the reaper first: a helper killed between pinning and starting it would leave the pins */
	r->pin_reaper = start_pin_reaper(r->pin_dir, &r->pin_reaper_fd);
	if (r->pin_reaper < 0)
		fprintf(stderr, "ggml-lens-probe: warning: %s stays until the next start: %s\n", r->pin_dir, strerror(errno));
	char path[192];
	snprintf(path, sizeof(path), "%s/hits", r->pin_dir);
	bpf_map__pin(r->skel->maps.hits, path);
	snprintf(path, sizeof(path), "%s/lost", r->pin_dir);
	bpf_map__pin(r->skel->maps.lost, path);
}

/* Wakes the reaper and waits until the pins are gone. */
static void unpin_maps(struct run *r)
{
	if (r->pin_reaper <= 0)
		return;
	close(r->pin_reaper_fd);
	while (waitpid(r->pin_reaper, NULL, 0) < 0 && errno == EINTR)
		;
	r->pin_reaper = 0;
}

/* Pins of runs whose reaper died too are removed at the next start. */
static void remove_stale_pins(void)
{
	DIR *d = opendir(PIN_ROOT);
	for (struct dirent *e; d && (e = readdir(d));) {
		long pid;
		if (parse_long(e->d_name, 1, 1 << 30, &pid) || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char dir[128];
		snprintf(dir, sizeof(dir), PIN_ROOT "/%ld", pid);
		remove_pin_dir(dir);
		fprintf(stderr, "ggml-lens-probe: removed pins of a dead run (%ld)\n", pid);
	}
	if (d)
		closedir(d);
}

static int target_alive(struct run *r)
{
	if (r->target.launched) {
		int status;
		pid_t got = waitpid(r->target.pid, &status, WNOHANG);
		if (got == r->target.pid) {
			r->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			return 0;
		}
		return got == 0;
	}
	return kill(r->target.pid, 0) == 0 || errno != ESRCH;
}

/* Seconds until default mode's next window is due (counted from the last window's opening: the
 * first opens only once the model is loaded); <= 0 when it is. */
static double next_window_in_s(const struct run *r, double now)
{
	return r->window_opened + r->opt.window_every - now;
}

static void duty_cycle(struct run *r)
{
	if (r->opt.mode != MODE_DEFAULT)
		return;
	double t = now_s();
	/* A window the kernel side closed is ended at once, before its records are read: until the op
	 * probes are off they trap in the target's next llama_decode call, recording nothing. One whose
	 * llama_decode calls do not complete within seconds (a stalled target) is cut. */
	if (r->n_op_links && (window_closed(r) || (r->window_on && t - r->window_opened > MAX_WINDOW_S)))
		op_probes_off(r);
	else if (!r->n_op_links && next_window_in_s(r, t) <= 0)
		op_probes_on(r);
}

/* How long the next ring turn may wait: a turn, or less when default mode's next window is due
 * sooner (its close wakes the helper from the kernel side; its opening is due by the clock). */
static int poll_timeout_ms(const struct run *r)
{
	double wait = turn_s(r);
	if (r->opt.mode == MODE_DEFAULT && !r->n_op_links) {
		double due = next_window_in_s(r, now_s());
		if (due < wait)
			wait = due > 0 ? due : 0;
	}
	return (int)(wait * 1000 + 0.999);
}

static void report_progress(struct run *r, double *last)
{
	double t = now_s();
	if (t - *last < 1)
		return;
	*last = t;
	fprintf(stderr, "ggml-lens-probe: progress decodes=%llu ops=%llu lost=%llu windows=%d\n",
		(unsigned long long)r->out.counts[GL_REC_DECODE_END], (unsigned long long)r->out.counts[GL_REC_OP_BEGIN],
		(unsigned long long)output_lost_total(bpf_map__fd(r->skel->maps.lost)), r->windows);
}

static void event_loop(struct run *r)
{
	double started = now_s(), last_progress = started, forwarded = 0;
	int killed = 0;
	while (target_alive(r)) {
		if (stop_requested && r->target.launched && !forwarded) {
			kill(r->target.pid, SIGINT); /* Ctrl-C / Stop: let the target end, keep the profile */
			forwarded = now_s();
		} else if (stop_requested && !r->target.launched)
			break;
		else if (forwarded && !killed && (stop_requested > 1 || now_s() - forwarded > STOP_GRACE_S)) {
			/* a second stop, or a program that does not end on SIGINT (llama.cpp's handler logs, and
			 * can deadlock on its own log mutex): end it, so that nothing is left running */
			if (stop_requested > 1)
				fprintf(stderr, "ggml-lens-probe: stopped again before the program ended: killed\n");
			else
				fprintf(stderr, "ggml-lens-probe: the program did not end within %.0f s after SIGINT: killed\n", STOP_GRACE_S);
			kill(r->target.pid, SIGKILL);
			killed = 1;
		}
		if (r->opt.duration && now_s() - started >= r->opt.duration)
			break;
		/* Records are submitted without wakeups, but for a ring half full and a window's end: the
		 * wait times out, or ends for a window to close first, then everything is consumed. */
		rings_wait(r->rings, poll_timeout_ms(r));
		duty_cycle(r);
		rings_read(r->rings);
		output_flush(&r->out);
		snapshot_maps_when_due(r);
		follow_libraries(r);
		report_progress(r, &last_progress);
	}
	rings_drain(r->rings);
}

/* --also-pid: each process is checked like --pid (it exists, the invoking user owns it). */
static int attach_also(struct run *r)
{
	char err[512];
	for (size_t i = 0; i < r->opt.n_also; i++) {
		if (r->opt.also_pids[i] == r->target.pid)
			return fail("--also-pid %d is the target itself", (int)r->target.pid), -1;
		if (target_attach(&r->also[i], &r->who, r->opt.also_pids[i], err, sizeof(err)))
			return fail("--also-pid: %s", err), -1;
	}
	return 0;
}

/* The target's files, then those of the --also-pid processes (plan_build skips repeats). */
static size_t traced_files(const struct run *r, const char **files)
{
	size_t n = 0;
	for (size_t i = 0; i < r->target.n_files; i++)
		files[n++] = r->target.files[i];
	for (size_t p = 0; p < r->opt.n_also; p++)
		for (size_t i = 0; i < r->also[p].n_files; i++)
			files[n++] = r->also[p].files[i];
	return n;
}

static int start(struct run *r)
{
	char err[512];
	if (invoker_get(&r->who, err, sizeof(err)))
		return fail("%s", err), -1;
	int rc = r->opt.pid ? target_attach(&r->target, &r->who, r->opt.pid, err, sizeof(err))
			    : target_launch(&r->target, &r->who, r->opt.argv, err, sizeof(err));
	if (rc)
		return fail("%s", err), -1;
	if (attach_also(r))
		return -1;
	const char *files[LAUNCH_MAX_FILES * (1 + GL_MAX_ALSO_PIDS)];
	size_t n_files = traced_files(r, files);
	/* The program's files and a --layout-from directory are read as the invoking user would read them. */
	files_as_invoker(&r->who);
	rc = plan_build(&r->plan, files, n_files, r->opt.layout_from);
	files_as_self();
	if (rc)
		return fail("%s", r->plan.error), -1;
	int fd = r->opt.out ? open_as_invoker(&r->who, r->opt.out, err, sizeof(err)) : dup(STDOUT_FILENO);
	if (fd < 0)
		return fail("%s", err), -1;
	r->out_created = r->opt.out != NULL;
	if (output_open(&r->out, fd))
		return fail("cannot write the output"), -1;
	r->skel = probe__open();
	if (!r->skel)
		return fail("cannot open the BPF programs: %s", strerror(errno)), -1;
	configure(r);
	/* The rings' map needs a ring of their size as its template (libbpf cannot resize its own). */
	int template = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "gl_ring", 0, 0, ring_bytes(r), NULL);
	if (template < 0)
		return fail("cannot create a ring buffer of %u KiB: %s; a smaller --ringbuf-kb may do", ring_bytes(r) / 1024,
			    strerror(errno)), -1;
	bpf_map__set_inner_map_fd(r->skel->maps.rings, template);
	rc = probe__load(r->skel);
	close(template);
	if (rc)
		return fail("the kernel refused the BPF programs (see above); kernel 6.6 or newer is needed"), -1;
	r->samples = samples_new();
	r->rings = rings_new(bpf_map__fd(r->skel->maps.rings), possible_cpus(), ring_bytes(r), bpf_map__fd(r->skel->maps.structures),
			     reduce_record, on_record, r);
	if (r->rings && rings_add_op_logs(r->rings, bpf_map__fd(r->skel->maps.op_logs), op_log_bytes(r), op_log_entries(r)))
		return fail("cannot map the op logs (%d CPUs, %u KiB each): %s; a smaller --ringbuf-kb may do", possible_cpus(),
			    op_log_bytes(r) / 1024, strerror(errno)), -1;
	if (!r->rings)
		return fail("cannot create the ring buffers (%d CPUs, %u KiB each): %s; a smaller --ringbuf-kb may do",
			    possible_cpus(), ring_bytes(r) / 1024, strerror(errno)), -1;
	output_header(&r->out, &r->plan, &r->target, r->also, r->opt.n_also, MODE_NAMES[r->opt.mode], r->opt.sample_hz);
	double t0 = now_s();
	if (attach_fixed(r) || attach_sampling(r) || (r->opt.mode != MODE_SAMPLE && op_probes_on(r)))
		return -1;
	fprintf(stderr, "ggml-lens-probe: attached in %.0f ms (%zu op sites in %zu CPU backend%s, method %s)\n",
		(now_s() - t0) * 1e3, r->plan.n_sites, r->plan.n_cpus, r->plan.n_cpus == 1 ? "" : "s",
		r->plan.n_cpus ? r->plan.op_method : "none yet");
	if (!r->plan.n_cpus)
		fprintf(stderr, "ggml-lens-probe: no ggml CPU backend loaded yet: it is probed when the program loads one\n");
	pin_maps(r);
	if (privilege_drop(&r->who, err, sizeof(err)))
		return fail("%s", err), -1;
	if (target_release(&r->target))
		return fail("the target process could not be started"), -1;
	if (r->target.launched)
		r->released = now_s();
	return 0;
}

static void finish(struct run *r)
{
	op_probes_off(r);
	for (size_t i = 0; i < r->n_fixed_links; i++)
		bpf_link__destroy(r->fixed_links[i]);
	r->n_fixed_links = 0;
	for (int i = 0; i < r->n_perf_fds; i++)
		close(r->perf_fds[i]);
	if (r->skel && r->out.f) {
		int exit_known = r->target.launched && !target_alive(r);
		output_trailer(&r->out, bpf_map__fd(r->skel->maps.hits), bpf_map__fd(r->skel->maps.lost),
			       exit_known ? r->exit_status : -1, r->windows, r->samples, &r->plan, r->skel->obj);
	}
	output_close(&r->out);
	rings_free(r->rings);
	samples_free(r->samples);
	unpin_maps(r);
	probe__destroy(r->skel);
	plan_free(&r->plan);
	target_free(&r->target);
	for (size_t i = 0; i < r->opt.n_also; i++)
		if (r->also[i].pid) /* attached (checked) */
			target_free(&r->also[i]);
}

int main(int argc, char **argv)
{
	static struct run run = { 0 };
	if (parse_options(argc, argv, &run.opt))
		return 2;
	if (check_system())
		return 1;
	libbpf_set_print(libbpf_log);
	remove_stale_pins();
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = start(&run);
	if (rc == 0)
		event_loop(&run);
	else if (run.target.launched)
		kill(run.target.pid, SIGKILL), waitpid(run.target.pid, NULL, 0);
	finish(&run);
	if (rc && run.opt.out && run.out_created)
		unlink(run.opt.out); /* nothing was recorded: leave no empty profile behind */
	if (rc)
		return 1;
	fprintf(stderr, "ggml-lens-probe: done: %llu records, target exit status %d\n",
		(unsigned long long)run.out.n_records, run.exit_status);
	return run.target.launched ? run.exit_status : 0;
}
