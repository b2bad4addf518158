/* tests/unit/frame.c - the secure framing of lib/frame.c. */
#include "frame.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

static int failures;

#define CHECK(what, cond)                                                         \
	do {                                                                      \
		if (cond)                                                         \
			printf("ok - %s\n", what);                                \
		else {                                                            \
			printf("not ok - %s (%s:%d)\n", what, __FILE__, __LINE__); \
			failures++;                                               \
		}                                                                 \
	} while (0)

#define CHECK_ERR(what, got, want)                                                 \
	do {                                                                       \
		int g_ = (got), w_ = (want);                                       \
		if (g_ == w_)                                                      \
			printf("ok - %s\n", what);                                 \
		else {                                                             \
			printf("not ok - %s (got %s, wanted %s; %s:%d)\n", what,   \
			       smg_frame_errname(g_), smg_frame_errname(w_), __FILE__, \
			       __LINE__);                                          \
			failures++;                                                \
		}                                                                  \
	} while (0)

static uint8_t key1[SMG_KEY_LEN], key2[SMG_KEY_LEN];
static const uint8_t id1[SMG_ID_LEN] = "0123456789abcde";
static const uint8_t id2[SMG_ID_LEN] = "fedcba987654321";

static void test_secret(void)
{
	uint8_t k[SMG_KEY_LEN];
	const char *good = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
	CHECK("secret: 64 hex digits parse", smg_secret_parse(good, k) && k[0] == 0 &&
						     k[1] == 0x11 && k[31] == 0xff);
	char buf[200];
	snprintf(buf, sizeof buf, "  %s\n", good);
	CHECK("secret: surrounding whitespace allowed", smg_secret_parse(buf, k));
	CHECK("secret: 63 digits refused", !smg_secret_parse(good + 1, k));
	snprintf(buf, sizeof buf, "%s0", good);
	CHECK("secret: 65 digits refused", !smg_secret_parse(buf, k));
	snprintf(buf, sizeof buf, "%s", good);
	buf[10] = 'g';
	CHECK("secret: non-hex refused", !smg_secret_parse(buf, k));
	CHECK("secret: empty refused", !smg_secret_parse("", k));
	snprintf(buf, sizeof buf, "%s x", good);
	CHECK("secret: trailing junk refused", !smg_secret_parse(buf, k));
}

static void test_roundtrip(const uint8_t *key, const char *mode)
{
	char what[200];
	struct smg_buf f = SMG_BUF_INIT, out = SMG_BUF_INIT;
	const char msg[] = "hello, frame";
	smg_frame_seal(&f, key, SMG_F_ANNOUNCE, 42, id1, msg, sizeof msg - 1);
	CHECK("frame size is header + payload + tag",
	      f.len == SMG_FRAME_HDR + sizeof msg - 1 + SMG_FRAME_TAG);
	struct smg_frame_hdr h;
	int e = smg_frame_decode(key, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h, &out);
	snprintf(what, sizeof what, "%s: round trip decodes", mode);
	CHECK_ERR(what, e, SMG_FRAME_OK);
	snprintf(what, sizeof what, "%s: payload, type, seq and id survive", mode);
	CHECK(what, out.len == sizeof msg - 1 && memcmp(out.data, msg, out.len) == 0 &&
			    h.type == SMG_F_ANNOUNCE && h.seq == 42 &&
			    memcmp(h.id, id1, SMG_ID_LEN) == 0);
	if (key) {
		snprintf(what, sizeof what, "%s: payload is not in clear", mode);
		CHECK(what, !memmem(f.data, f.len, msg, sizeof msg - 1));
		struct smg_buf f2 = SMG_BUF_INIT;
		smg_frame_seal(&f2, key, SMG_F_ANNOUNCE, 42, id1, msg, sizeof msg - 1);
		CHECK("sealed: same input, fresh nonce, different bytes",
		      memcmp(f.data + 36, f2.data + 36, SMG_NONCE_LEN) != 0 &&
			      memcmp(f.data + SMG_FRAME_HDR, f2.data + SMG_FRAME_HDR,
				     sizeof msg - 1) != 0);
		smg_buf_free(&f2);
		CHECK_ERR("sealed: wrong key refused",
			  smg_frame_decode(key2, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h,
					   &out),
			  SMG_FRAME_ETAG);
		CHECK_ERR("sealed: opened without a key refused",
			  smg_frame_decode(NULL, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h,
					   &out),
			  SMG_FRAME_EMODE);
	} else {
		CHECK_ERR("plain: opened with a key refused",
			  smg_frame_decode(key1, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h,
					   &out),
			  SMG_FRAME_EMODE);
	}

	/* empty payload */
	smg_buf_reset(&f);
	smg_frame_seal(&f, key, SMG_F_END, 0, id2, NULL, 0);
	snprintf(what, sizeof what, "%s: empty payload round trip", mode);
	CHECK(what, smg_frame_decode(key, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h,
				     &out) == SMG_FRAME_OK &&
			    out.len == 0 && h.type == SMG_F_END);

	/* tamper: flip one bit at every position */
	smg_buf_reset(&f);
	smg_frame_seal(&f, key, SMG_F_DATA, 7, id1, msg, sizeof msg - 1);
	struct {
		const char *name;
		size_t from, to;
		int fails;
	} cls[] = {
		{"magic", 0, 2, 0},	  {"version", 2, 3, 0},	 {"type", 3, 4, 0},
		{"flags", 4, 5, 0},	  {"reserved", 5, 8, 0}, {"length", 8, 12, 0},
		{"sequence", 12, 20, 0}, {"id", 20, 36, 0},	 {"nonce", 36, 60, 0},
		{"payload", 60, f.len - SMG_FRAME_TAG, 0},
		{"tag", f.len - SMG_FRAME_TAG, f.len, 0},
	};
	size_t ncls = sizeof cls / sizeof cls[0];
	for (size_t c = 0; c < ncls; c++) {
		for (size_t i = cls[c].from; i < cls[c].to; i++)
			for (int bit = 0; bit < 8; bit++) {
				uint8_t *p = (uint8_t *)f.data;
				p[i] ^= (uint8_t)(1 << bit);
				int e = smg_frame_decode(key, p, f.len, SMG_FRAME_MAX, &h,
							 &out);
				p[i] ^= (uint8_t)(1 << bit);
				if (e == SMG_FRAME_OK)
					cls[c].fails++;
			}
		snprintf(what, sizeof what, "%s: any bit flipped in the %s is refused",
			 mode, cls[c].name);
		CHECK(what, cls[c].fails == 0);
	}
	/* nonce flips in a plain frame are still caught: the nonce is hashed */

	/* truncation at every length */
	int bad = 0;
	for (size_t n = 0; n < f.len; n++)
		if (smg_frame_decode(key, (uint8_t *)f.data, n, SMG_FRAME_MAX, &h, &out) !=
		    SMG_FRAME_ETRUNC)
			bad++;
	snprintf(what, sizeof what, "%s: every truncation is ETRUNC", mode);
	CHECK(what, bad == 0);
	smg_buf_addc(&f, 'x');
	snprintf(what, sizeof what, "%s: a trailing byte is refused", mode);
	CHECK(what, smg_frame_decode(key, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h,
				     &out) != SMG_FRAME_OK);
	f.len--;

	/* oversized length: refused from the header alone */
	uint8_t hdr[SMG_FRAME_HDR];
	memcpy(hdr, f.data, SMG_FRAME_HDR);
	smg_put_be32(hdr + 8, SMG_FRAME_MAX + 1);
	snprintf(what, sizeof what, "%s: length over 1 MiB refused from the header", mode);
	CHECK_ERR(what, smg_frame_parse_header(hdr, sizeof hdr, key != NULL, SMG_FRAME_MAX, &h),
		  SMG_FRAME_ETOOBIG);
	smg_put_be32(hdr + 8, 0xffffffffu);
	CHECK_ERR("length 4 GiB refused", smg_frame_decode(key, hdr, sizeof hdr, SMG_FRAME_MAX,
							  &h, &out),
		  SMG_FRAME_ETOOBIG);
	smg_put_be32(hdr + 8, 1000);
	snprintf(what, sizeof what, "%s: length over the caller's limit refused", mode);
	CHECK_ERR(what, smg_frame_parse_header(hdr, sizeof hdr, key != NULL, 999, &h),
		  SMG_FRAME_ETOOBIG);
	smg_buf_free(&f);
	smg_buf_free(&out);
}

static void test_max_payload(void)
{
	struct smg_buf f = SMG_BUF_INIT, out = SMG_BUF_INIT;
	uint8_t *big = malloc(SMG_FRAME_MAX);
	randombytes_buf(big, SMG_FRAME_MAX);
	smg_frame_seal(&f, key1, SMG_F_DATA, 1, id1, big, SMG_FRAME_MAX);
	struct smg_frame_hdr h;
	CHECK("a 1 MiB payload round trips",
	      smg_frame_decode(key1, (uint8_t *)f.data, f.len, SMG_FRAME_MAX, &h, &out) ==
			      SMG_FRAME_OK &&
		      out.len == SMG_FRAME_MAX && memcmp(out.data, big, SMG_FRAME_MAX) == 0);
	free(big);
	smg_buf_free(&f);
	smg_buf_free(&out);
}

static void test_guard(void)
{
	struct smg_guard *g = malloc(sizeof *g);
	smg_guard_init(g, 1000);
	int64_t now = 1000000;
	CHECK_ERR("guard: first announcement accepted", smg_guard_check(g, id1, 5, now, now),
		  SMG_FRAME_OK);
	CHECK_ERR("guard: same sequence again is a replay",
		  smg_guard_check(g, id1, 5, now, now + 1), SMG_FRAME_EREPLAY);
	CHECK_ERR("guard: lower sequence is a replay", smg_guard_check(g, id1, 4, now, now + 1),
		  SMG_FRAME_EREPLAY);
	CHECK_ERR("guard: next sequence accepted", smg_guard_check(g, id1, 6, now, now + 2),
		  SMG_FRAME_OK);
	CHECK_ERR("guard: another sender has its own sequence",
		  smg_guard_check(g, id2, 1, now, now + 2), SMG_FRAME_OK);
	CHECK_ERR("guard: older than the window is stale",
		  smg_guard_check(g, id1, 7, now - 1001, now), SMG_FRAME_ESTALE);
	CHECK_ERR("guard: further ahead than the window is stale",
		  smg_guard_check(g, id1, 8, now + 1001, now), SMG_FRAME_ESTALE);
	CHECK_ERR("guard: edge of the window accepted",
		  smg_guard_check(g, id1, 9, now - 1000, now), SMG_FRAME_OK);
	/* replay of seq 6 within 2 windows is still refused */
	CHECK_ERR("guard: replay just inside twice the window refused",
		  smg_guard_check(g, id1, 6, now + 1000, now + 1999), SMG_FRAME_EREPLAY);
	/* fill the table: the oldest is forgotten, the newest kept */
	uint8_t id[SMG_ID_LEN] = {0};
	for (int i = 0; i < SMG_GUARD_SLOTS + 10; i++) {
		memcpy(id, &i, sizeof i);
		smg_guard_check(g, id, 1, now + 1999, now + 1999 + i);
	}
	int i = SMG_GUARD_SLOTS + 9;
	memcpy(id, &i, sizeof i);
	CHECK_ERR("guard: full table keeps the newest senders",
		  smg_guard_check(g, id, 1, now + 1999, now + 1999 + i), SMG_FRAME_EREPLAY);
	free(g);
}

static void test_announce(void)
{
	struct smg_announce a = {.ts_ms = 1767225600123, .port = 31337, .flags = SMG_ANN_PASSIVE};
	memset(a.group, 0xab, sizeof a.group);
	memset(a.digest, 0xcd, sizeof a.digest);
	strcpy(a.name, "host-1");
	struct smg_buf b = SMG_BUF_INIT;
	smg_announce_encode(&a, &b);
	struct smg_announce d;
	CHECK("announce: round trip",
	      smg_announce_decode((uint8_t *)b.data, b.len, &d) == 0 && d.ts_ms == a.ts_ms &&
		      d.port == 31337 && d.flags == SMG_ANN_PASSIVE &&
		      memcmp(d.group, a.group, 32) == 0 && memcmp(d.digest, a.digest, 32) == 0 &&
		      strcmp(d.name, "host-1") == 0);
	CHECK_ERR("announce: one byte short refused",
		  smg_announce_decode((uint8_t *)b.data, b.len - 1, &d), SMG_FRAME_ETYPE);
	smg_buf_addc(&b, 'x');
	CHECK_ERR("announce: one byte long refused",
		  smg_announce_decode((uint8_t *)b.data, b.len, &d), SMG_FRAME_ETYPE);
	b.len--;
	b.data[SMG_ANN_FIXED] = '\n';
	CHECK_ERR("announce: control character in the name refused",
		  smg_announce_decode((uint8_t *)b.data, b.len, &d), SMG_FRAME_ETYPE);
	b.data[76] = 65;
	CHECK_ERR("announce: name over 64 bytes refused",
		  smg_announce_decode((uint8_t *)b.data, b.len, &d), SMG_FRAME_ETYPE);
	CHECK_ERR("announce: empty refused", smg_announce_decode((uint8_t *)"", 0, &d),
		  SMG_FRAME_ETYPE);
	smg_buf_free(&b);
}

/* ---- channel over a socketpair ------------------------------------------- */

struct side {
	int fd;
	const uint8_t *secret;
	bool initiator;
	const uint8_t *my_id;
	uint8_t peer_id[SMG_ID_LEN];
	struct smg_chan c;
	struct smg_frame_stats st;
	int err;
};

static void *run_handshake(void *arg)
{
	struct side *s = arg;
	s->c.stats = &s->st;
	s->err = smg_chan_handshake(&s->c, s->fd, s->secret, s->initiator, s->my_id,
				    s->peer_id, 2000);
	return NULL;
}

static void pair(struct side *a, struct side *b, const uint8_t *ka, const uint8_t *kb)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	memset(a, 0, sizeof *a);
	memset(b, 0, sizeof *b);
	*a = (struct side){.fd = sv[0], .secret = ka, .initiator = true, .my_id = id1};
	*b = (struct side){.fd = sv[1], .secret = kb, .initiator = false, .my_id = id2};
	pthread_t t;
	pthread_create(&t, NULL, run_handshake, b);
	run_handshake(a);
	if (a->err)	/* let the server see the end */
		shutdown(a->c.fd, SHUT_RDWR);
	pthread_join(t, NULL);
}

struct bigsend {
	struct smg_chan *c;
	const uint8_t *p;
	size_t n;
	int err;
};

static void *send_big(void *arg)
{
	struct bigsend *b = arg;
	b->err = smg_chan_send(b->c, SMG_F_DATA, b->p, b->n);
	return NULL;
}

static void test_chan(const uint8_t *key, const char *mode)
{
	char what[200];
	struct side a, b;
	struct smg_buf in = SMG_BUF_INIT, raw = SMG_BUF_INIT, old = SMG_BUF_INIT;
	uint8_t type;

	pair(&a, &b, key, key);
	snprintf(what, sizeof what, "%s: handshake succeeds", mode);
	CHECK(what, a.err == 0 && b.err == 0);
	snprintf(what, sizeof what, "%s: both sides learn the other's id and one session",
		 mode);
	CHECK(what, memcmp(a.peer_id, id2, SMG_ID_LEN) == 0 &&
			    memcmp(b.peer_id, id1, SMG_ID_LEN) == 0 &&
			    memcmp(a.c.session, b.c.session, SMG_ID_LEN) == 0);
	if (key)
		CHECK("sealed: one key per direction",
		      memcmp(a.c.txkey, b.c.rxkey, SMG_KEY_LEN) == 0 &&
			      memcmp(a.c.txkey, a.c.rxkey, SMG_KEY_LEN) != 0);

	smg_chan_send(&a.c, SMG_F_DATA, "one", 3);
	smg_chan_send(&a.c, SMG_F_DATA, "two", 3);
	int e1 = smg_chan_recv(&b.c, &type, &in);
	bool one = e1 == 0 && in.len == 3 && memcmp(in.data, "one", 3) == 0;
	int e2 = smg_chan_recv(&b.c, &type, &in);
	snprintf(what, sizeof what, "%s: frames arrive in order", mode);
	CHECK(what, one && e2 == 0 && in.len == 3 && memcmp(in.data, "two", 3) == 0 &&
			    type == SMG_F_DATA);
	smg_chan_send(&b.c, SMG_F_DONE, "back", 4);
	snprintf(what, sizeof what, "%s: the other direction works", mode);
	CHECK(what, smg_chan_recv(&a.c, &type, &in) == 0 && type == SMG_F_DONE &&
			    in.len == 4);

	/* a 1 MiB frame needs a concurrent reader */
	uint8_t *big = malloc(SMG_FRAME_MAX);
	randombytes_buf(big, SMG_FRAME_MAX);
	struct bigsend bs = {&a.c, big, SMG_FRAME_MAX, -1};
	pthread_t t;
	pthread_create(&t, NULL, send_big, &bs);
	int e = smg_chan_recv(&b.c, &type, &in);
	pthread_join(t, NULL);
	snprintf(what, sizeof what, "%s: 1 MiB frame over the channel", mode);
	CHECK(what, e == 0 && bs.err == 0 && in.len == SMG_FRAME_MAX &&
			    memcmp(in.data, big, SMG_FRAME_MAX) == 0);
	free(big);

	/* replay: capture a frame the client would send, deliver it twice */
	smg_buf_reset(&raw);
	smg_frame_seal(&raw, key ? a.c.txkey : NULL, SMG_F_DATA, a.c.txseq, a.c.session,
		       "r", 1);
	a.c.txseq++;
	smg_buf_add(&old, raw.data, raw.len);	/* kept for the next session */
	smg_io_write(a.c.fd, raw.data, raw.len, 1000);
	smg_io_write(a.c.fd, raw.data, raw.len, 1000);
	e1 = smg_chan_recv(&b.c, &type, &in);
	e2 = smg_chan_recv(&b.c, &type, &in);
	snprintf(what, sizeof what, "%s: a replayed frame within the session is refused",
		 mode);
	CHECK(what, e1 == 0 && e2 == SMG_FRAME_EREPLAY);
	snprintf(what, sizeof what, "%s: the refusal is counted", mode);
	CHECK(what, b.st.n[SMG_FRAME_EREPLAY] == 1);

	/* reflection: a frame the server sent, sent back to it */
	smg_buf_reset(&raw);
	smg_frame_seal(&raw, key ? b.c.txkey : NULL, SMG_F_DATA, b.c.rxseq, b.c.session,
		       "x", 1);
	smg_io_write(a.c.fd, raw.data, raw.len, 1000);
	e = smg_chan_recv(&b.c, &type, &in);
	if (key)
		CHECK_ERR("sealed: a frame reflected back to its sender is refused", e,
			  SMG_FRAME_ETAG);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	/* reorder, on a fresh session */
	pair(&a, &b, key, key);
	struct smg_buf f1 = SMG_BUF_INIT, f2 = SMG_BUF_INIT;
	smg_frame_seal(&f1, key ? a.c.txkey : NULL, SMG_F_DATA, 1, a.c.session, "1", 1);
	smg_frame_seal(&f2, key ? a.c.txkey : NULL, SMG_F_DATA, 2, a.c.session, "2", 1);
	smg_io_write(a.c.fd, f2.data, f2.len, 1000);
	snprintf(what, sizeof what, "%s: a frame that skips ahead is refused", mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_EREORDER);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	/* another session's frame */
	pair(&a, &b, key, key);
	smg_io_write(a.c.fd, old.data, old.len, 1000);
	snprintf(what, sizeof what, "%s: a frame of another session is refused", mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_ESESSION);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);
	if (key) {
		/* ...even with this session's id written over it */
		pair(&a, &b, key, key);
		memcpy(old.data + 20, a.c.session, SMG_ID_LEN);
		smg_io_write(a.c.fd, old.data, old.len, 1000);
		CHECK_ERR("sealed: old frame relabelled with the new session id refused",
			  smg_chan_recv(&b.c, &type, &in), SMG_FRAME_ETAG);
		smg_chan_close(&a.c);
		smg_chan_close(&b.c);
	}

	/* tampered and truncated on the wire */
	pair(&a, &b, key, key);
	smg_buf_reset(&raw);
	smg_frame_seal(&raw, key ? a.c.txkey : NULL, SMG_F_DATA, 1, a.c.session, "abc", 3);
	raw.data[SMG_FRAME_HDR + 1] ^= 0x20;
	smg_io_write(a.c.fd, raw.data, raw.len, 1000);
	snprintf(what, sizeof what, "%s: a tampered payload byte is refused", mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_ETAG);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	pair(&a, &b, key, key);
	raw.data[SMG_FRAME_HDR + 1] ^= 0x20;
	smg_io_write(a.c.fd, raw.data, raw.len - 5, 1000);
	shutdown(a.c.fd, SHUT_WR);
	snprintf(what, sizeof what, "%s: a frame cut short by EOF is ETRUNC", mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_ETRUNC);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	pair(&a, &b, key, key);
	shutdown(a.c.fd, SHUT_WR);
	snprintf(what, sizeof what, "%s: EOF between frames is EEOF", mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_EEOF);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	pair(&a, &b, key, key);
	uint8_t hdr[SMG_FRAME_HDR];
	memcpy(hdr, raw.data, SMG_FRAME_HDR);
	smg_put_be32(hdr + 8, SMG_FRAME_MAX + 1);
	smg_io_write(a.c.fd, hdr, sizeof hdr, 1000);
	snprintf(what, sizeof what, "%s: an oversized length is refused before reading on",
		 mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_ETOOBIG);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	pair(&a, &b, key, key);
	b.c.timeout_ms = 100;
	snprintf(what, sizeof what, "%s: a silent peer times out", mode);
	CHECK_ERR(what, smg_chan_recv(&b.c, &type, &in), SMG_FRAME_ETIMEOUT);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	smg_buf_free(&f1);
	smg_buf_free(&f2);
	smg_buf_free(&in);
	smg_buf_free(&raw);
	smg_buf_free(&old);
}

static void test_handshake_failures(void)
{
	struct side a, b;
	pair(&a, &b, key1, key2);
	CHECK_ERR("handshake: server refuses a client with another key", b.err, SMG_FRAME_ETAG);
	CHECK("handshake: the client does not get through either", a.err != 0);
	CHECK("handshake: the refusal is counted", b.st.n[SMG_FRAME_ETAG] == 1);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	pair(&a, &b, NULL, key1);
	CHECK_ERR("handshake: sealed server refuses a plain client", b.err, SMG_FRAME_EMODE);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	pair(&a, &b, key1, NULL);
	CHECK_ERR("handshake: plain server refuses a sealed client", b.err, SMG_FRAME_EMODE);
	smg_chan_close(&a.c);
	smg_chan_close(&b.c);

	/* a big frame before the handshake is refused by its length alone */
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	struct smg_buf f = SMG_BUF_INIT;
	char junk[200] = {0};
	smg_frame_seal(&f, NULL, SMG_F_HELLO, 0, id1, junk, sizeof junk);
	smg_io_write(sv[0], f.data, f.len, 1000);
	struct side s = {.fd = sv[1], .secret = NULL, .initiator = false, .my_id = id2};
	run_handshake(&s);
	CHECK_ERR("handshake: a HELLO longer than 64 bytes is refused", s.err,
		  SMG_FRAME_ETOOBIG);
	smg_chan_close(&s.c);

	/* garbage */
	smg_buf_reset(&f);
	for (int i = 0; i < 100; i++)
		smg_buf_addc(&f, (char)('A' + i % 26));
	close(sv[0]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	smg_io_write(sv[0], f.data, f.len, 1000);
	s = (struct side){.fd = sv[1], .secret = key1, .initiator = false, .my_id = id2};
	run_handshake(&s);
	CHECK_ERR("handshake: garbage is refused", s.err, SMG_FRAME_EMAGIC);
	smg_chan_close(&s.c);
	close(sv[0]);

	/* HELLO with the wrong payload size */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	smg_buf_reset(&f);
	uint8_t hk[SMG_KEY_LEN];
	smg_key_derive(hk, key1, "smugglr beacon v1 hello");
	uint8_t zero[SMG_ID_LEN] = {0};
	smg_frame_seal(&f, hk, SMG_F_HELLO, 0, zero, junk, 10);
	smg_io_write(sv[0], f.data, f.len, 1000);
	s = (struct side){.fd = sv[1], .secret = key1, .initiator = false, .my_id = id2};
	run_handshake(&s);
	CHECK_ERR("handshake: a HELLO of the wrong size is refused", s.err, SMG_FRAME_ETYPE);
	smg_chan_close(&s.c);
	close(sv[0]);
	smg_buf_free(&f);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	randombytes_buf(key1, sizeof key1);
	randombytes_buf(key2, sizeof key2);
	test_secret();
	test_roundtrip(key1, "sealed");
	test_roundtrip(NULL, "plain");
	test_max_payload();
	test_guard();
	test_announce();
	test_chan(key1, "sealed");
	test_chan(NULL, "plain");
	test_handshake_failures();
	for (int e = 0; e < SMG_FRAME_NERR; e++)
		if (!smg_frame_strerror(e) || !smg_frame_errname(e))
			failures++;
	CHECK("every error has a name and a message", 1);
	return failures != 0;
}
