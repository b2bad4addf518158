/*
 * stream.h - the smugglr row stream (see smugglr-stream(5)): typed values,
 * their JSON encoding, the row hash, and one reader and one writer that
 * every program uses.
 */
#ifndef SMG_STREAM_H
#define SMG_STREAM_H

#include "smg.h"

/* ---- typed values ---------------------------------------------------- */

enum smg_type { SMG_NULL, SMG_INT, SMG_REAL, SMG_TEXT, SMG_BLOB };

/* A value.  Text and blob bytes are borrowed: whoever filled the value
 * says how long they live (until the next row, usually). */
struct smg_value {
	enum smg_type type;
	int64_t i;
	double r;
	const char *p;
	size_t n;
};

const char *smg_type_name(enum smg_type t);

/* SQLite's ORDER BY order under BINARY collation: NULL < numbers (by value,
 * INTEGER and REAL mixed) < TEXT (memcmp) < BLOB (memcmp). */
int smg_value_cmp(const struct smg_value *a, const struct smg_value *b);
int smg_key_cmp(const struct smg_value *a, const struct smg_value *b, size_t n);

/* ---- JSON encoding of values ------------------------------------------ */

/* Append a JSON string literal for UTF-8 text p[0..n). */
void smg_json_add_string(struct smg_buf *b, const char *p, size_t n);
/* Append the typed encoding of a value (see smugglr-stream(5)). */
void smg_json_add_value(struct smg_buf *b, const struct smg_value *v);
/* Append "[v0,v1,...]". */
void smg_json_add_values(struct smg_buf *b, const struct smg_value *v, size_t n);
bool smg_utf8_valid(const char *p, size_t n);
/* Strict base64 (RFC 4648, padded) into out (room for n / 4 * 3 bytes). */
bool smg_base64_decode(const char *in, size_t n, char *out, size_t *outlen);

/* A cursor over JSON text.  Parse errors set err (a static message) and
 * leave p where the error was found.  Strings with escapes and blobs are
 * decoded into scratch, which the caller grows by the length of the input
 * before parsing (decoded bytes never outnumber raw ones), so pointers into
 * it stay valid while the input is parsed. */
struct smg_json {
	const char *p, *start, *end;
	const char *err;
	struct smg_buf *scratch;
};

void smg_json_init(struct smg_json *j, const char *p, size_t n, struct smg_buf *scratch);
void smg_json_ws(struct smg_json *j);
bool smg_json_expect(struct smg_json *j, char c);
bool smg_json_string(struct smg_json *j, const char **p, size_t *n);
/* Skip any JSON value, giving its raw span. */
bool smg_json_skip(struct smg_json *j, const char **raw, size_t *rawlen);
bool smg_json_int(struct smg_json *j, int64_t *out);
/* One typed value (see smugglr-stream(5)). */
bool smg_json_value(struct smg_json *j, struct smg_value *v);
/* A JSON array of typed values into *vals (grown as needed, *cap slots). */
bool smg_json_values(struct smg_json *j, struct smg_value **vals, size_t *nvals,
		     size_t *cap);
/* Step through the items of an array or object whose opening bracket was
 * read: 1 with the cursor at the next item, 0 at `close` (consumed), -1 on
 * an error (j->err set).  Start with *i = 0. */
int smg_json_next_item(struct smg_json *j, size_t *i, char close);
/* A JSON array of strings, each a new NUL-terminated copy. */
bool smg_json_strings(struct smg_json *j, char ***out, size_t *n);

/* Split a raw JSON array "[a,b,c]" into the raw spans of its elements. */
bool smg_json_split(const char *raw, size_t len, const char **elem, size_t *elen,
		    size_t want);

/* ---- tables ----------------------------------------------------------- */

/* What a stream (or a database scan) says about one table. */
struct smg_table {
	char *name;
	size_t ncols;
	char **cols;		/* synced columns, in table order */
	size_t *col_len;	/* strlen of each, for the hash */
	size_t npk;
	char **pk;		/* primary key column names, in key order */
	size_t *pk_idx;		/* index of each key column in cols */
	char *ts;		/* timestamp column name, or NULL */
	long ts_idx;		/* its index in cols, or -1 */
	char *sql;		/* CREATE statement, or NULL */
	char **indexes;		/* its CREATE INDEX statements (the source's) */
	size_t nindexes;
	size_t *hash_order;	/* hashed columns (all but ts) sorted by name */
	size_t nhash;
	/* How every row record of this table starts as the writer lays it out,
	 * {"kind":"row","table":NAME,"key": : written once per row, and
	 * what the reader's fast path recognises. */
	char *row_head;
	size_t row_head_len;
	/* and every change record: {"kind":"change","table":NAME,"bucket":" */
	char *change_head;
	size_t change_head_len;
};

struct smg_table *smg_table_new(const char *name);
void smg_table_add_col(struct smg_table *t, const char *col);
void smg_table_add_pk(struct smg_table *t, const char *col);
/* Resolve pk_idx, ts_idx, hash_order; returns an error message or NULL. */
const char *smg_table_finish(struct smg_table *t, const char *ts);
/* The same for a table built to be returned: t, or NULL with *why set and
 * t freed. */
struct smg_table *smg_table_done(struct smg_table *t, const char *ts, const char **why);
void smg_table_free(struct smg_table *t);
long smg_table_col(const struct smg_table *t, const char *name);
void smg_table_add_index(struct smg_table *t, const char *sql);
struct smg_table *smg_table_copy(const struct smg_table *t);

/* ---- row hash --------------------------------------------------------- */

#define SMG_HASH_LEN 32
/* SHA-256 over the canonical typed encoding of the hashed columns of a row
 * (vals holds all t->ncols columns). */
void smg_hash_row(const struct smg_table *t, const struct smg_value *vals,
		  unsigned char out[SMG_HASH_LEN]);
/* Append the bytes smg_hash_row hashes, for a caller that hashes rows two
 * at a time (smg_sha256_x2). */
void smg_hash_input(const struct smg_table *t, const struct smg_value *vals,
		    struct smg_buf *out);
void smg_hash_hex(const unsigned char h[SMG_HASH_LEN], char out[65]);
bool smg_hash_unhex(const char *p, size_t n, unsigned char h[SMG_HASH_LEN]);

/* ---- timestamps --------------------------------------------------------- */

/* Parse a timestamp value (ISO-8601 text with optional offset, unix seconds
 * or unix milliseconds) to microseconds since the epoch.  false if the value
 * is not a time. */
bool smg_ts_parse(const struct smg_value *v, int64_t *usec);

/* ---- records ------------------------------------------------------------ */

enum smg_kind { SMG_REC_TABLE, SMG_REC_ROW, SMG_REC_CHANGE, SMG_REC_SUMMARY,
		SMG_REC_END };

enum smg_bucket { SMG_LOCAL_ONLY, SMG_REMOTE_ONLY, SMG_LOCAL_NEWER,
		  SMG_REMOTE_NEWER, SMG_CONTENT_DIFFERS, SMG_IDENTICAL,
		  SMG_NBUCKETS };
extern const char *const smg_bucket_names[SMG_NBUCKETS];

enum smg_op { SMG_OP_UPSERT, SMG_OP_DELETE };
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
