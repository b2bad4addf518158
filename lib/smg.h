/*
 * smg.h - what every smugglr program shares: exit codes, diagnostics,
 * memory helpers and the growable byte buffer.
 *
 * Exit codes are one table for every smg-* program and for smugglr(1);
 * the man pages quote it.  Keep them stable: scripts test them.
 */
#ifndef SMG_H
#define SMG_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#define SMG_VERSION "0.1.0"

enum smg_exit {
	SMG_EXIT_OK = 0,
	SMG_EXIT_FAILURE = 1,	/* I/O or database error not covered below */
	SMG_EXIT_USAGE = 2,	/* bad arguments or bad configuration */
	SMG_EXIT_NOTFOUND = 3,	/* table, relay, snapshot or file missing */
	SMG_EXIT_NETWORK = 4,	/* network retries exhausted */
	SMG_EXIT_AUTH = 5,	/* credentials rejected */
	SMG_EXIT_CONFLICT = 6,	/* concurrent write lost (412, lock held) */
	SMG_EXIT_DATA = 7,	/* malformed, out-of-order, truncated or mismatched data */
	SMG_EXIT_PARTIAL = 8,	/* some tables were skipped: schema differs; the rest was written */
};

/* Program name used as the prefix of every diagnostic ("smg-diff: ..."). */
extern const char *smg_progname;
void smg_setprogname(const char *argv0);

/* Print "prog: message" on stderr and exit with code. */
_Noreturn void smg_die(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void smg_vwarn(const char *fmt, va_list ap);

/*
 * Optional hook run by smg_die before exiting, so a program can roll back
 * a transaction or remove a temporary file.  One hook per program.
 */
void smg_atdie(void (*fn)(void));
/* Called before a message is written to stderr: progress.c erases its
 * line (set by progress.c, so that util.c needs nothing of it). */
extern void (*smg_before_warn)(void);

void *smg_xmalloc(size_t n);
void *smg_xcalloc(size_t n, size_t size);
void *smg_xrealloc(void *p, size_t n);
char *smg_xstrdup(const char *s);
char *smg_xstrndup(const char *s, size_t n);
/* Free n strings and the array holding them; v may be NULL (given away). */
void smg_strings_free(char **v, size_t n);

/* A growable byte buffer.  Always NUL-terminated after any append. */
struct smg_buf {
	char *data;
	size_t len;
	size_t cap;
};
#define SMG_BUF_INIT {NULL, 0, 0}

void smg_buf_grow(struct smg_buf *b, size_t extra);
void smg_buf_addc(struct smg_buf *b, char c);
void smg_buf_adds(struct smg_buf *b, const char *s);
void smg_buf_addf(struct smg_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void smg_buf_reset(struct smg_buf *b);
void smg_buf_free(struct smg_buf *b);
/* Hand the data to the caller, who frees it; the buffer is left empty. */
char *smg_buf_detach(struct smg_buf *b);

/* Inline: the stream writer appends a dozen small pieces per row. */
static inline void smg_buf_add(struct smg_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap)
		smg_buf_grow(b, n);
	if (n)
		__builtin_memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static inline void smg_buf_addc_fast(struct smg_buf *b, char c)
{
	if (b->len + 1 >= b->cap)
		smg_buf_grow(b, 1);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
}

/*
 * The EINTR-safe pair every blocking descriptor uses: write all of p to fd
 * (false with errno set on error); read what is there, up to n bytes (0 at
 * end of file, -1 with errno on error).  smg_write_all and smg_read_some
 * are the same but die naming what was written or read.
 */
bool smg_write_full(int fd, const void *p, size_t n);
ssize_t smg_read_retry(int fd, void *p, size_t n);
void smg_write_all(int fd, const void *p, size_t n, const char *what);
size_t smg_read_some(int fd, void *p, size_t n, const char *what);

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void smg_hex(const void *p, size_t n, char *out);

/* Copy n bytes of src into dst (cap bytes, NUL-terminated), every byte that
 * is not printable ASCII replaced by '?': text from a peer or a server
 * goes to terminals. */
void smg_clean_text(char *dst, size_t cap, const char *src, size_t n);

#endif
