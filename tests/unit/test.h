/* test.h - one line per check, "ok - what" or "not ok - what", for tests/run. */
#ifndef SMG_TEST_H
#define SMG_TEST_H
#include <stdio.h>
static int test_failures;
#define CHECK(cond, ...)                                                   \
	do {                                                               \
		printf((cond) ? "ok - " : "not ok - ");                    \
		printf(__VA_ARGS__);                                       \
		printf("%s\n", (cond) ? "" : "  [" #cond "]");             \
		if (!(cond))                                               \
			test_failures++;                                   \
	} while (0)
#endif
