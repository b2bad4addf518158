/*
 * exchange.c - the beacon's exchange protocol over one channel: META, keys,
 * rows, DONE, apply (see exchange.h; the spec is smg-beacon(1), PROTOCOL).
 *
 * What we take from a peer rests on our own hashes and our own policy,
 * never on the peer's word: its rows arrive as change records, are hashed
 * here, and go through our own diff before anything is applied.
 */
#include "exchange.h"

#include "apply.h"
#include "reconcile.h"
#include "progress.h"
#include "tomb.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* ---- tallies ------------------------------------------------------------- */

struct smg_tally *smg_tally_get(struct smg_tally **list, size_t *n, const char *name)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*list)[i].name, name))
			return &(*list)[i];
	*list = smg_xrealloc(*list, (*n + 1) * sizeof **list);
	struct smg_tally *t = &(*list)[(*n)++];
	t->name = smg_xstrdup(name);
	t->sent = t->received = 0;
	return t;
}

void smg_tallies_free(struct smg_tally *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(t[i].name);
	free(t);
}

/* ---- keys, digest, group ------------------------------------------------- */

void smg_group_from_name(const char *name, uint8_t out[SMG_GROUP_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, SMG_GROUP_LEN);
	crypto_generichash_update(&st, (const uint8_t *)"smugglr group name v1\n", 22);
	crypto_generichash_update(&st, (const uint8_t *)name, strlen(name));
	crypto_generichash_final(&st, out, SMG_GROUP_LEN);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void hash_str(crypto_generichash_state *st, const char *s)
{
	crypto_generichash_update(st, (const uint8_t *)s, strlen(s) + 1);
}

/* The group a database belongs to by default: what it syncs (table names,
 * column names, keys, timestamp column), never where it lives. */
static void group_add_table(crypto_generichash_state *st, const struct smg_table *t)
{
	char **cols = smg_xcalloc(t->ncols, sizeof *cols);
	memcpy(cols, t->cols, t->ncols * sizeof *cols);
	qsort(cols, t->ncols, sizeof *cols, cmp_str);
	hash_str(st, "table");
	hash_str(st, t->name);
	for (size_t i = 0; i < t->ncols; i++)
		hash_str(st, cols[i]);
	hash_str(st, "key");
	for (size_t k = 0; k < t->npk; k++)
		hash_str(st, t->pk[k]);
	hash_str(st, "ts");
	hash_str(st, t->ts ? t->ts : "");
	free(cols);
}

static void group_init(crypto_generichash_state *gs)
{
	crypto_generichash_init(gs, NULL, 0, SMG_GROUP_LEN);
	crypto_generichash_update(gs, (const uint8_t *)"smugglr group v1\n", 17);
}

void smg_exchange_group(const char *db, const struct smg_select *sel,
			uint8_t group[SMG_GROUP_LEN])
{
	sqlite3 *h = smg_db_open(db, false);
	size_t n;
	struct smg_table **t = smg_db_tables(h, db, sel, &n);
	smg_db_close(h);
	crypto_generichash_state gs;
	group_init(&gs);
	for (size_t i = 0; i < n; i++)
		group_add_table(&gs, t[i]);
	crypto_generichash_final(&gs, group, SMG_GROUP_LEN);
	smg_tables_free(t, n);
}

void smg_exchange_keys(const char *db, const struct smg_select *sel, int fd, const char *fdname,
		       uint8_t digest[32], uint8_t group[SMG_GROUP_LEN])
{
	struct smg_source *src = smg_source_open(db, sel);
	smg_source_tombstones(src, smg_tomb_horizon_days);	/* a delete changes the digest */
	struct smg_writer w;
	smg_writer_init(&w, fd, fdname);
	crypto_hash_sha256_state ds;
	crypto_generichash_state gs;
	crypto_hash_sha256_init(&ds);
	group_init(&gs);
	struct smg_buf scratch = SMG_BUF_INIT;
	const struct smg_table *t;
	while ((t = smg_source_next_table(src))) {
		smg_write_table(&w, t);
		group_add_table(&gs, t);
		crypto_hash_sha256_update(&ds, (const uint8_t *)t->name, strlen(t->name) + 1);
		struct smg_row row;
		while (smg_source_next_row(src, &row)) {
			unsigned char th[SMG_HASH_LEN];
			if (row.dead) {
				smg_write_tombstone(&w, t, row.key, &row.ts);
				smg_tomb_hash(t, row.key, &row.ts, th);
			} else {
				smg_write_row(&w, t, row.key, row.hash, t->ts ? &row.ts : NULL, NULL, 0);
			}
			smg_buf_reset(&scratch);
			smg_json_add_values(&scratch, row.key, t->npk);
			if (t->ts || row.dead)
				smg_json_add_value(&scratch, &row.ts);
			smg_buf_add(&scratch, row.dead ? th : row.hash, SMG_HASH_LEN);
			crypto_hash_sha256_update(&ds, (const uint8_t *)scratch.data, scratch.len);
		}
	}
	smg_write_end(&w);
	smg_writer_free(&w);
	smg_buf_free(&scratch);
	smg_source_close(src);
	crypto_hash_sha256_final(&ds, digest);
	crypto_generichash_final(&gs, group, SMG_GROUP_LEN);
}

/* ---- scratch files ------------------------------------------------------- */

static const char *const scratch_names[] = {"keys-mine", "rows-mine", "keys-peer", "rows-out",
					    "rows-in", "rows-in.checked", "changes"};

static const char *scratch(const char *tmpdir, const char *name)
{
	static char buf[8][4200];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
	return buf[k];
}

void smg_exchange_clean(const char *tmpdir)
{
	for (size_t i = 0; i < sizeof scratch_names / sizeof *scratch_names; i++)
		unlink(scratch(tmpdir, scratch_names[i]));
}

static const char *tmp(struct smg_exchange *x, const char *name)
{
	return scratch(x->o.tmpdir, name);
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", path, strerror(errno));
	return fd;
}

/* ---- frames -------------------------------------------------------------- */

static int fail(struct smg_exchange *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct smg_exchange *x, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->error, sizeof x->error, fmt, ap);
	va_end(ap);
	return code;
}

/* Tell the peer why we give up, then give up. */
static int refuse(struct smg_exchange *x, const char *msg)
{
	smg_chan_send(&x->c, SMG_F_ERROR, msg, strlen(msg));
	return fail(x, SMG_EXIT_DATA, "%s", msg);
}

static int xsend(struct smg_exchange *x, uint8_t type, const void *p, size_t n)
{
	int e = smg_chan_send(&x->c, type, p, n);
	if (e)
		return fail(x, SMG_EXIT_NETWORK, "sending to the peer: %s", smg_frame_strerror(e));
	return 0;
}

static int frame_exit_code(int e)
{
	if (e == SMG_FRAME_ETAG || e == SMG_FRAME_EMODE)
		return SMG_EXIT_AUTH;
	if (e == SMG_FRAME_EEOF || e == SMG_FRAME_EIO || e == SMG_FRAME_ETIMEOUT)
		return SMG_EXIT_NETWORK;
	return SMG_EXIT_DATA;
}

/* The next frame, its payload in in; an ERROR frame ends the exchange. */
static int xrecv(struct smg_exchange *x, uint8_t *type, struct smg_buf *in)
{
	int e = smg_chan_recv(&x->c, type, in);
	if (e)
		return fail(x, frame_exit_code(e), "%s", smg_frame_strerror(e));
	if (*type == SMG_F_ERROR) {
		char msg[200];
		smg_clean_text(msg, sizeof msg, in->data, in->len);
		return fail(x, SMG_EXIT_FAILURE, "the peer gave up: %s", msg);
	}
	return 0;
}

static int xexpect(struct smg_exchange *x, uint8_t want, const char *what, struct smg_buf *in)
{
	uint8_t t;
	int e = xrecv(x, &t, in);
	if (e)
		return e;
	if (t != want) {
		x->st.n[SMG_FRAME_ETYPE]++;
		return fail(x, SMG_EXIT_DATA, "expected %s from the peer, got frame type %u", what, t);
	}
	return 0;
}

static int send_file(struct smg_exchange *x, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		smg_die(SMG_EXIT_FAILURE, "%s: %s", path, strerror(errno));
	uint8_t *buf = smg_xmalloc(SMG_EXCHANGE_CHUNK);
	int e = 0;
	size_t n;
	struct stat st;
	int64_t size = fstat(fd, &st) == 0 ? st.st_size : -1, sent = 0;
	while (!e && (n = smg_read_some(fd, buf, SMG_EXCHANGE_CHUNK, path)) > 0) {
		e = xsend(x, SMG_F_DATA, buf, n);
		smg_progress_bytes("send", sent += (int64_t)n, size);
	}
	smg_progress_done();
	free(buf);
	close(fd);
	return e ? e : xsend(x, SMG_F_END, NULL, 0);
}

/* Receive one stream (DATA frames up to END) into a file. */
static int recv_file(struct smg_exchange *x, const char *path, const char *what)
{
	int fd = open_out(path);
	struct smg_buf in = SMG_BUF_INIT;
	uint64_t total = 0;
	int e;
	for (;;) {
		uint8_t t;
		if ((e = xrecv(x, &t, &in)))
			break;
		if (t == SMG_F_END && in.len == 0)
			break;
		if (t != SMG_F_DATA) {
			x->st.n[SMG_FRAME_ETYPE]++;
			e = fail(x, SMG_EXIT_DATA, "expected the %s from the peer, got frame type %u",
				 what, t);
			break;
		}
		/* a stream is NDJSON: anything else (a database file, say) is refused
		 * before any reader looks at it */
		if (total == 0 && in.len && in.data[0] != '{') {
			x->not_a_stream = true;
			e = fail(x, SMG_EXIT_DATA, "what the peer sent as its %s is not a row stream",
				 what);
			break;
		}
		total += in.len;
		if (total > SMG_EXCHANGE_STREAM_MAX) {
			e = fail(x, SMG_EXIT_DATA, "the peer's %s is over %llu bytes", what,
				 (unsigned long long)SMG_EXCHANGE_STREAM_MAX);
			break;
		}
		smg_write_all(fd, in.data, in.len, path);
		smg_progress_bytes("receive", (int64_t)total, -1);	/* the peer says no size */
	}
	smg_progress_done();
	smg_buf_free(&in);
	close(fd);
	return e;
}

/* Send ours, receive theirs, or the other way round: the client first. */
#define BOTH_WAYS(x, send, recv)                                   \
	do {                                                       \
		int e_ = (x)->initiator ? (send) : (recv);         \
		if (!e_)                                           \
			e_ = (x)->initiator ? (recv) : (send);     \
		if (e_)                                            \
			return e_;                                 \
	} while (0)

/* ---- META ---------------------------------------------------------------- */

/* {"v":1,"name":...,"group":hex,"policy":...,"dry_run":bool,"tables":[...]} */
static int send_meta(struct smg_exchange *x, struct smg_table **tables, size_t n)
{
	struct smg_buf b = SMG_BUF_INIT;
	char gh[2 * SMG_GROUP_LEN + 1];
	smg_hex(x->o.group, SMG_GROUP_LEN, gh);
	smg_buf_adds(&b, "{\"v\":1,\"name\":");
	smg_json_add_string(&b, x->o.name, strlen(x->o.name));
	smg_buf_addf(&b, ",\"group\":\"%s\",\"policy\":\"%s\",\"dry_run\":%s,\"tables\":[", gh,
		     smg_policy_names[x->o.policy], x->o.dry_run ? "true" : "false");
	for (size_t i = 0; i < n; i++) {
		if (i)
			smg_buf_addc(&b, ',');
		smg_json_add_string(&b, tables[i]->name, strlen(tables[i]->name));
	}
	smg_buf_adds(&b, "]}");
	if (b.len > SMG_FRAME_MAX)
		smg_die(SMG_EXIT_USAGE, "too many tables to describe in one frame");
	int e = xsend(x, SMG_F_META, b.data, b.len);
	smg_buf_free(&b);
	return e;
}

static bool json_bool(struct smg_json *j, bool *out)
{
	smg_json_ws(j);
	size_t left = (size_t)(j->end - j->p);
	if (left >= 4 && !memcmp(j->p, "true", 4)) {
		*out = true;
		j->p += 4;
	} else if (left >= 5 && !memcmp(j->p, "false", 5)) {
		*out = false;
		j->p += 5;
	} else {
		return false;
	}
	return true;
}

struct meta {
	int64_t version;
	uint8_t group[SMG_GROUP_LEN];
	bool seen_group, seen_policy;
	char **tables;
	size_t ntables;
};

/* One member of the peer's META; false if it is malformed. */
static bool meta_member(struct smg_exchange *x, struct smg_json *j, const char *k, size_t kn,
			struct meta *m)
{
	const char *s;
	size_t sn;
#define KEY(name) (kn == sizeof name - 1 && !memcmp(k, name, kn))
	if (KEY("v"))
		return smg_json_int(j, &m->version);
	if (KEY("name")) {
		if (!smg_json_string(j, &s, &sn))
			return false;
		smg_clean_text(x->peer_name, sizeof x->peer_name, s, sn);
		return true;
	}
	if (KEY("group"))
		return m->seen_group = smg_json_string(j, &s, &sn) && sn == 2 * SMG_GROUP_LEN &&
				       sodium_hex2bin(m->group, sizeof m->group, s, sn, NULL, NULL,
						      NULL) == 0;
	if (KEY("policy")) {
		char name[32];
		if (!smg_json_string(j, &s, &sn) || sn >= sizeof name)
			return false;
		memcpy(name, s, sn);
		name[sn] = '\0';
		int p = smg_policy_parse(name);
		bool ok = p >= 0 && p != SMG_REMOTE_WINS;
		x->peer_policy = (enum smg_policy)(ok ? p : 0);
		return m->seen_policy = ok;
	}
	if (KEY("dry_run")) {
		bool d = false;
		bool ok = json_bool(j, &d);
		x->dry = x->dry || d;
		return ok;
	}
	if (KEY("tables"))
		return !m->tables && smg_json_strings(j, &m->tables, &m->ntables);
#undef KEY
	const char *raw;
	size_t rn;
	return smg_json_skip(j, &raw, &rn);
}

/* Parse the peer's META into m. */
static int recv_meta(struct smg_exchange *x, struct meta *m)
{
	struct smg_buf in = SMG_BUF_INIT;
	int e = xexpect(x, SMG_F_META, "its description (META)", &in);
	if (e) {
		smg_buf_free(&in);
		return e;
	}
	x->confirmed = true;
	struct smg_buf scratch = SMG_BUF_INIT;
	struct smg_json j;
	smg_json_init(&j, in.data, in.len, &scratch);
	bool ok = smg_json_expect(&j, '{'), first = true;
	while (ok && !smg_json_expect(&j, '}')) {
		const char *k;
		size_t kn;
		ok = (first || smg_json_expect(&j, ',')) && smg_json_string(&j, &k, &kn) &&
		     smg_json_expect(&j, ':') && meta_member(x, &j, k, kn, m);
		first = false;
	}
	smg_json_ws(&j);
	ok = ok && j.p == j.end;
	smg_buf_free(&scratch);
	smg_buf_free(&in);
	if (!ok || !m->seen_group || !m->seen_policy || !m->tables) {
		x->st.n[SMG_FRAME_ETYPE]++;
		return refuse(x, "malformed META from the peer");
	}
	if (m->version != 1) {
		char msg[64];
		snprintf(msg, sizeof msg, "protocol version %lld is not 1", (long long)m->version);
		return refuse(x, msg);
	}
	x->peer_named = true;
	if (memcmp(m->group, x->o.group, SMG_GROUP_LEN)) {
		x->other_group = true;
		return refuse(x, "the peer is in another group");
	}
	return 0;
}

/* ---- the exchange -------------------------------------------------------- */

void smg_exchange_init(struct smg_exchange *x, const struct smg_exchange_opts *o,
		       bool initiator)
{
	memset(x, 0, sizeof *x);
	x->o = *o;
	x->initiator = initiator;
	x->c.fd = x->c.wfd = -1;
	x->c.stats = &x->st;
	x->dry = o->dry_run;
	strcpy(x->peer_name, "?");
}

int smg_exchange_handshake(struct smg_exchange *x, int fd)
{
	return smg_exchange_handshake_fds(x, fd, fd);
}

int smg_exchange_handshake_fds(struct smg_exchange *x, int rfd, int wfd)
{
	int e = smg_chan_handshake_fds(&x->c, rfd, wfd, x->o.secret, x->initiator, x->o.my_id,
				       x->peer_id, x->initiator ? SMG_EXCHANGE_IO_TIMEOUT_MS
								: SMG_EXCHANGE_HELLO_WAIT_MS);
	if (e)
		return fail(x, e == SMG_FRAME_ETAG || e == SMG_FRAME_EMODE ? SMG_EXIT_AUTH
									 : SMG_EXIT_NETWORK,
			    "handshake: %s", smg_frame_strerror(e));
	x->c.timeout_ms = SMG_EXCHANGE_IO_TIMEOUT_MS;
	return 0;
}

/* The tables both sides sync: ours that the peer also named. */
static void shared_tables(struct smg_exchange *x, struct smg_table **mine, size_t nmine,
			  const struct meta *m)
{
	x->sel = *x->o.sel;
	x->sel.tables = NULL;
	x->sel.ntables = 0;
	for (size_t i = 0; i < nmine; i++)
		for (size_t k = 0; k < m->ntables; k++)
			if (!strcmp(mine[i]->name, m->tables[k])) {
				smg_select_add(&x->sel.tables, &x->sel.ntables, mine[i]->name);
				break;
			}
	if (x->o.verbose && x->sel.ntables < nmine)
		smg_warn("%s: %zu of our %zu tables are not synced with %s", x->o.db,
			 nmine - x->sel.ntables, nmine, x->peer_name);
}

int smg_exchange_meta(struct smg_exchange *x)
{
	sqlite3 *db = smg_db_open(x->o.db, false);
	size_t nmine;
	struct smg_table **mine = smg_db_tables(db, x->o.db, x->o.sel, &nmine);
	smg_db_close(db);
	struct meta m = {0};
	int e;
	if (x->initiator) {
		e = send_meta(x, mine, nmine);
		if (!e)
			e = recv_meta(x, &m);
	} else {
		/* the client's META proves it holds the session keys, made with
		 * our fresh nonce: a replayed HELLO gets no further, and soon */
		x->c.timeout_ms = SMG_EXCHANGE_HELLO_WAIT_MS;
		e = recv_meta(x, &m);
		x->c.timeout_ms = SMG_EXCHANGE_IO_TIMEOUT_MS;
		if (!e)
			e = send_meta(x, mine, nmine);
	}
	if (!e)
		shared_tables(x, mine, nmine, &m);
	smg_tables_free(mine, nmine);
	smg_strings_free(m.tables, m.ntables);
	return e;
}

/* Rows per table: what a diff would write to its local side. */
static void count_tables(struct smg_exchange *x, const struct smg_diff_result *res, bool sent)
{
	for (size_t i = 0; i < res->ntables; i++) {
		struct smg_tally *t = smg_tally_get(&x->tables, &x->ntables, res->tables[i].name);
		if (sent)
			t->sent += res->tables[i].counts.upsert[SMG_SIDE_LOCAL];
		else
			t->received += res->tables[i].counts.upsert[SMG_SIDE_LOCAL];
	}
}

enum count_as { COUNT_NONE, COUNT_SENT, COUNT_RECEIVED };

/* A pull diff: what the local side lacks of the remote side's rows, by
 * policy.  Changes go to out (NULL: count only). */
static void pull_diff(struct smg_exchange *x, const char *local, const char *remote,
		      enum smg_policy policy, const char *out, enum count_as count)
{
	struct smg_source *l = smg_source_open(local, &x->sel);
	struct smg_source *r = smg_source_open(remote, &x->sel);
	smg_source_tombstones(l, smg_tomb_horizon_days);
	smg_source_tombstones(r, smg_tomb_horizon_days);
	struct smg_diff_opts d = {.policy = policy, .dir = SMG_PULL};
	struct smg_diff_result res;
	struct smg_writer w;
	int fd = out ? open_out(out) : -1;
	if (out)
		smg_writer_init(&w, fd, out);
	smg_diff(l, r, &d, out ? &w : NULL, &res);
	if (out) {
		smg_writer_free(&w);
		close(fd);
	}
	if (count != COUNT_NONE)
		count_tables(x, &res, count == COUNT_SENT);
	smg_diff_result_free(&res);
	smg_source_close(l);
	smg_source_close(r);
}

/* What the peer would pull from us, by its policy: its keys are the local
 * side, our rows the remote. */
static void rows_for_peer(struct smg_exchange *x, const char *out)
{
	pull_diff(x, tmp(x, "keys-peer"), tmp(x, "rows-mine"), x->peer_policy, out, COUNT_SENT);
}

/* Our own decision on the peer's rows: our keys are the local side (the
 * hashes compare-and-set expects), our policy decides.  out NULL (dry
 * run): count what we would receive. */
static void rows_we_take(struct smg_exchange *x, const char *rows, const char *out)
{
	pull_diff(x, tmp(x, "keys-mine"), rows, x->o.policy, out, out ? COUNT_NONE : COUNT_RECEIVED);
}

static bool selected(const struct smg_select *sel, const char *name)
{
	for (size_t i = 0; i < sel->ntables; i++)
		if (!strcmp(sel->tables[i], name))
			return true;
	return false;
}

/* The peer's rows arrive as change records (from its diff): turn them into
 * a row stream, hashing every row here. */
static void changes_to_rows(const struct smg_select *sel, const char *in, const char *out)
{
	struct smg_reader *r = smg_reader_open_path(in);
	int fd = open_out(out);
	struct smg_writer w;
	smg_writer_init(&w, fd, out);
	const struct smg_record *rec;
	struct smg_value *vals = NULL;
	size_t cap = 0;
	unsigned char h[SMG_HASH_LEN];
	while ((rec = smg_reader_next(r))) {
		switch (rec->kind) {
		case SMG_REC_TABLE:
			if (!selected(sel, rec->table->name))
				smg_reader_die(r, "the peer sent rows of table \"%s\", which we do not "
					       "sync with it", rec->table->name);
			smg_write_table(&w, rec->table);
			break;
		case SMG_REC_CHANGE:
			if (rec->op == SMG_OP_TOMBSTONE && rec->to == SMG_SIDE_LOCAL) {
				/* a delete that won: our own diff weighs it again */
				smg_write_tombstone(&w, rec->table, rec->key, &rec->ts);
				break;
			}
			if (rec->op != SMG_OP_UPSERT || rec->to != SMG_SIDE_LOCAL)
				smg_reader_die(r, "the peer sent a change that is not an upsert or a "
					       "tombstone for us");
			smg_reader_values(r, rec, &vals, &cap);
			for (size_t k = 0; k < rec->table->npk; k++)
				if (smg_value_cmp(&rec->key[k], &vals[rec->table->pk_idx[k]]))
					smg_reader_die(r, "the peer sent a row whose key and values "
						       "disagree");
			smg_hash_row(rec->table, vals, h);
			smg_write_row(&w, rec->table, rec->key, h,
				      rec->table->ts_idx >= 0 ? &vals[rec->table->ts_idx] : NULL,
				      rec->values, rec->values_len);
			break;
		case SMG_REC_SUMMARY:
			break;
		default:
			smg_reader_die(r, "unexpected record in the peer's rows");
		}
	}
	smg_write_end(&w);
	smg_writer_free(&w);
	close(fd);
	free(vals);
	smg_reader_close(r);
}

/* Reconcile (reconcile.h): afterwards both sides know the leaves whose
 * rows may differ, and x->sel is narrowed to the tables that have any.
 * Our rows of those leaves are written to keys-mine and rows-mine. */
static int find_differences(struct smg_exchange *x)
{
	struct smg_recon r;
	smg_recon_init(&r, x->o.db, &x->sel, &x->c, x->initiator);
	int e = smg_recon_run(&r);
	x->recon_messages = r.messages;
	if (e) {
		snprintf(x->error, sizeof x->error, "%s", r.error);
		smg_recon_free(&r);
		return e;
	}
	struct smg_select differ;
	int kfd = open_out(tmp(x, "keys-mine")), rfd = open_out(tmp(x, "rows-mine"));
	smg_recon_write(&r, &differ, kfd, tmp(x, "keys-mine"), rfd, tmp(x, "rows-mine"));
	close(kfd);
	close(rfd);
	x->rows_marked = r.rows_marked;
	smg_recon_free(&r);
	smg_select_free(&(struct smg_select){.tables = x->sel.tables, .ntables = x->sel.ntables});
	x->sel.tables = differ.tables;
	x->sel.ntables = differ.ntables;
	return 0;
}

/* 1. reconcile; 2. keys and hashes of the rows that may differ, both
 * ways; 3. the rows each side needs, by the receiver's policy (a dry run
 * counts them and moves none). */
static int trade_rows(struct smg_exchange *x)
{
	int e = find_differences(x);
	if (e || !x->sel.ntables)
		return e;
	BOTH_WAYS(x, send_file(x, tmp(x, "keys-mine")), recv_file(x, tmp(x, "keys-peer"), "keys"));
	if (x->dry) {
		rows_for_peer(x, NULL);
		rows_we_take(x, tmp(x, "keys-peer"), NULL);
		return 0;
	}
	rows_for_peer(x, tmp(x, "rows-out"));
	BOTH_WAYS(x, send_file(x, tmp(x, "rows-out")), recv_file(x, tmp(x, "rows-in"), "rows"));
	changes_to_rows(&x->sel, tmp(x, "rows-in"), tmp(x, "rows-in.checked"));
	rows_we_take(x, tmp(x, "rows-in.checked"), tmp(x, "changes"));
	return 0;
}

static int send_done(struct smg_exchange *x)
{
	return xsend(x, SMG_F_DONE, NULL, 0);
}

static int recv_done(struct smg_exchange *x)
{
	struct smg_buf in = SMG_BUF_INIT;
	int e = xexpect(x, SMG_F_DONE, "DONE", &in);
	smg_buf_free(&in);
	return e;
}

int smg_exchange_rows(struct smg_exchange *x)
{
	if (x->sel.ntables) {
		int e = trade_rows(x);
		if (e)
			return e;
	}
	/* 3. both have everything: say so */
	BOTH_WAYS(x, send_done(x), recv_done(x));
	x->bytes_in = x->c.bytes_in;
	x->bytes_out = x->c.bytes_out;
	smg_chan_close(&x->c);
	return 0;
}

void smg_exchange_apply(struct smg_exchange *x)
{
	if (!x->sel.ntables || x->dry)
		return;
	sqlite3 *wdb = smg_db_open(x->o.db, true);
	struct smg_reader *r = smg_reader_open_path(tmp(x, "changes"));
	struct smg_apply_opts ao = {.only = SMG_SIDE_LOCAL, .progress = smg_progress_enabled(),
				    .tombstone_horizon_days = smg_tomb_horizon_days};
	struct smg_apply_result ar;
	if (ao.progress)
		smg_progress_input(smg_reader_fd(r));
	smg_apply_sqlite(wdb, x->o.db, r, &ao, &ar);
	/* compare-and-set: rows the app wrote during the exchange win;
	 * nothing was written, the next exchange sees them */
	if (ar.conflicts) {
		smg_warn("%s: %lld rows changed during the exchange: nothing written; the next "
			 "exchange takes them into account", x->o.db, (long long)ar.conflicts);
		x->conflicts = ar.conflicts;
	}
	for (size_t i = 0; i < ar.ntables; i++)
		smg_tally_get(&x->tables, &x->ntables, ar.tables[i].name)->received +=
			ar.tables[i].upserted;
	smg_apply_result_free(&ar);
	smg_reader_close(r);
	smg_db_close(wdb);
}

void smg_exchange_free(struct smg_exchange *x)
{
	smg_chan_close(&x->c);
	smg_tallies_free(x->tables, x->ntables);
	x->tables = NULL;
	x->ntables = 0;
	smg_select_free(&(struct smg_select){.tables = x->sel.tables, .ntables = x->sel.ntables});
	x->sel.tables = NULL;
	x->sel.ntables = 0;
}
