/*
 * tests/fuzz/frame_fuzz.c - libFuzzer target for lib/frame.c: whatever bytes
 * arrive as a datagram, a TCP stream or a handshake, the framing returns an
 * error code and never crashes, reads out of bounds or allocates more than
 * the limit allows.  `make fuzz` builds it; run it (about a minute):
 *
 *   make fuzz && mkdir -p build/fuzz/corpus-frame
 *   build/fuzz/frame_fuzz -max_total_time=60 -rss_limit_mb=256 -malloc_limit_mb=8 \
 *     build/fuzz/corpus-frame
 * Leaks count: what a channel holds when a read or a handshake fails is
 * freed by smg_chan_close.
 *
 * The first input byte picks the target; the rest is the hostile input:
 *   0: one datagram, sealed      1: one datagram, plain
 *   2: a TCP stream after a handshake (plain), frames read until an error
 *   3: a server handshake fed the input (sealed)
 *   4: an announcement payload
 *   5: a plain datagram whose tag the harness fixes up, so that the checks
 *      after authentication (announce decoding, guard) see fuzzed data
 */
#include "frame.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

static uint8_t key[SMG_KEY_LEN];
static struct smg_guard guard;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	memset(key, 7, sizeof key);
	smg_guard_init(&guard, SMG_ANNOUNCE_WINDOW_MS);
	return 0;
}

/* Feed bytes into one end of a socketpair and close it. */
static int feed(const uint8_t *p, size_t n)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	int sz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (n && write(sv[0], p, n) != (ssize_t)n)
		abort();
	close(sv[0]);
	return sv[1];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 6;
	data++;
	size--;
	struct smg_buf out = SMG_BUF_INIT;
	struct smg_frame_hdr h;
	struct smg_announce a;
	switch (mode) {
	case 0:
	case 1:
		if (smg_frame_decode(mode == 0 ? key : NULL, data, size, 2048, &h, &out) == 0 &&
		    h.type == SMG_F_ANNOUNCE && smg_announce_decode((uint8_t *)out.data, out.len,
								    &a) == 0)
			smg_guard_check(&guard, h.id, h.seq, a.ts_ms, a.ts_ms);
		break;
	case 2: {
		struct smg_chan c;
		memset(&c, 0, sizeof c);
		c.fd = feed(data, size);
		c.sealed = false;
		c.timeout_ms = 10;
		c.max = SMG_FRAME_MAX;
		c.rxseq = 1;
		uint8_t type;
		while (smg_chan_recv(&c, &type, &out) == 0)
			;
		smg_chan_close(&c);
		break;
	}
	case 3: {
		struct smg_chan c;
		memset(&c, 0, sizeof c);
		uint8_t id[SMG_ID_LEN] = {1}, peer[SMG_ID_LEN];
		int fd = feed(data, size);
		smg_chan_handshake(&c, fd, key, false, id, peer, 10);
		smg_chan_close(&c);
		break;
	}
	case 4:
		if (smg_announce_decode(data, size, &a) == 0)
			smg_guard_check(&guard, (const uint8_t *)"0123456789abcdef", 1, a.ts_ms,
					a.ts_ms);
		break;
	case 5:
		if (size >= SMG_FRAME_HDR + SMG_FRAME_TAG) {
			uint8_t *p = malloc(size);
			memcpy(p, data, size);
			/* make the tag right for whatever header and payload came in */
			crypto_generichash_state st;
			crypto_generichash_init(&st, NULL, 0, SMG_FRAME_TAG);
			crypto_generichash_update(&st, p, size - SMG_FRAME_TAG);
			crypto_generichash_final(&st, p + size - SMG_FRAME_TAG, SMG_FRAME_TAG);
			if (smg_frame_decode(NULL, p, size, 2048, &h, &out) == 0 &&
			    smg_announce_decode((uint8_t *)out.data, out.len, &a) == 0)
				smg_guard_check(&guard, h.id, h.seq, a.ts_ms, (int64_t)((uint64_t)a.ts_ms + h.seq % 100000));
			free(p);
		}
		break;
	}
	smg_buf_free(&out);
	return 0;
}
