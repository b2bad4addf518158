/*
 * remote-apply-batch.c - passes 2 (plan) and 3 (send) of a remote write:
 * the spooled tuples into statements and statements into batches within
 * the profile's limits, in an order that keeps every reference whole; a
 * batch sent, and what its answer says was written.
 */
#include "remote-apply-int.h"
#include "progress.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_guarded(int op)
{
	return op == OP_INS || op == OP_UPD || op == OP_GDEL || op == OP_UPDP;
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

int64_t rapply_exchange_changed(struct apply_ctx *c);

void rapply_free_units(struct apply_ctx *c)
{
	for (size_t i = 0; i < c->nunits; i++)
		free(c->units[i].offs);
	c->nunits = 0;
	c->batch_raw = false;
}

/* Send (or, planning, count) the batch built so far. */
void rapply_flush_batch(struct apply_ctx *c)
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
		changed = rapply_exchange_changed(c);
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
		rapply_find_culprit(c);
	}
	rapply_free_units(c);
	if (c->send && ok && c->progress)	/* what the target has taken */
		smg_progress_unit("apply", "changes", c->landed_rows, c->total_rows);
	if (!ok)
		c->failed = true;
}

/* Put a finished statement into the batch, sending the batch first when
 * the statement would not fit in it.  A batch opens with the profile's
 * batch_prefix, if any. */
void rapply_add_statement(struct apply_ctx *c, const char *sql, size_t sqllen,
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
		rapply_flush_batch(c);
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
	rapply_add_statement(c, c->sql.data, c->sql.len, &c->ps, c->cur, c->op,
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
		rapply_read_tuple(f, ti, tuple, &tp, pdata);
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
		rapply_append_tuple(&c->sql, &c->ps, tuple, &tp, c->rows > 0);
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

/* A table's updates: those to park first, parked and then written in one
 * batch (when the planning pass saw them spread over two, they go in a
 * batch of their own; see smg_remote_apply), then the others. */
static void run_updates(struct apply_ctx *c, size_t ti, struct smg_buf *tuple, struct smg_buf *pdata)
{
	struct atable *a = &c->tab[ti];
	if (a->nparked) {
		if (a->park_alone)
			rapply_flush_batch(c);
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
void rapply_run_batches(struct apply_ctx *c, const size_t *order, bool send)
{
	struct smg_buf tuple = SMG_BUF_INIT, pdata = SMG_BUF_INIT;
	struct params none = {0};
	c->send = send;
	c->batches = c->statements = c->sent_rows = 0;
	for (size_t k = 0; k < c->ntab && !c->failed; k++) {
		const struct atable *a = &c->tab[order[k]];
		if (a->create) {
			rapply_add_statement(c, a->t->sql, strlen(a->t->sql), &none, order[k], -1, 0);
			for (size_t i = 0; i < a->t->nindexes; i++)
				rapply_add_statement(c, a->t->indexes[i], strlen(a->t->indexes[i]), &none,
					      order[k], -1, 0);
		}
		for (size_t i = 0; i < a->nadd; i++)
			rapply_add_statement(c, a->add_sql[i], strlen(a->add_sql[i]), &none, order[k], -1, 0);
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
		rapply_run_long_rows(c, order[k]);
	}
	rapply_flush_batch(c);
	if (c->progress && send)
		smg_progress_done();
	smg_buf_free(&tuple);
	smg_buf_free(&pdata);
}

/* Pass 2: how many batches.  Rows parked and written must land together:
 * where they did not fit in what was left of a batch, they get a batch of
 * their own, and where they do not fit in one either, nothing is sent. */
void rapply_plan_batches(struct apply_ctx *c, const size_t *order)
{
	for (int round = 0; round < 2; round++) {
		bool again = false;
		for (size_t i = 0; i < c->ntab; i++)
			memset(c->tab[i].planned, 0, sizeof c->tab[i].planned);
		rapply_run_batches(c, order, false);
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
size_t *rapply_table_order(const struct apply_ctx *c, struct schema *s)
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

/* The rows of table ti that go in pieces, one request each. */
void rapply_run_long_rows(struct apply_ctx *c, size_t ti)
{
	struct long_rows *l = c->longs;
	struct smg_buf sql = SMG_BUF_INIT, pdata = SMG_BUF_INIT;
	for (size_t k = 0; l && k < l->n && !c->failed; k++) {
		if (l->v[k].table != ti)
			continue;
		uint32_t nstmts;
		if (fseek(l->f, l->v[k].off, SEEK_SET) != 0 || !rapply_spool_read(l->f, &nstmts, sizeof nstmts))
			smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
		rapply_flush_batch(c);
		int64_t batches = c->batches;
		for (uint32_t s = 0; s < nstmts && !c->failed; s++) {
			struct params ps = {0};
			rapply_read_statement(l->f, &sql, &ps, &pdata);
			rapply_add_statement(c, sql.data, sql.len, &ps, ti, OP_UPS, s == 0);
			remote_params_free(&ps);
		}
		if (c->batches != batches)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a row's long values do not fit in one "
				"request (max_request_bytes %ld, max_statements %ld)", c->r->t->name,
				c->tab[ti].t->name, c->p->max_request_bytes, c->p->max_statements);
		rapply_flush_batch(c);
	}
	smg_buf_free(&sql);
	smg_buf_free(&pdata);
}
