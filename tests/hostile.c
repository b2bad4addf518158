/*
 * tests/hostile.c - a peer that lies, for smg-beacon tests in --insecure
 * mode (where anyone on the network may speak).  Built by tests/t/beacon.sh:
 *
 *   cc -Ilib -o hostile tests/hostile.c lib/frame.c lib/util.c -lsodium
 *   hostile ADDR PORT SCENARIO...
 *
 * Waits for an announcement from ADDR on UDP PORT (to learn the group and
 * the TCP port), then for each SCENARIO connects, does an honest plain
 * handshake, and misbehaves:
 *
 *   meta-garbage   META that is not JSON
 *   meta-group     META of another group
 *   sqlite         keys "stream" that is a SQLite database file
 *   bad-json       keys stream that is not valid NDJSON
 *   disorder       keys stream with rows out of key order
 *   oversized      a frame header claiming 2 GiB
 *   truncated      half a frame, then hang up
 *   wrong-type     DONE where the keys should be
 *
 * Prints "sent SCENARIO" for each.  Exit 1 if no announcement came.
 */
#include "frame.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

static struct in_addr peer;
static int tcp_port;
static char group[65];

static void listen_announcement(int port)
{
	int u = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	setsockopt(u, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (bind(u, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("bind");
		exit(1);
	}
	struct smg_buf pl = SMG_BUF_INIT;
	for (int tries = 0; tries < 100; tries++) {
		struct pollfd pf = {.fd = u, .events = POLLIN};
		if (poll(&pf, 1, 100) <= 0)
			continue;
		uint8_t buf[2048];
		struct sockaddr_in from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
		struct smg_frame_hdr h;
		struct smg_announce a;
		if (n <= 0 || from.sin_addr.s_addr != peer.s_addr ||
		    smg_frame_decode(NULL, buf, (size_t)n, 512, &h, &pl) ||
		    smg_announce_decode((uint8_t *)pl.data, pl.len, &a))
			continue;
		tcp_port = a.port;
		sodium_bin2hex(group, sizeof group, a.group, sizeof a.group);
		close(u);
		smg_buf_free(&pl);
		return;
	}
	fprintf(stderr, "hostile: no announcement from %s\n", inet_ntoa(peer));
	exit(1);
}

static void send_meta(struct smg_chan *c, const char *grp)
{
	char meta[512];
	snprintf(meta, sizeof meta,
		 "{\"v\":1,\"name\":\"mallory\",\"group\":\"%s\",\"policy\":\"newer_wins\","
		 "\"dry_run\":false,\"tables\":[\"items\",\"notes\"]}", grp);
	smg_chan_send(c, SMG_F_META, meta, strlen(meta));
}

static void keys(struct smg_chan *c, const char *stream, size_t n)
{
	/* reconciliation: "I have no row", so the beacon marks all of its */
	static const uint8_t two_empty_tables[40];
	uint8_t type;
	struct smg_buf in = SMG_BUF_INIT;
	smg_chan_send(c, SMG_F_RANGES, two_empty_tables, sizeof two_empty_tables);
	smg_chan_recv(c, &type, &in);
	smg_buf_free(&in);
	smg_chan_send(c, SMG_F_DATA, stream, n);
	smg_chan_send(c, SMG_F_END, NULL, 0);
}

static void scenario(const char *name)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)tcp_port),
				 .sin_addr = peer};
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		exit(1);
	}
	struct smg_chan c;
	uint8_t me[SMG_ID_LEN], them[SMG_ID_LEN];
	randombytes_buf(me, sizeof me);
	memset(&c, 0, sizeof c);
	if (smg_chan_handshake(&c, fd, NULL, true, me, them, 5000)) {
		fprintf(stderr, "hostile: handshake failed\n");
		exit(1);
	}
	static const char table[] =
		"{\"kind\":\"table\",\"table\":\"items\",\"columns\":[\"id\",\"name\",\"qty\","
		"\"data\",\"updated_at\"],\"pk\":[\"id\"],\"timestamp\":\"updated_at\"}\n";
	static const char h[] = "\"hash\":\"00000000000000000000000000000000"
				"00000000000000000000000000000000\"";
	char buf[2048];
	if (!strcmp(name, "meta-garbage")) {
		smg_chan_send(&c, SMG_F_META, "this is not json", 16);
	} else if (!strcmp(name, "meta-group")) {
		send_meta(&c, "00000000000000000000000000000000"
			      "00000000000000000000000000000000");
	} else if (!strcmp(name, "sqlite")) {
		send_meta(&c, group);
		keys(&c, "SQLite format 3\0\020\000\001\001", 20);
	} else if (!strcmp(name, "bad-json")) {
		send_meta(&c, group);
		snprintf(buf, sizeof buf, "%s{\"kind\":\"row\",\"table\":\"items\",\"key\":[1,%s\n",
			 table, h);
		keys(&c, buf, strlen(buf));
	} else if (!strcmp(name, "disorder")) {
		send_meta(&c, group);
		snprintf(buf, sizeof buf,
			 "%s{\"kind\":\"row\",\"table\":\"items\",\"key\":[5],%s}\n"
			 "{\"kind\":\"row\",\"table\":\"items\",\"key\":[4],%s}\n"
			 "{\"kind\":\"end\",\"records\":3}\n", table, h, h);
		keys(&c, buf, strlen(buf));
	} else if (!strcmp(name, "oversized")) {
		send_meta(&c, group);
		struct smg_buf f = SMG_BUF_INIT;
		smg_frame_seal(&f, NULL, SMG_F_DATA, c.txseq, c.session, "x", 1);
		smg_put_be32((uint8_t *)f.data + 8, 0x7fffffffu);
		smg_io_write(fd, f.data, f.len, 1000);
		smg_buf_free(&f);
	} else if (!strcmp(name, "truncated")) {
		send_meta(&c, group);
		struct smg_buf f = SMG_BUF_INIT;
		smg_frame_seal(&f, NULL, SMG_F_DATA, c.txseq, c.session, table, sizeof table - 1);
		smg_io_write(fd, f.data, f.len / 2, 1000);
		smg_buf_free(&f);
	} else if (!strcmp(name, "wrong-type")) {
		send_meta(&c, group);
		smg_chan_send(&c, SMG_F_DONE, NULL, 0);
	} else {
		fprintf(stderr, "hostile: unknown scenario %s\n", name);
		exit(2);
	}
	printf("sent %s\n", name);
	fflush(stdout);
	/* let the beacon have its say, then hang up */
	uint8_t type;
	struct smg_buf in = SMG_BUF_INIT;
	c.timeout_ms = 3000;
	while (smg_chan_recv(&c, &type, &in) == 0)
		;
	smg_buf_free(&in);
	smg_chan_close(&c);
}

int main(int argc, char **argv)
{
	if (argc < 4 || sodium_init() < 0) {
		fprintf(stderr, "usage: hostile ADDR PORT SCENARIO...\n");
		return 2;
	}
	smg_setprogname("hostile");
	inet_aton(argv[1], &peer);
	listen_announcement(atoi(argv[2]));
	for (int i = 3; i < argc; i++)
		scenario(argv[i]);
	return 0;
}
