/*
 * smg-hash - write the row stream of a SQLite database.  Also the database
 * chores of the relay verbs: a consistent copy, an integrity check, and a
 * summary (size, SHA-256, rows per table).
 */
#include "cli.h"
#include "progress.h"
#include "digest.h"
#include "output.h"
#include "prefetch.h"
#include "tomb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: smg-hash [options] DB\n"
	"Write the rows of a SQLite database as a smugglr row stream (smugglr-stream(5)).\n"
	SMG_SELECT_USAGE
	"  -k, --keys-only            keys and hashes, no values\n"
	"      --schema-only          table records only, no rows\n"
	"Instead of the stream:\n"
	"      --backup FILE          copy DB to FILE with SQLite's backup API\n"
	"                             (consistent under WAL and concurrent writers)\n"
	"      --integrity-check      PRAGMA integrity_check: exit 0, or 7 with the\n"
	"                             problems on stderr\n"
	"      --stats                one JSON line: size, SHA-256, rows per table\n"
	"  -q, --quiet                no progress on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

/* Rows, and the tombstones of tracked tables among them in key order. */
static void write_rows(sqlite3 *db, const char *path, struct smg_table **tables, size_t n,
		       bool keys_only, int horizon_days, struct smg_writer *w)
{
	struct smg_row_counter *total = NULL;	/* for the progress line */
	/* on this thread: downstream stages of a pipeline want the other core */
	struct smg_prefetch *rows = smg_prefetch_start(db, tables, n, false);
	int64_t done = 0;
	for (size_t i = 0; i < n; i++) {
		const struct smg_value *vals, *key, *ts;
		const unsigned char *hash;
		struct smg_tombs *tombs = tables[i]->tracked ? smg_tombs_load(db, path, tables[i],
									      horizon_days) : NULL;
		struct smg_tomb_merge m;
		int got;
		smg_tomb_merge_init(&m, rows, tombs, tables[i], path);
		smg_write_table(w, tables[i]);
		while ((got = smg_tomb_merge_next(&m, &vals, &hash, &key, &ts))) {
			if (got == 2) {
				smg_write_tombstone(w, tables[i], key, ts);
				continue;
			}
			smg_write_row_values(w, tables[i], vals, hash, keys_only);
			smg_progress("hash", ++done, smg_row_counter_total(total));
			if (!total && smg_progress_showing())	/* a run that short needs none */
				total = smg_row_counter_start(path, tables, n);
		}
		smg_tombs_free(tombs);
	}
	smg_prefetch_stop(rows);
	smg_row_counter_stop(total);
}

/* ---- --backup, --integrity-check, --stats --------------------------------- */

static int64_t page_size(sqlite3 *db)
{
	sqlite3_stmt *st;
	int64_t n = 0;
	if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Every page is copied under one read transaction of the source, opened
 * before the first step and held to the last: a consistent copy whatever
 * other connections write (under WAL they go on writing; otherwise they
 * wait).  The steps are of BACKUP_STEP pages, for the progress line.
 * Written to a temporary file that replaces FILE, or goes through to a
 * FIFO or stdout (output.h). */
#define BACKUP_STEP 1024

static int backup(const char *path, const char *to, int busy_timeout_ms)
{
	sqlite3 *src = smg_db_open(path, false);
	struct smg_output out;
	int rc = smg_output_open(&out, to, SMG_OUTPUT_SPOOL);
	if (rc)
		exit(rc);
	sqlite3 *dst;
	if (sqlite3_open_v2(out.temp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", out.temp, sqlite3_errmsg(dst));
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		smg_die(SMG_EXIT_FAILURE, "backup of %s: %s", path, sqlite3_errmsg(dst));
	/* The read transaction the steps share (a backup step opens none
	 * when its source has one).  A writer's lock is waited for as every
	 * connection does ([sync] busy_timeout_ms), once, here. */
	sqlite3_busy_timeout(src, busy_timeout_ms);
	rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		smg_die(smg_db_exit_code(rc), "backup of %s: %s after %d ms ([sync] busy_timeout_ms)",
			path, sqlite3_errstr(rc), busy_timeout_ms);
	if (rc != SQLITE_OK)
		smg_die(smg_db_exit_code(rc), "backup of %s: %s", path, sqlite3_errmsg(src));
	int64_t page = page_size(src);
	while ((rc = sqlite3_backup_step(b, BACKUP_STEP)) == SQLITE_OK) {
		int64_t total = sqlite3_backup_pagecount(b);
		smg_progress_bytes("backup", (total - sqlite3_backup_remaining(b)) * page, total * page);
	}
	smg_progress_done();
	sqlite3_backup_finish(b);
	sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_DONE)
		smg_die(SMG_EXIT_FAILURE, "backup of %s: %s", path, sqlite3_errstr(rc));
	if (sqlite3_close(dst) != SQLITE_OK)
		smg_die(SMG_EXIT_FAILURE, "%s: cannot close", out.temp);
	rc = smg_output_commit(&out);
	smg_db_close(src);
	return rc;
}

static int integrity_check(const char *path)
{
	sqlite3 *db = smg_db_open(path, false);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
		smg_die(SMG_EXIT_DATA, "%s: %s", path, sqlite3_errmsg(db));
	int rc, bad = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *msg = (const char *)sqlite3_column_text(st, 0);
		if (msg && !strcmp(msg, "ok"))
			continue;
		fprintf(stderr, "%s: %s: %s\n", smg_progname, path, msg ? msg : "(null)");
		bad++;
	}
	if (rc != SQLITE_DONE)
		smg_die(SMG_EXIT_DATA, "%s: integrity check failed: %s", path, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	smg_db_close(db);
	if (bad)
		smg_die(SMG_EXIT_DATA, "%s: the integrity check found %d problem%s", path, bad,
			bad == 1 ? "" : "s");
	puts("ok");
	return SMG_EXIT_OK;
}

/* {"size":N,"sha256":"...","tables":{"name":rows,...}}: the tables smugglr
 * would sync (smg_db_table_names), by name. */
static int stats(const char *path)
{
	sqlite3 *db = smg_db_open(path, false);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char sha256[65];
	uint64_t size;
	if (fd < 0 || !smg_fd_sha256(fd, 0, sha256, &size))
		smg_die(SMG_EXIT_FAILURE, "%s: %s", path, strerror(errno));
	close(fd);
	struct smg_buf out = SMG_BUF_INIT;
	smg_buf_addf(&out, "{\"size\":%llu,\"sha256\":\"%s\",\"tables\":{",
		     (unsigned long long)size, sha256);
	sqlite3_stmt *names = smg_db_table_names(db);
	for (int i = 0; sqlite3_step(names) == SQLITE_ROW; i++) {
		const char *name = (const char *)sqlite3_column_text(names, 0);
		if (i)
			smg_buf_addc(&out, ',');
		smg_json_add_string(&out, name, strlen(name));
		smg_buf_addf(&out, ":%lld", (long long)smg_db_count(db, name));
	}
	sqlite3_finalize(names);
	smg_buf_adds(&out, "}}\n");
	smg_write_all(1, out.data, out.len, "stdout");
	smg_buf_free(&out);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	smg_db_close(db);
	return SMG_EXIT_OK;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		SMG_SELECT_LONGOPTS,
		{"keys-only", no_argument, NULL, 'k'},
		{"schema-only", no_argument, NULL, 'O'},
		{"backup", required_argument, NULL, 'B'},
		{"integrity-check", no_argument, NULL, 'I'},
		{"stats", no_argument, NULL, 'Z'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	struct smg_select sel;
	struct smg_config cfg;
	const char *backup_to = NULL;
	bool schema_only = false;
	int c, mode = 0;	/* 0: the stream, else 'B', 'I' or 'Z' */
	smg_setprogname(argv[0]);
	smg_select_defaults(&sel);
	smg_cli_config(&cfg, argc, argv, &sel, NULL);
	while ((c = getopt_long(argc, argv, SMG_SELECT_SHORTOPTS "kqh", longopts, NULL)) != -1) {
		if (smg_select_getopt(&sel, c, optarg))
			continue;
		switch (c) {
		case 'k': sel.keys_only = true; break;
		case 'O': schema_only = true; break;
		case 'B': backup_to = optarg; /* fall through */
		case 'I':
		case 'Z':
			if (mode && mode != c)
				smg_die(SMG_EXIT_USAGE, "--backup, --integrity-check and --stats "
					"exclude each other");
			mode = c;
			break;
		case 'q': smg_progress_disable(); break;
		case 'h': smg_usage(usage, true);
		case 'V': smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind != argc - 1)
		smg_usage(usage, false);
	const char *path = argv[optind];
	if (mode) {
		int busy_timeout_ms = cfg.sync.busy_timeout_ms;
		smg_select_free(&sel);
		smg_config_free(&cfg);
		return mode == 'B'   ? backup(path, backup_to, busy_timeout_ms)
		       : mode == 'I' ? integrity_check(path)
				     : stats(path);
	}
	sqlite3 *db = smg_db_open(path, false);
	/* one read transaction: the stream is a consistent snapshot */
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	size_t n;
	struct smg_table **tables = smg_db_tables(db, path, &sel, &n);
	smg_tomb_mark(db, tables, n);
	struct smg_writer w;
	smg_writer_init(&w, 1, "stdout");
	if (schema_only)
		for (size_t i = 0; i < n; i++)
			smg_write_table(&w, tables[i]);
	else
		write_rows(db, path, tables, n, sel.keys_only, cfg.sync.tombstone_horizon_days, &w);
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
