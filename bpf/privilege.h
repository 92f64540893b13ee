/* Least privilege for the rest of a run: once the helper has opened everything it needs and
 * attached its first probes, it keeps only what re-attaching the op probes and reading take. */
#ifndef GGML_LENS_PRIVILEGE_H
#define GGML_LENS_PRIVILEGE_H
#include <stddef.h>
#include "launch.h"

/* Becomes the invoking user (the sudo / pkexec user, else the real one: plain root stays uid 0), with only
 * CAP_BPF and CAP_PERFMON (effective and permitted), nothing inheritable, ambient or in the bounding
 * set, no_new_privs set and not dumpable. Returns -1 with `err` set when a step fails: the run must
 * not go on with more than that. */
int privilege_drop(const struct invoker *who, char *err, size_t errlen);
#endif
