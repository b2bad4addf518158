/*
 * smg-fetch - write the row stream of a remote database (Cloudflare D1 or
 * another HTTP SQL endpoint), the same stream smg-hash writes for a file.
 */
#include "cli.h"
#include "progress.h"
#include "remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
	"usage: smg-fetch [options] [TARGET]\n"
	"Write the rows of a remote database as a smugglr row stream (smugglr-stream(5)).\n"
	"TARGET: d1:ACCOUNT_ID/DATABASE_ID, an http(s):// or libsql:// URL, command:CMD,\n"
	"or a SQLite file; without one, the target of the config file ([target], or\n"
	"the top-level cloudflare_account_id, database_id, cloudflare_api_token).\n"
	SMG_TARGET_USAGE
	"      --show-profile         print the profile in effect as TOML, and exit\n"
	SMG_SELECT_USAGE
	"  -k, --keys-only            keys and hashes, no values\n"
	"  -q, --quiet                no progress on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

/* The selection as the options of smg-hash(1), for a program that takes them. */
static void select_args(const struct smg_select *sel, char ***args, size_t *n)
{
	for (size_t i = 0; i < sel->ntables; i++) {
		smg_select_add(args, n, "--table");
		smg_select_add(args, n, sel->tables[i]);
	}
	for (size_t i = 0; i < sel->nexclude_tables; i++) {
		smg_select_add(args, n, "--exclude-table");
		smg_select_add(args, n, sel->exclude_tables[i]);
	}
	for (size_t i = 0; i < sel->nexclude_columns; i++) {
		smg_select_add(args, n, "--exclude-columns");
		smg_select_add(args, n, sel->exclude_columns[i]);
	}
	if (sel->ts) {
		smg_select_add(args, n, "--timestamp-column");
		smg_select_add(args, n, sel->ts);
	} else {
		smg_select_add(args, n, "--no-timestamp");
	}
	if (sel->keys_only)
		smg_select_add(args, n, "--keys-only");
}

/* A SQLite file is smg-hash's job: run it, from where this program is. */
_Noreturn static void fetch_file(const char *argv0, const char *path, const struct smg_select *sel)
{
	char **args = NULL;
	size_t n = 0;
	const char *slash = strrchr(argv0, '/');
	struct smg_buf prog = SMG_BUF_INIT;
	if (slash)
		smg_buf_add(&prog, argv0, (size_t)(slash - argv0 + 1));
	smg_buf_adds(&prog, "smg-hash");
	smg_select_add(&args, &n, prog.data);
	select_args(sel, &args, &n);
	if (!smg_progress_enabled())
		smg_select_add(&args, &n, "--quiet");
	smg_select_add(&args, &n, "--");
	smg_select_add(&args, &n, path);
	args = smg_xrealloc(args, (n + 1) * sizeof *args);
	args[n] = NULL;
	execvp(args[0], args);
	smg_die(SMG_EXIT_FAILURE, "%s: %s", args[0], strerror(errno));
}

/* A command: it writes the stream itself, given the selection. */
_Noreturn static void fetch_command(const struct smg_target *t, const struct smg_select *sel)
{
	char **args = NULL;
	size_t n = 0;
	select_args(sel, &args, &n);
	smg_target_exec(t, "fetch", args, n);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SMG_SELECT_LONGOPTS,
		SMG_TARGET_LONGOPTS,
		{"show-profile", no_argument, NULL, 'P'},
		{"keys-only", no_argument, NULL, 'k'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct smg_select sel;
	struct smg_config cfg;
	struct smg_target_opts to = {0};
	bool show_profile = false;
	int c;
	smg_setprogname(argv[0]);
	smg_select_defaults(&sel);
	smg_cli_config(&cfg, argc, argv, &sel, NULL);
	while ((c = getopt_long(argc, argv, SMG_SELECT_SHORTOPTS SMG_TARGET_SHORTOPTS "kqh",
				longopts, NULL)) != -1) {
		if (smg_select_getopt(&sel, c, optarg) || smg_target_getopt(&to, c, optarg))
			continue;
		switch (c) {
		case 'P': show_profile = true; break;
		case 'k': sel.keys_only = true; break;
		case 'q': smg_progress_disable(); break;
		case 'h': smg_usage(usage, true);
		case 'V': smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind < argc - 1)
		smg_usage(usage, false);
	const char *spec = optind < argc ? argv[optind] : NULL;

	struct smg_target t = {0};
	if (show_profile && !spec && (to.profile || !cfg.from_file)) {
		/* a built-in profile, without a target */
		char err[600];
		if (smg_profile_load(&t.profile, to.profile ? to.profile : "generic", NULL, NULL, err, sizeof err))
			smg_die(SMG_EXIT_USAGE, "%s", err);
		smg_profile_print(&t.profile, stdout);
		goto done;
	}
	smg_target_resolve(&t, spec, to.profile, to.token, to.endpoint, &cfg);
	if (show_profile) {
		if (t.type != SMG_TARGET_D1 && t.type != SMG_TARGET_HTTP)
			smg_die(SMG_EXIT_USAGE, "%s: not an HTTP target: it has no profile", t.name);
		smg_profile_print(&t.profile, stdout);
		goto done;
	}
	if (t.type == SMG_TARGET_COMMAND)
		fetch_command(&t, &sel);
	if (t.type == SMG_TARGET_SQLITE)
		fetch_file(argv[0], t.path, &sel);

	struct smg_writer w;
	smg_writer_init(&w, 1, "stdout");
	struct smg_remote *r = smg_remote_open(&t, to.verbose);
	smg_remote_fetch(r, &sel, &w, smg_progress_enabled());
	if (to.verbose)
		smg_warn("%s: %lld request%s", t.name, (long long)smg_remote_requests(r),
			 smg_remote_requests(r) == 1 ? "" : "s");
	smg_remote_close(r);
	smg_write_end(&w);
	smg_writer_free(&w);
done:
	smg_target_free(&t);
	smg_config_free(&cfg);
	smg_select_free(&sel);
	return SMG_EXIT_OK;
}
