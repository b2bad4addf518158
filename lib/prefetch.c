/*
 * prefetch.c - scan and hash a database's tables in a thread of their own.
 *
 * smg-diff reads two sides; scanning and hashing a database is most of its
 * work.  A worker thread does it for each database side while the main
 * thread merges, so two databases are read at once on two cores.  Rows
 * travel in a few fixed batches, handed back and forth: memory stays flat.
 */
#include "prefetch.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_ROWS 512
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

static struct batch *fresh(struct smg_prefetch *p, size_t table)
{
	struct batch *b = take(p, &p->free);
	b->table = table;
	b->n = 0;
	b->table_end = b->end = false;
	b->ncols = table < p->ntables ? p->tables[table]->ncols : 0;
	smg_buf_reset(&b->bytes);
	return b;
}

/* Copy one row into the batch.  Text and blob bytes go to b->bytes, which
 * may move as it grows: their offsets are kept until the batch is sent. */
static void add_row(struct batch *b, const struct smg_value *vals, const unsigned char *hash)
{
	size_t need = (b->n + 1) * b->ncols;
	if (need > b->valcap) {
		b->valcap = need * 2;
		b->vals = smg_xrealloc(b->vals, b->valcap * sizeof *b->vals);
	}
	struct smg_value *out = &b->vals[b->n * b->ncols];
	for (size_t i = 0; i < b->ncols; i++) {
		out[i] = vals[i];
		if (vals[i].type == SMG_TEXT || vals[i].type == SMG_BLOB) {
			out[i].p = (const char *)(uintptr_t)b->bytes.len;
			smg_buf_add(&b->bytes, vals[i].p, vals[i].n);
		}
	}
	memcpy(b->hash[b->n++], hash, SMG_HASH_LEN);
}

static void send(struct smg_prefetch *p, struct batch *b)
{
	for (size_t i = 0; i < b->n * b->ncols; i++)
		if (b->vals[i].type == SMG_TEXT || b->vals[i].type == SMG_BLOB)
			b->vals[i].p = b->bytes.data + (uintptr_t)b->vals[i].p;
	give(p, &p->full, b);
}

static void *worker(void *arg)
{
	struct smg_prefetch *p = arg;
	for (size_t t = 0; t < p->ntables && !stopping(p); t++) {
		struct smg_scan *scan = smg_scan_open(p->db, p->tables[t]);
		struct batch *b = fresh(p, t);
		const struct smg_value *vals;
		unsigned char hash[SMG_HASH_LEN];
		bool stopped = false;
		while (smg_scan_next(scan, &vals, hash)) {
			add_row(b, vals, hash);
			if (b->n == BATCH_ROWS) {
				send(p, b);	/* b is the consumer's now */
				if ((stopped = stopping(p)))
					break;
				b = fresh(p, t);
			}
		}
		smg_scan_close(scan);
		if (stopped)
			break;
		b->table_end = true;
		send(p, b);
	}
	smg_hash_thread_done();
	struct batch *end = fresh(p, p->ntables);
	end->end = true;
	send(p, end);
	return NULL;
}

struct smg_prefetch *smg_prefetch_start(sqlite3 *db, struct smg_table **tables, size_t n)
{
	struct smg_prefetch *p = smg_xcalloc(1, sizeof *p);
	p->db = db;
	p->tables = tables;
	p->ntables = n;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	for (int i = 0; i < NBATCHES; i++) {
		p->all[i].hash = smg_xcalloc(BATCH_ROWS, SMG_HASH_LEN);
		push(&p->free, &p->all[i]);
	}
	if (pthread_create(&p->thread, NULL, worker, p) != 0)
		smg_die(SMG_EXIT_FAILURE, "cannot start a thread to read the database");
	return p;
}

bool smg_prefetch_next(struct smg_prefetch *p, const struct smg_value **vals,
		       const unsigned char **hash)
{
	for (;;) {
		if (p->done)
			return false;
		if (!p->cur) {
			p->cur = take(p, &p->full);
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
		give(p, &p->free, b);
		if (table_end)
			return false;
	}
}

void smg_prefetch_stop(struct smg_prefetch *p)
{
	if (!p)
		return;
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
	for (int i = 0; i < NBATCHES; i++) {
		free(p->all[i].vals);
		free(p->all[i].hash);
		smg_buf_free(&p->all[i].bytes);
	}
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->changed);
	free(p);
}
