/*
 * table.h - what a table is to the stream (columns, key, timestamp), the
 * order of keys and the row hash (table.c).
 */
#ifndef SMG_TABLE_H
#define SMG_TABLE_H

#include "json.h"

/* ---- key order ---------------------------------------------------------- */

/* SQLite's ORDER BY order under BINARY collation: NULL < numbers (by value,
 * INTEGER and REAL mixed) < TEXT (memcmp) < BLOB (memcmp). */
int smg_value_cmp(const struct smg_value *a, const struct smg_value *b);
int smg_key_cmp(const struct smg_value *a, const struct smg_value *b, size_t n);

/* ---- tables ----------------------------------------------------------- */

/* What a stream (or a database scan) says about one table. */
struct smg_table {
	char *name;
	size_t ncols;
	char **cols;		/* synced columns, in table order */
	size_t *col_len;	/* strlen of each, for the hash */
	size_t npk;
	char **pk;		/* primary key column names, in key order */
	size_t *pk_idx;		/* index of each key column in cols */
	char *ts;		/* timestamp column name, or NULL */
	long ts_idx;		/* its index in cols, or -1 */
	char *sql;		/* CREATE statement, or NULL */
	char **indexes;		/* its CREATE INDEX statements (the source's) */
	size_t nindexes;
	bool tracked;		/* its deletes leave tombstones (tomb.h) */
	bool logged;		/* its changes are logged (changelog.h) */
	/* A database's table read only at these keys: a JSON array of key
	 * arrays (smg-diff --since), or NULL for every row. */
	char *only_keys;
	size_t *hash_order;	/* hashed columns (all but ts) sorted by name */
	size_t nhash;
	/* How every row record of this table starts as the writer lays it out,
	 * {"kind":"row","table":NAME,"key": : written once per row, and
	 * what the reader's fast path recognises. */
	char *row_head;
	size_t row_head_len;
	/* and every change record: {"kind":"change","table":NAME,"bucket":" */
	char *change_head;
	size_t change_head_len;
};

struct smg_table *smg_table_new(const char *name);
void smg_table_add_col(struct smg_table *t, const char *col);
void smg_table_add_pk(struct smg_table *t, const char *col);
/* Resolve pk_idx, ts_idx, hash_order; returns an error message or NULL. */
const char *smg_table_finish(struct smg_table *t, const char *ts);
/* The same for a table built to be returned: t, or NULL with *why set and
 * t freed. */
struct smg_table *smg_table_done(struct smg_table *t, const char *ts, const char **why);
/* A table named on the command line that smg_table_finish refused (why) in
 * dbname: exit 2, saying it cannot be synced, or with tracking that it
 * cannot be tracked, and what the key is for then. */
_Noreturn void smg_table_refuse(const char *dbname, const char *name, const char *why,
				bool tracking);
void smg_table_free(struct smg_table *t);
long smg_table_col(const struct smg_table *t, const char *name);
void smg_table_add_index(struct smg_table *t, const char *sql);
struct smg_table *smg_table_copy(const struct smg_table *t);

/* ---- row hash --------------------------------------------------------- */

#define SMG_HASH_LEN 32
/* SHA-256 over the canonical typed encoding of the hashed columns of a row
 * (vals holds all t->ncols columns). */
void smg_hash_row(const struct smg_table *t, const struct smg_value *vals,
		  unsigned char out[SMG_HASH_LEN]);
/* Append the bytes smg_hash_row hashes, for a caller that hashes rows two
 * at a time (smg_sha256_x2). */
void smg_hash_input(const struct smg_table *t, const struct smg_value *vals,
		    struct smg_buf *out);
void smg_hash_hex(const unsigned char h[SMG_HASH_LEN], char out[65]);
bool smg_hash_unhex(const char *p, size_t n, unsigned char h[SMG_HASH_LEN]);

#endif
