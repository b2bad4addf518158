/*
 * reconcile.c - range-based set reconciliation (see reconcile.h; the wire
 * format is smugglr-reconcile(5)).
 *
 * A message is one or more RANGES frames, the last shorter than
 * SMG_RECON_CHUNK.  Its payload: for every range whose children the
 * receiver sent last, two 16-bit masks (children that differ, children
 * split further); then, for every child split further, in the same order,
 * the fingerprints of its own children (count u32, sum 16 bytes).  The
 * client's first message holds only the fingerprints of its tables.
 */
#include "reconcile.h"

#include "json.h"
#include "tomb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define FANOUT (1u << SMG_RECON_FANOUT_BITS)
#define FP_LEN 20		/* count, sum */
#define VERDICT_LEN 4		/* differ mask, split mask */

/* A range: table, level (-1: above the root, whose one child is the
 * root), index among the ranges of its level. */
struct node {
	uint32_t table;
	int level;
	uint32_t index;
};

struct nodes {
	struct node *v;
	size_t n, cap;
};

static void nodes_add(struct nodes *l, uint32_t table, int level, uint32_t index)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = smg_xrealloc(l->v, l->cap * sizeof *l->v);
	}
	l->v[l->n++] = (struct node){table, level, index};
}

static unsigned fanout(int level)
{
	return level < 0 ? 1 : FANOUT;
}

static struct node child(const struct node *n, unsigned j)
{
	return (struct node){n->table, n->level + 1, n->level < 0 ? 0 : n->index * FANOUT + j};
}

/* The leaves a range covers: [*first, *first + *span). */
static void leaves_of(const struct node *n, uint32_t *first, uint32_t *span)
{
	*span = SMG_RECON_LEAVES >> (SMG_RECON_FANOUT_BITS * n->level);
	*first = n->index * *span;
}

/* ---- fingerprints ---------------------------------------------------------- */

/* sum += h (16 bytes, little-endian, modulo 2^128): unlike XOR, a sum
 * does not cancel a row that is counted twice */
static void fp_add(uint8_t sum[16], const uint8_t h[16])
{
	unsigned carry = 0;
	for (int i = 0; i < 16; i++) {
		unsigned s = sum[i] + h[i] + carry;
		sum[i] = (uint8_t)s;
		carry = s >> 8;
	}
}

static void fp_merge(struct smg_recon_fp *a, const struct smg_recon_fp *b)
{
	a->count += b->count;
	fp_add(a->sum, b->sum);
}

static bool fp_equal(const struct smg_recon_fp *a, const struct smg_recon_fp *b)
{
	return a->count == b->count && !memcmp(a->sum, b->sum, 16);
}

uint32_t smg_recon_leaf_of(const struct smg_value *key, size_t npk)
{
	static struct smg_buf enc = SMG_BUF_INIT;
	uint8_t h[8];
	smg_buf_reset(&enc);
	smg_json_add_values(&enc, key, npk);
	crypto_generichash(h, sizeof h, (const uint8_t *)enc.data, enc.len,
			   (const uint8_t *)"smugglr reconcile v1 key", 24);
	return (uint32_t)(h[0] << 8 | h[1]) >> (16 - SMG_RECON_BITS);
}

static struct smg_recon_table *table_named(struct smg_recon *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->t[i].name, name))
			return &r->t[i];
	smg_die(SMG_EXIT_FAILURE, "internal error: table \"%s\" is not being reconciled", name);
}

/* One pass over the rows of one table (only) or of all: the roots, and
 * with leaves the leaf fingerprints too. */
static void scan(struct smg_recon *r, const char *only, bool leaves)
{
	struct smg_select s = *r->sel;
	char *one[1] = {(char *)only};
	if (only) {
		s.tables = one;
		s.ntables = 1;
	}
	s.keys_only = true;
	struct smg_source *src = smg_source_open(r->db, &s);
	smg_source_tombstones(src, smg_tomb_horizon_days);	/* items as rows are */
	const struct smg_table *t;
	while ((t = smg_source_next_table(src))) {
		struct smg_recon_table *rt = table_named(r, t->name);
		if (leaves && !rt->leaf)
			rt->leaf = smg_xcalloc(SMG_RECON_LEAVES, sizeof *rt->leaf);
		memset(&rt->root, 0, sizeof rt->root);
		struct smg_row row;
		unsigned char th[SMG_HASH_LEN];
		while (smg_source_next_row(src, &row)) {
			const unsigned char *h = row.hash;
			if (row.dead) {
				smg_tomb_hash(t, row.key, &row.ts, th);
				h = th;
			}
			rt->root.count++;
			fp_add(rt->root.sum, h);
			if (leaves) {
				struct smg_recon_fp *f = &rt->leaf[smg_recon_leaf_of(row.key, t->npk)];
				f->count++;
				fp_add(f->sum, h);
			}
		}
		r->scans++;
	}
	smg_source_close(src);
}

/* A side with few tables sums their leaves in the first pass; with many,
 * only the tables that differ are read again, one at a time. */
#define EAGER_TABLES 8

static void need_leaves(struct smg_recon *r, uint32_t table)
{
	if (!r->t[table].leaf)
		scan(r, r->t[table].name, true);
}

static struct smg_recon_fp node_fp(struct smg_recon *r, const struct node *n)
{
	struct smg_recon_table *t = &r->t[n->table];
	if (n->level == 0)
		return t->root;
	need_leaves(r, n->table);
	struct smg_recon_fp f = {0};
	uint32_t first, span;
	leaves_of(n, &first, &span);
	for (uint32_t i = first; i < first + span; i++)
		fp_merge(&f, &t->leaf[i]);
	return f;
}

static void mark(struct smg_recon *r, const struct node *n)
{
	struct smg_recon_table *t = &r->t[n->table];
	if (!t->mark)
		t->mark = smg_xcalloc(SMG_RECON_LEAVES / 8, 1);
	uint32_t first, span;
	leaves_of(n, &first, &span);
	for (uint32_t i = first; i < first + span; i++)
		if (!(t->mark[i / 8] & (1u << (i % 8)))) {
			t->mark[i / 8] |= (uint8_t)(1u << (i % 8));
			t->nmarked++;
		}
}

static bool marked(const struct smg_recon_table *t, uint32_t leaf)
{
	return t->mark && (t->mark[leaf / 8] & (1u << (leaf % 8)));
}

/* ---- messages -------------------------------------------------------------- */

static int fail(struct smg_recon *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct smg_recon *r, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof r->error, fmt, ap);
	va_end(ap);
	return code;
}

static int frame_fail(struct smg_recon *r, int e, const char *doing)
{
	int code = e == SMG_FRAME_ETAG || e == SMG_FRAME_EMODE ? SMG_EXIT_AUTH
		   : e == SMG_FRAME_EEOF || e == SMG_FRAME_EIO || e == SMG_FRAME_ETIMEOUT
		   ? SMG_EXIT_NETWORK : SMG_EXIT_DATA;
	return fail(r, code, "%s: %s", doing, smg_frame_strerror(e));
}

static int send_msg(struct smg_recon *r, const struct smg_buf *m)
{
	size_t off = 0;
	for (;;) {
		size_t n = m->len - off < SMG_RECON_CHUNK ? m->len - off : SMG_RECON_CHUNK;
		int e = smg_chan_send(r->c, SMG_F_RANGES, m->data + off, n);
		if (e)
			return frame_fail(r, e, "sending ranges to the peer");
		off += n;
		if (n < SMG_RECON_CHUNK)
			break;
	}
	r->messages++;
	return 0;
}

/* The largest message that can make sense: every leaf of every table. */
static size_t msg_max(const struct smg_recon *r)
{
	return (r->n + 1) * ((size_t)SMG_RECON_LEAVES * FP_LEN + SMG_RECON_LEAVES / 4 * VERDICT_LEN);
}

static int recv_msg(struct smg_recon *r, struct smg_buf *m)
{
	struct smg_buf in = SMG_BUF_INIT;
	smg_buf_reset(m);
	int e = 0;
	for (;;) {
		uint8_t type;
		if ((e = smg_chan_recv(r->c, &type, &in))) {
			e = frame_fail(r, e, "receiving ranges from the peer");
			break;
		}
		if (type == SMG_F_ERROR) {
			char msg[200];
			smg_clean_text(msg, sizeof msg, in.data, in.len);
			e = fail(r, SMG_EXIT_FAILURE, "the peer gave up: %s", msg);
			break;
		}
		if (type != SMG_F_RANGES || in.len > SMG_RECON_CHUNK) {
			if (r->c->stats)
				r->c->stats->n[SMG_FRAME_ETYPE]++;
			e = fail(r, SMG_EXIT_DATA, "expected ranges from the peer, got frame type %u",
				 type);
			break;
		}
		if (m->len + in.len > msg_max(r)) {
			e = fail(r, SMG_EXIT_DATA, "the peer's ranges are over %zu bytes", msg_max(r));
			break;
		}
		smg_buf_add(m, in.data, in.len);
		if (in.len < SMG_RECON_CHUNK)
			break;
	}
	smg_buf_free(&in);
	if (!e)
		r->messages++;
	return e;
}

static void put_fp(struct smg_buf *b, const struct smg_recon_fp *f)
{
	uint8_t p[FP_LEN];
	smg_put_be32(p, f->count);
	memcpy(p + 4, f->sum, 16);
	smg_buf_add(b, p, sizeof p);
}

/* The fingerprints of the children of every range in l. */
static void put_children(struct smg_recon *r, struct smg_buf *b, const struct nodes *l)
{
	for (size_t i = 0; i < l->n; i++)
		for (unsigned j = 0; j < fanout(l->v[i].level); j++) {
			struct node c = child(&l->v[i], j);
			struct smg_recon_fp f = node_fp(r, &c);
			put_fp(b, &f);
		}
}

struct cursor {
	const uint8_t *p, *end;
};

static bool take(struct cursor *c, void *out, size_t n)
{
	if ((size_t)(c->end - c->p) < n)
		return false;
	memcpy(out, c->p, n);
	c->p += n;
	return true;
}

/* Verdicts on the children of the ranges we sent (pending): the ones to
 * split go to open, the ones that differ and are not split are marked. */
static bool read_verdicts(struct smg_recon *r, struct cursor *cur, const struct nodes *pending,
			  struct nodes *open)
{
	for (size_t i = 0; i < pending->n; i++) {
		const struct node *n = &pending->v[i];
		uint8_t v[VERDICT_LEN];
		if (!take(cur, v, sizeof v))
			return false;
		unsigned differ = smg_get_be16(v), split = smg_get_be16(v + 2);
		unsigned all = fanout(n->level) == FANOUT ? 0xffffu : 1u;
		if ((differ & ~all) || (split & ~differ) ||
		    (split && n->level + 1 >= SMG_RECON_DEPTH))
			return false;
		for (unsigned j = 0; j < fanout(n->level); j++) {
			struct node c = child(n, j);
			if (split & (1u << j))
				nodes_add(open, c.table, c.level, c.index);
			else if (differ & (1u << j))
				mark(r, &c);
		}
	}
	return true;
}

/* A range that differs is split unless that cannot pay. */
static bool worth_splitting(const struct node *c, const struct smg_recon_fp *mine,
			    const struct smg_recon_fp *theirs)
{
	return c->level < SMG_RECON_DEPTH && mine->count && theirs->count &&
	       (mine->count > SMG_RECON_SMALL || theirs->count > SMG_RECON_SMALL);
}

/* Compare the peer's fingerprints of the children of every range in open
 * with ours; write our verdicts to out; the children to split go to next. */
static bool judge(struct smg_recon *r, struct cursor *cur, const struct nodes *open,
		  struct smg_buf *out, struct nodes *next)
{
	for (size_t i = 0; i < open->n; i++) {
		const struct node *n = &open->v[i];
		unsigned differ = 0, split = 0;
		for (unsigned j = 0; j < fanout(n->level); j++) {
			uint8_t p[FP_LEN];
			if (!take(cur, p, sizeof p))
				return false;
			struct smg_recon_fp theirs = {.count = smg_get_be32(p)};
			memcpy(theirs.sum, p + 4, 16);
			struct node c = child(n, j);
			struct smg_recon_fp mine = node_fp(r, &c);
			if (fp_equal(&mine, &theirs))
				continue;
			differ |= 1u << j;
			if (worth_splitting(&c, &mine, &theirs)) {
				split |= 1u << j;
				nodes_add(next, c.table, c.level, c.index);
			} else {
				mark(r, &c);
			}
		}
		uint8_t v[VERDICT_LEN];
		smg_put_be16(v, (uint16_t)differ);
		smg_put_be16(v + 2, (uint16_t)split);
		smg_buf_add(out, v, sizeof v);
	}
	return true;
}

static int cmp_table(const void *a, const void *b)
{
	return strcmp(((const struct smg_recon_table *)a)->name,
		      ((const struct smg_recon_table *)b)->name);
}

void smg_recon_init(struct smg_recon *r, const char *db, const struct smg_select *sel,
		    struct smg_chan *c, bool initiator)
{
	memset(r, 0, sizeof *r);
	r->db = db;
	r->sel = sel;
	r->c = c;
	r->initiator = initiator;
	r->n = sel->ntables;
	r->t = smg_xcalloc(r->n ? r->n : 1, sizeof *r->t);
	for (size_t i = 0; i < r->n; i++)
		r->t[i].name = smg_xstrdup(sel->tables[i]);
	/* both sides list the tables in this order */
	qsort(r->t, r->n, sizeof *r->t, cmp_table);
}

int smg_recon_run(struct smg_recon *r)
{
	if (!r->n)
		return 0;
	scan(r, NULL, r->n <= EAGER_TABLES);
	struct nodes pending = {0}, open = {0}, next = {0};
	struct smg_buf out = SMG_BUF_INIT, in = SMG_BUF_INIT;
	int e = 0;
	if (r->initiator) {
		for (uint32_t i = 0; i < r->n; i++)
			nodes_add(&pending, i, -1, 0);
		put_children(r, &out, &pending);
		e = send_msg(r, &out);
	}
	bool first = !r->initiator;
	while (!e) {
		if ((e = recv_msg(r, &in)))
			break;
		struct cursor cur = {(const uint8_t *)in.data, (const uint8_t *)in.data + in.len};
		open.n = next.n = 0;
		smg_buf_reset(&out);
		bool ok = true;
		if (first) {	/* the client's tables: as if it had split them all */
			for (uint32_t i = 0; i < r->n; i++)
				nodes_add(&open, i, -1, 0);
			first = false;
		} else {
			ok = read_verdicts(r, &cur, &pending, &open);
		}
		ok = ok && judge(r, &cur, &open, &out, &next) && cur.p == cur.end;
		if (!ok) {
			static const char msg[] = "malformed ranges from the peer";
			if (r->c->stats)
				r->c->stats->n[SMG_FRAME_ETYPE]++;
			smg_chan_send(r->c, SMG_F_ERROR, msg, sizeof msg - 1);
			e = fail(r, SMG_EXIT_DATA, "%s", msg);
			break;
		}
		if (!open.n)
			break;	/* the peer split nothing: both know every verdict */
		put_children(r, &out, &next);
		if ((e = send_msg(r, &out)) || !next.n)
			break;
		struct nodes t = pending;
		pending = next;
		next = t;
	}
	free(pending.v);
	free(open.v);
	free(next.v);
	smg_buf_free(&out);
	smg_buf_free(&in);
	/* the leaf sums are no longer needed: only the marks are */
	for (size_t i = 0; i < r->n; i++) {
		free(r->t[i].leaf);
		r->t[i].leaf = NULL;
	}
	return e;
}

void smg_recon_write(struct smg_recon *r, struct smg_select *out, int keys_fd,
		     const char *keys_name, int rows_fd, const char *rows_name)
{
	*out = *r->sel;
	out->tables = NULL;
	out->ntables = 0;
	out->keys_only = false;
	for (size_t i = 0; i < r->n; i++)
		if (r->t[i].nmarked)
			smg_select_add(&out->tables, &out->ntables, r->t[i].name);
	struct smg_writer kw, rw;
	smg_writer_init(&kw, keys_fd, keys_name);
	smg_writer_init(&rw, rows_fd, rows_name);
	if (out->ntables) {
		struct smg_source *src = smg_source_open(r->db, out);
		smg_source_tombstones(src, smg_tomb_horizon_days);
		const struct smg_table *t;
		while ((t = smg_source_next_table(src))) {
			const struct smg_recon_table *rt = table_named(r, t->name);
			smg_write_table(&kw, t);
			smg_write_table(&rw, t);
			struct smg_row row;
			while (smg_source_next_row(src, &row)) {
				if (!marked(rt, smg_recon_leaf_of(row.key, t->npk)))
					continue;
				if (row.dead) {
					smg_write_tombstone(&kw, t, row.key, &row.ts);
					smg_write_tombstone(&rw, t, row.key, &row.ts);
					continue;
				}
				const struct smg_value *ts = t->ts ? &row.ts : NULL;
				size_t vn;
				const char *v = smg_source_values_json(src, &vn);
				smg_write_row(&kw, t, row.key, row.hash, ts, NULL, 0);
				r->rows_marked++;
				smg_write_row(&rw, t, row.key, row.hash, ts, v, vn);
			}
			r->scans++;
		}
		smg_source_close(src);
	}
	smg_write_end(&kw);
	smg_write_end(&rw);
	smg_writer_free(&kw);
	smg_writer_free(&rw);
}

void smg_recon_free(struct smg_recon *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->t[i].name);
		free(r->t[i].leaf);
		free(r->t[i].mark);
	}
	free(r->t);
	r->t = NULL;
	r->n = 0;
}
