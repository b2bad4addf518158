/* frame.c - secure framing for smg-beacon: see frame.h and smg-beacon(1). */
#include "frame.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#define FLAG_SEALED 0x01
#define LABEL_HELLO "smugglr beacon v1 hello"
#define LABEL_SESSION "smugglr beacon v1 session"
#define LABEL_C2S "smugglr beacon v1 client to server"
#define LABEL_S2C "smugglr beacon v1 server to client"

static const struct {
	const char *name, *text;
} errs[SMG_FRAME_NERR] = {
	[SMG_FRAME_OK] = {"ok", "no error"},
	[SMG_FRAME_ETRUNC] = {"truncated", "truncated frame"},
	[SMG_FRAME_EMAGIC] = {"garbage", "not a smugglr frame"},
	[SMG_FRAME_EVERSION] = {"bad_version", "unknown protocol version"},
	[SMG_FRAME_ETOOBIG] = {"oversized", "frame length over the limit"},
	[SMG_FRAME_EMODE] = {"wrong_mode", "sealed and plain frames mixed (secret on one side only?)"},
	[SMG_FRAME_ETAG] = {"bad_tag", "authentication failed (wrong key or tampered frame)"},
	[SMG_FRAME_ESESSION] = {"wrong_session", "frame of another session"},
	[SMG_FRAME_EREPLAY] = {"replay", "replayed frame"},
	[SMG_FRAME_EREORDER] = {"reorder", "frame out of order"},
	[SMG_FRAME_ESTALE] = {"stale", "the peer's clock is more than 60 s from ours (or a recording)"},
	[SMG_FRAME_ETYPE] = {"unexpected", "unexpected frame"},
	[SMG_FRAME_EIO] = {"io_error", "connection error"},
	[SMG_FRAME_EEOF] = {"closed", "connection closed by peer"},
	[SMG_FRAME_ETIMEOUT] = {"timeout", "peer timed out"},
};

const char *smg_frame_strerror(int err)
{
	if (err < 0 || err >= SMG_FRAME_NERR)
		return "unknown error";
	return errs[err].text;
}

const char *smg_frame_errname(int err)
{
	if (err < 0 || err >= SMG_FRAME_NERR)
		return "unknown";
	return errs[err].name;
}

static void need_sodium(void)
{
	static bool done;
	if (!done) {
		if (sodium_init() < 0)
			smg_die(SMG_EXIT_FAILURE, "libsodium failed to initialise");
		done = true;
	}
}

/* SMG_TEST_CLOCK_OFFSET_MS: tests only, a host whose clock is off */
static int64_t clock_offset(void)
{
	static bool done;
	static int64_t off;
	if (!done) {
		const char *s = getenv("SMG_TEST_CLOCK_OFFSET_MS");
		off = s ? strtoll(s, NULL, 10) : 0;
		done = true;
	}
	return off;
}

int64_t smg_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + clock_offset();
}

int64_t smg_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool smg_secret_parse(const char *text, uint8_t key[SMG_KEY_LEN])
{
	need_sodium();
	const char *p = text;
	while (is_space(*p))
		p++;
	size_t n = 0;
	while (p[n] && !is_space(p[n]))
		n++;
	size_t got = 0;
	const char *end = NULL;
	bool ok = n == 2 * SMG_KEY_LEN &&
		  sodium_hex2bin(key, SMG_KEY_LEN, p, n, NULL, &got, &end) == 0 &&
		  got == SMG_KEY_LEN && end == p + n;
	for (p += n; ok && *p; p++)
		ok = is_space(*p);
	if (!ok)
		sodium_memzero(key, SMG_KEY_LEN);
	return ok;
}

void smg_key_derive(uint8_t out[SMG_KEY_LEN], const uint8_t key[SMG_KEY_LEN],
		    const char *label)
{
	need_sodium();
	crypto_generichash(out, SMG_KEY_LEN, (const unsigned char *)label,
			   strlen(label), key, SMG_KEY_LEN);
}

/* The trailer of a plain frame: an unkeyed checksum, so that accidental
 * corruption is caught even when nothing is secret. */
static void plain_tag(uint8_t tag[SMG_FRAME_TAG], const uint8_t *hdr,
		      const uint8_t *payload, size_t n)
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, SMG_FRAME_TAG);
	crypto_generichash_update(&st, hdr, SMG_FRAME_HDR);
	crypto_generichash_update(&st, payload, n);
	crypto_generichash_final(&st, tag, SMG_FRAME_TAG);
}

void smg_frame_seal(struct smg_buf *out, const uint8_t *key, uint8_t type,
		    uint64_t seq, const uint8_t id[SMG_ID_LEN],
		    const void *payload, size_t n)
{
	need_sodium();
	if (n > SMG_FRAME_MAX || type == 0)
		smg_die(SMG_EXIT_FAILURE, "internal error: frame of %zu bytes, type %u", n,
			type);
	smg_buf_grow(out, SMG_FRAME_HDR + n + SMG_FRAME_TAG);
	uint8_t *h = (uint8_t *)out->data + out->len;
	memset(h, 0, SMG_FRAME_HDR);
	h[0] = 'S';
	h[1] = 'B';
	h[2] = SMG_FRAME_VERSION;
	h[3] = type;
	h[4] = key ? FLAG_SEALED : 0;
	smg_put_be32(h + 8, (uint32_t)n);
	smg_put_be64(h + 12, seq);
	memcpy(h + 20, id, SMG_ID_LEN);
	uint8_t *body = h + SMG_FRAME_HDR;
	uint8_t *tag = body + n;
	if (key) {
		randombytes_buf(h + 36, SMG_NONCE_LEN);
		unsigned long long taglen;
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(
			body, tag, &taglen, payload, n, h, SMG_FRAME_HDR, NULL, h + 36, key);
	} else {
		if (n)
			memcpy(body, payload, n);
		plain_tag(tag, h, body, n);
	}
	out->len += SMG_FRAME_HDR + n + SMG_FRAME_TAG;
	out->data[out->len] = '\0';
}

int smg_frame_parse_header(const uint8_t *p, size_t n, bool sealed, size_t max,
			   struct smg_frame_hdr *h)
{
	if (n < SMG_FRAME_HDR)
		return SMG_FRAME_ETRUNC;
	if (p[0] != 'S' || p[1] != 'B' || p[3] == 0 || (p[4] & ~FLAG_SEALED) || p[5] ||
	    p[6] || p[7])
		return SMG_FRAME_EMAGIC;
	if (p[2] != SMG_FRAME_VERSION)
		return SMG_FRAME_EVERSION;
	h->version = p[2];
	h->type = p[3];
	h->flags = p[4];
	h->len = smg_get_be32(p + 8);
	h->seq = smg_get_be64(p + 12);
	memcpy(h->id, p + 20, SMG_ID_LEN);
	memcpy(h->nonce, p + 36, SMG_NONCE_LEN);
	if (h->len > max || h->len > SMG_FRAME_MAX)
		return SMG_FRAME_ETOOBIG;
	if (!!(h->flags & FLAG_SEALED) != sealed)
		return SMG_FRAME_EMODE;
	return SMG_FRAME_OK;
}

int smg_frame_open(const uint8_t *key, const struct smg_frame_hdr *h,
		   const uint8_t *p, uint8_t *out)
{
	need_sodium();
	const uint8_t *body = p + SMG_FRAME_HDR;
	const uint8_t *tag = body + h->len;
	if (key) {
		if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
			    out, NULL, body, h->len, tag, p, SMG_FRAME_HDR, h->nonce, key) != 0)
			return SMG_FRAME_ETAG;
		return SMG_FRAME_OK;
	}
	uint8_t want[SMG_FRAME_TAG];
	plain_tag(want, p, body, h->len);
	if (sodium_memcmp(want, tag, SMG_FRAME_TAG) != 0)
		return SMG_FRAME_ETAG;
	if (h->len)
		memcpy(out, body, h->len);
	return SMG_FRAME_OK;
}

int smg_frame_decode(const uint8_t *key, const uint8_t *p, size_t n, size_t max,
		     struct smg_frame_hdr *h, struct smg_buf *payload)
{
	int e = smg_frame_parse_header(p, n, key != NULL, max, h);
	if (e)
		return e;
	size_t want = SMG_FRAME_HDR + (size_t)h->len + SMG_FRAME_TAG;
	if (n < want)
		return SMG_FRAME_ETRUNC;
	if (n > want)
		return SMG_FRAME_EMAGIC;	/* trailing bytes: not one frame */
	smg_buf_reset(payload);
	smg_buf_grow(payload, h->len);
	e = smg_frame_open(key, h, p, (uint8_t *)payload->data);
	if (e)
		return e;
	payload->len = h->len;
	payload->data[payload->len] = '\0';
	return SMG_FRAME_OK;
}

/* ---- announcement guard ------------------------------------------------ */

void smg_guard_init(struct smg_guard *g, int64_t window_ms)
{
	memset(g, 0, sizeof *g);
	g->window_ms = window_ms;
}

/* |a - b| > w, for any a and b a peer may send (no signed overflow). */
static bool apart(int64_t a, int64_t b, int64_t w)
{
	uint64_t d = a >= b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
	return d > (uint64_t)w;
}

int smg_guard_check(struct smg_guard *g, const uint8_t id[SMG_ID_LEN],
		    uint64_t seq, int64_t ts_ms, int64_t now_ms)
{
	int64_t w = g->window_ms;
	if (apart(ts_ms, now_ms, w))
		return SMG_FRAME_ESTALE;
	int freeslot = -1, oldest = -1;
	for (int i = 0; i < SMG_GUARD_SLOTS; i++) {
		if (!g->slot[i].used || apart(now_ms, g->slot[i].seen_ms, 2 * w)) {
			g->slot[i].used = false;
			if (freeslot < 0)
				freeslot = i;
			continue;
		}
		if (memcmp(g->slot[i].id, id, SMG_ID_LEN) == 0) {
			if (seq <= g->slot[i].seq)
				return SMG_FRAME_EREPLAY;
			g->slot[i].seq = seq;
			g->slot[i].seen_ms = now_ms;
			return SMG_FRAME_OK;
		}
		if (oldest < 0 || g->slot[i].seen_ms < g->slot[oldest].seen_ms)
			oldest = i;
	}
	int i = freeslot >= 0 ? freeslot : oldest;
	memcpy(g->slot[i].id, id, SMG_ID_LEN);
	g->slot[i].seq = seq;
	g->slot[i].seen_ms = now_ms;
	g->slot[i].used = true;
	return SMG_FRAME_OK;
}

/* ---- announcement payload ------------------------------------------------ */

void smg_announce_encode(const struct smg_announce *a, struct smg_buf *out)
{
	uint8_t fixed[SMG_ANN_FIXED];
	size_t nl = strnlen(a->name, SMG_ANN_NAME_MAX);
	smg_put_be64(fixed, (uint64_t)a->ts_ms);
	smg_put_be16(fixed + 8, a->port);
	smg_put_be16(fixed + 10, a->flags);
	memcpy(fixed + 12, a->group, SMG_GROUP_LEN);
	memcpy(fixed + 44, a->digest, 32);
	fixed[76] = (uint8_t)nl;
	smg_buf_add(out, fixed, sizeof fixed);
	smg_buf_add(out, a->name, nl);
}

int smg_announce_decode(const uint8_t *p, size_t n, struct smg_announce *a)
{
	if (n < SMG_ANN_FIXED || p[76] > SMG_ANN_NAME_MAX || n != SMG_ANN_FIXED + (size_t)p[76])
		return SMG_FRAME_ETYPE;
	for (size_t i = SMG_ANN_FIXED; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return SMG_FRAME_ETYPE;
	a->ts_ms = (int64_t)smg_get_be64(p);
	a->port = smg_get_be16(p + 8);
	a->flags = smg_get_be16(p + 10);
	memcpy(a->group, p + 12, SMG_GROUP_LEN);
	memcpy(a->digest, p + 44, 32);
	memcpy(a->name, p + SMG_ANN_FIXED, p[76]);
	a->name[p[76]] = '\0';
	return SMG_FRAME_OK;
}

/* ---- socket I/O with an idle timeout ----------------------------------- */

static int wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd pfd = {.fd = fd, .events = ev};
	for (;;) {
		int r = poll(&pfd, 1, timeout_ms);
		if (r > 0)
			return SMG_FRAME_OK;
		if (r == 0)
			return SMG_FRAME_ETIMEOUT;
		if (errno != EINTR)
			return SMG_FRAME_EIO;
	}
}

/* Milliseconds left until deadline, at least 0. */
static int left(int64_t deadline)
{
	int64_t ms = deadline - smg_mono_ms();
	return ms < 0 ? 0 : ms > INT32_MAX ? INT32_MAX : (int)ms;
}

int smg_io_read(int fd, void *p, size_t n, int timeout_ms)
{
	uint8_t *c = p;
	size_t got = 0;
	int64_t deadline = smg_mono_ms() + timeout_ms;
	while (got < n) {
		ssize_t r = read(fd, c + got, n - got);
		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r == 0)
			return got ? SMG_FRAME_ETRUNC : SMG_FRAME_EEOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == ECONNRESET && !got ? SMG_FRAME_EEOF
			       : errno == ECONNRESET ? SMG_FRAME_ETRUNC : SMG_FRAME_EIO;
		int e = wait_fd(fd, POLLIN, left(deadline));
		if (e)
			return e;
	}
	return SMG_FRAME_OK;
}

int smg_io_write(int fd, const void *p, size_t n, int timeout_ms)
{
	const uint8_t *c = p;
	bool sock = true;
	int64_t deadline = smg_mono_ms() + timeout_ms;
	while (n > 0) {
		ssize_t w = sock ? send(fd, c, n, MSG_NOSIGNAL) : write(fd, c, n);
		if (w < 0 && sock && errno == ENOTSOCK) {
			sock = false;
			continue;
		}
		if (w > 0) {
			c += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return errno == EPIPE || errno == ECONNRESET ? SMG_FRAME_EEOF
								     : SMG_FRAME_EIO;
		int e = wait_fd(fd, POLLOUT, left(deadline));
		if (e)
			return e;
	}
	return SMG_FRAME_OK;
}

/* ---- channel -------------------------------------------------------------- */

static int count(struct smg_chan *c, int e)
{
	if (c->stats && e >= 0 && e < SMG_FRAME_NERR)
		c->stats->n[e]++;
	return e;
}

int smg_chan_send(struct smg_chan *c, uint8_t type, const void *p, size_t n)
{
	smg_buf_reset(&c->wbuf);
	smg_frame_seal(&c->wbuf, c->sealed ? c->txkey : NULL, type, c->txseq, c->session,
		       p, n);
	int e = smg_io_write(c->wfd, c->wbuf.data, c->wbuf.len, c->timeout_ms);
	if (e)
		return e;
	c->txseq++;
	c->bytes_out += c->wbuf.len;
	return SMG_FRAME_OK;
}

int smg_chan_recv(struct smg_chan *c, uint8_t *type, struct smg_buf *payload)
{
	uint8_t hb[SMG_FRAME_HDR];
	struct smg_frame_hdr h;
	int e = smg_io_read(c->fd, hb, sizeof hb, c->timeout_ms);
	if (e)
		return count(c, e);
	e = smg_frame_parse_header(hb, sizeof hb, c->sealed, c->max, &h);
	if (e)
		return count(c, e);
	size_t total = SMG_FRAME_HDR + (size_t)h.len + SMG_FRAME_TAG;
	smg_buf_reset(&c->rbuf);
	smg_buf_grow(&c->rbuf, total);
	memcpy(c->rbuf.data, hb, sizeof hb);
	e = smg_io_read(c->fd, c->rbuf.data + SMG_FRAME_HDR, total - SMG_FRAME_HDR,
			c->timeout_ms);
	if (e)
		return count(c, e == SMG_FRAME_EEOF ? SMG_FRAME_ETRUNC : e);
	c->bytes_in += total;
	if (sodium_memcmp(h.id, c->session, SMG_ID_LEN) != 0)
		return count(c, SMG_FRAME_ESESSION);
	smg_buf_reset(payload);
	smg_buf_grow(payload, h.len);
	e = smg_frame_open(c->sealed ? c->rxkey : NULL, &h, (uint8_t *)c->rbuf.data,
			   (uint8_t *)payload->data);
	if (e)
		return count(c, e);
	if (h.seq < c->rxseq)
		return count(c, SMG_FRAME_EREPLAY);
	if (h.seq > c->rxseq)
		return count(c, SMG_FRAME_EREORDER);
	payload->len = h.len;
	payload->data[payload->len] = '\0';
	c->rxseq++;
	*type = h.type;
	return count(c, SMG_FRAME_OK);
}

/* HELLO payload: 32 random bytes, the sender's instance id, its clock. */
#define HELLO_NONCE 32
#define HELLO_LEN SMG_HELLO_LEN
_Static_assert(HELLO_LEN == HELLO_NONCE + SMG_ID_LEN + 8, "HELLO layout");

static bool set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
}

int smg_chan_handshake(struct smg_chan *c, int fd, const uint8_t *secret,
		       bool initiator, const uint8_t my_id[SMG_ID_LEN],
		       uint8_t peer_id[SMG_ID_LEN], int timeout_ms)
{
	return smg_chan_handshake_fds(c, fd, fd, secret, initiator, my_id, peer_id, timeout_ms);
}

int smg_chan_handshake_fds(struct smg_chan *c, int fd, int wfd, const uint8_t *secret,
			   bool initiator, const uint8_t my_id[SMG_ID_LEN],
			   uint8_t peer_id[SMG_ID_LEN], int timeout_ms)
{
	need_sodium();
	struct smg_frame_stats *stats = c->stats;
	memset(c, 0, sizeof *c);
	c->stats = stats;
	c->fd = fd;
	c->wfd = wfd;
	c->sealed = secret != NULL;
	c->timeout_ms = timeout_ms;
	c->max = SMG_FRAME_HELLO_MAX;
	if (!set_nonblock(fd) || !set_nonblock(wfd))
		return SMG_FRAME_EIO;

	uint8_t hello_key[SMG_KEY_LEN];
	if (secret) {
		smg_key_derive(hello_key, secret, LABEL_HELLO);
		memcpy(c->txkey, hello_key, SMG_KEY_LEN);
		memcpy(c->rxkey, hello_key, SMG_KEY_LEN);
	}
	/* transcript: client nonce, server nonce, client id, server id */
	uint8_t tr[2 * HELLO_NONCE + 2 * SMG_ID_LEN];
	uint8_t mine[HELLO_LEN];
	randombytes_buf(mine, HELLO_NONCE);
	memcpy(mine + HELLO_NONCE, my_id, SMG_ID_LEN);
	smg_put_be64(mine + HELLO_NONCE + SMG_ID_LEN, (uint64_t)smg_now_ms());
	struct smg_buf in = SMG_BUF_INIT;
	uint8_t type = 0;
	int e;
	if (initiator) {
		e = smg_chan_send(c, SMG_F_HELLO, mine, sizeof mine);
		if (!e)
			e = smg_chan_recv(c, &type, &in);
		if (!e && (type != SMG_F_HELLO_ACK || in.len != HELLO_LEN))
			e = count(c, SMG_FRAME_ETYPE);
	} else {
		e = smg_chan_recv(c, &type, &in);
		if (!e && (type != SMG_F_HELLO || in.len != HELLO_LEN))
			e = count(c, SMG_FRAME_ETYPE);
		/* a HELLO recorded long ago is refused here; a recent one gets
		 * no further than our HELLO_ACK: the session keys take our fresh
		 * nonce, and the client must prove it has them (exchange.c) */
		if (!e && apart((int64_t)smg_get_be64((uint8_t *)in.data + HELLO_NONCE + SMG_ID_LEN),
				smg_now_ms(), SMG_ANNOUNCE_WINDOW_MS))
			e = count(c, SMG_FRAME_ESTALE);
		if (!e)
			e = smg_chan_send(c, SMG_F_HELLO_ACK, mine, sizeof mine);
	}
	if (e) {
		smg_buf_free(&in);
		sodium_memzero(hello_key, sizeof hello_key);
		return e;
	}
	const uint8_t *theirs = (const uint8_t *)in.data;
	const uint8_t *cli = initiator ? mine : theirs, *srv = initiator ? theirs : mine;
	memcpy(tr, cli, HELLO_NONCE);
	memcpy(tr + HELLO_NONCE, srv, HELLO_NONCE);
	memcpy(tr + 2 * HELLO_NONCE, cli + HELLO_NONCE, SMG_ID_LEN);
	memcpy(tr + 2 * HELLO_NONCE + SMG_ID_LEN, srv + HELLO_NONCE, SMG_ID_LEN);
	memcpy(peer_id, theirs + HELLO_NONCE, SMG_ID_LEN);
	smg_buf_free(&in);

	crypto_generichash_state st;
	crypto_generichash_init(&st, secret ? hello_key : NULL, secret ? SMG_KEY_LEN : 0,
				SMG_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_SESSION, strlen(LABEL_SESSION));
	crypto_generichash_update(&st, tr, sizeof tr);
	crypto_generichash_final(&st, c->session, SMG_ID_LEN);
	if (secret) {
		uint8_t c2s[SMG_KEY_LEN], s2c[SMG_KEY_LEN];
		const char *labels[2] = {LABEL_C2S, LABEL_S2C};
		uint8_t *outs[2] = {c2s, s2c};
		for (int i = 0; i < 2; i++) {
			crypto_generichash_init(&st, secret, SMG_KEY_LEN, SMG_KEY_LEN);
			crypto_generichash_update(&st, (const uint8_t *)labels[i],
						  strlen(labels[i]));
			crypto_generichash_update(&st, tr, sizeof tr);
			crypto_generichash_final(&st, outs[i], SMG_KEY_LEN);
		}
		memcpy(c->txkey, initiator ? c2s : s2c, SMG_KEY_LEN);
		memcpy(c->rxkey, initiator ? s2c : c2s, SMG_KEY_LEN);
		sodium_memzero(c2s, sizeof c2s);
		sodium_memzero(s2c, sizeof s2c);
	}
	sodium_memzero(hello_key, sizeof hello_key);
	c->txseq = c->rxseq = 1;
	c->max = SMG_FRAME_MAX;
	return SMG_FRAME_OK;
}

void smg_chan_close(struct smg_chan *c)
{
	if (c->wfd >= 0 && c->wfd != c->fd)
		close(c->wfd);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = c->wfd = -1;
	sodium_memzero(c->txkey, sizeof c->txkey);
	sodium_memzero(c->rxkey, sizeof c->rxkey);
	smg_buf_free(&c->wbuf);
	smg_buf_free(&c->rbuf);
}
