/*
 * schema.c - a table record's schema text, checked and read by SQLite.
 *
 * The text comes from the other side of a sync: a relay, an HTTP endpoint,
 * a stream file.  It is prepared in a fresh in-memory database under an
 * authorizer that lets through the one CREATE it is meant to be and the
 * writes to the schema table that CREATE makes, and nothing else: no
 * ATTACH, no TEMP object, no AS SELECT, no second statement.  Only then is
 * it run, still in memory, and the schema it left behind checked again.
 */
#include "schema.h"
#include "db.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the statement being prepared may create. */
struct guard {
	const char *table;	/* the table: to create, or to index */
	bool index;		/* an index on it, rather than the table itself */
	bool made;		/* the one CREATE has been authorized */
	char why[200];		/* the first thing refused */
};

static bool is_schema_table(const char *name)
{
	return name && (!strcmp(name, "sqlite_master") || !strcmp(name, "sqlite_schema"));
}

static int refuse(struct guard *g, const char *fmt, const char *a)
{
	if (!g->why[0])
		snprintf(g->why, sizeof g->why, fmt, a ? a : "");
	return SQLITE_DENY;
}

static int authorize(void *arg, int code, const char *a, const char *b, const char *db,
		     const char *trigger)
{
	struct guard *g = arg;
	bool main_db = db && !strcmp(db, "main");
	(void)trigger;
	switch (code) {
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
		if (is_schema_table(a) && main_db)
			return SQLITE_OK;	/* the CREATE's own row in the schema */
		if (db && !strcmp(db, "temp"))
			return refuse(g, "it creates a TEMP object%s", NULL);
		return refuse(g, "it writes to \"%s\"", a);
	case SQLITE_READ:	/* columns an index, a CHECK or a generated column names */
	case SQLITE_FUNCTION:
		return SQLITE_OK;
	case SQLITE_REINDEX:
		return g->index ? SQLITE_OK : refuse(g, "it reindexes \"%s\"", a);
	case SQLITE_CREATE_TABLE:
		if (g->index)
			return refuse(g, "it creates table \"%s\"", a);
		if (g->made || !main_db || strcmp(a, g->table))
			return refuse(g, "it creates table \"%s\"", a);
		g->made = true;
		return SQLITE_OK;
	case SQLITE_CREATE_INDEX:
		/* the index of a UNIQUE or PRIMARY KEY constraint of the table */
		if (!g->index && main_db && b && !strcmp(b, g->table) &&
		    !strncmp(a, "sqlite_autoindex_", 17))
			return SQLITE_OK;
		if (!g->index)
			return refuse(g, "it creates index \"%s\"", a);
		if (g->made || !main_db || !b || strcmp(b, g->table))
			return refuse(g, "it creates index \"%s\" on another table", a);
		g->made = true;
		return SQLITE_OK;
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_TEMP_INDEX:
	case SQLITE_CREATE_TEMP_TRIGGER:
	case SQLITE_CREATE_TEMP_VIEW:
		return refuse(g, "it creates TEMP object \"%s\"", a);
	case SQLITE_SELECT:
		return refuse(g, "it reads a query (AS SELECT)%s", NULL);
	case SQLITE_ATTACH:
		return refuse(g, "it attaches \"%s\"", a);
	case SQLITE_DELETE:
		return refuse(g, "it deletes from \"%s\"", a);
	default:
		return refuse(g, "it does more than one CREATE%s", NULL);
	}
}

static char *msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *msg(const char *fmt, ...)
{
	struct smg_buf b = SMG_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	smg_buf_grow(&b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return b.data;
}

static sqlite3 *scratch_open(void)
{
	sqlite3 *db;
	if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		smg_die(SMG_EXIT_FAILURE, "cannot open an in-memory database: %s", sqlite3_errmsg(db));
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	return db;
}

/* Only blanks and comments (or empty statements) after the first one? */
static bool nothing_after(sqlite3 *db, const char *tail)
{
	while (tail && *tail) {
		sqlite3_stmt *st = NULL;
		const char *next = NULL;
		int rc = sqlite3_prepare_v2(db, tail, -1, &st, &next);
		sqlite3_finalize(st);
		if (rc != SQLITE_OK || st || !next || next == tail)
			return false;
		tail = next;
	}
	return true;
}

static int64_t count(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t n = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* The schema's objects, but for the indexes SQLite makes for UNIQUE and
 * PRIMARY KEY constraints itself. */
static const char objects[] =
	"SELECT count(*) FROM sqlite_schema WHERE NOT (type = 'index' AND sql IS NULL)";

/* Prepare sql under the guard and run it in db; NULL if it did exactly
 * what the guard allows, else why not. */
static char *run_guarded(sqlite3 *db, struct guard *g, const char *sql)
{
	const char *what = g->index ? "CREATE INDEX" : "CREATE TABLE";
	int64_t before = count(db, objects);
	sqlite3_stmt *st = NULL;
	const char *tail = NULL;
	sqlite3_set_authorizer(db, authorize, g);
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, &tail);
	bool after = rc == SQLITE_OK && st && nothing_after(db, tail);
	sqlite3_set_authorizer(db, NULL, NULL);
	char *why = NULL;
	if (rc != SQLITE_OK && g->why[0])
		why = msg("not one %s statement for \"%s\": %s", what, g->table, g->why);
	else if (rc != SQLITE_OK)
		why = msg("not one %s statement for \"%s\": %s", what, g->table, sqlite3_errmsg(db));
	else if (!st || !g->made)
		why = msg("not a %s statement for \"%s\"", what, g->table);
	else if (!after)
		why = msg("more than one %s statement for \"%s\": something follows it", what,
			  g->table);
	else if (sqlite3_step(st) != SQLITE_DONE)
		why = msg("%s for \"%s\" fails: %s", what, g->table, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (!why && (count(db, objects) != before + 1 ||
		     count(db, "SELECT count(*) FROM sqlite_temp_schema") != 0))
		why = msg("%s for \"%s\" made something else too", what, g->table);
	return why;
}

/* A scratch database holding the checked table; NULL with *why set. */
static sqlite3 *scratch_table(const char *name, const char *sql, char **why)
{
	sqlite3 *db = scratch_open();
	struct guard g = {.table = name};
	*why = run_guarded(db, &g, sql);
	if (!*why && count(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'") != 1)
		*why = msg("CREATE TABLE for \"%s\" made something else", name);
	if (*why) {
		sqlite3_close(db);
		return NULL;
	}
	return db;
}

char *smg_schema_check_table(const char *name, const char *sql)
{
	char *why;
	sqlite3 *db = scratch_table(name, sql, &why);
	sqlite3_close(db);
	return why;
}

char *smg_schema_check_index(const char *name, const char *table_sql, const char *index_sql)
{
	char *why;
	sqlite3 *db = scratch_table(name, table_sql, &why);
	if (!db)
		return why;
	struct guard g = {.table = name, .index = true};
	why = run_guarded(db, &g, index_sql);
	sqlite3_close(db);
	return why;
}

void smg_schema_check_create(const struct smg_table *t, const char *where)
{
	if (!t->sql)
		smg_die(SMG_EXIT_DATA, "%s: cannot create table \"%s\": the stream carries no schema "
			"for it", where, t->name);
	char *why = smg_schema_check_table(t->name, t->sql);
	for (size_t i = 0; !why && i < t->nindexes; i++)
		why = smg_schema_check_index(t->name, t->sql, t->indexes[i]);
	if (why) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s", why);
		free(why);
		smg_die(SMG_EXIT_DATA, "%s: refusing to create table \"%s\": its schema text is %s; "
			"nothing written", where, t->name, msg);
	}
}

static bool step_column(sqlite3_stmt *st, const char *table, const char *col)
{
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_ROW;
}

static const char column_query[] =
	"SELECT type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1) WHERE name = ?2";

char *smg_schema_column_def(const struct smg_table *t, const char *col, char **why)
{
	*why = NULL;
	if (!t->sql) {
		*why = msg("the stream carries no schema for table \"%s\"", t->name);
		return NULL;
	}
	sqlite3 *db = scratch_table(t->name, t->sql, why);
	if (!db)
		return NULL;
	sqlite3_stmt *st = NULL;
	struct smg_buf def = SMG_BUF_INIT;
	sqlite3_prepare_v2(db, column_query, -1, &st, NULL);
	if (!st || !step_column(st, t->name, col)) {
		*why = msg("its schema has no column \"%s\"", col);
	} else if (sqlite3_column_int(st, 3)) {
		*why = msg("column \"%s\" is part of the primary key", col);
	} else if (sqlite3_column_int(st, 1) && sqlite3_column_type(st, 2) == SQLITE_NULL) {
		*why = msg("column \"%s\" is NOT NULL without a default, which ALTER TABLE ADD COLUMN "
			   "cannot add", col);
	} else {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		const char *coll = NULL;
		sqlite3_table_column_metadata(db, "main", t->name, col, NULL, &coll, NULL, NULL, NULL);
		smg_sql_ident(&def, col);
		if (type && *type)
			smg_buf_addf(&def, " %s", type);
		if (coll && sqlite3_stricmp(coll, "BINARY")) {
			smg_buf_adds(&def, " COLLATE ");
			smg_sql_ident(&def, coll);
		}
		if (sqlite3_column_int(st, 1))
			smg_buf_adds(&def, " NOT NULL");
		if (sqlite3_column_type(st, 2) != SQLITE_NULL)
			smg_buf_addf(&def, " DEFAULT %s", (const char *)sqlite3_column_text(st, 2));
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (*why) {
		smg_buf_free(&def);
		return NULL;
	}
	return smg_buf_detach(&def);
}

static bool has(const char *type, const char *word)
{
	return strcasestr(type, word) != NULL;
}

const char *smg_schema_affinity(const char *type)
{
	if (!type)
		type = "";
	if (has(type, "INT"))
		return "INTEGER";
	if (has(type, "CHAR") || has(type, "CLOB") || has(type, "TEXT"))
		return "TEXT";
	if (has(type, "BLOB") || !*type)
		return "BLOB";
	if (has(type, "REAL") || has(type, "FLOA") || has(type, "DOUB"))
		return "REAL";
	return "NUMERIC";
}

/* INTEGER and NUMERIC affinity convert and store values alike; they differ
 * only in CAST, which a sync never does. */
static bool stores_alike(const char *a, const char *b)
{
	bool ia = !strcmp(a, "INTEGER") || !strcmp(a, "NUMERIC");
	bool ib = !strcmp(b, "INTEGER") || !strcmp(b, "NUMERIC");
	return !strcmp(a, b) || (ia && ib);
}

static char *decltype_of(sqlite3_stmt *st, const char *table, const char *col)
{
	char *type = NULL;
	if (step_column(st, table, col))
		type = smg_xstrdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0)
							      : "");
	sqlite3_reset(st);
	return type;
}

static void type_drift(struct smg_buf *out, sqlite3 *da, sqlite3 *db,
		       const struct smg_table *a, const struct smg_table *b,
		       const char *aname, const char *bname)
{
	sqlite3_stmt *sa = NULL, *sb = NULL;
	sqlite3_prepare_v2(da, column_query, -1, &sa, NULL);
	sqlite3_prepare_v2(db, column_query, -1, &sb, NULL);
	for (size_t i = 0; sa && sb && i < a->ncols; i++) {
		if (smg_table_col(b, a->cols[i]) < 0)
			continue;
		char *ta = decltype_of(sa, a->name, a->cols[i]);
		char *tb = decltype_of(sb, b->name, a->cols[i]);
		const char *fa = smg_schema_affinity(ta), *fb = smg_schema_affinity(tb);
		if (ta && tb && !stores_alike(fa, fb))
			smg_buf_addf(out, "%scolumn \"%s\" is %s in %s (%s affinity) but %s in %s "
				     "(%s affinity)", out->len ? "; " : "", a->cols[i],
				     *ta ? ta : "untyped", aname, fa, *tb ? tb : "untyped", bname, fb);
		free(ta);
		free(tb);
	}
	sqlite3_finalize(sa);
	sqlite3_finalize(sb);
}

char *smg_schema_type_drift(const struct smg_table *a, const struct smg_table *b,
			    const char *aname, const char *bname)
{
	if (!a->sql || !b->sql)
		return NULL;
	char *why = NULL;
	struct smg_buf out = SMG_BUF_INIT;
	sqlite3 *da = scratch_table(a->name, a->sql, &why);
	free(why);
	sqlite3 *db = da ? scratch_table(b->name, b->sql, &why) : NULL;
	if (da && !db)
		free(why);
	if (da && db)
		type_drift(&out, da, db, a, b, aname, bname);
	sqlite3_close(da);
	sqlite3_close(db);
	return out.len ? smg_buf_detach(&out) : NULL;
}
