/*
 * since.c - smg-diff --since: trust two databases' marks or not, and if
 * so read each logged table at the keys either side logged since.  See
 * since.h and changelog.h.
 *
 * Why the keys of both sides, and only those: when the marks were made,
 * the diff had just been run and its changes written, so every other key
 * gave nothing to write; a key neither side has written since still has
 * the rows it had then on both sides, and the same comparison of the same
 * rows gives the same nothing.
 */
#include "since.h"
#include "sha256.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How a table looks to a comparison: a change to any of it (a column
 * added, tracking stopped) makes the marks' fingerprint another.  Whether
 * it is logged is not in it: starting a log forgets the file's marks, and
 * a table whose log is gone is read whole. */
static void describe(struct smg_buf *b, const struct smg_table *t)
{
	smg_buf_addf(b, "table %s\n", t->name);
	for (size_t i = 0; i < t->ncols; i++)
		smg_buf_addf(b, "col %s\n", t->cols[i]);
	for (size_t i = 0; i < t->npk; i++)
		smg_buf_addf(b, "key %s\n", t->pk[i]);
	smg_buf_addf(b, "ts %s\nsql %s\ntracked %d\n", t->ts ? t->ts : "", t->sql ? t->sql : "",
		     t->tracked);
}

static void fingerprint(char out[65], const char *comparison, struct smg_table **l, size_t nl,
			struct smg_table **r, size_t nr)
{
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_addf(&b, "smugglr-since 1\n%s\nlocal\n", comparison);
	for (size_t i = 0; i < nl; i++)
		describe(&b, l[i]);
	smg_buf_adds(&b, "remote\n");
	for (size_t i = 0; i < nr; i++)
		describe(&b, r[i]);
	unsigned char h[32];
	smg_sha256(b.data, b.len, h);
	smg_hex(h, 32, out);
	smg_buf_free(&b);
}

static void new_token(sqlite3 *db, char out[33])
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT lower(hex(randomblob(16)))", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		smg_die(SMG_EXIT_FAILURE, "cannot make a random token: %s", sqlite3_errmsg(db));
	memcpy(out, sqlite3_column_text(st, 0), 33);
	sqlite3_finalize(st);
}

/* Why the old marks cannot be trusted, or NULL when they can. */
static const char *distrust(sqlite3 *db[2], const char *name, const struct smg_mark next[2],
			    struct smg_mark old[2])
{
	for (int s = 0; s < 2; s++)
		if (!smg_mark_read(db[s], name, &old[s]))
			return "no mark of an earlier run";
	if (strcmp(old[0].token, old[1].token))
		return "the two sides' marks are of different runs";
	if (strcmp(old[0].fp, next[0].fp) || strcmp(old[1].fp, next[0].fp))
		return "the tables or the options changed since the marks";
	for (int s = 0; s < 2; s++) {
		if (old[s].seq > next[s].seq)
			return "a change log began anew since the marks";
		if (old[s].at > next[0].at + 300 || old[s].at < next[0].at - SMG_MARK_MAX_AGE)
			return "the marks are more than a day old";
	}
	return NULL;
}

static struct smg_table *find(struct smg_table **t, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i]->name, name))
			return t[i];
	return NULL;
}

/* A table whose keys logged since are a good part of its rows is read
 * whole: a scan in key order costs less than as many lookups. */
static bool mostly_changed(sqlite3 *db, const char *table, size_t keys)
{
	if (keys < 10000)
		return false;
	int64_t rows = smg_db_try_count(db, table);
	return rows >= 0 && (int64_t)keys * 4 > rows;
}

/* Each table logged on both sides is read at the keys logged since. */
static void restrict_tables(struct smg_since *p, sqlite3 *db[2], const char *dbname[2],
			    struct smg_table **t[2], size_t n[2], const struct smg_mark old[2])
{
	const char **names = smg_xcalloc(n[0] + 1, sizeof *names);
	struct smg_table **other = smg_xcalloc(n[0] + 1, sizeof *other);
	size_t m = 0;
	for (size_t i = 0; i < n[0]; i++) {
		struct smg_table *r = find(t[1], n[1], t[0][i]->name);
		if (r && t[0][i]->logged && r->logged) {
			names[m] = t[0][i]->name;
			other[m++] = r;
		}
	}
	struct smg_buf *keys = smg_xcalloc(m + 1, sizeof *keys);
	size_t *count = smg_xcalloc(m + 1, sizeof *count);
	for (int s = 0; s < 2; s++)
		smg_log_keys_since(db[s], dbname[s], old[s].seq, names, m, keys, count);
	for (size_t i = 0, j = 0; i < n[0] && j < m; i++) {
		if (strcmp(t[0][i]->name, names[j]))
			continue;
		if (mostly_changed(db[0], names[j], count[j])) {
			smg_buf_free(&keys[j++]);
			continue;
		}
		p->keys += count[j];
		p->tables++;
		struct smg_buf json = SMG_BUF_INIT;
		smg_buf_addc(&json, '[');
		if (keys[j].len)
			smg_buf_add(&json, keys[j].data, keys[j].len - 1);	/* no last comma */
		smg_buf_addc(&json, ']');
		t[0][i]->only_keys = smg_xstrdup(json.data);
		other[j]->only_keys = smg_xstrdup(json.data);
		smg_buf_free(&json);
		smg_buf_free(&keys[j]);
		j++;
	}
	free(count);
	free(keys);
	free(names);
	free(other);
}

void smg_since_plan(struct smg_since *p, const char *name, struct smg_source *local,
		    struct smg_source *remote, const char *comparison)
{
	memset(p, 0, sizeof *p);
	p->name = name;
	sqlite3 *db[2] = {smg_source_db(local), smg_source_db(remote)};
	const char *dbname[2] = {smg_source_name(local), smg_source_name(remote)};
	if (!db[0] || !db[1]) {	/* a stream has no log: every row, and no mark */
		p->whole = true;
		p->why = "a side is a stream, not a database";
		memset(p->next[0].token, '0', 32);
		memset(p->next[0].fp, '0', 64);
		p->next[1] = p->next[0];
		return;
	}
	struct smg_table **t[2];
	size_t n[2];
	for (int s = 0; s < 2; s++) {
		t[s] = smg_source_tables(s ? remote : local, &n[s]);
		smg_log_mark_tables(db[s], t[s], n[s]);
	}
	/* the marks to make: taken before any row is read, so that a write
	 * made while the diff runs is after them, and read again next time */
	fingerprint(p->next[0].fp, comparison, t[0], n[0], t[1], n[1]);
	new_token(db[0], p->next[0].token);
	p->next[0].at = (int64_t)time(NULL);
	p->next[1] = p->next[0];
	for (int s = 0; s < 2; s++)
		p->next[s].seq = smg_log_seq(db[s]);
	for (size_t i = 0; i < n[0]; i++) {
		struct smg_table *r = find(t[1], n[1], t[0][i]->name);
		p->logged += r && t[0][i]->logged && r->logged;
	}
	for (int s = 0; s < 2; s++)
		for (size_t i = 0; i < n[s]; i++)
			p->logged_on[s] += t[s][i]->logged;
	struct smg_mark old[2];
	p->why = distrust(db, name, p->next, old);
	p->whole = p->why != NULL;
	if (!p->whole)
		restrict_tables(p, db, dbname, t, n, old);
}

void smg_since_write(const struct smg_since *p, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", path, strerror(errno));
	fprintf(f, "%s %s %s %" PRId64 " %" PRId64 " %" PRId64 " %zu %zu\n", p->name,
		p->next[0].token, p->next[0].fp, p->next[0].at, p->next[0].seq, p->next[1].seq,
		p->logged_on[0], p->logged_on[1]);
	if (fclose(f) != 0)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", path, strerror(errno));
}

bool smg_since_read(const char *path, int side, char **name, struct smg_mark *m)
{
	FILE *f = fopen(path, "r");
	if (!f)
		smg_die(SMG_EXIT_USAGE, "%s: %s", path, strerror(errno));
	char nm[256], token[64], fp[128], extra;
	int64_t at, seq[2], logged[2];
	int got = fscanf(f, "%255s %63s %127s %" SCNd64 " %" SCNd64 " %" SCNd64 " %" SCNd64 " %"
			 SCNd64 " %c", nm, token, fp, &at, &seq[0], &seq[1], &logged[0], &logged[1],
			 &extra);
	fclose(f);
	if (got != 8 || strlen(token) != 32 || strlen(fp) != 64 || seq[0] < 0 || seq[1] < 0 ||
	    logged[0] < 0 || logged[1] < 0)
		smg_die(SMG_EXIT_USAGE, "%s: not a mark file of smg-diff --mark-file", path);
	*name = smg_xstrdup(nm);
	memcpy(m->token, token, 33);
	memcpy(m->fp, fp, 65);
	m->at = at;
	m->seq = seq[side];
	return logged[side] > 0;
}
