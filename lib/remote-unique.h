/*
 * remote-unique.h - rows of a remote write that exchange UNIQUE values
 * among themselves (two users swapping emails, three rotating a value, a
 * chain of renumbered positions), for remote-apply.c.
 *
 * SQLite checks a UNIQUE index row by row, even inside one statement, and
 * a remote target gives no temporary table to move rows out to (D1 refuses
 * CREATE TEMP TABLE) and must not see a referenced row deleted and inserted
 * again (ON DELETE CASCADE fires even with the checks deferred).  So the
 * rows whose old UNIQUE value another row of the stream takes are parked
 * first: in the same atomic batch, their UNIQUE columns are set to a value
 * no row can hold (the old one with this run's nonce appended), and then
 * every row is written.  This file finds those rows, from the target's
 * UNIQUE indexes and the old ("was") and new values of each update.
 */
#ifndef SMG_REMOTE_UNIQUE_H
#define SMG_REMOTE_UNIQUE_H

#include "remote-int.h"

/* The target's UNIQUE indexes (not its primary key), every table. */
struct uindex {
	char *table, *name;
	char **cols;
	size_t ncols;
	bool expr;		/* on an expression: its columns are unknown */
};

struct uniq_db {
	struct uindex *v;
	size_t n;
};

/* One read request. */
void remote_unique_load(struct smg_remote *r, struct uniq_db *u);
void remote_unique_free(struct uniq_db *u);

/* The updates of one table, by their order in the stream: a 64-bit hash
 * of each row's old and new tuple under each usable index.  Values compare
 * as loosely as any collation SQLite has could (ASCII case and trailing
 * blanks ignored, 1 = 1.0): a row parked without need costs one write. */
struct uniq_rows {
	size_t nidx;
	size_t **idx;		/* column positions in the stream's table, per index */
	size_t *idxn;
	bool *park;		/* per column: a key-less column of a usable index */
	struct uhash { uint64_t h; size_t row; } *old, *new;
	size_t nold, nnew, capold, capnew;
	size_t nrows;
};

/* False (and nothing kept) when no UNIQUE index of the target can be
 * broken by the stream's updates of t. */
bool uniq_rows_init(struct uniq_rows *ur, const struct uniq_db *u, const struct smg_table *t);
void uniq_rows_add(struct uniq_rows *ur, const struct smg_value *was, const struct smg_value *vals);
/* The rows whose old tuple another row's new one equals, as a bitmap of
 * nrows bits (NULL when none); *n counts them. */
unsigned char *uniq_rows_demanded(struct uniq_rows *ur, size_t *n);
void uniq_rows_free(struct uniq_rows *ur);

static inline bool uniq_bit(const unsigned char *bits, size_t i)
{
	return bits && (bits[i / 8] >> (i % 8)) & 1;
}

#endif
