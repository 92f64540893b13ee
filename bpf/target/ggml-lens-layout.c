/* SPDX-License-Identifier: MIT */
/*
 * ggml-lens-layout: print what a ggml library or program looks like (struct
 * layout, enums, op names, type traits, probe sites) as JSON, one object
 * per file and line.  Exit status: 0 all usable, 1 some file unusable
 * (not ELF, no ggml, stripped), 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "layout.h"

static int usage(FILE *f, int status)
{
	fputs("usage: ggml-lens-layout [--pretty] [--layout-from DEBUG_LIB] FILE...\n"
	      "  Reads ggml struct layouts, enums, op-name table, type traits and probe\n"
	      "  sites from each FILE's ELF symbols, data and DWARF; prints JSON, one\n"
	      "  object per FILE.  --layout-from: files after it that have no DWARF borrow\n"
	      "  the struct layouts and enums of DEBUG_LIB (a build of the same ggml with\n"
	      "  DWARF) when the two files agree.\n",
	      f);
	return status;
}

static int report(struct gl_layout *l, int pretty)
{
	int fatal = l->fatal;

	gl_layout_write_json(l, stdout, pretty);
	for (size_t k = 0; fatal && k < l->errors.n; k++)
		fprintf(stderr, "ggml-lens-layout: %s: %s\n", l->path, l->errors.v[k]);
	gl_layout_free(l);
	return fatal;
}

int main(int argc, char **argv)
{
	struct gl_layout *donor = NULL;
	int pretty = 0, status = 0, files = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pretty")) {
			pretty = 1;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			gl_layout_free(donor);
			return usage(stdout, 0);
		} else if (!strcmp(argv[i], "--layout-from")) {
			if (++i == argc)
				return gl_layout_free(donor), usage(stderr, 2);
			gl_layout_free(donor);
			donor = gl_layout_analyze(argv[i]);
		} else {
			status |= report(gl_layout_analyze_with(argv[i], donor), pretty);
			files++;
		}
	}
	gl_layout_free(donor);
	return files ? status : usage(stderr, 2);
}
