/*
 * digest.h - MD5 and SHA-256 of a file's content while reading or copying
 * it: the S3 code's ETags and checksums, smg-hash --stats.  No network.
 */
#ifndef SMG_DIGEST_H
#define SMG_DIGEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* MD5 and SHA-256 hex digests (either may be NULL) and size of fd's content
 * from offset to the end, read with pread; false on a read error (errno). */
bool smg_fd_digests(int fd, off_t offset, char md5[33], char sha256[65], uint64_t *size);
/* Copies src to dst until src's end of file, hashing what passes (md5,
 * sha256 and size may be NULL); false on error with errno, and *what
 * saying which side ("reading" or "writing") failed. */
bool smg_fd_copy(int src, int dst, char md5[33], char sha256[65], uint64_t *size,
		const char **what);

#endif
