/*
 * frame.h - the secure framing smg-beacon speaks on UDP and TCP
 * (the wire format is written down in smg-beacon(1), PROTOCOL).
 *
 * Every packet and every TCP frame is one frame:
 *
 *   offset size  field
 *        0    2  magic "SB"
 *        2    1  version (1)
 *        3    1  type (enum smg_frame_type; never 0)
 *        4    1  flags: bit 0 = sealed; the other bits are zero
 *        5    3  reserved, zero
 *        8    4  payload length, big-endian, at most SMG_FRAME_MAX
 *       12    8  sequence number, big-endian
 *       20   16  id: the TCP session id, or the sender's instance id (UDP)
 *       36   24  nonce: fresh random bytes (sealed), zero (plain)
 *       60  len  payload: XChaCha20-Poly1305 ciphertext (sealed) or clear
 *   60+len   16  tag: Poly1305 (sealed) or unkeyed BLAKE2b-128 (plain)
 *
 * The 60-byte header is the associated data, so every header byte is
 * authenticated.  A sealed frame is only ever opened with a key and a plain
 * one only without: a frame of the other mode is refused (SMG_FRAME_EMODE).
 * The length is checked against the caller's limit before anything is
 * allocated.  Every failure is an error code, never an abort; callers
 * count them (struct smg_frame_stats).
 *
 * A TCP connection (struct smg_chan) starts with a handshake: the client
 * sends HELLO with a random 32-byte nonce and its instance id, the server
 * answers HELLO_ACK with its own; both derive a session id and one key per
 * direction from the secret and both nonces.  After it, frames carry the
 * session id and sequence numbers 1, 2, 3... in each direction: a frame of
 * another session, a replayed or a reordered one is refused.
 */
#ifndef SMG_FRAME_H
#define SMG_FRAME_H

#include "smg.h"

#define SMG_FRAME_VERSION 1
#define SMG_FRAME_HDR 60		/* header bytes */
#define SMG_FRAME_TAG 16		/* trailer bytes */
#define SMG_FRAME_MAX (1u << 20)	/* largest payload accepted */
#define SMG_FRAME_HELLO_MAX 64		/* largest payload before the handshake */
#define SMG_HELLO_LEN 56		/* HELLO payload: nonce 32, id 16, clock 8 */
#define SMG_KEY_LEN 32
#define SMG_ID_LEN 16
#define SMG_NONCE_LEN 24

/* Frame types.  The framing itself accepts any non-zero type; the handshake
 * uses HELLO and HELLO_ACK, smg-beacon the rest. */
enum smg_frame_type {
	SMG_F_ANNOUNCE = 1,	/* UDP: "I am here" */
	SMG_F_HELLO = 2,	/* TCP handshake, client to server */
	SMG_F_HELLO_ACK = 3,	/* TCP handshake, server to client */
	SMG_F_META = 4,		/* exchange: who I am, what I sync */
	SMG_F_DATA = 5,		/* exchange: a chunk of a stream */
	SMG_F_END = 6,		/* exchange: end of the current stream */
	SMG_F_DONE = 7,		/* exchange: ready to commit */
	SMG_F_ERROR = 8,	/* exchange: the sender gives up (text) */
	SMG_F_RANGES = 9,	/* exchange: range fingerprints (reconcile.h) */
};

enum smg_frame_err {
	SMG_FRAME_OK = 0,
	SMG_FRAME_ETRUNC,	/* fewer bytes than the header or length says */
	SMG_FRAME_EMAGIC,	/* not a frame: bad magic, reserved bits set */
	SMG_FRAME_EVERSION,	/* a version this code does not speak */
	SMG_FRAME_ETOOBIG,	/* length over the limit */
	SMG_FRAME_EMODE,	/* sealed frame without a key, or plain with one */
	SMG_FRAME_ETAG,		/* authentication failed: wrong key, tampered */
	SMG_FRAME_ESESSION,	/* frame of another session */
	SMG_FRAME_EREPLAY,	/* sequence number already seen */
	SMG_FRAME_EREORDER,	/* sequence number skips ahead */
	SMG_FRAME_ESTALE,	/* announcement or HELLO outside the time window */
	SMG_FRAME_ETYPE,	/* a frame type or payload not expected here */
	SMG_FRAME_EIO,		/* read or write error, connection reset */
	SMG_FRAME_EEOF,		/* the peer closed the connection */
	SMG_FRAME_ETIMEOUT,	/* the peer went quiet */
	SMG_FRAME_NERR
};

const char *smg_frame_strerror(int err);
/* A short name for counters and JSON ("bad_tag", "replay"...). */
const char *smg_frame_errname(int err);

struct smg_frame_stats {
	uint64_t n[SMG_FRAME_NERR];	/* n[0] counts good frames */
};

struct smg_frame_hdr {
	uint8_t version, type, flags;
	uint32_t len;
	uint64_t seq;
	uint8_t id[SMG_ID_LEN];
	uint8_t nonce[SMG_NONCE_LEN];
};

/* Parse 64 hex digits (surrounding whitespace allowed) into a key.
 * false if it is anything else. */
bool smg_secret_parse(const char *text, uint8_t key[SMG_KEY_LEN]);

/* Derive a 32-byte subkey of key for a purpose named by label. */
void smg_key_derive(uint8_t out[SMG_KEY_LEN], const uint8_t key[SMG_KEY_LEN],
		    const char *label);

/*
 * Append one frame to out.  key NULL makes a plain frame.  n must not exceed
 * SMG_FRAME_MAX (a programming error: dies).
 */
void smg_frame_seal(struct smg_buf *out, const uint8_t *key, uint8_t type,
		    uint64_t seq, const uint8_t id[SMG_ID_LEN],
		    const void *payload, size_t n);

/*
 * Check the first SMG_FRAME_HDR bytes of p: magic, version, flags, mode
 * (sealed iff sealed), length <= max.  Fills h.  Nothing is authenticated
 * yet: trust h->len only as far as the limit.
 */
int smg_frame_parse_header(const uint8_t *p, size_t n, bool sealed, size_t max,
			   struct smg_frame_hdr *h);

/*
 * Authenticate and decrypt a whole frame whose header was parsed into h:
 * p holds SMG_FRAME_HDR + h->len + SMG_FRAME_TAG bytes.  The payload goes
 * to out (h->len bytes; out may not overlap p).
 */
int smg_frame_open(const uint8_t *key, const struct smg_frame_hdr *h,
		   const uint8_t *p, uint8_t *out);

/*
 * One datagram: exactly one frame, no more, no fewer bytes.  Parses,
 * checks the limit, authenticates; the payload replaces payload's contents.
 */
int smg_frame_decode(const uint8_t *key, const uint8_t *p, size_t n, size_t max,
		     struct smg_frame_hdr *h, struct smg_buf *payload);

/* ---- announcements: replay and staleness --------------------------------- */

#define SMG_ANNOUNCE_WINDOW_MS 60000	/* |sender clock - ours| allowed */
#define SMG_GUARD_SLOTS 256

/*
 * Remembers, per sender instance id, the highest sequence number accepted.
 * An announcement is accepted when its timestamp is within window_ms of
 * now and its sequence number is above the last one accepted from that
 * sender.  A sender is forgotten 2 * window_ms after its last accepted
 * announcement: by then a replay of anything it sent is stale anyway.
 * When every slot is live the oldest is forgotten.
 */
struct smg_guard {
	struct {
		uint8_t id[SMG_ID_LEN];
		uint64_t seq;
		int64_t seen_ms;
		bool used;
	} slot[SMG_GUARD_SLOTS];
	int64_t window_ms;
};

void smg_guard_init(struct smg_guard *g, int64_t window_ms);
int smg_guard_check(struct smg_guard *g, const uint8_t id[SMG_ID_LEN],
		    uint64_t seq, int64_t ts_ms, int64_t now_ms);

/* ---- the announcement payload --------------------------------------------- */

/*
 *   offset size  field
 *        0    8  sender's wall clock, unix milliseconds, big-endian
 *        8    2  TCP port of the exchange, big-endian (0: takes no connections)
 *       10    2  flags (SMG_ANN_*), big-endian; unknown bits are ignored
 *       12   32  group id
 *       44   32  digest of the sender's synced rows
 *       76    1  name length, at most SMG_ANN_NAME_MAX
 *       77  len  name (printable ASCII), for reports only
 */
#define SMG_ANN_FIXED 77
#define SMG_ANN_NAME_MAX 64
#define SMG_ANN_PASSIVE 0x0001		/* dry run: do not connect to me */
#define SMG_GROUP_LEN 32

struct smg_announce {
	int64_t ts_ms;
	uint16_t port, flags;
	uint8_t group[SMG_GROUP_LEN];
	uint8_t digest[32];
	char name[SMG_ANN_NAME_MAX + 1];
};

void smg_announce_encode(const struct smg_announce *a, struct smg_buf *out);
/* SMG_FRAME_ETYPE when p is not exactly one well-formed payload. */
int smg_announce_decode(const uint8_t *p, size_t n, struct smg_announce *a);

/* ---- TCP channel ----------------------------------------------------------- */

struct smg_chan {
	int fd;				/* read from, and written to unless wfd says otherwise */
	int wfd;			/* written to: fd, or a pipe's other end (stdio) */
	bool sealed;
	uint8_t txkey[SMG_KEY_LEN], rxkey[SMG_KEY_LEN];
	uint8_t session[SMG_ID_LEN];
	uint64_t txseq, rxseq;		/* next to send, next expected */
	int timeout_ms;			/* longest a frame may take to come or go */
	size_t max;			/* payload limit for receive */
	struct smg_buf wbuf, rbuf;
	uint64_t bytes_in, bytes_out;
	struct smg_frame_stats *stats;	/* optional: receive errors counted */
};

/*
 * Run the handshake on a connected socket (made non-blocking; the channel
 * owns it from here and smg_chan_close closes it).  secret NULL: plain.
 * my_id is sent; peer_id receives the other side's.  On failure the
 * error code; the caller still calls smg_chan_close.
 */
int smg_chan_handshake(struct smg_chan *c, int fd, const uint8_t *secret,
		       bool initiator, const uint8_t my_id[SMG_ID_LEN],
		       uint8_t peer_id[SMG_ID_LEN], int timeout_ms);
/* The same over two one-way descriptors (standard input and output, say);
 * both are closed by smg_chan_close. */
int smg_chan_handshake_fds(struct smg_chan *c, int rfd, int wfd, const uint8_t *secret,
			   bool initiator, const uint8_t my_id[SMG_ID_LEN],
			   uint8_t peer_id[SMG_ID_LEN], int timeout_ms);
int smg_chan_send(struct smg_chan *c, uint8_t type, const void *p, size_t n);
/* Receive the next frame; its payload replaces payload's contents. */
int smg_chan_recv(struct smg_chan *c, uint8_t *type, struct smg_buf *payload);
void smg_chan_close(struct smg_chan *c);

/* Read or write all n bytes of a non-blocking fd within timeout_ms (a
 * peer trickling bytes does not hold the caller longer). */
int smg_io_read(int fd, void *p, size_t n, int timeout_ms);
int smg_io_write(int fd, const void *p, size_t n, int timeout_ms);

/* Milliseconds: wall clock (announcement timestamps) and monotonic. */
int64_t smg_now_ms(void);
int64_t smg_mono_ms(void);

/* Big-endian helpers. */
static inline void smg_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void smg_put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}
static inline void smg_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}
static inline uint16_t smg_get_be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t smg_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t smg_get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

#endif
