/* digest.c - MD5 and SHA-256 of a file's content, read or copied in one pass
 * (the S3 code's ETags and checksums). */
#include "digest.h"
#include "sha256.h"
#include "smg.h"
#include "stream.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- digests --------------------------------------------------------------- */

struct digests {
	EVP_MD_CTX *md5;
	struct smg_sha256_ctx sha256;
	bool want_sha256;
};

static void digests_update(void *arg, const void *p, size_t n)
{
	struct digests *d = arg;
	if (d->md5 && !EVP_DigestUpdate(d->md5, p, n))
		smg_die(SMG_EXIT_FAILURE, "digest update failed");
	if (d->want_sha256)
		smg_sha256_update(&d->sha256, p, n);
}

/* MD5 (md5 not NULL) and SHA-256 (sha256 not NULL) of what passes. */
static bool pump(int src, const off_t *offset, int dst, char md5[33], char sha256[65],
		uint64_t *size, const char **what)
{
	struct digests d = {NULL, {{0}, {0}, 0, 0}, sha256 != NULL};
	if (md5 && (!(d.md5 = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(d.md5, EVP_md5(), NULL)))
		smg_die(SMG_EXIT_FAILURE, "cannot initialise a digest");
	if (sha256)
		smg_sha256_init(&d.sha256);
	bool ok = smg_fd_pump(src, offset, dst, digests_update, &d, size, what);
	int saved = errno;
	if (md5) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int n = 0;
		if (!EVP_DigestFinal_ex(d.md5, md, &n))
			smg_die(SMG_EXIT_FAILURE, "digest failed");
		smg_hex(md, n, md5);
		EVP_MD_CTX_free(d.md5);
	}
	if (sha256) {
		unsigned char md[32];
		smg_sha256_final(&d.sha256, md);
		smg_hash_hex(md, sha256);
	}
	errno = saved;
	return ok;
}

bool smg_fd_digests(int fd, off_t offset, char md5[33], char sha256[65], uint64_t *size)
{
	const char *what;
	return pump(fd, &offset, -1, md5, sha256, size, &what);
}

bool smg_fd_copy(int src, int dst, char md5[33], char sha256[65], uint64_t *size,
		const char **what)
{
	return pump(src, NULL, dst, md5, sha256, size, what);
}
