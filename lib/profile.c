/*
 * profile.c - HTTP SQL endpoint profiles (see profile.h): the built-in
 * ones, loading overrides from the config, templates, and the small JSON
 * navigation the answers need.
 */
#include "profile.h"

#include <json-c/json.h>
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

const char *const smg_profile_builtins[] = {
	"d1", "turso", "rqlite", "datasette", "sqlite-cloud", "starbasedb", "generic", NULL,
};

#define JSON_HEADERS "Authorization: Bearer {token}", "Content-Type: application/json"

/* Limits of SQLite built with its defaults. */
#define SQLITE_DEFAULTS .max_params = 32766, .max_statement_bytes = 1000000, \
	.max_request_bytes = 8000000, .max_value_bytes = 1000000000, .page_rows = 1000

static const struct smg_http_profile builtins[] = {
	{
		/* Cloudflare's REST API (the /raw form keeps every column: see
		 * tests/d1/FIDELITY.md) with its documented limits. */
		.name = "d1",
		.url = "{endpoint}/client/v4/accounts/{account}/d1/database/{database}/raw",
		.method = "POST",
		.headers = {JSON_HEADERS},
		.body = "{\"batch\":[{statements}]}",
		.statement = "{\"sql\":{sql},\"params\":[{params}]}",
		.rows = "result.{i}.results.rows",
		.errors = {"errors.0.message", "result.{i}.error"},
		.results = "result", .results_count = "{n}",
		.ok = {"success", "result.{i}.success"},
		/* Cloudflare's codes (smg-fetch(1), Retries): 10000 authentication
		 * error, 7403 account not valid or not authorized, 7003 and 7404
		 * no such account or database, 7400 a malformed request or id.
		 * 7500 is both SQLite's errors and D1's internal ones: the words
		 * tell them apart. */
		.error_code = "errors.0.code",
		.exit_codes = {"10000=5", "7403=5", "7003=3", "7404=3", "7400=2"},
		.transient = {"internal error", "overloaded", "Network connection lost",
			      "object to be reset", "exceeded timeout", "consider throttling"},
		/* D1 enforces foreign keys.  Tables go parents first (see
		 * run_batches in remote.c); deferring the checks to the commit
		 * covers a row before the row of its own table it refers to */
		.batch_prefix = "PRAGMA defer_foreign_keys = ON",
		.max_params = 100, .max_statement_bytes = 100000, .max_statements = 100,
		.max_request_bytes = 8000000, .max_value_bytes = 2000000, .page_rows = 2000,
		.atomic = true,
	},
	{
		/* libsql's Hrana over HTTP (tursodatabase/libsql
		 * docs/HRANA_3_SPEC.md, "Hrana over HTTP"): /v3/pipeline where
		 * GET /v3 answers 2xx, else /v2/pipeline.  One "batch" request:
		 * BEGIN, the statements, each run only when the step before it
		 * succeeded, COMMIT, and a ROLLBACK when the COMMIT did not run
		 * (what @libsql/client does); believed only when the COMMIT's
		 * result is there.  Values are Hrana's own ("Values"): blobs go
		 * as base64, cells are read typed (remote-sql.c). */
		.name = "turso",
		.url = "{url}/{version}/pipeline",
		.versions = {"v3", "v2"},
		.version_url = "{url}/{version}",
		.method = "POST",
		.headers = {JSON_HEADERS},
		.body = "{\"baton\":null,\"requests\":[{\"type\":\"batch\",\"batch\":{\"steps\":["
			"{\"stmt\":{\"sql\":\"BEGIN\"}},{statements},"
			"{\"stmt\":{\"sql\":\"COMMIT\"},\"condition\":{\"type\":\"ok\",\"step\":{n}}},"
			"{\"stmt\":{\"sql\":\"ROLLBACK\"},\"condition\":{\"type\":\"not\",\"cond\":"
			"{\"type\":\"ok\",\"step\":{n+1}}}}]}},{\"type\":\"close\"}]}",
		.statement = "{\"stmt\":{\"sql\":{sql},\"args\":[{params}]},"
			     "\"condition\":{\"type\":\"ok\",\"step\":{i}}}",
		.param_text = "{\"type\":\"text\",\"value\":{}}",
		.param_real = "{\"type\":\"float\",\"value\":{}}",
		.param_null = "{\"type\":\"null\"}",
		.param_blob = "{\"type\":\"blob\",\"base64\":{}}",
		.rows = "results.0.response.result.step_results.{i+1}.rows",
		.errors = {"results.0.error.message",
			   "results.0.response.result.step_errors.0.message",
			   "results.0.response.result.step_errors.{i+1}.message",
			   "results.0.response.result.step_errors.{n+1}.message"},
		.results = "results.0.response.result.step_results", .results_count = "{n+3}",
		.ok = {"results.0.type=ok", "results.0.response.type=batch",
		       "results.0.response.result.step_results.{n+1}.rows=[]"},
		.cell = "value",
		.values = "hrana",
		SQLITE_DEFAULTS, .max_statements = 100, .atomic = true,
	},
	{
		/* rqlite's unified endpoint (rqlite.io/docs/api/api): results
		 * holds one object per statement, "values" only when rows came
		 * back, "error" for a statement that failed; ?transaction makes
		 * the request all or nothing and stops at the first error, so
		 * the results end there.  Credentials go in the URL. */
		.name = "rqlite",
		.url = "{url}/db/request?transaction",
		.method = "POST",
		.headers = {"Content-Type: application/json"},
		.body = "[{statements}]",
		.statement = "[{sql}{,params}]",
		.rows = "results.{i}.values",
		.errors = {"results.{i}.error", "error"},
		.results = "results", .results_count = "{n}", .rows_optional = true,
		SQLITE_DEFAULTS, .max_statements = 100, .atomic = true,
	},
	{
		/* Datasette's JSON API (docs/json_api.rst, docs/sql_queries.rst):
		 * read-only, one statement per GET, named parameters, at most
		 * max_returned_rows (1000) rows, "truncated" when there were more;
		 * an error is "error" (HTTP 400).  No "ok" check: 0.x answers a
		 * query without one. */
		.name = "datasette",
		.url = "{url}.json?{query}&_shape=arrays",
		.method = "GET",
		.headers = {"Authorization: Bearer {token}"},
		.placeholder = ":p{n}",
		.rows = "rows",
		.errors = {"error"},
		.truncated = "truncated",
		SQLITE_DEFAULTS, .max_statements = 1, .read_only = true,
	},
	{
		/* SQLite Cloud's Weblite SQL endpoint, one statement per request:
		 * rows in "data" as objects keyed by column (docs.sqlitecloud.io/
		 * docs/weblite); "bind" and "error.detail" as SQLite Cloud's own
		 * driver uses them (sqlitecloud-js, transport-ws.ts).  Not tried
		 * against the service: adjust with profile_options. */
		.name = "sqlite-cloud",
		.url = "{url}/v2/weblite/sql",
		.method = "POST",
		.headers = {JSON_HEADERS},
		/* {database} is a variable of the body, not of a statement */
		.body = "{{statements},\"database\":\"{database}\"}",
		.statement = "\"sql\":{sql},\"bind\":[{params}]",
		.rows = "data",
		.errors = {"error.detail", "error.message", "error"},
		SQLITE_DEFAULTS, .max_statements = 1, .atomic = true,
	},
	{
		/* StarbaseDB (SQLite in a Durable Object): /query/raw with
		 * {"transaction":[...]} answers {"result":[{"columns","rows",
		 * "meta"}, ...]}, one per statement, or {"error":"..."} with
		 * HTTP 500 (src/handler.ts, src/utils.ts, src/do.ts).  Its
		 * "transaction" runs the statements one by one, each committed
		 * on its own, and stops at the first error: not atomic.
		 * Durable Object SQLite's limits. */
		.name = "starbasedb",
		.url = "{url}/query/raw",
		.method = "POST",
		.headers = {JSON_HEADERS},
		.body = "{\"transaction\":[{statements}]}",
		.statement = "{\"sql\":{sql},\"params\":[{params}]}",
		.rows = "result.{i}.rows",
		.errors = {"error"},
		.results = "result", .results_count = "{n}",
		.batch_prefix = "PRAGMA defer_foreign_keys = ON",
		/* SQL errors too come under HTTP 500: final, exit 7 */
		.final_500 = true,
		.max_params = 100, .max_statement_bytes = 100000, .max_statements = 100,
		.max_request_bytes = 8000000, .max_value_bytes = 2000000, .page_rows = 1000,
		.atomic = false,
	},
	{
		/* D1's request shape at any URL: the starting point for a new
		 * service. */
		.name = "generic",
		.url = "{url}",
		.method = "POST",
		.headers = {JSON_HEADERS},
		.body = "{\"batch\":[{statements}]}",
		.statement = "{\"sql\":{sql},\"params\":[{params}]}",
		.rows = "result.{i}.results.rows",
		.errors = {"errors.0.message", "error"},
		.results = "result", .results_count = "{n}", .ok = {"success"},
		SQLITE_DEFAULTS, .max_statements = 100, .atomic = true,
	},
};

/* ---- fields, for loading and printing ---------------------------------- */

enum ftype { F_STR, F_LIST, F_LONG, F_BOOL };

struct field {
	const char *name;
	enum ftype type;
	size_t off;
	size_t max;	/* list capacity */
	const char *doc;
};

#define FS(n, d) {#n, F_STR, offsetof(struct smg_http_profile, n), 0, d}
#define FL(n, m, d) {#n, F_LIST, offsetof(struct smg_http_profile, n), m, d}
#define FN(n, d) {#n, F_LONG, offsetof(struct smg_http_profile, n), 0, d}
#define FB(n, d) {#n, F_BOOL, offsetof(struct smg_http_profile, n), 0, d}

static const struct field fields[] = {
	FS(url, "request URL: {url} {endpoint} {account} {database} {token} {query}"),
	FS(method, "POST, or GET (one statement per request, sent in {query})"),
	FL(headers, SMG_PROFILE_MAX_HEADERS, "\"Name: value\"; skipped when it needs {token} and there is none"),
	FS(body, "request body: {statements} joined by separator, {n}"),
	FS(statement, "one statement: {sql} {params} {,params} {i} {i+1}"),
	FS(separator, "between statements"),
	FS(placeholder, "SQL placeholder of parameter {n}"),
	FS(param_text, "a text parameter: {} is a JSON string"),
	FS(param_real, "a real parameter: {} is a JSON number (unused: reals go as exact SQL)"),
	FS(param_null, "a null parameter"),
	FS(param_blob, "a blob parameter: {} is its base64 as a JSON string (\"\": blobs go as hex)"),
	FS(batch_prefix, "a statement sent first in every write batch (or \"\")"),
	FS(rows, "path of statement {i}'s rows in the answer"),
	FL(errors, SMG_PROFILE_MAX_ERRORS, "paths of an error message in the answer"),
	FS(cell, "member holding a cell's value when cells are objects"),
	FS(truncated, "path that is true when the server cut a page short"),
	FS(results, "path of the array of statement results, one per statement"),
	FS(results_count, "their number: {n} (statements sent), {n+K}"),
	FL(ok, SMG_PROFILE_MAX_LIST, "paths that are true in every answer (\"path=word\": equal word, \"path=[]\": an array)"),
	FB(rows_optional, "a statement result without rows has none"),
	FS(values, "\"hrana\": cells are Hrana values; \"\": tagged SQL values (hex)"),
	FL(versions, SMG_PROFILE_MAX_LIST, "protocol versions for {version}, newest first (probed)"),
	FS(version_url, "GET it with {version}: 2xx means the version is offered"),
	FS(error_code, "path of the endpoint's error code"),
	FL(transient, SMG_PROFILE_MAX_LIST, "words of an error worth retrying"),
	FL(exit_codes, SMG_PROFILE_MAX_LIST, "\"CODE=EXIT\": an error code's exit status"),
	FB(final_500, "an error at the errors paths under HTTP 500, not in transient words, is final"),
	FN(max_params, "bound parameters per statement"),
	FN(max_statement_bytes, "bytes of SQL per statement"),
	FN(max_statements, "statements per request"),
	FN(max_request_bytes, "bytes per request body"),
	FN(max_value_bytes, "bytes of one text or blob value, and of a row's values together"),
	FN(page_rows, "rows read per statement"),
	FB(atomic, "a request is one transaction"),
	FB(read_only, "the endpoint cannot write"),
	FB(neg_zero, "atan2() may be used, if the probe finds it, so -0.0 reads with its sign"),
	FB(unhex, "unhex() may be used, if the probe finds it (SQLite >= 3.41); else blobs are X'..' literals"),
};

#define NFIELDS (sizeof fields / sizeof fields[0])

static void *at(struct smg_http_profile *p, const struct field *f)
{
	return (char *)p + f->off;
}

static const void *cat(const struct smg_http_profile *p, const struct field *f)
{
	return (const char *)p + f->off;
}

static int bad(char *err, size_t errlen, const char *file, const struct smg_toml_node *n,
	       const char *fmt, const char *a, const char *b)
{
	char msg[300];
	snprintf(msg, sizeof msg, fmt, a, b);
	if (err && errlen)
		snprintf(err, errlen, "%s:%d:%d: %s", file ? file : "config", n->line, n->col, msg);
	return SMG_EXIT_USAGE;
}

int smg_profile_load(struct smg_http_profile *p, const char *name,
		     const struct smg_toml_node *options, const char *file,
		     char *err, size_t errlen)
{
	if (!name || !*name)
		name = "generic";
	size_t k = 0;
	for (; smg_profile_builtins[k] && strcmp(smg_profile_builtins[k], name); k++)
		;
	if (!smg_profile_builtins[k]) {
		if (err && errlen)
			snprintf(err, errlen, "unknown profile \"%s\" (d1, turso, rqlite, datasette, "
				 "sqlite-cloud, starbasedb, generic)", name);
		return SMG_EXIT_USAGE;
	}
	*p = builtins[k];
	if (!p->separator)
		p->separator = ",";
	if (!p->placeholder)
		p->placeholder = "?";
	if (!p->param_text)
		p->param_text = "{}";
	if (!p->param_real)
		p->param_real = "{}";
	if (!p->param_null)
		p->param_null = "null";
	if (!p->cell)
		p->cell = "";
	p->unhex = p->neg_zero = true;	/* if the probe finds them */
	for (size_t i = 0; i < NFIELDS; i++)	/* no NULL strings: "" */
		if (fields[i].type == F_STR && !*(const char **)at(p, &fields[i]))
			*(const char **)at(p, &fields[i]) = "";
	if (!options)
		return 0;
	for (const struct smg_toml_node *n = options->first; n; n = n->next) {
		const struct field *f = NULL;
		for (size_t i = 0; i < NFIELDS && !f; i++)
			if (strlen(fields[i].name) == n->key_len && !memcmp(fields[i].name, n->key, n->key_len))
				f = &fields[i];
		if (!f) {
			smg_warn("%s:%d:%d: unknown profile option \"%s\" (ignored)", file ? file : "config",
				 n->key_line, n->key_col, n->key);
			continue;
		}
		switch (f->type) {
		case F_STR:
			if (n->type != SMG_TOML_STRING)
				return bad(err, errlen, file, n, "profile option %s must be a string, got %s",
					   f->name, smg_toml_type_name(n->type));
			*(const char **)at(p, f) = n->v.str.s;
			break;
		case F_LIST: {
			if (n->type != SMG_TOML_ARRAY)
				return bad(err, errlen, file, n, "profile option %s must be an array of strings, got %s",
					   f->name, smg_toml_type_name(n->type));
			if (n->count > f->max) {
				char max[24];
				snprintf(max, sizeof max, "%zu", f->max);
				return bad(err, errlen, file, n, "profile option %s takes at most %s strings",
					   f->name, max);
			}
			const char **list = at(p, f);
			size_t j = 0;
			for (const struct smg_toml_node *e = n->first; e; e = e->next) {
				if (e->type != SMG_TOML_STRING)
					return bad(err, errlen, file, e, "profile option %s must hold strings, got %s",
						   f->name, smg_toml_type_name(e->type));
				list[j++] = e->v.str.s;
			}
			for (; j <= f->max; j++)
				list[j] = NULL;
			break;
		}
		case F_LONG:
			if (n->type != SMG_TOML_INTEGER || n->v.i < 0 || n->v.i > 2000000000)
				return bad(err, errlen, file, n, "profile option %s must be an integer from 0 to 2000000000%s",
					   f->name, "");
			*(long *)at(p, f) = (long)n->v.i;
			break;
		case F_BOOL:
			if (n->type != SMG_TOML_BOOL)
				return bad(err, errlen, file, n, "profile option %s must be true or false, got %s",
					   f->name, smg_toml_type_name(n->type));
			*(bool *)at(p, f) = n->v.b;
			break;
		}
	}
	if (strcmp(p->method, "POST") && strcmp(p->method, "GET"))
		return bad(err, errlen, file, options, "profile option method must be POST or GET, not \"%s\"%s",
			   p->method, "");
	if (!strcmp(p->method, "GET"))
		p->max_statements = 1;
	if (p->max_statements < 1)
		p->max_statements = 1;
	if (p->page_rows < 1)
		p->page_rows = 1;
	return 0;
}

static void print_toml_string(FILE *out, const char *s)
{
	struct smg_buf b = SMG_BUF_INIT;
	/* A TOML basic string is a JSON string for what templates hold; use
	 * a literal string when there is no single quote, which reads better. */
	if (!strchr(s, '\'') && !strchr(s, '\n')) {
		fprintf(out, "'%s'", s);
		return;
	}
	smg_buf_addc(&b, '"');
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			smg_buf_addc(&b, '\\');
		if (*c == '\n')
			smg_buf_adds(&b, "\\n");
		else
			smg_buf_addc(&b, *c);
	}
	smg_buf_addc(&b, '"');
	fputs(b.data, out);
	smg_buf_free(&b);
}

void smg_profile_print(const struct smg_http_profile *p, FILE *out)
{
	fprintf(out, "# profile \"%s\" as [target.profile_options] would set it\n", p->name);
	fprintf(out, "[target.profile_options]\n");
	for (size_t i = 0; i < NFIELDS; i++) {
		const struct field *f = &fields[i];
		fprintf(out, "# %s\n%s = ", f->doc, f->name);
		switch (f->type) {
		case F_STR:
			print_toml_string(out, *(const char *const *)cat(p, f));
			break;
		case F_LIST: {
			const char *const *list = cat(p, f);
			fputc('[', out);
			for (size_t j = 0; list[j]; j++) {
				if (j)
					fputs(", ", out);
				print_toml_string(out, list[j]);
			}
			fputc(']', out);
			break;
		}
		case F_LONG:
			fprintf(out, "%ld", *(const long *)cat(p, f));
			break;
		case F_BOOL:
			fputs(*(const bool *)cat(p, f) ? "true" : "false", out);
			break;
		}
		fputc('\n', out);
	}
}

/* ---- templates ---------------------------------------------------------- */

void smg_url_encode(struct smg_buf *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			smg_buf_addc(out, (char)c);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			smg_buf_add(out, e, 3);
		}
	}
}

/* {i}, {i+K}, {n}, {n+K}: the value, or false if s[0..len) is not one. */
static bool index_var(const char *s, size_t len, long i, long n, long *v)
{
	if (len < 1 || (s[0] != 'i' && s[0] != 'n'))
		return false;
	long base = s[0] == 'i' ? i : n, add = 0;
	if (len > 1) {
		if (s[1] != '+' || len < 3)
			return false;
		for (size_t k = 2; k < len; k++) {
			if (!isdigit((unsigned char)s[k]) || add > 100000)
				return false;
			add = add * 10 + (s[k] - '0');
		}
	}
	*v = base + add;
	return true;
}

void smg_template_expand(struct smg_buf *out, const char *tmpl,
			 const struct smg_tvar *vars, size_t nvars, long i, long n)
{
	const char *p = tmpl;
	while (*p) {
		const char *open = strchr(p, '{');
		if (!open) {
			smg_buf_adds(out, p);
			return;
		}
		smg_buf_add(out, p, (size_t)(open - p));
		const char *close = open + 1;
		while (*close && *close != '}' && *close != '{' && *close != '"' && close - open < 24)
			close++;
		bool done = false;
		if (*close == '}') {
			const char *name = open + 1;
			size_t len = (size_t)(close - name);
			long v;
			for (size_t k = 0; k < nvars && !done; k++) {
				if (strlen(vars[k].name) == len && !memcmp(vars[k].name, name, len)) {
					if (vars[k].urlencode)
						smg_url_encode(out, vars[k].value, vars[k].len);
					else
						smg_buf_add(out, vars[k].value, vars[k].len);
					done = true;
				}
			}
			if (!done && index_var(name, len, i, n, &v)) {
				smg_buf_addf(out, "%ld", v);
				done = true;
			}
		}
		if (done) {
			p = close + 1;
		} else {
			smg_buf_addc(out, '{');
			p = open + 1;
		}
	}
}

bool smg_template_has(const char *tmpl, const char *name)
{
	size_t len = strlen(name);
	for (const char *p = strchr(tmpl, '{'); p; p = strchr(p + 1, '{'))
		if (!strncmp(p + 1, name, len) && p[1 + len] == '}')
			return true;
	return false;
}

/* ---- JSON navigation --------------------------------------------------- */

static void ws(const char **p, const char *end)
{
	while (*p < end && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
		(*p)++;
}

static bool skip_string(const char **p, const char *end)
{
	const char *q = *p + 1;
	while (q < end) {
		if (*q == '\\') {
			q += 2;
			continue;
		}
		if (*q == '"') {
			*p = q + 1;
			return true;
		}
		q++;
	}
	return false;
}

bool smg_jskip(const char **p, const char *end)
{
	ws(p, end);
	if (*p >= end)
		return false;
	char c = **p;
	if (c == '"')
		return skip_string(p, end);
	if (c == '[' || c == '{') {
		int depth = 0;
		const char *q = *p;
		while (q < end) {
			char d = *q;
			if (d == '"') {
				if (!skip_string(&q, end))
					return false;
				continue;
			}
			if (d == '[' || d == '{')
				depth++;
			else if (d == ']' || d == '}')
				if (--depth == 0) {
					*p = q + 1;
					return true;
				}
			q++;
		}
		return false;
	}
	const char *q = *p;
	while (q < end && (isalnum((unsigned char)*q) || *q == '-' || *q == '+' || *q == '.'))
		q++;
	if (q == *p)
		return false;
	*p = q;
	return true;
}

bool smg_jarray(struct smg_jiter *it, const char *raw, size_t len)
{
	it->p = raw;
	it->end = raw + len;
	it->first = true;
	it->bad = false;
	ws(&it->p, it->end);
	if (it->p >= it->end || *it->p != '[')
		return false;
	it->p++;
	return true;
}

bool smg_jnext(struct smg_jiter *it, const char **elem, size_t *elen)
{
	ws(&it->p, it->end);
	if (it->p >= it->end) {
		it->bad = true;
		return false;
	}
	if (*it->p == ']') {
		it->p++;
		return false;
	}
	if (!it->first) {
		if (*it->p != ',') {
			it->bad = true;
			return false;
		}
		it->p++;
		ws(&it->p, it->end);
	}
	it->first = false;
	const char *start = it->p;
	if (!smg_jskip(&it->p, it->end)) {
		it->bad = true;
		return false;
	}
	*elem = start;
	*elen = (size_t)(it->p - start);
	return true;
}

/* Is the JSON string at s (with its quotes) equal to name?  Keys with
 * escapes are compared after decoding the simple escapes. */
static bool key_equals(const char *s, const char *e, const char *name, size_t nlen)
{
	s++;
	e--;	/* past the quotes */
	size_t k = 0;
	while (s < e) {
		char c = *s++;
		if (c == '\\' && s < e) {
			c = *s++;
			if (c == 'n') c = '\n';
			else if (c == 't') c = '\t';
			else if (c == 'u')
				return false;	/* not worth decoding for member names */
		}
		if (k >= nlen || name[k++] != c)
			return false;
	}
	return k == nlen;
}

/* The last member of that name, as json-c and JSON.parse take it: the
 * value remote.c checks is the value it reads. */
bool smg_jmember(const char *obj, size_t len, const char *name, const char **val, size_t *vlen)
{
	const char *p = obj, *end = obj + len;
	size_t nlen = strlen(name);
	bool found = false;
	ws(&p, end);
	if (p >= end || *p != '{')
		return false;
	p++;
	for (bool first = true;; first = false) {
		ws(&p, end);
		if (p >= end)
			return false;
		if (*p == '}')
			return found;
		if (!first) {
			if (*p != ',')
				return false;
			p++;
			ws(&p, end);
		}
		if (p >= end || *p != '"')
			return false;
		const char *ks = p;
		if (!skip_string(&p, end))
			return false;
		bool match = key_equals(ks, p, name, nlen);
		ws(&p, end);
		if (p >= end || *p != ':')
			return false;
		p++;
		ws(&p, end);
		const char *vs = p;
		if (!smg_jskip(&p, end))
			return false;
		if (match) {
			*val = vs;
			*vlen = (size_t)(p - vs);
			found = true;
		}
	}
}

bool smg_jpath(const char *json, size_t len, const char *path, long i,
	       const char **val, size_t *vlen)
{
	struct smg_buf expanded = SMG_BUF_INIT;
	smg_template_expand(&expanded, path, NULL, 0, i, 0);
	smg_buf_addc(&expanded, '\0');	/* never NULL, even for "" */
	const char *cur = json;
	size_t curlen = len;
	bool ok = true;
	char *save = NULL;
	for (char *seg = strtok_r(expanded.data, ".", &save); seg && ok;
	     seg = strtok_r(NULL, ".", &save)) {
		const char *p = cur, *end = cur + curlen;
		ws(&p, end);
		if (p < end && *p == '[' && isdigit((unsigned char)seg[0])) {
			long want = strtol(seg, NULL, 10), k = 0;
			struct smg_jiter it;
			const char *e;
			size_t elen;
			ok = false;
			smg_jarray(&it, p, (size_t)(end - p));
			while (smg_jnext(&it, &e, &elen)) {
				if (k++ == want) {
					cur = e;
					curlen = elen;
					ok = true;
					break;
				}
			}
		} else {
			ok = smg_jmember(p, (size_t)(end - p), seg, &cur, &curlen);
		}
	}
	smg_buf_free(&expanded);
	if (!ok)
		return false;
	*val = cur;
	*vlen = curlen;
	return true;
}

/* ---- parsed answers (json-c) -------------------------------------------- */

bool smg_jc_path(struct json_object *root, const char *path, long i, struct json_object **val)
{
	struct smg_buf expanded = SMG_BUF_INIT;
	smg_template_expand(&expanded, path, NULL, 0, i, 0);
	smg_buf_addc(&expanded, '\0');	/* never NULL, even for "" */
	struct json_object *cur = root;
	bool ok = true;
	char *save = NULL;
	for (char *seg = strtok_r(expanded.data, ".", &save); seg && ok;
	     seg = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(cur, json_type_array) && isdigit((unsigned char)seg[0])) {
			char *end;
			long k = strtol(seg, &end, 10);
			ok = !*end && k >= 0 && (size_t)k < json_object_array_length(cur);
			cur = ok ? json_object_array_get_idx(cur, (size_t)k) : NULL;
		} else {
			ok = json_object_is_type(cur, json_type_object) &&
			     json_object_object_get_ex(cur, seg, &cur);
		}
	}
	smg_buf_free(&expanded);
	*val = ok ? cur : NULL;
	return ok;
}
