/*
 * digest.h - MD5 and SHA-256 of a file's content while reading or copying
 * it: the S3 code's ETags and checksums, smg-hash --stats.  No network.
 * MD5 comes from libcrypto (digest.c), SHA-256 from lib/sha256.c; pump.c
 * holds the reading loop and the SHA-256 alone.
 */
#ifndef SMG_DIGEST_H
#define SMG_DIGEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

/* MD5 and SHA-256 hex digests (either may be NULL) and size of fd's content
 * from offset to the end, read with pread; false on a read error (errno). */
bool smg_fd_digests(int fd, off_t offset, char md5[33], char sha256[65], uint64_t *size);
/* Copies src to dst until src's end of file, hashing what passes (md5,
 * sha256 and size may be NULL); false on error with errno, and *what
 * saying which side ("reading" or "writing") failed. */
bool smg_fd_copy(int src, int dst, char md5[33], char sha256[65], uint64_t *size,
		const char **what);

/* Reads src to its end (with pread from *offset when offset is not NULL,
 * else with read), handing every chunk to sink and writing it to dst unless
 * dst is -1: the one loop behind the functions above and smg_fd_sha256.
 * false on error with errno, and *what saying which side failed. */
bool smg_fd_pump(int src, const off_t *offset, int dst,
		 void (*sink)(void *arg, const void *p, size_t n), void *arg, uint64_t *size,
		 const char **what);
/* The SHA-256 alone, without libcrypto: smg-hash --stats need not load it. */
bool smg_fd_sha256(int fd, off_t offset, char sha256[65], uint64_t *size);

#endif
