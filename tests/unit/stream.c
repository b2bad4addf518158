/*
 * stream.c - the stream reader's fast paths against plain ones: the
 * writer's row layout read by the fast path gives what the general field
 * loop gives for the same fields in another order; the 16-byte skipping of
 * "values" ends where a bytewise scan ends; the SIMD hex decoder agrees with
 * a table one on every byte at every position; the base64 decoder accepts
 * and refuses exactly what libsodium's strict one does; a reader that
 * dies on a bad record leaves nothing allocated but itself (ASan's leak
 * check in make check sees the rest).
 */
#include "stream.h"
#include "test.h"

#include <setjmp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- skipping a container ------------------------------------------------ */

/* The definition: bracket depth outside strings, a backslash in a string
 * escapes the next byte.  The end offset, or -1. */
static long ref_skip(const char *p, size_t n)
{
	int depth = 0;
	bool in_string = false;
	size_t i = 0;
	do {
		if (i >= n)
			return -1;
		char c = p[i++];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			depth++;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	} while (depth > 0);
	return i > n ? -1 : (long)i;
}

static long lib_skip(const char *p, size_t n)
{
	struct smg_buf scratch = SMG_BUF_INIT;
	struct smg_json j;
	smg_json_init(&j, p, n, &scratch);
	const char *raw;
	size_t rawlen;
	long r = smg_json_skip(&j, &raw, &rawlen) ? (long)rawlen : -1;
	smg_buf_free(&scratch);
	return r;
}

static void test_skip(void)
{
	/* bytes that matter, plus ones that look like them to the SIMD masks
	 * ({ } differ from [ ] by 0x20; 0xDB and 0x7B share low bits) */
	static const char alphabet[] = "[]{}\"\\a,{}\"\"[]\xdb\x7b\x5d";
	srand(7);
	long bad = 0, cases = 0, ends = 0;
	char first_bad[200] = "";
	for (int round = 0; round < 300000; round++) {
		char buf[96];
		size_t n = 1 + (size_t)rand() % (sizeof buf);
		buf[0] = rand() & 1 ? '[' : '{';
		for (size_t i = 1; i < n; i++)
			buf[i] = alphabet[rand() % (int)(sizeof alphabet - 1)];
		/* copy to the heap, exactly n bytes: ASan sees any read past it */
		char *p = malloc(n);
		memcpy(p, buf, n);
		long want = ref_skip(p, n), got = lib_skip(p, n);
		cases++;
		ends += want >= 0;
		if (want != got && !bad++)
			snprintf(first_bad, sizeof first_bad, "%.*s: want %ld got %ld", (int)n, p,
				 want, got);
		free(p);
	}
	CHECK(bad == 0, "skipping containers ends where the bytewise scan ends (%ld random "
	      "cases, %ld complete) %s", cases, ends, first_bad);
	CHECK(ends > 1000, "... and enough of them were complete containers (%ld)", ends);

	const char *fixed[] = {
		"[1,\"a\\\"]\",2]",			/* escaped quote, then a bracket */
		"[\"xxxxxxxxxxxxxxx\\\\\",1]",	/* backslash pair at a block's end */
		"[\"xxxxxxxxxxxxxx\\\"]\"]",	/* escaped quote at a block's start */
		"{\"blob\":\"hNCFYltNBEngV7fDSnU4Tj+gZ0Q8YNpn\"}",
		"[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]",
		"[\"}}}}}}}}}}}}}}}}}}}}}\"]",
		"[\"unterminated\\\"]",
		"[\"0123456789abcde\\",
	};
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) {
		size_t n = strlen(fixed[i]);
		CHECK(ref_skip(fixed[i], n) == lib_skip(fixed[i], n), "skip %s", fixed[i]);
	}
}

/* ---- hex ----------------------------------------------------------------- */

static int digit(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void test_unhex(void)
{
	static const char digits[] = "0123456789abcdef";
	long bad = 0;
	char first_bad[120] = "";
	for (int pos = 0; pos < 64; pos++)
		for (int c = 0; c < 256; c++) {
			char hex[64];
			for (int i = 0; i < 64; i++)
				hex[i] = digits[(i * 7 + pos + c) & 15];
			hex[pos] = (char)c;
			unsigned char got[SMG_HASH_LEN];
			bool ok = smg_hash_unhex(hex, 64, got);
			bool valid = digit(c) >= 0, same = ok == valid;
			for (int i = 0; same && valid && i < SMG_HASH_LEN; i++)
				same = got[i] == (digit((unsigned char)hex[2 * i]) << 4 |
						  digit((unsigned char)hex[2 * i + 1]));
			if (!same && !bad++)
				snprintf(first_bad, sizeof first_bad, "byte 0x%02x at %d", c, pos);
		}
	CHECK(bad == 0, "unhex: every byte at every position, against a table %s", first_bad);
	unsigned char h[SMG_HASH_LEN], back[SMG_HASH_LEN];
	char hex[65];
	for (int i = 0; i < SMG_HASH_LEN; i++)
		h[i] = (unsigned char)(i * 37 + 11);
	smg_hash_hex(h, hex);
	CHECK(strlen(hex) == 64 && smg_hash_unhex(hex, 64, back) && !memcmp(h, back, 32),
	      "hex and back: %s", hex);
	CHECK(!smg_hash_unhex(hex, 63, back), "63 digits refused");
}

/* ---- base64 ------------------------------------------------------------------ */

static void test_base64(void)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n.";
	srand(11);
	long bad = 0, cases = 0, valid = 0;
	char first_bad[160] = "";
	for (int round = 0; round < 200000; round++) {
		unsigned char raw[40];
		char b64[64], text[64];
		size_t rn = (size_t)rand() % 40;
		for (size_t i = 0; i < rn; i++)
			raw[i] = (unsigned char)rand();
		sodium_bin2base64(b64, sizeof b64, raw, rn, sodium_base64_VARIANT_ORIGINAL);
		size_t n = strlen(b64);
		memcpy(text, b64, n);
		/* then spoil it, or not: a byte changed, the end cut, or a flipped
		 * last digit (bits past the data) */
		switch (rand() % 4) {
		case 0:
			break;
		case 1:
			if (n)
				text[rand() % (int)n] = alphabet[rand() % (int)(sizeof alphabet - 1)];
			break;
		case 2:
			n = n ? (size_t)rand() % n : 0;
			break;
		case 3:
			for (size_t i = n; i-- > 0;)
				if (text[i] != '=') {
					text[i] = alphabet[rand() % 64];
					break;
				}
			break;
		}
		/* exactly n bytes on the heap, so ASan sees any read past them */
		char *in = malloc(n + 1);
		memcpy(in, text, n);
		unsigned char want[64];
		char got[64];
		size_t wn = 0, gn = 0;
		bool wok = sodium_base642bin(want, sizeof want, in, n, NULL, &wn, NULL,
					     sodium_base64_VARIANT_ORIGINAL) == 0;
		bool gok = smg_base64_decode(in, n, got, &gn);
		cases++;
		valid += wok;
		if ((wok != gok || (wok && (wn != gn || memcmp(want, got, wn)))) && !bad++)
			snprintf(first_bad, sizeof first_bad, "\"%.*s\": libsodium %s, ours %s",
				 (int)n, in, wok ? "accepts" : "refuses", gok ? "accepts" : "refuses");
		free(in);
	}
	CHECK(bad == 0, "base64: %ld strings (%ld valid) decoded as libsodium decodes them %s",
	      cases, valid, first_bad);
	CHECK(valid > 50000 && valid < cases - 50000, "... a fair share of each (%ld valid)", valid);
}

/* ---- row records: fast path and general path ------------------------------- */

/* A writer on an unlinked temporary file, and what it wrote. */
static void writer_open(struct smg_writer *w)
{
	char path[] = "/tmp/smg-unit-stream.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		exit(1);
	}
	unlink(path);
	smg_writer_init(w, fd, "test");
}

static char *writer_text(struct smg_writer *w)
{
	smg_write_end(w);
	smg_writer_flush(w);
	off_t size = lseek(w->fd, 0, SEEK_END);
	char *text = calloc(1, (size_t)size + 1);
	if (pread(w->fd, text, (size_t)size, 0) != size) {
		perror("pread");
		exit(1);
	}
	close(w->fd);
	smg_writer_free(w);
	return text;
}

/* An unlinked temporary file holding text, at its start. */
static int text_fd(const char *text)
{
	char path[] = "/tmp/smg-unit-stream.XXXXXX";
	int fd = mkstemp(path);
	unlink(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text) ||
	    lseek(fd, 0, SEEK_SET) != 0) {
		perror("temp file");
		exit(1);
	}
	return fd;
}

/* Every record of a stream, flattened to one line of text. */
static void dump_stream(const char *text, struct smg_buf *out)
{
	int fd = text_fd(text);
	struct smg_reader *r = smg_reader_open(fd, "test");
	const struct smg_record *rec;
	while ((rec = smg_reader_next(r))) {
		char hex[65] = "";
		if (rec->has_hash)
			smg_hash_hex(rec->hash, hex);
		smg_buf_addf(out, "kind=%d table=%s", (int)rec->kind, rec->table->name);
		if (rec->kind == SMG_REC_ROW) {
			smg_buf_adds(out, " key=");
			smg_json_add_values(out, rec->key, rec->table->npk);
			smg_buf_addf(out, " hash=%s ts=", hex);
			smg_json_add_value(out, &rec->ts);
			if (rec->values)
				smg_buf_addf(out, " values=%.*s", (int)rec->values_len,
					     rec->values);
			else
				smg_buf_adds(out, " values=(none)");
		}
		if (rec->kind == SMG_REC_CHANGE) {
			smg_buf_addf(out, " bucket=%d op=%d to=%d key=", (int)rec->bucket, (int)rec->op,
				     (int)rec->to);
			smg_json_add_values(out, rec->key, rec->table->npk);
			smg_buf_addf(out, " expect=%d was=%.*s", (int)rec->expect, (int)rec->was_len,
				     rec->was ? rec->was : "");
			if (rec->expect == SMG_EXPECT_HASH) {
				char ehex[65];
				smg_hash_hex(rec->expect_hash, ehex);
				smg_buf_adds(out, ehex);
			}
			smg_buf_addf(out, " values=%.*s", (int)rec->values_len,
				     rec->values ? rec->values : "");
		}
		smg_buf_addc(out, '\n');
	}
	smg_reader_close(r);
	close(fd);
}

static void test_rows(void)
{
	/* a name the writer escapes, a text key, a timestamp */
	static const char name[] = "we\"ird \\ n\xc3\xa4me";
	struct smg_table *t = smg_table_new(name);
	smg_table_add_col(t, "k");
	smg_table_add_col(t, "n");
	smg_table_add_col(t, "at");
	smg_table_add_pk(t, "k");
	smg_table_add_pk(t, "n");
	CHECK(smg_table_finish(t, "at") == NULL, "table with a timestamp");

	struct smg_writer w;
	writer_open(&w);
	smg_write_table(&w, t);
	struct smg_value rows[3][3] = {
		{{.type = SMG_TEXT, .p = "a\"]", .n = 3}, {.type = SMG_INT, .i = -5},
		 {.type = SMG_TEXT, .p = "2024-01-01T00:00:00Z", .n = 20}},
		{{.type = SMG_TEXT, .p = "b", .n = 1}, {.type = SMG_REAL, .r = 0.1},
		 {.type = SMG_NULL}},
		{{.type = SMG_BLOB, .p = "\0\1", .n = 2}, {.type = SMG_INT, .i = 1},
		 {.type = SMG_INT, .i = 1700000000}},
	};
	for (int i = 0; i < 3; i++) {
		unsigned char h[SMG_HASH_LEN];
		smg_hash_row(t, rows[i], h);
		struct smg_value key[2] = {rows[i][0], rows[i][1]};
		struct smg_buf values = SMG_BUF_INIT;
		smg_json_add_values(&values, rows[i], 3);
		if (i == 1)	/* keys-only */
			smg_write_row(&w, t, key, h, &rows[i][2], NULL, 0);
		else
			smg_write_row(&w, t, key, h, &rows[i][2], values.data, values.len);
		smg_buf_free(&values);
	}
	char *canonical = writer_text(&w);

	/* The same records with the fields of each row in another order (the
	 * general path): the hash field moved first, values before the key. */
	struct smg_buf shuffled = SMG_BUF_INIT;
	const char *line = canonical;
	for (int n = 0; *line; n++) {
		const char *nl = strchr(line, '\n');
		const char *h = strstr(line, ",\"hash\":\"");
		if (n == 0 || !h || h > nl) {
			smg_buf_add(&shuffled, line, (size_t)(nl - line + 1));
		} else {
			/* {"hash":"..",  +  the rest with the hash field cut out */
			smg_buf_addf(&shuffled, "{\"hash\":\"%.64s\",", h + 9);
			smg_buf_add(&shuffled, line + 1, (size_t)(h - line - 1));
			smg_buf_add(&shuffled, h + 9 + 65, (size_t)(nl - (h + 9 + 65) + 1));
		}
		line = nl + 1;
	}
	CHECK(strcmp(shuffled.data, canonical) != 0, "the shuffled stream differs in its text");

	struct smg_buf a = SMG_BUF_INIT, b = SMG_BUF_INIT;
	dump_stream(canonical, &a);
	dump_stream(shuffled.data, &b);
	CHECK(a.len > 0 && !strcmp(a.data, b.data),
	      "rows read by the fast path match the general path:\n%s---\n%s", a.data, b.data);
	CHECK(strstr(a.data, "values=(none)") != NULL, "... a keys-only row among them");
	CHECK(strstr(a.data, "\"a\\\"]\"") != NULL, "... and a key with a quote and a bracket");
	smg_buf_free(&a);
	smg_buf_free(&b);
	smg_buf_free(&shuffled);
	free(canonical);
	smg_table_free(t);
}

/* Change records: the writer's layout against the same fields reversed. */
static void test_changes(void)
{
	struct smg_table *t = smg_table_new("t \"q\"");
	smg_table_add_col(t, "k");
	smg_table_add_col(t, "v");
	smg_table_add_pk(t, "k");
	smg_table_finish(t, NULL);
	struct smg_writer w;
	writer_open(&w);
	smg_write_table(&w, t);
	struct smg_value k1 = {.type = SMG_TEXT, .p = "a\"b", .n = 3};
	struct smg_value k2 = {.type = SMG_INT, .i = 7};
	unsigned char seen[SMG_HASH_LEN];
	memset(seen, 0xa5, sizeof seen);
	smg_write_change(&w, t, SMG_REMOTE_NEWER, SMG_OP_UPSERT, SMG_SIDE_LOCAL, &k2, NULL, NULL, 0,
			 "[7,{\"blob\":\"AP8=\"}]", strlen("[7,{\"blob\":\"AP8=\"}]"));
	smg_write_change(&w, t, SMG_LOCAL_ONLY, SMG_OP_DELETE, SMG_SIDE_REMOTE, &k1, seen,
			 "[\"a\\\"b\"]", strlen("[\"a\\\"b\"]"), NULL, 0);
	char *canonical = writer_text(&w);
	/* every field of a change line, in reverse order */
	static const char *const names[] = {",\"bucket\":", ",\"op\":", ",\"to\":", ",\"key\":",
					    ",\"expect\":", ",\"was\":", ",\"values\":"};
	struct smg_buf reversed = SMG_BUF_INIT;
	for (const char *line = canonical; *line;) {
		const char *nl = strchr(line, '\n');
		if (strncmp(line, "{\"kind\":\"change\"", 16)) {
			smg_buf_add(&reversed, line, (size_t)(nl - line + 1));
			line = nl + 1;
			continue;
		}
		const char *at[8];
		int nf = 0;
		at[nf++] = line + 1;	/* "kind" and "table" stay together */
		for (int i = 0; i < 7; i++) {
			const char *f = strstr(line, names[i]);
			if (f && f < nl)
				at[nf++] = f + 1;
		}
		smg_buf_addc(&reversed, '{');
		for (int i = nf - 1; i >= 0; i--) {
			const char *stop = i + 1 < nf ? at[i + 1] - 1 : nl - 1;
			smg_buf_add(&reversed, at[i], (size_t)(stop - at[i]));
			smg_buf_addc(&reversed, i ? ',' : '}');
		}
		smg_buf_addc(&reversed, '\n');
		line = nl + 1;
	}
	struct smg_buf a = SMG_BUF_INIT, b = SMG_BUF_INIT;
	dump_stream(canonical, &a);
	dump_stream(reversed.data, &b);
	CHECK(strcmp(canonical, reversed.data) != 0, "the reversed change stream differs in its text");
	CHECK(a.len > 0 && !strcmp(a.data, b.data),
	      "changes read by the fast path match the general path:\n%s---\n%s---\n%s", a.data,
	      b.data, reversed.data);
	smg_buf_free(&a);
	smg_buf_free(&b);
	smg_buf_free(&reversed);
	free(canonical);
	smg_table_free(t);
}

/* ---- errors: what a dying reader made is the reader's ---------------------- */

static jmp_buf died;

static void jump_back(void)
{
	longjmp(died, 1);
}

/* Read text until the reader dies (true) or the stream ends, then close
 * the reader, as a caller whose smg_die hook returns to it does.  Anything
 * the dying reader held elsewhere is a leak that ASan reports at exit. */
static bool reader_dies_on(const char *text)
{
	int fd = text_fd(text);
	struct smg_reader *volatile r = smg_reader_open(fd, "bad");
	volatile bool dead = false;
	smg_atdie(jump_back);
	if (setjmp(died) == 0)
		while (smg_reader_next(r))
			;
	else
		dead = true;
	smg_atdie(NULL);
	smg_reader_close(r);
	close(fd);
	return dead;
}

static void test_errors(void)
{
	static const struct {
		const char *what, *text;
	} bad[] = {
		{"a column name that is not a string",
		 "{\"kind\":\"table\",\"table\":\"t\",\"columns\":[\"k\",\"v\",1],\"pk\":[\"k\"]}\n"},
		{"a bad member after the name lists",
		 "{\"kind\":\"table\",\"table\":\"t\",\"columns\":[\"k\"],\"pk\":[\"k\"],"
		 "\"indexes\":[\"i\"],\"sql\":5}\n"},
		{"tables out of order",
		 "{\"kind\":\"table\",\"table\":\"b\",\"columns\":[\"k\"],\"pk\":[\"k\"]}\n"
		 "{\"kind\":\"table\",\"table\":\"a\",\"columns\":[\"k\"],\"pk\":[\"k\"]}\n"},
		{"a key that is not a column",
		 "{\"kind\":\"table\",\"table\":\"t\",\"columns\":[\"k\"],\"pk\":[\"x\"]}\n"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(reader_dies_on(bad[i].text), "reader: dies on %s; closing it frees the rest",
		      bad[i].what);

	struct smg_buf scratch = SMG_BUF_INIT;
	struct smg_json j;
	const char *text = "[\"a\",\"b\",1]";
	char **names = NULL;
	size_t n = 0;
	smg_json_init(&j, text, strlen(text), &scratch);
	bool ok = smg_json_strings(&j, &names, &n);
	CHECK(!ok && !names && n == 0, "json strings: half an array gives nothing to free");
	smg_buf_free(&scratch);
}

int main(void)
{
	test_skip();
	test_unhex();
	test_base64();
	test_rows();
	test_changes();
	test_errors();
	return test_failures != 0;
}
