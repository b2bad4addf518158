/*
 * remote-apply.c - writing a change stream to a remote target: check and
 * spool the whole stream, plan the batches, send them, and report what
 * landed (see remote.h).
 */
#include "remote-int.h"
#include "remote-unique.h"
#include "progress.h"
#include "schema.h"
#include "tomb.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * The kinds of statement a change becomes.  A change that says what the
 * diff saw on the target (smugglr-stream(5): "expect", "was") is written
 * only if the row is still so, in SQL: an insert that does nothing over an
 * existing row, an upsert or delete whose WHERE matches the row the diff
 * read.  Each such statement ends RETURNING 1, one answer row per row it
 * wrote: fewer than it carried are conflicts, rows left as they are.
 * Updates whose old UNIQUE value another update takes (remote-unique.h)
 * are parked (OP_PARK) and then written (OP_UPDP, which also knows the
 * parked row), from the OP_UPD spool, in one batch.
 */
enum { OP_DEL, OP_UPS, OP_INS, OP_UPD, OP_GDEL, NSPOOLS, OP_PARK = NSPOOLS, OP_UPDP, NOPS };

static bool is_upsert(int op)
{
	return op == OP_UPS || op == OP_INS || op == OP_UPD || op == OP_UPDP;
}

static bool is_guarded(int op)
{
	return op == OP_INS || op == OP_UPD || op == OP_GDEL || op == OP_UPDP;
}

/* A guarded statement of the batch being built: where its answer is. */
struct guard {
	long index;		/* statement index in the request */
	long rows;		/* rows it carries */
	size_t table;
	int op;
};


/* A table of the change stream and the SQL its changes become. */
struct atable {
	struct smg_table *t;
	struct smg_buf head[NOPS], tail[NOPS];	/* around the tuples, by op */
	bool create;
	char **add, **add_sql;			/* --add-columns: names, ALTER TABLEs */
	size_t nadd;
	int64_t n[NOPS];			/* changes spooled */
	long off[NOPS];				/* where in the spool they start */
	int64_t planned[NOPS], landed[NOPS], batch[NOPS];
	int64_t conflicts[NOPS];		/* of those landed: rows left alone */
	int64_t create_batch;			/* the batch holding CREATE TABLE */
	/* UNIQUE values the updates exchange: the first update (its "values"
	 * and "was" JSON) until a second says whether to look; the rows to
	 * park, by their place in the OP_UPD spool */
	char *first_vals, *first_was;
	size_t first_vals_len, first_was_len;
	struct uniq_rows ur;
	bool ur_on;
	unsigned char *parked;
	size_t nparked;
	bool park_alone, park_spans;		/* in a batch of their own; did not fit */
};

struct apply_ctx {
	struct smg_remote *r;
	const struct smg_http_profile *p;
	struct atable *tab;
	size_t ntab;
	FILE *spool[NSPOOLS];
	long batch_rows;
	struct uniq_db udb;	/* the target's UNIQUE indexes, once an update needs them */
	bool udb_loaded;
	char nonce[32];		/* appended to a parked value: no row holds it */
	/* the statement being built */
	struct smg_buf sql;
	struct params ps;
	long rows;
	size_t sqlbytes;	/* with placeholders expanded */
	size_t cur;		/* its table */
	int op;
	/* the request (batch) being built */
	struct smg_buf rendered;
	size_t body_overhead;
	bool send;
	int64_t batches, statements, landed, sent_rows, total_rows;
	int64_t landed_rows;		/* for progress */
	bool progress;
	struct failure fail;
	bool failed;
	struct guard *guards;	/* of the batch being built */
	size_t nguards, guardcap;
	int64_t conflicts;	/* rows that changed since the diff, left alone */
	/* the batch being sent, statement by statement, to find the row that
	 * broke a constraint (find_culprit): where each tuple is spooled */
	struct unit { size_t table; int sop, op; long *offs; size_t n; } *units;
	size_t nunits, unitcap;
	long *offs;		/* of the statement being built */
	size_t noffs, offcap;
	int sop;		/* its spool */
	bool in_unit;		/* add_statement called by close_statement */
	bool batch_raw;		/* the batch holds other statements (CREATE, pieces) */
	int64_t unchecked;	/* changes without what the diff saw */
	struct long_rows *longs;	/* rows written in pieces, if any */
	/* tombstones to record once the batches landed (tomb.h): one
	 * statement each, NUL-ended */
	struct smg_buf tombs;
	size_t ntombs;
};

static void spool_write(FILE *f, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, f) != n)
		smg_die(SMG_EXIT_FAILURE, "writing the spool file: %s", strerror(errno));
}

static bool spool_read(FILE *f, void *p, size_t n)
{
	if (n == 0)
		return true;
	size_t got = fread(p, 1, n, f);
	if (got == 0 && feof(f))
		return false;
	if (got != n)
		smg_die(SMG_EXIT_FAILURE, "reading the spool file: %s",
			ferror(f) ? strerror(errno) : "short read");
	return true;
}

/* "(t.c1 IS smg_v.column<off+1> AND ...)": the table's row is the one the
 * VALUES row smg_v holds from column off + 1 on. */
static void add_row_match(struct smg_buf *b, const struct smg_table *t, size_t off)
{
	smg_buf_addc(b, '(');
	for (size_t i = 0; i < t->ncols; i++) {
		smg_buf_adds(b, i ? " AND " : "");
		smg_sql_ident(b, t->name);
		smg_buf_addc(b, '.');
		smg_sql_ident(b, t->cols[i]);
		smg_buf_addf(b, " IS smg_v.column%zu", off + i + 1);
	}
	smg_buf_addc(b, ')');
}

/* "t.key IS smg_v.column<k> AND ..." for the VALUES rows (new..., read...). */
static void add_key_match(struct smg_buf *b, const struct smg_table *t)
{
	for (size_t k = 0; k < t->npk; k++) {
		smg_buf_adds(b, k ? " AND " : "");
		smg_sql_ident(b, t->name);
		smg_buf_addc(b, '.');
		smg_sql_ident(b, t->pk[k]);
		smg_buf_addf(b, " IS smg_v.column%zu", t->pk_idx[k] + 1);
	}
}

/* " OR (smg_v.column<read c> IS NOT NULL AND t.c IS smg_v.column<read c>
 * || nonce) ...": the row parked by this very batch (a value with the
 * nonce is no one else's), so still as read. */
static void add_parked_match(struct smg_buf *b, const struct atable *a, const char *nonce)
{
	const struct smg_table *t = a->t;
	for (size_t i = 0; i < t->ncols; i++) {
		if (!a->ur.park || !a->ur.park[i])
			continue;
		smg_buf_addf(b, " OR (smg_v.column%zu IS NOT NULL AND ", t->ncols + i + 1);
		smg_sql_ident(b, t->name);
		smg_buf_addc(b, '.');
		smg_sql_ident(b, t->cols[i]);
		smg_buf_addf(b, " IS smg_v.column%zu || '%s')", t->ncols + i + 1, nonce);
	}
}

/* UPDATE t SET c = smg_v.c ... FROM (VALUES (new..., read...)) AS smg_v
 * WHERE the key matches AND the row is the one read (or already the new
 * one; or, for OP_UPDP, parked): an update, never an insert, so a row
 * deleted meanwhile stays deleted. */
static void build_update(struct atable *a, int op, const char *nonce)
{
	const struct smg_table *t = a->t;
	struct smg_buf *h = &a->head[op], *tl = &a->tail[op];
	smg_buf_adds(h, "UPDATE ");
	smg_sql_ident(h, t->name);
	smg_buf_adds(h, " SET ");
	bool any = false;
	for (size_t i = 0; i < t->ncols; i++) {
		if (smg_sql_is_key(t, i) && (any || t->ncols > t->npk))
			continue;
		smg_buf_adds(h, any ? "," : "");
		smg_sql_ident(h, t->cols[i]);
		smg_buf_addf(h, "=smg_v.column%zu", i + 1);
		any = true;
	}
	smg_buf_adds(h, " FROM (VALUES ");
	smg_buf_adds(tl, ") AS smg_v WHERE ");
	add_key_match(tl, t);
	smg_buf_adds(tl, " AND (");
	add_row_match(tl, t, t->ncols);
	smg_buf_adds(tl, " OR ");
	add_row_match(tl, t, 0);
	if (op == OP_UPDP)
		add_parked_match(tl, a, nonce);
	smg_buf_adds(tl, ") RETURNING 1");
}

/* UPDATE t SET c = smg_v.column<read c> || nonce, for each column of a
 * UNIQUE index whose value the row changes, FROM the same VALUES rows
 * WHERE the row is still the one read: its old values freed for the rows
 * that take them.  Not counted: the OP_UPDP after it is. */
static void build_park(struct atable *a, const char *nonce)
{
	const struct smg_table *t = a->t;
	struct smg_buf *h = &a->head[OP_PARK], *tl = &a->tail[OP_PARK];
	smg_buf_adds(h, "UPDATE ");
	smg_sql_ident(h, t->name);
	bool any = false;
	for (size_t i = 0; i < t->ncols; i++) {
		if (!a->ur.park[i])
			continue;
		smg_buf_adds(h, any ? "," : " SET ");
		smg_sql_ident(h, t->cols[i]);
		/* only a value that changes: what another row takes */
		smg_buf_addf(h, "=CASE WHEN smg_v.column%zu IS smg_v.column%zu THEN ", i + 1,
			     t->ncols + i + 1);
		smg_sql_ident(h, t->cols[i]);
		smg_buf_addf(h, " ELSE smg_v.column%zu || '%s' END", t->ncols + i + 1, nonce);
		any = true;
	}
	smg_buf_adds(h, " FROM (VALUES ");
	smg_buf_adds(tl, ") AS smg_v WHERE ");
	add_key_match(tl, t);
	smg_buf_adds(tl, " AND ");
	add_row_match(tl, t, t->ncols);
}

/* The SQL around a statement's rows (sql.h), by op. */
static void build_heads(struct atable *a)
{
	struct smg_buf scratch = SMG_BUF_INIT;
	smg_sql_upsert(&a->head[OP_UPS], &a->tail[OP_UPS], a->t);
	smg_buf_addc(&a->head[OP_UPS], ' ');
	smg_sql_delete(&a->head[OP_DEL], &a->tail[OP_DEL], a->t);
	/* inserts over no row (or over the very row they write) */
	smg_sql_upsert(&a->head[OP_INS], &scratch, a->t);
	smg_buf_addc(&a->head[OP_INS], ' ');
	smg_sql_upsert_same(&a->tail[OP_INS], a->t);
	smg_buf_adds(&a->tail[OP_INS], " RETURNING 1");
	/* updates of the row read (or of the very row they write) */
	build_update(a, OP_UPD, NULL);
	/* deletes of the row read */
	smg_buf_adds(&a->head[OP_GDEL], "DELETE FROM ");
	smg_sql_ident(&a->head[OP_GDEL], a->t->name);
	smg_buf_adds(&a->head[OP_GDEL], " WHERE EXISTS (SELECT 1 FROM (VALUES ");
	smg_buf_adds(&a->tail[OP_GDEL], ") AS smg_v WHERE ");
	add_row_match(&a->tail[OP_GDEL], a->t, 0);
	smg_buf_adds(&a->tail[OP_GDEL], ") RETURNING 1");
	smg_buf_free(&scratch);
}



/* The target must have every column of the stream and the same key;
 * with --add-columns, a column it lacks is added (ALTER TABLE ADD COLUMN,
 * the source's definition) before the table's rows are written. */
static void check_remote_table(struct smg_remote *r, const struct rtable *rt,
			       const struct smg_table *t, bool add_columns, struct atable *a)
{
	struct smg_buf missing = SMG_BUF_INIT;
	for (size_t i = 0; i < t->ncols; i++)
		if (smg_table_col(rt->t, t->cols[i]) < 0)
			smg_buf_addf(&missing, "%s\"%s\"", missing.len ? ", " : "", t->cols[i]);
	if (missing.len && !add_columns)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" lacks column%s %s (--add-columns adds them "
			"from the stream's schema)", r->t->name, t->name,
			strchr(missing.data, ',') ? "s" : "", missing.data);
	for (size_t i = 0; missing.len && i < t->ncols; i++) {
		if (smg_table_col(rt->t, t->cols[i]) >= 0)
			continue;
		char *why = NULL, *def = smg_schema_column_def(t, t->cols[i], &why);
		if (!def)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": cannot add column \"%s\": %s",
				r->t->name, t->name, t->cols[i], why);
		struct smg_buf sql = SMG_BUF_INIT;
		smg_buf_adds(&sql, "ALTER TABLE ");
		smg_sql_ident(&sql, t->name);
		smg_buf_addf(&sql, " ADD COLUMN %s", def);
		free(def);
		smg_select_add(&a->add, &a->nadd, t->cols[i]);
		a->add_sql = smg_xrealloc(a->add_sql, a->nadd * sizeof *a->add_sql);
		a->add_sql[a->nadd - 1] = smg_buf_detach(&sql);
	}
	smg_buf_free(&missing);
	bool same = rt->t->npk == t->npk;
	for (size_t k = 0; same && k < t->npk; k++)
		same = !strcmp(rt->t->pk[k], t->pk[k]);
	if (!same)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" has a different primary key than the stream",
			r->t->name, t->name);
}

static struct atable *open_atable(struct apply_ctx *c, struct schema *s,
				  const struct smg_table *t, const struct smg_apply_opts *o)
{
	struct smg_remote *r = c->r;
	c->tab = smg_xrealloc(c->tab, (c->ntab + 1) * sizeof *c->tab);
	struct atable *a = &c->tab[c->ntab++];
	memset(a, 0, sizeof *a);
	a->t = smg_table_copy(t);
	const struct rtable *rt = remote_schema_find(s, t->name);
	if (!rt) {
		if (!o->create_tables) {
			char *have = remote_schema_names(s);
			smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" to write to (tables: %s); "
				"--create-tables creates it from the source's schema", r->t->name,
				t->name, have);
		}
		/* one CREATE TABLE for this very table, its indexes the same:
		 * schema text from a relay or an endpoint runs nothing else */
		smg_schema_check_create(t, r->t->name);
		a->create = true;
	} else {
		check_remote_table(r, rt, t, o->add_columns, a);
	}
	build_heads(a);
	return a;
}

/* One tuple of SQL values into c->sql and c->ps, checked against the
 * profile's limits, and spooled. */
static void spool_tuple(struct apply_ctx *c, struct atable *a, int op,
			const struct smg_value *vals, size_t nvals, size_t literal_from,
			struct smg_reader *in)
{
	const struct smg_http_profile *p = c->p;
	for (int attempt = 0;; attempt++) {
		smg_buf_reset(&c->sql);
		remote_params_reset(&c->ps);
		if (nvals > 1 || op != OP_DEL)
			smg_buf_addc(&c->sql, '(');
		for (size_t i = 0; i < nvals; i++) {
			if (i)
				smg_buf_addc(&c->sql, ',');
			remote_sql_value(p, &c->sql, &c->ps, &vals[i], attempt > 0 || i >= literal_from);
		}
		if (nvals > 1 || op != OP_DEL)
			smg_buf_addc(&c->sql, ')');
		if (p->max_params && (long)c->ps.n > p->max_params) {
			if (attempt == 0)
				continue;	/* again, with text and blobs as literals */
			smg_reader_die(in, "table \"%s\": a row needs %zu bound parameters, more than "
				       "the %ld a statement of %s takes", a->t->name, c->ps.n,
				       p->max_params, c->r->t->name);
		}
		size_t bytes = a->head[op].len + a->tail[op].len +
			       remote_expanded_len(p, c->sql.data, c->sql.len, 0);
		if (p->max_statement_bytes && bytes > (size_t)p->max_statement_bytes) {
			smg_reader_die(in, "table \"%s\": a row needs a %zu-byte statement, more than "
				       "max_statement_bytes (%ld)", a->t->name, bytes,
				       p->max_statement_bytes);
		}
		break;
	}
	FILE *f = c->spool[op];
	uint32_t hdr[3] = {(uint32_t)(c->ntab - 1), (uint32_t)c->sql.len, (uint32_t)c->ps.n};
	spool_write(f, hdr, sizeof hdr);
	spool_write(f, c->sql.data, c->sql.len);
	for (size_t i = 0; i < c->ps.n; i++) {
		uint32_t len = (uint32_t)c->ps.v[i].len;
		spool_write(f, &c->ps.v[i].kind, 1);
		spool_write(f, &len, sizeof len);
		spool_write(f, c->ps.data.data + c->ps.v[i].off, len);
	}
}

/* One change, spooled: its values (or key); for OP_UPD the row read after
 * them, in one VALUES row; for OP_GDEL the row read.  The row read goes as
 * literals: bound parameters are few (D1: 100 a statement), and the new
 * values need them more. */
static void spool_change(struct apply_ctx *c, struct atable *a, int op,
			 const struct smg_value *vals, size_t nvals, const struct smg_value *was,
			 struct smg_reader *in)
{
	if (a->n[op] == 0)
		a->off[op] = ftell(c->spool[op]);
	if (op == OP_UPD) {
		struct smg_value *both = smg_xcalloc(2 * nvals, sizeof *both);
		memcpy(both, vals, nvals * sizeof *both);
		memcpy(both + nvals, was, nvals * sizeof *both);
		spool_tuple(c, a, op, both, 2 * nvals, nvals, in);
		free(both);
	} else {
		spool_tuple(c, a, op, vals, nvals, op == OP_GDEL ? 0 : nvals, in);
	}
	a->n[op]++;
}

/* The row the diff read (rec->was) into was, checked against the hash
 * the diff saw: a record whose two say different things is not applied. */
static void read_was(struct smg_reader *in, const struct smg_record *rec, const struct smg_table *t,
		     struct smg_buf *scratch, struct smg_value **was, size_t *cap)
{
	struct smg_json j;
	size_t n;
	unsigned char h[SMG_HASH_LEN];
	smg_buf_reset(scratch);
	smg_buf_grow(scratch, rec->was_len + 8);
	smg_json_init(&j, rec->was, rec->was_len, scratch);
	if (!smg_json_values(&j, was, &n, cap))
		smg_reader_die(in, "bad \"was\": %s", j.err);
	if (n != t->ncols)
		smg_reader_die(in, "table \"%s\" has %zu columns but \"was\" has %zu values", t->name,
			       t->ncols, n);
	for (size_t k = 0; k < t->npk; k++)
		if (smg_value_cmp(&(*was)[t->pk_idx[k]], &rec->key[k]) != 0)
			smg_reader_die(in, "the key of the change does not match \"was\"");
	smg_hash_row(t, *was, h);
	if (memcmp(h, rec->expect_hash, SMG_HASH_LEN))
		smg_reader_die(in, "\"was\" does not hash to \"expect\": the record contradicts itself");
}

/* "~smg-park-" and 12 random hex digits, as an SQL string's text. */
static void make_nonce(char *out, size_t n)
{
	unsigned char r[6] = {0};
	FILE *f = fopen("/dev/urandom", "rb");
	if (!f || fread(r, 1, sizeof r, f) != sizeof r) {
		uint64_t x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)out;
		memcpy(r, &x, sizeof r);
	}
	if (f)
		fclose(f);
	snprintf(out, n, "~smg-park-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

/* A JSON array of values (kept from a record) into vals, n of them. */
static bool decode_values(const char *json, size_t len, struct smg_buf *scratch,
			  struct smg_value **vals, size_t *cap, size_t n)
{
	struct smg_json j;
	size_t got;
	smg_buf_reset(scratch);
	smg_buf_grow(scratch, len + 8);
	smg_json_init(&j, json, len, scratch);
	return smg_json_values(&j, vals, &got, cap) && got == n;
}

/* An update (OP_UPD, row a->n[OP_UPD] of the spool) into what tells the
 * rows to park.  The target's UNIQUE indexes are asked for once a table
 * has two updates: one update exchanges nothing. */
static void track_update(struct apply_ctx *c, struct atable *a, const struct smg_record *rec,
			 const struct smg_value *vals, const struct smg_value *was)
{
	int64_t n = a->n[OP_UPD];
	if (n == 0) {
		a->first_vals = smg_xstrndup(rec->values, rec->values_len);
		a->first_vals_len = rec->values_len;
		a->first_was = smg_xstrndup(rec->was, rec->was_len);
		a->first_was_len = rec->was_len;
		return;
	}
	if (n == 1) {
		if (!c->udb_loaded)
			remote_unique_load(c->r, &c->udb);
		c->udb_loaded = true;
		a->ur_on = uniq_rows_init(&a->ur, &c->udb, a->t);
		if (a->ur_on) {
			struct smg_buf s1 = SMG_BUF_INIT, s2 = SMG_BUF_INIT;
			struct smg_value *fv = NULL, *fw = NULL;
			size_t cv = 0, cw = 0;
			if (!decode_values(a->first_vals, a->first_vals_len, &s1, &fv, &cv, a->t->ncols) ||
			    !decode_values(a->first_was, a->first_was_len, &s2, &fw, &cw, a->t->ncols))
				smg_die(SMG_EXIT_FAILURE, "table \"%s\": a kept row no longer decodes",
					a->t->name);
			uniq_rows_add(&a->ur, fw, fv);
			free(fv);
			free(fw);
			smg_buf_free(&s1);
			smg_buf_free(&s2);
		}
		free(a->first_vals);
		free(a->first_was);
		a->first_vals = a->first_was = NULL;
	}
	if (a->ur_on)
		uniq_rows_add(&a->ur, was, vals);
}

/* After the whole stream: the updates to park, and their statements. */
static void plan_parking(struct apply_ctx *c, struct atable *a)
{
	free(a->first_vals);
	free(a->first_was);
	a->first_vals = a->first_was = NULL;
	if (!a->ur_on)
		return;
	a->parked = uniq_rows_demanded(&a->ur, &a->nparked);
	if (a->nparked && !c->p->atomic)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\": %zu rows exchange UNIQUE values, which "
			"takes one transaction, and the %s profile is not atomic", c->r->t->name,
			a->t->name, a->nparked, c->p->name);
	if (a->nparked) {
		if (!c->nonce[0])
			make_nonce(c->nonce, sizeof c->nonce);
		build_park(a, c->nonce);
		build_update(a, OP_UPDP, c->nonce);
	}
}

/* The statement that records a tombstone with the time of the delete,
 * only when the key has no row (a delete that met a changed row left it):
 * sent after the batches, whose delete made the trigger write one with
 * the endpoint's time. */
static void record_tombstone(struct apply_ctx *c, const struct smg_table *t,
			     const struct smg_record *rec)
{
	struct smg_buf *b = &c->tombs;
	struct params none = {0};
	smg_buf_addf(b, "INSERT INTO " SMG_TOMB_TABLE "(tbl, key, deleted_at) SELECT '%s', "
		     "json_array(", t->name);	/* (a tracked table's name has no quote) */
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc(b, ',');
		remote_sql_value(c->p, b, &none, &rec->key[k], true);
	}
	smg_buf_adds(b, "), ");
	remote_sql_value(c->p, b, &none, &rec->ts, true);
	smg_buf_adds(b, " WHERE NOT EXISTS (SELECT 1 FROM ");
	smg_sql_ident(b, t->name);
	for (size_t k = 0; k < t->npk; k++) {
		smg_buf_adds(b, k ? " AND " : " WHERE ");
		smg_sql_ident(b, t->pk[k]);
		smg_buf_adds(b, " IS ");
		remote_sql_value(c->p, b, &none, &rec->key[k], true);
	}
	smg_buf_adds(b, ") ON CONFLICT(tbl, key) DO UPDATE SET deleted_at = excluded.deleted_at");
	smg_buf_addc(b, '\0');
	c->ntombs++;
	remote_params_free(&none);
}

/* Send the tombstones, as many to a request as the profile takes. */
static void send_tombstones(struct apply_ctx *c)
{
	long per = c->p->max_statements > 0 ? c->p->max_statements : 1;
	const char *p = c->tombs.data;
	for (size_t done = 0; done < c->ntombs;) {
		size_t n = c->ntombs - done < (size_t)per ? c->ntombs - done : (size_t)per;
		const char *start = p;
		for (size_t k = 0; k < n; k++)
			p += strlen(p) + 1;
		smg_remote_exec(c->r, start, n);
		done += n;
	}
}

/* Which statement a change becomes: checked when the record says what
 * the diff saw, and the target can be asked in SQL. */
static int change_op(struct apply_ctx *c, const struct smg_record *rec)
{
	bool del = rec->op != SMG_OP_UPSERT;	/* a tombstone's row is deleted */
	if (rec->expect == SMG_EXPECT_ABSENT)
		return OP_INS;
	if (rec->expect == SMG_EXPECT_HASH && rec->was)
		return del ? OP_GDEL : OP_UPD;
	c->unchecked++;
	return del ? OP_DEL : OP_UPS;
}

/* ---- rows with long values: written in pieces ------------------------------
 * A blob, or text that is not UTF-8, longer than REMOTE_PIECE_BYTES goes as
 * hex: whole, it would pass the 2,000,000 bytes D1 allows any one string.
 * Its row is spooled apart as ready statements: the upsert with the first
 * piece, then UPDATE ... SET c = CAST(c || unhex(?) AS ...) per further
 * piece; they go as one request of their own, one transaction, after the
 * table's other upserts.  (UTF-8 text goes whole as a JSON string.) */

struct long_rows {
	FILE *f;
	struct long_row { size_t table; long off; } *v;
	size_t n, cap;
};

static bool needs_pieces(const struct smg_http_profile *p, const struct smg_value *v)
{
	/* a profile that binds blobs (param_blob) sends them whole */
	return p->unhex && !*p->param_blob && v->n > REMOTE_PIECE_BYTES &&
	       (v->type == SMG_BLOB || (v->type == SMG_TEXT && !smg_utf8_valid(v->p, v->n)));
}

static void piece_sql(struct smg_buf *sql, struct params *ps, const struct smg_value *v,
		      size_t off)
{
	size_t n = v->n - off < REMOTE_PIECE_BYTES ? v->n - off : REMOTE_PIECE_BYTES;
	struct smg_buf h = SMG_BUF_INIT;
	remote_add_hex(&h, v->p + off, n);
	smg_buf_adds(sql, "unhex(\x01)");
	remote_params_add(ps, 't', h.data, h.len);
	smg_buf_free(&h);
}

static void long_write_statement(struct apply_ctx *c, const struct atable *a,
				 const struct smg_buf *sql, const struct params *ps,
				 struct smg_reader *in)
{
	FILE *f = c->longs->f;
	size_t bytes = remote_expanded_len(c->p, sql->data, sql->len, 0);
	if (c->p->max_params && (long)ps->n > c->p->max_params)
		smg_reader_die(in, "table \"%s\": a row needs %zu bound parameters, more than the %ld "
			       "a statement of %s takes", a->t->name, ps->n, c->p->max_params, c->r->t->name);
	if (c->p->max_statement_bytes && bytes > (size_t)c->p->max_statement_bytes)
		smg_reader_die(in, "table \"%s\": a row needs a %zu-byte statement, more than "
			       "max_statement_bytes (%ld)", a->t->name, bytes, c->p->max_statement_bytes);
	uint32_t hdr[2] = {(uint32_t)sql->len, (uint32_t)ps->n};
	spool_write(f, hdr, sizeof hdr);
	spool_write(f, sql->data, sql->len);
	for (size_t i = 0; i < ps->n; i++) {
		uint32_t len = (uint32_t)ps->v[i].len;
		spool_write(f, &len, sizeof len);
		spool_write(f, ps->data.data + ps->v[i].off, len);
	}
}

static void spool_long_row(struct apply_ctx *c, const struct atable *a,
			   const struct smg_value *vals, struct smg_reader *in)
{
	const struct smg_table *t = a->t;
	if (!c->longs) {
		c->longs = smg_xcalloc(1, sizeof *c->longs);
		if (!(c->longs->f = tmpfile()))
			smg_die(SMG_EXIT_FAILURE, "cannot create a spool file: %s", strerror(errno));
	}
	struct long_rows *l = c->longs;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = smg_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = (struct long_row){(size_t)(a - c->tab), ftell(l->f)};
	uint32_t nstmts = 1;
	for (size_t i = 0; i < t->ncols; i++)
		if (needs_pieces(c->p, &vals[i]))
			nstmts += (uint32_t)((vals[i].n - 1) / REMOTE_PIECE_BYTES);
	spool_write(l->f, &nstmts, sizeof nstmts);
	struct smg_buf sql = SMG_BUF_INIT;
	struct params ps = {0};
	smg_buf_add(&sql, a->head[OP_UPS].data, a->head[OP_UPS].len);
	smg_buf_addc(&sql, '(');
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			smg_buf_addc(&sql, ',');
		if (needs_pieces(c->p, &vals[i]))
			piece_sql(&sql, &ps, &vals[i], 0);
		else
			remote_sql_value(c->p, &sql, &ps, &vals[i], false);
	}
	smg_buf_addc(&sql, ')');
	smg_buf_add(&sql, a->tail[OP_UPS].data, a->tail[OP_UPS].len);
	long_write_statement(c, a, &sql, &ps, in);
	for (size_t i = 0; i < t->ncols; i++) {
		if (!needs_pieces(c->p, &vals[i]))
			continue;
		for (size_t off = REMOTE_PIECE_BYTES; off < vals[i].n; off += REMOTE_PIECE_BYTES) {
			smg_buf_reset(&sql);
			remote_params_reset(&ps);
			smg_buf_adds(&sql, "UPDATE ");
			smg_sql_ident(&sql, t->name);
			smg_buf_adds(&sql, " SET ");
			smg_sql_ident(&sql, t->cols[i]);
			smg_buf_adds(&sql, " = CAST(");
			smg_sql_ident(&sql, t->cols[i]);
			smg_buf_adds(&sql, " || ");
			piece_sql(&sql, &ps, &vals[i], off);
			smg_buf_adds(&sql, vals[i].type == SMG_BLOB ? " AS BLOB)" : " AS TEXT)");
			remote_key_match(c->p, &sql, &ps, t, vals);
			long_write_statement(c, a, &sql, &ps, in);
		}
	}
	smg_buf_free(&sql);
	remote_params_free(&ps);
}

static void long_rows_free(struct apply_ctx *c)
{
	if (!c->longs)
		return;
	fclose(c->longs->f);
	free(c->longs->v);
	free(c->longs);
	c->longs = NULL;
}

/*
 * Every value and the row as a whole within the target's max_value_bytes
 * (D1: 2,000,000 bytes for a string, a blob or a row), else exit 7 naming
 * table, key and column, before anything is written.  True when the row
 * goes in pieces: it is then spooled apart, here.
 */
static bool check_sizes(struct apply_ctx *c, struct atable *a, const struct smg_value *vals,
			struct smg_reader *in)
{
	const struct smg_table *t = a->t;
	long max = c->p->max_value_bytes;
	size_t row = 0, big = 0;
	bool pieces = false;
	for (size_t i = 0; i < t->ncols; i++) {
		bool bytes = vals[i].type == SMG_TEXT || vals[i].type == SMG_BLOB;
		row += bytes ? vals[i].n : 9;
		if (bytes && vals[i].n > vals[big].n)
			big = i;
		pieces = pieces || needs_pieces(c->p, &vals[i]);
	}
	if (max && row > (size_t)max) {
		struct smg_buf key = SMG_BUF_INIT;
		remote_key_text(&key, t, vals);
		bool whole = vals[big].n <= (size_t)max;
		smg_reader_die(in, "table \"%s\", key %s, column \"%s\": a %zu-byte value%s is more "
			       "than %s takes (max_value_bytes %ld); nothing was written", t->name,
			       key.data, t->cols[big], whole ? row : vals[big].n,
			       whole ? " (the whole row)" : "", c->r->t->name, max);
	}
	if (!pieces)
		return false;
	spool_long_row(c, a, vals, in);
	return true;
}

/* Pass 1: read and check the whole stream, spooling its SQL. */
static void spool_stream(struct apply_ctx *c, struct schema *s, struct smg_reader *in,
			 const struct smg_apply_opts *o)
{
	struct smg_value *vals = NULL, *was = NULL;
	size_t cap = 0, wcap = 0;
	struct smg_buf scratch = SMG_BUF_INIT;
	struct atable *a = NULL;
	const struct smg_record *rec;
	while ((rec = smg_reader_next(in))) {
		switch (rec->kind) {
		case SMG_REC_TABLE:
			a = open_atable(c, s, rec->table, o);
			break;
		case SMG_REC_CHANGE:
			if (o->only >= 0 && (int)rec->to != o->only)
				break;
			if (rec->op == SMG_OP_TOMBSTONE) {
				record_tombstone(c, a->t, rec);
				if (rec->expect != SMG_EXPECT_HASH)
					break;	/* no row there: only the tombstone */
			}
			int op = change_op(c, rec);
			if (op == OP_GDEL || op == OP_UPD)
				read_was(in, rec, a->t, &scratch, &was, &wcap);
			if (op == OP_DEL) {
				spool_change(c, a, op, rec->key, a->t->npk, NULL, in);
				break;
			}
			if (op == OP_GDEL) {
				spool_change(c, a, op, was, a->t->ncols, NULL, in);
				break;
			}
			smg_reader_values(in, rec, &vals, &cap);
			for (size_t k = 0; k < a->t->npk; k++)
				if (smg_value_cmp(&vals[a->t->pk_idx[k]], &rec->key[k]) != 0)
					smg_reader_die(in, "the key of the change does not match its values");
			if (check_sizes(c, a, vals, in)) {	/* spooled apart, unguarded */
				c->unchecked += op != OP_UPS;
				break;
			}
			if (op == OP_UPD)
				track_update(c, a, rec, vals, was);
			spool_change(c, a, op, vals, a->t->ncols, was, in);
			break;
		case SMG_REC_ROW:
			smg_reader_die(in, "expected a change stream (from smg-diff), got a row record");
		default:
			break;
		}
	}
	free(vals);
	free(was);
	smg_buf_free(&scratch);
	for (size_t i = 0; i < c->ntab; i++)
		plan_parking(c, &c->tab[i]);
	for (int op = 0; op < NSPOOLS; op++)
		if (fflush(c->spool[op]) != 0)
			smg_die(SMG_EXIT_FAILURE, "writing the spool file: %s", strerror(errno));
}

/* The answer's rows for each guarded statement of the batch just sent:
 * one per row written.  The rows missing changed since the diff. */
static bool count_conflicts(struct apply_ctx *c)
{
	struct smg_remote *r = c->r;
	for (size_t i = 0; i < c->nguards; i++) {
		const struct guard *g = &c->guards[i];
		struct smg_jiter it;
		const char *row, *span;
		size_t rowlen, spanlen;
		long got = 0;
		char why[400];
		if (!remote_find_rows(r, r->resp.body.data, r->resp.body.len, g->index, &span, &spanlen,
				      why, sizeof why)) {
			c->fail.code = SMG_EXIT_DATA;
			c->fail.maybe_landed = true;
			snprintf(c->fail.msg, sizeof c->fail.msg, "%s: %s: cannot tell what was written",
				 r->t->name, why);
			return false;
		}
		smg_jarray(&it, span, spanlen);
		while (smg_jnext(&it, &row, &rowlen))
			got++;
		if (it.bad || got > g->rows) {
			c->fail.code = SMG_EXIT_DATA;
			snprintf(c->fail.msg, sizeof c->fail.msg, "%s: statement %ld wrote %ld rows, the "
				 "answer says %s", r->t->name, g->index + 1, g->rows,
				 it.bad ? "nothing readable" : "more");
			return false;
		}
		c->tab[g->table].conflicts[g->op] += g->rows - got;
		c->conflicts += g->rows - got;
	}
	return true;
}

static void find_culprit(struct apply_ctx *c);
static int64_t exchange_changed(struct apply_ctx *c);

static void free_units(struct apply_ctx *c)
{
	for (size_t i = 0; i < c->nunits; i++)
		free(c->units[i].offs);
	c->nunits = 0;
	c->batch_raw = false;
}

/* Send (or, planning, count) the batch built so far. */
static void flush_batch(struct apply_ctx *c)
{
	struct smg_remote *r = c->r;
	if (c->failed || r->nstmts == 0)
		return;
	c->batches++;
	bool ok = true;
	if (c->send) {
		ok = remote_send(r, &c->fail) && count_conflicts(c);
	} else {
		remote_req_reset(r);
	}
	c->nguards = 0;
	for (size_t i = 0; i < c->ntab; i++) {
		struct atable *a = &c->tab[i];
		for (int op = 0; op < NOPS; op++) {
			if (!c->send)
				a->planned[op] += a->batch[op];
			else if (ok) {
				a->landed[op] += a->batch[op];
				c->landed_rows += a->batch[op];
			}
			if (ok)
				a->batch[op] = 0;
		}
	}
	if (c->send && ok)
		c->landed++;
	/* A row an app changed was not parked and still holds its value: a
	 * conflict.  Else which row?  (A foreign key is checked at the
	 * commit, which a probe never reaches.) */
	int64_t changed = 0;
	if (c->send && !ok && strstr(c->fail.msg, "UNIQUE constraint failed"))
		changed = exchange_changed(c);
	if (changed > 0) {
		struct smg_buf msg = SMG_BUF_INIT;
		smg_buf_addf(&msg, "%s: %lld %s of an exchange of UNIQUE values changed since the "
			     "diff, so the batch could not be written (run the diff again)",
			     c->fail.msg, (long long)changed, changed == 1 ? "row" : "rows");
		snprintf(c->fail.msg, sizeof c->fail.msg, "%s", msg.data);
		smg_buf_free(&msg);
		c->fail.code = SMG_EXIT_CONFLICT;
		c->conflicts += changed;
	} else if (c->send && !ok && strstr(c->fail.msg, "constraint failed") &&
		   !strstr(c->fail.msg, "FOREIGN KEY")) {
		find_culprit(c);
	}
	free_units(c);
	if (c->send && ok && c->progress)	/* what the target has taken */
		smg_progress_unit("apply", "changes", c->landed_rows, c->total_rows);
	if (!ok)
		c->failed = true;
}

/* Put a finished statement into the batch, sending the batch first when
 * the statement would not fit in it.  A batch opens with the profile's
 * batch_prefix, if any. */
static void add_statement(struct apply_ctx *c, const char *sql, size_t sqllen,
			  const struct params *ps, size_t table, int op, long rows)
{
	struct smg_remote *r = c->r;
	const struct smg_http_profile *p = c->p;
	if (c->failed)
		return;
	long first = *p->batch_prefix ? 1 : 0;	/* index of the first statement */
	long data = r->nstmts ? r->nstmts - first : 0;
	smg_buf_reset(&c->rendered);
	remote_render_statement(r, &c->rendered, sql, sqllen, ps, r->nstmts ? r->nstmts : first);
	size_t sep = strlen(p->separator);
	bool full = r->nstmts &&
		    (data >= p->max_statements ||
		     (p->max_request_bytes && c->body_overhead + r->stmts.len + sep +
						      c->rendered.len > (size_t)p->max_request_bytes));
	if (full) {
		flush_batch(c);
		if (c->failed)
			return;
		smg_buf_reset(&c->rendered);
		remote_render_statement(r, &c->rendered, sql, sqllen, ps, first);
	}
	if (!c->in_unit)
		c->batch_raw = true;
	if (r->nstmts == 0 && first) {
		struct params none = {0};
		remote_render_statement(r, &r->stmts, p->batch_prefix, strlen(p->batch_prefix), &none, 0);
		r->nstmts++;
	}
	if (r->nstmts)
		smg_buf_adds(&r->stmts, p->separator);
	smg_buf_add(&r->stmts, c->rendered.data, c->rendered.len);
	if (op >= 0 && is_guarded(op)) {
		if (c->nguards == c->guardcap) {
			c->guardcap = c->guardcap ? 2 * c->guardcap : 16;
			c->guards = smg_xrealloc(c->guards, c->guardcap * sizeof *c->guards);
		}
		c->guards[c->nguards++] = (struct guard){r->nstmts, rows, table, op};
	}
	r->nstmts++;
	c->statements++;
	if (op < 0)
		c->tab[table].create_batch = c->batches + 1;
	if (op >= 0) {
		c->tab[table].batch[op] += rows;
		c->sent_rows += rows;
	}
}

static void close_statement(struct apply_ctx *c)
{
	if (c->rows == 0)
		return;
	struct atable *a = &c->tab[c->cur];
	smg_buf_add(&c->sql, a->tail[c->op].data, a->tail[c->op].len);
	/* a parked row is counted by the write after it */
	c->in_unit = true;
	add_statement(c, c->sql.data, c->sql.len, &c->ps, c->cur, c->op,
		      c->op == OP_PARK ? 0 : c->rows);
	c->in_unit = false;
	c->rows = 0;
	if (c->send && !c->failed) {
		if (c->nunits == c->unitcap) {
			c->unitcap = c->unitcap ? 2 * c->unitcap : 16;
			c->units = smg_xrealloc(c->units, c->unitcap * sizeof *c->units);
		}
		struct unit *u = &c->units[c->nunits++];
		*u = (struct unit){c->cur, c->sop, c->op, smg_xcalloc(c->noffs + 1, sizeof *u->offs),
				   c->noffs};
		memcpy(u->offs, c->offs, c->noffs * sizeof *u->offs);
	}
	c->noffs = 0;
}

/* One spooled tuple into tuple and its parameters into tp. */
static void read_tuple(FILE *f, size_t ti, struct smg_buf *tuple, struct params *tp,
		       struct smg_buf *pdata)
{
	uint32_t hdr[3];
	if (!spool_read(f, hdr, sizeof hdr) || hdr[0] != ti)
		smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
	uint32_t sqllen = hdr[1], np = hdr[2];
	smg_buf_reset(tuple);
	smg_buf_grow(tuple, sqllen + 1);
	spool_read(f, tuple->data, sqllen);
	tuple->len = sqllen;
	remote_params_reset(tp);
	for (uint32_t k = 0; k < np; k++) {
		char kind;
		uint32_t len;
		spool_read(f, &kind, 1);
		spool_read(f, &len, sizeof len);
		smg_buf_reset(pdata);
		smg_buf_grow(pdata, len + 1);
		spool_read(f, pdata->data, len);
		remote_params_add(tp, kind, pdata->data, len);
	}
}

static void append_tuple(struct smg_buf *sql, struct params *ps, const struct smg_buf *tuple,
			 const struct params *tp, bool comma)
{
	if (comma)
		smg_buf_addc(sql, ',');
	smg_buf_add(sql, tuple->data, tuple->len);
	for (size_t k = 0; k < tp->n; k++)
		remote_params_add(ps, tp->v[k].kind, tp->data.data + tp->v[k].off, tp->v[k].len);
}

/* The rows of table ti that go in pieces, one request each. */
static void run_long_rows(struct apply_ctx *c, size_t ti)
{
	struct long_rows *l = c->longs;
	struct smg_buf sql = SMG_BUF_INIT, pdata = SMG_BUF_INIT;
	for (size_t k = 0; l && k < l->n && !c->failed; k++) {
		if (l->v[k].table != ti)
			continue;
		uint32_t nstmts;
		if (fseek(l->f, l->v[k].off, SEEK_SET) != 0 || !spool_read(l->f, &nstmts, sizeof nstmts))
			smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
		flush_batch(c);
		int64_t batches = c->batches;
		for (uint32_t s = 0; s < nstmts && !c->failed; s++) {
			uint32_t hdr[2];
			spool_read(l->f, hdr, sizeof hdr);
			smg_buf_reset(&sql);
			smg_buf_grow(&sql, hdr[0] + 1);
			spool_read(l->f, sql.data, hdr[0]);
			sql.len = hdr[0];
			struct params ps = {0};
			for (uint32_t i = 0; i < hdr[1]; i++) {
				uint32_t len;
				spool_read(l->f, &len, sizeof len);
				smg_buf_reset(&pdata);
				smg_buf_grow(&pdata, len + 1);
				spool_read(l->f, pdata.data, len);
				remote_params_add(&ps, 't', pdata.data, len);
			}
			add_statement(c, sql.data, sql.len, &ps, ti, OP_UPS, s == 0);
			remote_params_free(&ps);
		}
		if (c->batches != batches)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a row's long values do not fit in one "
				"request (max_request_bytes %ld, max_statements %ld)", c->r->t->name,
				c->tab[ti].t->name, c->p->max_request_bytes, c->p->max_statements);
		flush_batch(c);
	}
	smg_buf_free(&sql);
	smg_buf_free(&pdata);
}

/* One table's spooled changes of one kind (sop) into statements of kind
 * op, in batches; with parked, only the rows whose bit is park. */
static void run_changes(struct apply_ctx *c, size_t ti, int sop, int op, const unsigned char *parked,
			bool park, struct smg_buf *tuple, struct smg_buf *pdata)
{
	const struct smg_http_profile *p = c->p;
	struct atable *a = &c->tab[ti];
	FILE *f = c->spool[sop];
	if (a->n[sop] == 0)
		return;
	if (fseek(f, a->off[sop], SEEK_SET) != 0)
		smg_die(SMG_EXIT_FAILURE, "seeking in the spool file: %s", strerror(errno));
	c->rows = 0;
	c->cur = ti;
	c->op = op;
	struct params tp = {0};
	c->sop = sop;
	for (int64_t i = 0; i < a->n[sop] && !c->failed; i++) {
		long off = c->send ? ftell(f) : 0;
		read_tuple(f, ti, tuple, &tp, pdata);
		if (parked && uniq_bit(parked, (size_t)i) != park)
			continue;
		/* does it fit in the statement being built? */
		size_t add = remote_expanded_len(p, tuple->data, tuple->len, (long)c->ps.n);
		bool fits = c->rows > 0 && c->rows < c->batch_rows &&
			    (!p->max_params || (long)(c->ps.n + tp.n) <= p->max_params) &&
			    (!p->max_statement_bytes ||
			     c->sqlbytes + 1 + add + a->tail[op].len <= (size_t)p->max_statement_bytes);
		if (!fits) {
			close_statement(c);
			smg_buf_reset(&c->sql);
			remote_params_reset(&c->ps);
			smg_buf_add(&c->sql, a->head[op].data, a->head[op].len);
			c->sqlbytes = a->head[op].len;
			add = remote_expanded_len(p, tuple->data, tuple->len, 0);
		}
		append_tuple(&c->sql, &c->ps, tuple, &tp, c->rows > 0);
		c->sqlbytes += add + (c->rows > 0);
		c->rows++;
		if (c->send) {
			if (c->noffs == c->offcap) {
				c->offcap = c->offcap ? 2 * c->offcap : 128;
				c->offs = smg_xrealloc(c->offs, c->offcap * sizeof *c->offs);
			}
			c->offs[c->noffs++] = off;
		}
	}
	remote_params_free(&tp);
	close_statement(c);
}

/* ---- which row broke a constraint --------------------------------------------
 * The target's words name the table and the constraint, not the row.  On
 * an atomic profile the failed batch is sent again, cut after its first n
 * rows, with a last statement that always fails, so that nothing of it can
 * commit: the cut that still meets the constraint halves each time, about
 * 14 requests for the largest batch. */

#define PROBE_SQL "SELECT smg_probe_rolls_back()"

/* Does the batch, cut after n rows, meet the constraint?  -1: neither
 * that nor the probe's own failure came back (the search stops). */
static int probe(struct apply_ctx *c, size_t n, struct smg_buf *tuple, struct smg_buf *pdata)
{
	struct smg_remote *r = c->r;
	struct params none = {0}, tp = {0}, ps = {0};
	struct smg_buf sql = SMG_BUF_INIT;
	struct failure f;
	size_t need = 1;	/* the probe's statements: those cut, and the one that fails */
	for (size_t i = 0, left = n; i < c->nunits && left; i++, need++)
		left -= left < c->units[i].n ? left : c->units[i].n;
	if (c->p->max_statements && (long)need > c->p->max_statements)
		return -1;	/* (the row is in the last statement of a full batch) */
	if (*c->p->batch_prefix)
		remote_req_add(r, c->p->batch_prefix, strlen(c->p->batch_prefix), &none);
	for (size_t i = 0; i < c->nunits && n; i++) {
		const struct unit *u = &c->units[i];
		const struct atable *a = &c->tab[u->table];
		smg_buf_reset(&sql);
		remote_params_reset(&ps);
		smg_buf_add(&sql, a->head[u->op].data, a->head[u->op].len);
		for (size_t k = 0; k < u->n && n; k++, n--) {
			if (fseek(c->spool[u->sop], u->offs[k], SEEK_SET) != 0)
				smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
			read_tuple(c->spool[u->sop], u->table, tuple, &tp, pdata);
			append_tuple(&sql, &ps, tuple, &tp, k > 0);
		}
		smg_buf_add(&sql, a->tail[u->op].data, a->tail[u->op].len);
		remote_req_add(r, sql.data, sql.len, &ps);
	}
	remote_req_add(r, PROBE_SQL, strlen(PROBE_SQL), &none);
	int met = -1;
	if (!remote_send(r, &f))
		met = strstr(f.msg, "constraint failed") ? 1 : strstr(f.msg, "smg_probe_rolls_back") ? 0 : -1;
	smg_buf_free(&sql);
	remote_params_free(&tp);
	remote_params_free(&ps);
	return met;
}

/* The top-level items of a spooled tuple "(a,'b,c',CAST(x AS REAL)/2)"
 * (or a lone key "a"): where item i starts and ends. */
static size_t tuple_items(const char *s, size_t len, size_t *from, size_t *to, size_t max)
{
	size_t n = 0, depth = 0, start = 0;
	bool paren = len && s[0] == '(';
	for (size_t i = 0; i <= len; i++) {
		char ch = i < len ? s[i] : ',';
		if (ch == '\'') {
			for (i++; i < len && !(s[i] == '\'' && (i + 1 >= len || s[i + 1] != '\'')); i++)
				if (s[i] == '\'')
					i++;
			continue;
		}
		if (ch == '(' && depth++ == 0 && paren && i == 0) {
			start = 1;
			continue;
		}
		if (ch == ')' && --depth == 0 && paren)
			ch = ',', i = len;
		if (ch == ',' && depth <= (paren ? 1u : 0u) && n < max) {
			from[n] = start;
			to[n++] = i < len ? i : (paren ? len - 1 : len);
			start = i + 1;
		}
	}
	return n;
}

/* The key of a spooled tuple, as its SQL literals, "[1,'a']"; a bound
 * parameter shown as the text it carries. */
static void tuple_key(struct smg_buf *b, const struct smg_table *t, int op,
		      const struct smg_buf *tuple, const struct params *tp)
{
	size_t from[202], to[202];
	size_t n = tuple_items(tuple->data, tuple->len, from, to, 202);
	size_t param = 0;
	smg_buf_addc(b, '[');
	for (size_t k = 0; k < t->npk; k++) {
		size_t i = op == OP_DEL ? k : t->pk_idx[k];
		smg_buf_adds(b, k ? "," : "");
		if (i >= n) {
			smg_buf_adds(b, "?");
			continue;
		}
		for (size_t j = 0; j < from[i]; j++)	/* parameters before it */
			param += tuple->data[j] == '\x01';
		for (size_t j = from[i]; j < to[i] && j - from[i] < 200; j++) {
			if (tuple->data[j] != '\x01')
				smg_buf_addc(b, tuple->data[j]);
			else if (param < tp->n)
				smg_json_add_string(b, tp->data.data + tp->v[param].off, tp->v[param].len);
		}
		param = 0;
	}
	smg_buf_addc(b, ']');
}

/* How many rows the failed batch parks are no longer as the diff read
 * them (a read: one SELECT count(*) per park statement); -1 when the
 * answer says nothing. */
static int64_t exchange_changed(struct apply_ctx *c)
{
	struct smg_remote *r = c->r;
	struct smg_buf sql = SMG_BUF_INIT, tuple = SMG_BUF_INIT, pdata = SMG_BUF_INIT;
	struct params tp = {0}, ps = {0};
	int64_t want = 0, have = 0;
	long nq = 0;
	for (size_t i = 0; i < c->nunits; i++) {
		const struct unit *u = &c->units[i];
		const struct smg_table *t = c->tab[u->table].t;
		if (u->op != OP_PARK)
			continue;
		smg_buf_reset(&sql);
		remote_params_reset(&ps);
		smg_buf_adds(&sql, "SELECT count(*) AS c0 FROM ");
		smg_sql_ident(&sql, t->name);
		smg_buf_adds(&sql, ", (VALUES ");
		for (size_t k = 0; k < u->n; k++) {
			if (fseek(c->spool[u->sop], u->offs[k], SEEK_SET) != 0)
				smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
			read_tuple(c->spool[u->sop], u->table, &tuple, &tp, &pdata);
			append_tuple(&sql, &ps, &tuple, &tp, k > 0);
		}
		smg_buf_adds(&sql, ") AS smg_v WHERE ");
		add_key_match(&sql, t);
		smg_buf_adds(&sql, " AND ");
		add_row_match(&sql, t, t->ncols);
		remote_req_add(r, sql.data, sql.len, &ps);
		want += (int64_t)u->n;
		nq++;
	}
	struct failure f;
	if (nq && !remote_send(r, &f))
		have = -1;
	for (long i = 0; nq && have >= 0 && i < nq; i++) {
		const char *rows, *row, *cell;
		size_t rowslen, rowlen, celllen;
		char why[200];
		struct smg_jiter it;
		bool bad;
		if (!remote_find_rows(r, r->resp.body.data, r->resp.body.len, i, &rows, &rowslen, why,
				      sizeof why) || !smg_jarray(&it, rows, rowslen) ||
		    !smg_jnext(&it, &row, &rowlen) || remote_row_cells(row, rowlen, 1, &cell, &celllen,
									 &bad) != 1 || bad) {
			have = -1;
			break;
		}
		char *n = remote_cell_text(c->p, cell, celllen);
		have += n ? strtoll(n, NULL, 10) : 0;
		free(n);
	}
	smg_buf_free(&sql);
	smg_buf_free(&tuple);
	smg_buf_free(&pdata);
	remote_params_free(&tp);
	remote_params_free(&ps);
	return have < 0 ? -1 : want - have;
}

static void find_culprit(struct apply_ctx *c)
{
	size_t total = 0;
	for (size_t i = 0; i < c->nunits; i++)
		total += c->units[i].n;
	if (!c->p->atomic || c->batch_raw || !total)
		return;
	struct smg_buf tuple = SMG_BUF_INIT, pdata = SMG_BUF_INIT, key = SMG_BUF_INIT;
	size_t ok = 0, bad = total;	/* ok rows pass, bad rows meet it */
	while (bad - ok > 1) {
		size_t mid = ok + (bad - ok) / 2;
		int met = probe(c, mid, &tuple, &pdata);
		if (met < 0)
			goto out;
		*(met ? &bad : &ok) = mid;
	}
	/* row bad - 1, the first that meets the constraint (the whole batch
	 * met it when it was sent) */
	size_t row = bad - 1;
	for (size_t i = 0; i < c->nunits; i++) {
		const struct unit *u = &c->units[i];
		if (row >= u->n) {
			row -= u->n;
			continue;
		}
		struct params tp = {0};
		fseek(c->spool[u->sop], u->offs[row], SEEK_SET);
		read_tuple(c->spool[u->sop], u->table, &tuple, &tp, &pdata);
		tuple_key(&key, c->tab[u->table].t, u->op, &tuple, &tp);
		remote_params_free(&tp);
		struct smg_buf msg = SMG_BUF_INIT;
		smg_buf_addf(&msg, "%s (table \"%s\", key %s%s)", c->fail.msg,
			     c->tab[u->table].t->name, key.data,
			     u->op == OP_PARK ? ", as it was parked" : "");
		snprintf(c->fail.msg, sizeof c->fail.msg, "%s", msg.data);
		smg_buf_free(&msg);
		break;
	}
out:
	smg_buf_free(&tuple);
	smg_buf_free(&pdata);
	smg_buf_free(&key);
}

/* A table's updates: those to park first, parked and then written in one
 * batch (when the planning pass saw them spread over two, they go in a
 * batch of their own; see smg_remote_apply), then the others. */
static void run_updates(struct apply_ctx *c, size_t ti, struct smg_buf *tuple, struct smg_buf *pdata)
{
	struct atable *a = &c->tab[ti];
	if (a->nparked) {
		if (a->park_alone)
			flush_batch(c);
		int64_t batches = c->batches;
		run_changes(c, ti, OP_UPD, OP_PARK, a->parked, true, tuple, pdata);
		run_changes(c, ti, OP_UPD, OP_UPDP, a->parked, true, tuple, pdata);
		if (c->batches != batches)
			a->park_spans = true;
	}
	run_changes(c, ti, OP_UPD, OP_UPD, a->parked, false, tuple, pdata);
}

/*
 * Pass 2 (plan) and 3 (send): statements from the spool, in batches.  A
 * batch is a transaction, and foreign keys are checked at its commit, but
 * a push of any size takes many batches: so tables to create go first,
 * then deletes, children before parents, then upserts, parents before
 * children.
 * Each batch then leaves every reference whole, as the target demands.
 */
static void run_batches(struct apply_ctx *c, const size_t *order, bool send)
{
	struct smg_buf tuple = SMG_BUF_INIT, pdata = SMG_BUF_INIT;
	struct params none = {0};
	c->send = send;
	c->batches = c->statements = c->sent_rows = 0;
	for (size_t k = 0; k < c->ntab && !c->failed; k++) {
		const struct atable *a = &c->tab[order[k]];
		if (a->create) {
			add_statement(c, a->t->sql, strlen(a->t->sql), &none, order[k], -1, 0);
			for (size_t i = 0; i < a->t->nindexes; i++)
				add_statement(c, a->t->indexes[i], strlen(a->t->indexes[i]), &none,
					      order[k], -1, 0);
		}
		for (size_t i = 0; i < a->nadd; i++)
			add_statement(c, a->add_sql[i], strlen(a->add_sql[i]), &none, order[k], -1, 0);
	}
	for (size_t k = c->ntab; k-- > 0 && !c->failed;) {
		run_changes(c, order[k], OP_GDEL, OP_GDEL, NULL, false, &tuple, &pdata);
		run_changes(c, order[k], OP_DEL, OP_DEL, NULL, false, &tuple, &pdata);
	}
	/* updates before inserts: a value moved to a new row is free by then */
	for (size_t k = 0; k < c->ntab && !c->failed; k++) {
		run_updates(c, order[k], &tuple, &pdata);
		run_changes(c, order[k], OP_UPS, OP_UPS, NULL, false, &tuple, &pdata);
		run_changes(c, order[k], OP_INS, OP_INS, NULL, false, &tuple, &pdata);
		run_long_rows(c, order[k]);
	}
	flush_batch(c);
	if (c->progress && send)
		smg_progress_done();
	smg_buf_free(&tuple);
	smg_buf_free(&pdata);
}

/* Pass 2: how many batches.  Rows parked and written must land together:
 * where they did not fit in what was left of a batch, they get a batch of
 * their own, and where they do not fit in one either, nothing is sent. */
static void plan_batches(struct apply_ctx *c, const size_t *order)
{
	for (int round = 0; round < 2; round++) {
		bool again = false;
		for (size_t i = 0; i < c->ntab; i++)
			memset(c->tab[i].planned, 0, sizeof c->tab[i].planned);
		run_batches(c, order, false);
		for (size_t i = 0; i < c->ntab; i++) {
			struct atable *a = &c->tab[i];
			if (!a->park_spans)
				continue;
			if (a->park_alone)
				smg_die(SMG_EXIT_DATA, "%s: table \"%s\": %zu rows exchange UNIQUE "
					"values among themselves, more than one request takes (batch_size "
					"%ld, max_statements %ld, max_request_bytes %ld): nothing was "
					"written", c->r->t->name, a->t->name, a->nparked, c->batch_rows,
					c->p->max_statements, c->p->max_request_bytes);
			a->park_alone = true;
			a->park_spans = false;
			again = true;
		}
		if (!again)
			return;
	}
}

/* The stream's tables, parents first, by the target's own schema (or the
 * stream's, for a table still to be created). */
static size_t *table_order(const struct apply_ctx *c, struct schema *s)
{
	const char **names = smg_xcalloc(c->ntab + 1, sizeof *names);
	const char **sql = smg_xcalloc(c->ntab + 1, sizeof *sql);
	size_t *order = smg_xcalloc(c->ntab + 1, sizeof *order);
	for (size_t i = 0; i < c->ntab; i++) {
		const struct rtable *rt = remote_schema_find(s, c->tab[i].t->name);
		names[i] = c->tab[i].t->name;
		sql[i] = rt && rt->t->sql ? rt->t->sql : c->tab[i].t->sql;
	}
	smg_tables_parents_first(names, sql, c->ntab, order);
	free(names);
	free(sql);
	return order;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int smg_remote_apply(struct smg_remote *r, struct smg_reader *in,
		     const struct smg_apply_opts *o, struct smg_remote_result *res)
{
	memset(res, 0, sizeof *res);
	if (r->p->read_only)
		smg_die(SMG_EXIT_USAGE, "%s: the %s profile is read-only: it cannot be written to",
			r->t->name, r->p->name);
	if (!strcmp(r->p->method, "GET"))
		smg_die(SMG_EXIT_USAGE, "%s: the %s profile sends GET requests: it cannot write",
			r->t->name, r->p->name);
	struct apply_ctx c = {.r = r, .p = r->p, .progress = o->progress};
	c.batch_rows = r->t->batch_rows > 0 ? r->t->batch_rows : 100;
	for (int op = 0; op < NSPOOLS; op++) {
		c.spool[op] = tmpfile();
		if (!c.spool[op])
			smg_die(SMG_EXIT_FAILURE, "cannot create a spool file: %s", strerror(errno));
	}
	struct schema s;
	remote_schema_load(r, &s);
	spool_stream(&c, &s, in, o);
	size_t *order = table_order(&c, &s);
	remote_schema_free(&s);
	for (size_t i = 0; i < c.ntab; i++)
		for (int op = 0; op < NSPOOLS; op++)
			c.total_rows += c.tab[i].n[op];
	{
		struct smg_buf b = SMG_BUF_INIT;
		struct smg_tvar v = {"statements", "", 0, false};
		smg_template_expand(&b, r->p->body, &v, 1, 0, 999999);
		c.body_overhead = b.len;
		smg_buf_free(&b);
	}
	plan_batches(&c, order);
	res->batches = c.batches;
	res->statements = c.statements;
	if (!o->dry_run)
		run_batches(&c, order, true);
	if (!o->dry_run && !c.failed && c.ntombs)
		send_tombstones(&c);
	smg_buf_free(&c.tombs);
	free(order);
	res->landed = c.landed;
	res->requests = r->requests;
	res->res.unconditional = c.unchecked;
	res->res.conflicts = c.conflicts;
	res->res.rest_written = true;
	res->res.stopped = c.failed;
	free(c.guards);
	free_units(&c);
	free(c.units);
	free(c.offs);
	res->code = c.failed ? (c.fail.code ? c.fail.code : SMG_EXIT_FAILURE) : 0;
	if (!res->code && c.conflicts)
		res->code = SMG_EXIT_CONFLICT;
	if (c.failed) {
		snprintf(res->error, sizeof res->error, "%s", c.fail.msg);
		res->maybe_landed = c.fail.maybe_landed;
	}
	res->res.tables = smg_xcalloc(c.ntab + 1, sizeof *res->res.tables);
	res->res.ntables = c.ntab;
	for (size_t i = 0; i < c.ntab; i++) {
		struct atable *a = &c.tab[i];
		struct smg_apply_table *t = &res->res.tables[i];
		t->name = smg_xstrdup(a->t->name);
		t->created = a->create && (o->dry_run || a->create_batch <= c.landed);
		for (int op = 0; op < NOPS; op++) {
			int64_t *n = is_upsert(op) ? &t->upserted : &t->deleted;
			int64_t *pending = is_upsert(op) ? &res->pending_upserts : &res->pending_deletes;
			*n += o->dry_run ? a->planned[op] : a->landed[op] - a->conflicts[op];
			t->conflicts += a->conflicts[op];
			if (!o->dry_run)
				*pending += a->planned[op] - a->landed[op];
			smg_buf_free(&a->head[op]);
			smg_buf_free(&a->tail[op]);
		}
		if (a->nadd && (o->dry_run || a->create_batch <= c.landed)) {
			t->added = a->add;
			t->nadded = a->nadd;
			a->add = NULL;
		}
		free_list(a->add, a->nadd);
		free_list(a->add_sql, a->nadd);
		res->res.upserted += t->upserted;
		res->res.deleted += t->deleted;
		smg_table_free(a->t);
		uniq_rows_free(&a->ur);
		free(a->parked);
	}
	free(c.tab);
	remote_unique_free(&c.udb);
	for (int op = 0; op < NSPOOLS; op++)
		fclose(c.spool[op]);
	long_rows_free(&c);
	smg_buf_free(&c.sql);
	smg_buf_free(&c.rendered);
	remote_params_free(&c.ps);
	return res->code;
}

void smg_remote_result_free(struct smg_remote_result *res)
{
	smg_apply_result_free(&res->res);
	memset(res, 0, sizeof *res);
}

void smg_remote_report_text(struct smg_buf *b, const char *target,
			    const struct smg_remote_result *res, bool dry_run)
{
	smg_apply_report_text(b, target, &res->res, dry_run);
	if (dry_run)
		smg_buf_addf(b, "%s: would send %lld batch%s (%lld statement%s)\n", target,
			     (long long)res->batches, res->batches == 1 ? "" : "es",
			     (long long)res->statements, res->statements == 1 ? "" : "s");
	else
		smg_buf_addf(b, "%s: %lld of %lld batch%s landed (%lld statement%s) in %lld "
			     "request%s\n", target, (long long)res->landed, (long long)res->batches,
			     res->batches == 1 ? "" : "es", (long long)res->statements,
			     res->statements == 1 ? "" : "s", (long long)res->requests,
			     res->requests == 1 ? "" : "s");
}

void smg_remote_report_json(struct smg_buf *b, const char *target,
			    const struct smg_remote_result *res, bool dry_run)
{
	size_t start = b->len;
	smg_apply_report_json(b, target, &res->res, dry_run);
	/* the same object with the batches added */
	while (b->len > start && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '}'))
		b->len--;
	smg_buf_addf(b, ",\"complete\":%s,\"batches\":%lld,\"landed\":%lld,\"statements\":%lld,"
		     "\"requests\":%lld", res->code ? "false" : "true", (long long)res->batches,
		     (long long)res->landed, (long long)res->statements, (long long)res->requests);
	if (res->code && res->error[0]) {
		smg_buf_addf(b, ",\"failed_batch\":%lld,\"pending_upserts\":%lld,"
			     "\"pending_deletes\":%lld,\"maybe_landed\":%s,\"exit\":%d,\"error\":",
			     (long long)res->landed + 1, (long long)res->pending_upserts,
			     (long long)res->pending_deletes, res->maybe_landed ? "true" : "false",
			     res->code);
		smg_json_add_string(b, res->error, strlen(res->error));
	}
	smg_buf_adds(b, "}\n");
}

void smg_remote_report_failure(const char *target, const struct smg_remote_result *res)
{
	smg_warn("%s", res->error);
	struct smg_buf b = SMG_BUF_INIT;
	for (size_t i = 0; i < res->res.ntables; i++) {
		const struct smg_apply_table *t = &res->res.tables[i];
		if (!t->upserted && !t->deleted)
			continue;
		smg_buf_addf(&b, "%s%s: %lld upserted, %lld deleted", b.len ? "; " : "", t->name,
			     (long long)t->upserted, (long long)t->deleted);
	}
	if (res->landed)
		smg_warn("%s: batches 1-%lld of %lld landed (%s)", target, (long long)res->landed,
			 (long long)res->batches, b.len ? b.data : "no rows");
	else
		smg_warn("%s: no batch of %lld landed", target, (long long)res->batches);
	smg_warn("%s: batch %lld%s and the %lld after it did not land: %lld upserts and %lld "
		 "deletes; running the same sync again finishes the job", target,
		 (long long)res->landed + 1,
		 res->maybe_landed ? " (which may have committed before the connection broke)" : "",
		 (long long)(res->batches - res->landed - 1), (long long)res->pending_upserts,
		 (long long)res->pending_deletes);
	smg_buf_free(&b);
}
