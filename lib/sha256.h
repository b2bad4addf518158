/* sha256.h - one-shot SHA-256 (FIPS 180-4), fast on small inputs. */
#ifndef SMG_SHA256_H
#define SMG_SHA256_H
#include <stddef.h>
void smg_sha256(const void *data, size_t len, unsigned char out[32]);
/* For tests: use the portable code even where the CPU has SHA extensions. */
void smg_sha256_force_portable(void);
#endif
