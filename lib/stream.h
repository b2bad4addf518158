/*
 * stream.h - the smugglr row stream (see smugglr-stream(5)): records, and
 * one reader and one writer that every program uses.  Typed values and
 * their JSON are json.h's, tables and the row hash table.h's; this header
 * includes both.
 */
#ifndef SMG_STREAM_H
#define SMG_STREAM_H

#include "json.h"
#include "table.h"

/* ---- timestamps --------------------------------------------------------- */

/* Parse a timestamp value (ISO-8601 text with optional offset, or unix
 * seconds, milliseconds, microseconds or nanoseconds told apart by magnitude:
 * lib/ts.c) to microseconds since the epoch.  false if the value is not a
 * possible time (February 30, offset +25:00). */
bool smg_ts_parse(const struct smg_value *v, int64_t *usec);

/* ---- records ------------------------------------------------------------ */

enum smg_kind { SMG_REC_TABLE, SMG_REC_ROW, SMG_REC_CHANGE, SMG_REC_SUMMARY,
		SMG_REC_END, SMG_REC_TOMBSTONE };

enum smg_bucket { SMG_LOCAL_ONLY, SMG_REMOTE_ONLY, SMG_LOCAL_NEWER,
		  SMG_REMOTE_NEWER, SMG_CONTENT_DIFFERS, SMG_IDENTICAL,
		  SMG_NBUCKETS };
extern const char *const smg_bucket_names[SMG_NBUCKETS];

/* TOMBSTONE: make the key a tombstone (tomb.h) of time "ts": delete the
 * row (expect: its hash) or find none (expect: null), and record it. */
enum smg_op { SMG_OP_UPSERT, SMG_OP_DELETE, SMG_OP_TOMBSTONE };
/* What a change expects to find on the side it writes: the row the diff
 * saw there, so that smg-apply can refuse to overwrite a row changed since
 * (compare-and-set).  UNKNOWN: the record has no "expect" (an older
 * writer); the change applies unconditionally. */
enum smg_expect { SMG_EXPECT_UNKNOWN, SMG_EXPECT_ABSENT, SMG_EXPECT_HASH };
enum smg_side { SMG_SIDE_LOCAL, SMG_SIDE_REMOTE };
extern const char *const smg_side_names[2];

/* Per-table counts a diff reports: one per bucket, then what it wrote. */
struct smg_counts {
	int64_t bucket[SMG_NBUCKETS];
	int64_t upsert[2];	/* by destination side */
	int64_t del[2];
	int64_t skipped;	/* differing rows the direction did not let through */
};

/* One record as read.  Everything borrowed stays valid until the next
 * smg_reader_next() on the same reader. */
struct smg_record {
	enum smg_kind kind;
	const struct smg_table *table;	/* the current table (row, change, summary) */
	struct smg_value *key;		/* npk key values */
	unsigned char hash[SMG_HASH_LEN];
	bool has_hash;
	struct smg_value ts;		/* SMG_NULL when absent */
	const char *values;		/* raw JSON array, or NULL (keys-only) */
	size_t values_len;
	enum smg_bucket bucket;
	enum smg_op op;
	enum smg_side to;
	enum smg_expect expect;		/* change: what the destination held */
	unsigned char expect_hash[SMG_HASH_LEN];	/* SMG_EXPECT_HASH */
	const char *was;		/* and its values (raw JSON array), or NULL */
	size_t was_len;
	struct smg_counts counts;	/* summary */
	int64_t nrecords;		/* end: records before the trailer */
};

/* ---- reader ------------------------------------------------------------- */

struct smg_reader;

/* A larger pipe buffer on fd, so that the stages of a pipeline run side
 * by side (the reader and the writer both ask); ignored when fd is not a
 * pipe. */
void smg_widen_pipe(int fd);

/* fd is read to its end; name appears in errors ("-" is shown as stdin). */
struct smg_reader *smg_reader_open(int fd, const char *name);
/* Open a path, or stdin for "-"; dies (exit 3) when missing. */
struct smg_reader *smg_reader_open_path(const char *path);
/* Next record, or NULL at the trailer.  Malformed, out-of-order or truncated
 * input dies with SMG_EXIT_DATA naming the input and line. */
const struct smg_record *smg_reader_next(struct smg_reader *r);
/* A pipe is read to its end into an unlinked temporary file, whose fd is
 * returned (a regular file's own fd is returned as it is).  smg-apply does
 * this before it takes its write lock: in "smg-diff - b.db | smg-apply b.db"
 * smg-diff holds a read lock on b.db until it has written everything. */
int smg_spool(int fd, const char *name);
/* Peek at the first bytes: is this input a SQLite database? */
bool smg_path_is_sqlite(const char *path);
/* An empty regular file: SQLite takes it as a database without tables. */
bool smg_path_is_empty(const char *path);
int64_t smg_reader_line(const struct smg_reader *r);
/* The file it reads: its offset says how far it has got (progress.h). */
int smg_reader_fd(const struct smg_reader *r);
const char *smg_reader_name(const struct smg_reader *r);
void smg_reader_close(struct smg_reader *r);
/* Decode the record's values (all table columns) into vals, using the
 * reader's scratch; dies naming the line if they do not fit the table. */
void smg_reader_values(struct smg_reader *r, const struct smg_record *rec,
		       struct smg_value **vals, size_t *cap);
_Noreturn void smg_reader_die(const struct smg_reader *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- writer ------------------------------------------------------------- */

struct smg_writer {
	int fd;
	const char *name;
	struct smg_buf buf;
	int64_t nrecords;
};

void smg_writer_init(struct smg_writer *w, int fd, const char *name);
void smg_write_table(struct smg_writer *w, const struct smg_table *t);
/* values_json: raw JSON array text or NULL for keys-only. */
void smg_write_row(struct smg_writer *w, const struct smg_table *t,
		   const struct smg_value *key, const unsigned char hash[SMG_HASH_LEN],
		   const struct smg_value *ts, const char *values_json, size_t vlen);
/* The same from a row's values (all t->ncols columns), encoded in place. */
void smg_write_row_values(struct smg_writer *w, const struct smg_table *t,
			  const struct smg_value *vals, const unsigned char hash[SMG_HASH_LEN],
			  bool keys_only);
/* expect_hash: the destination row's hash as the diff saw it, or NULL when
 * it saw no row there; was_json (or NULL): that row's values, for targets
 * that check in SQL rather than by hash. */
void smg_write_change(struct smg_writer *w, const struct smg_table *t,
		      enum smg_bucket bucket, enum smg_op op, enum smg_side to,
		      const struct smg_value *key, const unsigned char *expect_hash,
		      const char *was_json, size_t was_len, const char *values_json, size_t vlen);
/* A tombstone of a tracked table (in key order among its rows): the key
 * was deleted at time ts. */
void smg_write_tombstone(struct smg_writer *w, const struct smg_table *t,
			 const struct smg_value *key, const struct smg_value *ts);
/* A change of op "tombstone": make key a tombstone of time ts on side to. */
void smg_write_tombstone_change(struct smg_writer *w, const struct smg_table *t,
				enum smg_bucket bucket, enum smg_side to,
				const struct smg_value *key, const unsigned char *expect_hash,
				const char *was_json, size_t was_len,
				const struct smg_value *ts);
void smg_write_summary(struct smg_writer *w, const char *table,
		       const struct smg_counts *c);
/* The trailer: without it a reader treats the stream as truncated. */
void smg_write_end(struct smg_writer *w);
void smg_writer_flush(struct smg_writer *w);
static inline void smg_writer_maybe_flush(struct smg_writer *w)
{
	if (w->buf.len >= (1u << 18))
		smg_writer_flush(w);
}
void smg_writer_free(struct smg_writer *w);

/* Append the counts object {"local_only":N,...} (shared by the summary
 * record and the programs' JSON reports). */
void smg_json_add_counts(struct smg_buf *b, const struct smg_counts *c);

#endif
