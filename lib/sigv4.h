/*
 * sigv4.h - AWS Signature Version 4 request signing (HMAC-SHA256 on
 * OpenSSL libcrypto), as S3 and S3-compatible stores (R2, MinIO) want it.
 *
 * Paths, query names and query values are given decoded and URI-encoded
 * exactly once here, keeping '/' in paths; build the URL that is sent with
 * smg_uri_encode and smg_sigv4_canonical_query so what is sent is what was
 * signed.  Paths are not normalised ("/a/../b" stays as it is): S3 object
 * keys may contain such segments.
 */
#ifndef SMG_SIGV4_H
#define SMG_SIGV4_H

#include "http.h"

#include <time.h>

#define SMG_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SMG_SHA256_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct smg_sigv4_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token;	/* NULL or "": none */
	const char *region;		/* "us-east-1"; R2 wants "auto" */
	const char *service;		/* "s3" */
};

/* Everything that is signed. */
struct smg_sigv4_request {
	const char *method;
	const char *path;		/* decoded: "/bucket/a key" */
	const struct smg_kvlist *query;	/* decoded names and values; may be NULL */
	const struct smg_kvlist *headers;	/* every header to sign, Host included */
	const char *payload_hash;	/* 64 hex digits, or UNSIGNED-PAYLOAD */
	const char *amz_date;		/* "20150830T123600Z", as in X-Amz-Date */
};

/* The intermediate strings are kept so that tests (and -v debugging of a
 * SignatureDoesNotMatch) can compare them with the server's. */
struct smg_sigv4_result {
	struct smg_buf canonical_request;
	struct smg_buf string_to_sign;
	struct smg_buf signed_headers;	/* "host;x-amz-date" */
	char signature[65];
	struct smg_buf authorization;	/* value of the Authorization header */
};
#define SMG_SIGV4_RESULT_INIT {SMG_BUF_INIT, SMG_BUF_INIT, SMG_BUF_INIT, "", SMG_BUF_INIT}

/* Signs exactly the headers given (the test-suite form). */
void smg_sigv4_compute(const struct smg_sigv4_creds *c, const struct smg_sigv4_request *r,
		struct smg_sigv4_result *out);
void smg_sigv4_result_free(struct smg_sigv4_result *r);

/*
 * The everyday call: sets X-Amz-Date (from now), X-Amz-Content-Sha256,
 * X-Amz-Security-Token when there is a session token, and Authorization in
 * headers, which must already hold Host and any other header to sign.
 */
void smg_sigv4_sign(const struct smg_sigv4_creds *c, const char *method, const char *path,
		const struct smg_kvlist *query, struct smg_kvlist *headers,
		const char *payload_hash, time_t now);

/* Appends s percent-encoded: every byte but A-Z a-z 0-9 - . _ ~ (and '/'
 * when keep_slash), in upper-case hex. */
void smg_uri_encode(struct smg_buf *out, const char *s, bool keep_slash);
/* Appends the canonical query string: encoded name=value pairs sorted by
 * name then value, joined by '&'; also a correct query string for a URL. */
void smg_sigv4_canonical_query(struct smg_buf *out, const struct smg_kvlist *query);
/* "YYYYMMDDTHHMMSSZ" for t in UTC. */
void smg_sigv4_amz_date(time_t t, char out[17]);
void smg_sha256_hex(const void *p, size_t n, char out[65]);

#endif
