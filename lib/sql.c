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

/* "c=excluded.c,..." (from "excluded.") or "c=?,..." (from NULL) for
 * the columns not in the key; a table of key columns alone sets its first
 * key column, when key_if_none, so that the statement still updates. */
static void set_list(struct smg_buf *b, const struct smg_table *t, const char *from,
		     bool key_if_none)
{
	bool any = false;
	for (size_t i = 0; i < t->ncols; i++) {
		if (smg_sql_is_key(t, i) && (any || t->ncols > t->npk || !key_if_none))
			continue;
		smg_buf_adds(b, any ? "," : "");
		smg_sql_ident(b, t->cols[i]);
		smg_buf_addc(b, '=');
		if (from) {
			smg_buf_adds(b, from);
			smg_sql_ident(b, t->cols[i]);
		} else {
			smg_buf_addc(b, '?');
		}
		any = true;
	}
}

static void on_conflict(struct smg_buf *b, const struct smg_table *t)
{
	smg_buf_adds(b, " ON CONFLICT(");
	smg_sql_idents(b, t->pk, t->npk, NULL);
	smg_buf_adds(b, ") DO ");
}

void smg_sql_upsert(struct smg_buf *head, struct smg_buf *tail, const struct smg_table *t)
{
	smg_buf_adds(head, "INSERT INTO ");
	smg_sql_ident(head, t->name);
	smg_buf_addc(head, '(');
	smg_sql_idents(head, t->cols, t->ncols, NULL);
	smg_buf_adds(head, ") VALUES");
	on_conflict(tail, t);
	if (t->ncols == t->npk) {
		smg_buf_adds(tail, "NOTHING");
		return;
	}
	smg_buf_adds(tail, "UPDATE SET ");
	set_list(tail, t, "excluded.", false);
}

void smg_sql_upsert_same(struct smg_buf *tail, const struct smg_table *t)
{
	on_conflict(tail, t);
	smg_buf_adds(tail, "UPDATE SET ");
	set_list(tail, t, "excluded.", true);
	smg_buf_adds(tail, " WHERE (");
	for (size_t i = 0; i < t->ncols; i++) {
		smg_buf_adds(tail, i ? " AND " : "");
		smg_sql_ident(tail, t->name);
		smg_buf_addc(tail, '.');
		smg_sql_ident(tail, t->cols[i]);
		smg_buf_adds(tail, " IS excluded.");
		smg_sql_ident(tail, t->cols[i]);
	}
	smg_buf_addc(tail, ')');
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

/* " AND smg_row_hash(c1, ...) IS ?" over the columns the diff saw. */
static void hash_match(struct smg_buf *sql, const struct smg_table *seen)
{
	smg_buf_adds(sql, " AND smg_row_hash(");
	smg_sql_idents(sql, seen->cols, seen->ncols, NULL);
	smg_buf_adds(sql, ") IS ?");
}

void smg_sql_update_row_if(struct smg_buf *sql, const struct smg_table *t,
			   const struct smg_table *seen)
{
	smg_buf_adds(sql, "UPDATE ");
	smg_sql_ident(sql, t->name);
	smg_buf_adds(sql, " SET ");
	set_list(sql, t, NULL, false);
	smg_sql_key_match(sql, t);
	hash_match(sql, seen);
}

void smg_sql_delete_row_if(struct smg_buf *sql, const struct smg_table *t,
			   const struct smg_table *seen)
{
	smg_sql_delete_row(sql, t);
	hash_match(sql, seen);
}
