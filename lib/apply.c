/*
 * apply.c - write a change stream into a SQLite database.
 *
 * The whole run is one transaction, committed only once the trailer proves
 * the stream complete: a stage that died upstream, a malformed line or a
 * kill -9 leaves the target exactly as it was.
 */
#include "apply.h"
#include "progress.h"
#include "schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct target_table {
	const struct smg_table *t;	/* the stream's table (owned by the reader) */
	sqlite3_stmt *upsert, *del;
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

static bool is_key(const struct smg_table *t, size_t col)
{
	for (size_t k = 0; k < t->npk; k++)
		if (t->pk_idx[k] == col)
			return true;
	return false;
}

/* INSERT ... ON CONFLICT(key) DO UPDATE SET only the synced columns, so a
 * column excluded from the sync keeps the destination's value. */
static void build_upsert(struct smg_buf *sql, const struct smg_table *t)
{
	smg_buf_adds(sql, "INSERT INTO ");
	smg_sql_ident(sql, t->name);
	smg_buf_addc(sql, '(');
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			smg_buf_addc(sql, ',');
		smg_sql_ident(sql, t->cols[i]);
	}
	smg_buf_adds(sql, ") VALUES(");
	for (size_t i = 0; i < t->ncols; i++)
		smg_buf_adds(sql, i ? ",?" : "?");
	smg_buf_adds(sql, ") ON CONFLICT(");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc(sql, ',');
		smg_sql_ident(sql, t->pk[k]);
	}
	smg_buf_adds(sql, ") DO ");
	bool any = false;
	for (size_t i = 0; i < t->ncols; i++) {
		if (is_key(t, i))
			continue;
		smg_buf_adds(sql, any ? "," : "UPDATE SET ");
		smg_sql_ident(sql, t->cols[i]);
		smg_buf_adds(sql, "=excluded.");
		smg_sql_ident(sql, t->cols[i]);
		any = true;
	}
	if (!any)
		smg_buf_adds(sql, "NOTHING");
}

static void build_delete(struct smg_buf *sql, const struct smg_table *t)
{
	smg_buf_adds(sql, "DELETE FROM ");
	smg_sql_ident(sql, t->name);
	smg_buf_adds(sql, " WHERE ");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_adds(sql, " AND ");
		smg_sql_ident(sql, t->pk[k]);
		smg_buf_adds(sql, " IS ?");
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
	sqlite3_finalize(tt->del);
	memset(tt, 0, sizeof *tt);
}

static void open_table(sqlite3 *db, const char *dbname, const struct smg_table *t,
		       const struct smg_apply_opts *o, struct smg_apply_result *res,
		       struct target_table *tt)
{
	close_table(tt);
	tt->t = t;
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
	if (check_target(db, dbname, t, o, tt->res)) {
		tt->missing = true;
		return;
	}
	struct smg_buf sql = SMG_BUF_INIT;
	build_upsert(&sql, t);
	tt->upsert = prepare(db, sql.data, dbname);
	smg_buf_reset(&sql);
	build_delete(&sql, t);
	tt->del = prepare(db, sql.data, dbname);
	smg_buf_free(&sql);
}

static void run(sqlite3_stmt *st, const char *dbname, const struct smg_table *t,
		struct smg_reader *r)
{
	if (sqlite3_step(st) != SQLITE_DONE) {
		sqlite3 *db = sqlite3_db_handle(st);
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\": %s (change at %s line %lld)", dbname,
			t->name, sqlite3_errmsg(db), smg_reader_name(r),
			(long long)smg_reader_line(r));
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void apply_change(struct target_table *tt, const struct smg_record *rec,
			 struct smg_reader *r, const char *dbname, bool dry_run,
			 struct smg_value **vals, size_t *cap)
{
	const struct smg_table *t = tt->t;
	if (rec->op == SMG_OP_DELETE) {
		tt->res->deleted++;
		if (dry_run || tt->missing)
			return;
		for (size_t k = 0; k < t->npk; k++)
			smg_bind_value(tt->del, (int)k + 1, &rec->key[k]);
		run(tt->del, dbname, t, r);
		return;
	}
	smg_reader_values(r, rec, vals, cap);
	for (size_t k = 0; k < t->npk; k++)
		if (smg_value_cmp(&(*vals)[t->pk_idx[k]], &rec->key[k]) != 0)
			smg_reader_die(r, "the key of the change does not match its values");
	tt->res->upserted++;
	if (dry_run || tt->missing)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		smg_bind_value(tt->upsert, (int)i + 1, &(*vals)[i]);
	run(tt->upsert, dbname, t, r);
}

void smg_apply_sqlite(sqlite3 *db, const char *dbname, struct smg_reader *r,
		      const struct smg_apply_opts *o, struct smg_apply_result *res)
{
	struct target_table tt = {0};
	struct smg_value *vals = NULL;
	size_t cap = 0;
	int64_t n = 0;
	memset(res, 0, sizeof *res);
	if (!o->dry_run) {
		apply_db = db;
		smg_atdie(rollback);
		exec(db, "BEGIN IMMEDIATE", dbname);
	}
	const struct smg_record *rec;
	while ((rec = smg_reader_next(r))) {
		switch (rec->kind) {
		case SMG_REC_TABLE:
			open_table(db, dbname, rec->table, o, res, &tt);
			break;
		case SMG_REC_CHANGE:
			if (o->only >= 0 && (int)rec->to != o->only)
				break;
			apply_change(&tt, rec, r, dbname, o->dry_run, &vals, &cap);
			if (o->progress)
				smg_progress("apply", ++n, -1);
			break;
		case SMG_REC_ROW:
			smg_reader_die(r, "expected a change stream (from smg-diff), got a row record");
		default:	/* summaries are for people; the trailer ends the loop */
			break;
		}
	}
	close_table(&tt);
	free(vals);
	if (o->progress)
		smg_progress_done();
	if (!o->dry_run) {
		exec(db, "COMMIT", dbname);
		smg_atdie(NULL);
		apply_db = NULL;
	}
	for (size_t i = 0; i < res->ntables; i++) {
		res->upserted += res->tables[i].upserted;
		res->deleted += res->tables[i].deleted;
	}
}

void smg_apply_result_free(struct smg_apply_result *res)
{
	for (size_t i = 0; i < res->ntables; i++) {
		free(res->tables[i].name);
		for (size_t k = 0; k < res->tables[i].nadded; k++)
			free(res->tables[i].added[k]);
		free(res->tables[i].added);
	}
	free(res->tables);
	memset(res, 0, sizeof *res);
}

static const char *plural(int64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void smg_apply_report_text(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run)
{
	const char *verb = dry_run ? "would write" : "wrote";
	size_t touched = 0;
	for (size_t i = 0; i < res->ntables; i++) {
		const struct smg_apply_table *t = &res->tables[i];
		/* a sync's stream names tables whose changes all went the other way */
		if (!t->upserted && !t->deleted && !t->created && !t->nadded)
			continue;
		touched++;
		smg_buf_addf(b, "%s: %s: %lld upserted, %lld deleted%s", target, t->name,
			     (long long)t->upserted, (long long)t->deleted,
			     t->created ? (dry_run ? " (table would be created)" : " (table created)")
					: "");
		for (size_t k = 0; k < t->nadded; k++)
			smg_buf_addf(b, "%s\"%s\"", k ? ", " : t->nadded > 1 ? " (columns " : " (column ",
				     t->added[k]);
		if (t->nadded)
			smg_buf_adds(b, dry_run ? " would be added)" : " added)");
		smg_buf_addc(b, '\n');
	}
	smg_buf_addf(b, "%s: %s %lld %s and %lld %s in %zu %s%s\n", target, verb,
		     (long long)res->upserted, plural(res->upserted, "upsert", "upserts"),
		     (long long)res->deleted, plural(res->deleted, "delete", "deletes"), touched,
		     plural((int64_t)touched, "table", "tables"), dry_run ? " (dry run: nothing written)" : "");
}

void smg_apply_report_json(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run)
{
	smg_buf_adds(b, "{\"target\":");
	smg_json_add_string(b, target, strlen(target));
	smg_buf_addf(b, ",\"dry_run\":%s,\"tables\":[", dry_run ? "true" : "false");
	for (size_t i = 0; i < res->ntables; i++) {
		const struct smg_apply_table *t = &res->tables[i];
		smg_buf_adds(b, i ? ",{\"table\":" : "{\"table\":");
		smg_json_add_string(b, t->name, strlen(t->name));
		smg_buf_addf(b, ",\"upserted\":%lld,\"deleted\":%lld,\"created\":%s",
			     (long long)t->upserted, (long long)t->deleted,
			     t->created ? "true" : "false");
		for (size_t k = 0; k < t->nadded; k++) {	/* only when there are any */
			smg_buf_adds(b, k ? "," : ",\"added_columns\":[");
			smg_json_add_string(b, t->added[k], strlen(t->added[k]));
		}
		smg_buf_adds(b, t->nadded ? "]}" : "}");
	}
	smg_buf_addf(b, "],\"upserted\":%lld,\"deleted\":%lld}\n", (long long)res->upserted,
		     (long long)res->deleted);
}
