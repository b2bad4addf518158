/*
 * json-encode.c - typed values out as the JSON of the stream (see json.h
 * and smugglr-stream(5)): strings escaped, integers and reals written so
 * that they read back the same, blobs as base64.  Hand-written because the
 * stream is the hot path; json.c reads it back.
 */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *smg_type_name(enum smg_type t)
{
	static const char *const names[] = {"null", "integer", "real", "text", "blob"};
	return names[t];
}

static const char hexdig[] = "0123456789abcdef";

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
		if (!smg_json_needs_escape(c))
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
