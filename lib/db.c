/*
 * db.c - SQLite as a source of rows.
 */
#include "db.h"
#include "tomb.h"
#include "changelog.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void smg_select_add(char ***list, size_t *n, const char *name)
{
	*list = smg_xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = smg_xstrdup(name);
}

void smg_select_free(struct smg_select *s)
{
	smg_strings_free(s->tables, s->ntables);
	smg_strings_free(s->exclude_tables, s->nexclude_tables);
	smg_strings_free(s->exclude_columns, s->nexclude_columns);
	memset(s, 0, sizeof *s);
}

static int busy_timeout_ms = 10000;

void smg_db_set_busy_timeout(int ms)
{
	busy_timeout_ms = ms;
}

int smg_db_exit_code(int rc)
{
	switch (rc & 0xff) {	/* the primary code of an extended one */
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return SMG_EXIT_DATA;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return SMG_EXIT_CONFLICT;
	default:
		return SMG_EXIT_FAILURE;
	}
}

/* SQLite opens a file it may not write read-only without a word, and the
 * first write then fails as if the data were at fault: say it up front.
 * The directory counts too: the rollback journal is created beside. */
static void check_writable(sqlite3 *db, const char *path)
{
	if (sqlite3_db_readonly(db, "main") == 1)
		smg_die(SMG_EXIT_FAILURE, "%s: the database is read-only to this user "
			"(permission denied, or a read-only file system): cannot write it", path);
	sqlite3_stmt *st;
	bool journal = true;	/* memory and off keep no file beside */
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(st, 0);
		journal = mode && strcmp(mode, "memory") && strcmp(mode, "off");
	}
	sqlite3_finalize(st);
	if (!journal)
		return;
	char *dir = smg_xstrdup(path), *slash = strrchr(dir, '/');
	if (slash)
		slash[slash == dir] = '\0';	/* "/x.db" lives in "/" */
	const char *d = slash ? dir : ".";
	if (access(d, W_OK) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS))
		smg_die(SMG_EXIT_FAILURE, "%s: the directory %s is read-only to this user (%s): "
			"SQLite cannot create its journal there, so the database cannot be written",
			path, d, strerror(errno));
	free(dir);
}

sqlite3 *smg_db_open(const char *path, bool writable)
{
	struct stat st;
	if (stat(path, &st) != 0)
		smg_die(errno == ENOENT ? SMG_EXIT_NOTFOUND : SMG_EXIT_FAILURE, "%s: %s", path,
			strerror(errno));
	sqlite3 *db;
	/* each program is single-threaded: skip SQLite's mutexes */
	int flags = (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK)
		smg_die(SMG_EXIT_FAILURE, "%s: cannot open: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_timeout(db, busy_timeout_ms);
	int rc = sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	if (rc == SQLITE_NOTADB)
		smg_die(SMG_EXIT_DATA, "%s: not a SQLite database", path);
	if (rc == SQLITE_CORRUPT)
		smg_die(SMG_EXIT_DATA, "%s: a corrupt SQLite database: %s", path, sqlite3_errmsg(db));
	if (rc != SQLITE_OK)
		smg_die(smg_db_exit_code(rc), "%s: %s", path, sqlite3_errmsg(db));
	if (writable)
		check_writable(db, path);
	return db;
}

void smg_db_close(sqlite3 *db)
{
	sqlite3_close(db);
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		smg_die(smg_db_exit_code(rc), "%s: %s (in %s)", sqlite3_db_filename(db, "main"),
			sqlite3_errmsg(db), sql);
	return st;
}

void smg_db_exec(sqlite3 *db, const char *dbname, const char *sql)
{
	char *err = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
	if (rc != SQLITE_OK)
		smg_die(smg_db_exit_code(rc), "%s: %s", dbname, err ? err : sqlite3_errstr(rc));
}

sqlite3_stmt *smg_db_prepare(sqlite3 *db, const char *dbname, const char *sql)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		smg_die(smg_db_exit_code(rc), "%s: %s", dbname, sqlite3_errmsg(db));
	return st;
}

bool smg_db_has_table(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = prepare(db, "SELECT 1 FROM sqlite_schema WHERE type='table' AND name=?");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	bool found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* pragma_table_list says "shadow" for the tables behind a virtual table
 * (FTS5's _data, _idx, ...): the virtual table's module owns them, and
 * syncing them row by row would corrupt its index. */
static const char table_query[] =
	"SELECT name FROM pragma_table_list WHERE schema='main' AND type='table' "
	"AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
	"AND name NOT IN ('" SMG_TOMB_TABLE "', '" SMG_LOG_TABLE "', '" SMG_MARK_TABLE "') "
	"ORDER BY name COLLATE BINARY";

static const char virtual_query[] =
	"SELECT name FROM pragma_table_list WHERE schema='main' AND type='virtual' "
	"ORDER BY name COLLATE BINARY";

sqlite3_stmt *smg_db_table_names(sqlite3 *db)
{
	return prepare(db, table_query);
}

char *smg_db_table_list(sqlite3 *db)
{
	struct smg_buf b = SMG_BUF_INIT;
	sqlite3_stmt *st = prepare(db, table_query);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (b.len)
			smg_buf_adds(&b, ", ");
		smg_buf_adds(&b, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_finalize(st);
	if (!b.len)
		smg_buf_adds(&b, "(none)");
	return smg_buf_detach(&b);
}

static bool listed(char **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

bool smg_column_excluded(const struct smg_select *sel, const char *table, const char *col)
{
	struct smg_buf full = SMG_BUF_INIT;
	smg_buf_addf(&full, "%s.%s", table, col);
	bool out = false;
	for (size_t i = 0; i < sel->nexclude_columns && !out; i++) {
		const char *g = sel->exclude_columns[i];
		out = strchr(g, '.') ? sqlite3_strglob(g, full.data) == 0
				     : sqlite3_strglob(g, col) == 0;
	}
	smg_buf_free(&full);
	return out;
}

struct smg_table *smg_db_table(sqlite3 *db, const char *name, const struct smg_select *sel,
			       const char **why)
{
	struct smg_table *t = smg_table_new(name);
	/* table_xinfo shows generated columns as hidden: they cannot be written */
	sqlite3_stmt *st = prepare(db, "SELECT name, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	size_t npk = 0;
	char *pknames[64] = {0};
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *col = (const char *)sqlite3_column_text(st, 0);
		int pk = sqlite3_column_int(st, 1);
		if (sqlite3_column_int(st, 2) != 0)
			continue;
		if (pk > 0 && pk <= 64) {
			pknames[pk - 1] = smg_xstrdup(col);
			npk = (size_t)pk > npk ? (size_t)pk : npk;
		}
		if (pk == 0 && smg_column_excluded(sel, name, col))
			continue;
		smg_table_add_col(t, col);
	}
	sqlite3_finalize(st);
	for (size_t k = 0; k < npk; k++) {
		if (pknames[k])
			smg_table_add_pk(t, pknames[k]);
		free(pknames[k]);
	}
	st = prepare(db, "SELECT sql FROM sqlite_schema WHERE type='table' AND name=?");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		t->sql = smg_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	/* the indexes the user made (not those of UNIQUE constraints, which
	 * the CREATE TABLE makes again): a table created from the record
	 * gets them too, and with them its UNIQUE rules */
	st = prepare(db, "SELECT sql FROM sqlite_schema WHERE type='index' AND tbl_name=? "
		     "AND sql IS NOT NULL ORDER BY name COLLATE BINARY");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW)
		smg_table_add_index(t, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return smg_table_done(t, sel->ts, why);
}

/* The module of a virtual table ("fts5"), or NULL for an ordinary table. */
static char *virtual_module(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st = prepare(db, "SELECT sql FROM sqlite_schema WHERE type='table' AND name=? "
				       "AND sql LIKE 'CREATE VIRTUAL TABLE%'");
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	char *module = NULL;
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *sql = (const char *)sqlite3_column_text(st, 0);
		const char *u = sql ? strcasestr(sql, " USING ") : NULL;
		size_t n = 0;
		if (u)
			for (u += 7; u[n] && (isalnum((unsigned char)u[n]) || u[n] == '_'); n++)
				;
		module = n ? smg_xstrndup(u, n) : smg_xstrdup("unknown module");
	}
	sqlite3_finalize(st);
	return module;
}

/* A virtual table's rows live where its module keeps them (FTS5 in its
 * shadow tables, which are never synced): writing rows into it would not
 * make the two sides agree.  Named ones are an error, others a warning. */
static bool virtual_table_skipped(sqlite3 *db, const char *dbname, const char *name,
				  bool named)
{
	char *module = virtual_module(db, name);
	if (!module)
		return false;
	if (named)
		smg_die(SMG_EXIT_USAGE, "%s: table \"%s\" cannot be synced: it is a virtual table "
			"(%s), whose module keeps its rows", dbname, name, module);
	smg_warn("%s: skipping virtual table \"%s\" (%s): its rows live in the module's own "
		 "storage, which smugglr does not sync", dbname, name, module);
	free(module);
	return true;
}

static int by_table_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct smg_table **smg_db_tables(sqlite3 *db, const char *dbname,
				 const struct smg_select *sel, size_t *n)
{
	char **names = NULL;
	size_t nnames = 0;
	if (sel->ntables) {
		for (size_t i = 0; i < sel->ntables; i++) {
			if (!strcmp(sel->tables[i], SMG_TOMB_TABLE))	/* its rows travel as tombstones */
				smg_die(SMG_EXIT_USAGE, "%s: \"%s\" holds the tombstones of tracked tables: "
					"it is not a table to sync", dbname, sel->tables[i]);
			if (!strcmp(sel->tables[i], SMG_LOG_TABLE) || !strcmp(sel->tables[i], SMG_MARK_TABLE))
				smg_die(SMG_EXIT_USAGE, "%s: \"%s\" is the change log of tracked tables: "
					"it is not a table to sync", dbname, sel->tables[i]);
			bool has = smg_db_has_table(db, sel->tables[i]);
			if (!has && sel->missing_ok)
				continue;
			if (!has) {
				char *have = smg_db_table_list(db);
				smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" (tables: %s)", dbname,
					sel->tables[i], have);
			}
			if (!listed(names, nnames, sel->tables[i]) &&
			    !virtual_table_skipped(db, dbname, sel->tables[i], true))
				smg_select_add(&names, &nnames, sel->tables[i]);
		}
		if (nnames)	/* qsort(NULL, 0) is undefined */
			qsort(names, nnames, sizeof *names, by_table_name);
	} else {
		sqlite3_stmt *st = prepare(db, table_query);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);
			if (!listed(sel->exclude_tables, sel->nexclude_tables, name))
				smg_select_add(&names, &nnames, name);
		}
		sqlite3_finalize(st);
		st = prepare(db, virtual_query);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *name = (const char *)sqlite3_column_text(st, 0);
			if (!listed(sel->exclude_tables, sel->nexclude_tables, name))
				virtual_table_skipped(db, dbname, name, false);
		}
		sqlite3_finalize(st);
	}
	struct smg_table **out = smg_xcalloc(nnames, sizeof *out);
	*n = 0;
	for (size_t i = 0; i < nnames; i++) {
		const char *why = NULL;
		struct smg_table *t = smg_db_table(db, names[i], sel, &why);
		if (t)
			out[(*n)++] = t;
		else if (sel->ntables)
			smg_table_refuse(dbname, names[i], why, sel->tracking);
		else
			smg_warn("%s: skipping table \"%s\": %s", dbname, names[i], why);
	}
	smg_strings_free(names, nnames);
	return out;
}

void smg_tables_free(struct smg_table **t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		smg_table_free(t[i]);
	free(t);
}

int64_t smg_db_try_count(sqlite3 *db, const char *table)
{
	struct smg_buf sql = SMG_BUF_INIT;
	smg_buf_adds(&sql, "SELECT count(*) FROM ");
	smg_sql_ident(&sql, table);
	sqlite3_stmt *st = NULL;
	int64_t n = -1;
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	smg_buf_free(&sql);
	return n;
}

int64_t smg_db_count(sqlite3 *db, const char *table)
{
	int64_t n = smg_db_try_count(db, table);
	if (n < 0)
		smg_die(smg_db_exit_code(sqlite3_errcode(db)), "table \"%s\": cannot count its rows: %s",
			table, sqlite3_errmsg(db));
	return n;
}

/* ---- scanning ------------------------------------------------------------- */

/* The foreign keys are read by SQLite itself from the CREATE statements,
 * in a scratch in-memory database, rather than parsed here. */
void smg_tables_parents_first(const char *const *names, const char *const *sql, size_t n,
			      size_t *order)
{
	bool *refers = smg_xcalloc(n * n + 1, sizeof *refers);	/* [i * n + j]: i -> j */
	bool *placed = smg_xcalloc(n + 1, sizeof *placed);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
		for (size_t i = 0; i < n; i++)
			if (sql[i])
				sqlite3_exec(db, sql[i], NULL, NULL, NULL);	/* best effort */
		sqlite3_prepare_v2(db, "SELECT \"table\" FROM pragma_foreign_key_list(?)", -1,
				   &st, NULL);
	}
	for (size_t i = 0; st && i < n; i++) {
		sqlite3_bind_text(st, 1, names[i], -1, SQLITE_STATIC);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *parent = (const char *)sqlite3_column_text(st, 0);
			for (size_t j = 0; parent && j < n; j++)
				if (j != i && !sqlite3_stricmp(parent, names[j]))
					refers[i * n + j] = true;
		}
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* each time, the first table whose parents are all placed; in a cycle,
	 * the first table left */
	for (size_t k = 0; k < n; k++) {
		size_t pick = n;
		for (size_t i = 0; i < n && pick == n; i++) {
			if (placed[i])
				continue;
			bool ready = true;
			for (size_t j = 0; j < n && ready; j++)
				ready = placed[j] || !refers[i * n + j];
			if (ready)
				pick = i;
		}
		for (size_t i = 0; i < n && pick == n; i++)
			if (!placed[i])
				pick = i;
		placed[pick] = true;
		order[k] = pick;
	}
	free(refers);
	free(placed);
}

struct smg_scan {
	sqlite3_stmt *st;
	const struct smg_table *t;
	struct smg_value *vals;
};

/* Through sqlite3_column_value: the sqlite3_column_* calls each take the
 * connection's mutex and check for a malloc failure, which over six columns
 * and a million rows costs more than reading the values. */
void smg_column_value(sqlite3_stmt *st, int i, struct smg_value *v)
{
	smg_sqlite_value(sqlite3_column_value(st, i), v);
}

void smg_sqlite_value(sqlite3_value *sv, struct smg_value *v)
{
	switch (sqlite3_value_type(sv)) {
	case SQLITE_INTEGER:
		v->type = SMG_INT;
		v->i = sqlite3_value_int64(sv);
		break;
	case SQLITE_FLOAT:
		v->type = SMG_REAL;
		v->r = sqlite3_value_double(sv);
		break;
	case SQLITE_TEXT:
		v->type = SMG_TEXT;
		v->p = (const char *)sqlite3_value_text(sv);
		v->n = (size_t)sqlite3_value_bytes(sv);
		break;
	case SQLITE_BLOB:
		v->type = SMG_BLOB;
		v->p = sqlite3_value_blob(sv);
		v->n = (size_t)sqlite3_value_bytes(sv);
		if (!v->p)
			v->p = "";
		break;
	default:
		v->type = SMG_NULL;
	}
}

int smg_bind_value(sqlite3_stmt *st, int i, const struct smg_value *v)
{
	switch (v->type) {
	case SMG_INT: return sqlite3_bind_int64(st, i, v->i);
	case SMG_REAL: return sqlite3_bind_double(st, i, v->r);
	case SMG_TEXT: return sqlite3_bind_text64(st, i, v->p, v->n, SQLITE_STATIC, SQLITE_UTF8);
	case SMG_BLOB: return sqlite3_bind_blob64(st, i, v->p, v->n, SQLITE_STATIC);
	default: return sqlite3_bind_null(st, i);
	}
}

struct smg_scan *smg_scan_open(sqlite3 *db, const struct smg_table *t)
{
	struct smg_buf sql = SMG_BUF_INIT;
	smg_buf_adds(&sql, "SELECT ");
	smg_sql_idents(&sql, t->cols, t->ncols, NULL);
	smg_buf_adds(&sql, " FROM ");
	smg_sql_ident(&sql, t->name);
	if (t->only_keys) {
		/* the key arrays' values are SQL values again: a lookup each */
		smg_buf_adds(&sql, " WHERE (");
		smg_sql_idents(&sql, t->pk, t->npk, NULL);
		smg_buf_adds(&sql, ") IN (SELECT ");
		for (size_t k = 0; k < t->npk; k++)
			smg_buf_addf(&sql, "%sjson_extract(value,'$[%zu]')", k ? "," : "", k);
		smg_buf_adds(&sql, " FROM json_each(?1))");
	}
	smg_buf_adds(&sql, " ORDER BY ");
	smg_sql_idents(&sql, t->pk, t->npk, " COLLATE BINARY");
	struct smg_scan *s = smg_xcalloc(1, sizeof *s);
	s->st = prepare(db, sql.data);
	if (t->only_keys)
		sqlite3_bind_text(s->st, 1, t->only_keys, -1, SQLITE_STATIC);
	s->t = t;
	s->vals = smg_xcalloc(t->ncols, sizeof *s->vals);
	smg_buf_free(&sql);
	return s;
}

bool smg_scan_next(struct smg_scan *s, const struct smg_value **vals)
{
	int rc = sqlite3_step(s->st);
	if (rc == SQLITE_DONE)
		return false;
	if (rc != SQLITE_ROW) {
		sqlite3 *db = sqlite3_db_handle(s->st);
		smg_die(smg_db_exit_code(rc), "%s: reading table \"%s\": %s",
			sqlite3_db_filename(db, "main"), s->t->name, sqlite3_errmsg(db));
	}
	for (size_t i = 0; i < s->t->ncols; i++)
		smg_column_value(s->st, (int)i, &s->vals[i]);
	*vals = s->vals;
	return true;
}

void smg_scan_close(struct smg_scan *s)
{
	if (!s)
		return;
	sqlite3_finalize(s->st);
	free(s->vals);
	free(s);
}
