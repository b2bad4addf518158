/*
 * s3-xml.c - the flat XML S3 answers with: an element's text, decoded
 * (entities and character references), nothing more (see s3-int.h).
 */
#include "s3-int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- XML (only the flat elements S3 answers with) --------------------------- */

/* The next <tag>...</tag> in [p, end): its content, and where it ends. */
const char *s3_xml_find(const char *p, const char *end, const char *tag,
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
const char *s3_xml_decode(const char *p, size_t n, struct smg_buf *out)
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
char *s3_xml_child(const char *p, const char *end, const char *tag)
{
	const char *in;
	size_t n;
	if (!s3_xml_find(p, end, tag, &in, &n))
		return NULL;
	struct smg_buf b = SMG_BUF_INIT;
	if (s3_xml_decode(in, n, &b)) {
		smg_buf_reset(&b);
		smg_buf_add(&b, in, n);
	}
	return smg_buf_detach(&b);
}

bool s3_all_digits(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

