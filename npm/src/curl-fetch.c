/*
 * curl-fetch.c - the part of libcurl's easy interface that lib/http.c uses,
 * over the JavaScript fetch() of a browser or of Node (WebAssembly build
 * only; see curl-fetch.h for how http.c finds it).
 *
 * One easy_perform is one fetch(): the request body is read whole through
 * the read callback first, the answer is handed to the header and write
 * callbacks as libcurl would (a status line, one line per header, the body
 * in pieces).  fetch() follows redirects itself and cannot see interim
 * answers; the low-speed limit is not enforced (the per-attempt timeout and
 * the deadline are).  A body fetch() decoded (Content-Encoding) loses its
 * Content-Length, which counted the encoded bytes.
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <emscripten.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curl-fetch.h"

#define BODY_PIECE (64 * 1024)

struct easy {
	char *url, *method;
	bool upload, nobody;
	curl_off_t upload_size;
	long timeout_ms;
	char *errbuf;
	const struct curl_slist *headers;
	curl_write_callback on_header, on_body;
	void *header_arg, *body_arg;
	curl_read_callback on_read;
	void *read_arg;
	long status;
	double total_s;
};

/* What the JavaScript side leaves for C: written by fetch_js. */
struct answer {
	int32_t code;		/* a CURLcode */
	int32_t status;
	char *headers;		/* "name\0value\0..." */
	int32_t headers_len;
	char *body;
	int32_t body_len;
	char error[200];
};

/*
 * fetch(method, url) with headers given as "name\0value\0" pairs; fills
 * the answer at ans (offsets as in struct answer, wasm32).  A failure
 * before any answer is CURLE_COULDNT_CONNECT (7), a timeout
 * CURLE_OPERATION_TIMEDOUT (28), a body cut off CURLE_RECV_ERROR (56).
 */
EM_ASYNC_JS(void, fetch_js, (const char *method, const char *url, const char *hdrs, int hdrs_len,
			     const char *body, int body_len, int timeout_ms, struct answer *ans), {
	const NUL = String.fromCharCode(0);
	const text = (p, n) => new TextDecoder().decode(HEAPU8.subarray(p, p + n));
	const parts = text(hdrs, hdrs_len).split(NUL);
	const headers = new Headers();
	for (let i = 0; i + 1 < parts.length; i += 2)
		headers.append(parts[i], parts[i + 1]);
	const m = UTF8ToString(method);
	const init = { method: m, headers };
	if (body)
		init.body = HEAPU8.slice(body, body + body_len);
	const ctl = new AbortController();
	init.signal = ctl.signal;
	let timer = timeout_ms > 0 ? setTimeout(() => ctl.abort(), timeout_ms) : null;
	const fail = (code, msg) => {
		HEAP32[ans >> 2] = code;
		stringToUTF8(String(msg), ans + 24, 200);
	};
	const why = (e) => {
		let s = e && e.message ? e.message : String(e);
		for (let c = e && e.cause; c; c = c.cause)
			s += ": " + (c.code || c.message || c);
		return s;
	};
	let res;
	try {
		res = await fetch(UTF8ToString(url), init);
	} catch (e) {
		if (timer) clearTimeout(timer);
		fail(ctl.signal.aborted ? 28 : 7, ctl.signal.aborted
			? "Operation timed out after " + timeout_ms + " milliseconds" : why(e));
		return;
	}
	HEAP32[(ans >> 2) + 1] = res.status;
	let hs = "";
	const decoded = (res.headers.get("content-encoding") || "identity") !== "identity";
	res.headers.forEach((v, k) => {
		if (!(decoded && k === "content-length"))
			hs += k + NUL + v + NUL;
	});
	const hb = new TextEncoder().encode(hs);
	const hp = _malloc(hb.length + 1);
	HEAPU8.set(hb, hp);
	HEAP32[(ans >> 2) + 2] = hp;
	HEAP32[(ans >> 2) + 3] = hb.length;
	let buf;
	try {
		buf = m === "HEAD" ? new Uint8Array(0) : new Uint8Array(await res.arrayBuffer());
	} catch (e) {
		if (timer) clearTimeout(timer);
		fail(ctl.signal.aborted ? 28 : 56, ctl.signal.aborted
			? "Operation timed out after " + timeout_ms + " milliseconds" : why(e));
		return;
	}
	if (timer) clearTimeout(timer);
	const bp = _malloc(buf.length + 1);
	HEAPU8.set(buf, bp);
	HEAP32[(ans >> 2) + 4] = bp;
	HEAP32[(ans >> 2) + 5] = buf.length;
	HEAP32[ans >> 2] = 0;
});

EM_ASYNC_JS(void, sleep_js, (int ms), {
	await new Promise((done) => setTimeout(done, ms));
});

EM_JS(double, getdate_js, (const char *s), {
	const t = Date.parse(UTF8ToString(s));
	return isNaN(t) ? -1 : Math.floor(t / 1000);
});

EM_JS(void, random_js, (void *p, int n), {
	crypto.getRandomValues(HEAPU8.subarray(p, p + n));
});

static char *xstrdup(const char *s)
{
	char *p = s ? strdup(s) : NULL;
	if (s && !p)
		abort();
	return p;
}

static void easy_reset(CURL *c)
{
	struct easy *e = c;
	free(e->url);
	free(e->method);
	memset(e, 0, sizeof *e);
}

static CURL *easy_init(void)
{
	return calloc(1, sizeof(struct easy));
}

static void easy_cleanup(CURL *c)
{
	if (c)
		easy_reset(c);
	free(c);
}

static CURLcode easy_setopt(CURL *c, CURLoption opt, ...)
{
	struct easy *e = c;
	va_list ap;
	va_start(ap, opt);
	switch ((int)opt) {
	case CURLOPT_URL: free(e->url); e->url = xstrdup(va_arg(ap, char *)); break;
	case CURLOPT_CUSTOMREQUEST: free(e->method); e->method = xstrdup(va_arg(ap, char *)); break;
	case CURLOPT_UPLOAD: e->upload = va_arg(ap, long) != 0; break;
	case CURLOPT_NOBODY: e->nobody = va_arg(ap, long) != 0; break;
	case CURLOPT_INFILESIZE_LARGE: e->upload_size = va_arg(ap, curl_off_t); break;
	case CURLOPT_TIMEOUT_MS: e->timeout_ms = va_arg(ap, long); break;
	case CURLOPT_ERRORBUFFER: e->errbuf = va_arg(ap, char *); break;
	case CURLOPT_HTTPHEADER: e->headers = va_arg(ap, struct curl_slist *); break;
	case CURLOPT_HEADERFUNCTION: e->on_header = va_arg(ap, curl_write_callback); break;
	case CURLOPT_HEADERDATA: e->header_arg = va_arg(ap, void *); break;
	case CURLOPT_WRITEFUNCTION: e->on_body = va_arg(ap, curl_write_callback); break;
	case CURLOPT_WRITEDATA: e->body_arg = va_arg(ap, void *); break;
	case CURLOPT_READFUNCTION: e->on_read = va_arg(ap, curl_read_callback); break;
	case CURLOPT_READDATA: e->read_arg = va_arg(ap, void *); break;
	default: break;	/* connection tuning fetch() does not offer */
	}
	va_end(ap);
	return CURLE_OK;
}

static CURLcode easy_getinfo(CURL *c, CURLINFO info, ...)
{
	struct easy *e = c;
	va_list ap;
	va_start(ap, info);
	if (info == CURLINFO_RESPONSE_CODE)
		*va_arg(ap, long *) = e->status;
	else if (info == CURLINFO_TOTAL_TIME)
		*va_arg(ap, double *) = e->total_s;
	va_end(ap);
	return CURLE_OK;
}

static const char *easy_strerror(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK: return "No error";
	case CURLE_COULDNT_CONNECT: return "Couldn't connect to server";
	case CURLE_OPERATION_TIMEDOUT: return "Timeout was reached";
	case CURLE_RECV_ERROR: return "Failure when receiving data from the peer";
	case CURLE_WRITE_ERROR: return "Failed writing received data to disk/application";
	case CURLE_ABORTED_BY_CALLBACK: return "Operation was aborted by an application callback";
	case CURLE_OUT_OF_MEMORY: return "Out of memory";
	default: return "Unknown error";
	}
}

static CURLcode global_init(long flags)
{
	(void)flags;
	return CURLE_OK;
}

static time_t get_date(const char *s, const time_t *now)
{
	(void)now;
	return (time_t)getdate_js(s);
}

static struct curl_slist *slist_append(struct curl_slist *list, const char *s)
{
	struct curl_slist *n = calloc(1, sizeof *n);
	if (!n || !(n->data = strdup(s))) {
		free(n);
		return NULL;
	}
	if (!list)
		return n;
	struct curl_slist *last = list;
	while (last->next)
		last = last->next;
	last->next = n;
	return list;
}

static void slist_free_all(struct curl_slist *list)
{
	while (list) {
		struct curl_slist *next = list->next;
		free(list->data);
		free(list);
		list = next;
	}
}

/* libcurl's header lines as fetch()'s pairs: "Name: value", "Name;" for an
 * empty value; "Name:" asks for no such header and is left out. */
static void header_pairs(const struct curl_slist *l, char **out, size_t *len)
{
	size_t cap = 256, n = 0;
	char *p = malloc(cap);
	for (; p && l; l = l->next) {
		const char *s = l->data, *colon = strchr(s, ':'), *v;
		size_t nlen;
		if (colon) {
			for (v = colon + 1; *v == ' '; v++)
				;
			if (!*v)
				continue;
			nlen = (size_t)(colon - s);
		} else {
			nlen = strcspn(s, ";");
			v = "";
		}
		size_t need = nlen + strlen(v) + 2;
		while (n + need > cap) {
			char *q = realloc(p, cap *= 2);
			if (!q)
				abort();
			p = q;
		}
		memcpy(p + n, s, nlen);
		p[n + nlen] = '\0';
		memcpy(p + n + nlen + 1, v, strlen(v) + 1);
		n += need;
	}
	if (!p)
		abort();
	*out = p;
	*len = n;
}

/* The whole request body, through the read callback as libcurl would. */
static CURLcode read_body(struct easy *e, char **body, size_t *len)
{
	size_t want = (size_t)e->upload_size, n = 0;
	char *p = malloc(want + 1);
	if (!p)
		return CURLE_OUT_OF_MEMORY;
	while (n < want) {
		size_t got = e->on_read(p + n, 1, want - n, e->read_arg);
		if (got == CURL_READFUNC_ABORT || got > want - n) {
			free(p);
			return CURLE_ABORTED_BY_CALLBACK;
		}
		if (got == 0)
			break;
		n += got;
	}
	*body = p;
	*len = n;
	return CURLE_OK;
}

/* The answer to the callbacks: status line, headers, blank line, body. */
static CURLcode deliver(struct easy *e, const struct answer *a)
{
	char line[64];
	int n = snprintf(line, sizeof line, "HTTP/1.1 %d\r\n", a->status);
	if (e->on_header && e->on_header(line, 1, (size_t)n, e->header_arg) != (size_t)n)
		return CURLE_WRITE_ERROR;
	for (const char *h = a->headers; e->on_header && h < a->headers + a->headers_len;) {
		const char *v = h + strlen(h) + 1;
		size_t len = strlen(h) + strlen(v) + 4;
		char *l = malloc(len + 1);
		if (!l)
			return CURLE_OUT_OF_MEMORY;
		snprintf(l, len + 1, "%s: %s\r\n", h, v);
		size_t took = e->on_header(l, 1, len, e->header_arg);
		free(l);
		if (took != len)
			return CURLE_WRITE_ERROR;
		h = v + strlen(v) + 1;
	}
	if (e->on_header && e->on_header("\r\n", 1, 2, e->header_arg) != 2)
		return CURLE_WRITE_ERROR;
	for (int32_t off = 0; e->on_body && off < a->body_len; off += BODY_PIECE) {
		size_t piece = (size_t)(a->body_len - off < BODY_PIECE ? a->body_len - off : BODY_PIECE);
		if (e->on_body(a->body + off, 1, piece, e->body_arg) != piece)
			return CURLE_WRITE_ERROR;
	}
	return CURLE_OK;
}

int smg_fetch_perform(void *c)
{
	struct easy *e = c;
	const char *method = e->method ? e->method : e->nobody ? "HEAD" : e->upload ? "PUT" : "GET";
	char *body = NULL, *hdrs;
	size_t body_len = 0, hdrs_len;
	CURLcode rc = CURLE_OK;
	double t0 = emscripten_get_now();
	e->status = 0;
	if (e->upload && (rc = read_body(e, &body, &body_len)) != CURLE_OK)
		return rc;
	header_pairs(e->headers, &hdrs, &hdrs_len);
	struct answer a = {0};
	fetch_js(method, e->url, hdrs, (int)hdrs_len, e->upload ? body : NULL, (int)body_len,
		 (int)e->timeout_ms, &a);
	free(hdrs);
	free(body);
	e->status = a.status;
	if (a.code == CURLE_OK)
		rc = deliver(e, &a);
	else
		rc = (CURLcode)a.code;
	if (rc != CURLE_OK && e->errbuf)
		snprintf(e->errbuf, CURL_ERROR_SIZE, "%s", a.error[0] ? a.error : easy_strerror(rc));
	free(a.headers);
	free(a.body);
	e->total_s = (emscripten_get_now() - t0) / 1000;
	return rc;
}

/* ---- what http.c finds with dlopen and dlsym ---------------------------- */

static const struct {
	const char *name;
	void *fn;
} easy_api[] = {
	{"curl_global_init", (void *)global_init}, {"curl_easy_init", (void *)easy_init},
	{"curl_easy_setopt", (void *)easy_setopt}, {"curl_easy_perform", (void *)smg_fetch_perform},
	{"curl_easy_getinfo", (void *)easy_getinfo}, {"curl_easy_cleanup", (void *)easy_cleanup},
	{"curl_easy_reset", (void *)easy_reset}, {"curl_easy_strerror", (void *)easy_strerror},
	{"curl_getdate", (void *)get_date}, {"curl_slist_append", (void *)slist_append},
	{"curl_slist_free_all", (void *)slist_free_all},
};

static int the_library;

void *smg_fetch_dlopen(const char *name, int flags)
{
	(void)flags;
	return strcmp(name, "libcurl.so.4") == 0 ? &the_library : NULL;
}

void *smg_fetch_dlsym(void *lib, const char *name)
{
	for (size_t i = 0; lib == &the_library && i < sizeof easy_api / sizeof *easy_api; i++)
		if (strcmp(easy_api[i].name, name) == 0)
			return easy_api[i].fn;
	return NULL;
}

char *smg_fetch_dlerror(void)
{
	return "only libcurl's easy interface over fetch() is here";
}

int smg_fetch_nanosleep(const struct timespec *want, struct timespec *left)
{
	sleep_js((int)(want->tv_sec * 1000 + want->tv_nsec / 1000000));
	if (left)
		left->tv_sec = left->tv_nsec = 0;
	return 0;
}

uint32_t arc4random_uniform(uint32_t upper)
{
	if (upper < 2)
		return 0;
	uint32_t min = -upper % upper, r;	/* rejects the biased low values */
	do
		random_js(&r, sizeof r);
	while (r < min);
	return r % upper;
}
