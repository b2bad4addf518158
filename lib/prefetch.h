/*
 * prefetch.h - a database's tables scanned and hashed by a worker thread,
 * handed over in batches (see prefetch.c).
 */
#ifndef SMG_PREFETCH_H
#define SMG_PREFETCH_H

#include "db.h"

struct smg_prefetch;

/* Start scanning tables[0..n) of db, in that order.  db and tables must
 * outlive it, and db is the worker's until smg_prefetch_stop. */
struct smg_prefetch *smg_prefetch_start(sqlite3 *db, struct smg_table **tables, size_t n);
/* The next row of the current table (values and hash stay valid until the
 * next call), or false at the end of the table; the call after that starts
 * the next table. */
bool smg_prefetch_next(struct smg_prefetch *p, const struct smg_value **vals,
		       const unsigned char **hash);
/* Stop the worker and wait for it. */
void smg_prefetch_stop(struct smg_prefetch *p);

#endif
