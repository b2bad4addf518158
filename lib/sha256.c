/*
 * sha256.c - SHA-256 for the row hash.
 *
 * Rows are small (a hundred bytes or so) and there are millions of them:
 * OpenSSL's EVP layer spends more time setting up each digest than hashing
 * it.  This is FIPS 180-4 SHA-256 with no per-call setup, using the x86 SHA
 * extensions when the CPU has them; smg_sha256_x2 hashes two rows at once,
 * which those extensions do faster than one after the other.
 * tests/unit/lib.c checks both against OpenSSL on many lengths.
 */
#include "sha256.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHANI_PATH 1
#endif

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
	return (x >> n) | (x << (32 - n));
}

static void blocks_portable(uint32_t s[8], const unsigned char *p, size_t n)
{
	for (; n--; p += 64) {
		uint32_t w[64], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5],
				g = s[6], h = s[7];
		for (int i = 0; i < 16; i++)
			w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
			       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
		for (int i = 16; i < 64; i++) {
			uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		for (int i = 0; i < 64; i++) {
			uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
			uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
			h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
		}
		s[0] += a; s[1] += b; s[2] += c; s[3] += d;
		s[4] += e; s[5] += f; s[6] += g; s[7] += h;
	}
}

#ifdef HAVE_SHANI_PATH
#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

/*
 * The SHA instructions keep the state as two vectors, ABEF and CDGH, not in
 * the order of s[].  Converted once per call, not per block.
 */
SHANI static inline void shani_load(const uint32_t s[8], __m128i *st0, __m128i *st1)
{
	__m128i tmp = _mm_loadu_si128((const __m128i *)&s[0]);
	__m128i t1 = _mm_loadu_si128((const __m128i *)&s[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);		/* CDAB */
	t1 = _mm_shuffle_epi32(t1, 0x1B);		/* EFGH */
	*st0 = _mm_alignr_epi8(tmp, t1, 8);		/* ABEF */
	*st1 = _mm_blend_epi16(t1, tmp, 0xF0);		/* CDGH */
}

SHANI static inline void shani_store(uint32_t s[8], __m128i st0, __m128i st1)
{
	__m128i tmp = _mm_shuffle_epi32(st0, 0x1B);	/* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);		/* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);		/* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);		/* ABEF -> HGFE */
	_mm_storeu_si128((__m128i *)&s[0], st0);
	_mm_storeu_si128((__m128i *)&s[4], st1);
}

/*
 * Message words W[4i..4i+3] of block p plus K, for rounds 4i..4i+3.  m[]
 * holds the last sixteen words; i is a constant once the loops that call
 * this are unrolled, so m[] stays in registers.
 */
SHANI static inline __m128i shani_wk(__m128i m[4], int i, const unsigned char *p)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i w;
	if (i < 4) {
		w = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * i)), bswap);
	} else {
		/* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], four at a time */
		w = _mm_sha256msg1_epu32(m[i & 3], m[(i + 1) & 3]);
		w = _mm_add_epi32(w, _mm_alignr_epi8(m[(i + 3) & 3], m[(i + 2) & 3], 4));
		w = _mm_sha256msg2_epu32(w, m[(i + 3) & 3]);
	}
	m[i & 3] = w;
	return _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[4 * i]));
}

/* Four rounds: sha256rnds2 does two, taking W+K from the low half of wk. */
SHANI static inline void shani_rounds4(__m128i *st0, __m128i *st1, __m128i wk)
{
	*st1 = _mm_sha256rnds2_epu32(*st1, *st0, wk);
	*st0 = _mm_sha256rnds2_epu32(*st0, *st1, _mm_shuffle_epi32(wk, 0x0E));
}

SHANI static void blocks_shani(uint32_t s[8], const unsigned char *p, size_t n)
{
	__m128i st0, st1;
	shani_load(s, &st0, &st1);
	for (; n--; p += 64) {
		__m128i save0 = st0, save1 = st1, m[4];
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++)
			shani_rounds4(&st0, &st1, shani_wk(m, i, p));
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}
	shani_store(s, st0, st1);
}

/*
 * n blocks of each of two messages at once.  Each sha256rnds2 needs the
 * result of the one before it, so one message leaves the SHA unit idle
 * while it waits on that latency; the other message's rounds, independent,
 * fill the gaps.  Not quite twice as fast: on the AMD EPYC this was measured
 * on, sha256rnds2 has a latency of 4 cycles but issues only every 2 to 2.5
 * cycles, and two long messages went 1.45 times as fast as one after the
 * other.
 */
SHANI static void blocks_shani_x2(uint32_t sa[8], const unsigned char *pa,
				   uint32_t sb[8], const unsigned char *pb, size_t n)
{
	__m128i a0, a1, b0, b1;
	shani_load(sa, &a0, &a1);
	shani_load(sb, &b0, &b1);
	for (; n--; pa += 64, pb += 64) {
		__m128i sa0 = a0, sa1 = a1, sb0 = b0, sb1 = b1, ma[4], mb[4];
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
			shani_rounds4(&a0, &a1, shani_wk(ma, i, pa));
			shani_rounds4(&b0, &b1, shani_wk(mb, i, pb));
		}
		a0 = _mm_add_epi32(a0, sa0);
		a1 = _mm_add_epi32(a1, sa1);
		b0 = _mm_add_epi32(b0, sb0);
		b1 = _mm_add_epi32(b1, sb1);
	}
	shani_store(sa, a0, a1);
	shani_store(sb, b0, b1);
}
#endif

static void (*blocks)(uint32_t s[8], const unsigned char *p, size_t n);
static pthread_once_t chosen = PTHREAD_ONCE_INIT;

static void choose(void)
{
	blocks = blocks_portable;
#ifdef HAVE_SHANI_PATH
	unsigned a, b, c, d;
	/* CPUID leaf 7 EBX bit 29: SHA extensions; leaf 1 ECX bit 19: SSE4.1 */
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b >> 29 & 1) &&
	    __get_cpuid(1, &a, &b, &c, &d) && (c >> 19 & 1))
		blocks = blocks_shani;
#endif
}

void smg_sha256_force_portable(void)
{
	pthread_once(&chosen, choose);	/* or choose() would undo this later */
	blocks = blocks_portable;
}

static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			       0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/*
 * The last rest (< 64) bytes of a message of len bytes, then the padding:
 * 0x80, zeros and the length in bits, into tail.  Returns the number of
 * blocks in tail, 1 or 2 (2 when the length no longer fits behind the 0x80).
 */
static size_t pad_tail(unsigned char tail[128], const unsigned char *rest_bytes, size_t rest,
		       uint64_t len)
{
	memcpy(tail, rest_bytes, rest);
	memset(tail + rest, 0, 128 - rest);
	tail[rest] = 0x80;
	size_t tlen = rest + 9 <= 64 ? 64 : 128;
	uint64_t bits = len * 8;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
	return tlen / 64;
}

/* The same for the whole message p[0..len). */
static size_t pad(unsigned char tail[128], const unsigned char *p, size_t len)
{
	size_t full = len / 64;
	return pad_tail(tail, p + full * 64, len - full * 64, len);
}

/*
 * s big-endian into out.  Each word is read once into v: GCC makes that a
 * bswap and a store.  Written with s[i] read four times and inlined into
 * smg_sha256, GCC 12 vectorized it into a long shuffle sequence: about
 * 45 ns more per hash (measured on an AMD EPYC with SHA-NI), a third of
 * the time of a 130-byte row.
 */
static void put_digest(const uint32_t s[8], unsigned char out[32])
{
	for (int i = 0; i < 8; i++) {
		uint32_t v = s[i];
		out[4 * i] = (unsigned char)(v >> 24);
		out[4 * i + 1] = (unsigned char)(v >> 16);
		out[4 * i + 2] = (unsigned char)(v >> 8);
		out[4 * i + 3] = (unsigned char)v;
	}
}

void smg_sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t s[8];
	const unsigned char *p = data;
	unsigned char tail[128];
	pthread_once(&chosen, choose);
	memcpy(s, IV, sizeof s);
	blocks(s, p, len / 64);
	blocks(s, tail, pad(tail, p, len));
	put_digest(s, out);
}

void smg_sha256_init(struct smg_sha256_ctx *c)
{
	pthread_once(&chosen, choose);
	memcpy(c->s, IV, sizeof c->s);
	c->buflen = 0;
	c->len = 0;
}

void smg_sha256_update(struct smg_sha256_ctx *c, const void *data, size_t n)
{
	const unsigned char *p = data;
	c->len += n;
	if (c->buflen) {
		size_t take = 64 - c->buflen < n ? 64 - c->buflen : n;
		memcpy(c->buf + c->buflen, p, take);
		c->buflen += take;
		p += take;
		n -= take;
		if (c->buflen < 64)
			return;
		blocks(c->s, c->buf, 1);
		c->buflen = 0;
	}
	blocks(c->s, p, n / 64);
	memcpy(c->buf, p + n / 64 * 64, n % 64);
	c->buflen = n % 64;
}

void smg_sha256_final(struct smg_sha256_ctx *c, unsigned char out[32])
{
	unsigned char tail[128];
	blocks(c->s, tail, pad_tail(tail, c->buf, c->buflen, c->len));
	put_digest(c->s, out);
}

#ifdef HAVE_SHANI_PATH
/*
 * One message of smg_sha256_x2.  Its blocks come in two runs: the whole
 * blocks read where they lie, then the padded tail copied into tail[].
 * p and left are what is still to hash of the current run.
 */
struct lane {
	uint32_t s[8];
	const unsigned char *p;
	size_t left;		/* blocks at p */
	size_t tail_blocks;	/* blocks in tail[] not yet moved to p/left */
	unsigned char tail[128];
};

/* On to the tail when the whole blocks are done. */
static void lane_next_run(struct lane *l)
{
	if (l->left == 0 && l->tail_blocks) {
		l->p = l->tail;
		l->left = l->tail_blocks;
		l->tail_blocks = 0;
	}
}

static void lane_init(struct lane *l, const void *data, size_t len)
{
	memcpy(l->s, IV, sizeof l->s);
	l->p = data;
	l->left = len / 64;
	l->tail_blocks = pad(l->tail, data, len);
	lane_next_run(l);
}

static void lane_advance(struct lane *l, size_t n)
{
	l->p += 64 * n;
	l->left -= n;
	lane_next_run(l);
}
#endif

void smg_sha256_x2(const void *a, size_t na, const void *b, size_t nb,
		   unsigned char outa[32], unsigned char outb[32])
{
	pthread_once(&chosen, choose);
#ifdef HAVE_SHANI_PATH
	if (blocks == blocks_shani) {
		struct lane la, lb;
		lane_init(&la, a, na);
		lane_init(&lb, b, nb);
		/*
		 * The two messages change runs at different blocks, so hash
		 * both over the shorter of their current runs, then again,
		 * until one message is done: at most three steps.
		 */
		while (la.left && lb.left) {
			size_t n = la.left < lb.left ? la.left : lb.left;
			blocks_shani_x2(la.s, la.p, lb.s, lb.p, n);
			lane_advance(&la, n);
			lane_advance(&lb, n);
		}
		/* What is left of the longer message, alone. */
		while (la.left) {
			blocks_shani(la.s, la.p, la.left);
			lane_advance(&la, la.left);
		}
		while (lb.left) {
			blocks_shani(lb.s, lb.p, lb.left);
			lane_advance(&lb, lb.left);
		}
		put_digest(la.s, outa);
		put_digest(lb.s, outb);
		return;
	}
#endif
	/* The portable code has no two-message version. */
	smg_sha256(a, na, outa);
	smg_sha256(b, nb, outb);
}
