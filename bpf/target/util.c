/* SPDX-License-Identifier: MIT */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* vasprintf, strdup, strcasecmp */
#endif
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *check(void *p)
{
	if (!p) {
		fputs("ggml-lens: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *gl_xcalloc(size_t n, size_t size)
{
	return check(calloc(n ? n : 1, size ? size : 1));
}

void *gl_xrealloc(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return check(NULL);
	size_t bytes = n * size;
	return check(realloc(p, bytes ? bytes : 1));
}

char *gl_xstrdup(const char *s)
{
	return s ? check(strdup(s)) : NULL;
}

void gl_strlist_add(struct gl_strlist *sl, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	GL_GROW(sl->v, sl->n, sl->cap);
	sl->v[sl->n++] = check(s);
}

void gl_strlist_free(struct gl_strlist *sl)
{
	for (size_t i = 0; i < sl->n; i++)
		free(sl->v[i]);
	free(sl->v);
	memset(sl, 0, sizeof(*sl));
}
