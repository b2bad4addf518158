/*
 * remote.c - speaking to a remote target through its profile: the
 * connection, requests built from statements and their parameters,
 * sending, and reading errors and rows out of the answers (see remote.h,
 * profile.h).  Reading a target is remote-fetch.c, writing remote-apply.c.
 */
#include "remote-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	r->p = &t->profile;
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
	if (pa->kind == 't')
		smg_json_add_string(out, s, pa->len);
	else
		smg_buf_add(out, s, pa->len);
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
		smg_template_expand(&plist, pa->kind == 't' ? p->param_text : p->param_real, &v, 1, 0, 0);
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

/* The error message at one of the profile's error paths, if any. */
static bool answer_error(const struct smg_remote *r, const char *body, size_t len, long nstmts,
			 char *msg, size_t msglen)
{
	for (size_t k = 0; r->p->errors[k]; k++) {
		const char *path = r->p->errors[k];
		bool indexed = strstr(path, "{i") != NULL;
		for (long i = 0; i < (indexed ? nstmts : 1); i++) {
			const char *v;
			size_t vlen;
			if (!smg_jpath(body, len, path, i, &v, &vlen))
				continue;
			if (vlen == 4 && !memcmp(v, "null", 4))
				continue;
			if (vlen == 5 && !memcmp(v, "false", 5))
				continue;
			if (v[0] == '"') {
				struct smg_buf scratch = SMG_BUF_INIT;
				struct smg_json j;
				const char *s;
				size_t n;
				smg_json_init(&j, v, vlen, &scratch);
				if (smg_json_string(&j, &s, &n)) {
					if (n == 0) {
						smg_buf_free(&scratch);
						continue;
					}
					snprintf(msg, msglen, "%.*s", (int)(n > 400 ? 400 : n), s);
				} else {
					snprintf(msg, msglen, "%.*s", (int)(vlen > 400 ? 400 : vlen), v);
				}
				smg_buf_free(&scratch);
			} else {
				snprintf(msg, msglen, "%.*s", (int)(vlen > 400 ? 400 : vlen), v);
			}
			if (indexed && nstmts > 1) {
				size_t l = strlen(msg);
				snprintf(msg + l, msglen - l, " (statement %ld of %ld)", i + 1, nstmts);
			}
			return true;
		}
	}
	return false;
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

/* Send the request built so far; the answer stays in r->resp.body. */
bool remote_send(struct smg_remote *r, struct failure *f)
{
	const struct smg_http_profile *p = r->p;
	memset(f, 0, sizeof *f);
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
	r->requests++;
	long nstmts = r->nstmts;
	remote_req_reset(r);
	enum smg_http_outcome out = smg_http_perform(r->http, &req, &r->resp);
	const char *name = r->t->name;
	long st = r->resp.status;
	const char *body = r->resp.body.data ? r->resp.body.data : "";
	size_t blen = r->resp.body.len;
	char why[450] = "";
	if (out != SMG_HTTP_DONE) {
		f->code = smg_http_exit_code(&r->resp);
		f->maybe_landed = st == 0;
		/* what the endpoint said the last time, if it said anything */
		if (st && blen && !answer_error(r, body, blen, nstmts, why, sizeof why))
			snprintf(why, sizeof why, "%.200s", body);
		failure_msg(f, "%s: %s after %d attempt%s%s%s", name,
			 r->resp.error[0] ? r->resp.error : "request failed", r->resp.attempts,
			 r->resp.attempts == 1 ? "" : "s", why[0] ? ": " : "", why);
		return false;
	}
	if (!answer_error(r, body, blen, nstmts, why, sizeof why) && (st < 200 || st > 299))
		snprintf(why, sizeof why, "%.200s", blen ? body : "(empty answer)");
	if (st == 401 || st == 403) {
		f->code = SMG_EXIT_AUTH;
		failure_msg(f, "%s: the token was rejected (HTTP %ld: %s); check "
			 "the token (--token, SMUGGLR_TARGET_TOKEN%s)", name, st, why,
			 r->t->type == SMG_TARGET_D1 ? ", CLOUDFLARE_API_TOKEN, cloudflare_api_token" : "");
		return false;
	}
	if (st < 200 || st > 299) {
		f->code = st == 404 ? SMG_EXIT_NOTFOUND
			: st == 409 || st == 412 ? SMG_EXIT_CONFLICT
			: st == 400 || st == 413 || st == 422 ? code_for_message(why, SMG_EXIT_DATA)
			: SMG_EXIT_FAILURE;
		failure_msg(f, "%s: HTTP %ld: %s", name, st, why);
		return false;
	}
	if (why[0]) {
		f->code = code_for_message(why, SMG_EXIT_DATA);
		failure_msg(f, "%s: %s", name, why);
		return false;
	}
	return true;
}

void remote_send_or_die(struct smg_remote *r)
{
	struct failure f;
	if (!remote_send(r, &f))
		smg_die(f.code ? f.code : SMG_EXIT_FAILURE, "%s", f.msg);
}

/* The rows of statement i of the last answer (an empty array when absent). */
bool remote_answer_rows(struct smg_remote *r, const char *body, size_t len, long i,
			struct smg_jiter *it)
{
	const char *v;
	size_t vlen;
	if (!smg_jpath(body, len, r->p->rows, i, &v, &vlen) || (vlen == 4 && !memcmp(v, "null", 4))) {
		v = "[]";
		vlen = 2;
	}
	return smg_jarray(it, v, vlen);
}

bool remote_answer_truncated(struct smg_remote *r, const char *body, size_t len)
{
	const char *v;
	size_t vlen;
	return *r->p->truncated && smg_jpath(body, len, r->p->truncated, 0, &v, &vlen) &&
	       vlen == 4 && !memcmp(v, "true", 4);
}

