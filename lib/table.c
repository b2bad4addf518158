/*
 * table.c - what a table is to the stream (columns, key, timestamp), the
 * order of keys, and the row hash.
 */
#include "stream.h"

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
	return NULL;
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

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void smg_table_free(struct smg_table *t)
{
	if (!t)
		return;
	free(t->name);
	free_names(t->cols, t->ncols);
	free_names(t->pk, t->npk);
	free(t->pk_idx);
	free(t->col_len);
	free(t->ts);
	free(t->sql);
	free(t->hash_order);
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

static _Thread_local struct smg_buf hash_enc;	/* prefetch threads hash too */

void smg_hash_thread_done(void)
{
	smg_buf_free(&hash_enc);
}

/* Column names are not hashed: both sides of a diff are checked to have the
 * same columns, and taking the values in name order already makes the hash
 * independent of the order in which the columns were created. */
void smg_hash_row(const struct smg_table *t, const struct smg_value *vals,
		  unsigned char out[SMG_HASH_LEN])
{
	smg_buf_reset(&hash_enc);
	for (size_t k = 0; k < t->nhash; k++) {
		encode_value(&hash_enc, &vals[t->hash_order[k]]);
	}
	smg_sha256(hash_enc.data, hash_enc.len, out);
}

void smg_hash_hex(const unsigned char h[SMG_HASH_LEN], char out[65])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < SMG_HASH_LEN; i++) {
		out[2 * i] = hex[h[i] >> 4];
		out[2 * i + 1] = hex[h[i] & 15];
	}
	out[64] = '\0';
}

/* -1 for anything but a lowercase hex digit; a table because 64 digits
 * per row add up over a million rows. */
static signed char hexv[256];
static bool hexv_ready;
static void init_hexv(void)
{
	memset(hexv, -1, sizeof hexv);
	for (int i = 0; i < 10; i++)
		hexv['0' + i] = (signed char)i;
	for (int i = 0; i < 6; i++)
		hexv['a' + i] = (signed char)(10 + i);
	hexv_ready = true;
}

bool smg_hash_unhex(const char *p, size_t n, unsigned char h[SMG_HASH_LEN])
{
	if (n != 64)
		return false;
	if (!hexv_ready)
		init_hexv();
	int bad = 0;
	for (int i = 0; i < SMG_HASH_LEN; i++) {
		int a = hexv[(unsigned char)p[2 * i]], b = hexv[(unsigned char)p[2 * i + 1]];
		bad |= a | b;
		h[i] = (unsigned char)((unsigned)a << 4 | (unsigned)b);
	}
	return bad >= 0;
}
