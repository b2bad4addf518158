/*
 * beacon-job.c - smg-beacon's child jobs (see beacon.h) and the lines they
 * report to the parent on a pipe.  The parent never opens the database:
 * the digest it announces and every exchange are a child's work, and a
 * child that meets hostile input dies, its transaction rolled back.  What
 * the parent learns is one line per fact, written here by the child and
 * read back here by the parent:
 *   digest D G         our digest and group (hex; the digest job)
 *   peer ID            the peer, once it proved it holds the session keys
 *   name "N"           the name it gave (JSON string)
 *   bytes IN OUT       on the wire
 *   conflicts N        rows changed meanwhile
 *   table S R "T"      rows sent and received in table T
 *   stat REASON N      input dropped (smg_drop_name)
 *   fail CODE "MSG"    why the exchange failed; the child exits with CODE
 *   ok                 done
 */
#include "beacon.h"
#include "db.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sodium.h>

#define CONNECT_MS 5000		/* smg-beacon(1) quotes it */

void smg_job_say(int fd, const char *fmt, ...)
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
	smg_write_all(fd, b.data, b.len, "the parent");
	smg_buf_free(&b);
}

/* "WORD s" with s as a JSON string. */
static void say_string(int fd, const char *word, const char *s)
{
	struct smg_buf b = SMG_BUF_INIT;
	smg_json_add_string(&b, s, strlen(s));
	smg_job_say(fd, "%s %s", word, b.data);
	smg_buf_free(&b);
}

/* Open and close the database once, so that a missing file or one that is
 * not a database is reported as such, not as a malformed stream. */
static void check_db(const char *db)
{
	if (!smg_path_is_sqlite(db))
		smg_db_close(smg_db_open(db, false));
	if (!smg_path_is_sqlite(db))
		smg_die(SMG_EXIT_DATA, "%s: empty, or not a SQLite database", db);
}

void smg_job_digest(int fd, const char *db, const struct smg_select *sel, bool keys)
{
	check_db(db);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null < 0)
		smg_die(SMG_EXIT_FAILURE, "/dev/null: %s", strerror(errno));
	uint8_t d[32] = {0}, g[SMG_GROUP_LEN];
	if (!keys)	/* nothing to announce: the group will do */
		smg_exchange_group(db, sel, g);
	else
		smg_exchange_keys(db, sel, null, "/dev/null", d, g);
	close(null);
	char dh[65], gh[65];
	smg_hex(d, 32, dh);
	smg_hex(g, SMG_GROUP_LEN, gh);
	smg_job_say(fd, "digest %s %s", dh, gh);
}

static void say_stats(int fd, const struct smg_exchange *x)
{
	if (x->not_a_stream)
		smg_job_say(fd, "stat %s 1", smg_drop_name(SMG_DROP_BAD_DATA));
	if (x->other_group)
		smg_job_say(fd, "stat %s 1", smg_drop_name(SMG_DROP_OTHER_GROUP));
	for (int e = 1; e < SMG_FRAME_NERR; e++)
		if (x->st.n[e])
			smg_job_say(fd, "stat %s %llu", smg_frame_errname(e),
				    (unsigned long long)x->st.n[e]);
}

/* Tell the parent why the exchange failed, and exit with code. */
static _Noreturn void job_fail(int fd, const struct smg_exchange *x, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static _Noreturn void job_fail(int fd, const struct smg_exchange *x, int code, const char *fmt, ...)
{
	char msg[512], word[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say_stats(fd, x);
	snprintf(word, sizeof word, "fail %d", code);
	say_string(fd, word, msg);
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

/* --connect's command, leader of a process group of its own: a job that
 * fails takes the command (an ssh, a pipeline) down with it, rather than
 * leave it running for nobody; one that succeeds waits for it, as the far
 * end applies what it received after the exchange. */
static pid_t peer_pid = -1;

static void end_peer(void)
{
	if (peer_pid > 0)
		kill(-peer_pid, SIGTERM);
}

static void wait_peer(int conn)
{
	close(conn);
	while (waitpid(peer_pid, NULL, 0) < 0 && errno == EINTR)
		;
	peer_pid = -1;
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
		setpgid(0, 0);
		/* the job ignores SIGINT and SIGTERM (it finishes its exchange);
		 * the command must not inherit that.  And the job killed
		 * outright (its deadline) ends the command too. */
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (dup2(sv[1], 0) < 0 || dup2(sv[1], 1) < 0)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);	/* whichever of the two runs first */
	peer_pid = pid;
	atexit(end_peer);
	close(sv[1]);
	return sv[0];
}

/* What the exchange moved, table by table, then "ok". */
static void say_done(int fd, const struct smg_exchange *x)
{
	if (x->conflicts)
		smg_job_say(fd, "conflicts %lld", (long long)x->conflicts);
	for (size_t i = 0; i < x->ntables; i++) {
		struct smg_buf b = SMG_BUF_INIT;
		smg_json_add_string(&b, x->tables[i].name, strlen(x->tables[i].name));
		smg_job_say(fd, "table %lld %lld %s", (long long)x->tables[i].sent,
			    (long long)x->tables[i].received, b.data);
		smg_buf_free(&b);
	}
	say_stats(fd, x);
	smg_job_say(fd, "ok");
}

void smg_job_exchange(int fd, const struct smg_job_exchange *j)
{
	struct smg_exchange x;
	smg_exchange_init(&x, j->xo, j->initiator);
	int conn = j->conn_fd;
	if (j->initiator && j->command) {
		conn = spawn_peer(j->command);
	} else if (j->initiator) {
		conn = connect_to(j->sa);
		if (conn < 0)
			job_fail(fd, &x, SMG_EXIT_NETWORK, "connect to %s:%d: %s",
				 inet_ntoa(j->sa->sin_addr), ntohs(j->sa->sin_port), strerror(errno));
	}
	int e = smg_exchange_handshake_fds(&x, conn, j->out_fd >= 0 ? j->out_fd : conn);
	if (e)
		job_fail(fd, &x, e, "%s", x.error);
	e = smg_exchange_meta(&x);
	/* a HELLO alone may be a replay: the peer is named once it proved
	 * it holds this session's keys */
	if (!x.confirmed)
		job_fail(fd, &x, e ? e : SMG_EXIT_DATA, "handshake not confirmed: %s", x.error);
	smg_job_say(fd, "peer %s", smg_idhex(x.peer_id));
	if (j->expect_id && memcmp(j->expect_id, x.peer_id, SMG_ID_LEN))
		job_fail(fd, &x, SMG_EXIT_DATA, "a different peer answered (id %s)",
			 smg_idhex(x.peer_id));
	if (x.peer_named)
		say_string(fd, "name", x.peer_name);
	if (!e)
		e = smg_exchange_rows(&x);
	if (e)
		job_fail(fd, &x, e, "%s", x.error);
	smg_job_say(fd, "bytes %llu %llu", (unsigned long long)x.bytes_in,
		    (unsigned long long)x.bytes_out);
	smg_exchange_apply(&x);
	if (peer_pid > 0)
		wait_peer(conn);
	say_done(fd, &x);
	smg_exchange_free(&x);
}

/* ---- the parent's side ---------------------------------------------------- */

/* The JSON string at s into out (cleaned for a terminal). */
static bool read_string(const char *s, char *out, size_t size)
{
	struct smg_buf scratch = SMG_BUF_INIT;
	struct smg_json j;
	const char *p;
	size_t n;
	smg_json_init(&j, s, strlen(s), &scratch);
	bool ok = smg_json_string(&j, &p, &n);
	if (ok)
		smg_clean_text(out, size, p, n);
	smg_buf_free(&scratch);
	return ok;
}

static void read_table(struct smg_job_report *r, const char *s, long long sent,
		       long long received)
{
	struct smg_buf scratch = SMG_BUF_INIT;
	struct smg_json j;
	const char *p;
	size_t n;
	smg_json_init(&j, s, strlen(s), &scratch);
	if (smg_json_string(&j, &p, &n)) {
		char *name = smg_xstrndup(p, n);
		struct smg_tally *t = smg_tally_get(&r->tables, &r->ntables, name);
		t->sent += sent;
		t->received += received;
		free(name);
	}
	smg_buf_free(&scratch);
}

static void read_line(struct smg_job_report *r, const char *line, bool digest_job)
{
	char a[65], b[65];
	long long x1, x2;
	int off = 0;
	if (digest_job && sscanf(line, "digest %64s %64s", a, b) == 2) {
		sodium_hex2bin(r->digest, 32, a, 64, NULL, NULL, NULL);
		sodium_hex2bin(r->group, SMG_GROUP_LEN, b, 64, NULL, NULL, NULL);
		r->have_digest = true;
		r->ok = true;
	} else if (sscanf(line, "peer %32s", a) == 1) {
		if (sodium_hex2bin(r->peer_id, sizeof r->peer_id, a, strlen(a), NULL, NULL, NULL) == 0)
			r->have_peer = true;
	} else if (sscanf(line, "table %lld %lld %n", &x1, &x2, &off) == 2 && off) {
		read_table(r, line + off, x1, x2);
	} else if (sscanf(line, "stat %64s %lld", a, &x1) == 2) {
		for (int e = 1; e < SMG_DROP_NREASONS; e++)
			if (!strcmp(a, smg_drop_name(e)))
				r->dropped[e] += (uint64_t)x1;
	} else if (sscanf(line, "bytes %lld %lld", &x1, &x2) == 2) {
		r->bytes_in = (uint64_t)x1;
		r->bytes_out = (uint64_t)x2;
	} else if (sscanf(line, "fail %lld %n", &x1, &off) == 1 && off) {
		read_string(line + off, r->err, sizeof r->err);
		r->failed_cleanly = true;
	} else if (!strncmp(line, "name ", 5)) {
		r->named = read_string(line + 5, r->name, sizeof r->name);
	} else if (!strcmp(line, "ok")) {
		r->ok = true;
	}
}

void smg_job_report_parse(struct smg_job_report *r, char *text, bool digest_job)
{
	memset(r, 0, sizeof *r);
	char *line = text, *nl;
	while (line && (nl = strchr(line, '\n'))) {
		*nl = '\0';
		read_line(r, line, digest_job);
		line = nl + 1;
	}
}

void smg_job_report_free(struct smg_job_report *r)
{
	smg_tallies_free(r->tables, r->ntables);
	r->tables = NULL;
	r->ntables = 0;
}
