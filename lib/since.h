/*
 * since.h - smg-diff --since: whether two databases' marks (changelog.h)
 * let a diff read only the keys either logged since, and the marks that
 * the next run may start from once this one has done its work.
 */
#ifndef SMG_SINCE_H
#define SMG_SINCE_H

#include "changelog.h"

struct smg_since {
	const char *name;
	bool whole;		/* every row is read */
	const char *why;	/* why, when whole */
	size_t keys;		/* keys read, when not */
	size_t tables;		/* tables read at those keys only */
	size_t logged;		/* tables logged on both sides (else nothing to say) */
	size_t logged_on[2];	/* on local, on remote: a side without any gets
				 * no mark */
	struct smg_mark next[2];	/* local's, remote's: as things are now */
};

/*
 * A side that is a stream has no log: every row is read then, and neither
 * side gets a mark.  comparison describes
 * what else decides a row's fate (direction, policy, options): it goes
 * into the marks' fingerprint with both sides' tables, so that marks made
 * for another comparison are not trusted.  Call before anything reads the
 * sources' rows or tombstones.
 */
void smg_since_plan(struct smg_since *p, const char *name, struct smg_source *local,
		    struct smg_source *remote, const char *comparison);

/* The mark file: "NAME TOKEN FP AT LOCAL-SEQ REMOTE-SEQ LOCAL-LOGGED
 * REMOTE-LOGGED", one line. */
void smg_since_write(const struct smg_since *p, const char *path);
/* Read one back, and the mark of side 0 (local) or 1 (remote); dies
 * (exit 2) when path is no mark file.  *name is the caller's to free.
 * False when that side logged no table: no mark to make there. */
bool smg_since_read(const char *path, int side, char **name, struct smg_mark *m);

#endif
