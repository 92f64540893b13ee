#include "jsonw.h"

void json_init(struct json *j, FILE *f, int pretty)
{
	j->f = f;
	j->pretty = pretty;
	j->depth = 0;
	j->need_comma[0] = 0;
}

static void newline(struct json *j)
{
	if (j->pretty && j->depth)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
}

static void write_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void begin_value(struct json *j, const char *key)
{
	if (j->need_comma[j->depth])
		fputc(',', j->f);
	j->need_comma[j->depth] = 1;
	newline(j);
	if (key) {
		write_string(j->f, key);
		fputs(j->pretty ? ": " : ":", j->f);
	}
}

void json_open(struct json *j, const char *key, char bracket)
{
	begin_value(j, key);
	fputc(bracket, j->f);
	if (j->depth < 63)
		j->need_comma[++j->depth] = 0;
}

void json_close(struct json *j, char bracket)
{
	int empty = !j->need_comma[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (!empty)
		newline(j);
	fputc(bracket, j->f);
}

void json_str(struct json *j, const char *key, const char *value)
{
	begin_value(j, key);
	if (value)
		write_string(j->f, value);
	else
		fputs("null", j->f);
}

void json_int(struct json *j, const char *key, int64_t value)
{
	begin_value(j, key);
	fprintf(j->f, "%lld", (long long)value);
}

void json_uint(struct json *j, const char *key, uint64_t value)
{
	begin_value(j, key);
	fprintf(j->f, "%llu", (unsigned long long)value);
}

void json_bool(struct json *j, const char *key, int value)
{
	begin_value(j, key);
	fputs(value ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	begin_value(j, key);
	fputs("null", j->f);
}
