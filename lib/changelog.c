/*
 * changelog.c - the change log of a SQLite file's tracked tables: its
 * triggers, its sequence, the marks, and the keys logged since one.  See
 * changelog.h.
 */
#include "changelog.h"
#include "cli.h"
#include "tomb.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool has_text(const char *type, const char *what)
{
	char up[64];
	size_t i;
	for (i = 0; type[i] && i < sizeof up - 1; i++)
		up[i] = (char)toupper((unsigned char)type[i]);
	up[i] = '\0';
	return strstr(up, what) != NULL;
}

/* SQLite's affinity rules, the two kinds whose values json_array() writes
 * exactly: INTEGER (a type with INT in it) and TEXT (CHAR, CLOB, TEXT).
 * A REAL could lose digits, a BLOB cannot be JSON at all. */
static bool exact_json_type(const char *type)
{
	return has_text(type, "INT") || has_text(type, "CHAR") || has_text(type, "CLOB") ||
	       has_text(type, "TEXT");
}

bool smg_log_loggable(sqlite3 *db, const struct smg_table *t)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT type FROM pragma_table_info(?1) WHERE name=?2", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	bool ok = true;
	for (size_t k = 0; k < t->npk && ok; k++) {
		sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, t->pk[k], -1, SQLITE_STATIC);
		ok = sqlite3_step(st) == SQLITE_ROW &&
		     exact_json_type((const char *)sqlite3_column_text(st, 0));
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return ok;
}

static const char *const trigger_kind[] = {"logi", "logu", "logd"};

static void trigger_name(struct smg_buf *b, int kind, const char *table)
{
	struct smg_buf n = SMG_BUF_INIT;
	smg_buf_addf(&n, "_smugglr_%s_%s", trigger_kind[kind], table);
	smg_sql_ident(b, n.data);
	smg_buf_free(&n);
}

bool smg_log_active(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type='trigger' AND "
			       "((tbl_name=?1 AND name IN ('_smugglr_logi_'||?1, '_smugglr_logu_'||?1, "
			       "'_smugglr_logd_'||?1)) OR (tbl_name='" SMG_TOMB_TABLE "' AND name IN "
			       "('_smugglr_logt_i', '_smugglr_logt_u', '_smugglr_logt_d')))", -1, &st,
			       NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	bool yes = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 6;
	sqlite3_finalize(st);
	return yes && smg_db_has_table(db, SMG_LOG_TABLE) && smg_db_has_table(db, SMG_MARK_TABLE);
}

void smg_log_mark_tables(sqlite3 *db, struct smg_table **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t[i]->logged = smg_log_active(db, t[i]->name);
}

/* Log key (SQL) of table tbl (SQL), when cond (SQL, or NULL): the key's
 * old number goes, a new one comes.  A DELETE then an INSERT rather than
 * INSERT OR REPLACE: the OR clause of the statement that fires a trigger
 * overrides its body's (INSERT OR IGNORE INTO t would keep the old number,
 * and the change would go unseen). */
static void log_stmt(struct smg_buf *b, const char *tbl, const char *key, const char *cond)
{
	smg_buf_addf(b, " DELETE FROM " SMG_LOG_TABLE " WHERE tbl=%s AND key=%s%s%s%s;", tbl, key,
		     cond ? " AND (" : "", cond ? cond : "", cond ? ")" : "");
	smg_buf_addf(b, " INSERT INTO " SMG_LOG_TABLE "(tbl,key) SELECT %s,%s%s%s;", tbl, key,
		     cond ? " WHERE " : "", cond ? cond : "");
}

/* The same for the key of row ROW (OLD or NEW) of t. */
static void log_key(struct smg_buf *b, const struct smg_table *t, const char *row,
		    const char *cond)
{
	struct smg_buf tbl = SMG_BUF_INIT, key = SMG_BUF_INIT;
	smg_buf_addf(&tbl, "'%s'", t->name);	/* (a tracked table's name has no quote) */
	smg_tomb_key_json(&key, t, row);
	log_stmt(b, tbl.data, key.data, cond);
	smg_buf_free(&tbl);
	smg_buf_free(&key);
}

static void create_trigger(struct smg_buf *b, int kind, const struct smg_table *t,
			   const char *event)
{
	smg_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, kind, t->name);
	smg_buf_addf(b, " AFTER %s ON ", event);
	smg_sql_ident(b, t->name);
	smg_buf_adds(b, " BEGIN");
}

static void drop_triggers(sqlite3 *db, const char *dbname, const char *table)
{
	struct smg_buf b = SMG_BUF_INIT;
	for (int k = 0; k < 3; k++) {
		smg_buf_adds(&b, "DROP TRIGGER IF EXISTS ");
		trigger_name(&b, k, table);
		smg_buf_addc(&b, ';');
	}
	smg_db_exec(db, dbname, b.data);
	smg_buf_free(&b);
}

static void forget_marks(sqlite3 *db, const char *dbname)
{
	if (smg_db_has_table(db, SMG_MARK_TABLE))
		smg_db_exec(db, dbname, "DELETE FROM " SMG_MARK_TABLE);
}

/* A tombstone written or changed without a write to its table (smg-apply
 * recording the time of a delete made elsewhere, the pruning of old ones)
 * is a change of its key too: the tombstone table logs what it is told. */
static void tombstone_triggers(struct smg_buf *b)
{
	smg_buf_adds(b, "CREATE TRIGGER IF NOT EXISTS _smugglr_logt_i AFTER INSERT ON "
		     SMG_TOMB_TABLE " BEGIN");
	log_stmt(b, "NEW.tbl", "NEW.key", NULL);
	smg_buf_adds(b, " END; CREATE TRIGGER IF NOT EXISTS _smugglr_logt_u AFTER UPDATE ON "
		     SMG_TOMB_TABLE " BEGIN");
	log_stmt(b, "NEW.tbl", "NEW.key", NULL);
	log_stmt(b, "OLD.tbl", "OLD.key", "OLD.tbl IS NOT NEW.tbl OR OLD.key IS NOT NEW.key");
	smg_buf_adds(b, " END; CREATE TRIGGER IF NOT EXISTS _smugglr_logt_d AFTER DELETE ON "
		     SMG_TOMB_TABLE " BEGIN");
	log_stmt(b, "OLD.tbl", "OLD.key", NULL);
	smg_buf_adds(b, " END;");
}

bool smg_log_track(sqlite3 *db, const char *dbname, const struct smg_table *t)
{
	drop_triggers(db, dbname, t->name);
	forget_marks(db, dbname);
	if (!smg_log_loggable(db, t))
		return false;
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_adds(&b, "CREATE TABLE IF NOT EXISTS " SMG_LOG_TABLE "(seq INTEGER PRIMARY KEY "
		     "AUTOINCREMENT, tbl TEXT NOT NULL, key TEXT NOT NULL, UNIQUE(tbl, key));"
		     "CREATE TABLE IF NOT EXISTS " SMG_MARK_TABLE "(name TEXT PRIMARY KEY, "
		     "token TEXT NOT NULL, seq INTEGER NOT NULL, fp TEXT NOT NULL, "
		     "at INTEGER NOT NULL) WITHOUT ROWID;");
	tombstone_triggers(&b);
	create_trigger(&b, 0, t, "INSERT");
	log_key(&b, t, "NEW", NULL);
	smg_buf_adds(&b, " END;");
	/* the old key too when the key itself changed: that row is gone */
	struct smg_buf moved = SMG_BUF_INIT;
	smg_tomb_key_json(&moved, t, "OLD");
	smg_buf_adds(&moved, " IS NOT ");
	smg_tomb_key_json(&moved, t, "NEW");
	create_trigger(&b, 1, t, "UPDATE");
	log_key(&b, t, "NEW", NULL);
	log_key(&b, t, "OLD", moved.data);
	smg_buf_adds(&b, " END;");
	smg_buf_free(&moved);
	create_trigger(&b, 2, t, "DELETE");
	log_key(&b, t, "OLD", NULL);
	smg_buf_adds(&b, " END;");
	smg_db_exec(db, dbname, b.data);
	smg_buf_free(&b);
	return true;
}

void smg_log_untrack(sqlite3 *db, const char *dbname, const char *table)
{
	drop_triggers(db, dbname, table);
	forget_marks(db, dbname);
	if (!smg_db_has_table(db, SMG_LOG_TABLE))
		return;
	sqlite3_stmt *st = smg_db_prepare(db, dbname, "DELETE FROM " SMG_LOG_TABLE " WHERE tbl=?");
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", dbname, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	st = smg_db_prepare(db, dbname, "SELECT count(*) FROM sqlite_schema WHERE type='trigger' AND "
		     "name LIKE '\\_smugglr\\_logi\\_%' ESCAPE '\\'");
	bool others = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	if (!others)
		smg_db_exec(db, dbname, "DROP TRIGGER IF EXISTS _smugglr_logt_i; DROP TRIGGER IF EXISTS "
			    "_smugglr_logt_u; DROP TRIGGER IF EXISTS _smugglr_logt_d; DROP TABLE "
			    SMG_LOG_TABLE "; DROP TABLE IF EXISTS " SMG_MARK_TABLE);
}

int64_t smg_log_seq(sqlite3 *db)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name='" SMG_LOG_TABLE "'",
			       -1, &st, NULL) != SQLITE_OK)
		return 0;
	int64_t seq = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	return seq;
}

static bool is_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

bool smg_mark_read(sqlite3 *db, const char *name, struct smg_mark *m)
{
	sqlite3_stmt *st;
	if (!smg_db_has_table(db, SMG_MARK_TABLE) ||
	    sqlite3_prepare_v2(db, "SELECT token, seq, fp, at FROM " SMG_MARK_TABLE " WHERE name=?",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	bool ok = sqlite3_step(st) == SQLITE_ROW;
	if (ok) {
		const char *token = (const char *)sqlite3_column_text(st, 0);
		const char *fp = (const char *)sqlite3_column_text(st, 2);
		ok = is_hex(token, 32) && is_hex(fp, 64) &&
		     sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
		     sqlite3_column_type(st, 3) == SQLITE_INTEGER;
		if (ok) {
			memcpy(m->token, token, 33);
			memcpy(m->fp, fp, 65);
			m->seq = sqlite3_column_int64(st, 1);
			m->at = sqlite3_column_int64(st, 3);
		}
	}
	sqlite3_finalize(st);
	return ok;
}

/* The mark itself; and what no mark needs any more goes. */
static void put_mark(sqlite3 *db, const char *dbname, const char *name, const struct smg_mark *m)
{
	sqlite3_stmt *st = smg_db_prepare(db, dbname, "INSERT OR REPLACE INTO " SMG_MARK_TABLE
					  "(name, token, seq, fp, at) VALUES(?,?,?,?,?)");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, m->token, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, m->seq);
	sqlite3_bind_text(st, 4, m->fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, m->at);
	int rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		smg_die(smg_db_exit_code(rc), "%s: writing mark \"%s\": %s", dbname, name,
			sqlite3_errmsg(db));
	/* a mark past its age (one that came with a copy of another machine's
	 * file, one of a relay no longer used) is of use to none, and so is
	 * what every mark left has seen: the log stays as small as the changes
	 * the oldest live mark has not seen */
	st = smg_db_prepare(db, dbname, "DELETE FROM " SMG_MARK_TABLE " WHERE at < ?");
	sqlite3_bind_int64(st, 1, m->at - SMG_MARK_MAX_AGE);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		smg_die(smg_db_exit_code(rc), "%s: %s", dbname, sqlite3_errmsg(db));
	/* all of it, most often: a DELETE without WHERE only truncates */
	st = smg_db_prepare(db, dbname, "SELECT min(seq) >= ?1 FROM " SMG_MARK_TABLE);
	sqlite3_bind_int64(st, 1, smg_log_seq(db));
	bool all = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	smg_db_exec(db, dbname, all ? "DELETE FROM " SMG_LOG_TABLE :
		    "DELETE FROM " SMG_LOG_TABLE " WHERE seq <= (SELECT min(seq) FROM "
		    SMG_MARK_TABLE ")");
}

/* A copy's tracked tables that log nothing yet start now. */
static void start_logs(sqlite3 *db, const char *dbname)
{
	struct smg_select sel;
	smg_select_defaults(&sel);
	size_t n;
	struct smg_table **t = smg_db_tables(db, dbname, &sel, &n);
	for (size_t i = 0; i < n; i++)
		if (smg_tomb_tracked(db, t[i]->name) && !smg_log_active(db, t[i]->name))
			smg_log_track(db, dbname, t[i]);
	smg_tables_free(t, n);
	smg_select_free(&sel);
}

int64_t smg_mark_commit(sqlite3 *db, const char *dbname, const char *name, struct smg_mark m,
			int64_t begun, bool copy)
{
	if (copy)
		start_logs(db, dbname);
	if (!smg_db_has_table(db, SMG_MARK_TABLE))
		return -1;
	/* the log had not moved between the diff and this transaction: what
	 * it logged since is this transaction's own writes, the diff's changes */
	if (begun == m.seq || copy)
		m.seq = smg_log_seq(db);
	put_mark(db, dbname, name, &m);
	return m.seq;
}

size_t smg_log_keys_since(sqlite3 *db, const char *dbname, int64_t seq, const char *const *names,
			  size_t n, struct smg_buf *keys, size_t *counts)
{
	sqlite3_stmt *st = smg_db_prepare(db, dbname, "SELECT tbl, key FROM " SMG_LOG_TABLE
				   " WHERE seq > ?");
	sqlite3_bind_int64(st, 1, seq);
	size_t got = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *tbl = (const char *)sqlite3_column_text(st, 0);
		const char *key = (const char *)sqlite3_column_text(st, 1);
		if (!tbl || !key || key[0] != '[')
			smg_die(SMG_EXIT_DATA, "%s: " SMG_LOG_TABLE " is damaged: a key that is no "
				"JSON array (run smugglr untrack and track again to start afresh)",
				dbname);
		for (size_t i = 0; i < n; i++)
			if (!strcmp(names[i], tbl)) {
				smg_buf_adds(&keys[i], key);
				smg_buf_addc(&keys[i], ',');
				counts[i]++;
				got++;
				break;
			}
	}
	if (rc != SQLITE_DONE)
		smg_die(smg_db_exit_code(rc), "%s: " SMG_LOG_TABLE ": %s", dbname,
			sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return got;
}
