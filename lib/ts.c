/*
 * ts.c - timestamps compare as time, never as strings: "2026-03-01T11:00:00+01:00"
 * and "2026-03-01 10:00:00" are the same instant.
 */
#include "stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static bool digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++, (*p)++) {
		if (*p >= end || **p < '0' || **p > '9')
			return false;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return true;
}

/* Seconds (possibly fractional) or milliseconds since the epoch: values past
 * 1e11 cannot be seconds of any plausible date, so they are milliseconds. */
static int64_t epoch_number(double v)
{
	if (fabs(v) >= 1e11)
		return (int64_t)llround(v * 1e3);
	return (int64_t)llround(v * 1e6);
}

static bool parse_iso(const char *p, size_t n, int64_t *usec)
{
	const char *end = p + n;
	int y, mo, d, h = 0, mi = 0, s = 0;
	if (!digits(&p, end, 4, &y) || p >= end || *p++ != '-' || !digits(&p, end, 2, &mo) ||
	    p >= end || *p++ != '-' || !digits(&p, end, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return false;
	int64_t frac = 0, offset = 0;
	if (p < end && (*p == 'T' || *p == 't' || *p == ' ')) {
		p++;
		if (!digits(&p, end, 2, &h) || p >= end || *p++ != ':' || !digits(&p, end, 2, &mi))
			return false;
		if (p < end && *p == ':') {
			p++;
			if (!digits(&p, end, 2, &s))
				return false;
			if (p < end && (*p == '.' || *p == ',')) {
				p++;
				int64_t scale = 100000;
				if (p >= end || *p < '0' || *p > '9')
					return false;
				for (; p < end && *p >= '0' && *p <= '9'; p++, scale /= 10)
					frac += (*p - '0') * scale;
			}
		}
		if (h > 24 || mi > 59 || s > 60)
			return false;
		if (p < end && (*p == 'Z' || *p == 'z')) {
			p++;
		} else if (p < end && (*p == '+' || *p == '-')) {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
			if (!digits(&p, end, 2, &oh))
				return false;
			if (p < end && *p == ':')
				p++;
			if (p < end && !digits(&p, end, 2, &om))
				return false;
			offset = sign * (oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return false;
	int64_t secs = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s - offset;
	*usec = secs * 1000000 + frac;
	return true;
}

bool smg_ts_parse(const struct smg_value *v, int64_t *usec)
{
	switch (v->type) {
	case SMG_INT:
		*usec = epoch_number((double)v->i);
		if (v->i > -100000000000 && v->i < 100000000000)
			*usec = v->i * 1000000;	/* exact for whole seconds */
		return true;
	case SMG_REAL:
		if (!isfinite(v->r))
			return false;
		*usec = epoch_number(v->r);
		return true;
	case SMG_TEXT: {
		size_t numeric = 0;
		while (numeric < v->n && strchr("0123456789.-", v->p[numeric]) && v->p[numeric])
			numeric++;
		if (v->n > 0 && v->n < 40 && numeric == v->n) {
			char tmp[40], *e;
			memcpy(tmp, v->p, v->n);
			tmp[v->n] = '\0';
			double d = strtod(tmp, &e);
			if (*e == '\0' && isfinite(d)) {
				*usec = epoch_number(d);
				return true;
			}
		}
		return parse_iso(v->p, v->n, usec);
	}
	default:
		return false;
	}
}
