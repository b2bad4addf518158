/*
 * cli.h - command-line pieces several programs share: the table/column
 * selection options, --help/--version, and the report format.
 */
#ifndef SMG_CLI_H
#define SMG_CLI_H

#include "db.h"
#include <getopt.h>

/* Long options for the selection; their short codes are handled by
 * smg_select_getopt.  Splice into a program's option table. */
#define SMG_SELECT_LONGOPTS                                         \
	{"table", required_argument, NULL, 't'},                    \
	{"exclude-table", required_argument, NULL, 'T'},            \
	{"exclude-columns", required_argument, NULL, 'X'},          \
	{"timestamp-column", required_argument, NULL, 's'},         \
	{"no-timestamp", no_argument, NULL, 'S'}
#define SMG_SELECT_SHORTOPTS "t:T:X:s:"

#define SMG_SELECT_USAGE                                                        \
	"  -t, --table NAME           only this table (repeatable)\n"            \
	"  -T, --exclude-table NAME   skip this table (repeatable)\n"            \
	"  -X, --exclude-columns GLOB neither hash nor write matching columns;\n" \
	"                             GLOB matches \"column\" or \"table.column\",\n" \
	"                             comma-separated or repeated\n"           \
	"  -s, --timestamp-column NAME  column that orders writes (updated_at)\n" \
	"      --no-timestamp         no timestamp column\n"

/* Defaults: timestamp column updated_at; tables that are never user data
 * (sqlite_sequence, _cf_KV, __drizzle_migrations) excluded. */
void smg_select_defaults(struct smg_select *sel);
/* Handle one option code; false if it is not a selection option. */
bool smg_select_getopt(struct smg_select *sel, int c, const char *arg);

/* Print usage to stdout and exit 0, or to stderr and exit 2. */
_Noreturn void smg_usage(const char *text, bool ok);
_Noreturn void smg_version(void);

enum smg_report { SMG_REPORT_TEXT, SMG_REPORT_JSON, SMG_REPORT_NONE };
enum smg_report smg_report_parse(const char *s);

#endif
