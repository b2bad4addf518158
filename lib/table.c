/*
 * table.c - what a table is to the stream (columns, key, timestamp), the
 * order of keys, and the row hash.
 */
#include "table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sha256.h"

struct smg_table *smg_table_new(const char *name)
{
	struct smg_table *t = smg_xcalloc(1, sizeof *t);
	t->name = smg_xstrdup(name);
	t->ts_idx = -1;
	return t;
}

void smg_table_add_col(struct smg_table *t, const char *col)
{
	t->cols = smg_xrealloc(t->cols, (t->ncols + 1) * sizeof *t->cols);
	t->col_len = smg_xrealloc(t->col_len, (t->ncols + 1) * sizeof *t->col_len);
	t->col_len[t->ncols] = strlen(col);
	t->cols[t->ncols++] = smg_xstrdup(col);
}

void smg_table_add_pk(struct smg_table *t, const char *col)
{
	t->pk = smg_xrealloc(t->pk, (t->npk + 1) * sizeof *t->pk);
	t->pk[t->npk++] = smg_xstrdup(col);
}

void smg_table_add_index(struct smg_table *t, const char *sql)
{
	t->indexes = smg_xrealloc(t->indexes, (t->nindexes + 1) * sizeof *t->indexes);
	t->indexes[t->nindexes++] = smg_xstrdup(sql);
}

long smg_table_col(const struct smg_table *t, const char *name)
{
	for (size_t i = 0; i < t->ncols; i++)
		if (!strcmp(t->cols[i], name))
			return (long)i;
	return -1;
}

static const struct smg_table *sort_table;
static int by_name(const void *a, const void *b)
{
	return strcmp(sort_table->cols[*(const size_t *)a], sort_table->cols[*(const size_t *)b]);
}

/* {"kind":KIND,"table":NAME,NEXT */
static char *record_head(const struct smg_table *t, const char *kind, const char *next,
			 size_t *len)
{
	struct smg_buf head = SMG_BUF_INIT;
	smg_buf_addf(&head, "{\"kind\":\"%s\",\"table\":", kind);
	smg_json_add_string(&head, t->name, strlen(t->name));
	smg_buf_addc(&head, ',');
	smg_buf_adds(&head, next);
	*len = head.len;
	return smg_buf_detach(&head);
}

const char *smg_table_finish(struct smg_table *t, const char *ts)
{
	static char msg[512];
	if (t->ncols == 0)
		return "no columns";
	if (t->npk == 0)
		return "no primary key";
	for (size_t i = 0; i < t->ncols; i++)
		for (size_t k = i + 1; k < t->ncols; k++)
			if (!strcmp(t->cols[i], t->cols[k])) {
				snprintf(msg, sizeof msg, "column \"%s\" listed twice", t->cols[i]);
				return msg;
			}
	free(t->pk_idx);
	t->pk_idx = smg_xcalloc(t->npk, sizeof *t->pk_idx);
	for (size_t k = 0; k < t->npk; k++) {
		long c = smg_table_col(t, t->pk[k]);
		if (c < 0) {
			snprintf(msg, sizeof msg, "key column \"%s\" is not among the columns", t->pk[k]);
			return msg;
		}
		t->pk_idx[k] = (size_t)c;
	}
	free(t->ts);
	t->ts = NULL;
	t->ts_idx = ts ? smg_table_col(t, ts) : -1;
	if (t->ts_idx >= 0)
		t->ts = smg_xstrdup(ts);
	free(t->hash_order);
	t->hash_order = smg_xcalloc(t->ncols, sizeof *t->hash_order);
	t->nhash = 0;
	for (size_t i = 0; i < t->ncols; i++)
		if ((long)i != t->ts_idx)
			t->hash_order[t->nhash++] = i;
	sort_table = t;
	qsort(t->hash_order, t->nhash, sizeof *t->hash_order, by_name);
	free(t->row_head);
	t->row_head = record_head(t, "row", "\"key\":", &t->row_head_len);
	free(t->change_head);
	t->change_head = record_head(t, "change", "\"bucket\":\"", &t->change_head_len);
	return NULL;
}

void smg_table_refuse(const char *dbname, const char *name, const char *why, bool tracking)
{
	smg_die(SMG_EXIT_USAGE, "%s: table \"%s\" cannot be %s: %s (%s)", dbname, name,
		tracking ? "tracked" : "synced", why,
		tracking ? "its tombstones are kept by key"
			 : "smugglr matches rows by primary key");
}

struct smg_table *smg_table_done(struct smg_table *t, const char *ts, const char **why)
{
	const char *err = smg_table_finish(t, ts);
	if (!err)
		return t;
	*why = err;
	smg_table_free(t);
	return NULL;
}

void smg_table_free(struct smg_table *t)
{
	if (!t)
		return;
	free(t->name);
	smg_strings_free(t->cols, t->ncols);
	smg_strings_free(t->pk, t->npk);
	free(t->pk_idx);
	free(t->col_len);
	free(t->ts);
	free(t->sql);
	free(t->only_keys);
	smg_strings_free(t->indexes, t->nindexes);
	free(t->hash_order);
	free(t->row_head);
	free(t->change_head);
	free(t);
}

struct smg_table *smg_table_copy(const struct smg_table *t)
{
	struct smg_table *c = smg_table_new(t->name);
	for (size_t i = 0; i < t->ncols; i++)
		smg_table_add_col(c, t->cols[i]);
	for (size_t i = 0; i < t->npk; i++)
		smg_table_add_pk(c, t->pk[i]);
	if (t->sql)
		c->sql = smg_xstrdup(t->sql);
	for (size_t i = 0; i < t->nindexes; i++)
		smg_table_add_index(c, t->indexes[i]);
	c->tracked = t->tracked;
	smg_table_finish(c, t->ts);
	return c;
}

/* ---- order --------------------------------------------------------------- */

static int type_class(enum smg_type t)
{
	switch (t) {
	case SMG_NULL: return 0;
	case SMG_INT:
	case SMG_REAL: return 1;
	case SMG_TEXT: return 2;
	default: return 3;
	}
}

/* Exact comparison of an int64 and a double, as SQLite does it. */
static int cmp_int_real(int64_t i, double r)
{
	if (r < -9223372036854775808.0)
		return 1;
	if (r >= 9223372036854775808.0)
		return -1;
	int64_t ri = (int64_t)r;
	if (i != ri)
		return i < ri ? -1 : 1;
	double frac = r - (double)ri;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

static int cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	if (c)
		return c < 0 ? -1 : 1;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

int smg_value_cmp(const struct smg_value *a, const struct smg_value *b)
{
	int ca = type_class(a->type), cb = type_class(b->type);
	if (ca != cb)
		return ca < cb ? -1 : 1;
	switch (ca) {
	case 0:
		return 0;
	case 1:
		if (a->type == SMG_INT && b->type == SMG_INT)
			return a->i < b->i ? -1 : a->i > b->i;
		if (a->type == SMG_REAL && b->type == SMG_REAL)
			return a->r < b->r ? -1 : a->r > b->r;
		if (a->type == SMG_INT)
			return cmp_int_real(a->i, b->r);
		return -cmp_int_real(b->i, a->r);
	default:
		return cmp_bytes(a->p, a->n, b->p, b->n);
	}
}

int smg_key_cmp(const struct smg_value *a, const struct smg_value *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int c = smg_value_cmp(&a[i], &b[i]);
		if (c)
			return c;
	}
	return 0;
}

/* ---- hash -------------------------------------------------------------- */

static void put_u64(struct smg_buf *b, uint64_t v)
{
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);	/* the encoding is little-endian */
#endif
	smg_buf_add(b, &v, 8);
}

/* An integral REAL that fits int64 hashes as that INTEGER, because SQLite's
 * = says 1.0 = 1 and a remote may hand back either. */
static void encode_value(struct smg_buf *b, const struct smg_value *v)
{
	switch (v->type) {
	case SMG_NULL:
		smg_buf_addc_fast(b, 'N');
		break;
	case SMG_INT:
		smg_buf_addc_fast(b, 'I');
		put_u64(b, (uint64_t)v->i);
		break;
	case SMG_REAL:
		if (v->r == trunc(v->r) && v->r >= -9223372036854775808.0 &&
		    v->r < 9223372036854775808.0) {
			smg_buf_addc_fast(b, 'I');
			put_u64(b, (uint64_t)(int64_t)v->r);
		} else {
			uint64_t bits;
			memcpy(&bits, &v->r, 8);
			smg_buf_addc_fast(b, 'R');
			put_u64(b, bits);
		}
		break;
	case SMG_TEXT:
	case SMG_BLOB:
		smg_buf_addc_fast(b, v->type == SMG_TEXT ? 'T' : 'B');
		put_u64(b, v->n);
		smg_buf_add(b, v->p, v->n);
		break;
	}
}

/* Per thread, so any thread may hash a row (database scans hash in
 * lib/prefetch.c with buffers of their own). */
static _Thread_local struct smg_buf hash_enc;

/* Column names are not hashed: both sides of a diff are checked to have the
 * same columns, and taking the values in name order already makes the hash
 * independent of the order in which the columns were created. */
void smg_hash_input(const struct smg_table *t, const struct smg_value *vals,
		    struct smg_buf *out)
{
	for (size_t k = 0; k < t->nhash; k++)
		encode_value(out, &vals[t->hash_order[k]]);
}

void smg_hash_row(const struct smg_table *t, const struct smg_value *vals,
		  unsigned char out[SMG_HASH_LEN])
{
	smg_buf_reset(&hash_enc);
	smg_hash_input(t, vals, &hash_enc);
	smg_sha256(hash_enc.data, hash_enc.len, out);
}

void smg_hash_hex(const unsigned char h[SMG_HASH_LEN], char out[65])
{
	/* two digits per lookup: this runs once per row of every stream */
	static const char pairs[] =
		"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
		"202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
		"404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
		"606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
		"808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
		"c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
		"e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
	for (int i = 0; i < SMG_HASH_LEN; i++)
		memcpy(out + 2 * i, pairs + 2 * h[i], 2);
	out[64] = '\0';
}


#ifdef __SSE2__
#include <emmintrin.h>

/* 16 digits to 8 bytes; false if any is not a lowercase hex digit.  SSE2 is
 * part of x86-64 itself, so this needs no dispatch. */
static bool unhex16(const char *p, unsigned char *out)
{
	__m128i v = _mm_loadu_si128((const __m128i *)p);
	/* bytes >= 0x80 are negative here and fall outside both ranges */
	__m128i dec = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
				    _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
	__m128i let = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('a' - 1)),
				    _mm_cmplt_epi8(v, _mm_set1_epi8('f' + 1)));
	if (_mm_movemask_epi8(_mm_or_si128(dec, let)) != 0xFFFF)
		return false;
	/* '0'..'9' & 15 is the value, 'a'..'f' & 15 is 1..6: add 9 */
	__m128i nib = _mm_add_epi8(_mm_and_si128(v, _mm_set1_epi8(15)),
				   _mm_and_si128(let, _mm_set1_epi8(9)));
	/* each 16-bit lane holds a digit pair, the first in its low byte */
	__m128i hi = _mm_slli_epi16(_mm_and_si128(nib, _mm_set1_epi16(0xFF)), 4);
	__m128i lo = _mm_srli_epi16(nib, 8);
	__m128i pair = _mm_or_si128(hi, lo);
	_mm_storel_epi64((__m128i *)out, _mm_packus_epi16(pair, pair));
	return true;
}

bool smg_hash_unhex(const char *p, size_t n, unsigned char h[SMG_HASH_LEN])
{
	if (n != 64)
		return false;
	for (int i = 0; i < 4; i++)
		if (!unhex16(p + 16 * i, h + 8 * i))
			return false;
	return true;
}
#else
/* A digit's value plus one, 0 for anything but a lowercase hex digit: a
 * table because 64 digits per row add up over a million rows. */
#define D(c, v) [c] = v + 1
static const unsigned char hexv[256] = {
	D('0', 0), D('1', 1), D('2', 2), D('3', 3), D('4', 4), D('5', 5), D('6', 6),
	D('7', 7), D('8', 8), D('9', 9), D('a', 10), D('b', 11), D('c', 12), D('d', 13),
	D('e', 14), D('f', 15),
};
#undef D

bool smg_hash_unhex(const char *p, size_t n, unsigned char h[SMG_HASH_LEN])
{
	if (n != 64)
		return false;
	unsigned bad = 0;
	for (int i = 0; i < SMG_HASH_LEN; i++) {
		unsigned a = hexv[(unsigned char)p[2 * i]], b = hexv[(unsigned char)p[2 * i + 1]];
		bad |= (a - 1) | (b - 1);	/* wraps above 15 for a non-digit */
		h[i] = (unsigned char)((a - 1) << 4 | (b - 1));
	}
	return bad < 16;
}
#endif
