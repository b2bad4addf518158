/*
 * exchange.h - the beacon's exchange: two peers on one TCP channel (see
 * frame.h) bring their databases to the same rows.
 *
 * After the handshake both sides, the client first each time:
 *   1. META   who I am, my group, my policy, dry run or not, my tables;
 *   2. RANGES reconciliation (reconcile.h): which rows may differ;
 *   3. keys   the keys-only row stream of those rows (DATA... END);
 *   4. rows   what the other lacks, by the receiver's policy (DATA... END),
 *             skipped in a dry run;
 *   5. DONE   both have everything; then each applies what it took.
 * Either side may send ERROR (text) instead and give up.  smg-beacon(1),
 * PROTOCOL, is the spec; this file and exchange.c are the one home of it.
 *
 * The functions that speak return 0 or an exit code (smg.h) with the reason
 * in x->error, so a caller can report the failure before exiting; database
 * and file errors die as everywhere in lib/ (an exchange runs in a child
 * process of its own, see smg-beacon.c).
 */
#ifndef SMG_EXCHANGE_H
#define SMG_EXCHANGE_H

#include "diff.h"
#include "frame.h"

/* Limits and timeouts: the protocol section of smg-beacon(1) quotes them. */
#define SMG_EXCHANGE_HELLO_WAIT_MS 2000		/* server: a client's HELLO, then its META */
#define SMG_EXCHANGE_IO_TIMEOUT_MS 30000	/* any other silence */
#define SMG_EXCHANGE_CHUNK (256u * 1024)	/* DATA frame payload */
#define SMG_EXCHANGE_STREAM_MAX ((uint64_t)4 << 30)	/* bytes of one received stream */

/* Rows sent and received per table (the beacon's reports add them up). */
struct smg_tally {
	char *name;
	int64_t sent, received;
};

/* The entry for name in *list, added with zero counts when missing. */
struct smg_tally *smg_tally_get(struct smg_tally **list, size_t *n, const char *name);
void smg_tallies_free(struct smg_tally *t, size_t n);

struct smg_exchange_opts {
	const char *db;			/* our database */
	const struct smg_select *sel;	/* what we would sync */
	enum smg_policy policy;		/* how we decide on the peer's rows */
	bool dry_run;			/* move no row, count what would move */
	bool verbose;			/* say which tables the peer does not share */
	const char *name;		/* how we call ourselves (META) */
	const uint8_t *group;		/* SMG_GROUP_LEN bytes: the peer must be in it */
	const uint8_t *secret;		/* SMG_KEY_LEN bytes, or NULL: plain frames */
	const uint8_t *my_id;		/* SMG_ID_LEN bytes: our instance id */
	const char *tmpdir;		/* the scratch files (smg_exchange_clean) */
};

struct smg_exchange {
	struct smg_exchange_opts o;
	bool initiator;			/* the client: connected, speaks first */
	struct smg_chan c;
	struct smg_frame_stats st;	/* frames received, errors by kind */
	uint8_t peer_id[SMG_ID_LEN];
	char peer_name[SMG_ANN_NAME_MAX + 1];
	bool confirmed;			/* a frame under the session keys came: the
					 * peer is who its HELLO said, and is live */
	bool peer_named;		/* META accepted: peer_name is the peer's word */
	enum smg_policy peer_policy;
	bool dry;			/* either side asked for a dry run */
	struct smg_select sel;		/* the tables both sides sync */
	struct smg_tally *tables;
	size_t ntables;
	uint64_t bytes_in, bytes_out;	/* on the wire, when the channel closed */
	int64_t conflicts;		/* rows changed meanwhile: nothing written */
	int recon_messages;		/* range messages sent and received */
	uint64_t rows_marked;		/* our rows whose keys went to the peer */
	bool not_a_stream;		/* failed on: the peer sent no row stream */
	bool other_group;		/* failed on: the peer is in another group */
	char error[512];		/* why a call returned non-zero */
};

void smg_exchange_init(struct smg_exchange *x, const struct smg_exchange_opts *o,
		       bool initiator);
/* Run the handshake on a connected socket, which the exchange owns from
 * here; peer_id is filled. */
int smg_exchange_handshake(struct smg_exchange *x, int fd);
/* The same over two one-way descriptors (smg-beacon --stdio). */
int smg_exchange_handshake_fds(struct smg_exchange *x, int rfd, int wfd);
/* 1: META both ways; x->peer_name and the tables both sync are known. */
int smg_exchange_meta(struct smg_exchange *x);
/* 2-4: keys, rows, DONE; the channel is closed after. */
int smg_exchange_rows(struct smg_exchange *x);
/* Apply the rows taken (nothing in a dry run), compare-and-set: a row
 * changed since the keys were read makes it write nothing (x->conflicts). */
void smg_exchange_apply(struct smg_exchange *x);
void smg_exchange_free(struct smg_exchange *x);
/* Remove the scratch files an exchange leaves in tmpdir. */
void smg_exchange_clean(const char *tmpdir);

/*
 * Write the keys-only row stream of sel's tables in db to fd, and compute
 * its digest (what peers compare to see whether an exchange is needed) and
 * the group it derives (what it syncs: tables, columns, keys, timestamp
 * column; never where it lives).
 */
void smg_exchange_keys(const char *db, const struct smg_select *sel, int fd, const char *fdname,
		       uint8_t digest[32], uint8_t group[SMG_GROUP_LEN]);
/* The same group without reading a row (no digest is needed). */
void smg_exchange_group(const char *db, const struct smg_select *sel,
			uint8_t group[SMG_GROUP_LEN]);
/* The group named by --group / [broadcast] group. */
void smg_group_from_name(const char *name, uint8_t out[SMG_GROUP_LEN]);

#endif
