/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime */
#endif
/*
 * ggml-lens-symbolize: turn run-time instruction addresses of a process
 * into file, build id, function, source line and inline chain (test and
 * debugging front end of symbolize.h).  Prints one JSON object per address
 * and line.  Exit status: 0 all addresses in a mapping, 1 some not, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "symbolize.h"

#define MAX_FRAMES 32

struct opts {
	int quiet, stats, repeat;
	size_t n_addrs, cap_addrs;
	uint64_t *addrs;
};

static int usage(FILE *f, int status)
{
	fputs("usage: ggml-lens-symbolize [OPTIONS] --pid PID ADDR...\n"
	      "       ggml-lens-symbolize [OPTIONS] --map START END OFFSET PATH [--map ...] -- ADDR...\n"
	      "  Numbers are hex (0x optional), as in /proc/PID/maps.  ADDR '-' reads\n"
	      "  addresses from stdin.  --map takes one executable mapping of PATH.\n"
	      "Options: --repeat N  symbolize the list N times (timing each pass)\n"
	      "         --stats     print a last line {\"stats\":{...}}\n"
	      "         --quiet     no per-address lines\n",
	      f);
	return status;
}

static int parse_hex(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s)
		return -1;
	*out = strtoull(s, &end, 16);
	return *end ? -1 : 0;
}

static void add_addr(struct opts *o, uint64_t a)
{
	if (o->n_addrs == o->cap_addrs) {
		o->cap_addrs = o->cap_addrs ? 2 * o->cap_addrs : 64;
		o->addrs = realloc(o->addrs, o->cap_addrs * sizeof(*o->addrs));
		if (!o->addrs) {
			perror("ggml-lens-symbolize");
			exit(2);
		}
	}
	o->addrs[o->n_addrs++] = a;
}

static int add_addr_arg(struct opts *o, const char *arg)
{
	char word[64];
	uint64_t a;

	if (strcmp(arg, "-") != 0)
		return parse_hex(arg, &a) ? -1 : (add_addr(o, a), 0);
	while (scanf("%63s", word) == 1) {
		if (parse_hex(word, &a))
			return -1;
		add_addr(o, a);
	}
	return 0;
}

static int add_map_args(struct gl_symbolizer *s, char **argv)
{
	uint64_t start, end, off;

	if (parse_hex(argv[0], &start) || parse_hex(argv[1], &end) || parse_hex(argv[2], &off))
		return -1;
	if (gl_symbolizer_add_mapping(s, start, end, off, argv[3]) != 0)
		fprintf(stderr, "ggml-lens-symbolize: cannot read %s as ELF\n", argv[3]);
	return 0;
}

/* Returns the index of the first address argument, or -1 on a usage error. */
static int parse_args(int argc, char **argv, struct gl_symbolizer *s, struct opts *o)
{
	int i = 1, sources = 0;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--quiet")) {
			o->quiet = 1;
		} else if (!strcmp(argv[i], "--stats")) {
			o->stats = 1;
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			o->repeat = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--pid") && i + 1 < argc) {
			if (gl_symbolizer_add_process(s, atoi(argv[++i])) < 0)
				return fprintf(stderr, "ggml-lens-symbolize: cannot read maps of %s\n", argv[i]), -1;
			sources++;
		} else if (!strcmp(argv[i], "--map") && i + 4 < argc) {
			if (add_map_args(s, argv + i + 1))
				return -1;
			i += 4;
			sources++;
		} else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return -1;
		} else {
			break;
		}
	}
	return sources && o->repeat > 0 ? i : -1;
}

static void json_str(const char *key, const char *v)
{
	printf(",\"%s\":", key);
	if (!v) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void print_frames(const struct gl_inline_frame *fr, int n)
{
	fputs(",\"inlines\":[", stdout);
	for (int k = 0; k < n && k < MAX_FRAMES; k++) {
		printf("%s{\"line\":%d,\"column\":%d", k ? "," : "", fr[k].line, fr[k].column);
		json_str("function", fr[k].function);
		json_str("file", fr[k].file);
		putchar('}');
	}
	putchar(']');
}

static void print_result(uint64_t addr, int depth, const struct gl_frame_info *r,
			 const struct gl_inline_frame *fr)
{
	printf("{\"addr\":%llu,\"ok\":%s", (unsigned long long)addr, depth < 0 ? "false" : "true");
	if (depth < 0) {
		puts(",\"error\":\"address is in no known mapping\"}");
		return;
	}
	printf(",\"fileVaddr\":%llu,\"line\":%d,\"column\":%d,\"callLine\":%d",
	       (unsigned long long)r->file_vaddr, r->line, r->column, r->call_line);
	json_str("path", r->path);
	json_str("buildId", r->build_id);
	json_str("function", r->function);
	json_str("file", r->file);
	json_str("inlinedInto", r->inlined_into);
	json_str("callFile", r->call_file);
	print_frames(fr, depth);
	puts("}");
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

struct pass_stats {
	size_t missing, with_function, with_line, inlined;
};

static void run_pass(struct gl_symbolizer *s, const struct opts *o, int print,
		     struct pass_stats *st)
{
	struct gl_inline_frame fr[MAX_FRAMES];
	struct gl_frame_info r;

	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < o->n_addrs; i++) {
		int depth = gl_symbolize_inlines(s, o->addrs[i], &r, fr, MAX_FRAMES);
		st->missing += depth < 0;
		st->with_function += r.function != NULL;
		st->with_line += r.line > 0;
		st->inlined += r.inlined_into != NULL;
		if (print)
			print_result(o->addrs[i], depth, &r, fr);
	}
}

static void print_stats(const struct opts *o, const struct pass_stats *st, const double *us)
{
	printf("{\"stats\":{\"addresses\":%zu,\"missing\":%zu,\"withFunction\":%zu,"
	       "\"withLine\":%zu,\"inlined\":%zu,\"passUs\":[",
	       o->n_addrs, st->missing, st->with_function, st->with_line, st->inlined);
	for (int k = 0; k < o->repeat; k++)
		printf("%s%.0f", k ? "," : "", us[k]);
	puts("]}}");
}

int main(int argc, char **argv)
{
	struct opts o = { .repeat = 1 };
	struct gl_symbolizer *s = gl_symbolizer_new();
	struct pass_stats st = { 0 };
	int first = s ? parse_args(argc, argv, s, &o) : -1;

	for (int i = first; first > 0 && i < argc; i++)
		if (add_addr_arg(&o, argv[i]))
			first = -1;
	if (first < 0 || !o.n_addrs) {
		gl_symbolizer_free(s);
		free(o.addrs);
		return usage(stderr, 2);
	}
	double *us = calloc((size_t)o.repeat, sizeof(*us));
	for (int k = 0; us && k < o.repeat; k++) {
		double t0 = now_us();
		run_pass(s, &o, !o.quiet && k == o.repeat - 1, &st);
		us[k] = now_us() - t0;
	}
	if (o.stats && us)
		print_stats(&o, &st, us);
	free(us);
	free(o.addrs);
	gl_symbolizer_free(s);
	return st.missing ? 1 : 0;
}
