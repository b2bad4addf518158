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
 * lib/exchange.c the exchange itself, lib/beacon-*.c the peer table, the
 * connections waiting for their HELLO and the child jobs (beacon.h).  This
 * file keeps the event loop, the UDP announcements and the reports.
 */
#include "beacon.h"
#include "cli.h"
#include "progress.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
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

/* Limits (the others are in beacon.h and exchange.h): the protocol
 * section of smg-beacon(1) quotes them. */
#define UDP_BUF 2048
#define ANN_MAX 512			/* announcement payload limit */

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

static struct smg_peers peers;
static struct smg_pending pend;

static uint64_t dropped[SMG_DROP_NREASONS];
static int64_t ex_ok, ex_failed;
static int64_t total_sent, total_received;
static struct smg_tally *totals;
static size_t ntotals;

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

static const char *peer_label(const struct smg_peer *p)
{
	return smg_peer_label(&peers, p);
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

/* ---- jobs, as the parent sees them (beacon-job.c is the child's side) ------ */

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

/* The child's exchange: on conn_fd (accepted, or standard input), else
 * with peer at sa, or through --connect. */
static void child_exchange(int fd, int conn_fd, int peer, const struct sockaddr_in *sa)
{
	struct smg_exchange_opts xo = {
		.db = o.db, .sel = &o.sel, .policy = o.policy, .dry_run = o.dry_run,
		.verbose = o.verbose, .name = o.name, .group = my_group,
		.secret = have_key ? secret : NULL, .my_id = my_id, .tmpdir = tmpdir,
	};
	struct smg_job_exchange j = {
		.xo = &xo, .conn_fd = conn_fd, .out_fd = o.stdio ? stdio_out : -1,
		.initiator = conn_fd < 0, .command = o.command, .sa = sa,
		.expect_id = peer >= 0 ? peers.v[peer].id : NULL,
	};
	smg_job_exchange(fd, &j);
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
		smg_pending_close(&pend, conn_fd);
		if (kind == JOB_DIGEST)
			smg_job_digest(p[1], o.db, &o.sel, !o.stdio && !o.command);
		else
			child_exchange(p[1], conn_fd, peer, sa);
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
		memcpy(job.digest_theirs, peers.v[peer].digest, 32);
}

static void print_event(const struct smg_peer *p, bool ok, const struct smg_tally *t, size_t nt,
			const char *err);

/* The peer a job's lines named, and what it said its name was. */
static void job_peer(const struct smg_job_report *r)
{
	if (r->have_peer) {
		job.peer = smg_peers_add(&peers, r->peer_id, &job.peer);
		if (!job.initiator && !peers.v[job.peer].announced) {
			peers.v[job.peer].addr = job.addr;
			peers.v[job.peer].addr.sin_port = 0;
		}
	}
	if (r->named && job.peer >= 0 && !peers.v[job.peer].announced)
		memcpy(peers.v[job.peer].name, r->name, sizeof peers.v[job.peer].name);
}

/* An exchange ended: count it, for its peer and in all.  -1 when rows
 * came in (what we announce must change), else 0. */
static int exchange_done(const struct smg_job_report *r, bool ok, int code)
{
	/* the child died of malformed data (the library's error said what) */
	if (!ok && code == SMG_EXIT_DATA && !r->failed_cleanly)
		dropped[SMG_DROP_BAD_DATA]++;
	struct smg_peer *p = job.peer >= 0 ? &peers.v[job.peer] : NULL;
	if (ok)
		ex_ok++;
	else
		ex_failed++;
	if (p)
		smg_peer_exchanged(p, ok, r->err, o.interval_ms, job.digest_mine, job.digest_theirs,
				   r->bytes_in, r->bytes_out, r->tables, r->ntables);
	int64_t got = 0;
	for (size_t i = 0; i < r->ntables; i++) {
		struct smg_tally *t = smg_tally_get(&totals, &ntotals, r->tables[i].name);
		t->sent += r->tables[i].sent;
		t->received += r->tables[i].received;
		total_sent += r->tables[i].sent;
		total_received += r->tables[i].received;
		got += r->tables[i].received;
	}
	struct smg_peer anon;
	if (!p) {
		memset(&anon, 0, sizeof anon);
		strcpy(anon.name, "?");
		anon.addr = job.addr;
	}
	print_event(p ? p : &anon, ok, r->tables, r->ntables, ok ? NULL : r->err);
	if (r->bytes_in || r->bytes_out)
		verbose("%llu bytes in, %llu out", (unsigned long long)r->bytes_in,
			(unsigned long long)r->bytes_out);
	/* our rows changed: what we announce must too */
	return got > 0 ? -1 : 0;
}

/* The child ended: read what it said and account for it.  A digest job:
 * 0, or the exit code it failed with; an exchange: see exchange_done. */
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
	struct smg_job_report r;
	smg_job_report_parse(&r, job.out.data, kind == JOB_DIGEST);
	smg_buf_reset(&job.out);
	for (int e = 1; e < SMG_DROP_NREASONS; e++)
		dropped[e] += r.dropped[e];
	if (r.have_digest) {
		memcpy(my_digest, r.digest, 32);
		if (!fixed_group)
			memcpy(my_group, r.group, SMG_GROUP_LEN);
	}
	job_peer(&r);
	bool ok = r.ok && code == 0;
	char how[64];
	if (WIFSIGNALED(st))
		snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(how, sizeof how, "exit code %d", code);
	if (!ok && !r.err[0])
		snprintf(r.err, sizeof r.err, "exchange ended with %s%s", how,
			 code == SMG_EXIT_DATA ? " (bad data from the peer?)" : "");
	int rc;
	if (kind == JOB_DIGEST) {
		if (!ok)
			status("%s: could not read the database (%s)", o.db, how);
		rc = ok ? 0 : (code ? code : SMG_EXIT_FAILURE);
	} else {
		rc = exchange_done(&r, ok, code);
	}
	smg_job_report_free(&r);
	return rc;
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

/* ---- connections not yet past HELLO (beacon-pending.c) ------------------------- */

static void accept_all(void)
{
	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		int c = accept4(listen_fd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c < 0)
			return;
		verbose("connection from %s", inet_ntoa(from.sin_addr));
		smg_pending_add(&pend, c, &from);
	}
}

/* The longest waiting connection whose HELLO is there gets the slot. */
static bool serve_pending(void)
{
	int fd;
	struct sockaddr_in from;
	if (!smg_pending_take(&pend, &fd, &from))
		return false;
	if (fd >= 0)
		start_job(JOB_EXCHANGE, fd, -1, &from);
	return true;
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

static void json_peer(struct smg_buf *b, const struct smg_peer *p)
{
	smg_buf_addf(b, "{\"id\":\"%s\",\"name\":", smg_idhex(p->id));
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

static void print_event(const struct smg_peer *p, bool ok, const struct smg_tally *t, size_t nt,
			const char *err)
{
	int64_t s = 0, r = 0;
	for (size_t i = 0; i < nt; i++) {
		s += t[i].sent;
		r += t[i].received;
	}
	if (ok)
		status("exchange with %s: %s %lld rows, %s %lld", peer_label(p),
		       o.dry_run ? "would send" : "sent", (long long)s,
		       o.dry_run ? "would receive" : "received", (long long)r);
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
			     smg_idhex(my_id), gh, o.port);
		for (size_t i = 0; i < peers.n; i++) {
			if (i)
				smg_buf_addc(&b, ',');
			json_peer(&b, &peers.v[i]);
		}
		smg_buf_addf(&b, "],\"exchanges\":{\"ok\":%lld,\"failed\":%lld},"
			     "\"sent\":%lld,\"received\":%lld,\"tables\":",
			     (long long)ex_ok, (long long)ex_failed, (long long)total_sent,
			     (long long)total_received);
		json_tables(&b, totals, ntotals);
		smg_buf_adds(&b, ",\"dropped\":{");
		bool first = true;
		for (int i = 1; i < SMG_DROP_NREASONS; i++) {
			if (!dropped[i])
				continue;
			smg_buf_addf(&b, "%s\"%s\":%llu", first ? "" : ",", smg_drop_name(i),
				     (unsigned long long)dropped[i]);
			first = false;
		}
		smg_buf_adds(&b, "}}\n");
	} else {
		const char *sent = o.dry_run ? "would send" : "sent";
		const char *received = o.dry_run ? "would receive" : "received";
		smg_buf_addf(&b, "%s%s: group %.16s, %zu peer%s seen, %lld exchange%s, %lld failed\n",
			     o.insecure ? "INSECURE: " : "", o.db, gh, peers.n,
			     peers.n == 1 ? "" : "s", (long long)ex_ok, ex_ok == 1 ? "" : "s",
			     (long long)ex_failed);
		for (size_t i = 0; i < peers.n; i++) {
			const struct smg_peer *p = &peers.v[i];
			smg_buf_addf(&b, "peer %s%s%s\n", peer_label(p), p->expired ? " expired" : "",
				     p->flags & SMG_ANN_PASSIVE ? " passive" : "");
			for (size_t k = 0; k < p->ntables; k++)
				smg_buf_addf(&b, "  %s: %s %lld, %s %lld\n", p->tables[k].name, sent,
					     (long long)p->tables[k].sent, received,
					     (long long)p->tables[k].received);
			if (p->last_error[0])
				smg_buf_addf(&b, "  last error: %s\n", p->last_error);
		}
		for (int i = 1; i < SMG_DROP_NREASONS; i++)
			if (dropped[i])
				smg_buf_addf(&b, "dropped %s: %llu\n", smg_drop_name(i),
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
		reason < SMG_FRAME_NERR ? smg_frame_strerror(reason) : smg_drop_name(reason));
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
	       inet_ntoa(from->sin_addr), smg_idhex(id), (double)(a->ts_ms - now_ms) / 1000,
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
			drop(SMG_DROP_OTHER_GROUP, &from);
			continue;
		}
		smg_peers_heard(&peers, smg_peers_add(&peers, h.id, &job.peer), &a, &from);
	}
	smg_buf_free(&pl);
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

/* When the loop next has something to do. */
struct loop {
	int64_t next_announce;
	int64_t next_check;	/* daemon: digest again if the database changed */
	int64_t wait_until;	/* --once: the end of the discovery window */
	int64_t deadline;	/* --once: the end of the exchanges */
	bool exchanging;	/* --once: after the discovery window */
};

/* --once: the end of the discovery window, and of the round.  True: stop. */
static bool once_round(struct loop *l, int64_t now)
{
	if (!l->exchanging && now >= l->wait_until) {
		l->exchanging = true;
		size_t n = smg_peers_mark_targets(&peers);
		verbose("discovery over: %zu peer%s to exchange with", n, n == 1 ? "" : "s");
		l->deadline = now + o.peer_timeout_ms;
	}
	if (!l->exchanging || job.kind != JOB_NONE)
		return false;
	if (smg_peers_targets_done(&peers))
		return true;
	if (now >= l->deadline) {
		ex_failed += (int64_t)smg_peers_give_up(&peers, o.peer_timeout_ms);
		return true;
	}
	return false;
}

/* What is due while the job slot is free: a digest of a changed database,
 * a connection whose HELLO is in, a peer to connect to.  True: one started
 * (or a replayed HELLO was dropped); look again. */
static bool start_next(struct loop *l, int64_t now)
{
	if (job.kind == JOB_NONE && !o.once && now >= l->next_check) {
		l->next_check = now + o.interval_ms;
		if (db_changed() && run_digest() > 0)
			status("%s: keeping the last digest", o.db);
		return true;
	}
	smg_pending_check(&pend, now);
	if (job.kind != JOB_NONE)
		return false;
	if (serve_pending())
		return true;
	if (!l->exchanging)
		return false;
	struct smg_peer_choice c = {my_id, my_digest, o.once, o.dry_run};
	int t = smg_peers_next_target(&peers, &c, now);
	if (t < 0)
		return false;
	verbose("connecting to %s", peer_label(&peers.v[t]));
	start_job(JOB_EXCHANGE, -1, t, &peers.v[t].addr);
	return true;
}

/* The job said more, or ended. */
static void job_readable(struct loop *l)
{
	char buf[4096];
	ssize_t n = smg_read_retry(job.fd, buf, sizeof buf);
	if (n > 0) {
		smg_buf_add(&job.out, buf, (size_t)n);
		return;
	}
	if (finish_job() < 0 && !o.once) {
		db_changed();	/* our own write: digest it once */
		run_digest();
	}
	if (!o.once)
		l->next_check = smg_mono_ms() + o.interval_ms;
}

/* How long poll may wait: until the next thing due. */
static int poll_ms(const struct loop *l)
{
	int64_t until = l->next_announce;
	if (o.once && !l->exchanging && l->wait_until < until)
		until = l->wait_until;
	if (o.once && l->exchanging && l->deadline < until)
		until = l->deadline;
	if (!o.once && l->next_check < until)
		until = l->next_check;
	int64_t ms = until - smg_mono_ms();
	if (((job.kind == JOB_NONE && l->exchanging) || pend.n) && ms > 200)
		ms = 200;	/* a backed-off peer may become due, a HELLO late */
	return ms < 0 ? 0 : (int)ms;
}

/* Wait for a packet, a connection, a HELLO or the job's lines, and handle
 * what came. */
static void wait_and_handle(struct loop *l)
{
	struct pollfd pf[3 + SMG_BEACON_PENDING_MAX];
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
	np += smg_pending_pollfds(&pend, pf + np);
	int r = poll(pf, (nfds_t)np, poll_ms(l));
	if (r < 0) {
		if (errno == EINTR)
			return;
		smg_die(SMG_EXIT_FAILURE, "poll: %s", strerror(errno));
	}
	if (pf[0].revents)
		receive_udp();
	if (listen_i >= 0 && pf[listen_i].revents)
		accept_all();
	if (job_i >= 0 && pf[job_i].revents)
		job_readable(l);
}

static int run(void)
{
	int64_t start = smg_mono_ms();
	struct loop l = {.next_announce = start, .next_check = start + o.interval_ms,
			 .wait_until = start + o.wait_ms, .exchanging = !o.once};
	db_changed();
	while (!stop) {
		int64_t now = smg_mono_ms();
		if (now >= l.next_announce) {
			announce();
			/* a little jitter keeps peers from announcing in lockstep */
			l.next_announce = now + o.interval_ms - o.interval_ms / 10 +
					  (int64_t)randombytes_uniform((uint32_t)(o.interval_ms / 5 + 1));
		}
		smg_peers_expire(&peers, now, o.peer_timeout_ms);
		if (o.once && once_round(&l, now))
			break;
		if (start_next(&l, now))
			continue;
		wait_and_handle(&l);
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
	smg_pending_close(&pend, -1);
	pend.n = 0;
	/* a daemon reports failures as it goes; --once sums them up */
	if (o.once && (ex_failed || nskewed))
		return SMG_EXIT_NETWORK;
	return SMG_EXIT_OK;
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

/* The configuration's [broadcast] and [sync], before the options. */
static void config_defaults(const struct smg_config *cfg)
{
	o.port = cfg->broadcast.port;
	o.interval_ms = (int64_t)cfg->broadcast.interval_secs * 1000;
	o.peer_timeout_ms = (int64_t)cfg->broadcast.peer_timeout_secs * 1000;
	o.group = cfg->broadcast.group;
	o.insecure = cfg->broadcast.insecure;
	o.wait_ms = -1;
	/* among peers the policy must pick the same row on both sides: newer_wins
	 * unless the configuration says otherwise in so many words */
	o.policy = SMG_NEWER_WINS;
	if (cfg->doc && smg_toml_get(smg_toml_root(cfg->doc), "sync.conflict_resolution"))
		o.policy = cfg->sync.conflict_resolution;
	default_name();
}

static int parse_port(const char *s)
{
	char *end;
	long p = strtol(s, &end, 10);
	if (*end || end == s || p < 1 || p > 65535)
		smg_die(SMG_EXIT_USAGE, "--port: expected 1-65535, got \"%s\"", s);
	return (int)p;
}

/* The options into o; the secret file they name, or NULL. */
static const char *parse_options(int argc, char **argv, struct smg_config *cfg)
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
		case O_PORT: o.port = parse_port(optarg); break;
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
	o.db = optind < argc ? argv[optind] : smg_config_local_db(cfg);
	if (!o.db)
		smg_die(SMG_EXIT_USAGE, "no database: name one, or set local_db in the configuration");
	if (o.policy == SMG_REMOTE_WINS)
		smg_die(SMG_EXIT_USAGE, "remote_wins means nothing among peers (each would take the "
			"other's row, forever): use newer_wins or uuid_v7_wins");
	if (o.interval_ms < 100)
		o.interval_ms = 100;
	if (o.wait_ms < 0)
		o.wait_ms = 2 * o.interval_ms;
	return secret_file;
}

/* The secret, from the file named or the configuration, and whether to
 * run without one. */
static void load_secret(const char *secret_file, const struct smg_config *cfg)
{
	if (secret_file)
		read_secret_file(secret_file);
	else if (cfg->broadcast.secret && *cfg->broadcast.secret) {
		if (!smg_secret_parse(cfg->broadcast.secret, secret))
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
}

/* Signals, the scratch directory, our id and group, the tables. */
static void setup(void)
{
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
	peers.where = o.command ? "through --connect" : o.stdio ? "on standard input" : NULL;
	peers.verbose = o.verbose;
	pend.keyed = have_key;
	pend.drop = drop;
	if (o.stdio) {
		/* the channel keeps our standard output; what we print goes to stderr */
		stdio_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
		if (stdio_out < 0 || dup2(2, 1) < 0)
			smg_die(SMG_EXIT_FAILURE, "standard output: %s", strerror(errno));
	}
}

int main(int argc, char **argv)
{
	smg_setprogname(argv[0]);
	if (sodium_init() < 0)
		smg_die(SMG_EXIT_FAILURE, "libsodium failed to initialise");
	smg_select_defaults(&o.sel);
	struct smg_config cfg;
	smg_cli_config(&cfg, argc, argv, &o.sel, NULL);
	config_defaults(&cfg);
	load_secret(parse_options(argc, argv, &cfg), &cfg);
	setup();
	int rc = run_digest();
	if (rc > 0) {
		parent_atdie();
		exit(rc);
	}
	if (o.stdio || o.command) {
		rc = run_pipe();
	} else {
		open_sockets();
		char gh[65];
		smg_hex(my_group, SMG_GROUP_LEN, gh);
		status("%s: id %.8s, group %.16s, %s on port %d%s", o.db, smg_idhex(my_id), gh,
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
