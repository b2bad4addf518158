/*
 * stream.c - the one reader of the row stream (the one writer is
 * stream-write.c).
 *
 * The reader checks what a merge join relies on (tables by name, keys
 * strictly increasing) and what a pipeline relies on (a trailer, so that a
 * stage that died upstream is noticed before anything is applied).
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const smg_bucket_names[SMG_NBUCKETS] = {
	"local_only", "remote_only", "local_newer", "remote_newer",
	"content_differs", "identical",
};
const char *const smg_side_names[2] = {"local", "remote"};

#define READ_CHUNK (1u << 20)

/* Fields of a line before we know which record it is. */
struct fields {
	const char *kind, *table, *bucket, *op, *to, *hash, *timestamp, *sql, *expect;
	size_t kind_n, table_n, bucket_n, op_n, to_n, hash_n, timestamp_n, sql_n, expect_n;
	bool has_expect;
	bool has_key, has_ts, has_records, has_counts, has_timestamp;
	char **columns, **pk, **indexes;
	size_t ncolumns, npk, nindexes;
	bool has_columns, has_pk;
	bool tracked;
};

struct smg_reader {
	int fd;
	bool own_fd;
	char *name;
	struct smg_buf in;	/* bytes read, [pos, in.len) not yet consumed */
	size_t pos;
	bool eof;
	int64_t line;
	int64_t nrecords;
	bool ended;
	struct smg_table *table;	/* current table, owned */
	char *last_table;		/* name of the previous table record */
	struct smg_value *prev;		/* previous key in this table */
	size_t prevcap;
	struct smg_buf prev_bytes;
	bool have_prev;
	struct smg_buf scratch;
	struct smg_record rec;
	size_t keycap;
	const char *linep;		/* current line, for error context */
	/* The record being read and the table record being built: the
	 * reader's, so that an error anywhere leaves nothing to free but the
	 * reader (smg_die's hook may return to a caller that closes it). */
	struct fields fields;
	struct smg_table *building;
};

/* ---- reader ------------------------------------------------------------- */

/* A 64 KiB pipe makes the two ends of a pipeline take turns hundreds of
 * thousands of times; a larger one lets them run side by side.  Harmless
 * (and ignored) when fd is not a pipe. */
void smg_widen_pipe(int fd)
{
#ifdef F_SETPIPE_SZ
	fcntl(fd, F_SETPIPE_SZ, 1 << 20);
#else
	(void)fd;
#endif
}

struct smg_reader *smg_reader_open(int fd, const char *name)
{
	struct smg_reader *r = smg_xcalloc(1, sizeof *r);
	smg_widen_pipe(fd);
	smg_buf_grow(&r->in, READ_CHUNK);
	r->fd = fd;
	r->name = smg_xstrdup(strcmp(name, "-") ? name : "stdin");
	return r;
}

struct smg_reader *smg_reader_open_path(const char *path)
{
	if (!strcmp(path, "-"))
		return smg_reader_open(0, "-");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		smg_die(errno == ENOENT ? SMG_EXIT_NOTFOUND : SMG_EXIT_FAILURE,
			"%s: %s", path, strerror(errno));
	struct smg_reader *r = smg_reader_open(fd, path);
	r->own_fd = true;
	return r;
}

int smg_spool(int fd, const char *name)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return fd;
	const char *dir = getenv("TMPDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/smg-spool.XXXXXX", dir && *dir ? dir : "/tmp");
	int out = mkstemp(path);
	if (out < 0)
		smg_die(SMG_EXIT_FAILURE, "cannot make a spool file in %s: %s", path, strerror(errno));
	unlink(path);	/* gone when we are, whatever happens */
	char *buf = smg_xmalloc(READ_CHUNK);
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			smg_die(SMG_EXIT_FAILURE, "%s: read failed: %s", name, strerror(errno));
		if (n == 0)
			break;
		smg_write_all(out, buf, (size_t)n, "the spool file");
	}
	free(buf);
	if (lseek(out, 0, SEEK_SET) != 0)
		smg_die(SMG_EXIT_FAILURE, "spool file: %s", strerror(errno));
	return out;
}

bool smg_path_is_empty(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
}

bool smg_path_is_sqlite(const char *path)
{
	char magic[16];
	struct stat st;
	/* only a regular file: peeking at a pipe (/dev/fd/63 from a shell's
	 * process substitution) would eat the start of the stream */
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, magic, sizeof magic);
	close(fd);
	return n == 16 && !memcmp(magic, "SQLite format 3", 16);
}

int64_t smg_reader_line(const struct smg_reader *r)
{
	return r->line;
}

int smg_reader_fd(const struct smg_reader *r)
{
	return r->fd;
}

const char *smg_reader_name(const struct smg_reader *r)
{
	return r->name;
}

/* Forget a record's fields, freeing the name lists they hold. */
static void clear_fields(struct fields *f)
{
	smg_strings_free(f->columns, f->ncolumns);
	smg_strings_free(f->pk, f->npk);
	smg_strings_free(f->indexes, f->nindexes);
	memset(f, 0, sizeof *f);
}

void smg_reader_close(struct smg_reader *r)
{
	if (!r)
		return;
	if (r->own_fd)
		close(r->fd);
	free(r->name);
	smg_buf_free(&r->in);
	smg_table_free(r->table);
	free(r->last_table);
	free(r->prev);
	smg_buf_free(&r->prev_bytes);
	smg_buf_free(&r->scratch);
	free(r->rec.key);
	clear_fields(&r->fields);
	smg_table_free(r->building);
	free(r);
}

void smg_reader_die(const struct smg_reader *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	smg_die(SMG_EXIT_DATA, "%s:%lld: %s", r->name, (long long)r->line, msg);
}

static void fill(struct smg_reader *r)
{
	if (r->pos > 0) {
		memmove(r->in.data, r->in.data + r->pos, r->in.len - r->pos);
		r->in.len -= r->pos;
		r->pos = 0;
	}
	smg_buf_grow(&r->in, READ_CHUNK);
	ssize_t n;
	do
		n = read(r->fd, r->in.data + r->in.len, r->in.cap - r->in.len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		smg_die(SMG_EXIT_FAILURE, "%s: read failed: %s", r->name, strerror(errno));
	if (n == 0)
		r->eof = true;
	r->in.len += (size_t)n;
}

/* The next line without its '\n', or NULL at end of input. */
static const char *next_line(struct smg_reader *r, size_t *n)
{
	size_t scanned = 0;
	for (;;) {
		char *start = r->in.data + r->pos;
		size_t avail = r->in.len - r->pos;
		char *nl = avail > scanned ? memchr(start + scanned, '\n', avail - scanned) : NULL;
		if (nl) {
			*n = (size_t)(nl - start);
			r->pos += *n + 1;
			r->line++;
			return start;
		}
		if (r->eof) {
			if (avail) {
				r->line++;
				smg_reader_die(r, "last line has no newline: the stream was cut short");
			}
			return NULL;
		}
		scanned = avail;
		fill(r);
	}
}

static bool key_is(const char *k, size_t kn, const char *want)
{
	return strlen(want) == kn && !memcmp(k, want, kn);
}

static int name_index(const char *s, size_t n, const char *const *names, int count)
{
	for (int i = 0; i < count; i++)
		if (key_is(s, n, names[i]))
			return i;
	return -1;
}

static bool parse_counts(struct smg_json *j, struct smg_counts *c)
{
	static const char *const extra[] = {"upsert_local", "upsert_remote", "delete_local",
					    "delete_remote", "skipped"};
	int64_t *slots[] = {&c->upsert[0], &c->upsert[1], &c->del[0], &c->del[1], &c->skipped};
	memset(c, 0, sizeof *c);
	if (!smg_json_expect(j, '{'))
		return false;
	size_t i = 0;
	int more;
	while ((more = smg_json_next_item(j, &i, '}')) > 0) {
		const char *k;
		size_t kn;
		int64_t v;
		if (!smg_json_string(j, &k, &kn) || !smg_json_expect(j, ':') || !smg_json_int(j, &v))
			return false;
		int b = name_index(k, kn, smg_bucket_names, SMG_NBUCKETS);
		int e = name_index(k, kn, extra, 5);
		if (b >= 0)
			c->bucket[b] = v;
		else if (e >= 0)
			*slots[e] = v;
	}
	return more == 0;
}

static bool string_or_null(struct smg_json *j, const char **s, size_t *n, bool *present)
{
	smg_json_ws(j);
	if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
		j->p += 4;
		*s = NULL;
		*n = 0;
		*present = true;
		return true;
	}
	*present = true;
	return smg_json_string(j, s, n);
}

static bool parse_field(struct smg_reader *r, struct smg_json *j, const char *k, size_t kn,
			struct fields *f)
{
	struct smg_record *rec = &r->rec;
	bool dummy;
	if (key_is(k, kn, "kind"))
		return smg_json_string(j, &f->kind, &f->kind_n);
	if (key_is(k, kn, "table"))
		return smg_json_string(j, &f->table, &f->table_n);
	if (key_is(k, kn, "hash"))
		return smg_json_string(j, &f->hash, &f->hash_n);
	if (key_is(k, kn, "values")) {
		smg_json_ws(j);
		if (j->end - j->p >= 4 && !memcmp(j->p, "null", 4)) {
			j->p += 4;
			return true;
		}
		if (j->p >= j->end || *j->p != '[')
			return j->err = "\"values\" must be an array", false;
		return smg_json_skip(j, &rec->values, &rec->values_len);
	}
	if (key_is(k, kn, "key")) {
		size_t n;
		f->has_key = true;
		if (!smg_json_values(j, &rec->key, &n, &r->keycap))
			return false;
		if (!r->table || n != r->table->npk)
			return j->err = "key has the wrong number of values for the table", false;
		return true;
	}
	if (key_is(k, kn, "ts")) {
		f->has_ts = true;
		return smg_json_value(j, &rec->ts);
	}
	if (key_is(k, kn, "expect"))
		return string_or_null(j, &f->expect, &f->expect_n, &f->has_expect);
	if (key_is(k, kn, "was")) {
		smg_json_ws(j);
		if (j->p >= j->end || *j->p != '[')
			return j->err = "\"was\" must be an array", false;
		return smg_json_skip(j, &rec->was, &rec->was_len);
	}
	if (key_is(k, kn, "bucket"))
		return smg_json_string(j, &f->bucket, &f->bucket_n);
	if (key_is(k, kn, "op"))
		return smg_json_string(j, &f->op, &f->op_n);
	if (key_is(k, kn, "to"))
		return smg_json_string(j, &f->to, &f->to_n);
	if (key_is(k, kn, "records")) {
		f->has_records = true;
		return smg_json_int(j, &rec->nrecords);
	}
	if (key_is(k, kn, "counts")) {
		f->has_counts = true;
		return parse_counts(j, &rec->counts);
	}
	if (key_is(k, kn, "columns"))
		return f->has_columns = true, smg_json_strings(j, &f->columns, &f->ncolumns);
	if (key_is(k, kn, "pk"))
		return f->has_pk = true, smg_json_strings(j, &f->pk, &f->npk);
	if (key_is(k, kn, "timestamp"))
		return string_or_null(j, &f->timestamp, &f->timestamp_n, &f->has_timestamp);
	if (key_is(k, kn, "sql"))
		return string_or_null(j, &f->sql, &f->sql_n, &dummy);
	if (key_is(k, kn, "indexes"))
		return smg_json_strings(j, &f->indexes, &f->nindexes);
	if (key_is(k, kn, "tracked")) {
		smg_json_ws(j);
		size_t left = (size_t)(j->end - j->p);
		f->tracked = left >= 4 && !memcmp(j->p, "true", 4);
		if (!f->tracked && (left < 5 || memcmp(j->p, "false", 5)))
			return j->err = "\"tracked\" must be true or false", false;
		j->p += f->tracked ? 4 : 5;
		return true;
	}
	/* Unknown fields are skipped: newer writers may add some. */
	return smg_json_skip(j, NULL, NULL);
}

/* The members parse_field knows.  A record that has one twice is an error,
 * not "the last one wins": two programs could read different records. */
static const char *const record_members[] = {
	"kind", "table", "hash", "values", "key", "ts", "bucket", "op", "to", "records",
	"counts", "columns", "pk", "timestamp", "sql", "expect", "was", "indexes", "tracked",
};
#define NMEMBERS (sizeof record_members / sizeof record_members[0])

/* false if k was seen in this record already; *seen has a bit per member. */
static bool member_first_time(const char *k, size_t kn, uint32_t *seen)
{
	int m = name_index(k, kn, record_members, (int)NMEMBERS);
	if (m < 0)
		return true;	/* unknown: skipped anyway */
	if (*seen & (UINT32_C(1) << m))
		return false;
	*seen |= UINT32_C(1) << m;
	return true;
}

static void begin_table(struct smg_reader *r, struct fields *f)
{
	if (!f->table || !f->has_columns || !f->has_pk)
		smg_reader_die(r, "table record needs \"table\", \"columns\" and \"pk\"");
	char *name = smg_xstrndup(f->table, f->table_n);
	smg_table_free(r->building);
	struct smg_table *t = r->building = smg_table_new(name);
	free(name);
	if (r->last_table && strcmp(r->last_table, t->name) >= 0)
		smg_reader_die(r, "table \"%s\" comes after \"%s\": tables must be in name order "
			       "and appear once", t->name, r->last_table);
	for (size_t i = 0; i < f->ncolumns; i++)
		smg_table_add_col(t, f->columns[i]);
	for (size_t i = 0; i < f->npk; i++)
		smg_table_add_pk(t, f->pk[i]);
	if (f->sql)
		t->sql = smg_xstrndup(f->sql, f->sql_n);
	for (size_t i = 0; i < f->nindexes; i++)
		smg_table_add_index(t, f->indexes[i]);
	t->tracked = f->tracked;
	char *ts = f->timestamp ? smg_xstrndup(f->timestamp, f->timestamp_n) : NULL;
	const char *err = smg_table_finish(t, ts);
	free(ts);
	if (err)
		smg_reader_die(r, "table \"%s\": %s", t->name, err);
	smg_table_free(r->table);
	r->table = t;
	r->building = NULL;
	free(r->last_table);
	r->last_table = smg_xstrdup(t->name);
	r->have_prev = false;
}

static void remember_key(struct smg_reader *r, const struct smg_value *key, size_t n)
{
	if (n > r->prevcap) {
		r->prev = smg_xrealloc(r->prev, n * sizeof *r->prev);
		r->prevcap = n;
	}
	smg_buf_reset(&r->prev_bytes);
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (key[i].type == SMG_TEXT || key[i].type == SMG_BLOB)
			total += key[i].n;
	smg_buf_grow(&r->prev_bytes, total);	/* no realloc below: pointers stay put */
	for (size_t i = 0; i < n; i++) {
		r->prev[i] = key[i];
		if (key[i].type == SMG_TEXT || key[i].type == SMG_BLOB) {
			r->prev[i].p = r->prev_bytes.data + r->prev_bytes.len;
			smg_buf_add(&r->prev_bytes, key[i].p, key[i].n);
		}
	}
	r->have_prev = true;
}

static void check_row(struct smg_reader *r, struct fields *f)
{
	struct smg_record *rec = &r->rec;
	const char *what = rec->kind == SMG_REC_ROW ? "row" : rec->kind == SMG_REC_CHANGE ? "change"
											     : "tombstone";
	if (!r->table)
		smg_reader_die(r, "%s record before any table record", what);
	if (!f->table || f->table_n != strlen(r->table->name) ||
	    memcmp(f->table, r->table->name, f->table_n))
		smg_reader_die(r, "%s record for table \"%.*s\" inside table \"%s\"", what,
			       (int)f->table_n, f->table ? f->table : "", r->table->name);
	if (!f->has_key)
		smg_reader_die(r, "%s record without \"key\"", what);
	rec->table = r->table;
	size_t n = r->table->npk;
	if (r->have_prev && smg_key_cmp(r->prev, rec->key, n) >= 0)
		smg_reader_die(r, "key out of order in table \"%s\": rows must be in primary-key "
			       "order (ORDER BY key COLLATE BINARY), each key once", r->table->name);
	remember_key(r, rec->key, n);
}

static void finish_row(struct smg_reader *r, struct fields *f)
{
	struct smg_record *rec = &r->rec;
	check_row(r, f);
	if (!f->hash || !smg_hash_unhex(f->hash, f->hash_n, rec->hash))
		smg_reader_die(r, "row record needs \"hash\": 64 lowercase hex digits");
	rec->has_hash = true;
}

/* The fast paths' shared parts: the key array at j->p, the table's
 * number of values; and the end of a record, an optional "values" array
 * and the closing brace. */
static bool fast_key(struct smg_reader *r, struct smg_json *j)
{
	size_t nkey;
	return smg_json_values(j, &r->rec.key, &nkey, &r->keycap) && nkey == r->table->npk;
}

static bool fast_values_end(struct smg_reader *r, struct smg_json *j)
{
	static const char values_field[] = ",\"values\":";
	struct smg_record *rec = &r->rec;
	if (j->end - j->p > 10 && !memcmp(j->p, values_field, 10)) {
		j->p += 10;
		if (*j->p != '[' || !smg_json_skip(j, &rec->values, &rec->values_len))
			return false;
	}
	return j->end - j->p == 1 && *j->p == '}';
}

/* A row record exactly as smg_write_row lays it out (nearly every line of
 * a large stream), read without the general field loop.  Anything else,
 * every malformed line included, returns false and takes the general path,
 * which accepts any field order and words the errors. */
static bool parse_row_fast(struct smg_reader *r, const char *line, size_t n)
{
	static const char hash_field[] = ",\"hash\":\"", ts_field[] = ",\"ts\":";
	const struct smg_table *t = r->table;
	if (!t || n < t->row_head_len || memcmp(line, t->row_head, t->row_head_len))
		return false;
	struct smg_record *rec = &r->rec;
	const char *end = line + n;
	struct smg_json j;
	smg_json_init(&j, line, n, &r->scratch);
	j.p = line + t->row_head_len;	/* at the key's '[' */
	if (!fast_key(r, &j))
		return false;
	struct fields f = {.table = t->name, .table_n = strlen(t->name), .has_key = true};
	const size_t hn = sizeof hash_field - 1;
	if (end - j.p < (ptrdiff_t)(hn + 65) || memcmp(j.p, hash_field, hn) || j.p[hn + 64] != '"')
		return false;
	f.hash = j.p + hn;
	f.hash_n = 64;
	j.p += hn + 65;
	if (end - j.p > 6 && !memcmp(j.p, ts_field, 6)) {
		j.p += 6;
		f.has_ts = true;
		if (!smg_json_value(&j, &rec->ts))
			return false;
	}
	if (!fast_values_end(r, &j))
		return false;
	rec->kind = SMG_REC_ROW;
	finish_row(r, &f);
	return true;
}

/* "bucket", "op" and "to" of a change record into rec; false if one is
 * missing or not a name we know. */
static bool change_names(const struct fields *f, struct smg_record *rec)
{
	static const char *const ops[] = {"upsert", "delete", "tombstone"};
	int b = f->bucket ? name_index(f->bucket, f->bucket_n, smg_bucket_names, SMG_NBUCKETS) : -1;
	int op = f->op ? name_index(f->op, f->op_n, ops, 3) : -1;
	int to = f->to ? name_index(f->to, f->to_n, smg_side_names, 2) : -1;
	if (b < 0 || op < 0 || to < 0)
		return false;
	rec->bucket = (enum smg_bucket)b;
	rec->op = (enum smg_op)op;
	rec->to = (enum smg_side)to;
	return true;
}

/* "expect": absent, null, or the 64 hex digits of a row hash. */
static bool change_expect(const struct fields *f, struct smg_record *rec)
{
	if (!f->has_expect)
		rec->expect = SMG_EXPECT_UNKNOWN;
	else if (!f->expect)
		rec->expect = SMG_EXPECT_ABSENT;
	else if (smg_hash_unhex(f->expect, f->expect_n, rec->expect_hash))
		rec->expect = SMG_EXPECT_HASH;
	else
		return false;
	return true;
}

/* A tombstone's "ts" is the time of the delete: it must be one. */
static void check_tombstone(struct smg_reader *r, struct fields *f, const char *what)
{
	int64_t us;
	if (!r->table->tracked)
		smg_reader_die(r, "%s for table \"%s\", which its table record does not say is "
			       "tracked", what, r->table->name);
	if (!f->has_ts || !smg_ts_parse(&r->rec.ts, &us))
		smg_reader_die(r, "%s needs \"ts\": the time of the delete", what);
	if (r->rec.values)
		smg_reader_die(r, "%s with \"values\"", what);
}

static void finish_tombstone(struct smg_reader *r, struct fields *f)
{
	check_row(r, f);
	check_tombstone(r, f, "tombstone record");
}

static void finish_change(struct smg_reader *r, struct fields *f)
{
	struct smg_record *rec = &r->rec;
	check_row(r, f);
	if (!change_names(f, rec))
		smg_reader_die(r, "change record needs \"bucket\", \"op\" (upsert|delete|tombstone) "
			       "and \"to\" (local|remote)");
	if (!change_expect(f, rec))
		smg_reader_die(r, "\"expect\" must be null or a row hash: 64 lowercase hex digits");
	if (rec->op == SMG_OP_DELETE && rec->expect == SMG_EXPECT_ABSENT)
		smg_reader_die(r, "a delete cannot expect the row to be absent");
	if (rec->was && rec->expect != SMG_EXPECT_HASH)
		smg_reader_die(r, "\"was\" needs \"expect\" to be the hash of that row");
	if (rec->op == SMG_OP_UPSERT && !rec->values)
		smg_reader_die(r, "upsert without \"values\"");
	if (rec->op == SMG_OP_TOMBSTONE)
		check_tombstone(r, f, "tombstone change");
}

/* ,"expect":null or ,"expect":"<64 hex>" as the writer lays it out, or
 * nothing (an older writer). */
static bool fast_expect(struct smg_reader *r, struct smg_json *j)
{
	static const char null_field[] = ",\"expect\":null", hash_field[] = ",\"expect\":\"";
	struct smg_record *rec = &r->rec;
	ptrdiff_t left = j->end - j->p;
	rec->expect = SMG_EXPECT_UNKNOWN;
	if (left >= 14 && !memcmp(j->p, null_field, 14)) {
		j->p += 14;
		rec->expect = SMG_EXPECT_ABSENT;
		return rec->op == SMG_OP_UPSERT;
	}
	if (left >= 11 && !memcmp(j->p, hash_field, 11)) {
		if (left < 11 + 65 || j->p[11 + 64] != '"' ||
		    !smg_hash_unhex(j->p + 11, 64, rec->expect_hash))
			return false;
		j->p += 11 + 65;
		rec->expect = SMG_EXPECT_HASH;
	}
	return true;
}

static bool fast_was(struct smg_reader *r, struct smg_json *j)
{
	static const char was_field[] = ",\"was\":[";
	if (j->end - j->p < 8 || memcmp(j->p, was_field, 8))
		return true;
	j->p += 7;
	return r->rec.expect == SMG_EXPECT_HASH && smg_json_skip(j, &r->rec.was, &r->rec.was_len);
}

/* A change record exactly as smg_write_change lays it out: the same
 * bargain as parse_row_fast, for smg-apply. */
static bool parse_change_fast(struct smg_reader *r, const char *line, size_t n)
{
	static const char op_field[] = "\",\"op\":\"", to_field[] = "\",\"to\":\"",
			  key_field[] = "\",\"key\":";
	const struct smg_table *t = r->table;
	if (!t || n < t->change_head_len || memcmp(line, t->change_head, t->change_head_len))
		return false;
	struct smg_record *rec = &r->rec;
	const char *p = line + t->change_head_len, *end = line + n, *q;
	struct fields f = {.table = t->name, .table_n = strlen(t->name), .has_key = true};
	/* "bucket", "op" and "to" hold plain names: up to the next quote */
	if (!(q = memchr(p, '"', (size_t)(end - p))))
		return false;
	f.bucket = p, f.bucket_n = (size_t)(q - p), p = q;
	if (end - p < 8 || memcmp(p, op_field, 8) || !(q = memchr(p + 8, '"', (size_t)(end - p - 8))))
		return false;
	f.op = p + 8, f.op_n = (size_t)(q - p - 8), p = q;
	if (end - p < 8 || memcmp(p, to_field, 8) || !(q = memchr(p + 8, '"', (size_t)(end - p - 8))))
		return false;
	f.to = p + 8, f.to_n = (size_t)(q - p - 8), p = q;
	/* a name with an escape in it is for the general path to decode */
	if (!change_names(&f, rec))
		return false;
	if (end - p < 9 || memcmp(p, key_field, 8) || p[8] != '[')
		return false;
	struct smg_json j;
	smg_json_init(&j, line, n, &r->scratch);
	j.p = p + 8;
	/* an upsert without values is for the general path to refuse */
	if (!fast_key(r, &j) || !fast_expect(r, &j) || !fast_was(r, &j) || !fast_values_end(r, &j) ||
	    (rec->op == SMG_OP_UPSERT && !rec->values))
		return false;
	rec->kind = SMG_REC_CHANGE;
	check_row(r, &f);
	return true;
}

static void classify(struct smg_reader *r, struct fields *f)
{
	static const char *const kinds[] = {"table", "row", "change", "summary", "end",
					    "tombstone"};
	struct smg_record *rec = &r->rec;
	int k = f->kind ? name_index(f->kind, f->kind_n, kinds, 6) : -1;
	if (k < 0)
		smg_reader_die(r, "record without a known \"kind\" (table, row, tombstone, change, "
			       "summary, end)");
	rec->kind = (enum smg_kind)k;
	switch (rec->kind) {
	case SMG_REC_TABLE:
		begin_table(r, f);
		rec->table = r->table;
		break;
	case SMG_REC_ROW:
		finish_row(r, f);
		break;
	case SMG_REC_CHANGE:
		finish_change(r, f);
		break;
	case SMG_REC_TOMBSTONE:
		finish_tombstone(r, f);
		break;
	case SMG_REC_SUMMARY:
		if (!f->table || !f->has_counts)
			smg_reader_die(r, "summary record needs \"table\" and \"counts\"");
		break;
	case SMG_REC_END:
		if (!f->has_records)
			smg_reader_die(r, "end record needs \"records\"");
		if (rec->nrecords != r->nrecords)
			smg_reader_die(r, "end record counts %lld records but %lld came before it: "
				       "lines were lost", (long long)rec->nrecords,
				       (long long)r->nrecords);
		r->ended = true;
		break;
	}
}

/* The parts of a record that are absent until a line sets them. */
static void clear_record(struct smg_reader *r)
{
	r->rec.values = NULL;
	r->rec.values_len = 0;
	r->rec.was = NULL;
	r->rec.was_len = 0;
	r->rec.has_hash = false;
	r->rec.ts.type = SMG_NULL;
	smg_buf_reset(&r->scratch);
}

static void parse_record(struct smg_reader *r, const char *line, size_t n)
{
	struct fields *f = &r->fields;
	struct smg_json j;
	clear_record(r);
	if (parse_row_fast(r, line, n) || parse_change_fast(r, line, n))
		return;
	clear_record(r);	/* the fast path may have got part way */
	clear_fields(f);
	smg_json_init(&j, line, n, &r->scratch);
	if (!smg_json_expect(&j, '{'))
		goto bad;
	size_t i = 0;
	int more;
	uint32_t seen = 0;
	while ((more = smg_json_next_item(&j, &i, '}')) > 0) {
		const char *k;
		size_t kn;
		if (!smg_json_string(&j, &k, &kn) || !smg_json_expect(&j, ':'))
			goto bad;
		if (!member_first_time(k, kn, &seen))
			smg_reader_die(r, "malformed record: member \"%.*s\" appears twice", (int)kn, k);
		if (!parse_field(r, &j, k, kn, f))
			goto bad;
	}
	if (more < 0)
		goto bad;
	smg_json_ws(&j);
	if (j.p != j.end) {
		j.err = "text after the record";
		goto bad;
	}
	classify(r, f);
	clear_fields(f);
	return;
bad:
	smg_reader_die(r, "malformed record at column %ld: %s", (long)(j.p - line) + 1,
		       j.err ? j.err : "syntax error");
}

const struct smg_record *smg_reader_next(struct smg_reader *r)
{
	for (;;) {
		size_t n;
		const char *line = next_line(r, &n);
		if (!line) {
			if (!r->ended)
				smg_reader_die(r, "no end record: the stream was cut short (did an "
					       "upstream stage fail?)");
			return NULL;
		}
		if (n == 0)
			continue;
		if (r->ended)
			smg_reader_die(r, "data after the end record");
		r->linep = line;
		parse_record(r, line, n);
		if (r->rec.kind == SMG_REC_END)
			continue;	/* then expect end of input */
		r->nrecords++;
		return &r->rec;
	}
}

void smg_reader_values(struct smg_reader *r, const struct smg_record *rec,
		       struct smg_value **vals, size_t *cap)
{
	struct smg_json j;
	size_t n;
	if (!rec->values)
		smg_reader_die(r, "record has no \"values\" (a keys-only stream cannot be applied)");
	/* scratch holds this record's decoded key: append, do not reset */
	smg_buf_grow(&r->scratch, rec->values_len + 8);
	j.p = j.start = rec->values;
	j.end = rec->values + rec->values_len;
	j.err = NULL;
	j.scratch = &r->scratch;
	if (!smg_json_values(&j, vals, &n, cap))
		smg_reader_die(r, "bad \"values\": %s", j.err);
	if (n != rec->table->ncols)
		smg_reader_die(r, "table \"%s\" has %zu columns but the record has %zu values",
			       rec->table->name, rec->table->ncols, n);
}
