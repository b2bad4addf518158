/*
 * smg-beacon - keep SQLite databases on one LAN in sync: UDP broadcast to
 * find peers, an encrypted TCP exchange of row streams with each.
 *
 * The parent process owns the sockets and the peer table and never opens
 * the database: every piece of database work (the digest announced, each
 * exchange) runs in a child process, one at a time.  A child that meets
 * hostile or broken input dies (the library's errors exit), its open
 * transaction is rolled back, and the parent counts the failure and goes on.
 *
 * The protocol is written down in smg-beacon(1); lib/frame.c is the framing,
 * lib/exchange.c the exchange itself.  This file keeps the event loop, the
 * UDP announcements, the peer table and the reports.
 */
#include "apply.h"
#include "cli.h"
#include "exchange.h"
#include "progress.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

static const char usage[] =
	"usage: smg-beacon [options] [DB]\n"
	"       smg-beacon [options] --stdio [DB]\n"
	"       smg-beacon [options] --connect COMMAND [DB]\n"
	"Find peers on the LAN by UDP broadcast and exchange rows with each over TCP,\n"
	"so that every peer's database converges (smg-beacon(1)).  DB defaults to the\n"
	"configuration's local_db.  Options override [broadcast] and [sync].\n"
	"      --secret-file FILE     the shared secret: 64 hex digits (default\n"
	"                             [broadcast] secret, $SMUGGLR_BROADCAST_SECRET)\n"
	"      --insecure             run without a secret: nothing is encrypted\n"
	"      --once                 one round with every peer seen, then exit\n"
	"      --dry-run              discover and report; write nothing, accept nothing\n"
	"      --stdio                no LAN: serve one exchange on standard input and\n"
	"                             output (the far end of --connect)\n"
	"      --connect COMMAND      no LAN: run COMMAND (sh -c) and exchange once with\n"
	"                             the smg-beacon --stdio it starts\n"
	"  -o, --output FORMAT        text (default) or json\n"
	"      --port N               UDP and TCP port (default 31337)\n"
	"      --interval SECS        seconds between announcements (default 5)\n"
	"      --peer-timeout SECS    forget a peer silent this long (default 30)\n"
	"      --wait SECS            --once: how long to listen for peers\n"
	"                             (default twice the interval)\n"
	"      --group NAME           peers sync only within a group (default: derived\n"
	"                             from the tables and columns synced)\n"
	"      --name NAME            how this peer calls itself (default: host name)\n"
	"  -p, --policy POLICY        newer_wins, uuid_v7_wins or local_wins (default:\n"
	"                             [sync] conflict_resolution when set, else\n"
	"                             newer_wins)\n"
	SMG_SELECT_USAGE
	"  -v, --verbose              say more on stderr\n"
	"  -q, --quiet                no progress line on stderr\n"
	"  -h, --help                 this help\n"
	"      --version              print the version\n";

/* Limits and timeouts (the exchange's are in exchange.h): the protocol
 * section of smg-beacon(1) quotes them. */
#define CONNECT_MS 5000
#define UDP_BUF 2048
#define ANN_MAX 512			/* announcement payload limit */
#define MAX_PEERS 256
#define BACKOFF_MAX_MS 60000
#define PENDING_MAX 64			/* connections not yet past HELLO, at once */
#define PENDING_PER_ADDR 4		/* of them from one address */
#define REPLAY_SLOTS 1024		/* HELLOs remembered */

/* ---- options and state ---------------------------------------------------- */

static struct {
	const char *db;
	bool insecure, once, dry_run, json, verbose;
	int port;
	int64_t interval_ms, peer_timeout_ms, wait_ms;
	const char *group;
	bool stdio;			/* serve one exchange on stdin and stdout */
	const char *command;		/* --connect: the peer is what this runs */
	char name[SMG_ANN_NAME_MAX + 1];
	enum smg_policy policy;
	struct smg_select sel;
} o;

static bool have_key;
static uint8_t secret[SMG_KEY_LEN], ann_key[SMG_KEY_LEN];
static uint8_t my_id[SMG_ID_LEN];
static uint8_t my_group[SMG_GROUP_LEN], my_digest[32];
static bool fixed_group;
static int udp_fd = -1, listen_fd = -1, tcp_port;
static char tmpdir[4096];
static int stdio_out = -1;	/* --stdio: where the channel writes (our stdout) */
static volatile sig_atomic_t stop;

struct peer {
	uint8_t id[SMG_ID_LEN];
	struct sockaddr_in addr;	/* source address, announced TCP port */
	char name[SMG_ANN_NAME_MAX + 1];
	uint8_t digest[32];
	uint16_t flags;
	bool expired, announced, target, done;
	int64_t last_seen, next_try;
	int failures_in_row;
	/* what both digests were when an exchange last succeeded */
	bool synced_valid;
	uint8_t synced_mine[32], synced_theirs[32];
	int exchanges, failures;
	uint64_t bytes_in, bytes_out;	/* on the wire, over all exchanges */
	char last_error[400];
	struct smg_tally *tables;
	size_t ntables;
};

static struct peer peers[MAX_PEERS];
static size_t npeers;

/* dropped input, by reason: frame errors plus a few of our own */
enum { DROP_OTHER_GROUP = SMG_FRAME_NERR, DROP_BAD_DATA, DROP_BUSY, DROP_NREASONS };
static uint64_t dropped[DROP_NREASONS];
static int64_t ex_ok, ex_failed;
static int64_t total_sent, total_received;
static struct smg_tally *totals;
static size_t ntotals;

static const char *drop_name(int i)
{
	return i == DROP_OTHER_GROUP ? "other_group" : i == DROP_BAD_DATA ? "bad_data"
	       : i == DROP_BUSY ? "busy" : smg_frame_errname(i);
}

/* A status line.  Without a secret every line on stderr, the library's
 * errors too, reads "smg-beacon: INSECURE: ..." (see main). */
static void status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void status(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	smg_vwarn(fmt, ap);
	va_end(ap);
}

#define verbose(...) do { if (o.verbose) status(__VA_ARGS__); } while (0)

static const char *idhex(const uint8_t id[SMG_ID_LEN])
{
	static char buf[4][2 * SMG_ID_LEN + 1];
	static int k;
	k = (k + 1) % 4;
	smg_hex(id, SMG_ID_LEN, buf[k]);
	return buf[k];
}

/* ---- cleaning up ------------------------------------------------------------- */

static pid_t job_pid = -1;

static void parent_atdie(void)
{
	if (job_pid > 0)
		kill(job_pid, SIGKILL);
	if (tmpdir[0]) {
		smg_exchange_clean(tmpdir);
		rmdir(tmpdir);
	}
}

/* The spools of beacons that died without cleaning up (kill -9): a
 * directory smg-beacon.PID.XXXXXX of ours whose process is gone. */
static void remove_dead_spools(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		long pid;
		char rest[16];
		if (sscanf(e->d_name, "smg-beacon.%ld.%15s", &pid, rest) != 2 || pid <= 0 ||
		    strlen(rest) != 6)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid())
			continue;
		smg_exchange_clean(path);
		if (rmdir(path) == 0)
			status("removed %s, left by a beacon that was killed", path);
	}
	closedir(d);
}

/* ---- the database side ---------------------------------------------------- */

/* Open and close the database once, so that a missing file or one that is
 * not a database is reported as such, not as a malformed stream. */
static void check_db(void)
{
	if (!smg_path_is_sqlite(o.db))
		smg_db_close(smg_db_open(o.db, false));
	if (!smg_path_is_sqlite(o.db))
		smg_die(SMG_EXIT_DATA, "%s: empty, or not a SQLite database", o.db);
}

/* ---- child processes ------------------------------------------------------ */

static int result_fd = -1;	/* child: where the result lines go */

static void result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void result(const char *fmt, ...)
{
	struct smg_buf b = SMG_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	smg_buf_grow(&b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b.data, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b.len = (size_t)n;
	smg_buf_addc(&b, '\n');
	smg_write_all(result_fd, b.data, b.len, "the parent");
	smg_buf_free(&b);
}

static void job_digest(void)
{
	check_db();
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		smg_die(SMG_EXIT_FAILURE, "/dev/null: %s", strerror(errno));
	uint8_t d[32] = {0}, g[SMG_GROUP_LEN];
	if (o.stdio || o.command)	/* nothing to announce: the group will do */
		smg_exchange_group(o.db, &o.sel, g);
	else
		smg_exchange_keys(o.db, &o.sel, fd, "/dev/null", d, g);
	close(fd);
	char dh[65], gh[65];
	smg_hex(d, 32, dh);
	smg_hex(g, SMG_GROUP_LEN, gh);
	result("digest %s %s", dh, gh);
}

/* ---- the exchange (child) ------------------------------------------------- */

static void report_stats(const struct smg_exchange *x)
{
	if (x->not_a_stream)
		result("stat %s 1", drop_name(DROP_BAD_DATA));
	if (x->other_group)
		result("stat %s 1", drop_name(DROP_OTHER_GROUP));
	for (int e = 1; e < SMG_FRAME_NERR; e++)
		if (x->st.n[e])
			result("stat %s %llu", smg_frame_errname(e), (unsigned long long)x->st.n[e]);
}

/* Tell the parent why the exchange failed, and exit with code. */
static _Noreturn void job_fail(const struct smg_exchange *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static _Noreturn void job_fail(const struct smg_exchange *x, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	report_stats(x);
	struct smg_buf b = SMG_BUF_INIT;
	smg_json_add_string(&b, msg, strlen(msg));
	result("fail %d %s", code, b.data);
	exit(code);
}

static int connect_to(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) < 0) {
		if (errno != EINPROGRESS) {
			close(fd);
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof err;
		int r;
		while ((r = poll(&p, 1, CONNECT_MS)) < 0 && errno == EINTR)
			;
		if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			close(fd);
			errno = r == 0 ? ETIMEDOUT : err ? err : errno;
			return -1;
		}
	}
	return fd;
}

/* --connect: run the command with a socket as its standard input and
 * output; the exchange speaks on the other end. */
static int spawn_peer(const char *command)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		smg_die(SMG_EXIT_FAILURE, "socketpair: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		smg_die(SMG_EXIT_FAILURE, "fork: %s", strerror(errno));
	if (pid == 0) {
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	return sv[0];
}

static void job_exchange(int fd, bool initiator, const uint8_t *expect_id,
			 const struct sockaddr_in *sa)
{
	struct smg_exchange_opts xo = {
		.db = o.db, .sel = &o.sel, .policy = o.policy, .dry_run = o.dry_run,
		.verbose = o.verbose, .name = o.name, .group = my_group,
		.secret = have_key ? secret : NULL, .my_id = my_id, .tmpdir = tmpdir,
	};
	struct smg_exchange x;
	smg_exchange_init(&x, &xo, initiator);
	if (initiator && o.command) {
		fd = spawn_peer(o.command);
	} else if (initiator) {
		fd = connect_to(sa);
		if (fd < 0)
			job_fail(&x, SMG_EXIT_NETWORK, "connect to %s:%d: %s",
				 inet_ntoa(sa->sin_addr), ntohs(sa->sin_port), strerror(errno));
	}
	int e = smg_exchange_handshake_fds(&x, fd, o.stdio ? stdio_out : fd);
	if (e)
		job_fail(&x, e, "%s", x.error);
	e = smg_exchange_meta(&x);
	/* a HELLO alone may be a replay: the peer is named once it proved
	 * it holds this session's keys */
	if (!x.confirmed)
		job_fail(&x, e ? e : SMG_EXIT_DATA, "handshake not confirmed: %s", x.error);
	result("peer %s", idhex(x.peer_id));
	if (expect_id && memcmp(expect_id, x.peer_id, SMG_ID_LEN))
		job_fail(&x, SMG_EXIT_DATA, "a different peer answered (id %s)", idhex(x.peer_id));
	if (x.peer_named) {
		struct smg_buf nb = SMG_BUF_INIT;
		smg_json_add_string(&nb, x.peer_name, strlen(x.peer_name));
		result("name %s", nb.data);
		smg_buf_free(&nb);
	}
	if (!e)
		e = smg_exchange_rows(&x);
	if (e)
		job_fail(&x, e, "%s", x.error);
	result("bytes %llu %llu", (unsigned long long)x.bytes_in, (unsigned long long)x.bytes_out);
	smg_exchange_apply(&x);
	if (x.conflicts)
		result("conflicts %lld", (long long)x.conflicts);
	for (size_t i = 0; i < x.ntables; i++) {
		struct smg_buf b = SMG_BUF_INIT;
		smg_json_add_string(&b, x.tables[i].name, strlen(x.tables[i].name));
		result("table %lld %lld %s", (long long)x.tables[i].sent,
		       (long long)x.tables[i].received, b.data);
		smg_buf_free(&b);
	}
	report_stats(&x);
	result("ok");
	smg_exchange_free(&x);
}

/* ---- jobs, as the parent sees them --------------------------------------- */

enum job_kind { JOB_NONE, JOB_DIGEST, JOB_EXCHANGE };

static struct {
	enum job_kind kind;
	int fd;			/* result pipe */
	struct smg_buf out;
	int peer;		/* index, or -1 until the child names it */
	bool initiator;
	struct sockaddr_in addr;
	uint8_t digest_mine[32], digest_theirs[32];
} job = {.fd = -1, .peer = -1};

static void child_signals(void)
{
	/* a stop request waits for the exchange in progress to finish */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- connections not yet past HELLO ---------------------------------------- */

/*
 * The parent holds every accepted connection until its whole HELLO frame
 * has arrived, and only then gives it the exchange slot: a connection that
 * says nothing costs a slot in this table for SMG_EXCHANGE_HELLO_WAIT_MS,
 * never the exchange slot, and one address holds at most PENDING_PER_ADDR.
 * A HELLO seen before (by its tag) is refused unread.
 */
static struct pending {
	int fd;
	struct sockaddr_in from;
	int64_t since;
	bool ready;			/* its HELLO is all there */
	uint8_t tag[SMG_FRAME_TAG];
} pend[PENDING_MAX];
static size_t npend;
static uint8_t seen_hello[REPLAY_SLOTS][SMG_FRAME_TAG];
static size_t nseen_hello;

static void close_pending_except(int keep)
{
	for (size_t i = 0; i < npend; i++)
		if (pend[i].fd != keep)
			close(pend[i].fd);
}

static void drop(int reason, const struct sockaddr_in *from);

static void pending_remove(size_t i, bool close_it)
{
	if (close_it)
		close(pend[i].fd);
	pend[i] = pend[--npend];
}

static void pending_add(int fd, const struct sockaddr_in *from)
{
	size_t same = 0, idle = npend;
	for (size_t i = 0; i < npend; i++) {
		if (pend[i].from.sin_addr.s_addr == from->sin_addr.s_addr)
			same++;
		if (!pend[i].ready && (idle == npend || pend[i].since < pend[idle].since))
			idle = i;
	}
	if (same >= PENDING_PER_ADDR || (npend == PENDING_MAX && idle == npend)) {
		close(fd);
		drop(DROP_BUSY, from);
		return;
	}
	if (npend == PENDING_MAX) {	/* the longest silent makes room */
		drop(DROP_BUSY, &pend[idle].from);
		pending_remove(idle, true);
	}
	pend[npend++] = (struct pending){.fd = fd, .from = *from, .since = smg_mono_ms()};
}

static void accept_all(void)
{
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		int c = accept4(listen_fd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			return;
		verbose("connection from %s", inet_ntoa(from.sin_addr));
		pending_add(c, &from);
	}
}

/* Has pend[i]'s HELLO all arrived?  -1: drop the connection. */
static int hello_arrived(struct pending *p)
{
	uint8_t buf[SMG_FRAME_HDR + SMG_HELLO_LEN + SMG_FRAME_TAG];
	ssize_t n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
		return -1;
	if (n < SMG_FRAME_HDR)
		return 0;
	struct smg_frame_hdr h;
	int e = smg_frame_parse_header(buf, (size_t)n, have_key, SMG_FRAME_HELLO_MAX, &h);
	if (!e && (h.type != SMG_F_HELLO || h.len != SMG_HELLO_LEN))
		e = SMG_FRAME_ETYPE;
	if (e) {
		drop(e, &p->from);
		return -1;
	}
	if ((size_t)n < sizeof buf)
		return 0;
	memcpy(p->tag, buf + sizeof buf - SMG_FRAME_TAG, SMG_FRAME_TAG);
	return 1;
}

static void check_pending(int64_t now)
{
	for (size_t i = npend; i-- > 0;) {
		struct pending *p = &pend[i];
		int r = p->ready ? 1 : hello_arrived(p);
		if (r < 0) {
			pending_remove(i, true);
		} else if (r == 0 && now - p->since > SMG_EXCHANGE_HELLO_WAIT_MS) {
			drop(SMG_FRAME_ETIMEOUT, &p->from);
			pending_remove(i, true);
		} else if (r == 1 && now - p->since > SMG_EXCHANGE_IO_TIMEOUT_MS) {
			pending_remove(i, true);	/* the client gave up waiting */
		} else {
			p->ready = r == 1;
		}
	}
}

static bool hello_seen(const uint8_t tag[SMG_FRAME_TAG])
{
	size_t n = nseen_hello < REPLAY_SLOTS ? nseen_hello : REPLAY_SLOTS;
	for (size_t i = 0; i < n; i++)
		if (!memcmp(seen_hello[i], tag, SMG_FRAME_TAG))
			return true;
	memcpy(seen_hello[nseen_hello++ % REPLAY_SLOTS], tag, SMG_FRAME_TAG);
	return false;
}

static void start_job(enum job_kind kind, int conn_fd, int peer, const struct sockaddr_in *sa);

/* The longest waiting connection whose HELLO is there gets the slot. */
static bool serve_pending(void)
{
	size_t best = npend;
	for (size_t i = 0; i < npend; i++)
		if (pend[i].ready && (best == npend || pend[i].since < pend[best].since))
			best = i;
	if (best == npend)
		return false;
	struct pending p = pend[best];
	pending_remove(best, false);
	if (hello_seen(p.tag)) {
		drop(SMG_FRAME_EREPLAY, &p.from);
		close(p.fd);
		return true;
	}
	start_job(JOB_EXCHANGE, p.fd, -1, &p.from);
	return true;
}

static void start_job(enum job_kind kind, int conn_fd, int peer, const struct sockaddr_in *sa)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		smg_die(SMG_EXIT_FAILURE, "pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid_t parent = getpid(), pid = fork();
	if (pid < 0)
		smg_die(SMG_EXIT_FAILURE, "fork: %s", strerror(errno));
	if (pid == 0) {
		child_signals();
		/* a child outliving its parent would exchange for nobody */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(SMG_EXIT_FAILURE);
		smg_atdie(NULL);
		close(p[0]);
		if (udp_fd >= 0)
			close(udp_fd);
		if (listen_fd >= 0)
			close(listen_fd);
		close_pending_except(conn_fd);
		result_fd = p[1];
		if (kind == JOB_DIGEST)
			job_digest();
		else
			job_exchange(conn_fd, conn_fd < 0, peer >= 0 ? peers[peer].id : NULL, sa);
		exit(SMG_EXIT_OK);
	}
	close(p[1]);
	if (conn_fd >= 0)
		close(conn_fd);
	job_pid = pid;
	job.kind = kind;
	job.fd = p[0];
	job.peer = peer;
	job.initiator = conn_fd < 0;
	if (sa)
		job.addr = *sa;
	smg_buf_reset(&job.out);
	memcpy(job.digest_mine, my_digest, 32);
	if (peer >= 0)
		memcpy(job.digest_theirs, peers[peer].digest, 32);
}

static int find_peer(const uint8_t id[SMG_ID_LEN])
{
	for (size_t i = 0; i < npeers; i++)
		if (!memcmp(peers[i].id, id, SMG_ID_LEN))
			return (int)i;
	return -1;
}

static int add_peer(const uint8_t id[SMG_ID_LEN])
{
	int i = find_peer(id);
	if (i >= 0)
		return i;
	if (npeers == MAX_PEERS) {
		/* forget the peer silent longest */
		size_t old = 0;
		for (size_t k = 1; k < npeers; k++)
			if (peers[k].last_seen < peers[old].last_seen)
				old = k;
		smg_tallies_free(peers[old].tables, peers[old].ntables);
		peers[old] = peers[--npeers];
		if (job.peer == (int)old)
			job.peer = -1;
		else if (job.peer == (int)npeers)
			job.peer = (int)old;
	}
	struct peer *p = &peers[npeers];
	memset(p, 0, sizeof *p);
	memcpy(p->id, id, SMG_ID_LEN);
	strcpy(p->name, "?");
	p->last_seen = smg_mono_ms();
	return (int)npeers++;
}

static void print_event(const struct peer *p, bool ok, const struct smg_tally *t, size_t nt,
			const char *err);

/* The child ended: read what it said and account for it. */
static int finish_job(void)
{
	int st = 0;
	while (waitpid(job_pid, &st, 0) < 0 && errno == EINTR)
		;
	job_pid = -1;
	close(job.fd);
	job.fd = -1;
	enum job_kind kind = job.kind;
	job.kind = JOB_NONE;
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : SMG_EXIT_FAILURE;
	bool ok = false, failed_cleanly = false;
	char err[400] = "";
	uint64_t bin = 0, bout = 0;
	struct smg_tally *tables = NULL;
	size_t ntables = 0;
	char *line = job.out.data, *nl;
	while (line && (nl = strchr(line, '\n'))) {
		*nl = '\0';
		char a[65], b[65];
		long long x1, x2;
		int off = 0;
		if (kind == JOB_DIGEST && sscanf(line, "digest %64s %64s", a, b) == 2) {
			sodium_hex2bin(my_digest, 32, a, 64, NULL, NULL, NULL);
			if (!fixed_group)
				sodium_hex2bin(my_group, SMG_GROUP_LEN, b, 64, NULL, NULL, NULL);
			ok = true;
		} else if (sscanf(line, "peer %32s", a) == 1) {
			uint8_t id[SMG_ID_LEN];
			if (sodium_hex2bin(id, sizeof id, a, strlen(a), NULL, NULL, NULL) == 0) {
				job.peer = add_peer(id);
				if (!job.initiator && !peers[job.peer].announced) {
					peers[job.peer].addr = job.addr;
					peers[job.peer].addr.sin_port = 0;
				}
			}
		} else if (sscanf(line, "table %lld %lld %n", &x1, &x2, &off) == 2 && off) {
			struct smg_buf scratch = SMG_BUF_INIT;
			struct smg_json j;
			const char *s;
			size_t sn;
			smg_json_init(&j, line + off, strlen(line + off), &scratch);
			if (smg_json_string(&j, &s, &sn)) {
				char *name = smg_xstrndup(s, sn);
				struct smg_tally *t = smg_tally_get(&tables, &ntables, name);
				t->sent += x1;
				t->received += x2;
				free(name);
			}
			smg_buf_free(&scratch);
		} else if (sscanf(line, "stat %64s %lld", a, &x1) == 2) {
			for (int e = 1; e < DROP_NREASONS; e++)
				if (!strcmp(a, drop_name(e)))
					dropped[e] += (uint64_t)x1;
		} else if (sscanf(line, "bytes %lld %lld", &x1, &x2) == 2) {
			bin = (uint64_t)x1;
			bout = (uint64_t)x2;
		} else if (sscanf(line, "fail %lld %n", &x1, &off) == 1 && off) {
			struct smg_buf scratch = SMG_BUF_INIT;
			struct smg_json j;
			const char *s;
			size_t sn;
			smg_json_init(&j, line + off, strlen(line + off), &scratch);
			if (smg_json_string(&j, &s, &sn))
				smg_clean_text(err, sizeof err, s, sn);
			smg_buf_free(&scratch);
			failed_cleanly = true;
		} else if (!strncmp(line, "name ", 5) && job.peer >= 0) {
			struct smg_buf scratch = SMG_BUF_INIT;
			struct smg_json j;
			const char *s;
			size_t sn;
			smg_json_init(&j, line + 5, strlen(line + 5), &scratch);
			if (smg_json_string(&j, &s, &sn) && !peers[job.peer].announced)
				smg_clean_text(peers[job.peer].name, sizeof peers[job.peer].name, s, sn);
			smg_buf_free(&scratch);
		} else if (!strcmp(line, "ok")) {
			ok = true;
		}
		line = nl + 1;
	}
	smg_buf_reset(&job.out);
	if (code != 0)
		ok = false;
	char how[64];
	if (WIFSIGNALED(st))
		snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(how, sizeof how, "exit code %d", code);
	if (!ok && !err[0])
		snprintf(err, sizeof err, "exchange ended with %s%s", how,
			 code == SMG_EXIT_DATA ? " (bad data from the peer?)" : "");
	if (kind == JOB_DIGEST) {
		if (!ok)
			status("%s: could not read the database (%s)", o.db, how);
		return ok ? 0 : (code ? code : SMG_EXIT_FAILURE);
	}
	/* the child died of malformed data (the library's error said what) */
	if (!ok && code == SMG_EXIT_DATA && !failed_cleanly)
		dropped[DROP_BAD_DATA]++;
	struct peer *p = job.peer >= 0 ? &peers[job.peer] : NULL;
	if (ok)
		ex_ok++;
	else
		ex_failed++;
	if (p) {
		p->done = true;
		if (ok) {
			p->exchanges++;
			p->failures_in_row = 0;
			p->synced_valid = true;
			memcpy(p->synced_mine, job.digest_mine, 32);
			memcpy(p->synced_theirs, job.digest_theirs, 32);
			p->next_try = smg_mono_ms();
		} else {
			p->failures++;
			p->failures_in_row++;
			int64_t back = o.interval_ms << (p->failures_in_row < 8 ? p->failures_in_row : 8);
			p->next_try = smg_mono_ms() + (back < BACKOFF_MAX_MS ? back : BACKOFF_MAX_MS);
			snprintf(p->last_error, sizeof p->last_error, "%s", err);
		}
		p->bytes_in += bin;
		p->bytes_out += bout;
		for (size_t i = 0; i < ntables; i++) {
			struct smg_tally *t = smg_tally_get(&p->tables, &p->ntables, tables[i].name);
			t->sent += tables[i].sent;
			t->received += tables[i].received;
		}
	}
	int64_t got = 0;
	for (size_t i = 0; i < ntables; i++) {
		struct smg_tally *t = smg_tally_get(&totals, &ntotals, tables[i].name);
		t->sent += tables[i].sent;
		t->received += tables[i].received;
		total_sent += tables[i].sent;
		total_received += tables[i].received;
		got += tables[i].received;
	}
	struct peer anon;
	if (!p) {
		memset(&anon, 0, sizeof anon);
		strcpy(anon.name, "?");
		anon.addr = job.addr;
	}
	print_event(p ? p : &anon, ok, tables, ntables, ok ? NULL : err);
	if (bin || bout)
		verbose("%llu bytes in, %llu out", (unsigned long long)bin, (unsigned long long)bout);
	smg_tallies_free(tables, ntables);
	/* our rows changed: what we announce must too */
	return got > 0 ? -1 : 0;
}

/* Run a digest job to its end (the parent has nothing else to do meanwhile). */
static int run_digest(void)
{
	start_job(JOB_DIGEST, -1, -1, NULL);
	char buf[512];
	ssize_t n;
	while ((n = smg_read_retry(job.fd, buf, sizeof buf)) > 0)
		smg_buf_add(&job.out, buf, (size_t)n);
	return finish_job();
}

/* ---- reports ------------------------------------------------------------------ */

static void json_tables(struct smg_buf *b, const struct smg_tally *t, size_t n)
{
	smg_buf_addc(b, '{');
	for (size_t i = 0; i < n; i++) {
		if (i)
			smg_buf_addc(b, ',');
		smg_json_add_string(b, t[i].name, strlen(t[i].name));
		smg_buf_addf(b, ":{\"sent\":%lld,\"received\":%lld}", (long long)t[i].sent,
			     (long long)t[i].received);
	}
	smg_buf_addc(b, '}');
}

static void json_peer(struct smg_buf *b, const struct peer *p)
{
	smg_buf_addf(b, "{\"id\":\"%s\",\"name\":", idhex(p->id));
	smg_json_add_string(b, p->name, strlen(p->name));
	smg_buf_addf(b, ",\"address\":\"%s\",\"port\":%d,\"passive\":%s,\"expired\":%s,"
		     "\"exchanges\":%d,\"failures\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,"
		     "\"last_error\":",
		     inet_ntoa(p->addr.sin_addr), ntohs(p->addr.sin_port),
		     p->flags & SMG_ANN_PASSIVE ? "true" : "false", p->expired ? "true" : "false",
		     p->exchanges, p->failures, (unsigned long long)p->bytes_in,
		     (unsigned long long)p->bytes_out);
	if (p->last_error[0])
		smg_json_add_string(b, p->last_error, strlen(p->last_error));
	else
		smg_buf_adds(b, "null");
	smg_buf_adds(b, ",\"tables\":");
	json_tables(b, p->tables, p->ntables);
	smg_buf_addc(b, '}');
}

static const char *peer_label(const struct peer *p)
{
	static char buf[200];
	const char *where = o.command ? "through --connect" : o.stdio ? "on standard input"
			    : inet_ntoa(p->addr.sin_addr);
	snprintf(buf, sizeof buf, "%s (%s, id %.8s)", p->name, where, idhex(p->id));
	return buf;
}

static void print_event(const struct peer *p, bool ok, const struct smg_tally *t, size_t nt,
			const char *err)
{
	int64_t s = 0, r = 0;
	for (size_t i = 0; i < nt; i++) {
		s += t[i].sent;
		r += t[i].received;
	}
	const char *would = o.dry_run ? "would " : "";
	if (ok)
		status("exchange with %s: %ssent %lld rows, %sreceived %lld", peer_label(p), would,
		       (long long)s, would, (long long)r);
	else
		status("exchange with %s failed: %s", peer_label(p), err);
	if (o.json && !o.once && !o.stdio && !o.command) {
		struct smg_buf b = SMG_BUF_INIT;
		smg_buf_adds(&b, "{\"event\":\"exchange\",\"ok\":");
		smg_buf_adds(&b, ok ? "true" : "false");
		smg_buf_addf(&b, ",\"insecure\":%s,\"dry_run\":%s,\"peer\":",
			     o.insecure ? "true" : "false", o.dry_run ? "true" : "false");
		json_peer(&b, p);
		smg_buf_addf(&b, ",\"sent\":%lld,\"received\":%lld,\"error\":", (long long)s,
			     (long long)r);
		if (err)
			smg_json_add_string(&b, err, strlen(err));
		else
			smg_buf_adds(&b, "null");
		smg_buf_adds(&b, ",\"tables\":");
		json_tables(&b, t, nt);
		smg_buf_adds(&b, "}\n");
		smg_write_all(1, b.data, b.len, "stdout");
		smg_buf_free(&b);
	}
}

static void print_summary(void)
{
	struct smg_buf b = SMG_BUF_INIT;
	char gh[65];
	smg_hex(my_group, SMG_GROUP_LEN, gh);
	if (o.json) {
		smg_buf_addf(&b, "{\"program\":\"smg-beacon\",\"version\":\"%s\",\"insecure\":%s,"
			     "\"dry_run\":%s,\"database\":", SMG_VERSION,
			     o.insecure ? "true" : "false", o.dry_run ? "true" : "false");
		smg_json_add_string(&b, o.db, strlen(o.db));
		smg_buf_addf(&b, ",\"id\":\"%s\",\"group\":\"%s\",\"port\":%d,\"peers\":[",
			     idhex(my_id), gh, o.port);
		for (size_t i = 0; i < npeers; i++) {
			if (i)
				smg_buf_addc(&b, ',');
			json_peer(&b, &peers[i]);
		}
		smg_buf_addf(&b, "],\"exchanges\":{\"ok\":%lld,\"failed\":%lld},"
			     "\"sent\":%lld,\"received\":%lld,\"tables\":",
			     (long long)ex_ok, (long long)ex_failed, (long long)total_sent,
			     (long long)total_received);
		json_tables(&b, totals, ntotals);
		smg_buf_adds(&b, ",\"dropped\":{");
		bool first = true;
		for (int i = 1; i < DROP_NREASONS; i++) {
			if (!dropped[i])
				continue;
			smg_buf_addf(&b, "%s\"%s\":%llu", first ? "" : ",", drop_name(i),
				     (unsigned long long)dropped[i]);
			first = false;
		}
		smg_buf_adds(&b, "}}\n");
	} else {
		const char *would = o.dry_run ? "would " : "";
		smg_buf_addf(&b, "%s%s: group %.16s, %zu peer%s seen, %lld exchange%s, %lld failed\n",
			     o.insecure ? "INSECURE: " : "", o.db, gh, npeers,
			     npeers == 1 ? "" : "s", (long long)ex_ok, ex_ok == 1 ? "" : "s",
			     (long long)ex_failed);
		for (size_t i = 0; i < npeers; i++) {
			const struct peer *p = &peers[i];
			smg_buf_addf(&b, "peer %s%s%s\n", peer_label(p), p->expired ? " expired" : "",
				     p->flags & SMG_ANN_PASSIVE ? " passive" : "");
			for (size_t k = 0; k < p->ntables; k++)
				smg_buf_addf(&b, "  %s: %ssent %lld, %sreceived %lld\n",
					     p->tables[k].name, would, (long long)p->tables[k].sent,
					     would, (long long)p->tables[k].received);
			if (p->last_error[0])
				smg_buf_addf(&b, "  last error: %s\n", p->last_error);
		}
		for (int i = 1; i < DROP_NREASONS; i++)
			if (dropped[i])
				smg_buf_addf(&b, "dropped %s: %llu\n", drop_name(i),
					     (unsigned long long)dropped[i]);
	}
	smg_write_all(1, b.data, b.len, "stdout");
	smg_buf_free(&b);
}

/* ---- UDP ----------------------------------------------------------------------- */

static uint64_t ann_seq;

static void announce(void)
{
	struct smg_announce a;
	memset(&a, 0, sizeof a);
	a.ts_ms = smg_now_ms();
	a.port = o.dry_run ? 0 : (uint16_t)tcp_port;
	a.flags = o.dry_run ? SMG_ANN_PASSIVE : 0;
	memcpy(a.group, my_group, SMG_GROUP_LEN);
	memcpy(a.digest, my_digest, 32);
	memcpy(a.name, o.name, sizeof a.name);
	struct smg_buf pl = SMG_BUF_INIT, f = SMG_BUF_INIT;
	smg_announce_encode(&a, &pl);
	smg_frame_seal(&f, have_key ? ann_key : NULL, SMG_F_ANNOUNCE, ++ann_seq, my_id, pl.data,
		       pl.len);
	struct ifaddrs *ifs, *i;
	if (getifaddrs(&ifs) < 0) {
		status("getifaddrs: %s", strerror(errno));
		return;
	}
	int sent = 0;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    !(i->ifa_flags & IFF_UP) || !(i->ifa_flags & IFF_BROADCAST) ||
		    (i->ifa_flags & IFF_LOOPBACK) || !i->ifa_broadaddr)
			continue;
		struct sockaddr_in to = *(struct sockaddr_in *)i->ifa_broadaddr;
		to.sin_port = htons((uint16_t)o.port);
		if (sendto(udp_fd, f.data, f.len, 0, (struct sockaddr *)&to, sizeof to) < 0)
			verbose("announce on %s (%s): %s", i->ifa_name, inet_ntoa(to.sin_addr),
				strerror(errno));
		else
			sent++;
	}
	freeifaddrs(ifs);
	static bool warned;
	if (!sent && !warned) {
		status("no interface with a broadcast address is up: nobody can hear us");
		warned = true;
	}
	smg_buf_free(&pl);
	smg_buf_free(&f);
}

static struct smg_guard guard;

static void drop(int reason, const struct sockaddr_in *from)
{
	dropped[reason]++;
	verbose("dropped a packet from %s: %s", inet_ntoa(from->sin_addr),
		reason < SMG_FRAME_NERR ? smg_frame_strerror(reason) : drop_name(reason));
}

/* A new instance at a peer's address and port is that peer restarted:
 * the old one is gone, and connecting to it would reach the new one. */
static void forget_replaced(const struct peer *p)
{
	for (size_t i = 0; i < npeers; i++) {
		struct peer *q = &peers[i];
		if (q != p && q->announced && !q->expired &&
		    q->addr.sin_addr.s_addr == p->addr.sin_addr.s_addr &&
		    q->addr.sin_port == p->addr.sin_port) {
			q->expired = true;
			verbose("peer %s was replaced by id %.8s", peer_label(q), idhex(p->id));
		}
	}
}

/* A peer whose clock is off by more than the window is dropped, every
 * time: say so once per peer, verbose or not (--once then fails). */
#define SKEWED_MAX 64
static uint8_t skewed[SKEWED_MAX][SMG_ID_LEN];
static size_t nskewed;

static void report_skew(const uint8_t id[SMG_ID_LEN], const struct smg_announce *a,
			const struct sockaddr_in *from, int64_t now_ms)
{
	if (memcmp(a->group, my_group, SMG_GROUP_LEN))
		return;
	for (size_t i = 0; i < nskewed && i < SKEWED_MAX; i++)
		if (!memcmp(skewed[i], id, SMG_ID_LEN))
			return;
	memcpy(skewed[nskewed++ % SKEWED_MAX], id, SMG_ID_LEN);
	status("peer %s (%s, id %.8s): its clock is %+.0f s from ours, more than the %d s "
	       "allowed: its announcements are dropped until the clocks agree", a->name,
	       inet_ntoa(from->sin_addr), idhex(id), (double)(a->ts_ms - now_ms) / 1000,
	       SMG_ANNOUNCE_WINDOW_MS / 1000);
}

static void receive_udp(void)
{
	uint8_t buf[UDP_BUF];
	struct smg_buf pl = SMG_BUF_INIT;
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(udp_fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fl);
		if (n < 0)
			break;
		if (fl != sizeof from || from.sin_family != AF_INET)
			continue;
		if ((size_t)n > sizeof buf) {
			drop(SMG_FRAME_ETOOBIG, &from);
			continue;
		}
		struct smg_frame_hdr h;
		int e = smg_frame_decode(have_key ? ann_key : NULL, buf, (size_t)n, ANN_MAX, &h, &pl);
		if (e) {
			drop(e, &from);
			continue;
		}
		if (!memcmp(h.id, my_id, SMG_ID_LEN))
			continue;	/* our own, heard back */
		struct smg_announce a;
		if (h.type != SMG_F_ANNOUNCE ||
		    smg_announce_decode((uint8_t *)pl.data, pl.len, &a) != 0) {
			drop(SMG_FRAME_ETYPE, &from);
			continue;
		}
		int64_t now_ms = smg_now_ms();
		e = smg_guard_check(&guard, h.id, h.seq, a.ts_ms, now_ms);
		if (e == SMG_FRAME_ESTALE)
			report_skew(h.id, &a, &from, now_ms);
		if (e) {
			drop(e, &from);
			continue;
		}
		if (memcmp(a.group, my_group, SMG_GROUP_LEN)) {
			drop(DROP_OTHER_GROUP, &from);
			continue;
		}
		int i = add_peer(h.id);
		struct peer *p = &peers[i];
		bool fresh = !p->announced || p->expired;
		p->announced = true;
		p->expired = false;
		p->addr = from;
		p->addr.sin_port = htons(a.port);
		p->flags = a.flags;
		memcpy(p->digest, a.digest, 32);
		memcpy(p->name, a.name, sizeof p->name);
		p->last_seen = smg_mono_ms();
		if (fresh) {
			status("peer %s%s", peer_label(p),
			       p->flags & SMG_ANN_PASSIVE ? " (dry run, passive)" : "");
			forget_replaced(p);
		}
	}
	smg_buf_free(&pl);
}

static void expire_peers(int64_t now)
{
	for (size_t i = 0; i < npeers; i++) {
		struct peer *p = &peers[i];
		if (p->announced && !p->expired && now - p->last_seen > o.peer_timeout_ms) {
			p->expired = true;
			status("peer %s went quiet", peer_label(p));
		}
	}
}

/* ---- sockets and setup ----------------------------------------------------------- */

static void open_sockets(void)
{
	int one = 1;
	udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (udp_fd < 0)
		smg_die(SMG_EXIT_FAILURE, "socket: %s", strerror(errno));
	setsockopt(udp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(udp_fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o.port),
				 .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (bind(udp_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		smg_die(SMG_EXIT_FAILURE, "UDP port %d: %s", o.port, strerror(errno));
	if (o.dry_run)
		return;	/* accept nothing */
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (listen_fd < 0)
		smg_die(SMG_EXIT_FAILURE, "socket: %s", strerror(errno));
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		/* the port is taken (another beacon on this host): any port will do,
		 * the announcements say which */
		sa.sin_port = 0;
		if (bind(listen_fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			smg_die(SMG_EXIT_FAILURE, "TCP: %s", strerror(errno));
	}
	socklen_t len = sizeof sa;
	getsockname(listen_fd, (struct sockaddr *)&sa, &len);
	tcp_port = ntohs(sa.sin_port);
	if (listen(listen_fd, 16) < 0)
		smg_die(SMG_EXIT_FAILURE, "listen: %s", strerror(errno));
}

static void on_signal(int sig)
{
	(void)sig;
	if (stop && job_pid > 0)	/* asked twice: do not wait for the exchange */
		kill(job_pid, SIGKILL);
	stop = 1;
}

static int64_t parse_secs(const char *s, const char *what)
{
	char *end;
	double d = strtod(s, &end);
	if (end == s || *end || !(d > 0) || d > 86400)
		smg_die(SMG_EXIT_USAGE, "%s: expected seconds (0 < N <= 86400), got \"%s\"", what, s);
	return (int64_t)(d * 1000);
}

static void read_secret_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		smg_die(SMG_EXIT_USAGE, "%s: %s", path, strerror(errno));
	char buf[256];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	if (!smg_secret_parse(buf, secret))
		smg_die(SMG_EXIT_USAGE, "%s: the secret must be 64 hex digits", path);
	sodium_memzero(buf, sizeof buf);
	have_key = true;
}

static void default_name(void)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	smg_clean_text(o.name, sizeof o.name, host, strlen(host));
	if (!o.name[0])
		strcpy(o.name, "smg-beacon");
}

/* ---- main loop --------------------------------------------------------------------- */

static bool id_below(const uint8_t *a, const uint8_t *b)
{
	return memcmp(a, b, SMG_ID_LEN) < 0;
}

/* Daemon: the next peer we should connect to, or -1. */
static int next_target(int64_t now)
{
	for (size_t i = 0; i < npeers; i++) {
		struct peer *p = &peers[i];
		if (!p->announced || p->expired || (p->flags & SMG_ANN_PASSIVE) || !p->addr.sin_port)
			continue;
		if (now < p->next_try)
			continue;
		if (o.once) {
			if (p->target && !p->done && (o.dry_run || id_below(my_id, p->id)))
				return (int)i;
			continue;
		}
		if (o.dry_run) {	/* one report per peer */
			if (!p->done)
				return (int)i;
			continue;
		}
		if (!id_below(my_id, p->id))
			continue;	/* the lower id connects: it will come to us */
		if (!memcmp(p->digest, my_digest, 32))
			continue;	/* already the same rows */
		if (p->synced_valid && !memcmp(p->synced_mine, my_digest, 32) &&
		    !memcmp(p->synced_theirs, p->digest, 32))
			continue;	/* nothing new since we last exchanged */
		return (int)i;
	}
	return -1;
}

static bool once_finished(void)
{
	for (size_t i = 0; i < npeers; i++)
		if (peers[i].target && !peers[i].done)
			return false;
	return true;
}

static struct stat db_stat, wal_stat;

static bool db_changed(void)
{
	struct stat a, b;
	char wal[4200];
	snprintf(wal, sizeof wal, "%s-wal", o.db);
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	stat(o.db, &a);
	stat(wal, &b);
	bool changed = a.st_mtim.tv_sec != db_stat.st_mtim.tv_sec ||
		       a.st_mtim.tv_nsec != db_stat.st_mtim.tv_nsec || a.st_size != db_stat.st_size ||
		       a.st_ino != db_stat.st_ino || b.st_mtim.tv_sec != wal_stat.st_mtim.tv_sec ||
		       b.st_mtim.tv_nsec != wal_stat.st_mtim.tv_nsec || b.st_size != wal_stat.st_size;
	db_stat = a;
	wal_stat = b;
	return changed;
}

static int run(void)
{
	int64_t start = smg_mono_ms(), next_announce = start, next_check = start + o.interval_ms;
	int64_t wait_until = start + o.wait_ms, deadline = 0;
	bool exchanging = !o.once;	/* --once: after the discovery window */
	int rc = SMG_EXIT_OK;
	db_changed();
	while (!stop) {
		int64_t now = smg_mono_ms();
		if (now >= next_announce) {
			announce();
			/* a little jitter keeps peers from announcing in lockstep */
			next_announce = now + o.interval_ms - o.interval_ms / 10 +
					(int64_t)randombytes_uniform((uint32_t)(o.interval_ms / 5 + 1));
		}
		expire_peers(now);
		if (o.once && !exchanging && now >= wait_until) {
			exchanging = true;
			size_t n = 0;
			for (size_t i = 0; i < npeers; i++)
				if (peers[i].announced && !peers[i].expired &&
				    !(peers[i].flags & SMG_ANN_PASSIVE) && !peers[i].done) {
					peers[i].target = true;
					n++;
				}
			verbose("discovery over: %zu peer%s to exchange with", n, n == 1 ? "" : "s");
			deadline = now + o.peer_timeout_ms;
		}
		if (o.once && exchanging && job.kind == JOB_NONE) {
			if (once_finished())
				break;
			if (now >= deadline) {
				for (size_t i = 0; i < npeers; i++)
					if (peers[i].target && !peers[i].done) {
						snprintf(peers[i].last_error, sizeof peers[i].last_error,
							 "never connected to us within %llds",
							 (long long)(o.peer_timeout_ms / 1000));
						status("%s: %s", peer_label(&peers[i]), peers[i].last_error);
						peers[i].failures++;
						ex_failed++;
						peers[i].done = true;
					}
				break;
			}
		}
		if (job.kind == JOB_NONE && !o.once && now >= next_check) {
			next_check = now + o.interval_ms;
			if (db_changed() && run_digest() > 0)
				status("%s: keeping the last digest", o.db);
			continue;
		}
		check_pending(now);
		if (job.kind == JOB_NONE && serve_pending())
			continue;
		if (job.kind == JOB_NONE && exchanging) {
			int t = next_target(now);
			if (t >= 0) {
				verbose("connecting to %s", peer_label(&peers[t]));
				start_job(JOB_EXCHANGE, -1, t, &peers[t].addr);
				continue;
			}
		}
		struct pollfd pf[3 + PENDING_MAX];
		int np = 0;
		pf[np++] = (struct pollfd){.fd = udp_fd, .events = POLLIN};
		int job_i = -1, listen_i = -1;
		if (job.kind != JOB_NONE) {
			job_i = np;
			pf[np++] = (struct pollfd){.fd = job.fd, .events = POLLIN};
		}
		if (listen_fd >= 0) {
			listen_i = np;
			pf[np++] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
		}
		for (size_t i = 0; i < npend; i++)
			if (!pend[i].ready)
				pf[np++] = (struct pollfd){.fd = pend[i].fd, .events = POLLIN};
		int64_t until = next_announce;
		if (o.once && !exchanging && wait_until < until)
			until = wait_until;
		if (o.once && exchanging && deadline < until)
			until = deadline;
		if (!o.once && next_check < until)
			until = next_check;
		int64_t ms = until - smg_mono_ms();
		if (((job.kind == JOB_NONE && exchanging) || npend) && ms > 200)
			ms = 200;	/* a backed-off peer may become due, a HELLO late */
		if (ms < 0)
			ms = 0;
		int r = poll(pf, (nfds_t)np, (int)ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			smg_die(SMG_EXIT_FAILURE, "poll: %s", strerror(errno));
		}
		if (pf[0].revents)
			receive_udp();
		if (listen_i >= 0 && pf[listen_i].revents)
			accept_all();
		if (job_i >= 0 && pf[job_i].revents) {
			char buf[4096];
			ssize_t n = smg_read_retry(job.fd, buf, sizeof buf);
			if (n > 0)
				smg_buf_add(&job.out, buf, (size_t)n);
			else {
				if (finish_job() < 0 && !o.once) {
					db_changed();	/* our own write: digest it once */
					run_digest();
				}
				if (!o.once)
					next_check = smg_mono_ms() + o.interval_ms;
			}
		}
	}
	/* stop asked: the exchange in progress finishes first */
	while (job.kind != JOB_NONE) {
		char buf[4096];
		ssize_t n = smg_read_retry(job.fd, buf, sizeof buf);
		if (n > 0)
			smg_buf_add(&job.out, buf, (size_t)n);
		else
			finish_job();
	}
	close_pending_except(-1);
	npend = 0;
	/* a daemon reports failures as it goes; --once sums them up */
	if (o.once && (ex_failed || nskewed))
		rc = SMG_EXIT_NETWORK;
	return rc;
}

/* --stdio and --connect: one exchange, no LAN. */
static int run_pipe(void)
{
	start_job(JOB_EXCHANGE, o.stdio ? 0 : -1, -1, NULL);
	char buf[4096];
	ssize_t n;
	while ((n = smg_read_retry(job.fd, buf, sizeof buf)) > 0)
		smg_buf_add(&job.out, buf, (size_t)n);
	finish_job();
	return ex_failed ? SMG_EXIT_NETWORK : SMG_EXIT_OK;
}

int main(int argc, char **argv)
{
	enum { O_SECRET = 256, O_INSECURE, O_ONCE, O_DRY, O_PORT, O_INTERVAL, O_PTIMEOUT,
	       O_WAIT, O_GROUP, O_NAME, O_VERSION, O_STDIO, O_CONNECT };
	static const struct option longopts[] = {
		SMG_SELECT_LONGOPTS,
		{"secret-file", required_argument, NULL, O_SECRET},
		{"insecure", no_argument, NULL, O_INSECURE},
		{"once", no_argument, NULL, O_ONCE},
		{"dry-run", no_argument, NULL, O_DRY},
		{"stdio", no_argument, NULL, O_STDIO},
		{"connect", required_argument, NULL, O_CONNECT},
		{"output", required_argument, NULL, 'o'},
		{"port", required_argument, NULL, O_PORT},
		{"interval", required_argument, NULL, O_INTERVAL},
		{"peer-timeout", required_argument, NULL, O_PTIMEOUT},
		{"wait", required_argument, NULL, O_WAIT},
		{"group", required_argument, NULL, O_GROUP},
		{"name", required_argument, NULL, O_NAME},
		{"policy", required_argument, NULL, 'p'},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, O_VERSION},
		{0},
	};
	smg_setprogname(argv[0]);
	if (sodium_init() < 0)
		smg_die(SMG_EXIT_FAILURE, "libsodium failed to initialise");
	smg_select_defaults(&o.sel);
	struct smg_config cfg;
	smg_cli_config(&cfg, argc, argv, &o.sel, NULL);
	o.port = cfg.broadcast.port;
	o.interval_ms = (int64_t)cfg.broadcast.interval_secs * 1000;
	o.peer_timeout_ms = (int64_t)cfg.broadcast.peer_timeout_secs * 1000;
	o.group = cfg.broadcast.group;
	o.insecure = cfg.broadcast.insecure;
	o.wait_ms = -1;
	/* among peers the policy must pick the same row on both sides: newer_wins
	 * unless the configuration says otherwise in so many words */
	o.policy = SMG_NEWER_WINS;
	if (cfg.doc && smg_toml_get(smg_toml_root(cfg.doc), "sync.conflict_resolution"))
		o.policy = cfg.sync.conflict_resolution;
	default_name();
	const char *secret_file = NULL;
	int c;
	while ((c = getopt_long(argc, argv, SMG_SELECT_SHORTOPTS "o:p:vqh", longopts, NULL)) != -1) {
		if (smg_select_getopt(&o.sel, c, optarg))
			continue;
		switch (c) {
		case O_SECRET: secret_file = optarg; break;
		case O_INSECURE: o.insecure = true; break;
		case O_ONCE: o.once = true; break;
		case O_DRY: o.dry_run = true; break;
		case O_STDIO: o.stdio = true; break;
		case O_CONNECT: o.command = optarg; break;
		case 'o': o.json = smg_report_parse(optarg) == SMG_REPORT_JSON; break;
		case O_PORT: {
			char *end;
			long p = strtol(optarg, &end, 10);
			if (*end || end == optarg || p < 1 || p > 65535)
				smg_die(SMG_EXIT_USAGE, "--port: expected 1-65535, got \"%s\"", optarg);
			o.port = (int)p;
			break;
		}
		case O_INTERVAL: o.interval_ms = parse_secs(optarg, "--interval"); break;
		case O_PTIMEOUT: o.peer_timeout_ms = parse_secs(optarg, "--peer-timeout"); break;
		case O_WAIT: o.wait_ms = parse_secs(optarg, "--wait"); break;
		case O_GROUP: o.group = optarg; break;
		case O_NAME: smg_clean_text(o.name, sizeof o.name, optarg, strlen(optarg)); break;
		case 'p': o.policy = smg_policy_arg(optarg); break;
		case 'v': o.verbose = true; break;
		case 'q': smg_progress_disable(); break;
		case 'h': smg_usage(usage, true);
		case O_VERSION: smg_version();
		default: smg_usage(usage, false);
		}
	}
	if (optind < argc - 1)
		smg_usage(usage, false);
	o.db = optind < argc ? argv[optind] : smg_config_local_db(&cfg);
	if (!o.db)
		smg_die(SMG_EXIT_USAGE, "no database: name one, or set local_db in the configuration");
	if (o.policy == SMG_REMOTE_WINS)
		smg_die(SMG_EXIT_USAGE, "remote_wins means nothing among peers (each would take the "
			"other's row, forever): use newer_wins or uuid_v7_wins");
	if (o.interval_ms < 100)
		o.interval_ms = 100;
	if (o.wait_ms < 0)
		o.wait_ms = 2 * o.interval_ms;

	if (secret_file)
		read_secret_file(secret_file);
	else if (cfg.broadcast.secret && *cfg.broadcast.secret) {
		if (!smg_secret_parse(cfg.broadcast.secret, secret))
			smg_die(SMG_EXIT_USAGE, "[broadcast] secret must be 64 hex digits");
		have_key = true;
	}
	bool pipe_mode = o.stdio || o.command;
	if (o.stdio && o.command)
		smg_die(SMG_EXIT_USAGE, "--stdio and --connect: choose one");
	if (have_key && o.insecure)
		smg_die(SMG_EXIT_USAGE, "both a secret and --insecure: choose one");
	/* through a command the command's transport (ssh) protects the bytes */
	if (!have_key && !o.insecure && !pipe_mode)
		smg_die(SMG_EXIT_USAGE, "no secret (--secret-file, $SMUGGLR_BROADCAST_SECRET or "
			"[broadcast] secret): refusing to run unencrypted without --insecure");
	if (have_key)
		smg_key_derive(ann_key, secret, "smugglr beacon v1 announce");
	if (o.insecure)
		smg_progname = "smg-beacon: INSECURE";
	if (o.policy == SMG_LOCAL_WINS)
		status("policy local_wins: rows that differ on two peers stay different");

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *td = getenv("TMPDIR");
	td = td && *td ? td : "/tmp";
	remove_dead_spools(td);
	snprintf(tmpdir, sizeof tmpdir, "%s/smg-beacon.%ld.XXXXXX", td, (long)getpid());
	if (!mkdtemp(tmpdir))
		smg_die(SMG_EXIT_FAILURE, "%s: %s", tmpdir, strerror(errno));
	smg_atdie(parent_atdie);
	randombytes_buf(my_id, sizeof my_id);
	smg_guard_init(&guard, SMG_ANNOUNCE_WINDOW_MS);
	if (o.group) {
		smg_group_from_name(o.group, my_group);
		fixed_group = true;
	}
	if (o.stdio) {
		/* the channel keeps our standard output; what we print goes to stderr */
		stdio_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
		if (stdio_out < 0 || dup2(2, 1) < 0)
			smg_die(SMG_EXIT_FAILURE, "standard output: %s", strerror(errno));
	}
	int rc = run_digest();
	if (rc > 0) {
		parent_atdie();
		exit(rc);
	}
	if (pipe_mode) {
		rc = run_pipe();
	} else {
		open_sockets();
		char gh[65];
		smg_hex(my_group, SMG_GROUP_LEN, gh);
		status("%s: id %.8s, group %.16s, %s on port %d%s", o.db, idhex(my_id), gh,
		       have_key ? "encrypted" : "NOT encrypted", o.port,
		       o.dry_run ? ", dry run (passive, writes nothing)" : "");
		rc = run();
		if (stop)
			status("stopped");
	}
	print_summary();
	parent_atdie();
	smg_config_free(&cfg);
	smg_select_free(&o.sel);
	sodium_memzero(secret, sizeof secret);
	return rc;
}
