/* util.c - diagnostics, checked allocation and the byte buffer. */
#include "smg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *smg_progname = "smg";
static void (*die_hook)(void);
void (*smg_before_warn)(void);

void smg_setprogname(const char *argv0)
{
	const char *slash = strrchr(argv0, '/');
	smg_progname = slash ? slash + 1 : argv0;
}

void smg_atdie(void (*fn)(void))
{
	die_hook = fn;
}

void smg_vwarn(const char *fmt, va_list ap)
{
	char msg[4096];
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (smg_before_warn)
		smg_before_warn();
	fprintf(stderr, "%s: %s\n", smg_progname, msg);
}

void smg_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	smg_vwarn(fmt, ap);
	va_end(ap);
}

void smg_die(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	smg_vwarn(fmt, ap);
	va_end(ap);
	if (die_hook) {
		void (*fn)(void) = die_hook;
		die_hook = NULL;	/* a hook that dies must not loop */
		fn();
	}
	exit(code);
}

void *smg_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		smg_die(SMG_EXIT_FAILURE, "out of memory (%zu bytes)", n);
	return p;
}

void *smg_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		smg_die(SMG_EXIT_FAILURE, "out of memory (%zu x %zu bytes)", n, size);
	return p;
}

void *smg_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		smg_die(SMG_EXIT_FAILURE, "out of memory (%zu bytes)", n);
	return p;
}

char *smg_xstrdup(const char *s)
{
	return smg_xstrndup(s, strlen(s));
}

char *smg_xstrndup(const char *s, size_t n)
{
	char *p = smg_xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

void smg_strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void smg_buf_grow(struct smg_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	b->data = smg_xrealloc(b->data, cap);
	b->cap = cap;
}

void smg_buf_addc(struct smg_buf *b, char c)
{
	smg_buf_addc_fast(b, c);
}

void smg_buf_adds(struct smg_buf *b, const char *s)
{
	smg_buf_add(b, s, strlen(s));
}

void smg_buf_addf(struct smg_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		smg_die(SMG_EXIT_FAILURE, "bad format string");
	smg_buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void smg_buf_reset(struct smg_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void smg_buf_free(struct smg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

char *smg_buf_detach(struct smg_buf *b)
{
	char *p = b->data ? b->data : smg_xstrdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

bool smg_write_full(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return false;
		c += w;
		n -= (size_t)w;
	}
	return true;
}

ssize_t smg_read_retry(int fd, void *p, size_t n)
{
	ssize_t r;
	while ((r = read(fd, p, n)) < 0 && errno == EINTR)
		;
	return r;
}

void smg_write_all(int fd, const void *p, size_t n, const char *what)
{
	if (!smg_write_full(fd, p, n))
		smg_die(SMG_EXIT_FAILURE, "write to %s failed: %s", what, strerror(errno));
}

size_t smg_read_some(int fd, void *p, size_t n, const char *what)
{
	ssize_t r = smg_read_retry(fd, p, n);
	if (r < 0)
		smg_die(SMG_EXIT_FAILURE, "read from %s failed: %s", what, strerror(errno));
	return (size_t)r;
}

void smg_hex(const void *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

void smg_clean_text(char *dst, size_t cap, const char *src, size_t n)
{
	size_t j = 0;
	for (size_t i = 0; i < n && j + 1 < cap; i++)
		dst[j++] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	dst[j] = '\0';
}
