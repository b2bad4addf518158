/*
 * beacon-peers.c - smg-beacon's peer table (see beacon.h): who announced
 * what digest from where, who went quiet or was replaced, whom to connect
 * to next, and what each peer's exchanges did.
 */
#include "beacon.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *smg_drop_name(int i)
{
	return i == SMG_DROP_OTHER_GROUP ? "other_group" : i == SMG_DROP_BAD_DATA ? "bad_data"
	       : i == SMG_DROP_BUSY ? "busy" : smg_frame_errname(i);
}

const char *smg_idhex(const uint8_t id[SMG_ID_LEN])
{
	static char buf[4][2 * SMG_ID_LEN + 1];
	static int k;
	k = (k + 1) % 4;
	smg_hex(id, SMG_ID_LEN, buf[k]);
	return buf[k];
}

const char *smg_peer_label(const struct smg_peers *t, const struct smg_peer *p)
{
	static char buf[200];
	const char *where = t->where ? t->where : inet_ntoa(p->addr.sin_addr);
	snprintf(buf, sizeof buf, "%s (%s, id %.8s)", p->name, where, smg_idhex(p->id));
	return buf;
}

int smg_peers_find(const struct smg_peers *t, const uint8_t id[SMG_ID_LEN])
{
	for (size_t i = 0; i < t->n; i++)
		if (!memcmp(t->v[i].id, id, SMG_ID_LEN))
			return (int)i;
	return -1;
}

int smg_peers_add(struct smg_peers *t, const uint8_t id[SMG_ID_LEN], int *keep)
{
	int i = smg_peers_find(t, id);
	if (i >= 0)
		return i;
	if (t->n == SMG_BEACON_MAX_PEERS) {
		/* forget the peer silent longest */
		size_t old = 0;
		for (size_t k = 1; k < t->n; k++)
			if (t->v[k].last_seen < t->v[old].last_seen)
				old = k;
		smg_tallies_free(t->v[old].tables, t->v[old].ntables);
		t->v[old] = t->v[--t->n];
		if (*keep == (int)old)
			*keep = -1;
		else if (*keep == (int)t->n)
			*keep = (int)old;
	}
	struct smg_peer *p = &t->v[t->n];
	memset(p, 0, sizeof *p);
	memcpy(p->id, id, SMG_ID_LEN);
	strcpy(p->name, "?");
	p->last_seen = smg_mono_ms();
	return (int)t->n++;
}

/* A new instance at a peer's address and port is that peer restarted:
 * the old one is gone, and connecting to it would reach the new one. */
static void forget_replaced(struct smg_peers *t, const struct smg_peer *p)
{
	for (size_t i = 0; i < t->n; i++) {
		struct smg_peer *q = &t->v[i];
		if (q != p && q->announced && !q->expired &&
		    q->addr.sin_addr.s_addr == p->addr.sin_addr.s_addr &&
		    q->addr.sin_port == p->addr.sin_port) {
			q->expired = true;
			if (t->verbose)
				smg_warn("peer %s was replaced by id %.8s", smg_peer_label(t, q),
					 smg_idhex(p->id));
		}
	}
}

void smg_peers_heard(struct smg_peers *t, int i, const struct smg_announce *a,
		     const struct sockaddr_in *from)
{
	struct smg_peer *p = &t->v[i];
	bool fresh = !p->announced || p->expired;
	p->announced = true;
	p->expired = false;
	p->addr = *from;
	p->addr.sin_port = htons(a->port);
	p->flags = a->flags;
	memcpy(p->digest, a->digest, 32);
	memcpy(p->name, a->name, sizeof p->name);
	p->last_seen = smg_mono_ms();
	if (fresh) {
		smg_warn("peer %s%s", smg_peer_label(t, p),
			 p->flags & SMG_ANN_PASSIVE ? " (dry run, passive)" : "");
		forget_replaced(t, p);
	}
}

void smg_peers_expire(struct smg_peers *t, int64_t now, int64_t timeout_ms)
{
	for (size_t i = 0; i < t->n; i++) {
		struct smg_peer *p = &t->v[i];
		if (p->announced && !p->expired && now - p->last_seen > timeout_ms) {
			p->expired = true;
			smg_warn("peer %s went quiet", smg_peer_label(t, p));
		}
	}
}

static bool id_below(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, SMG_ID_LEN) < 0;
}

/* The next peer we should connect to, or -1. */
int smg_peers_next_target(const struct smg_peers *t, const struct smg_peer_choice *c, int64_t now)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct smg_peer *p = &t->v[i];
		if (!p->announced || p->expired || (p->flags & SMG_ANN_PASSIVE) || !p->addr.sin_port)
			continue;
		if (now < p->next_try)
			continue;
		if (c->once) {
			if (p->target && !p->done && (c->dry_run || id_below(c->my_id, p->id)))
				return (int)i;
			continue;
		}
		if (c->dry_run) {	/* one report per peer */
			if (!p->done)
				return (int)i;
			continue;
		}
		if (!id_below(c->my_id, p->id))
			continue;	/* the lower id connects: it will come to us */
		if (!memcmp(p->digest, c->my_digest, 32))
			continue;	/* already the same rows */
		if (p->synced_valid && !memcmp(p->synced_mine, c->my_digest, 32) &&
		    !memcmp(p->synced_theirs, p->digest, 32))
			continue;	/* nothing new since we last exchanged */
		return (int)i;
	}
	return -1;
}

size_t smg_peers_mark_targets(struct smg_peers *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct smg_peer *p = &t->v[i];
		if (p->announced && !p->expired && !(p->flags & SMG_ANN_PASSIVE) && !p->done) {
			p->target = true;
			n++;
		}
	}
	return n;
}

bool smg_peers_targets_done(const struct smg_peers *t)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i].target && !t->v[i].done)
			return false;
	return true;
}

size_t smg_peers_give_up(struct smg_peers *t, int64_t timeout_ms)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n; i++) {
		struct smg_peer *p = &t->v[i];
		if (!p->target || p->done)
			continue;
		snprintf(p->last_error, sizeof p->last_error, "never connected to us within %llds",
			 (long long)(timeout_ms / 1000));
		smg_warn("%s: %s", smg_peer_label(t, p), p->last_error);
		p->failures++;
		p->done = true;
		n++;
	}
	return n;
}

void smg_peer_exchanged(struct smg_peer *p, bool ok, const char *err, int64_t interval_ms,
			const uint8_t mine[32], const uint8_t theirs[32], uint64_t bytes_in,
			uint64_t bytes_out, const struct smg_tally *tables, size_t ntables)
{
	p->done = true;
	if (ok) {
		p->exchanges++;
		p->failures_in_row = 0;
		p->synced_valid = true;
		memcpy(p->synced_mine, mine, 32);
		memcpy(p->synced_theirs, theirs, 32);
		p->next_try = smg_mono_ms();
	} else {
		p->failures++;
		p->failures_in_row++;
		int64_t back = interval_ms << (p->failures_in_row < 8 ? p->failures_in_row : 8);
		p->next_try = smg_mono_ms() +
			      (back < SMG_BEACON_BACKOFF_MAX_MS ? back : SMG_BEACON_BACKOFF_MAX_MS);
		snprintf(p->last_error, sizeof p->last_error, "%s", err);
	}
	p->bytes_in += bytes_in;
	p->bytes_out += bytes_out;
	for (size_t i = 0; i < ntables; i++) {
		struct smg_tally *t = smg_tally_get(&p->tables, &p->ntables, tables[i].name);
		t->sent += tables[i].sent;
		t->received += tables[i].received;
	}
}
