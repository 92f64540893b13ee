/* Micro-benchmark kernels of ggml-lens-machine, one per vector ISA, chosen at run time. */
#ifndef GGML_LENS_MACHINE_KERNELS_H
#define GGML_LENS_MACHINE_KERNELS_H
#include <stddef.h>

struct isa {
	const char *name;
	/* f32 lanes of one vector register */
	int lanes;
	/* whether the FLOP kernel uses fused multiply-add (2 FLOPs per lane per instruction) */
	int fma;
	/* Runs `iters` iterations of independent multiply-add chains; returns the FLOPs done. The
	 * result of the chains goes to *sink so that the compiler keeps them. */
	double (*flops)(long iters, float *sink);
	/* a[i] = b[i] + s * c[i] for i < n (n a multiple of 64, arrays 64-byte aligned), `passes` times. */
	void (*triad)(float *a, const float *b, const float *c, size_t n, long passes);
};

/* The widest ISA this CPU supports (AVX-512F, AVX2 with FMA, SSE2; a portable C kernel elsewhere). */
const struct isa *best_isa(void);

#endif
