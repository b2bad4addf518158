/*
 * tests/relay.c - a man in the middle for smg-beacon tests.  Built by
 * tests/t/beacon.sh (cc -o relay tests/relay.c); not part of the programs.
 *
 *   relay PORT A_ADDR A_BCAST B_ADDR B_BCAST TCPMODE [UDPMODE]
 *
 * Runs on a host with one foot on each of two LANs.  Announcements from
 * A_ADDR are re-broadcast to B_BCAST and the other way round, so each
 * beacon believes the other lives at the relay's address; TCP connections
 * to PORT are forwarded to the other side, frame by frame (smg-beacon(1),
 * PROTOCOL), with the client-to-server stream damaged as TCPMODE says:
 *
 *   pass        forward everything unchanged
 *   flip:K      flip one bit in frame K (1-based) of the client's stream
 *   trunc:K     forward half of the client's frame K, then hang up
 *   replay:K    deliver the client's frame K twice
 *   reorder:K   deliver the client's frames K+1 and K swapped
 *   stall       once the server has started sending rows (its first DATA
 *               frame after three END frames have passed), forward half
 *               of that frame, print "stalled CLIENT SERVER" and forward
 *               nothing more: the test kills a peer mid-exchange
 *
 * UDPMODE flip flips a bit in every announcement forwarded.
 * What it does is printed on stdout, one line per event.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define HDR 60
#define TAG 16
#define MAXLEN ((1u << 20) + 1024)
#define F_DATA 5
#define F_END 6

static int port;
static struct in_addr a_addr, a_bcast, b_addr, b_bcast;
static char mode[32];
static int mode_k;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static int read_full(int fd, uint8_t *p, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One frame from fd into buf; its size, or -1 at EOF or on garbage. */
static long read_frame(int fd, uint8_t *buf)
{
	if (read_full(fd, buf, HDR))
		return -1;
	uint32_t len = (uint32_t)buf[8] << 24 | (uint32_t)buf[9] << 16 | (uint32_t)buf[10] << 8 |
		       buf[11];
	if (len > MAXLEN)
		return -1;
	if (read_full(fd, buf + HDR, len + TAG))
		return -1;
	return (long)(HDR + len + TAG);
}

static void forward(int client, struct in_addr from)
{
	struct in_addr to = from.s_addr == a_addr.s_addr ? b_addr : a_addr;
	int server = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr = to};
	if (connect(server, (struct sockaddr *)&sa, sizeof sa) < 0) {
		say("connect %s: %s", inet_ntoa(to), strerror(errno));
		exit(1);
	}
	char cs[32], ss[32];
	snprintf(cs, sizeof cs, "%s", inet_ntoa(from));
	snprintf(ss, sizeof ss, "%s", inet_ntoa(to));
	say("tcp %s -> %s", cs, ss);
	uint8_t *buf = malloc(HDR + MAXLEN + TAG), *held = malloc(HDR + MAXLEN + TAG);
	long held_n = 0;
	int c2s = 0, s2c = 0, ends = 0;
	bool stalled = false;
	struct pollfd pf[2] = {{.fd = client, .events = POLLIN}, {.fd = server, .events = POLLIN}};
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int side = 0; side < 2; side++) {
			if (!pf[side].revents)
				continue;
			int in = pf[side].fd, out = side ? client : server;
			if (stalled) {	/* swallow everything until someone hangs up */
				ssize_t r = read(in, buf, HDR + MAXLEN);
				if (r <= 0)
					goto done;
				continue;
			}
			long n = read_frame(in, buf);
			if (n < 0)
				goto done;
			uint8_t type = buf[3];
			if (side == 1) {	/* server to client */
				s2c++;
				if (!strcmp(mode, "stall") && type == F_DATA && ends >= 3) {
					write_full(out, buf, (size_t)n / 2);
					say("stalled %s %s", cs, ss);
					stalled = true;
					continue;
				}
				if (type == F_END)
					ends++;
				if (write_full(out, buf, (size_t)n))
					goto done;
				continue;
			}
			c2s++;
			if (type == F_END)
				ends++;
			if (c2s == mode_k && !strcmp(mode, "flip")) {
				buf[n > HDR ? HDR : n - 1] ^= 0x10;
				say("flipped a bit in client frame %d", c2s);
			} else if (c2s == mode_k && !strcmp(mode, "trunc")) {
				write_full(out, buf, (size_t)n / 2);
				say("cut client frame %d short and hung up", c2s);
				goto done;
			} else if (c2s == mode_k && !strcmp(mode, "replay")) {
				write_full(out, buf, (size_t)n);
				say("replayed client frame %d", c2s);
			} else if (c2s == mode_k && !strcmp(mode, "reorder")) {
				memcpy(held, buf, (size_t)n);
				held_n = n;
				continue;
			}
			if (write_full(out, buf, (size_t)n))
				goto done;
			if (held_n) {
				write_full(out, held, (size_t)held_n);
				held_n = 0;
				say("swapped client frames %d and %d", mode_k, mode_k + 1);
			}
		}
	}
done:
	say("tcp closed after %d client and %d server frames", c2s, s2c);
	close(client);
	close(server);
	exit(0);
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: relay PORT A_ADDR A_BCAST B_ADDR B_BCAST TCPMODE [UDPMODE]\n");
		return 2;
	}
	port = atoi(argv[1]);
	inet_aton(argv[2], &a_addr);
	inet_aton(argv[3], &a_bcast);
	inet_aton(argv[4], &b_addr);
	inet_aton(argv[5], &b_bcast);
	snprintf(mode, sizeof mode, "%s", argv[6]);
	char *colon = strchr(mode, ':');
	if (colon) {
		*colon = '\0';
		mode_k = atoi(colon + 1);
	}
	bool udp_flip = argc > 7 && !strcmp(argv[7], "flip");
	signal(SIGCHLD, SIG_IGN);

	int one = 1;
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	setsockopt(u, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (bind(u, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind udp");
		return 1;
	}
	int l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 8) < 0) {
		perror("bind tcp");
		return 1;
	}
	say("relay up");
	int forwarded = 0;
	for (;;) {
		struct pollfd pf[2] = {{.fd = u, .events = POLLIN}, {.fd = l, .events = POLLIN}};
		if (poll(pf, 2, -1) < 0)
			continue;
		if (pf[0].revents) {
			uint8_t buf[4096];
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
			struct sockaddr_in to = sa;
			if (n > 0 && from.sin_addr.s_addr == a_addr.s_addr)
				to.sin_addr = b_bcast;
			else if (n > 0 && from.sin_addr.s_addr == b_addr.s_addr)
				to.sin_addr = a_bcast;
			else
				continue;	/* our own, or a stranger's */
			if (udp_flip && n > 70)
				buf[70] ^= 0x01;
			sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&to, sizeof to);
			if (forwarded++ == 0)
				say("forwarding announcements%s", udp_flip ? ", damaged" : "");
		}
		if (pf[1].revents) {
			struct sockaddr_in from;
			socklen_t fl = sizeof from;
			int c = accept(l, (struct sockaddr *)&from, &fl);
			if (c < 0)
				continue;
			if (fork() == 0) {
				close(u);
				close(l);
				forward(c, from.sin_addr);
			}
			close(c);
		}
	}
}
