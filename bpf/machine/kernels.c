/* FLOP and bandwidth kernels for each vector ISA. Each function is compiled for its ISA with a
 * target attribute, so one binary built for the baseline x86-64 still runs the widest code the CPU
 * has; best_isa() picks it with __builtin_cpu_supports. */
#include "kernels.h"

#define COMPILER_BARRIER() __asm__ volatile("" ::: "memory")

/* Twelve to sixteen independent chains: more than FMA latency x FMA pipes on current cores (4-5
 * cycles x 2 pipes), so the pipes never wait for a result. */
#define REPEAT8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define REPEAT12(X) REPEAT8(X) X(8) X(9) X(10) X(11)
#define REPEAT16(X) REPEAT12(X) X(12) X(13) X(14) X(15)

/* Multiplier and addend that keep each chain near its fixed point (no overflow, no denormals). */
#define CHAIN_MUL 0.999999f
#define CHAIN_ADD 1e-6f

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static double flops_avx512(long iters, float *sink)
{
	const __m512 m = _mm512_set1_ps(CHAIN_MUL), c = _mm512_set1_ps(CHAIN_ADD);
#define DECL(i) __m512 acc##i = _mm512_set1_ps(1.0f + (i) * 1e-3f);
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, m, c);
#define SUM(i) total = _mm512_add_ps(total, acc##i);
	REPEAT16(DECL)
	for (long k = 0; k < iters; k++) {
		REPEAT16(STEP)
	}
	__m512 total = _mm512_setzero_ps();
	REPEAT16(SUM)
	*sink += _mm512_reduce_add_ps(total);
	return (double)iters * 16 * 16 * 2;
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx512f"))) static void triad_avx512(float *a, const float *b, const float *c, size_t n, long passes)
{
	const __m512 s = _mm512_set1_ps(3.0f);
	for (long p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i += 16)
			_mm512_store_ps(a + i, _mm512_fmadd_ps(s, _mm512_load_ps(c + i), _mm512_load_ps(b + i)));
		COMPILER_BARRIER();
	}
}

__attribute__((target("avx2,fma"))) static double flops_avx2(long iters, float *sink)
{
	const __m256 m = _mm256_set1_ps(CHAIN_MUL), c = _mm256_set1_ps(CHAIN_ADD);
#define DECL(i) __m256 acc##i = _mm256_set1_ps(1.0f + (i) * 1e-3f);
#define STEP(i) acc##i = _mm256_fmadd_ps(acc##i, m, c);
#define SUM(i) total = _mm256_add_ps(total, acc##i);
	REPEAT12(DECL)
	for (long k = 0; k < iters; k++) {
		REPEAT12(STEP)
	}
	__m256 total = _mm256_setzero_ps();
	REPEAT12(SUM)
	float lanes[8];
	_mm256_storeu_ps(lanes, total);
	for (int i = 0; i < 8; i++)
		*sink += lanes[i];
	return (double)iters * 12 * 8 * 2;
#undef DECL
#undef STEP
#undef SUM
}

__attribute__((target("avx2,fma"))) static void triad_avx2(float *a, const float *b, const float *c, size_t n, long passes)
{
	const __m256 s = _mm256_set1_ps(3.0f);
	for (long p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i += 8)
			_mm256_store_ps(a + i, _mm256_fmadd_ps(s, _mm256_load_ps(c + i), _mm256_load_ps(b + i)));
		COMPILER_BARRIER();
	}
}

/* Without FMA a multiply and an add are separate instructions: eight multiply chains and eight add
 * chains keep both kinds of pipe busy, one FLOP per lane per instruction. */
static double flops_sse(long iters, float *sink)
{
	const __m128 m = _mm_set1_ps(CHAIN_MUL), c = _mm_set1_ps(CHAIN_ADD);
#define DECL(i) __m128 mul##i = _mm_set1_ps(1.0f + (i) * 1e-3f), add##i = _mm_set1_ps((i) * 1e-3f);
#define STEP(i) mul##i = _mm_mul_ps(mul##i, m); add##i = _mm_add_ps(add##i, c);
#define SUM(i) total = _mm_add_ps(total, _mm_add_ps(mul##i, add##i));
	REPEAT8(DECL)
	for (long k = 0; k < iters; k++) {
		REPEAT8(STEP)
	}
	__m128 total = _mm_setzero_ps();
	REPEAT8(SUM)
	float lanes[4];
	_mm_storeu_ps(lanes, total);
	for (int i = 0; i < 4; i++)
		*sink += lanes[i];
	return (double)iters * 16 * 4;
#undef DECL
#undef STEP
#undef SUM
}

static void triad_sse(float *a, const float *b, const float *c, size_t n, long passes)
{
	const __m128 s = _mm_set1_ps(3.0f);
	for (long p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i += 4)
			_mm_store_ps(a + i, _mm_add_ps(_mm_load_ps(b + i), _mm_mul_ps(s, _mm_load_ps(c + i))));
		COMPILER_BARRIER();
	}
}

static const struct isa ISA_AVX512 = { "avx512f", 16, 1, flops_avx512, triad_avx512 };
static const struct isa ISA_AVX2 = { "avx2+fma", 8, 1, flops_avx2, triad_avx2 };
static const struct isa ISA_SSE = { "sse2", 4, 0, flops_sse, triad_sse };

const struct isa *best_isa(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return &ISA_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return &ISA_AVX2;
	return &ISA_SSE;
}

#else /* other architectures: portable C, vectorized as far as the compiler manages */

static double flops_portable(long iters, float *sink)
{
	float acc[16];
	for (int i = 0; i < 16; i++)
		acc[i] = 1.0f + i * 1e-3f;
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < 16; i++)
			acc[i] = acc[i] * CHAIN_MUL + CHAIN_ADD;
	for (int i = 0; i < 16; i++)
		*sink += acc[i];
	return (double)iters * 16 * 2;
}

static void triad_portable(float *a, const float *b, const float *c, size_t n, long passes)
{
	for (long p = 0; p < passes; p++) {
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] + 3.0f * c[i];
		COMPILER_BARRIER();
	}
}

static const struct isa ISA_PORTABLE = { "portable-c", 1, 1, flops_portable, triad_portable };

const struct isa *best_isa(void)
{
	return &ISA_PORTABLE;
}
#endif
