/* tests/unit/ts.c - the timestamp parser: units told apart by magnitude at
 * their boundaries, impossible dates and offsets refused, and the per-table
 * audit's warnings. */
#include "smg.h"
#include "test.h"
#include "ts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct smg_value I(int64_t i) { return (struct smg_value){.type = SMG_INT, .i = i}; }
static struct smg_value R(double r) { return (struct smg_value){.type = SMG_REAL, .r = r}; }
static struct smg_value S(const char *s) { return (struct smg_value){.type = SMG_TEXT, .p = s, .n = strlen(s)}; }

static bool parses(struct smg_value v, int64_t want)
{
	int64_t got;
	return smg_ts_parse(&v, &got) && got == want;
}

static bool refused(const char *s)
{
	int64_t got;
	struct smg_value v = S(s);
	return !smg_ts_parse(&v, &got);
}

/* 2026-03-01T10:00:00Z in every unit: all the same instant. */
static void test_units(void)
{
	const int64_t us = 1772359200LL * 1000000;
	CHECK(parses(I(1772359200), us), "seconds");
	CHECK(parses(I(1772359200123), us + 123000), "milliseconds");
	CHECK(parses(I(1772359200123456), us + 123456), "microseconds");
	CHECK(parses(I(1772359200123456789), us + 123456), "nanoseconds, to the microsecond");
	CHECK(parses(S("1772359200123456789"), us + 123456), "nanoseconds as text, exactly");
	CHECK(parses(S("1772359200.5"), us + 500000), "fractional seconds as text");
	CHECK(parses(R(1772359200.25), us + 250000), "fractional seconds as a real");
	CHECK(parses(R(1772359200123.0), us + 123000), "milliseconds as a real");
	CHECK(parses(R(1.7723592e18), us), "nanoseconds as a real");
	CHECK(parses(S("2026-03-01T10:00:00Z"), us), "ISO 8601 of the same instant");
	CHECK(parses(I(-1772359200), -us), "negative seconds: before 1970");
}

/* The overflow: past about 9.2e15 every value became one. */
static void test_no_overflow(void)
{
	int64_t a, b;
	struct smg_value x = I(9300000000000000LL), y = I(9300000000000001LL);
	CHECK(smg_ts_parse(&x, &a) && smg_ts_parse(&y, &b) && b == a + 1,
	      "9.3e15 and 9.3e15+1 (microseconds) differ by one");
	x = I(1772359200000000000LL), y = I(1772359200000001000LL);
	CHECK(smg_ts_parse(&x, &a) && smg_ts_parse(&y, &b) && b == a + 1,
	      "nanoseconds a microsecond apart compare apart");
	x = I(INT64_MAX), y = I(INT64_MIN);
	CHECK(smg_ts_parse(&x, &a) && a == INT64_MAX / 1000, "INT64_MAX is nanoseconds, no overflow");
	CHECK(smg_ts_parse(&y, &b) && b == INT64_MIN / 1000 - 1, "INT64_MIN likewise, rounded down");
	CHECK(refused("99999999999999999999"), "more digits than int64: not a time");
	x = R(1e300);
	CHECK(!smg_ts_parse(&x, &a), "1e300 is not a time");
}

/* The unit boundaries: the last value of one unit and the first of the next. */
static void test_boundaries(void)
{
	CHECK(parses(I(99999999999), 99999999999LL * 1000000), "1e11-1 is seconds (year 5138)");
	CHECK(parses(I(100000000000), 100000000000LL * 1000), "1e11 is milliseconds (1973-03-03)");
	CHECK(parses(I(99999999999999), 99999999999999LL * 1000), "1e14-1 is milliseconds");
	CHECK(parses(I(100000000000000), 100000000000000LL), "1e14 is microseconds");
	CHECK(parses(I(99999999999999999), 99999999999999999LL), "1e17-1 is microseconds");
	CHECK(parses(I(100000000000000000), 100000000000000LL), "1e17 is nanoseconds");
	CHECK(parses(I(-100000000000), -100000000000LL * 1000), "-1e11 is milliseconds too");
	CHECK(parses(S("99999999999"), 99999999999LL * 1000000), "the same rule for text");
	CHECK(parses(S("100000000000"), 100000000000LL * 1000), "text 1e11 is milliseconds");
	CHECK(parses(R(99999999999.5), 99999999999500000LL), "the same rule for reals");
}

static void test_dates(void)
{
	int64_t a, b;
	struct smg_value x = S("2024-02-29"), y = S("2024-03-01");
	CHECK(smg_ts_parse(&x, &a) && smg_ts_parse(&y, &b) && b - a == 86400000000LL,
	      "February 29 of a leap year");
	CHECK(parses(S("2000-02-29T00:00:00Z"), 951782400LL * 1000000), "2000 is a leap year");
	CHECK(refused("2026-02-29"), "February 29 of 2026 refused");
	CHECK(refused("1900-02-29T00:00:00Z"), "1900 is no leap year");
	CHECK(refused("2026-02-30T10:00:00Z"), "February 30 refused");
	CHECK(refused("2026-04-31"), "April 31 refused");
	CHECK(refused("2026-06-31 12:00:00"), "June 31 refused");
	CHECK(refused("2026-01-32"), "January 32 refused");
	CHECK(refused("2026-01-00"), "day 0 refused");
	CHECK(refused("2026-00-10"), "month 0 refused");
	CHECK(refused("2026-13-01"), "month 13 refused");
	CHECK(parses(S("2026-12-31T23:59:59Z"), 1798761599LL * 1000000), "December 31 accepted");
}

static void test_clock_and_offsets(void)
{
	const int64_t day = 1772323200LL * 1000000;	/* 2026-03-01T00:00:00Z */
	CHECK(parses(S("2026-03-01T24:00:00Z"), day + 86400000000LL), "24:00:00 is the next midnight");
	CHECK(parses(S("2026-03-01T24:00"), day + 86400000000LL), "24:00 likewise");
	CHECK(refused("2026-03-01T24:01"), "24:01 refused");
	CHECK(refused("2026-03-01T24:00:01Z"), "24:00:01 refused");
	CHECK(refused("2026-03-01T24:00:00.5Z"), "24:00:00.5 refused");
	CHECK(refused("2026-03-01T25:00:00Z"), "hour 25 refused");
	CHECK(refused("2026-03-01T10:60:00Z"), "minute 60 refused");
	CHECK(refused("2026-03-01T10:00:61Z"), "second 61 refused");
	CHECK(parses(S("2026-03-01T23:59:60Z"), day + 86400000000LL), "a leap second at :59:60");
	CHECK(refused("2026-03-01T10:30:60Z"), "second 60 of minute 30 refused");
	CHECK(parses(S("2026-03-01T10:00:00+23:59"), day + (10 * 3600 - 23 * 3600 - 59 * 60) * 1000000LL),
	      "offset +23:59 accepted");
	CHECK(parses(S("2026-03-01T10:00:00-0530"), day + (10 * 3600 + 5 * 3600 + 30 * 60) * 1000000LL),
	      "offset -0530 accepted");
	CHECK(parses(S("2026-03-01T10:00:00+01"), day + 9 * 3600 * 1000000LL), "offset +01 accepted");
	CHECK(refused("2026-03-01T10:00:00+25:00"), "offset +25:00 refused");
	CHECK(refused("2026-03-01T10:00:00+24:00"), "offset +24:00 refused");
	CHECK(refused("2026-03-01T10:00:00+23:99"), "offset +23:99 refused");
	CHECK(refused("2026-03-01T10:00:00-12:60"), "offset -12:60 refused");
	CHECK(refused("2026-03-01T10:00:00+1"), "offset of one digit refused");
	CHECK(refused("2026-03-01T10:00:00+01:"), "offset with a colon and no minutes refused");
	CHECK(refused("2026-03-01T10:00:00."), "a point without digits refused");
	CHECK(parses(S("2026-03-01T10:00:00.1234567Z"), 1772359200LL * 1000000 + 123456),
	      "digits past the microsecond dropped");
	CHECK(parses(S("2026-03-01T10:00:00,5Z"), 1772359200LL * 1000000 + 500000), "a decimal comma");
	CHECK(refused("2026-03-01T10:00:00Zjunk"), "anything after the offset refused");
	CHECK(refused("yesterday"), "words refused");
	CHECK(refused(""), "the empty string refused");
	CHECK(refused("1.2.3"), "two dots refused");
	CHECK(refused("-"), "a lone minus refused");
}

/* What smg_ts_audit_report writes on stderr. */
static char *report(struct smg_ts_audit *a, const struct smg_table *t)
{
	char path[] = "/tmp/smg-ts-unit.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	smg_ts_audit_report(a, "a.db", t);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	static char text[4096];
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	close(fd);
	return text;
}

static void test_audit(void)
{
	struct smg_table *t = smg_table_new("items");
	smg_table_add_col(t, "id");
	smg_table_add_col(t, "updated_at");
	smg_table_add_pk(t, "id");
	CHECK(smg_table_finish(t, "updated_at") == NULL, "a table with a timestamp column");
	struct smg_ts_audit a;
	smg_ts_audit_init(&a);
	struct smg_value k1 = I(1), k2 = I(2), k3 = I(3), k4 = I(4), null = {.type = SMG_NULL};
	smg_ts_audit_row(&a, t, &k1, &null);
	smg_ts_audit_row(&a, t, &k2, &(struct smg_value){.type = SMG_TEXT, .p = "2026-02-30", .n = 10});
	smg_ts_audit_row(&a, t, &k3, &(struct smg_value){.type = SMG_TEXT, .p = "2026-04-31", .n = 10});
	struct smg_value soon = I(a.now / 1000000 + 3600), later = I(a.now / 1000000 + 2 * 86400);
	smg_ts_audit_row(&a, t, &k3, &soon);
	smg_ts_audit_row(&a, t, &k4, &later);
	char *text = report(&a, t);
	CHECK(strstr(text, "table \"items\": 2 values of \"updated_at\" are not a possible time") != NULL,
	      "bad dates counted, table and column named: %s", text);
	CHECK(strstr(text, "key [2], value \"2026-02-30\"") != NULL, "the first bad one shown");
	CHECK(strstr(text, "1 value of \"updated_at\" is more than a day in the future") != NULL,
	      "an hour ahead is fine, two days ahead is warned about");
	CHECK(strstr(text, "key [4]") != NULL, "the future one shown");
	CHECK(strchr(text, '\n') && strchr(strchr(text, '\n') + 1, '\n') &&
	      !strchr(strchr(strchr(text, '\n') + 1, '\n') + 1, '\n'), "two lines, one per kind");
	text = report(&a, t);
	CHECK(text[0] == '\0', "reported once: the next report is silent");
	smg_ts_audit_row(&a, t, &k2, &(struct smg_value){.type = SMG_TEXT, .p = "2026-02-30", .n = 10});
	text = report(&a, t);
	CHECK(text[0] == '\0', "the same table scanned again (smg-beacon): no second warning");
	struct smg_table *u = smg_table_copy(t);
	free(u->name);
	u->name = smg_xstrdup("other");
	smg_ts_audit_row(&a, u, &k2, &(struct smg_value){.type = SMG_TEXT, .p = "2026-02-30", .n = 10});
	text = report(&a, u);
	CHECK(strstr(text, "table \"other\": 1 value") != NULL, "another table gets its own warning");
	smg_table_free(u);
	smg_ts_audit_free(&a);
	smg_table_free(t);
}

int main(void)
{
	smg_setprogname("ts");
	test_units();
	test_no_overflow();
	test_boundaries();
	test_dates();
	test_clock_and_offsets();
	test_audit();
	return test_failures != 0;
}
