/*
 * tests/unit/exchange.c - the beacon's exchange (lib/exchange.c) between two
 * real SQLite files over a socketpair, no network and no beacon: the
 * client runs in this process, the server in a child, as smg-beacon runs
 * each exchange in a child of its own.  The oracle is a typed dump of
 * every table (typeof and quote of every value, by key), the check
 * tests/lib.sh's typed_dump makes next to sqldiff.
 */
#include "cli.h"
#include "exchange.h"
#include "reconcile.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>
#include <sqlite3.h>

static char top[4096];
static struct smg_select sel;
static uint8_t key[SMG_KEY_LEN], other_key[SMG_KEY_LEN];
static uint8_t group[SMG_GROUP_LEN], other_group[SMG_GROUP_LEN];
static const uint8_t id_a[SMG_ID_LEN] = "client.........";
static const uint8_t id_b[SMG_ID_LEN] = "server.........";

static const char schema[] =
	"CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty, data BLOB, updated_at TEXT);"
	"CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT, updated_at INTEGER) WITHOUT ROWID;";

static const char *path(const char *name)
{
	static char buf[4][4200];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof buf[k], "%s/%s", top, name);
	return buf[k];
}

static void exec_sql(const char *db, const char *sql)
{
	sqlite3 *h;
	char *err = NULL;
	if (sqlite3_open(db, &h) != SQLITE_OK || sqlite3_exec(h, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "%s: %s\n", db, err ? err : sqlite3_errmsg(h));
		exit(1);
	}
	sqlite3_close(h);
}

static void mkdb(const char *name, const char *rows)
{
	unlink(path(name));
	exec_sql(path(name), schema);
	exec_sql(path(name), rows);
}

/* Every row of every table as "table|typeof:quote|...", ordered by key. */
static char *dump(const char *name)
{
	static const char *const q[] = {
		"SELECT 'items|'||typeof(id)||':'||quote(id)||'|'||typeof(name)||':'||quote(name)"
		"||'|'||typeof(qty)||':'||quote(qty)||'|'||typeof(data)||':'||quote(data)"
		"||'|'||typeof(updated_at)||':'||quote(updated_at) FROM items ORDER BY id",
		"SELECT 'notes|'||typeof(k)||':'||quote(k)||'|'||typeof(body)||':'||quote(body)"
		"||'|'||typeof(updated_at)||':'||quote(updated_at) FROM notes ORDER BY k",
	};
	struct smg_buf b = SMG_BUF_INIT;
	sqlite3 *h;
	sqlite3_open(path(name), &h);
	for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
		sqlite3_stmt *st;
		sqlite3_prepare_v2(h, q[i], -1, &st, NULL);
		while (sqlite3_step(st) == SQLITE_ROW) {
			smg_buf_adds(&b, (const char *)sqlite3_column_text(st, 0));
			smg_buf_addc(&b, '\n');
		}
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return smg_buf_detach(&b);
}

static char *query(const char *name, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	sqlite3_open(path(name), &h);
	sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	char *s = smg_xstrdup(sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)
				      ? (const char *)sqlite3_column_text(st, 0) : "(none)");
	sqlite3_finalize(st);
	sqlite3_close(h);
	return s;
}

/* One side of an exchange, as smg-beacon's child runs it. */
struct side {
	const char *db, *tmp;
	enum smg_policy policy;
	bool dry_run;
	const uint8_t *secret, *group, *id;
};

static int run_side(struct smg_exchange *x, const struct side *s, bool initiator, int fd)
{
	struct smg_exchange_opts o = {
		.db = path(s->db), .sel = &sel, .policy = s->policy, .dry_run = s->dry_run,
		.name = initiator ? "client" : "server", .group = s->group, .secret = s->secret,
		.my_id = s->id, .tmpdir = path(s->tmp),
	};
	smg_exchange_init(x, &o, initiator);
	int e = smg_exchange_handshake(x, fd);
	if (!e)
		e = smg_exchange_meta(x);
	if (!e)
		e = smg_exchange_rows(x);
	if (!e)
		smg_exchange_apply(x);
	return e;
}

/* Run the server side in a child on one end of a socketpair; its exit code
 * in *server_rc.  Returns the socket for the client side. */
static int start_server(const struct side *s, pid_t *pid)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		exit(1);
	}
	fflush(stdout);
	*pid = fork();
	if (*pid == 0) {
		close(sv[0]);
		struct smg_exchange x;
		int e = run_side(&x, s, false, sv[1]);
		smg_exchange_free(&x);
		_exit(e);
	}
	close(sv[1]);
	return sv[0];
}

static int wait_server(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Both sides; the client's exchange stays in *x for its tallies. */
static void exchange(struct smg_exchange *x, const struct side *a, const struct side *b,
		     int *rc_a, int *rc_b)
{
	pid_t pid;
	int fd = start_server(b, &pid);
	*rc_a = run_side(x, a, true, fd);
	*rc_b = wait_server(pid);
}

static int64_t tally(const struct smg_exchange *x, const char *table, bool sent)
{
	for (size_t i = 0; i < x->ntables; i++)
		if (!strcmp(x->tables[i].name, table))
			return sent ? x->tables[i].sent : x->tables[i].received;
	return -1;
}

static const char rows_a[] =
	"INSERT INTO items VALUES (1,'bolt',7,x'00ff','2026-01-01T00:00:00Z'),"
	" (2,'',0,NULL,'2026-01-02T00:00:00Z'), (3,'old',1,x'','2026-01-01T00:00:00Z'),"
	" (9223372036854775807,'max',1.5,NULL,'2026-01-01T00:00:00Z');"
	"INSERT INTO notes VALUES ('x','from a',1767225600), ('tie','a version',1767225600);";
static const char rows_b[] =
	"INSERT INTO items VALUES (3,'new',2,x'01','2026-02-01T00:00:00+01:00'),"
	" (4,'0',NULL,x'ffff','2026-01-03T00:00:00Z'),"
	" (-9223372036854775808,'min',0.1,NULL,'2026-01-01T00:00:00Z');"
	"INSERT INTO notes VALUES ('y','from b',1767225601), ('tie','b version',1767225600);";

static struct side side_a = {"a.db", "ta", SMG_NEWER_WINS, false, key, group, id_a};
static struct side side_b = {"b.db", "tb", SMG_NEWER_WINS, false, key, group, id_b};

static void test_converge(void)
{
	mkdb("a.db", rows_a);
	mkdb("b.db", rows_b);
	struct smg_exchange x;
	int ra, rb;
	exchange(&x, &side_a, &side_b, &ra, &rb);
	CHECK(ra == 0 && rb == 0, "converge: both sides succeed (client %d, server %d: %s)", ra, rb,
	      x.error);
	char *da = dump("a.db"), *db = dump("b.db");
	CHECK(!strcmp(da, db), "converge: the typed dumps of both files are the same");
	CHECK(strstr(da, "items|integer:3|text:'new'|integer:2|blob:X'01'") != NULL,
	      "converge: the newer row 3 won on both sides, types intact");
	CHECK(strstr(da, "items|integer:-9223372036854775808|text:'min'|real:0.1") &&
		      strstr(da, "items|integer:9223372036854775807|text:'max'|real:1.5"),
	      "converge: extreme keys and reals crossed both ways");
	CHECK(strstr(da, "notes|text:'y'|text:'from b'|integer:1767225601") != NULL,
	      "converge: a WITHOUT ROWID table with a text key converges");
	CHECK(tally(&x, "items", true) == 3 && tally(&x, "items", false) == 3,
	      "converge: the client counts 3 items sent and 3 received (%lld, %lld)",
	      (long long)tally(&x, "items", true), (long long)tally(&x, "items", false));
	CHECK(x.bytes_in > 0 && x.bytes_out > 0 && !strcmp(x.peer_name, "server"),
	      "converge: bytes counted both ways, the peer named itself");
	free(da);
	free(db);
	smg_exchange_free(&x);

	/* a second exchange has nothing left to move */
	exchange(&x, &side_a, &side_b, &ra, &rb);
	CHECK(ra == 0 && rb == 0 && tally(&x, "items", true) <= 0 &&
		      tally(&x, "items", false) <= 0,
	      "converge: a second exchange moves no row");
	smg_exchange_free(&x);
}

/* The group --stdio derives without reading rows is the one the LAN
 * beacon announces. */
static void test_group(void)
{
	mkdb("a.db", rows_a);
	uint8_t d[32], g1[SMG_GROUP_LEN], g2[SMG_GROUP_LEN];
	int fd = open("/dev/null", O_WRONLY);
	smg_exchange_keys(path("a.db"), &sel, fd, "/dev/null", d, g1);
	close(fd);
	smg_exchange_group(path("a.db"), &sel, g2);
	CHECK(!memcmp(g1, g2, SMG_GROUP_LEN), "the group from the schema alone is the announced one");
}

static void test_dry_run(void)
{
	mkdb("a.db", rows_a);
	mkdb("b.db", rows_b);
	char *a0 = dump("a.db"), *b0 = dump("b.db");
	struct side dry_b = side_b;
	dry_b.dry_run = true;
	struct smg_exchange x;
	int ra, rb;
	exchange(&x, &side_a, &dry_b, &ra, &rb);
	char *a1 = dump("a.db"), *b1 = dump("b.db");
	CHECK(ra == 0 && rb == 0, "dry run: both sides succeed");
	CHECK(!strcmp(a0, a1) && !strcmp(b0, b1),
	      "dry run (asked by the server): neither file changed");
	CHECK(tally(&x, "items", true) == 3 && tally(&x, "items", false) == 3,
	      "dry run: the client still counts what would move");
	free(a0), free(a1), free(b0), free(b1);
	smg_exchange_free(&x);
}

/* The receiver's policy decides: local_wins keeps its own row. */
static void test_receivers_policy(void)
{
	mkdb("a.db", "INSERT INTO items VALUES (1,'a newer',1,NULL,'2026-03-01T00:00:00Z');");
	mkdb("b.db", "INSERT INTO items VALUES (1,'b older',1,NULL,'2026-01-01T00:00:00Z');");
	struct side keep_b = side_b;
	keep_b.policy = SMG_LOCAL_WINS;
	struct smg_exchange x;
	int ra, rb;
	exchange(&x, &side_a, &keep_b, &ra, &rb);
	char *na = query("a.db", "SELECT name FROM items WHERE id=1");
	char *nb = query("b.db", "SELECT name FROM items WHERE id=1");
	CHECK(ra == 0 && rb == 0 && !strcmp(na, "a newer") && !strcmp(nb, "b older"),
	      "policy: a local_wins receiver keeps its row, the sender keeps its newer one "
	      "(a: %s, b: %s)", na, nb);
	free(na), free(nb);
	smg_exchange_free(&x);
}

static void test_refusals(void)
{
	mkdb("a.db", rows_a);
	mkdb("b.db", rows_b);
	char *a0 = dump("a.db"), *b0 = dump("b.db");
	struct smg_exchange x;
	int ra, rb;

	struct side wrong_key = side_b;
	wrong_key.secret = other_key;
	exchange(&x, &side_a, &wrong_key, &ra, &rb);
	/* the server cannot open the HELLO; the client only sees it hang up */
	CHECK(rb == SMG_EXIT_AUTH && ra == SMG_EXIT_NETWORK,
	      "another secret: the server fails with exit 5, the client 4 (client %d, server %d)",
	      ra, rb);
	smg_exchange_free(&x);

	struct side plain = side_b;
	plain.secret = NULL;
	exchange(&x, &side_a, &plain, &ra, &rb);
	CHECK(rb == SMG_EXIT_AUTH && ra == SMG_EXIT_NETWORK,
	      "a secret on one side only: the server fails with exit 5, the client 4 (client %d, "
	      "server %d)", ra, rb);
	smg_exchange_free(&x);

	struct side elsewhere = side_b;
	elsewhere.group = other_group;
	exchange(&x, &side_a, &elsewhere, &ra, &rb);
	CHECK(rb == SMG_EXIT_DATA && ra != 0 && strstr(x.error, "another group"),
	      "another group: refused, and the client is told why (%s)", x.error);
	smg_exchange_free(&x);

	char *a1 = dump("a.db"), *b1 = dump("b.db");
	CHECK(!strcmp(a0, a1) && !strcmp(b0, b1), "refusals: neither file changed");
	free(a0), free(a1), free(b0), free(b1);
}

/* A client played by hand against a server on b.db: handshake, a good
 * META, the server's META read.  0 or a frame error. */
static int hand_made_client(struct smg_chan *c, pid_t *pid)
{
	int fd = start_server(&side_b, pid);
	uint8_t peer[SMG_ID_LEN], type = 0;
	struct smg_buf in = SMG_BUF_INIT;
	char gh[2 * SMG_GROUP_LEN + 1], meta[400];
	smg_hex(group, SMG_GROUP_LEN, gh);
	snprintf(meta, sizeof meta,
		 "{\"v\":1,\"name\":\"x\",\"group\":\"%s\",\"policy\":\"newer_wins\","
		 "\"dry_run\":false,\"tables\":[\"items\",\"notes\"]}", gh);
	int e = smg_chan_handshake(c, fd, key, true, id_a, peer, 5000);
	c->timeout_ms = 5000;
	if (!e)
		e = smg_chan_send(c, SMG_F_META, meta, strlen(meta));
	if (!e)
		e = smg_chan_recv(c, &type, &in);
	smg_buf_free(&in);
	return e ? e : type == SMG_F_META ? 0 : SMG_FRAME_ETYPE;
}

/* The test plays a hostile client by hand: a good META, an honest
 * reconciliation, then a database file where its keys should be. */
static void test_not_a_stream(void)
{
	mkdb("b.db", rows_b);
	char *b0 = dump("b.db");
	pid_t pid;
	struct smg_chan c = {.fd = -1, .wfd = -1};
	int e = hand_made_client(&c, &pid);
	CHECK(!e, "hostile client: the server answers a good META");
	/* an honest reconciliation, so that the server waits for keys */
	mkdb("a.db", rows_a);
	struct smg_select both = sel;
	char *names[] = {"items", "notes"};
	both.tables = names;
	both.ntables = 2;
	struct smg_recon r;
	smg_recon_init(&r, path("a.db"), &both, &c, true);
	if (!e)
		e = smg_recon_run(&r);
	CHECK(!e && r.rows_marked == 0 && r.t[0].nmarked,
	      "hostile client: reconciled with the server (%s)", r.error);
	smg_recon_free(&r);
	static const char db_file[] = "SQLite format 3";
	smg_chan_send(&c, SMG_F_DATA, db_file, sizeof db_file);
	smg_chan_send(&c, SMG_F_END, NULL, 0);
	int rb = wait_server(pid);
	CHECK(rb == SMG_EXIT_DATA, "hostile client: a database file as keys is refused, exit 7 "
	      "(got %d)", rb);
	char *b1 = dump("b.db");
	CHECK(!strcmp(b0, b1), "hostile client: nothing written");
	free(b0), free(b1);
	smg_chan_close(&c);
}

/* ---- reconciliation: what crosses the wire --------------------------------- */

/* Every row of every table of a database, typed, by key: the oracle for
 * schemas the fixed dump does not know. */
static char *dump_all(const char *name)
{
	struct smg_buf b = SMG_BUF_INIT;
	sqlite3 *h;
	sqlite3_stmt *tabs;
	sqlite3_open(path(name), &h);
	sqlite3_prepare_v2(h, "SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name",
			   -1, &tabs, NULL);
	while (sqlite3_step(tabs) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(tabs, 0);
		char *q = sqlite3_mprintf(
			"SELECT group_concat('typeof('||quote(name)||')||'':''||quote('||quote(name)||')',"
			" '||''|''||') FROM pragma_table_info(%Q)", t);
		sqlite3_stmt *st;
		sqlite3_prepare_v2(h, q, -1, &st, NULL);
		sqlite3_step(st);
		char *sel = sqlite3_mprintf("SELECT %Q||'|'||%s FROM %Q ORDER BY 1", t,
					    (const char *)sqlite3_column_text(st, 0), t);
		sqlite3_finalize(st);
		sqlite3_free(q);
		sqlite3_prepare_v2(h, sel, -1, &st, NULL);
		while (sqlite3_step(st) == SQLITE_ROW) {
			smg_buf_adds(&b, (const char *)sqlite3_column_text(st, 0));
			smg_buf_addc(&b, '\n');
		}
		sqlite3_finalize(st);
		sqlite3_free(sel);
	}
	sqlite3_finalize(tabs);
	sqlite3_close(h);
	return smg_buf_detach(&b);
}

static void mkdb_schema(const char *name, const char *schema_sql, const char *rows)
{
	unlink(path(name));
	exec_sql(path(name), schema_sql);
	exec_sql(path(name), rows);
}

/* Exchange a.db and b.db; both converge by the typed dump of every table.
 * The client's exchange stays in *x. */
static void converge(struct smg_exchange *x, const char *what)
{
	int ra, rb;
	exchange(x, &side_a, &side_b, &ra, &rb);
	char *da = dump_all("a.db"), *db = dump_all("b.db");
	CHECK(ra == 0 && rb == 0 && !strcmp(da, db),
	      "%s: both succeed and converge (client %d, server %d: %s)", what, ra, rb, x->error);
	free(da);
	free(db);
}

static const char big_schema[] =
	"CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty, data BLOB, updated_at TEXT);";

/* n rows with ids from `from`, named with tag */
static void fill(const char *name, int from, int n, const char *tag)
{
	char sql[600];
	snprintf(sql, sizeof sql,
		 "WITH RECURSIVE n(i) AS (SELECT %d UNION ALL SELECT i+1 FROM n WHERE i < %d)"
		 " INSERT INTO items SELECT i, '%s'||i, i, zeroblob(20), '2026-01-01T00:00:00Z'"
		 " FROM n;", from, from + n - 1, tag);
	mkdb_schema(name, big_schema, sql);
}

static uint64_t wire(const struct smg_exchange *x)
{
	return x->bytes_in + x->bytes_out;
}

static void test_identical(void)
{
	fill("a.db", 1, 20000, "r");
	fill("b.db", 1, 20000, "r");
	struct smg_exchange x;
	converge(&x, "identical");
	CHECK(x.recon_messages == 2 && x.rows_marked == 0,
	      "identical: one round trip of ranges, no key crossed (%d messages, %llu keys)",
	      x.recon_messages, (unsigned long long)x.rows_marked);
	CHECK(wire(&x) < 2000, "identical: under 2000 bytes on the wire (%llu)",
	      (unsigned long long)wire(&x));
	smg_exchange_free(&x);
}

static void test_one_changed(void)
{
	fill("a.db", 1, 100000, "r");
	fill("b.db", 1, 100000, "r");
	exec_sql(path("b.db"), "UPDATE items SET name='changed', updated_at='2026-02-01T00:00:00Z'"
			       " WHERE id=77777");
	struct smg_exchange x;
	converge(&x, "one changed row among 100k");
	char *n = query("a.db", "SELECT name FROM items WHERE id=77777");
	CHECK(!strcmp(n, "changed"), "one changed row: it crossed (%s)", n);
	free(n);
	CHECK(tally(&x, "items", false) == 1 && tally(&x, "items", true) <= 0,
	      "one changed row: one row received, none sent");
	CHECK(wire(&x) < 64 * 1024 && x.recon_messages <= 12,
	      "one changed row: %llu bytes on the wire (< 64 KiB), %d range messages",
	      (unsigned long long)wire(&x), x.recon_messages);
	CHECK(x.rows_marked > 0 && x.rows_marked <= 2 * SMG_RECON_SMALL,
	      "one changed row: at most %d rows' keys crossed (%llu)", 2 * SMG_RECON_SMALL,
	      (unsigned long long)x.rows_marked);
	smg_exchange_free(&x);
}

static void test_edges(void)
{
	struct smg_exchange x;
	mkdb_schema("a.db", big_schema, "");
	mkdb_schema("b.db", big_schema, "");
	converge(&x, "both empty");
	CHECK(x.recon_messages == 2, "both empty: one round trip (%d)", x.recon_messages);
	smg_exchange_free(&x);

	mkdb_schema("a.db", big_schema, "");
	fill("b.db", 1, 3000, "b");
	converge(&x, "one side empty");
	CHECK(tally(&x, "items", false) == 3000, "one side empty: all 3000 rows received");
	CHECK(x.recon_messages == 2, "one side empty: nothing split, one round trip (%d)",
	      x.recon_messages);
	smg_exchange_free(&x);

	fill("a.db", 1, 3000, "a");
	fill("b.db", 1, 3000, "b");
	exec_sql(path("b.db"), "UPDATE items SET updated_at='2026-02-01T00:00:00Z' WHERE id % 2");
	exec_sql(path("a.db"), "UPDATE items SET updated_at='2026-02-01T00:00:00Z' WHERE id % 2 = 0");
	converge(&x, "all different");
	CHECK(tally(&x, "items", false) == 1500 && tally(&x, "items", true) == 1500,
	      "all different: each side takes its newer half");
	smg_exchange_free(&x);

	fill("a.db", 1, 2000, "a");
	fill("b.db", 1001, 2000, "b");
	exec_sql(path("a.db"), "UPDATE items SET name='same'||id WHERE id > 1000");
	exec_sql(path("b.db"), "UPDATE items SET name='same'||id WHERE id <= 2000");
	converge(&x, "keys on one side only");
	CHECK(tally(&x, "items", false) == 1000 && tally(&x, "items", true) == 1000,
	      "keys on one side only: 1000 rows each way, the shared 1000 stay");
	smg_exchange_free(&x);
}

static void test_key_types(void)
{
	static const char s[] =
		"CREATE TABLE t_text(k TEXT PRIMARY KEY, v) WITHOUT ROWID;"
		"CREATE TABLE t_blob(k BLOB PRIMARY KEY, v) WITHOUT ROWID;"
		"CREATE TABLE t_real(k REAL PRIMARY KEY, v);"
		"CREATE TABLE t_pair(a INTEGER, b TEXT, v, PRIMARY KEY(a, b));"
		"CREATE TABLE t_int(k INTEGER PRIMARY KEY, v);";
	static const char common[] =
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)"
		" INSERT INTO t_text SELECT 'k'||i, i FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)"
		" INSERT INTO t_blob SELECT randomblob(1)||x'00'||i, i FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)"
		" INSERT INTO t_real SELECT i / 7.0, i FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)"
		" INSERT INTO t_pair SELECT i % 10, 'b'||i, i FROM n;"
		"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 500)"
		" INSERT INTO t_int SELECT i - 250, i FROM n;"
		"INSERT INTO t_int VALUES (-9223372036854775808, 'min'), (9223372036854775807, 'max');";
	mkdb_schema("a.db", s, common);
	unlink(path("b.db"));
	char *q = sqlite3_mprintf("VACUUM INTO %Q", path("b.db"));
	exec_sql(path("a.db"), q);
	sqlite3_free(q);
	exec_sql(path("a.db"), "UPDATE t_text SET v='a' WHERE k='k17'; DELETE FROM t_blob WHERE v=3;"
			       "INSERT INTO t_real VALUES (-0.5, 'a'); UPDATE t_pair SET v='a' "
			       "WHERE a=3 AND b='b13'; INSERT INTO t_int VALUES (100000, 'a');");
	exec_sql(path("b.db"), "INSERT INTO t_text VALUES ('', 'empty key'), ('\xc3\xa9', 'b');"
			       "INSERT INTO t_blob VALUES (x'', 'b'); UPDATE t_real SET v='b' "
			       "WHERE v=9; UPDATE t_int SET v='b' WHERE k=-9223372036854775808;");
	struct smg_exchange x;
	converge(&x, "every key type");
	CHECK(x.rows_marked > 0 && x.rows_marked < 400,
	      "every key type: the keys of a few ranges crossed, not all 2500 (%llu)",
	      (unsigned long long)x.rows_marked);
	smg_exchange_free(&x);
}

/* HELLOs played by hand: one ten minutes old gets no answer; a fresh one
 * that never proves the session keys (a replay) is answered, then dropped
 * within SMG_EXCHANGE_HELLO_WAIT_MS. */
static void send_hello(int fd, int64_t clock_ms)
{
	uint8_t hk[SMG_KEY_LEN], p[SMG_HELLO_LEN], zero[SMG_ID_LEN] = {0};
	smg_key_derive(hk, key, "smugglr beacon v1 hello");
	randombytes_buf(p, 32);
	memcpy(p + 32, id_a, SMG_ID_LEN);
	smg_put_be64(p + 32 + SMG_ID_LEN, (uint64_t)clock_ms);
	struct smg_buf f = SMG_BUF_INIT;
	smg_frame_seal(&f, hk, SMG_F_HELLO, 0, zero, p, sizeof p);
	smg_io_write(fd, f.data, f.len, 1000);
	smg_buf_free(&f);
}

static void test_hello_freshness(void)
{
	mkdb("b.db", rows_b);
	char *b0 = dump("b.db");
	pid_t pid;
	int fd = start_server(&side_b, &pid);
	send_hello(fd, smg_now_ms() - 10 * 60 * 1000);
	uint8_t buf[512];
	ssize_t n = read(fd, buf, sizeof buf);
	int rb = wait_server(pid);
	CHECK(n == 0 && rb != 0, "a HELLO ten minutes old: refused unanswered (read %zd, server "
	      "exit %d)", n, rb);
	close(fd);

	fd = start_server(&side_b, &pid);
	int64_t t0 = smg_mono_ms();
	send_hello(fd, smg_now_ms());
	n = read(fd, buf, sizeof buf);
	while (read(fd, buf, sizeof buf) > 0)
		;
	rb = wait_server(pid);
	int64_t ms = smg_mono_ms() - t0;
	CHECK(n > 0 && rb == SMG_EXIT_NETWORK && ms >= SMG_EXCHANGE_HELLO_WAIT_MS - 100 &&
		      ms < SMG_EXCHANGE_HELLO_WAIT_MS + 1500,
	      "a fresh HELLO that never proves the keys: answered, dropped after %lld ms "
	      "(server exit %d)", (long long)ms, rb);
	close(fd);
	char *b1 = dump("b.db");
	CHECK(!strcmp(b0, b1), "HELLOs alone: nothing written");
	free(b0), free(b1);
}

/* More tables than the first pass sums leaves for: the ones that differ
 * are read again, one at a time. */
static void test_many_tables(void)
{
	struct smg_buf sql = SMG_BUF_INIT, rows = SMG_BUF_INIT;
	for (int i = 0; i < 12; i++) {
		smg_buf_addf(&sql, "CREATE TABLE t%02d(id INTEGER PRIMARY KEY, v, updated_at TEXT);", i);
		smg_buf_addf(&rows, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n "
			     "WHERE i < 300) INSERT INTO t%02d SELECT i, 'v'||i, '2026-01-01' FROM n;", i);
	}
	mkdb_schema("a.db", sql.data, rows.data);
	mkdb_schema("b.db", sql.data, rows.data);
	exec_sql(path("b.db"), "UPDATE t07 SET v='b', updated_at='2026-02-01' WHERE id=100;"
			       "INSERT INTO t11 VALUES (301, 'new', '2026-02-01');");
	exec_sql(path("a.db"), "DELETE FROM t00 WHERE id=1;");
	struct smg_exchange x;
	converge(&x, "12 tables");
	CHECK(tally(&x, "t07", false) == 1 && tally(&x, "t11", false) == 1 &&
		      tally(&x, "t00", false) == 1 && tally(&x, "t03", false) <= 0,
	      "12 tables: the three rows that differ crossed (a deleted row comes back), nothing else");
	CHECK(x.rows_marked < 200, "12 tables: the keys of a few ranges crossed (%llu)",
	      (unsigned long long)x.rows_marked);
	smg_exchange_free(&x);
	smg_buf_free(&sql);
	smg_buf_free(&rows);
}

/* A client whose ranges are malformed: refused, exit 7, nothing written. */
static void test_bad_ranges(void)
{
	static const struct {
		const char *what;
		size_t n;
		uint8_t p[48];
	} cases[] = {
		{"7 bytes for 2 tables", 7, {0}},
		{"3 tables' roots for 2", 60, {0}},
	};
	mkdb("b.db", rows_b);
	char *b0 = dump("b.db");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		pid_t pid;
		struct smg_chan c = {.fd = -1, .wfd = -1};
		uint8_t zero[64] = {0};
		int e = hand_made_client(&c, &pid);
		if (!e)
			e = smg_chan_send(&c, SMG_F_RANGES, cases[i].n > 48 ? zero : cases[i].p,
					  cases[i].n);
		int rb = wait_server(pid);
		CHECK(!e && rb == SMG_EXIT_DATA, "malformed ranges (%s): refused, exit 7 (got %d)",
		      cases[i].what, rb);
		smg_chan_close(&c);
	}
	char *b1 = dump("b.db");
	CHECK(!strcmp(b0, b1), "malformed ranges: nothing written");
	free(b0), free(b1);
}

static void rm_tree(void)
{
	static const char *const dirs[] = {"ta", "tb"};
	for (size_t i = 0; i < 2; i++) {
		smg_exchange_clean(path(dirs[i]));
		rmdir(path(dirs[i]));
	}
	static const char *const files[] = {"a.db", "b.db"};
	for (size_t i = 0; i < 2; i++)
		unlink(path(files[i]));
	rmdir(top);
}

int main(void)
{
	smg_setprogname("unit/exchange");
	if (sodium_init() < 0)
		return 1;
	const char *t = getenv("TMPDIR");
	snprintf(top, sizeof top, "%s/smg-unit-exchange.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(top) || mkdir(path("ta"), 0700) || mkdir(path("tb"), 0700)) {
		perror(top);
		return 1;
	}
	smg_select_defaults(&sel);
	randombytes_buf(key, sizeof key);
	randombytes_buf(other_key, sizeof other_key);
	smg_group_from_name("test", group);
	smg_group_from_name("elsewhere", other_group);

	test_converge();
	test_group();
	test_dry_run();
	test_receivers_policy();
	test_refusals();
	test_not_a_stream();
	test_hello_freshness();
	test_identical();
	test_one_changed();
	test_edges();
	test_key_types();
	test_many_tables();
	test_bad_ranges();

	smg_select_free(&sel);
	rm_tree();
	return test_failures != 0;
}
