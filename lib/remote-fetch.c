/*
 * remote-fetch.c - reading a remote target: its schema, and every selected
 * table's rows, losslessly, in key order, paged by key (see remote.h and
 * tests/d1/FIDELITY.md).
 */
#include "remote-int.h"
#include "progress.h"
#include "tomb.h"

#include <stdlib.h>
#include <string.h>

/* First pages of this many tables share one request. */
#define FETCH_GROUP_MAX 10

#define TABLE_FILTER                                                               \
	"m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "            \
	"AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "                              \
	"AND coalesce(m.sql, '') NOT LIKE 'CREATE VIRTUAL%'"

static const char schema_columns_sql[] =
	"SELECT m.name AS c0, CASE WHEN p.cid = 0 THEN m.sql END AS c1, p.name AS c2, "
	"p.pk AS c3, p.hidden AS c4 "
	"FROM sqlite_master m, pragma_table_xinfo(m.name) p WHERE " TABLE_FILTER
	" ORDER BY m.name, p.cid";
static const char schema_collations_sql[] =
	"SELECT m.name AS c0, i.name AS c1, i.coll AS c2 FROM sqlite_master m, pragma_index_list(m.name) l, "
	"pragma_index_xinfo(l.name) i WHERE " TABLE_FILTER
	" AND l.origin = 'pk' AND i.key = 1 AND upper(i.coll) <> 'BINARY'";
/* the indexes the user made, as smg_db_table reads a local table's */
static const char schema_indexes_sql[] =
	"SELECT m.name AS c0, i.sql AS c1 FROM sqlite_master m, sqlite_master i WHERE " TABLE_FILTER
	" AND i.type = 'index' AND i.tbl_name = m.name AND i.sql IS NOT NULL"
	" ORDER BY m.name, i.name COLLATE BINARY";

static int by_rtable_name(const void *a, const void *b)
{
	return strcmp(((const struct rtable *)a)->t->name, ((const struct rtable *)b)->t->name);
}

struct rtable *remote_schema_find(struct schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].t->name, name))
			return &s->v[i];
	return NULL;
}

void remote_schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		smg_table_free(s->v[i].t);
		smg_strings_free(s->v[i].nonbinary, s->v[i].nnonbinary);
		free(s->v[i].col_pk);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void schema_read_columns(struct smg_remote *r, struct schema *s, const char *body,
				size_t blen, long stmt)
{
	struct smg_jiter rows;
	const char *row, *span;
	size_t rowlen, spanlen;
	remote_answer_rows(r, body, blen, stmt, "the schema query", &span, &spanlen);
	smg_jarray(&rows, span, spanlen);
	char *pknames[101] = {0};
	size_t npk = 0;
	struct rtable *cur = NULL;
	for (;;) {
		bool more = smg_jnext(&rows, &row, &rowlen);
		char *f[5] = {0};
		if (more) {
			const char *cell[5];
			size_t celllen[5];
			bool bad;
			size_t k = remote_row_cells(row, rowlen, 5, cell, celllen, &bad);
			if (k != 5 || bad)
				smg_die(SMG_EXIT_DATA, "%s: malformed schema row", r->t->name);
			for (k = 0; k < 5; k++)
				f[k] = remote_cell_text(r->p, cell[k], celllen[k]);
			if (!f[0] || !f[2])
				smg_die(SMG_EXIT_DATA, "%s: malformed schema row", r->t->name);
		}
		if (cur && (!more || strcmp(cur->t->name, f[0]))) {
			for (size_t k = 0; k < npk; k++) {
				if (pknames[k])
					smg_table_add_pk(cur->t, pknames[k]);
				free(pknames[k]);
				pknames[k] = NULL;
			}
			npk = 0;
			cur = NULL;
		}
		if (!more)
			break;
		if (!cur) {
			s->v = smg_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
			cur = &s->v[s->n++];
			memset(cur, 0, sizeof *cur);
			cur->t = smg_table_new(f[0]);
			cur->t->sql = f[1] ? smg_xstrdup(f[1]) : NULL;
		}
		long pk = strtol(f[3] ? f[3] : "0", NULL, 10);
		long hidden = strtol(f[4] ? f[4] : "0", NULL, 10);
		if (hidden == 0) {
			cur->col_pk = smg_xrealloc(cur->col_pk, (cur->t->ncols + 1) * sizeof *cur->col_pk);
			cur->col_pk[cur->t->ncols] = pk > 0 && pk <= 100 ? (int)pk : 0;
			smg_table_add_col(cur->t, f[2]);
		}
		if (pk > 0 && pk <= 100) {
			free(pknames[pk - 1]);
			pknames[pk - 1] = smg_xstrdup(f[2]);
			npk = (size_t)pk > npk ? (size_t)pk : npk;
		}
		for (size_t k = 0; k < 5; k++)
			free(f[k]);
	}
	if (rows.bad)
		smg_die(SMG_EXIT_DATA, "%s: malformed answer to the schema query", r->t->name);
	qsort(s->v, s->n, sizeof *s->v, by_rtable_name);
}

/* Each row of statement stmt's answer (to what) as n text cells, NULL for
 * a NULL, handed to take; a row of another shape is an error (exit 7). */
static void schema_each_row(struct smg_remote *r, struct schema *s, const char *body, size_t blen,
			    long stmt, const char *what, size_t n,
			    void (*take)(struct schema *s, char *const *f))
{
	struct smg_jiter rows;
	const char *row, *cell[3], *span;
	size_t rowlen, celllen[3], spanlen;
	remote_answer_rows(r, body, blen, stmt, what, &span, &spanlen);
	smg_jarray(&rows, span, spanlen);
	while (smg_jnext(&rows, &row, &rowlen)) {
		char *f[3];
		bool bad;
		if (remote_row_cells(row, rowlen, n, cell, celllen, &bad) != n || bad)
			smg_die(SMG_EXIT_DATA, "%s: malformed row in the answer to %s", r->t->name, what);
		for (size_t k = 0; k < n; k++)
			f[k] = remote_cell_text(r->p, cell[k], celllen[k]);
		take(s, f);
		for (size_t k = 0; k < n; k++)
			free(f[k]);
	}
	if (rows.bad)
		smg_die(SMG_EXIT_DATA, "%s: malformed answer to %s", r->t->name, what);
}

/* A table whose key column is not BINARY: its keys are paged in its order.
 * (A table made between two requests is not in the schema read.) */
static void take_collation(struct schema *s, char *const *f)
{
	struct rtable *rt = f[0] && f[1] ? remote_schema_find(s, f[0]) : NULL;
	if (rt) {
		rt->nonbinary = smg_xrealloc(rt->nonbinary, (rt->nnonbinary + 1) * sizeof *rt->nonbinary);
		rt->nonbinary[rt->nnonbinary++] = smg_xstrdup(f[1]);
	}
}

static void schema_read_collations(struct smg_remote *r, struct schema *s, const char *body,
				   size_t blen, long stmt)
{
	schema_each_row(r, s, body, blen, stmt, "the collation query", 3, take_collation);
}

/* A CREATE INDEX statement of a table, for a table created from its record
 * (--create-tables) to get it, and with it its UNIQUE rules. */
static void take_index(struct schema *s, char *const *f)
{
	struct rtable *rt = f[0] && f[1] ? remote_schema_find(s, f[0]) : NULL;
	if (rt)
		smg_table_add_index(rt->t, f[1]);
}

static void schema_read_indexes(struct smg_remote *r, struct schema *s, const char *body,
				size_t blen, long stmt)
{
	schema_each_row(r, s, body, blen, stmt, "the index query", 2, take_index);
}

/*
 * The functions a profile may use, asked of the endpoint once per run in
 * the schema's request: unhex() writes long blobs (SQLite >= 3.41),
 * atan2() reads the sign of -0.0.  A missing one fails the statement that
 * calls it, and with it the request; NULL when nothing is left to ask.
 */
static const char *probe_sql(const struct smg_http_profile *p)
{
	if (p->unhex && p->neg_zero)
		return "SELECT hex(unhex('00')) AS c0, atan2(0.0, -1.0) AS c1";
	if (p->unhex)
		return "SELECT hex(unhex('00')) AS c0";
	if (p->neg_zero)
		return "SELECT atan2(0.0, -1.0) AS c0";
	return NULL;
}

/* A failure that says the probe's function is missing drops it from the
 * profile: true if it did. */
static bool drop_missing(struct smg_remote *r, const char *msg)
{
	if (r->prof.unhex && strstr(msg, "no such function: unhex")) {
		r->prof.unhex = false;
		return true;
	}
	if (r->prof.neg_zero && strstr(msg, "no such function: atan2")) {
		r->prof.neg_zero = false;
		return true;
	}
	return false;
}

/* Send the request built so far; a failure caused by the probe (which
 * the request holds when probing) drops what it found missing: false,
 * to build the request again. */
static bool send_probing(struct smg_remote *r, bool probing)
{
	struct failure f;
	if (remote_send(r, &f))
		return true;
	if (probing && drop_missing(r, f.msg)) {
		if (r->verbose)
			smg_warn("%s: %s; doing without", r->t->name, f.msg);
		return false;
	}
	smg_die(f.code ? f.code : SMG_EXIT_FAILURE, "%s", f.msg);
}

typedef void schema_reader(struct smg_remote *r, struct schema *s, const char *body, size_t blen,
			   long stmt);

/* One request (one a statement if the endpoint takes one at a time): the
 * tables, the collations, the indexes, and the probe until it has its
 * answer.  The columns come first: the others add to their tables. */
void remote_schema_load(struct smg_remote *r, struct schema *s)
{
	static schema_reader *const read[] = {schema_read_columns, schema_read_collations,
					      schema_read_indexes};
	enum { NREAD = sizeof read / sizeof *read };
	struct params none = {0};
	const char *sql[NREAD + 1] = {schema_columns_sql, schema_collations_sql, schema_indexes_sql};
	remote_probe_version(r);
	memset(s, 0, sizeof *s);
	for (;;) {
		size_t n = NREAD;
		if (!r->probed && (sql[NREAD] = probe_sql(r->p)))
			n++;
		r->probed = true;
		bool together = (size_t)r->p->max_statements >= n, sent = true;
		for (size_t k = 0; k < n && sent; k++) {
			remote_req_add(r, sql[k], strlen(sql[k]), &none);
			if (!together || k == n - 1)
				sent = send_probing(r, k == NREAD);
			if (sent && !together && k < NREAD)
				read[k](r, s, r->resp.body.data, r->resp.body.len, 0);
		}
		if (!sent) {
			remote_schema_free(s);
			r->probed = false;
			continue;
		}
		for (size_t k = 0; together && k < NREAD; k++)
			read[k](r, s, r->resp.body.data, r->resp.body.len, (long)k);
		break;
	}
	for (size_t i = 0; i < s->n; i++)
		smg_table_finish(s->v[i].t, NULL);	/* a table without a key says so later */
}

static bool listed(char **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

char *remote_schema_names(const struct schema *s)
{
	struct smg_buf b = SMG_BUF_INIT;
	for (size_t i = 0; i < s->n; i++) {
		if (b.len)
			smg_buf_adds(&b, ", ");
		smg_buf_adds(&b, s->v[i].t->name);
	}
	if (!b.len)
		smg_buf_adds(&b, "(none)");
	return smg_buf_detach(&b);
}

/* The stream's view of one endpoint table under sel, as smg_db_table. */
static struct smg_table *select_table(const struct rtable *rt, const struct smg_select *sel,
				      const char **why)
{
	const struct smg_table *all = rt->t;
	struct smg_table *t = smg_table_new(all->name);
	for (size_t i = 0; i < all->ncols; i++)
		if (rt->col_pk[i] || !smg_column_excluded(sel, all->name, all->cols[i]))
			smg_table_add_col(t, all->cols[i]);
	for (size_t k = 0; k < all->npk; k++)
		smg_table_add_pk(t, all->pk[k]);
	if (all->sql)
		t->sql = smg_xstrdup(all->sql);
	for (size_t i = 0; i < all->nindexes; i++)
		smg_table_add_index(t, all->indexes[i]);
	return smg_table_done(t, sel->ts, why);
}

static struct smg_table **select_tables(struct smg_remote *r, struct schema *s,
					const struct smg_select *sel, size_t *n)
{
	struct smg_table **out = smg_xcalloc(s->n + 1, sizeof *out);
	*n = 0;
	for (size_t i = 0; i < sel->ntables; i++) {
		if (!remote_schema_find(s, sel->tables[i])) {
			char *have = remote_schema_names(s);
			smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" (tables: %s)", r->t->name,
				sel->tables[i], have);
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const char *name = s->v[i].t->name;
		if (sel->ntables ? !listed(sel->tables, sel->ntables, name)
				 : listed(sel->exclude_tables, sel->nexclude_tables, name))
			continue;
		const char *why = NULL;
		struct smg_table *t = select_table(&s->v[i], sel, &why);
		if (t)
			out[(*n)++] = t;
		else if (sel->ntables)
			smg_table_refuse(r->t->name, name, why, sel->tracking);
		else
			smg_warn("%s: skipping table \"%s\": %s", r->t->name, name, why);
	}
	return out;
}

struct smg_table **smg_remote_tables(struct smg_remote *r, const struct smg_select *sel, size_t *n)
{
	struct schema s;
	remote_schema_load(r, &s);
	struct smg_table **t = select_tables(r, &s, sel, n);
	remote_schema_free(&s);
	return t;
}

/* ---- fetch ------------------------------------------------------------------------------ */
struct key_copy {
	struct smg_value *v;
	struct smg_buf data;
	bool set;
};

static void key_save(struct key_copy *k, const struct smg_table *t, const struct smg_value *vals)
{
	smg_buf_reset(&k->data);
	for (size_t i = 0; i < t->npk; i++) {
		const struct smg_value *v = &vals[t->pk_idx[i]];
		if (v->type == SMG_TEXT || v->type == SMG_BLOB)
			smg_buf_add(&k->data, v->p, v->n);
	}
	size_t off = 0;
	for (size_t i = 0; i < t->npk; i++) {
		k->v[i] = vals[t->pk_idx[i]];
		if (k->v[i].type == SMG_TEXT || k->v[i].type == SMG_BLOB) {
			k->v[i].p = k->data.data + off;
			off += k->v[i].n;
		}
	}
	k->set = true;
}

static bool nonbinary(const struct rtable *rt, const char *col)
{
	for (size_t i = 0; i < rt->nnonbinary; i++)
		if (!strcmp(rt->nonbinary[i], col))
			return true;
	return false;
}

/* SELECT ... WHERE key > last ORDER BY key LIMIT page: paged by key, never
 * by OFFSET, so each page is an index seek. */
static void page_sql(const struct smg_http_profile *p, const struct rtable *rt,
		     const struct smg_table *t, const struct key_copy *last, struct smg_buf *sql,
		     struct params *ps)
{
	smg_buf_reset(sql);
	remote_params_reset(ps);
	smg_buf_adds(sql, "SELECT ");
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			smg_buf_addc(sql, ',');
		remote_tagged_column(p, sql, t->cols[i], i);
	}
	smg_buf_adds(sql, " FROM ");
	smg_sql_ident(sql, t->name);
	bool plain = true;	/* every key column compares as BINARY */
	for (size_t k = 0; k < t->npk; k++)
		if (nonbinary(rt, t->pk[k]))
			plain = false;
	if (last && last->set) {
		for (size_t k = 0; k < t->npk; k++)
			if (last->v[k].type == SMG_NULL)
				smg_die(SMG_EXIT_DATA, "table \"%s\": a NULL in the primary key cannot be "
					"paged past (give the key column NOT NULL)", t->name);
		smg_buf_adds(sql, " WHERE ");
		if (t->npk == 1) {
			smg_sql_ident(sql, t->pk[0]);
			smg_buf_adds(sql, " COLLATE BINARY > ");
			remote_sql_value(p, sql, ps, &last->v[0], false);
		} else {
			if (!plain) {
				/* a row value with COLLATE cannot seek: bound the
				 * first column, which can */
				smg_sql_ident(sql, t->pk[0]);
				smg_buf_adds(sql, " COLLATE BINARY >= ");
				remote_sql_value(p, sql, ps, &last->v[0], false);
				smg_buf_adds(sql, " AND ");
			}
			smg_buf_addc(sql, '(');
			smg_sql_idents(sql, t->pk, t->npk, plain ? NULL : " COLLATE BINARY");
			smg_buf_adds(sql, ") > (");
			for (size_t k = 0; k < t->npk; k++) {
				if (k)
					smg_buf_addc(sql, ',');
				remote_sql_value(p, sql, ps, &last->v[k], false);
			}
			smg_buf_addc(sql, ')');
		}
	}
	smg_buf_adds(sql, " ORDER BY ");
	smg_sql_idents(sql, t->pk, t->npk, " COLLATE BINARY");
	smg_buf_addf(sql, " LIMIT %ld", p->page_rows);
}

struct fetch_state {
	struct smg_value *vals, *key;
	struct smg_buf *longs;		/* per column: a long value read in pieces */
	size_t nlongs;
	struct smg_buf kept;		/* the page's answer, while pieces are read */
	const char **cell;
	size_t *cell_len;
	struct key_copy last;
	int64_t rows, done;
	bool progress, keys_only;
	struct smg_writer *w;
	struct smg_tombs *tombs;	/* the table's, when it is tracked */
};

/* Where statement i's rows are in an answer, before anything in it is
 * decoded in place. */
struct rows_span {
	const char *p;
	size_t len;
	bool truncated;
};

static struct rows_span find_rows(struct smg_remote *r, const struct smg_table *t,
				  const char *body, size_t blen, long i)
{
	struct rows_span s = {NULL, 0, remote_answer_truncated(r)};
	struct smg_buf what = SMG_BUF_INIT;
	smg_buf_addf(&what, "table \"%s\"", t->name);
	remote_answer_rows(r, body, blen, i, what.data, &s.p, &s.len);
	smg_buf_free(&what);
	return s;
}

/* The hex of one piece of a long value, from statement i of the answer,
 * appended to out as bytes. */
static void add_piece(struct smg_remote *r, long i, const char *what, struct smg_buf *out)
{
	const char *span, *row, *cell;
	size_t spanlen, rowlen, celllen;
	bool bad;
	struct smg_jiter rows;
	remote_answer_rows(r, r->resp.body.data, r->resp.body.len, i, what, &span, &spanlen);
	smg_jarray(&rows, span, spanlen);
	if (!smg_jnext(&rows, &row, &rowlen))
		smg_die(SMG_EXIT_DATA, "%s: %s: the row went away while its long value was read",
			r->t->name, what);
	char *hex = remote_row_cells(row, rowlen, 1, &cell, &celllen, &bad) == 1 && !bad
		    ? remote_cell_text(r->p, cell, celllen) : NULL;
	size_t bytes;
	if (!hex || !remote_unhex(hex, strlen(hex), &bytes))
		smg_die(SMG_EXIT_DATA, "%s: %s: a piece of a long value is not hex", r->t->name, what);
	smg_buf_add(out, hex, bytes);
	free(hex);
}

/*
 * Column q of the row in fs->vals came as its length only (longer than
 * REMOTE_PIECE_BYTES): read it in pieces of hex, several statements to a
 * request, by the row's key.  The answer holding the row is kept aside,
 * since its cells are decoded in place.
 */
static void fetch_long_value(struct smg_remote *r, const struct smg_table *t,
			     struct fetch_state *fs, size_t q)
{
	struct smg_value *v = &fs->vals[q];
	struct smg_buf sql = SMG_BUF_INIT, col = SMG_BUF_INIT, what = SMG_BUF_INIT;
	struct params ps = {0};
	for (size_t k = 0; k < t->npk; k++)
		if (!fs->vals[t->pk_idx[k]].p && fs->vals[t->pk_idx[k]].type >= SMG_TEXT)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a key value of more than %d bytes",
				r->t->name, t->name, REMOTE_PIECE_BYTES);
	if (!fs->kept.data) {
		fs->kept = r->resp.body;
		memset(&r->resp.body, 0, sizeof r->resp.body);
	}
	smg_buf_addf(&what, "table \"%s\", key ", t->name);
	remote_key_text(&what, t, fs->vals);
	smg_buf_addf(&what, ", column \"%s\"", t->cols[q]);
	smg_sql_ident(&col, t->cols[q]);
	struct smg_buf *out = &fs->longs[q];
	smg_buf_reset(out);
	size_t pieces = (v->n + REMOTE_PIECE_BYTES - 1) / REMOTE_PIECE_BYTES;
	size_t per = r->p->max_statements < 4 ? (size_t)r->p->max_statements : 4;
	for (size_t first = 0; first < pieces; first += per) {
		size_t n = pieces - first < per ? pieces - first : per;
		for (size_t k = 0; k < n; k++) {
			smg_buf_reset(&sql);
			remote_params_reset(&ps);
			smg_buf_addf(&sql, "SELECT hex(substr(CAST(%s AS BLOB), %zu, %d)) AS c0 FROM ",
				     col.data, (first + k) * REMOTE_PIECE_BYTES + 1, REMOTE_PIECE_BYTES);
			smg_sql_ident(&sql, t->name);
			remote_key_match(r->p, &sql, &ps, t, fs->vals);
			remote_req_add(r, sql.data, sql.len, &ps);
		}
		remote_send_or_die(r);
		for (size_t k = 0; k < n; k++)
			add_piece(r, (long)k, what.data, out);
	}
	if (out->len != v->n)
		smg_die(SMG_EXIT_DATA, "%s: %s: the value changed while it was read (%zu bytes, then "
			"%zu)", r->t->name, what.data, v->n, out->len);
	v->p = out->data ? out->data : "";
	smg_buf_free(&sql);
	smg_buf_free(&col);
	smg_buf_free(&what);
	remote_params_free(&ps);
}

/* The tombstones of the table that come before key (NULL: all left), in
 * the one key order of rows and tombstones. */
static void tombs_before(struct smg_remote *r, struct fetch_state *fs, const struct smg_table *t,
			 const struct smg_value *key)
{
	const struct smg_value *tk, *ts;
	while (smg_tombs_peek(fs->tombs, &tk, &ts)) {
		int c = key ? smg_key_cmp(tk, key, t->npk) : -1;
		if (c > 0)
			break;
		if (c == 0)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": " SMG_TOMB_TABLE " is damaged: it "
				"holds a tombstone of a key the table has a row of (smugglr untrack and "
				"track again to start afresh)", r->t->name, t->name);
		smg_write_tombstone(fs->w, t, tk, ts);
		smg_tombs_advance(fs->tombs);
	}
}

/* Write the rows of one page; returns how many. */
static long fetch_rows(struct smg_remote *r, const struct smg_table *t, struct rows_span span,
		       struct fetch_state *fs)
{
	struct smg_jiter rows;
	const char *row;
	size_t rowlen;
	long n = 0;
	smg_jarray(&rows, span.p, span.len);
	unsigned char hash[SMG_HASH_LEN];
	while (smg_jnext(&rows, &row, &rowlen)) {
		/* find every cell before decoding any in place */
		bool bad;
		size_t k = remote_row_cells(row, rowlen, t->ncols, fs->cell, fs->cell_len, &bad);
		if (bad)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a row is neither an array nor an "
				"object", r->t->name, t->name);
		for (size_t q = 0; q < k && q < t->ncols; q++) {
			smg_buf_reset(&fs->longs[q]);
			const char *err = remote_decode_cell(r->p, fs->cell[q], fs->cell_len[q], &fs->vals[q],
							     &fs->longs[q]);
			if (err)
				smg_die(SMG_EXIT_DATA, "%s: table \"%s\", column \"%s\": %s", r->t->name,
					t->name, t->cols[q], err);
		}
		if (k != t->ncols)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a row has %s values than its %zu "
				"columns", r->t->name, t->name, k > t->ncols ? "more" : "fewer", t->ncols);
		for (size_t q = 0; q < t->ncols; q++)
			if ((fs->vals[q].type == SMG_TEXT || fs->vals[q].type == SMG_BLOB) && !fs->vals[q].p)
				fetch_long_value(r, t, fs, q);
		if (fs->last.set) {
			for (size_t q = 0; q < t->npk; q++)
				fs->key[q] = fs->vals[t->pk_idx[q]];
			if (smg_key_cmp(fs->key, fs->last.v, t->npk) <= 0)
				smg_die(SMG_EXIT_DATA, "%s: table \"%s\": rows came back out of key order "
					"(the endpoint does not sort or compare keys as SQLite does)",
					r->t->name, t->name);
		}
		for (size_t q = 0; q < t->npk; q++)
			fs->key[q] = fs->vals[t->pk_idx[q]];
		tombs_before(r, fs, t, fs->key);
		smg_hash_row(t, fs->vals, hash);
		smg_write_row_values(fs->w, t, fs->vals, hash, fs->keys_only);
		smg_writer_maybe_flush(fs->w);
		key_save(&fs->last, t, fs->vals);
		n++;
		if (fs->progress)
			smg_progress("fetch", ++fs->done, -1);
	}
	if (rows.bad)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\": malformed answer", r->t->name, t->name);
	smg_buf_free(&fs->kept);
	return n;
}

static void free_longs(struct fetch_state *fs)
{
	for (size_t q = 0; fs->longs && q < fs->nlongs; q++)
		smg_buf_free(&fs->longs[q]);
	free(fs->longs);
	fs->longs = NULL;
}

static void fetch_state_table(struct fetch_state *fs, const struct smg_table *t)
{
	free_longs(fs);
	fs->longs = smg_xcalloc(t->ncols, sizeof *fs->longs);
	fs->nlongs = t->ncols;
	free(fs->vals);
	free(fs->key);
	free(fs->cell);
	free(fs->cell_len);
	free(fs->last.v);
	fs->vals = smg_xcalloc(t->ncols, sizeof *fs->vals);
	fs->cell = smg_xcalloc(t->ncols, sizeof *fs->cell);
	fs->cell_len = smg_xcalloc(t->ncols, sizeof *fs->cell_len);
	fs->key = smg_xcalloc(t->npk, sizeof *fs->key);
	fs->last.v = smg_xcalloc(t->npk, sizeof *fs->last.v);
	fs->last.set = false;
}

/* The names (cell c0) of a statement's rows in the last answer, a NUL
 * after each; an empty answer is none. */
static size_t answer_names(struct smg_remote *r, const char *body, size_t len, long i,
			   struct smg_buf *out)
{
	const char *rows, *row, *cell;
	size_t rowslen, rowlen, cell_len, n = 0;
	char why[256];
	bool bad;
	if (!remote_find_rows(r, body, len, i, &rows, &rowslen, why, sizeof why))
		return 0;
	struct smg_jiter it;
	smg_jarray(&it, rows, rowslen);
	while (smg_jnext(&it, &row, &rowlen)) {
		if (remote_row_cells(row, rowlen, 1, &cell, &cell_len, &bad) != 1 || bad)
			continue;
		char *name = remote_cell_text(r->p, cell, cell_len);
		if (name)
			smg_buf_add(out, name, strlen(name) + 1), n++;
		free(name);
	}
	return n;
}

static bool has_name(const struct smg_buf *names, size_t n, const char *want)
{
	const char *p = names->data;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
		if (!strcmp(p, want))
			return true;
	return false;
}

/* The names of the triggers tracking tables (tomb.h), asked for with the
 * first pages: no request of its own. */
static const char triggers_sql[] = "SELECT name AS c0 FROM sqlite_schema WHERE type = "
	"'trigger' AND name LIKE '\\_smugglr\\_%' ESCAPE '\\'";

/* Which tables are tracked (their triggers are named in statement i of the
 * answer body, the last one): an empty set of tombstones for each, NULL
 * for an untracked table. */
static struct smg_tombs **tracked_tables(struct smg_remote *r, const char *body, size_t len,
					 long i_triggers, struct smg_table **t, size_t n)
{
	struct smg_tombs **tombs = smg_xcalloc(n + 1, sizeof *tombs);
	struct smg_buf names = SMG_BUF_INIT, want = SMG_BUF_INIT;
	size_t nn = answer_names(r, body, len, i_triggers, &names);
	for (size_t i = 0; i < n; i++) {
		smg_buf_reset(&want);
		smg_buf_addf(&want, "_smugglr_del_%s", t[i]->name);
		t[i]->tracked = has_name(&names, nn, want.data);
		smg_buf_reset(&want);
		smg_buf_addf(&want, "_smugglr_ins_%s", t[i]->name);
		t[i]->tracked = t[i]->tracked && has_name(&names, nn, want.data);
		if (t[i]->tracked)
			tombs[i] = smg_tombs_new(t[i]);
	}
	smg_buf_free(&names);
	smg_buf_free(&want);
	return tombs;
}

/* The tombstones of the tracked tables, read whole: a request of its own,
 * only when a table is tracked. */
static void read_tombstones(struct smg_remote *r, struct smg_tombs **tombs, struct smg_table **t,
			    size_t n)
{
	static const char tombs_sql[] = "SELECT tbl AS c0, key AS c1, deleted_at AS c2 FROM "
		SMG_TOMB_TABLE;
	struct params none = {0};
	bool any = false;
	for (size_t i = 0; i < n; i++)
		any = any || tombs[i];
	if (!any)
		return;
	remote_req_add(r, tombs_sql, strlen(tombs_sql), &none);
	remote_send_or_die(r);
	const char *rows, *row, *cell[3];
	size_t rowslen, rowlen, cell_len[3];
	char why[256];
	bool bad;
	if (remote_find_rows(r, r->resp.body.data, r->resp.body.len, 0, &rows, &rowslen, why,
			     sizeof why)) {
		struct smg_jiter it;
		smg_jarray(&it, rows, rowslen);
		while (smg_jnext(&it, &row, &rowlen)) {
			if (remote_row_cells(row, rowlen, 3, cell, cell_len, &bad) != 3 || bad)
				smg_die(SMG_EXIT_DATA, "%s: " SMG_TOMB_TABLE ": a row that is not "
					"(tbl, key, deleted_at)", r->t->name);
			char *v[3];
			for (int k = 0; k < 3; k++)
				v[k] = remote_cell_text(r->p, cell[k], cell_len[k]);
			for (size_t i = 0; v[0] && i < n; i++)
				if (tombs[i] && !strcmp(t[i]->name, v[0]))
					smg_tombs_add(tombs[i], r->t->name, t[i], v[1], v[2],
						      smg_tomb_horizon_days);
			for (int k = 0; k < 3; k++)
				free(v[k]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (tombs[i])
			smg_tombs_sort(tombs[i], r->t->name, t[i]);
}

void smg_remote_fetch(struct smg_remote *r, const struct smg_select *sel, struct smg_writer *w,
		      bool progress)
{
	struct schema s;
	size_t n;
	remote_schema_load(r, &s);
	struct smg_table **tables = select_tables(r, &s, sel, &n);
	struct smg_tombs **tombs = NULL;
	struct smg_buf sql = SMG_BUF_INIT, held = SMG_BUF_INIT;
	struct params ps = {0};
	struct fetch_state fs = {.w = w, .progress = progress, .keys_only = sel->keys_only};
	struct rows_span spans[FETCH_GROUP_MAX];
	long group = r->p->max_statements < FETCH_GROUP_MAX ? r->p->max_statements : FETCH_GROUP_MAX;
	/* the triggers go with the first pages when there is room, else first */
	bool apart = (size_t)r->p->max_statements <= (n < (size_t)group ? n : (size_t)group);
	if (apart && n) {
		remote_req_add(r, triggers_sql, strlen(triggers_sql), &(struct params){0});
		remote_send_or_die(r);
		tombs = tracked_tables(r, r->resp.body.data, r->resp.body.len, 0, tables, n);
		read_tombstones(r, tombs, tables, n);
	}
	for (size_t g = 0; g < n; g += (size_t)group) {
		size_t gn = n - g < (size_t)group ? n - g : (size_t)group;
		/* the first page of several tables in one request */
		for (size_t k = 0; k < gn; k++) {
			struct rtable *rt = remote_schema_find(&s, tables[g + k]->name);
			page_sql(r->p, rt, tables[g + k], NULL, &sql, &ps);
			remote_req_add(r, sql.data, sql.len, &ps);
		}
		bool with_triggers = !tombs;
		if (with_triggers)
			remote_req_add(r, triggers_sql, strlen(triggers_sql), &(struct params){0});
		remote_send_or_die(r);
		/* keep that answer while later pages of its tables are read */
		smg_buf_free(&held);
		held = r->resp.body;
		memset(&r->resp.body, 0, sizeof r->resp.body);
		for (size_t k = 0; k < gn; k++)
			spans[k] = find_rows(r, tables[g + k], held.data, held.len, (long)k);
		if (with_triggers) {	/* (after the spans: the next request is another answer) */
			tombs = tracked_tables(r, held.data, held.len, (long)gn, tables, n);
			read_tombstones(r, tombs, tables, n);
		}
		for (size_t k = 0; k < gn; k++) {
			const struct smg_table *t = tables[g + k];
			struct rtable *rt = remote_schema_find(&s, t->name);
			fetch_state_table(&fs, t);
			fs.tombs = tombs[g + k];
			smg_write_table(w, t);
			struct rows_span span = spans[k];
			long got = fetch_rows(r, t, span, &fs);
			while (got >= r->p->page_rows || (span.truncated && got > 0)) {
				page_sql(r->p, rt, t, &fs.last, &sql, &ps);
				remote_req_add(r, sql.data, sql.len, &ps);
				remote_send_or_die(r);
				span = find_rows(r, t, r->resp.body.data, r->resp.body.len, 0);
				got = fetch_rows(r, t, span, &fs);
			}
			tombs_before(r, &fs, t, NULL);
		}
	}
	for (size_t i = 0; i < n; i++)
		smg_tombs_free(tombs[i]);
	free(tombs);
	if (progress)
		smg_progress_done();
	smg_buf_free(&held);
	smg_buf_free(&sql);
	remote_params_free(&ps);
	free(fs.vals);
	free(fs.key);
	free(fs.cell);
	free(fs.cell_len);
	free(fs.last.v);
	free_longs(&fs);
	smg_buf_free(&fs.last.data);
	smg_tables_free(tables, n);
	remote_schema_free(&s);
}

