/*
 * target.c - targets: resolving a spec or the config into one, the one
 * label builder (passwords in URLs never shown) and running a command
 * target (see target.h).
 */
#include "target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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


/* Where a URL's authority starts: after SCHEME://, or at the start when
 * it has no scheme ("user:secret@host/db", which curl takes for http). */
static const char *authority(const char *url)
{
	const char *scheme = strstr(url, "://");
	return scheme ? scheme + 3 : url;
}

/* The '@' that ends the user:password of a URL, or NULL: the last one of
 * the authority (which ends at the path, query or fragment), so that a
 * password holding an '@' is hidden whole. */
static const char *userinfo_end(const char *url)
{
	const char *host = authority(url), *at = NULL;
	for (const char *p = host; *p && !strchr("/?#", *p); p++)
		if (*p == '@')
			at = p;
	return at;
}

/* user:password@host... with no scheme: a URL that lost its scheme, not a
 * file name, and never to be shown as one. */
static bool schemeless_with_password(const char *spec)
{
	const char *at = userinfo_end(spec);
	return !strstr(spec, "://") && at && memchr(spec, ':', (size_t)(at - spec));
}

bool smg_target_spec_is_remote(const char *spec)
{
	return has_prefix(spec, "http://") || has_prefix(spec, "https://") ||
	       has_prefix(spec, "libsql://") || has_prefix(spec, "d1:") ||
	       has_prefix(spec, "command:") || !strcmp(spec, "d1") ||
	       schemeless_with_password(spec);
}

/* A URL for messages: without user:password@. */
static char *redact_url(const char *url)
{
	const char *host = authority(url), *at = userinfo_end(url);
	if (!at)
		return smg_xstrdup(url);
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_add(&b, url, (size_t)(host - url));
	smg_buf_adds(&b, at + 1);
	return smg_buf_detach(&b);
}

char *smg_target_label(enum smg_target_type type, const char *path, const char *url,
		       const char *command, const char *account, const char *database)
{
	struct smg_buf b = SMG_BUF_INIT;
	switch (type) {
	case SMG_TARGET_SQLITE:
		smg_buf_adds(&b, path ? path : "");
		break;
	case SMG_TARGET_D1:
		smg_buf_addf(&b, "d1:%s/%s", account ? account : "?", database ? database : "?");
		break;
	case SMG_TARGET_HTTP: {
		char *u = redact_url(url ? url : "");
		smg_buf_adds(&b, u);
		free(u);
		break;
	}
	case SMG_TARGET_COMMAND:
		smg_buf_addf(&b, "command:%s", command ? command : "");
		break;
	case SMG_TARGET_PEER:
		smg_buf_addf(&b, "peer:%s", command ? command : "");
		break;
	default:
		break;
	}
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
	smg_http_opts_limits(&t->http, cfg->sync.timeout_secs, cfg->sync.low_speed_limit,
			     cfg->sync.low_speed_secs);
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
	} else if (spec && schemeless_with_password(spec)) {
		smg_die(SMG_EXIT_USAGE, "%s (user:password hidden): a URL needs its scheme, "
			"such as https://; without one it would be taken for a file name",
			redact_url(spec));
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
		case SMG_TARGET_PEER:
			/* the two ends reconcile; neither reads nor writes a stream */
			smg_die(SMG_EXIT_USAGE, "%s: [target] type \"peer\" is synced both ways by "
				"smugglr sync (smg-beacon --connect), not read or written by %s",
				cfg->path ? cfg->path : "config", smg_progname);
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

	t->name = smg_target_label(t->type, t->path, t->url, t->command, t->account, t->database);
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

