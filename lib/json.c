/*
 * json.c - the JSON the stream needs, and no more (see json.h): typed values out, a
 * cursor that decodes them back.  Hand-written because the stream is the
 * hot path: a general JSON tree would allocate for every row.
 */
#include "json.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *smg_type_name(enum smg_type t)
{
	static const char *const names[] = {"null", "integer", "real", "text", "blob"};
	return names[t];
}

/* ---- encoding ---------------------------------------------------------- */

static const char hexdig[] = "0123456789abcdef";

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

/* True when p[0..n) is plain ASCII with no escape or control character:
 * the common case, checked without branches so the compiler can vectorize. */
static bool plain_ascii(const char *p, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	size_t i = 0;
	/* eight bytes at a time: any byte < 0x20, '"', '\\' or >= 0x80? */
	for (; i + 8 <= n; i += 8) {
		uint64_t x;
		memcpy(&x, p + i, 8);
		uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
		uint64_t hit = (x - ones * 0x20) & ~x & highs;	/* a byte < 0x20 */
		hit |= ((q - ones) & ~q & highs) | ((bs - ones) & ~bs & highs);	/* '"' or '\\' */
		if ((hit | (x & highs)) != 0)
			return false;
	}
	unsigned bad = 0;
	for (; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		bad |= (c < 0x20) | (c == '\\') | (c == '"') | (c >= 0x80);
	}
	return !bad;
}

static void add_plain(struct smg_buf *b, const char *p, size_t n)
{
	smg_buf_grow(b, n + 2);
	b->data[b->len++] = '"';
	smg_buf_add(b, p, n);
	smg_buf_addc_fast(b, '"');
}

static void add_escaped(struct smg_buf *b, const char *p, size_t n)
{
	smg_buf_grow(b, n + 2);
	b->data[b->len++] = '"';
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (!needs_escape(c))
			continue;
		smg_buf_add(b, p + run, i - run);
		run = i + 1;
		switch (c) {
		case '"': smg_buf_add(b, "\\\"", 2); break;
		case '\\': smg_buf_add(b, "\\\\", 2); break;
		case '\n': smg_buf_add(b, "\\n", 2); break;
		case '\r': smg_buf_add(b, "\\r", 2); break;
		case '\t': smg_buf_add(b, "\\t", 2); break;
		default: {
			char e[6] = {'\\', 'u', '0', '0', hexdig[c >> 4], hexdig[c & 15]};
			smg_buf_add(b, e, 6);
		}
		}
	}
	smg_buf_add(b, p + run, n - run);
	smg_buf_addc_fast(b, '"');
}

void smg_json_add_string(struct smg_buf *b, const char *p, size_t n)
{
	if (plain_ascii(p, n))
		add_plain(b, p, n);
	else
		add_escaped(b, p, n);
}

bool smg_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t len;
		uint32_t cp;
		if ((*p & 0xE0) == 0xC0) { len = 2; cp = *p & 0x1F; }
		else if ((*p & 0xF0) == 0xE0) { len = 3; cp = *p & 0x0F; }
		else if ((*p & 0xF8) == 0xF0) { len = 4; cp = *p & 0x07; }
		else return false;
		if ((size_t)(end - p) < len)
			return false;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3F);
		}
		/* overlong forms, surrogates and out-of-range code points are not UTF-8 */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		p += len;
	}
	return true;
}

/* Table-driven rather than libsodium's constant-time encoder: these are
 * row values, not secrets, and every blob of every row passes here. */
void smg_base64_add(struct smg_buf *b, const char *p, size_t n)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = (const unsigned char *)p;
	smg_buf_grow(b, (n + 2) / 3 * 4 + 1);
	char *o = b->data + b->len;
	size_t i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		o[0] = digits[v >> 18];
		o[1] = digits[v >> 12 & 63];
		o[2] = digits[v >> 6 & 63];
		o[3] = digits[v & 63];
		o += 4;
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		o[0] = digits[v >> 18];
		o[1] = digits[v >> 12 & 63];
		o[2] = i + 1 < n ? digits[v >> 6 & 63] : '=';
		o[3] = '=';
		o += 4;
	}
	b->len = (size_t)(o - b->data);
	*o = '\0';
}

static void add_int(struct smg_buf *b, int64_t v)
{
	char tmp[24];
	char *e = tmp + sizeof tmp, *s = e;
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
	do {
		*--s = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--s = '-';
	smg_buf_add(b, s, (size_t)(e - s));
}

static const double pow10tab[] = {1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};

/* Most stored reals have few decimals (prices, measures).  If m, the integer
 * nearest r * 10^k, is below 2^53 and m / 10^k gives r back, then "m with k
 * decimals" reads back as r: strtod computes exactly that correctly rounded
 * division.  The smallest such k gives the shortest form.
 * This avoids printf's multi-precision arithmetic on the hot path. */
static bool add_real_short(struct smg_buf *b, double r)
{
	for (int k = 1; k < 10; k++) {
		double m = r * pow10tab[k];
		if (fabs(m) >= 9007199254740992.0)
			return false;
		if (rint(m) / pow10tab[k] != r)
			continue;
		int64_t im = (int64_t)rint(m);
		uint64_t u = im < 0 ? (uint64_t)-im : (uint64_t)im;
		char tmp[32], *e = tmp + sizeof tmp, *p = e;
		for (int d = 0; d < k; d++, u /= 10)
			*--p = (char)('0' + u % 10);
		*--p = '.';
		do {
			*--p = (char)('0' + u % 10);
			u /= 10;
		} while (u);
		if (r < 0)
			*--p = '-';
		while (e[-1] == '0' && e[-2] != '.')	/* 17.010 -> 17.01: same value */
			e--;
		smg_buf_add(b, p, (size_t)(e - p));
		return true;
	}
	return false;
}

/*
 * r to 17 significant digits, correctly rounded (which always reads back
 * exactly), without printf: r = m * 2^e, so r * 10^k = m * 5^k * 2^(e+k),
 * an exact 128-bit product shifted right with round-half-even.  Covers
 * magnitudes from about 1e-10 to 1e16; false outside.  Trailing zeros
 * are trimmed: the value is the same.
 */
static bool add_real_17(struct smg_buf *b, double r)
{
	int exp2;
	double f = frexp(fabs(r), &exp2);	/* |r| = f * 2^exp2, f in [0.5, 1) */
	uint64_t m = (uint64_t)ldexp(f, 53);
	int e = exp2 - 53;
	int k = 16 - (int)floor(log10(fabs(r)));
	for (int tries = 0; tries < 3; tries++) {
		if (k < 0 || k > 27 || e + k > 0 || -(e + k) > 120)
			return false;
		static unsigned __int128 pow5[28];
		if (!pow5[0])
			for (int i = 0; i < 28; i++)
				pow5[i] = i ? pow5[i - 1] * 5 : 1;
		unsigned __int128 n = m * pow5[k];
		int sh = -(e + k);
		unsigned __int128 q = sh ? n >> sh : n;
		if (sh) {
			unsigned __int128 rem = n & (((unsigned __int128)1 << sh) - 1);
			unsigned __int128 half = (unsigned __int128)1 << (sh - 1);
			if (rem > half || (rem == half && (q & 1)))
				q++;
		}
		if (q >= 100000000000000000ULL) {	/* 18 digits: one power too many */
			k--;
			continue;
		}
		if (q < 10000000000000000ULL) {
			k++;
			continue;
		}
		char dig[18];
		uint64_t u = (uint64_t)q;
		for (int i = 16; i >= 0; i--, u /= 10)
			dig[i] = (char)('0' + u % 10);
		int nd = 17;
		while (nd > 1 && dig[nd - 1] == '0')
			nd--;
		int point = 17 - k;	/* digits before the decimal point */
		char out[48], *o = out;
		if (r < 0)
			*o++ = '-';
		if (point <= 0) {
			*o++ = '0';
			*o++ = '.';
			for (int i = 0; i < -point; i++)
				*o++ = '0';
			memcpy(o, dig, (size_t)nd);
			o += nd;
		} else {
			for (int i = 0; i < point; i++)
				*o++ = i < nd ? dig[i] : '0';
			*o++ = '.';
			if (nd > point) {
				memcpy(o, dig + point, (size_t)(nd - point));
				o += nd - point;
			} else {
				*o++ = '0';
			}
		}
		smg_buf_add(b, out, (size_t)(o - out));
		return true;
	}
	return false;
}

/* The shortest decimal that reads back as the same double, always with a
 * '.' or an exponent so that a reader knows it is a REAL.  Infinities are
 * written as 1e999, which JSON allows and strtod reads back exactly. */
static void add_real(struct smg_buf *b, double r)
{
	if (isinf(r)) {
		smg_buf_adds(b, r > 0 ? "1e999" : "-1e999");
		return;
	}
	char tmp[40];
	if (r == 0 && signbit(r)) {
		smg_buf_add(b, "-0.0", 4);
		return;
	}
	if (r == trunc(r) && fabs(r) < 1e15) {
		add_int(b, (int64_t)r);
		smg_buf_add(b, ".0", 2);
		return;
	}
	if (add_real_short(b, r))
		return;
	if (fabs(r) >= 1e-10 && fabs(r) < 1e16 && add_real_17(b, r))
		return;
	/* 17 significant digits always read back exactly.  Not always the
	 * shortest form, but the short decimals people write were handled
	 * above, and searching for the shortest costs a strtod per try. */
	int len = snprintf(tmp, sizeof tmp, "%.17g", r);
	if (!strpbrk(tmp, ".eEn"))
		memcpy(tmp + len, ".0", 3);
	smg_buf_adds(b, tmp);
}

void smg_json_add_value(struct smg_buf *b, const struct smg_value *v)
{
	switch (v->type) {
	case SMG_NULL:
		smg_buf_add(b, "null", 4);
		break;
	case SMG_INT:
		add_int(b, v->i);
		break;
	case SMG_REAL:
		add_real(b, v->r);
		break;
	case SMG_TEXT:
		if (plain_ascii(v->p, v->n)) {
			add_plain(b, v->p, v->n);
		} else if (smg_utf8_valid(v->p, v->n)) {
			add_escaped(b, v->p, v->n);
		} else {
			/* JSON cannot carry invalid UTF-8; keep the bytes exactly. */
			smg_buf_add(b, "{\"text64\":\"", 11);
			smg_base64_add(b, v->p, v->n);
			smg_buf_add(b, "\"}", 2);
		}
		break;
	case SMG_BLOB:
		smg_buf_add(b, "{\"blob\":\"", 9);
		smg_base64_add(b, v->p, v->n);
		smg_buf_add(b, "\"}", 2);
		break;
	}
}

void smg_json_add_values(struct smg_buf *b, const struct smg_value *v, size_t n)
{
	smg_buf_addc_fast(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			smg_buf_addc_fast(b, ',');
		smg_json_add_value(b, &v[i]);
	}
	smg_buf_addc_fast(b, ']');
}

/* ---- decoding ---------------------------------------------------------- */

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
	while (p < end && !needs_escape((unsigned char)*p) && (unsigned char)*p < 0x80)
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

/* A digit's value plus one, 0 for anything else. */
#define B(c, v) [c] = v + 1
static const unsigned char b64v[256] = {
	B('A', 0), B('B', 1), B('C', 2), B('D', 3), B('E', 4), B('F', 5), B('G', 6), B('H', 7),
	B('I', 8), B('J', 9), B('K', 10), B('L', 11), B('M', 12), B('N', 13), B('O', 14),
	B('P', 15), B('Q', 16), B('R', 17), B('S', 18), B('T', 19), B('U', 20), B('V', 21),
	B('W', 22), B('X', 23), B('Y', 24), B('Z', 25), B('a', 26), B('b', 27), B('c', 28),
	B('d', 29), B('e', 30), B('f', 31), B('g', 32), B('h', 33), B('i', 34), B('j', 35),
	B('k', 36), B('l', 37), B('m', 38), B('n', 39), B('o', 40), B('p', 41), B('q', 42),
	B('r', 43), B('s', 44), B('t', 45), B('u', 46), B('v', 47), B('w', 48), B('x', 49),
	B('y', 50), B('z', 51), B('0', 52), B('1', 53), B('2', 54), B('3', 55), B('4', 56),
	B('5', 57), B('6', 58), B('7', 59), B('8', 60), B('9', 61), B('+', 62), B('/', 63),
};
#undef B

/* Strict: padded to a multiple of four, no other byte, and the bits the
 * padding leaves over zero, so each byte string has one encoding (the one
 * smg_base64_add writes).  out has room for n / 4 * 3 bytes. */
bool smg_base64_decode(const char *in, size_t n, char *out, size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *o = (unsigned char *)out;
	if (n % 4)
		return false;
	size_t pad = n && s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
	size_t whole = n - (pad ? 4 : 0);
	unsigned bad = 0;
	for (size_t i = 0; i < whole; i += 4) {
		unsigned a = b64v[s[i]], b = b64v[s[i + 1]], c = b64v[s[i + 2]], d = b64v[s[i + 3]];
		bad |= !a | !b | !c | !d;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		o[0] = (unsigned char)(v >> 16);
		o[1] = (unsigned char)(v >> 8);
		o[2] = (unsigned char)v;
		o += 3;
	}
	if (bad)
		return false;
	if (pad) {
		unsigned a = b64v[s[whole]], b = b64v[s[whole + 1]];
		unsigned c = pad == 1 ? b64v[s[whole + 2]] : 1;
		if (!a || !b || !c)
			return false;
		uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
		if (v & (pad == 1 ? 0xFF : 0xFFFF))	/* bits past the last byte */
			return false;
		*o++ = (unsigned char)(v >> 16);
		if (pad == 1)
			*o++ = (unsigned char)(v >> 8);
	}
	*outlen = (size_t)(o - (unsigned char *)out);
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
	if (!smg_json_expect(j, '['))
		return false;
	size_t i = 0;
	int more;
	while ((more = smg_json_next_item(j, &i, ']')) > 0) {
		const char *s;
		size_t sn;
		if (!smg_json_string(j, &s, &sn))
			return false;
		if (memchr(s, '\0', sn))
			return fail(j, "NUL in a name");
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = smg_xrealloc(*out, cap * sizeof **out);
		}
		(*out)[(*n)++] = smg_xstrndup(s, sn);
	}
	return more == 0;
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
