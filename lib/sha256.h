/* sha256.h - SHA-256 (FIPS 180-4), fast on small inputs: one-shot, two at
 * once, and streaming. */
#ifndef SMG_SHA256_H
#define SMG_SHA256_H
#include <stddef.h>
#include <stdint.h>
void smg_sha256(const void *data, size_t len, unsigned char out[32]);
/*
 * Two messages at once: the same as smg_sha256(a, na, outa) then
 * smg_sha256(b, nb, outb), but with the SHA extensions the rounds of the
 * two are interleaved, which hides the latency of each round.
 */
void smg_sha256_x2(const void *a, size_t na, const void *b, size_t nb,
		   unsigned char outa[32], unsigned char outb[32]);
/* Streaming, for files. */
struct smg_sha256_ctx {
	uint32_t s[8];
	unsigned char buf[64];
	size_t buflen;
	uint64_t len;
};
void smg_sha256_init(struct smg_sha256_ctx *c);
void smg_sha256_update(struct smg_sha256_ctx *c, const void *p, size_t n);
void smg_sha256_final(struct smg_sha256_ctx *c, unsigned char out[32]);
/* For tests: use the portable code even where the CPU has SHA extensions. */
void smg_sha256_force_portable(void);
#endif
