/*
 * toml-scan.c - the TOML reader's scanner (see toml-int.h): where a
 * position is (line and column) and the error messages that name it,
 * characters, blanks and comments, the four string forms with their
 * escapes, and keys.
 */
#include "toml-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- positions and errors ---- */

/* Decode the UTF-8 sequence at s; its length, or 0 when it is not valid
 * UTF-8 (truncated, overlong, a surrogate or beyond U+10FFFF). */
static int utf8_decode(const unsigned char *s, const unsigned char *e, uint32_t *cp)
{
	unsigned c = s[0];
	int n;
	uint32_t min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xE0) == 0xC0)
		n = 2, *cp = c & 0x1F, min = 0x80;
	else if ((c & 0xF0) == 0xE0)
		n = 3, *cp = c & 0x0F, min = 0x800;
	else if ((c & 0xF8) == 0xF0)
		n = 4, *cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if (e - s < n)
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3F);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return n;
}

/* Line and column (in characters, from 1) of at.  Positions are asked
 * for in document order, so resuming from the last answer keeps this
 * linear; an earlier position (an error) rescans from the start. */
void toml_locate(struct parser *p, const char *at, int *line, int *col)
{
	if (at < p->loc_p) {
		p->loc_p = p->loc_bol = p->src;
		p->loc_line = 1;
	}
	for (; p->loc_p < at; p->loc_p++)
		if (*p->loc_p == '\n') {
			p->loc_line++;
			p->loc_bol = p->loc_p + 1;
		}
	*line = p->loc_line;
	*col = 1;
	for (const char *s = p->loc_bol; s < at; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			(*col)++;
}

__attribute__((format(printf, 4, 0)))
_Noreturn static void vfail_lc(struct parser *p, int line, int col, const char *fmt, va_list ap)
{
	if (p->err && p->errlen) {
		int n = snprintf(p->err, p->errlen, "%s:%d:%d: ", p->doc->filename, line, col);
		if (n >= 0 && (size_t)n < p->errlen)
			vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
	}
	longjmp(p->jmp, 1);
}

__attribute__((format(printf, 4, 5)))
_Noreturn void toml_fail_lc(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail_lc(p, line, col, fmt, ap);
}

__attribute__((format(printf, 3, 4)))
_Noreturn void toml_fail(struct parser *p, const char *at, const char *fmt, ...)
{
	int line, col;
	toml_locate(p, at, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	vfail_lc(p, line, col, fmt, ap);
}

/* The character at `at`, named for a message: 'x', U+0001, end of line. */
const char *toml_describe(struct parser *p, const char *at)
{
	if (at >= p->end)
		return "end of file";
	unsigned char c = (unsigned char)*at;
	if (c == '\n' || (c == '\r' && at + 1 < p->end && at[1] == '\n'))
		return "end of line";
	if (c >= 0x20 && c < 0x7f) {
		snprintf(p->desc, sizeof p->desc, "'%c'", c);
		return p->desc;
	}
	uint32_t cp = c;
	utf8_decode((const unsigned char *)at, (const unsigned char *)p->end, &cp);
	snprintf(p->desc, sizeof p->desc, "U+%04X", (unsigned)cp);
	return p->desc;
}

/* TOML requires valid UTF-8 throughout; checking once up front lets
 * the scanners below copy bytes without decoding them. */
void toml_check_utf8(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->src;
	const unsigned char *e = (const unsigned char *)p->end;
	uint32_t cp;
	while (s < e) {
		int n = utf8_decode(s, e, &cp);
		if (!n)
			toml_fail(p, (const char *)s, "invalid UTF-8");
		s += n;
	}
}


/* ---- characters ---- */

/* Control characters other than tab are not allowed in strings or comments. */
static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

void toml_skip_ws(struct parser *p)
{
	while (toml_peek(p) == ' ' || toml_peek(p) == '\t')
		p->p++;
}

/* Length of the newline at s (LF or CRLF), 0 if there is none.  A CR
 * alone is not a newline in TOML, and nothing else may use it. */
static int newline_len(struct parser *p, const char *s)
{
	if (s < p->end && *s == '\n')
		return 1;
	if (s < p->end && *s == '\r') {
		if (s + 1 < p->end && s[1] == '\n')
			return 2;
		toml_fail(p, s, "carriage return not followed by a line feed");
	}
	return 0;
}

static void skip_comment(struct parser *p)
{
	if (toml_peek(p) != '#')
		return;
	for (p->p++; p->p < p->end && *p->p != '\n'; p->p++) {
		if (*p->p == '\r' && toml_peek_at(p, 1) == '\n')
			break;
		if (is_control((unsigned char)*p->p))
			toml_fail(p, p->p, "control character %s in a comment", toml_describe(p, p->p));
	}
}

/* Blanks, comments and newlines: between statements and inside arrays. */
void toml_skip_blank_lines(struct parser *p)
{
	for (;;) {
		toml_skip_ws(p);
		skip_comment(p);
		int n = newline_len(p, p->p);
		if (!n)
			return;
		p->p += n;
	}
}

/* Only a comment may follow a key/value pair or a header on its line. */
void toml_expect_eol(struct parser *p)
{
	toml_skip_ws(p);
	skip_comment(p);
	if (p->p >= p->end)
		return;
	int n = newline_len(p, p->p);
	if (!n)
		toml_fail(p, p->p, "expected the end of the line, found %s", toml_describe(p, p->p));
	p->p += n;
}

/* ---- strings ---- */

static void utf8_encode(struct smg_buf *b, uint32_t cp)
{
	char s[4];
	size_t n;
	if (cp < 0x80) {
		s[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		s[0] = (char)(0xC0 | cp >> 6), n = 2;
	} else if (cp < 0x10000) {
		s[0] = (char)(0xE0 | cp >> 12), n = 3;
	} else {
		s[0] = (char)(0xF0 | cp >> 18), n = 4;
	}
	for (size_t i = 1; i < n; i++)
		s[i] = (char)(0x80 | ((cp >> (6 * (n - 1 - i))) & 0x3F));
	smg_buf_add(b, s, n);
}

int toml_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* \uXXXX or \UXXXXXXXX at p->p, which must name a Unicode scalar value. */
static void read_unicode_escape(struct parser *p, int ndigits)
{
	const char *bs = p->p;
	uint32_t cp = 0;
	for (int i = 0; i < ndigits; i++) {
		int d = toml_hex_value(toml_peek_at(p, 2 + (size_t)i));
		if (d < 0)
			toml_fail(p, bs, "\\%c needs %d hexadecimal digits", bs[1], ndigits);
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		toml_fail(p, bs, "\\%c%.*s is not a Unicode scalar value", bs[1], ndigits, bs + 2);
	utf8_encode(&p->buf, cp);
	p->p += 2 + ndigits;
}

static void read_escape(struct parser *p)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	int c = toml_peek_at(p, 1);
	if (c == 'u' || c == 'U') {
		read_unicode_escape(p, c == 'u' ? 4 : 8);
		return;
	}
	const char *hit = c > 0 ? strchr(from, c) : NULL;
	if (!hit) {
		if (c > 0x20 && c < 0x7f)
			toml_fail(p, p->p, "invalid escape sequence '\\%c'", c);
		toml_fail(p, p->p, "invalid escape sequence: '\\' followed by %s",
		     toml_describe(p, p->p + 1));
	}
	smg_buf_addc(&p->buf, to[hit - from]);
	p->p += 2;
}

/* A plain character of a string: anything but a control character. */
static void read_plain(struct parser *p, const char *what)
{
	unsigned char c = (unsigned char)*p->p;
	if (is_control(c))
		toml_fail(p, p->p, "control character %s in %s", toml_describe(p, p->p), what);
	smg_buf_addc(&p->buf, (char)c);
	p->p++;
}

/* "basic" or 'literal' on one line; p->p is at the opening quote. */
static void read_line_string(struct parser *p, char q)
{
	const char *open = p->p++;
	for (;;) {
		if (p->p >= p->end || *p->p == '\n' || (*p->p == '\r' && toml_peek_at(p, 1) == '\n'))
			toml_fail(p, open, "unterminated string");
		if (*p->p == q) {
			p->p++;
			return;
		}
		if (q == '"' && *p->p == '\\')
			read_escape(p);
		else
			read_plain(p, "a string");
	}
}

/* A backslash last on its line (blanks may follow it) joins the lines:
 * it eats every blank and newline up to the next other character. */
static bool line_ending_backslash(struct parser *p)
{
	const char *s = p->p + 1;
	while (s < p->end && (*s == ' ' || *s == '\t'))
		s++;
	if (!newline_len(p, s))
		return false;
	for (int n; s < p->end; )
		if (*s == ' ' || *s == '\t')
			s++;
		else if ((n = newline_len(p, s)))
			s += n;
		else
			break;
	p->p = s;
	return true;
}

/* At a run of quotes in a multi-line string: fewer than three are
 * content; three or more close it, and up to two before those are
 * content ("""a""""" is the text a""). */
static bool closing_quotes(struct parser *p, char q)
{
	size_t n = 0;
	while (p->p + n < p->end && p->p[n] == q)
		n++;
	if (n > 5)
		toml_fail(p, p->p, "too many quotes at the end of a multi-line string");
	bool closes = n >= 3;
	size_t keep = closes ? n - 3 : n;
	smg_buf_add(&p->buf, p->p, keep);
	p->p += n;
	return closes;
}

static void read_multiline(struct parser *p, char q)
{
	const char *open = p->p;
	p->p += 3;
	p->p += newline_len(p, p->p);	/* a newline right after """ is not content */
	for (;;) {
		if (p->p >= p->end)
			toml_fail(p, open, "unterminated multi-line string");
		int nl = newline_len(p, p->p);
		if (nl) {
			smg_buf_addc(&p->buf, '\n');	/* CRLF reads as LF */
			p->p += nl;
		} else if (*p->p == q) {
			if (closing_quotes(p, q))
				return;
		} else if (q == '"' && *p->p == '\\') {
			if (!line_ending_backslash(p))
				read_escape(p);
		} else {
			read_plain(p, "a string");
		}
	}
}

/* Any of the four string forms at p->p, read into p->buf. */
static void read_string(struct parser *p)
{
	char q = *p->p;
	smg_buf_reset(&p->buf);
	if (toml_peek_at(p, 1) == q && toml_peek_at(p, 2) == q)
		read_multiline(p, q);
	else
		read_line_string(p, q);
}

struct smg_toml_node *toml_string_value(struct parser *p)
{
	struct smg_toml_node *n = toml_new_node_at(p, SMG_TOML_STRING, p->p);
	read_string(p);
	n->v.str.s = toml_arena_strndup(p->doc, p->buf.data, p->buf.len);
	n->v.str.len = p->buf.len;
	return n;
}

/* ---- keys ---- */

static struct seg *parse_simple_key(struct parser *p)
{
	struct seg *k = toml_arena_alloc(p->doc, sizeof *k);
	k->next = NULL;
	toml_locate(p, p->p, &k->line, &k->col);
	int c = toml_peek(p);
	if (c == '"' || c == '\'') {
		if (toml_peek_at(p, 1) == c && toml_peek_at(p, 2) == c)
			toml_fail(p, p->p, "a multi-line string cannot be a key");
		read_string(p);
		k->s = toml_arena_strndup(p->doc, p->buf.data, p->buf.len);
		k->len = p->buf.len;
		return k;
	}
	const char *s = p->p;
	while (toml_is_bare(toml_peek(p)))
		p->p++;
	if (p->p == s)
		toml_fail(p, s, "expected a key, found %s", toml_describe(p, s));
	k->len = (size_t)(p->p - s);
	k->s = toml_arena_strndup(p->doc, s, k->len);
	return k;
}

/* key, "quoted key" or a.b."c": blanks may surround the dots. */
struct seg *toml_parse_key(struct parser *p)
{
	struct seg *head = parse_simple_key(p), *tail = head;
	for (int parts = 1;; parts++) {
		toml_skip_ws(p);
		if (toml_peek(p) != '.')
			return head;
		if (parts >= MAX_DEPTH)
			toml_fail(p, p->p, "a key with more than %d parts", MAX_DEPTH);
		p->p++;
		toml_skip_ws(p);
		tail = tail->next = parse_simple_key(p);
	}
}

/* The key path from head through last, for messages: a.b."c d".  Keys
 * of the current section are named in full, not relative to its header. */
const char *toml_key_path(struct parser *p, const struct seg *head, const struct seg *last,
			    bool in_section)
{
	smg_buf_reset(&p->path);
	if (in_section && p->section)
		smg_buf_addf(&p->path, "%s.", p->section);
	for (const struct seg *k = head;; k = k->next) {
		bool bare = k->len > 0;
		for (size_t i = 0; i < k->len; i++)
			bare = bare && toml_is_bare((unsigned char)k->s[i]);
		smg_buf_addf(&p->path, bare ? "%s%s" : "%s\"%s\"", k == head ? "" : ".", k->s);
		/* (a NUL inside a quoted key ends the name here: good enough for a message) */
		if (k == last)
			return p->path.data;
	}
}

