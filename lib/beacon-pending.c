/*
 * beacon-pending.c - smg-beacon's accepted connections not yet past HELLO
 * (see beacon.h).  The parent holds every accepted connection until its
 * whole HELLO frame has arrived, and only then gives it the exchange slot:
 * a connection that says nothing costs a slot in this table for
 * SMG_EXCHANGE_HELLO_WAIT_MS, never the exchange slot, and one address
 * holds at most SMG_BEACON_PENDING_PER_ADDR.  A HELLO seen before (by its
 * tag) is refused unread.
 */
#include "beacon.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void pending_remove(struct smg_pending *q, size_t i, bool close_it)
{
	if (close_it)
		close(q->v[i].fd);
	q->v[i] = q->v[--q->n];
}

void smg_pending_add(struct smg_pending *q, int fd, const struct sockaddr_in *from)
{
	size_t same = 0, idle = q->n;
	for (size_t i = 0; i < q->n; i++) {
		if (q->v[i].from.sin_addr.s_addr == from->sin_addr.s_addr)
			same++;
		if (!q->v[i].ready && (idle == q->n || q->v[i].since < q->v[idle].since))
			idle = i;
	}
	if (same >= SMG_BEACON_PENDING_PER_ADDR || (q->n == SMG_BEACON_PENDING_MAX && idle == q->n)) {
		close(fd);
		q->drop(SMG_DROP_BUSY, from);
		return;
	}
	if (q->n == SMG_BEACON_PENDING_MAX) {	/* the longest silent makes room */
		q->drop(SMG_DROP_BUSY, &q->v[idle].from);
		pending_remove(q, idle, true);
	}
	q->v[q->n++] = (struct smg_pending_conn){.fd = fd, .from = *from, .since = smg_mono_ms()};
}

/* Has p's HELLO all arrived?  -1: drop the connection. */
static int hello_arrived(struct smg_pending *q, struct smg_pending_conn *p)
{
	uint8_t buf[SMG_FRAME_HDR + SMG_HELLO_LEN + SMG_FRAME_TAG];
	ssize_t n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		return -1;
	if (n < SMG_FRAME_HDR)
		return 0;
	struct smg_frame_hdr h;
	int e = smg_frame_parse_header(buf, (size_t)n, q->keyed, SMG_FRAME_HELLO_MAX, &h);
	if (!e && (h.type != SMG_F_HELLO || h.len != SMG_HELLO_LEN))
		e = SMG_FRAME_ETYPE;
	if (e) {
		q->drop(e, &p->from);
		return -1;
	}
	if ((size_t)n < sizeof buf)
		return 0;
	memcpy(p->tag, buf + sizeof buf - SMG_FRAME_TAG, SMG_FRAME_TAG);
	return 1;
}

void smg_pending_check(struct smg_pending *q, int64_t now)
{
	for (size_t i = q->n; i-- > 0;) {
		struct smg_pending_conn *p = &q->v[i];
		int r = p->ready ? 1 : hello_arrived(q, p);
		if (r < 0) {
			pending_remove(q, i, true);
		} else if (r == 0 && now - p->since > SMG_EXCHANGE_HELLO_WAIT_MS) {
			q->drop(SMG_FRAME_ETIMEOUT, &p->from);
			pending_remove(q, i, true);
		} else if (r == 1 && now - p->since > SMG_EXCHANGE_IO_TIMEOUT_MS) {
			pending_remove(q, i, true);	/* the client gave up waiting */
		} else {
			p->ready = r == 1;
		}
	}
}

static bool hello_seen(struct smg_pending *q, const uint8_t tag[SMG_FRAME_TAG])
{
	size_t n = q->nseen < SMG_BEACON_REPLAY_SLOTS ? q->nseen : SMG_BEACON_REPLAY_SLOTS;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(q->seen[i], tag, SMG_FRAME_TAG))
			return true;
	memcpy(q->seen[q->nseen++ % SMG_BEACON_REPLAY_SLOTS], tag, SMG_FRAME_TAG);
	return false;
}

bool smg_pending_take(struct smg_pending *q, int *fd, struct sockaddr_in *from)
{
	size_t best = q->n;
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].ready && (best == q->n || q->v[i].since < q->v[best].since))
			best = i;
	if (best == q->n)
		return false;
	struct smg_pending_conn p = q->v[best];
	pending_remove(q, best, false);
	*from = p.from;
	*fd = p.fd;
	if (hello_seen(q, p.tag)) {
		q->drop(SMG_FRAME_EREPLAY, &p.from);
		close(p.fd);
		*fd = -1;
	}
	return true;
}

int smg_pending_pollfds(const struct smg_pending *q, struct pollfd *pf)
{
	int n = 0;
	for (size_t i = 0; i < q->n; i++)
		if (!q->v[i].ready)
			pf[n++] = (struct pollfd){.fd = q->v[i].fd, .events = POLLIN};
	return n;
}

void smg_pending_close(struct smg_pending *q, int keep)
{
	for (size_t i = 0; i < q->n; i++)
		if (q->v[i].fd != keep)
			close(q->v[i].fd);
}
