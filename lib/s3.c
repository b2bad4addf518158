/*
 * s3.c - the S3 REST API over http.c and sigv4.c (see s3.h): URLs, the
 * configuration, errors, one signed request and the single-request verbs.
 * The XML of the answers is s3-xml.c, listing s3-list.c, multipart upload
 * s3-multipart.c; what they share is s3-int.h.
 */
#include "s3-int.h"
#include "progress.h"
#include "sha256.h"
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- URLs ---------------------------------------------------------------- */

bool smg_obj_url_parse(const char *s, struct smg_obj_url *u, char *err, size_t errlen)
{
	memset(u, 0, sizeof *u);
	if (strncmp(s, "file://", 7) == 0) {
		if (s[7] != '/' || s[8] == '\0') {
			snprintf(err, errlen, "%s: a file URL needs an absolute path (file:///dir/name)", s);
			return false;
		}
		u->scheme = SMG_URL_FILE;
		u->key = smg_xstrdup(s + 7);
		return true;
	}
	if (strncmp(s, "s3://", 5) == 0) {
		const char *b = s + 5, *slash = strchr(b, '/');
		size_t blen = slash ? (size_t)(slash - b) : strlen(b);
		if (blen == 0) {
			snprintf(err, errlen, "%s: no bucket (s3://bucket/key)", s);
			return false;
		}
		u->scheme = SMG_URL_S3;
		u->bucket = smg_xstrndup(b, blen);
		u->key = smg_xstrdup(slash ? slash + 1 : "");
		return true;
	}
	snprintf(err, errlen, "%s: not an s3:// or file:// URL", s);
	return false;
}

void smg_obj_url_free(struct smg_obj_url *u)
{
	free(u->bucket);
	free(u->key);
	u->bucket = u->key = NULL;
}

void smg_obj_info_free(struct smg_obj_info *i)
{
	free(i->key);
	free(i->etag);
	i->key = i->etag = NULL;
}

char *smg_etag_unquote(const char *etag)
{
	size_t n = strlen(etag);
	/* A weak validator W/"..." never comes from S3, but strip it anyway. */
	if (n >= 2 && etag[0] == 'W' && etag[1] == '/') {
		etag += 2;
		n -= 2;
	}
	if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"')
		return smg_xstrndup(etag + 1, n - 2);
	return smg_xstrdup(etag);
}

/* Written so that a key of any content stays one field of one line (of
 * list's text output, or of a diagnostic): backslash, tab, newline and
 * carriage return as \\ \t \n \r, other control bytes as \xHH
 * (smg-s3(1)). */
void smg_obj_add_text(struct smg_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\')
			smg_buf_adds(b, "\\\\");
		else if (c == '\t')
			smg_buf_adds(b, "\\t");
		else if (c == '\n')
			smg_buf_adds(b, "\\n");
		else if (c == '\r')
			smg_buf_adds(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			smg_buf_addf(b, "\\x%02x", c);
		else
			smg_buf_addc(b, (char)c);
	}
}

/* ---- configuration ------------------------------------------------------- */

void smg_s3_config_set(char **field, const char *value)
{
	free(*field);
	*field = value ? smg_xstrdup(value) : NULL;
}

static void set_from_env(char **field, const char *var)
{
	const char *v = getenv(var);
	if (!*field && v && *v)
		*field = smg_xstrdup(v);
}

void smg_s3_config_from_env(struct smg_s3_config *c)
{
	set_from_env(&c->endpoint, "SMG_S3_ENDPOINT");
	set_from_env(&c->region, "AWS_REGION");
	set_from_env(&c->region, "AWS_DEFAULT_REGION");
	set_from_env(&c->access_key_id, "AWS_ACCESS_KEY_ID");
	set_from_env(&c->secret_access_key, "AWS_SECRET_ACCESS_KEY");
	set_from_env(&c->session_token, "AWS_SESSION_TOKEN");
}

void smg_s3_config_free(struct smg_s3_config *c)
{
	smg_s3_config_set(&c->endpoint, NULL);
	smg_s3_config_set(&c->region, NULL);
	smg_s3_config_set(&c->access_key_id, NULL);
	smg_s3_config_set(&c->secret_access_key, NULL);
	smg_s3_config_set(&c->session_token, NULL);
}

static char *copy_or_null(const char *s)
{
	return s ? smg_xstrdup(s) : NULL;
}

/* "scheme://host[:port][/path]" into the client; dies on anything else. */
static void parse_endpoint(struct smg_s3 *s, const char *endpoint)
{
	const char *sep = strstr(endpoint, "://");
	if (!sep || sep == endpoint || sep[3] == '\0' || sep[3] == '/')
		smg_die(SMG_EXIT_USAGE, "endpoint %s: expected http(s)://host[:port]", endpoint);
	s->scheme = smg_xstrndup(endpoint, (size_t)(sep - endpoint));
	if (strcmp(s->scheme, "http") != 0 && strcmp(s->scheme, "https") != 0)
		smg_die(SMG_EXIT_USAGE, "endpoint %s: only http and https are supported", endpoint);
	const char *host = sep + 3, *path = strchr(host, '/');
	s->host = path ? smg_xstrndup(host, (size_t)(path - host)) : smg_xstrdup(host);
	/* A trailing slash would double the one before the bucket. */
	size_t plen = path ? strlen(path) : 0;
	while (plen > 0 && path[plen - 1] == '/')
		plen--;
	s->base_path = smg_xstrndup(path ? path : "", plen);
}

struct smg_s3 *smg_s3_new(const struct smg_s3_config *c, const struct smg_http_opts *opts)
{
	if (!c->access_key_id || !c->secret_access_key)
		smg_die(SMG_EXIT_USAGE, "no S3 credentials: set access_key_id and secret_access_key "
			"in the config, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	struct smg_s3 *s = smg_xcalloc(1, sizeof *s);
	s->cfg.region = smg_xstrdup(c->region ? c->region : "us-east-1");
	s->cfg.access_key_id = smg_xstrdup(c->access_key_id);
	s->cfg.secret_access_key = smg_xstrdup(c->secret_access_key);
	s->cfg.session_token = copy_or_null(c->session_token);
	if (c->endpoint) {
		s->cfg.endpoint = smg_xstrdup(c->endpoint);
	} else {
		struct smg_buf b = SMG_BUF_INIT;
		smg_buf_addf(&b, "https://s3.%s.amazonaws.com", s->cfg.region);
		s->cfg.endpoint = smg_buf_detach(&b);
	}
	parse_endpoint(s, s->cfg.endpoint);
	/* MinIO, moto and most self-hosted stores only answer path style;
	 * AWS prefers virtual-hosted. */
	s->path_style = c->path_style >= 0 ? c->path_style : c->endpoint != NULL;
	s->creds = (struct smg_sigv4_creds){s->cfg.access_key_id, s->cfg.secret_access_key,
		s->cfg.session_token, s->cfg.region, "s3"};
	s->http = smg_http_new(opts);
	s->part_size = SMG_S3_PART_SIZE_DEFAULT;
	return s;
}

void smg_s3_free(struct smg_s3 *s)
{
	if (!s)
		return;
	smg_http_free(s->http);
	smg_s3_config_free(&s->cfg);
	free(s->scheme);
	free(s->host);
	free(s->base_path);
	free(s);
}

/* ---- errors ---------------------------------------------------------------- */

/* What to say for an error answer without an XML body (HEAD has none). */
static const struct {
	long status;
	const char *code, *message;
} bare_errors[] = {
	{301, "PermanentRedirect", "the bucket is in another region or at another endpoint"},
	{400, "BadRequest", "the store refused the request"},
	{403, "Forbidden", "access denied: check the credentials"},
	{404, "NotFound", "no such object or bucket"},
	{409, "Conflict", "a concurrent request conflicts with this one"},
	{412, "PreconditionFailed", "the object's ETag does not match the condition"},
};

static const char *bare_error(long status, bool want_code)
{
	for (size_t i = 0; i < sizeof bare_errors / sizeof bare_errors[0]; i++)
		if (bare_errors[i].status == status)
			return want_code ? bare_errors[i].code : bare_errors[i].message;
	return NULL;
}

static bool code_is(const char *code, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(code, *list) == 0)
			return true;
	return false;
}

/* The exit code an S3 error means; see smg-s3(1). */
int s3_exit_code_for(long status, const char *code)
{
	static const char *const conflict[] = {"PreconditionFailed", "ConditionalRequestConflict", NULL};
	static const char *const auth[] = {"InvalidAccessKeyId", "SignatureDoesNotMatch",
		"AccessDenied", "ExpiredToken", "InvalidToken", "TokenRefreshRequired", NULL};
	static const char *const config[] = {"AuthorizationHeaderMalformed", "PermanentRedirect",
		"InvalidBucketName", "IllegalLocationConstraintException", NULL};
	static const char *const data[] = {"XAmzContentSHA256Mismatch", "BadDigest",
		"IncompleteBody", "EntityTooLarge", NULL};
	if (status == 412 || code_is(code, conflict))
		return SMG_EXIT_CONFLICT;
	if (status == 404)
		return SMG_EXIT_NOTFOUND;
	if (status == 401 || status == 403 || code_is(code, auth))
		return SMG_EXIT_AUTH;
	if (status == 301 || status == 307 || code_is(code, config))
		return SMG_EXIT_USAGE;
	if (code_is(code, data))
		return SMG_EXIT_DATA;
	return SMG_EXIT_FAILURE;
}

void s3_describe_target(struct smg_buf *b, const struct s3_call *c)
{
	smg_buf_addf(b, " (bucket %s", c->bucket);
	if (c->key) {
		smg_buf_adds(b, ", key ");
		smg_obj_add_text(b, c->key);
	}
	smg_buf_addc(b, ')');
}

/* One line "Code: message (bucket B, key K)" and the matching exit code. */
static int report_error(const struct s3_call *c, const struct smg_http_response *resp)
{
	struct smg_buf line = SMG_BUF_INIT;
	int rc;
	if (resp->status == 0 || (resp->error[0] && resp->status >= 200 && resp->status <= 299)) {
		/* Nothing came back at all (the network, or local I/O), or
		 * a good status whose body did not arrive whole. */
		smg_buf_addf(&line, "%s s3://%s/%s: %s", c->method, c->bucket, c->key ? c->key : "",
			     resp->error);
		if (resp->outcome == SMG_HTTP_EXHAUSTED && resp->attempts > 1)
			smg_buf_addf(&line, "; gave up after %d attempts", resp->attempts);
		rc = smg_http_exit_code(resp);
	} else {
		const char *body = resp->body.data ? resp->body.data : "";
		const char *end = body + resp->body.len;
		char *code = s3_xml_child(body, end, "Code");
		char *msg = s3_xml_child(body, end, "Message");
		const char *name = code ? code : bare_error(resp->status, true);
		const char *text = msg ? msg : bare_error(resp->status, false);
		if (name)
			smg_buf_addf(&line, "%s: ", name);
		if (text)
			smg_buf_adds(&line, text);
		else
			smg_buf_addf(&line, "HTTP status %ld", resp->status);
		s3_describe_target(&line, c);
		rc = s3_exit_code_for(resp->status, name ? name : "");
		if (resp->outcome != SMG_HTTP_DONE) {
			smg_buf_addf(&line, "; gave up after %d attempts", resp->attempts);
			rc = smg_http_exit_code(resp);
		}
		free(code);
		free(msg);
	}
	smg_warn("%s", line.data);
	smg_buf_free(&line);
	return rc;
}

/* ---- one signed request ---------------------------------------------------- */

void s3_call_init(struct s3_call *c, const char *method, const char *bucket, const char *key)
{
	*c = (struct s3_call){.method = method, .bucket = bucket, .key = key,
		.body_fd = -1, .response_fd = -1, .payload_hash = SMG_SHA256_EMPTY};
}

void s3_call_free(struct s3_call *c)
{
	smg_kv_free(&c->query);
	smg_kv_free(&c->headers);
}

/* Host and decoded path of the call, by addressing style. */
static void call_address(const struct smg_s3 *s, const struct s3_call *c,
		struct smg_buf *host, struct smg_buf *path)
{
	smg_buf_adds(path, s->base_path);
	if (s->path_style) {
		smg_buf_adds(host, s->host);
		smg_buf_addf(path, "/%s", c->bucket);
		if (c->key)
			smg_buf_addf(path, "/%s", c->key);
	} else {
		smg_buf_addf(host, "%s.%s", c->bucket, s->host);
		smg_buf_addf(path, "/%s", c->key ? c->key : "");
	}
}

static void add_conditions(struct s3_call *c)
{
	if (!c->cond)
		return;
	if (c->cond->if_match) {
		/* S3 compares quoted ETags; moto compares them literally. */
		char *bare = smg_etag_unquote(c->cond->if_match);
		struct smg_buf q = SMG_BUF_INIT;
		smg_buf_addf(&q, "\"%s\"", bare);
		smg_kv_set(&c->headers, "If-Match", q.data);
		smg_buf_free(&q);
		free(bare);
	}
	if (c->cond->if_none_match)
		smg_kv_set(&c->headers, "If-None-Match", "*");
}

/* Signs and sends c; 0 for a 2xx answer, else the reported exit code. */
int s3_call_perform(struct smg_s3 *s, struct s3_call *c, struct smg_http_response *resp)
{
	struct smg_buf host = SMG_BUF_INIT, path = SMG_BUF_INIT, url = SMG_BUF_INIT;
	call_address(s, c, &host, &path);
	smg_buf_addf(&url, "%s://%s", s->scheme, host.data);
	smg_uri_encode(&url, path.data, true);
	if (c->query.n) {
		smg_buf_addc(&url, '?');
		smg_sigv4_canonical_query(&url, &c->query);
	}
	/* Host is set here so that what is signed is what libcurl sends. */
	smg_kv_set(&c->headers, "Host", host.data);
	add_conditions(c);
	smg_sigv4_sign(&s->creds, c->method, path.data, &c->query, &c->headers, c->payload_hash,
		       time(NULL));

	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.method = c->method;
	req.url = url.data;
	req.headers = &c->headers;
	req.body = c->body_mem;
	req.body_fd = c->body_fd;
	req.body_offset = c->body_offset;
	req.body_len = (size_t)c->body_len;
	req.response_fd = c->response_fd;
	if (c->body_fd >= 0 || c->response_fd >= 0)
		req.progress = c->body_fd >= 0 ? "upload" : "download";
	req.progress_at = c->progress_at;
	req.progress_of = c->progress_of;
	smg_http_perform(s->http, &req, resp);

	int rc = 0;
	if (resp->outcome != SMG_HTTP_DONE || resp->status < 200 || resp->status > 299)
		rc = report_error(c, resp);
	smg_buf_free(&host);
	smg_buf_free(&path);
	smg_buf_free(&url);
	return rc;
}

char *s3_response_etag(const struct smg_http_response *resp)
{
	const char *e = smg_http_header(resp, "ETag");
	return smg_etag_unquote(e ? e : "");
}

/* ---- verbs ----------------------------------------------------------------- */

int smg_s3_get(struct smg_s3 *s, const char *bucket, const char *key, int fd,
		const struct smg_obj_cond *cond, char **etag)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "GET", bucket, key);
	c.cond = cond;
	c.response_fd = fd;
	int rc = s3_call_perform(s, &c, &resp);
	if (rc == 0 && etag)
		*etag = s3_response_etag(&resp);
	smg_http_response_free(&resp);
	s3_call_free(&c);
	return rc;
}


void smg_s3_set_part_size(struct smg_s3 *s, uint64_t part_size)
{
	s->part_size = part_size;
}

int smg_s3_put(struct smg_s3 *s, const char *bucket, const char *key, int fd, off_t offset,
		uint64_t size, const char *sha256, const struct smg_obj_cond *cond, char **etag)
{
	if (s->part_size > 0 && size > s->part_size)
		return s3_put_multipart(s, bucket, key, fd, offset, size, cond, etag);
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "PUT", bucket, key);
	c.cond = cond;
	c.body_fd = fd;
	c.body_offset = offset;
	c.body_len = size;
	c.payload_hash = sha256 ? sha256 : SMG_SIGV4_UNSIGNED_PAYLOAD;
	smg_kv_set(&c.headers, "Content-Type", "application/octet-stream");
	int rc = s3_call_perform(s, &c, &resp);
	if (rc == 0 && etag)
		*etag = s3_response_etag(&resp);
	smg_http_response_free(&resp);
	s3_call_free(&c);
	return rc;
}

int smg_s3_head(struct smg_s3 *s, const char *bucket, const char *key,
		const struct smg_obj_cond *cond, struct smg_obj_info *info)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "HEAD", bucket, key);
	c.cond = cond;
	int rc = s3_call_perform(s, &c, &resp);
	const char *len = smg_http_header(&resp, "Content-Length");
	if (rc == 0 && !s3_all_digits(len)) {
		/* The size is the answer: a HEAD without one is not an answer. */
		smg_warn("malformed answer: HEAD without a numeric Content-Length (bucket %s, key %s)",
			 bucket, key);
		rc = SMG_EXIT_DATA;
	}
	if (rc == 0 && info) {
		const char *mod = smg_http_header(&resp, "Last-Modified");
		info->key = smg_xstrdup(key);
		info->etag = s3_response_etag(&resp);
		info->size = len ? strtoull(len, NULL, 10) : 0;
		time_t t = mod ? smg_http_date(mod) : 0;
		info->mtime = t > 0 ? t : 0;
	}
	smg_http_response_free(&resp);
	s3_call_free(&c);
	return rc;
}

int smg_s3_delete(struct smg_s3 *s, const char *bucket, const char *key,
		const struct smg_obj_cond *cond)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "DELETE", bucket, key);
	c.cond = cond;
	int rc = s3_call_perform(s, &c, &resp);
	smg_http_response_free(&resp);
	s3_call_free(&c);
	return rc;
}

