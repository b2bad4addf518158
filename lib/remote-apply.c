/*
 * remote-apply.c - writing a change stream to a remote target: check and
 * spool the whole stream, plan the batches, send them, and report what
 * landed (see remote.h).  The passes are remote-apply-*.c (see
 * remote-apply-int.h); this file runs them and owns the result.
 */
#include "remote-apply-int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool is_upsert(int op)
{
	return op == OP_UPS || op == OP_INS || op == OP_UPD || op == OP_UPDP;
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
	rapply_spool_stream(&c, &s, in, o);
	size_t *order = rapply_table_order(&c, &s);
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
	rapply_plan_batches(&c, order);
	res->batches = c.batches;
	res->statements = c.statements;
	if (!o->dry_run)
		rapply_run_batches(&c, order, true);
	if (!o->dry_run && !c.failed && c.ntombs)
		rapply_send_tombstones(&c);
	smg_buf_free(&c.tombs);
	free(order);
	res->landed = c.landed;
	res->requests = r->requests;
	res->res.unconditional = c.unchecked;
	res->res.conflicts = c.conflicts;
	res->res.rest_written = true;
	res->res.stopped = c.failed;
	free(c.guards);
	rapply_free_units(&c);
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
		smg_strings_free(a->add, a->nadd);
		smg_strings_free(a->add_sql, a->nadd);
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
	rapply_long_rows_free(&c);
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
