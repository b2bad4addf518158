/*
 * diff.c - a streaming merge join of two sorted row sources.
 *
 * Both sides arrive in table-name order and, within a table, in key order,
 * so one row of each side in memory is enough for any table size.
 */
#include "diff.h"
#include "progress.h"
#include "schema.h"

#include <stdlib.h>
#include <string.h>

const char *const smg_policy_names[SMG_NPOLICIES + 1] = {
	"local_wins", "remote_wins", "newer_wins", "uuid_v7_wins", NULL,
};
const char *const smg_direction_names[3] = {"push", "pull", "sync"};

static int lookup(const char *s, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

int smg_policy_parse(const char *s)
{
	return lookup(s, smg_policy_names, SMG_NPOLICIES);
}

int smg_direction_parse(const char *s)
{
	return lookup(s, smg_direction_names, 3);
}

bool smg_is_uuid_v7(const char *p, size_t n)
{
	static const int dash[] = {8, 13, 18, 23};
	if (n != 36)
		return false;
	for (size_t i = 0, d = 0; i < n; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (p[i] != '-')
				return false;
			d++;
		} else if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) {
			return false;
		}
	}
	/* version nibble 7, RFC 9562 variant 10xx */
	return p[14] == '7' && strchr("89abAB", p[19]);
}

/* One table being merged, with what it needs to write changes. */
struct merge {
	struct smg_source *src[2];		/* indexed by side */
	const struct smg_table *t[2];		/* NULL when the side lacks it */
	const struct smg_table *out_table;	/* whose column order changes use */
	size_t *perm;				/* remote column of each out column */
	const struct smg_diff_opts *opts;
	struct smg_writer *out;
	bool header_written;
	bool grows;			/* --add-columns: out_table has columns to add */
	bool tombs;			/* both sides track it: tombstones count */
	struct smg_diff_table *res;
	struct smg_buf permuted;
};

static bool has_name(char **names, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], want))
			return true;
	return false;
}

static void missing_columns(struct smg_buf *b, const struct smg_table *x, const struct smg_table *y)
{
	for (size_t i = 0; i < x->ncols; i++)
		if (!has_name(y->cols, y->ncols, x->cols[i]))
			smg_buf_addf(b, "%s\"%s\"", b->len ? ", " : "", x->cols[i]);
}

static char *reason(const char *fmt, const char *a, const char *b)
{
	struct smg_buf r = SMG_BUF_INIT;
	smg_buf_addf(&r, fmt, a, b);
	return smg_buf_detach(&r);
}

/* The side a one-way run writes; -1 for a sync, which writes both. */
static int destination(const struct smg_diff_opts *o)
{
	return o->dir == SMG_PUSH ? SMG_SIDE_REMOTE : o->dir == SMG_PULL ? SMG_SIDE_LOCAL : -1;
}

static bool same_names(char **a, size_t na, char **b, size_t nb)
{
	bool same = na == nb;
	for (size_t k = 0; same && k < na; k++)
		same = !strcmp(a[k], b[k]);
	return same;
}

/* Both sides must describe the same table, or the hashes mean nothing:
 * NULL if they do, else why not (the table is then skipped).  With
 * --add-columns, columns only the source has are fine for a one-way run:
 * m->out_table becomes the source's table, and smg-apply adds them. */
static char *check_compatible(struct merge *m, const char *lname, const char *rname)
{
	const struct smg_table *l = m->t[0], *r = m->t[1];
	struct smg_buf a = SMG_BUF_INIT, b = SMG_BUF_INIT;
	char *why = NULL;
	missing_columns(&a, l, r);
	missing_columns(&b, r, l);
	int to = destination(m->opts);
	m->grows = m->opts->add_columns && to >= 0 && (to == SMG_SIDE_REMOTE ? !b.len && a.len
									     : !a.len && b.len);
	if ((a.len || b.len) && !m->grows) {
		struct smg_buf w = SMG_BUF_INIT;
		smg_buf_addf(&w, "columns differ: only in %s: %s; only in %s: %s (sync the schema, "
			     "exclude the columns%s)", lname, a.len ? a.data : "none", rname,
			     b.len ? b.data : "none",
			     to < 0 ? "" : ", or add the source's with --add-columns");
		why = smg_buf_detach(&w);
	} else if (!same_names(l->pk, l->npk, r->pk, r->npk)) {
		why = reason("primary keys differ between %s and %s", lname, rname);
	} else if (!m->grows && ((l->ts == NULL) != (r->ts == NULL) || (l->ts && strcmp(l->ts, r->ts)))) {
		/* (a timestamp column the destination lacks is one it will have) */
		why = reason("timestamp columns differ between %s and %s", lname, rname);
	} else {
		char *drift = smg_schema_type_drift(l, r, lname, rname);
		if (drift)
			why = reason("%s%s", drift, ": its values would be stored differently on each "
				     "side and never agree (make the declared types agree, or exclude "
				     "the column)");
		free(drift);
	}
	if (m->grows && !why)
		m->out_table = to == SMG_SIDE_REMOTE ? l : r;
	smg_buf_free(&a);
	smg_buf_free(&b);
	return why;
}

/* Deletes travel when both sides track the table; one side alone is
 * worth a word, since its deletes stay where they were made. */
static bool tracked_both(const struct merge *m, const char *lname, const char *rname)
{
	bool l = m->t[0]->tracked, r = m->t[1]->tracked;
	if (l != r)
		smg_warn("table \"%s\" is tracked in %s only: its deletes do not travel (smugglr "
			 "track it in %s too)", m->t[0]->name, l ? lname : rname, l ? rname : lname);
	return l && r;
}

static size_t *permutation(const struct smg_table *out, const struct smg_table *r)
{
	bool identity = true;
	size_t *perm = smg_xcalloc(out->ncols, sizeof *perm);
	for (size_t i = 0; i < out->ncols; i++) {
		perm[i] = (size_t)smg_table_col(r, out->cols[i]);
		identity = identity && perm[i] == i;
	}
	if (identity) {
		free(perm);
		return NULL;
	}
	return perm;
}

static void add_sample(struct smg_diff_table *res, enum smg_bucket b,
		       const struct smg_table *t, const struct smg_value *key, int max)
{
	if (res->nsamples[b] >= max)
		return;
	struct smg_buf *s = &res->samples[b];
	if (s->len)
		smg_buf_addc(s, ',');
	smg_json_add_values(s, key, t->npk);
	res->nsamples[b]++;
}

/* The values of the current row of side, in the out table's column order. */
static const char *values_of(struct merge *m, enum smg_side side, size_t *len)
{
	const char *v = smg_source_values_json(m->src[side], len);
	if (!v)
		smg_die(SMG_EXIT_DATA, "%s is a keys-only stream: it cannot supply the values of "
			"table \"%s\"", smg_source_name(m->src[side]), m->out_table->name);
	if (side == SMG_SIDE_LOCAL || !m->perm)
		return v;
	size_t n = m->out_table->ncols;
	const char **relem = smg_xcalloc(n, sizeof *relem);
	size_t *rlen = smg_xcalloc(n, sizeof *rlen);
	if (!smg_json_split(v, *len, relem, rlen, n))
		smg_die(SMG_EXIT_DATA, "%s: values of table \"%s\" do not match its columns",
			smg_source_name(m->src[side]), m->out_table->name);
	smg_buf_reset(&m->permuted);
	smg_buf_addc(&m->permuted, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			smg_buf_addc(&m->permuted, ',');
		smg_buf_add(&m->permuted, relem[m->perm[i]], rlen[m->perm[i]]);
	}
	smg_buf_addc(&m->permuted, ']');
	free(relem);
	free(rlen);
	*len = m->permuted.len;
	return m->permuted.data;
}

/* The table record before a table's first change, and the values of the
 * row the change replaces when the destination is a remote read as a
 * stream (its compare-and-set is SQL: it needs the values, not only their
 * hash). */
static const char *start_change(struct merge *m, enum smg_side to, const unsigned char *expect,
				size_t *wlen)
{
	if (!m->header_written) {
		smg_write_table(m->out, m->out_table);
		m->header_written = true;
	}
	*wlen = 0;
	/* (values_of keeps one side's values in m->permuted: the remote's.) */
	if (expect && !m->grows && !smg_source_is_db(m->src[to]) &&
	    smg_source_values_json(m->src[to], wlen))
		return values_of(m, to, wlen);
	return NULL;
}

/* expect: the hash of the row the destination holds now, NULL when it holds
 * none; smg-apply writes only if that is still so. */
static void emit(struct merge *m, enum smg_bucket b, enum smg_op op, enum smg_side to,
		 const struct smg_value *key, const unsigned char *expect)
{
	if (op == SMG_OP_UPSERT)
		m->res->counts.upsert[to]++;
	else
		m->res->counts.del[to]++;
	if (!m->out)
		return;
	const char *v = NULL;
	size_t vlen = 0, wlen;
	const char *was = start_change(m, to, expect, &wlen);
	if (op == SMG_OP_UPSERT)
		v = values_of(m, to == SMG_SIDE_REMOTE ? SMG_SIDE_LOCAL : SMG_SIDE_REMOTE, &vlen);
	smg_write_change(m->out, m->out_table, b, op, to, key, expect, was, wlen, v, vlen);
}

/* Make key a tombstone of time ts on side to: a delete, counted as one. */
static void emit_tombstone(struct merge *m, enum smg_bucket b, enum smg_side to,
			   const struct smg_value *key, const unsigned char *expect,
			   const struct smg_value *ts)
{
	m->res->counts.del[to]++;
	if (!m->out)
		return;
	size_t wlen;
	const char *was = start_change(m, to, expect, &wlen);
	smg_write_tombstone_change(m->out, m->out_table, b, to, key, expect, was, wlen, ts);
}

static void check_uuid_key(struct merge *m, enum smg_side side, const struct smg_value *key)
{
	if (m->opts->policy != SMG_UUID_V7_WINS)
		return;
	const struct smg_table *t = m->t[side];
	for (size_t k = 0; k < t->npk; k++)
		if (key[k].type == SMG_TEXT && smg_is_uuid_v7(key[k].p, key[k].n))
			return;
	struct smg_buf kb = SMG_BUF_INIT;
	smg_json_add_values(&kb, key, t->npk);
	smg_die(SMG_EXIT_DATA, "table \"%s\": key %s in %s is not a UUIDv7, but "
		"conflict_resolution is uuid_v7_wins", t->name, kb.data,
		smg_source_name(m->src[side]));
}

static bool named(const struct smg_diff_opts *o, const char *table)
{
	return o->tables_from_cli && has_name(o->tables, o->ntables, table);
}

/* --delete mirrors the source, but a table the source lacks entirely is
 * more likely a partial or foreign answer than a table to empty: it is
 * left alone, unless named with --table. */
static bool mirrors(struct merge *m, enum smg_side source)
{
	if (m->t[source] || named(m->opts, m->out_table->name))
		return true;
	if (!m->res->left_alone)
		smg_warn("table \"%s\": %s lacks it entirely: --delete leaves it alone (name it with "
			 "--table to empty it)", m->out_table->name, smg_source_name(m->src[source]));
	m->res->left_alone = true;
	return false;
}

static void one_sided(struct merge *m, enum smg_side has, const struct smg_row *row)
{
	const struct smg_value *key = row->key;
	enum smg_bucket b = has == SMG_SIDE_LOCAL ? SMG_LOCAL_ONLY : SMG_REMOTE_ONLY;
	enum smg_side other = has == SMG_SIDE_LOCAL ? SMG_SIDE_REMOTE : SMG_SIDE_LOCAL;
	/* pushing writes remote, pulling writes local, syncing writes both */
	enum smg_direction toward = other == SMG_SIDE_REMOTE ? SMG_PUSH : SMG_PULL;
	m->res->counts.bucket[b]++;
	add_sample(m->res, b, m->t[has], key, m->opts->samples);
	if (row->dead) {	/* the other side has neither: it takes the tombstone */
		if (m->opts->dir == SMG_SYNC || m->opts->dir == toward)
			emit_tombstone(m, b, other, key, NULL, &row->ts);
		return;
	}
	check_uuid_key(m, has, key);
	if (m->opts->dir == SMG_SYNC || m->opts->dir == toward)
		emit(m, b, SMG_OP_UPSERT, other, key, NULL);
	else if (m->opts->del && mirrors(m, other))
		emit(m, b, SMG_OP_DELETE, has, key, row->hash);
}

static enum smg_side winner(const struct smg_diff_opts *o, enum smg_bucket b,
			    const unsigned char *hl, const unsigned char *hr)
{
	switch (o->policy) {
	case SMG_LOCAL_WINS:
		return SMG_SIDE_LOCAL;
	case SMG_REMOTE_WINS:
		return SMG_SIDE_REMOTE;
	default:
		if (b == SMG_LOCAL_NEWER)
			return SMG_SIDE_LOCAL;
		if (b == SMG_REMOTE_NEWER)
			return SMG_SIDE_REMOTE;
		/* No time to go by: the higher hash wins, so every peer that meets
		 * the same two versions picks the same one and they converge. */
		return memcmp(hl, hr, SMG_HASH_LEN) > 0 ? SMG_SIDE_LOCAL : SMG_SIDE_REMOTE;
	}
}

static enum smg_bucket classify(const struct smg_row *l, const struct smg_row *r)
{
	int64_t tl, tr;
	if (!memcmp(l->hash, r->hash, SMG_HASH_LEN))
		return SMG_IDENTICAL;
	if (smg_ts_parse(&l->ts, &tl) && smg_ts_parse(&r->ts, &tr) && tl != tr)
		return tl > tr ? SMG_LOCAL_NEWER : SMG_REMOTE_NEWER;
	return SMG_CONTENT_DIFFERS;
}

static bool writes(const struct smg_diff_opts *o, enum smg_side to)
{
	return o->dir == SMG_SYNC || (o->dir == SMG_PUSH && to == SMG_SIDE_REMOTE) ||
	       (o->dir == SMG_PULL && to == SMG_SIDE_LOCAL);
}

/* A tombstone against a row or a tombstone: the times say which is newer
 * (the time of the delete against the row's timestamp).  Without a time
 * on both sides, or the same time, content_differs. */
static enum smg_bucket classify_dead(const struct smg_row *l, const struct smg_row *r)
{
	int64_t tl, tr;
	if (smg_ts_parse(&l->ts, &tl) && smg_ts_parse(&r->ts, &tr) && tl != tr)
		return tl > tr ? SMG_LOCAL_NEWER : SMG_REMOTE_NEWER;
	return l->dead && r->dead ? SMG_IDENTICAL : SMG_CONTENT_DIFFERS;
}

/* A delete wins or loses like an edit: by the policy, and under
 * newer_wins by time, the delete winning a tie or a row without a time.
 * Two tombstones agree on the later time whatever the policy (both say
 * "deleted"). */
static void with_tombstone(struct merge *m, const struct smg_row *l, const struct smg_row *r)
{
	const struct smg_row *row[2] = {l, r};
	enum smg_bucket b = classify_dead(l, r);
	m->res->counts.bucket[b]++;
	add_sample(m->res, b, m->t[0], l->key, m->opts->samples);
	if (b == SMG_IDENTICAL)
		return;
	enum smg_side dead = l->dead ? SMG_SIDE_LOCAL : SMG_SIDE_REMOTE, w;
	if ((l->dead && r->dead) || m->opts->policy == SMG_NEWER_WINS ||
	    m->opts->policy == SMG_UUID_V7_WINS)
		w = b == SMG_LOCAL_NEWER ? SMG_SIDE_LOCAL : b == SMG_REMOTE_NEWER ? SMG_SIDE_REMOTE : dead;
	else
		w = m->opts->policy == SMG_LOCAL_WINS ? SMG_SIDE_LOCAL : SMG_SIDE_REMOTE;
	enum smg_side to = w == SMG_SIDE_LOCAL ? SMG_SIDE_REMOTE : SMG_SIDE_LOCAL;
	if (!writes(m->opts, to))
		m->res->counts.skipped++;
	else if (row[w]->dead)
		emit_tombstone(m, b, to, l->key, row[to]->dead ? NULL : row[to]->hash, &row[w]->ts);
	else	/* the tombstone's side holds no row; its insert trigger drops it */
		emit(m, b, SMG_OP_UPSERT, to, l->key, NULL);
}

static void both_sides(struct merge *m, const struct smg_row *l, const struct smg_row *r)
{
	if (l->dead || r->dead) {
		with_tombstone(m, l, r);
		return;
	}
	enum smg_bucket b = classify(l, r);
	m->res->counts.bucket[b]++;
	add_sample(m->res, b, m->t[0], l->key, m->opts->samples);
	check_uuid_key(m, SMG_SIDE_LOCAL, l->key);
	if (b == SMG_IDENTICAL)
		return;
	enum smg_side w = winner(m->opts, b, l->hash, r->hash);
	if (writes(m->opts, w == SMG_SIDE_LOCAL ? SMG_SIDE_REMOTE : SMG_SIDE_LOCAL))
		emit(m, b, SMG_OP_UPSERT, w == SMG_SIDE_LOCAL ? SMG_SIDE_REMOTE : SMG_SIDE_LOCAL,
		     l->key, w == SMG_SIDE_LOCAL ? r->hash : l->hash);
	else
		m->res->counts.skipped++;
}

static void tick(struct merge *m)
{
	if (!m->opts->progress)
		return;
	int64_t done = smg_source_rows(m->src[0]) + smg_source_rows(m->src[1]);
	int64_t l = smg_source_count(m->src[0]), r = smg_source_count(m->src[1]);
	smg_progress("diff", done, l < 0 || r < 0 ? -1 : l + r);
	if (l < 0 && smg_progress_showing()) {	/* a run that short needs no total */
		smg_source_count_start(m->src[0]);
		smg_source_count_start(m->src[1]);
	}
}

/* The next row of a side, or tombstone when both sides track the table. */
static bool next_row(struct merge *m, enum smg_side side, struct smg_row *row)
{
	while (smg_source_next_row(m->src[side], row))
		if (!row->dead || m->tombs)
			return true;
	return false;
}

static void merge_rows(struct merge *m)
{
	struct smg_row l, r;
	bool hl = m->t[0] && next_row(m, SMG_SIDE_LOCAL, &l);
	bool hr = m->t[1] && next_row(m, SMG_SIDE_REMOTE, &r);
	size_t npk = m->out_table->npk;
	while (hl || hr) {
		int c = !hl ? 1 : !hr ? -1 : smg_key_cmp(l.key, r.key, npk);
		if (c < 0) {
			one_sided(m, SMG_SIDE_LOCAL, &l);
			hl = next_row(m, SMG_SIDE_LOCAL, &l);
		} else if (c > 0) {
			one_sided(m, SMG_SIDE_REMOTE, &r);
			hr = next_row(m, SMG_SIDE_REMOTE, &r);
		} else {
			both_sides(m, &l, &r);
			hl = next_row(m, SMG_SIDE_LOCAL, &l);
			hr = next_row(m, SMG_SIDE_REMOTE, &r);
		}
		tick(m);
	}
}

/* A table one side lacks goes into the stream even without rows when the
 * direction writes that side, so that smg-apply creates it (or says it is
 * missing) rather than leave the two schemas different in silence. */
static void announce_one_sided(struct merge *m)
{
	enum smg_side lacking = m->t[SMG_SIDE_LOCAL] ? SMG_SIDE_REMOTE : SMG_SIDE_LOCAL;
	if (m->t[lacking] || m->header_written || !m->out)
		return;
	bool writes = m->opts->dir == SMG_SYNC ||
		      (m->opts->dir == SMG_PUSH && lacking == SMG_SIDE_REMOTE) ||
		      (m->opts->dir == SMG_PULL && lacking == SMG_SIDE_LOCAL);
	if (writes) {
		smg_write_table(m->out, m->out_table);
		m->header_written = true;
	}
}

/* Columns to add go into the stream even when no row changes, so that
 * smg-apply adds them now rather than with the first change. */
static void announce_growth(struct merge *m)
{
	m->res->adds_columns = m->grows;
	if (m->grows && m->out) {
		smg_write_table(m->out, m->out_table);
		m->header_written = true;
	}
}

static struct smg_diff_table *add_result(struct smg_diff_result *res, const char *name)
{
	res->tables = smg_xrealloc(res->tables, (res->ntables + 1) * sizeof *res->tables);
	struct smg_diff_table *t = &res->tables[res->ntables++];
	memset(t, 0, sizeof *t);
	t->name = smg_xstrdup(name);
	return t;
}

static void add_counts(struct smg_counts *sum, const struct smg_counts *c)
{
	for (int i = 0; i < SMG_NBUCKETS; i++)
		sum->bucket[i] += c->bucket[i];
	for (int i = 0; i < 2; i++) {
		sum->upsert[i] += c->upsert[i];
		sum->del[i] += c->del[i];
	}
	sum->skipped += c->skipped;
}

/* A table asked for by name must be where the rows come from: the local
 * side for a push, the remote side for a pull, either for a sync.  The
 * other side may lack it (smg-apply --create-tables makes it).  Checked
 * before the trailer, so a stream that lacks it is never applied. */
static void check_named_tables(struct smg_source *local, struct smg_source *remote,
			       const struct smg_diff_opts *opts, const struct smg_diff_result *res)
{
	for (size_t i = 0; i < opts->ntables; i++) {
		const struct smg_diff_table *t = NULL;
		for (size_t k = 0; k < res->ntables && !t; k++)
			if (!strcmp(res->tables[k].name, opts->tables[i]))
				t = &res->tables[k];
		struct smg_source *lacking = NULL;
		/* (with --delete and --table, the user asks to empty it) */
		bool empties = opts->del && opts->tables_from_cli;
		if (t && opts->dir == SMG_PUSH && t->only_remote && !empties)
			lacking = local;
		else if (t && opts->dir == SMG_PULL && t->only_local && !empties)
			lacking = remote;
		if (t && !lacking)
			continue;
		if (lacking) {
			char *have = smg_source_table_list(lacking);
			smg_die(SMG_EXIT_NOTFOUND, "%s: no table \"%s\" to %s (tables: %s)",
				smg_source_name(lacking), opts->tables[i],
				opts->dir == SMG_PUSH ? "push" : "pull", have);
		}
		char *l = smg_source_table_list(local), *r = smg_source_table_list(remote);
		smg_die(SMG_EXIT_NOTFOUND, "no table \"%s\" on either side (%s has: %s; %s has: %s)",
			opts->tables[i], smg_source_name(local), l, smg_source_name(remote), r);
	}
}

void smg_diff(struct smg_source *local, struct smg_source *remote,
	      const struct smg_diff_opts *opts, struct smg_writer *out,
	      struct smg_diff_result *res)
{
	memset(res, 0, sizeof *res);
	if (opts->dir == SMG_SYNC && opts->del)
		smg_die(SMG_EXIT_USAGE, "--delete needs a one-way direction (push or pull): a two-way "
			"sync cannot tell a deletion from an insertion");
	if (opts->dir == SMG_SYNC && opts->add_columns)
		smg_die(SMG_EXIT_USAGE, "--add-columns needs a one-way direction (push or pull): a "
			"two-way sync cannot tell which side's rows hold the new column's values");
	const struct smg_table *tl = smg_source_next_table(local);
	const struct smg_table *tr = smg_source_next_table(remote);
	while (tl || tr) {
		int c = !tl ? 1 : !tr ? -1 : strcmp(tl->name, tr->name);
		struct merge m = {
			.src = {local, remote},
			.t = {c <= 0 ? tl : NULL, c >= 0 ? tr : NULL},
			.opts = opts,
			.out = out,
		};
		m.out_table = m.t[0] ? m.t[0] : m.t[1];
		m.res = add_result(res, m.out_table->name);
		m.res->only_local = !m.t[1];
		m.res->only_remote = !m.t[0];
		if (m.t[0] && m.t[1]) {
			m.res->skipped_schema = check_compatible(&m, smg_source_name(local),
								 smg_source_name(remote));
			m.tombs = tracked_both(&m, smg_source_name(local), smg_source_name(remote));
		}
		if (m.res->skipped_schema) {
			/* its rows are passed over by the next smg_source_next_table */
			smg_warn("table \"%s\": %s: skipped, the other tables go on",
				 m.out_table->name, m.res->skipped_schema);
			res->nskipped_schema++;
		} else {
			if (m.t[0] && m.t[1] && !m.grows)
				m.perm = permutation(tl, tr);
			announce_growth(&m);
			merge_rows(&m);
			announce_one_sided(&m);
		}
		free(m.perm);
		smg_buf_free(&m.permuted);
		add_counts(&res->total, &m.res->counts);
		if (out)
			smg_writer_maybe_flush(out);
		if (c <= 0)
			tl = smg_source_next_table(local);
		if (c >= 0)
			tr = smg_source_next_table(remote);
	}
	if (opts->progress)
		smg_progress_done();
	check_named_tables(local, remote, opts, res);
	if (out) {
		for (size_t i = 0; i < res->ntables; i++)
			smg_write_summary(out, res->tables[i].name, &res->tables[i].counts);
		smg_write_end(out);
	}
}

void smg_diff_result_free(struct smg_diff_result *res)
{
	for (size_t i = 0; i < res->ntables; i++) {
		free(res->tables[i].name);
		free(res->tables[i].skipped_schema);
		for (int b = 0; b < SMG_NBUCKETS; b++)
			smg_buf_free(&res->tables[i].samples[b]);
	}
	free(res->tables);
	memset(res, 0, sizeof *res);
}
