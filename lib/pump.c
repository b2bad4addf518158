/* pump.c - a file read (or copied) in one pass, and its SHA-256. */
#include "digest.h"
#include "sha256.h"
#include "smg.h"
#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define COPY_CHUNK (256 * 1024)

bool smg_fd_pump(int src, const off_t *offset, int dst,
		 void (*sink)(void *arg, const void *p, size_t n), void *arg, uint64_t *size,
		 const char **what)
{
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
		sink(arg, buf, (size_t)n);
		total += (uint64_t)n;
		if (dst >= 0 && !smg_write_full(dst, buf, (size_t)n)) {
			ok = false;
			*what = "writing";
			break;
		}
	}
	int saved = errno;
	free(buf);
	if (size)
		*size = total;
	errno = saved;
	return ok;
}

static void sha256_sink(void *arg, const void *p, size_t n)
{
	smg_sha256_update(arg, p, n);
}

bool smg_fd_sha256(int fd, off_t offset, char sha256[65], uint64_t *size)
{
	struct smg_sha256_ctx c;
	unsigned char md[32];
	const char *what;
	smg_sha256_init(&c);
	bool ok = smg_fd_pump(fd, &offset, -1, sha256_sink, &c, size, &what);
	smg_sha256_final(&c, md);
	smg_hash_hex(md, sha256);
	return ok;
}
