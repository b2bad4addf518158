/*
 * s3.h - objects on S3-compatible stores (AWS S3, Cloudflare R2, MinIO),
 * and the same verbs on local files, so that what is built on top (the
 * smugglr relay) behaves the same on s3://bucket/key and file:///path.
 *
 * Every verb returns an exit code from smg.h (0 on success) after writing
 * one diagnostic line on failure: 3 for a missing object or bucket, 5 for
 * rejected credentials, 6 for a lost conditional write (412), 4 when the
 * network retries ran out or the deadline passed (struct smg_http_opts),
 * 7 for an answer that is malformed.  Object bodies stream between the store and file
 * descriptors; memory does not grow with object size.
 */
#ifndef SMG_S3_H
#define SMG_S3_H

#include "digest.h"
#include "http.h"

#include <time.h>

/* s3://bucket/key or file:///absolute/path */
struct smg_obj_url {
	enum { SMG_URL_S3, SMG_URL_FILE } scheme;
	char *bucket;		/* s3 only */
	char *key;		/* s3: the key, maybe "" for a list prefix; file: the path */
};

/* Parses s; false (with a message in err) when it is neither form. */
bool smg_obj_url_parse(const char *s, struct smg_obj_url *u, char *err, size_t errlen);
void smg_obj_url_free(struct smg_obj_url *u);

/* What head and list report.  etag is bare: no quotes. */
struct smg_obj_info {
	char *key;
	uint64_t size;
	char *etag;
	time_t mtime;
};
void smg_obj_info_free(struct smg_obj_info *i);

/* Conditions on a write (and on a read, for if_match). */
struct smg_obj_cond {
	const char *if_match;	/* ETag, with or without quotes; NULL: none */
	bool if_none_match;	/* only if the object does not exist yet */
};

typedef void smg_obj_list_fn(const struct smg_obj_info *info, void *arg);

/* ---- S3 ---------------------------------------------------------------- */

/*
 * Where the store is and who we are.  Fields are owned strings; NULL means
 * unset.  Fill it from options, then the environment, then a config file
 * (smg_s3_config_from_env fills only what is still unset).
 */
struct smg_s3_config {
	char *endpoint;		/* "http://127.0.0.1:9000"; NULL: AWS for the region */
	char *region;		/* NULL: us-east-1 */
	char *access_key_id;
	char *secret_access_key;
	char *session_token;
	int path_style;		/* 1: /bucket/key, 0: bucket.host/key, -1: path style
				 * for an explicit endpoint, virtual host for AWS */
};
#define SMG_S3_CONFIG_INIT {NULL, NULL, NULL, NULL, NULL, -1}

/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION
 * (or AWS_DEFAULT_REGION) and SMG_S3_ENDPOINT, for fields still unset. */
void smg_s3_config_from_env(struct smg_s3_config *c);
/* Replaces *field with a copy of value (NULL clears it). */
void smg_s3_config_set(char **field, const char *value);
void smg_s3_config_free(struct smg_s3_config *c);

struct smg_s3;

/* A client; dies with SMG_EXIT_USAGE when credentials or the endpoint are
 * missing or malformed. */
struct smg_s3 *smg_s3_new(const struct smg_s3_config *c, const struct smg_http_opts *opts);
void smg_s3_free(struct smg_s3 *s);

/* Streams the object to fd; its ETag into *etag (caller frees). */
int smg_s3_get(struct smg_s3 *s, const char *bucket, const char *key, int fd,
		const struct smg_obj_cond *cond, char **etag);
/* Uploads size bytes of fd from offset; sha256 is the payload's hex hash
 * (or NULL to send it unsigned).  The new ETag into *etag.  More than the
 * part size (smg_s3_set_part_size) goes as a multipart upload, each part
 * signed with its own hash, the condition on its completion. */
int smg_s3_put(struct smg_s3 *s, const char *bucket, const char *key, int fd, off_t offset,
		uint64_t size, const char *sha256, const struct smg_obj_cond *cond, char **etag);
#define SMG_S3_PART_SIZE_DEFAULT (64ULL << 20)
#define SMG_S3_MAX_PARTS 10000
/* 0: never in parts. */
void smg_s3_set_part_size(struct smg_s3 *s, uint64_t part_size);
int smg_s3_head(struct smg_s3 *s, const char *bucket, const char *key,
		const struct smg_obj_cond *cond, struct smg_obj_info *info);
/* Every object whose key starts with prefix, in key order, page by page
 * (page_size keys a page; 0: the store's default, 1000 on S3).  fn sees
 * the objects only once the whole listing has been read and checked: a
 * malformed page, a repeated continuation token or a key that cannot be
 * represented is 7 with nothing handed on. */
int smg_s3_list(struct smg_s3 *s, const char *bucket, const char *prefix, int page_size,
		smg_obj_list_fn *fn, void *arg);
/* Deleting a missing key succeeds, as on S3. */
int smg_s3_delete(struct smg_s3 *s, const char *bucket, const char *key,
		const struct smg_obj_cond *cond);

/* ---- file:// ------------------------------------------------------------
 * Writes are atomic (output.h: temporary file, fsync, rename; a symbolic
 * link is followed, a path that is not a regular file is refused) and
 * serialised by an flock(2) on a lock file beside the object
 * (".NAME.lock"), under which the condition is checked, so a lost race is
 * a 412 as on S3.  The ETag is the MD5 hex of the content, as S3 gives for
 * a single-part upload.
 */
int smg_file_get(const char *path, int fd, const struct smg_obj_cond *cond, char **etag);
int smg_file_put(const char *path, int fd, const struct smg_obj_cond *cond, char **etag);
int smg_file_head(const char *path, const struct smg_obj_cond *cond, struct smg_obj_info *info);
/* Files below the prefix's directory whose path starts with prefix; keys
 * are absolute paths, so "file://" KEY is the object's URL. */
int smg_file_list(const char *prefix, smg_obj_list_fn *fn, void *arg);
int smg_file_delete(const char *path, const struct smg_obj_cond *cond);

/* Shared helpers. */
char *smg_etag_unquote(const char *etag);
/* Appends s with backslash, tab, newline, carriage return and the other
 * control bytes escaped (\\ \t \n \r \xHH), so that a key stays one
 * field of one line: list's text output, diagnostics. */
void smg_obj_add_text(struct smg_buf *b, const char *s);

#endif
