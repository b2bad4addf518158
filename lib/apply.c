/*
 * apply.c - write a change stream into a SQLite database.
 *
 * The whole run is one transaction, committed only once the trailer proves
 * the stream complete: a stage that died upstream, a malformed line or a
 * kill -9 leaves the target exactly as it was.  What a run did, in text
 * and JSON, is apply-report.c.
 */
#include "apply.h"
#include "progress.h"
#include "schema.h"
#include "tomb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct target_table {
	/* The stream's table, a copy: the reader frees its own at the next
	 * table record, before deferred rows (below) are done with. */
	struct smg_table *t;
	sqlite3_stmt *upsert, *del;
	sqlite3_stmt *insert;		/* ... ON CONFLICT(key) DO NOTHING */
	sqlite3_stmt *current;		/* the synced columns of one row, by key */
	/* UPDATE / DELETE ... WHERE key AND smg_row_hash(columns) IS the hash
	 * the diff saw: compare-and-set in the statement that writes */
	sqlite3_stmt *update_if, *delete_if;
	struct smg_table *seen;		/* t as the diff saw it, when columns were added */
	struct smg_value *cur;		/* its values (t->ncols) */
	/* Upserts a UNIQUE constraint stopped, to try again once the table's
	 * other rows are in: their "values" JSON, each ended by a NUL. */
	struct smg_buf deferred;
	size_t ndeferred;
	struct smg_apply_table *res;
	bool missing;			/* dry run of a table --create-tables would make */
};

static sqlite3 *apply_db;		/* for the rollback hook */

static void rollback(void)
{
	if (apply_db && !sqlite3_get_autocommit(apply_db))
		sqlite3_exec(apply_db, "ROLLBACK", NULL, NULL, NULL);
}

static void exec(sqlite3 *db, const char *sql, const char *dbname)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		smg_die(sqlite3_errcode(db) == SQLITE_BUSY ? SMG_EXIT_CONFLICT : SMG_EXIT_FAILURE,
			"%s: %s (in %.80s)", dbname, err, sql);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, const char *dbname)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		smg_die(SMG_EXIT_DATA, "%s: %s (in %s)", dbname, sqlite3_errmsg(db), sql);
	return st;
}

/* ALTER TABLE ADD COLUMN, with the definition the stream's schema gives. */
static void add_column(sqlite3 *db, const char *dbname, const struct smg_table *t,
		       const char *col, bool dry_run)
{
	char *why = NULL;
	char *def = smg_schema_column_def(t, col, &why);
	if (!def)
		smg_die(SMG_EXIT_DATA, "%s: cannot add column \"%s\" to table \"%s\": %s", dbname, col,
			t->name, why);
	struct smg_buf sql = SMG_BUF_INIT;
	smg_buf_adds(&sql, "ALTER TABLE ");
	smg_sql_ident(&sql, t->name);
	smg_buf_addf(&sql, " ADD COLUMN %s", def);
	char *err = NULL;
	if (!dry_run && sqlite3_exec(db, sql.data, NULL, NULL, &err) != SQLITE_OK)
		smg_die(SMG_EXIT_DATA, "%s: cannot add column \"%s\" to table \"%s\": %s (in %s)",
			dbname, col, t->name, err, sql.data);
	free(def);
	smg_buf_free(&sql);
}

/* The target must have every synced column (or get it: --add-columns) and
 * the same key.  True when columns are to be added in a dry run: the
 * table cannot be written as it is, only counted. */
static bool check_target(sqlite3 *db, const char *dbname, const struct smg_table *t,
			 const struct smg_apply_opts *o, struct smg_apply_table *res)
{
	struct smg_select none = {0};
	const char *why = NULL;
	struct smg_table *have = smg_db_table(db, t->name, &none, &why);
	if (!have)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" cannot be written: %s", dbname, t->name, why);
	struct smg_buf missing = SMG_BUF_INIT;
	for (size_t i = 0; i < t->ncols; i++)
		if (smg_table_col(have, t->cols[i]) < 0)
			smg_buf_addf(&missing, "%s\"%s\"", missing.len ? ", " : "", t->cols[i]);
	if (missing.len && !o->add_columns)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" lacks column%s %s (--add-columns adds them "
			"from the stream's schema)", dbname, t->name,
			strchr(missing.data, ',') ? "s" : "", missing.data);
	bool same = have->npk == t->npk;
	for (size_t k = 0; same && k < t->npk; k++)
		same = !strcmp(have->pk[k], t->pk[k]);
	if (!same)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" has a different primary key than the stream",
			dbname, t->name);
	for (size_t i = 0; missing.len && i < t->ncols; i++) {
		if (smg_table_col(have, t->cols[i]) >= 0)
			continue;
		add_column(db, dbname, t, t->cols[i], o->dry_run);
		smg_select_add(&res->added, &res->nadded, t->cols[i]);
	}
	smg_buf_free(&missing);
	smg_table_free(have);
	return res->nadded && o->dry_run;
}

/* The stream's CREATE TABLE and its indexes (smg_schema_check_create has
 * made sure that is all they are).  An index name the target already uses
 * for something else is a schema mismatch, not an I/O error. */
static void create_table(sqlite3 *db, const char *dbname, const struct smg_table *t)
{
	exec(db, t->sql, dbname);
	for (size_t i = 0; i < t->nindexes; i++) {
		char *err = NULL;
		if (sqlite3_exec(db, t->indexes[i], NULL, NULL, &err) != SQLITE_OK)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": cannot create its index: %s (in %s)",
				dbname, t->name, err, t->indexes[i]);
	}
}

static struct smg_apply_table *add_result(struct smg_apply_result *res, const char *name)
{
	for (size_t i = 0; i < res->ntables; i++)
		if (!strcmp(res->tables[i].name, name))
			return &res->tables[i];
	res->tables = smg_xrealloc(res->tables, (res->ntables + 1) * sizeof *res->tables);
	struct smg_apply_table *t = &res->tables[res->ntables++];
	memset(t, 0, sizeof *t);
	t->name = smg_xstrdup(name);
	return t;
}

static void close_table(struct target_table *tt)
{
	sqlite3_finalize(tt->upsert);
	sqlite3_finalize(tt->insert);
	sqlite3_finalize(tt->del);
	sqlite3_finalize(tt->current);
	sqlite3_finalize(tt->update_if);
	sqlite3_finalize(tt->delete_if);
	free(tt->cur);
	smg_buf_free(&tt->deferred);
	smg_table_free(tt->t);
	smg_table_free(tt->seen);
	memset(tt, 0, sizeof *tt);
}

static bool has_added(const struct smg_apply_table *res, const char *col)
{
	for (size_t k = 0; k < res->nadded; k++)
		if (!strcmp(res->added[k], col))
			return true;
	return false;
}

/* The one table smg_row_hash() hashes for: the table open now (one at a
 * time, on one thread). */
static const struct smg_table *row_hash_table;

/* smg_row_hash(c1, ..., cn): the row hash of the columns as the diff saw
 * them, so that the statement that writes a row is the one that checks it. */
static void row_hash_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const struct smg_table *t = row_hash_table;
	struct smg_value v[64], *vals = (size_t)argc <= 64 ? v : smg_xcalloc((size_t)argc, sizeof *vals);
	unsigned char h[SMG_HASH_LEN];
	if (!t || (size_t)argc != t->ncols) {
		sqlite3_result_error(ctx, "smg_row_hash: not the open table's columns", -1);
	} else {
		for (int i = 0; i < argc; i++)
			smg_sqlite_value(argv[i], &vals[i]);
		smg_hash_row(t, vals, h);
		sqlite3_result_blob(ctx, h, SMG_HASH_LEN, SQLITE_TRANSIENT);
	}
	if (vals != v)
		free(vals);
}

/* The read compare-and-set makes: the row as the diff saw it, that is
 * without the columns --add-columns just added (their hash is over the
 * columns the target had). */
static void prepare_check(sqlite3 *db, const char *dbname, struct target_table *tt)
{
	const struct smg_table *t = tt->t;
	struct smg_apply_table *res = tt->res;
	if (res->nadded) {
		struct smg_table *seen = smg_table_new(t->name);
		for (size_t i = 0; i < t->ncols; i++)
			if (!has_added(res, t->cols[i]))
				smg_table_add_col(seen, t->cols[i]);
		for (size_t k = 0; k < t->npk; k++)
			smg_table_add_pk(seen, t->pk[k]);
		smg_table_finish(seen, t->ts && !has_added(res, t->ts) ? t->ts : NULL);
		tt->seen = seen;
	}
	const struct smg_table *st = tt->seen ? tt->seen : t;
	struct smg_buf sql = SMG_BUF_INIT;
	smg_sql_select_row(&sql, st);
	tt->current = prepare(db, sql.data, dbname);
	tt->cur = smg_xcalloc(st->ncols, sizeof *tt->cur);
	row_hash_table = st;
	smg_buf_free(&sql);
}

/* UPDATE / DELETE ... WHERE key AND the row hashes to what the diff saw. */
static void prepare_checked_writes(sqlite3 *db, const char *dbname, struct target_table *tt)
{
	const struct smg_table *t = tt->t, *seen = tt->seen ? tt->seen : t;
	struct smg_buf sql = SMG_BUF_INIT;
	if (t->ncols > t->npk) {
		smg_sql_update_row_if(&sql, t, seen);
		tt->update_if = prepare(db, sql.data, dbname);
		smg_buf_reset(&sql);
	}
	smg_sql_delete_row_if(&sql, t, seen);
	tt->delete_if = prepare(db, sql.data, dbname);
	smg_buf_free(&sql);
}

static void open_table(sqlite3 *db, const char *dbname, const struct smg_table *t,
		       const struct smg_apply_opts *o, struct smg_apply_result *res,
		       struct target_table *tt)
{
	close_table(tt);
	tt->t = smg_table_copy(t);
	tt->res = add_result(res, t->name);
	if (!smg_db_has_table(db, t->name)) {
		if (!o->create_tables) {
			char *have = smg_db_table_list(db);
			smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" to write to (tables: %s); "
				"--create-tables creates it from the source's schema", dbname,
				t->name, have);
		}
		smg_schema_check_create(t, dbname);
		tt->res->created = true;
		if (o->dry_run) {
			tt->missing = true;
			return;
		}
		create_table(db, dbname, t);
	}
	if (o->tracking && t->tracked && !o->dry_run && !smg_tomb_tracked(db, t->name))
		smg_tomb_track(db, dbname, t);
	bool dry_added = check_target(db, dbname, t, o, tt->res);
	prepare_check(db, dbname, tt);
	if (dry_added) {
		tt->missing = true;
		return;
	}
	prepare_checked_writes(db, dbname, tt);
	struct smg_buf sql = SMG_BUF_INIT;
	smg_sql_upsert_row(&sql, t);
	tt->upsert = prepare(db, sql.data, dbname);
	smg_buf_reset(&sql);
	smg_sql_insert_row(&sql, t);
	tt->insert = prepare(db, sql.data, dbname);
	smg_buf_reset(&sql);
	smg_sql_delete_row(&sql, t);
	tt->del = prepare(db, sql.data, dbname);
	smg_buf_free(&sql);
}

/* The exit code and words for a failed write: a constraint is the data's
 * fault (7), a busy database another writer's (6), anything else ours. */
_Noreturn static void die_write_key(sqlite3 *db, const char *dbname, const struct smg_table *t,
				    const struct smg_value *keyvals)
{
	int code = sqlite3_errcode(db);
	struct smg_buf key = SMG_BUF_INIT;
	smg_json_add_values(&key, keyvals, t->npk);
	if (code == SQLITE_READONLY)
		smg_die(SMG_EXIT_FAILURE, "%s: cannot write table \"%s\": the database is read-only "
			"(%s; check the permissions of the file and of its directory)", dbname,
			t->name, sqlite3_errmsg(db));
	smg_die(code == SQLITE_CONSTRAINT ? SMG_EXIT_DATA
		: code == SQLITE_BUSY ? SMG_EXIT_CONFLICT : SMG_EXIT_FAILURE,
		"%s: table \"%s\", key %s: %s: nothing written", dbname, t->name, key.data,
		sqlite3_errmsg(db));
}

/* The same for a row (all t->ncols values): its key names it. */
_Noreturn static void die_write(sqlite3 *db, const char *dbname, const struct smg_table *t,
				const struct smg_value *vals)
{
	struct smg_value *key = smg_xcalloc(t->npk, sizeof *key);
	for (size_t k = 0; k < t->npk; k++)
		key[k] = vals[t->pk_idx[k]];
	die_write_key(db, dbname, t, key);
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Run a statement whose parameters are bound; vals names the row in an error. */
static void run(sqlite3_stmt *st, const char *dbname, const struct smg_table *t,
		const struct smg_value *vals)
{
	if (sqlite3_step(st) != SQLITE_DONE)
		die_write(sqlite3_db_handle(st), dbname, t, vals);
	done(st);
}

/* Upsert one row; false, with nothing changed, when a UNIQUE constraint
 * stood in the way (another row holds the value, perhaps not for long). */
static bool try_upsert(struct target_table *tt, const struct smg_value *vals, const char *dbname)
{
	sqlite3_stmt *st = tt->upsert;
	for (size_t i = 0; i < tt->t->ncols; i++)
		smg_bind_value(st, (int)i + 1, &vals[i]);
	if (sqlite3_step(st) == SQLITE_DONE) {
		done(st);
		return true;
	}
	if (sqlite3_extended_errcode(sqlite3_db_handle(st)) != SQLITE_CONSTRAINT_UNIQUE)
		die_write(sqlite3_db_handle(st), dbname, tt->t, vals);
	done(st);
	return false;
}

/* Insert a row where there was none: 1 when it went in, 0 when a row with
 * its key is there, -1 when a UNIQUE constraint stood in the way. */
static int try_insert(struct target_table *tt, const struct smg_value *vals, const char *dbname)
{
	sqlite3_stmt *st = tt->insert;
	sqlite3 *db = sqlite3_db_handle(st);
	for (size_t i = 0; i < tt->t->ncols; i++)
		smg_bind_value(st, (int)i + 1, &vals[i]);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && sqlite3_extended_errcode(db) != SQLITE_CONSTRAINT_UNIQUE)
		die_write(db, dbname, tt->t, vals);
	done(st);
	return rc != SQLITE_DONE ? -1 : sqlite3_changes(db) ? 1 : 0;
}

/* The deferred rows, decoded once: row i's values at v[i], pointing into
 * bytes[i]. */
struct deferred_rows {
	struct smg_value **v;
	struct smg_buf *bytes;
	size_t n;
};

static void decode_deferred(const struct target_table *tt, struct deferred_rows *d)
{
	const struct smg_table *t = tt->t;
	d->n = tt->ndeferred;
	d->v = smg_xcalloc(d->n + 1, sizeof *d->v);
	d->bytes = smg_xcalloc(d->n + 1, sizeof *d->bytes);
	const char *p = tt->deferred.data;
	for (size_t i = 0; i < d->n; i++, p += strlen(p) + 1) {
		struct smg_json j;
		size_t len = strlen(p), n, cap = 0;
		smg_buf_grow(&d->bytes[i], len + 8);
		smg_json_init(&j, p, len, &d->bytes[i]);
		/* read once already, by smg_reader_values */
		if (!smg_json_values(&j, &d->v[i], &n, &cap) || n != t->ncols)
			smg_die(SMG_EXIT_FAILURE, "table \"%s\": a deferred row no longer decodes",
				t->name);
	}
}

static void free_deferred(struct deferred_rows *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i]);
		smg_buf_free(&d->bytes[i]);
	}
	free(d->v);
	free(d->bytes);
	memset(d, 0, sizeof *d);
}

static void exec_table(sqlite3 *db, const char *dbname, const char *fmt, const struct smg_table *t)
{
	struct smg_buf id = SMG_BUF_INIT, sql = SMG_BUF_INIT;
	smg_sql_ident(&id, t->name);
	smg_buf_addf(&sql, fmt, id.data);
	exec(db, sql.data, dbname);
	smg_buf_free(&id);
	smg_buf_free(&sql);
}

/* The rows left are a cycle (two users swapping emails, three rotating a
 * value): no order of upserts works, each waits for another to move.  So
 * all of them move out first: each row is copied, whole, to a temporary
 * table (columns the stream does not carry keep their values there) and
 * deleted; then each comes back with the stream's values.  A row that
 * still cannot go in breaks a constraint for real: exit 7 naming it. */
static void break_cycle(struct target_table *tt, sqlite3 *db, const char *dbname,
			struct smg_value **rows, size_t n)
{
	const struct smg_table *t = tt->t;
	struct smg_buf sql = SMG_BUF_INIT;
	exec(db, "DROP TABLE IF EXISTS temp.smg_apply_hold", dbname);
	exec_table(db, dbname, "CREATE TEMP TABLE smg_apply_hold AS SELECT * FROM main.%s WHERE 0", t);
	smg_buf_adds(&sql, "INSERT INTO temp.smg_apply_hold SELECT * FROM main.");
	smg_sql_ident(&sql, t->name);
	smg_sql_key_match(&sql, t);
	sqlite3_stmt *hold = prepare(db, sql.data, dbname);
	smg_buf_reset(&sql);
	smg_buf_adds(&sql, "UPDATE temp.smg_apply_hold SET ");
	for (size_t i = 0; i < t->ncols; i++) {
		smg_buf_adds(&sql, i ? ",": "");
		smg_sql_ident(&sql, t->cols[i]);
		smg_buf_adds(&sql, "=?");
	}
	smg_sql_key_match(&sql, t);
	sqlite3_stmt *merge = prepare(db, sql.data, dbname);
	smg_buf_reset(&sql);
	smg_buf_adds(&sql, "INSERT INTO main.");
	smg_sql_ident(&sql, t->name);
	smg_buf_adds(&sql, " SELECT * FROM temp.smg_apply_hold");
	smg_sql_key_match(&sql, t);
	sqlite3_stmt *back = prepare(db, sql.data, dbname);

	for (size_t i = 0; i < n; i++) {
		const struct smg_value *vals = rows[i];
		for (size_t k = 0; k < t->npk; k++) {
			smg_bind_value(hold, (int)k + 1, &vals[t->pk_idx[k]]);
			smg_bind_value(tt->del, (int)k + 1, &vals[t->pk_idx[k]]);
		}
		run(hold, dbname, t, vals);
		run(tt->del, dbname, t, vals);
	}
	for (size_t i = 0; i < n; i++) {
		const struct smg_value *vals = rows[i];
		for (size_t c = 0; c < t->ncols; c++)
			smg_bind_value(merge, (int)c + 1, &vals[c]);
		for (size_t k = 0; k < t->npk; k++) {
			smg_bind_value(merge, (int)(t->ncols + k) + 1, &vals[t->pk_idx[k]]);
			smg_bind_value(back, (int)k + 1, &vals[t->pk_idx[k]]);
		}
		run(merge, dbname, t, vals);
		if (sqlite3_changes(db) == 0) {		/* a new row: nothing held */
			if (!try_upsert(tt, vals, dbname))
				die_write(db, dbname, t, vals);
		} else {
			run(back, dbname, t, vals);
		}
		done(back);
	}
	sqlite3_finalize(hold);
	sqlite3_finalize(merge);
	sqlite3_finalize(back);
	exec(db, "DROP TABLE temp.smg_apply_hold", dbname);
	smg_buf_free(&sql);
}

/* The upserts a UNIQUE constraint stopped: again, as long as each pass
 * gets some in (a value moved to a row that came later in key order);
 * what is left waits on itself. */
static void finish_deferred(struct target_table *tt, sqlite3 *db, const char *dbname)
{
	struct deferred_rows d;
	decode_deferred(tt, &d);
	/* the rows still out, moved to the front of d.v as the others go in */
	size_t n = d.n;
	while (n) {
		size_t kept = 0;
		for (size_t i = 0; i < n; i++) {
			if (try_upsert(tt, d.v[i], dbname))
				continue;
			struct smg_value *keep = d.v[kept];
			d.v[kept++] = d.v[i];
			d.v[i] = keep;
		}
		if (kept == n)
			break;
		n = kept;
	}
	if (n)
		break_cycle(tt, db, dbname, d.v, n);
	tt->ndeferred = 0;
	smg_buf_reset(&tt->deferred);
	free_deferred(&d);
}

/* What the destination holds at the change's key now: SMG_EXPECT_ABSENT,
 * or SMG_EXPECT_HASH with its hash in h. */
static enum smg_expect current_row(struct target_table *tt, const struct smg_record *rec,
				   const char *dbname, unsigned char h[SMG_HASH_LEN])
{
	const struct smg_table *t = tt->seen ? tt->seen : tt->t;
	sqlite3_stmt *st = tt->current;
	for (size_t k = 0; k < t->npk; k++)
		smg_bind_value(st, (int)k + 1, &rec->key[k]);
	int rc = sqlite3_step(st);
	enum smg_expect found = SMG_EXPECT_ABSENT;
	if (rc == SQLITE_ROW) {
		for (size_t i = 0; i < t->ncols; i++)
			smg_column_value(st, (int)i, &tt->cur[i]);
		smg_hash_row(t, tt->cur, h);
		found = SMG_EXPECT_HASH;
	} else if (rc != SQLITE_DONE) {
		smg_die(SMG_EXIT_FAILURE, "%s: table \"%s\": %s", dbname, t->name,
			sqlite3_errmsg(sqlite3_db_handle(st)));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

enum cas { CAS_WRITE, CAS_DONE, CAS_CONFLICT };

/* Compare-and-set: does the destination still hold what the diff saw?
 * CAS_DONE when it already holds what the change would write (another run
 * got there first): nothing to do, and nothing lost.  A change from an
 * older writer (no "expect") is let through, counted. */
static enum cas still_as_seen(struct target_table *tt, const struct smg_record *rec,
			      struct smg_reader *r, const char *dbname,
			      struct smg_value **vals, size_t *cap, struct smg_apply_result *res)
{
	if (rec->expect == SMG_EXPECT_UNKNOWN) {
		res->unconditional++;
		return CAS_WRITE;
	}
	if (!tt->current)	/* a table a dry run would create: every row is new */
		return rec->expect == SMG_EXPECT_ABSENT ? CAS_WRITE : CAS_CONFLICT;
	unsigned char h[SMG_HASH_LEN], want[SMG_HASH_LEN];
	enum smg_expect found = current_row(tt, rec, dbname, h);
	if (found == rec->expect &&
	    (found == SMG_EXPECT_ABSENT || !memcmp(h, rec->expect_hash, SMG_HASH_LEN)))
		return CAS_WRITE;
	if (rec->op != SMG_OP_UPSERT && found == SMG_EXPECT_ABSENT)
		return CAS_DONE;	/* (a tombstone is then still to be recorded) */
	if (rec->op == SMG_OP_UPSERT && found == SMG_EXPECT_HASH) {
		smg_reader_values(r, rec, vals, cap);
		smg_hash_row(tt->t, *vals, want);
		if (!memcmp(h, want, SMG_HASH_LEN))
			return CAS_DONE;
	}
	tt->res->conflicts++;
	res->conflicts++;
	if (res->nconflict_rows < SMG_CONFLICT_ROWS) {
		if (!res->conflict_rows)
			res->conflict_rows = smg_xcalloc(SMG_CONFLICT_ROWS, sizeof *res->conflict_rows);
		struct smg_conflict_row *c = &res->conflict_rows[res->nconflict_rows++];
		struct smg_buf key = SMG_BUF_INIT;
		smg_json_add_values(&key, rec->key, tt->t->npk);
		c->table = smg_xstrdup(tt->t->name);
		c->key = smg_buf_detach(&key);
		c->op = rec->op;
		c->expected_row = rec->expect == SMG_EXPECT_HASH;
		c->found_row = found == SMG_EXPECT_HASH;
	}
	return CAS_CONFLICT;
}

/* The change's values into vals, their key checked against its key. */
static void values_of(const struct smg_record *rec, struct smg_reader *r,
		      const struct smg_table *t, struct smg_value **vals, size_t *cap)
{
	smg_reader_values(r, rec, vals, cap);
	for (size_t k = 0; k < t->npk; k++)
		if (smg_value_cmp(&(*vals)[t->pk_idx[k]], &rec->key[k]) != 0)
			smg_reader_die(r, "the key of the change does not match its values");
}

/* Keep an upsert a UNIQUE constraint stopped, for finish_deferred. */
static void defer(struct target_table *tt, const struct smg_record *rec)
{
	smg_buf_add(&tt->deferred, rec->values, rec->values_len);
	smg_buf_addc(&tt->deferred, '\0');
	tt->ndeferred++;
}

/* The update or delete of a row only if it still hashes to what the diff
 * saw: 1 when written, 0 when the row is not that row (any more), -1 when
 * an update met a UNIQUE constraint (deferred: the row was as seen). */
static int try_checked_write(struct target_table *tt, const struct smg_record *rec,
			     struct smg_reader *r, const char *dbname, struct smg_value **vals,
			     size_t *cap)
{
	const struct smg_table *t = tt->t;
	sqlite3_stmt *st;
	int n = 1;
	if (rec->op != SMG_OP_UPSERT) {
		st = tt->delete_if;
	} else {
		st = tt->update_if;
		values_of(rec, r, t, vals, cap);
		for (size_t i = 0; i < t->ncols; i++)
			if (!smg_sql_is_key(t, i))
				smg_bind_value(st, n++, &(*vals)[i]);
	}
	for (size_t k = 0; k < t->npk; k++)
		smg_bind_value(st, n++, &rec->key[k]);
	sqlite3_bind_blob(st, n, rec->expect_hash, SMG_HASH_LEN, SQLITE_STATIC);
	sqlite3 *db = sqlite3_db_handle(st);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		if (rec->op == SMG_OP_UPSERT && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE) {
			done(st);
			return -1;
		}
		die_write_key(db, dbname, t, rec->key);
	}
	done(st);
	return sqlite3_changes(db) ? 1 : 0;
}

static void delete_row(struct target_table *tt, const struct smg_record *rec, const char *dbname,
		       bool dry_run)
{
	const struct smg_table *t = tt->t;
	tt->res->deleted++;
	if (dry_run || tt->missing)
		return;
	for (size_t k = 0; k < t->npk; k++)
		smg_bind_value(tt->del, (int)k + 1, &rec->key[k]);
	if (sqlite3_step(tt->del) != SQLITE_DONE)
		die_write_key(sqlite3_db_handle(tt->del), dbname, t, rec->key);
	done(tt->del);
}

static void apply_change(struct target_table *tt, const struct smg_record *rec,
			 struct smg_reader *r, const char *dbname, bool dry_run,
			 struct smg_value **vals, size_t *cap, struct smg_apply_result *res)
{
	const struct smg_table *t = tt->t;
	/* after a conflict nothing is written: the rest is only checked */
	dry_run = dry_run || res->conflicts;
	/* A row the diff saw absent: try the insert, which is the check; only
	 * a row there now costs a read (a bulk push costs nothing more). */
	if (rec->op == SMG_OP_UPSERT && rec->expect == SMG_EXPECT_ABSENT && !dry_run &&
	    !tt->missing) {
		values_of(rec, r, t, vals, cap);
		int got = try_insert(tt, *vals, dbname);
		if (got != 0) {
			tt->res->upserted++;
			if (got < 0)
				defer(tt, rec);
			return;
		}
		/* a row is there: the general check says what it is */
	}
	/* A row the diff saw: the write that checks it, and only when it
	 * finds the row otherwise, the read that says why. */
	if (rec->expect == SMG_EXPECT_HASH && !dry_run && !tt->missing &&
	    (rec->op != SMG_OP_UPSERT || tt->update_if)) {
		int got = try_checked_write(tt, rec, r, dbname, vals, cap);
		if (got != 0) {
			if (rec->op != SMG_OP_UPSERT)
				tt->res->deleted++;
			else
				tt->res->upserted++;
			if (got < 0)
				defer(tt, rec);
			if (rec->op == SMG_OP_TOMBSTONE)
				smg_tomb_record(sqlite3_db_handle(tt->del), dbname, t, rec->key, &rec->ts);
			return;
		}
	}
	enum cas cas = still_as_seen(tt, rec, r, dbname, vals, cap, res);
	/* a tombstone whose row is gone already is still to be recorded */
	if (rec->op == SMG_OP_TOMBSTONE && cas != CAS_CONFLICT) {
		if (cas == CAS_WRITE && rec->expect == SMG_EXPECT_HASH)
			delete_row(tt, rec, dbname, dry_run);
		if (!dry_run && !tt->missing)
			smg_tomb_record(sqlite3_db_handle(tt->del), dbname, t, rec->key, &rec->ts);
		return;
	}
	if (cas != CAS_WRITE)
		return;
	if (rec->op == SMG_OP_DELETE) {
		delete_row(tt, rec, dbname, dry_run);
		return;
	}
	values_of(rec, r, t, vals, cap);
	tt->res->upserted++;
	if (dry_run || tt->missing)
		return;
	if (!try_upsert(tt, *vals, dbname))
		defer(tt, rec);
}

/* What PRAGMA foreign_key_check finds in the tables written: reported, not
 * refused (the target may have had them before; the source may hold them
 * too), so that a push that leaves a child without its parent says so. */
static void check_foreign_keys(sqlite3 *db, const char *dbname, struct smg_apply_result *res)
{
	for (size_t i = 0; i < res->ntables; i++) {
		struct smg_apply_table *t = &res->tables[i];
		if (!t->upserted && !t->deleted)
			continue;
		sqlite3_stmt *st = prepare(db, "SELECT \"table\", rowid, parent FROM "
					   "pragma_foreign_key_check(?)", dbname);
		sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			res->nfk++;
			if (res->fk.len > 8000)
				continue;
			smg_buf_adds(&res->fk, res->fk.len ? ",{\"table\":" : "{\"table\":");
			const char *tn = (const char *)sqlite3_column_text(st, 0);
			const char *pn = (const char *)sqlite3_column_text(st, 2);
			smg_json_add_string(&res->fk, tn ? tn : "", tn ? strlen(tn) : 0);
			smg_buf_addf(&res->fk, ",\"rowid\":%lld,\"parent\":",
				     (long long)sqlite3_column_int64(st, 1));
			smg_json_add_string(&res->fk, pn ? pn : "", pn ? strlen(pn) : 0);
			smg_buf_addc(&res->fk, '}');
		}
		sqlite3_finalize(st);
	}
}

void smg_apply_sqlite(sqlite3 *db, const char *dbname, struct smg_reader *r,
		      const struct smg_apply_opts *o, struct smg_apply_result *res)
{
	struct target_table tt = {0};
	struct smg_value *vals = NULL;
	size_t cap = 0;
	int64_t n = 0;
	memset(res, 0, sizeof *res);
	res->mark_at = -1;
	sqlite3_create_function(db, "smg_row_hash", -1, SQLITE_UTF8, NULL, row_hash_fn, NULL, NULL);
	if (!o->dry_run) {
		apply_db = db;
		smg_atdie(rollback);
		exec(db, "BEGIN IMMEDIATE", dbname);
	}
	int64_t begun = smg_log_seq(db);	/* for the mark */
	const struct smg_record *rec;
	while ((rec = smg_reader_next(r))) {
		switch (rec->kind) {
		case SMG_REC_TABLE:
			if (tt.ndeferred)
				finish_deferred(&tt, db, dbname);
			open_table(db, dbname, rec->table, o, res, &tt);
			break;
		case SMG_REC_CHANGE:
			if (o->only >= 0 && (int)rec->to != o->only)
				break;
			apply_change(&tt, rec, r, dbname, o->dry_run, &vals, &cap, res);
			if (o->progress)
				smg_progress_unit("apply", "changes", ++n, -1);
			break;
		case SMG_REC_ROW:
			smg_reader_die(r, "expected a change stream (from smg-diff), got a row record");
		default:	/* summaries are for people; the trailer ends the loop */
			break;
		}
	}
	if (tt.ndeferred)
		finish_deferred(&tt, db, dbname);
	close_table(&tt);
	free(vals);
	if (!o->dry_run) {
		if (!res->conflicts) {
			check_foreign_keys(db, dbname, res);
			smg_tomb_prune(db, dbname, o->tombstone_horizon_days);
			if (o->mark_name)
				res->mark_at = smg_mark_commit(db, dbname, o->mark_name, o->mark,
							       begun, o->mark_copy);
		}
		exec(db, res->conflicts ? "ROLLBACK" : "COMMIT", dbname);
		smg_atdie(NULL);
		apply_db = NULL;
	}
	if (o->progress)	/* (left up while the commit writes) */
		smg_progress_done();
	for (size_t i = 0; i < res->ntables; i++) {
		res->upserted += res->tables[i].upserted;
		res->deleted += res->tables[i].deleted;
	}
}
