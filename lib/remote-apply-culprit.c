/*
 * remote-apply-culprit.c - after a batch of a remote write broke a
 * constraint: which row (the target names only the table and the
 * constraint), and whether rows of an exchange of UNIQUE values changed
 * since the diff.
 */
#include "remote-apply-int.h"

#include <stdlib.h>
#include <string.h>

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
			rapply_read_tuple(c->spool[u->sop], u->table, tuple, &tp, pdata);
			rapply_append_tuple(&sql, &ps, tuple, &tp, k > 0);
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
int64_t rapply_exchange_changed(struct apply_ctx *c)
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
			rapply_read_tuple(c->spool[u->sop], u->table, &tuple, &tp, &pdata);
			rapply_append_tuple(&sql, &ps, &tuple, &tp, k > 0);
		}
		smg_buf_adds(&sql, ") AS smg_v WHERE ");
		rapply_key_match(&sql, t);
		smg_buf_adds(&sql, " AND ");
		rapply_row_match(&sql, t, t->ncols);
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

void rapply_find_culprit(struct apply_ctx *c)
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
		rapply_read_tuple(c->spool[u->sop], u->table, &tuple, &tp, &pdata);
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
