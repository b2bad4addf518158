/*
 * prefetch.h - a database's tables scanned and hashed a batch of rows at a
 * time, on the caller's thread or by a worker thread (see prefetch.c).
 */
#ifndef SMG_PREFETCH_H
#define SMG_PREFETCH_H

#include "db.h"

struct smg_prefetch;

/* Start scanning tables[0..n) of db, in that order.  db and tables must
 * outlive it.  threaded: a worker thread reads ahead, and db is the
 * worker's until smg_prefetch_stop. */
struct smg_prefetch *smg_prefetch_start(sqlite3 *db, struct smg_table **tables, size_t n,
					bool threaded);
/* The next row of the current table (values and hash stay valid until the
 * next call), or false at the end of the table; the call after that starts
 * the next table. */
bool smg_prefetch_next(struct smg_prefetch *p, const struct smg_value **vals,
		       const unsigned char **hash);
/* Stop (and wait for the worker) and free. */
void smg_prefetch_stop(struct smg_prefetch *p);

#endif
