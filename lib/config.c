/*
 * config.c - struct smg_config from defaults, a TOML file and the
 * environment.
 *
 * Every key is one row of keys[] below: its name, where it lives in the
 * struct, its default and its limits.  Loading, checking, printing and
 * freeing all walk that one table, so a new key is one new row (plus its
 * field in config.h and its lines in config.example.toml).
 */
#include "config.h"
#include "db.h"
#include "s3.h"
#include "smg.h"
#include "target.h"
#include "tomb.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *const smg_target_type_names[] = {
	"", "sqlite", "d1", "http", "command", "peer", NULL,
};

enum kind { K_STRING, K_INT, K_FLOAT, K_BOOL, K_LIST, K_CHOICE };

struct key {
	const char *name;		/* dotted path in the file */
	enum kind kind;
	size_t off;			/* of the field in struct smg_config */
	const char *s;			/* default of a string */
	long i;				/* default of an int, bool or choice */
	double f;			/* default of a float */
	const char *const *list;	/* default of a list */
	const char *const *choices;	/* names of a choice, by enum value */
	double min, max;		/* range of a number */
	const char *env[3];		/* variables that override it; the first set wins */
	bool secret;			/* hidden by smg_config_print */
	bool url;			/* printed without its user:password@ */
	const char *(*check)(const char *);	/* why a string is bad, or NULL */
};

static const char *bad_secret(const char *s)
{
	size_t n = 0;
	while (isxdigit((unsigned char)s[n]))
		n++;
	return n == 64 && !s[n] ? NULL
	       : "must be 64 hexadecimal characters (`openssl rand -hex 32` makes one)";
}

const char *const smg_default_exclude_tables[] = {
	"sqlite_sequence", "_cf_KV", "__drizzle_migrations", SMG_TOMB_TABLE, NULL,
};

#define KEY(n, k, field) .name = n, .kind = k, .off = offsetof(struct smg_config, field)
/* Every integer key has a range, and an error names it whole: "at least
 * 1" alone reads wrong for a value too large for an int. */
#define RANGE(lo, hi) .min = (lo), .max = (hi)
#define AT_LEAST(lo) RANGE(lo, INT_MAX)
#define HOUR_MS (3600 * 1000)
#define DAY_SECS 86400
#define WEEK_SECS (7 * DAY_SECS)

static const struct key keys[] = {
	{KEY("local_db", K_STRING, local_db)},
	{KEY("cloudflare_account_id", K_STRING, cloudflare_account_id)},
	{KEY("cloudflare_api_token", K_STRING, cloudflare_api_token), .secret = true,
	 .env = {"SMUGGLR_CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN"}},
	{KEY("database_id", K_STRING, database_id)},

	{KEY("target.type", K_CHOICE, target.type), .choices = smg_target_type_names},
	{KEY("target.path", K_STRING, target.path)},
	{KEY("target.url", K_STRING, target.url), .url = true},
	{KEY("target.endpoint", K_STRING, target.endpoint), .url = true,
	 .s = "https://api.cloudflare.com"},
	{KEY("target.profile", K_CHOICE, target.profile), .choices = smg_profile_names},
	{KEY("target.token", K_STRING, target.token), .secret = true,
	 .env = {"SMUGGLR_TARGET_TOKEN"}},
	{KEY("target.command", K_STRING, target.command)},

	{KEY("sync.tables", K_LIST, sync.tables)},
	{KEY("sync.exclude_tables", K_LIST, sync.exclude_tables), .list = smg_default_exclude_tables},
	{KEY("sync.timestamp_column", K_STRING, sync.timestamp_column), .s = "updated_at"},
	{KEY("sync.conflict_resolution", K_CHOICE, sync.conflict_resolution),
	 .choices = smg_policy_names},
	{KEY("sync.exclude_columns", K_LIST, sync.exclude_columns)},
	{KEY("sync.max_retries", K_INT, sync.max_retries), .i = 5, RANGE(0, 100)},
	{KEY("sync.initial_retry_delay_ms", K_INT, sync.initial_retry_delay_ms), .i = 500,
	 RANGE(0, HOUR_MS)},
	{KEY("sync.max_retry_delay_ms", K_INT, sync.max_retry_delay_ms), .i = 30000,
	 RANGE(0, HOUR_MS)},
	{KEY("sync.backoff_multiplier", K_FLOAT, sync.backoff_multiplier), .f = 2.0,
	 .min = 1, .max = 1000},
	{KEY("sync.batch_size", K_INT, sync.batch_size), .i = 100, RANGE(1, 100000)},
	{KEY("sync.max_statement_bytes", K_INT, sync.max_statement_bytes), .i = 100000,
	 RANGE(1, 1000000000)},	/* SQLite's own limit on a statement */
	{KEY("sync.watch_interval_secs", K_INT, sync.watch_interval_secs), .i = 60,
	 RANGE(1, WEEK_SECS)},
	{KEY("sync.busy_timeout_ms", K_INT, sync.busy_timeout_ms), .i = 10000, RANGE(0, HOUR_MS)},
	{KEY("sync.tombstone_horizon_days", K_INT, sync.tombstone_horizon_days), .i = 90,
	 RANGE(0, 36500)},
	{KEY("sync.timeout_secs", K_INT, sync.timeout_secs), .i = 600, RANGE(1, WEEK_SECS)},
	{KEY("sync.low_speed_limit", K_INT, sync.low_speed_limit), .i = 1024, RANGE(1, 1000000000)},
	{KEY("sync.low_speed_secs", K_INT, sync.low_speed_secs), .i = 60, RANGE(1, WEEK_SECS)},

	{KEY("stash.url", K_STRING, stash.url)},	/* s3:// or file://: no password */
	{KEY("stash.endpoint", K_STRING, stash.endpoint), .url = true},
	{KEY("stash.region", K_STRING, stash.region), .s = "us-east-1",
	 .env = {"AWS_REGION", "AWS_DEFAULT_REGION"}},
	{KEY("stash.access_key_id", K_STRING, stash.access_key_id), .env = {"AWS_ACCESS_KEY_ID"}},
	{KEY("stash.secret_access_key", K_STRING, stash.secret_access_key), .secret = true,
	 .env = {"AWS_SECRET_ACCESS_KEY"}},
	{KEY("stash.session_token", K_STRING, stash.session_token), .secret = true,
	 .env = {"AWS_SESSION_TOKEN"}},
	{KEY("stash.path_style", K_BOOL, stash.path_style), .i = 1},
	{KEY("stash.max_attempts", K_INT, stash.max_attempts), .i = 5, RANGE(1, 100)},
	{KEY("stash.timeout_secs", K_INT, stash.timeout_secs), .i = 3600, RANGE(1, WEEK_SECS)},
	{KEY("stash.low_speed_limit", K_INT, stash.low_speed_limit), .i = 1024, RANGE(1, 1000000000)},
	{KEY("stash.low_speed_secs", K_INT, stash.low_speed_secs), .i = 60, RANGE(1, WEEK_SECS)},
	{KEY("stash.part_size", K_INT, stash.part_size), .i = (long)SMG_S3_PART_SIZE_DEFAULT,
	 AT_LEAST(0)},
	{KEY("stash.compact_min_bytes", K_INT, stash.compact_min_bytes), .i = 1 << 20, AT_LEAST(0)},
	{KEY("stash.compact_percent", K_INT, stash.compact_percent), .i = 25, RANGE(0, 1000000)},
	{KEY("stash.compact_grace_secs", K_INT, stash.compact_grace_secs), .i = 7200,
	 RANGE(1, 365 * DAY_SECS)},

	{KEY("broadcast.port", K_INT, broadcast.port), .i = 31337, RANGE(1, 65535)},
	{KEY("broadcast.interval_secs", K_INT, broadcast.interval_secs), .i = 5, RANGE(1, 3600)},
	{KEY("broadcast.group", K_STRING, broadcast.group)},
	{KEY("broadcast.secret", K_STRING, broadcast.secret), .secret = true,
	 .env = {"SMUGGLR_BROADCAST_SECRET"}, .check = bad_secret},
	{KEY("broadcast.peer_timeout_secs", K_INT, broadcast.peer_timeout_secs), .i = 30,
	 RANGE(1, DAY_SECS)},
	{KEY("broadcast.insecure", K_BOOL, broadcast.insecure)},
};

#define NKEYS (sizeof keys / sizeof keys[0])

/* Tables whose members are keys[] rows; anything else there is unknown. */
static const char *const sections[] = {"target", "sync", "stash", "broadcast", NULL};

/* Passed through unchecked for the target's profile to read. */
#define PROFILE_OPTIONS "target.profile_options"

static void *field(struct smg_config *c, const struct key *k)
{
	return (char *)c + k->off;
}

static const void *cfield(const struct smg_config *c, const struct key *k)
{
	return (const char *)c + k->off;
}

/* ---- values in and out of the struct ---- */

static void list_free(struct smg_strlist *l)
{
	smg_strings_free(l->v, l->n);
	l->v = NULL;
	l->n = 0;
}

static void list_add(struct smg_strlist *l, const char *s)
{
	l->v = smg_xrealloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n++] = smg_xstrdup(s);
}

static void set_default(struct smg_config *c, const struct key *k)
{
	void *f = field(c, k);
	switch (k->kind) {
	case K_STRING:
		*(char **)f = k->s ? smg_xstrdup(k->s) : NULL;
		break;
	case K_INT:
	case K_CHOICE:
		*(int *)f = (int)k->i;
		break;
	case K_BOOL:
		*(bool *)f = k->i != 0;
		break;
	case K_FLOAT:
		*(double *)f = k->f;
		break;
	case K_LIST:
		for (const char *const *s = k->list; s && *s; s++)
			list_add(f, *s);
		break;
	}
}

void smg_config_free(struct smg_config *c)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].kind == K_STRING)
			free(*(char **)field(c, &keys[i]));
		else if (keys[i].kind == K_LIST)
			list_free(field(c, &keys[i]));
	}
	free(c->path);
	smg_toml_free(c->doc);
	memset(c, 0, sizeof *c);
}

/* ---- errors ---- */

struct loader {
	struct smg_config *c;
	char *err;
	size_t errlen;
};

/* Where a value came from: a node of the file, or an environment variable. */
struct src {
	const char *file;
	const struct smg_toml_node *node;
	const char *env;
};

__attribute__((format(printf, 3, 4)))
static int bad(struct loader *L, const struct src *src, const char *fmt, ...)
{
	if (!L->err || !L->errlen)
		return SMG_EXIT_USAGE;
	int n = src->env ? snprintf(L->err, L->errlen, "%s: ", src->env)
			 : snprintf(L->err, L->errlen, "%s:%d:%d: ", src->file,
				    src->node->line, src->node->col);
	if (n >= 0 && (size_t)n < L->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return SMG_EXIT_USAGE;
}

static int wrong_type(struct loader *L, const struct key *k, const struct src *src,
		      const char *want)
{
	return bad(L, src, "%s must be %s, got %s", k->name, want,
		   smg_toml_type_name(src->node->type));
}

/* ---- setting one key ---- */

static int set_choice(struct loader *L, const struct key *k, const char *s,
		      const struct src *src)
{
	struct smg_buf names = SMG_BUF_INIT;
	for (int i = 0; k->choices[i]; i++) {
		if (!*k->choices[i])
			continue;	/* the unset value has no name */
		if (strcmp(s, k->choices[i]) == 0) {
			*(int *)field(L->c, k) = i;
			smg_buf_free(&names);
			return 0;
		}
		smg_buf_addf(&names, "%s%s", names.len ? ", " : "", k->choices[i]);
	}
	int rc = bad(L, src, "%s must be one of %s; got '%s'", k->name, names.data, s);
	smg_buf_free(&names);
	return rc;
}

static int set_string(struct loader *L, const struct key *k, const char *s,
		      const struct src *src)
{
	if (k->kind == K_CHOICE)
		return set_choice(L, k, s, src);
	const char *why = k->check ? k->check(s) : NULL;
	if (why)
		return bad(L, src, "%s %s", k->name, why);
	char **f = field(L->c, k);
	free(*f);
	*f = smg_xstrdup(s);
	return 0;
}

static bool env_name_ok(const char *s)
{
	if (!*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

/* A string from the file; "env:NAME" stands for the variable NAME, so a
 * committed file can name where a secret lives without holding it. */
static int read_string(struct loader *L, const struct key *k, const struct src *src)
{
	const struct smg_toml_node *n = src->node;
	if (n->type != SMG_TOML_STRING)
		return wrong_type(L, k, src, "a string");
	const char *s = n->v.str.s;
	if (strlen(s) != n->v.str.len)
		return bad(L, src, "%s must not contain a NUL character", k->name);
	if (strncmp(s, "env:", 4) == 0) {
		if (!env_name_ok(s + 4))
			return bad(L, src, "%s: '%s' does not name an environment variable",
				   k->name, s + 4);
		const char *v = getenv(s + 4);
		if (!v)
			return bad(L, src, "%s reads the environment variable %s, which is not set",
				   k->name, s + 4);
		s = v;
	}
	return set_string(L, k, s, src);
}

static int out_of_range(struct loader *L, const struct key *k, const struct src *src,
			const char *got)
{
	return bad(L, src, "%s must be between %.15g and %.15g, got %s", k->name, k->min, k->max, got);
}

static int read_int(struct loader *L, const struct key *k, const struct src *src)
{
	const struct smg_toml_node *n = src->node;
	if (n->type != SMG_TOML_INTEGER)
		return wrong_type(L, k, src, "an integer");
	if (n->v.i < k->min || n->v.i > k->max) {
		char got[32];
		snprintf(got, sizeof got, "%lld", (long long)n->v.i);
		return out_of_range(L, k, src, got);
	}
	*(int *)field(L->c, k) = (int)n->v.i;
	return 0;
}

static int read_float(struct loader *L, const struct key *k, const struct src *src)
{
	const struct smg_toml_node *n = src->node;
	double v;
	if (n->type == SMG_TOML_INTEGER)
		v = (double)n->v.i;	/* 2 means 2.0 here */
	else if (n->type == SMG_TOML_FLOAT)
		v = n->v.f;
	else
		return wrong_type(L, k, src, "a number");
	if (!(v >= k->min && v <= k->max)) {	/* also refuses nan */
		char got[32];
		snprintf(got, sizeof got, "%g", v);
		return out_of_range(L, k, src, got);
	}
	*(double *)field(L->c, k) = v;
	return 0;
}

static int read_bool(struct loader *L, const struct key *k, const struct src *src)
{
	if (src->node->type != SMG_TOML_BOOL)
		return wrong_type(L, k, src, "a boolean (true or false)");
	*(bool *)field(L->c, k) = src->node->v.b;
	return 0;
}

static int read_list(struct loader *L, const struct key *k, const struct src *src)
{
	if (src->node->type != SMG_TOML_ARRAY)
		return wrong_type(L, k, src, "an array of strings");
	for (const struct smg_toml_node *e = src->node->first; e; e = e->next) {
		struct src at = {src->file, e, NULL};
		if (e->type != SMG_TOML_STRING)
			return wrong_type(L, k, &at, "an array of strings");
		if (strlen(e->v.str.s) != e->v.str.len)
			return bad(L, &at, "%s must not contain a NUL character", k->name);
	}
	struct smg_strlist *l = field(L->c, k);
	list_free(l);
	for (const struct smg_toml_node *e = src->node->first; e; e = e->next)
		list_add(l, e->v.str.s);
	return 0;
}

static int read_key(struct loader *L, const struct key *k, const struct smg_toml *doc)
{
	struct src src = {smg_toml_filename(doc), smg_toml_get(smg_toml_root(doc), k->name), NULL};
	if (!src.node)
		return 0;
	switch (k->kind) {
	case K_STRING:
	case K_CHOICE:
		return read_string(L, k, &src);
	case K_INT:
		return read_int(L, k, &src);
	case K_FLOAT:
		return read_float(L, k, &src);
	case K_BOOL:
		return read_bool(L, k, &src);
	case K_LIST:
		return read_list(L, k, &src);
	}
	return 0;
}

/* ---- unknown keys ---- */

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static bool is_section(const char *name)
{
	for (const char *const *s = sections; *s; s++)
		if (strcmp(*s, name) == 0)
			return true;
	return false;
}

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];
	if (la >= 64 || lb >= 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

static const char *leaf(const char *name)
{
	const char *dot = strrchr(name, '.');
	return dot ? dot + 1 : name;
}

/* The known key a misspelt or misplaced one most likely meant, or NULL:
 * the same name in another section, or within two typos. */
static const char *suggest(const char *name)
{
	const char *best = NULL;
	size_t best_d = 3;
	for (size_t i = 0; i < NKEYS; i++) {
		size_t d = edit_distance(name, keys[i].name);
		if (strcmp(leaf(name), leaf(keys[i].name)) == 0)
			d = 1;
		if (d < best_d) {
			best = keys[i].name;
			best_d = d;
		}
	}
	return best;
}

static void warn_unknown(const char *file, const struct smg_toml_node *t, const char *prefix)
{
	struct smg_buf path = SMG_BUF_INIT;
	for (const struct smg_toml_node *m = t->first; m; m = m->next) {
		smg_buf_reset(&path);
		smg_buf_addf(&path, "%s%s%.*s", prefix, *prefix ? "." : "", (int)m->key_len, m->key);
		if (find_key(path.data) || strcmp(path.data, PROFILE_OPTIONS) == 0)
			continue;
		if (is_section(path.data)) {
			if (m->type == SMG_TOML_TABLE)	/* else check_tables() reports it */
				warn_unknown(file, m, path.data);
			continue;
		}
		const char *hint = suggest(path.data);
		smg_warn("%s:%d:%d: unknown key '%s' (ignored)%s%s%s", file, m->key_line, m->key_col,
			 path.data, hint ? ", did you mean '" : "", hint ? hint : "", hint ? "'?" : "");
	}
	smg_buf_free(&path);
}

/* ---- the file ---- */

static int check_tables(struct loader *L, const struct smg_toml *doc)
{
	const struct smg_toml_node *root = smg_toml_root(doc);
	for (const char *const *s = sections; *s; s++) {
		struct src src = {smg_toml_filename(doc), smg_toml_member(root, *s), NULL};
		if (src.node && src.node->type != SMG_TOML_TABLE)
			return bad(L, &src, "%s must be a table, got %s", *s,
				   smg_toml_type_name(src.node->type));
	}
	struct src src = {smg_toml_filename(doc), smg_toml_get(root, PROFILE_OPTIONS), NULL};
	if (src.node && src.node->type != SMG_TOML_TABLE)
		return bad(L, &src, "%s must be a table, got %s", PROFILE_OPTIONS,
			   smg_toml_type_name(src.node->type));
	return 0;
}

static int read_file(struct loader *L, const char *path, bool must_exist)
{
	struct smg_toml *doc = smg_toml_parse_file(path, L->err, L->errlen);
	if (!doc) {
		if (errno == ENOENT && !must_exist) {
			if (L->err && L->errlen)
				L->err[0] = '\0';
			return 0;
		}
		if (errno == ENOENT) {
			if (L->err && L->errlen)
				snprintf(L->err, L->errlen, "config file %s does not exist", path);
			return SMG_EXIT_NOTFOUND;
		}
		return errno ? SMG_EXIT_FAILURE : SMG_EXIT_USAGE;
	}
	struct smg_config *c = L->c;
	c->doc = doc;
	c->from_file = true;
	warn_unknown(path, smg_toml_root(doc), "");
	int rc = check_tables(L, doc);
	for (size_t i = 0; !rc && i < NKEYS; i++)
		rc = read_key(L, &keys[i], doc);
	c->target.table = smg_toml_member(smg_toml_root(doc), "target");
	c->target.profile_options = smg_toml_get(smg_toml_root(doc), PROFILE_OPTIONS);
	return rc;
}

/* ---- the environment, and what follows from the rest ---- */

static int read_env(struct loader *L)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		for (int j = 0; j < 3 && k->env[j]; j++) {
			const char *v = getenv(k->env[j]);
			if (!v || !*v)
				continue;	/* an empty variable is an unset one */
			struct src src = {NULL, NULL, k->env[j]};
			int rc = set_string(L, k, v, &src);
			if (rc)
				return rc;
			break;
		}
	}
	return 0;
}

/* Say what the target is when [target] does not (see config.h). */
static void infer_target(struct smg_config *c)
{
	if (c->target.type == SMG_TARGET_NONE) {
		if (c->target.path)
			c->target.type = SMG_TARGET_SQLITE;
		else if (c->target.url)
			c->target.type = SMG_TARGET_HTTP;
		else if (c->target.command)
			c->target.type = SMG_TARGET_COMMAND;
		else if (c->database_id)
			c->target.type = SMG_TARGET_D1;
	}
	if (c->target.type == SMG_TARGET_D1 && !c->target.token && c->cloudflare_api_token)
		c->target.token = smg_xstrdup(c->cloudflare_api_token);	/* the upstream way */
	if (c->target.profile == SMG_PROFILE_NONE && c->target.type == SMG_TARGET_D1)
		c->target.profile = SMG_PROFILE_D1;
	else if (c->target.profile == SMG_PROFILE_NONE && c->target.type == SMG_TARGET_HTTP)
		c->target.profile = SMG_PROFILE_GENERIC;
}

/* Checks that involve two keys; only the file can break them. */
static int check_pairs(struct loader *L)
{
	struct smg_config *c = L->c;
	if (c->sync.max_retry_delay_ms >= c->sync.initial_retry_delay_ms)
		return 0;
	const struct smg_toml_node *root = smg_toml_root(c->doc);
	struct src src = {smg_toml_filename(c->doc), smg_toml_get(root, "sync.max_retry_delay_ms"), NULL};
	if (!src.node)
		src.node = smg_toml_get(root, "sync.initial_retry_delay_ms");
	return bad(L, &src, "sync.max_retry_delay_ms (%d) is less than sync.initial_retry_delay_ms (%d)",
		   c->sync.max_retry_delay_ms, c->sync.initial_retry_delay_ms);
}

int smg_config_read(struct smg_config *c, const char *path, bool must_exist,
		    char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	for (size_t i = 0; i < NKEYS; i++)
		set_default(c, &keys[i]);
	if (err && errlen)
		err[0] = '\0';
	struct loader L = {c, err, errlen};
	int rc = 0;
	if (path) {
		c->path = smg_xstrdup(path);
		rc = read_file(&L, path, must_exist);
	}
	if (!rc)
		rc = read_env(&L);
	if (!rc)
		rc = check_pairs(&L);
	infer_target(c);
	return rc;
}

void smg_config_load(struct smg_config *c, const char *path, bool must_exist)
{
	char err[1024];
	int rc = smg_config_read(c, path, must_exist, err, sizeof err);
	if (rc) {
		smg_config_free(c);	/* the caller never sees it */
		smg_die(rc, "%s", err);
	}
	/* the one setting every database this program opens from now on follows */
	smg_db_set_busy_timeout(c->sync.busy_timeout_ms);
	smg_tomb_horizon_days = c->sync.tombstone_horizon_days;
}

/* ---- wrangler's local D1 database ---- */

#define WRANGLER_D1_DIR ".wrangler/state/v3/d1/miniflare-D1DatabaseObject"

/* <hash>.sqlite; miniflare may keep a metadata.sqlite beside them. */
static bool is_d1_file(const char *name)
{
	size_t n = strlen(name);
	return n > 7 && strcmp(name + n - 7, ".sqlite") == 0 && strcmp(name, "metadata.sqlite") != 0;
}

/* Is path (st) a better pick than best (best_st)?  Later modified wins;
 * on equal times the smaller name, so readdir order does not matter. */
static bool better(const char *path, const struct stat *st, const char *best,
		   const struct stat *best_st)
{
	if (!best)
		return true;
	if (st->st_mtim.tv_sec != best_st->st_mtim.tv_sec)
		return st->st_mtim.tv_sec > best_st->st_mtim.tv_sec;
	if (st->st_mtim.tv_nsec != best_st->st_mtim.tv_nsec)
		return st->st_mtim.tv_nsec > best_st->st_mtim.tv_nsec;
	return strcmp(path, best) < 0;
}

/* The best D1 file in dir (see better()); *count says how many there are. */
static char *pick_d1_file(const char *dir, int *count)
{
	DIR *d = opendir(dir);
	char *best = NULL;
	struct stat best_st = {0};
	*count = 0;
	for (struct dirent *e; d && (e = readdir(d));) {
		if (!is_d1_file(e->d_name))
			continue;
		struct stat st;
		char *path = smg_xmalloc(strlen(dir) + strlen(e->d_name) + 2);
		sprintf(path, "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			++*count;
			if (better(path, &st, best, &best_st)) {
				free(best);
				best = path;
				best_st = st;
				continue;
			}
		}
		free(path);
	}
	if (d)
		closedir(d);
	return best;
}

char *smg_config_find_wrangler_db(const char *dir)
{
	struct smg_buf base = SMG_BUF_INIT;
	int count;
	smg_buf_addf(&base, "%s%s" WRANGLER_D1_DIR, dir ? dir : "", dir ? "/" : "");
	char *best = pick_d1_file(base.data, &count);
	smg_buf_free(&base);
	if (count == 1)
		smg_warn("local_db is not set: using %s, the wrangler D1 database here", best);
	else if (count > 1)
		smg_warn("local_db is not set: using %s, the most recently modified of %d wrangler D1 databases",
			 best, count);
	return best;
}

const char *smg_config_local_db(struct smg_config *c)
{
	if (!c->local_db && !c->local_db_searched) {
		c->local_db_searched = true;
		c->local_db = smg_config_find_wrangler_db(NULL);
	}
	return c->local_db;
}

/* ---- printing ---- */

/* A string in double quotes, escaped alike for TOML and JSON.  Not
 * smg_json_add_string: TOML also wants DEL escaped, and this writes to
 * a FILE, not a buffer. */
static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		const char *esc = strchr("\"\\\b\f\n\r\t", c);
		if (c && esc)
			fprintf(out, "\\%c", "\"\\bfnrt"[esc - "\"\\\b\f\n\r\t"]);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* The shortest text that reads back as v, always with a '.' or an
 * exponent so TOML reads a float. */
static void put_float(FILE *out, double v)
{
	char s[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, v);
		if (strtod(s, NULL) == v)
			break;
	}
	fprintf(out, "%s%s", s, strpbrk(s, ".e") ? "" : ".0");
}

/* Is the key unset (printed as null, or as a comment in TOML)? */
static bool unset(const struct smg_config *c, const struct key *k)
{
	const void *f = cfield(c, k);
	if (k->kind == K_STRING)
		return *(char *const *)f == NULL;
	return k->kind == K_CHOICE && !*k->choices[*(const int *)f];
}

static void put_value(const struct smg_config *c, const struct key *k, FILE *out,
		      bool show_secrets)
{
	const void *f = cfield(c, k);
	switch (k->kind) {
	case K_STRING:
		if (k->url && !show_secrets) {
			/* the one label builder's redaction, as in --print-config sh */
			char *u = smg_target_label(SMG_TARGET_HTTP, NULL, *(char *const *)f, NULL,
						   NULL, NULL);
			put_string(out, u);
			free(u);
		} else {
			put_string(out, k->secret && !show_secrets ? "<hidden>" : *(char *const *)f);
		}
		break;
	case K_CHOICE:
		put_string(out, k->choices[*(const int *)f]);
		break;
	case K_INT:
		fprintf(out, "%d", *(const int *)f);
		break;
	case K_BOOL:
		fputs(*(const bool *)f ? "true" : "false", out);
		break;
	case K_FLOAT:
		put_float(out, *(const double *)f);
		break;
	case K_LIST: {
		const struct smg_strlist *l = f;
		fputc('[', out);
		for (size_t i = 0; i < l->n; i++) {
			fputs(i ? ", " : "", out);
			put_string(out, l->v[i]);
		}
		fputc(']', out);
		break;
	}
	}
}

/* Length of the section part of a key name: "sync" of "sync.batch_size". */
static size_t section_len(const char *name)
{
	const char *dot = strchr(name, '.');
	return dot ? (size_t)(dot - name) : 0;
}

static void print_toml(const struct smg_config *c, FILE *out, bool show_secrets)
{
	const char *section = "";
	size_t seclen = 0;
	for (const struct key *k = keys; k < keys + NKEYS; k++) {
		size_t n = section_len(k->name);
		if (n != seclen || strncmp(k->name, section, n) != 0) {
			section = k->name;
			seclen = n;
			fprintf(out, "\n[%.*s]\n", (int)n, section);
		}
		if (unset(c, k)) {
			fprintf(out, "# %s is not set\n", leaf(k->name));
			continue;
		}
		fprintf(out, "%s = ", leaf(k->name));
		put_value(c, k, out, show_secrets);
		fputc('\n', out);
	}
}

/* One JSON object on one line: {"local_db":...,"sync":{...},...}. */
static void print_json(const struct smg_config *c, FILE *out, bool show_secrets)
{
	const char *section = "";
	size_t seclen = 0;
	fputc('{', out);
	for (const struct key *k = keys; k < keys + NKEYS; k++) {
		size_t n = section_len(k->name);
		bool first = k == keys;
		if (n != seclen || strncmp(k->name, section, n) != 0) {
			fputs(seclen ? "}" : "", out);
			fprintf(out, ",\"%.*s\":{", (int)n, k->name);
			section = k->name;
			seclen = n;
			first = true;
		}
		fprintf(out, "%s\"%s\":", first ? "" : ",", leaf(k->name));
		if (unset(c, k))
			fputs("null", out);
		else
			put_value(c, k, out, show_secrets);
	}
	fputs(seclen ? "}}\n" : "}\n", out);
}

void smg_config_print(const struct smg_config *c, FILE *out, enum smg_config_format format,
		      bool show_secrets)
{
	if (format == SMG_CONFIG_JSON)
		print_json(c, out, show_secrets);
	else
		print_toml(c, out, show_secrets);
}
