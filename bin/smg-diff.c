/*
 * smg-diff - merge two row streams into a change stream.
 */
#include "cli.h"
#include "diff.h"
#include "progress.h"
#include "since.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: smg-diff [options] LOCAL REMOTE\n"
	"Compare two row streams (\"-\", a stream file, or a SQLite database) and write\n"
	"the changes that make them agree (smugglr-stream(5)).\n"
	"  -d, --direction DIR        push (write remote), pull (write local) or sync\n"
	"                             (both); default push\n"
	"  -p, --policy POLICY        local_wins, remote_wins, newer_wins, uuid_v7_wins\n"
	"                             (default local_wins)\n"
	"      --delete               one-way mirror: delete rows the source lacks\n"
	"      --add-columns          push/pull: a table the destination lacks columns\n"
	"                             of is written, for smg-apply --add-columns\n"
	"  -r, --report FORMAT        instead of the stream, print a report: text or json\n"
	"      --samples N            sample keys per bucket in a report (default 3)\n"
	"      --report-file FILE     write the change stream and also the report,\n"
	"                             to FILE\n"
	"      --local-name NAME, --remote-name NAME\n"
	"                             what reports call the inputs (for \"-\")\n"
	"      --exit-code            exit 1 when there are changes to write\n"
	"      --since NAME           two databases: read only the rows of tracked tables\n"
	"                             changed since both were marked NAME (smg-apply\n"
	"                             --mark), else every row\n"
	"      --mark-file FILE       with --since: write the marks this run would make\n"
	"                             to FILE, for smg-apply --mark once its changes\n"
	"                             are written\n"
	"      --print-config FORMAT  print the effective configuration (sh, toml,\n"
	"                             json) and exit\n"
	"  -q, --quiet                no progress on stderr\n"
	SMG_SELECT_USAGE
	"                             (the selection applies to database inputs)\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

/* --since, when given: what the reports say of it */
static const struct smg_since *since;

static void report_text(const struct smg_diff_result *res, const struct smg_diff_opts *o,
			const char *lname, const char *rname)
{
	printf("%s (local) vs %s (remote), %s, %s\n", lname, rname,
	       smg_direction_names[o->dir], smg_policy_names[o->policy]);
	if (since && !since->logged)
		;	/* no table is logged on both sides: nothing to say */
	else if (since && since->whole)
		printf("every row compared: %s\n", since->why);
	else if (since)
		printf("only rows changed since mark %s compared: %zu key%s in %zu table%s\n",
		       since->name, since->keys, since->keys == 1 ? "" : "s", since->tables,
		       since->tables == 1 ? "" : "s");
	for (size_t i = 0; i < res->ntables; i++) {
		const struct smg_diff_table *t = &res->tables[i];
		const struct smg_counts *c = &t->counts;
		printf("%s:%s", t->name, t->only_local ? " (only local)" :
		       t->only_remote ? " (only remote)" : "");
		if (t->skipped_schema) {
			printf(" skipped: %s\n", t->skipped_schema);
			continue;
		}
		for (int b = 0; b < SMG_NBUCKETS; b++)
			if (c->bucket[b])
				printf(" %s %lld", smg_bucket_names[b], (long long)c->bucket[b]);
		if (t->left_alone)	/* on this line: smugglr(1) shows no other */
			printf(", left alone: the source lacks the table (--delete empties it only "
			       "when named with --table)");
		printf("\n");
		for (int b = 0; b < SMG_NBUCKETS; b++)
			if (b != SMG_IDENTICAL && t->nsamples[b])
				printf("  %s: %s%s\n", smg_bucket_names[b], t->samples[b].data,
				       c->bucket[b] > t->nsamples[b] ? ", ..." : "");
		if (c->upsert[0] + c->upsert[1] + c->del[0] + c->del[1] + c->skipped)
			printf("  would write: local +%lld -%lld, remote +%lld -%lld%s%.0lld%s\n",
			       (long long)c->upsert[0], (long long)c->del[0],
			       (long long)c->upsert[1], (long long)c->del[1],
			       c->skipped ? ", skipped " : "", (long long)c->skipped,
			       c->skipped ? " (the policy keeps the other side)" : "");
		if (t->adds_columns)
			printf("  adds the columns the %s lacks\n", o->dir == SMG_PULL ? "local side" : "remote side");
	}
}

static void report_json(const struct smg_diff_result *res, const struct smg_diff_opts *o,
			const char *lname, const char *rname)
{
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_adds(&b, "{\"local\":");
	smg_json_add_string(&b, lname, strlen(lname));
	smg_buf_adds(&b, ",\"remote\":");
	smg_json_add_string(&b, rname, strlen(rname));
	smg_buf_addf(&b, ",\"direction\":\"%s\",\"policy\":\"%s\",\"tables\":[",
		     smg_direction_names[o->dir], smg_policy_names[o->policy]);
	for (size_t i = 0; i < res->ntables; i++) {
		const struct smg_diff_table *t = &res->tables[i];
		smg_buf_adds(&b, i ? ",{\"table\":" : "{\"table\":");
		smg_json_add_string(&b, t->name, strlen(t->name));
		smg_buf_addf(&b, ",\"only\":%s,\"counts\":",
			     t->only_local ? "\"local\"" : t->only_remote ? "\"remote\"" : "null");
		smg_json_add_counts(&b, &t->counts);
		smg_buf_adds(&b, ",\"skipped_schema\":");
		if (t->skipped_schema)
			smg_json_add_string(&b, t->skipped_schema, strlen(t->skipped_schema));
		else
			smg_buf_adds(&b, "null");
		smg_buf_addf(&b, ",\"left_alone\":%s,\"adds_columns\":%s",
			     t->left_alone ? "true" : "false", t->adds_columns ? "true" : "false");
		smg_buf_adds(&b, ",\"samples\":{");
		bool first = true;
		for (int k = 0; k < SMG_NBUCKETS; k++) {
			if (!t->nsamples[k] || k == SMG_IDENTICAL)
				continue;
			smg_buf_addf(&b, "%s\"%s\":[%s]", first ? "" : ",", smg_bucket_names[k],
				     t->samples[k].data);
			first = false;
		}
		smg_buf_adds(&b, "}}");
	}
	smg_buf_adds(&b, "]");
	if (since && since->logged) {
		smg_buf_adds(&b, ",\"since\":{\"name\":");
		smg_json_add_string(&b, since->name, strlen(since->name));
		smg_buf_addf(&b, ",\"whole\":%s,\"why\":", since->whole ? "true" : "false");
		if (since->whole)
			smg_json_add_string(&b, since->why, strlen(since->why));
		else
			smg_buf_adds(&b, "null");
		smg_buf_addf(&b, ",\"keys\":%zu,\"tables\":%zu}", since->keys, since->tables);
	}
	smg_buf_adds(&b, ",\"total\":");
	smg_json_add_counts(&b, &res->total);
	smg_buf_addf(&b, ",\"partial\":%s", res->nskipped_schema ? "true" : "false");
	smg_buf_adds(&b, "}\n");
	fwrite(b.data, 1, b.len, stdout);
	smg_buf_free(&b);
}

/* For smugglr(1) and for people: what the configuration says after defaults,
 * the file and the environment. */
static int print_effective_config(struct smg_config *cfg, const char *format)
{
	if (!strcmp(format, "sh"))
		smg_config_print_sh(cfg);
	else if (!strcmp(format, "toml") || !strcmp(format, "json"))
		smg_config_print(cfg, stdout, *format == 't' ? SMG_CONFIG_TOML : SMG_CONFIG_JSON, false);
	else
		smg_die(SMG_EXIT_USAGE, "--print-config takes sh, toml or json");
	fflush(stdout);
	return SMG_EXIT_OK;
}

/* What reports call the inputs, when "stdin" would say nothing. */
static const char *local_name, *remote_name;
/* --since NAME, --mark-file FILE */
static const char *since_name, *mark_file;

/* A mark's name goes into a mark file as a word: letters, digits and a
 * few marks, as smugglr(1) makes them. */
static bool mark_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 200)
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") == n;
}

static void parse_args(int argc, char **argv, struct smg_diff_opts *o, struct smg_select *sel,
		       int *report, bool *exit_code, const char **print_config,
		       const char **report_file)
{
	static const struct option longopts[] = {
		SMG_SELECT_LONGOPTS,
		{"direction", required_argument, NULL, 'd'},
		{"policy", required_argument, NULL, 'p'},
		{"delete", no_argument, NULL, 'D'},
		{"add-columns", no_argument, NULL, 'A'},
		{"report", required_argument, NULL, 'r'},
		{"samples", required_argument, NULL, 'n'},
		{"report-file", required_argument, NULL, 'F'},
		{"local-name", required_argument, NULL, 'L'},
		{"remote-name", required_argument, NULL, 'R'},
		{"exit-code", no_argument, NULL, 'E'},
		{"since", required_argument, NULL, 'Z'},
		{"mark-file", required_argument, NULL, 'M'},
		{"quiet", no_argument, NULL, 'q'},
		{"print-config", required_argument, NULL, 'P'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{0},
	};
	int c, v;
	while ((c = getopt_long(argc, argv, SMG_SELECT_SHORTOPTS "d:p:r:qh", longopts, NULL)) != -1) {
		if (smg_select_getopt(sel, c, optarg))
			continue;
		switch (c) {
		case 'd':
			if ((v = smg_direction_parse(optarg)) < 0)
				smg_die(SMG_EXIT_USAGE, "unknown direction \"%s\" (push, pull or sync)", optarg);
			o->dir = (enum smg_direction)v;
			break;
		case 'p': o->policy = smg_policy_arg(optarg); break;
		case 'D': o->del = true; break;
		case 'A': o->add_columns = true; break;
		case 'r': *report = smg_report_parse(optarg); break;
		case 'n':
			o->samples = atoi(optarg);
			if (o->samples < 0 || o->samples > SMG_DIFF_SAMPLES_MAX)
				smg_die(SMG_EXIT_USAGE, "--samples takes 0 to %d", SMG_DIFF_SAMPLES_MAX);
			break;
		case 'E': *exit_code = true; break;
		case 'F': *report_file = optarg; break;
		case 'Z':
			if (!mark_name_ok(optarg))
				smg_die(SMG_EXIT_USAGE, "--since \"%s\": a mark's name is 1 to 200 letters, "
					"digits, '.', '_', ':' or '-'", optarg);
			since_name = optarg;
			break;
		case 'M': mark_file = optarg; break;
		case 'L': local_name = optarg; break;
		case 'R': remote_name = optarg; break;
		case 'P': *print_config = optarg; return;
		case 'q': smg_progress_disable(); break;
		case 'h': smg_usage(usage, true);
		case 'V': smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind != argc - 2)
		smg_usage(usage, false);
	if (!strcmp(argv[optind], "-") && !strcmp(argv[optind + 1], "-"))
		smg_die(SMG_EXIT_USAGE, "only one input can be stdin");
	if (mark_file && !since_name)
		smg_die(SMG_EXIT_USAGE, "--mark-file goes with --since");
}

/* What decides a row's fate besides the two tables: marks made under
 * other options are not trusted (since.h). */
static void comparison(struct smg_buf *b, const struct smg_diff_opts *o,
		       const struct smg_select *sel, int horizon_days)
{
	smg_buf_addf(b, "direction %s policy %s delete %d add_columns %d keys_only %d "
		     "horizon %d tables", smg_direction_names[o->dir], smg_policy_names[o->policy],
		     o->del, o->add_columns, sel->keys_only, horizon_days);
	for (size_t i = 0; i < o->ntables; i++)
		smg_buf_addf(b, " %s", o->tables[i]);
}

int main(int argc, char **argv)
{
	struct smg_diff_opts o = {.policy = SMG_LOCAL_WINS, .dir = SMG_PUSH, .samples = 3};
	struct smg_select sel;
	struct smg_config cfg;
	int report = -1;
	bool exit_code = false;
	smg_setprogname(argv[0]);
	smg_select_defaults(&sel);
	smg_cli_config(&cfg, argc, argv, &sel, &o);
	const char *print_config = NULL;
	const char *report_file = NULL;
	parse_args(argc, argv, &o, &sel, &report, &exit_code, &print_config, &report_file);
	if (report_file && report < 0)
		report = SMG_REPORT_TEXT;
	if (print_config) {
		int rc = print_effective_config(&cfg, print_config);
		smg_select_free(&sel);
		smg_config_free(&cfg);
		return rc;
	}
	o.progress = smg_progress_enabled();
	/* one side may lack a named table (it is then created or filled);
	 * smg_diff checks that at least one side has it */
	sel.missing_ok = true;
	o.tables = sel.tables;
	o.ntables = sel.ntables;
	o.tables_from_cli = sel.tables_from_cli;
	struct smg_source *local = smg_source_open_side(argv[optind], &sel,
							 o.dir != SMG_PUSH && !o.del);
	struct smg_source *remote = smg_source_open_side(argv[optind + 1], &sel,
							  o.dir != SMG_PULL && !o.del);
	if (o.policy == SMG_NEWER_WINS || o.policy == SMG_UUID_V7_WINS) {
		smg_source_check_timestamps(local);	/* the timestamps decide */
		smg_source_check_timestamps(remote);
	}
	struct smg_since plan;
	if (since_name) {
		struct smg_buf what = SMG_BUF_INIT;
		comparison(&what, &o, &sel, cfg.sync.tombstone_horizon_days);
		smg_since_plan(&plan, since_name, local, remote, what.data);
		smg_buf_free(&what);
		since = &plan;
	}
	smg_source_tombstones(local, cfg.sync.tombstone_horizon_days);
	smg_source_tombstones(remote, cfg.sync.tombstone_horizon_days);
	if (smg_source_is_db(local) && smg_source_is_db(remote)) {
		smg_source_read_ahead(local);
		smg_source_read_ahead(remote);
	}
	struct smg_writer w;
	struct smg_diff_result res;
	smg_writer_init(&w, 1, "stdout");
	smg_diff(local, remote, &o, report < 0 || report_file ? &w : NULL, &res);
	/* only once the diff is whole, and before standard output closes: a
	 * smg-apply --mark reading the stream reads the file at its end */
	if (mark_file)
		smg_since_write(&plan, mark_file);
	if (report_file && !freopen(report_file, "w", stdout))
		smg_die(SMG_EXIT_FAILURE, "%s: %s", report_file, strerror(errno));
	const char *lname = local_name ? local_name : smg_source_name(local);
	const char *rname = remote_name ? remote_name : smg_source_name(remote);
	if (report == SMG_REPORT_TEXT)
		report_text(&res, &o, lname, rname);
	else if (report == SMG_REPORT_JSON)
		report_json(&res, &o, lname, rname);
	if (fflush(stdout) != 0)
		smg_die(SMG_EXIT_FAILURE, "writing the report failed: %s", strerror(errno));
	const struct smg_counts *t = &res.total;
	bool changes = t->upsert[0] + t->upsert[1] + t->del[0] + t->del[1] > 0;
	bool partial = res.nskipped_schema > 0;
	smg_diff_result_free(&res);
	smg_writer_free(&w);
	smg_source_close(local);
	smg_source_close(remote);
	smg_select_free(&sel);
	smg_config_free(&cfg);
	if (partial)	/* the stream is complete, but for the tables skipped */
		return SMG_EXIT_PARTIAL;
	return exit_code && changes ? 1 : SMG_EXIT_OK;
}
