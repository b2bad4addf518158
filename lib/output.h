/*
 * output.h - a program's output file: replaced atomically when it is a
 * regular file, written through when it is not.
 *
 * What FILE names decides how it is written:
 *
 *   "-"                      standard output, written through
 *   a FIFO, a device, a      opened for writing (no truncation, no
 *   socket: not a regular    rename) and written through, as a shell's
 *   file                     ">" would; it stays what it is
 *   a symbolic link          the file it names, links followed to the
 *                            end: the link stays, its target is replaced
 *   a regular file, or none  a temporary file ".NAME.smg-tmp.XXXXXX"
 *                            beside it, synced, and renamed over it on
 *                            commit; a replaced file's mode is kept
 *   a directory              an error
 *
 * A reader of a replaced file sees the old file or the whole new one;
 * abort (or dying, see below) leaves it untouched.  What went through a
 * FIFO or to standard output cannot be taken back: there a failure is
 * told by the exit status alone.  SMG_OUTPUT_SPOOL takes that away too,
 * at the cost of a copy: see below.
 */
#ifndef SMG_OUTPUT_H
#define SMG_OUTPUT_H

#include "smg.h"

#include <sys/types.h>

struct smg_output {
	char *name;		/* FILE as given, for messages */
	char *target;		/* the file renamed over on commit; NULL: through */
	char *temp;		/* the file written, renamed or copied on commit;
				 * NULL when fd writes straight through */
	int fd;			/* where the caller writes */
	int through_fd;		/* FIFO, device or standard output; -1: none */
	mode_t mode;		/* of the file commit puts in place */
};

enum {
	/* The caller needs a file it can reopen by name (temp) even when
	 * FILE is written through (SQLite writes a backup by path): the
	 * output goes to a spool file in $TMPDIR, copied through on commit. */
	SMG_OUTPUT_SPOOL = 1,
	/* FILE must be a regular file (or none yet): an object store's
	 * object.  Anything else is refused instead of written through. */
	SMG_OUTPUT_REGULAR = 2,
};

/*
 * Opens FILE name for output as the table above says.  Returns 0, or an
 * exit code from smg.h after one line on stderr: SMG_EXIT_NOTFOUND when
 * its directory is missing, SMG_EXIT_USAGE for a directory (or a FILE
 * that is not regular under SMG_OUTPUT_REGULAR), SMG_EXIT_FAILURE else.
 * Until commit or abort, smg_die removes the temporary file (the output
 * takes the program's smg_atdie hook: one open output at a time).
 */
int smg_output_open(struct smg_output *o, const char *name, unsigned flags);
/* Syncs and renames the temporary file over the target, or copies the
 * spool through; closes what was opened.  0, or an exit code after a
 * message (the temporary file is then removed). */
int smg_output_commit(struct smg_output *o);
/* Removes the temporary file and closes what was opened.  Safe after a
 * failed open or commit, and twice. */
void smg_output_abort(struct smg_output *o);

/* True for the basename of an output's temporary file (".NAME.smg-tmp.
 * XXXXXX"): listings of a directory of objects leave them out. */
bool smg_output_is_temp(const char *basename);

/* A new empty file in $TMPDIR (else /tmp) named PREFIX.XXXXXX, with its
 * path in *path (caller frees); -1 after a message on failure. */
int smg_tmpdir_file(const char *prefix, char **path);

#endif
