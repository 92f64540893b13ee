/* One BPF ring buffer per CPU, merged by time (rings.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "output.h"
#include "probe.h"
#include "rings.h"
#include "stream.h"

/* Records read from one ring and not yet passed on: each is a u32 size, then the record, 8-aligned. */
struct queue {
	uint8_t *buf;
	size_t head, len, cap;
	struct rings *owner;
};

/* A CPU's op log, mapped from the BPF array map (probe.h). */
struct op_log {
	struct gl_op_log_head *head;
	const uint8_t *entries;
	struct queue *queue;
};

struct rings {
	struct ring_buffer *rb;
	int n; /* per-CPU rings created */
	int *fds;
	int n_queues; /* one per CPU, then the shared ring's, then one per CPU's op log */
	struct queue *queues;
	struct op_log *logs; /* one per CPU once mapped, else NULL */
	uint64_t log_entries;
	void *log_map;
	size_t log_map_len;
	rings_reduce_fn reduce;
	rings_record_fn fn;
	void *ctx;
};

#define ENTRY_ALIGN 8
#define REDUCED_MAX 256

static size_t entry_size(size_t record_size)
{
	return (sizeof(uint32_t) + record_size + ENTRY_ALIGN - 1) & ~(size_t)(ENTRY_ALIGN - 1);
}

static int enqueue_record(struct queue *q, void *data, size_t size)
{
	uint64_t reduced[REDUCED_MAX / sizeof(uint64_t)];
	size_t reduced_size = q->owner->reduce ? q->owner->reduce(q->owner->ctx, data, size, reduced, sizeof(reduced)) : 0;
	if (reduced_size >= sizeof(struct gl_record) && reduced_size <= sizeof(reduced)) {
		data = reduced;
		size = reduced_size;
	}
	size_t need = entry_size(size);
	if (q->head && q->len + need > q->cap) { /* reuse the space of the records passed on */
		memmove(q->buf, q->buf + q->head, q->len - q->head);
		q->len -= q->head;
		q->head = 0;
	}
	if (q->len + need > q->cap) {
		size_t cap = q->cap ? q->cap : 1 << 16;
		while (cap < q->len + need)
			cap *= 2;
		uint8_t *buf = realloc(q->buf, cap);
		if (!buf)
			return -ENOMEM;
		q->buf = buf;
		q->cap = cap;
	}
	uint32_t size32 = (uint32_t)size;
	memcpy(q->buf + q->len, &size32, sizeof(size32));
	memcpy(q->buf + q->len + sizeof(size32), data, size);
	q->len += need;
	return 0;
}

/* One ring buffer entry: a record, or several back to back (an op's OP_BEGIN and OP_END, written
 * when it ends). A record may use less than its entry reserved (a sample's stack copy). */
static int enqueue(void *ctx, void *data, size_t size)
{
	struct queue *q = ctx;
	if (size >= sizeof(struct gl_record) && ((const struct gl_record *)data)->type == GL_REC_WAKE)
		return 0;
	while (size >= sizeof(struct gl_record)) {
		const struct gl_record *rec = data;
		size_t used = rec->size >= sizeof(*rec) && rec->size < size ? rec->size : size;
		int err = enqueue_record(q, data, used);
		if (err || used == size || rec->type != GL_REC_OP_BEGIN)
			return err;
		data = (uint8_t *)data + used;
		size -= used;
	}
	return 0;
}

static const struct gl_record *queue_head(const struct queue *q, uint32_t *size)
{
	if (q->head >= q->len)
		return NULL;
	memcpy(size, q->buf + q->head, sizeof(*size));
	return (const struct gl_record *)(q->buf + q->head + sizeof(*size));
}

static void queue_pop(struct queue *q, uint32_t size)
{
	q->head += entry_size(size);
	if (q->head >= q->len)
		q->head = q->len = 0;
}

/* Passes on the queued records with ts <= until, oldest first across the queues. */
static void emit_until(struct rings *r, uint64_t until)
{
	for (;;) {
		struct queue *oldest = NULL;
		const struct gl_record *first = NULL;
		uint32_t first_size = 0;
		for (int i = 0; i < r->n_queues; i++) {
			uint32_t size;
			const struct gl_record *rec = queue_head(&r->queues[i], &size);
			if (rec && rec->ts <= until && (!first || rec->ts < first->ts)) {
				oldest = &r->queues[i];
				first = rec;
				first_size = size;
			}
		}
		if (!first)
			return;
		r->fn(r->ctx, first, first_size);
		queue_pop(oldest, first_size);
	}
}

struct rings *rings_new(int outer_fd, int n_cpus, uint32_t ring_bytes, int shared_fd, rings_reduce_fn reduce, rings_record_fn fn,
			void *ctx)
{
	struct rings *r = calloc(1, sizeof(*r));
	if (!r || n_cpus <= 0)
		return free(r), NULL;
	r->reduce = reduce;
	r->fn = fn;
	r->ctx = ctx;
	r->fds = malloc(n_cpus * sizeof(*r->fds));
	r->n_queues = 2 * n_cpus + 1;
	r->queues = calloc(r->n_queues, sizeof(*r->queues));
	if (!r->fds || !r->queues)
		return rings_free(r), NULL;
	for (int i = 0; i < r->n_queues; i++)
		r->queues[i].owner = r;
	r->rb = ring_buffer__new(shared_fd, enqueue, &r->queues[n_cpus], NULL);
	if (!r->rb)
		return rings_free(r), NULL;
	for (; r->n < n_cpus; r->n++) {
		int cpu = r->n;
		int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "gl_ring", 0, 0, ring_bytes, NULL);
		if (fd < 0)
			return rings_free(r), NULL;
		r->fds[cpu] = fd;
		int err = bpf_map_update_elem(outer_fd, &cpu, &fd, BPF_ANY);
		if (!err)
			err = ring_buffer__add(r->rb, fd, enqueue, &r->queues[cpu]);
		if (err) {
			close(fd);
			errno = err < 0 ? -err : err;
			return rings_free(r), NULL;
		}
	}
	return r;
}

int rings_add_op_logs(struct rings *r, int map_fd, uint32_t value_bytes, uint32_t entries)
{
	size_t stride = (value_bytes + 7) & ~(size_t)7, page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len = (stride * r->n + page - 1) / page * page;
	void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (map == MAP_FAILED)
		return -1;
	r->logs = calloc(r->n, sizeof(*r->logs));
	if (!r->logs)
		return munmap(map, len), -1;
	r->log_map = map;
	r->log_map_len = len;
	r->log_entries = entries;
	for (int cpu = 0; cpu < r->n; cpu++) {
		uint8_t *value = (uint8_t *)map + cpu * stride;
		r->logs[cpu] = (struct op_log){ .head = (struct gl_op_log_head *)value,
						.entries = value + sizeof(struct gl_op_log_head),
						.queue = &r->queues[r->n + 1 + cpu] };
	}
	return 0;
}

/* Queues the op pairs the op logs hold and frees their space. */
static void read_op_logs(struct rings *r)
{
	for (int cpu = 0; r->logs && cpu < r->n; cpu++) {
		struct op_log *log = &r->logs[cpu];
		uint64_t produced = __atomic_load_n(&log->head->produced, __ATOMIC_ACQUIRE);
		uint64_t consumed = log->head->consumed;
		for (; consumed < produced; consumed++) {
			size_t at = (consumed & (r->log_entries - 1)) * sizeof(struct gl_op_pair);
			if (enqueue(log->queue, (void *)(log->entries + at), sizeof(struct gl_op_pair)))
				break;
		}
		__atomic_store_n(&log->head->consumed, consumed, __ATOMIC_RELEASE);
	}
}

void rings_wait(struct rings *r, int timeout_ms)
{
	struct epoll_event ready;
	epoll_wait(ring_buffer__epoll_fd(r->rb), &ready, 1, timeout_ms);
}

/* Queues what the rings and the op logs hold. */
static void consume(struct rings *r)
{
	ring_buffer__consume(r->rb);
	read_op_logs(r);
}

void rings_read(struct rings *r)
{
	uint64_t read_at = clock_ns(CLOCK_MONOTONIC);
	consume(r);
	emit_until(r, read_at);
}

void rings_drain(struct rings *r)
{
	consume(r);
	emit_until(r, UINT64_MAX);
}

void rings_free(struct rings *r)
{
	if (!r)
		return;
	ring_buffer__free(r->rb);
	if (r->log_map)
		munmap(r->log_map, r->log_map_len);
	free(r->logs);
	for (int i = 0; i < r->n; i++)
		close(r->fds[i]);
	for (int i = 0; r->queues && i < r->n_queues; i++)
		free(r->queues[i].buf);
	free(r->fds);
	free(r->queues);
	free(r);
}
