/*
 * tomb.c - tombstones in the database itself: tracking a table (the
 * triggers), reading a table's tombstones in key order, merging them with
 * its rows, recording one, pruning old ones.  See tomb.h.
 *
 * A key is stored as SQLite's json_array() of the key values, the text
 * the triggers make: every writer (trigger or smg-apply) makes it with
 * json_array(), so one key is one text and the primary key holds.
 */
#include "tomb.h"
#include "changelog.h"
#include "prefetch.h"
#include "sha256.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOW_SQL "strftime('%Y-%m-%dT%H:%M:%fZ','now')"

int smg_tomb_horizon_days = 90;

static void trigger_name(struct smg_buf *b, const char *what, const char *table)
{
	struct smg_buf n = SMG_BUF_INIT;
	smg_buf_addf(&n, "_smugglr_%s_%s", what, table);
	smg_sql_ident(b, n.data);
	smg_buf_free(&n);
}

bool smg_tomb_tracked(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema WHERE type='trigger' AND "
			       "tbl_name=?1 AND name IN ('_smugglr_del_'||?1, '_smugglr_ins_'||?1)",
			       -1, &st, NULL) != SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	bool yes = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 2;
	sqlite3_finalize(st);
	return yes && smg_db_has_table(db, SMG_TOMB_TABLE);
}

void smg_tomb_mark(sqlite3 *db, struct smg_table **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		t[i]->tracked = smg_tomb_tracked(db, t[i]->name);
}

void smg_tomb_key_json(struct smg_buf *b, const struct smg_table *t, const char *row)
{
	smg_buf_adds(b, "json_array(");
	for (size_t k = 0; k < t->npk; k++) {
		smg_buf_addf(b, "%s%s.", k ? "," : "", row);
		smg_sql_ident(b, t->pk[k]);
	}
	smg_buf_addc(b, ')');
}

static void add_tombstone(struct smg_buf *b, const struct smg_table *t, const char *row)
{
	smg_buf_addf(b, "INSERT INTO " SMG_TOMB_TABLE "(tbl,key,deleted_at) VALUES('%s',", t->name);
	smg_tomb_key_json(b, t, row);
	smg_buf_adds(b, "," NOW_SQL ") ON CONFLICT(tbl,key) DO UPDATE SET "
		     "deleted_at=excluded.deleted_at;");
}

static void drop_tombstone(struct smg_buf *b, const struct smg_table *t, const char *row)
{
	smg_buf_addf(b, "DELETE FROM " SMG_TOMB_TABLE " WHERE tbl='%s' AND key=", t->name);
	smg_tomb_key_json(b, t, row);
	smg_buf_addc(b, ';');
}

/* A table name goes into the triggers as a string literal '...'; one with
 * a quote, a backslash or a control character in it is refused rather
 * than escaped. */
static bool plain_name(const char *s)
{
	for (; *s; s++)
		if (*s == '\'' || *s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
			return false;
	return true;
}

/* One statement of a script: its own buffer, NUL-separated from the rest. */
static void end_statement(struct smg_buf *b, size_t *n)
{
	smg_buf_addc(b, '\0');
	(*n)++;
}

static void create_table(struct smg_buf *b, size_t *n)
{
	smg_buf_adds(b, "CREATE TABLE IF NOT EXISTS " SMG_TOMB_TABLE "(tbl TEXT NOT NULL, "
		     "key TEXT NOT NULL, deleted_at TEXT NOT NULL, PRIMARY KEY(tbl, key)) "
		     "WITHOUT ROWID");
	end_statement(b, n);
}

static void drop_triggers(struct smg_buf *b, size_t *n, const char *table)
{
	const char *what[] = {"del", "ins", "upd"};
	for (int i = 0; i < 3; i++) {
		smg_buf_adds(b, "DROP TRIGGER IF EXISTS ");
		trigger_name(b, what[i], table);
		end_statement(b, n);
	}
}

size_t smg_tomb_track_sql(struct smg_buf *b, const char *dbname, const struct smg_table *t)
{
	size_t n = 0;
	if (!plain_name(t->name))
		smg_die(SMG_EXIT_USAGE, "%s: table \"%s\" cannot be tracked: its name has a quote, "
			"a backslash or a control character in it", dbname, t->name);
	create_table(b, &n);
	drop_triggers(b, &n, t->name);
	smg_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, "del", t->name);
	smg_buf_adds(b, " AFTER DELETE ON ");
	smg_sql_ident(b, t->name);
	smg_buf_adds(b, " BEGIN ");
	add_tombstone(b, t, "OLD");
	smg_buf_adds(b, " END");
	end_statement(b, &n);
	smg_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, "ins", t->name);
	smg_buf_adds(b, " AFTER INSERT ON ");
	smg_sql_ident(b, t->name);
	smg_buf_adds(b, " BEGIN ");
	drop_tombstone(b, t, "NEW");
	smg_buf_adds(b, " END");
	end_statement(b, &n);
	/* a key changed in place: the old key is deleted, the new one born */
	smg_buf_adds(b, "CREATE TRIGGER ");
	trigger_name(b, "upd", t->name);
	smg_buf_adds(b, " AFTER UPDATE OF ");
	smg_sql_idents(b, t->pk, t->npk, NULL);
	smg_buf_adds(b, " ON ");
	smg_sql_ident(b, t->name);
	smg_buf_adds(b, " WHEN ");
	smg_tomb_key_json(b, t, "OLD");
	smg_buf_adds(b, " IS NOT ");
	smg_tomb_key_json(b, t, "NEW");
	smg_buf_adds(b, " BEGIN ");
	add_tombstone(b, t, "OLD");
	drop_tombstone(b, t, "NEW");
	smg_buf_adds(b, " END");
	end_statement(b, &n);
	return n;
}

size_t smg_tomb_untrack_sql(struct smg_buf *b, const char *table)
{
	size_t n = 0;
	drop_triggers(b, &n, table);
	create_table(b, &n);
	if (plain_name(table)) {	/* (no other was ever tracked) */
		smg_buf_addf(b, "DELETE FROM " SMG_TOMB_TABLE " WHERE tbl='%s'", table);
		end_statement(b, &n);
	}
	return n;
}

/* Run the n statements of a script of smg_tomb_track_sql's. */
static void exec_script(sqlite3 *db, const char *dbname, const struct smg_buf *b, size_t n)
{
	const char *p = b->data;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
		smg_db_exec(db, dbname, p);
}

void smg_tomb_track(sqlite3 *db, const char *dbname, const struct smg_table *t)
{
	struct smg_buf b = SMG_BUF_INIT;
	size_t n = smg_tomb_track_sql(&b, dbname, t);
	exec_script(db, dbname, &b, n);
	smg_buf_free(&b);
}

void smg_tomb_untrack(sqlite3 *db, const char *dbname, const char *table)
{
	struct smg_buf b = SMG_BUF_INIT;
	size_t n = smg_tomb_untrack_sql(&b, table);
	exec_script(db, dbname, &b, n);
	smg_buf_free(&b);
	smg_log_untrack(db, dbname, table);
	sqlite3_stmt *st = smg_db_prepare(db, dbname, "SELECT count(*) FROM sqlite_schema WHERE "
					  "type='trigger' AND name LIKE '\\_smugglr\\_del\\_%' ESCAPE '\\'");
	bool others = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
	sqlite3_finalize(st);
	if (!others)
		smg_db_exec(db, dbname, "DROP TABLE " SMG_TOMB_TABLE);
}

bool smg_tomb_expired(const struct smg_value *ts, int horizon_days)
{
	int64_t at;
	if (horizon_days <= 0 || !smg_ts_parse(ts, &at))
		return false;
	int64_t now = (int64_t)time(NULL) * 1000000;
	return at < now - (int64_t)horizon_days * 86400 * 1000000;
}

int64_t smg_tomb_prune(sqlite3 *db, const char *dbname, int horizon_days)
{
	if (horizon_days <= 0 || !smg_db_has_table(db, SMG_TOMB_TABLE))
		return 0;
	sqlite3_stmt *sel = smg_db_prepare(db, dbname, "SELECT tbl, key, deleted_at FROM " SMG_TOMB_TABLE);
	sqlite3_stmt *del = smg_db_prepare(db, dbname, "DELETE FROM " SMG_TOMB_TABLE
				    " WHERE tbl=? AND key=?");
	int64_t n = 0;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		struct smg_value ts;
		smg_column_value(sel, 2, &ts);
		if (!smg_tomb_expired(&ts, horizon_days))
			continue;
		sqlite3_bind_value(del, 1, sqlite3_column_value(sel, 0));
		sqlite3_bind_value(del, 2, sqlite3_column_value(sel, 1));
		if (sqlite3_step(del) != SQLITE_DONE)
			smg_die(SMG_EXIT_FAILURE, "%s: pruning tombstones: %s", dbname,
				sqlite3_errmsg(db));
		sqlite3_reset(del);
		n++;
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	return n;
}

/* ---- one table's tombstones ---------------------------------------------- */

struct tomb {
	char *text;		/* the key's JSON, then the time: what values point into */
	struct smg_buf scratch;
	struct smg_value *key;
	size_t cap;
	struct smg_value ts;
};

struct smg_tombs {
	struct tomb *v;
	size_t n, cap, next;
	size_t npk;
};

static size_t sort_npk;	/* qsort has no context argument in C11 */

static int by_key(const void *a, const void *b)
{
	return smg_key_cmp(((const struct tomb *)a)->key, ((const struct tomb *)b)->key, sort_npk);
}

_Noreturn static void damaged(const char *dbname, const struct smg_table *t, const char *key,
			      const char *why)
{
	smg_die(SMG_EXIT_DATA, "%s: table \"%s\": tombstone %s in " SMG_TOMB_TABLE " is damaged: "
		"%s (run smugglr untrack and track again to start afresh)", dbname, t->name, key,
		why);
}

/* Decode one tombstone; dies naming it when it is not one. */
static void decode(struct tomb *x, const char *key, const char *at, const char *dbname,
		   const struct smg_table *t)
{
	if (!key)
		damaged(dbname, t, "(no key)", "its key is not text");
	size_t kn = strlen(key), an = at ? strlen(at) : 0;
	x->text = smg_xmalloc(kn + an + 2);
	memcpy(x->text, key, kn + 1);
	memcpy(x->text + kn + 1, at ? at : "", an + 1);
	struct smg_json j;
	size_t n;
	smg_json_init(&j, x->text, kn, &x->scratch);
	if (!smg_json_values(&j, &x->key, &n, &x->cap) || (smg_json_ws(&j), j.p != j.end))
		damaged(dbname, t, key, "its key is not a JSON array of values");
	if (n != t->npk)
		damaged(dbname, t, key, "its key has the wrong number of values for the table");
	x->ts = (struct smg_value){.type = SMG_TEXT, .p = x->text + kn + 1, .n = an};
	int64_t us;
	if (!at || !smg_ts_parse(&x->ts, &us))
		damaged(dbname, t, key, "its deleted_at is not a time");
}

static void free_tomb(struct tomb *x)
{
	free(x->text);
	smg_buf_free(&x->scratch);
	free(x->key);
}

struct smg_tombs *smg_tombs_new(const struct smg_table *t)
{
	struct smg_tombs *s = smg_xcalloc(1, sizeof *s);
	s->npk = t->npk;
	return s;
}

void smg_tombs_add(struct smg_tombs *s, const char *dbname, const struct smg_table *t,
		   const char *key, const char *at, int horizon_days)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = smg_xrealloc(s->v, s->cap * sizeof *s->v);
	}
	struct tomb *x = &s->v[s->n];
	memset(x, 0, sizeof *x);
	decode(x, key, at, dbname, t);
	if (smg_tomb_expired(&x->ts, horizon_days))
		free_tomb(x);
	else
		s->n++;
}

void smg_tombs_sort(struct smg_tombs *s, const char *dbname, const struct smg_table *t)
{
	sort_npk = t->npk;
	if (s->n)
		qsort(s->v, s->n, sizeof *s->v, by_key);
	for (size_t i = 1; i < s->n; i++)
		if (smg_key_cmp(s->v[i - 1].key, s->v[i].key, t->npk) == 0)
			damaged(dbname, t, s->v[i].text, "two tombstones have that key");
}

struct smg_tombs *smg_tombs_load(sqlite3 *db, const char *dbname, const struct smg_table *t,
				 int horizon_days)
{
	struct smg_tombs *s = smg_tombs_new(t);
	sqlite3_stmt *st;
	/* only_keys: the log's keys, json_array()'s text as the tombstones' */
	const char *sql = t->only_keys ?
		"SELECT key, deleted_at FROM " SMG_TOMB_TABLE " WHERE tbl=?1 AND key IN "
		"(SELECT value FROM json_each(?2))" :
		"SELECT key, deleted_at FROM " SMG_TOMB_TABLE " WHERE tbl=?1";
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" is tracked but " SMG_TOMB_TABLE " cannot "
			"be read: %s", dbname, t->name, sqlite3_errmsg(db));
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	if (t->only_keys)
		sqlite3_bind_text(st, 2, t->only_keys, -1, SQLITE_STATIC);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_type(st, 0) != SQLITE_TEXT)
			damaged(dbname, t, "(no key)", "its key is not text");
		const char *at = sqlite3_column_type(st, 1) == SQLITE_TEXT ?
				 (const char *)sqlite3_column_text(st, 1) : NULL;
		smg_tombs_add(s, dbname, t, (const char *)sqlite3_column_text(st, 0), at,
			      horizon_days);
	}
	if (rc != SQLITE_DONE)
		smg_die(smg_db_exit_code(rc), "%s: " SMG_TOMB_TABLE ": %s", dbname,
			sqlite3_errmsg(db));
	sqlite3_finalize(st);
	smg_tombs_sort(s, dbname, t);
	return s;
}

bool smg_tombs_peek(const struct smg_tombs *s, const struct smg_value **key,
		    const struct smg_value **ts)
{
	if (!s || s->next >= s->n)
		return false;
	*key = s->v[s->next].key;
	*ts = &s->v[s->next].ts;
	return true;
}

void smg_tombs_advance(struct smg_tombs *s)
{
	s->next++;
}

void smg_tombs_free(struct smg_tombs *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free_tomb(&s->v[i]);
	free(s->v);
	free(s);
}

/* ---- rows and tombstones in one order ------------------------------------ */

void smg_tomb_merge_init(struct smg_tomb_merge *m, struct smg_prefetch *rows,
			 struct smg_tombs *tombs, const struct smg_table *t, const char *dbname)
{
	memset(m, 0, sizeof *m);
	m->rows = rows;
	m->tombs = tombs;
	m->t = t;
	m->dbname = dbname;
}

/* A row's key (its values' key columns) against a key, as smg_key_cmp. */
static int row_key_cmp(const struct smg_table *t, const struct smg_value *vals,
		       const struct smg_value *key)
{
	for (size_t k = 0; k < t->npk; k++) {
		int c = smg_value_cmp(&vals[t->pk_idx[k]], &key[k]);
		if (c)
			return c;
	}
	return 0;
}

int smg_tomb_merge_next(struct smg_tomb_merge *m, const struct smg_value **vals,
			const unsigned char **hash, const struct smg_value **key,
			const struct smg_value **ts)
{
	if (!m->ahead && !m->rows_done) {
		m->ahead = smg_prefetch_next(m->rows, &m->vals, &m->hash);
		m->rows_done = !m->ahead;
	}
	const struct smg_value *tk, *tts;
	bool tomb = smg_tombs_peek(m->tombs, &tk, &tts);
	int c = -1;
	if (tomb && m->ahead) {
		c = row_key_cmp(m->t, m->vals, tk);
		if (c == 0) {
			struct smg_buf kb = SMG_BUF_INIT;
			smg_json_add_values(&kb, tk, m->t->npk);
			damaged(m->dbname, m->t, kb.data, "the table has a row with that key too");
		}
	}
	if (m->ahead && (!tomb || c < 0)) {
		m->ahead = false;
		*vals = m->vals;
		*hash = m->hash;
		return 1;
	}
	if (!tomb)
		return 0;
	*key = tk;
	*ts = tts;
	smg_tombs_advance(m->tombs);
	return 2;
}

/* ---- smg-apply ------------------------------------------------------------- */

void smg_tomb_record(sqlite3 *db, const char *dbname, const struct smg_table *t,
		     const struct smg_value *key, const struct smg_value *ts)
{
	if (!smg_tomb_tracked(db, t->name))
		smg_die(SMG_EXIT_USAGE, "%s: table \"%s\" is not tracked, so it cannot take a "
			"tombstone (smugglr track --table %s, on this side too)", dbname, t->name,
			t->name);
	struct smg_buf sql = SMG_BUF_INIT;
	smg_buf_adds(&sql, "INSERT INTO " SMG_TOMB_TABLE "(tbl,key,deleted_at) VALUES(?,json_array(");
	for (size_t k = 0; k < t->npk; k++)
		smg_buf_adds(&sql, k ? ",?" : "?");
	smg_buf_adds(&sql, "),?) ON CONFLICT(tbl,key) DO UPDATE SET deleted_at=excluded.deleted_at");
	sqlite3_stmt *st = smg_db_prepare(db, dbname, sql.data);
	smg_buf_free(&sql);
	sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	for (size_t k = 0; k < t->npk; k++)
		smg_bind_value(st, (int)k + 2, &key[k]);
	smg_bind_value(st, (int)t->npk + 2, ts);
	if (sqlite3_step(st) != SQLITE_DONE)
		smg_die(SMG_EXIT_FAILURE, "%s: table \"%s\": recording a tombstone: %s", dbname,
			t->name, sqlite3_errmsg(db));
	sqlite3_finalize(st);
}

/* ---- reconcile ----------------------------------------------------------------- */

void smg_tomb_hash(const struct smg_table *t, const struct smg_value *key,
		   const struct smg_value *ts, unsigned char out[SMG_HASH_LEN])
{
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_add(&b, "smugglr tombstone", 18);	/* with its NUL: no row encodes so */
	smg_json_add_values(&b, key, t->npk);
	smg_json_add_value(&b, ts);
	smg_sha256(b.data, b.len, out);
	smg_buf_free(&b);
}
