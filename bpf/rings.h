/* One BPF ring buffer and one op log (probe.h) per CPU, read back as one stream in time order (but
 * for an op's OP_BEGIN, which the kernel writes when the op ends, together with its OP_END: it comes
 * right before that).
 *
 * A single shared ring buffer makes the target's threads contend for its lock and its producer
 * position whenever they record at the same moment, which ggml's workers do at every barrier: with
 * two workers that contention cost about 1 us per op record. Each CPU writes its own ring instead,
 * and the reader merges the rings by the records' timestamps (struct gl_record.ts). */
#ifndef GGML_LENS_RINGS_H
#define GGML_LENS_RINGS_H
#include <stddef.h>
#include <stdint.h>

struct rings;
/* Called for each record, in timestamp order across rings (an entry of several records, as an op's
 * OP_BEGIN and OP_END, is passed on record by record). */
typedef void (*rings_record_fn)(void *ctx, const void *data, size_t size);
/* Called for each record as it is read from its ring, before it waits for its turn: may write a
 * smaller record to take its place into out (at most out_cap bytes) and return its size, or return
 * 0 to keep the record as it is. Spares copying large records (a sample's stack top) into the
 * queue when only what is made of them is kept. */
typedef size_t (*rings_reduce_fn)(void *ctx, const void *data, size_t size, void *out, size_t out_cap);

/* Creates a ring of ring_bytes (a power of two, a multiple of the page size) for each of n_cpus
 * CPUs and stores them in the BPF_MAP_TYPE_ARRAY_OF_MAPS `outer_fd` (keys 0..n_cpus-1); the ring
 * buffer map `shared_fd` is read and merged with them. reduce may be NULL. */
struct rings *rings_new(int outer_fd, int n_cpus, uint32_t ring_bytes, int shared_fd, rings_reduce_fn reduce, rings_record_fn fn,
			void *ctx);
/* Maps the op logs (probe.h) of the BPF_MAP_TYPE_ARRAY `map_fd`, one value of value_bytes per CPU
 * holding `entries` op pairs (a power of two), and reads them with the rings from now on. */
int rings_add_op_logs(struct rings *r, int map_fd, uint32_t value_bytes, uint32_t entries);
/* Waits up to timeout_ms for a ring's wakeup; reads nothing. */
void rings_wait(struct rings *r, int timeout_ms);
/* Reads every ring and passes on the records written before the read began. Later ones wait for
 * the next call, so that a record of another ring with an earlier time still comes before them. */
void rings_read(struct rings *r);
/* Reads every ring and passes on everything (the writers have stopped, or the caller is about to
 * write a record of its own that must follow all the kernel wrote so far). */
void rings_drain(struct rings *r);
void rings_free(struct rings *r);
#endif
