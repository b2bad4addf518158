/*
 * sha256.c - SHA-256 for the row hash.
 *
 * Rows are small (a hundred bytes or so) and there are millions of them:
 * OpenSSL's EVP layer spends more time setting up each digest than hashing
 * it.  This is FIPS 180-4 SHA-256 with no per-call setup, using the x86 SHA
 * extensions when the CPU has them.  tests/unit/lib.c checks it against
 * OpenSSL on many lengths.
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
__attribute__((target("sha,sse4.1,ssse3")))
static void blocks_shani(uint32_t s[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i tmp = _mm_loadu_si128((const __m128i *)&s[0]);
	__m128i st1 = _mm_loadu_si128((const __m128i *)&s[4]);
	tmp = _mm_shuffle_epi32(tmp, 0xB1);		/* CDAB */
	st1 = _mm_shuffle_epi32(st1, 0x1B);		/* EFGH */
	__m128i st0 = _mm_alignr_epi8(tmp, st1, 8);	/* ABEF */
	st1 = _mm_blend_epi16(st1, tmp, 0xF0);		/* CDGH */
	for (; n--; p += 64) {
		__m128i save0 = st0, save1 = st1, m[4];
#pragma GCC unroll 16
		for (int i = 0; i < 16; i++) {
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
			__m128i k = _mm_loadu_si128((const __m128i *)&K[4 * i]);
			__m128i msg = _mm_add_epi32(w, k);
			st1 = _mm_sha256rnds2_epu32(st1, st0, msg);
			msg = _mm_shuffle_epi32(msg, 0x0E);
			st0 = _mm_sha256rnds2_epu32(st0, st1, msg);
		}
		st0 = _mm_add_epi32(st0, save0);
		st1 = _mm_add_epi32(st1, save1);
	}
	tmp = _mm_shuffle_epi32(st0, 0x1B);		/* FEBA */
	st1 = _mm_shuffle_epi32(st1, 0xB1);		/* DCHG */
	st0 = _mm_blend_epi16(tmp, st1, 0xF0);		/* DCBA */
	st1 = _mm_alignr_epi8(st1, tmp, 8);		/* ABEF -> HGFE */
	_mm_storeu_si128((__m128i *)&s[0], st0);
	_mm_storeu_si128((__m128i *)&s[4], st1);
}
#endif

static void (*blocks)(uint32_t s[8], const unsigned char *p, size_t n);

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
	smg_sha256("", 0, (unsigned char[32]){0});	/* let choose() run first */
	blocks = blocks_portable;
}

void smg_sha256(const void *data, size_t len, unsigned char out[32])
{
	uint32_t s[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
			 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
	const unsigned char *p = data;
	unsigned char tail[128] = {0};
	static pthread_once_t chosen = PTHREAD_ONCE_INIT;
	pthread_once(&chosen, choose);
	size_t full = len / 64;
	blocks(s, p, full);
	size_t rest = len - full * 64;
	memcpy(tail, p + full * 64, rest);
	tail[rest] = 0x80;
	size_t tlen = rest + 9 <= 64 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;
	for (int i = 0; i < 8; i++)
		tail[tlen - 1 - i] = (unsigned char)(bits >> (8 * i));
	blocks(s, tail, tlen / 64);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(s[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s[i] >> 8);
		out[4 * i + 3] = (unsigned char)s[i];
	}
}
