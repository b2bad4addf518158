/*
 * sql.c - SQL text for SQLite and remote endpoints: identifiers, and the
 * upsert and delete statements of a change stream, built once for the
 * local apply (one row, prepared) and the remote one (many rows a
 * statement).  See sql.h.
 */
#include "sql.h"

void smg_sql_ident(struct smg_buf *b, const char *name)
{
	smg_buf_addc(b, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			smg_buf_addc(b, '"');
		smg_buf_addc(b, *p);
	}
	smg_buf_addc(b, '"');
}

void smg_sql_idents(struct smg_buf *b, char *const *names, size_t n, const char *each)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			smg_buf_addc(b, ',');
		smg_sql_ident(b, names[i]);
		if (each)
			smg_buf_adds(b, each);
	}
}

bool smg_sql_is_key(const struct smg_table *t, size_t col)
{
	for (size_t k = 0; k < t->npk; k++)
		if (t->pk_idx[k] == col)
			return true;
	return false;
}

void smg_sql_upsert(struct smg_buf *head, struct smg_buf *tail, const struct smg_table *t)
{
	smg_buf_adds(head, "INSERT INTO ");
	smg_sql_ident(head, t->name);
	smg_buf_addc(head, '(');
	smg_sql_idents(head, t->cols, t->ncols, NULL);
	smg_buf_adds(head, ") VALUES");
	smg_buf_adds(tail, " ON CONFLICT(");
	smg_sql_idents(tail, t->pk, t->npk, NULL);
	smg_buf_adds(tail, ") DO ");
	bool any = false;
	for (size_t i = 0; i < t->ncols; i++) {
		if (smg_sql_is_key(t, i))
			continue;
		smg_buf_adds(tail, any ? "," : "UPDATE SET ");
		smg_sql_ident(tail, t->cols[i]);
		smg_buf_adds(tail, "=excluded.");
		smg_sql_ident(tail, t->cols[i]);
		any = true;
	}
	if (!any)
		smg_buf_adds(tail, "NOTHING");
}

static void delete_from(struct smg_buf *sql, const struct smg_table *t)
{
	smg_buf_adds(sql, "DELETE FROM ");
	smg_sql_ident(sql, t->name);
	smg_buf_adds(sql, " WHERE ");
}

void smg_sql_delete(struct smg_buf *head, struct smg_buf *tail, const struct smg_table *t)
{
	delete_from(head, t);
	if (t->npk == 1) {
		smg_sql_ident(head, t->pk[0]);
		smg_buf_adds(head, " IN (");
	} else {
		smg_buf_addc(head, '(');
		smg_sql_idents(head, t->pk, t->npk, NULL);
		smg_buf_adds(head, ") IN (VALUES ");
	}
	smg_buf_addc(tail, ')');
}

/* The upsert with one row of ?; insert_only: ON CONFLICT(key) DO NOTHING. */
static void one_row(struct smg_buf *sql, const struct smg_table *t, bool insert_only)
{
	struct smg_buf tail = SMG_BUF_INIT;
	smg_sql_upsert(sql, &tail, t);
	smg_buf_addc(sql, '(');
	for (size_t i = 0; i < t->ncols; i++)
		smg_buf_adds(sql, i ? ",?" : "?");
	smg_buf_addc(sql, ')');
	if (insert_only) {
		smg_buf_adds(sql, " ON CONFLICT(");
		smg_sql_idents(sql, t->pk, t->npk, NULL);
		smg_buf_adds(sql, ") DO NOTHING");
	} else {
		smg_buf_add(sql, tail.data, tail.len);
	}
	smg_buf_free(&tail);
}

void smg_sql_upsert_row(struct smg_buf *sql, const struct smg_table *t)
{
	one_row(sql, t, false);
}

void smg_sql_insert_row(struct smg_buf *sql, const struct smg_table *t)
{
	one_row(sql, t, true);
}

/* "IS ?", not IN: a NULL in a key column still matches its row. */
void smg_sql_key_match(struct smg_buf *sql, const struct smg_table *t)
{
	smg_buf_adds(sql, " WHERE ");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_adds(sql, " AND ");
		smg_sql_ident(sql, t->pk[k]);
		smg_buf_adds(sql, " IS ?");
	}
}

void smg_sql_delete_row(struct smg_buf *sql, const struct smg_table *t)
{
	smg_buf_adds(sql, "DELETE FROM ");
	smg_sql_ident(sql, t->name);
	smg_sql_key_match(sql, t);
}

void smg_sql_select_row(struct smg_buf *sql, const struct smg_table *t)
{
	smg_buf_adds(sql, "SELECT ");
	smg_sql_idents(sql, t->cols, t->ncols, NULL);
	smg_buf_adds(sql, " FROM ");
	smg_sql_ident(sql, t->name);
	smg_sql_key_match(sql, t);
}
