/* Writing the ggml-lens stream (stream.h): header, records, trailer. */
#ifndef GGML_LENS_OUTPUT_H
#define GGML_LENS_OUTPUT_H
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "launch.h"
#include "plan.h"

#define OUTPUT_RECORD_TYPES 32

struct output {
	FILE *f;
	uint64_t n_records;
	uint64_t counts[OUTPUT_RECORD_TYPES];
	uint64_t start_ns;
};

/* Nanoseconds on clock `id`; the records' timestamps are CLOCK_MONOTONIC (that of bpf_ktime_get_ns). */
uint64_t clock_ns(clockid_t id);
int output_open(struct output *out, int fd);
/* also: the n_also processes traced with the target (--also-pid) */
void output_header(struct output *out, const struct plan *plan, const struct target *target,
		   const struct target *also, size_t n_also, const char *mode, long sample_hz);
void output_record(struct output *out, const void *data, size_t size);
void output_window(struct output *out, int on);
void output_flush(struct output *out);
uint64_t output_lost_total(int lost_map_fd);
struct samples;
struct bpf_object;
/* The trailer: probe hits and losses, exit status, sample symbols, the CPU backends the target
 * loaded after the start (plan->late) and, when the kernel kept them, the programs' run times. */
void output_trailer(struct output *out, int hits_map_fd, int lost_map_fd, int exit_status, int windows,
		    struct samples *samples, const struct plan *plan, struct bpf_object *programs);
void output_close(struct output *out);
#endif
