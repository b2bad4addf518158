/* cli.c - command-line pieces several programs share. */
#include "cli.h"
#include "target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void smg_select_defaults(struct smg_select *sel)
{
	memset(sel, 0, sizeof *sel);
	sel->ts = "updated_at";
	for (size_t i = 0; smg_default_exclude_tables[i]; i++)
		smg_select_add(&sel->exclude_tables, &sel->nexclude_tables,
			       smg_default_exclude_tables[i]);
}

static void add_comma_list(char ***list, size_t *n, const char *arg)
{
	char *copy = smg_xstrdup(arg), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (*tok)
			smg_select_add(list, n, tok);
	free(copy);
}

static const char *config_arg(int argc, char **argv)
{
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			break;
		if ((!strcmp(a, "-c") || !strcmp(a, "--config")) && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(a, "--config=", 9))
			path = a + 9;
		else if (!strncmp(a, "-c", 2) && a[2])
			path = a + 2;
	}
	return path;
}

static void replace_list(char ***list, size_t *n, const struct smg_strlist *from)
{
	for (size_t i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
	for (size_t i = 0; i < from->n; i++)
		smg_select_add(list, n, from->v[i]);
}

void smg_cli_config(struct smg_config *c, int argc, char **argv, struct smg_select *sel,
		    struct smg_diff_opts *diff)
{
	const char *path = config_arg(argc, argv);
	smg_config_load(c, path ? path : "config.toml", path != NULL);
	if (!c->from_file)
		return;
	if (diff)
		diff->policy = c->sync.conflict_resolution;
	if (!sel)
		return;
	replace_list(&sel->tables, &sel->ntables, &c->sync.tables);
	replace_list(&sel->exclude_tables, &sel->nexclude_tables, &c->sync.exclude_tables);
	replace_list(&sel->exclude_columns, &sel->nexclude_columns, &c->sync.exclude_columns);
	sel->ts = c->sync.timestamp_column && *c->sync.timestamp_column ? c->sync.timestamp_column
									: NULL;
}

bool smg_target_getopt(struct smg_target_opts *o, int c, const char *arg)
{
	static bool warned;
	switch (c) {
	case 'p':
		if (!warned)
			smg_warn("-p for --profile is deprecated (-p is --policy in smugglr, "
				 "smg-diff and smg-beacon): say --profile %s", arg);
		warned = true;
		/* fall through */
	case SMG_OPT_PROFILE:
		o->profile = arg;
		return true;
	case SMG_OPT_TOKEN:
		o->token = arg;
		return true;
	case SMG_OPT_ENDPOINT:
		o->endpoint = arg;
		return true;
	case 'v':
		o->verbose = true;
		return true;
	default:
		return false;
	}
}

bool smg_select_getopt(struct smg_select *sel, int c, const char *arg)
{
	switch (c) {
	case 'c':
		return true;	/* loaded by smg_cli_config before parsing */
	case 't':
		if (!sel->tables_from_cli) {	/* --table replaces the config's list */
			replace_list(&sel->tables, &sel->ntables, &(struct smg_strlist){0});
			sel->tables_from_cli = true;
		}
		smg_select_add(&sel->tables, &sel->ntables, arg);
		return true;
	case 'T':
		smg_select_add(&sel->exclude_tables, &sel->nexclude_tables, arg);
		return true;
	case 'X':
		add_comma_list(&sel->exclude_columns, &sel->nexclude_columns, arg);
		return true;
	case 's':
		sel->ts = arg;
		return true;
	case 'S':
		sel->ts = NULL;
		return true;
	default:
		return false;
	}
}

void smg_usage(const char *text, bool ok)
{
	fputs(text, ok ? stdout : stderr);
	exit(ok ? SMG_EXIT_OK : SMG_EXIT_USAGE);
}

void smg_version(void)
{
	printf("%s (smugglr) %s\n", smg_progname, SMG_VERSION);
	exit(SMG_EXIT_OK);
}

enum smg_report smg_report_parse(const char *s)
{
	if (!strcmp(s, "text"))
		return SMG_REPORT_TEXT;
	if (!strcmp(s, "json"))
		return SMG_REPORT_JSON;
	if (!strcmp(s, "none"))
		return SMG_REPORT_NONE;
	smg_die(SMG_EXIT_USAGE, "unknown report format \"%s\" (text, json or none)", s);
}

enum smg_policy smg_policy_arg(const char *s)
{
	int p = smg_policy_parse(s);
	if (p >= 0)
		return (enum smg_policy)p;
	struct smg_buf names = SMG_BUF_INIT;
	for (int i = 0; i < SMG_NPOLICIES; i++)
		smg_buf_addf(&names, "%s%s", i == 0 ? "" : i == SMG_NPOLICIES - 1 ? " or " : ", ",
			     smg_policy_names[i]);
	smg_die(SMG_EXIT_USAGE, "unknown policy \"%s\" (%s)", s, names.data);
}

static void sh_assign(const char *name, const char *value)
{
	printf("%s='", name);
	for (const char *p = value ? value : ""; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*p);
	}
	printf("'\n");
}

/* How reports name the configured target (smugglr passes it to
 * --remote-name): the one label builder's, so a password in a URL stays
 * out of reports and ps. */
static char *config_target_label(const struct smg_config *c)
{
	return smg_target_label(c->target.type, c->target.path, c->target.url, c->target.command,
				c->cloudflare_account_id, c->database_id);
}

void smg_config_print_sh(struct smg_config *c)
{
	sh_assign("smg_config_file", c->from_file ? c->path : "");
	sh_assign("smg_local_db", smg_config_local_db(c));
	sh_assign("smg_target_type", smg_target_type_names[c->target.type]);
	sh_assign("smg_target_path", c->target.path);
	char *url = c->target.url ? smg_target_label(SMG_TARGET_HTTP, NULL, c->target.url, NULL,
						     NULL, NULL) : NULL;
	sh_assign("smg_target_url", url);
	free(url);
	sh_assign("smg_target_command", c->target.command);
	char *label = config_target_label(c);
	sh_assign("smg_target_label", label);
	free(label);
	sh_assign("smg_policy", smg_policy_names[c->sync.conflict_resolution]);
	printf("smg_watch_interval=%d\n", c->sync.watch_interval_secs);
	sh_assign("smg_stash_url", c->stash.url);
	printf("smg_stash_max_attempts=%d\n", c->stash.max_attempts);
	printf("smg_stash_timeout_secs=%d\n", c->stash.timeout_secs);
	printf("smg_stash_compact_min_bytes=%d\n", c->stash.compact_min_bytes);
	printf("smg_stash_compact_percent=%d\n", c->stash.compact_percent);
	printf("smg_stash_compact_grace_secs=%d\n", c->stash.compact_grace_secs);
}
