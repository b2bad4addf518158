/*
 * progress.c - the progress line (see progress.h).
 *
 * Cheap on the hot path: a call is a pointer compare and a counter, and
 * the clock is read only every `stride` calls, the stride doubling while
 * the looks come less than LOOK_MIN apart and halving while they come more
 * than LOOK_MAX apart: a million rows a second are looked at every few
 * milliseconds, not a million times, and one batch a second at every call.
 */
#include "progress.h"
#include "smg.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FIRST_DRAW 0.5		/* seconds before the first line: quick runs show none */
#define REDRAW 0.1		/* seconds between lines */
#define LOOK_MIN 0.005		/* look at the clock at most this often... */
#define LOOK_MAX 0.02		/* ... and at least this often */
#define STRIDE_MAX 65536
#define WINDOW 64		/* the rate is over the last WINDOW lines (~6 s) */

struct sample {
	double t;
	int64_t done;		/* of the measure the fraction is taken of */
};

static int enabled = -1;
static int out = STDERR_FILENO;	/* where the line goes (SMG_PROGRESS_FD) */
static struct {
	const char *what, *unit;	/* unit NULL: bytes */
	uint32_t calls, stride;
	double started, looked, drawn;
	struct sample win[WINDOW];
	int nwin, head;
	int input;		/* the file whose offset is the measure, or -1 */
	int64_t input_size;
	size_t shown;		/* length of the line on the terminal, 0: none */
	int tty;		/* the terminal, opened to lock it, or -1 */
	bool locked;
} p = {.stride = 1, .input = -1, .tty = -1};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SMG_PROGRESS_FD=N: the line goes to descriptor N instead of stderr.
 * smugglr(1) keeps its programs' stderr, to show their messages when each
 * ends, and hands them the terminal as another descriptor for the line.
 * -1 when N is not an open descriptor: no line then, rather than one in
 * the kept messages. */
static int line_fd(void)
{
	const char *env = getenv("SMG_PROGRESS_FD");
	if (!env || !*env)
		return STDERR_FILENO;
	char *end;
	long n = strtol(env, &end, 10);
	if (*end || n < 0 || n > 1024 || fcntl((int)n, F_GETFD) < 0)
		return -1;
	return (int)n;
}

bool smg_progress_enabled(void)
{
	if (enabled < 0) {
		const char *env = getenv("SMG_PROGRESS");
		out = line_fd();
		if (out < 0 || (env && !strcmp(env, "0")))
			enabled = 0;
		else if (env && !strcmp(env, "1"))
			enabled = 1;
		else
			enabled = isatty(out);
	}
	return enabled;
}

void smg_progress_disable(void)
{
	smg_progress_done();
	enabled = 0;
}

/* Every program of a pipeline writes to the same terminal: the line is
 * drawn by whichever holds a lock on the terminal, so that two of them do
 * not overwrite each other's.  (The terminal is opened again for it: a
 * lock on the inherited stderr would be shared by them all.)  Without a
 * terminal to lock (SMG_PROGRESS=1 into a file), the line is ours. */
static bool own_line(void)
{
	if (p.tty == -1) {
		const char *name = ttyname(out);
		p.tty = name ? open(name, O_RDONLY | O_NOCTTY | O_CLOEXEC) : -1;
		if (p.tty < 0)
			p.tty = -2;
	}
	if (p.tty == -2)
		return true;
	/* a job in the background leaves the terminal to the foreground */
	if (tcgetpgrp(out) != getpgrp())
		return false;
	if (!p.locked)
		p.locked = flock(p.tty, LOCK_EX | LOCK_NB) == 0;
	return p.locked;
}

static void release_line(void)
{
	if (p.locked && p.tty >= 0)
		flock(p.tty, LOCK_UN);
	p.locked = false;
}

static void put(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(out, s, n);
		if (w <= 0)
			return;	/* a progress line is not worth dying for */
		s += w;
		n -= (size_t)w;
	}
}

void smg_progress_clear(void)
{
	if (!p.shown)
		return;
	/* spaces, not an escape sequence: every terminal understands them */
	char blank[512];
	size_t n = p.shown < sizeof blank - 2 ? p.shown : sizeof blank - 2;
	blank[0] = '\r';
	memset(blank + 1, ' ', n);
	blank[n + 1] = '\r';
	put(blank, n + 2);
	p.shown = 0;
}

static void on_exit_clear(void)
{
	smg_progress_clear();
}

void smg_progress_done(void)
{
	smg_progress_clear();
	release_line();
	p.what = NULL;
	p.input = -1;
	p.nwin = 0;
	p.calls = 0;
	p.stride = 1;
}

bool smg_progress_showing(void)
{
	return p.what && p.drawn > p.started;
}

void smg_progress_input(int fd)
{
	struct stat st;
	p.input = -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		p.input = fd;
		p.input_size = st.st_size;
	}
}

static int64_t input_offset(void)
{
	off_t o = lseek(p.input, 0, SEEK_CUR);
	return o < 0 ? 0 : o;
}

/* ---- the line ------------------------------------------------------------ */

/* "done/whole unit", or "done unit" when whole is not known (<= 0) or
 * wrong (less than done); bytes (unit NULL) both in whole's KiB, MiB... */
static void add_amount(struct smg_buf *b, const char *unit, int64_t done, int64_t whole)
{
	static const char *const bytes[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	bool of = whole > 0 && whole >= done;
	if (unit) {
		smg_buf_addf(b, "%lld", (long long)done);
		if (of)
			smg_buf_addf(b, "/%lld", (long long)whole);
		smg_buf_addf(b, " %s", unit);
		return;
	}
	double scale = 1;
	int u = 0;
	while ((of ? whole : done) / scale >= 1024 && u < 4) {
		scale *= 1024;
		u++;
	}
	const char *fmt = u ? "%.1f" : "%.0f";
	smg_buf_addf(b, fmt, done / scale);
	if (of) {
		smg_buf_addc(b, '/');
		smg_buf_addf(b, fmt, whole / scale);
	}
	smg_buf_addf(b, " %s", bytes[u]);
}

static void add_time_left(struct smg_buf *b, double s)
{
	long t = (long)(s + 0.5);
	if (t < 60)
		smg_buf_addf(b, ", %lds left", t);
	else if (t < 3600)
		smg_buf_addf(b, ", %ld:%02ld left", t / 60, t % 60);
	else
		smg_buf_addf(b, ", %ld:%02ld:%02ld left", t / 3600, t / 60 % 60, t % 60);
}

/* The rate of the measure over the window, per second; 0 when unknown. */
static double window_rate(double t, int64_t measure)
{
	struct sample *old = &p.win[p.nwin < WINDOW ? 0 : p.head];
	return t - old->t > 0 && measure >= old->done ? (measure - old->done) / (t - old->t) : 0;
}

static void remember(double t, int64_t measure)
{
	p.win[p.head] = (struct sample){t, measure};
	p.head = (p.head + 1) % WINDOW;
	if (p.nwin < WINDOW)
		p.nwin++;
}

/* Clipped to the terminal's width: a line that wraps cannot be redrawn
 * in place. */
static size_t width(void)
{
	struct winsize ws;
	if (ioctl(out, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
		return ws.ws_col - 1;
	return 200;
}

static void draw(double t, int64_t done, int64_t total)
{
	/* the measure of the fraction: what was done, or how far into the input */
	int64_t measure = p.input >= 0 ? input_offset() : done;
	int64_t whole = p.input >= 0 ? p.input_size : total;
	double rate = window_rate(t, measure);
	double count_rate = p.input >= 0 ? done / (t - p.started) : rate;
	remember(t, measure);
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_addf(&b, "\r%s: %s: ", smg_progname, p.what);
	if (p.input >= 0) {	/* "N changes, 1.5/20.0 MiB" */
		add_amount(&b, p.unit, done, -1);
		smg_buf_adds(&b, ", ");
		add_amount(&b, NULL, measure, whole);
	} else {
		add_amount(&b, p.unit, done, whole);
	}
	bool known = whole > 0 && whole >= measure;
	if (known)
		smg_buf_addf(&b, " (%d%%)", (int)(100.0 * measure / whole));
	smg_buf_adds(&b, ", ");
	add_amount(&b, p.unit, (int64_t)count_rate, -1);
	smg_buf_adds(&b, "/s");
	if (known && rate > 0)
		add_time_left(&b, (whole - measure) / rate);
	size_t len = b.len - 1, max = width();
	if (len > max)
		b.len = 1 + (len = max);
	/* spaces over what is left of a longer line */
	for (size_t i = len; i < p.shown; i++)
		smg_buf_addc(&b, ' ');
	put(b.data, b.len);
	p.shown = len;
	smg_buf_free(&b);
}

static void start(const char *what, const char *unit, double t, int64_t done)
{
	static bool hooked;
	if (!hooked) {
		atexit(on_exit_clear);
		smg_before_warn = smg_progress_clear;	/* a message is not appended to the line */
	}
	hooked = true;
	p.what = what;
	p.unit = unit;
	p.started = p.looked = p.drawn = t;
	p.nwin = p.head = 0;
	remember(t, p.input >= 0 ? input_offset() : done);
}

void smg_progress_unit(const char *what, const char *unit, int64_t done, int64_t total)
{
	if (what == p.what && ++p.calls < p.stride)
		return;
	if (!smg_progress_enabled())
		return;
	p.calls = 0;
	double t = now();
	if (what != p.what) {
		smg_progress_clear();
		start(what, unit, t, done);
		return;
	}
	double since = t - p.looked;
	if (since < LOOK_MIN && p.stride < STRIDE_MAX)
		p.stride *= 2;
	else if (since > LOOK_MAX && p.stride > 1)
		p.stride /= 2;
	p.looked = t;
	if (t - p.started < FIRST_DRAW || t - p.drawn < REDRAW)
		return;
	p.drawn = t;
	if (own_line())
		draw(t, done, total);
}

void smg_progress(const char *what, int64_t done, int64_t total)
{
	smg_progress_unit(what, "rows", done, total);
}

void smg_progress_bytes(const char *what, int64_t done, int64_t total)
{
	smg_progress_unit(what, NULL, done, total);
}
