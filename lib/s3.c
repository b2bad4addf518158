/* s3.c - the S3 REST API over http.c and sigv4.c (see s3.h). */
#include "s3.h"
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

/* ---- XML (only the flat elements S3 answers with) --------------------------- */

/* The next <tag>...</tag> in [p, end): its content, and where it ends. */
static const char *xml_find(const char *p, const char *end, const char *tag,
		const char **in, size_t *inlen)
{
	char open[64], close[64];
	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	const char *a = memmem(p, (size_t)(end - p), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	const char *b = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!b)
		return NULL;
	*in = a;
	*inlen = (size_t)(b - a);
	return b + strlen(close);
}

/* Appends code point cp as UTF-8; false for one no key can hold: NUL, a
 * surrogate, or past U+10FFFF. */
static bool add_utf8(struct smg_buf *b, unsigned long cp)
{
	if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return false;
	if (cp < 0x80) {
		smg_buf_addc(b, (char)cp);
	} else if (cp < 0x800) {
		smg_buf_addc(b, (char)(0xC0 | cp >> 6));
		smg_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	} else if (cp < 0x10000) {
		smg_buf_addc(b, (char)(0xE0 | cp >> 12));
		smg_buf_addc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
		smg_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	} else {
		smg_buf_addc(b, (char)(0xF0 | cp >> 18));
		smg_buf_addc(b, (char)(0x80 | (cp >> 12 & 0x3F)));
		smg_buf_addc(b, (char)(0x80 | (cp >> 6 & 0x3F)));
		smg_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
	}
	return true;
}

/* "&#65;" or "&#x41;" at p (before end): its code point and the byte
 * after the ';', or NULL when it is not one. */
static const char *char_ref(const char *p, const char *end, unsigned long *cp)
{
	bool hex = end - p > 3 && p[2] == 'x';
	const char *d = p + 2 + hex;
	*cp = 0;
	for (; d < end && *d != ';'; d++) {
		int v = *d >= '0' && *d <= '9' ? *d - '0'
			: hex && *d >= 'a' && *d <= 'f' ? *d - 'a' + 10
			: hex && *d >= 'A' && *d <= 'F' ? *d - 'A' + 10 : -1;
		if (v < 0 || *cp > 0x10FFFF)
			return NULL;
		*cp = *cp * (hex ? 16 : 10) + (unsigned long)v;
	}
	return d < end && d > p + 2 + hex ? d + 1 : NULL;
}

/* Decodes the entity at *pp into b; why it cannot be, or NULL. */
static const char *xml_add_entity(struct smg_buf *b, const char **pp, const char *end)
{
	static const struct { const char *name; char c; } named[] = {
		{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
	};
	const char *p = *pp;
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		size_t n = strlen(named[i].name);
		if ((size_t)(end - p) >= n && memcmp(p, named[i].name, n) == 0) {
			smg_buf_addc(b, named[i].c);
			*pp = p + n;
			return NULL;
		}
	}
	unsigned long cp;
	const char *after = end - p > 3 && p[1] == '#' ? char_ref(p, end, &cp) : NULL;
	if (!after)
		return "an entity XML does not define";
	if (!add_utf8(b, cp))
		return cp == 0 ? "the character U+0000 (NUL), which no key can hold"
			       : "a character reference to no Unicode character";
	*pp = after;
	return NULL;
}

/* The text of an element, decoded exactly into out; why it cannot be,
 * or NULL. */
static const char *xml_decode(const char *p, size_t n, struct smg_buf *out)
{
	const char *end = p + n;
	while (p < end) {
		if (*p == '&') {
			const char *why = xml_add_entity(out, &p, end);
			if (why)
				return why;
		} else {
			smg_buf_addc(out, *p++);
		}
	}
	return NULL;
}

/* Text of the first <tag> in [p, end), or NULL.  Error documents are
 * read leniently: text that does not decode is kept as it came. */
static char *xml_child(const char *p, const char *end, const char *tag)
{
	const char *in;
	size_t n;
	if (!xml_find(p, end, tag, &in, &n))
		return NULL;
	struct smg_buf b = SMG_BUF_INIT;
	if (xml_decode(in, n, &b)) {
		smg_buf_reset(&b);
		smg_buf_add(&b, in, n);
	}
	return smg_buf_detach(&b);
}

static bool all_digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
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
static int exit_code_for(long status, const char *code)
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

static void describe_target(struct smg_buf *b, const struct s3_call *c)
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
		char *code = xml_child(body, end, "Code");
		char *msg = xml_child(body, end, "Message");
		const char *name = code ? code : bare_error(resp->status, true);
		const char *text = msg ? msg : bare_error(resp->status, false);
		if (name)
			smg_buf_addf(&line, "%s: ", name);
		if (text)
			smg_buf_adds(&line, text);
		else
			smg_buf_addf(&line, "HTTP status %ld", resp->status);
		describe_target(&line, c);
		rc = exit_code_for(resp->status, name ? name : "");
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

static void call_init(struct s3_call *c, const char *method, const char *bucket, const char *key)
{
	*c = (struct s3_call){.method = method, .bucket = bucket, .key = key,
		.body_fd = -1, .response_fd = -1, .payload_hash = SMG_SHA256_EMPTY};
}

static void call_free(struct s3_call *c)
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
static int call_perform(struct smg_s3 *s, struct s3_call *c, struct smg_http_response *resp)
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

static char *response_etag(const struct smg_http_response *resp)
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
	call_init(&c, "GET", bucket, key);
	c.cond = cond;
	c.response_fd = fd;
	int rc = call_perform(s, &c, &resp);
	if (rc == 0 && etag)
		*etag = response_etag(&resp);
	smg_http_response_free(&resp);
	call_free(&c);
	return rc;
}

static int put_multipart(struct smg_s3 *s, const char *bucket, const char *key, int fd,
		off_t offset, uint64_t size, const struct smg_obj_cond *cond, char **etag);

void smg_s3_set_part_size(struct smg_s3 *s, uint64_t part_size)
{
	s->part_size = part_size;
}

int smg_s3_put(struct smg_s3 *s, const char *bucket, const char *key, int fd, off_t offset,
		uint64_t size, const char *sha256, const struct smg_obj_cond *cond, char **etag)
{
	if (s->part_size > 0 && size > s->part_size)
		return put_multipart(s, bucket, key, fd, offset, size, cond, etag);
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "PUT", bucket, key);
	c.cond = cond;
	c.body_fd = fd;
	c.body_offset = offset;
	c.body_len = size;
	c.payload_hash = sha256 ? sha256 : SMG_SIGV4_UNSIGNED_PAYLOAD;
	smg_kv_set(&c.headers, "Content-Type", "application/octet-stream");
	int rc = call_perform(s, &c, &resp);
	if (rc == 0 && etag)
		*etag = response_etag(&resp);
	smg_http_response_free(&resp);
	call_free(&c);
	return rc;
}

int smg_s3_head(struct smg_s3 *s, const char *bucket, const char *key,
		const struct smg_obj_cond *cond, struct smg_obj_info *info)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "HEAD", bucket, key);
	c.cond = cond;
	int rc = call_perform(s, &c, &resp);
	const char *len = smg_http_header(&resp, "Content-Length");
	if (rc == 0 && !all_digits(len)) {
		/* The size is the answer: a HEAD without one is not an answer. */
		smg_warn("malformed answer: HEAD without a numeric Content-Length (bucket %s, key %s)",
			 bucket, key);
		rc = SMG_EXIT_DATA;
	}
	if (rc == 0 && info) {
		const char *mod = smg_http_header(&resp, "Last-Modified");
		info->key = smg_xstrdup(key);
		info->etag = response_etag(&resp);
		info->size = len ? strtoull(len, NULL, 10) : 0;
		time_t t = mod ? smg_http_date(mod) : 0;
		info->mtime = t > 0 ? t : 0;
	}
	smg_http_response_free(&resp);
	call_free(&c);
	return rc;
}

int smg_s3_delete(struct smg_s3 *s, const char *bucket, const char *key,
		const struct smg_obj_cond *cond)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "DELETE", bucket, key);
	c.cond = cond;
	int rc = call_perform(s, &c, &resp);
	smg_http_response_free(&resp);
	call_free(&c);
	return rc;
}

/* "2026-03-01T10:00:00.000Z" */
static time_t parse_iso8601(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

/* ---- listing --------------------------------------------------------------
 * A listing is read whole and checked before anything of it is handed
 * on: a garbage page, a truncated page without a token, a token the store
 * gave before (a listing that would never end) or a key that cannot be
 * represented is exit 7, naming what was wrong, with nothing listed.
 */

struct listing {
	const struct s3_call *call;
	const char *prefix;
	struct smg_obj_info *v;
	size_t n, cap;
	char **tokens;		/* every continuation token given so far */
	size_t ntokens;
};

static int bad_listing(const struct listing *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int bad_listing(const struct listing *l, const char *fmt, ...)
{
	struct smg_buf line = SMG_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	char msg[1024];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	smg_buf_addf(&line, "malformed listing: %s", msg);
	describe_target(&line, l->call);
	smg_warn("%s", line.data);
	smg_buf_free(&line);
	return SMG_EXIT_DATA;
}

/* Up to 40 bytes of s, non-printing ones as '?', for a message. */
static void quote_raw(struct smg_buf *b, const char *s, size_t n)
{
	smg_buf_addc(b, '"');
	for (size_t i = 0; i < n && i < 40; i++)
		smg_buf_addc(b, s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
	smg_buf_adds(b, n > 40 ? "...\"" : "\"");
}

/* The page's <ListBucketResult> content, or NULL when body is not one. */
static const char *list_result(const char *body, size_t len, const char **end)
{
	const char *p = body, *stop = body + len;
	while (p < stop && strchr(" \t\r\n", *p))
		p++;
	if (stop - p > 5 && memcmp(p, "<?xml", 5) == 0) {
		const char *q = memmem(p, (size_t)(stop - p), "?>", 2);
		p = q ? q + 2 : stop;
		while (p < stop && strchr(" \t\r\n", *p))
			p++;
	}
	static const char open[] = "<ListBucketResult", close[] = "</ListBucketResult>";
	size_t n = sizeof open - 1;
	if ((size_t)(stop - p) <= n || memcmp(p, open, n) != 0 || (p[n] != '>' && p[n] != ' '))
		return NULL;
	const char *c = memmem(p, (size_t)(stop - p), close, sizeof close - 1);
	if (!c)
		return NULL;
	*end = c;
	return p;
}

/* A key as the page gives it: XML text, percent-encoded under
 * encoding-type=url ("+" is a space there, as botocore reads it). */
static const char *decode_key(const char *in, size_t n, bool url, struct smg_buf *key)
{
	struct smg_buf text = SMG_BUF_INIT;
	const char *why = xml_decode(in, n, url ? &text : key);
	for (size_t i = 0; url && !why && i < text.len; i++) {
		char c = text.data[i];
		if (c == '+') {
			smg_buf_addc(key, ' ');
		} else if (c != '%') {
			smg_buf_addc(key, c);
		} else if (i + 2 < text.len && isxdigit((unsigned char)text.data[i + 1]) &&
			   isxdigit((unsigned char)text.data[i + 2])) {
			char hex[3] = {text.data[i + 1], text.data[i + 2], '\0'};
			unsigned long byte = strtoul(hex, NULL, 16);
			if (byte == 0)
				why = "the character U+0000 (NUL), which no key can hold";
			smg_buf_addc(key, (char)byte);
			i += 2;
		} else {
			why = "a '%' that does not start a percent escape";
		}
	}
	smg_buf_free(&text);
	return why;
}

/* One <Contents> into the listing; 0 or a reported 7. */
static int list_object(struct listing *l, const char *in, const char *stop, bool url)
{
	const char *k;
	size_t kn;
	if (!xml_find(in, stop, "Key", &k, &kn))
		return bad_listing(l, "an object without a <Key>");
	struct smg_buf key = SMG_BUF_INIT, raw = SMG_BUF_INIT;
	const char *why = decode_key(k, kn, url, &key);
	char *size = xml_child(in, stop, "Size");
	int rc = 0;
	quote_raw(&raw, k, kn);
	if (why)
		rc = bad_listing(l, "key %s (as the store wrote it) holds %s", raw.data, why);
	else if (strncmp(key.data ? key.data : "", l->prefix, strlen(l->prefix)) != 0)
		rc = bad_listing(l, "key %s does not start with the prefix asked for", raw.data);
	else if (!all_digits(size))
		rc = bad_listing(l, "key %s has no <Size> or a size that is not a number", raw.data);
	if (rc == 0) {
		char *etag = xml_child(in, stop, "ETag");
		char *mod = xml_child(in, stop, "LastModified");
		if (l->n == l->cap) {
			l->cap = l->cap ? 2 * l->cap : 64;
			l->v = smg_xrealloc(l->v, l->cap * sizeof *l->v);
		}
		l->v[l->n++] = (struct smg_obj_info){smg_buf_detach(&key), strtoull(size, NULL, 10),
			smg_etag_unquote(etag ? etag : ""), parse_iso8601(mod)};
		free(etag);
		free(mod);
	}
	free(size);
	smg_buf_free(&key);
	smg_buf_free(&raw);
	return rc;
}

/* Checks one ListObjectsV2 page and adds its objects; the continuation
 * token of a truncated page in *next.  0 or a reported 7. */
static int list_page(struct listing *l, const struct smg_buf *body, char **next)
{
	const char *end, *p = list_result(body->data ? body->data : "", body->len, &end);
	*next = NULL;
	if (!p) {
		struct smg_buf start = SMG_BUF_INIT;
		quote_raw(&start, body->data ? body->data : "", body->len);
		int rc = bad_listing(l, "not a ListBucketResult document (%zu bytes, starting %s)",
				     body->len, start.data);
		smg_buf_free(&start);
		return rc;
	}
	char *truncated = xml_child(p, end, "IsTruncated");
	char *encoding = xml_child(p, end, "EncodingType");
	int rc = 0;
	if (!truncated || (strcmp(truncated, "true") != 0 && strcmp(truncated, "false") != 0))
		rc = bad_listing(l, "<IsTruncated> is missing or neither true nor false");
	else if (encoding && strcmp(encoding, "url") != 0)
		rc = bad_listing(l, "<EncodingType> %s, where url was asked for", encoding);
	const char *in;
	size_t n;
	while (rc == 0 && (p = xml_find(p, end, "Contents", &in, &n)) != NULL)
		rc = list_object(l, in, in + n, encoding != NULL);
	if (rc == 0 && strcmp(truncated, "true") == 0) {
		*next = xml_child(body->data, end, "NextContinuationToken");
		if (!*next || !**next)
			rc = bad_listing(l, "a truncated page without a <NextContinuationToken>");
		for (size_t i = 0; rc == 0 && i < l->ntokens; i++)
			if (strcmp(l->tokens[i], *next) == 0)
				rc = bad_listing(l, "continuation token \"%s\" given again after %zu "
						 "pages: the listing would never end", *next,
						 l->ntokens + 1);
		if (rc) {
			free(*next);
			*next = NULL;
		}
	}
	free(truncated);
	free(encoding);
	return rc;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		smg_obj_info_free(&l->v[i]);
	for (size_t i = 0; i < l->ntokens; i++)
		free(l->tokens[i]);
	free(l->v);
	free(l->tokens);
}

int smg_s3_list(struct smg_s3 *s, const char *bucket, const char *prefix, int page_size,
		smg_obj_list_fn *fn, void *arg)
{
	struct s3_call c;
	struct listing l = {.call = &c, .prefix = prefix};
	char *token = NULL;
	int rc = 0;
	do {
		struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
		call_init(&c, "GET", bucket, NULL);
		smg_kv_add(&c.query, "list-type", "2");
		smg_kv_add(&c.query, "prefix", prefix);
		/* Keys come percent-encoded: any byte survives, even those
		 * XML 1.0 cannot carry. */
		smg_kv_add(&c.query, "encoding-type", "url");
		if (token) {
			smg_kv_add(&c.query, "continuation-token", token);
			l.tokens = smg_xrealloc(l.tokens, (l.ntokens + 1) * sizeof *l.tokens);
			l.tokens[l.ntokens++] = token;
		}
		if (page_size > 0) {
			char n[16];
			snprintf(n, sizeof n, "%d", page_size);
			smg_kv_add(&c.query, "max-keys", n);
		}
		token = NULL;
		rc = call_perform(s, &c, &resp);
		if (rc == 0)
			rc = list_page(&l, &resp.body, &token);
		smg_http_response_free(&resp);
		call_free(&c);
	} while (rc == 0 && token);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		fn(&l.v[i], arg);
	listing_free(&l);
	return rc;
}

/* ---- multipart upload -------------------------------------------------------
 * An object larger than the part size goes up in parts: CreateMultipartUpload,
 * one UploadPart per part (each signed with its own SHA-256, read from the
 * file again with pread, so memory stays flat and a retry sends the part
 * again), then CompleteMultipartUpload, which carries the condition
 * (If-Match / If-None-Match), so that the object appears whole or not at
 * all.  Any failure aborts the upload, so no parts are left to be billed.
 */

/* The SHA-256 (hex) of len bytes of fd from offset. */
static bool range_sha256(int fd, off_t offset, uint64_t len, char hex[65])
{
	struct smg_sha256_ctx ctx;
	unsigned char buf[65536], out[32];
	smg_sha256_init(&ctx);
	while (len > 0) {
		size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
		ssize_t n = pread(fd, buf, want, offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		smg_sha256_update(&ctx, buf, (size_t)n);
		offset += n;
		len -= (uint64_t)n;
	}
	smg_sha256_final(&ctx, out);
	smg_hex(out, sizeof out, hex);
	return true;
}

/* A 200 answer of CompleteMultipartUpload may still be an <Error>. */
static int error_in_body(const struct s3_call *c, const struct smg_http_response *resp)
{
	const char *body = resp->body.data ? resp->body.data : "";
	const char *end = body + resp->body.len;
	char *code = xml_child(body, end, "Code");
	if (!memmem(body, resp->body.len, "<Error>", 7) || !code) {
		free(code);
		return 0;
	}
	char *msg = xml_child(body, end, "Message");
	struct smg_buf line = SMG_BUF_INIT;
	smg_buf_addf(&line, "%s: %s", code, msg ? msg : "the upload did not complete");
	describe_target(&line, c);
	smg_warn("%s", line.data);
	int rc = exit_code_for(0, code);
	smg_buf_free(&line);
	free(code);
	free(msg);
	return rc;
}

static int multipart_create(struct smg_s3 *s, const char *bucket, const char *key, char **id)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "POST", bucket, key);
	smg_kv_add(&c.query, "uploads", "");
	smg_kv_set(&c.headers, "Content-Type", "application/octet-stream");
	int rc = call_perform(s, &c, &resp);
	if (rc == 0) {
		const char *b = resp.body.data ? resp.body.data : "";
		*id = xml_child(b, b + resp.body.len, "UploadId");
		if (!*id || !**id) {
			smg_warn("malformed answer: CreateMultipartUpload without an <UploadId> "
				 "(bucket %s, key %s)", bucket, key);
			free(*id);
			*id = NULL;
			rc = SMG_EXIT_DATA;
		}
	}
	smg_http_response_free(&resp);
	call_free(&c);
	return rc;
}

static int multipart_part(struct smg_s3 *s, const char *bucket, const char *key, const char *id,
		int number, int fd, off_t offset, uint64_t len, uint64_t at, uint64_t size,
		char **etag)
{
	char sha[65], num[16];
	if (!range_sha256(fd, offset, len, sha)) {
		smg_warn("reading part %d of the object: %s", number, strerror(errno));
		return SMG_EXIT_FAILURE;
	}
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "PUT", bucket, key);
	snprintf(num, sizeof num, "%d", number);
	smg_kv_add(&c.query, "partNumber", num);
	smg_kv_add(&c.query, "uploadId", id);
	c.body_fd = fd;
	c.body_offset = offset;
	c.body_len = len;
	c.payload_hash = sha;
	c.progress_at = (int64_t)at;
	c.progress_of = (int64_t)size;
	int rc = call_perform(s, &c, &resp);
	if (rc == 0) {
		*etag = response_etag(&resp);
		if (!**etag) {
			smg_warn("malformed answer: part %d without an ETag (bucket %s, key %s)",
				 number, bucket, key);
			rc = SMG_EXIT_DATA;
		}
	}
	smg_http_response_free(&resp);
	call_free(&c);
	return rc;
}

static int multipart_complete(struct smg_s3 *s, const char *bucket, const char *key,
		const char *id, char **etags, int nparts, const struct smg_obj_cond *cond,
		char **etag)
{
	struct smg_buf xml = SMG_BUF_INIT;
	smg_buf_adds(&xml, "<CompleteMultipartUpload>");
	for (int i = 0; i < nparts; i++)
		smg_buf_addf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
			     i + 1, etags[i]);
	smg_buf_adds(&xml, "</CompleteMultipartUpload>");
	char sha[65];
	smg_sha256_hex(xml.data, xml.len, sha);
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "POST", bucket, key);
	smg_kv_add(&c.query, "uploadId", id);
	smg_kv_set(&c.headers, "Content-Type", "application/xml");
	c.cond = cond;
	c.body_mem = xml.data;
	c.body_len = xml.len;
	c.payload_hash = sha;
	int rc = call_perform(s, &c, &resp);
	if (rc == 0)
		rc = error_in_body(&c, &resp);
	if (rc == 0 && etag) {
		const char *b = resp.body.data ? resp.body.data : "";
		char *e = xml_child(b, b + resp.body.len, "ETag");
		*etag = smg_etag_unquote(e ? e : "");
		free(e);
	}
	smg_http_response_free(&resp);
	call_free(&c);
	smg_buf_free(&xml);
	return rc;
}

static void multipart_abort(struct smg_s3 *s, const char *bucket, const char *key, const char *id)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	call_init(&c, "DELETE", bucket, key);
	smg_kv_add(&c.query, "uploadId", id);
	call_perform(s, &c, &resp);	/* what it says is said; the first failure decides */
	smg_http_response_free(&resp);
	call_free(&c);
}

static int put_multipart(struct smg_s3 *s, const char *bucket, const char *key, int fd,
		off_t offset, uint64_t size, const struct smg_obj_cond *cond, char **etag)
{
	uint64_t nparts64 = (size + s->part_size - 1) / s->part_size;
	if (nparts64 > SMG_S3_MAX_PARTS) {
		smg_warn("%llu bytes in parts of %llu would take %llu parts, more than S3's %d: "
			 "raise the part size", (unsigned long long)size,
			 (unsigned long long)s->part_size, (unsigned long long)nparts64,
			 SMG_S3_MAX_PARTS);
		return SMG_EXIT_USAGE;
	}
	int nparts = (int)nparts64;
	char *id = NULL;
	int rc = multipart_create(s, bucket, key, &id);
	if (rc)
		return rc;
	char **etags = smg_xcalloc((size_t)nparts, sizeof *etags);
	int done = 0;
	for (; rc == 0 && done < nparts; done++) {
		uint64_t at = (uint64_t)done * s->part_size;
		uint64_t len = size - at < s->part_size ? size - at : s->part_size;
		rc = multipart_part(s, bucket, key, id, done + 1, fd, offset + (off_t)at, len, at,
				    size, &etags[done]);
	}
	smg_progress_done();
	if (rc == 0)
		rc = multipart_complete(s, bucket, key, id, etags, nparts, cond, etag);
	if (rc)
		multipart_abort(s, bucket, key, id);
	for (int i = 0; i < nparts; i++)
		free(etags[i]);
	free(etags);
	free(id);
	return rc;
}
