/*
 * remote-apply-tomb.c - the tombstones a remote write records (tomb.h):
 * each with the time of its delete, only where the key has no row, sent
 * after the batches whose deletes made the target's trigger write one
 * with the endpoint's own time.  Not in the batches' transaction: one
 * that fails is sent again by the next sync.
 */
#include "remote-apply-int.h"
#include "tomb.h"

#include <string.h>

void rapply_record_tombstone(struct apply_ctx *c, const struct smg_table *t,
			     const struct smg_record *rec)
{
	struct smg_buf *b = &c->tombs;
	struct params none = {0};
	smg_buf_addf(b, "INSERT INTO " SMG_TOMB_TABLE "(tbl, key, deleted_at) SELECT '%s', "
		     "json_array(", t->name);	/* (a tracked table's name has no quote) */
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc(b, ',');
		remote_sql_value(c->p, b, &none, &rec->key[k], true);
	}
	smg_buf_adds(b, "), ");
	remote_sql_value(c->p, b, &none, &rec->ts, true);
	smg_buf_adds(b, " WHERE NOT EXISTS (SELECT 1 FROM ");
	smg_sql_ident(b, t->name);
	for (size_t k = 0; k < t->npk; k++) {
		smg_buf_adds(b, k ? " AND " : " WHERE ");
		smg_sql_ident(b, t->pk[k]);
		smg_buf_adds(b, " IS ");
		remote_sql_value(c->p, b, &none, &rec->key[k], true);
	}
	smg_buf_adds(b, ") ON CONFLICT(tbl, key) DO UPDATE SET deleted_at = excluded.deleted_at");
	smg_buf_addc(b, '\0');
	c->ntombs++;
	remote_params_free(&none);
}

/* As many to a request as the profile takes. */
void rapply_send_tombstones(struct apply_ctx *c)
{
	long per = c->p->max_statements > 0 ? c->p->max_statements : 1;
	const char *p = c->tombs.data;
	for (size_t done = 0; done < c->ntombs;) {
		size_t n = c->ntombs - done < (size_t)per ? c->ntombs - done : (size_t)per;
		const char *start = p;
		for (size_t k = 0; k < n; k++)
			p += strlen(p) + 1;
		smg_remote_exec(c->r, start, n);
		done += n;
	}
}
