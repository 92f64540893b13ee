/* Minimal JSON writer: the layout dump, the stream's header and trailer. Strings are written as
 * given (UTF-8 passes through), control characters escaped. */
#ifndef GGML_LENS_JSON_H
#define GGML_LENS_JSON_H
#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *f;
	int pretty; /* one member a line, indented */
	int depth;
	int need_comma[64];
};

void json_init(struct json *j, FILE *f, int pretty);
void json_open(struct json *j, const char *key, char bracket); /* '{' or '[' ; key NULL in arrays */
void json_close(struct json *j, char bracket);
void json_str(struct json *j, const char *key, const char *value); /* NULL value -> null */
void json_int(struct json *j, const char *key, int64_t value);
void json_uint(struct json *j, const char *key, uint64_t value);
void json_bool(struct json *j, const char *key, int value);
void json_null(struct json *j, const char *key);
#endif
