/*
 * sql.h - SQL text smugglr builds, for SQLite (apply.c, db.c) and for
 * remote endpoints (remote-*.c) alike: quoted identifiers and lists of
 * them, and the upsert and delete statements a change stream becomes.
 */
#ifndef SMG_SQL_H
#define SMG_SQL_H

#include "stream.h"

/* Quote an identifier for SQL: "a""b". */
void smg_sql_ident(struct smg_buf *b, const char *name);
/* names[0..n) quoted, comma-separated, each followed by each (or nothing:
 * NULL), as in "a","b" or "a" COLLATE BINARY,"b" COLLATE BINARY. */
void smg_sql_idents(struct smg_buf *b, char *const *names, size_t n, const char *each);

/*
 * INSERT INTO t(cols) VALUES <rows> ON CONFLICT(key) DO UPDATE SET only
 * the stream's columns, so a column excluded from the sync keeps the
 * target's value.  head gets the statement up to "VALUES", tail the rest
 * from " ON CONFLICT"; the caller puts one or more rows "(...)" between.
 */
void smg_sql_upsert(struct smg_buf *head, struct smg_buf *tail, const struct smg_table *t);
/* DELETE FROM t WHERE key IN (<rows>): head up to the first row, tail ")";
 * the rows are key values, "(a,b)" for a composite key. */
void smg_sql_delete(struct smg_buf *head, struct smg_buf *tail, const struct smg_table *t);
/* " ON CONFLICT(key) DO UPDATE SET c = excluded.c, ... WHERE (t.c IS
 * excluded.c AND ...)": after an INSERT, a no-op over a row that already
 * holds what it writes, and so, unlike DO NOTHING, a row RETURNING counts. */
void smg_sql_upsert_same(struct smg_buf *tail, const struct smg_table *t);
/* UPDATE t SET c = ? (the columns not in the key, in order), then the key
 * as ?, then ?: the row only if smg_row_hash() of seen's columns (apply.c
 * defines it) is that hash; for a table with columns outside its key.  And
 * the DELETE the same way: key, then hash.  Compare-and-set in the very
 * statement that writes. */
void smg_sql_update_row_if(struct smg_buf *sql, const struct smg_table *t,
			   const struct smg_table *seen);
void smg_sql_delete_row_if(struct smg_buf *sql, const struct smg_table *t,
			   const struct smg_table *seen);
/* The statements for one row, its values bound as ? in column (upsert) or
 * key (delete) order: for a prepared statement. */
void smg_sql_upsert_row(struct smg_buf *sql, const struct smg_table *t);
void smg_sql_delete_row(struct smg_buf *sql, const struct smg_table *t);
/* INSERT of one row that does nothing where a row has its key. */
void smg_sql_insert_row(struct smg_buf *sql, const struct smg_table *t);
/* SELECT the stream's columns of the row with one key (bound as ?). */
void smg_sql_select_row(struct smg_buf *sql, const struct smg_table *t);
/* Is column i of t in its primary key? */
bool smg_sql_is_key(const struct smg_table *t, size_t i);
/* " WHERE k1 IS ? AND k2 IS ?": the row with one key. */
void smg_sql_key_match(struct smg_buf *sql, const struct smg_table *t);

#endif
