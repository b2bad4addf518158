/*
 * cli.h - command-line pieces several programs share: the table/column
 * selection options, --help/--version, and the report format.
 */
#ifndef SMG_CLI_H
#define SMG_CLI_H

#include "config.h"
#include "db.h"
#include "diff.h"
#include <getopt.h>

/* Long options for the selection; their short codes are handled by
 * smg_select_getopt.  Splice into a program's option table. */
#define SMG_SELECT_LONGOPTS                                         \
	{"config", required_argument, NULL, 'c'},                   \
	{"table", required_argument, NULL, 't'},                    \
	{"exclude-table", required_argument, NULL, 'T'},            \
	{"exclude-columns", required_argument, NULL, 'X'},          \
	{"timestamp-column", required_argument, NULL, 's'},         \
	{"no-timestamp", no_argument, NULL, 'S'}
#define SMG_SELECT_SHORTOPTS "c:t:T:X:s:"

#define SMG_SELECT_USAGE                                                        \
	"  -c, --config FILE          settings ([sync] table; default config.toml\n" \
	"                             when it exists); options override it\n"   \
	"  -t, --table NAME           only this table (repeatable)\n"            \
	"  -T, --exclude-table NAME   skip this table (repeatable)\n"            \
	"  -X, --exclude-columns GLOB neither hash nor write matching columns;\n" \
	"                             GLOB matches \"column\" or \"table.column\",\n" \
	"                             comma-separated or repeated\n"           \
	"  -s, --timestamp-column NAME  column that orders writes (updated_at)\n" \
	"      --no-timestamp         no timestamp column\n"

/*
 * The remote-target options smg-fetch and smg-apply share (smg-fetch(1)):
 * the endpoint's profile, its token, D1's API base, and -v for one line per
 * HTTP request.  -p is --policy wherever a program has one (smugglr,
 * smg-diff, smg-beacon); here it still names the profile, with a warning,
 * as it did before.  Splice the long options into a program's table, the
 * short ones into its getopt string, and pass every option code to
 * smg_target_getopt first.
 */
struct smg_target_opts {
	const char *profile, *token, *endpoint;
	bool verbose;
};
enum { SMG_OPT_PROFILE = 0x100, SMG_OPT_TOKEN, SMG_OPT_ENDPOINT };
#define SMG_TARGET_LONGOPTS                                         \
	{"profile", required_argument, NULL, SMG_OPT_PROFILE},      \
	{"token", required_argument, NULL, SMG_OPT_TOKEN},          \
	{"endpoint", required_argument, NULL, SMG_OPT_ENDPOINT},    \
	{"verbose", no_argument, NULL, 'v'}
#define SMG_TARGET_SHORTOPTS "p:v"
#define SMG_TARGET_USAGE                                                         \
	"      --profile NAME         d1, turso, rqlite, datasette, sqlite-cloud,\n" \
	"                             starbasedb or generic (default: from the URL)\n" \
	"      --token TOKEN          bearer token (better: SMUGGLR_TARGET_TOKEN or\n" \
	"                             CLOUDFLARE_API_TOKEN in the environment)\n"   \
	"      --endpoint URL         D1: API base instead of https://api.cloudflare.com\n" \
	"  -v, --verbose              one line per HTTP request on stderr\n"

/* Handle one option code; false if it is not a remote-target option. */
bool smg_target_getopt(struct smg_target_opts *o, int c, const char *arg);

/* Defaults: timestamp column updated_at; tables that are never user data
 * (smg_default_exclude_tables: sqlite_sequence, _cf_KV, __drizzle_migrations,
 * _smugglr_tombstones)
 * excluded. */
void smg_select_defaults(struct smg_select *sel);
/*
 * Load the configuration named by -c/--config anywhere in argv (it must
 * exist), or ./config.toml when there is one, before the options are
 * parsed, so that options override it: every program's one way to load it.
 * Applies [sync] to sel and the conflict policy to diff, each when given.
 * Dies on a bad config (exit 2).
 */
void smg_cli_config(struct smg_config *c, int argc, char **argv, struct smg_select *sel,
		    struct smg_diff_opts *diff);

/* The settings smugglr(1) needs, as sh assignments smg_NAME='value'; a URL
 * is shown without its user:password@ (smg_target_label). */
void smg_config_print_sh(struct smg_config *c);

/* Handle one option code; false if it is not a selection option. */
bool smg_select_getopt(struct smg_select *sel, int c, const char *arg);

/* Print usage to stdout and exit 0, or to stderr and exit 2. */
_Noreturn void smg_usage(const char *text, bool ok);
_Noreturn void smg_version(void);

enum smg_report { SMG_REPORT_TEXT, SMG_REPORT_JSON, SMG_REPORT_NONE };
enum smg_report smg_report_parse(const char *s);
/* The policy -p names; dies with exit 2 naming every policy when unknown. */
enum smg_policy smg_policy_arg(const char *s);

#endif
