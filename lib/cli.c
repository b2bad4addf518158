/* cli.c - command-line pieces several programs share. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const default_excluded[] = {"sqlite_sequence", "_cf_KV",
					      "__drizzle_migrations"};

void smg_select_defaults(struct smg_select *sel)
{
	memset(sel, 0, sizeof *sel);
	sel->ts = "updated_at";
	for (size_t i = 0; i < sizeof default_excluded / sizeof *default_excluded; i++)
		smg_select_add(&sel->exclude_tables, &sel->nexclude_tables, default_excluded[i]);
}

static void add_comma_list(char ***list, size_t *n, const char *arg)
{
	char *copy = smg_xstrdup(arg), *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (*tok)
			smg_select_add(list, n, tok);
	free(copy);
}

bool smg_select_getopt(struct smg_select *sel, int c, const char *arg)
{
	switch (c) {
	case 't':
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
