/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
/*
 * ggml-lens-layout: print what a ggml library or program looks like (struct
 * layout, enums, op names, type traits, probe sites) as JSON, one object
 * per file and line.  Exit status: 0 all usable, 1 some file unusable
 * (not ELF, no ggml, stripped), 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "layout.h"

static int usage(FILE *f)
{
	fputs("usage: ggml-lens-layout [--pretty] FILE...\n"
	      "  Reads ggml struct layouts, enums, op-name table, type traits and probe\n"
	      "  sites from each FILE's ELF symbols, data and DWARF; prints JSON.\n",
	      f);
	return 2;
}

int main(int argc, char **argv)
{
	int pretty = 0, status = 0, files = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pretty")) {
			pretty = 1;
			continue;
		}
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout), 0;
		struct gl_layout *l = gl_layout_analyze(argv[i]);
		gl_layout_write_json(l, stdout, pretty);
		if (l->fatal) {
			status = 1;
			for (size_t k = 0; k < l->errors.n; k++)
				fprintf(stderr, "ggml-lens-layout: %s: %s\n", argv[i], l->errors.v[k]);
		}
		gl_layout_free(l);
		files++;
	}
	return files ? status : usage(stderr);
}
