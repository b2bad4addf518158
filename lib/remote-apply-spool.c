/*
 * remote-apply-spool.c - pass 1 of a remote write: read and check the whole
 * change stream against the target's schema and the profile's limits before
 * anything is sent, and spool each change as its SQL tuple, one file per
 * kind of statement; which updates must park their UNIQUE values.
 */
#include "remote-apply-int.h"
#include "schema.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
	rapply_build_heads(a);
	return a;
}

bool rapply_params_fit(const struct smg_http_profile *p, size_t nparams)
{
	return !p->max_params || (long)nparams <= p->max_params;
}

void rapply_check_limits(const struct apply_ctx *c, const struct atable *a, size_t nparams,
			 size_t bytes, struct smg_reader *in)
{
	const struct smg_http_profile *p = c->p;
	if (!rapply_params_fit(p, nparams))
		smg_reader_die(in, "table \"%s\": a row needs %zu bound parameters, more than "
			       "the %ld a statement of %s takes", a->t->name, nparams,
			       p->max_params, c->r->t->name);
	if (p->max_statement_bytes && bytes > (size_t)p->max_statement_bytes)
		smg_reader_die(in, "table \"%s\": a row needs a %zu-byte statement, more than "
			       "max_statement_bytes (%ld)", a->t->name, bytes, p->max_statement_bytes);
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
		if (attempt == 0 && !rapply_params_fit(p, c->ps.n))
			continue;	/* again, with text and blobs as literals */
		size_t bytes = a->head[op].len + a->tail[op].len +
			       remote_expanded_len(p, c->sql.data, c->sql.len, 0);
		rapply_check_limits(c, a, c->ps.n, bytes, in);
		break;
	}
	rapply_write_tuple(c->spool[op], c->ntab - 1, &c->sql, &c->ps);
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
		rapply_build_park(a, c->nonce);
		rapply_build_update(a, OP_UPDP, c->nonce);
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
		pieces = pieces || rapply_needs_pieces(c->p, &vals[i]);
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
	rapply_spool_long_row(c, a, vals, in);
	return true;
}

/* Pass 1: read and check the whole stream, spooling its SQL. */
void rapply_spool_stream(struct apply_ctx *c, struct schema *s, struct smg_reader *in,
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
				rapply_record_tombstone(c, a->t, rec);
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

