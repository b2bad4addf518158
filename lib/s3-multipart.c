/*
 * s3-multipart.c - a put in parts (CreateMultipartUpload, UploadPart,
 * CompleteMultipartUpload, AbortMultipartUpload) for objects larger than
 * the part size, memory flat whatever their size.
 */
#include "s3-int.h"
#include "progress.h"
#include "sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- multipart upload -------------------------------------------------------
 * An object larger than the part size goes up in parts: CreateMultipartUpload,
 * one UploadPart per part (each signed with its own SHA-256, read from the
 * file again with pread, so memory stays flat and a retry sends the part
 * again), then CompleteMultipartUpload, which carries the condition
 * (If-Match / If-None-Match), so that the object appears whole or not at
 * all.  Any failure aborts the upload, so no parts are left to be billed.
 */

/* The SHA-256 (hex) of len bytes of fd from offset. */
static bool range_sha256(int fd, off_t offset, uint64_t len, char hex[65])
{
	struct smg_sha256_ctx ctx;
	unsigned char buf[65536], out[32];
	smg_sha256_init(&ctx);
	while (len > 0) {
		size_t want = len < sizeof buf ? (size_t)len : sizeof buf;
		ssize_t n = pread(fd, buf, want, offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		smg_sha256_update(&ctx, buf, (size_t)n);
		offset += n;
		len -= (uint64_t)n;
	}
	smg_sha256_final(&ctx, out);
	smg_hex(out, sizeof out, hex);
	return true;
}

/* A 200 answer of CompleteMultipartUpload may still be an <Error>. */
static int error_in_body(const struct s3_call *c, const struct smg_http_response *resp)
{
	const char *body = resp->body.data ? resp->body.data : "";
	const char *end = body + resp->body.len;
	char *code = s3_xml_child(body, end, "Code");
	if (!memmem(body, resp->body.len, "<Error>", 7) || !code) {
		free(code);
		return 0;
	}
	char *msg = s3_xml_child(body, end, "Message");
	struct smg_buf line = SMG_BUF_INIT;
	smg_buf_addf(&line, "%s: %s", code, msg ? msg : "the upload did not complete");
	s3_describe_target(&line, c);
	smg_warn("%s", line.data);
	int rc = s3_exit_code_for(0, code);
	smg_buf_free(&line);
	free(code);
	free(msg);
	return rc;
}

static int multipart_create(struct smg_s3 *s, const char *bucket, const char *key, char **id)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "POST", bucket, key);
	smg_kv_add(&c.query, "uploads", "");
	smg_kv_set(&c.headers, "Content-Type", "application/octet-stream");
	int rc = s3_call_perform(s, &c, &resp);
	if (rc == 0) {
		const char *b = resp.body.data ? resp.body.data : "";
		*id = s3_xml_child(b, b + resp.body.len, "UploadId");
		if (!*id || !**id) {
			smg_warn("malformed answer: CreateMultipartUpload without an <UploadId> "
				 "(bucket %s, key %s)", bucket, key);
			free(*id);
			*id = NULL;
			rc = SMG_EXIT_DATA;
		}
	}
	smg_http_response_free(&resp);
	s3_call_free(&c);
	return rc;
}

static int multipart_part(struct smg_s3 *s, const char *bucket, const char *key, const char *id,
		int number, int fd, off_t offset, uint64_t len, uint64_t at, uint64_t size,
		char **etag)
{
	char sha[65], num[16];
	if (!range_sha256(fd, offset, len, sha)) {
		smg_warn("reading part %d of the object: %s", number, strerror(errno));
		return SMG_EXIT_FAILURE;
	}
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "PUT", bucket, key);
	snprintf(num, sizeof num, "%d", number);
	smg_kv_add(&c.query, "partNumber", num);
	smg_kv_add(&c.query, "uploadId", id);
	c.body_fd = fd;
	c.body_offset = offset;
	c.body_len = len;
	c.payload_hash = sha;
	c.progress_at = (int64_t)at;
	c.progress_of = (int64_t)size;
	int rc = s3_call_perform(s, &c, &resp);
	if (rc == 0) {
		*etag = s3_response_etag(&resp);
		if (!**etag) {
			smg_warn("malformed answer: part %d without an ETag (bucket %s, key %s)",
				 number, bucket, key);
			rc = SMG_EXIT_DATA;
		}
	}
	smg_http_response_free(&resp);
	s3_call_free(&c);
	return rc;
}

static int multipart_complete(struct smg_s3 *s, const char *bucket, const char *key,
		const char *id, char **etags, int nparts, const struct smg_obj_cond *cond,
		char **etag)
{
	struct smg_buf xml = SMG_BUF_INIT;
	smg_buf_adds(&xml, "<CompleteMultipartUpload>");
	for (int i = 0; i < nparts; i++)
		smg_buf_addf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
			     i + 1, etags[i]);
	smg_buf_adds(&xml, "</CompleteMultipartUpload>");
	char sha[65];
	smg_sha256_hex(xml.data, xml.len, sha);
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "POST", bucket, key);
	smg_kv_add(&c.query, "uploadId", id);
	smg_kv_set(&c.headers, "Content-Type", "application/xml");
	c.cond = cond;
	c.body_mem = xml.data;
	c.body_len = xml.len;
	c.payload_hash = sha;
	int rc = s3_call_perform(s, &c, &resp);
	if (rc == 0)
		rc = error_in_body(&c, &resp);
	if (rc == 0 && etag) {
		const char *b = resp.body.data ? resp.body.data : "";
		char *e = s3_xml_child(b, b + resp.body.len, "ETag");
		*etag = smg_etag_unquote(e ? e : "");
		free(e);
	}
	smg_http_response_free(&resp);
	s3_call_free(&c);
	smg_buf_free(&xml);
	return rc;
}

static void multipart_abort(struct smg_s3 *s, const char *bucket, const char *key, const char *id)
{
	struct s3_call c;
	struct smg_http_response resp = SMG_HTTP_RESPONSE_INIT;
	s3_call_init(&c, "DELETE", bucket, key);
	smg_kv_add(&c.query, "uploadId", id);
	s3_call_perform(s, &c, &resp);	/* what it says is said; the first failure decides */
	smg_http_response_free(&resp);
	s3_call_free(&c);
}

int s3_put_multipart(struct smg_s3 *s, const char *bucket, const char *key, int fd,
		off_t offset, uint64_t size, const struct smg_obj_cond *cond, char **etag)
{
	uint64_t nparts64 = (size + s->part_size - 1) / s->part_size;
	if (nparts64 > SMG_S3_MAX_PARTS) {
		smg_warn("%llu bytes in parts of %llu would take %llu parts, more than S3's %d: "
			 "raise the part size", (unsigned long long)size,
			 (unsigned long long)s->part_size, (unsigned long long)nparts64,
			 SMG_S3_MAX_PARTS);
		return SMG_EXIT_USAGE;
	}
	int nparts = (int)nparts64;
	char *id = NULL;
	int rc = multipart_create(s, bucket, key, &id);
	if (rc)
		return rc;
	char **etags = smg_xcalloc((size_t)nparts, sizeof *etags);
	int done = 0;
	for (; rc == 0 && done < nparts; done++) {
		uint64_t at = (uint64_t)done * s->part_size;
		uint64_t len = size - at < s->part_size ? size - at : s->part_size;
		rc = multipart_part(s, bucket, key, id, done + 1, fd, offset + (off_t)at, len, at,
				    size, &etags[done]);
	}
	smg_progress_done();
	if (rc == 0)
		rc = multipart_complete(s, bucket, key, id, etags, nparts, cond, etag);
	if (rc)
		multipart_abort(s, bucket, key, id);
	smg_strings_free(etags, (size_t)nparts);
	free(id);
	return rc;
}

