/*
 * remote-sql.c - values between smugglr and a remote's SQL: a value as SQL
 * that gives it back exactly (literal or parameter), the tagged columns a
 * lossless read selects and the decoding of their cells (tests/d1/FIDELITY.md,
 * sections 2 and 3).
 */
#include "remote-int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text and blobs up to these sizes go into the SQL as literals, which
 * costs statement bytes but no bound parameter (D1: 100 per statement);
 * longer ones are parameters. */
#define TEXT_LITERAL_MAX 256
#define BLOB_LITERAL_MAX 128

void remote_add_hex(struct smg_buf *b, const char *p, size_t n)
{
	smg_buf_grow(b, 2 * n + 1);
	smg_hex(p, n, b->data + b->len);
	b->len += 2 * n;
}

static bool literal_text_ok(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20)
			return false;
	return smg_utf8_valid(p, n);
}

/*
 * A finite real as SQL that computes exactly it from integers: m * 2^e as
 * CAST(m AS REAL) times or divided by powers of two no larger than 2^62.
 * Every step is exact in IEEE arithmetic (the value keeps m's bits), so
 * nothing depends on how the endpoint parses decimal text (SQLite 3.47's
 * text-to-float is not exact at large exponents, tests/d1/FIDELITY.md) or
 * binds a JSON number (D1 types parameters as strings).
 */
static void real_sql(struct smg_buf *sql, double d)
{
	int e;
	double f = frexp(d, &e);	/* d = f * 2^e, 0.5 <= |f| < 1 */
	long long m = (long long)ldexp(f, 53);
	e -= 53;
	while (m != 0 && m % 2 == 0) {
		m /= 2;
		e++;
	}
	smg_buf_addf(sql, "(CAST(%lld AS REAL)", m);
	for (; e != 0; e += e > 0 ? -(e > 62 ? 62 : e) : (-e > 62 ? 62 : -e))
		smg_buf_addf(sql, "%c%lld", e > 0 ? '*' : '/', 1LL << (abs(e) > 62 ? 62 : abs(e)));
	smg_buf_addc(sql, ')');
}

/*
 * Append v to sql as SQL that gives back exactly v: a literal where SQLite
 * reads it exactly, else a parameter marked \x01 (FIDELITY.md, section 3).
 * Parameters are only ever strings (or, where the profile has param_blob,
 * blobs): nothing depends on how an endpoint binds a JSON number.
 * literal_only: text and blobs as literals too, to spend fewer parameters.
 */
void remote_sql_value(const struct smg_http_profile *p, struct smg_buf *sql, struct params *ps,
		      const struct smg_value *v, bool literal_only)
{
	switch (v->type) {
	case SMG_NULL:
		smg_buf_adds(sql, "NULL");
		break;
	case SMG_INT:
		smg_buf_addf(sql, "%lld", (long long)v->i);
		break;
	case SMG_REAL:
		if (isinf(v->r)) {
			smg_buf_adds(sql, v->r > 0 ? "9e999" : "-9e999");
		} else if (isnan(v->r)) {
			smg_buf_adds(sql, "NULL");
		} else if (v->r == 0 && signbit(v->r)) {
			smg_buf_adds(sql, "CAST(\x01 AS REAL)");
			remote_params_add(ps, 't', "-0.0", 4);
		} else {
			real_sql(sql, v->r);
		}
		break;
	case SMG_TEXT:
		if ((v->n <= TEXT_LITERAL_MAX || literal_only) && literal_text_ok(v->p, v->n)) {
			smg_buf_addc(sql, '\'');
			for (size_t i = 0; i < v->n; i++) {
				if (v->p[i] == '\'')
					smg_buf_addc(sql, '\'');
				smg_buf_addc(sql, v->p[i]);
			}
			smg_buf_addc(sql, '\'');
		} else if (smg_utf8_valid(v->p, v->n) && !literal_only) {
			smg_buf_addc(sql, '\x01');
			remote_params_add(ps, 't', v->p, v->n);
		} else if (*p->param_blob && !literal_only) {
			smg_buf_adds(sql, "CAST(\x01 AS TEXT)");
			remote_params_add(ps, 'b', v->p, v->n);
		} else if (p->unhex && !literal_only) {
			smg_buf_adds(sql, "CAST(unhex(\x01) AS TEXT)");
			struct smg_buf h = SMG_BUF_INIT;
			remote_add_hex(&h, v->p, v->n);
			remote_params_add(ps, 't', h.data ? h.data : "", h.len);
			smg_buf_free(&h);
		} else {
			smg_buf_adds(sql, "CAST(X'");
			remote_add_hex(sql, v->p, v->n);
			smg_buf_adds(sql, "' AS TEXT)");
		}
		break;
	case SMG_BLOB:
		if (*p->param_blob && v->n > BLOB_LITERAL_MAX && !literal_only) {
			smg_buf_addc(sql, '\x01');
			remote_params_add(ps, 'b', v->p, v->n);
		} else if (v->n <= BLOB_LITERAL_MAX || literal_only || !p->unhex) {
			smg_buf_adds(sql, "X'");
			remote_add_hex(sql, v->p, v->n);
			smg_buf_addc(sql, '\'');
		} else {
			smg_buf_adds(sql, "unhex(\x01)");
			struct smg_buf h = SMG_BUF_INIT;
			remote_add_hex(&h, v->p, v->n);
			remote_params_add(ps, 't', h.data, h.len);
			smg_buf_free(&h);
		}
		break;
	}
}

/* ---- values out of answers --------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

bool remote_unhex(char *p, size_t n, size_t *out)
{
	if (n & 1)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int a = hexval(p[2 * i]), b = hexval(p[2 * i + 1]);
		if (a < 0 || b < 0)
			return false;
		p[i] = (char)(a << 4 | b);
	}
	*out = n / 2;
	return true;
}

/* A cell that is an object holds its value in the profile's cell member. */
static void cell_value(const struct smg_http_profile *p, const char **raw, size_t *len)
{
	if (*len && **raw == '{' && *p->cell) {
		if (!smg_jmember(*raw, *len, p->cell, raw, len)) {
			*raw = "null";
			*len = 4;
		}
	}
}

/*
 * One cell of a tagged read (FIDELITY.md, section 2) into v.  Strings are
 * decoded in place in the answer, which the caller owns; they stay valid
 * until the next request.  Returns an error message or NULL.
 */
const char *remote_decode_tagged(const struct smg_http_profile *p, const char *raw, size_t len,
				 struct smg_value *v)
{
	cell_value(p, &raw, &len);
	memset(v, 0, sizeof *v);
	if (len == 4 && !memcmp(raw, "null", 4)) {
		v->type = SMG_NULL;
		return NULL;
	}
	if (len && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))) {
		char num[64];
		if (len >= sizeof num)
			return "number too long";
		memcpy(num, raw, len);
		num[len] = '\0';
		char *end;
		errno = 0;
		v->type = SMG_REAL;
		v->r = strtod(num, &end);
		if (*end)
			return "malformed number";
		return NULL;
	}
	if (!len || raw[0] != '"' || len < 3)
		return "expected a tagged string, a number or null";
	char *s = (char *)raw + 1;
	size_t n = len - 2;
	if (memchr(s, '\\', n))
		return "unexpected escape in a tagged value";
	char tag = s[0];
	s++;
	n--;
	switch (tag) {
	case 'i': {
		char num[32];
		if (n == 0 || n >= sizeof num)
			return "bad integer";
		memcpy(num, s, n);
		num[n] = '\0';
		char *end;
		errno = 0;
		long long x = strtoll(num, &end, 10);
		if (*end || errno)
			return "bad integer";
		v->type = SMG_INT;
		v->i = x;
		return NULL;
	}
	case 'T':
	case 'B': {
		char num[24];
		char *end;
		if (n == 0 || n >= sizeof num)
			return "bad length of a long value";
		memcpy(num, s, n);
		num[n] = '\0';
		long long len = strtoll(num, &end, 10);
		if (*end || len <= REMOTE_PIECE_BYTES)
			return "bad length of a long value";
		v->type = tag == 'T' ? SMG_TEXT : SMG_BLOB;
		v->p = NULL;
		v->n = (size_t)len;
		return NULL;
	}
	case 't':
	case 'b':
		if (!remote_unhex(s, n, &v->n))
			return "bad hex";
		v->type = tag == 't' ? SMG_TEXT : SMG_BLOB;
		v->p = s;
		return NULL;
	case 'r':
		v->type = SMG_REAL;
		if (n == 3 && !memcmp(s, "Inf", 3))
			v->r = INFINITY;
		else if (n == 4 && !memcmp(s, "-Inf", 4))
			v->r = -INFINITY;
		else if (n == 4 && !memcmp(s, "-0.0", 4))
			v->r = -0.0;
		else
			return "bad real tag";
		return NULL;
	}
	return "unknown tag";
}

/* A JSON string member of a Hrana value, decoded into scratch. */
static bool hrana_string(const char *obj, size_t len, const char *name, struct smg_buf *scratch,
			 const char **s, size_t *n)
{
	const char *raw;
	size_t rawlen;
	struct smg_json j;
	if (!smg_jmember(obj, len, name, &raw, &rawlen) || !rawlen || raw[0] != '"')
		return false;
	smg_buf_grow(scratch, rawlen);
	smg_json_init(&j, raw, rawlen, scratch);
	return smg_json_string(&j, s, n);
}

/* One Hrana value (see hrana_column) into v, decoded into scratch, which
 * holds it until the next reset; an error message or NULL. */
static const char *decode_hrana(const char *raw, size_t len, struct smg_value *v,
				struct smg_buf *scratch)
{
	const char *type, *s, *num;
	size_t tlen, n, numlen;
	memset(v, 0, sizeof *v);
	/* room for every string of the cell decoded, once: nothing decoded
	 * into scratch moves while the cell is read */
	smg_buf_grow(scratch, 3 * len + 16);
	if (!hrana_string(raw, len, "type", scratch, &type, &tlen))
		return "expected a Hrana value ({\"type\":...})";
	if (tlen == 4 && !memcmp(type, "null", 4)) {
		v->type = SMG_NULL;
		return NULL;
	}
	if (tlen == 7 && !memcmp(type, "integer", 7)) {
		char d[32], *end;
		if (!hrana_string(raw, len, "value", scratch, &s, &n) || n == 0 || n >= sizeof d)
			return "an integer whose value is not a decimal string";
		memcpy(d, s, n);
		d[n] = '\0';
		errno = 0;
		v->i = strtoll(d, &end, 10);
		if (*end || errno || !(d[0] == '-' || (d[0] >= '0' && d[0] <= '9')))
			return "an integer whose value is not a 64-bit decimal";
		v->type = SMG_INT;
		return NULL;
	}
	if (tlen == 5 && !memcmp(type, "float", 5)) {
		char d[64], *end;
		if (!smg_jmember(raw, len, "value", &num, &numlen) || numlen == 0 ||
		    numlen >= sizeof d || !(num[0] == '-' || (num[0] >= '0' && num[0] <= '9')))
			return "a float whose value is not a JSON number";
		memcpy(d, num, numlen);
		d[numlen] = '\0';
		v->r = strtod(d, &end);
		if (*end || isinf(v->r))
			return "a float whose value is not a JSON number";
		v->type = SMG_REAL;
		return NULL;
	}
	if (tlen == 4 && !memcmp(type, "text", 4)) {
		if (!hrana_string(raw, len, "value", scratch, &v->p, &v->n))
			return "a text whose value is not a UTF-8 JSON string";
		v->type = SMG_TEXT;
		return NULL;
	}
	if (tlen == 4 && !memcmp(type, "blob", 4)) {
		if (!hrana_string(raw, len, "base64", scratch, &s, &n))
			return "a blob without its base64";
		smg_buf_grow(scratch, n);
		char *out = scratch->data + scratch->len;
		size_t got;
		if (!smg_base64_decode(s, n, out, &got) || got == 0)
			return "a blob whose base64 is malformed or lacks its tag";
		scratch->len += got;
		if (out[0] == 'r' && got == 2 && (out[1] == '+' || out[1] == '-')) {
			v->type = SMG_REAL;
			v->r = out[1] == '+' ? INFINITY : -INFINITY;
			return NULL;
		}
		if (out[0] != 't' && out[0] != 'b')
			return "a blob with an unknown tag";
		v->type = out[0] == 't' ? SMG_TEXT : SMG_BLOB;
		v->p = out + 1;
		v->n = got - 1;
		return NULL;
	}
	return "a Hrana value of unknown type";
}

const char *remote_decode_cell(const struct smg_http_profile *p, const char *raw, size_t len,
			       struct smg_value *v, struct smg_buf *scratch)
{
	if (!strcmp(p->values, "hrana"))
		return decode_hrana(raw, len, v, scratch);
	return remote_decode_tagged(p, raw, len, v);
}

/* A plain (untagged) cell as text, for the schema queries; malloc'd. */
char *remote_cell_text(const struct smg_http_profile *p, const char *raw, size_t len)
{
	cell_value(p, &raw, &len);
	if (len == 4 && !memcmp(raw, "null", 4))
		return NULL;
	if (len && raw[0] == '"') {
		struct smg_buf scratch = SMG_BUF_INIT;
		struct smg_json j;
		const char *s;
		size_t n;
		smg_json_init(&j, raw, len, &scratch);
		char *out = smg_json_string(&j, &s, &n) ? smg_xstrndup(s, n) : NULL;
		smg_buf_free(&scratch);
		return out;
	}
	return smg_xstrndup(raw, len);
}

/* The cells of a row: an array, or an object keyed c0, c1, ... (the
 * aliases every query gives its columns).  Returns how many were found,
 * up to n; more than n when an array has more. */
size_t remote_row_cells(const char *row, size_t rowlen, size_t n, const char **cell,
			size_t *cell_len, bool *bad)
{
	size_t k = 0;
	*bad = false;
	if (rowlen && row[0] == '{') {
		for (k = 0; k < n; k++) {
			char name[24];
			snprintf(name, sizeof name, "c%zu", k);
			if (!smg_jmember(row, rowlen, name, &cell[k], &cell_len[k]))
				break;
		}
		return k;
	}
	struct smg_jiter it;
	const char *c;
	size_t clen;
	if (!smg_jarray(&it, row, rowlen)) {
		*bad = true;
		return 0;
	}
	while (smg_jnext(&it, &c, &clen)) {
		if (k == n)
			return n + 1;
		cell[k] = c;
		cell_len[k++] = clen;
	}
	*bad = it.bad;
	return k;
}


/*
 * A column read through Hrana's typed values (profile values = "hrana";
 * tursodatabase/libsql docs/HRANA_3_SPEC.md, "Values"): integers come as
 * decimal strings and finite reals as JSON numbers, both exact; text as a
 * JSON string only when it is printable ASCII without NUL, since Hrana's
 * text is UTF-8 and SQLite cannot tell valid UTF-8 in SQL (libsql-server
 * fails a statement whose result holds text that is not); other text, and
 * blobs, come as blobs after one tag byte ('t' text, 'b' blob), and an
 * infinite real, which JSON cannot carry, as the blob 'r+' or 'r-'.
 */
static void hrana_column(struct smg_buf *sql, const char *q, size_t idx)
{
	smg_buf_addf(sql, "CASE typeof(%s) WHEN 'text' THEN CASE WHEN %s GLOB '*[^ -~]*' OR "
		     "instr(%s, char(0)) THEN CAST(x'74' || CAST(%s AS BLOB) AS BLOB) ELSE %s END "
		     "WHEN 'blob' THEN CAST(x'62' || %s AS BLOB) "
		     "WHEN 'real' THEN CASE WHEN %s = 9e999 THEN CAST('r+' AS BLOB) "
		     "WHEN %s = -9e999 THEN CAST('r-' AS BLOB) ELSE %s END ELSE %s END AS c%zu",
		     q, q, q, q, q, q, q, q, q, q, idx);
}

/* One tagged result column per table column (FIDELITY.md, section 2). */
void remote_tagged_column(const struct smg_http_profile *p, struct smg_buf *sql, const char *col,
			  size_t idx)
{
	struct smg_buf c = SMG_BUF_INIT;
	if (!strcmp(p->values, "hrana")) {
		smg_sql_ident(&c, col);
		hrana_column(sql, c.data, idx);
		smg_buf_free(&c);
		return;
	}
	smg_sql_ident(&c, col);
	const char *q = c.data;
	smg_buf_addf(sql, "CASE typeof(%s) WHEN 'integer' THEN 'i' || %s WHEN 'real' THEN CASE "
		     "WHEN %s = 9e999 THEN 'rInf' WHEN %s = -9e999 THEN 'r-Inf' ", q, q, q, q);
	if (p->neg_zero)
		smg_buf_addf(sql, "WHEN %s = 0 AND atan2(%s, -1.0) < 0 THEN 'r-0.0' ", q, q);
	/* a long value as its length, read later in pieces (remote-fetch.c) */
	smg_buf_addf(sql, "ELSE %s END WHEN 'text' THEN CASE WHEN length(CAST(%s AS BLOB)) > %d THEN "
		     "'T' || length(CAST(%s AS BLOB)) ELSE 't' || hex(%s) END "
		     "WHEN 'blob' THEN CASE WHEN length(%s) > %d THEN 'B' || length(%s) "
		     "ELSE 'b' || hex(%s) END END AS c%zu", q, q, REMOTE_PIECE_BYTES, q, q, q,
		     REMOTE_PIECE_BYTES, q, q, idx);
	smg_buf_free(&c);
}


void remote_key_match(const struct smg_http_profile *p, struct smg_buf *sql, struct params *ps,
		      const struct smg_table *t, const struct smg_value *vals)
{
	smg_buf_adds(sql, " WHERE ");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_adds(sql, " AND ");
		smg_sql_ident(sql, t->pk[k]);
		smg_buf_adds(sql, " IS ");
		remote_sql_value(p, sql, ps, &vals[t->pk_idx[k]], false);
	}
}

void remote_key_text(struct smg_buf *b, const struct smg_table *t, const struct smg_value *vals)
{
	smg_buf_addc(b, '[');
	for (size_t k = 0; k < t->npk; k++) {
		const struct smg_value *v = &vals[t->pk_idx[k]];
		if (k)
			smg_buf_addc(b, ',');
		if (v->type == SMG_INT)
			smg_buf_addf(b, "%lld", (long long)v->i);
		else if (v->type == SMG_REAL)
			smg_buf_addf(b, "%.17g", v->r);
		else if (v->type == SMG_TEXT && smg_utf8_valid(v->p, v->n))
			smg_json_add_string(b, v->p, v->n > 60 ? 60 : v->n);
		else if (v->type == SMG_NULL)
			smg_buf_adds(b, "null");
		else
			smg_buf_addf(b, "(%zu-byte %s)", v->n, v->type == SMG_BLOB ? "blob" : "text");
	}
	smg_buf_addc(b, ']');
}
