/*
 * db.h - SQLite as a source of rows: which tables and columns are synced,
 * and reading them in key order, hashed.  Also the row source that hides
 * whether rows come from a database or from a stream.
 */
#ifndef SMG_DB_H
#define SMG_DB_H

#include "sql.h"
#include "stream.h"
#include <sqlite3.h>

/* Which tables and columns a run covers. */
struct smg_select {
	char **tables;		/* explicit --table names; none = all */
	size_t ntables;
	char **exclude_tables;
	size_t nexclude_tables;
	char **exclude_columns;	/* globs on "column" or "table.column" */
	size_t nexclude_columns;
	const char *ts;		/* timestamp column name, or NULL */
	bool keys_only;
	bool tables_from_cli;	/* --table given: the config's list no longer counts */
	bool missing_ok;	/* a named table may be missing (smg-diff: one side may lack it) */
	bool tracking;		/* the tables are to be tracked (smg-apply --track) */
};

void smg_select_add(char ***list, size_t *n, const char *name);
/* Does an exclude_columns glob match "col" or "table.col"? */
bool smg_column_excluded(const struct smg_select *sel, const char *table, const char *col);
void smg_select_free(struct smg_select *s);

/* Open a database; dies with exit 3 when missing, 7 when not a database or
 * corrupt, 1 when it is to be written but is read-only to us. */
sqlite3 *smg_db_open(const char *path, bool writable);
/* How long a connection opened from now on waits for another's lock
 * ([sync] busy_timeout_ms; default 10000). */
void smg_db_set_busy_timeout(int ms);
/* The exit code for a failed SQLite call's result code: 7 for a corrupt
 * file, 6 for a lock held past the busy timeout, else 1. */
int smg_db_exit_code(int rc);
void smg_db_close(sqlite3 *db);
/* Run sql (statements) or prepare one statement; a failure dies with
 * smg_db_exit_code's code, naming dbname. */
void smg_db_exec(sqlite3 *db, const char *dbname, const char *sql);
sqlite3_stmt *smg_db_prepare(sqlite3 *db, const char *dbname, const char *sql);
/* Does the table exist (as a table, not a view)? */
bool smg_db_has_table(sqlite3 *db, const char *name);
/* Comma-separated list of the database's tables, for error messages. */
char *smg_db_table_list(sqlite3 *db);

/* Describe one table as the stream would (columns minus the excluded ones,
 * the key, the timestamp column).  NULL with *why set if it cannot be synced. */
struct smg_table *smg_db_table(sqlite3 *db, const char *name, const struct smg_select *sel,
			       const char **why);
/* All tables the selection covers, sorted by name.  Explicitly named tables
 * that are missing or lack a key are errors; others without a key are
 * skipped with a warning. */
struct smg_table **smg_db_tables(sqlite3 *db, const char *dbname,
				 const struct smg_select *sel, size_t *n);
void smg_tables_free(struct smg_table **t, size_t n);
int64_t smg_db_count(sqlite3 *db, const char *table);
/* The same, -1 when it fails (interrupted, say) rather than dying. */
int64_t smg_db_try_count(sqlite3 *db, const char *table);
/* A statement that steps through the names of the tables smugglr syncs
 * (no sqlite_* tables, no virtual tables or their shadow tables), by name.
 * The caller finalizes it. */
sqlite3_stmt *smg_db_table_names(sqlite3 *db);

/* Indexes 0..n-1 of tables (names[i], created by sql[i], NULL if unknown)
 * into order[], each after the tables its foreign keys refer to, so rows
 * written in that order find their parents in place.  Otherwise the given
 * order is kept, which is all a cycle of references can have. */
void smg_tables_parents_first(const char *const *names, const char *const *sql, size_t n,
			      size_t *order);

/* A scan of one table in key order. */
struct smg_scan;
struct smg_scan *smg_scan_open(sqlite3 *db, const struct smg_table *t);
/* Next row, or false at the end.  vals (t->ncols) stay valid until the
 * next call.  (Rows are hashed in batches, by lib/prefetch.c.) */
bool smg_scan_next(struct smg_scan *s, const struct smg_value **vals);
void smg_scan_close(struct smg_scan *s);

/* Read the value of column i of a stepped statement. */
void smg_column_value(sqlite3_stmt *st, int i, struct smg_value *v);
/* The same from a value (a function's argument). */
void smg_sqlite_value(sqlite3_value *sv, struct smg_value *v);
/* Bind a value to parameter i (1-based). */
int smg_bind_value(sqlite3_stmt *st, int i, const struct smg_value *v);

/* ---- row sources --------------------------------------------------------- */

struct smg_row {
	const struct smg_value *key;	/* table->npk values */
	const unsigned char *hash;
	struct smg_value ts;		/* SMG_NULL when the table has none */
	bool dead;			/* a tombstone: no hash, ts the time of the delete */
};

struct smg_source;

/* spec: "-" (stdin), a stream file, or a SQLite database path. */
struct smg_source *smg_source_open(const char *spec, const struct smg_select *sel);
/* The same for a side of a diff; an empty (0-byte) file dies (exit 7)
 * unless empty_ok: it stands for an empty database only where the changes
 * go and nothing is deleted (smg-diff(1), EMPTY SIDES). */
struct smg_source *smg_source_open_side(const char *spec, const struct smg_select *sel,
					bool empty_ok);
const char *smg_source_name(const struct smg_source *s);
/* Count, per table, timestamps that are no possible time or lie far in
 * the future, and warn about them (lib/ts.c): for a policy that goes by
 * them.  Off by default. */
void smg_source_check_timestamps(struct smg_source *s);
/* A database source: scan and hash in a thread of its own from now on.
 * Worth it when the other side is a database too (two cores, two scans);
 * with a stream on the other side, the upstream process has the core. */
void smg_source_read_ahead(struct smg_source *s);
/* Is the source a database (rather than a stream)? */
bool smg_source_is_db(const struct smg_source *s);
/* Advance to the next table (skipping rows left in the current one);
 * NULL after the last.  The table stays valid until the next call. */
const struct smg_table *smg_source_next_table(struct smg_source *s);
/* Next row of the current table, false at the table's end. */
bool smg_source_next_row(struct smg_source *s, struct smg_row *row);
/* Give the tombstones of tracked tables too (row->dead), within the
 * horizon; a database's are read now, so before smg_source_read_ahead. */
void smg_source_tombstones(struct smg_source *s, int horizon_days);
/* A database source's connection and tables (NULL and 0 for a stream),
 * for smg-diff --since (since.h): before anything reads its rows. */
sqlite3 *smg_source_db(const struct smg_source *s);
struct smg_table **smg_source_tables(const struct smg_source *s, size_t *n);
/* The current row's values as a JSON array; NULL for a keys-only stream. */
const char *smg_source_values_json(struct smg_source *s, size_t *len);
/* Names of the tables this source has (a database: all of them; a stream:
 * those seen so far), comma-separated, for error messages.  Caller frees. */
char *smg_source_table_list(const struct smg_source *s);
/* Rows read so far, for progress. */
int64_t smg_source_rows(const struct smg_source *s);
/* Count the rows a database source will give (smg_row_counter_start of
 * its tables); nothing for a stream, or when counting already. */
void smg_source_count_start(struct smg_source *s);
/* That count; -1 until it is done, for a stream, or when it failed. */
int64_t smg_source_count(const struct smg_source *s);

/* The rows of tables of the database at path, counted for a progress
 * line's total: SELECT count(*) of each, a read of every page, on a
 * connection and in a thread of their own, so the rows flow meanwhile. */
struct smg_row_counter;
struct smg_row_counter *smg_row_counter_start(const char *path, struct smg_table **tables,
					      size_t n);
/* The count; -1 until it is done, when it failed, or for a NULL counter. */
int64_t smg_row_counter_total(const struct smg_row_counter *c);
/* Stop counting (a count not done yet is interrupted) and free; NULL is fine. */
void smg_row_counter_stop(struct smg_row_counter *c);
void smg_source_close(struct smg_source *s);

#endif
