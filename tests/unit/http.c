/*
 * http.c - the retry loop of lib/http.c against a scripted HTTP server on
 * loopback (a forked child answering one canned response per connection):
 * transient statuses are retried and 4xx are not, Retry-After is honoured
 * and capped, streamed uploads start again from their offset, a failed
 * download is truncated before the retry, and running out of retries is
 * told apart from a final status; a body short of its Content-Length is
 * caught and the deadline ends retries and silent attempts alike.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void check(const char *what, bool ok)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	if (!ok)
		failures++;
}

/* The server echoes the request body back for this response. */
#define ECHO "ECHO"

#define R503 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy"
#define R200(body) "HTTP/1.1 200 OK\r\nContent-Length: " #body "\r\nETag: \"e1\"\r\nConnection: close\r\n\r\n"

/* Reads one request; returns its body (caller frees) or NULL. */
static char *read_request(int fd, size_t *body_len)
{
	struct smg_buf b = SMG_BUF_INIT;
	char chunk[4096];
	char *end = NULL;
	while (!(end = b.data ? strstr(b.data, "\r\n\r\n") : NULL)) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n <= 0) {
			smg_buf_free(&b);
			return NULL;
		}
		smg_buf_add(&b, chunk, (size_t)n);
	}
	size_t head = (size_t)(end - b.data) + 4;
	const char *cl = strcasestr(b.data, "\r\nContent-Length:");
	size_t want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
	if (strcasestr(b.data, "Expect: 100-continue"))
		smg_write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, "client");
	while (b.len - head < want) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n <= 0)
			break;
		smg_buf_add(&b, chunk, (size_t)n);
	}
	*body_len = b.len - head;
	char *body = smg_xstrndup(b.data + head, *body_len);
	smg_buf_free(&b);
	return body;
}

static void serve(int lfd, const char *const *script, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			_exit(1);
		size_t len = 0;
		char *body = read_request(fd, &len);
		if (strcmp(script[i], ECHO) == 0) {
			char head[128];
			int h = snprintf(head, sizeof head,
					 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len);
			smg_write_all(fd, head, (size_t)h, "client");
			smg_write_all(fd, body ? body : "", len, "client");
		} else {
			smg_write_all(fd, script[i], strlen(script[i]), "client");
		}
		free(body);
		close(fd);
	}
	_exit(0);
}

/* Starts a server answering script[0..n) in turn; returns its port. */
static int start_server(const char *const *script, size_t n, pid_t *pid)
{
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 8) != 0
	    || getsockname(lfd, (struct sockaddr *)&a, &alen) != 0)
		smg_die(1, "cannot listen on loopback: %s", strerror(errno));
	*pid = fork();
	if (*pid == 0)
		serve(lfd, script, n);
	close(lfd);
	return ntohs(a.sin_port);
}

static void stop_server(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static struct smg_http *client(int retries, long max_delay_ms)
{
	struct smg_http_opts o = SMG_HTTP_OPTS_DEFAULT;
	o.retry = (struct smg_http_retry){retries, 1, max_delay_ms, 2.0};
	o.connect_timeout_ms = 2000;
	o.timeout_ms = 10000;
	return smg_http_new(&o);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs one request against a scripted server. */
static void run(const char *const *script, size_t n, int retries, long max_delay_ms,
		struct smg_http_request *req, struct smg_http_response *resp, double *secs)
{
	pid_t pid;
	int port = start_server(script, n, &pid);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
	req->url = url;
	struct smg_http *h = client(retries, max_delay_ms);
	double t0 = now_s();
	smg_http_perform(h, req, resp);
	if (secs)
		*secs = now_s() - t0;
	req->url = NULL;
	smg_http_free(h);
	stop_server(pid);
}

static void retries_5xx_then_succeeds(void)
{
	const char *script[] = {R503, R503, R200(2) "ok"};
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	run(script, 3, 5, 10, &req, &resp, NULL);
	check("503, 503, 200: done", resp.outcome == SMG_HTTP_DONE && resp.status == 200);
	check("503, 503, 200: three attempts", resp.attempts == 3);
	check("503, 503, 200: body of the last answer only",
	      resp.body.data && strcmp(resp.body.data, "ok") == 0);
	check("response header lookup ignores case",
	      smg_http_header(&resp, "etag") && strcmp(smg_http_header(&resp, "etag"), "\"e1\"") == 0);
	smg_http_response_free(&resp);
}

static void never_retries_4xx(void)
{
	const char *script[] = {"HTTP/1.1 412 Precondition Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		R200(0)};
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	run(script, 2, 5, 10, &req, &resp, NULL);
	check("412 is final, not retried", resp.outcome == SMG_HTTP_DONE && resp.status == 412
	      && resp.attempts == 1);
	check("exit code of a final status is 0 (the caller maps it)", smg_http_exit_code(&resp) == 0);
	smg_http_response_free(&resp);
}

static void exhausts_retries(void)
{
	const char *script[] = {R503, R503, R503};
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	run(script, 3, 2, 10, &req, &resp, NULL);
	check("503 x3 with 2 retries: exhausted", resp.outcome == SMG_HTTP_EXHAUSTED
	      && resp.status == 503 && resp.attempts == 3);
	check("exhausted maps to exit 4", smg_http_exit_code(&resp) == SMG_EXIT_NETWORK);
	smg_http_response_free(&resp);
}

static void honours_retry_after(void)
{
	const char *script[] = {"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\n"
		"Connection: close\r\n\r\n", R200(0)};
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	double secs;
	run(script, 2, 3, 5000, &req, &resp, &secs);
	check("429 with Retry-After: 1 then 200", resp.outcome == SMG_HTTP_DONE && resp.status == 200);
	check("Retry-After: 1 waited about a second", secs >= 0.95 && secs < 3);
	smg_http_response_free(&resp);

	const char *capped[] = {"HTTP/1.1 503 Slow Down\r\nRetry-After: 60\r\nContent-Length: 0\r\n"
		"Connection: close\r\n\r\n", R200(0)};
	run(capped, 2, 3, 50, &req, &resp, &secs);
	check("Retry-After: 60 is capped by max_delay_ms", resp.status == 200 && secs < 1);
	smg_http_response_free(&resp);
}

static void upload_restarts_from_offset(void)
{
	char path[] = "/tmp/smg-http-test.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	const char *content = "HEADERpayload-that-must-arrive-whole";
	smg_write_all(fd, content, strlen(content), "temp");
	const char *script[] = {R503, ECHO};
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.method = "PUT";
	req.body_fd = fd;
	req.body_offset = 6;
	req.body_len = strlen(content) - 6;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	run(script, 2, 3, 10, &req, &resp, NULL);
	check("streamed PUT retried after 503", resp.status == 200 && resp.attempts == 2);
	check("the retry sent the body again from its offset",
	      resp.body.data && strcmp(resp.body.data, content + 6) == 0);
	smg_http_response_free(&resp);

	const char *body = "{\"sql\":\"SELECT 1\"}";
	struct smg_http_request post = SMG_HTTP_REQUEST_INIT;
	post.method = "POST";
	post.body = body;
	post.body_len = strlen(body);
	run(script, 2, 3, 10, &post, &resp, NULL);
	check("POST from memory retried and sent whole",
	      resp.status == 200 && resp.body.data && strcmp(resp.body.data, body) == 0);
	smg_http_response_free(&resp);
	close(fd);
}

static void download_truncated_before_retry(void)
{
	char path[] = "/tmp/smg-http-test.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	smg_write_all(fd, "keep:", 5, "temp");
	/* The first answer promises 10 bytes and sends 4: a broken transfer. */
	const char *script[] = {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nBROK",
		R200(10) "0123456789"};
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.response_fd = fd;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	run(script, 2, 3, 10, &req, &resp, NULL);
	char got[64] = "";
	ssize_t n = pread(fd, got, sizeof got - 1, 0);
	got[n > 0 ? n : 0] = '\0';
	check("partial download retried", resp.outcome == SMG_HTTP_DONE && resp.attempts == 2);
	check("file holds what was there plus one whole body", strcmp(got, "keep:0123456789") == 0);
	smg_http_response_free(&resp);
	close(fd);
}

static void connection_refused_is_exhausted(void)
{
	/* A port that was just free: nothing listens there. */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	bind(s, (struct sockaddr *)&a, sizeof a);
	getsockname(s, (struct sockaddr *)&a, &alen);
	close(s);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", ntohs(a.sin_port));
	struct smg_http *h = client(2, 10);
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.url = url;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	smg_http_perform(h, &req, &resp);
	check("connection refused: retried, then exhausted",
	      resp.outcome == SMG_HTTP_EXHAUSTED && resp.attempts == 3 && resp.status == 0);
	check("connection refused: the error says why", resp.error[0] != '\0');
	smg_http_response_free(&resp);
	smg_http_free(h);
}

static void backoff_policy(void)
{
	struct smg_http_retry p = {5, 100, 1000, 2.0};
	bool in_range = true;
	for (int i = 0; i < 200; i++) {
		long d3 = smg_http_backoff_ms(&p, 3, NULL, 0);	/* cap 400 */
		long d9 = smg_http_backoff_ms(&p, 9, NULL, 0);	/* capped at 1000 */
		in_range = in_range && d3 >= 0 && d3 <= 400 && d9 >= 0 && d9 <= 1000;
	}
	check("full jitter stays within [0, min(max, initial * mult^(k-1))]", in_range);
	check("Retry-After seconds", smg_http_backoff_ms(&p, 1, "0", 0) == 0
	      && smg_http_backoff_ms(&p, 1, " 1", 0) == 1000);
	check("Retry-After capped", smg_http_backoff_ms(&p, 1, "120", 0) == 1000);
	/* Sun, 06 Nov 1994 08:49:37 GMT is 784111777. */
	check("Retry-After HTTP date",
	      smg_http_backoff_ms(&p, 1, "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 1) == 1000);
	check("Retry-After date in the past: no wait",
	      smg_http_backoff_ms(&p, 1, "Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 5) == 0);
	check("retryable statuses", smg_http_status_retryable(429) && smg_http_status_retryable(500)
	      && smg_http_status_retryable(503) && !smg_http_status_retryable(501)
	      && !smg_http_status_retryable(404) && !smg_http_status_retryable(412)
	      && !smg_http_status_retryable(403));
}

/* Runs one GET with opts against a scripted server; seconds taken. */
static double run_opts(const char *const *script, size_t n, const struct smg_http_opts *opts,
		       struct smg_http_response *resp)
{
	pid_t pid;
	int port = start_server(script, n, &pid);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", port);
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.url = url;
	struct smg_http *h = smg_http_new(opts);
	double t0 = now_s();
	smg_http_perform(h, &req, resp);
	double secs = now_s() - t0;
	smg_http_free(h);
	stop_server(pid);
	return secs;
}

static void short_body_names_both_counts(void)
{
#define SHORT "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort"
	const char *script[] = {SHORT, SHORT};
	struct smg_http_opts o = SMG_HTTP_OPTS_DEFAULT;
	o.retry = (struct smg_http_retry){1, 1, 10, 2.0};
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	run_opts(script, 2, &o, &resp);
	check("a body short of its Content-Length is retried, then exhausted",
	      resp.outcome == SMG_HTTP_EXHAUSTED && resp.attempts == 2);
	check("...flagged, with the expected length", resp.short_body && resp.expected_bytes == 100);
	check("...and the message names both counts",
	      strstr(resp.error, "Content-Length 100 bytes, 5 received") != NULL);
	smg_http_response_free(&resp);
#undef SHORT
}

static void deadline_ends_retries(void)
{
	const char *script[40];
	for (size_t i = 0; i < 40; i++)
		script[i] = R503;
	struct smg_http_opts o = SMG_HTTP_OPTS_DEFAULT;
	o.retry = (struct smg_http_retry){100, 50, 200, 2.0};
	o.deadline_ms = 1000;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	double secs = run_opts(script, 40, &o, &resp);
	check("503 for ever, 100 retries, deadline 1 s: exhausted in about a second",
	      resp.outcome == SMG_HTTP_EXHAUSTED && secs < 1.5 && resp.attempts < 40);
	check("...saying the deadline ended it", strstr(resp.error, "deadline of 1 s reached") != NULL);
	smg_http_response_free(&resp);

	/* A server that accepts and never answers: the deadline cuts the
	 * attempt itself, not just the waits between attempts. */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	bind(lfd, (struct sockaddr *)&a, sizeof a);
	listen(lfd, 8);
	getsockname(lfd, (struct sockaddr *)&a, &alen);
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	o.stall_timeout_s = 0;	/* no low-speed limit: the deadline alone */
	o.deadline_ms = 800;
	struct smg_http *h = smg_http_new(&o);
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.url = url;
	double t0 = now_s();
	smg_http_perform(h, &req, &resp);
	secs = now_s() - t0;
	check("a silent server, deadline 0.8 s: exhausted within a second",
	      resp.outcome == SMG_HTTP_EXHAUSTED && secs < 1.3);
	smg_http_free(h);
	smg_http_response_free(&resp);
	close(lfd);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	retries_5xx_then_succeeds();
	never_retries_4xx();
	exhausts_retries();
	honours_retry_after();
	upload_restarts_from_offset();
	download_truncated_before_retry();
	connection_refused_is_exhausted();
	backoff_policy();
	short_body_names_both_counts();
	deadline_ends_retries();
	return failures ? 1 : 0;
}
