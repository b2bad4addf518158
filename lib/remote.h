/*
 * remote.h - reading and writing a remote target (target.h): Cloudflare D1
 * or another HTTP SQL endpoint spoken to through a profile (profile.h).
 *
 * Reading (smg_remote_fetch) writes the same row stream smg-hash writes
 * for a SQLite file: values are read through SQL that carries their type
 * and bytes as text, decoded into struct smg_value and hashed by the same
 * library code, so identical rows hash identically on both sides.
 *
 * Writing (smg_remote_apply) reads a whole change stream first, checking
 * it and spooling the SQL it becomes to a temporary file; only after the
 * trailer proved the stream complete does it send batches: multi-row
 * upserts and deletes packed within the profile's parameter, statement
 * and request limits, one request per batch, each batch one transaction.
 */
#ifndef SMG_REMOTE_H
#define SMG_REMOTE_H

#include "apply.h"
#include "target.h"

struct smg_remote;

/* Connect (nothing is sent yet).  verbose: one line per request on stderr. */
struct smg_remote *smg_remote_open(const struct smg_target *t, bool verbose);
void smg_remote_close(struct smg_remote *r);
/* HTTP requests made so far, counting each once however often retried. */
int64_t smg_remote_requests(const struct smg_remote *r);

/* The tables sel covers, sorted by name, as smg_db_tables finds them in a
 * file (explicitly named ones that are missing: exit 3). */
struct smg_table **smg_remote_tables(struct smg_remote *r, const struct smg_select *sel,
				     size_t *n);
/* Run n statements, each ended by a NUL in sql, in one request (one
 * transaction where the profile is atomic); errors die. */
void smg_remote_exec(struct smg_remote *r, const char *sql, size_t n);
/* Write every selected table's rows in key order to w (without the
 * trailer), paging by key.  Errors die with the documented exit codes. */
void smg_remote_fetch(struct smg_remote *r, const struct smg_select *sel,
		      struct smg_writer *w, bool progress);

/* What a remote apply did; res->upserted/deleted count what landed. */
struct smg_remote_result {
	struct smg_apply_result res;
	int64_t batches;		/* planned */
	int64_t landed;			/* batches committed, in order: 1..landed */
	int64_t requests;		/* HTTP requests made (reads included) */
	int64_t statements;		/* write statements planned */
	int64_t pending_upserts, pending_deletes;	/* not landed */
	int code;			/* 0, or the exit code of the failure */
	char error[512];		/* why batch landed+1 failed */
	bool maybe_landed;		/* the failed batch may have committed */
};

/*
 * Apply the change stream from in to the remote.  Validation errors (a
 * malformed or truncated stream, a missing table or column) die before
 * anything is sent.  A failure while sending returns with res->code set,
 * so the caller can report what landed; 0 when everything landed.
 */
int smg_remote_apply(struct smg_remote *r, struct smg_reader *in,
		     const struct smg_apply_opts *opts, struct smg_remote_result *res);
void smg_remote_result_free(struct smg_remote_result *res);
/* The apply report (smg_apply_report_*) with the batches added. */
void smg_remote_report_text(struct smg_buf *b, const char *target,
			    const struct smg_remote_result *res, bool dry_run);
void smg_remote_report_json(struct smg_buf *b, const char *target,
			    const struct smg_remote_result *res, bool dry_run);
/* The lines smg-apply prints on stderr after a failure midway. */
void smg_remote_report_failure(const char *target, const struct smg_remote_result *res);

#endif
