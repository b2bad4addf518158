/*
 * apply-report.c - what an apply did (struct smg_apply_result), told in
 * text and in JSON, and the rows that met a conflict; for a SQLite file
 * (apply.c) and a remote target (remote-apply.c) alike.
 */
#include "apply.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void smg_apply_result_free(struct smg_apply_result *res)
{
	for (size_t i = 0; i < res->ntables; i++) {
		free(res->tables[i].name);
		for (size_t k = 0; k < res->tables[i].nadded; k++)
			free(res->tables[i].added[k]);
		free(res->tables[i].added);
	}
	free(res->tables);
	for (int i = 0; i < res->nconflict_rows; i++) {
		free(res->conflict_rows[i].table);
		free(res->conflict_rows[i].key);
	}
	smg_buf_free(&res->fk);
	free(res->conflict_rows);
	memset(res, 0, sizeof *res);
}

static const char *plural(int64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void smg_apply_report_text(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run)
{
	const char *verb = dry_run ? "would write" : "wrote";
	size_t touched = 0;
	if (res->conflicts && !res->rest_written) {
		smg_buf_addf(b, "%s: %lld %s: %s changed since the diff; nothing written\n",
			     target, (long long)res->conflicts,
			     plural(res->conflicts, "conflict", "conflicts"),
			     plural(res->conflicts, "a row was", "rows were"));
		return;
	}
	for (size_t i = 0; i < res->ntables; i++) {
		const struct smg_apply_table *t = &res->tables[i];
		/* a sync's stream names tables whose changes all went the other way */
		if (!t->upserted && !t->deleted && !t->created && !t->nadded)
			continue;
		touched++;
		smg_buf_addf(b, "%s: %s: %lld upserted, %lld deleted%s", target, t->name,
			     (long long)t->upserted, (long long)t->deleted,
			     t->created ? (dry_run ? " (table would be created)" : " (table created)")
					: "");
		for (size_t k = 0; k < t->nadded; k++)
			smg_buf_addf(b, "%s\"%s\"", k ? ", " : t->nadded > 1 ? " (columns " : " (column ",
				     t->added[k]);
		if (t->nadded)
			smg_buf_adds(b, dry_run ? " would be added)" : " added)");
		smg_buf_addc(b, '\n');
	}
	if (res->nfk)
		smg_buf_addf(b, "%s: %lld %s to a missing parent (PRAGMA foreign_key_check)\n", target,
			     (long long)res->nfk, plural(res->nfk, "row refers", "rows refer"));
	smg_buf_addf(b, "%s: %s %lld %s and %lld %s in %zu %s%s\n", target, verb,
		     (long long)res->upserted, plural(res->upserted, "upsert", "upserts"),
		     (long long)res->deleted, plural(res->deleted, "delete", "deletes"), touched,
		     plural((int64_t)touched, "table", "tables"), dry_run ? " (dry run: nothing written)" : "");
}

void smg_apply_report_conflicts(const char *target, const struct smg_apply_result *res)
{
	if (res->unconditional)
		smg_warn("%s: %lld %s without \"expect\" (from an older smg-diff): written "
			 "without checking that the row is still as the diff saw it", target,
			 (long long)res->unconditional, plural(res->unconditional, "change", "changes"));
	if (!res->conflicts)
		return;
	for (int i = 0; i < res->nconflict_rows && i < 10; i++) {
		const struct smg_conflict_row *c = &res->conflict_rows[i];
		smg_warn("%s: conflict: table \"%s\", key %s: the diff saw %s, now %s", target,
			 c->table, c->key, c->expected_row ? "a row" : "no row",
			 !c->found_row ? "it is deleted" : c->expected_row ? "it holds other values"
								  : "there is one");
	}
	for (size_t i = 0; !res->nconflict_rows && i < res->ntables; i++)
		if (res->tables[i].conflicts)
			smg_warn("%s: conflict: table \"%s\": %lld %s changed since the diff", target,
				 res->tables[i].name, (long long)res->tables[i].conflicts,
				 plural(res->tables[i].conflicts, "row", "rows"));
	if (res->nconflict_rows && res->conflicts > 10)
		smg_warn("%s: ... and %lld more conflicts", target, (long long)res->conflicts - 10);
	smg_warn("%s: %lld %s changed since the diff: %s (run the diff again)", target,
		 (long long)res->conflicts, plural(res->conflicts, "row", "rows"),
		 res->stopped ? "left as they are, and the run stopped at a failed batch"
		 : res->rest_written ? "left as they are, the rest written" : "nothing written");
}

void smg_apply_report_json(struct smg_buf *b, const char *target,
			   const struct smg_apply_result *res, bool dry_run)
{
	smg_buf_adds(b, "{\"target\":");
	smg_json_add_string(b, target, strlen(target));
	smg_buf_addf(b, ",\"dry_run\":%s,\"tables\":[", dry_run ? "true" : "false");
	for (size_t i = 0; i < res->ntables; i++) {
		const struct smg_apply_table *t = &res->tables[i];
		smg_buf_adds(b, i ? ",{\"table\":" : "{\"table\":");
		smg_json_add_string(b, t->name, strlen(t->name));
		smg_buf_addf(b, ",\"upserted\":%lld,\"deleted\":%lld,\"created\":%s,\"conflicts\":%lld",
			     (long long)t->upserted, (long long)t->deleted,
			     t->created ? "true" : "false", (long long)t->conflicts);
		for (size_t k = 0; k < t->nadded; k++) {	/* only when there are any */
			smg_buf_adds(b, k ? "," : ",\"added_columns\":[");
			smg_json_add_string(b, t->added[k], strlen(t->added[k]));
		}
		smg_buf_adds(b, t->nadded ? "]}" : "}");
	}
	smg_buf_addf(b, "],\"upserted\":%lld,\"deleted\":%lld,\"conflicts\":%lld,"
		     "\"conflict_rows\":[", (long long)res->upserted, (long long)res->deleted,
		     (long long)res->conflicts);
	for (int i = 0; i < res->nconflict_rows; i++) {
		const struct smg_conflict_row *c = &res->conflict_rows[i];
		smg_buf_adds(b, i ? ",{\"table\":" : "{\"table\":");
		smg_json_add_string(b, c->table, strlen(c->table));
		smg_buf_addf(b, ",\"key\":%s,\"op\":\"%s\",\"expected\":\"%s\",\"found\":\"%s\"}",
			     c->key, c->op == SMG_OP_UPSERT ? "upsert" : "delete",
			     c->expected_row ? "row" : "absent",
			     !c->found_row ? "absent" : c->expected_row ? "changed" : "row");
	}
	smg_buf_addf(b, "],\"unchecked\":%lld,\"foreign_key_violations\":%lld", (long long)res->unconditional,
		     (long long)res->nfk);
	if (res->nfk)
		smg_buf_addf(b, ",\"foreign_key_rows\":[%s]", res->fk.data);
	smg_buf_adds(b, "}\n");
}
