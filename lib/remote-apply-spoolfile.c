/*
 * remote-apply-spoolfile.c - the records of a remote write's spool files:
 * written in pass 1 (remote-apply-spool.c, remote-apply-pieces.c), read
 * back by the passes after it.  A tuple is its table, its SQL with \x01
 * marking each parameter, and the parameters with their kinds; a ready
 * statement of a row written in pieces is its SQL and text parameters.
 */
#include "remote-apply-int.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

void rapply_spool_write(FILE *f, const void *p, size_t n)
{
	if (n && fwrite(p, 1, n, f) != n)
		smg_die(SMG_EXIT_FAILURE, "writing the spool file: %s", strerror(errno));
}

bool rapply_spool_read(FILE *f, void *p, size_t n)
{
	if (n == 0)
		return true;
	size_t got = fread(p, 1, n, f);
	if (got == 0 && feof(f))
		return false;
	if (got != n)
		smg_die(SMG_EXIT_FAILURE, "reading the spool file: %s",
			ferror(f) ? strerror(errno) : "short read");
	return true;
}

/* A tuple of table ti: its SQL (\x01 marks its parameters) and each
 * parameter with its kind. */
void rapply_write_tuple(FILE *f, size_t ti, const struct smg_buf *sql, const struct params *ps)
{
	uint32_t hdr[3] = {(uint32_t)ti, (uint32_t)sql->len, (uint32_t)ps->n};
	rapply_spool_write(f, hdr, sizeof hdr);
	rapply_spool_write(f, sql->data, sql->len);
	for (size_t i = 0; i < ps->n; i++) {
		uint32_t len = (uint32_t)ps->v[i].len;
		rapply_spool_write(f, &ps->v[i].kind, 1);
		rapply_spool_write(f, &len, sizeof len);
		rapply_spool_write(f, ps->data.data + ps->v[i].off, len);
	}
}

/* One spooled tuple into tuple and its parameters into tp. */
void rapply_read_tuple(FILE *f, size_t ti, struct smg_buf *tuple, struct params *tp,
		       struct smg_buf *pdata)
{
	uint32_t hdr[3];
	if (!rapply_spool_read(f, hdr, sizeof hdr) || hdr[0] != ti)
		smg_die(SMG_EXIT_FAILURE, "the spool file lost its place");
	uint32_t sqllen = hdr[1], np = hdr[2];
	smg_buf_reset(tuple);
	smg_buf_grow(tuple, sqllen + 1);
	rapply_spool_read(f, tuple->data, sqllen);
	tuple->len = sqllen;
	remote_params_reset(tp);
	for (uint32_t k = 0; k < np; k++) {
		char kind;
		uint32_t len;
		rapply_spool_read(f, &kind, 1);
		rapply_spool_read(f, &len, sizeof len);
		smg_buf_reset(pdata);
		smg_buf_grow(pdata, len + 1);
		rapply_spool_read(f, pdata->data, len);
		remote_params_add(tp, kind, pdata->data, len);
	}
}

void rapply_append_tuple(struct smg_buf *sql, struct params *ps, const struct smg_buf *tuple,
			 const struct params *tp, bool comma)
{
	if (comma)
		smg_buf_addc(sql, ',');
	smg_buf_add(sql, tuple->data, tuple->len);
	for (size_t k = 0; k < tp->n; k++)
		remote_params_add(ps, tp->v[k].kind, tp->data.data + tp->v[k].off, tp->v[k].len);
}

/* A ready statement of a row written in pieces: its SQL and its
 * parameters, all text. */
void rapply_write_statement(FILE *f, const struct smg_buf *sql, const struct params *ps)
{
	uint32_t hdr[2] = {(uint32_t)sql->len, (uint32_t)ps->n};
	rapply_spool_write(f, hdr, sizeof hdr);
	rapply_spool_write(f, sql->data, sql->len);
	for (size_t i = 0; i < ps->n; i++) {
		uint32_t len = (uint32_t)ps->v[i].len;
		rapply_spool_write(f, &len, sizeof len);
		rapply_spool_write(f, ps->data.data + ps->v[i].off, len);
	}
}

void rapply_read_statement(FILE *f, struct smg_buf *sql, struct params *ps, struct smg_buf *pdata)
{
	uint32_t hdr[2];
	rapply_spool_read(f, hdr, sizeof hdr);
	smg_buf_reset(sql);
	smg_buf_grow(sql, hdr[0] + 1);
	rapply_spool_read(f, sql->data, hdr[0]);
	sql->len = hdr[0];
	for (uint32_t i = 0; i < hdr[1]; i++) {
		uint32_t len;
		rapply_spool_read(f, &len, sizeof len);
		smg_buf_reset(pdata);
		smg_buf_grow(pdata, len + 1);
		rapply_spool_read(f, pdata->data, len);
		remote_params_add(ps, 't', pdata->data, len);
	}
}
