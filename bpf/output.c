#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "target/jsonw.h"
#include "output.h"
#include "samples.h"
#include "stream.h"

static const char *const PROBE_NAMES[GL_PROBE_COUNT] = {
	[GL_PROBE_DECODE_ENTER] = "decode_enter", [GL_PROBE_DECODE_EXIT] = "decode_exit",
	[GL_PROBE_GRAPH_ENTER] = "graph_enter",	  [GL_PROBE_GRAPH_EXIT] = "graph_exit",
	[GL_PROBE_OP_BEGIN] = "op_begin",	  [GL_PROBE_OP_FUSED] = "op_fused",
	[GL_PROBE_OP_END] = "op_end",		  [GL_PROBE_SAMPLE] = "sample",
	[GL_PROBE_SCHED] = "sched",		  [GL_PROBE_BACKEND_GRAPH] = "backend_graph",
	[GL_PROBE_TENSOR_COPY] = "tensor_copy",	  [GL_PROBE_BACKEND_NAME] = "backend_name",
};

uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int output_open(struct output *out, int fd)
{
	memset(out, 0, sizeof(*out));
	out->f = fdopen(fd, "wb");
	if (!out->f)
		return -1;
	setvbuf(out->f, NULL, _IOFBF, 1 << 20);
	return 0;
}

static void write_library(struct json *j, const struct plan *plan, const struct gl_layout *l)
{
	json_open(j, NULL, '{');
	json_str(j, "path", l->path);
	json_str(j, "build_id", l->build_id);
	json_bool(j, "has_dwarf", l->has_dwarf);
	json_open(j, "roles", '[');
	if (l == plan->llama)
		json_str(j, NULL, "llama");
	for (size_t i = 0; i < plan->n_cpus; i++)
		if (l == plan->cpus[i])
			json_str(j, NULL, "ggml-cpu");
	if (l == plan->base)
		json_str(j, NULL, "ggml-base");
	json_close(j, ']');
	if (l->source_lines.n) /* minor 4 */
		gl_source_lines_write_json(j, "source_lines", &l->source_lines);
	json_close(j, '}');
}

static void write_layout(struct json *j, const struct plan *plan)
{
	const struct tensor_layout *t = &plan->layout;
	json_open(j, "layout", '{');
	json_str(j, "source", "dwarf");
	json_str(j, "from", t->source);
	json_str(j, "borrowed_from", plan->cpu ? plan->cpu->layout_donor : NULL);
	json_str(j, "op_shapes", plan->op_shapes_live ? "live" : "graph");
	json_open(j, "ggml_tensor", '{');
	json_int(j, "type", t->type);
	json_int(j, "ne", t->ne);
	json_int(j, "nb", t->nb);
	json_int(j, "op", t->op);
	json_int(j, "op_params", t->op_params);
	json_int(j, "flags", t->flags);
	json_int(j, "src", t->src);
	json_int(j, "data", t->data);
	json_int(j, "name", t->name);
	json_int(j, "max_dims", t->n_dims);
	json_int(j, "max_src", t->n_src);
	json_int(j, "max_name", t->name_len);
	json_close(j, '}');
	json_int(j, "ggml_cgraph.n_nodes", t->graph_n_nodes);
	json_int(j, "ggml_cgraph.uid", t->graph_uid);
	json_int(j, "ggml_cgraph.nodes", t->graph_nodes);
	json_int(j, "ggml_compute_params.ith", t->params_ith);
	json_int(j, "llama_batch.n_tokens", t->batch_n_tokens);
	json_int(j, "GGML_OP_NONE", t->op_none);
	json_int(j, "GGML_OP_MUL_MAT_ID", t->op_mul_mat_id);
	json_int(j, "GGML_TENSOR_FLAG_COMPUTE", t->flag_compute);
	json_int(j, "ggml_backend.iface.graph_compute", t->backend_graph_compute);
	json_int(j, "ggml_backend.device", t->backend_device);
	json_close(j, '}');
}

/* Type traits (ggml-base) and, from the CPU backend, each type's vec_dot_type. */
static void write_types(struct json *j, const struct gl_layout *l, const struct gl_layout *cpu)
{
	json_str(j, "types_source", l->traits_source);
	json_str(j, "vec_dot_types_source", cpu ? cpu->vec_dot_types_source : NULL);
	json_open(j, "types", '[');
	for (size_t i = 0; i < l->n_traits; i++) {
		const struct gl_type_trait *t = &l->traits[i];
		json_open(j, NULL, '{');
		json_str(j, "name", t->name);
		json_int(j, "blck_size", t->blck_size);
		json_uint(j, "type_size", t->type_size);
		json_bool(j, "is_quantized", t->is_quantized);
		if (cpu && i < cpu->n_vec_dot_types && cpu->vec_dot_types[i] >= 0)
			json_int(j, "vec_dot_type", cpu->vec_dot_types[i]);
		json_close(j, '}');
	}
	json_close(j, ']');
}

/* The op sites [from, to) of the plan. */
static void write_sites(struct json *j, const struct plan *plan, size_t from, size_t to)
{
	static const char *const kinds[] = { [GL_SITE_OP_START] = "op_start", [GL_SITE_OP_FUSED] = "fused_start",
					     [GL_SITE_OP_END] = "op_end" };
	json_open(j, "sites", '[');
	for (size_t i = from; i < to; i++) {
		const struct op_site *s = &plan->sites[i];
		json_open(j, NULL, '{');
		json_int(j, "index", (int64_t)i);
		json_str(j, "kind", kinds[s->kind]);
		json_str(j, "what", s->what);
		json_str(j, "library", s->lib->path);
		json_uint(j, "vaddr", s->vaddr);
		json_uint(j, "file_offset", s->file_offset);
		if (s->kind != GL_SITE_OP_END)
			json_str(j, "tensor", gl_reg_name(s->tensor_reg));
		json_close(j, '}');
	}
	json_close(j, ']');
}

/* CPU backends the target loaded after the start: their sites (indices after the header's) and
 * when their probes were attached; what they computed before is not in the stream. */
static void write_late_libraries(struct json *j, const struct plan *plan)
{
	json_open(j, "late_libraries", '[');
	for (size_t i = 0; i < plan->n_late; i++) {
		const struct late_library *late = &plan->late[i];
		json_open(j, NULL, '{');
		json_str(j, "path", late->lib->path);
		json_str(j, "build_id", late->lib->build_id);
		json_bool(j, "has_dwarf", late->lib->has_dwarf);
		json_str(j, "op_method", strcmp(late->lib->sites_mode, "dwarf") == 0 ? "dwarf-inline" : "symbols");
		json_uint(j, "attached_ns", late->attached_ns);
		write_sites(j, plan, late->first_site, late->first_site + late->n_sites);
		if (late->lib->source_lines.n) /* minor 4 */
			gl_source_lines_write_json(j, "source_lines", &late->lib->source_lines);
		json_close(j, '}');
	}
	json_close(j, ']');
}

/* Whether this machine has a hardware PMU the kernel lets us count with, and why not. */
static void write_counters_info(struct json *j)
{
	struct perf_event_attr attr = { .type = PERF_TYPE_HARDWARE, .size = sizeof(attr),
					.config = PERF_COUNT_HW_CPU_CYCLES, .disabled = 1 };
	int fd = (int)syscall(__NR_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	int err = errno;
	json_open(j, "counters", '{');
	json_open(j, "software", '[');
	static const char *const software[] = { "min_flt", "maj_flt", "nvcsw", "nivcsw", "cpu_ns" };
	for (size_t i = 0; i < sizeof(software) / sizeof(software[0]); i++)
		json_str(j, NULL, software[i]);
	json_close(j, ']');
	json_str(j, "software_scope", "per thread, per op span and per llama_decode call");
	json_open(j, "hardware", '[');
	json_close(j, ']');
	char reason[160];
	if (fd >= 0)
		snprintf(reason, sizeof(reason), "the PMU is present, but ggml-lens does not read hardware counters yet");
	else
		snprintf(reason, sizeof(reason), "no hardware PMU available to perf_event_open (%s)%s", strerror(err),
			 err == ENOENT || err == EOPNOTSUPP ? ": typical of virtual machines" : "");
	json_str(j, "hardware_unavailable", reason);
	json_close(j, '}');
	if (fd >= 0)
		close(fd);
}

/* The processes traced with the target: their threads' records say which they are (THREAD records). */
static void write_also_traced(struct json *j, const struct target *also, size_t n_also)
{
	json_open(j, "also_traced", '[');
	for (size_t i = 0; i < n_also; i++) {
		json_open(j, NULL, '{');
		json_int(j, "pid", also[i].pid);
		json_str(j, "exe", also[i].n_files ? also[i].files[0] : NULL);
		json_close(j, '}');
	}
	json_close(j, ']');
}

static void write_header_json(struct json *j, struct output *out, const struct plan *plan,
			      const struct target *target, const struct target *also, size_t n_also,
			      const char *mode, long sample_hz)
{
	json_open(j, NULL, '{');
	json_str(j, "format", "ggml-lens-stream");
	json_str(j, "mode", mode);
	json_str(j, "op_method", mode[0] == 's' ? "none" : plan->op_method);
	json_str(j, "clock", "CLOCK_MONOTONIC");
	json_uint(j, "start_ns", out->start_ns);
	json_uint(j, "start_realtime_ns", clock_ns(CLOCK_REALTIME));
	json_int(j, "sample_hz", sample_hz);
	json_open(j, "target", '{');
	json_int(j, "pid", target->pid);
	json_bool(j, "launched", target->launched);
	json_str(j, "exe", target->n_files ? target->files[0] : NULL);
	json_close(j, '}');
	write_also_traced(j, also, n_also);
	json_open(j, "libraries", '[');
	for (size_t i = 0; i < plan->n_libs; i++)
		write_library(j, plan, plan->libs[i]);
	json_close(j, ']');
	write_layout(j, plan);
	json_str(j, "ops_source", plan->op_names->source);
	json_open(j, "ops", '[');
	for (size_t i = 0; i < plan->op_names->n; i++)
		json_str(j, NULL, plan->op_names->v[i]);
	json_close(j, ']');
	write_types(j, plan->traits_from, plan->cpu);
	write_sites(j, plan, 0, plan->n_sites);
	write_counters_info(j);
	json_close(j, '}');
}

/* JSON is padded with zeros to a multiple of 8 (the header's 16 bytes and every record are too),
 * so records stay 8-aligned in the file and readers need not copy them to read typed fields. */
static void write_padded(struct output *out, const char *bytes, size_t len)
{
	static const char zeros[8];
	fwrite(bytes, 1, len, out->f);
	fwrite(zeros, 1, (8 - len % 8) % 8, out->f);
}

void output_header(struct output *out, const struct plan *plan, const struct target *target,
		   const struct target *also, size_t n_also, const char *mode, long sample_hz)
{
	char *json = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&json, &len);
	struct json j;
	out->start_ns = clock_ns(CLOCK_MONOTONIC);
	json_init(&j, mem, 0);
	write_header_json(&j, out, plan, target, also, n_also, mode, sample_hz);
	fclose(mem);
	uint16_t major = GL_STREAM_VERSION_MAJOR, minor = GL_STREAM_VERSION_MINOR;
	uint32_t json_len = (uint32_t)len;
	fwrite(GL_STREAM_MAGIC, 1, 8, out->f);
	fwrite(&major, 2, 1, out->f);
	fwrite(&minor, 2, 1, out->f);
	fwrite(&json_len, 4, 1, out->f);
	write_padded(out, json, len);
	free(json);
}

void output_record(struct output *out, const void *data, size_t size)
{
	const struct gl_record *rec = data;
	fwrite(data, 1, size, out->f);
	out->n_records++;
	if (rec->type < OUTPUT_RECORD_TYPES)
		out->counts[rec->type]++;
}

/* Readers follow the file as it grows (the editor's live view): what was consumed reaches it each
 * turn of the event loop, not when a 1 MiB buffer fills. */
void output_flush(struct output *out)
{
	fflush(out->f);
}

void output_window(struct output *out, int on)
{
	struct gl_window w = { .hdr = { .type = GL_REC_WINDOW, .size = sizeof(w), .tid = 0,
					.ts = clock_ns(CLOCK_MONOTONIC) },
			       .on = (gl_u32)on };
	output_record(out, &w, sizeof(w));
}

static uint64_t map_sum(int map_fd, uint32_t key)
{
	int n = libbpf_num_possible_cpus();
	uint64_t values[n > 0 ? n : 1], sum = 0;
	if (n <= 0 || bpf_map_lookup_elem(map_fd, &key, values))
		return 0;
	for (int i = 0; i < n; i++)
		sum += values[i];
	return sum;
}

uint64_t output_lost_total(int lost_map_fd)
{
	uint64_t total = 0;
	for (uint32_t k = 0; k < GL_PROBE_COUNT; k++)
		total += map_sum(lost_map_fd, k);
	return total;
}

static void write_counters(struct json *j, const char *key, int map_fd)
{
	json_open(j, key, '{');
	for (uint32_t k = 0; k < GL_PROBE_COUNT; k++)
		json_uint(j, PROBE_NAMES[k], map_sum(map_fd, k));
	json_close(j, '}');
}

/* The kernel's run count and run time of each program, kept while kernel.bpf_stats_enabled is 1
 * (it costs two clock reads per run, so it is off unless someone measures): the profiler's own cost. */
static void write_program_cost(struct json *j, struct bpf_object *obj)
{
	struct bpf_program *prog;
	int opened = 0;
	bpf_object__for_each_program(prog, obj) {
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		if (bpf_program__fd(prog) < 0 || bpf_prog_get_info_by_fd(bpf_program__fd(prog), &info, &len) || !info.run_cnt)
			continue;
		if (!opened++)
			json_open(j, "program_cost", '{');
		json_open(j, bpf_program__name(prog), '{');
		json_uint(j, "runs", info.run_cnt);
		json_uint(j, "ns", info.run_time_ns);
		json_close(j, '}');
	}
	if (opened)
		json_close(j, '}');
}

void output_trailer(struct output *out, int hits_map_fd, int lost_map_fd, int exit_status, int windows,
		    struct samples *samples, const struct plan *plan, struct bpf_object *programs)
{
	char *json = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&json, &len);
	struct json j;
	json_init(&j, mem, 0);
	json_open(&j, NULL, '{');
	write_counters(&j, "hits", hits_map_fd);
	write_counters(&j, "lost", lost_map_fd);
	if (exit_status >= 0)
		json_int(&j, "exit_status", exit_status);
	else
		json_null(&j, "exit_status");
	json_int(&j, "windows", windows);
	json_uint(&j, "duration_ns", clock_ns(CLOCK_MONOTONIC) - out->start_ns);
	json_uint(&j, "records", out->n_records);
	samples_write_symbols(samples, &j);
	samples_write_stacks(samples, &j);
	write_late_libraries(&j, plan);
	write_program_cost(&j, programs);
	json_close(&j, '}');
	fclose(mem);
	struct gl_trailer t = { .hdr = { .type = GL_REC_TRAILER, .size = sizeof(t), .tid = 0,
					 .ts = clock_ns(CLOCK_MONOTONIC) },
				.json_len = (gl_u32)len };
	fwrite(&t, sizeof(t), 1, out->f);
	write_padded(out, json, len);
	free(json);
}

void output_close(struct output *out)
{
	if (out->f)
		fclose(out->f);
	out->f = NULL;
}
