/*
 * smg-hash - write the row stream of a SQLite database.
 */
#include "cli.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: smg-hash [options] DB\n"
	"Write the rows of a SQLite database as a smugglr row stream (smugglr-stream(5)).\n"
	SMG_SELECT_USAGE
	"  -k, --keys-only            keys and hashes, no values\n"
	"  -q, --quiet                no progress on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

static void hash_table(sqlite3 *db, const struct smg_table *t, bool keys_only,
		       struct smg_writer *w, int64_t *done, int64_t total)
{
	struct smg_scan *scan = smg_scan_open(db, t);
	const struct smg_value *row;
	unsigned char hash[SMG_HASH_LEN];
	smg_write_table(w, t);
	while (smg_scan_next(scan, &row, hash)) {
		smg_write_row_values(w, t, row, hash, keys_only);
		smg_progress("hash", ++*done, total);
	}
	smg_scan_close(scan);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SMG_SELECT_LONGOPTS,
		{"keys-only", no_argument, NULL, 'k'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct smg_select sel;
	struct smg_config cfg;
	int c;
	smg_setprogname(argv[0]);
	smg_select_defaults(&sel);
	smg_cli_config(&cfg, argc, argv, &sel, NULL);
	while ((c = getopt_long(argc, argv, SMG_SELECT_SHORTOPTS "kqh", longopts, NULL)) != -1) {
		if (smg_select_getopt(&sel, c, optarg))
			continue;
		switch (c) {
		case 'k': sel.keys_only = true; break;
		case 'q': smg_progress_disable(); break;
		case 'h': smg_usage(usage, true);
		case 'V': smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind != argc - 1)
		smg_usage(usage, false);
	const char *path = argv[optind];
	sqlite3 *db = smg_db_open(path, false);
	/* one read transaction: the stream is a consistent snapshot */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	size_t n;
	struct smg_table **tables = smg_db_tables(db, path, &sel, &n);
	int64_t total = 0, done = 0;
	if (smg_progress_enabled())
		for (size_t i = 0; i < n; i++)
			total += smg_db_count(db, tables[i]);
	struct smg_writer w;
	smg_writer_init(&w, 1, "stdout");
	for (size_t i = 0; i < n; i++)
		hash_table(db, tables[i], sel.keys_only, &w, &done, total);
	smg_progress_done();
	smg_write_end(&w);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	smg_writer_free(&w);
	smg_tables_free(tables, n);
	smg_db_close(db);
	smg_select_free(&sel);
	smg_config_free(&cfg);
	return SMG_EXIT_OK;
}
