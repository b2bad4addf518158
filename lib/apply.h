/*
 * apply.h - write a change stream into a SQLite database, all or nothing.
 */
#ifndef SMG_APPLY_H
#define SMG_APPLY_H

#include "db.h"

struct smg_apply_opts {
	bool dry_run;		/* validate everything, write nothing */
	bool create_tables;	/* create a missing table from the stream's schema */
	bool add_columns;	/* add a missing column from the stream's schema */
	int only;		/* -1: every change; else only changes to this side */
	bool progress;
};

struct smg_apply_table {
	char *name;
	int64_t upserted, deleted;
	bool created;
	char **added;		/* columns added (--add-columns) */
	size_t nadded;
};

struct smg_apply_result {
	struct smg_apply_table *tables;
	size_t ntables;
	int64_t upserted, deleted;
};

/* Read the change stream from r and apply it to db in one transaction,
 * committed only after the stream's trailer has been read.  Any error dies
 * (the transaction is rolled back). */
void smg_apply_sqlite(sqlite3 *db, const char *dbname, struct smg_reader *r,
		      const struct smg_apply_opts *opts, struct smg_apply_result *res);
void smg_apply_result_free(struct smg_apply_result *res);
/* The report smg-apply prints, shared with programs that apply too. */
void smg_apply_report_text(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run);
void smg_apply_report_json(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run);

#endif
