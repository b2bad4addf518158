/*
 * remote.c - speaking to a remote target through its profile: the
 * connection, requests built from statements and their parameters,
 * sending, and reading errors and rows out of the answers (see remote.h,
 * profile.h).  Reading a target is remote-fetch.c, writing remote-apply.c.
 */
#include "remote-int.h"

#include <json-c/json.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void remote_params_reset(struct params *p)
{
	smg_buf_reset(&p->data);
	p->n = 0;
}

void remote_params_free(struct params *p)
{
	smg_buf_free(&p->data);
	free(p->v);
	memset(p, 0, sizeof *p);
}

void remote_params_add(struct params *p, char kind, const char *s, size_t n)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->v = smg_xrealloc(p->v, p->cap * sizeof *p->v);
	}
	p->v[p->n].kind = kind;
	p->v[p->n].off = p->data.len;
	p->v[p->n].len = n;
	p->n++;
	smg_buf_add(&p->data, s, n);
}

struct smg_remote *smg_remote_open(const struct smg_target *t, bool verbose)
{
	struct smg_remote *r = smg_xcalloc(1, sizeof *r);
	r->t = t;
	r->prof = t->profile;
	r->p = &r->prof;
	r->verbose = verbose;
	struct smg_http_opts o = t->http;
	o.verbose = verbose;
	r->http = smg_http_new(&o);
	struct smg_http_response init = SMG_HTTP_RESPONSE_INIT;
	r->resp = init;
	const char *names[] = {"url", "endpoint", "account", "database", "token"};
	const char *vals[] = {t->url, t->endpoint, t->account, t->database, t->token};
	for (size_t i = 0; i < 5; i++) {
		const char *v = vals[i] ? vals[i] : "";
		r->vars[r->nvars++] = (struct smg_tvar){names[i], v, strlen(v), false};
	}
	/* unprobed, the oldest version listed, which every server speaks */
	const char *version = "";
	for (size_t i = 0; r->p->versions[i]; i++)
		version = r->p->versions[i];
	r->vars[r->nvars++] = (struct smg_tvar){"version", version, strlen(version), false};
	struct smg_buf h = SMG_BUF_INIT;
	for (size_t i = 0; r->p->headers[i]; i++) {
		if (!*t->token && smg_template_has(r->p->headers[i], "token"))
			continue;
		smg_buf_reset(&h);
		smg_template_expand(&h, r->p->headers[i], r->vars, r->nvars, 0, 0);
		char *colon = h.data ? strchr(h.data, ':') : NULL;
		if (!colon)
			smg_die(SMG_EXIT_USAGE, "profile %s: header \"%s\" is not \"Name: value\"",
				r->p->name, r->p->headers[i]);
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		smg_kv_add(&r->headers, h.data, v);
	}
	smg_buf_free(&h);
	return r;
}

void smg_remote_close(struct smg_remote *r)
{
	if (!r)
		return;
	smg_http_free(r->http);
	smg_kv_free(&r->headers);
	smg_http_response_free(&r->resp);
	smg_buf_free(&r->body);
	smg_buf_free(&r->stmts);
	smg_buf_free(&r->query);
	smg_buf_free(&r->sqlbuf);
	smg_buf_free(&r->url);
	json_object_put(r->answer);
	free(r);
}

int64_t smg_remote_requests(const struct smg_remote *r)
{
	return r->requests;
}

static size_t placeholder_len(const struct smg_http_profile *p, long n)
{
	size_t len = strlen(p->placeholder);
	if (smg_template_has(p->placeholder, "n")) {
		char d[24];
		len = len - 3 + (size_t)snprintf(d, sizeof d, "%ld", n);
	}
	return len;
}

size_t remote_expanded_len(const struct smg_http_profile *p, const char *sql, size_t n, long first)
{
	size_t len = 0;
	long k = first;
	for (size_t i = 0; i < n; i++)
		len += sql[i] == '\x01' ? placeholder_len(p, ++k) : 1;
	return len;
}

/* SQL with \x01 marking parameters, into the endpoint's placeholders. */
static void expand_sql(const struct smg_http_profile *p, struct smg_buf *out, const char *sql, size_t n)
{
	long k = 0;
	for (size_t i = 0; i < n; i++) {
		if (sql[i] == '\x01')
			smg_template_expand(out, p->placeholder, NULL, 0, 0, ++k);
		else
			smg_buf_addc(out, sql[i]);
	}
}

static void add_param_json(struct smg_buf *out, const struct params *ps, const struct param *pa)
{
	const char *s = ps->data.data + pa->off;
	if (pa->kind == 't') {
		smg_json_add_string(out, s, pa->len);
	} else if (pa->kind == 'b') {
		smg_buf_addc(out, '"');
		smg_base64_add(out, s, pa->len);
		smg_buf_addc(out, '"');
	} else {
		smg_buf_add(out, s, pa->len);
	}
}

/* Render one statement of a POST (its JSON) or the query of a GET. */
void remote_render_statement(struct smg_remote *r, struct smg_buf *out, const char *sql,
			     size_t sqllen, const struct params *ps, long index)
{
	const struct smg_http_profile *p = r->p;
	smg_buf_reset(&r->sqlbuf);
	expand_sql(p, &r->sqlbuf, sql, sqllen);
	if (!strcmp(p->method, "GET")) {
		smg_buf_adds(out, "sql=");
		smg_url_encode(out, r->sqlbuf.data ? r->sqlbuf.data : "", r->sqlbuf.len);
		for (size_t i = 0; i < ps->n; i++) {
			struct smg_buf name = SMG_BUF_INIT;
			smg_template_expand(&name, p->placeholder, NULL, 0, 0, (long)i + 1);
			const char *nm = name.data;
			while (*nm == ':' || *nm == '@' || *nm == '$' || *nm == '?')
				nm++;
			smg_buf_addf(out, "&%s=", nm);
			smg_url_encode(out, ps->data.data + ps->v[i].off, ps->v[i].len);
			smg_buf_free(&name);
		}
		return;
	}
	struct smg_buf sqljson = SMG_BUF_INIT, plist = SMG_BUF_INIT, cplist = SMG_BUF_INIT,
		       one = SMG_BUF_INIT;
	smg_json_add_string(&sqljson, r->sqlbuf.data ? r->sqlbuf.data : "", r->sqlbuf.len);
	for (size_t i = 0; i < ps->n; i++) {
		const struct param *pa = &ps->v[i];
		smg_buf_reset(&one);
		add_param_json(&one, ps, pa);
		struct smg_tvar v = {"", one.data, one.len, false};
		if (i)
			smg_buf_addc(&plist, ',');
		smg_template_expand(&plist, pa->kind == 't' ? p->param_text
					    : pa->kind == 'b' ? p->param_blob : p->param_real, &v, 1, 0, 0);
	}
	if (plist.len) {
		smg_buf_addc(&cplist, ',');
		smg_buf_add(&cplist, plist.data, plist.len);
	}
	struct smg_tvar vars[3] = {
		{"sql", sqljson.data, sqljson.len, false},
		{"params", plist.data ? plist.data : "", plist.len, false},
		{",params", cplist.data ? cplist.data : "", cplist.len, false},
	};
	smg_template_expand(out, p->statement, vars, 3, index, 0);
	smg_buf_free(&sqljson);
	smg_buf_free(&plist);
	smg_buf_free(&cplist);
	smg_buf_free(&one);
}

void remote_req_reset(struct smg_remote *r)
{
	smg_buf_reset(&r->stmts);
	smg_buf_reset(&r->query);
	r->nstmts = 0;
}

void remote_req_add(struct smg_remote *r, const char *sql, size_t sqllen, const struct params *ps)
{
	if (!strcmp(r->p->method, "GET")) {
		smg_buf_reset(&r->query);
		remote_render_statement(r, &r->query, sql, sqllen, ps, 0);
		r->nstmts = 1;
		return;
	}
	if (r->nstmts)
		smg_buf_adds(&r->stmts, r->p->separator);
	remote_render_statement(r, &r->stmts, sql, sqllen, ps, r->nstmts);
	r->nstmts++;
}

/* The body the request built so far would have. */
static void build_body(struct smg_remote *r)
{
	smg_buf_reset(&r->body);
	struct smg_tvar v[7];
	memcpy(v, r->vars, r->nvars * sizeof *v);
	v[r->nvars] = (struct smg_tvar){"statements", r->stmts.data ? r->stmts.data : "",
					r->stmts.len, false};
	smg_template_expand(&r->body, r->p->body, v, r->nvars + 1, 0, r->nstmts);
}

/* ---- answers ----------------------------------------------------------------
 * An answer is parsed whole with json-c and believed only when it has the
 * shape its profile promises (profile.h: ok, results, results_count, rows):
 * anything else is an error naming what is wrong, never empty data.  Cells
 * are then read from the text itself (remote-sql.c), because json-c turns a
 * number beyond int64, such as the REAL 1e20 that D1 prints as
 * 100000000000000000000, into INT64_MAX. */

/* Up to 200 bytes of what the endpoint said, on one line. */
static void excerpt(char *dst, size_t cap, const char *s, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n && i < 200 && k + 1 < cap; i++)
		dst[k++] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
	if (k == 0 && cap > 16)
		k = (size_t)snprintf(dst, cap, "(empty answer)");
	dst[k] = '\0';
}

/* Parse the last answer into r->answer; false if it is not one JSON value. */
static bool parse_answer(struct smg_remote *r)
{
	const char *body = r->resp.body.data;
	size_t len = r->resp.body.len;
	json_object_put(r->answer);
	r->answer = NULL;
	if (!len || len > INT_MAX)
		return false;
	struct json_tokener *tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	struct json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	bool ok = json_tokener_get_error(tok) == json_tokener_success;
	for (size_t end = json_tokener_get_parse_end(tok); ok && end < len; end++)
		ok = body[end] == ' ' || body[end] == '\t' || body[end] == '\n' || body[end] == '\r';
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(o);
		return false;
	}
	r->answer = o;
	return true;
}

/* A value of the answer as text: a string as it is, anything else as JSON. */
static const char *json_text(struct json_object *v, size_t *n)
{
	if (json_object_is_type(v, json_type_string)) {
		*n = (size_t)json_object_get_string_len(v);
		return json_object_get_string(v);
	}
	const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	*n = strlen(s);
	return s;
}

/* The value at path, its {i} and {n} filled in, in root; false if absent. */
static bool value_at(struct json_object *root, const char *path, long i, long nstmts,
		     struct json_object **v)
{
	struct smg_buf at = SMG_BUF_INIT;
	smg_template_expand(&at, path, NULL, 0, i, nstmts);
	smg_buf_addc(&at, '\0');
	bool found = smg_jc_path(root, at.data, 0, v);
	smg_buf_free(&at);
	return found;
}

/* The error message at one of the profile's error paths in root, if any. */
static bool error_in(const struct smg_http_profile *p, struct json_object *root, long nstmts,
		     char *msg, size_t msglen)
{
	for (size_t k = 0; p->errors[k]; k++) {
		const char *path = p->errors[k];
		bool indexed = strstr(path, "{i") != NULL;
		for (long i = 0; i < (indexed ? nstmts : 1); i++) {
			struct json_object *v;
			size_t n;
			if (!value_at(root, path, i, nstmts, &v) || !v)
				continue;
			if (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v))
				continue;
			const char *s = json_text(v, &n);
			if (n == 0)
				continue;
			snprintf(msg, msglen, "%.*s", (int)(n > 400 ? 400 : n), s);
			if (indexed && nstmts > 1) {
				size_t l = strlen(msg);
				snprintf(msg + l, msglen - l, " (statement %ld of %ld)", i + 1, nstmts);
			}
			return true;
		}
	}
	return false;
}

static bool answer_error(const struct smg_remote *r, long nstmts, char *msg, size_t msglen)
{
	return error_in(r->p, r->answer, nstmts, msg, msglen);
}

/* The endpoint's error code, if the answer has one. */
static bool answer_code(const struct smg_remote *r, long *code)
{
	struct json_object *v;
	if (!*r->p->error_code || !smg_jc_path(r->answer, r->p->error_code, 0, &v) || !v)
		return false;
	if (json_object_is_type(v, json_type_int)) {
		*code = (long)json_object_get_int64(v);
		return true;
	}
	char *end;
	const char *s = json_object_get_string(v);
	*code = strtol(s, &end, 10);
	return *s && !*end;
}

/* The exit status the profile gives an error code, or 0. */
static int code_exit(const struct smg_http_profile *p, long code)
{
	for (size_t k = 0; p->exit_codes[k]; k++) {
		char *end;
		long c = strtol(p->exit_codes[k], &end, 10);
		if (c == code && *end == '=')
			return atoi(end + 1);
	}
	return 0;
}

static bool transient_words(const struct smg_http_profile *p, const char *msg)
{
	for (size_t k = 0; p->transient[k]; k++)
		if (*p->transient[k] && strcasestr(msg, p->transient[k]))
			return true;
	return false;
}

/* Are the profile's ok paths true (or their word) in the answer?  Only
 * those with {i} (indexed) or only the others. */
static bool answer_ok_paths(const struct smg_remote *r, long nstmts, bool indexed, char *why,
			    size_t whylen)
{
	for (size_t k = 0; r->p->ok[k]; k++) {
		char path[256];
		snprintf(path, sizeof path, "%s", r->p->ok[k]);
		char *word = strchr(path, '=');
		if (word)
			*word++ = '\0';
		if ((strstr(path, "{i") != NULL) != indexed)
			continue;
		bool array = word && !strcmp(word, "[]");
		for (long i = 0; i < (indexed ? nstmts : 1); i++) {
			struct json_object *v;
			bool found = value_at(r->answer, path, i, nstmts, &v);
			bool good = array ? json_object_is_type(v, json_type_array)
				  : word ? json_object_is_type(v, json_type_string) &&
						   !strcmp(json_object_get_string(v), word)
					 : json_object_is_type(v, json_type_boolean) &&
						   json_object_get_boolean(v);
			if (good)
				continue;
			struct smg_buf at = SMG_BUF_INIT;
			smg_template_expand(&at, path, NULL, 0, i, nstmts);
			size_t n = 0;
			const char *s = found && v ? json_text(v, &n) : found ? "null" : "absent";
			snprintf(why, whylen, "%s is %.*s, not %s, and no error is given", at.data ? at.data : "",
				 (int)(n ? (n > 40 ? 40 : n) : strlen(s)), s,
				 array ? "an array" : word ? word : "true");
			smg_buf_free(&at);
			return false;
		}
	}
	return true;
}

/* Is the answer shaped as the profile says an answer to nstmts statements
 * is?  If not, what is wrong, in why. */
static bool answer_shape(const struct smg_remote *r, long nstmts, char *why, size_t whylen)
{
	const struct smg_http_profile *p = r->p;
	if (!answer_ok_paths(r, nstmts, false, why, whylen))
		return false;
	if (*p->results) {
		struct json_object *arr;
		if (!smg_jc_path(r->answer, p->results, 0, &arr) ||
		    !json_object_is_type(arr, json_type_array)) {
			snprintf(why, whylen, "no array of statement results at %s", p->results);
			return false;
		}
		struct smg_buf want = SMG_BUF_INIT;
		smg_template_expand(&want, *p->results_count ? p->results_count : "-1", NULL, 0, 0, nstmts);
		long n = strtol(want.data, NULL, 10);
		smg_buf_free(&want);
		long got = (long)json_object_array_length(arr);
		if (n >= 0 && got != n) {
			snprintf(why, whylen, "%ld statement result%s at %s for %ld statement%s sent", got,
				 got == 1 ? "" : "s", p->results, nstmts, nstmts == 1 ? "" : "s");
			return false;
		}
	}
	return answer_ok_paths(r, nstmts, true, why, whylen);
}

/* vsnprintf: a message cut at the buffer's end is fine here. */
static void failure_msg(struct failure *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void failure_msg(struct failure *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof f->msg, fmt, ap);
	va_end(ap);
}

static int code_for_message(const char *msg, int dflt)
{
	if (strstr(msg, "no such table"))
		return SMG_EXIT_NOTFOUND;
	return dflt;
}

enum verdict { ANSWER_OK, ANSWER_FAILED, ANSWER_TRANSIENT };

/* What the last answer to nstmts statements means: believed, a failure
 * (f says which), or a passing failure worth another try. */
static enum verdict judge_answer(struct smg_remote *r, enum smg_http_outcome out, long nstmts,
				 struct failure *f)
{
	const char *name = r->t->name;
	long st = r->resp.status;
	const char *body = r->resp.body.data ? r->resp.body.data : "";
	size_t blen = r->resp.body.len;
	bool json = parse_answer(r);
	char why[450] = "", said[256];
	long code = 0;
	memset(f, 0, sizeof *f);
	excerpt(said, sizeof said, body, blen);
	bool has_code = json && answer_code(r, &code);
	bool said_error = json && answer_error(r, nstmts, why, sizeof why);
	if (said_error && has_code) {
		size_t l = strlen(why);
		snprintf(why + l, sizeof why - l, " (code %ld)", code);
	}
	if (out != SMG_HTTP_DONE) {
		f->code = smg_http_exit_code(&r->resp);
		f->maybe_landed = st == 0;
		/* what the endpoint said the last time, if it said anything */
		failure_msg(f, "%s: %s after %d attempt%s%s%s", name,
			    r->resp.error[0] ? r->resp.error : "request failed", r->resp.attempts,
			    r->resp.attempts == 1 ? "" : "s", st && blen ? ": " : "",
			    st && blen ? (why[0] ? why : said) : "");
		return ANSWER_FAILED;
	}
	if (!why[0] && (st < 200 || st > 299))
		snprintf(why, sizeof why, "%s", said);
	int mapped = has_code ? code_exit(r->p, code) : 0;
	if (why[0] && transient_words(r->p, why)) {
		f->code = SMG_EXIT_NETWORK;
		failure_msg(f, "%s: HTTP %ld: %s", name, st, why);
		return ANSWER_TRANSIENT;
	}
	if (mapped == SMG_EXIT_AUTH || (!mapped && (st == 401 || st == 403))) {
		f->code = SMG_EXIT_AUTH;
		failure_msg(f, "%s: the token was rejected (HTTP %ld: %s); check "
			    "the token (--token, SMUGGLR_TARGET_TOKEN%s)", name, st, why,
			    r->t->type == SMG_TARGET_D1 ? ", CLOUDFLARE_API_TOKEN, cloudflare_api_token" : "");
		return ANSWER_FAILED;
	}
	if (mapped) {
		f->code = mapped;
		failure_msg(f, "%s: HTTP %ld: %s%s", name, st, why,
			    mapped == SMG_EXIT_NOTFOUND || mapped == SMG_EXIT_USAGE
				    ? "; check the account and database ids" : "");
		return ANSWER_FAILED;
	}
	if (st == 500 && r->p->final_500 && said_error) {
		/* the endpoint's own words under HTTP 500 (StarbaseDB answers
		 * SQL errors so): final, as answer_final told the HTTP layer */
		f->code = code_for_message(why, SMG_EXIT_DATA);
		failure_msg(f, "%s: HTTP %ld: %s", name, st, why);
		return ANSWER_FAILED;
	}
	if (st < 200 || st > 299) {
		f->code = st == 404 ? SMG_EXIT_NOTFOUND
			: st == 409 || st == 412 ? SMG_EXIT_CONFLICT
			: st == 400 || st == 413 || st == 422 ? code_for_message(why, SMG_EXIT_DATA)
			: SMG_EXIT_FAILURE;
		failure_msg(f, "%s: HTTP %ld: %s", name, st, why);
		return ANSWER_FAILED;
	}
	if (why[0]) {
		f->code = code_for_message(why, SMG_EXIT_DATA);
		failure_msg(f, "%s: %s", name, why);
		return ANSWER_FAILED;
	}
	/* a 2xx answer that cannot be believed: a write may have landed */
	f->code = SMG_EXIT_DATA;
	f->maybe_landed = true;
	if (!json) {
		failure_msg(f, "%s: the answer is not JSON (HTTP %ld, %zu bytes): %s", name, st, blen,
			    said);
		return ANSWER_FAILED;
	}
	if (!answer_shape(r, nstmts, why, sizeof why)) {
		failure_msg(f, "%s: the answer is not one the %s profile expects: %s; it said: %s",
			    name, r->p->name, why, said);
		return ANSWER_FAILED;
	}
	memset(f, 0, sizeof *f);
	return ANSWER_OK;
}

/* Is an answer with a transient status final all the same: HTTP 500 from
 * a profile that answers its SQL errors so (final_500), the profile's
 * error in its body, in words that are not transient?  The HTTP layer
 * then does not try again (http.h, final_answer). */
static bool answer_final(void *arg, const struct smg_http_response *resp)
{
	struct smg_remote *r = arg;
	const char *body = resp->body.data;
	size_t len = resp->body.len;
	char msg[450];
	if (!r->p->final_500 || resp->status != 500 || !body || !len || len > INT_MAX)
		return false;
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, body, (int)len);
	bool ok = json_tokener_get_error(tok) == json_tokener_success;
	json_tokener_free(tok);
	bool final = ok && error_in(r->p, o, r->sending, msg, sizeof msg) &&
		     !transient_words(r->p, msg);
	json_object_put(o);
	return final;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Send the request built so far; the answer stays in r->resp.body, parsed
 * in r->answer.  An answer whose words the profile calls transient (D1's
 * "internal error", whatever the HTTP status) is tried again under the
 * target's retry policy, as libcurl-level failures are in http.c. */
bool remote_send(struct smg_remote *r, struct failure *f)
{
	const struct smg_http_profile *p = r->p;
	smg_buf_reset(&r->url);
	struct smg_tvar v[7];
	memcpy(v, r->vars, r->nvars * sizeof *v);
	for (size_t i = 2; i < 5; i++)	/* account, database, token */
		v[i].urlencode = true;
	v[r->nvars] = (struct smg_tvar){"query", r->query.data ? r->query.data : "", r->query.len,
					false};
	smg_template_expand(&r->url, p->url, v, r->nvars + 1, 0, r->nstmts);
	struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
	req.url = r->url.data;
	req.headers = &r->headers;
	req.method = p->method;
	if (!strcmp(p->method, "POST")) {
		build_body(r);
		req.body = r->body.data ? r->body.data : "";
		req.body_len = r->body.len;
	}
	req.final_answer = answer_final;
	req.final_arg = r;
	r->requests++;
	long nstmts = r->nstmts;
	r->sending = nstmts;
	remote_req_reset(r);
	const struct smg_http_retry *policy = &r->t->http.retry;
	for (int attempt = 1;; attempt++) {
		enum smg_http_outcome out = smg_http_perform(r->http, &req, &r->resp);
		enum verdict v = judge_answer(r, out, nstmts, f);
		if (v != ANSWER_TRANSIENT)
			return v == ANSWER_OK;
		if (attempt > policy->max_retries) {
			char last[sizeof f->msg];
			snprintf(last, sizeof last, "%s", f->msg);
			failure_msg(f, "%s (gave up after %d attempt%s)", last, attempt,
				    attempt == 1 ? "" : "s");
			return false;
		}
		long ms = smg_http_backoff_ms(policy, attempt, NULL, time(NULL));
		if (r->verbose)
			smg_warn("%s; trying again in %ld ms", f->msg, ms);
		sleep_ms(ms);
	}
}

void remote_probe_version(struct smg_remote *r)
{
	const struct smg_http_profile *p = r->p;
	struct smg_tvar *ver = &r->vars[r->nvars - 1];
	if (r->version_probed || !p->versions[0])
		return;
	r->version_probed = true;
	struct smg_buf tried = SMG_BUF_INIT;
	for (size_t k = 0; p->versions[k]; k++) {
		*ver = (struct smg_tvar){"version", p->versions[k], strlen(p->versions[k]), false};
		smg_buf_reset(&r->url);
		smg_template_expand(&r->url, p->version_url, r->vars, r->nvars, 0, 0);
		struct smg_http_request req = SMG_HTTP_REQUEST_INIT;
		req.url = r->url.data;
		req.headers = &r->headers;
		req.method = "GET";
		r->requests++;
		enum smg_http_outcome out = smg_http_perform(r->http, &req, &r->resp);
		long st = r->resp.status;
		if (out != SMG_HTTP_DONE)
			smg_die(smg_http_exit_code(&r->resp), "%s: GET %s: %s after %d attempt%s",
				r->t->name, r->url.data, r->resp.error, r->resp.attempts,
				r->resp.attempts == 1 ? "" : "s");
		if (st >= 200 && st <= 299) {
			if (r->verbose)
				smg_warn("%s: speaking %s (GET %s: HTTP %ld)", r->t->name, p->versions[k],
					 r->url.data, st);
			smg_buf_free(&tried);
			return;
		}
		if (st == 401 || st == 403)
			smg_die(SMG_EXIT_AUTH, "%s: the token was rejected (GET %s: HTTP %ld); check the "
				"token (--token, SMUGGLR_TARGET_TOKEN)", r->t->name, r->url.data, st);
		smg_buf_addf(&tried, "%sGET %s: HTTP %ld", tried.len ? ", " : "", r->url.data, st);
	}
	smg_die(SMG_EXIT_NOTFOUND, "%s: the endpoint offers none of the %s profile's protocol "
		"versions (%s)", r->t->name, p->name, tried.data);
}

void remote_send_or_die(struct smg_remote *r)
{
	struct failure f;
	if (!remote_send(r, &f))
		smg_die(f.code ? f.code : SMG_EXIT_FAILURE, "%s", f.msg);
}

/* Does statement i of the last answer have a result at all? */
static bool statement_answered(struct smg_remote *r, long i)
{
	if (!*r->p->results)
		return r->answer != NULL;
	struct smg_buf path = SMG_BUF_INIT;
	smg_buf_addf(&path, "%s.%ld", r->p->results, i);
	struct json_object *v;
	bool found = smg_jc_path(r->answer, path.data, 0, &v) && v;
	smg_buf_free(&path);
	return found;
}

bool remote_find_rows(struct smg_remote *r, const char *body, size_t len, long i,
		      const char **rows, size_t *rowslen, char *why, size_t whylen)
{
	struct json_object *v = NULL;
	char said[256];
	excerpt(said, sizeof said, body, len);
	bool found = r->answer && smg_jc_path(r->answer, r->p->rows, i, &v) && v;
	if (!found && r->p->rows_optional && statement_answered(r, i)) {
		*rows = "[]";
		*rowslen = 2;
		return true;
	}
	if (!found || !json_object_is_type(v, json_type_array)) {
		snprintf(why, whylen, "%s at %s (statement %ld) in the answer: %s",
			 found ? "rows that are not an array" : "no rows", r->p->rows, i + 1, said);
		return false;
	}
	size_t n = json_object_array_length(v);
	for (size_t k = 0; k < n; k++) {
		struct json_object *row = json_object_array_get_idx(v, k);
		if (!json_object_is_type(row, json_type_array) && !json_object_is_type(row, json_type_object)) {
			snprintf(why, whylen, "row %zu of the answer is %s, not an array or an object: %s",
				 k + 1, json_type_to_name(json_object_get_type(row)), said);
			return false;
		}
	}
	if (!smg_jpath(body, len, r->p->rows, i, rows, rowslen)) {
		snprintf(why, whylen, "the rows at %s cannot be read: %s", r->p->rows, said);
		return false;
	}
	return true;
}

void remote_answer_rows(struct smg_remote *r, const char *body, size_t len, long i,
			const char *what, const char **rows, size_t *rowslen)
{
	char why[512];
	if (!remote_find_rows(r, body, len, i, rows, rowslen, why, sizeof why))
		smg_die(SMG_EXIT_DATA, "%s: %s: %s", r->t->name, what, why);
}

bool remote_answer_truncated(struct smg_remote *r)
{
	struct json_object *v;
	return *r->p->truncated && smg_jc_path(r->answer, r->p->truncated, 0, &v) &&
	       json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

void smg_remote_exec(struct smg_remote *r, const char *sql, size_t n)
{
	struct params ps = {0};
	remote_req_reset(r);
	for (const char *p = sql; n--; p += strlen(p) + 1)
		remote_req_add(r, p, strlen(p), &ps);
	remote_send_or_die(r);
	remote_params_free(&ps);
}
