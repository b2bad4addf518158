/*
 * s3-list.c - ListObjectsV2, page by page, every page checked before
 * anything of the listing is handed on (smg_s3_list, see s3.h).
 */
#include "s3-int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	s3_describe_target(&line, l->call);
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
	const char *why = s3_xml_decode(in, n, url ? &text : key);
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
	if (!s3_xml_find(in, stop, "Key", &k, &kn))
		return bad_listing(l, "an object without a <Key>");
	struct smg_buf key = SMG_BUF_INIT, raw = SMG_BUF_INIT;
	const char *why = decode_key(k, kn, url, &key);
	char *size = s3_xml_child(in, stop, "Size");
	int rc = 0;
	quote_raw(&raw, k, kn);
	if (why)
		rc = bad_listing(l, "key %s (as the store wrote it) holds %s", raw.data, why);
	else if (strncmp(key.data ? key.data : "", l->prefix, strlen(l->prefix)) != 0)
		rc = bad_listing(l, "key %s does not start with the prefix asked for", raw.data);
	else if (!s3_all_digits(size))
		rc = bad_listing(l, "key %s has no <Size> or a size that is not a number", raw.data);
	if (rc == 0) {
		char *etag = s3_xml_child(in, stop, "ETag");
		char *mod = s3_xml_child(in, stop, "LastModified");
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
	char *truncated = s3_xml_child(p, end, "IsTruncated");
	char *encoding = s3_xml_child(p, end, "EncodingType");
	int rc = 0;
	if (!truncated || (strcmp(truncated, "true") != 0 && strcmp(truncated, "false") != 0))
		rc = bad_listing(l, "<IsTruncated> is missing or neither true nor false");
	else if (encoding && strcmp(encoding, "url") != 0)
		rc = bad_listing(l, "<EncodingType> %s, where url was asked for", encoding);
	const char *in;
	size_t n;
	while (rc == 0 && (p = s3_xml_find(p, end, "Contents", &in, &n)) != NULL)
		rc = list_object(l, in, in + n, encoding != NULL);
	if (rc == 0 && strcmp(truncated, "true") == 0) {
		*next = s3_xml_child(body->data, end, "NextContinuationToken");
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
	free(l->v);
	smg_strings_free(l->tokens, l->ntokens);
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
		s3_call_init(&c, "GET", bucket, NULL);
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
		rc = s3_call_perform(s, &c, &resp);
		if (rc == 0)
			rc = list_page(&l, &resp.body, &token);
		smg_http_response_free(&resp);
		s3_call_free(&c);
	} while (rc == 0 && token);
	for (size_t i = 0; rc == 0 && i < l.n; i++)
		fn(&l.v[i], arg);
	listing_free(&l);
	return rc;
}

