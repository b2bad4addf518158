/*
 * json.c - the cursor that reads the stream's JSON back (see json.h): typed
 * values, strings, arrays of them, and skipping what is not needed.
 * Hand-written because the stream is the hot path: a general JSON tree
 * would allocate for every row.  Writing is json-encode.c.
 */
#include "json.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void smg_json_init(struct smg_json *j, const char *p, size_t n, struct smg_buf *scratch)
{
	j->p = j->start = p;
	j->end = p + n;
	j->err = NULL;
	j->scratch = scratch;
	smg_buf_grow(scratch, n + 8);
}

static bool fail(struct smg_json *j, const char *msg)
{
	if (!j->err)
		j->err = msg;
	return false;
}

void smg_json_ws(struct smg_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

bool smg_json_expect(struct smg_json *j, char c)
{
	if (j->p < j->end && *j->p == c) {	/* no white space: our own writers */
		j->p++;
		return true;
	}
	smg_json_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	static char msg[32];
	snprintf(msg, sizeof msg, "expected '%c'", c);
	return fail(j, msg);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static bool read_u16(struct smg_json *j, const char *p, uint32_t *out)
{
	if (j->end - p < 4)
		return fail(j, "truncated \\u escape");
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0)
			return fail(j, "bad \\u escape");
		v = v << 4 | (uint32_t)h;
	}
	*out = v;
	return true;
}

static char *put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xC0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xE0 | cp >> 12);
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*o++ = (char)(0xF0 | cp >> 18);
		*o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*o++ = (char)(0x80 | (cp & 0x3F));
	}
	return o;
}

/* Decode escapes from p (just after the opening quote) into scratch. */
static bool unescape(struct smg_json *j, const char **out, size_t *outn)
{
	struct smg_buf *s = j->scratch;
	char *o0 = s->data + s->len, *o = o0;
	const char *p = j->p;
	while (p < j->end && *p != '"') {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20)
			return fail(j, "control character in string");
		if (c != '\\') {
			*o++ = *p++;
			continue;
		}
		if (++p >= j->end)
			return fail(j, "unterminated string");
		switch (*p++) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (!read_u16(j, p, &cp))
				return false;
			p += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (j->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    !read_u16(j, p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
					return fail(j, "unpaired surrogate in \\u escape");
				p += 6;
				cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
				return fail(j, "unpaired surrogate in \\u escape");
			}
			o = put_utf8(o, cp);
			break;
		}
		default:
			return fail(j, "bad escape in string");
		}
	}
	if (p >= j->end)
		return fail(j, "unterminated string");
	j->p = p + 1;
	*out = o0;
	*outn = (size_t)(o - o0);
	s->len += *outn;
	return true;
}

/* The first byte at or after p that a plain string cannot hold as it is
 * ('"', '\\', a control character or a non-ASCII byte), or end.  Eight
 * bytes at a time; in the mask only bytes above the first hit can be false
 * positives, so the lowest one is exact. */
static const char *scan_plain(const char *p, const char *end)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	while (end - p >= 8) {
		uint64_t x, q, bs;
		memcpy(&x, p, 8);
		q = x ^ (ones * '"');
		bs = x ^ (ones * '\\');
		uint64_t m = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs) | x;
		m &= highs;
		if (m)
			return p + (__builtin_ctzll(m) >> 3);
		p += 8;
	}
	while (p < end && !smg_json_needs_escape((unsigned char)*p) && (unsigned char)*p < 0x80)
		p++;
	return p;
}

bool smg_json_string(struct smg_json *j, const char **out, size_t *n)
{
	if (!smg_json_expect(j, '"'))
		return fail(j, "expected a string");
	const char *q = scan_plain(j->p, j->end);
	if (q < j->end && *q == '"') {
		/* no escapes, all ASCII: point into the input, copy nothing */
		*out = j->p;
		*n = (size_t)(q - j->p);
		j->p = q + 1;
		return true;
	}
	if (!unescape(j, out, n))
		return false;
	if (!smg_utf8_valid(*out, *n))
		return fail(j, "string is not valid UTF-8");
	return true;
}


struct skip_state {
	int depth;
	bool in_string;
};

#ifdef __SSE2__
#include <emmintrin.h>

/* Skip by 16-byte blocks while a whole block is left, visiting only the
 * quotes, backslashes and brackets in it.  Returns where the container
 * ended (st->depth 0) or where the bytewise loop should go on. */
static const char *skip_chunks(const char *p, const char *end, struct skip_state *st)
{
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)p);
		__m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
		__m128i bs = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
		/* '{' and '}' are '[' and ']' with the bit 0x20 set */
		__m128i folded = _mm_and_si128(v, _mm_set1_epi8((char)~0x20));
		__m128i br = _mm_or_si128(_mm_cmpeq_epi8(folded, _mm_set1_epi8('[')),
					  _mm_cmpeq_epi8(folded, _mm_set1_epi8(']')));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(q, bs), br));
		const char *next = p + 16;
		while (m) {
			const char *c = p + __builtin_ctz(m);
			m &= m - 1;
			if (st->in_string) {
				if (*c == '"') {
					st->in_string = false;
				} else if (*c == '\\') {
					/* the escaped byte may be anything */
					next = end - c > 2 ? c + 2 : end;
					break;
				}
			} else if (*c == '"') {
				st->in_string = true;
			} else if (*c == '[' || *c == '{') {
				st->depth++;
			} else if (*c == ']' || *c == '}') {
				if (--st->depth == 0)
					return c + 1;
			}
		}
		p = next;
	}
	return p;
}
#else
static const char *skip_chunks(const char *p, const char *end, struct skip_state *st)
{
	(void)end, (void)st;
	return p;
}
#endif

bool smg_json_skip(struct smg_json *j, const char **raw, size_t *rawlen)
{
	smg_json_ws(j);
	const char *start = j->p;
	if (j->p < j->end && *j->p != '[' && *j->p != '{') {
		struct smg_value v;	/* a scalar: parse it, which also validates it */
		struct smg_buf *keep = j->scratch, tmp = SMG_BUF_INIT;
		if (!keep) {
			smg_buf_grow(&tmp, (size_t)(j->end - j->p) + 8);
			j->scratch = &tmp;
		}
		bool ok = smg_json_value(j, &v);
		j->scratch = keep;
		smg_buf_free(&tmp);
		if (!ok)
			return false;
	} else {
		/* Containers are skipped by bracket counting: the hot path for
		 * "values", which the reader passes through without decoding. */
		struct skip_state st = {1, false};	/* past the opening bracket */
		const char *p = skip_chunks(j->p + 1, j->end, &st);
		while (p && st.depth > 0) {
			if (p >= j->end)
				return fail(j, st.in_string ? "unterminated string"
							    : "unexpected end of line");
			char c = *p++;
			if (st.in_string) {
				if (c == '\\')
					p++;
				else if (c == '"')
					st.in_string = false;
			} else if (c == '"') {
				st.in_string = true;
			} else if (c == '[' || c == '{') {
				st.depth++;
			} else if (c == ']' || c == '}') {
				st.depth--;
			}
		}
		if (!p)
			return fail(j, "unexpected end of line");
		j->p = p;
	}
	if (raw) {
		*raw = start;
		*rawlen = (size_t)(j->p - start);
	}
	return true;
}

bool smg_json_int(struct smg_json *j, int64_t *out)
{
	smg_json_ws(j);
	const char *p = j->p;
	bool neg = p < j->end && *p == '-';
	if (neg)
		p++;
	if (p >= j->end || *p < '0' || *p > '9')
		return fail(j, "expected an integer");
	uint64_t u = 0;
	const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; p < j->end && *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (u > (limit - d) / 10)
			return fail(j, "integer out of 64-bit range");
		u = u * 10 + d;
	}
	if (p < j->end && (*p == '.' || *p == 'e' || *p == 'E'))
		return fail(j, "expected an integer");
	*out = neg ? (int64_t)(0 - u) : (int64_t)u;
	j->p = p;
	return true;
}

static bool number(struct smg_json *j, struct smg_value *v)
{
	const char *p = j->p;
	if (p < j->end && *p == '-')
		p++;
	bool real = false;
	while (p < j->end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' ||
			      *p == 'E' || *p == '+' || *p == '-')) {
		if (*p == '.' || *p == 'e' || *p == 'E')
			real = true;
		p++;
	}
	if (!real) {
		v->type = SMG_INT;
		return smg_json_int(j, &v->i);
	}
	char tmp[64];
	size_t n = (size_t)(p - j->p);
	if (n >= sizeof tmp)
		return fail(j, "number too long");
	memcpy(tmp, j->p, n);
	tmp[n] = '\0';
	char *e;
	v->type = SMG_REAL;
	v->r = strtod(tmp, &e);
	if (*e || n == 0)
		return fail(j, "bad number");
	j->p = p;
	return true;
}

static bool base64_value(struct smg_json *j, struct smg_value *v, enum smg_type t)
{
	const char *b64;
	size_t n;
	if (!smg_json_string(j, &b64, &n))
		return false;
	struct smg_buf *s = j->scratch;
	size_t got;
	smg_buf_grow(s, n);
	if (!smg_base64_decode(b64, n, s->data + s->len, &got))
		return fail(j, "bad base64");
	v->type = t;
	v->p = s->data + s->len;
	v->n = got;
	s->len += got;
	return smg_json_expect(j, '}');
}

bool smg_json_value(struct smg_json *j, struct smg_value *v)
{
	smg_json_ws(j);
	if (j->p >= j->end)
		return fail(j, "expected a value");
	v->p = NULL;
	v->n = 0;
	switch (*j->p) {
	case '"':
		v->type = SMG_TEXT;
		return smg_json_string(j, &v->p, &v->n);
	case 'n':
		if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
			j->p += 4;
			v->type = SMG_NULL;
			return true;
		}
		return fail(j, "bad literal");
	case '{': {
		const char *k;
		size_t kn;
		j->p++;
		if (!smg_json_string(j, &k, &kn) || !smg_json_expect(j, ':'))
			return false;
		if (kn == 4 && !memcmp(k, "blob", 4))
			return base64_value(j, v, SMG_BLOB);
		if (kn == 6 && !memcmp(k, "text64", 6))
			return base64_value(j, v, SMG_TEXT);
		return fail(j, "unknown typed value (want {\"blob\":...} or {\"text64\":...})");
	}
	case 't':
	case 'f':
		return fail(j, "booleans are not stream values");
	case '[':
		return fail(j, "arrays are not stream values");
	default:
		return number(j, v);
	}
}

int smg_json_next_item(struct smg_json *j, size_t *i, char close)
{
	smg_json_ws(j);
	if (*i > 0 && j->p < j->end && *j->p == ',') {
		j->p++;
	} else if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	} else if (*i > 0) {
		static char msg[40];
		snprintf(msg, sizeof msg, "expected ',' or '%c'", close);
		fail(j, msg);
		return -1;
	}
	(*i)++;
	return 1;
}

bool smg_json_values(struct smg_json *j, struct smg_value **vals, size_t *nvals, size_t *cap)
{
	*nvals = 0;
	if (!smg_json_expect(j, '['))
		return false;
	size_t i = 0;
	int more;
	while ((more = smg_json_next_item(j, &i, ']')) > 0) {
		if (*nvals == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*vals = smg_xrealloc(*vals, *cap * sizeof **vals);
		}
		if (!smg_json_value(j, &(*vals)[(*nvals)++]))
			return false;
	}
	return more == 0;
}

bool smg_json_strings(struct smg_json *j, char ***out, size_t *n)
{
	size_t cap = 0;
	*out = NULL;
	*n = 0;
	bool ok = smg_json_expect(j, '[');
	size_t i = 0;
	int more = -1;
	while (ok && (more = smg_json_next_item(j, &i, ']')) > 0) {
		const char *s;
		size_t sn;
		ok = smg_json_string(j, &s, &sn);
		if (ok && memchr(s, '\0', sn))
			ok = fail(j, "NUL in a name");
		if (!ok)
			break;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = smg_xrealloc(*out, cap * sizeof **out);
		}
		(*out)[(*n)++] = smg_xstrndup(s, sn);
	}
	if (ok && more == 0)
		return true;
	/* half an array is nobody's: the caller gets all of it or nothing */
	smg_strings_free(*out, *n);
	*out = NULL;
	*n = 0;
	return false;
}

bool smg_json_split(const char *raw, size_t len, const char **elem, size_t *elen, size_t want)
{
	struct smg_json j = {raw, raw, raw + len, NULL, NULL};
	if (!smg_json_expect(&j, '['))
		return false;
	for (size_t i = 0; i < want; i++) {
		if (i && !smg_json_expect(&j, ','))
			return false;
		if (!smg_json_skip(&j, &elem[i], &elen[i]))
			return false;
	}
	return smg_json_expect(&j, ']');
}
