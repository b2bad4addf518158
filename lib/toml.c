/*
 * toml.c - TOML 1.0 reader (see toml.h for what it covers).
 *
 * A recursive-descent parser over the whole text.  Every node and string
 * is carved from one arena owned by the document, and an error longjmps
 * out of any depth: nothing to unwind, the arena is dropped in one go.
 */
#include "toml.h"
#include "smg.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Table bookkeeping for TOML's "define once" rules.  A table a [header]
 * opened may not be opened again nor reached by dotted keys from another
 * section; a table dotted keys made may not get a [header]; an inline
 * table is complete as written.  A table made only as the path of some
 * [x.y] header has no flag: one later [x] may still define it.
 */
enum {
	F_HEADER = 1,
	F_DOTTED = 2,
	F_FROZEN = 4,
	F_AOT = 8,	/* array made by [[header]]: more [[header]]s append to it */
};

/* Deeper nesting than this is hostile input, not a config: refuse it
 * before the recursion runs out of stack. */
#define MAX_DEPTH 128

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct smg_toml {
	struct chunk *chunks;
	struct smg_toml_node *root;
	char *filename;
};

/* One part of a dotted key, as written. */
struct seg {
	const char *s;
	size_t len;
	int line, col;
	struct seg *next;
};

struct parser {
	struct smg_toml *doc;
	const char *src, *end, *p;
	struct smg_buf buf;	/* the string being read */
	struct smg_buf path;	/* a key path for a message */
	char desc[24];		/* a character named for a message */
	struct smg_toml_node *cur;	/* where "key = value" lines go */
	const char *section;	/* cur's header path, to name keys in messages */
	int depth;
	const char *loc_p, *loc_bol;	/* locate() resumes from here */
	int loc_line;
	char *err;
	size_t errlen;
	jmp_buf jmp;
};

/* ---- memory ---- */

static void *arena_alloc(struct smg_toml *doc, size_t n)
{
	size_t a = sizeof(max_align_t);
	n = (n + a - 1) / a * a;
	struct chunk *c = doc->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 8192 ? n : 8192;
		c = smg_xmalloc(sizeof *c + cap);
		c->next = doc->chunks;
		c->used = 0;
		c->cap = cap;
		doc->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static const char *arena_strndup(struct smg_toml *doc, const char *s, size_t n)
{
	char *d = arena_alloc(doc, n + 1);
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void smg_toml_free(struct smg_toml *doc)
{
	if (!doc)
		return;
	for (struct chunk *c = doc->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(doc->filename);
	free(doc);
}

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
static void locate(struct parser *p, const char *at, int *line, int *col)
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
_Noreturn static void fail_lc(struct parser *p, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfail_lc(p, line, col, fmt, ap);
}

__attribute__((format(printf, 3, 4)))
_Noreturn static void fail(struct parser *p, const char *at, const char *fmt, ...)
{
	int line, col;
	locate(p, at, &line, &col);
	va_list ap;
	va_start(ap, fmt);
	vfail_lc(p, line, col, fmt, ap);
}

/* The character at `at`, named for a message: 'x', U+0001, end of line. */
static const char *describe(struct parser *p, const char *at)
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
static void check_utf8(struct parser *p)
{
	const unsigned char *s = (const unsigned char *)p->src;
	const unsigned char *e = (const unsigned char *)p->end;
	uint32_t cp;
	while (s < e) {
		int n = utf8_decode(s, e, &cp);
		if (!n)
			fail(p, (const char *)s, "invalid UTF-8");
		s += n;
	}
}

/* ---- nodes ---- */

static struct smg_toml_node *new_node(struct parser *p, enum smg_toml_type type,
				      int line, int col)
{
	struct smg_toml_node *n = arena_alloc(p->doc, sizeof *n);
	memset(n, 0, sizeof *n);
	n->type = type;
	n->line = n->key_line = line;
	n->col = n->key_col = col;
	return n;
}

static struct smg_toml_node *new_node_at(struct parser *p, enum smg_toml_type type,
					 const char *at)
{
	int line, col;
	locate(p, at, &line, &col);
	return new_node(p, type, line, col);
}

static void append(struct smg_toml_node *parent, struct smg_toml_node *n)
{
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	parent->count++;
}

static void add_member(struct smg_toml_node *table, const struct seg *k,
		       struct smg_toml_node *n)
{
	n->key = k->s;
	n->key_len = k->len;
	n->key_line = k->line;
	n->key_col = k->col;
	append(table, n);
}

static struct smg_toml_node *find(const struct smg_toml_node *t, const char *key, size_t len)
{
	if (!t || t->type != SMG_TOML_TABLE)
		return NULL;
	for (struct smg_toml_node *n = t->first; n; n = n->next)
		if (n->key_len == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}

/* ---- characters ---- */

static int peek_at(const struct parser *p, size_t k)
{
	return (size_t)(p->end - p->p) > k ? (unsigned char)p->p[k] : -1;
}

static int peek(const struct parser *p)
{
	return peek_at(p, 0);
}

static bool is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Control characters other than tab are not allowed in strings or comments. */
static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static void skip_ws(struct parser *p)
{
	while (peek(p) == ' ' || peek(p) == '\t')
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
		fail(p, s, "carriage return not followed by a line feed");
	}
	return 0;
}

static void skip_comment(struct parser *p)
{
	if (peek(p) != '#')
		return;
	for (p->p++; p->p < p->end && *p->p != '\n'; p->p++) {
		if (*p->p == '\r' && peek_at(p, 1) == '\n')
			break;
		if (is_control((unsigned char)*p->p))
			fail(p, p->p, "control character %s in a comment", describe(p, p->p));
	}
}

/* Blanks, comments and newlines: between statements and inside arrays. */
static void skip_blank_lines(struct parser *p)
{
	for (;;) {
		skip_ws(p);
		skip_comment(p);
		int n = newline_len(p, p->p);
		if (!n)
			return;
		p->p += n;
	}
}

/* Only a comment may follow a key/value pair or a header on its line. */
static void expect_eol(struct parser *p)
{
	skip_ws(p);
	skip_comment(p);
	if (p->p >= p->end)
		return;
	int n = newline_len(p, p->p);
	if (!n)
		fail(p, p->p, "expected the end of the line, found %s", describe(p, p->p));
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

static int hex_value(int c)
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
		int d = hex_value(peek_at(p, 2 + (size_t)i));
		if (d < 0)
			fail(p, bs, "\\%c needs %d hexadecimal digits", bs[1], ndigits);
		cp = cp << 4 | (uint32_t)d;
	}
	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		fail(p, bs, "\\%c%.*s is not a Unicode scalar value", bs[1], ndigits, bs + 2);
	utf8_encode(&p->buf, cp);
	p->p += 2 + ndigits;
}

static void read_escape(struct parser *p)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	int c = peek_at(p, 1);
	if (c == 'u' || c == 'U') {
		read_unicode_escape(p, c == 'u' ? 4 : 8);
		return;
	}
	const char *hit = c > 0 ? strchr(from, c) : NULL;
	if (!hit) {
		if (c > 0x20 && c < 0x7f)
			fail(p, p->p, "invalid escape sequence '\\%c'", c);
		fail(p, p->p, "invalid escape sequence: '\\' followed by %s",
		     describe(p, p->p + 1));
	}
	smg_buf_addc(&p->buf, to[hit - from]);
	p->p += 2;
}

/* A plain character of a string: anything but a control character. */
static void read_plain(struct parser *p, const char *what)
{
	unsigned char c = (unsigned char)*p->p;
	if (is_control(c))
		fail(p, p->p, "control character %s in %s", describe(p, p->p), what);
	smg_buf_addc(&p->buf, (char)c);
	p->p++;
}

/* "basic" or 'literal' on one line; p->p is at the opening quote. */
static void read_line_string(struct parser *p, char q)
{
	const char *open = p->p++;
	for (;;) {
		if (p->p >= p->end || *p->p == '\n' || (*p->p == '\r' && peek_at(p, 1) == '\n'))
			fail(p, open, "unterminated string");
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
		fail(p, p->p, "too many quotes at the end of a multi-line string");
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
			fail(p, open, "unterminated multi-line string");
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
	if (peek_at(p, 1) == q && peek_at(p, 2) == q)
		read_multiline(p, q);
	else
		read_line_string(p, q);
}

static struct smg_toml_node *string_value(struct parser *p)
{
	struct smg_toml_node *n = new_node_at(p, SMG_TOML_STRING, p->p);
	read_string(p);
	n->v.str.s = arena_strndup(p->doc, p->buf.data, p->buf.len);
	n->v.str.len = p->buf.len;
	return n;
}

/* ---- keys ---- */

static struct seg *parse_simple_key(struct parser *p)
{
	struct seg *k = arena_alloc(p->doc, sizeof *k);
	k->next = NULL;
	locate(p, p->p, &k->line, &k->col);
	int c = peek(p);
	if (c == '"' || c == '\'') {
		if (peek_at(p, 1) == c && peek_at(p, 2) == c)
			fail(p, p->p, "a multi-line string cannot be a key");
		read_string(p);
		k->s = arena_strndup(p->doc, p->buf.data, p->buf.len);
		k->len = p->buf.len;
		return k;
	}
	const char *s = p->p;
	while (is_bare(peek(p)))
		p->p++;
	if (p->p == s)
		fail(p, s, "expected a key, found %s", describe(p, s));
	k->len = (size_t)(p->p - s);
	k->s = arena_strndup(p->doc, s, k->len);
	return k;
}

/* key, "quoted key" or a.b."c": blanks may surround the dots. */
static struct seg *parse_key(struct parser *p)
{
	struct seg *head = parse_simple_key(p), *tail = head;
	for (int parts = 1;; parts++) {
		skip_ws(p);
		if (peek(p) != '.')
			return head;
		if (parts >= MAX_DEPTH)
			fail(p, p->p, "a key with more than %d parts", MAX_DEPTH);
		p->p++;
		skip_ws(p);
		tail = tail->next = parse_simple_key(p);
	}
}

/* The key path from head through last, for messages: a.b."c d".  Keys
 * of the current section are named in full, not relative to its header. */
static const char *key_path(struct parser *p, const struct seg *head, const struct seg *last,
			    bool in_section)
{
	smg_buf_reset(&p->path);
	if (in_section && p->section)
		smg_buf_addf(&p->path, "%s.", p->section);
	for (const struct seg *k = head;; k = k->next) {
		bool bare = k->len > 0;
		for (size_t i = 0; i < k->len; i++)
			bare = bare && is_bare((unsigned char)k->s[i]);
		smg_buf_addf(&p->path, bare ? "%s%s" : "%s\"%s\"", k == head ? "" : ".", k->s);
		/* (a NUL inside a quoted key ends the name here: good enough for a message) */
		if (k == last)
			return p->path.data;
	}
}

/* ---- numbers and date-times ---- */

static int digit_value(int c)
{
	int d = hex_value(c);
	return d < 0 ? 99 : d;
}

/* Digits of base from s with single underscores between digits; the end
 * of the run, or NULL when there is no digit at s. */
static const char *digits(const char *s, const char *e, int base)
{
	const char *start = s;
	while (s < e) {
		if (digit_value((unsigned char)*s) < base)
			s++;
		else if (*s == '_' && s > start && s + 1 < e &&
			 digit_value((unsigned char)s[1]) < base)
			s++;
		else
			break;
	}
	return s == start ? NULL : s;
}

/* 0x, 0o and 0b integers: no sign, leading zeros allowed. */
static struct smg_toml_node *radix_integer(struct parser *p, const char *s, const char *e)
{
	int base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
	const char *q = digits(s + 2, e, base);
	if (!q || q != e)
		fail(p, s, "invalid number '%.*s'", (int)(e - s), s);
	uint64_t v = 0;
	for (q = s + 2; q < e; q++) {
		if (*q == '_')
			continue;
		unsigned d = (unsigned)digit_value((unsigned char)*q);
		if (v > ((uint64_t)INT64_MAX - d) / (unsigned)base)
			fail(p, s, "integer '%.*s' is out of range", (int)(e - s), s);
		v = v * (unsigned)base + d;
	}
	struct smg_toml_node *n = new_node_at(p, SMG_TOML_INTEGER, s);
	n->v.i = (int64_t)v;
	return n;
}

/* The token s..e without underscores, NUL-terminated, in p->buf. */
static const char *strip_underscores(struct parser *p, const char *s, const char *e)
{
	smg_buf_reset(&p->buf);
	for (; s < e; s++)
		if (*s != '_')
			smg_buf_addc(&p->buf, *s);
	return p->buf.data;
}

static struct smg_toml_node *convert_decimal(struct parser *p, const char *s, const char *e,
					     bool is_float)
{
	const char *text = strip_underscores(p, s, e);
	struct smg_toml_node *n = new_node_at(p, is_float ? SMG_TOML_FLOAT : SMG_TOML_INTEGER, s);
	errno = 0;
	if (is_float) {
		n->v.f = strtod(text, NULL);
		if (isinf(n->v.f))
			fail(p, s, "float '%.*s' is out of range", (int)(e - s), s);
	} else {
		n->v.i = strtoll(text, NULL, 10);
		if (errno == ERANGE)
			fail(p, s, "integer '%.*s' is out of range", (int)(e - s), s);
	}
	return n;
}

/* [+-] int [. digits] [e [+-] digits], with no leading zero on int. */
static struct smg_toml_node *decimal_number(struct parser *p, const char *s, const char *e)
{
	const char *d = s + (*s == '+' || *s == '-');
	const char *q = digits(d, e, 10);
	bool is_float = false;
	if (q && *d == '0' && q - d > 1)
		fail(p, s, "leading zeros are not allowed in '%.*s'", (int)(e - s), s);
	if (q && q < e && *q == '.') {
		q = digits(q + 1, e, 10);
		is_float = true;
	}
	if (q && q < e && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < e && (*q == '+' || *q == '-'))
			q++;
		q = digits(q, e, 10);
		is_float = true;
	}
	if (q != e)
		fail(p, s, "invalid number '%.*s'", (int)(e - s), s);
	return convert_decimal(p, s, e, is_float);
}

static struct smg_toml_node *parse_number(struct parser *p)
{
	const char *s = p->p, *e = s;
	while (e < p->end && (is_bare((unsigned char)*e) || *e == '.' || *e == '+'))
		e++;
	p->p = e;
	const char *d = s + (*s == '+' || *s == '-');
	if (e - d == 3 && (memcmp(d, "inf", 3) == 0 || memcmp(d, "nan", 3) == 0)) {
		struct smg_toml_node *n = new_node_at(p, SMG_TOML_FLOAT, s);
		n->v.f = copysign(d[0] == 'i' ? INFINITY : NAN, *s == '-' ? -1.0 : 1.0);
		return n;
	}
	if (e - s > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
		return radix_integer(p, s, e);
	if (e - d > 1 && d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b'))
		fail(p, s, "a sign is not allowed on a hexadecimal, octal or binary integer");
	return decimal_number(p, s, e);
}

/* Does the text at s match pattern, where 'D' stands for any digit? */
static bool matches(const struct parser *p, const char *s, const char *pattern)
{
	size_t n = strlen(pattern);
	if ((size_t)(p->end - s) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pattern[i] == 'D' ? !is_digit((unsigned char)s[i]) : s[i] != pattern[i])
			return false;
	return true;
}

static int two_digits(const char *s)
{
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool starts_date(const struct parser *p, const char *s)
{
	return matches(p, s, "DDDD-");
}

static bool starts_time(const struct parser *p, const char *s)
{
	return matches(p, s, "DD:");
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	return month == 2 && leap ? 29 : days[month - 1];
}

/* YYYY-MM-DD at s; the end of it. */
static const char *scan_date(struct parser *p, const char *s)
{
	if (!matches(p, s, "DDDD-DD-DD"))
		fail(p, s, "invalid date (expected YYYY-MM-DD)");
	int year = atoi(s), month = two_digits(s + 5), day = two_digits(s + 8);
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
		fail(p, s, "invalid date '%.10s'", s);
	return s + 10;
}

/* HH:MM:SS[.fraction] at s; the end of it. */
static const char *scan_time(struct parser *p, const char *s)
{
	if (!matches(p, s, "DD:DD:DD"))
		fail(p, s, "invalid time (expected HH:MM:SS)");
	if (two_digits(s) > 23 || two_digits(s + 3) > 59 || two_digits(s + 6) > 60)
		fail(p, s, "invalid time '%.8s'", s);
	const char *e = s + 8;
	if (e < p->end && *e == '.') {
		if (!matches(p, e + 1, "D"))
			fail(p, e, "a fraction of a second needs digits");
		for (e++; e < p->end && is_digit((unsigned char)*e); e++)
			;
	}
	return e;
}

/* Z or +HH:MM / -HH:MM at s, if any; the end of it. */
static const char *scan_offset(struct parser *p, const char *s)
{
	if (s < p->end && (*s == 'Z' || *s == 'z'))
		return s + 1;
	if (s >= p->end || (*s != '+' && *s != '-'))
		return s;
	if (!matches(p, s + 1, "DD:DD") || two_digits(s + 1) > 23 || two_digits(s + 4) > 59)
		fail(p, s, "invalid time zone offset (expected Z or +HH:MM)");
	return s + 6;
}

/* Offset date-time, local date-time, local date or local time, kept as written. */
static struct smg_toml_node *parse_datetime(struct parser *p)
{
	const char *s = p->p, *e;
	if (starts_date(p, s)) {
		e = scan_date(p, s);
		bool t = e < p->end && (*e == 'T' || *e == 't');
		if (t || (e < p->end && *e == ' ' && starts_time(p, e + 1)))
			e = scan_offset(p, scan_time(p, e + 1));
	} else {
		e = scan_time(p, s);
	}
	if (e < p->end && (is_bare((unsigned char)*e) || *e == '.' || *e == ':' || *e == '+'))
		fail(p, s, "invalid date-time");
	p->p = e;
	struct smg_toml_node *n = new_node_at(p, SMG_TOML_DATETIME, s);
	n->v.str.s = arena_strndup(p->doc, s, (size_t)(e - s));
	n->v.str.len = (size_t)(e - s);
	return n;
}

/* ---- values ---- */

static struct smg_toml_node *parse_value(struct parser *p);
static void keyval(struct parser *p, struct smg_toml_node *table);

static void enter(struct parser *p)
{
	if (++p->depth > MAX_DEPTH)
		fail(p, p->p, "arrays and inline tables nested more than %d deep", MAX_DEPTH);
}

/* true or false; any other bare word is a string someone forgot to quote. */
static struct smg_toml_node *parse_word(struct parser *p)
{
	const char *s = p->p, *e = s;
	while (e < p->end && is_bare((unsigned char)*e))
		e++;
	bool t = e - s == 4 && memcmp(s, "true", 4) == 0;
	if (!t && !(e - s == 5 && memcmp(s, "false", 5) == 0))
		fail(p, s, "expected a value, found '%.*s' (strings need quotes)", (int)(e - s), s);
	struct smg_toml_node *n = new_node_at(p, SMG_TOML_BOOL, s);
	n->v.b = t;
	p->p = e;
	return n;
}

static struct smg_toml_node *parse_array(struct parser *p)
{
	enter(p);
	const char *open = p->p++;
	struct smg_toml_node *a = new_node_at(p, SMG_TOML_ARRAY, open);
	for (;;) {
		skip_blank_lines(p);
		if (peek(p) == ']')
			break;
		if (p->p >= p->end)
			fail(p, open, "unterminated array");
		append(a, parse_value(p));
		skip_blank_lines(p);
		if (peek(p) == ',') {
			p->p++;
			continue;
		}
		if (peek(p) == ']')
			break;
		if (p->p >= p->end)
			fail(p, open, "unterminated array");
		fail(p, p->p, "expected ',' or ']' in an array, found %s", describe(p, p->p));
	}
	p->p++;
	p->depth--;
	return a;
}

/* An inline table is complete as written: mark it, and the tables its
 * dotted keys made, closed to later headers and dotted keys. */
static void freeze(struct smg_toml_node *t)
{
	t->flags |= F_FROZEN;
	for (struct smg_toml_node *n = t->first; n; n = n->next)
		if (n->type == SMG_TOML_TABLE && !(n->flags & F_FROZEN))
			freeze(n);
}

/* An inline table must end on the line it starts (TOML 1.0). */
static void inline_table_open(struct parser *p, const char *open)
{
	int c = peek(p);
	if (c == -1 || c == '\n' || c == '\r' || c == '#')
		fail(p, open, "unterminated inline table (it must end on the line it starts)");
}

/* After a member of an inline table: is there another? */
static bool inline_table_more(struct parser *p, const char *open)
{
	skip_ws(p);
	bool comma = peek(p) == ',';
	if (comma) {
		p->p++;
		skip_ws(p);
	}
	inline_table_open(p, open);
	if (peek(p) == '}' && comma)
		fail(p, p->p, "trailing comma in an inline table");
	if (peek(p) == '}')
		return false;
	if (!comma)
		fail(p, p->p, "expected ',' or '}' in an inline table, found %s", describe(p, p->p));
	return true;
}

static struct smg_toml_node *parse_inline_table(struct parser *p)
{
	enter(p);
	const char *open = p->p++;
	struct smg_toml_node *t = new_node_at(p, SMG_TOML_TABLE, open);
	skip_ws(p);
	inline_table_open(p, open);
	if (peek(p) != '}')
		do
			keyval(p, t);
		while (inline_table_more(p, open));
	p->p++;
	freeze(t);
	p->depth--;
	return t;
}

/* Is the word w (inf, nan) at s, not followed by more of a bare word? */
static bool word_at(const struct parser *p, const char *s, const char *w)
{
	size_t n = strlen(w);
	return (size_t)(p->end - s) >= n && memcmp(s, w, n) == 0 &&
	       ((size_t)(p->end - s) == n || !is_bare((unsigned char)s[n]));
}

static struct smg_toml_node *parse_value(struct parser *p)
{
	int c = peek(p);
	if (c == '"' || c == '\'')
		return string_value(p);
	if (c == '[')
		return parse_array(p);
	if (c == '{')
		return parse_inline_table(p);
	if (starts_date(p, p->p) || starts_time(p, p->p))
		return parse_datetime(p);
	if (is_digit(c) || c == '+' || c == '-' || word_at(p, p->p, "inf") || word_at(p, p->p, "nan"))
		return parse_number(p);
	if (is_bare(c))
		return parse_word(p);
	fail(p, p->p, "expected a value, found %s", describe(p, p->p));
}

/* ---- key/value pairs and headers ---- */

/* A key already holding n cannot be defined again as k (path head..k). */
_Noreturn static void redefined(struct parser *p, bool in_section,
				const struct seg *head, const struct seg *k,
				const struct smg_toml_node *n)
{
	const char *path = key_path(p, head, k, in_section);
	if (n->type == SMG_TOML_ARRAY && (n->flags & F_AOT))
		fail_lc(p, k->line, k->col, "'%s' is already an array of tables (defined at %d:%d)",
			path, n->key_line, n->key_col);
	if (n->type == SMG_TOML_TABLE && (n->flags & F_FROZEN))
		fail_lc(p, k->line, k->col, "'%s' is an inline table, complete as written at %d:%d",
			path, n->key_line, n->key_col);
	if (n->type == SMG_TOML_TABLE)
		fail_lc(p, k->line, k->col, "table '%s' is already defined (at %d:%d)",
			path, n->key_line, n->key_col);
	fail_lc(p, k->line, k->col, "key '%s' is already defined (at %d:%d)",
		path, n->key_line, n->key_col);
}

static struct smg_toml_node *new_table(struct parser *p, struct smg_toml_node *parent,
				       const struct seg *k, unsigned flags)
{
	struct smg_toml_node *n = new_node(p, SMG_TOML_TABLE, k->line, k->col);
	n->flags = flags;
	add_member(parent, k, n);
	return n;
}

/* The table a dotted key goes through: made if absent; an existing one
 * only if no [header] opened it and it is not an inline table. */
static struct smg_toml_node *dotted_table(struct parser *p, struct smg_toml_node *t,
					  bool in_section, const struct seg *head,
					  const struct seg *k)
{
	struct smg_toml_node *n = find(t, k->s, k->len);
	if (!n)
		return new_table(p, t, k, F_DOTTED);
	if (n->type != SMG_TOML_TABLE || (n->flags & (F_FROZEN | F_HEADER)))
		redefined(p, in_section, head, k, n);
	n->flags |= F_DOTTED;
	return n;
}

static void keyval(struct parser *p, struct smg_toml_node *table)
{
	struct seg *head = parse_key(p), *k;
	if (peek(p) != '=')
		fail(p, p->p, "expected '=' after a key, found %s", describe(p, p->p));
	p->p++;
	skip_ws(p);
	struct smg_toml_node *v = parse_value(p);
	bool in_section = table == p->cur;
	for (k = head; k->next; k = k->next)
		table = dotted_table(p, table, in_section, head, k);
	struct smg_toml_node *old = find(table, k->s, k->len);
	if (old)
		redefined(p, in_section, head, k, old);
	add_member(table, k, v);
}

/* A table on the path of a header: made if absent; in an array of
 * tables, its last element. */
static struct smg_toml_node *header_path_table(struct parser *p, struct smg_toml_node *t,
					       const struct seg *head, const struct seg *k)
{
	struct smg_toml_node *n = find(t, k->s, k->len);
	if (!n)
		return new_table(p, t, k, 0);
	if (n->type == SMG_TOML_ARRAY && (n->flags & F_AOT))
		return n->last;
	if (n->type != SMG_TOML_TABLE || (n->flags & F_FROZEN))
		redefined(p, false, head, k, n);
	return n;
}

/* [a.b]: the last part k names a new table, or one only headers' paths made so far. */
static struct smg_toml_node *open_table(struct parser *p, struct smg_toml_node *t,
					const struct seg *head, const struct seg *k,
					int line, int col)
{
	struct smg_toml_node *n = find(t, k->s, k->len);
	if (!n)
		n = new_table(p, t, k, 0);
	else if (n->type != SMG_TOML_TABLE || (n->flags & (F_HEADER | F_DOTTED | F_FROZEN)))
		redefined(p, false, head, k, n);
	n->flags |= F_HEADER;
	n->line = line;
	n->col = col;
	n->key_line = k->line;	/* later messages point at the header, not the path */
	n->key_col = k->col;
	return n;
}

/* [[a.b]]: append a table to the array of tables k names, made if absent. */
static struct smg_toml_node *open_array_table(struct parser *p, struct smg_toml_node *t,
					      const struct seg *head, const struct seg *k,
					      int line, int col)
{
	struct smg_toml_node *a = find(t, k->s, k->len);
	if (!a) {
		a = new_node(p, SMG_TOML_ARRAY, line, col);
		a->flags = F_AOT;
		add_member(t, k, a);
	} else if (a->type != SMG_TOML_ARRAY || !(a->flags & F_AOT)) {
		redefined(p, false, head, k, a);
	}
	struct smg_toml_node *n = new_node(p, SMG_TOML_TABLE, line, col);
	n->flags = F_HEADER;
	append(a, n);
	return n;
}

static void table_header(struct parser *p)
{
	int line, col;
	locate(p, p->p, &line, &col);
	bool aot = peek_at(p, 1) == '[';
	p->p += aot ? 2 : 1;
	skip_ws(p);
	struct seg *head = parse_key(p), *k;
	if (peek(p) != ']' || (aot && peek_at(p, 1) != ']'))
		fail(p, p->p, "expected '%s' to close the header, found %s", aot ? "]]" : "]",
		     describe(p, p->p));
	p->p += aot ? 2 : 1;
	struct smg_toml_node *t = p->doc->root;
	for (k = head; k->next; k = k->next)
		t = header_path_table(p, t, head, k);
	p->cur = aot ? open_array_table(p, t, head, k, line, col)
		     : open_table(p, t, head, k, line, col);
	const char *path = key_path(p, head, k, false);
	p->section = arena_strndup(p->doc, path, strlen(path));
}

static void parse_document(struct parser *p)
{
	p->cur = p->doc->root;
	for (;;) {
		skip_blank_lines(p);
		if (p->p >= p->end)
			return;
		if (peek(p) == '[')
			table_header(p);
		else
			keyval(p, p->cur);
		expect_eol(p);
	}
}

/* ---- entry points ---- */

struct smg_toml *smg_toml_parse(const char *text, size_t len, const char *filename,
				char *err, size_t errlen)
{
	struct smg_toml *doc = smg_xcalloc(1, sizeof *doc);
	doc->filename = smg_xstrdup(filename ? filename : "<string>");
	/* On the heap, so its contents are well defined after longjmp. */
	struct parser *p = smg_xcalloc(1, sizeof *p);
	p->doc = doc;
	p->src = p->p = p->loc_p = p->loc_bol = text;
	p->end = text + len;
	p->loc_line = 1;
	p->err = err;
	p->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		p->src = p->p = p->loc_p = p->loc_bol = text + 3;	/* byte order mark */
	if (setjmp(p->jmp)) {
		smg_buf_free(&p->buf);
		smg_buf_free(&p->path);
		free(p);
		smg_toml_free(doc);
		return NULL;
	}
	check_utf8(p);
	doc->root = new_node(p, SMG_TOML_TABLE, 1, 1);
	parse_document(p);
	smg_buf_free(&p->buf);
	smg_buf_free(&p->path);
	free(p);
	return doc;
}

/* "PATH: reason" into err, keeping errno for the caller (ENOENT matters). */
static struct smg_toml *read_error(const char *path, char *err, size_t errlen)
{
	int e = errno;
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(e));
	errno = e;
	return NULL;
}

struct smg_toml *smg_toml_parse_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return read_error(path, err, errlen);
	struct smg_buf b = SMG_BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		smg_buf_add(&b, chunk, n);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		smg_buf_free(&b);
		errno = e;
		return read_error(path, err, errlen);
	}
	fclose(f);
	struct smg_toml *doc = smg_toml_parse(b.data ? b.data : "", b.len, path, err, errlen);
	smg_buf_free(&b);
	errno = 0;	/* NULL from here on is a syntax error, not a read error */
	return doc;
}

const struct smg_toml_node *smg_toml_root(const struct smg_toml *doc)
{
	return doc ? doc->root : NULL;
}

const char *smg_toml_filename(const struct smg_toml *doc)
{
	return doc ? doc->filename : NULL;
}

const struct smg_toml_node *smg_toml_member(const struct smg_toml_node *table, const char *key)
{
	return find(table, key, strlen(key));
}

const struct smg_toml_node *smg_toml_get(const struct smg_toml_node *table, const char *path)
{
	while (table) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		table = find(table, path, len);
		if (!dot)
			return table;
		path = dot + 1;
	}
	return NULL;
}

const char *smg_toml_type_name(enum smg_toml_type type)
{
	switch (type) {
	case SMG_TOML_STRING: return "string";
	case SMG_TOML_INTEGER: return "integer";
	case SMG_TOML_FLOAT: return "float";
	case SMG_TOML_BOOL: return "boolean";
	case SMG_TOML_DATETIME: return "datetime";
	case SMG_TOML_ARRAY: return "array";
	case SMG_TOML_TABLE: return "table";
	}
	return "value";
}
