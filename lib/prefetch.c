/*
 * prefetch.c - scan and hash a database's tables a batch of rows at a time,
 * on the caller's thread or in a thread of its own.
 *
 * Rows are hashed in pairs (smg_sha256_x2): the SHA extensions are slow in
 * latency, not throughput, so two rows cost little more than one.  That
 * needs a row kept after SQLite moves on, hence the copies into batches.
 *
 * smg-diff reads two sides; scanning and hashing a database is most of its
 * work.  With two databases, a worker thread does it for each while the
 * main thread merges, so both are read at once on two cores.  Batches are
 * handed back and forth, a fixed few: memory stays flat.
 */
#include "prefetch.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "sha256.h"

#define BATCH_ROWS 512
/* and no more text and blob bytes than this after the first row: rows of
 * large blobs must not make a batch, and so memory, grow with them */
#define BATCH_BYTES (256 * 1024)
#define NBATCHES 4

struct batch {
	size_t table;		/* index of the table these rows belong to */
	size_t n;		/* rows */
	bool table_end;		/* the table has no rows after these */
	bool end;		/* no tables after this one */
	size_t ncols;
	struct smg_value *vals;	/* n * ncols */
	size_t valcap;
	unsigned char (*hash)[SMG_HASH_LEN];
	struct smg_buf bytes;	/* text and blob bytes the values point into */
};

/* A queue of batch pointers: at most NBATCHES are ever in it. */
struct queue {
	struct batch *b[NBATCHES];
	size_t head, len;
};

struct smg_prefetch {
	sqlite3 *db;
	struct smg_table **tables;
	size_t ntables;
	size_t table;		/* the table being scanned, and its scan */
	struct smg_scan *scan;
	struct smg_buf input[2];	/* hash input of a pair of rows */
	bool threaded;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct queue free, full;
	bool stop;
	struct batch all[NBATCHES];
	/* the consumer's side */
	struct batch *cur;
	size_t at;
	bool done;
};

static void push(struct queue *q, struct batch *b)
{
	q->b[(q->head + q->len++) % NBATCHES] = b;
}

static struct batch *pop(struct queue *q)
{
	struct batch *b = q->b[q->head];
	q->head = (q->head + 1) % NBATCHES;
	q->len--;
	return b;
}

static struct batch *take(struct smg_prefetch *p, struct queue *q)
{
	pthread_mutex_lock(&p->lock);
	while (q->len == 0)
		pthread_cond_wait(&p->changed, &p->lock);
	struct batch *b = pop(q);
	pthread_mutex_unlock(&p->lock);
	return b;
}

static void give(struct smg_prefetch *p, struct queue *q, struct batch *b)
{
	pthread_mutex_lock(&p->lock);
	push(q, b);
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
}

static bool stopping(struct smg_prefetch *p)
{
	pthread_mutex_lock(&p->lock);
	bool stop = p->stop;
	pthread_mutex_unlock(&p->lock);
	return stop;
}

/* Copy one row into the batch.  Text and blob bytes go to b->bytes, which
 * may move as it grows: their offsets are kept until the batch is sent. */
static void add_row(struct batch *b, const struct smg_value *vals)
{
	size_t need = (b->n + 1) * b->ncols;
	if (need > b->valcap) {
		b->valcap = need * 2;
		b->vals = smg_xrealloc(b->vals, b->valcap * sizeof *b->vals);
	}
	struct smg_value *out = &b->vals[b->n++ * b->ncols];
	for (size_t i = 0; i < b->ncols; i++) {
		out[i] = vals[i];
		if (vals[i].type == SMG_TEXT || vals[i].type == SMG_BLOB) {
			out[i].p = (const char *)(uintptr_t)b->bytes.len;
			smg_buf_add(&b->bytes, vals[i].p, vals[i].n);
		}
	}
}

/* Fill b with the next rows of the current table: BATCH_ROWS of them (or
 * fewer, BATCH_BYTES' worth), or the rest of the table (table_end), or
 * none after the last table (end). */
static void fill(struct smg_prefetch *p, struct batch *b)
{
	b->n = 0;
	b->table_end = b->end = false;
	smg_buf_reset(&b->bytes);
	b->table = p->table;
	if (p->table >= p->ntables) {
		b->end = true;
		b->ncols = 0;
		return;
	}
	const struct smg_table *t = p->tables[p->table];
	b->ncols = t->ncols;
	if (!p->scan)
		p->scan = smg_scan_open(p->db, t);
	const struct smg_value *vals;
	bool more = true;
	while (b->n < BATCH_ROWS && b->bytes.len < BATCH_BYTES &&
	       (more = smg_scan_next(p->scan, &vals))) {
		struct smg_buf *in = &p->input[b->n & 1];
		smg_buf_reset(in);
		smg_hash_input(t, vals, in);
		add_row(b, vals);
		if (!(b->n & 1))
			smg_sha256_x2(p->input[0].data, p->input[0].len, p->input[1].data,
				      p->input[1].len, b->hash[b->n - 2], b->hash[b->n - 1]);
	}
	if (b->n & 1)
		smg_sha256(p->input[0].data, p->input[0].len, b->hash[b->n - 1]);
	if (!more) {
		smg_scan_close(p->scan);
		p->scan = NULL;
		b->table_end = true;
		p->table++;
	}
}

/* Text and blob offsets become pointers once the bytes stop moving. */
static void seal(struct batch *b)
{
	for (size_t i = 0; i < b->n * b->ncols; i++)
		if (b->vals[i].type == SMG_TEXT || b->vals[i].type == SMG_BLOB)
			b->vals[i].p = b->bytes.data + (uintptr_t)b->vals[i].p;
}

static void *worker(void *arg)
{
	struct smg_prefetch *p = arg;
	bool end = false;
	while (!end) {
		struct batch *b = take(p, &p->free);
		if (stopping(p))
			p->table = p->ntables;	/* what is left is an end batch */
		fill(p, b);
		seal(b);
		end = b->end;
		give(p, &p->full, b);
	}
	smg_scan_close(p->scan);
	p->scan = NULL;
	return NULL;
}

struct smg_prefetch *smg_prefetch_start(sqlite3 *db, struct smg_table **tables, size_t n,
					bool threaded)
{
	struct smg_prefetch *p = smg_xcalloc(1, sizeof *p);
	p->db = db;
	p->tables = tables;
	p->ntables = n;
	p->threaded = threaded;
	int nbatches = threaded ? NBATCHES : 1;
	for (int i = 0; i < nbatches; i++)
		p->all[i].hash = smg_xcalloc(BATCH_ROWS, SMG_HASH_LEN);
	if (!threaded)
		return p;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	for (int i = 0; i < nbatches; i++)
		push(&p->free, &p->all[i]);
	if (pthread_create(&p->thread, NULL, worker, p) != 0)
		smg_die(SMG_EXIT_FAILURE, "cannot start a thread to read the database");
	return p;
}

static struct batch *next_batch(struct smg_prefetch *p)
{
	if (p->threaded)
		return take(p, &p->full);
	fill(p, &p->all[0]);
	seal(&p->all[0]);
	return &p->all[0];
}

static void done_with(struct smg_prefetch *p, struct batch *b)
{
	if (p->threaded)
		give(p, &p->free, b);
}

bool smg_prefetch_next(struct smg_prefetch *p, const struct smg_value **vals,
		       const unsigned char **hash)
{
	for (;;) {
		if (p->done)
			return false;
		if (!p->cur) {
			p->cur = next_batch(p);
			p->at = 0;
		}
		struct batch *b = p->cur;
		if (b->end) {
			p->done = true;
			return false;
		}
		if (p->at < b->n) {
			*vals = &b->vals[p->at * b->ncols];
			*hash = b->hash[p->at];
			p->at++;
			return true;
		}
		/* the row handed out last lives in this batch until the next call */
		bool table_end = b->table_end;
		p->cur = NULL;
		done_with(p, b);
		if (table_end)
			return false;
	}
}

void smg_prefetch_stop(struct smg_prefetch *p)
{
	if (!p)
		return;
	if (p->threaded) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_mutex_unlock(&p->lock);
		/* hand every batch back until the worker's last one: it may be
		 * waiting for a free batch to say it has ended */
		while (!p->done) {
			if (!p->cur)
				p->cur = take(p, &p->full);
			p->done = p->cur->end;
			give(p, &p->free, p->cur);
			p->cur = NULL;
		}
		pthread_join(p->thread, NULL);
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->changed);
	}
	smg_scan_close(p->scan);
	for (int i = 0; i < NBATCHES; i++) {
		free(p->all[i].vals);
		free(p->all[i].hash);
		smg_buf_free(&p->all[i].bytes);
	}
	smg_buf_free(&p->input[0]);
	smg_buf_free(&p->input[1]);
	free(p);
}
