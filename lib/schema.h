/*
 * schema.h - what a table record's schema text may do, and what it says,
 * read by SQLite's own parser in a scratch in-memory database: never by
 * hand, and never in the database being written.
 *
 * Every program that creates a table or adds a column from a stream goes
 * through here (smg-apply into a SQLite file, the remote apply), so that a
 * schema text that reads "CREATE TABLE x(..); DELETE FROM items" or
 * "CREATE TEMP TABLE x(..)" is refused the same way everywhere.
 */
#ifndef SMG_SCHEMA_H
#define SMG_SCHEMA_H

#include "stream.h"

/* Is sql exactly one CREATE TABLE statement that makes the table `name` in
 * the main schema: no TEMP, no AS SELECT, no other object, nothing but
 * blanks and comments after it?  NULL if so, else why not (caller frees). */
char *smg_schema_check_table(const char *name, const char *sql);
/* Is index_sql exactly one CREATE [UNIQUE] INDEX on the table `name`, made
 * by table_sql?  NULL if so, else why not (caller frees). */
char *smg_schema_check_index(const char *name, const char *table_sql, const char *index_sql);
/* Both, for a table record that is about to be created: its sql and every
 * one of its indexes.  Dies (SMG_EXIT_DATA) naming where and the table. */
void smg_schema_check_create(const struct smg_table *t, const char *where);

/* The definition ALTER TABLE ADD COLUMN takes for column col of the table
 * record t, from its sql: "col" TYPE [COLLATE X] [NOT NULL] [DEFAULT v].
 * NULL with *why set (caller frees) when t carries no schema, or when the
 * column cannot be added that way (a key, NOT NULL without a default). */
char *smg_schema_column_def(const struct smg_table *t, const char *col, char **why);

/* SQLite's column affinity of a declared type (its five rules, section 3.1
 * of "Datatypes In SQLite"): "INTEGER", "TEXT", "BLOB", "REAL", "NUMERIC". */
const char *smg_schema_affinity(const char *decltype);
/* Does a synced column (in both tables) have a declared type whose affinity
 * stores values differently on the two sides?  Then "column ..." naming
 * the column and both declared types (caller frees); NULL when they agree
 * or when either side carries no schema.  INTEGER and NUMERIC store alike. */
char *smg_schema_type_drift(const struct smg_table *a, const struct smg_table *b,
			    const char *aname, const char *bname);

#endif
