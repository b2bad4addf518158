/*
 * schema.c - what a table record's schema text may be: one CREATE TABLE
 * for that very table, one CREATE [UNIQUE] INDEX on it, nothing else;
 * column definitions for ALTER TABLE ADD COLUMN; SQLite's affinity rules;
 * type drift between two tables.
 */
#include "schema.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

static void table_ok(const char *name, const char *sql)
{
	char *why = smg_schema_check_table(name, sql);
	check(!why, "accepted for \"%s\": %s%s%s", name, sql, why ? " -- " : "", why ? why : "");
	free(why);
}

static void table_bad(const char *name, const char *sql, const char *want)
{
	char *why = smg_schema_check_table(name, sql);
	check(why && strstr(why, want), "refused for \"%s\": %s -- %s", name, sql,
	      why ? why : "(accepted)");
	free(why);
}

static void index_check(const char *sql, const char *want)
{
	char *why = smg_schema_check_index("t", "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT)", sql);
	if (want)
		check(why && strstr(why, want), "index refused: %s -- %s", sql, why ? why : "(accepted)");
	else
		check(!why, "index accepted: %s%s%s", sql, why ? " -- " : "", why ? why : "");
	free(why);
}

static void column_def(const char *sql, const char *col, const char *want)
{
	struct smg_table *t = smg_table_new("t");
	t->sql = smg_xstrdup(sql);
	char *why = NULL;
	char *def = smg_schema_column_def(t, col, &why);
	const char *got = def ? def : why;
	check(def ? !strcmp(def, want) : why && strstr(why, want) != NULL, "column %s of %s: %s (wanted %s)", col, sql, got ? got : "(null)", want);
	free(def);
	free(why);
	smg_table_free(t);
}

static struct smg_table *table(const char *sql, const char *c1, const char *c2)
{
	struct smg_table *t = smg_table_new("t");
	smg_table_add_col(t, c1);
	smg_table_add_col(t, c2);
	smg_table_add_pk(t, c1);
	t->sql = smg_xstrdup(sql);
	smg_table_finish(t, NULL);
	return t;
}

int main(void)
{
	table_ok("t", "CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT UNIQUE)");
	table_ok("t", "CREATE TABLE \"t\"(id, a, PRIMARY KEY(id)) WITHOUT ROWID");
	table_ok("t", "CREATE TABLE t(id INTEGER PRIMARY KEY);  -- trailing comment\n  ;");
	table_ok("we\"ird", "CREATE TABLE \"we\"\"ird\"(id INTEGER PRIMARY KEY, "
			    "g GENERATED ALWAYS AS (id * 2), CHECK (length(id) < 9))");
	table_bad("items", "CREATE TABLE x(id INTEGER PRIMARY KEY); DELETE FROM items",
		  "creates table \"x\"");
	table_bad("x", "CREATE TABLE x(id INTEGER PRIMARY KEY); DELETE FROM items",
		  "something follows it");
	table_bad("x", "CREATE TABLE x(id INTEGER PRIMARY KEY); CREATE TABLE y(id)",
		  "something follows it");
	table_bad("x", "CREATE TEMP TABLE x(id INTEGER PRIMARY KEY)", "TEMP");
	table_bad("x", "CREATE TABLE temp.x(id INTEGER PRIMARY KEY)", "TEMP");
	table_bad("x", "CREATE TABLE x AS SELECT 1 AS id", "AS SELECT");
	table_bad("x", "ATTACH 'evil.db' AS x", "attaches");
	table_bad("x", "DELETE FROM x", "no such table");
	table_bad("x", "CREATE VIEW x AS SELECT 1", "not one CREATE TABLE");
	table_bad("x", "CREATE TABLE x(id) ; VACUUM INTO 'copy.db'", "something follows it");
	table_bad("x", "", "not a CREATE TABLE statement");
	table_bad("x", "CREATE TABLE X(id INTEGER PRIMARY KEY)", "creates table \"X\"");

	index_check("CREATE UNIQUE INDEX t_a ON t(a)", NULL);
	index_check("CREATE INDEX t_lower ON t(lower(a)) WHERE id > 0", NULL);
	index_check("CREATE INDEX u_a ON u(a)", "no such table");
	index_check("CREATE TABLE t2(x)", "creates table");
	index_check("CREATE INDEX t_a ON t(a); DROP TABLE t", "something follows it");
	index_check("CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN DELETE FROM t; END", "TEMP");

	const char *s = "CREATE TABLE t(id INTEGER PRIMARY KEY, a VARCHAR(10) COLLATE NOCASE NOT NULL "
			"DEFAULT 'x', b, c REAL NOT NULL)";
	column_def(s, "a", "\"a\" VARCHAR(10) COLLATE \"NOCASE\" NOT NULL DEFAULT 'x'");
	column_def(s, "b", "\"b\"");
	column_def(s, "c", "NOT NULL without a default, which ALTER TABLE ADD COLUMN cannot add");
	column_def(s, "id", "is part of the primary key");
	column_def(s, "zz", "has no column \"zz\"");

	static const char *const aff[][2] = {
		{"INT", "INTEGER"}, {"TINYINT", "INTEGER"}, {"VARCHAR(255)", "TEXT"},
		{"NCHAR", "TEXT"}, {"CLOB", "TEXT"}, {"BLOB", "BLOB"}, {"", "BLOB"},
		{"DOUBLE PRECISION", "REAL"}, {"FLOAT", "REAL"}, {"NUMERIC", "NUMERIC"},
		{"DECIMAL(10,5)", "NUMERIC"}, {"BOOLEAN", "NUMERIC"}, {"DATETIME", "NUMERIC"},
		{"CHARINT", "INTEGER"}, {"POINT", "INTEGER"}, {"STRING", "NUMERIC"},
	};
	for (size_t i = 0; i < sizeof aff / sizeof *aff; i++)
		check(!strcmp(smg_schema_affinity(aff[i][0]), aff[i][1]), "affinity of \"%s\" is %s",
		      aff[i][0], aff[i][1]);

	struct smg_table *a = table("CREATE TABLE t(id INTEGER PRIMARY KEY, code TEXT)", "id", "code");
	struct smg_table *b = table("CREATE TABLE t(id INTEGER PRIMARY KEY, code INTEGER)", "id", "code");
	struct smg_table *c = table("CREATE TABLE t(id INT PRIMARY KEY, code VARCHAR(3))", "id", "code");
	struct smg_table *d = table("CREATE TABLE t(id NUMERIC PRIMARY KEY, code CLOB)", "id", "code");
	char *drift = smg_schema_type_drift(a, b, "a.db", "b.db");
	check(drift && !strcmp(drift, "column \"code\" is TEXT in a.db (TEXT affinity) but INTEGER in "
				      "b.db (INTEGER affinity)"), "TEXT vs INTEGER is drift: %s",
	      drift ? drift : "(none)");
	free(drift);
	drift = smg_schema_type_drift(a, c, "a.db", "c.db");
	check(!drift, "TEXT vs VARCHAR(3), INTEGER vs INT: no drift");
	free(drift);
	drift = smg_schema_type_drift(c, d, "c.db", "d.db");
	check(!drift, "INT vs NUMERIC store alike: no drift");
	free(drift);
	free(b->sql);
	b->sql = NULL;
	drift = smg_schema_type_drift(a, b, "a.db", "b.db");
	check(!drift, "a side without schema text: nothing to compare");
	free(drift);
	smg_table_free(a);
	smg_table_free(b);
	smg_table_free(c);
	smg_table_free(d);
	return test_failures ? 1 : 0;
}
