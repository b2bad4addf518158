/* tests/unit/config.c - defaults, the file, the environment, errors and warnings. */
#include "smg.h"
#include "test.h"
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char top[PATH_MAX];	/* the source tree, for config.example.toml */


static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0)
		smg_die(1, "cannot write %s", path);
}

static char *slurp(FILE *f)
{
	struct smg_buf b = SMG_BUF_INIT;
	char chunk[4096];
	size_t n;
	rewind(f);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		smg_buf_add(&b, chunk, n);
	return smg_buf_detach(&b);
}

/* What a call wrote on stderr. */
static int saved_stderr = -1;
static FILE *captured;

static void capture_start(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(2);
	dup2(fileno(captured), 2);
}

static char *capture_end(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	char *s = slurp(captured);
	fclose(captured);
	return s;
}

static char err[1024];
static char *warnings;

/* Load text as ./config.toml; the warnings land in `warnings`. */
static int load_text(struct smg_config *c, const char *text)
{
	write_file("config.toml", text);
	free(warnings);
	capture_start();
	int rc = smg_config_read(c, "config.toml", true, err, sizeof err);
	warnings = capture_end();
	return rc;
}

static bool str_is(const char *got, const char *want)
{
	if (got == want || (got && want && strcmp(got, want) == 0))
		return true;
	printf("# got '%s', wanted '%s'\n", got ? got : "(null)", want ? want : "(null)");
	return false;
}

/* The text must be refused with exactly msg. */
static void expect_error(const char *text, const char *msg)
{
	struct smg_config c;
	int rc = load_text(&c, text);
	check(rc == SMG_EXIT_USAGE && str_is(err, msg), "error: %s", msg);
	smg_config_free(&c);
}

static void clear_env(void)
{
	static const char *const vars[] = {
		"SMUGGLR_CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_TOKEN", "SMUGGLR_TARGET_TOKEN",
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
		"AWS_DEFAULT_REGION", "SMUGGLR_BROADCAST_SECRET", NULL,
	};
	for (const char *const *v = vars; *v; v++)
		unsetenv(*v);
}

static bool list_is(const struct smg_strlist *l, const char *const *want)
{
	size_t n = 0;
	for (; want[n]; n++)
		if (n >= l->n || strcmp(l->v[n], want[n]) != 0)
			return false;
	return n == l->n;
}

static void check_defaults(const struct smg_config *c, const char *what)
{
	static const char *const excl[] = {"sqlite_sequence", "_cf_KV", "__drizzle_migrations",
					   "_smugglr_tombstones", NULL};
	static const char *const none[] = {NULL};
	check(!c->local_db && !c->cloudflare_account_id && !c->cloudflare_api_token &&
	      !c->database_id, "%s: top-level keys unset", what);
	check(c->target.type == SMG_TARGET_NONE && c->target.profile == SMG_PROFILE_NONE &&
	      !c->target.path && !c->target.url && !c->target.token && !c->target.command &&
	      str_is(c->target.endpoint, "https://api.cloudflare.com"), "%s: [target]", what);
	check(list_is(&c->sync.tables, none) && list_is(&c->sync.exclude_tables, excl) &&
	      list_is(&c->sync.exclude_columns, none), "%s: sync lists", what);
	check(str_is(c->sync.timestamp_column, "updated_at") &&
	      c->sync.conflict_resolution == SMG_LOCAL_WINS, "%s: timestamp, conflict", what);
	check(c->sync.max_retries == 5 && c->sync.initial_retry_delay_ms == 500 &&
	      c->sync.max_retry_delay_ms == 30000 && c->sync.backoff_multiplier == 2.0,
	      "%s: retries", what);
	check(c->sync.batch_size == 100 && c->sync.max_statement_bytes == 100000 &&
	      c->sync.watch_interval_secs == 60 && c->sync.busy_timeout_ms == 10000,
	      "%s: batches, watch, busy timeout", what);
	check(!c->stash.url && !c->stash.endpoint && str_is(c->stash.region, "us-east-1") &&
	      !c->stash.access_key_id && !c->stash.secret_access_key && !c->stash.session_token &&
	      c->stash.path_style && c->stash.max_attempts == 5, "%s: [stash]", what);
	check(c->broadcast.port == 31337 && c->broadcast.interval_secs == 5 && !c->broadcast.group &&
	      !c->broadcast.secret && c->broadcast.peer_timeout_secs == 30 && !c->broadcast.insecure,
	      "%s: [broadcast]", what);
}

static void test_defaults(void)
{
	struct smg_config c;
	check(smg_config_read(&c, NULL, false, err, sizeof err) == 0 && !c.from_file && !c.doc,
	      "no file at all");
	check_defaults(&c, "defaults");
	smg_config_free(&c);

	check(smg_config_read(&c, "absent.toml", false, err, sizeof err) == 0 && !c.from_file &&
	      str_is(c.path, "absent.toml") && err[0] == '\0', "a missing optional file is fine");
	check_defaults(&c, "missing file");
	smg_config_free(&c);

	int rc = smg_config_read(&c, "absent.toml", true, err, sizeof err);
	check(rc == SMG_EXIT_NOTFOUND && str_is(err, "config file absent.toml does not exist"),
	      "a missing required file is exit 3");
	smg_config_free(&c);

	mkdir("adir.toml", 0700);
	rc = smg_config_read(&c, "adir.toml", false, err, sizeof err);
	check(rc == SMG_EXIT_FAILURE && strstr(err, "adir.toml: "), "an unreadable file is exit 1");
	smg_config_free(&c);
	smg_config_free(&c);	/* twice is harmless */
}

static const char full[] =
	"local_db = \"local.db\"\n"
	"cloudflare_account_id = \"acct\"\n"
	"cloudflare_api_token = \"cf-token\"\n"
	"database_id = \"dbid\"\n"
	"[target]\n"
	"type = \"http\"\n"
	"path = \"remote.db\"\n"
	"url = \"https://db.example\"\n"
	"endpoint = \"http://127.0.0.1:8787\"\n"
	"profile = \"sqlite-cloud\"\n"
	"token = \"t0k\"\n"
	"command = \"cat\"\n"
	"[target.profile_options]\n"
	"anything = [1, 2]\n"
	"nested.deep = true\n"
	"[sync]\n"
	"tables = [\"a\", \"b\"]\n"
	"exclude_tables = []\n"
	"timestamp_column = \"modified\"\n"
	"conflict_resolution = \"uuid_v7_wins\"\n"
	"exclude_columns = [\"*_cache\"]\n"
	"max_retries = 0\n"
	"initial_retry_delay_ms = 10\n"
	"max_retry_delay_ms = 20\n"
	"backoff_multiplier = 3\n"
	"batch_size = 1\n"
	"max_statement_bytes = 2048\n"
	"watch_interval_secs = 2\n"
	"[stash]\n"
	"url = \"file:///tmp/x\"\n"
	"endpoint = \"http://127.0.0.1:5000\"\n"
	"region = \"eu-west-1\"\n"
	"access_key_id = \"AK\"\n"
	"secret_access_key = \"SK\"\n"
	"session_token = \"ST\"\n"
	"path_style = false\n"
	"max_attempts = 9\n"
	"[broadcast]\n"
	"port = 65535\n"
	"interval_secs = 1\n"
	"group = \"g\"\n"
	"secret = \"00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\"\n"
	"peer_timeout_secs = 7\n"
	"insecure = true\n";

static void test_full(void)
{
	static const char *const tables[] = {"a", "b", NULL}, *const none[] = {NULL};
	static const char *const globs[] = {"*_cache", NULL};
	struct smg_config c;
	int rc = load_text(&c, full);
	check(rc == 0 && c.from_file && warnings[0] == '\0', "every key set, no warning");
	check(str_is(c.local_db, "local.db") && str_is(c.cloudflare_account_id, "acct") &&
	      str_is(c.cloudflare_api_token, "cf-token") && str_is(c.database_id, "dbid"),
	      "top-level keys");
	check(c.target.type == SMG_TARGET_HTTP && str_is(c.target.path, "remote.db") &&
	      str_is(c.target.url, "https://db.example") &&
	      str_is(c.target.endpoint, "http://127.0.0.1:8787") &&
	      c.target.profile == SMG_PROFILE_SQLITE_CLOUD && str_is(c.target.token, "t0k") &&
	      str_is(c.target.command, "cat"), "[target] keys");
	check(c.target.table && c.target.table->type == SMG_TOML_TABLE &&
	      smg_toml_get(c.target.profile_options, "nested.deep") != NULL &&
	      smg_toml_member(c.target.profile_options, "anything")->count == 2,
	      "[target.profile_options] readable raw");
	check(list_is(&c.sync.tables, tables) && list_is(&c.sync.exclude_tables, none) &&
	      list_is(&c.sync.exclude_columns, globs), "sync lists, an empty one replaces the default");
	check(str_is(c.sync.timestamp_column, "modified") &&
	      c.sync.conflict_resolution == SMG_UUID_V7_WINS && c.sync.max_retries == 0 &&
	      c.sync.initial_retry_delay_ms == 10 && c.sync.max_retry_delay_ms == 20 &&
	      c.sync.backoff_multiplier == 3.0 && c.sync.batch_size == 1 &&
	      c.sync.max_statement_bytes == 2048 && c.sync.watch_interval_secs == 2,
	      "[sync] scalars; an integer is fine for a float");
	check(str_is(c.stash.url, "file:///tmp/x") && str_is(c.stash.endpoint, "http://127.0.0.1:5000") &&
	      str_is(c.stash.region, "eu-west-1") && str_is(c.stash.access_key_id, "AK") &&
	      str_is(c.stash.secret_access_key, "SK") && str_is(c.stash.session_token, "ST") &&
	      !c.stash.path_style && c.stash.max_attempts == 9, "[stash]");
	check(c.broadcast.port == 65535 && c.broadcast.interval_secs == 1 &&
	      str_is(c.broadcast.group, "g") && c.broadcast.secret && strlen(c.broadcast.secret) == 64 &&
	      c.broadcast.peer_timeout_secs == 7 && c.broadcast.insecure, "[broadcast]");
	smg_config_free(&c);

	const char *names[] = {"local_wins", "remote_wins", "newer_wins", "uuid_v7_wins"};
	for (int i = 0; i < 4; i++) {
		char text[128];
		snprintf(text, sizeof text, "[sync]\nconflict_resolution = \"%s\"\n", names[i]);
		check(load_text(&c, text) == 0 && (int)c.sync.conflict_resolution == i &&
		      str_is(smg_policy_names[i], names[i]), "conflict_resolution %s", names[i]);
		smg_config_free(&c);
	}
	check(load_text(&c, "sync.batch_size = 7\nsync.tables = [\"t\"]\n") == 0 &&
	      c.sync.batch_size == 7 && c.sync.tables.n == 1 && warnings[0] == '\0',
	      "dotted keys at the top level work like [sync]");
	smg_config_free(&c);
}

static void test_type_errors(void)
{
	expect_error("# a comment\n[sync]\nbatch_size = \"100\"\n",
		     "config.toml:3:14: sync.batch_size must be an integer, got string");
	expect_error("[sync]\nbackoff_multiplier = \"2\"\n",
		     "config.toml:2:22: sync.backoff_multiplier must be a number, got string");
	expect_error("[sync]\nmax_retries = 1.5\n",
		     "config.toml:2:15: sync.max_retries must be an integer, got float");
	expect_error("local_db = 5\n", "config.toml:1:12: local_db must be a string, got integer");
	expect_error("[stash]\npath_style = \"yes\"\n",
		     "config.toml:2:14: stash.path_style must be a boolean (true or false), got string");
	expect_error("[sync]\ntables = \"items\"\n",
		     "config.toml:2:10: sync.tables must be an array of strings, got string");
	expect_error("[sync]\ntables = [\"a\",\n  2]\n",
		     "config.toml:3:3: sync.tables must be an array of strings, got integer");
	expect_error("sync = 1\n", "config.toml:1:8: sync must be a table, got integer");
	expect_error("[[target]]\n", "config.toml:1:1: target must be a table, got array");
	expect_error("[target]\nprofile_options = 3\n",
		     "config.toml:2:19: target.profile_options must be a table, got integer");
	expect_error("[target]\ntype = 1\n", "config.toml:2:8: target.type must be a string, got integer");
	expect_error("local_db = \"a\\u0000b\"\n",
		     "config.toml:1:12: local_db must not contain a NUL character");
	expect_error("[sync]\nwhen = 1979-05-27\ntimestamp_column = 1979-05-27\n",
		     "config.toml:3:20: sync.timestamp_column must be a string, got datetime");
}

static void test_range_errors(void)
{
	expect_error("[sync]\nbatch_size = 0\n", "config.toml:2:14: sync.batch_size must be between 1 and 100000, got 0");
	expect_error("[sync]\nbatch_size = -5\n", "config.toml:2:14: sync.batch_size must be between 1 and 100000, got -5");
	expect_error("[sync]\nbatch_size = 3000000000\n",
		     "config.toml:2:14: sync.batch_size must be between 1 and 100000, got 3000000000");
	expect_error("[sync]\nmax_retries = -1\n", "config.toml:2:15: sync.max_retries must be between 0 and 100, got -1");
	expect_error("[sync]\nwatch_interval_secs = 0\n",
		     "config.toml:2:23: sync.watch_interval_secs must be between 1 and 604800, got 0");
	expect_error("[sync]\nbackoff_multiplier = 0.5\n",
		     "config.toml:2:22: sync.backoff_multiplier must be between 1 and 1000, got 0.5");
	expect_error("[sync]\nbackoff_multiplier = nan\n",
		     "config.toml:2:22: sync.backoff_multiplier must be between 1 and 1000, got nan");
	expect_error("[broadcast]\nport = 0\n", "config.toml:2:8: broadcast.port must be between 1 and 65535, got 0");
	expect_error("[broadcast]\nport = 65536\n",
		     "config.toml:2:8: broadcast.port must be between 1 and 65535, got 65536");
	expect_error("[stash]\nmax_attempts = 0\n", "config.toml:2:16: stash.max_attempts must be between 1 and 100, got 0");
	expect_error("[sync]\nbusy_timeout_ms = -1\n",
		     "config.toml:2:19: sync.busy_timeout_ms must be between 0 and 3600000, got -1");
	expect_error("[sync]\nbusy_timeout_ms = 3600001\n",
		     "config.toml:2:19: sync.busy_timeout_ms must be between 0 and 3600000, got 3600001");
	/* Every integer key: a value past int says the whole range, never
	 * "at least 1" of a number that is. */
	static const char *const ints[] = {
		"sync.max_retries", "sync.initial_retry_delay_ms", "sync.max_retry_delay_ms",
		"sync.batch_size", "sync.max_statement_bytes", "sync.watch_interval_secs",
		"sync.busy_timeout_ms", "stash.max_attempts", "broadcast.port",
		"broadcast.interval_secs", "broadcast.peer_timeout_secs",
	};
	for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
		char text[128], want[160];
		const char *dot = strchr(ints[i], '.');
		snprintf(text, sizeof text, "[%.*s]\n%s = 9999999999\n", (int)(dot - ints[i]),
			 ints[i], dot + 1);
		struct smg_config c;
		int rc = load_text(&c, text);
		snprintf(want, sizeof want, "%s must be between ", ints[i]);
		check(rc == SMG_EXIT_USAGE && strstr(err, want) && strstr(err, ", got 9999999999") &&
		      !strstr(err, "2147483647"), "%s out of range names its range: %s", ints[i], err);
		smg_config_free(&c);
	}
	expect_error("[sync]\ninitial_retry_delay_ms = 1000\nmax_retry_delay_ms = 999\n",
		     "config.toml:3:22: sync.max_retry_delay_ms (999) is less than sync.initial_retry_delay_ms (1000)");
	expect_error("[sync]\ninitial_retry_delay_ms = 40000\n",
		     "config.toml:2:26: sync.max_retry_delay_ms (30000) is less than sync.initial_retry_delay_ms (40000)");
}

static void test_choice_errors(void)
{
	expect_error("[sync]\nconflict_resolution = \"last_wins\"\n",
		     "config.toml:2:23: sync.conflict_resolution must be one of local_wins, remote_wins, "
		     "newer_wins, uuid_v7_wins; got 'last_wins'");
	expect_error("[sync]\nconflict_resolution = \"\"\n",
		     "config.toml:2:23: sync.conflict_resolution must be one of local_wins, remote_wins, "
		     "newer_wins, uuid_v7_wins; got ''");
	expect_error("[target]\ntype = \"postgres\"\n",
		     "config.toml:2:8: target.type must be one of sqlite, d1, http, command, peer; got 'postgres'");
	expect_error("[target]\ntype = \"\"\n",
		     "config.toml:2:8: target.type must be one of sqlite, d1, http, command, peer; got ''");
	expect_error("[target]\nprofile = \"mysql\"\n",
		     "config.toml:2:11: target.profile must be one of d1, turso, rqlite, datasette, "
		     "sqlite-cloud, starbasedb, generic; got 'mysql'");
	const char *msg = "broadcast.secret must be 64 hexadecimal characters (`openssl rand -hex 32` makes one)";
	char want[256];
	snprintf(want, sizeof want, "config.toml:2:10: %s", msg);
	expect_error("[broadcast]\nsecret = \"abc123\"\n", want);
	expect_error("[broadcast]\nsecret = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg\"\n", want);
	expect_error("[broadcast]\nsecret = \"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0\"\n", want);

	struct smg_config c;
	setenv("SMUGGLR_BROADCAST_SECRET", "nothex", 1);
	int rc = load_text(&c, "");
	snprintf(want, sizeof want, "SMUGGLR_BROADCAST_SECRET: %s", msg);
	check(rc == SMG_EXIT_USAGE && str_is(err, want), "a bad secret from the environment names the variable");
	smg_config_free(&c);
	unsetenv("SMUGGLR_BROADCAST_SECRET");
}

/* smg_config_load dies on a bad file; what it read is freed first, since
 * the caller never gets it (its smg_die hook may return to the caller). */
static jmp_buf died;

static void jump_back(void)
{
	longjmp(died, 1);
}

static void test_load_dies_clean(void)
{
	write_file("config.toml", "local_db = \"a.db\"\n[sync]\nbatch_size = \"x\"\n");
	static struct smg_config c;
	volatile bool dead = false;
	capture_start();
	smg_atdie(jump_back);
	if (setjmp(died) == 0)
		smg_config_load(&c, "config.toml", true);
	else
		dead = true;
	smg_atdie(NULL);
	free(capture_end());
	check(dead && !c.path && !c.doc && !c.local_db, "load: a bad file dies with nothing left allocated");
	smg_config_free(&c);
}

static void test_syntax_error(void)
{
	expect_error("[sync]\nbatch_size = 10\nbatch_size = 20\n",
		     "config.toml:3:1: key 'sync.batch_size' is already defined (at 2:1)");
	expect_error("[sync\n", "config.toml:1:6: expected ']' to close the header, found end of line");
	expect_error("local_db = \"x\n", "config.toml:1:12: unterminated string");
}

static void test_env(void)
{
	struct smg_config c;
	const char *file = "cloudflare_api_token = \"from-file\"\n[target]\ntoken = \"file-token\"\n"
			   "[stash]\nregion = \"file-region\"\naccess_key_id = \"file-ak\"\n";
	check(load_text(&c, file) == 0 && str_is(c.cloudflare_api_token, "from-file") &&
	      str_is(c.stash.region, "file-region"), "the file without the environment");
	smg_config_free(&c);

	setenv("CLOUDFLARE_API_TOKEN", "cf-env", 1);
	check(load_text(&c, file) == 0 && str_is(c.cloudflare_api_token, "cf-env"),
	      "CLOUDFLARE_API_TOKEN overrides the file");
	smg_config_free(&c);
	setenv("SMUGGLR_CLOUDFLARE_API_TOKEN", "smg-env", 1);
	check(load_text(&c, file) == 0 && str_is(c.cloudflare_api_token, "smg-env"),
	      "SMUGGLR_CLOUDFLARE_API_TOKEN wins over CLOUDFLARE_API_TOKEN");
	smg_config_free(&c);
	setenv("SMUGGLR_CLOUDFLARE_API_TOKEN", "", 1);
	check(load_text(&c, file) == 0 && str_is(c.cloudflare_api_token, "cf-env"),
	      "an empty variable counts as unset");
	smg_config_free(&c);

	setenv("SMUGGLR_TARGET_TOKEN", "tt", 1);
	setenv("AWS_ACCESS_KEY_ID", "ak", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "sk", 1);
	setenv("AWS_SESSION_TOKEN", "st", 1);
	setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
	check(load_text(&c, file) == 0 && str_is(c.target.token, "tt") &&
	      str_is(c.stash.access_key_id, "ak") && str_is(c.stash.secret_access_key, "sk") &&
	      str_is(c.stash.session_token, "st") && str_is(c.stash.region, "ap-south-1"),
	      "SMUGGLR_TARGET_TOKEN and AWS_* override the file");
	smg_config_free(&c);
	setenv("AWS_REGION", "sa-east-1", 1);
	setenv("SMUGGLR_BROADCAST_SECRET", "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", 1);
	check(load_text(&c, file) == 0 && str_is(c.stash.region, "sa-east-1") &&
	      str_is(c.broadcast.secret, "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"),
	      "AWS_REGION wins over AWS_DEFAULT_REGION; SMUGGLR_BROADCAST_SECRET");
	smg_config_free(&c);
	check(smg_config_read(&c, NULL, false, err, sizeof err) == 0 && str_is(c.target.token, "tt") &&
	      str_is(c.stash.region, "sa-east-1"), "the environment applies without a file too");
	smg_config_free(&c);
	clear_env();
}

static void test_env_references(void)
{
	struct smg_config c;
	setenv("SMG_TEST_DB", "from-env.db", 1);
	setenv("SMG_TEST_POLICY", "newer_wins", 1);
	check(load_text(&c, "local_db = \"env:SMG_TEST_DB\"\n"
			    "[sync]\nconflict_resolution = \"env:SMG_TEST_POLICY\"\n") == 0 &&
	      str_is(c.local_db, "from-env.db") && c.sync.conflict_resolution == SMG_NEWER_WINS,
	      "\"env:NAME\" reads a variable, for choices too");
	smg_config_free(&c);
	setenv("SMG_TEST_POLICY", "bogus", 1);
	expect_error("[sync]\nconflict_resolution = \"env:SMG_TEST_POLICY\"\n",
		     "config.toml:2:23: sync.conflict_resolution must be one of local_wins, remote_wins, "
		     "newer_wins, uuid_v7_wins; got 'bogus'");
	unsetenv("SMG_TEST_NOPE");
	expect_error("[target]\ntoken = \"env:SMG_TEST_NOPE\"\n",
		     "config.toml:2:9: target.token reads the environment variable SMG_TEST_NOPE, which is not set");
	expect_error("local_db = \"env:\"\n",
		     "config.toml:1:12: local_db: '' does not name an environment variable");
	expect_error("local_db = \"env:A B\"\n",
		     "config.toml:1:12: local_db: 'A B' does not name an environment variable");
	setenv("SMUGGLR_TARGET_TOKEN", "wins", 1);
	check(load_text(&c, "[target]\ntoken = \"env:SMG_TEST_DB\"\n") == 0 &&
	      str_is(c.target.token, "wins"), "SMUGGLR_TARGET_TOKEN wins over env:NAME in the file");
	smg_config_free(&c);
	clear_env();
}

static void expect_warning(const char *text, const char *want, const char *what)
{
	struct smg_config c;
	int rc = load_text(&c, text);
	check(rc == 0 && strstr(warnings, want) != NULL, "warning: %s", what);
	if (!strstr(warnings, want))
		printf("# stderr: %s# wanted: %s\n", warnings, want);
	smg_config_free(&c);
}

static void test_unknown_keys(void)
{
	expect_warning("# x\n[sync]\nbatch_size = 5\ntabels = [\"a\"]\n",
		       "config.toml:4:1: unknown key 'sync.tabels' (ignored), did you mean 'sync.tables'?\n",
		       "misspelt key, with line and column, and a suggestion");
	expect_warning("batch_size = 5\n",
		       "config.toml:1:1: unknown key 'batch_size' (ignored), did you mean 'sync.batch_size'?\n",
		       "a key in the wrong table");
	expect_warning("[sync]\n  zzz = 1\n", "config.toml:2:3: unknown key 'sync.zzz' (ignored)\n",
		       "unknown key without a suggestion");
	expect_warning("[database]\nname = \"x\"\n", "config.toml:1:2: unknown key 'database' (ignored)\n",
		       "unknown table");
	expect_warning("sync.tabels = 1\n", "config.toml:1:6: unknown key 'sync.tabels'",
		       "unknown dotted key");
	struct smg_config c;
	int rc = load_text(&c, "[sync]\nbatch_size = 5\nbogus = 1\n[target]\ntype = \"sqlite\"\n"
			       "[target.profile_options]\nwhatever = 1\n[target.profile_options.x]\ny = 2\n");
	check(rc == 0 && strstr(warnings, "sync.bogus") && !strstr(warnings, "profile_options") &&
	      !strstr(warnings, "whatever") && c.sync.batch_size == 5,
	      "[target.profile_options] is not checked; the rest still loads");
	char *p = strchr(warnings, '\n');
	check(p && p[1] == '\0', "one line per unknown key");
	smg_config_free(&c);
}

static void test_target_inference(void)
{
	struct smg_config c;
	check(load_text(&c, "[target]\npath = \"r.db\"\n") == 0 && c.target.type == SMG_TARGET_SQLITE &&
	      c.target.profile == SMG_PROFILE_NONE, "path means sqlite");
	smg_config_free(&c);
	check(load_text(&c, "[target]\nurl = \"http://x\"\n") == 0 && c.target.type == SMG_TARGET_HTTP &&
	      c.target.profile == SMG_PROFILE_GENERIC, "url means http, profile generic");
	smg_config_free(&c);
	check(load_text(&c, "[target]\ncommand = \"cat\"\n") == 0 && c.target.type == SMG_TARGET_COMMAND,
	      "command means command");
	smg_config_free(&c);
	check(load_text(&c, "cloudflare_account_id = \"a\"\ncloudflare_api_token = \"cf\"\ndatabase_id = \"d\"\n") == 0 &&
	      c.target.type == SMG_TARGET_D1 && c.target.profile == SMG_PROFILE_D1 &&
	      str_is(c.target.token, "cf"), "database_id means d1; the token comes from cloudflare_api_token");
	smg_config_free(&c);
	check(load_text(&c, "cloudflare_api_token = \"cf\"\ndatabase_id = \"d\"\n[target]\ntype = \"d1\"\ntoken = \"own\"\n") == 0 &&
	      str_is(c.target.token, "own"), "target.token wins over cloudflare_api_token");
	smg_config_free(&c);
	check(load_text(&c, "database_id = \"d\"\n[target]\ntype = \"sqlite\"\npath = \"p\"\nprofile = \"turso\"\n") == 0 &&
	      c.target.type == SMG_TARGET_SQLITE && c.target.profile == SMG_PROFILE_TURSO,
	      "an explicit type and profile stay");
	smg_config_free(&c);
}

static void touch_at(const char *path, time_t when)
{
	write_file(path, "");
	struct timespec ts[2] = {{when, 0}, {when, 0}};
	utimensat(AT_FDCWD, path, ts, 0);
}

/* smg_config_find_wrangler_db("w") picks want (NULL: none) and says
 * something holding said on stderr ("": nothing). */
static void expect_pick(const char *want, const char *said, const char *what)
{
	capture_start();
	char *found = smg_config_find_wrangler_db("w");
	char *out = capture_end();
	bool quiet_ok = *said ? strstr(out, said) != NULL : out[0] == '\0';
	check(str_is(found, want) && quiet_ok, "%s", what);
	if (!quiet_ok)
		printf("# stderr: %s", out);
	free(found);
	free(out);
}

/* smg_config_local_db(c) is want and says something holding said ("": nothing). */
static void expect_local_db(struct smg_config *c, const char *want, const char *said,
			    const char *what)
{
	capture_start();
	const char *db = smg_config_local_db(c);
	char *out = capture_end();
	check(str_is(db, want) && (*said ? strstr(out, said) != NULL : out[0] == '\0'), "%s", what);
	free(out);
}

static void test_wrangler(void)
{
	const char *dir = "w/.wrangler/state/v3/d1/miniflare-D1DatabaseObject";
	char a[256], b[256], other[256], want[512];
	expect_pick(NULL, "", "no wrangler directory: nothing, silently");

	snprintf(other, sizeof other, "mkdir -p %s", dir);
	check(system(other) == 0, "make a wrangler directory");
	snprintf(a, sizeof a, "%s/aaaa.sqlite", dir);
	snprintf(b, sizeof b, "%s/bbbb.sqlite", dir);
	touch_at(a, 1000000000);
	snprintf(other, sizeof other, "%s/metadata.sqlite", dir);
	touch_at(other, 1900000000);
	snprintf(other, sizeof other, "%s/aaaa.sqlite-wal", dir);
	touch_at(other, 1900000000);
	snprintf(want, sizeof want, "local_db is not set: using %s, the wrangler D1 database here\n", a);
	expect_pick(a, want, "one database (metadata.sqlite and -wal aside): taken, and said");

	touch_at(b, 1500000000);
	snprintf(want, sizeof want, "using %s, the most recently modified of 2 wrangler D1 databases\n", b);
	expect_pick(b, want, "two databases: the newer, and said");
	touch_at(b, 900000000);
	expect_pick(a, "most recently modified of 2", "the other one once it is newer");

	/* smg_config_local_db looks in the current directory, once */
	struct smg_config c;
	check(chdir("w") == 0, "into the project");
	smg_config_read(&c, NULL, false, err, sizeof err);
	expect_local_db(&c, a + 2, "local_db is not set", "local_db falls back to wrangler's");
	expect_local_db(&c, a + 2, "", "and says so once");
	smg_config_free(&c);
	load_text(&c, "local_db = \"mine.db\"\n");
	expect_local_db(&c, "mine.db", "", "a set local_db wins, silently");
	smg_config_free(&c);
	check(chdir("..") == 0, "back");
}

static char *print_to_string(const struct smg_config *c, enum smg_config_format f, bool secrets)
{
	FILE *tmp = tmpfile();
	smg_config_print(c, tmp, f, secrets);
	char *s = slurp(tmp);
	fclose(tmp);
	return s;
}

static void test_print(void)
{
	struct smg_config c, d;
	load_text(&c, full);
	char *toml = print_to_string(&c, SMG_CONFIG_TOML, true);
	check(strstr(toml, "\n[sync]\n") && strstr(toml, "batch_size = 1\n") &&
	      strstr(toml, "backoff_multiplier = 3.0\n") && strstr(toml, "tables = [\"a\", \"b\"]\n") &&
	      strstr(toml, "conflict_resolution = \"uuid_v7_wins\"\n") &&
	      strstr(toml, "token = \"t0k\"\n"), "TOML output");
	int rc = load_text(&d, toml);
	char *again = print_to_string(&d, SMG_CONFIG_TOML, true);
	check(rc == 0 && warnings[0] == '\0' && strcmp(toml, again) == 0,
	      "the TOML output reads back to the same config");
	free(again);
	smg_config_free(&d);
	free(toml);

	toml = print_to_string(&c, SMG_CONFIG_TOML, false);
	check(strstr(toml, "token = \"<hidden>\"\n") && !strstr(toml, "t0k") && !strstr(toml, "cf-token") &&
	      !strstr(toml, "\"SK\"") && !strstr(toml, "00112233"), "secrets hidden unless asked");
	free(toml);

	char *json = print_to_string(&c, SMG_CONFIG_JSON, false);
	check(strncmp(json, "{\"local_db\":\"local.db\",", 23) == 0 &&
	      strstr(json, ",\"sync\":{\"tables\":[\"a\", \"b\"],") &&
	      strstr(json, "\"batch_size\":1,") && strstr(json, "\"path_style\":false,") &&
	      strstr(json, "\"secret\":\"<hidden>\"") && strcmp(json + strlen(json) - 3, "}}\n") == 0 &&
	      strchr(json, '\n') == json + strlen(json) - 1,
	      "JSON output: one object on one line");
	free(json);
	smg_config_free(&c);

	smg_config_read(&c, NULL, false, err, sizeof err);
	json = print_to_string(&c, SMG_CONFIG_JSON, false);
	check(strstr(json, "\"local_db\":null,") && strstr(json, "\"type\":null,") &&
	      strstr(json, "\"backoff_multiplier\":2.0,") && strstr(json, "\"group\":null,"),
	      "JSON: unset keys are null");
	free(json);
	toml = print_to_string(&c, SMG_CONFIG_TOML, false);
	check(strstr(toml, "# local_db is not set\n") && strstr(toml, "# type is not set\n"),
	      "TOML: unset keys are comments");
	free(toml);
	smg_config_free(&c);

	load_text(&c, "local_db = \"tab\\there \\\"q\\\" \\\\ \\u0001\"\n");
	json = print_to_string(&c, SMG_CONFIG_JSON, false);
	check(strstr(json, "\"local_db\":\"tab\\there \\\"q\\\" \\\\ \\u0001\""), "strings escaped");
	free(json);
	smg_config_free(&c);
}

static void test_example(void)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/config.example.toml", top);
	struct smg_config c, d;
	free(warnings);
	capture_start();
	int rc = smg_config_read(&c, path, true, err, sizeof err);
	warnings = capture_end();
	check(rc == 0 && c.from_file && warnings[0] == '\0', "config.example.toml loads without a warning");
	if (rc)
		printf("# %s\n", err);
	check_defaults(&c, "config.example.toml");
	smg_config_read(&d, NULL, false, err, sizeof err);
	char *a = print_to_string(&c, SMG_CONFIG_TOML, true), *b = print_to_string(&d, SMG_CONFIG_TOML, true);
	check(strcmp(a, b) == 0, "config.example.toml states exactly the defaults");
	free(a);
	free(b);
	smg_config_free(&c);
	smg_config_free(&d);
}

static void test_load_dies(void)
{
	write_file("config.toml", "[broadcast]\nport = 99999\n");
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("died.txt", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		smg_setprogname("smugglr");
		struct smg_config c;
		smg_config_load(&c, "config.toml", true);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	FILE *f = fopen("died.txt", "r");
	char *out = f ? slurp(f) : smg_xstrdup("");
	if (f)
		fclose(f);
	check(WIFEXITED(status) && WEXITSTATUS(status) == SMG_EXIT_USAGE &&
	      str_is(out, "smugglr: config.toml:2:8: broadcast.port must be between 1 and 65535, got 99999\n"),
	      "smg_config_load dies with exit 2 and the message");
	free(out);
}

int main(void)
{
	const char *t = getenv("SMG_TOP");
	if (!t && !getcwd(top, sizeof top))
		return 1;
	if (t)
		snprintf(top, sizeof top, "%s", t);
	char dir[] = "/tmp/smg-config-XXXXXX";
	if (!mkdtemp(dir) || chdir(dir) != 0)
		return 1;
	clear_env();
	test_defaults();
	test_full();
	test_type_errors();
	test_range_errors();
	test_choice_errors();
	test_syntax_error();
	test_load_dies_clean();
	test_env();
	test_env_references();
	test_unknown_keys();
	test_target_inference();
	test_wrangler();
	test_print();
	test_example();
	test_load_dies();
	free(warnings);
	char cmd[64];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return test_failures ? 1 : 0;
}
