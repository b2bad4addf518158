/*
 * reconcile.h - range-based set reconciliation of two databases' rows over
 * one channel (frame.h), after Aljoscha Meyer's "Range-Based Set
 * Reconciliation" and the Negentropy protocol: each side knows, in the end,
 * which rows may differ, having sent fingerprints of ranges instead of its
 * rows.  The spec is smugglr-reconcile(5).
 *
 * The items are a table's rows; their order is that of a hash of the key
 * (not the key itself), so that the ranges split any table evenly, a
 * fingerprint can be summed in one streaming pass over the rows in any
 * order, and no side needs an index or a copy of its rows.  The key space
 * is 2^16 leaf ranges; a node of level l (0 to 4) covers 2^(16-4l) of
 * them and has 16 children.  A range's fingerprint is its row count and
 * the sum, modulo 2^128, of the first 16 bytes of its rows' content hashes
 * (which cover the key; the timestamp is not in them, as for smg-diff).
 *
 * The sides take turns, the client first: each message gives a verdict on
 * every child whose fingerprint the other side sent last (equal, differs,
 * or differs and is split further), then the fingerprints of the children
 * of the ranges it split.  A range that differs is not split when it is a
 * leaf, when one side has no row in it, or when neither has more than
 * SMG_RECON_SMALL rows in it: its rows are then "marked", and both sides
 * mark the same leaves.  Memory: 2^16 fingerprints per table that differs
 * (about 1.3 MB), whatever its size.
 */
#ifndef SMG_RECONCILE_H
#define SMG_RECONCILE_H

#include "db.h"
#include "frame.h"

#define SMG_RECON_BITS 16		/* leaf ranges: 2^16 per table */
#define SMG_RECON_LEAVES (1u << SMG_RECON_BITS)
#define SMG_RECON_FANOUT_BITS 4		/* children per range: 16 */
#define SMG_RECON_DEPTH (SMG_RECON_BITS / SMG_RECON_FANOUT_BITS)	/* leaf level */
#define SMG_RECON_SMALL 32		/* rows a side may have in a range not split */
#define SMG_RECON_CHUNK (256u * 1024)	/* RANGES frame payload */

/* A range's fingerprint. */
struct smg_recon_fp {
	uint32_t count;
	uint8_t sum[16];
};

struct smg_recon_table {
	char *name;
	struct smg_recon_fp root;
	struct smg_recon_fp *leaf;	/* SMG_RECON_LEAVES, NULL until scanned */
	uint8_t *mark;			/* bitmap of the leaves whose rows travel */
	uint32_t nmarked;		/* leaves marked */
};

struct smg_recon {
	const char *db;
	const struct smg_select *sel;	/* the tables both sync */
	struct smg_chan *c;
	bool initiator;
	struct smg_recon_table *t;	/* by name */
	size_t n;
	int messages;			/* sent and received */
	uint64_t scans;			/* passes over a table's rows */
	uint64_t rows_marked;		/* our rows in marked leaves (smg_recon_write) */
	char error[256];		/* why smg_recon_run failed */
};

/* sel names the tables both sides sync (both must name the same ones). */
void smg_recon_init(struct smg_recon *r, const char *db, const struct smg_select *sel,
		    struct smg_chan *c, bool initiator);
/* Talk until both sides know which leaves differ.  0, or an exit code
 * (smg.h) with the reason in r->error. */
int smg_recon_run(struct smg_recon *r);
/*
 * Write our rows of the marked leaves: keys and hashes to keys_fd and whole
 * rows to rows_fd, both row streams of the tables with a marked leaf.  out
 * becomes r->sel narrowed to those tables (its table list is the caller's
 * to free; none: nothing differs).
 */
void smg_recon_write(struct smg_recon *r, struct smg_select *out, int keys_fd,
		     const char *keys_name, int rows_fd, const char *rows_name);
void smg_recon_free(struct smg_recon *r);

/* The leaf range of a row, from its key alone. */
uint32_t smg_recon_leaf_of(const struct smg_value *key, size_t npk);

#endif
