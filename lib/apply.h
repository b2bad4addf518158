/*
 * apply.h - write a change stream into a SQLite database, all or nothing.
 */
#ifndef SMG_APPLY_H
#define SMG_APPLY_H

#include "changelog.h"
#include "db.h"

struct smg_apply_opts {
	bool dry_run;		/* validate everything, write nothing */
	bool create_tables;	/* create a missing table from the stream's schema */
	bool add_columns;	/* add a missing column from the stream's schema */
	int only;		/* -1: every change; else only changes to this side */
	int tombstone_horizon_days;	/* prune older tombstones (0: never) */
	bool tracking;		/* track each table its table record says is tracked */
	bool progress;
	/* smg-diff --since's mark for the target, written in the transaction
	 * when nothing conflicted (changelog.h, smg_mark_commit); NULL: none */
	const char *mark_name;
	struct smg_mark mark;
	bool mark_copy;
};

struct smg_apply_table {
	char *name;
	int64_t upserted, deleted;
	int64_t conflicts;
	bool created;
	char **added;		/* columns added (--add-columns) */
	size_t nadded;
};

/* A row changed on the destination between the diff and the apply. */
struct smg_conflict_row {
	char *table;
	char *key;		/* JSON array */
	enum smg_op op;
	bool expected_row;	/* the diff saw a row (else: no row) */
	bool found_row;		/* there is one now (else: it was deleted) */
};

/* Conflict rows named in reports; the count says how many there were. */
#define SMG_CONFLICT_ROWS 100

struct smg_apply_result {
	struct smg_apply_table *tables;
	size_t ntables;
	int64_t upserted, deleted;
	/* Compare-and-set (smugglr-stream(5) "expect"): changes whose row was
	 * changed on the destination since the diff.  Any at all and nothing
	 * is written. */
	int64_t conflicts;
	struct smg_conflict_row *conflict_rows;	/* the first SMG_CONFLICT_ROWS */
	int nconflict_rows;
	int64_t unconditional;		/* changes without "expect": not checked */
	bool rest_written;		/* remote: conflicts left alone, the rest written */
	bool stopped;			/* remote: ... up to a batch that failed */
	/* PRAGMA foreign_key_check in the tables written (SQLite files) */
	int64_t nfk;
	struct smg_buf fk;		/* {"table":..,"rowid":..,"parent":..},... (the first) */
	int64_t mark_at;		/* the mark's position (opts mark_name), or -1 */
};

/* Read the change stream from r and apply it to db in one transaction,
 * committed only after the stream's trailer has been read.  Any error dies
 * (the transaction is rolled back).  Conflicts return with res->conflicts
 * set and the transaction rolled back: nothing written. */
void smg_apply_sqlite(sqlite3 *db, const char *dbname, struct smg_reader *r,
		      const struct smg_apply_opts *opts, struct smg_apply_result *res);
void smg_apply_result_free(struct smg_apply_result *res);
/* The report smg-apply prints, shared with programs that apply too. */
void smg_apply_report_text(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run);
void smg_apply_report_json(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run);
/* On stderr: the conflicts, naming rows, and the changes not checked. */
void smg_apply_report_conflicts(const char *target, const struct smg_apply_result *res);

#endif
