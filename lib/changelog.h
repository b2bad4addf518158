/*
 * changelog.h - the change log of a SQLite file's tracked tables, and the
 * marks that let a diff read only what changed since the last one.
 *
 * smugglr track gives each table whose key is INTEGER or TEXT three more
 * triggers (after insert, update, delete) that write the key of each
 * changed row into SMG_LOG_TABLE, one row per key, under a number from an
 * AUTOINCREMENT sequence: a later write of the key gets a larger number,
 * and no number is ever used twice, even after rows are deleted.
 *
 * A mark (SMG_MARK_TABLE) says "this file had been compared with another
 * up to number SEQ": a name, a random token shared by the two files' marks
 * of one comparison, SEQ, a fingerprint of what was compared (tables,
 * columns, options) and when.  Two files whose marks of a name agree
 * differ, for the comparison the fingerprint describes, at most in the
 * keys either has logged since: a diff reads those and nothing else.
 *
 * Why a mark lives in the file and not beside it: a copy of the file (a
 * backup put back, a relay's base downloaded) carries its marks along
 * with the log that makes them true, and a file restored from before a
 * mark has no such mark, so it is compared whole.
 */
#ifndef SMG_CHANGELOG_H
#define SMG_CHANGELOG_H

#include "db.h"

#define SMG_LOG_TABLE "_smugglr_changes"
#define SMG_MARK_TABLE "_smugglr_marks"

/* A mark older than this is not trusted: the comparison is whole then, so
 * that what changes with time alone (tombstones past the horizon) and any
 * write the log could not see are caught up with at least once a day. */
#define SMG_MARK_MAX_AGE (24 * 3600)

/* Can t's changes be logged (its key columns are INTEGER or TEXT, whose
 * JSON text is exact)?  Is it logged (the triggers are there)? */
bool smg_log_loggable(sqlite3 *db, const struct smg_table *t);
bool smg_log_active(sqlite3 *db, const char *table);
/* Set t->logged for each table. */
void smg_log_mark_tables(sqlite3 *db, struct smg_table **t, size_t n);
/* Install t's log triggers (when loggable; false when not), or remove
 * them.  Either drops every mark: a log that missed writes while it was
 * gone must not be trusted. */
bool smg_log_track(sqlite3 *db, const char *dbname, const struct smg_table *t);
void smg_log_untrack(sqlite3 *db, const char *dbname, const char *table);

/* The last number the log gave out (0: none). */
int64_t smg_log_seq(sqlite3 *db);

struct smg_mark {
	char token[33];		/* 32 hex digits */
	int64_t seq;
	char fp[65];		/* 64 hex digits */
	int64_t at;		/* Unix seconds */
};
/* Read mark name; false when there is none or it is damaged. */
bool smg_mark_read(sqlite3 *db, const char *name, struct smg_mark *m);
/*
 * In a write transaction that began when the log was at begun: write mark
 * name, and drop the log's rows that no mark needs.  Its position is the
 * one its diff read (m.seq), or the log's now when the log had not moved
 * from there when the transaction began: what it logged since is then the
 * transaction's own writes, which the diff asked for.  copy: a file that
 * only the run that diffed it writes (the relay's cache), marked as it is
 * now; its tracked tables that log nothing yet start to, so that its log
 * starts after the rows it was made with.  The position written, or -1
 * when db has no change log (nothing written).
 */
int64_t smg_mark_commit(sqlite3 *db, const char *dbname, const char *name, struct smg_mark m,
			int64_t begun, bool copy);

/*
 * The keys of table (by name) that db logged after seq, appended to keys:
 * JSON key arrays, each followed by a comma, and counted in counts.  One
 * pass over the log for all tables: keys[i] and counts[i] are names[i]'s.
 * How many keys it appended.
 */
size_t smg_log_keys_since(sqlite3 *db, const char *dbname, int64_t seq, const char *const *names,
			  size_t n, struct smg_buf *keys, size_t *counts);

#endif
