/* http.c - HTTP requests with retries over libcurl (see http.h). */
#include "http.h"
#include "progress.h"

/* The calls go through pointers (see load_curl), which curl's GCC
 * type-checking macros would not let through. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Error bodies of non-2xx answers are kept for their message; a server
 * that sends megabytes of them is not worth remembering in full. */
#define ERROR_BODY_MAX (64 * 1024)

struct smg_http {
	CURL *curl;
	struct smg_http_opts opts;
};

/* ---- libcurl, loaded on first use ------------------------------------ */

/*
 * smg-apply and smg-fetch need HTTP only for a remote target, and libcurl
 * brings some thirty libraries with it (TLS, Kerberos, LDAP, ...): linked,
 * they cost every run about 10 ms to load, and a write to a SQLite file has
 * no use for any of them.  So libcurl is opened when the first HTTP client
 * is made.  Its ABI (soname 4) has not changed since 2006.
 */
static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	time_t (*getdate)(const char *, const time_t *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} cu;

static pthread_once_t curl_loaded = PTHREAD_ONCE_INIT;

static void load_curl_once(void)
{
	static const char soname[] = "libcurl.so.4";
	void *lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		smg_die(SMG_EXIT_FAILURE, "cannot load %s, which HTTP needs (Debian: apt-get install "
			"libcurl4): %s", soname, dlerror());
	struct {
		const char *name;
		void **slot;
	} fns[] = {
#define FN(field, name) {name, (void **)&cu.field}
		FN(global_init, "curl_global_init"), FN(easy_init, "curl_easy_init"),
		FN(easy_setopt, "curl_easy_setopt"), FN(easy_perform, "curl_easy_perform"),
		FN(easy_getinfo, "curl_easy_getinfo"), FN(easy_cleanup, "curl_easy_cleanup"),
		FN(easy_reset, "curl_easy_reset"), FN(easy_strerror, "curl_easy_strerror"),
		FN(getdate, "curl_getdate"), FN(slist_append, "curl_slist_append"),
		FN(slist_free_all, "curl_slist_free_all"),
#undef FN
	};
	for (size_t i = 0; i < sizeof fns / sizeof *fns; i++)
		if (!(*fns[i].slot = dlsym(lib, fns[i].name)))
			smg_die(SMG_EXIT_FAILURE, "%s lacks %s", soname, fns[i].name);
	CURLcode rc = cu.global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		smg_die(SMG_EXIT_FAILURE, "curl_global_init: %s", cu.easy_strerror(rc));
}

static void load_curl(void)
{
	pthread_once(&curl_loaded, load_curl_once);
}

time_t smg_http_date(const char *s)
{
	load_curl();
	return cu.getdate(s, NULL);
}

/* ---- name/value lists ------------------------------------------------ */

void smg_kv_add(struct smg_kvlist *l, const char *name, const char *value)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 8;
		l->v = smg_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n].name = smg_xstrdup(name);
	l->v[l->n].value = smg_xstrdup(value);
	l->n++;
}

void smg_kv_set(struct smg_kvlist *l, const char *name, const char *value)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcasecmp(l->v[i].name, name) == 0) {
			free(l->v[i].value);
			l->v[i].value = smg_xstrdup(value);
			return;
		}
	}
	smg_kv_add(l, name, value);
}

const char *smg_kv_get(const struct smg_kvlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i].name, name) == 0)
			return l->v[i].value;
	return NULL;
}

void smg_kv_free(struct smg_kvlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].value);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* ---- client ------------------------------------------------------------ */

struct smg_http *smg_http_new(const struct smg_http_opts *opts)
{
	static const struct smg_http_opts defaults = SMG_HTTP_OPTS_DEFAULT;
	load_curl();
	struct smg_http *h = smg_xcalloc(1, sizeof *h);
	h->opts = opts ? *opts : defaults;
	h->curl = cu.easy_init();
	if (!h->curl)
		smg_die(SMG_EXIT_FAILURE, "curl_easy_init failed");
	return h;
}

void smg_http_opts_limits(struct smg_http_opts *o, long timeout_secs, long low_speed_limit,
		long low_speed_secs)
{
	o->deadline_ms = timeout_secs * 1000;
	o->low_speed_bytes = low_speed_limit;
	o->stall_timeout_s = low_speed_secs;
}

void smg_http_free(struct smg_http *h)
{
	if (!h)
		return;
	cu.easy_cleanup(h->curl);
	free(h);
}

void smg_http_response_free(struct smg_http_response *resp)
{
	smg_kv_free(&resp->headers);
	smg_buf_free(&resp->body);
}

const char *smg_http_header(const struct smg_http_response *resp, const char *name)
{
	return smg_kv_get(&resp->headers, name);
}

int smg_http_exit_code(const struct smg_http_response *resp)
{
	switch (resp->outcome) {
	case SMG_HTTP_DONE:
		return SMG_EXIT_OK;
	case SMG_HTTP_EXHAUSTED:
		return SMG_EXIT_NETWORK;
	default:
		return SMG_EXIT_FAILURE;
	}
}

/* ---- retry policy ------------------------------------------------------ */

bool smg_http_status_retryable(long status)
{
	/* 501 Not Implemented and 505 are answers about the request itself:
	 * asking again gets the same answer. */
	if (status == 408 || status == 429)
		return true;
	return status >= 500 && status <= 599 && status != 501 && status != 505;
}

static bool curl_code_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

/* Retry-After: delay-seconds or an HTTP-date; -1 when unparsable. */
static long retry_after_ms(const char *v, time_t now)
{
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		char *end;
		long s = strtol(v, &end, 10);
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0' || s < 0)
			return -1;
		return s > LONG_MAX / 1000 ? LONG_MAX : s * 1000;
	}
	time_t when = smg_http_date(v);
	if (when == (time_t)-1)
		return -1;
	return when <= now ? 0 : (long)(when - now) * 1000;
}

long smg_http_backoff_ms(const struct smg_http_retry *p, int retry,
		const char *retry_after, time_t now)
{
	if (retry_after) {
		long ms = retry_after_ms(retry_after, now);
		if (ms >= 0)
			return ms < p->max_delay_ms ? ms : p->max_delay_ms;
	}
	double cap = (double)p->initial_delay_ms * pow(p->multiplier, retry - 1);
	if (cap > (double)p->max_delay_ms)
		cap = (double)p->max_delay_ms;
	if (cap < 1)
		return 0;
	/* Full jitter: clients that failed together do not retry together. */
	return (long)arc4random_uniform((uint32_t)cap + 1);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- one attempt ------------------------------------------------------- */

struct attempt {
	struct smg_http *h;
	const struct smg_http_request *req;
	struct smg_http_response *resp;
	size_t upload_pos;	/* bytes of the body sent so far */
	off_t download_start;	/* response_fd's offset before the first attempt */
	bool download_seekable;
	bool wrote_to_fd;	/* some body bytes went to a response_fd */
	long timeout_ms;	/* this attempt's: the option or what is left of the deadline */
	char local_error[200];	/* a local I/O failure, which is not retried */
};

static void set_local_error(struct attempt *a, const char *what)
{
	snprintf(a->local_error, sizeof a->local_error, "%s: %s", what, strerror(errno));
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;
	size_t len = size * n;
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A new status line: headers of an interim answer (100
		 * Continue) or of a redirect are not the final ones. */
		smg_kv_free(&a->resp->headers);
		return len;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon)
		return len;
	const char *v = colon + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	char *name = smg_xstrndup(line, (size_t)(colon - line));
	char *value = smg_xstrndup(v, (size_t)(end - v));
	smg_kv_add(&a->resp->headers, name, value);
	free(name);
	free(value);
	return len;
}

static bool write_fd_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return false;
		}
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;
	size_t len = size * n;
	long status = 0;
	cu.easy_getinfo(a->h->curl, CURLINFO_RESPONSE_CODE, &status);
	a->resp->body_bytes += len;
	if (a->req->response_fd >= 0 && status >= 200 && status < 300) {
		a->wrote_to_fd = true;
		if (!write_fd_all(a->req->response_fd, p, len)) {
			set_local_error(a, "writing the response body");
			return 0;	/* CURLE_WRITE_ERROR */
		}
		return len;
	}
	if (a->req->response_fd < 0 || a->resp->body.len < ERROR_BODY_MAX)
		smg_buf_add(&a->resp->body, p, len);
	return len;
}

static size_t on_upload_read(char *buf, size_t size, size_t n, void *arg)
{
	struct attempt *a = arg;
	const struct smg_http_request *req = a->req;
	size_t want = size * n, left = req->body_len - a->upload_pos;
	if (want > left)
		want = left;
	if (want == 0)
		return 0;
	if (req->body_fd < 0) {
		memcpy(buf, (const char *)req->body + a->upload_pos, want);
		a->upload_pos += want;
		return want;
	}
	ssize_t got;
	do
		got = pread(req->body_fd, buf, want, req->body_offset + (off_t)a->upload_pos);
	while (got < 0 && errno == EINTR);
	if (got <= 0) {
		if (got == 0)
			errno = EIO;
		/* A file that shrank under us must not become a short object. */
		set_local_error(a, got == 0 ? "request body ended early" : "reading the request body");
		return CURL_READFUNC_ABORT;
	}
	a->upload_pos += (size_t)got;
	return (size_t)got;
}

/* libcurl rewinds the body itself when it must send it again (a redirect,
 * a 417 to Expect: 100-continue). */
static int on_upload_seek(void *arg, curl_off_t offset, int origin)
{
	struct attempt *a = arg;
	if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > a->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	a->upload_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

static bool method_is(const char *m, const char *want)
{
	return strcmp(m, want) == 0;
}

static void set_method_and_body(CURL *c, struct attempt *a)
{
	const struct smg_http_request *req = a->req;
	const char *m = req->method ? req->method : "GET";
	bool has_body = req->body_fd >= 0 || req->body != NULL;
	/* S3 and others refuse a PUT or POST without Content-Length: send
	 * an empty body rather than none. */
	if (method_is(m, "PUT") || method_is(m, "POST"))
		has_body = true;
	if (method_is(m, "HEAD")) {
		cu.easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		cu.easy_setopt(c, CURLOPT_UPLOAD, 1L);
		cu.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		cu.easy_setopt(c, CURLOPT_READFUNCTION, on_upload_read);
		cu.easy_setopt(c, CURLOPT_READDATA, a);
		cu.easy_setopt(c, CURLOPT_SEEKFUNCTION, on_upload_seek);
		cu.easy_setopt(c, CURLOPT_SEEKDATA, a);
		if (!method_is(m, "PUT"))
			cu.easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	} else if (!method_is(m, "GET")) {
		cu.easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	}
}

static struct curl_slist *header_slist(const struct smg_kvlist *headers)
{
	struct curl_slist *list = NULL;
	struct smg_buf line = SMG_BUF_INIT;
	for (size_t i = 0; headers && i < headers->n; i++) {
		smg_buf_reset(&line);
		/* "Name;" is libcurl's spelling of a header with an empty value. */
		if (headers->v[i].value[0] == '\0')
			smg_buf_addf(&line, "%s;", headers->v[i].name);
		else
			smg_buf_addf(&line, "%s: %s", headers->v[i].name, headers->v[i].value);
		struct curl_slist *next = cu.slist_append(list, line.data);
		if (!next)
			smg_die(SMG_EXIT_FAILURE, "out of memory (curl_slist_append)");
		list = next;
	}
	smg_buf_free(&line);
	/* libcurl waits up to a second for "100 Continue" before a body over
	 * 1 KiB; "Expect:" (no value) stops it adding that header. */
	if (!headers || !smg_kv_get(headers, "Expect")) {
		struct curl_slist *next = cu.slist_append(list, "Expect:");
		if (!next)
			smg_die(SMG_EXIT_FAILURE, "out of memory (curl_slist_append)");
		list = next;
	}
	return list;
}

/* libcurl's count of the bytes each way, and of the bytes to come: the
 * body's size going up, Content-Length coming down (0: none). */
static int on_xferinfo(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct attempt *a = arg;
	const struct smg_http_request *r = a->req;
	if (r->progress_of > 0)
		smg_progress_bytes(r->progress, r->progress_at + ulnow, r->progress_of);
	else if (r->body_fd >= 0 || r->body)
		smg_progress_bytes(r->progress, ulnow, ultotal);
	else
		smg_progress_bytes(a->req->progress, dlnow, dltotal > 0 ? dltotal : -1);
	return 0;
}

static void setup_attempt(struct attempt *a, char *errbuf)
{
	CURL *c = a->h->curl;
	const struct smg_http_opts *o = &a->h->opts;
	cu.easy_reset(c);	/* keeps open connections for the next request */
	cu.easy_setopt(c, CURLOPT_URL, a->req->url);
	cu.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* Send the path as given: an S3 key may hold "/../", and a signed
	 * path that libcurl rewrote would no longer match its signature. */
	cu.easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	cu.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	cu.easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	cu.easy_setopt(c, CURLOPT_HEADERDATA, a);
	cu.easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	cu.easy_setopt(c, CURLOPT_WRITEDATA, a);
	if (o->connect_timeout_ms > 0)
		cu.easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	if (a->timeout_ms > 0)
		cu.easy_setopt(c, CURLOPT_TIMEOUT_MS, a->timeout_ms);
	if (o->stall_timeout_s > 0) {
		cu.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT,
			       o->low_speed_bytes > 0 ? o->low_speed_bytes : 1L);
		cu.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_timeout_s);
	}
	set_method_and_body(c, a);
	if (a->req->progress && smg_progress_enabled()) {
		cu.easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		cu.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
		cu.easy_setopt(c, CURLOPT_XFERINFODATA, a);
	}
}

/* Put a seekable response_fd back where it was, so a retried download
 * does not append to the bytes of a failed one. */
static bool rewind_download(struct attempt *a)
{
	if (!a->wrote_to_fd)
		return true;
	if (!a->download_seekable)
		return false;
	int fd = a->req->response_fd;
	if (ftruncate(fd, a->download_start) != 0 || lseek(fd, a->download_start, SEEK_SET) < 0) {
		set_local_error(a, "rewinding the response file");
		return false;
	}
	a->wrote_to_fd = false;
	return true;
}

static void reset_response(struct smg_http_response *resp)
{
	smg_kv_free(&resp->headers);
	smg_buf_reset(&resp->body);
	resp->status = 0;
	resp->body_bytes = 0;
	resp->error[0] = '\0';
	resp->short_body = false;
	resp->expected_bytes = -1;
}

/*
 * A 2xx body shorter (or longer) than its Content-Length: libcurl says
 * "transfer closed with N bytes remaining"; we say both numbers, and say
 * it as well when libcurl let it pass.  True when the body is wrong.
 */
static bool check_body_length(struct attempt *a, CURLcode rc)
{
	struct smg_http_response *resp = a->resp;
	const char *m = a->req->method ? a->req->method : "GET";
	const char *cl = smg_http_header(resp, "Content-Length");
	if (!cl || method_is(m, "HEAD") || resp->status < 200 || resp->status > 299)
		return false;
	char *end;
	errno = 0;
	long long n = strtoll(cl, &end, 10);
	if (errno || end == cl || *end != '\0' || n < 0)
		return false;	/* libcurl refuses a bad one itself */
	resp->expected_bytes = n;
	if ((uint64_t)n == resp->body_bytes || (rc != CURLE_OK && rc != CURLE_PARTIAL_FILE))
		return false;
	resp->short_body = true;
	snprintf(resp->error, sizeof resp->error,
		 "the body was cut short: Content-Length %lld bytes, %llu received", n,
		 (unsigned long long)resp->body_bytes);
	return true;
}

static double elapsed_s(CURL *c)
{
	double t = 0;
	cu.easy_getinfo(c, CURLINFO_TOTAL_TIME, &t);
	return t;
}

/* Runs one attempt; returns true when its failure is worth retrying. */
static bool run_attempt(struct attempt *a, enum smg_http_outcome *outcome)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct smg_http_response *resp = a->resp;
	reset_response(resp);
	a->upload_pos = 0;
	a->local_error[0] = '\0';
	setup_attempt(a, errbuf);
	struct curl_slist *hdrs = header_slist(a->req->headers);
	cu.easy_setopt(a->h->curl, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = cu.easy_perform(a->h->curl);
	cu.slist_free_all(hdrs);
	cu.easy_getinfo(a->h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	resp->attempts++;

	if (a->local_error[0]) {
		snprintf(resp->error, sizeof resp->error, "%s", a->local_error);
		*outcome = SMG_HTTP_FAILED;
		return false;
	}
	if (check_body_length(a, rc)) {
		*outcome = SMG_HTTP_EXHAUSTED;
		return true;
	}
	if (rc != CURLE_OK) {
		snprintf(resp->error, sizeof resp->error, "%s",
			 errbuf[0] ? errbuf : cu.easy_strerror(rc));
		*outcome = curl_code_retryable(rc) ? SMG_HTTP_EXHAUSTED : SMG_HTTP_FAILED;
		return curl_code_retryable(rc);
	}
	if (smg_http_status_retryable(resp->status) &&
	    !(a->req->final_answer && a->req->final_answer(a->req->final_arg, resp))) {
		snprintf(resp->error, sizeof resp->error, "HTTP status %ld", resp->status);
		*outcome = SMG_HTTP_EXHAUSTED;
		return true;
	}
	*outcome = SMG_HTTP_DONE;
	return false;
}

static void log_attempt(const struct attempt *a, long delay_ms, int retry)
{
	const struct smg_http_response *resp = a->resp;
	const char *m = a->req->method ? a->req->method : "GET";
	char what[300];
	if (resp->error[0] && resp->status == 0)
		snprintf(what, sizeof what, "%s", resp->error);
	else
		snprintf(what, sizeof what, "%ld", resp->status);
	if (delay_ms >= 0)
		smg_warn("%s %s: %s after %.3f s; retry %d of %d in %ld ms", m, a->req->url,
			 what, elapsed_s(a->h->curl), retry, a->h->opts.retry.max_retries, delay_ms);
	else
		smg_warn("%s %s: %s after %.3f s (attempt %d)", m, a->req->url, what,
			 elapsed_s(a->h->curl), resp->attempts);
}

/* A transient failure that cannot be retried: a local error while
 * rewinding is final; bytes gone down a pipe leave the network failure. */
static void note_cannot_retry(struct attempt *a, enum smg_http_outcome *outcome)
{
	struct smg_http_response *resp = a->resp;
	if (a->local_error[0]) {
		snprintf(resp->error, sizeof resp->error, "%s", a->local_error);
		*outcome = SMG_HTTP_FAILED;
		return;
	}
	size_t len = strlen(resp->error);
	snprintf(resp->error + len, sizeof resp->error - len,
		 " (not retried: part of the body already went to a pipe)");
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next attempt's time limit: the per-attempt one, or less when the
 * deadline is nearer (never 0, which would be none). */
static long attempt_timeout_ms(const struct smg_http_opts *o, int64_t deadline)
{
	if (o->deadline_ms <= 0)
		return o->timeout_ms;
	int64_t left = deadline - mono_ms();
	if (left <= 0)
		return 1;
	return o->timeout_ms > 0 && o->timeout_ms < left ? o->timeout_ms : (long)left;
}

/* The deadline ends a transient failure that had retries left. */
static void note_deadline(struct attempt *a)
{
	struct smg_http_response *resp = a->resp;
	size_t len = strlen(resp->error);
	snprintf(resp->error + len, sizeof resp->error - len, "%s(deadline of %.3g s reached)",
		 len ? " " : "", (double)a->h->opts.deadline_ms / 1000);
}

enum smg_http_outcome smg_http_perform(struct smg_http *h,
		const struct smg_http_request *req, struct smg_http_response *resp)
{
	struct attempt a = {.h = h, .req = req, .resp = resp};
	const struct smg_http_retry *policy = &h->opts.retry;
	enum smg_http_outcome outcome = SMG_HTTP_FAILED;
	int64_t deadline = mono_ms() + h->opts.deadline_ms;
	resp->attempts = 0;
	if (req->response_fd >= 0) {
		/* Only a regular file can be cut back: /dev/null seeks, but
		 * what went to a device has gone. */
		struct stat st;
		a.download_start = lseek(req->response_fd, 0, SEEK_CUR);
		a.download_seekable = a.download_start >= 0 && fstat(req->response_fd, &st) == 0
			&& S_ISREG(st.st_mode);
	}
	a.timeout_ms = attempt_timeout_ms(&h->opts, deadline);
	for (int retry = 1;; retry++) {
		bool transient = run_attempt(&a, &outcome);
		if (req->progress && req->progress_of == 0)
			smg_progress_done();
		if (!transient || retry > policy->max_retries) {
			if (transient && h->opts.deadline_ms > 0 && mono_ms() >= deadline)
				note_deadline(&a);
			if (h->opts.verbose)
				log_attempt(&a, -1, retry);
			break;
		}
		if (!rewind_download(&a)) {
			note_cannot_retry(&a, &outcome);
			if (h->opts.verbose)
				log_attempt(&a, -1, retry);
			break;
		}
		const char *ra = smg_http_status_retryable(resp->status)
			? smg_http_header(resp, "Retry-After") : NULL;
		long delay = smg_http_backoff_ms(policy, retry, ra, time(NULL));
		/* A wait that would end past the deadline is not worth starting. */
		if (h->opts.deadline_ms > 0 && mono_ms() + delay >= deadline) {
			note_deadline(&a);
			if (h->opts.verbose)
				log_attempt(&a, -1, retry);
			break;
		}
		if (h->opts.verbose)
			log_attempt(&a, delay, retry);
		sleep_ms(delay);
		a.timeout_ms = attempt_timeout_ms(&h->opts, deadline);
	}
	resp->outcome = outcome;
	return outcome;
}
