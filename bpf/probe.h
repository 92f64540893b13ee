/* Types shared by probe.bpf.c and the helper's userspace (not part of the stream). */
#ifndef GGML_LENS_PROBE_H
#define GGML_LENS_PROBE_H

/* Op tracing window: armed by the helper, it opens at the next llama_decode call and closes after
 * `decodes` whole calls, so a window traces complete tokens however late the helper reacts. */
struct window_state {
	unsigned int armed;
	unsigned int open;
	unsigned int decodes; /* whole calls to trace once open */
	unsigned int done;    /* calls completed since it opened */
};
/* What an op site is (the op probe's cookie indexes a table of them). */
enum gl_site_kind { GL_SITE_OP_START, GL_SITE_OP_FUSED, GL_SITE_OP_END };
#endif
