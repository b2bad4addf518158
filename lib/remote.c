/*
 * remote.c - remote targets: resolving them, speaking to them through a
 * profile, reading their rows losslessly and writing change streams to
 * them in batches (see remote.h, profile.h and tests/d1/FIDELITY.md).
 */
#include "remote.h"
#include "progress.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Text and blobs up to these sizes go into the SQL as literals, which
 * costs statement bytes but no bound parameter (D1: 100 per statement);
 * longer ones are parameters. */
#define TEXT_LITERAL_MAX 256
#define BLOB_LITERAL_MAX 128
/* First pages of this many tables share one request. */
#define FETCH_GROUP_MAX 10

static bool has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static char *xstrdup0(const char *s)
{
	return s ? smg_xstrdup(s) : NULL;
}

static void strip_slash(char *s)
{
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

/* ---- targets --------------------------------------------------------------- */

bool smg_target_spec_is_remote(const char *spec)
{
	return has_prefix(spec, "http://") || has_prefix(spec, "https://") ||
	       has_prefix(spec, "libsql://") || has_prefix(spec, "d1:") ||
	       has_prefix(spec, "command:") || !strcmp(spec, "d1");
}

/* A URL for messages: without user:password@. */
static char *redact_url(const char *url)
{
	const char *scheme = strstr(url, "://");
	const char *host = scheme ? scheme + 3 : url;
	const char *at = strchr(host, '@'), *slash = strchr(host, '/');
	if (!at || (slash && slash < at))
		return smg_xstrdup(url);
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_add(&b, url, (size_t)(host - url));
	smg_buf_adds(&b, at + 1);
	return smg_buf_detach(&b);
}

/* .../accounts/ACCOUNT/d1/database/DATABASE[/query|/raw]: D1's own URL. */
static bool parse_d1_url(struct smg_target *t, const char *url)
{
	const char *a = strstr(url, "/accounts/");
	const char *d = a ? strstr(a, "/d1/database/") : NULL;
	if (!d)
		return false;
	const char *base_end = strstr(url, "/client/v4/");
	if (!base_end || base_end > a)
		base_end = a;
	free(t->endpoint);
	t->endpoint = smg_xstrndup(url, (size_t)(base_end - url));
	free(t->account);
	t->account = smg_xstrndup(a + 10, (size_t)(d - (a + 10)));
	const char *db = d + 13, *end = strchr(db, '/');
	free(t->database);
	t->database = end ? smg_xstrndup(db, (size_t)(end - db)) : smg_xstrdup(db);
	return *t->account && *t->database;
}

static const char *guess_profile(const char *url)
{
	if (strstr(url, "/d1/database/"))
		return "d1";
	if (has_prefix(url, "libsql://") || strstr(url, ".turso.io"))
		return "turso";
	return "generic";
}

void smg_target_resolve(struct smg_target *t, const char *spec, const char *profile,
			const char *token, const char *endpoint, const struct smg_config *cfg)
{
	static const struct smg_http_opts http_defaults = SMG_HTTP_OPTS_DEFAULT;
	memset(t, 0, sizeof *t);
	t->http = http_defaults;
	t->http.retry.max_retries = cfg->sync.max_retries;
	t->http.retry.initial_delay_ms = cfg->sync.initial_retry_delay_ms;
	t->http.retry.max_delay_ms = cfg->sync.max_retry_delay_ms;
	t->http.retry.multiplier = cfg->sync.backoff_multiplier;
	t->batch_rows = cfg->sync.batch_size > 0 ? cfg->sync.batch_size : 100;
	const char *prof = profile;
	if (!prof && cfg->target.profile != SMG_PROFILE_NONE)
		prof = smg_profile_names[cfg->target.profile];

	if (spec && has_prefix(spec, "command:")) {
		t->type = SMG_TARGET_COMMAND;
		t->command = smg_xstrdup(spec + 8);
	} else if (spec && (has_prefix(spec, "d1:") || !strcmp(spec, "d1"))) {
		t->type = SMG_TARGET_D1;
		const char *rest = spec[2] == ':' ? spec + 3 : "";
		const char *slash = strchr(rest, '/');
		if (*rest && !slash)
			smg_die(SMG_EXIT_USAGE, "%s: a D1 target is d1:ACCOUNT_ID/DATABASE_ID", spec);
		if (*rest) {
			t->account = smg_xstrndup(rest, (size_t)(slash - rest));
			t->database = smg_xstrdup(slash + 1);
		}
	} else if (spec && (has_prefix(spec, "http://") || has_prefix(spec, "https://") ||
			    has_prefix(spec, "libsql://"))) {
		t->type = SMG_TARGET_HTTP;
		t->url = smg_xstrdup(spec);
		if (!profile)
			prof = guess_profile(spec);
	} else if (spec) {
		t->type = SMG_TARGET_SQLITE;
		t->path = smg_xstrdup(spec);
	} else {
		t->type = cfg->target.type;
		switch (t->type) {
		case SMG_TARGET_NONE:
			smg_die(SMG_EXIT_USAGE, "no target: give one (a URL, d1:ACCOUNT/DATABASE, "
				"command:CMD or a SQLite file), or a config file (-c) with [target] "
				"or database_id");
		case SMG_TARGET_SQLITE:
			if (!cfg->target.path)
				smg_die(SMG_EXIT_USAGE, "%s: [target] type \"sqlite\" needs path",
					cfg->path ? cfg->path : "config");
			t->path = smg_xstrdup(cfg->target.path);
			break;
		case SMG_TARGET_COMMAND:
			if (!cfg->target.command)
				smg_die(SMG_EXIT_USAGE, "%s: [target] type \"command\" needs command",
					cfg->path ? cfg->path : "config");
			t->command = smg_xstrdup(cfg->target.command);
			break;
		case SMG_TARGET_HTTP:
			if (!cfg->target.url)
				smg_die(SMG_EXIT_USAGE, "%s: [target] type \"http\" needs url",
					cfg->path ? cfg->path : "config");
			t->url = smg_xstrdup(cfg->target.url);
			if (!prof)
				prof = guess_profile(t->url);
			break;
		case SMG_TARGET_D1:
			break;
		}
	}
	if (t->type == SMG_TARGET_D1 || (t->type == SMG_TARGET_HTTP && prof && !strcmp(prof, "d1"))) {
		if (!prof)
			prof = "d1";
		if (t->url && !parse_d1_url(t, t->url) && !t->account)
			smg_die(SMG_EXIT_USAGE, "%s: not a D1 URL (.../accounts/ACCOUNT_ID/d1/database/"
				"DATABASE_ID)", t->url);
		if (!t->account)
			t->account = xstrdup0(cfg->cloudflare_account_id);
		if (!t->database)
			t->database = xstrdup0(cfg->database_id);
		if (endpoint || !t->endpoint) {
			free(t->endpoint);
			t->endpoint = smg_xstrdup(endpoint ? endpoint
					: cfg->target.endpoint ? cfg->target.endpoint
					: "https://api.cloudflare.com");
		}
		if (!t->account || !*t->account)
			smg_die(SMG_EXIT_USAGE, "D1 target: no account id (d1:ACCOUNT_ID/DATABASE_ID, "
				"or cloudflare_account_id in the config)");
		if (!t->database || !*t->database)
			smg_die(SMG_EXIT_USAGE, "D1 target: no database id (d1:ACCOUNT_ID/DATABASE_ID, "
				"or database_id in the config)");
	} else if (endpoint) {
		t->endpoint = smg_xstrdup(endpoint);
	}
	if (t->type == SMG_TARGET_HTTP && has_prefix(t->url, "libsql://")) {
		char *u = smg_xmalloc(strlen(t->url) + 2);
		sprintf(u, "https://%s", t->url + 9);
		free(t->url);
		t->url = u;
	}
	strip_slash(t->url);
	strip_slash(t->endpoint);
	if (!t->database && cfg->database_id)
		t->database = smg_xstrdup(cfg->database_id);

	/* the token: --token, then [target] token (or SMUGGLR_TARGET_TOKEN),
	 * then for D1 cloudflare_api_token (or CLOUDFLARE_API_TOKEN) */
	const char *tok = token;
	if (!tok)
		tok = cfg->target.token;
	if (!tok && (t->type == SMG_TARGET_D1 || (prof && !strcmp(prof, "d1"))))
		tok = cfg->cloudflare_api_token;
	if (!tok)
		tok = getenv("SMUGGLR_TARGET_TOKEN");
	if (!tok && (t->type == SMG_TARGET_D1 || (prof && !strcmp(prof, "d1"))))
		tok = getenv("CLOUDFLARE_API_TOKEN");
	t->token = smg_xstrdup(tok ? tok : "");

	if (t->type == SMG_TARGET_D1 || t->type == SMG_TARGET_HTTP) {
		char err[600];
		if (smg_profile_load(&t->profile, prof, cfg->target.profile_options, cfg->path,
				     err, sizeof err))
			smg_die(SMG_EXIT_USAGE, "%s", err);
		/* [sync] max_statement_bytes, when the file sets it, over the profile's */
		if (cfg->doc && smg_toml_get(smg_toml_root(cfg->doc), "sync.max_statement_bytes"))
			t->profile.max_statement_bytes = cfg->sync.max_statement_bytes;
		if (t->type == SMG_TARGET_D1 && !*t->token)
			smg_die(SMG_EXIT_USAGE, "D1 target: no API token (--token, "
				"SMUGGLR_TARGET_TOKEN, CLOUDFLARE_API_TOKEN or cloudflare_api_token)");
	}

	struct smg_buf name = SMG_BUF_INIT;
	switch (t->type) {
	case SMG_TARGET_D1:
		smg_buf_addf(&name, "d1:%s/%s", t->account, t->database);
		break;
	case SMG_TARGET_HTTP: {
		char *u = redact_url(t->url);
		smg_buf_adds(&name, u);
		free(u);
		break;
	}
	case SMG_TARGET_COMMAND:
		smg_buf_addf(&name, "command:%s", t->command);
		break;
	default:
		smg_buf_adds(&name, t->path);
	}
	t->name = smg_buf_detach(&name);
}

void smg_target_free(struct smg_target *t)
{
	free(t->name);
	free(t->path);
	free(t->command);
	free(t->url);
	free(t->endpoint);
	free(t->account);
	free(t->database);
	free(t->token);
	memset(t, 0, sizeof *t);
}

void smg_target_exec(const struct smg_target *t, const char *verb, char *const *args, size_t nargs)
{
	fflush(stdout);
	char **argv = smg_xcalloc(nargs + 6, sizeof *argv);
	size_t k = 0;
	struct smg_buf script = SMG_BUF_INIT;
	smg_buf_addf(&script, "%s \"$@\"", t->command);
	argv[k++] = "sh";
	argv[k++] = "-c";
	argv[k++] = script.data;
	argv[k++] = "sh";
	argv[k++] = (char *)verb;
	for (size_t i = 0; i < nargs; i++)
		argv[k++] = args[i];
	argv[k] = NULL;
	execv("/bin/sh", argv);
	smg_die(SMG_EXIT_FAILURE, "/bin/sh: %s", strerror(errno));
}

/* ---- speaking to the endpoint ------------------------------------------------ */

struct param {
	char kind;		/* 't': text (a JSON string), 'r': real (a JSON number) */
	size_t off, len;	/* raw bytes in the owner's data */
};

struct params {
	struct smg_buf data;
	struct param *v;
	size_t n, cap;
};

static void params_reset(struct params *p)
{
	smg_buf_reset(&p->data);
	p->n = 0;
}

static void params_free(struct params *p)
{
	smg_buf_free(&p->data);
	free(p->v);
	memset(p, 0, sizeof *p);
}

static void params_add(struct params *p, char kind, const char *s, size_t n)
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

struct smg_remote {
	const struct smg_target *t;
	const struct smg_http_profile *p;
	struct smg_http *http;
	struct smg_kvlist headers;
	bool verbose;
	int64_t requests;
	struct smg_http_response resp;
	struct smg_buf body, stmts, query, sqlbuf, url;
	long nstmts;
	struct smg_tvar vars[6];
	size_t nvars;
};

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
static void render_statement(struct smg_remote *r, struct smg_buf *out, const char *sql,
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

static void req_reset(struct smg_remote *r)
{
	smg_buf_reset(&r->stmts);
	smg_buf_reset(&r->query);
	r->nstmts = 0;
}

static void req_add(struct smg_remote *r, const char *sql, size_t sqllen, const struct params *ps)
{
	if (!strcmp(r->p->method, "GET")) {
		smg_buf_reset(&r->query);
		render_statement(r, &r->query, sql, sqllen, ps, 0);
		r->nstmts = 1;
		return;
	}
	if (r->nstmts)
		smg_buf_adds(&r->stmts, r->p->separator);
	render_statement(r, &r->stmts, sql, sqllen, ps, r->nstmts);
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

struct failure {
	int code;
	char msg[512];
	bool maybe_landed;
};

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
static bool send_request(struct smg_remote *r, struct failure *f)
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
	req_reset(r);
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

static void send_or_die(struct smg_remote *r)
{
	struct failure f;
	if (!send_request(r, &f))
		smg_die(f.code ? f.code : SMG_EXIT_FAILURE, "%s", f.msg);
}

/* The rows of statement i of the last answer (an empty array when absent). */
static bool answer_rows(struct smg_remote *r, const char *body, size_t len, long i,
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

static bool answer_truncated(struct smg_remote *r, const char *body, size_t len)
{
	const char *v;
	size_t vlen;
	return *r->p->truncated && smg_jpath(body, len, r->p->truncated, 0, &v, &vlen) &&
	       vlen == 4 && !memcmp(v, "true", 4);
}

/* ---- values into SQL ------------------------------------------------------------ */

static const char hexdig[] = "0123456789ABCDEF";

static void add_hex(struct smg_buf *b, const char *p, size_t n)
{
	smg_buf_grow(b, 2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		b->data[b->len++] = hexdig[c >> 4];
		b->data[b->len++] = hexdig[c & 15];
	}
	b->data[b->len] = '\0';
}

static bool literal_text_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return false;
	return smg_utf8_valid(p, n);
}

/* A real as a JSON number that reads back as the same double and is
 * never taken for an integer. */
static void real_text(char *out, size_t cap, double d)
{
	snprintf(out, cap, "%.17g", d);
	if (!strpbrk(out, ".eEn"))
		strncat(out, ".0", cap - strlen(out) - 1);
}

/*
 * Append v to sql as SQL that gives back exactly v: a literal where SQLite
 * reads it exactly, else a parameter marked \x01 (FIDELITY.md, section 3).
 * literal_only: text and blobs as literals too, to spend fewer parameters.
 */
static void sql_value(const struct smg_http_profile *p, struct smg_buf *sql, struct params *ps,
		      const struct smg_value *v, bool literal_only)
{
	char num[40];
	switch (v->type) {
	case SMG_NULL:
		smg_buf_adds(sql, "NULL");
		break;
	case SMG_INT:
		smg_buf_addf(sql, "%lld", (long long)v->i);
		break;
	case SMG_REAL:
		if (isinf(v->r)) {
			smg_buf_adds(sql, v->r > 0 ? "9e999" : "-9e999");
		} else if (isnan(v->r)) {
			smg_buf_adds(sql, "NULL");
		} else if (v->r == 0 && signbit(v->r)) {
			smg_buf_adds(sql, "CAST(\x01 AS REAL)");
			params_add(ps, 't', "-0.0", 4);
		} else {
			real_text(num, sizeof num, v->r);
			smg_buf_addc(sql, '\x01');
			params_add(ps, 'r', num, strlen(num));
		}
		break;
	case SMG_TEXT:
		if ((v->n <= TEXT_LITERAL_MAX || literal_only) && literal_text_ok(v->p, v->n)) {
			smg_buf_addc(sql, '\'');
			for (size_t i = 0; i < v->n; i++) {
				if (v->p[i] == '\'')
					smg_buf_addc(sql, '\'');
				smg_buf_addc(sql, v->p[i]);
			}
			smg_buf_addc(sql, '\'');
		} else if (smg_utf8_valid(v->p, v->n) && !literal_only) {
			smg_buf_addc(sql, '\x01');
			params_add(ps, 't', v->p, v->n);
		} else if (p->unhex && !literal_only) {
			smg_buf_adds(sql, "CAST(unhex(\x01) AS TEXT)");
			struct smg_buf h = SMG_BUF_INIT;
			add_hex(&h, v->p, v->n);
			params_add(ps, 't', h.data ? h.data : "", h.len);
			smg_buf_free(&h);
		} else {
			smg_buf_adds(sql, "CAST(X'");
			add_hex(sql, v->p, v->n);
			smg_buf_adds(sql, "' AS TEXT)");
		}
		break;
	case SMG_BLOB:
		if (v->n <= BLOB_LITERAL_MAX || literal_only || !p->unhex) {
			smg_buf_adds(sql, "X'");
			add_hex(sql, v->p, v->n);
			smg_buf_addc(sql, '\'');
		} else {
			smg_buf_adds(sql, "unhex(\x01)");
			struct smg_buf h = SMG_BUF_INIT;
			add_hex(&h, v->p, v->n);
			params_add(ps, 't', h.data, h.len);
			smg_buf_free(&h);
		}
		break;
	}
}

/* ---- values out of answers --------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* Decode hex in place; false if it is not hex. */
static bool unhex_in_place(char *p, size_t n, size_t *out)
{
	if (n & 1)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int a = hexval(p[2 * i]), b = hexval(p[2 * i + 1]);
		if (a < 0 || b < 0)
			return false;
		p[i] = (char)(a << 4 | b);
	}
	*out = n / 2;
	return true;
}

/* A cell that is an object holds its value in the profile's cell member. */
static void cell_value(const struct smg_http_profile *p, const char **raw, size_t *len)
{
	if (*len && **raw == '{' && *p->cell) {
		if (!smg_jmember(*raw, *len, p->cell, raw, len)) {
			*raw = "null";
			*len = 4;
		}
	}
}

/*
 * One cell of a tagged read (FIDELITY.md, section 2) into v.  Strings are
 * decoded in place in the answer, which the caller owns; they stay valid
 * until the next request.  Returns an error message or NULL.
 */
static const char *decode_tagged(const struct smg_http_profile *p, const char *raw, size_t len,
				 struct smg_value *v)
{
	cell_value(p, &raw, &len);
	memset(v, 0, sizeof *v);
	if (len == 4 && !memcmp(raw, "null", 4)) {
		v->type = SMG_NULL;
		return NULL;
	}
	if (len && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))) {
		char num[64];
		if (len >= sizeof num)
			return "number too long";
		memcpy(num, raw, len);
		num[len] = '\0';
		char *end;
		errno = 0;
		v->type = SMG_REAL;
		v->r = strtod(num, &end);
		if (*end)
			return "malformed number";
		return NULL;
	}
	if (!len || raw[0] != '"' || len < 3)
		return "expected a tagged string, a number or null";
	char *s = (char *)raw + 1;
	size_t n = len - 2;
	if (memchr(s, '\\', n))
		return "unexpected escape in a tagged value";
	char tag = s[0];
	s++;
	n--;
	switch (tag) {
	case 'i': {
		char num[32];
		if (n == 0 || n >= sizeof num)
			return "bad integer";
		memcpy(num, s, n);
		num[n] = '\0';
		char *end;
		errno = 0;
		long long x = strtoll(num, &end, 10);
		if (*end || errno)
			return "bad integer";
		v->type = SMG_INT;
		v->i = x;
		return NULL;
	}
	case 't':
	case 'b':
		if (!unhex_in_place(s, n, &v->n))
			return "bad hex";
		v->type = tag == 't' ? SMG_TEXT : SMG_BLOB;
		v->p = s;
		return NULL;
	case 'r':
		v->type = SMG_REAL;
		if (n == 3 && !memcmp(s, "Inf", 3))
			v->r = INFINITY;
		else if (n == 4 && !memcmp(s, "-Inf", 4))
			v->r = -INFINITY;
		else if (n == 4 && !memcmp(s, "-0.0", 4))
			v->r = -0.0;
		else
			return "bad real tag";
		return NULL;
	}
	return "unknown tag";
}

/* A plain (untagged) cell as text, for the schema queries; malloc'd. */
static char *cell_text(const struct smg_http_profile *p, const char *raw, size_t len)
{
	cell_value(p, &raw, &len);
	if (len == 4 && !memcmp(raw, "null", 4))
		return NULL;
	if (len && raw[0] == '"') {
		struct smg_buf scratch = SMG_BUF_INIT;
		struct smg_json j;
		const char *s;
		size_t n;
		smg_json_init(&j, raw, len, &scratch);
		char *out = smg_json_string(&j, &s, &n) ? smg_xstrndup(s, n) : NULL;
		smg_buf_free(&scratch);
		return out;
	}
	return smg_xstrndup(raw, len);
}

/* The cells of a row: an array, or an object keyed c0, c1, ... (the
 * aliases every query gives its columns).  Returns how many were found,
 * up to n; more than n when an array has more. */
static size_t row_cells(const char *row, size_t rowlen, size_t n, const char **cell,
			size_t *cell_len, bool *bad)
{
	size_t k = 0;
	*bad = false;
	if (rowlen && row[0] == '{') {
		for (k = 0; k < n; k++) {
			char name[24];
			snprintf(name, sizeof name, "c%zu", k);
			if (!smg_jmember(row, rowlen, name, &cell[k], &cell_len[k]))
				break;
		}
		return k;
	}
	struct smg_jiter it;
	const char *c;
	size_t clen;
	if (!smg_jarray(&it, row, rowlen)) {
		*bad = true;
		return 0;
	}
	while (smg_jnext(&it, &c, &clen)) {
		if (k == n)
			return n + 1;
		cell[k] = c;
		cell_len[k++] = clen;
	}
	*bad = it.bad;
	return k;
}

/* ---- the schema ------------------------------------------------------------------------ */

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

#define TABLE_FILTER                                                               \
	"m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "            \
	"AND m.name NOT LIKE '\\_cf\\_%' ESCAPE '\\' "                              \
	"AND coalesce(m.sql, '') NOT LIKE 'CREATE VIRTUAL%'"

static const char schema_columns_sql[] =
	"SELECT m.name AS c0, CASE WHEN p.cid = 0 THEN m.sql END AS c1, p.name AS c2, "
	"p.pk AS c3, p.hidden AS c4 "
	"FROM sqlite_master m, pragma_table_xinfo(m.name) p WHERE " TABLE_FILTER
	" ORDER BY m.name, p.cid";
static const char schema_collations_sql[] =
	"SELECT m.name AS c0, i.name AS c1, i.coll AS c2 FROM sqlite_master m, pragma_index_list(m.name) l, "
	"pragma_index_xinfo(l.name) i WHERE " TABLE_FILTER
	" AND l.origin = 'pk' AND i.key = 1 AND upper(i.coll) <> 'BINARY'";

static int by_rtable_name(const void *a, const void *b)
{
	return strcmp(((const struct rtable *)a)->t->name, ((const struct rtable *)b)->t->name);
}

static struct rtable *schema_find(struct schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].t->name, name))
			return &s->v[i];
	return NULL;
}

static void schema_free(struct schema *s)
{
	for (size_t i = 0; i < s->n; i++) {
		smg_table_free(s->v[i].t);
		for (size_t k = 0; k < s->v[i].nnonbinary; k++)
			free(s->v[i].nonbinary[k]);
		free(s->v[i].nonbinary);
		free(s->v[i].col_pk);
	}
	free(s->v);
	memset(s, 0, sizeof *s);
}

static void schema_read_columns(struct smg_remote *r, struct schema *s, const char *body,
				size_t blen, long stmt)
{
	struct smg_jiter rows;
	const char *row;
	size_t rowlen;
	if (!answer_rows(r, body, blen, stmt, &rows))
		smg_die(SMG_EXIT_DATA, "%s: the answer has no rows where the profile says (%s)",
			r->t->name, r->p->rows);
	char *pknames[101] = {0};
	size_t npk = 0;
	struct rtable *cur = NULL;
	for (;;) {
		bool more = smg_jnext(&rows, &row, &rowlen);
		char *f[5] = {0};
		if (more) {
			const char *cell[5];
			size_t celllen[5];
			bool bad;
			size_t k = row_cells(row, rowlen, 5, cell, celllen, &bad);
			if (k != 5 || bad)
				smg_die(SMG_EXIT_DATA, "%s: malformed schema row", r->t->name);
			for (k = 0; k < 5; k++)
				f[k] = cell_text(r->p, cell[k], celllen[k]);
			if (!f[0] || !f[2])
				smg_die(SMG_EXIT_DATA, "%s: malformed schema row", r->t->name);
		}
		if (cur && (!more || strcmp(cur->t->name, f[0]))) {
			for (size_t k = 0; k < npk; k++) {
				if (pknames[k])
					smg_table_add_pk(cur->t, pknames[k]);
				free(pknames[k]);
				pknames[k] = NULL;
			}
			npk = 0;
			cur = NULL;
		}
		if (!more)
			break;
		if (!cur) {
			s->v = smg_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
			cur = &s->v[s->n++];
			memset(cur, 0, sizeof *cur);
			cur->t = smg_table_new(f[0]);
			cur->t->sql = f[1] ? smg_xstrdup(f[1]) : NULL;
		}
		long pk = strtol(f[3] ? f[3] : "0", NULL, 10);
		long hidden = strtol(f[4] ? f[4] : "0", NULL, 10);
		if (hidden == 0) {
			cur->col_pk = smg_xrealloc(cur->col_pk, (cur->t->ncols + 1) * sizeof *cur->col_pk);
			cur->col_pk[cur->t->ncols] = pk > 0 && pk <= 100 ? (int)pk : 0;
			smg_table_add_col(cur->t, f[2]);
		}
		if (pk > 0 && pk <= 100) {
			free(pknames[pk - 1]);
			pknames[pk - 1] = smg_xstrdup(f[2]);
			npk = (size_t)pk > npk ? (size_t)pk : npk;
		}
		for (size_t k = 0; k < 5; k++)
			free(f[k]);
	}
	if (rows.bad)
		smg_die(SMG_EXIT_DATA, "%s: malformed answer to the schema query", r->t->name);
	qsort(s->v, s->n, sizeof *s->v, by_rtable_name);
}

static void schema_read_collations(struct smg_remote *r, struct schema *s, const char *body,
				   size_t blen, long stmt)
{
	struct smg_jiter rows;
	const char *row, *cell[3];
	size_t rowlen, celllen[3];
	if (!answer_rows(r, body, blen, stmt, &rows))
		return;
	while (smg_jnext(&rows, &row, &rowlen)) {
		char *f[3] = {0};
		bool bad;
		size_t k = row_cells(row, rowlen, 3, cell, celllen, &bad);
		if (k != 3 || bad)
			continue;
		for (k = 0; k < 3; k++)
			f[k] = cell_text(r->p, cell[k], celllen[k]);
		struct rtable *rt = k == 3 && f[0] && f[1] ? schema_find(s, f[0]) : NULL;
		if (rt) {
			rt->nonbinary = smg_xrealloc(rt->nonbinary,
						     (rt->nnonbinary + 1) * sizeof *rt->nonbinary);
			rt->nonbinary[rt->nnonbinary++] = smg_xstrdup(f[1]);
		}
		for (k = 0; k < 3; k++)
			free(f[k]);
	}
}

/* One request (two if the endpoint takes one statement at a time). */
static void schema_load(struct smg_remote *r, struct schema *s)
{
	struct params none = {0};
	memset(s, 0, sizeof *s);
	req_add(r, schema_columns_sql, strlen(schema_columns_sql), &none);
	long second = 1;
	if (r->p->max_statements < 2) {
		send_or_die(r);
		schema_read_columns(r, s, r->resp.body.data, r->resp.body.len, 0);
		second = 0;
	}
	req_add(r, schema_collations_sql, strlen(schema_collations_sql), &none);
	send_or_die(r);
	if (second)
		schema_read_columns(r, s, r->resp.body.data, r->resp.body.len, 0);
	schema_read_collations(r, s, r->resp.body.data, r->resp.body.len, second);
	for (size_t i = 0; i < s->n; i++)
		smg_table_finish(s->v[i].t, NULL);	/* a table without a key says so later */
}

static bool listed(char **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

static char *schema_names(const struct schema *s)
{
	struct smg_buf b = SMG_BUF_INIT;
	for (size_t i = 0; i < s->n; i++) {
		if (b.len)
			smg_buf_adds(&b, ", ");
		smg_buf_adds(&b, s->v[i].t->name);
	}
	if (!b.len)
		smg_buf_adds(&b, "(none)");
	return smg_buf_detach(&b);
}

/* The stream's view of one endpoint table under sel, as smg_db_table. */
static struct smg_table *select_table(const struct rtable *rt, const struct smg_select *sel,
				      const char **why)
{
	const struct smg_table *all = rt->t;
	struct smg_table *t = smg_table_new(all->name);
	for (size_t i = 0; i < all->ncols; i++)
		if (rt->col_pk[i] || !smg_column_excluded(sel, all->name, all->cols[i]))
			smg_table_add_col(t, all->cols[i]);
	for (size_t k = 0; k < all->npk; k++)
		smg_table_add_pk(t, all->pk[k]);
	if (all->sql)
		t->sql = smg_xstrdup(all->sql);
	return smg_table_done(t, sel->ts, why);
}

static struct smg_table **select_tables(struct smg_remote *r, struct schema *s,
					const struct smg_select *sel, size_t *n)
{
	struct smg_table **out = smg_xcalloc(s->n + 1, sizeof *out);
	*n = 0;
	for (size_t i = 0; i < sel->ntables; i++) {
		if (!schema_find(s, sel->tables[i])) {
			char *have = schema_names(s);
			smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" (tables: %s)", r->t->name,
				sel->tables[i], have);
		}
	}
	for (size_t i = 0; i < s->n; i++) {
		const char *name = s->v[i].t->name;
		if (sel->ntables ? !listed(sel->tables, sel->ntables, name)
				 : listed(sel->exclude_tables, sel->nexclude_tables, name))
			continue;
		const char *why = NULL;
		struct smg_table *t = select_table(&s->v[i], sel, &why);
		if (t)
			out[(*n)++] = t;
		else if (sel->ntables)
			smg_die(SMG_EXIT_USAGE, "%s: table \"%s\" cannot be synced: %s (smugglr matches "
				"rows by primary key)", r->t->name, name, why);
		else
			smg_warn("%s: skipping table \"%s\": %s", r->t->name, name, why);
	}
	return out;
}

struct smg_table **smg_remote_tables(struct smg_remote *r, const struct smg_select *sel, size_t *n)
{
	struct schema s;
	schema_load(r, &s);
	struct smg_table **t = select_tables(r, &s, sel, n);
	schema_free(&s);
	return t;
}

/* ---- fetch ------------------------------------------------------------------------------ */

/* One tagged result column per table column (FIDELITY.md, section 2). */
static void tagged_column(const struct smg_http_profile *p, struct smg_buf *sql, const char *col,
			  size_t idx)
{
	struct smg_buf c = SMG_BUF_INIT;
	smg_sql_ident(&c, col);
	const char *q = c.data;
	smg_buf_addf(sql, "CASE typeof(%s) WHEN 'integer' THEN 'i' || %s WHEN 'real' THEN CASE "
		     "WHEN %s = 9e999 THEN 'rInf' WHEN %s = -9e999 THEN 'r-Inf' ", q, q, q, q);
	if (p->neg_zero)
		smg_buf_addf(sql, "WHEN %s = 0 AND atan2(%s, -1.0) < 0 THEN 'r-0.0' ", q, q);
	smg_buf_addf(sql, "ELSE %s END WHEN 'text' THEN 't' || hex(%s) WHEN 'blob' THEN 'b' || "
		     "hex(%s) END AS c%zu", q, q, q, idx);
	smg_buf_free(&c);
}

struct key_copy {
	struct smg_value *v;
	struct smg_buf data;
	bool set;
};

static void key_save(struct key_copy *k, const struct smg_table *t, const struct smg_value *vals)
{
	smg_buf_reset(&k->data);
	for (size_t i = 0; i < t->npk; i++) {
		const struct smg_value *v = &vals[t->pk_idx[i]];
		if (v->type == SMG_TEXT || v->type == SMG_BLOB)
			smg_buf_add(&k->data, v->p, v->n);
	}
	size_t off = 0;
	for (size_t i = 0; i < t->npk; i++) {
		k->v[i] = vals[t->pk_idx[i]];
		if (k->v[i].type == SMG_TEXT || k->v[i].type == SMG_BLOB) {
			k->v[i].p = k->data.data + off;
			off += k->v[i].n;
		}
	}
	k->set = true;
}

static bool nonbinary(const struct rtable *rt, const char *col)
{
	for (size_t i = 0; i < rt->nnonbinary; i++)
		if (!strcmp(rt->nonbinary[i], col))
			return true;
	return false;
}

/* SELECT ... WHERE key > last ORDER BY key LIMIT page: paged by key, never
 * by OFFSET, so each page is an index seek. */
static void page_sql(const struct smg_http_profile *p, const struct rtable *rt,
		     const struct smg_table *t, const struct key_copy *last, struct smg_buf *sql,
		     struct params *ps)
{
	smg_buf_reset(sql);
	params_reset(ps);
	smg_buf_adds(sql, "SELECT ");
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			smg_buf_addc(sql, ',');
		tagged_column(p, sql, t->cols[i], i);
	}
	smg_buf_adds(sql, " FROM ");
	smg_sql_ident(sql, t->name);
	bool plain = true;	/* every key column compares as BINARY */
	for (size_t k = 0; k < t->npk; k++)
		if (nonbinary(rt, t->pk[k]))
			plain = false;
	if (last && last->set) {
		for (size_t k = 0; k < t->npk; k++)
			if (last->v[k].type == SMG_NULL)
				smg_die(SMG_EXIT_DATA, "table \"%s\": a NULL in the primary key cannot be "
					"paged past (give the key column NOT NULL)", t->name);
		smg_buf_adds(sql, " WHERE ");
		if (t->npk == 1) {
			smg_sql_ident(sql, t->pk[0]);
			smg_buf_adds(sql, " COLLATE BINARY > ");
			sql_value(p, sql, ps, &last->v[0], false);
		} else {
			if (!plain) {
				/* a row value with COLLATE cannot seek: bound the
				 * first column, which can */
				smg_sql_ident(sql, t->pk[0]);
				smg_buf_adds(sql, " COLLATE BINARY >= ");
				sql_value(p, sql, ps, &last->v[0], false);
				smg_buf_adds(sql, " AND ");
			}
			smg_buf_addc(sql, '(');
			for (size_t k = 0; k < t->npk; k++) {
				if (k)
					smg_buf_addc(sql, ',');
				smg_sql_ident(sql, t->pk[k]);
				if (!plain)
					smg_buf_adds(sql, " COLLATE BINARY");
			}
			smg_buf_adds(sql, ") > (");
			for (size_t k = 0; k < t->npk; k++) {
				if (k)
					smg_buf_addc(sql, ',');
				sql_value(p, sql, ps, &last->v[k], false);
			}
			smg_buf_addc(sql, ')');
		}
	}
	smg_buf_adds(sql, " ORDER BY ");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc(sql, ',');
		smg_sql_ident(sql, t->pk[k]);
		smg_buf_adds(sql, " COLLATE BINARY");
	}
	smg_buf_addf(sql, " LIMIT %ld", p->page_rows);
}

struct fetch_state {
	struct smg_value *vals, *key;
	const char **cell;
	size_t *cell_len;
	struct key_copy last;
	int64_t rows, done;
	bool progress, keys_only;
	struct smg_writer *w;
};

/* Where statement i's rows are in an answer, before anything in it is
 * decoded in place. */
struct rows_span {
	const char *p;
	size_t len;
	bool truncated;
};

static struct rows_span find_rows(struct smg_remote *r, const struct smg_table *t,
				  const char *body, size_t blen, long i)
{
	struct rows_span s = {NULL, 0, answer_truncated(r, body, blen)};
	if (!smg_jpath(body, blen, r->p->rows, i, &s.p, &s.len) ||
	    (s.len == 4 && !memcmp(s.p, "null", 4))) {
		s.p = "[]";
		s.len = 2;
	}
	if (s.len == 0 || s.p[0] != '[')
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\": no array of rows at %s in the answer",
			r->t->name, t->name, r->p->rows);
	return s;
}

/* Write the rows of one page; returns how many. */
static long fetch_rows(struct smg_remote *r, const struct smg_table *t, struct rows_span span,
		       struct fetch_state *fs)
{
	struct smg_jiter rows;
	const char *row;
	size_t rowlen;
	long n = 0;
	smg_jarray(&rows, span.p, span.len);
	unsigned char hash[SMG_HASH_LEN];
	while (smg_jnext(&rows, &row, &rowlen)) {
		/* find every cell before decoding any in place */
		bool bad;
		size_t k = row_cells(row, rowlen, t->ncols, fs->cell, fs->cell_len, &bad);
		if (bad)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a row is neither an array nor an "
				"object", r->t->name, t->name);
		for (size_t q = 0; q < k && q < t->ncols; q++) {
			const char *err = decode_tagged(r->p, fs->cell[q], fs->cell_len[q], &fs->vals[q]);
			if (err)
				smg_die(SMG_EXIT_DATA, "%s: table \"%s\", column \"%s\": %s", r->t->name,
					t->name, t->cols[q], err);
		}
		if (k != t->ncols)
			smg_die(SMG_EXIT_DATA, "%s: table \"%s\": a row has %s values than its %zu "
				"columns", r->t->name, t->name, k > t->ncols ? "more" : "fewer", t->ncols);
		if (fs->last.set) {
			for (size_t q = 0; q < t->npk; q++)
				fs->key[q] = fs->vals[t->pk_idx[q]];
			if (smg_key_cmp(fs->key, fs->last.v, t->npk) <= 0)
				smg_die(SMG_EXIT_DATA, "%s: table \"%s\": rows came back out of key order "
					"(the endpoint does not sort or compare keys as SQLite does)",
					r->t->name, t->name);
		}
		smg_hash_row(t, fs->vals, hash);
		smg_write_row_values(fs->w, t, fs->vals, hash, fs->keys_only);
		smg_writer_maybe_flush(fs->w);
		key_save(&fs->last, t, fs->vals);
		n++;
		if (fs->progress)
			smg_progress("fetch", ++fs->done, -1);
	}
	if (rows.bad)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\": malformed answer", r->t->name, t->name);
	return n;
}

static void fetch_state_table(struct fetch_state *fs, const struct smg_table *t)
{
	free(fs->vals);
	free(fs->key);
	free(fs->cell);
	free(fs->cell_len);
	free(fs->last.v);
	fs->vals = smg_xcalloc(t->ncols, sizeof *fs->vals);
	fs->cell = smg_xcalloc(t->ncols, sizeof *fs->cell);
	fs->cell_len = smg_xcalloc(t->ncols, sizeof *fs->cell_len);
	fs->key = smg_xcalloc(t->npk, sizeof *fs->key);
	fs->last.v = smg_xcalloc(t->npk, sizeof *fs->last.v);
	fs->last.set = false;
}

void smg_remote_fetch(struct smg_remote *r, const struct smg_select *sel, struct smg_writer *w,
		      bool progress)
{
	struct schema s;
	size_t n;
	schema_load(r, &s);
	struct smg_table **tables = select_tables(r, &s, sel, &n);
	struct smg_buf sql = SMG_BUF_INIT, held = SMG_BUF_INIT;
	struct params ps = {0};
	struct fetch_state fs = {.w = w, .progress = progress, .keys_only = sel->keys_only};
	struct rows_span spans[FETCH_GROUP_MAX];
	long group = r->p->max_statements < FETCH_GROUP_MAX ? r->p->max_statements : FETCH_GROUP_MAX;
	for (size_t g = 0; g < n; g += (size_t)group) {
		size_t gn = n - g < (size_t)group ? n - g : (size_t)group;
		/* the first page of several tables in one request */
		for (size_t k = 0; k < gn; k++) {
			struct rtable *rt = schema_find(&s, tables[g + k]->name);
			page_sql(r->p, rt, tables[g + k], NULL, &sql, &ps);
			req_add(r, sql.data, sql.len, &ps);
		}
		send_or_die(r);
		/* keep that answer while later pages of its tables are read */
		smg_buf_free(&held);
		held = r->resp.body;
		memset(&r->resp.body, 0, sizeof r->resp.body);
		for (size_t k = 0; k < gn; k++)
			spans[k] = find_rows(r, tables[g + k], held.data, held.len, (long)k);
		for (size_t k = 0; k < gn; k++) {
			const struct smg_table *t = tables[g + k];
			struct rtable *rt = schema_find(&s, t->name);
			fetch_state_table(&fs, t);
			smg_write_table(w, t);
			struct rows_span span = spans[k];
			long got = fetch_rows(r, t, span, &fs);
			while (got >= r->p->page_rows || (span.truncated && got > 0)) {
				page_sql(r->p, rt, t, &fs.last, &sql, &ps);
				req_add(r, sql.data, sql.len, &ps);
				send_or_die(r);
				span = find_rows(r, t, r->resp.body.data, r->resp.body.len, 0);
				got = fetch_rows(r, t, span, &fs);
			}
		}
	}
	if (progress)
		smg_progress_done();
	smg_buf_free(&held);
	smg_buf_free(&sql);
	params_free(&ps);
	free(fs.vals);
	free(fs.key);
	free(fs.cell);
	free(fs.cell_len);
	free(fs.last.v);
	smg_buf_free(&fs.last.data);
	smg_tables_free(tables, n);
	schema_free(&s);
}

/* ---- apply --------------------------------------------------------------------------- */

enum { OP_DEL, OP_UPS };

/* A table of the change stream and the SQL its changes become. */
struct atable {
	struct smg_table *t;
	struct smg_buf head[2], tail[2];	/* around the tuples, by op */
	bool create;
	int64_t n[2];				/* changes spooled */
	long off[2];				/* where in the spool they start */
	int64_t planned[2], landed[2], batch[2];
	int64_t create_batch;			/* the batch holding CREATE TABLE */
};

struct apply_ctx {
	struct smg_remote *r;
	const struct smg_http_profile *p;
	struct atable *tab;
	size_t ntab;
	FILE *spool[2];
	long batch_rows;
	/* the statement being built */
	struct smg_buf sql;
	struct params ps;
	long rows;
	size_t sqlbytes;	/* with placeholders expanded */
	size_t cur;		/* its table */
	int op;
	/* the request (batch) being built */
	struct smg_buf rendered;
	size_t body_overhead;
	bool send;
	int64_t batches, statements, landed, sent_rows, total_rows;
	bool progress;
	struct failure fail;
	bool failed;
};

static void spool_write(FILE *f, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, f) != n)
		smg_die(SMG_EXIT_FAILURE, "writing the spool file: %s", strerror(errno));
}

static bool spool_read(FILE *f, void *p, size_t n)
{
	if (n == 0)
		return true;
	size_t got = fread(p, 1, n, f);
	if (got == 0 && feof(f))
		return false;
	if (got != n)
		smg_die(SMG_EXIT_FAILURE, "reading the spool file: %s",
			ferror(f) ? strerror(errno) : "short read");
	return true;
}

static size_t expanded_len(const struct smg_http_profile *p, const char *sql, size_t n, long first)
{
	size_t len = 0;
	long k = first;
	for (size_t i = 0; i < n; i++)
		len += sql[i] == '\x01' ? placeholder_len(p, ++k) : 1;
	return len;
}

static void build_heads(struct atable *a)
{
	const struct smg_table *t = a->t;
	struct smg_buf *h = &a->head[OP_UPS], *tl = &a->tail[OP_UPS];
	smg_buf_adds(h, "INSERT INTO ");
	smg_sql_ident(h, t->name);
	smg_buf_addc(h, '(');
	for (size_t i = 0; i < t->ncols; i++) {
		if (i)
			smg_buf_addc(h, ',');
		smg_sql_ident(h, t->cols[i]);
	}
	smg_buf_adds(h, ") VALUES ");
	smg_buf_adds(tl, " ON CONFLICT(");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc(tl, ',');
		smg_sql_ident(tl, t->pk[k]);
	}
	smg_buf_adds(tl, ") DO ");
	bool any = false;
	for (size_t i = 0; i < t->ncols; i++) {
		bool key = false;
		for (size_t k = 0; k < t->npk; k++)
			key |= t->pk_idx[k] == i;
		if (key)
			continue;
		smg_buf_adds(tl, any ? "," : "UPDATE SET ");
		smg_sql_ident(tl, t->cols[i]);
		smg_buf_adds(tl, "=excluded.");
		smg_sql_ident(tl, t->cols[i]);
		any = true;
	}
	if (!any)
		smg_buf_adds(tl, "NOTHING");

	h = &a->head[OP_DEL];
	tl = &a->tail[OP_DEL];
	smg_buf_adds(h, "DELETE FROM ");
	smg_sql_ident(h, t->name);
	smg_buf_adds(h, " WHERE ");
	if (t->npk == 1) {
		smg_sql_ident(h, t->pk[0]);
		smg_buf_adds(h, " IN (");
	} else {
		smg_buf_addc(h, '(');
		for (size_t k = 0; k < t->npk; k++) {
			if (k)
				smg_buf_addc(h, ',');
			smg_sql_ident(h, t->pk[k]);
		}
		smg_buf_adds(h, ") IN (VALUES ");
	}
	smg_buf_addc(tl, ')');
}

/* The target must have every column of the stream and the same key. */
static void check_remote_table(struct smg_remote *r, const struct rtable *rt,
			       const struct smg_table *t)
{
	struct smg_buf missing = SMG_BUF_INIT;
	for (size_t i = 0; i < t->ncols; i++)
		if (smg_table_col(rt->t, t->cols[i]) < 0)
			smg_buf_addf(&missing, "%s\"%s\"", missing.len ? ", " : "", t->cols[i]);
	if (missing.len)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" lacks column%s %s", r->t->name, t->name,
			strchr(missing.data, ',') ? "s" : "", missing.data);
	bool same = rt->t->npk == t->npk;
	for (size_t k = 0; same && k < t->npk; k++)
		same = !strcmp(rt->t->pk[k], t->pk[k]);
	if (!same)
		smg_die(SMG_EXIT_DATA, "%s: table \"%s\" has a different primary key than the stream",
			r->t->name, t->name);
}

static struct atable *open_atable(struct apply_ctx *c, struct schema *s,
				  const struct smg_table *t, const struct smg_apply_opts *o)
{
	struct smg_remote *r = c->r;
	c->tab = smg_xrealloc(c->tab, (c->ntab + 1) * sizeof *c->tab);
	struct atable *a = &c->tab[c->ntab++];
	memset(a, 0, sizeof *a);
	a->t = smg_table_copy(t);
	const struct rtable *rt = schema_find(s, t->name);
	if (!rt) {
		if (!o->create_tables) {
			char *have = schema_names(s);
			smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" to write to (tables: %s); "
				"--create-tables creates it from the source's schema", r->t->name,
				t->name, have);
		}
		if (!t->sql)
			smg_die(SMG_EXIT_DATA, "%s: cannot create table \"%s\": the stream carries no "
				"schema for it", r->t->name, t->name);
		a->create = true;
	} else {
		check_remote_table(r, rt, t);
	}
	build_heads(a);
	return a;
}

/* One change as a tuple of SQL values, spooled. */
static void spool_change(struct apply_ctx *c, struct atable *a, int op,
			 const struct smg_value *vals, size_t nvals, struct smg_reader *in)
{
	const struct smg_http_profile *p = c->p;
	for (int attempt = 0;; attempt++) {
		smg_buf_reset(&c->sql);
		params_reset(&c->ps);
		if (nvals > 1 || op == OP_UPS)
			smg_buf_addc(&c->sql, '(');
		for (size_t i = 0; i < nvals; i++) {
			if (i)
				smg_buf_addc(&c->sql, ',');
			sql_value(p, &c->sql, &c->ps, &vals[i], attempt > 0);
		}
		if (nvals > 1 || op == OP_UPS)
			smg_buf_addc(&c->sql, ')');
		if (p->max_params && (long)c->ps.n > p->max_params) {
			if (attempt == 0)
				continue;	/* again, with text and blobs as literals */
			smg_reader_die(in, "table \"%s\": a row needs %zu bound parameters, more than "
				       "the %ld a statement of %s takes", a->t->name, c->ps.n,
				       p->max_params, c->r->t->name);
		}
		size_t bytes = a->head[op].len + a->tail[op].len +
			       expanded_len(p, c->sql.data, c->sql.len, 0);
		if (p->max_statement_bytes && bytes > (size_t)p->max_statement_bytes) {
			smg_reader_die(in, "table \"%s\": a row needs a %zu-byte statement, more than "
				       "max_statement_bytes (%ld)", a->t->name, bytes,
				       p->max_statement_bytes);
		}
		break;
	}
	FILE *f = c->spool[op];
	if (a->n[op] == 0)
		a->off[op] = ftell(f);
	uint32_t hdr[3] = {(uint32_t)(c->ntab - 1), (uint32_t)c->sql.len, (uint32_t)c->ps.n};
	spool_write(f, hdr, sizeof hdr);
	spool_write(f, c->sql.data, c->sql.len);
	for (size_t i = 0; i < c->ps.n; i++) {
		uint32_t len = (uint32_t)c->ps.v[i].len;
		spool_write(f, &c->ps.v[i].kind, 1);
		spool_write(f, &len, sizeof len);
		spool_write(f, c->ps.data.data + c->ps.v[i].off, len);
	}
	a->n[op]++;
}

static void check_sizes(struct apply_ctx *c, const struct smg_table *t,
			const struct smg_value *vals, struct smg_reader *in)
{
	long max = c->p->max_value_bytes;
	if (!max)
		return;
	for (size_t i = 0; i < t->ncols; i++)
		if ((vals[i].type == SMG_TEXT || vals[i].type == SMG_BLOB) && vals[i].n > (size_t)max)
			smg_reader_die(in, "table \"%s\", column \"%s\": a %zu-byte value is more than "
				       "%s takes (max_value_bytes %ld)", t->name, t->cols[i], vals[i].n,
				       c->r->t->name, max);
}

/* Pass 1: read and check the whole stream, spooling its SQL. */
static void spool_stream(struct apply_ctx *c, struct schema *s, struct smg_reader *in,
			 const struct smg_apply_opts *o)
{
	struct smg_value *vals = NULL;
	size_t cap = 0;
	struct atable *a = NULL;
	const struct smg_record *rec;
	while ((rec = smg_reader_next(in))) {
		switch (rec->kind) {
		case SMG_REC_TABLE:
			a = open_atable(c, s, rec->table, o);
			break;
		case SMG_REC_CHANGE:
			if (o->only >= 0 && (int)rec->to != o->only)
				break;
			if (rec->op == SMG_OP_DELETE) {
				spool_change(c, a, OP_DEL, rec->key, a->t->npk, in);
				break;
			}
			smg_reader_values(in, rec, &vals, &cap);
			for (size_t k = 0; k < a->t->npk; k++)
				if (smg_value_cmp(&vals[a->t->pk_idx[k]], &rec->key[k]) != 0)
					smg_reader_die(in, "the key of the change does not match its values");
			check_sizes(c, a->t, vals, in);
			spool_change(c, a, OP_UPS, vals, a->t->ncols, in);
			break;
		case SMG_REC_ROW:
			smg_reader_die(in, "expected a change stream (from smg-diff), got a row record");
		default:
			break;
		}
	}
	free(vals);
	for (int op = 0; op < 2; op++)
		if (fflush(c->spool[op]) != 0)
			smg_die(SMG_EXIT_FAILURE, "writing the spool file: %s", strerror(errno));
}

/* Send (or, planning, count) the batch built so far. */
static void flush_batch(struct apply_ctx *c)
{
	struct smg_remote *r = c->r;
	if (c->failed || r->nstmts == 0)
		return;
	c->batches++;
	bool ok = true;
	if (c->send) {
		ok = send_request(r, &c->fail);
	} else {
		req_reset(r);
	}
	for (size_t i = 0; i < c->ntab; i++) {
		struct atable *a = &c->tab[i];
		for (int op = 0; op < 2; op++) {
			if (!c->send)
				a->planned[op] += a->batch[op];
			else if (ok)
				a->landed[op] += a->batch[op];
			if (ok)
				a->batch[op] = 0;
		}
	}
	if (c->send && ok)
		c->landed++;
	if (!ok)
		c->failed = true;
}

/* Put a finished statement into the batch, sending the batch first when
 * the statement would not fit in it.  A batch opens with the profile's
 * batch_prefix, if any. */
static void add_statement(struct apply_ctx *c, const char *sql, size_t sqllen,
			  const struct params *ps, size_t table, int op, long rows)
{
	struct smg_remote *r = c->r;
	const struct smg_http_profile *p = c->p;
	if (c->failed)
		return;
	long first = *p->batch_prefix ? 1 : 0;	/* index of the first statement */
	long data = r->nstmts ? r->nstmts - first : 0;
	smg_buf_reset(&c->rendered);
	render_statement(r, &c->rendered, sql, sqllen, ps, r->nstmts ? r->nstmts : first);
	size_t sep = strlen(p->separator);
	bool full = r->nstmts &&
		    (data >= p->max_statements ||
		     (p->max_request_bytes && c->body_overhead + r->stmts.len + sep +
						      c->rendered.len > (size_t)p->max_request_bytes));
	if (full) {
		flush_batch(c);
		if (c->failed)
			return;
		smg_buf_reset(&c->rendered);
		render_statement(r, &c->rendered, sql, sqllen, ps, first);
	}
	if (r->nstmts == 0 && first) {
		struct params none = {0};
		render_statement(r, &r->stmts, p->batch_prefix, strlen(p->batch_prefix), &none, 0);
		r->nstmts++;
	}
	if (r->nstmts)
		smg_buf_adds(&r->stmts, p->separator);
	smg_buf_add(&r->stmts, c->rendered.data, c->rendered.len);
	r->nstmts++;
	c->statements++;
	if (op < 0)
		c->tab[table].create_batch = c->batches + 1;
	if (op >= 0) {
		c->tab[table].batch[op] += rows;
		c->sent_rows += rows;
		if (c->progress && c->send)
			smg_progress("apply", c->sent_rows, c->total_rows);
	}
}

static void close_statement(struct apply_ctx *c)
{
	if (c->rows == 0)
		return;
	struct atable *a = &c->tab[c->cur];
	smg_buf_add(&c->sql, a->tail[c->op].data, a->tail[c->op].len);
	add_statement(c, c->sql.data, c->sql.len, &c->ps, c->cur, c->op, c->rows);
	c->rows = 0;
}

/* One table's spooled changes of one kind into statements, in batches. */
static void run_changes(struct apply_ctx *c, size_t ti, int op, struct smg_buf *tuple,
			struct smg_buf *pdata)
{
	const struct smg_http_profile *p = c->p;
	struct atable *a = &c->tab[ti];
	FILE *f = c->spool[op];
	if (a->n[op] == 0)
		return;
	if (fseek(f, a->off[op], SEEK_SET) != 0)
		smg_die(SMG_EXIT_FAILURE, "seeking in the spool file: %s", strerror(errno));
	c->rows = 0;
	c->cur = ti;
	c->op = op;
	for (int64_t i = 0; i < a->n[op] && !c->failed; i++) {
		uint32_t hdr[3];
		if (!spool_read(f, hdr, sizeof hdr) || hdr[0] != ti)
			smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
		uint32_t sqllen = hdr[1], np = hdr[2];
		smg_buf_reset(tuple);
		smg_buf_grow(tuple, sqllen + 1);
		spool_read(f, tuple->data, sqllen);
		tuple->len = sqllen;
		struct params tp = {0};
		for (uint32_t k = 0; k < np; k++) {
			char kind;
			uint32_t len;
			spool_read(f, &kind, 1);
			spool_read(f, &len, sizeof len);
			smg_buf_reset(pdata);
			smg_buf_grow(pdata, len + 1);
			spool_read(f, pdata->data, len);
			params_add(&tp, kind, pdata->data, len);
		}
		/* does it fit in the statement being built? */
		size_t add = expanded_len(p, tuple->data, tuple->len, (long)c->ps.n);
		bool fits = c->rows > 0 && c->rows < c->batch_rows &&
			    (!p->max_params || (long)(c->ps.n + np) <= p->max_params) &&
			    (!p->max_statement_bytes ||
			     c->sqlbytes + 1 + add + a->tail[op].len <= (size_t)p->max_statement_bytes);
		if (!fits) {
			close_statement(c);
			smg_buf_reset(&c->sql);
			params_reset(&c->ps);
			smg_buf_add(&c->sql, a->head[op].data, a->head[op].len);
			c->sqlbytes = a->head[op].len;
			add = expanded_len(p, tuple->data, tuple->len, 0);
		} else {
			smg_buf_addc(&c->sql, ',');
			c->sqlbytes++;
		}
		smg_buf_add(&c->sql, tuple->data, tuple->len);
		c->sqlbytes += add;
		for (size_t k = 0; k < tp.n; k++)
			params_add(&c->ps, tp.v[k].kind, tp.data.data + tp.v[k].off, tp.v[k].len);
		params_free(&tp);
		c->rows++;
	}
	close_statement(c);
}

/*
 * Pass 2 (plan) and 3 (send): statements from the spool, in batches.  A
 * batch is a transaction, and foreign keys are checked at its commit, but
 * a push of any size takes many batches: so tables to create go first,
 * then deletes, children before parents, then upserts, parents before
 * children.
 * Each batch then leaves every reference whole, as the target demands.
 */
static void run_batches(struct apply_ctx *c, const size_t *order, bool send)
{
	struct smg_buf tuple = SMG_BUF_INIT, pdata = SMG_BUF_INIT;
	struct params none = {0};
	c->send = send;
	c->batches = c->statements = c->sent_rows = 0;
	for (size_t k = 0; k < c->ntab && !c->failed; k++) {
		const struct smg_table *t = c->tab[order[k]].t;
		if (c->tab[order[k]].create)
			add_statement(c, t->sql, strlen(t->sql), &none, order[k], -1, 0);
	}
	for (size_t k = c->ntab; k-- > 0 && !c->failed;)
		run_changes(c, order[k], OP_DEL, &tuple, &pdata);
	for (size_t k = 0; k < c->ntab && !c->failed; k++)
		run_changes(c, order[k], OP_UPS, &tuple, &pdata);
	flush_batch(c);
	if (c->progress && send)
		smg_progress_done();
	smg_buf_free(&tuple);
	smg_buf_free(&pdata);
}

/* The stream's tables, parents first, by the target's own schema (or the
 * stream's, for a table still to be created). */
static size_t *table_order(const struct apply_ctx *c, struct schema *s)
{
	const char **names = smg_xcalloc(c->ntab + 1, sizeof *names);
	const char **sql = smg_xcalloc(c->ntab + 1, sizeof *sql);
	size_t *order = smg_xcalloc(c->ntab + 1, sizeof *order);
	for (size_t i = 0; i < c->ntab; i++) {
		const struct rtable *rt = schema_find(s, c->tab[i].t->name);
		names[i] = c->tab[i].t->name;
		sql[i] = rt && rt->t->sql ? rt->t->sql : c->tab[i].t->sql;
	}
	smg_tables_parents_first(names, sql, c->ntab, order);
	free(names);
	free(sql);
	return order;
}

int smg_remote_apply(struct smg_remote *r, struct smg_reader *in,
		     const struct smg_apply_opts *o, struct smg_remote_result *res)
{
	memset(res, 0, sizeof *res);
	if (r->p->read_only)
		smg_die(SMG_EXIT_USAGE, "%s: the %s profile is read-only: it cannot be written to",
			r->t->name, r->p->name);
	if (!strcmp(r->p->method, "GET"))
		smg_die(SMG_EXIT_USAGE, "%s: the %s profile sends GET requests: it cannot write",
			r->t->name, r->p->name);
	struct apply_ctx c = {.r = r, .p = r->p, .progress = o->progress};
	c.batch_rows = r->t->batch_rows > 0 ? r->t->batch_rows : 100;
	for (int op = 0; op < 2; op++) {
		c.spool[op] = tmpfile();
		if (!c.spool[op])
			smg_die(SMG_EXIT_FAILURE, "cannot create a spool file: %s", strerror(errno));
	}
	struct schema s;
	schema_load(r, &s);
	spool_stream(&c, &s, in, o);
	size_t *order = table_order(&c, &s);
	schema_free(&s);
	for (size_t i = 0; i < c.ntab; i++)
		c.total_rows += c.tab[i].n[0] + c.tab[i].n[1];
	{
		struct smg_buf b = SMG_BUF_INIT;
		struct smg_tvar v = {"statements", "", 0, false};
		smg_template_expand(&b, r->p->body, &v, 1, 0, 999999);
		c.body_overhead = b.len;
		smg_buf_free(&b);
	}
	run_batches(&c, order, false);	/* plan: how many batches */
	res->batches = c.batches;
	res->statements = c.statements;
	if (!o->dry_run)
		run_batches(&c, order, true);
	free(order);
	res->landed = c.landed;
	res->requests = r->requests;
	res->code = c.failed ? (c.fail.code ? c.fail.code : SMG_EXIT_FAILURE) : 0;
	if (c.failed) {
		snprintf(res->error, sizeof res->error, "%s", c.fail.msg);
		res->maybe_landed = c.fail.maybe_landed;
	}
	res->res.tables = smg_xcalloc(c.ntab + 1, sizeof *res->res.tables);
	res->res.ntables = c.ntab;
	for (size_t i = 0; i < c.ntab; i++) {
		struct atable *a = &c.tab[i];
		struct smg_apply_table *t = &res->res.tables[i];
		t->name = smg_xstrdup(a->t->name);
		t->created = a->create && (o->dry_run || a->create_batch <= c.landed);
		t->upserted = o->dry_run ? a->planned[OP_UPS] : a->landed[OP_UPS];
		t->deleted = o->dry_run ? a->planned[OP_DEL] : a->landed[OP_DEL];
		res->res.upserted += t->upserted;
		res->res.deleted += t->deleted;
		if (!o->dry_run) {
			res->pending_upserts += a->planned[OP_UPS] - a->landed[OP_UPS];
			res->pending_deletes += a->planned[OP_DEL] - a->landed[OP_DEL];
		}
		for (int op = 0; op < 2; op++) {
			smg_buf_free(&a->head[op]);
			smg_buf_free(&a->tail[op]);
		}
		smg_table_free(a->t);
	}
	free(c.tab);
	for (int op = 0; op < 2; op++)
		fclose(c.spool[op]);
	smg_buf_free(&c.sql);
	smg_buf_free(&c.rendered);
	params_free(&c.ps);
	return res->code;
}

void smg_remote_result_free(struct smg_remote_result *res)
{
	smg_apply_result_free(&res->res);
	memset(res, 0, sizeof *res);
}

void smg_remote_report_text(struct smg_buf *b, const char *target,
			    const struct smg_remote_result *res, bool dry_run)
{
	smg_apply_report_text(b, target, &res->res, dry_run);
	if (dry_run)
		smg_buf_addf(b, "%s: would send %lld batch%s (%lld statement%s)\n", target,
			     (long long)res->batches, res->batches == 1 ? "" : "es",
			     (long long)res->statements, res->statements == 1 ? "" : "s");
	else
		smg_buf_addf(b, "%s: %lld of %lld batch%s landed (%lld statement%s) in %lld "
			     "request%s\n", target, (long long)res->landed, (long long)res->batches,
			     res->batches == 1 ? "" : "es", (long long)res->statements,
			     res->statements == 1 ? "" : "s", (long long)res->requests,
			     res->requests == 1 ? "" : "s");
}

void smg_remote_report_json(struct smg_buf *b, const char *target,
			    const struct smg_remote_result *res, bool dry_run)
{
	size_t start = b->len;
	smg_apply_report_json(b, target, &res->res, dry_run);
	/* the same object with the batches added */
	while (b->len > start && (b->data[b->len - 1] == '\n' || b->data[b->len - 1] == '}'))
		b->len--;
	smg_buf_addf(b, ",\"complete\":%s,\"batches\":%lld,\"landed\":%lld,\"statements\":%lld,"
		     "\"requests\":%lld", res->code ? "false" : "true", (long long)res->batches,
		     (long long)res->landed, (long long)res->statements, (long long)res->requests);
	if (res->code) {
		smg_buf_addf(b, ",\"failed_batch\":%lld,\"pending_upserts\":%lld,"
			     "\"pending_deletes\":%lld,\"maybe_landed\":%s,\"exit\":%d,\"error\":",
			     (long long)res->landed + 1, (long long)res->pending_upserts,
			     (long long)res->pending_deletes, res->maybe_landed ? "true" : "false",
			     res->code);
		smg_json_add_string(b, res->error, strlen(res->error));
	}
	smg_buf_adds(b, "}\n");
}

void smg_remote_report_failure(const char *target, const struct smg_remote_result *res)
{
	smg_warn("%s", res->error);
	struct smg_buf b = SMG_BUF_INIT;
	for (size_t i = 0; i < res->res.ntables; i++) {
		const struct smg_apply_table *t = &res->res.tables[i];
		if (!t->upserted && !t->deleted)
			continue;
		smg_buf_addf(&b, "%s%s: %lld upserted, %lld deleted", b.len ? "; " : "", t->name,
			     (long long)t->upserted, (long long)t->deleted);
	}
	if (res->landed)
		smg_warn("%s: batches 1-%lld of %lld landed (%s)", target, (long long)res->landed,
			 (long long)res->batches, b.len ? b.data : "no rows");
	else
		smg_warn("%s: no batch of %lld landed", target, (long long)res->batches);
	smg_warn("%s: batch %lld%s and the %lld after it did not land: %lld upserts and %lld "
		 "deletes; running the same sync again finishes the job", target,
		 (long long)res->landed + 1,
		 res->maybe_landed ? " (which may have committed before the connection broke)" : "",
		 (long long)(res->batches - res->landed - 1), (long long)res->pending_upserts,
		 (long long)res->pending_deletes);
	smg_buf_free(&b);
}
