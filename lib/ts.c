/*
 * ts.c - timestamps compare as time, never as strings: "2026-03-01T11:00:00+01:00"
 * and "2026-03-01 10:00:00" are the same instant, and 1772359200 (seconds)
 * and 1772359200000 (milliseconds) are that instant too.
 *
 * A value that is no possible instant (February 30, hour 25, offset +23:99)
 * is no timestamp at all: newer_wins treats it as missing.  A source counts
 * such values, and values far in the future, and warns once per table
 * (smg_ts_audit_*), because either one silently decides who wins.
 */
#include "ts.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* The two decimal digits at p as a number, or -1; four with dec4.  (A
 * row's timestamp is parsed for every row scanned, on the thread that
 * merges: this runs millions of times a second.) */
static inline int dec2(const char *p)
{
	unsigned a = (unsigned)((unsigned char)p[0] - '0'), b = (unsigned)((unsigned char)p[1] - '0');
	return a > 9 || b > 9 ? -1 : (int)(a * 10 + b);
}

static inline int dec4(const char *p)
{
	int hi = dec2(p), lo = dec2(p + 2);
	return hi < 0 || lo < 0 ? -1 : hi * 100 + lo;
}

/*
 * Unix time in seconds, milliseconds, microseconds or nanoseconds, told
 * apart by magnitude: below 1e11 seconds, below 1e14 milliseconds, below
 * 1e17 microseconds, else nanoseconds.  Each unit is read right for every
 * instant from 1973-03-03 to 5138-11-16 (nanoseconds: to 2262-04-11, where
 * int64 ends); smugglr-stream(5) states the rule.  Integers stay integers,
 * so nanoseconds near 1.7e18 keep their microseconds exactly.
 */
#define SMG_TS_MS_FROM 100000000000LL		/* 1e11 */
#define SMG_TS_US_FROM 100000000000000LL	/* 1e14 */
#define SMG_TS_NS_FROM 100000000000000000LL	/* 1e17 */

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int64_t epoch_int(int64_t v)
{
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	if (mag < SMG_TS_MS_FROM)
		return v * 1000000;
	if (mag < SMG_TS_US_FROM)
		return v * 1000;
	if (mag < SMG_TS_NS_FROM)
		return v;
	return floor_div(v, 1000);
}

static bool epoch_real(double v, int64_t *usec)
{
	double mag = fabs(v);
	if (!isfinite(v) || mag >= 9.2e18)	/* past int64 nanoseconds */
		return false;
	double scale = mag < SMG_TS_MS_FROM ? 1e6 : mag < SMG_TS_US_FROM ? 1e3 :
		       mag < SMG_TS_NS_FROM ? 1 : 1e-3;
	*usec = (int64_t)llround(v * scale);
	return true;
}

/* [-]digits, at most 19 of them, as an integer. */
static bool text_int(const char *p, size_t n, int64_t *out)
{
	size_t i = n > 0 && p[0] == '-';
	if (i == n || n - i > 19)
		return false;
	for (size_t k = i; k < n; k++)
		if (p[k] < '0' || p[k] > '9')
			return false;
	char tmp[24];
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	errno = 0;
	long long v = strtoll(tmp, NULL, 10);
	*out = v;
	return errno == 0;
}

/* [-]digits.digits as a number. */
static bool text_real(const char *p, size_t n, double *out)
{
	size_t i = 0, dots = 0;
	if (n == 0 || n >= 40)
		return false;
	for (i = p[0] == '-'; i < n; i++) {
		if (p[i] == '.')
			dots++;
		else if (p[i] < '0' || p[i] > '9')
			return false;
	}
	if (dots != 1)
		return false;
	char tmp[40], *e;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	*out = strtod(tmp, &e);
	return *e == '\0' && e != tmp;
}

/* hh:mm[:ss[.frac]], all in range: 24:00:00 (the end of a day) is allowed,
 * and a leap second :60 after minute 59. */
static bool parse_clock(const char **pp, const char *end, int64_t *secs, int64_t *frac)
{
	const char *p = *pp;
	int h, mi, s = 0;
	*frac = 0;
	if (end - p < 5 || p[2] != ':' || (h = dec2(p)) < 0 || (mi = dec2(p + 3)) < 0)
		return false;
	p += 5;
	if (p < end && *p == ':') {
		if (end - p < 3 || (s = dec2(p + 1)) < 0)
			return false;
		p += 3;
		if (p < end && (*p == '.' || *p == ',')) {
			/* microseconds: the first six digits, the rest dropped */
			static const int scale[7] = {1000000, 100000, 10000, 1000, 100, 10, 1};
			const char *digits = ++p;
			int us = 0;
			for (; p < end && *p >= '0' && *p <= '9'; p++)
				if (p - digits < 6)
					us = us * 10 + (*p - '0');
			if (p == digits)
				return false;
			*frac = us * scale[p - digits < 6 ? p - digits : 6];
		}
	}
	if (h > 24 || mi > 59 || s > 60 || (s == 60 && mi != 59))
		return false;
	if (h == 24 && (mi || s || *frac))
		return false;
	*secs = h * 3600 + mi * 60 + s;
	*pp = p;
	return true;
}

/* Z, or +hh[[:]mm] / -hh[[:]mm] up to 23:59 (RFC 3339). */
static bool parse_offset(const char **pp, const char *end, int64_t *offset)
{
	const char *p = *pp;
	*offset = 0;
	if (p < end && (*p == 'Z' || *p == 'z')) {
		*pp = p + 1;
		return true;
	}
	if (p >= end || (*p != '+' && *p != '-'))
		return true;	/* none: UTC */
	int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
	if (end - p < 2 || (oh = dec2(p)) < 0)
		return false;
	p += 2;
	if (p < end) {
		p += *p == ':';
		if (end - p < 2 || (om = dec2(p)) < 0)
			return false;
		p += 2;
	}
	if (oh > 23 || om > 59)
		return false;
	*offset = sign * (oh * 3600 + om * 60);
	*pp = p;
	return true;
}

/* YYYY-MM-DD[(T| )hh:mm[:ss[.frac]][offset]], a date that exists. */
static bool parse_iso(const char *p, size_t n, int64_t *usec)
{
	const char *end = p + n;
	int y, mo, d;
	if (n < 10 || p[4] != '-' || p[7] != '-' || (y = dec4(p)) < 0 ||
	    (mo = dec2(p + 5)) < 1 || mo > 12 || (d = dec2(p + 8)) < 1 ||
	    d > days_in_month(y, mo))
		return false;
	p += 10;
	int64_t clock = 0, frac = 0, offset = 0;
	if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
		p++;
		if (!parse_clock(&p, end, &clock, &frac) || !parse_offset(&p, end, &offset))
			return false;
	}
	if (p != end)
		return false;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + clock - offset;
	*usec = secs * 1000000 + frac;
	return true;
}

bool smg_ts_parse(const struct smg_value *v, int64_t *usec)
{
	int64_t i;
	double r;
	switch (v->type) {
	case SMG_INT:
		*usec = epoch_int(v->i);
		return true;
	case SMG_REAL:
		return epoch_real(v->r, usec);
	case SMG_TEXT:
		if (v->n >= 10 && v->p[4] == '-')	/* no number has '-' there */
			return parse_iso(v->p, v->n, usec);
		if (text_int(v->p, v->n, &i)) {
			*usec = epoch_int(i);
			return true;
		}
		if (text_real(v->p, v->n, &r))
			return epoch_real(r, usec);
		return parse_iso(v->p, v->n, usec);
	default:
		return false;
	}
}

/* ---- the audit of one source's timestamps, table by table -------------- */

void smg_ts_audit_init(struct smg_ts_audit *a)
{
	memset(a, 0, sizeof *a);
	a->now = (int64_t)time(NULL) * 1000000;
}

/* "key [5], value \"2026-02-30\"" for the message: the first bad one. */
static void note_example(struct smg_buf *b, const struct smg_table *t,
			 const struct smg_value *key, const struct smg_value *ts)
{
	if (b->len)
		return;
	smg_buf_adds(b, "key ");
	smg_buf_addc(b, '[');
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc(b, ',');
		smg_json_add_value(b, &key[k]);
	}
	smg_buf_adds(b, "], value ");
	smg_json_add_value(b, ts);
}

void smg_ts_audit_row(struct smg_ts_audit *a, const struct smg_table *t,
		      const struct smg_value *key, const struct smg_value *ts)
{
	int64_t usec;
	if (ts->type == SMG_NULL)
		return;		/* missing, and says so */
	if (!smg_ts_parse(ts, &usec)) {
		a->invalid++;
		note_example(&a->invalid_example, t, key, ts);
	} else if (usec > a->now + SMG_TS_FUTURE_USEC) {
		a->future++;
		note_example(&a->future_example, t, key, ts);
	}
}

/* Whether this process warned about WHAT in this table of this source
 * already, and notes that it has: smg-beacon scans the same tables every
 * few seconds, and once per table is enough. */
static bool warned_before(const char *source, const char *table, const char *what)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static char **warned;	/* "source\ttable\twhat" */
	static size_t nwarned;
	struct smg_buf line = SMG_BUF_INIT;
	smg_buf_addf(&line, "%s\t%s\t%s", source, table, what);
	pthread_mutex_lock(&mu);
	bool before = false;
	for (size_t i = 0; i < nwarned && !before; i++)
		before = !strcmp(warned[i], line.data);
	if (!before) {
		warned = smg_xrealloc(warned, (nwarned + 1) * sizeof *warned);
		warned[nwarned++] = smg_buf_detach(&line);
	}
	pthread_mutex_unlock(&mu);
	smg_buf_free(&line);
	return before;
}

/* "t: 2 values of "updated_at" are WHAT (first: key [1], value ...); THEN" */
static void warn_values(const char *source, const struct smg_table *t, uint64_t n,
			const char *what, const struct smg_buf *first, const char *then)
{
	if (n && !warned_before(source, t->name, what))
		smg_warn("%s: table \"%s\": %llu value%s of \"%s\" %s %s (first: %s); %s", source,
			 t->name, (unsigned long long)n, n == 1 ? "" : "s", t->ts,
			 n == 1 ? "is" : "are", what, first->data, then);
}

void smg_ts_audit_report(struct smg_ts_audit *a, const char *source, const struct smg_table *t)
{
	warn_values(source, t, a->invalid, "not a possible time", &a->invalid_example,
		    "newer_wins treats such values as missing");
	warn_values(source, t, a->future, "more than a day in the future", &a->future_example,
		    "newer_wins lets such rows win until then");
	a->invalid = a->future = 0;
	smg_buf_reset(&a->invalid_example);
	smg_buf_reset(&a->future_example);
}

void smg_ts_audit_free(struct smg_ts_audit *a)
{
	smg_buf_free(&a->invalid_example);
	smg_buf_free(&a->future_example);
}
