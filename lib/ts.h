/*
 * ts.h - timestamps: parsing (smg_ts_parse, declared in stream.h) and the
 * per-table audit that warns about values newer_wins cannot use well.
 */
#ifndef SMG_TS_H
#define SMG_TS_H

#include "stream.h"

/* A timestamp more than this far ahead of the run's start is "in the
 * future": it wins every newer_wins comparison until the clock gets there. */
#define SMG_TS_FUTURE_USEC (86400LL * 1000000)

/* Counts, for the current table of one source, timestamp values that are
 * no possible time and values in the future, with the first of each. */
struct smg_ts_audit {
	int64_t now;		/* usec since the epoch, when the audit began */
	uint64_t invalid, future;
	struct smg_buf invalid_example, future_example;
};

void smg_ts_audit_init(struct smg_ts_audit *a);
void smg_ts_audit_row(struct smg_ts_audit *a, const struct smg_table *t,
		      const struct smg_value *key, const struct smg_value *ts);
/* Warn (once for each kind) about what the table had, then start afresh. */
void smg_ts_audit_report(struct smg_ts_audit *a, const char *source, const struct smg_table *t);
void smg_ts_audit_free(struct smg_ts_audit *a);

#endif
