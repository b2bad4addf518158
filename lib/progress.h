/* progress.h - "rows done / total, rate" on stderr, only on a terminal. */
#ifndef SMG_PROGRESS_H
#define SMG_PROGRESS_H
#include <stdbool.h>
#include <stdint.h>

/* Call often: it looks at the clock every few thousand rows and prints at
 * most a few times a second.  total < 0 when unknown. */
void smg_progress(const char *what, int64_t done, int64_t total);
/* Clear the progress line before other output. */
void smg_progress_done(void);
/* Whether progress is shown at all (stderr is a terminal, not disabled). */
bool smg_progress_enabled(void);
void smg_progress_disable(void);
#endif
