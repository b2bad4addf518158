/*
 * tomb.h - tombstones: the deletes of tracked tables, remembered in the
 * database itself (smugglr track), so that a two-way sync can tell a row
 * deleted on one side from a row never seen there (smugglr-stream(5),
 * "tombstone").
 *
 * A tracked table has AFTER DELETE, AFTER INSERT and AFTER UPDATE OF its
 * key triggers that keep SMG_TOMB_TABLE: one row per deleted key, with the
 * time of the delete.  A key inserted again loses its tombstone, so a key
 * is either a row or a tombstone, never both, and the two interleave in
 * one key order.
 */
#ifndef SMG_TOMB_H
#define SMG_TOMB_H

#include "db.h"

#define SMG_TOMB_TABLE "_smugglr_tombstones"

/* [sync] tombstone_horizon_days, as smg_config_load read it (90 before):
 * for the readers that get no configuration of their own (the beacon's). */
extern int smg_tomb_horizon_days;

/* Does db track table (its triggers are there)? */
bool smg_tomb_tracked(sqlite3 *db, const char *table);
/* Set t->tracked for each table. */
void smg_tomb_mark(sqlite3 *db, struct smg_table **t, size_t n);
/* Install (or remove) the tombstone table and t's triggers; untrack drops
 * the table's tombstones, and the tombstone table with the last of them. */
void smg_tomb_track(sqlite3 *db, const char *dbname, const struct smg_table *t);
void smg_tomb_untrack(sqlite3 *db, const char *dbname, const char *table);
/* The statements of tracking (the tombstone table, then t's triggers) and
 * of untracking (dropping the triggers and the table's tombstones; the
 * tombstone table stays) appended to b, each ended by a NUL,
 * for a remote target that takes them one by one; how many. */
size_t smg_tomb_track_sql(struct smg_buf *b, const char *dbname, const struct smg_table *t);
size_t smg_tomb_untrack_sql(struct smg_buf *b, const char *table);
/* json_array(ROW."k1",ROW."k2"): the key of the OLD or NEW row, as the
 * triggers write it (and the change log's, changelog.h). */
void smg_tomb_key_json(struct smg_buf *b, const struct smg_table *t, const char *row);
/* Delete the tombstones older than horizon_days (0: none); how many. */
int64_t smg_tomb_prune(sqlite3 *db, const char *dbname, int horizon_days);
/* Is a tombstone of that time older than horizon_days (0: never)? */
bool smg_tomb_expired(const struct smg_value *ts, int horizon_days);

/* What a tombstone contributes to a set fingerprint (reconcile.c): a
 * SHA-256 of its key and time, unlike any row's hash. */
void smg_tomb_hash(const struct smg_table *t, const struct smg_value *key,
		   const struct smg_value *ts, unsigned char out[SMG_HASH_LEN]);

/* One table's tombstones within the horizon, in key order, read whole
 * (there are as many as deletes within the horizon).  A damaged tombstone
 * table (a key that is no JSON array of the table's key values, a time
 * that is no time) dies, exit 7, naming it. */
struct smg_tombs;
struct smg_tombs *smg_tombs_load(sqlite3 *db, const char *dbname, const struct smg_table *t,
				 int horizon_days);
/* The current tombstone (its key and time), or false when none is left;
 * smg_tombs_advance moves on. */
/* The same built by hand (a remote target's answer): add each tombstone
 * (key and time as the tombstone table holds them), then sort. */
struct smg_tombs *smg_tombs_new(const struct smg_table *t);
void smg_tombs_add(struct smg_tombs *s, const char *dbname, const struct smg_table *t,
		   const char *key, const char *at, int horizon_days);
void smg_tombs_sort(struct smg_tombs *s, const char *dbname, const struct smg_table *t);
bool smg_tombs_peek(const struct smg_tombs *s, const struct smg_value **key,
		    const struct smg_value **ts);
void smg_tombs_advance(struct smg_tombs *s);
void smg_tombs_free(struct smg_tombs *s);

/*
 * A tracked table's rows and tombstones in one key order: the rows come
 * from a prefetch (its current table), the tombstones from s (NULL: none).
 * 1 a row (vals, hash set), 2 a tombstone (key, ts set), 0 at the end.  A
 * key that is both a row and a tombstone is a damaged database: exit 7.
 */
struct smg_tomb_merge {
	struct smg_prefetch *rows;
	struct smg_tombs *tombs;
	const struct smg_table *t;
	const char *dbname;
	const struct smg_value *vals;	/* the row read ahead */
	const unsigned char *hash;
	bool ahead, rows_done;
};
void smg_tomb_merge_init(struct smg_tomb_merge *m, struct smg_prefetch *rows,
			 struct smg_tombs *tombs, const struct smg_table *t, const char *dbname);
int smg_tomb_merge_next(struct smg_tomb_merge *m, const struct smg_value **vals,
			const unsigned char **hash, const struct smg_value **key,
			const struct smg_value **ts);

/* Make key a tombstone of time ts in db (smg-apply): replaces one the
 * trigger just wrote with the time the delete really happened. */
void smg_tomb_record(sqlite3 *db, const char *dbname, const struct smg_table *t,
		     const struct smg_value *key, const struct smg_value *ts);

#endif
