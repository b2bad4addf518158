/*
 * source.c - rows from a database or from a stream, through one interface,
 * so smg-diff (and smg-beacon) need not care which they were given.
 */
#include "db.h"
#include "prefetch.h"
#include "tomb.h"
#include "ts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* (db.h) */
struct smg_row_counter {
	sqlite3 *db;
	char **names;
	size_t n;
	pthread_t thread;
	_Atomic int64_t total;		/* -1 until counted, or when it failed */
};

struct smg_source {
	char *name;
	int64_t rows;
	/* database */
	sqlite3 *db;
	struct smg_table **tables;
	size_t ntables, next_table;
	struct smg_prefetch *prefetch;		/* rows and hashes, in batches */
	bool table_open;
	char *all_tables;		/* every table of the database, for messages */
	const struct smg_value *vals;
	struct smg_buf json;
	bool json_ready;
	struct smg_tombs **tombs;		/* per table, NULL when untracked */
	struct smg_tomb_merge merge;		/* the current table's rows and tombstones */
	/* stream */
	struct smg_reader *reader;
	const struct smg_record *pending;	/* a table record read ahead */
	const struct smg_record *cur;
	struct smg_table *table;		/* our copy: the reader moves on */
	bool done;
	struct smg_buf seen;			/* table names met so far */
	bool want_tombs;			/* pass tombstone records on as rows */
	/* both */
	struct smg_value *key;
	size_t keycap;
	struct smg_value *check;	/* decoded values, only to validate them */
	size_t checkcap;
	struct smg_ts_audit ts_audit;	/* the current table's odd timestamps */
	bool audit_ts;			/* count and warn about them */
	struct smg_row_counter *counter;
};

struct smg_source *smg_source_open(const char *spec, const struct smg_select *sel)
{
	struct smg_source *s = smg_xcalloc(1, sizeof *s);
	s->name = smg_xstrdup(strcmp(spec, "-") ? spec : "stdin");
	smg_ts_audit_init(&s->ts_audit);
	if (strcmp(spec, "-") && (smg_path_is_sqlite(spec) || smg_path_is_empty(spec))) {
		s->db = smg_db_open(spec, false);
		s->tables = smg_db_tables(s->db, spec, sel, &s->ntables);
		smg_tomb_mark(s->db, s->tables, s->ntables);
		s->all_tables = smg_db_table_list(s->db);	/* before a worker owns db */
	} else {
		s->reader = smg_reader_open_path(spec);
	}
	return s;
}

struct smg_source *smg_source_open_side(const char *spec, const struct smg_select *sel,
					bool empty_ok)
{
	if (!empty_ok && strcmp(spec, "-") && smg_path_is_empty(spec))
		smg_die(SMG_EXIT_DATA, "%s: an empty file (0 bytes), as a failed smg-fetch > FILE "
			"leaves: refused as a side to read (it stands for an empty database only "
			"as the side written to, without --delete)", spec);
	return smg_source_open(spec, sel);
}

void smg_source_check_timestamps(struct smg_source *s)
{
	s->audit_ts = true;
}

void smg_source_tombstones(struct smg_source *s, int horizon_days)
{
	s->want_tombs = true;
	if (!s->db || s->tombs)
		return;
	/* read now, while the database is still this thread's */
	s->tombs = smg_xcalloc(s->ntables + 1, sizeof *s->tombs);
	for (size_t i = 0; i < s->ntables; i++)
		if (s->tables[i]->tracked)
			s->tombs[i] = smg_tombs_load(s->db, s->name, s->tables[i], horizon_days);
}

void smg_source_read_ahead(struct smg_source *s)
{
	if (s->db && !s->prefetch && !s->table_open && s->next_table == 0)
		s->prefetch = smg_prefetch_start(s->db, s->tables, s->ntables, true);
}

sqlite3 *smg_source_db(const struct smg_source *s)
{
	return s->db;
}

struct smg_table **smg_source_tables(const struct smg_source *s, size_t *n)
{
	*n = s->ntables;
	return s->tables;
}

bool smg_source_is_db(const struct smg_source *s)
{
	return s->db != NULL;
}

const char *smg_source_name(const struct smg_source *s)
{
	return s->name;
}

char *smg_source_table_list(const struct smg_source *s)
{
	if (s->db)
		return smg_xstrdup(s->all_tables);
	return smg_xstrdup(s->seen.len ? s->seen.data : "(none)");
}

int64_t smg_source_rows(const struct smg_source *s)
{
	return s->rows;
}

static void *count_rows(void *arg)
{
	struct smg_row_counter *c = arg;
	int64_t n = 0;
	for (size_t i = 0; i < c->n && n >= 0; i++) {
		int64_t rows = smg_db_try_count(c->db, c->names[i]);
		n = rows < 0 ? -1 : n + rows;
	}
	atomic_store(&c->total, n);
	return NULL;
}

struct smg_row_counter *smg_row_counter_start(const char *path, struct smg_table **tables,
					      size_t n)
{
	struct smg_row_counter *c = smg_xcalloc(1, sizeof *c);
	atomic_init(&c->total, -1);
	c->db = smg_db_open(path, false);
	c->n = n;
	c->names = smg_xcalloc(n + 1, sizeof *c->names);
	for (size_t i = 0; i < n; i++)
		c->names[i] = smg_xstrdup(tables[i]->name);
	if (pthread_create(&c->thread, NULL, count_rows, c) != 0)
		smg_die(SMG_EXIT_FAILURE, "cannot start a thread");
	return c;
}

int64_t smg_row_counter_total(const struct smg_row_counter *c)
{
	return c ? atomic_load(&c->total) : -1;
}

/* A count not done yet is not waited for: a run shorter than it needs none. */
void smg_row_counter_stop(struct smg_row_counter *c)
{
	if (!c)
		return;
	sqlite3_interrupt(c->db);
	pthread_join(c->thread, NULL);
	smg_db_close(c->db);
	smg_strings_free(c->names, c->n);
	free(c);
}

void smg_source_count_start(struct smg_source *s)
{
	if (s->db && !s->counter)
		s->counter = smg_row_counter_start(s->name, s->tables, s->ntables);
}

int64_t smg_source_count(const struct smg_source *s)
{
	return smg_row_counter_total(s->counter);
}

/* The table whose rows are being read, if any. */
static const struct smg_table *current_table(const struct smg_source *s)
{
	if (s->reader)
		return s->table;
	return s->next_table ? s->tables[s->next_table - 1] : NULL;
}

/* Warn about the timestamps of the table being left, once. */
static void end_table(struct smg_source *s)
{
	const struct smg_table *t = current_table(s);
	if (t)
		smg_ts_audit_report(&s->ts_audit, s->name, t);
}

void smg_source_close(struct smg_source *s)
{
	if (!s)
		return;
	end_table(s);
	smg_row_counter_stop(s->counter);
	smg_ts_audit_free(&s->ts_audit);
	smg_prefetch_stop(s->prefetch);
	for (size_t i = 0; s->tombs && i < s->ntables; i++)
		smg_tombs_free(s->tombs[i]);
	free(s->tombs);
	smg_tables_free(s->tables, s->ntables);
	free(s->all_tables);
	if (s->db)
		smg_db_close(s->db);
	smg_reader_close(s->reader);
	smg_table_free(s->table);
	smg_buf_free(&s->json);
	smg_buf_free(&s->seen);
	free(s->key);
	free(s->check);
	free(s->name);
	free(s);
}

static const struct smg_record *read_record(struct smg_source *s)
{
	const struct smg_record *rec = smg_reader_next(s->reader);
	if (rec && rec->kind != SMG_REC_TABLE && rec->kind != SMG_REC_ROW &&
	    rec->kind != SMG_REC_TOMBSTONE)
		smg_reader_die(s->reader, "expected a row stream (table and row records), got a "
			       "%s record", rec->kind == SMG_REC_CHANGE ? "change" : "summary");
	return rec;
}

static const struct smg_table *stream_next_table(struct smg_source *s)
{
	end_table(s);
	const struct smg_record *rec = s->pending;
	s->pending = NULL;
	while (!rec && !s->done) {
		rec = read_record(s);
		if (!rec)
			s->done = true;
		else if (rec->kind != SMG_REC_TABLE)
			rec = NULL;	/* rows left in the table we leave */
	}
	smg_table_free(s->table);
	s->table = rec ? smg_table_copy(rec->table) : NULL;
	if (s->table)
		smg_buf_addf(&s->seen, "%s%s", s->seen.len ? ", " : "", s->table->name);
	return s->table;
}

const struct smg_table *smg_source_next_table(struct smg_source *s)
{
	if (s->reader)
		return stream_next_table(s);
	struct smg_row skip;
	while (s->table_open && smg_source_next_row(s, &skip))
		;	/* rows left in the table we leave */
	end_table(s);
	if (s->next_table >= s->ntables)
		return NULL;
	s->table_open = true;
	if (!s->prefetch)	/* nobody asked for a thread: read on this one */
		s->prefetch = smg_prefetch_start(s->db, s->tables, s->ntables, false);
	smg_tomb_merge_init(&s->merge, s->prefetch, s->tombs ? s->tombs[s->next_table] : NULL,
			    s->tables[s->next_table], s->name);
	return s->tables[s->next_table++];
}

static void set_key(struct smg_source *s, const struct smg_table *t,
		    const struct smg_value *vals, struct smg_row *row)
{
	if (s->keycap < t->npk) {
		s->keycap = t->npk;
		s->key = smg_xrealloc(s->key, s->keycap * sizeof *s->key);
	}
	for (size_t k = 0; k < t->npk; k++)
		s->key[k] = vals[t->pk_idx[k]];
	row->key = s->key;
	row->dead = false;
	row->ts.type = SMG_NULL;
	if (t->ts_idx >= 0) {
		row->ts = vals[t->ts_idx];
		if (s->audit_ts)
			smg_ts_audit_row(&s->ts_audit, t, row->key, &row->ts);
	}
}

/* The next row or tombstone of a stream's table (tombstones only when
 * asked for: other readers see the rows they always saw). */
static bool stream_next_row(struct smg_source *s, struct smg_row *row)
{
	const struct smg_record *rec;
	do {
		if (s->pending || s->done || !s->table)
			return false;
		rec = read_record(s);
		if (!rec) {
			s->done = true;
			return false;
		}
		if (rec->kind == SMG_REC_TABLE) {
			s->pending = rec;
			return false;
		}
	} while (rec->kind == SMG_REC_TOMBSTONE && !s->want_tombs);
	s->cur = rec;
	row->key = rec->key;
	row->hash = rec->has_hash ? rec->hash : NULL;
	row->ts = rec->ts;
	row->dead = rec->kind == SMG_REC_TOMBSTONE;
	if (s->audit_ts && s->table->ts_idx >= 0 && !row->dead)
		smg_ts_audit_row(&s->ts_audit, s->table, row->key, &row->ts);
	s->rows++;
	return true;
}

bool smg_source_next_row(struct smg_source *s, struct smg_row *row)
{
	if (s->reader)
		return stream_next_row(s, row);
	const struct smg_value *vals, *key, *ts;
	const unsigned char *hash;
	if (!s->table_open)
		return false;
	int got = smg_tomb_merge_next(&s->merge, &vals, &hash, &key, &ts);
	if (!got) {
		s->table_open = false;
		return false;
	}
	if (got == 2) {
		row->key = key;
		row->hash = NULL;
		row->ts = *ts;
		row->dead = true;
	} else {
		s->vals = vals;
		set_key(s, s->tables[s->next_table - 1], s->vals, row);
		row->hash = hash;
		s->json_ready = false;
	}
	s->rows++;
	return true;
}

const char *smg_source_values_json(struct smg_source *s, size_t *len)
{
	if (s->reader) {
		/* Only rows that become changes get here, a few percent: check
		 * their values now, so a bad one stops the diff at its line rather
		 * than the apply further down the pipe. */
		if (s->cur->values)
			smg_reader_values(s->reader, s->cur, &s->check, &s->checkcap);
		*len = s->cur->values_len;
		return s->cur->values;
	}
	/* Encoded on demand: most rows are identical and never need it. */
	if (!s->json_ready) {
		smg_buf_reset(&s->json);
		smg_json_add_values(&s->json, s->vals, s->tables[s->next_table - 1]->ncols);
		s->json_ready = true;
	}
	*len = s->json.len;
	return s->json.data;
}
