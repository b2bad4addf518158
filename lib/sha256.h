/* sha256.h - one-shot SHA-256 (FIPS 180-4), fast on small inputs. */
#ifndef SMG_SHA256_H
#define SMG_SHA256_H
#include <stddef.h>
void smg_sha256(const void *data, size_t len, unsigned char out[32]);
/*
 * Two messages at once: the same as smg_sha256(a, na, outa) then
 * smg_sha256(b, nb, outb), but with the SHA extensions the rounds of the
 * two are interleaved, which hides the latency of each round.
 */
void smg_sha256_x2(const void *a, size_t na, const void *b, size_t nb,
		   unsigned char outa[32], unsigned char outb[32]);
/* For tests: use the portable code even where the CPU has SHA extensions. */
void smg_sha256_force_portable(void);
#endif
