/* Unit tests of the stream library: values, JSON, order, hash, time. */
#include "stream.h"
#include "sha256.h"
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

static struct smg_value I(int64_t i) { return (struct smg_value){.type = SMG_INT, .i = i}; }
static struct smg_value R(double r) { return (struct smg_value){.type = SMG_REAL, .r = r}; }
static struct smg_value S(const char *s) { return (struct smg_value){.type = SMG_TEXT, .p = s, .n = strlen(s)}; }
static struct smg_value Bl(const char *s, size_t n) { return (struct smg_value){.type = SMG_BLOB, .p = s, .n = n}; }
static struct smg_value N(void) { return (struct smg_value){.type = SMG_NULL}; }

/* encode, decode, and compare type and bits */
static bool round_trip(struct smg_value v, char *text, size_t textlen)
{
	struct smg_buf b = SMG_BUF_INIT, scratch = SMG_BUF_INIT;
	smg_json_add_value(&b, &v);
	snprintf(text, textlen, "%s", b.data);
	struct smg_json j;
	struct smg_value out;
	smg_json_init(&j, b.data, b.len, &scratch);
	bool ok = smg_json_value(&j, &out) && j.p == j.end && out.type == v.type;
	if (ok && v.type == SMG_INT)
		ok = out.i == v.i;
	if (ok && v.type == SMG_REAL)
		ok = !memcmp(&out.r, &v.r, sizeof v.r);
	if (ok && (v.type == SMG_TEXT || v.type == SMG_BLOB))
		ok = out.n == v.n && !memcmp(out.p, v.p, v.n);
	smg_buf_free(&b);
	smg_buf_free(&scratch);
	return ok;
}

static void test_values(void)
{
	char t[128];
	CHECK(round_trip(I(INT64_MIN), t, sizeof t) && !strcmp(t, "-9223372036854775808"), "int64 min: %s", t);
	CHECK(round_trip(I(INT64_MAX), t, sizeof t) && !strcmp(t, "9223372036854775807"), "int64 max: %s", t);
	CHECK(round_trip(R(1.0), t, sizeof t) && !strcmp(t, "1.0"), "real 1.0 keeps its point: %s", t);
	CHECK(round_trip(R(0.1), t, sizeof t) && !strcmp(t, "0.1"), "real 0.1 is short: %s", t);
	CHECK(round_trip(R(17.01), t, sizeof t) && !strcmp(t, "17.01"), "real 17.01 is short: %s", t);
	CHECK(round_trip(R(-0.0), t, sizeof t) && !strcmp(t, "-0.0"), "real -0.0 kept: %s", t);
	CHECK(round_trip(R(0.1 + 0.2), t, sizeof t), "0.1+0.2 round-trips: %s", t);
	CHECK(round_trip(R(1e308), t, sizeof t), "1e308 round-trips: %s", t);
	CHECK(round_trip(R(5e-324), t, sizeof t), "smallest subnormal round-trips: %s", t);
	CHECK(round_trip(R(INFINITY), t, sizeof t) && !strcmp(t, "1e999"), "+inf as 1e999: %s", t);
	CHECK(round_trip(R(-INFINITY), t, sizeof t), "-inf round-trips: %s", t);
	CHECK(round_trip(R(1e15), t, sizeof t) && strpbrk(t, ".e"), "1e15 is a real: %s", t);
	CHECK(round_trip(R(123456789012345678.0), t, sizeof t), "large integral real: %s", t);
	srand(42);
	int bad = 0;
	for (int i = 0; i < 100000; i++) {
		uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand();
		double d;
		memcpy(&d, &bits, 8);
		if (isnan(d))
			continue;
		bad += !round_trip(R(d), t, sizeof t);
		bad += !round_trip(R((rand() % 1000000) / 100.0 + 0.01), t, sizeof t);
	}
	CHECK(bad == 0, "200000 random doubles round-trip exactly (%d failed)", bad);
	CHECK(round_trip(S(""), t, sizeof t) && !strcmp(t, "\"\""), "empty text");
	CHECK(round_trip(S("a\"b"), t, sizeof t) && !strcmp(t, "\"a\\\"b\""), "quote in plain text escaped: %s", t);
	CHECK(round_trip(S("h\xc3\xa9llo \"q\" \\ \n\t\x01 \xf0\x9f\x98\x80"), t, sizeof t), "text with escapes and unicode: %s", t);
	struct smg_value nul = {.type = SMG_TEXT, .p = "a\0b", .n = 3};
	CHECK(round_trip(nul, t, sizeof t), "text with NUL: %s", t);
	struct smg_value bad8 = {.type = SMG_TEXT, .p = "\xff\xfe", .n = 2};
	CHECK(round_trip(bad8, t, sizeof t) && strstr(t, "text64"), "invalid UTF-8 text kept as text64: %s", t);
	CHECK(round_trip(Bl("", 0), t, sizeof t) && !strcmp(t, "{\"blob\":\"\"}"), "empty blob: %s", t);
	CHECK(round_trip(Bl("\0\xff", 2), t, sizeof t) && !strcmp(t, "{\"blob\":\"AP8=\"}"), "binary blob: %s", t);
	CHECK(round_trip(N(), t, sizeof t) && !strcmp(t, "null"), "null");
}

static bool parses(const char *text)
{
	struct smg_buf scratch = SMG_BUF_INIT;
	struct smg_json j;
	struct smg_value v;
	smg_json_init(&j, text, strlen(text), &scratch);
	bool ok = smg_json_value(&j, &v) && j.p == j.end;
	smg_buf_free(&scratch);
	return ok;
}

static void test_bad_json(void)
{
	CHECK(!parses("true"), "booleans are not values");
	CHECK(!parses("[1]"), "arrays are not values");
	CHECK(!parses("{\"blob\":\"!!\"}"), "bad base64 refused");
	CHECK(!parses("{\"x\":1}"), "unknown object refused");
	CHECK(!parses("9223372036854775808"), "integer past int64 refused");
	CHECK(!parses("\"abc"), "unterminated string refused");
	CHECK(!parses("\"\\ud800\""), "lone surrogate refused");
	CHECK(!parses("\"\xc0\xaf\""), "overlong UTF-8 refused");
	CHECK(!parses("\"a\x01\""), "raw control character refused");
	CHECK(parses("\"\\ud83d\\ude00\""), "surrogate pair accepted");
}

static void test_order(void)
{
	struct smg_value v[] = {N(), I(-5), R(-4.5), I(0), R(0.5), I(1), R(1e300), S(""), S("A"), S("a"),
				S("ab"), Bl("", 0), Bl("\x01", 1)};
	size_t n = sizeof v / sizeof *v;
	int bad = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < n; k++) {
			int c = smg_value_cmp(&v[i], &v[k]);
			int want = i < k ? -1 : i > k ? 1 : 0;
			bad += (c < 0 ? -1 : c > 0) != want;
		}
	CHECK(bad == 0, "SQLite order: NULL < numbers < text < blob (%d wrong)", bad);
	struct smg_value a = I(1), b = R(1.0);
	CHECK(smg_value_cmp(&a, &b) == 0, "1 = 1.0 in key order");
	a = I(INT64_MAX), b = R(9223372036854775808.0);
	CHECK(smg_value_cmp(&a, &b) < 0, "INT64_MAX < 2^63 as real");
}

static void hash_of(struct smg_table *t, struct smg_value *vals, unsigned char out[32])
{
	smg_hash_row(t, vals, out);
}

static void test_hash(void)
{
	struct smg_table *t = smg_table_new("t");
	smg_table_add_col(t, "id");
	smg_table_add_col(t, "v");
	smg_table_add_col(t, "updated_at");
	smg_table_add_pk(t, "id");
	CHECK(smg_table_finish(t, "updated_at") == NULL, "table finishes");
	struct smg_value four[4][3] = {{I(1), N(), N()}, {I(1), S(""), N()}, {I(1), I(0), N()}, {I(1), S("0"), N()}};
	unsigned char h[4][32];
	for (int i = 0; i < 4; i++)
		hash_of(t, four[i], h[i]);
	int same = 0;
	for (int i = 0; i < 4; i++)
		for (int k = i + 1; k < 4; k++)
			same += !memcmp(h[i], h[k], 32);
	CHECK(same == 0, "NULL, '', 0 and '0' hash differently");
	struct smg_value a[3] = {I(1), I(7), S("2026-01-01")}, b[3] = {I(1), R(7.0), S("2020-01-01")};
	unsigned char ha[32], hb[32];
	hash_of(t, a, ha);
	hash_of(t, b, hb);
	CHECK(!memcmp(ha, hb, 32), "integral REAL hashes as INTEGER; timestamp not hashed");
	struct smg_value c[3] = {I(1), S("ab"), N()}, d[3] = {I(1), Bl("ab", 2), N()};
	hash_of(t, c, ha);
	hash_of(t, d, hb);
	CHECK(memcmp(ha, hb, 32), "TEXT and BLOB with the same bytes differ");
	/* same columns in another order hash the same */
	struct smg_table *u = smg_table_new("t");
	smg_table_add_col(u, "v");
	smg_table_add_col(u, "id");
	smg_table_add_pk(u, "id");
	smg_table_finish(u, NULL);
	struct smg_table *t2 = smg_table_new("t");
	smg_table_add_col(t2, "id");
	smg_table_add_col(t2, "v");
	smg_table_add_pk(t2, "id");
	smg_table_finish(t2, NULL);
	struct smg_value e[2] = {S("x"), I(3)}, f[2] = {I(3), S("x")};
	hash_of(u, e, ha);
	hash_of(t2, f, hb);
	CHECK(!memcmp(ha, hb, 32), "column order does not change the hash");
	char hex[65];
	smg_hash_hex(ha, hex);
	unsigned char back[32];
	CHECK(smg_hash_unhex(hex, 64, back) && !memcmp(back, ha, 32), "hash hex round trip");
	CHECK(!smg_hash_unhex("ZZ", 2, back), "short hex refused");
	hex[5] = 'G';
	CHECK(!smg_hash_unhex(hex, 64, back), "non-hex digit refused");
	smg_table_free(t);
	smg_table_free(u);
	smg_table_free(t2);
}

static void test_sha256(void)
{
	unsigned char buf[1000], a[32], b[32];
	unsigned int len;
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	int bad = 0;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			smg_sha256_force_portable();
		for (size_t n = 0; n <= sizeof buf; n++) {
			smg_sha256(buf, n, a);
			EVP_Digest(buf, n, b, &len, EVP_sha256(), NULL);
			bad += memcmp(a, b, 32) != 0;
		}
		CHECK(bad == 0, "SHA-256 (%s) equals OpenSSL on lengths 0..1000", pass ? "portable" : "fastest");
	}
}

/*
 * smg_sha256_x2 against OpenSSL and two smg_sha256 calls, on every pair of
 * lengths 0..300 and some longer ones, so the two messages change from whole
 * blocks to padded tail, and finish, at every combination of blocks.  Each
 * message is the end of its own heap block, for ASan to see a read past it.
 * Runs before test_sha256, which leaves the portable code forced.
 */
static void test_sha256_x2(void)
{
	static const size_t extra[] = {383, 384, 447, 448, 1000, 4097};
	enum { NL = 301 + sizeof extra / sizeof extra[0] };
	size_t len[NL];
	unsigned char *msg[2][NL], ref[2][NL][32];
	srand(256);
	for (int i = 0; i < NL; i++) {
		len[i] = i < 301 ? (size_t)i : extra[i - 301];
		for (int m = 0; m < 2; m++) {
			/* one byte before the message: not 16-byte aligned */
			msg[m][i] = (unsigned char *)malloc(len[i] + 1) + 1;
			for (size_t k = 0; k < len[i]; k++)
				msg[m][i][k] = (unsigned char)rand();
			unsigned int n;
			EVP_Digest(msg[m][i], len[i], ref[m][i], &n, EVP_sha256(), NULL);
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1)
			smg_sha256_force_portable();
		int bad = 0, badone = 0;
		for (int i = 0; i < NL; i++) {
			for (int j = 0; j < NL; j++) {
				unsigned char a[32], b[32], one[2][32];
				smg_sha256_x2(msg[0][i], len[i], msg[1][j], len[j], a, b);
				smg_sha256(msg[0][i], len[i], one[0]);
				smg_sha256(msg[1][j], len[j], one[1]);
				bool ok = !memcmp(a, ref[0][i], 32) && !memcmp(b, ref[1][j], 32);
				if (!ok && !bad++)
					printf("# first mismatch: lengths %zu and %zu\n", len[i], len[j]);
				badone += memcmp(a, one[0], 32) || memcmp(b, one[1], 32);
			}
		}
		const char *path = pass ? "portable" : "fastest";
		CHECK(bad == 0, "SHA-256 x2 (%s) equals OpenSSL on %d x %d length pairs", path, NL, NL);
		CHECK(badone == 0, "SHA-256 x2 (%s) equals two smg_sha256 calls", path);
		unsigned char a[32], b[32];
		smg_sha256_x2(msg[0][200], 200, msg[0][200], 200, a, b);
		CHECK(!memcmp(a, ref[0][200], 32) && !memcmp(b, ref[0][200], 32),
		      "SHA-256 x2 (%s) of one message twice", path);
	}
	for (int i = 0; i < NL; i++)
		for (int m = 0; m < 2; m++)
			free(msg[m][i] - 1);
}

static bool ts(const char *s, int64_t *us)
{
	struct smg_value v = S(s);
	return smg_ts_parse(&v, us);
}

static void test_time(void)
{
	int64_t a, b;
	CHECK(ts("2026-03-01T11:00:00+01:00", &a) && ts("2026-03-01T10:00:00Z", &b) && a == b, "offsets compare as time");
	CHECK(ts("2026-03-01 10:00:00", &a) && a == b, "space separator, no offset = UTC");
	CHECK(ts("2026-03-01T10:00:00.250Z", &a) && a == b + 250000, "fractions");
	CHECK(ts("1772359200", &a) && a == b, "unix seconds as text");
	struct smg_value ms = I(1772359200000), sec = I(1772359200);
	CHECK(smg_ts_parse(&ms, &a) && a == b, "unix milliseconds");
	CHECK(smg_ts_parse(&sec, &a) && a == b, "unix seconds");
	CHECK(ts("2026-03-01", &a) && a == b - 36000LL * 1000000, "date only");
	CHECK(!ts("yesterday", &a), "not a time");
	CHECK(!ts("2026-13-01", &a), "month 13 refused");
	CHECK(ts("1999-12-31T23:59:59Z", &a) && ts("2000-01-01T00:00:00Z", &b) && b - a == 1000000, "across a year");
}

static void test_uuid(void);
static void test_sha256_stream(const char *path);
static void test_parents_first(void);

int main(void)
{
	test_values();
	test_bad_json();
	test_order();
	test_hash();
	test_sha256_x2();
	test_sha256_stream("SHA extensions, if the CPU has them");
	test_sha256();
	test_sha256_stream("portable");
	test_time();
	test_uuid();
	test_parents_first();
	return test_failures != 0;
}

#include "diff.h"
static void test_uuid(void)
{
	CHECK(smg_is_uuid_v7("018f3a2c-7b1e-7c3d-9a4b-123456789abc", 36), "UUIDv7 accepted");
	CHECK(!smg_is_uuid_v7("018f3a2c-7b1e-4c3d-9a4b-123456789abc", 36), "UUIDv4 refused");
	CHECK(!smg_is_uuid_v7("018f3a2c-7b1e-7c3d-1a4b-123456789abc", 36), "bad variant refused");
	CHECK(!smg_is_uuid_v7("42", 2), "not a UUID");
}

#include "db.h"
static bool order_is(const char *const *names, const char *const *sql, size_t n,
		     const size_t *want)
{
	size_t got[8];
	smg_tables_parents_first(names, sql, n, got);
	return !memcmp(got, want, n * sizeof *got);
}

static void test_parents_first(void)
{
	const char *names[] = {"a_grand", "b_child", "c_parent", "lone"};
	const char *sql[] = {
		"CREATE TABLE a_grand(id INTEGER PRIMARY KEY, c REFERENCES b_child(id))",
		("CREATE TABLE b_child(id INTEGER PRIMARY KEY, p INTEGER, "
		 "FOREIGN KEY(p) REFERENCES \"C_PARENT\"(id))"),
		"CREATE TABLE c_parent(id INTEGER PRIMARY KEY, up REFERENCES c_parent(id))",
		"CREATE TABLE lone(id INTEGER PRIMARY KEY)",
	};
	CHECK(order_is(names, sql, 4, (size_t[]){2, 1, 0, 3}),
	      "parents first: grandchild after child after parent (any case, self-reference)");
	const char *nosql[] = {NULL, NULL, NULL, NULL};
	CHECK(order_is(names, nosql, 4, (size_t[]){0, 1, 2, 3}), "no schema: the order given");
	const char *cyc_names[] = {"x", "y", "z"};
	const char *cyc[] = {"CREATE TABLE x(id INTEGER PRIMARY KEY, y REFERENCES y(id))",
			     "CREATE TABLE y(id INTEGER PRIMARY KEY, x REFERENCES x(id))",
			     "CREATE TABLE z(id INTEGER PRIMARY KEY, x REFERENCES x(id))"};
	CHECK(order_is(cyc_names, cyc, 3, (size_t[]){0, 1, 2}),
	      "a cycle keeps the given order, and what hangs off it follows");
	const char *bad[] = {"CREATE TABLE a_grand(oops", NULL, sql[2], sql[3]};
	CHECK(order_is(names, bad, 4, (size_t[]){0, 1, 2, 3}),
	      "a CREATE that does not parse is only a table without references");
	CHECK(order_is(names, sql, 0, (size_t[]){0}), "no tables");
}

/* Streaming SHA-256 against OpenSSL, the message cut into random pieces. */
static void test_sha256_stream(const char *path)
{
	static unsigned char buf[4200];
	srand(5);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)rand();
	long bad = 0, cases = 0;
	for (size_t n = 0; n < sizeof buf; n += n < 300 ? 1 : 97) {
		for (int round = 0; round < 3; round++) {
			struct smg_sha256_ctx c;
			smg_sha256_init(&c);
			for (size_t at = 0; at < n;) {
				size_t step = round == 0 ? n - at : 1 + (size_t)rand() % (round == 1 ? 7 : 150);
				if (step > n - at)
					step = n - at;
				smg_sha256_update(&c, buf + at, step);
				at += step;
			}
			unsigned char a[32], b[32];
			unsigned int len;
			smg_sha256_final(&c, a);
			EVP_Digest(buf, n, b, &len, EVP_sha256(), NULL);
			cases++;
			bad += memcmp(a, b, 32) != 0;
		}
	}
	CHECK(bad == 0, "streaming SHA-256 (%s): %ld messages in random pieces match OpenSSL",
	      path, cases);
}
