/*
 * s3-int.h - what the files of the S3 client share (s3.c, s3-xml.c,
 * s3-list.c, s3-multipart.c): the client, one call, and the few steps each
 * of them takes.  Not for use outside them: s3.h is the interface.
 */
#ifndef SMG_S3_INT_H
#define SMG_S3_INT_H

#include "s3.h"
#include "http.h"
#include "sigv4.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct smg_s3 {
	struct smg_http *http;
	struct smg_sigv4_creds creds;
	struct smg_s3_config cfg;	/* owns the strings creds points into */
	char *scheme;			/* "https" */
	char *host;			/* "s3.us-east-1.amazonaws.com", maybe with ":port" */
	char *base_path;		/* the endpoint's own path, "" usually */
	bool path_style;
	uint64_t part_size;		/* a larger put goes in parts of this size */
};

/* One S3 call: what is addressed, and how. */
struct s3_call {
	const char *method;
	const char *bucket;
	const char *key;		/* NULL: the bucket itself */
	struct smg_kvlist query;
	struct smg_kvlist headers;
	const struct smg_obj_cond *cond;
	int body_fd;
	off_t body_offset;
	uint64_t body_len;
	const char *body_mem;		/* or a body in memory, body_len bytes */
	const char *payload_hash;
	int response_fd;
	int64_t progress_at, progress_of;	/* a part of a multipart upload */
};

/* ---- s3.c: one signed request ---------------------------------------------- */

void s3_call_init(struct s3_call *c, const char *method, const char *bucket, const char *key);
void s3_call_free(struct s3_call *c);
/* Sign and send c; 0 on a 2xx, else the exit code of the error (said). */
int s3_call_perform(struct smg_s3 *s, struct s3_call *c, struct smg_http_response *resp);
/* The answer's ETag, unquoted ("" when none); the caller frees it. */
char *s3_response_etag(const struct smg_http_response *resp);
/* " (bucket B, key K)" for a message. */
void s3_describe_target(struct smg_buf *b, const struct s3_call *c);
/* The exit code of an S3 error: its HTTP status and Code. */
int s3_exit_code_for(long status, const char *code);

/* ---- s3-xml.c: the flat elements of S3's answers ----------------------------- */

/* The next <tag>...</tag> in [p, end): its content in *in, *inlen; the
 * position after it, or NULL when there is none. */
const char *s3_xml_find(const char *p, const char *end, const char *tag, const char **in,
			size_t *inlen);
/* The text of n bytes of content into out; NULL, or why it is not text. */
const char *s3_xml_decode(const char *p, size_t n, struct smg_buf *out);
/* The decoded text of the first <tag> in [p, end), or NULL. */
char *s3_xml_child(const char *p, const char *end, const char *tag);
bool s3_all_digits(const char *s);

/* ---- s3-multipart.c ------------------------------------------------------------ */

int s3_put_multipart(struct smg_s3 *s, const char *bucket, const char *key, int fd, off_t offset,
		     uint64_t size, const struct smg_obj_cond *cond, char **etag);

#endif
