/*
 * diff.h - the merge join of two row sources: buckets, the conflict
 * policy, the direction, and the change stream they produce.
 */
#ifndef SMG_DIFF_H
#define SMG_DIFF_H

#include "db.h"
#include "policy.h"

enum smg_direction { SMG_PUSH, SMG_PULL, SMG_SYNC };

extern const char *const smg_direction_names[3];
/* -1 when the name is unknown. */
int smg_direction_parse(const char *s);

struct smg_diff_opts {
	enum smg_policy policy;
	enum smg_direction dir;
	bool del;		/* one-way mirror: delete what the source lacks */
	int samples;		/* sample keys kept per bucket for reports */
	char **tables;		/* tables asked for by name: each must be on one side */
	size_t ntables;
	bool tables_from_cli;	/* named with --table: --delete may then empty a table
				 * the source lacks entirely */
	bool add_columns;	/* a one-way run may add columns the destination lacks */
	bool progress;
};

#define SMG_DIFF_SAMPLES_MAX 10

struct smg_diff_table {
	char *name;
	struct smg_counts counts;
	struct smg_buf samples[SMG_NBUCKETS];	/* "[k1],[k2]" JSON key arrays */
	int nsamples[SMG_NBUCKETS];
	bool only_local, only_remote;
	/* The schemas of the two sides do not agree (columns, key, timestamp
	 * column, declared types): why.  The table was left out of the stream. */
	char *skipped_schema;
	/* --delete would have emptied it, but the source lacks the table
	 * entirely and it was not named with --table: it was left alone. */
	bool left_alone;
	/* --add-columns: the destination lacks columns the stream adds */
	bool adds_columns;
};

struct smg_diff_result {
	struct smg_diff_table *tables;
	size_t ntables;
	struct smg_counts total;
	size_t nskipped_schema;	/* tables skipped for their schema: a partial run */
};

/* Run the merge join; change records go to out (NULL: count only). */
void smg_diff(struct smg_source *local, struct smg_source *remote,
	      const struct smg_diff_opts *opts, struct smg_writer *out,
	      struct smg_diff_result *res);
void smg_diff_result_free(struct smg_diff_result *res);

/* Does text hold a UUID whose version nibble is 7? */
bool smg_is_uuid_v7(const char *p, size_t n);

#endif
