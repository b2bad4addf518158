/* test.h - one line per check, "ok - what" or "not ok - what", for tests/run. */
#ifndef SMG_TEST_H
#define SMG_TEST_H
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

static int test_failures;

/* CHECK(cond, fmt, ...): also prints the condition's text when it fails. */
#define CHECK(cond, ...)                                                   \
	do {                                                               \
		printf((cond) ? "ok - " : "not ok - ");                    \
		printf(__VA_ARGS__);                                       \
		printf("%s\n", (cond) ? "" : "  [" #cond "]");             \
		if (!(cond))                                               \
			test_failures++;                                   \
	} while (0)

/* check(cond, fmt, ...): the same as a function, returning cond. */
__attribute__((format(printf, 2, 3), unused))
static bool check(bool cond, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs(cond ? "ok - " : "not ok - ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	fflush(stdout);
	test_failures += !cond;
	return cond;
}
#endif
