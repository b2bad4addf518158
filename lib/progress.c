/* progress.c - a progress line on stderr when it is a terminal. */
#include "progress.h"
#include "smg.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static int enabled = -1;
static double started, last;
static bool shown;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool smg_progress_enabled(void)
{
	if (enabled < 0)
		enabled = isatty(2);
	return enabled;
}

void smg_progress_disable(void)
{
	enabled = 0;
}

void smg_progress(const char *what, int64_t done, int64_t total)
{
	if ((done & 4095) != 0 || !smg_progress_enabled())
		return;
	double t = now();
	if (started == 0)
		started = last = t;
	if (t - last < 0.25)
		return;
	last = t;
	double rate = done / (t - started > 0 ? t - started : 1);
	if (total > 0)
		fprintf(stderr, "\r%s: %s: %lld / %lld rows (%.0f%%), %.0f rows/s   ", smg_progname,
			what, (long long)done, (long long)total, 100.0 * done / total, rate);
	else
		fprintf(stderr, "\r%s: %s: %lld rows, %.0f rows/s   ", smg_progname, what,
			(long long)done, rate);
	shown = true;
}

void smg_progress_done(void)
{
	if (shown)
		fprintf(stderr, "\r\033[K");
	shown = false;
}
