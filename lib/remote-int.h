/*
 * remote-int.h - what the pieces of the remote code share, for lib/remote*.c
 * only: the connection and its requests (remote.c), SQL values and tagged
 * cells (remote-sql.c), the endpoint's schema (remote-fetch.c).  Writing
 * is remote-apply.c.  Programs use remote.h.
 */
#ifndef SMG_REMOTE_INT_H
#define SMG_REMOTE_INT_H

#include "remote.h"

/* ---- remote.c: the connection and its requests ---------------------------- */

/* Bound parameters of one statement; SQL marks each with \x01. */
struct param {
	char kind;		/* 't': text (a JSON string); 'b': a blob (param_blob) */
	size_t off, len;	/* raw bytes in the owner's data */
};

struct params {
	struct smg_buf data;
	struct param *v;
	size_t n, cap;
};

void remote_params_reset(struct params *p);
void remote_params_free(struct params *p);
void remote_params_add(struct params *p, char kind, const char *s, size_t n);

struct smg_remote {
	const struct smg_target *t;
	const struct smg_http_profile *p;
	struct smg_http *http;
	struct smg_kvlist headers;
	bool verbose;
	int64_t requests;
	struct smg_http_response resp;
	struct smg_buf body, stmts, query, sqlbuf, url;
	long nstmts;		/* statements in the request being built */
	struct json_object *answer;	/* the last answer, parsed (json-c) */
	struct smg_tvar vars[6];
	size_t nvars;
	struct smg_http_profile prof;	/* p: the target's, as the probes found it */
	bool probed;		/* the functions the profile may use */
	bool version_probed;
	long sending;		/* statements of the request being sent */
};

/* Why a request failed. */
struct failure {
	int code;
	char msg[512];
	bool maybe_landed;
};

/* Bytes of sql once its \x01 marks are the profile's placeholders, the
 * first numbered first + 1. */
size_t remote_expanded_len(const struct smg_http_profile *p, const char *sql, size_t n, long first);
/* Render one statement of a POST (its JSON) or the query of a GET. */
void remote_render_statement(struct smg_remote *r, struct smg_buf *out, const char *sql,
			     size_t sqllen, const struct params *ps, long index);
/* Start a new request; add a statement to it. */
void remote_req_reset(struct smg_remote *r);
void remote_req_add(struct smg_remote *r, const char *sql, size_t sqllen, const struct params *ps);
/* The newest protocol version of the profile's list the endpoint offers,
 * into {version}; once per run.  Dies when it offers none. */
void remote_probe_version(struct smg_remote *r);
/* Send the request built so far; the answer stays in r->resp.body, parsed
 * in r->answer, and has the shape its profile promises. */
bool remote_send(struct smg_remote *r, struct failure *f);
void remote_send_or_die(struct smg_remote *r);
/* Where statement i's rows are in body, the text of the last answer: an
 * array of arrays or objects where the profile says, else exit 7 naming
 * what (e.g. "table \"t\""), never an empty array. */
void remote_answer_rows(struct smg_remote *r, const char *body, size_t len, long i,
			const char *what, const char **rows, size_t *rowslen);
/* The same, false with what is wrong in why instead of exiting. */
bool remote_find_rows(struct smg_remote *r, const char *body, size_t len, long i,
		      const char **rows, size_t *rowslen, char *why, size_t whylen);
/* Does the last answer say it holds fewer rows than the query found? */
bool remote_answer_truncated(struct smg_remote *r);

/* ---- remote-sql.c: values into SQL and out of answers ----------------------- */

/* Text and blobs longer than this travel in pieces of this many bytes: as
 * hex, a piece stays within D1's 2,000,000-byte limit on any one string,
 * which hex(c) or unhex(?) of a whole long value would pass. */
#define REMOTE_PIECE_BYTES 500000

/* Append n bytes as upper-case hex; decode hex in place (false if it is not). */
void remote_add_hex(struct smg_buf *b, const char *p, size_t n);
bool remote_unhex(char *p, size_t n, size_t *out);
/* " WHERE k1 IS v1 AND ...": the row with the key in vals (every column). */
void remote_key_match(const struct smg_http_profile *p, struct smg_buf *sql, struct params *ps,
		      const struct smg_table *t, const struct smg_value *vals);
/* The key in vals as in the stream ("[1,\"a\"]"), long text cut, for messages. */
void remote_key_text(struct smg_buf *b, const struct smg_table *t, const struct smg_value *vals);

/* Append v to sql as SQL that gives back exactly v, a literal or a
 * parameter in ps (literal_only: text and blobs as literals too). */
void remote_sql_value(const struct smg_http_profile *p, struct smg_buf *sql, struct params *ps,
		      const struct smg_value *v, bool literal_only);
/* One tagged result column (alias c<idx>) for table column col; for a
 * profile with Hrana values, the column as a Hrana value can carry it. */
void remote_tagged_column(const struct smg_http_profile *p, struct smg_buf *sql, const char *col,
			  size_t idx);
/* One tagged cell into v, decoded in place; an error message or NULL.  A
 * text or blob longer than REMOTE_PIECE_BYTES comes as its length only:
 * v->p is NULL, v->n its bytes, to be read in pieces. */
const char *remote_decode_tagged(const struct smg_http_profile *p, const char *raw, size_t len,
				 struct smg_value *v);
/* One cell of a row read with remote_tagged_column into v: tagged as
 * above, or a Hrana value decoded into scratch (kept until its reset). */
const char *remote_decode_cell(const struct smg_http_profile *p, const char *raw, size_t len,
			       struct smg_value *v, struct smg_buf *scratch);
/* A plain cell as text (NULL for null); malloc'd. */
char *remote_cell_text(const struct smg_http_profile *p, const char *raw, size_t len);
/* The cells of a row, an array or an object keyed c0, c1, ...: how many,
 * up to n (n + 1 when an array has more). */
size_t remote_row_cells(const char *row, size_t rowlen, size_t n, const char **cell,
			size_t *cell_len, bool *bad);

/* ---- remote-fetch.c: the endpoint's schema ---------------------------------- */

/* Tables of the endpoint: every column, the key, and which key columns
 * compare with a collation other than BINARY. */
struct rtable {
	struct smg_table *t;	/* all writable columns; finish()ed without a timestamp */
	char **nonbinary;
	size_t nnonbinary;
	int *col_pk;		/* pk position (1-based) of each column of t, 0 if none */
};

struct schema {
	struct rtable *v;
	size_t n;
};

void remote_schema_load(struct smg_remote *r, struct schema *s);
void remote_schema_free(struct schema *s);
struct rtable *remote_schema_find(struct schema *s, const char *name);
/* "a, b, c" or "(none)", for messages; malloc'd. */
char *remote_schema_names(const struct schema *s);

#endif
