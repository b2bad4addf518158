/*
 * stream-write.c - the one writer of the row stream (smugglr-stream(5)):
 * table records, rows, changes, tombstones, summaries and the trailer,
 * each record one line of JSON, counted for the trailer.
 */
#include "stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- writer ------------------------------------------------------------- */

void smg_writer_init(struct smg_writer *w, int fd, const char *name)
{
	w->fd = fd;
	w->name = name;
	w->buf = (struct smg_buf)SMG_BUF_INIT;
	w->nrecords = 0;
	smg_buf_grow(&w->buf, 1u << 19);
	smg_widen_pipe(fd);
}

void smg_writer_flush(struct smg_writer *w)
{
	smg_write_all(w->fd, w->buf.data, w->buf.len, w->name);
	smg_buf_reset(&w->buf);
}

void smg_writer_free(struct smg_writer *w)
{
	smg_buf_free(&w->buf);
}

static void add_names(struct smg_buf *b, char **names, size_t n)
{
	smg_buf_addc(b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			smg_buf_addc(b, ',');
		smg_json_add_string(b, names[i], strlen(names[i]));
	}
	smg_buf_addc(b, ']');
}

static void add_head(struct smg_buf *b, const char *kind, const char *table)
{
	smg_buf_adds(b, "{\"kind\":\"");
	smg_buf_adds(b, kind);
	smg_buf_adds(b, "\",\"table\":");
	smg_json_add_string(b, table, strlen(table));
}

void smg_write_table(struct smg_writer *w, const struct smg_table *t)
{
	struct smg_buf *b = &w->buf;
	add_head(b, "table", t->name);
	smg_buf_adds(b, ",\"columns\":");
	add_names(b, t->cols, t->ncols);
	smg_buf_adds(b, ",\"pk\":");
	add_names(b, t->pk, t->npk);
	smg_buf_adds(b, ",\"timestamp\":");
	if (t->ts)
		smg_json_add_string(b, t->ts, strlen(t->ts));
	else
		smg_buf_adds(b, "null");
	if (t->sql) {
		smg_buf_adds(b, ",\"sql\":");
		smg_json_add_string(b, t->sql, strlen(t->sql));
	}
	if (t->nindexes) {
		smg_buf_adds(b, ",\"indexes\":");
		add_names(b, t->indexes, t->nindexes);
	}
	if (t->tracked)
		smg_buf_adds(b, ",\"tracked\":true");
	smg_buf_adds(b, "}\n");
	w->nrecords++;
	smg_writer_maybe_flush(w);
}

static void add_key(struct smg_buf *b, const struct smg_table *t, const struct smg_value *key)
{
	smg_buf_adds(b, ",\"key\":");
	smg_json_add_values(b, key, t->npk);
}

void smg_write_row_values(struct smg_writer *w, const struct smg_table *t,
			  const struct smg_value *vals, const unsigned char hash[SMG_HASH_LEN],
			  bool keys_only)
{
	struct smg_buf *b = &w->buf;
	char hex[65];
	smg_buf_add(b, t->row_head, t->row_head_len);
	smg_buf_addc_fast(b, '[');
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			smg_buf_addc_fast(b, ',');
		smg_json_add_value(b, &vals[t->pk_idx[k]]);
	}
	smg_hash_hex(hash, hex);
	smg_buf_add(b, "],\"hash\":\"", 10);
	smg_buf_add(b, hex, 64);
	smg_buf_addc_fast(b, '"');
	if (t->ts_idx >= 0) {
		smg_buf_add(b, ",\"ts\":", 6);
		smg_json_add_value(b, &vals[t->ts_idx]);
	}
	if (!keys_only) {
		smg_buf_add(b, ",\"values\":", 10);
		smg_json_add_values(b, vals, t->ncols);
	}
	smg_buf_add(b, "}\n", 2);
	w->nrecords++;
	smg_writer_maybe_flush(w);
}

void smg_write_row(struct smg_writer *w, const struct smg_table *t,
		   const struct smg_value *key, const unsigned char hash[SMG_HASH_LEN],
		   const struct smg_value *ts, const char *values_json, size_t vlen)
{
	struct smg_buf *b = &w->buf;
	char hex[65];
	smg_buf_add(b, t->row_head, t->row_head_len);
	smg_json_add_values(b, key, t->npk);
	smg_hash_hex(hash, hex);
	smg_buf_add(b, ",\"hash\":\"", 9);
	smg_buf_add(b, hex, 64);
	smg_buf_addc_fast(b, '"');
	if (t->ts && ts) {
		smg_buf_add(b, ",\"ts\":", 6);
		smg_json_add_value(b, ts);
	}
	if (values_json) {
		smg_buf_add(b, ",\"values\":", 10);
		smg_buf_add(b, values_json, vlen);
	}
	smg_buf_add(b, "}\n", 2);
	w->nrecords++;
	smg_writer_maybe_flush(w);
}

/* A change record up to its op-specific members: head, op, to, key,
 * expect and was. */
static void change_start(struct smg_buf *b, const struct smg_table *t, enum smg_bucket bucket,
			 const char *op, enum smg_side to, const struct smg_value *key,
			 const unsigned char *expect_hash, const char *was_json, size_t was_len)
{
	smg_buf_add(b, t->change_head, t->change_head_len);
	smg_buf_adds(b, smg_bucket_names[bucket]);
	smg_buf_adds(b, "\",\"op\":\"");
	smg_buf_adds(b, op);
	smg_buf_adds(b, "\",\"to\":\"");
	smg_buf_adds(b, smg_side_names[to]);
	smg_buf_addc(b, '"');
	add_key(b, t, key);
	if (expect_hash) {
		char hex[65];
		smg_hash_hex(expect_hash, hex);
		smg_buf_add(b, ",\"expect\":\"", 11);
		smg_buf_add(b, hex, 64);
		smg_buf_addc(b, '"');
	} else {
		smg_buf_add(b, ",\"expect\":null", 14);
	}
	if (was_json) {
		smg_buf_add(b, ",\"was\":", 7);
		smg_buf_add(b, was_json, was_len);
	}
}

static void record_done(struct smg_writer *w)
{
	smg_buf_adds(&w->buf, "}\n");
	w->nrecords++;
	smg_writer_maybe_flush(w);
}

void smg_write_change(struct smg_writer *w, const struct smg_table *t,
		      enum smg_bucket bucket, enum smg_op op, enum smg_side to,
		      const struct smg_value *key, const unsigned char *expect_hash,
		      const char *was_json, size_t was_len, const char *values_json, size_t vlen)
{
	struct smg_buf *b = &w->buf;
	change_start(b, t, bucket, op == SMG_OP_UPSERT ? "upsert" : "delete", to, key, expect_hash,
		     was_json, was_len);
	if (op == SMG_OP_UPSERT) {
		smg_buf_adds(b, ",\"values\":");
		smg_buf_add(b, values_json, vlen);
	}
	record_done(w);
}

void smg_write_tombstone_change(struct smg_writer *w, const struct smg_table *t,
				enum smg_bucket bucket, enum smg_side to,
				const struct smg_value *key, const unsigned char *expect_hash,
				const char *was_json, size_t was_len,
				const struct smg_value *ts)
{
	struct smg_buf *b = &w->buf;
	change_start(b, t, bucket, "tombstone", to, key, expect_hash, was_json, was_len);
	smg_buf_add(b, ",\"ts\":", 6);
	smg_json_add_value(b, ts);
	record_done(w);
}

void smg_write_tombstone(struct smg_writer *w, const struct smg_table *t,
			 const struct smg_value *key, const struct smg_value *ts)
{
	struct smg_buf *b = &w->buf;
	add_head(b, "tombstone", t->name);
	add_key(b, t, key);
	smg_buf_add(b, ",\"ts\":", 6);
	smg_json_add_value(b, ts);
	record_done(w);
}

void smg_json_add_counts(struct smg_buf *b, const struct smg_counts *c)
{
	smg_buf_addc(b, '{');
	for (int i = 0; i < SMG_NBUCKETS; i++)
		smg_buf_addf(b, "\"%s\":%lld,", smg_bucket_names[i], (long long)c->bucket[i]);
	smg_buf_addf(b, "\"upsert_local\":%lld,\"upsert_remote\":%lld,"
		     "\"delete_local\":%lld,\"delete_remote\":%lld,\"skipped\":%lld}",
		     (long long)c->upsert[0], (long long)c->upsert[1], (long long)c->del[0],
		     (long long)c->del[1], (long long)c->skipped);
}

void smg_write_summary(struct smg_writer *w, const char *table, const struct smg_counts *c)
{
	struct smg_buf *b = &w->buf;
	add_head(b, "summary", table);
	smg_buf_adds(b, ",\"counts\":");
	smg_json_add_counts(b, c);
	smg_buf_adds(b, "}\n");
	w->nrecords++;
	smg_writer_maybe_flush(w);
}

void smg_write_end(struct smg_writer *w)
{
	smg_buf_addf(&w->buf, "{\"kind\":\"end\",\"records\":%lld}\n", (long long)w->nrecords);
	smg_writer_flush(w);
}
