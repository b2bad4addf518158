/*
 * remote-apply-int.h - what the pieces of a remote write share, for
 * lib/remote-apply*.c only (programs use remote.h).  One write is one
 * struct apply_ctx that every pass changes, so it is defined here once:
 * pass 1 reads, checks and spools the whole stream (remote-apply-spool.c;
 * the spool's records are remote-apply-spoolfile.c), passes 2 and 3 plan
 * and send the batches (remote-apply-batch.c) from the SQL of each kind
 * of statement (remote-apply-sql.c), rows with long values go in pieces
 * (remote-apply-pieces.c), a batch that breaks a constraint is searched
 * for the row (remote-apply-culprit.c), and remote-apply.c runs the
 * passes and reports.  No two of these files call each other.
 */
#ifndef SMG_REMOTE_APPLY_INT_H
#define SMG_REMOTE_APPLY_INT_H

#include "remote-int.h"
#include "remote-unique.h"

#include <stdio.h>

/*
 * The kinds of statement a change becomes.  A change that says what the
 * diff saw on the target (smugglr-stream(5): "expect", "was") is written
 * only if the row is still so, in SQL: an insert that does nothing over an
 * existing row, an upsert or delete whose WHERE matches the row the diff
 * read.  Each such statement ends RETURNING 1, one answer row per row it
 * wrote: fewer than it carried are conflicts, rows left as they are.
 * Updates whose old UNIQUE value another update takes (remote-unique.h)
 * are parked (OP_PARK) and then written (OP_UPDP, which also knows the
 * parked row), from the OP_UPD spool, in one batch.
 */
enum { OP_DEL, OP_UPS, OP_INS, OP_UPD, OP_GDEL, NSPOOLS, OP_PARK = NSPOOLS, OP_UPDP, NOPS };

/* A guarded statement of the batch being built: where its answer is. */
struct guard {
	long index;		/* statement index in the request */
	long rows;		/* rows it carries */
	size_t table;
	int op;
};


/* Rows written in pieces (remote-apply-pieces.c): their ready statements,
 * spooled apart, and where each row begins. */
struct long_rows {
	FILE *f;
	struct long_row { size_t table; long off; } *v;
	size_t n, cap;
};

/* A table of the change stream and the SQL its changes become. */
struct atable {
	struct smg_table *t;
	struct smg_buf head[NOPS], tail[NOPS];	/* around the tuples, by op */
	bool create;
	char **add, **add_sql;			/* --add-columns: names, ALTER TABLEs */
	size_t nadd;
	int64_t n[NOPS];			/* changes spooled */
	long off[NOPS];				/* where in the spool they start */
	int64_t planned[NOPS], landed[NOPS], batch[NOPS];
	int64_t conflicts[NOPS];		/* of those landed: rows left alone */
	int64_t create_batch;			/* the batch holding CREATE TABLE */
	/* UNIQUE values the updates exchange: the first update (its "values"
	 * and "was" JSON) until a second says whether to look; the rows to
	 * park, by their place in the OP_UPD spool */
	char *first_vals, *first_was;
	size_t first_vals_len, first_was_len;
	struct uniq_rows ur;
	bool ur_on;
	unsigned char *parked;
	size_t nparked;
	bool park_alone, park_spans;		/* in a batch of their own; did not fit */
};

struct apply_ctx {
	struct smg_remote *r;
	const struct smg_http_profile *p;
	struct atable *tab;
	size_t ntab;
	FILE *spool[NSPOOLS];
	long batch_rows;
	struct uniq_db udb;	/* the target's UNIQUE indexes, once an update needs them */
	bool udb_loaded;
	char nonce[32];		/* appended to a parked value: no row holds it */
	/* the statement being built */
	struct smg_buf sql;
	struct params ps;
	long rows;
	size_t sqlbytes;	/* with placeholders expanded */
	size_t cur;		/* its table */
	int op;
	/* the request (batch) being built */
	struct smg_buf rendered;
	size_t body_overhead;
	bool send;
	int64_t batches, statements, landed, sent_rows, total_rows;
	int64_t landed_rows;		/* for progress */
	bool progress;
	struct failure fail;
	bool failed;
	struct guard *guards;	/* of the batch being built */
	size_t nguards, guardcap;
	int64_t conflicts;	/* rows that changed since the diff, left alone */
	/* the batch being sent, statement by statement, to find the row that
	 * broke a constraint (rapply_find_culprit): where each tuple is spooled */
	struct unit { size_t table; int sop, op; long *offs; size_t n; } *units;
	size_t nunits, unitcap;
	long *offs;		/* of the statement being built */
	size_t noffs, offcap;
	int sop;		/* its spool */
	bool in_unit;		/* rapply_add_statement called by close_statement */
	bool batch_raw;		/* the batch holds other statements (CREATE, pieces) */
	int64_t unchecked;	/* changes without what the diff saw */
	struct long_rows *longs;	/* rows written in pieces, if any */
	/* tombstones to record once the batches landed (tomb.h): one
	 * statement each, NUL-ended */
	struct smg_buf tombs;
	size_t ntombs;
};

/* ---- remote-apply-tomb.c: tombstones ------------------------------------------ */

/* Keep the statement that records rec's tombstone in table t, sent by
 * rapply_send_tombstones once the batches landed. */
void rapply_record_tombstone(struct apply_ctx *c, const struct smg_table *t,
			     const struct smg_record *rec);
void rapply_send_tombstones(struct apply_ctx *c);

/* ---- remote-apply-spool.c: pass 1 ------------------------------------------- */

/* Read and check the whole stream, spooling its SQL; nothing is sent. */
void rapply_spool_stream(struct apply_ctx *c, struct schema *s, struct smg_reader *in,
			 const struct smg_apply_opts *o);
/* The profile's limits on one statement: whether nparams bound parameters
 * fit, and a row whose statement has nparams of them and bytes of SQL
 * (parameters expanded) checked, the reader dying naming the table if not. */
bool rapply_params_fit(const struct smg_http_profile *p, size_t nparams);
void rapply_check_limits(const struct apply_ctx *c, const struct atable *a, size_t nparams,
			 size_t bytes, struct smg_reader *in);

/* ---- remote-apply-spoolfile.c: the spool files' records ------------------------ */

/* Bytes into a spool file, or die; out of one (false at its end), or die. */
void rapply_spool_write(FILE *f, const void *p, size_t n);
bool rapply_spool_read(FILE *f, void *p, size_t n);
/* A tuple of table ti; read back into tuple and its parameters into tp. */
void rapply_write_tuple(FILE *f, size_t ti, const struct smg_buf *sql, const struct params *ps);
void rapply_read_tuple(FILE *f, size_t ti, struct smg_buf *tuple, struct params *tp,
		       struct smg_buf *pdata);
/* Append a tuple (after a comma) to a statement, its parameters to ps. */
void rapply_append_tuple(struct smg_buf *sql, struct params *ps, const struct smg_buf *tuple,
			 const struct params *tp, bool comma);
/* A ready statement of a row written in pieces; read back. */
void rapply_write_statement(FILE *f, const struct smg_buf *sql, const struct params *ps);
void rapply_read_statement(FILE *f, struct smg_buf *sql, struct params *ps, struct smg_buf *pdata);

/* ---- remote-apply-sql.c: the statements ------------------------------------ */

/* a->head and a->tail of each kind of statement but the parking ones */
void rapply_build_heads(struct atable *a);
/* OP_UPD (nonce NULL) or OP_UPDP; OP_PARK */
void rapply_build_update(struct atable *a, int op, const char *nonce);
void rapply_build_park(struct atable *a, const char *nonce);
/* "(t.c1 IS smg_v.column<off+1> AND ...)"; "t.key IS smg_v.column<k> AND ..." */
void rapply_row_match(struct smg_buf *b, const struct smg_table *t, size_t off);
void rapply_key_match(struct smg_buf *b, const struct smg_table *t);

/* ---- remote-apply-pieces.c: rows with long values --------------------------- */

bool rapply_needs_pieces(const struct smg_http_profile *p, const struct smg_value *v);
void rapply_spool_long_row(struct apply_ctx *c, const struct atable *a,
			   const struct smg_value *vals, struct smg_reader *in);
void rapply_long_rows_free(struct apply_ctx *c);

/* ---- remote-apply-batch.c: passes 2 and 3 ----------------------------------- */

/* The stream's tables, parents first (malloc'd indexes into c->tab). */
size_t *rapply_table_order(const struct apply_ctx *c, struct schema *s);
void rapply_plan_batches(struct apply_ctx *c, const size_t *order);
void rapply_run_batches(struct apply_ctx *c, const size_t *order, bool send);
/* The rows of table ti that go in pieces, one request each. */
void rapply_run_long_rows(struct apply_ctx *c, size_t ti);
/* Put a statement into the batch (op -1: not a change); send the batch. */
void rapply_add_statement(struct apply_ctx *c, const char *sql, size_t sqllen,
			  const struct params *ps, size_t table, int op, long rows);
void rapply_flush_batch(struct apply_ctx *c);
void rapply_free_units(struct apply_ctx *c);

/* ---- remote-apply-culprit.c: after a batch failed --------------------------- */

/* Rows of the failed batch's exchange of UNIQUE values that changed since
 * the diff (-1: unknown); the row that broke a constraint, into c->fail. */
int64_t rapply_exchange_changed(struct apply_ctx *c);
void rapply_find_culprit(struct apply_ctx *c);

#endif
