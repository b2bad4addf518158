/* digest.c - digests of a file's content, read or copied in one pass. */
#include "digest.h"
#include "smg.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COPY_CHUNK (256 * 1024)

/* ---- digests --------------------------------------------------------------- */

struct digests {
	EVP_MD_CTX *md5, *sha256;
};

static EVP_MD_CTX *digest_new(const EVP_MD *md)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, md, NULL))
		smg_die(SMG_EXIT_FAILURE, "cannot initialise a digest");
	return c;
}

static void digests_init(struct digests *d, bool md5, bool sha256)
{
	d->md5 = md5 ? digest_new(EVP_md5()) : NULL;
	d->sha256 = sha256 ? digest_new(EVP_sha256()) : NULL;
}

static void digests_update(struct digests *d, const void *p, size_t n)
{
	if ((d->md5 && !EVP_DigestUpdate(d->md5, p, n))
	    || (d->sha256 && !EVP_DigestUpdate(d->sha256, p, n)))
		smg_die(SMG_EXIT_FAILURE, "digest update failed");
}

static void digest_final_hex(EVP_MD_CTX *c, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (!EVP_DigestFinal_ex(c, md, &n))
		smg_die(SMG_EXIT_FAILURE, "digest failed");
	for (unsigned int i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	EVP_MD_CTX_free(c);
}

static void digests_final(struct digests *d, char *md5, char *sha256)
{
	if (d->md5)
		digest_final_hex(d->md5, md5);
	if (d->sha256)
		digest_final_hex(d->sha256, sha256);
	d->md5 = d->sha256 = NULL;
}


static bool write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

/* Reads src to its end (with pread from *offset when offset is not NULL,
 * else with read), hashing every byte and writing it to dst unless dst is
 * -1.  The one loop behind smg_fd_digests and smg_fd_copy. */
static bool pump(int src, const off_t *offset, int dst, char md5[33], char sha256[65],
		uint64_t *size, const char **what)
{
	struct digests d;
	digests_init(&d, md5 != NULL, sha256 != NULL);
	char *buf = smg_xmalloc(COPY_CHUNK);
	uint64_t total = 0;
	bool ok;
	for (;;) {
		ssize_t n = offset ? pread(src, buf, COPY_CHUNK, *offset + (off_t)total)
				   : read(src, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ok = n == 0;
			*what = "reading";
			break;
		}
		digests_update(&d, buf, (size_t)n);
		total += (uint64_t)n;
		if (dst >= 0 && !write_all(dst, buf, (size_t)n)) {
			ok = false;
			*what = "writing";
			break;
		}
	}
	int saved = errno;
	free(buf);
	digests_final(&d, md5, sha256);
	if (size)
		*size = total;
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

