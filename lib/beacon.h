/*
 * beacon.h - the pieces of smg-beacon that are not its event loop: the
 * peer table (beacon-peers.c), the connections not yet past HELLO
 * (beacon-pending.c) and the child jobs with the lines they report to the
 * parent (beacon-job.c).  The exchange itself is exchange.h, the framing
 * frame.h; bin/smg-beacon.c keeps the loop, UDP and the reports.  They
 * stand on the framing (libsodium), so npm/build.sh leaves beacon-*.c out
 * with frame.c and exchange.c.
 */
#ifndef SMG_BEACON_H
#define SMG_BEACON_H

#include "exchange.h"

#include <netinet/in.h>
#include <poll.h>

/* Limits and timeouts (the exchange's are in exchange.h): the protocol
 * section of smg-beacon(1) quotes them. */
#define SMG_BEACON_MAX_PEERS 256
#define SMG_BEACON_BACKOFF_MAX_MS 60000
#define SMG_BEACON_PENDING_MAX 64	/* connections not yet past HELLO, at once */
#define SMG_BEACON_PENDING_PER_ADDR 4	/* of them from one address */
#define SMG_BEACON_REPLAY_SLOTS 1024	/* HELLOs remembered */

/* Dropped input, by reason: the frame errors (frame.h) and these. */
enum { SMG_DROP_OTHER_GROUP = SMG_FRAME_NERR, SMG_DROP_BAD_DATA, SMG_DROP_BUSY, SMG_DROP_NREASONS };
const char *smg_drop_name(int reason);

/* ---- beacon-peers.c: the peer table ---------------------------------------- */

struct smg_peer {
	uint8_t id[SMG_ID_LEN];
	struct sockaddr_in addr;	/* source address, announced TCP port */
	char name[SMG_ANN_NAME_MAX + 1];
	uint8_t digest[32];
	uint16_t flags;
	bool expired, announced, target, done;
	int64_t last_seen, next_try;
	int failures_in_row;
	/* what both digests were when an exchange last succeeded */
	bool synced_valid;
	uint8_t synced_mine[32], synced_theirs[32];
	int exchanges, failures;
	uint64_t bytes_in, bytes_out;	/* on the wire, over all exchanges */
	char last_error[400];
	struct smg_tally *tables;
	size_t ntables;
};

struct smg_peers {
	struct smg_peer v[SMG_BEACON_MAX_PEERS];
	size_t n;
	const char *where;	/* how a peer is reached, for labels; NULL: its address */
	bool verbose;
};

/* "name (address, id 0123abcd)"; a static buffer. */
const char *smg_peer_label(const struct smg_peers *t, const struct smg_peer *p);
/* The first 2 * SMG_ID_LEN hex digits of id; one of four static buffers. */
const char *smg_idhex(const uint8_t id[SMG_ID_LEN]);
int smg_peers_find(const struct smg_peers *t, const uint8_t id[SMG_ID_LEN]);
/* The peer with this id, added if new.  When the table is full the peer
 * silent longest is forgotten: *keep, an index the caller holds (or -1),
 * then follows its peer (-1 if it was the one forgotten). */
int smg_peers_add(struct smg_peers *t, const uint8_t id[SMG_ID_LEN], int *keep);
/* An announcement heard from the peer at index i; says so when it is new. */
void smg_peers_heard(struct smg_peers *t, int i, const struct smg_announce *a,
		     const struct sockaddr_in *from);
void smg_peers_expire(struct smg_peers *t, int64_t now, int64_t timeout_ms);

/* Whom we are and how we run, for choosing whom to connect to. */
struct smg_peer_choice {
	const uint8_t *my_id, *my_digest;
	bool once, dry_run;
};

int smg_peers_next_target(const struct smg_peers *t, const struct smg_peer_choice *c, int64_t now);
/* --once: the peers heard by the end of the discovery window become the
 * targets (how many); are they all done; those not done by the deadline
 * fail (how many). */
size_t smg_peers_mark_targets(struct smg_peers *t);
bool smg_peers_targets_done(const struct smg_peers *t);
size_t smg_peers_give_up(struct smg_peers *t, int64_t timeout_ms);

/* What an exchange with p did: ok, or failed with err (the next try then
 * backs off from interval_ms); the digests it started from; its bytes and
 * rows by table. */
void smg_peer_exchanged(struct smg_peer *p, bool ok, const char *err, int64_t interval_ms,
			const uint8_t mine[32], const uint8_t theirs[32], uint64_t bytes_in,
			uint64_t bytes_out, const struct smg_tally *tables, size_t ntables);

/* ---- beacon-pending.c: connections not yet past HELLO ------------------------ */

struct smg_pending_conn {
	int fd;
	struct sockaddr_in from;
	int64_t since;
	bool ready;			/* its HELLO is all there */
	uint8_t tag[SMG_FRAME_TAG];
};

struct smg_pending {
	struct smg_pending_conn v[SMG_BEACON_PENDING_MAX];
	size_t n;
	uint8_t seen[SMG_BEACON_REPLAY_SLOTS][SMG_FRAME_TAG];
	size_t nseen;
	bool keyed;		/* frames are sealed (a secret is set) */
	void (*drop)(int reason, const struct sockaddr_in *from);	/* count it */
};

void smg_pending_add(struct smg_pending *q, int fd, const struct sockaddr_in *from);
/* Read what has arrived of each HELLO; drop the broken and the silent. */
void smg_pending_check(struct smg_pending *q, int64_t now);
/* The longest waiting connection whose HELLO is all there, taken out of
 * the table into *fd and *from; false when there is none.  A HELLO seen
 * before is dropped (true, *fd -1). */
bool smg_pending_take(struct smg_pending *q, int *fd, struct sockaddr_in *from);
/* The connections still waiting for their HELLO, to poll; how many. */
int smg_pending_pollfds(const struct smg_pending *q, struct pollfd *pf);
/* Close every connection but keep (-1: all). */
void smg_pending_close(struct smg_pending *q, int keep);

/* ---- beacon-job.c: the child jobs and what they tell the parent ------------------ */

/* In the child, one line each to fd: what the parent reads back. */
void smg_job_say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The digest job: our digest announced and our group ("digest D G");
 * keys false (--stdio, --connect: nothing to announce), the group only. */
void smg_job_digest(int fd, const char *db, const struct smg_select *sel, bool keys);

/* One exchange, the child's whole job: on conn_fd (accepted), or with the
 * peer at sa, or with what command runs; expect_id the peer we meant to
 * reach, or NULL.  out_fd: where the channel writes, -1 for conn_fd.
 * Exits with the exchange's code on failure. */
struct smg_job_exchange {
	const struct smg_exchange_opts *xo;
	int conn_fd, out_fd;
	bool initiator;
	const char *command;
	const struct sockaddr_in *sa;
	const uint8_t *expect_id;
};
void smg_job_exchange(int fd, const struct smg_job_exchange *j);

/* What the parent read of a job's lines. */
struct smg_job_report {
	bool ok;		/* "ok", or a digest */
	bool failed_cleanly;	/* "fail": err says why */
	char err[400];
	bool have_peer, named;	/* the peer, once proven; the name it gave */
	uint8_t peer_id[SMG_ID_LEN];
	char name[SMG_ANN_NAME_MAX + 1];
	bool have_digest;
	uint8_t digest[32], group[SMG_GROUP_LEN];
	uint64_t bytes_in, bytes_out;
	struct smg_tally *tables;
	size_t ntables;
	uint64_t dropped[SMG_DROP_NREASONS];
};

/* Read the lines in text (changed in place); free what it holds. */
void smg_job_report_parse(struct smg_job_report *r, char *text, bool digest_job);
void smg_job_report_free(struct smg_job_report *r);

#endif
