/*
 * remote-apply-sql.c - the SQL each kind of statement of a remote write
 * becomes around its VALUES rows: upserts, deletes, inserts and updates
 * guarded by the row the diff read, and the parking of UNIQUE values
 * (see remote-apply-int.h for the kinds).
 */
#include "remote-apply-int.h"

/* "t.c": column c of table t, both quoted. */
static void add_column_of(struct smg_buf *b, const struct smg_table *t, const char *col)
{
	smg_sql_ident(b, t->name);
	smg_buf_addc(b, '.');
	smg_sql_ident(b, col);
}

/* "(t.c1 IS smg_v.column<off+1> AND ...)": the table's row is the one the
 * VALUES row smg_v holds from column off + 1 on. */
void rapply_row_match(struct smg_buf *b, const struct smg_table *t, size_t off)
{
	smg_buf_addc(b, '(');
	for (size_t i = 0; i < t->ncols; i++) {
		smg_buf_adds(b, i ? " AND " : "");
		add_column_of(b, t, t->cols[i]);
		smg_buf_addf(b, " IS smg_v.column%zu", off + i + 1);
	}
	smg_buf_addc(b, ')');
}

/* "t.key IS smg_v.column<k> AND ..." for the VALUES rows (new..., read...). */
void rapply_key_match(struct smg_buf *b, const struct smg_table *t)
{
	for (size_t k = 0; k < t->npk; k++) {
		smg_buf_adds(b, k ? " AND " : "");
		add_column_of(b, t, t->pk[k]);
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
		add_column_of(b, t, t->cols[i]);
		smg_buf_addf(b, " IS smg_v.column%zu || '%s')", t->ncols + i + 1, nonce);
	}
}

/* UPDATE t SET c = smg_v.c ... FROM (VALUES (new..., read...)) AS smg_v
 * WHERE the key matches AND the row is the one read (or already the new
 * one; or, for OP_UPDP, parked): an update, never an insert, so a row
 * deleted meanwhile stays deleted. */
void rapply_build_update(struct atable *a, int op, const char *nonce)
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
	rapply_key_match(tl, t);
	smg_buf_adds(tl, " AND (");
	rapply_row_match(tl, t, t->ncols);
	smg_buf_adds(tl, " OR ");
	rapply_row_match(tl, t, 0);
	if (op == OP_UPDP)
		add_parked_match(tl, a, nonce);
	smg_buf_adds(tl, ") RETURNING 1");
}

/* UPDATE t SET c = smg_v.column<read c> || nonce, for each column of a
 * UNIQUE index whose value the row changes, FROM the same VALUES rows
 * WHERE the row is still the one read: its old values freed for the rows
 * that take them.  Not counted: the OP_UPDP after it is. */
void rapply_build_park(struct atable *a, const char *nonce)
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
	rapply_key_match(tl, t);
	smg_buf_adds(tl, " AND ");
	rapply_row_match(tl, t, t->ncols);
}

/* The SQL around a statement's rows (sql.h), by op. */
void rapply_build_heads(struct atable *a)
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
	rapply_build_update(a, OP_UPD, NULL);
	/* deletes of the row read */
	smg_buf_adds(&a->head[OP_GDEL], "DELETE FROM ");
	smg_sql_ident(&a->head[OP_GDEL], a->t->name);
	smg_buf_adds(&a->head[OP_GDEL], " WHERE EXISTS (SELECT 1 FROM (VALUES ");
	smg_buf_adds(&a->tail[OP_GDEL], ") AS smg_v WHERE ");
	rapply_row_match(&a->tail[OP_GDEL], a->t, 0);
	smg_buf_adds(&a->tail[OP_GDEL], ") RETURNING 1");
	smg_buf_free(&scratch);
}
