/*
 * progress.h - one line on stderr, updated in place, that says how far a
 * long stage has got: done / total, percentage, rate and time left.
 *
 *   smg-diff: diff: 651264/2000000 rows (32%), 1280965 rows/s, 1s left
 *
 * Shown only when stderr is a terminal (or SMG_PROGRESS=1), never with -q
 * or SMG_PROGRESS=0.  SMG_PROGRESS_FD=N puts it on descriptor N instead
 * (smugglr(1) keeps the programs' stderr for their messages).  The first line comes after half a second, so quick
 * runs show nothing, and it is redrawn at most ten times a second.  When a
 * total is not known, done and rate only: never a made-up percentage.
 * The programs of a pipeline share the terminal: the line belongs to one of
 * them at a time (a lock on the terminal), the others wait their turn;
 * a job in the background draws none.
 * One thread of a program reports progress.
 */
#ifndef SMG_PROGRESS_H
#define SMG_PROGRESS_H
#include <stdbool.h>
#include <stdint.h>

/* Rows done so far of the stage what (a string that lives as long as the
 * stage); total < 0 when unknown.  Cheap enough to call for every row: it
 * looks at the clock only every few milliseconds. */
void smg_progress(const char *what, int64_t done, int64_t total);
/* The same, counting something else than rows ("changes"). */
void smg_progress_unit(const char *what, const char *unit, int64_t done, int64_t total);
/* The same, counting bytes (shown as KiB, MiB, GiB). */
void smg_progress_bytes(const char *what, int64_t done, int64_t total);
/* From now on, how far the stage has got is how far its reader is into
 * the regular file fd (its offset against its size): for a stage that
 * counts things it cannot know the number of, but reads them from a file
 * of known size.  -1 stops that. */
void smg_progress_input(int fd);
/* Whether the current stage has lasted long enough for its line to show:
 * the time to start looking for a total that costs something to find. */
bool smg_progress_showing(void);
/* Erase the line, for other output; the next call draws it again. */
void smg_progress_clear(void);
/* The stage is over: erase the line, and the next call starts afresh. */
void smg_progress_done(void);
/* Whether progress is shown at all: stderr is a terminal, and neither -q
 * (smg_progress_disable) nor SMG_PROGRESS=0 said no. */
bool smg_progress_enabled(void);
void smg_progress_disable(void);
#endif
