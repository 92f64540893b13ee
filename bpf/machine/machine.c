/* ggml-lens-machine: measures this machine's ceilings for the roofline of ggml-lens, as a
 * hierarchical roofline in the manner of Intel Advisor's CARM: peak f32 FLOP/s (multiply-add chains
 * in the widest vector ISA the CPU has) and the bandwidth of a STREAM-like triad whose working set
 * fits each cache level, then arrays far larger than the last-level cache (DRAM); one thread and all
 * threads, each the median of several repetitions. Prints JSON on stdout; takes a few seconds.
 *
 * Bytes are counted as STREAM counts them: two floats read and one written per element of the
 * triad; the write-allocate traffic of the stores is not counted. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kernels.h"

#define REPETITIONS 5
#define MAX_THREADS 1024
#define MAX_CACHE_LEVEL 4
#define FLOPS_RUN_S 0.025
#define CACHE_RUN_S 0.02
/* The DRAM arrays: four times the last-level cache as STREAM asks, at least 256 MiB and at most
 * DRAM_MAX_BYTES or a quarter of the available memory, whichever is less (then the output says so). */
#define DRAM_MIN_BYTES (256ul << 20)
#define DRAM_MAX_BYTES (512ul << 20)
#define HUGE_PAGE (2ul << 20)
#define MAX_NOTES 8

struct machine {
	char model[256];
	int cpus[MAX_THREADS];
	int threads;
	int cores;
	double ghz; /* 0 when unknown */
	const char *ghz_source;
	/* Data/unified cache size per level (index 1..MAX_CACHE_LEVEL), 0 when absent. */
	size_t cache[MAX_CACHE_LEVEL + 1];
	int cache_sharing[MAX_CACHE_LEVEL + 1];
	const char *cache_source;
	const char *notes[MAX_NOTES];
	int n_notes;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void note(struct machine *m, const char *text)
{
	if (m->n_notes < MAX_NOTES)
		m->notes[m->n_notes++] = text;
}

/* ---- what the machine is ------------------------------------------------------------------ */

/* The value of the first "key : value" line of /proc/cpuinfo, or 0. */
static int cpuinfo_value(const char *key, char *out, size_t cap)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return 0;
	char line[512];
	int found = 0;
	while (!found && fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon || strncmp(line, key, strlen(key)) != 0 || !isspace((unsigned char)line[strlen(key)]))
			continue;
		char *value = colon + 1;
		while (isspace((unsigned char)*value))
			value++;
		value[strcspn(value, "\n")] = 0;
		snprintf(out, cap, "%s", value);
		found = 1;
	}
	fclose(f);
	return found;
}

static long read_long(const char *path, long fallback)
{
	FILE *f = fopen(path, "r");
	long value = fallback;
	if (f) {
		if (fscanf(f, "%ld", &value) != 1)
			value = fallback;
		fclose(f);
	}
	return value;
}

/* Cache size text such as "48K" or "1024K" or "32M" in bytes. */
static size_t parse_size(const char *text)
{
	char *end;
	size_t n = strtoul(text, &end, 10);
	if (*end == 'K')
		n <<= 10;
	else if (*end == 'M')
		n <<= 20;
	else if (*end == 'G')
		n <<= 30;
	return n;
}

/* Number of CPUs in a list such as "0-3,8,10-11". */
static int count_cpu_list(const char *list)
{
	int count = 0;
	for (const char *p = list; *p;) {
		char *end;
		long first = strtol(p, &end, 10), last = first;
		if (end == p)
			break;
		if (*end == '-')
			last = strtol(end + 1, &end, 10);
		count += (int)(last - first + 1);
		p = *end == ',' ? end + 1 : end;
	}
	return count;
}

/* The first line of file `name` in directory `dir`, without its newline; "" when unreadable. */
static void read_line(const char *dir, const char *name, char *out, size_t cap)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "r");
	out[0] = 0;
	if (f) {
		if (!fgets(out, (int)cap, f))
			out[0] = 0;
		fclose(f);
	}
	out[strcspn(out, "\n")] = 0;
}

static int caches_from_sysfs(struct machine *m)
{
	int found = 0;
	for (int index = 0; index < 16; index++) {
		char dir[128], level[16], type[32], size[32], shared[256];
		snprintf(dir, sizeof dir, "/sys/devices/system/cpu/cpu%d/cache/index%d", m->cpus[0], index);
		read_line(dir, "level", level, sizeof level);
		if (!level[0])
			break;
		read_line(dir, "type", type, sizeof type);
		read_line(dir, "size", size, sizeof size);
		read_line(dir, "shared_cpu_list", shared, sizeof shared);
		int n = atoi(level);
		if (n < 1 || n > MAX_CACHE_LEVEL || strcmp(type, "Instruction") == 0)
			continue;
		m->cache[n] = parse_size(size);
		m->cache_sharing[n] = count_cpu_list(shared);
		found = 1;
	}
	return found;
}

/* Cache sizes: sysfs (as the kernel knows them), else glibc's sysconf (from CPUID). */
static void read_caches(struct machine *m)
{
	if (caches_from_sysfs(m)) {
		m->cache_source = "sysfs (/sys/devices/system/cpu/cpu*/cache)";
		return;
	}
	const int names[] = { 0, _SC_LEVEL1_DCACHE_SIZE, _SC_LEVEL2_CACHE_SIZE, _SC_LEVEL3_CACHE_SIZE, _SC_LEVEL4_CACHE_SIZE };
	for (int level = 1; level <= MAX_CACHE_LEVEL; level++) {
		long size = sysconf(names[level]);
		m->cache[level] = size > 0 ? (size_t)size : 0;
		m->cache_sharing[level] = 0;
	}
	m->cache_source = "sysconf (CPUID; the kernel exposes no cache topology here)";
}

/* Distinct (package, core) pairs among the CPUs we may run on; the thread count when unknown. */
static int count_cores(const struct machine *m)
{
	long seen[MAX_THREADS];
	int n = 0;
	for (int i = 0; i < m->threads; i++) {
		char path[128];
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/core_id", m->cpus[i]);
		long core = read_long(path, -1);
		snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/physical_package_id", m->cpus[i]);
		long package = read_long(path, 0);
		if (core < 0)
			return m->threads;
		long key = package << 20 | core;
		int known = 0;
		for (int j = 0; j < n; j++)
			known |= seen[j] == key;
		if (!known)
			seen[n++] = key;
	}
	return n;
}

static void read_clock(struct machine *m)
{
	long khz = read_long("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", -1);
	char mhz[64];
	if (khz > 0) {
		m->ghz = khz / 1e6;
		m->ghz_source = "cpufreq cpuinfo_max_freq";
	} else if (cpuinfo_value("cpu MHz", mhz, sizeof mhz)) {
		m->ghz = atof(mhz) / 1e3;
		m->ghz_source = "/proc/cpuinfo cpu MHz (no cpufreq; may be the base clock, not the boost clock)";
	} else {
		m->ghz = 0;
		m->ghz_source = "unknown";
	}
}

static int describe_machine(struct machine *m)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0) {
		fprintf(stderr, "ggml-lens-machine: cannot read the CPU affinity: %s\n", strerror(errno));
		return -1;
	}
	m->threads = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE && m->threads < MAX_THREADS; cpu++)
		if (CPU_ISSET(cpu, &set))
			m->cpus[m->threads++] = cpu;
	if (!cpuinfo_value("model name", m->model, sizeof m->model))
		snprintf(m->model, sizeof m->model, "unknown");
	m->cores = count_cores(m);
	read_caches(m);
	read_clock(m);
	return 0;
}

/* ---- measuring ---------------------------------------------------------------------------- */

enum kind { FLOPS, TRIAD };

struct run {
	enum kind kind;
	const struct isa *isa;
	const struct machine *machine;
	int threads;
	size_t n; /* floats per array per thread (TRIAD) */
	float *shared[3]; /* arrays all threads slice (n floats each per thread), or NULL: each thread its own */
	double target_s;
	long work; /* iterations (FLOPS) or passes (TRIAD) per thread per repetition */
	int done;
	int warmed; /* one run at the final size was done and not counted */
	int taken;
	double samples[REPETITIONS];
	double t0;
	float sinks[MAX_THREADS];
	pthread_barrier_t start, end;
	int failed;
};

struct worker {
	struct run *run;
	int index;
	pthread_t thread;
};

/* What all threads did in one repetition: FLOPs, or bytes of the triad. */
static double amount(const struct run *r)
{
	if (r->kind == TRIAD)
		return 3.0 * sizeof(float) * r->n * r->work * r->threads;
	float scratch = 0;
	return r->isa->flops(1, &scratch) * r->work * r->threads;
}

/* Thread 0, between repetitions: grows the work until a run takes long enough, then takes samples. */
static void after_run(struct run *r, double elapsed)
{
	if (elapsed < r->target_s / 4 && r->taken == 0) {
		double scale = elapsed > 0 ? r->target_s / elapsed : 1000;
		r->work = (long)(r->work * (scale > 1000 ? 1000 : scale < 2 ? 2 : scale)) + 1;
		return;
	}
	if (!r->warmed) {
		r->warmed = 1;
		return;
	}
	r->samples[r->taken++] = amount(r) / elapsed / 1e9;
	r->done = r->taken == REPETITIONS;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* An array of `bytes`; large ones on huge pages where the kernel allows, so that touching them
 * first costs few page faults. */
static float *array(size_t bytes)
{
	if (bytes < HUGE_PAGE)
		return aligned_alloc(64, (bytes + 63) / 64 * 64);
	size_t rounded = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
	float *p = aligned_alloc(HUGE_PAGE, rounded);
	if (p)
		madvise(p, rounded, MADV_HUGEPAGE);
	return p;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	pin(r->machine->cpus[w->index]);
	float *a = NULL, *b = NULL, *c = NULL;
	int own = r->kind == TRIAD && !r->shared[0];
	if (r->kind == TRIAD && !own) {
		a = r->shared[0] + w->index * r->n;
		b = r->shared[1] + w->index * r->n;
		c = r->shared[2] + w->index * r->n;
	} else if (own) {
		size_t bytes = r->n * sizeof(float);
		a = array(bytes);
		b = array(bytes);
		c = array(bytes);
		if (!a || !b || !c)
			r->failed = 1;
		else
			for (size_t i = 0; i < r->n; i++) /* first touch by the thread that uses them */
				a[i] = 0, b[i] = 1, c[i] = 2;
	}
	for (;;) {
		pthread_barrier_wait(&r->start);
		if (r->done || r->failed)
			break;
		if (w->index == 0)
			r->t0 = now_s();
		if (r->kind == FLOPS)
			r->isa->flops(r->work, &r->sinks[w->index]);
		else
			r->isa->triad(a, b, c, r->n, r->work);
		pthread_barrier_wait(&r->end);
		if (w->index == 0)
			after_run(r, now_s() - r->t0);
	}
	if (own) {
		free(a);
		free(b);
		free(c);
	}
	return NULL;
}

static int compare_doubles(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return (a > b) - (a < b);
}

struct result {
	double median;
	double samples[REPETITIONS];
};

/* Runs a measurement on `threads` threads; rates in GFLOP/s or GB/s. Returns -1 on failure. */
static int measure(struct run *r, struct result *out)
{
	struct worker workers[MAX_THREADS];
	pthread_barrier_init(&r->start, NULL, r->threads);
	pthread_barrier_init(&r->end, NULL, r->threads);
	for (int i = 1; i < r->threads; i++) {
		workers[i] = (struct worker){ r, i, 0 };
		pthread_create(&workers[i].thread, NULL, work, &workers[i]);
	}
	workers[0] = (struct worker){ r, 0, pthread_self() };
	work(&workers[0]);
	for (int i = 1; i < r->threads; i++)
		pthread_join(workers[i].thread, NULL);
	pthread_barrier_destroy(&r->start);
	pthread_barrier_destroy(&r->end);
	if (r->failed)
		return -1;
	memcpy(out->samples, r->samples, sizeof out->samples);
	qsort(r->samples, REPETITIONS, sizeof(double), compare_doubles);
	out->median = r->samples[REPETITIONS / 2];
	return 0;
}

static int measure_flops(const struct machine *m, const struct isa *isa, int threads, struct result *out)
{
	static struct run r;
	r = (struct run){ .kind = FLOPS, .isa = isa, .machine = m, .threads = threads, .target_s = FLOPS_RUN_S, .work = 1 << 16 };
	return measure(&r, out);
}

/* Triad on `bytes_per_thread` bytes (three arrays) per thread; in slices of `shared` arrays when given. */
static int measure_triad(const struct machine *m, const struct isa *isa, int threads, size_t bytes_per_thread,
			 double target_s, float *const shared[3], struct result *out)
{
	static struct run r;
	size_t n = bytes_per_thread / (3 * sizeof(float)) / 64 * 64;
	r = (struct run){ .kind = TRIAD, .isa = isa, .machine = m, .threads = threads, .n = n ? n : 64, .target_s = target_s, .work = 1 };
	if (shared)
		memcpy(r.shared, shared, sizeof r.shared);
	return measure(&r, out);
}

/* The DRAM arrays, allocated and touched once for the one-thread and the all-threads runs (touching
 * hundreds of MiB twice would cost more than the measurements). */
static int dram_arrays(size_t bytes, float *arrays[3])
{
	size_t each = bytes / 3 / 64 * 64;
	for (int k = 0; k < 3; k++) {
		arrays[k] = array(each);
		if (!arrays[k])
			return -1;
		for (size_t i = 0; i < each / sizeof(float); i++)
			arrays[k][i] = (float)k;
	}
	return 0;
}

/* ---- levels ------------------------------------------------------------------------------- */

struct level {
	const char *name;
	size_t bytes_per_thread_one; /* working set with one thread */
	size_t bytes_per_thread_all; /* working set of each thread with all threads */
	double target_s;
};

static size_t available_memory(void)
{
	long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	return pages > 0 && page > 0 ? (size_t)pages * page : DRAM_MAX_BYTES;
}

static size_t last_level_cache(const struct machine *m)
{
	for (int level = MAX_CACHE_LEVEL; level >= 1; level--)
		if (m->cache[level])
			return m->cache[level];
	return 0;
}

/* The working sets: half of L1 and of L2 per thread (private caches); for L3, just above L2 (four
 * times it) unless half the L3 share of each thread is smaller; for DRAM, far beyond the LLC. */
static int plan_levels(struct machine *m, struct level *levels)
{
	int n = 0;
	if (m->cache[1])
		levels[n++] = (struct level){ "L1", m->cache[1] / 2, m->cache[1] / 2, CACHE_RUN_S };
	if (m->cache[2])
		levels[n++] = (struct level){ "L2", m->cache[2] / 2, m->cache[2] / 2, CACHE_RUN_S };
	if (m->cache[3] > 2 * m->cache[2]) {
		size_t above_l2 = 4 * m->cache[2];
		size_t one = m->cache[3] / 2 < above_l2 ? m->cache[3] / 2 : above_l2;
		size_t all = m->cache[3] / 2 / m->threads < above_l2 ? m->cache[3] / 2 / m->threads : above_l2;
		levels[n++] = (struct level){ "L3", one, all, CACHE_RUN_S };
	}
	size_t dram = 4 * last_level_cache(m);
	if (dram < DRAM_MIN_BYTES)
		dram = DRAM_MIN_BYTES;
	size_t cap = available_memory() / 4 < DRAM_MAX_BYTES ? available_memory() / 4 : DRAM_MAX_BYTES;
	if (dram > cap) {
		dram = cap;
		note(m, "the DRAM arrays are smaller than four times the reported last-level cache (capped at 512 MiB "
			"or a quarter of the free memory); where that cache is split between core complexes, a "
			"core reaches only its own part, so the triad still runs from memory");
	}
	levels[n++] = (struct level){ "DRAM", dram, dram / m->threads, 0.1 };
	return n;
}

/* ---- output ------------------------------------------------------------------------------- */

static void print_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void print_result(const char *key, const struct result *r)
{
	printf("\"%s\": {\"median\": %.4f, \"samples\": [", key, r->median);
	for (int i = 0; i < REPETITIONS; i++)
		printf("%s%.4f", i ? ", " : "", r->samples[i]);
	printf("]}");
}

static void print_cpu(const struct machine *m, const struct isa *isa)
{
	printf("  \"cpu\": {\"model\": ");
	print_string(m->model);
	printf(", \"isa\": \"%s\", \"vector_lanes_f32\": %d, \"fma\": %s, \"threads\": %d, \"cores\": %d, ", isa->name,
	       isa->lanes, isa->fma ? "true" : "false", m->threads, m->cores);
	if (m->ghz > 0)
		printf("\"ghz\": %.3f, ", m->ghz);
	else
		printf("\"ghz\": null, ");
	printf("\"ghz_source\": ");
	print_string(m->ghz_source);
	printf("},\n  \"caches\": [");
	for (int level = 1, first = 1; level <= MAX_CACHE_LEVEL; level++) {
		if (!m->cache[level])
			continue;
		printf("%s{\"level\": %d, \"size_bytes\": %zu, \"shared_by\": %d}", first ? "" : ", ", level, m->cache[level],
		       m->cache_sharing[level]);
		first = 0;
	}
	printf("],\n  \"caches_source\": ");
	print_string(m->cache_source);
	printf(",\n");
}

/* cores x GHz x lanes x FLOPs per lane per instruction x pipes, the pipes inferred from the one-thread
 * rate (the nearest whole number of vector instructions per cycle). */
static void print_theoretical(const struct machine *m, const struct isa *isa, double one_thread)
{
	if (m->ghz <= 0) {
		printf("  \"theoretical\": null,\n");
		return;
	}
	double per_cycle = isa->lanes * 2.0; /* an FMA, or a multiply and an add */
	int pipes = (int)(one_thread / (m->ghz * per_cycle) + 0.5);
	if (pipes < 1)
		pipes = 1;
	double core = m->ghz * per_cycle * pipes;
	printf("  \"theoretical\": {\"gflops_one_thread\": %.4f, \"gflops_all_threads\": %.4f, \"pipes\": %d, \"formula\": ", core,
	       core * m->cores, pipes);
	print_string(isa->fma ? "cores x GHz x f32 lanes x 2 (FMA) x FMA pipes per core (pipes inferred from the one-thread rate)"
			      : "cores x GHz x f32 lanes x 2 (a multiply and an add pipe) x pipes (inferred from the one-thread rate)");
	printf("},\n");
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		int help = strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0;
		fprintf(help ? stdout : stderr,
			"%sUsage: ggml-lens-machine\nMeasures peak f32 FLOP/s and the triad bandwidth of each cache level and of DRAM, "
			"one thread and all threads, and prints them as JSON (ggml-lens machine runs it and caches the result).\n",
			help ? "" : "ggml-lens-machine takes no arguments.\n");
		return help ? 0 : 2;
	}
	double started = now_s();
	static struct machine m;
	if (describe_machine(&m) != 0)
		return 1;
	const struct isa *isa = best_isa();
	struct result flops_one, flops_all;
	if (measure_flops(&m, isa, 1, &flops_one) || measure_flops(&m, isa, m.threads, &flops_all))
		return 1;
	struct level levels[MAX_CACHE_LEVEL + 1];
	int n_levels = plan_levels(&m, levels);
	struct result bw_one[MAX_CACHE_LEVEL + 1], bw_all[MAX_CACHE_LEVEL + 1];
	for (int i = 0; i < n_levels; i++) {
		int dram = i == n_levels - 1;
		float *arrays[3] = { NULL, NULL, NULL };
		if ((dram && dram_arrays(levels[i].bytes_per_thread_one, arrays)) ||
		    measure_triad(&m, isa, 1, levels[i].bytes_per_thread_one, levels[i].target_s, dram ? arrays : NULL, &bw_one[i]) ||
		    measure_triad(&m, isa, m.threads, levels[i].bytes_per_thread_all, levels[i].target_s, dram ? arrays : NULL, &bw_all[i])) {
			fprintf(stderr, "ggml-lens-machine: cannot allocate the %s working set (%zu bytes)\n", levels[i].name,
				levels[i].bytes_per_thread_one);
			return 1;
		}
		for (int k = 0; k < 3; k++)
			free(arrays[k]);
	}
	printf("{\n  \"format\": \"ggml-lens-machine\",\n  \"version\": 1,\n");
	print_cpu(&m, isa);
	printf("  \"repetitions\": %d,\n  \"peak_gflops\": {", REPETITIONS);
	print_result("one_thread", &flops_one);
	printf(", ");
	print_result("all_threads", &flops_all);
	printf("},\n");
	print_theoretical(&m, isa, flops_one.median);
	printf("  \"bandwidth_gbps\": [\n");
	for (int i = 0; i < n_levels; i++) {
		printf("    {\"level\": \"%s\", \"working_set_bytes\": {\"one_thread\": %zu, \"all_threads_each\": %zu}, ", levels[i].name,
		       levels[i].bytes_per_thread_one, levels[i].bytes_per_thread_all);
		print_result("one_thread", &bw_one[i]);
		printf(", ");
		print_result("all_threads", &bw_all[i]);
		printf("}%s\n", i + 1 < n_levels ? "," : "");
	}
	printf("  ],\n  \"bytes_counted\": \"triad: 2 floats read + 1 written per element (as STREAM; write-allocate not counted)\",\n");
	printf("  \"notes\": [");
	for (int i = 0; i < m.n_notes; i++) {
		printf("%s", i ? ", " : "");
		print_string(m.notes[i]);
	}
	printf("],\n  \"elapsed_s\": %.3f\n}\n", now_s() - started);
	return 0;
}
