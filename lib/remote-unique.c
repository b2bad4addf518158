/*
 * remote-unique.c - which rows of a remote write must be parked because
 * another row of the same write takes their UNIQUE value (see
 * remote-unique.h; remote-apply.c writes them).
 */
#include "remote-unique.h"
#include "db.h"
#include "sql.h"

#include <stdlib.h>
#include <string.h>

/* Every UNIQUE index but the primary key's, its key columns in order; an
 * expression column has no name. */
static const char unique_sql[] =
	"SELECT m.name AS c0, l.name AS c1, i.name AS c2 FROM sqlite_master m, "
	"pragma_index_list(m.name) l, pragma_index_xinfo(l.name) i "
	"WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
	"AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "
	"AND l.\"unique\" = 1 AND l.origin <> 'pk' AND i.key = 1 "
	"ORDER BY m.name, l.name, i.seqno";

void remote_unique_load(struct smg_remote *r, struct uniq_db *u)
{
	struct params none = {0};
	const char *span, *row, *cell[3];
	size_t spanlen, rowlen, celllen[3];
	struct smg_jiter rows;
	struct failure f;
	memset(u, 0, sizeof *u);
	remote_req_add(r, unique_sql, strlen(unique_sql), &none);
	if (!remote_send(r, &f)) {
		/* an endpoint that refuses the query (7) still takes the
		 * writes, as before: only an exchange of values will fail */
		if (f.code != SMG_EXIT_DATA)
			smg_die(f.code ? f.code : SMG_EXIT_FAILURE, "%s", f.msg);
		smg_warn("%s: cannot read its UNIQUE indexes (%s): rows that exchange UNIQUE "
			 "values will not be parked", r->t->name, f.msg);
		return;
	}
	remote_answer_rows(r, r->resp.body.data, r->resp.body.len, 0, "the UNIQUE index query",
			   &span, &spanlen);
	smg_jarray(&rows, span, spanlen);
	while (smg_jnext(&rows, &row, &rowlen)) {
		bool bad;
		char *f[3] = {0};
		size_t k = remote_row_cells(row, rowlen, 3, cell, celllen, &bad);
		if (k != 3 || bad)
			smg_die(SMG_EXIT_DATA, "%s: malformed answer to the UNIQUE index query",
				r->t->name);
		for (k = 0; k < 3; k++)
			f[k] = remote_cell_text(r->p, cell[k], celllen[k]);
		if (!f[0] || !f[1])
			smg_die(SMG_EXIT_DATA, "%s: malformed answer to the UNIQUE index query",
				r->t->name);
		struct uindex *x = u->n ? &u->v[u->n - 1] : NULL;
		if (!x || strcmp(x->table, f[0]) || strcmp(x->name, f[1])) {
			u->v = smg_xrealloc(u->v, (u->n + 1) * sizeof *u->v);
			x = &u->v[u->n++];
			memset(x, 0, sizeof *x);
			x->table = smg_xstrdup(f[0]);
			x->name = smg_xstrdup(f[1]);
		}
		if (f[2])
			smg_select_add(&x->cols, &x->ncols, f[2]);
		else
			x->expr = true;
		for (k = 0; k < 3; k++)
			free(f[k]);
	}
	if (rows.bad)
		smg_die(SMG_EXIT_DATA, "%s: malformed answer to the UNIQUE index query", r->t->name);
}

void remote_unique_free(struct uniq_db *u)
{
	for (size_t i = 0; i < u->n; i++) {
		free(u->v[i].table);
		free(u->v[i].name);
		for (size_t k = 0; k < u->v[i].ncols; k++)
			free(u->v[i].cols[k]);
		free(u->v[i].cols);
	}
	free(u->v);
	memset(u, 0, sizeof *u);
}

bool uniq_rows_init(struct uniq_rows *ur, const struct uniq_db *u, const struct smg_table *t)
{
	memset(ur, 0, sizeof *ur);
	for (size_t i = 0; i < u->n; i++) {
		const struct uindex *x = &u->v[i];
		if (strcmp(x->table, t->name) || x->expr || !x->ncols)
			continue;
		size_t *pos = smg_xcalloc(x->ncols, sizeof *pos);
		bool usable = true, keyless = false;
		for (size_t k = 0; k < x->ncols && usable; k++) {
			int c = smg_table_col(t, x->cols[k]);
			/* a column the sync leaves alone: no row of the stream moves it */
			usable = c >= 0;
			if (usable) {
				pos[k] = (size_t)c;
				keyless = keyless || !smg_sql_is_key(t, (size_t)c);
			}
		}
		if (!usable || !keyless) {	/* keys never change in an update */
			free(pos);
			continue;
		}
		if (!ur->park)
			ur->park = smg_xcalloc(t->ncols, sizeof *ur->park);
		for (size_t k = 0; k < x->ncols; k++)
			ur->park[pos[k]] = ur->park[pos[k]] || !smg_sql_is_key(t, pos[k]);
		ur->idx = smg_xrealloc(ur->idx, (ur->nidx + 1) * sizeof *ur->idx);
		ur->idxn = smg_xrealloc(ur->idxn, (ur->nidx + 1) * sizeof *ur->idxn);
		ur->idx[ur->nidx] = pos;
		ur->idxn[ur->nidx++] = x->ncols;
	}
	return ur->nidx > 0;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211u;
	return h;
}

/* One value into h the way the loosest comparison sees it. */
static uint64_t hash_value(uint64_t h, const struct smg_value *v)
{
	char tag = (char)v->type;
	int64_t i = v->i;
	if (v->type == SMG_REAL && v->r >= -9.2e18 && v->r <= 9.2e18 && v->r == (double)(int64_t)v->r) {
		tag = (char)SMG_INT;	/* 1.0 = 1 */
		i = (int64_t)v->r;
	}
	h = fnv(h, &tag, 1);
	switch (v->type) {
	case SMG_INT:
	case SMG_REAL:
		if (tag == (char)SMG_INT)
			return fnv(h, &i, sizeof i);
		return fnv(h, &v->r, sizeof v->r);
	case SMG_TEXT: {
		size_t n = v->n;
		while (n && v->p[n - 1] == ' ')		/* RTRIM */
			n--;
		for (size_t k = 0; k < n; k++) {	/* NOCASE */
			char c = v->p[k] >= 'A' && v->p[k] <= 'Z' ? (char)(v->p[k] + 32) : v->p[k];
			h = fnv(h, &c, 1);
		}
		return h;
	}
	default:
		return fnv(h, v->p, v->n);
	}
}

/* The tuple's hash under index x, false when it holds a NULL (never equal
 * to anything in a UNIQUE index). */
static bool tuple_hash(const struct uniq_rows *ur, size_t x, const struct smg_value *vals,
		       uint64_t *h)
{
	*h = 14695981039346656037u;
	for (size_t k = 0; k < ur->idxn[x]; k++) {
		const struct smg_value *v = &vals[ur->idx[x][k]];
		if (v->type == SMG_NULL)
			return false;
		*h = hash_value(*h, v);
	}
	*h = fnv(*h, &x, sizeof x);	/* one index's tuples never meet another's */
	return true;
}

static void push_hash(struct uhash **v, size_t *n, size_t *cap, uint64_t h, size_t row)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 64;
		*v = smg_xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = (struct uhash){h, row};
}

void uniq_rows_add(struct uniq_rows *ur, const struct smg_value *was, const struct smg_value *vals)
{
	for (size_t x = 0; x < ur->nidx; x++) {
		uint64_t ho, hn;
		bool o = tuple_hash(ur, x, was, &ho), n = tuple_hash(ur, x, vals, &hn);
		if (o && n && ho == hn)		/* unchanged on this index */
			continue;
		if (o)
			push_hash(&ur->old, &ur->nold, &ur->capold, ho, ur->nrows);
		if (n)
			push_hash(&ur->new, &ur->nnew, &ur->capnew, hn, ur->nrows);
	}
	ur->nrows++;
}

static int by_hash(const void *a, const void *b)
{
	uint64_t x = ((const struct uhash *)a)->h, y = ((const struct uhash *)b)->h;
	return x < y ? -1 : x > y;
}

unsigned char *uniq_rows_demanded(struct uniq_rows *ur, size_t *n)
{
	unsigned char *bits = NULL;
	*n = 0;
	qsort(ur->old, ur->nold, sizeof *ur->old, by_hash);
	qsort(ur->new, ur->nnew, sizeof *ur->new, by_hash);
	size_t o = 0;
	for (size_t i = 0; i < ur->nnew; i++) {
		while (o < ur->nold && ur->old[o].h < ur->new[i].h)
			o++;
		for (size_t k = o; k < ur->nold && ur->old[k].h == ur->new[i].h; k++) {
			size_t row = ur->old[k].row;
			if (row == ur->new[i].row || uniq_bit(bits, row))
				continue;
			if (!bits)
				bits = smg_xcalloc(ur->nrows / 8 + 1, 1);
			bits[row / 8] |= (unsigned char)(1u << (row % 8));
			(*n)++;
		}
	}
	return bits;
}

void uniq_rows_free(struct uniq_rows *ur)
{
	for (size_t x = 0; x < ur->nidx; x++)
		free(ur->idx[x]);
	free(ur->idx);
	free(ur->idxn);
	free(ur->park);
	free(ur->old);
	free(ur->new);
	memset(ur, 0, sizeof *ur);
}
