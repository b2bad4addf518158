/*
 * http.h - HTTP requests with retries, over libcurl.
 *
 * One client per program, reused for every request so connections stay
 * open.  A request's body comes from memory or is streamed from a file
 * descriptor; a response's body goes to memory or is streamed to a file
 * descriptor, so a gigabyte object never sits in memory.
 *
 * Transient failures (429, 5xx, timeouts, refused or reset connections)
 * are retried with exponential backoff and full jitter, honouring
 * Retry-After.  Other 4xx statuses are never retried: they are final
 * answers for the caller to turn into an exit code.
 */
#ifndef SMG_HTTP_H
#define SMG_HTTP_H

#include "smg.h"

#include <sys/types.h>
#include <time.h>

/* A list of name/value pairs: request headers, response headers, query
 * parameters.  Names keep their case; lookups ignore it. */
struct smg_kv {
	char *name;
	char *value;
};

struct smg_kvlist {
	struct smg_kv *v;
	size_t n, cap;
};
#define SMG_KVLIST_INIT {NULL, 0, 0}

void smg_kv_add(struct smg_kvlist *l, const char *name, const char *value);
/* Replace the value of the first pair named name (any case), or add it. */
void smg_kv_set(struct smg_kvlist *l, const char *name, const char *value);
/* Value of the first pair named name (any case), or NULL. */
const char *smg_kv_get(const struct smg_kvlist *l, const char *name);
void smg_kv_free(struct smg_kvlist *l);

/*
 * Retry policy.  Attempt k (k = 1 for the first retry) waits a random
 * time in [0, min(max_delay_ms, initial_delay_ms * multiplier^(k-1))]
 * ("full jitter"), or what Retry-After asks for, capped by max_delay_ms.
 */
struct smg_http_retry {
	int max_retries;	/* retries after the first attempt; 0: none */
	long initial_delay_ms;
	long max_delay_ms;
	double multiplier;
};
#define SMG_HTTP_RETRY_DEFAULT {5, 250, 20000, 2.0}

/*
 * Limits on time.  Every request has a deadline, retries and the waits
 * between them included: when it passes, the request ends as
 * SMG_HTTP_EXHAUSTED whatever the retry policy has left.  An attempt that
 * moves fewer than low_speed_bytes a second (either way, waiting for the
 * answer included) for stall_timeout_s seconds is abandoned as a timeout,
 * so a server that trickles one byte a second does not hold us for ever.
 */
struct smg_http_opts {
	struct smg_http_retry retry;
	long connect_timeout_ms;	/* 0: libcurl's default */
	long timeout_ms;	/* one attempt; 0: none but the deadline */
	long stall_timeout_s;	/* the low-speed time; 0: no low-speed limit */
	bool verbose;		/* one line per attempt on stderr */
	long deadline_ms;	/* the whole request; 0: no deadline */
	long low_speed_bytes;	/* the low-speed limit, bytes a second; 0: 1 */
};
#define SMG_HTTP_DEADLINE_MS_DEFAULT 600000L
#define SMG_HTTP_LOW_SPEED_BYTES_DEFAULT 1024L
#define SMG_HTTP_OPTS_DEFAULT {SMG_HTTP_RETRY_DEFAULT, 10000, 0, 60, false, \
	SMG_HTTP_DEADLINE_MS_DEFAULT, SMG_HTTP_LOW_SPEED_BYTES_DEFAULT}

/* Sets the deadline and low-speed limit from the [stash] or [sync]
 * settings of the same names (config.h): timeout_secs, low_speed_limit
 * (bytes a second) and low_speed_secs. */
void smg_http_opts_limits(struct smg_http_opts *o, long timeout_secs, long low_speed_limit,
		long low_speed_secs);

struct smg_http_response;

struct smg_http_request {
	const char *method;	/* "GET", "PUT", "HEAD", "POST", "DELETE", ... */
	const char *url;
	const struct smg_kvlist *headers;	/* may be NULL */

	/* Body: body_fd >= 0 streams body_len bytes from offset body_offset
	 * (read with pread, so every retry starts again from there; the file
	 * must be seekable).  Otherwise body/body_len from memory, or no body
	 * when body is NULL. */
	const void *body;
	int body_fd;
	off_t body_offset;
	size_t body_len;

	/* Response body of a 2xx status goes to response_fd when >= 0 (other
	 * statuses' bodies, small error documents, always go to memory).  A
	 * seekable response_fd is truncated back before a retry; on a pipe, a
	 * retry after part of a body was written is impossible and the
	 * request fails instead. */
	int response_fd;

	/* Asked of an answer whose status is transient (429, 5xx): true when
	 * its body says it is final all the same (an SQL error an endpoint
	 * answers with HTTP 500), so it is not retried.  May be NULL. */
	bool (*final_answer)(void *arg, const struct smg_http_response *resp);
	void *final_arg;

	/* A stage name ("upload"): the transfer shows a progress line
	 * (progress.h), bytes of Content-Length.  NULL: none. */
	const char *progress;
	/* One part of a larger transfer (a multipart upload): the bytes of
	 * the whole sent before this request, and the whole's size.  The
	 * line then counts the whole and stays up between the parts; the
	 * caller ends it.  0: this request alone. */
	int64_t progress_at, progress_of;
};

/* A request that carries no body and answers to memory. */
#define SMG_HTTP_REQUEST_INIT {NULL, NULL, NULL, NULL, -1, 0, 0, -1, NULL, NULL, NULL, 0, 0}

enum smg_http_outcome {
	SMG_HTTP_DONE = 0,	/* a final status arrived: see status */
	SMG_HTTP_EXHAUSTED,	/* retries exhausted on a transient failure */
	SMG_HTTP_FAILED,	/* a failure not worth retrying (bad URL, local I/O) */
};

struct smg_http_response {
	enum smg_http_outcome outcome;
	long status;		/* last HTTP status seen, 0 if none */
	struct smg_kvlist headers;	/* of the last response */
	struct smg_buf body;	/* body unless it was streamed to response_fd */
	int attempts;
	uint64_t body_bytes;	/* bytes of body received in the last attempt */
	char error[256];	/* why the last attempt failed, "" if it did not */
	/* Set when the last attempt's body was shorter than its
	 * Content-Length (error then names both numbers); expected_bytes is
	 * the Content-Length of a 2xx answer, -1 when it had none. */
	bool short_body;
	int64_t expected_bytes;
};
#define SMG_HTTP_RESPONSE_INIT {SMG_HTTP_DONE, 0, SMG_KVLIST_INIT, SMG_BUF_INIT, 0, 0, "", false, -1}

struct smg_http;

/* Creates a client (curl_global_init runs once per process).  opts may be
 * NULL for the defaults. */
struct smg_http *smg_http_new(const struct smg_http_opts *opts);
/* An HTTP date (RFC 7231, and the older forms), or -1. */
time_t smg_http_date(const char *s);
void smg_http_free(struct smg_http *h);

/*
 * Performs req with retries.  Returns resp->outcome.  resp must be
 * initialised (SMG_HTTP_RESPONSE_INIT); it is reset first, so one response
 * can be reused for several requests.
 */
enum smg_http_outcome smg_http_perform(struct smg_http *h,
		const struct smg_http_request *req, struct smg_http_response *resp);
void smg_http_response_free(struct smg_http_response *resp);

/* Response header by name (any case), or NULL. */
const char *smg_http_header(const struct smg_http_response *resp, const char *name);

/* The exit code for a failed outcome: SMG_EXIT_NETWORK when retries were
 * exhausted, SMG_EXIT_FAILURE otherwise; 0 for SMG_HTTP_DONE. */
int smg_http_exit_code(const struct smg_http_response *resp);

/* Why a status or outcome counts as transient; exposed for tests. */
bool smg_http_status_retryable(long status);
/* Delay before retry number retry (1-based) in ms, with full jitter, or
 * the Retry-After value when retry_after is not NULL; now is the current
 * time for an HTTP-date Retry-After. */
long smg_http_backoff_ms(const struct smg_http_retry *p, int retry,
		const char *retry_after, time_t now);

#endif
