/*
 * smg-apply - write a change stream into a SQLite database.
 */
#include "apply.h"
#include "cli.h"
#include "progress.h"
#include "remote.h"
#include "since.h"
#include "changelog.h"
#include "tomb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: smg-apply [options] TARGET\n"
	"Apply the change stream on stdin (from smg-diff) to the SQLite database TARGET,\n"
	"in one transaction that commits only when the whole stream arrived intact.\n"
	"A remote TARGET (d1:ACCOUNT_ID/DATABASE_ID, an http(s):// URL, command:CMD, or\n"
	"none: the config's target) is written in batches once the stream is read.\n"
	"  -c, --config FILE          [target], the cloudflare_* keys and [sync]\n"
	"                             (default config.toml when it exists)\n"
	"remote targets (smg-fetch(1)):\n"
	SMG_TARGET_USAGE
	"and:\n"
	"  -i, --input FILE           read the change stream from FILE, not stdin\n"
	"  -n, --dry-run              read and check everything, write nothing\n"
	"      --create-tables        create missing tables (and their indexes) from the\n"
	"                             stream's schema\n"
	"      --add-columns          add columns a table lacks, from the stream's schema\n"
	"      --only SIDE            apply only changes to local or remote (for sync)\n"
	"  -r, --report FORMAT        text (default), json or none, on stdout\n"
	"Instead of a stream:\n"
	"      --track                remember the deletes of TARGET's tables (or of each\n"
	"                             --table) in tombstones, for two-way syncs\n"
	"      --untrack              stop that, and forget their tombstones\n"
	"      --tracking             with a stream: track each table whose table record\n"
	"                             says it is tracked (the relay's copies)\n"
	"  -t, --table NAME           with --track or --untrack: only this table\n"
	"      --mark SIDE:FILE       mark TARGET as compared, from smg-diff --mark-file\n"
	"                             FILE (with -i: in the transaction of that diff's\n"
	"                             changes): SIDE is TARGET's side there, local or\n"
	"                             remote, or now (a copy nobody else writes)\n"
	"  -q, --quiet                no progress on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

/* --track / --untrack: the triggers and the tombstone table (tomb.h), in
 * one transaction; the tables are those a sync covers, or those named. */
static int track(const char *path, char **names, size_t n, bool on, bool dry_run)
{
	sqlite3 *db = smg_db_open(path, !dry_run);
	struct smg_select sel;
	smg_select_defaults(&sel);
	sel.tracking = on;
	for (size_t i = 0; i < n; i++)
		smg_select_add(&sel.tables, &sel.ntables, names[i]);
	if (sqlite3_exec(db, dry_run ? "BEGIN" : "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		smg_die(SMG_EXIT_CONFLICT, "%s: %s", path, sqlite3_errmsg(db));
	size_t nt;
	struct smg_table **t = smg_db_tables(db, path, &sel, &nt);
	struct smg_buf done = SMG_BUF_INIT;
	for (size_t i = 0; i < nt; i++) {
		if (!dry_run && on) {
			smg_tomb_track(db, path, t[i]);
			if (!smg_log_track(db, path, t[i]))
				smg_warn("%s: table \"%s\": its changes are not logged, its key being "
					 "neither INTEGER nor TEXT: each diff reads it whole", path,
					 t[i]->name);
		}
		else if (!dry_run)
			smg_tomb_untrack(db, path, t[i]->name);
		smg_buf_addf(&done, "%s%s", done.len ? ", " : "", t[i]->name);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		smg_die(smg_db_exit_code(sqlite3_errcode(db)), "%s: %s", path, sqlite3_errmsg(db));
	printf("%s: %s%s: %s\n", path, dry_run ? "would " : "", on ? "track" : "untrack",
	       done.len ? done.data : "(no tables)");
	smg_buf_free(&done);
	smg_tables_free(t, nt);
	smg_select_free(&sel);
	smg_db_close(db);
	return SMG_EXIT_OK;
}

/* --mark SIDE:FILE: which side the target was in smg-diff --since's
 * diff (0 local, 1 remote; a copy, "now", is the remote side), its mark. */
static void read_mark(const char *spec, struct smg_apply_opts *o, char **name)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon ? (size_t)(colon - spec) : 0;
	int side = n == 5 && !strncmp(spec, "local", 5) ? 0 :
		   n == 6 && !strncmp(spec, "remote", 6) ? 1 : n == 3 && !strncmp(spec, "now", 3) ? 2 : -1;
	if (side < 0)
		smg_die(SMG_EXIT_USAGE, "--mark takes local:FILE, remote:FILE or now:FILE, not \"%s\"",
			spec);
	bool logged = smg_since_read(colon + 1, side == 2 ? 1 : side, name, &o->mark);
	/* no mark to make where no table is logged; but a copy starts its
	 * logs, which its source's may need */
	o->mark_name = logged || side == 2 ? *name : NULL;
	o->mark_copy = side == 2;
}

/* --mark alone: the mark, in a transaction of its own. */
static int mark(const char *path, const struct smg_apply_opts *o)
{
	if (!o->mark_name) {	/* not even opened: it may be read-only */
		printf("%s: no table of it was logged in the diff: no mark\n", path);
		return SMG_EXIT_OK;
	}
	sqlite3 *db = smg_db_open(path, !o->dry_run);
	int64_t at = -1;
	if (!o->dry_run) {
		smg_db_exec(db, path, "BEGIN IMMEDIATE");
		at = smg_mark_commit(db, path, o->mark_name, o->mark, smg_log_seq(db), o->mark_copy);
		smg_db_exec(db, path, "COMMIT");
	}
	if (o->dry_run)
		printf("%s: would mark %s\n", path, o->mark_name);
	else if (at >= 0)
		printf("%s: mark %s at change %lld\n", path, o->mark_name, (long long)at);
	else
		printf("%s: no change log (smugglr track): no mark\n", path);
	smg_db_close(db);
	return SMG_EXIT_OK;
}

/* --track / --untrack on a remote target: the same statements, one
 * request; untracking leaves the tombstone table (empty of the table's
 * tombstones) in place. */
static int track_remote(const struct smg_target *t, char **names, size_t n, bool on,
			bool dry_run, bool verbose)
{
	struct smg_select sel;
	smg_select_defaults(&sel);
	sel.tracking = on;
	for (size_t i = 0; i < n; i++)
		smg_select_add(&sel.tables, &sel.ntables, names[i]);
	struct smg_remote *rem = smg_remote_open(t, verbose);
	size_t nt, nsql = 0;
	struct smg_table **tables = smg_remote_tables(rem, &sel, &nt);
	struct smg_buf sql = SMG_BUF_INIT, done = SMG_BUF_INIT;
	for (size_t i = 0; i < nt; i++) {
		nsql += on ? smg_tomb_track_sql(&sql, t->name, tables[i])
			   : smg_tomb_untrack_sql(&sql, tables[i]->name);
		smg_buf_addf(&done, "%s%s", done.len ? ", " : "", tables[i]->name);
	}
	if (nsql && !dry_run)
		smg_remote_exec(rem, sql.data, nsql);
	printf("%s: %s%s: %s\n", t->name, dry_run ? "would " : "", on ? "track" : "untrack",
	       done.len ? done.data : "(no tables)");
	smg_buf_free(&sql);
	smg_buf_free(&done);
	smg_tables_free(tables, nt);
	smg_select_free(&sel);
	smg_remote_close(rem);
	return SMG_EXIT_OK;
}

/* A remote target (remote.h): read everything, then send batches. */
static int apply_remote(const struct smg_target *t, const char *input,
			const struct smg_apply_opts *o, enum smg_report report, bool verbose)
{
	if (t->type == SMG_TARGET_COMMAND) {
		char *args[] = {"--dry-run"};
		if (strcmp(input, "-"))
			smg_die(SMG_EXIT_USAGE, "a command target reads the stream on stdin, not -i");
		smg_target_exec(t, "apply", args, o->dry_run ? 1 : 0);
	}
	struct smg_reader *r = smg_reader_open_path(input);
	struct smg_remote *rem = smg_remote_open(t, verbose);
	struct smg_remote_result res;
	int code = smg_remote_apply(rem, r, o, &res);
	struct smg_buf out = SMG_BUF_INIT;
	if (report == SMG_REPORT_TEXT)
		smg_remote_report_text(&out, t->name, &res, o->dry_run);
	else if (report == SMG_REPORT_JSON)
		smg_remote_report_json(&out, t->name, &res, o->dry_run);
	smg_write_all(1, out.data, out.len, "stdout");
	smg_apply_report_conflicts(t->name, &res.res);
	if (code && (code != SMG_EXIT_CONFLICT || res.error[0]))	/* a batch failed */
		smg_remote_report_failure(t->name, &res);
	smg_buf_free(&out);
	smg_remote_result_free(&res);
	smg_remote_close(rem);
	smg_reader_close(r);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"input", required_argument, NULL, 'i'},
		{"dry-run", no_argument, NULL, 'n'},
		{"create-tables", no_argument, NULL, 'C'},
		{"add-columns", no_argument, NULL, 'A'},
		{"only", required_argument, NULL, 'O'},
		{"report", required_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},
		{"track", no_argument, NULL, 'K'},
		{"untrack", no_argument, NULL, 'U'},
		{"table", required_argument, NULL, 't'},
		{"tracking", no_argument, NULL, 'T'},
		{"mark", required_argument, NULL, 'M'},
		{"config", required_argument, NULL, 'c'},
		SMG_TARGET_LONGOPTS,
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct smg_apply_opts o = {.only = -1};
	enum smg_report report = SMG_REPORT_TEXT;
	const char *input = "-";
	struct smg_target_opts to = {0};
	struct smg_config cfg;	/* a remote target's profile points into it */
	int c, tracking = 0;	/* 'K' --track, 'U' --untrack */
	char **tables = NULL;
	size_t ntables = 0;
	const char *mark_spec = NULL;
	char *mark_name = NULL;
	bool input_given = false;
	smg_setprogname(argv[0]);
	smg_cli_config(&cfg, argc, argv, NULL, NULL);
	o.tombstone_horizon_days = cfg.sync.tombstone_horizon_days;
	while ((c = getopt_long(argc, argv, "i:nr:qc:t:" SMG_TARGET_SHORTOPTS "h", longopts, NULL)) !=
	       -1) {
		if (smg_target_getopt(&to, c, optarg))
			continue;
		switch (c) {
		case 'i': input = optarg; input_given = true; break;
		case 'n': o.dry_run = true; break;
		case 'C': o.create_tables = true; break;
		case 'A': o.add_columns = true; break;
		case 'O':
			if (!strcmp(optarg, "local"))
				o.only = SMG_SIDE_LOCAL;
			else if (!strcmp(optarg, "remote"))
				o.only = SMG_SIDE_REMOTE;
			else
				smg_die(SMG_EXIT_USAGE, "--only takes local or remote, not \"%s\"", optarg);
			break;
		case 'r': report = smg_report_parse(optarg); break;
		case 'q': smg_progress_disable(); break;
		case 'K':
		case 'U':
			if (tracking && tracking != c)
				smg_die(SMG_EXIT_USAGE, "--track and --untrack exclude each other");
			tracking = c;
			break;
		case 't': smg_select_add(&tables, &ntables, optarg); break;
		case 'T': o.tracking = true; break;
		case 'M': mark_spec = optarg; break;
		case 'c': break;	/* loaded by smg_cli_config */
		case 'h': smg_usage(usage, true);
		case 'V': smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind < argc - 1)
		smg_usage(usage, false);
	const char *target = optind < argc ? argv[optind] : NULL;
	o.progress = smg_progress_enabled();
	if (ntables && !tracking)
		smg_die(SMG_EXIT_USAGE, "--table goes with --track or --untrack");
	struct smg_target remote = {0};
	if (!target || smg_target_spec_is_remote(target)) {
		smg_target_resolve(&remote, target, to.profile, to.token, to.endpoint, &cfg);
		if (remote.type != SMG_TARGET_SQLITE) {
			if (mark_spec)
				smg_die(SMG_EXIT_USAGE, "--mark marks a SQLite file, not %s", remote.name);
			int code = tracking ? track_remote(&remote, tables, ntables, tracking == 'K',
							   o.dry_run, to.verbose)
					    : apply_remote(&remote, input, &o, report, to.verbose);
			smg_target_free(&remote);
			smg_config_free(&cfg);
			return code;
		}
		target = remote.path;
	}
	if (mark_spec && tracking)
		smg_die(SMG_EXIT_USAGE, "--mark goes alone, without --track or --untrack");
	if (mark_spec && !input_given) {
		read_mark(mark_spec, &o, &mark_name);
		int code = mark(target, &o);
		free(mark_name);
		smg_target_free(&remote);
		smg_config_free(&cfg);
		return code;
	}
	if (tracking) {
		int code = track(target, tables, ntables, tracking == 'K', o.dry_run);
		smg_strings_free(tables, ntables);
		smg_target_free(&remote);
		smg_config_free(&cfg);
		return code;
	}
	sqlite3 *db = smg_db_open(target, !o.dry_run);
	/* the whole stream first: upstream may still be reading target */
	struct smg_reader *r = strcmp(input, "-") ? smg_reader_open_path(input)
						  : smg_reader_open(smg_spool(0, "stdin"), "-");
	if (o.progress)	/* a file now: its size is the total */
		smg_progress_input(smg_reader_fd(r));
	if (mark_spec)	/* only now: smg-diff writes it once its stream is whole */
		read_mark(mark_spec, &o, &mark_name);
	struct smg_apply_result res;
	smg_apply_sqlite(db, target, r, &o, &res);
	struct smg_buf out = SMG_BUF_INIT;
	if (report == SMG_REPORT_TEXT)
		smg_apply_report_text(&out, target, &res, o.dry_run);
	else if (report == SMG_REPORT_JSON)
		smg_apply_report_json(&out, target, &res, o.dry_run);
	smg_write_all(1, out.data, out.len, "stdout");
	smg_apply_report_conflicts(target, &res);
	free(mark_name);	/* (the mark is the quiet part of the apply) */
	int code = res.conflicts ? SMG_EXIT_CONFLICT : SMG_EXIT_OK;
	smg_buf_free(&out);
	smg_apply_result_free(&res);
	smg_reader_close(r);
	smg_db_close(db);
	smg_target_free(&remote);
	smg_config_free(&cfg);
	return code;
}
