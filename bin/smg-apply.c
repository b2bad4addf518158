/*
 * smg-apply - write a change stream into a SQLite database.
 */
#include "apply.h"
#include "cli.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: smg-apply [options] TARGET\n"
	"Apply the change stream on stdin (from smg-diff) to the SQLite database TARGET,\n"
	"in one transaction that commits only when the whole stream arrived intact.\n"
	"  -i, --input FILE           read the change stream from FILE, not stdin\n"
	"  -n, --dry-run              read and check everything, write nothing\n"
	"      --create-tables        create missing tables from the stream's schema\n"
	"      --only SIDE            apply only changes to local or remote (for sync)\n"
	"  -r, --report FORMAT        text (default), json or none, on stdout\n"
	"  -q, --quiet                no progress on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"input", required_argument, NULL, 'i'},
		{"dry-run", no_argument, NULL, 'n'},
		{"create-tables", no_argument, NULL, 'C'},
		{"only", required_argument, NULL, 'O'},
		{"report", required_argument, NULL, 'r'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct smg_apply_opts o = {.only = -1};
	enum smg_report report = SMG_REPORT_TEXT;
	const char *input = "-";
	int c;
	smg_setprogname(argv[0]);
	while ((c = getopt_long(argc, argv, "i:nr:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': input = optarg; break;
		case 'n': o.dry_run = true; break;
		case 'C': o.create_tables = true; break;
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
		case 'h': smg_usage(usage, true);
		case 'V': smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind != argc - 1)
		smg_usage(usage, false);
	const char *target = argv[optind];
	o.progress = smg_progress_enabled();
	sqlite3 *db = smg_db_open(target, !o.dry_run);
	struct smg_reader *r = smg_reader_open_path(input);
	struct smg_apply_result res;
	smg_apply_sqlite(db, target, r, &o, &res);
	struct smg_buf out = SMG_BUF_INIT;
	if (report == SMG_REPORT_TEXT)
		smg_apply_report_text(&out, target, &res, o.dry_run);
	else if (report == SMG_REPORT_JSON)
		smg_apply_report_json(&out, target, &res, o.dry_run);
	smg_write_all(1, out.data, out.len, "stdout");
	smg_buf_free(&out);
	smg_apply_result_free(&res);
	smg_reader_close(r);
	smg_db_close(db);
	return SMG_EXIT_OK;
}
