/* sigv4.c - AWS Signature Version 4 (see sigv4.h). */
#include "sigv4.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void smg_sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != sizeof md)
		smg_die(SMG_EXIT_FAILURE, "SHA-256 failed");
	smg_hex(md, sizeof md, out);
}

static void hmac_sha256(const void *key, size_t keylen, const char *msg, size_t msglen,
		unsigned char out[32])
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, msglen, out, &len)
	    || len != 32)
		smg_die(SMG_EXIT_FAILURE, "HMAC-SHA256 failed");
}

void smg_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- encoding ---------------------------------------------------------- */

static bool unreserved(unsigned char c)
{
	/* Not isalnum(): the set is fixed, whatever the locale says. */
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
		|| c == '-' || c == '.' || c == '_' || c == '~';
}

void smg_uri_encode(struct smg_buf *out, const char *s, bool keep_slash)
{
	static const char upper[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/')) {
			smg_buf_addc(out, (char)*p);
		} else {
			char esc[3] = {'%', upper[*p >> 4], upper[*p & 15]};
			smg_buf_add(out, esc, 3);
		}
	}
}

struct encoded_pair {
	char *name, *value;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct encoded_pair *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static char *encoded(const char *s)
{
	struct smg_buf b = SMG_BUF_INIT;
	smg_uri_encode(&b, s, false);
	return smg_buf_detach(&b);
}

void smg_sigv4_canonical_query(struct smg_buf *out, const struct smg_kvlist *query)
{
	if (!query || query->n == 0)
		return;
	/* Sorted after encoding: the order is that of the encoded bytes. */
	struct encoded_pair *v = smg_xcalloc(query->n, sizeof *v);
	for (size_t i = 0; i < query->n; i++) {
		v[i].name = encoded(query->v[i].name);
		v[i].value = encoded(query->v[i].value);
	}
	qsort(v, query->n, sizeof *v, pair_cmp);
	for (size_t i = 0; i < query->n; i++) {
		if (i)
			smg_buf_addc(out, '&');
		smg_buf_addf(out, "%s=%s", v[i].name, v[i].value);
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
}

/* ---- canonical headers -------------------------------------------------- */

struct canon_header {
	char *name;		/* lower case */
	struct smg_buf value;	/* trimmed, inner runs of spaces collapsed */
};

static void add_trimmed(struct smg_buf *b, const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	bool space = false;
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t') {
			space = true;
			continue;
		}
		if (space)
			smg_buf_addc(b, ' ');
		space = false;
		smg_buf_addc(b, *v);
	}
	if (!b->data)
		smg_buf_adds(b, "");
}

static char *lowercase(const char *s)
{
	char *p = smg_xstrdup(s);
	for (char *q = p; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	return p;
}

static int canon_cmp(const void *a, const void *b)
{
	return strcmp(((const struct canon_header *)a)->name, ((const struct canon_header *)b)->name);
}

/* Lower-cased names, sorted, a header given twice folded into one
 * comma-separated value in the order given. */
static size_t canonical_headers(const struct smg_kvlist *h, struct canon_header **out)
{
	struct canon_header *v = smg_xcalloc(h->n, sizeof *v);
	size_t n = 0;
	for (size_t i = 0; i < h->n; i++) {
		char *name = lowercase(h->v[i].name);
		size_t j = 0;
		while (j < n && strcmp(v[j].name, name) != 0)
			j++;
		if (j < n) {
			smg_buf_addc(&v[j].value, ',');
			free(name);
		} else {
			v[n++].name = name;
		}
		add_trimmed(&v[j].value, h->v[i].value);
	}
	/* qsort is not stable, but names are unique by now. */
	qsort(v, n, sizeof *v, canon_cmp);
	*out = v;
	return n;
}

static void free_canonical_headers(struct canon_header *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].name);
		smg_buf_free(&v[i].value);
	}
	free(v);
}

/* ---- signing ------------------------------------------------------------ */

static void build_canonical_request(const struct smg_sigv4_request *r, struct smg_sigv4_result *out)
{
	struct smg_buf *cr = &out->canonical_request;
	smg_buf_reset(cr);
	smg_buf_reset(&out->signed_headers);
	smg_buf_addf(cr, "%s\n", r->method);
	smg_uri_encode(cr, r->path && r->path[0] ? r->path : "/", true);
	smg_buf_addc(cr, '\n');
	smg_sigv4_canonical_query(cr, r->query);
	smg_buf_addc(cr, '\n');

	struct canon_header *h;
	size_t n = canonical_headers(r->headers, &h);
	for (size_t i = 0; i < n; i++) {
		smg_buf_addf(cr, "%s:%s\n", h[i].name, h[i].value.data);
		if (i)
			smg_buf_addc(&out->signed_headers, ';');
		smg_buf_adds(&out->signed_headers, h[i].name);
	}
	free_canonical_headers(h, n);
	smg_buf_addf(cr, "\n%s\n%s", out->signed_headers.data ? out->signed_headers.data : "",
		     r->payload_hash);
}

static void credential_scope(struct smg_buf *b, const struct smg_sigv4_creds *c, const char *amz_date)
{
	smg_buf_addf(b, "%.8s/%s/%s/aws4_request", amz_date, c->region, c->service);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static void signing_key(const struct smg_sigv4_creds *c, const char *amz_date, unsigned char key[32])
{
	struct smg_buf k0 = SMG_BUF_INIT;
	smg_buf_addf(&k0, "AWS4%s", c->secret_access_key);
	hmac_sha256(k0.data, k0.len, amz_date, 8, key);
	smg_buf_free(&k0);
	hmac_sha256(key, 32, c->region, strlen(c->region), key);
	hmac_sha256(key, 32, c->service, strlen(c->service), key);
	hmac_sha256(key, 32, "aws4_request", 12, key);
}

void smg_sigv4_compute(const struct smg_sigv4_creds *c, const struct smg_sigv4_request *r,
		struct smg_sigv4_result *out)
{
	build_canonical_request(r, out);

	char cr_hash[65];
	smg_sha256_hex(out->canonical_request.data, out->canonical_request.len, cr_hash);
	struct smg_buf *sts = &out->string_to_sign;
	smg_buf_reset(sts);
	smg_buf_addf(sts, "AWS4-HMAC-SHA256\n%s\n", r->amz_date);
	credential_scope(sts, c, r->amz_date);
	smg_buf_addf(sts, "\n%s", cr_hash);

	unsigned char key[32], sig[32];
	signing_key(c, r->amz_date, key);
	hmac_sha256(key, sizeof key, sts->data, sts->len, sig);
	smg_hex(sig, sizeof sig, out->signature);

	struct smg_buf *auth = &out->authorization;
	smg_buf_reset(auth);
	smg_buf_addf(auth, "AWS4-HMAC-SHA256 Credential=%s/", c->access_key_id);
	credential_scope(auth, c, r->amz_date);
	smg_buf_addf(auth, ", SignedHeaders=%s, Signature=%s", out->signed_headers.data,
		     out->signature);
}

void smg_sigv4_result_free(struct smg_sigv4_result *r)
{
	smg_buf_free(&r->canonical_request);
	smg_buf_free(&r->string_to_sign);
	smg_buf_free(&r->signed_headers);
	smg_buf_free(&r->authorization);
}

void smg_sigv4_sign(const struct smg_sigv4_creds *c, const char *method, const char *path,
		const struct smg_kvlist *query, struct smg_kvlist *headers,
		const char *payload_hash, time_t now)
{
	char amz_date[17];
	smg_sigv4_amz_date(now, amz_date);
	smg_kv_set(headers, "X-Amz-Date", amz_date);
	smg_kv_set(headers, "X-Amz-Content-Sha256", payload_hash);
	if (c->session_token && c->session_token[0])
		smg_kv_set(headers, "X-Amz-Security-Token", c->session_token);

	/* Sign every header but a stale Authorization from an earlier call. */
	struct smg_kvlist to_sign = SMG_KVLIST_INIT;
	for (size_t i = 0; i < headers->n; i++)
		if (strcasecmp(headers->v[i].name, "Authorization") != 0)
			smg_kv_add(&to_sign, headers->v[i].name, headers->v[i].value);

	struct smg_sigv4_request r = {method, path, query, &to_sign, payload_hash, amz_date};
	struct smg_sigv4_result out = SMG_SIGV4_RESULT_INIT;
	smg_sigv4_compute(c, &r, &out);
	smg_kv_set(headers, "Authorization", out.authorization.data);
	smg_sigv4_result_free(&out);
	smg_kv_free(&to_sign);
}
