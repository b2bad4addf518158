/*
 * remote-apply-pieces.c - rows of a remote write with long values, written
 * in pieces.  A blob, or text that is not UTF-8, longer than
 * REMOTE_PIECE_BYTES goes as hex: whole, it would pass the 2,000,000 bytes
 * D1 allows any one string.  Its row is spooled apart as ready statements:
 * the upsert with the first piece, then UPDATE ... SET c = CAST(c ||
 * unhex(?) AS ...) per further piece; they go as one request of their own,
 * one transaction, after the table's other upserts.  (UTF-8 text goes
 * whole as a JSON string.)
 */
#include "remote-apply-int.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

bool rapply_needs_pieces(const struct smg_http_profile *p, const struct smg_value *v)
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
	rapply_check_limits(c, a, ps->n, remote_expanded_len(c->p, sql->data, sql->len, 0), in);
	rapply_write_statement(c->longs->f, sql, ps);
}

void rapply_spool_long_row(struct apply_ctx *c, const struct atable *a,
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
		if (rapply_needs_pieces(c->p, &vals[i]))
			nstmts += (uint32_t)((vals[i].n - 1) / REMOTE_PIECE_BYTES);
	rapply_spool_write(l->f, &nstmts, sizeof nstmts);
	struct smg_buf sql = SMG_BUF_INIT;
	struct params ps = {0};
	smg_buf_add(&sql, a->head[OP_UPS].data, a->head[OP_UPS].len);
	smg_buf_addc(&sql, '(');
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			smg_buf_addc(&sql, ',');
		if (rapply_needs_pieces(c->p, &vals[i]))
			piece_sql(&sql, &ps, &vals[i], 0);
		else
			remote_sql_value(c->p, &sql, &ps, &vals[i], false);
	}
	smg_buf_addc(&sql, ')');
	smg_buf_add(&sql, a->tail[OP_UPS].data, a->tail[OP_UPS].len);
	long_write_statement(c, a, &sql, &ps, in);
	for (size_t i = 0; i < t->ncols; i++) {
		if (!rapply_needs_pieces(c->p, &vals[i]))
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

void rapply_long_rows_free(struct apply_ctx *c)
{
	if (!c->longs)
		return;
	fclose(c->longs->f);
	free(c->longs->v);
	free(c->longs);
	c->longs = NULL;
}
