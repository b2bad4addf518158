/*
 * profile.h - how to speak to an HTTP SQL endpoint: where to send SQL and
 * its parameters, in what body, with which headers, where the rows and the
 * errors are in the answer, and the endpoint's limits.
 *
 * A profile is data, not code: the built-in ones (d1, turso, rqlite,
 * datasette, sqlite-cloud, starbasedb, generic) are tables of the same
 * fields a config file can set under [target.profile_options], so a new
 * service is a config change.  smg-fetch --show-profile prints the profile
 * in effect in that form.
 *
 * Templates.  A template is text with placeholders in braces; a brace that
 * does not open a known placeholder is copied as is, so JSON templates need
 * no escaping.  Placeholders:
 *   url, body of a POST:  {url} {endpoint} {account} {database} {token}
 *                         ({account} {database} {token} percent-encoded in url)
 *   url of a GET:         {query}: sql=...&NAME=... for the one statement
 *   body:                 {statements} (joined by separator), {n} and {n+K}
 *   statement:            {sql} (a JSON string), {params} ("p1,p2"),
 *                         {,params} (",p1,p2"), {i} and {i+K} (0-based index)
 *   param_text, _real, _null: {} is the JSON value (string, number, null)
 *   param_blob:           {} is the blob's base64 as a JSON string
 *   url, version_url:     {version}, the protocol version in use
 *   placeholder:          {n} is the 1-based parameter number
 *   rows, errors, ok paths: {i} {i+K} as in statement
 *   results_count:        {n} {n+K}, n the statements of the request
 * A header whose template holds {token} is not sent when there is no token.
 *
 * Paths name a value in a JSON answer: members and array indexes joined by
 * dots, e.g. "result.{i}.results.rows".  {n} and {n+K} in a path are the
 * statements of the request.
 */
#ifndef SMG_PROFILE_H
#define SMG_PROFILE_H

#include "smg.h"
#include "toml.h"

#include <stdio.h>

#define SMG_PROFILE_MAX_HEADERS 8
#define SMG_PROFILE_MAX_ERRORS 4
#define SMG_PROFILE_MAX_LIST 8	/* ok, transient, exit_codes */

struct smg_http_profile {
	const char *name;
	/* the request */
	const char *url;
	const char *method;		/* POST, or GET: one statement in {query} */
	const char *headers[SMG_PROFILE_MAX_HEADERS + 1];	/* NULL-terminated */
	const char *body;
	const char *statement;
	const char *separator;
	const char *placeholder;
	const char *param_text, *param_real, *param_null;
	const char *param_blob;		/* a blob parameter, {} its base64 ("": blobs go as hex) */
	const char *batch_prefix;	/* a statement sent first in every write batch */
	/* the answer */
	const char *rows;		/* array of rows, each an array (or an object keyed c0, c1, ...) */
	const char *errors[SMG_PROFILE_MAX_ERRORS + 1];	/* first non-null one is the error */
	const char *cell;		/* member holding the value when a cell is an object */
	const char *truncated;		/* true there: the server cut the page short */
	/* the shape every answer must have, else it is not believed */
	const char *results;		/* array with one result per statement ("": not checked) */
	const char *results_count;	/* its length: a template of {n}, e.g. "{n}", "{n+3}" */
	const char *ok[SMG_PROFILE_MAX_LIST + 1];	/* paths that are true ("path=word": equal word,
							   "path=[]": an array) */
	bool rows_optional;		/* a result without rows has none (rqlite) */
	const char *values;		/* "hrana": cells are Hrana values; "": tagged SQL */
	/* protocol versions, newest first: the first one whose version_url
	 * answers a GET with 2xx fills {version} (unprobed: the last) */
	const char *versions[SMG_PROFILE_MAX_LIST + 1];
	const char *version_url;
	/* retries and exit codes */
	const char *error_code;		/* path of the endpoint's error code */
	const char *transient[SMG_PROFILE_MAX_LIST + 1];	/* error words that are worth a retry */
	const char *exit_codes[SMG_PROFILE_MAX_LIST + 1];	/* "CODE=EXIT": error code to exit status */
	bool final_500;			/* an error at errors under HTTP 500 is final (not retried) */
	/* limits and abilities */
	long max_params;		/* bound parameters per statement */
	long max_statement_bytes;	/* SQL text of one statement */
	long max_statements;		/* statements per request (batch_prefix aside) */
	long max_request_bytes;		/* body of one request */
	long max_value_bytes;		/* one text or blob, and one row */
	long page_rows;			/* rows per read */
	bool atomic;			/* a request is one transaction */
	bool read_only;
	/* may be used if the endpoint has them: probed once per run
	 * (remote-fetch.c), false once the probe finds them missing */
	bool neg_zero;			/* atan2(), so -0.0 reads with its sign */
	bool unhex;			/* unhex() (SQLite >= 3.41) */
};

/* Built-in profile names, NULL-terminated. */
extern const char *const smg_profile_builtins[];

/*
 * Fill p from the built-in profile name (NULL or "": generic), then from
 * the options table (NULL: none; file names it in messages).  Unknown
 * options are warnings.  Returns 0, or SMG_EXIT_USAGE with the message in
 * err.  Strings point into static data or into the options' document.
 */
int smg_profile_load(struct smg_http_profile *p, const char *name,
		     const struct smg_toml_node *options, const char *file,
		     char *err, size_t errlen);

/* Print the profile as the [target.profile_options] table that makes it. */
void smg_profile_print(const struct smg_http_profile *p, FILE *out);

/* ---- templates ------------------------------------------------------- */

struct smg_tvar {
	const char *name;
	const char *value;
	size_t len;
	bool urlencode;
};

/* Append tmpl expanded with vars; i and n serve {i}, {i+K}, {n}, {n+K}. */
void smg_template_expand(struct smg_buf *out, const char *tmpl,
			 const struct smg_tvar *vars, size_t nvars, long i, long n);
bool smg_template_has(const char *tmpl, const char *name);
/* Append p[0..n) percent-encoded (RFC 3986 unreserved characters kept). */
void smg_url_encode(struct smg_buf *out, const char *p, size_t n);

/* ---- reading answers --------------------------------------------------- */

/* Skip one JSON value at *p (whitespace before it too); false if malformed. */
bool smg_jskip(const char **p, const char *end);
/* The value at path in json[0..len) ({i} {i+K} replaced by i); false if absent
 * or malformed. */
bool smg_jpath(const char *json, size_t len, const char *path, long i,
	       const char **val, size_t *vlen);
/* The value at path in a parsed answer; false if absent (*val is then
 * NULL, as it is for a JSON null that is present). */
struct json_object;
bool smg_jc_path(struct json_object *root, const char *path, long i, struct json_object **val);
/* Member name of the object obj[0..len). */
bool smg_jmember(const char *obj, size_t len, const char *name,
		 const char **val, size_t *vlen);

/* Iterate the elements of a JSON array. */
struct smg_jiter {
	const char *p, *end;
	bool first, bad;
};
/* false if raw is not an array. */
bool smg_jarray(struct smg_jiter *it, const char *raw, size_t len);
/* Next element, or false at the end (it->bad when malformed). */
bool smg_jnext(struct smg_jiter *it, const char **elem, size_t *elen);

#endif
