/*
 * toml-value.c - the TOML reader's values (see toml-int.h): integers in
 * every base, floats, date-times (checked, kept as text), booleans,
 * arrays and inline tables.
 */
#include "toml-int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- numbers and date-times ---- */

static int digit_value(int c)
{
	int d = toml_hex_value(c);
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
		toml_fail(p, s, "invalid number '%.*s'", (int)(e - s), s);
	uint64_t v = 0;
	for (q = s + 2; q < e; q++) {
		if (*q == '_')
			continue;
		unsigned d = (unsigned)digit_value((unsigned char)*q);
		if (v > ((uint64_t)INT64_MAX - d) / (unsigned)base)
			toml_fail(p, s, "integer '%.*s' is out of range", (int)(e - s), s);
		v = v * (unsigned)base + d;
	}
	struct smg_toml_node *n = toml_new_node_at(p, SMG_TOML_INTEGER, s);
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
	struct smg_toml_node *n = toml_new_node_at(p, is_float ? SMG_TOML_FLOAT : SMG_TOML_INTEGER, s);
	errno = 0;
	if (is_float) {
		n->v.f = strtod(text, NULL);
		if (isinf(n->v.f))
			toml_fail(p, s, "float '%.*s' is out of range", (int)(e - s), s);
	} else {
		n->v.i = strtoll(text, NULL, 10);
		if (errno == ERANGE)
			toml_fail(p, s, "integer '%.*s' is out of range", (int)(e - s), s);
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
		toml_fail(p, s, "leading zeros are not allowed in '%.*s'", (int)(e - s), s);
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
		toml_fail(p, s, "invalid number '%.*s'", (int)(e - s), s);
	return convert_decimal(p, s, e, is_float);
}

static struct smg_toml_node *parse_number(struct parser *p)
{
	const char *s = p->p, *e = s;
	while (e < p->end && (toml_is_bare((unsigned char)*e) || *e == '.' || *e == '+'))
		e++;
	p->p = e;
	const char *d = s + (*s == '+' || *s == '-');
	if (e - d == 3 && (memcmp(d, "inf", 3) == 0 || memcmp(d, "nan", 3) == 0)) {
		struct smg_toml_node *n = toml_new_node_at(p, SMG_TOML_FLOAT, s);
		n->v.f = copysign(d[0] == 'i' ? INFINITY : NAN, *s == '-' ? -1.0 : 1.0);
		return n;
	}
	if (e - s > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b'))
		return radix_integer(p, s, e);
	if (e - d > 1 && d[0] == '0' && (d[1] == 'x' || d[1] == 'o' || d[1] == 'b'))
		toml_fail(p, s, "a sign is not allowed on a hexadecimal, octal or binary integer");
	return decimal_number(p, s, e);
}

/* Does the text at s match pattern, where 'D' stands for any digit? */
static bool matches(const struct parser *p, const char *s, const char *pattern)
{
	size_t n = strlen(pattern);
	if ((size_t)(p->end - s) < n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (pattern[i] == 'D' ? !toml_is_digit((unsigned char)s[i]) : s[i] != pattern[i])
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
		toml_fail(p, s, "invalid date (expected YYYY-MM-DD)");
	int year = atoi(s), month = two_digits(s + 5), day = two_digits(s + 8);
	if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
		toml_fail(p, s, "invalid date '%.10s'", s);
	return s + 10;
}

/* HH:MM:SS[.fraction] at s; the end of it. */
static const char *scan_time(struct parser *p, const char *s)
{
	if (!matches(p, s, "DD:DD:DD"))
		toml_fail(p, s, "invalid time (expected HH:MM:SS)");
	if (two_digits(s) > 23 || two_digits(s + 3) > 59 || two_digits(s + 6) > 60)
		toml_fail(p, s, "invalid time '%.8s'", s);
	const char *e = s + 8;
	if (e < p->end && *e == '.') {
		if (!matches(p, e + 1, "D"))
			toml_fail(p, e, "a fraction of a second needs digits");
		for (e++; e < p->end && toml_is_digit((unsigned char)*e); e++)
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
		toml_fail(p, s, "invalid time zone offset (expected Z or +HH:MM)");
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
	if (e < p->end && (toml_is_bare((unsigned char)*e) || *e == '.' || *e == ':' || *e == '+'))
		toml_fail(p, s, "invalid date-time");
	p->p = e;
	struct smg_toml_node *n = toml_new_node_at(p, SMG_TOML_DATETIME, s);
	n->v.str.s = toml_arena_strndup(p->doc, s, (size_t)(e - s));
	n->v.str.len = (size_t)(e - s);
	return n;
}

/* ---- values ---- */

static void enter(struct parser *p)
{
	if (++p->depth > MAX_DEPTH)
		toml_fail(p, p->p, "arrays and inline tables nested more than %d deep", MAX_DEPTH);
}

/* true or false; any other bare word is a string someone forgot to quote. */
static struct smg_toml_node *parse_word(struct parser *p)
{
	const char *s = p->p, *e = s;
	while (e < p->end && toml_is_bare((unsigned char)*e))
		e++;
	bool t = e - s == 4 && memcmp(s, "true", 4) == 0;
	if (!t && !(e - s == 5 && memcmp(s, "false", 5) == 0))
		toml_fail(p, s, "expected a value, found '%.*s' (strings need quotes)", (int)(e - s), s);
	struct smg_toml_node *n = toml_new_node_at(p, SMG_TOML_BOOL, s);
	n->v.b = t;
	p->p = e;
	return n;
}

static struct smg_toml_node *parse_array(struct parser *p)
{
	enter(p);
	const char *open = p->p++;
	struct smg_toml_node *a = toml_new_node_at(p, SMG_TOML_ARRAY, open);
	for (;;) {
		toml_skip_blank_lines(p);
		if (toml_peek(p) == ']')
			break;
		if (p->p >= p->end)
			toml_fail(p, open, "unterminated array");
		toml_append(a, toml_parse_value(p));
		toml_skip_blank_lines(p);
		if (toml_peek(p) == ',') {
			p->p++;
			continue;
		}
		if (toml_peek(p) == ']')
			break;
		if (p->p >= p->end)
			toml_fail(p, open, "unterminated array");
		toml_fail(p, p->p, "expected ',' or ']' in an array, found %s", toml_describe(p, p->p));
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
	int c = toml_peek(p);
	if (c == -1 || c == '\n' || c == '\r' || c == '#')
		toml_fail(p, open, "unterminated inline table (it must end on the line it starts)");
}

/* After a member of an inline table: is there another? */
static bool inline_table_more(struct parser *p, const char *open)
{
	toml_skip_ws(p);
	bool comma = toml_peek(p) == ',';
	if (comma) {
		p->p++;
		toml_skip_ws(p);
	}
	inline_table_open(p, open);
	if (toml_peek(p) == '}' && comma)
		toml_fail(p, p->p, "trailing comma in an inline table");
	if (toml_peek(p) == '}')
		return false;
	if (!comma)
		toml_fail(p, p->p, "expected ',' or '}' in an inline table, found %s", toml_describe(p, p->p));
	return true;
}

static struct smg_toml_node *parse_inline_table(struct parser *p)
{
	enter(p);
	const char *open = p->p++;
	struct smg_toml_node *t = toml_new_node_at(p, SMG_TOML_TABLE, open);
	toml_skip_ws(p);
	inline_table_open(p, open);
	if (toml_peek(p) != '}')
		do
			toml_keyval(p, t);
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
	       ((size_t)(p->end - s) == n || !toml_is_bare((unsigned char)s[n]));
}

struct smg_toml_node *toml_parse_value(struct parser *p)
{
	int c = toml_peek(p);
	if (c == '"' || c == '\'')
		return toml_string_value(p);
	if (c == '[')
		return parse_array(p);
	if (c == '{')
		return parse_inline_table(p);
	if (starts_date(p, p->p) || starts_time(p, p->p))
		return parse_datetime(p);
	if (toml_is_digit(c) || c == '+' || c == '-' || word_at(p, p->p, "inf") || word_at(p, p->p, "nan"))
		return parse_number(p);
	if (toml_is_bare(c))
		return parse_word(p);
	toml_fail(p, p->p, "expected a value, found %s", toml_describe(p, p->p));
}

