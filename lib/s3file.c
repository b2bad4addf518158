/*
 * s3file.c - the smg-s3 verbs on local files (file:///path), with S3's
 * guarantees: a reader sees a whole old object or a whole new one (atomic
 * rename), a conditional write that lost the race fails with 412 (the
 * condition is checked under an flock on ".NAME.lock" beside the object),
 * and the ETag is the MD5 hex of the content.
 */
#include "output.h"
#include "s3.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

/* One diagnostic line however the path is spelt (smg_obj_add_text). */
static void warn_path(const char *before, const char *path, const char *after)
{
	struct smg_buf line = SMG_BUF_INIT;
	smg_buf_adds(&line, before);
	smg_obj_add_text(&line, path);
	smg_buf_adds(&line, after);
	smg_warn("%s", line.data);
	smg_buf_free(&line);
}

static int fail(int rc, const char *code, const char *message, const char *path)
{
	struct smg_buf before = SMG_BUF_INIT;
	smg_buf_addf(&before, "%s: %s (file ", code, message);
	warn_path(before.data, path, ")");
	smg_buf_free(&before);
	return rc;
}

/* "WHAT PATH: strerror(e)" */
static void warn_errno(const char *what, const char *path, int e)
{
	struct smg_buf before = SMG_BUF_INIT, after = SMG_BUF_INIT;
	smg_buf_addf(&before, "%s ", what);
	smg_buf_addf(&after, ": %s", strerror(e));
	warn_path(before.data, path, after.data);
	smg_buf_free(&before);
	smg_buf_free(&after);
}

static int fail_errno(const char *what, const char *path)
{
	int e = errno;
	if (e == ENOENT || e == ENOTDIR)
		return fail(SMG_EXIT_NOTFOUND, "NoSuchKey", "no such file", path);
	warn_errno(what, path, e);
	return e == EACCES || e == EPERM ? SMG_EXIT_AUTH : SMG_EXIT_FAILURE;
}

/* "/dir/name" into "/dir" and "name"; the root's files have dir "/". */
static void split_path(const char *path, char **dir, char **base)
{
	const char *slash = strrchr(path, '/');
	*dir = slash == path ? smg_xstrdup("/") : smg_xstrndup(path, (size_t)(slash - path));
	*base = smg_xstrdup(slash + 1);
}

static char *sibling(const char *path, const char *suffix)
{
	char *dir, *base;
	split_path(path, &dir, &base);
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_addf(&b, "%s/.%s%s", strcmp(dir, "/") == 0 ? "" : dir, base, suffix);
	free(dir);
	free(base);
	return smg_buf_detach(&b);
}

/* The lock that serialises writers of path; -1 with errno on failure. */
static int lock_object(const char *path)
{
	char *name = sibling(path, ".lock");
	int fd = open(name, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(name);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			int e = errno;
			close(fd);
			errno = e;
			return -1;
		}
	}
	return fd;
}

/* The current object's ETag, or 3 when it is missing. */
static int current_etag(const char *path, char md5[33])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno("open", path);
	bool ok = smg_fd_digests(fd, 0, md5, NULL, NULL);
	int e = errno;
	close(fd);
	errno = e;
	return ok ? 0 : fail_errno("read", path);
}

/* 0 when md5 is the ETag if_match names, else a reported 412. */
static int etag_matches(const char *md5, const char *if_match, const char *path)
{
	char *want = smg_etag_unquote(if_match);
	bool same = strcmp(md5, want) == 0;
	free(want);
	if (same)
		return 0;
	return fail(SMG_EXIT_CONFLICT, "PreconditionFailed",
		    "the object's ETag does not match If-Match", path);
}

/* Checks cond against the object as it is now; call with the lock held. */
static int check_condition(const char *path, const struct smg_obj_cond *cond)
{
	if (!cond)
		return 0;
	struct stat st;
	if (cond->if_none_match && stat(path, &st) == 0)
		return fail(SMG_EXIT_CONFLICT, "PreconditionFailed",
			    "the object exists and If-None-Match: * was given", path);
	if (cond->if_match) {
		char md5[33];
		int rc = current_etag(path, md5);
		return rc ? rc : etag_matches(md5, cond->if_match, path);
	}
	return 0;
}

/* ---- verbs ----------------------------------------------------------------- */

int smg_file_get(const char *path, int fd, const struct smg_obj_cond *cond, char **etag)
{
	int src = open(path, O_RDONLY | O_CLOEXEC);
	if (src < 0)
		return fail_errno("open", path);
	struct stat st;
	if (fstat(src, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(src);
		return fail(SMG_EXIT_NOTFOUND, "NoSuchKey", "a directory, not an object", path);
	}
	/* Writers replace the file by rename, never in place: the inode
	 * opened here is one whole version, so checking it first is safe. */
	if (cond && cond->if_match) {
		char md5[33];
		int rc = smg_fd_digests(src, 0, md5, NULL, NULL)
			? etag_matches(md5, cond->if_match, path) : fail_errno("read", path);
		if (rc) {
			close(src);
			return rc;
		}
	}
	char md5[33];
	const char *what = "";
	bool ok = smg_fd_copy(src, fd, md5, NULL, NULL, &what);
	int e = errno;
	close(src);
	if (!ok) {
		warn_errno(what, path, e);
		return SMG_EXIT_FAILURE;
	}
	if (etag)
		*etag = smg_xstrdup(md5);
	return 0;
}

/* The object replaced atomically (output.h), so a reader sees a whole
 * version; symbolic links are followed, as list does. */
int smg_file_put(const char *path, int fd, const struct smg_obj_cond *cond, char **etag)
{
	struct smg_output out;
	int rc = smg_output_open(&out, path, SMG_OUTPUT_REGULAR);
	if (rc)
		return rc;
	/* The data is copied before the lock is taken, so a slow writer
	 * holds it only for the check and the rename. */
	char md5[33];
	const char *what = "";
	if (!smg_fd_copy(fd, out.fd, md5, NULL, NULL, &what)) {
		rc = fail_errno(what, out.temp);
		smg_output_abort(&out);
		return rc;
	}
	int lock = lock_object(path);
	if (lock < 0) {
		rc = fail_errno("lock", path);
	} else {
		rc = check_condition(path, cond);
		rc = rc ? rc : smg_output_commit(&out);
		close(lock);
	}
	smg_output_abort(&out);
	if (rc == 0 && etag)
		*etag = smg_xstrdup(md5);
	return rc;
}

int smg_file_head(const char *path, const struct smg_obj_cond *cond, struct smg_obj_info *info)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return fail_errno("stat", path);
	if (!S_ISREG(st.st_mode))
		return fail(SMG_EXIT_NOTFOUND, "NoSuchKey", "not a regular file", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail_errno("open", path);
	char md5[33];
	uint64_t size = 0;
	bool ok = smg_fd_digests(fd, 0, md5, NULL, &size);
	int e = errno;
	fstat(fd, &st);	/* the version hashed, not the path's next one */
	close(fd);
	if (!ok) {
		errno = e;
		return fail_errno("read", path);
	}
	int rc = cond && cond->if_match ? etag_matches(md5, cond->if_match, path) : 0;
	if (rc)
		return rc;
	if (info) {
		info->key = smg_xstrdup(path);
		info->etag = smg_xstrdup(md5);
		info->size = size;
		info->mtime = st.st_mtime;
	}
	return 0;
}

int smg_file_delete(const char *path, const struct smg_obj_cond *cond)
{
	int lock = lock_object(path);
	if (lock < 0) {
		/* No directory: nothing to delete, which S3 calls success. */
		if (errno == ENOENT && !(cond && cond->if_match))
			return 0;
		return fail_errno("lock", path);
	}
	int rc = check_condition(path, cond);
	if (rc == 0 && unlink(path) != 0 && errno != ENOENT)
		rc = fail_errno("remove", path);
	close(lock);
	return rc;
}

/* ---- list ------------------------------------------------------------------ */

/* Our own lock and temporary files are not objects. */
static bool is_own_artifact(const char *name)
{
	size_t n = strlen(name);
	if (name[0] != '.')
		return false;
	if (n > 6 && strcmp(name + n - 5, ".lock") == 0)
		return true;
	return smg_output_is_temp(name);
}

struct path_list {
	char **v;
	size_t n, cap;
};

static void collect(const char *dir, const char *prefix, struct path_list *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return;		/* a missing directory holds no objects */
	struct dirent *e;
	struct smg_buf p = SMG_BUF_INIT;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 || is_own_artifact(e->d_name))
			continue;
		smg_buf_reset(&p);
		smg_buf_addf(&p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, e->d_name);
		struct stat st;
		if (lstat(p.data, &st) != 0)
			continue;
		/* Only descend where the prefix can still match. */
		size_t common = p.len < strlen(prefix) ? p.len : strlen(prefix);
		if (strncmp(p.data, prefix, common) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			collect(p.data, prefix, out);
		} else if ((S_ISREG(st.st_mode) || (S_ISLNK(st.st_mode) && stat(p.data, &st) == 0
			    && S_ISREG(st.st_mode))) && strncmp(p.data, prefix, strlen(prefix)) == 0) {
			if (out->n == out->cap) {
				out->cap = out->cap ? 2 * out->cap : 64;
				out->v = smg_xrealloc(out->v, out->cap * sizeof *out->v);
			}
			out->v[out->n++] = smg_xstrdup(p.data);
		}
	}
	smg_buf_free(&p);
	closedir(d);
}

static int cmp_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int smg_file_list(const char *prefix, smg_obj_list_fn *fn, void *arg)
{
	char *dir, *base;
	split_path(prefix, &dir, &base);
	struct path_list paths = {0};
	collect(dir, prefix, &paths);
	/* S3 lists in byte order of the whole key; so do we. */
	qsort(paths.v, paths.n, sizeof *paths.v, cmp_paths);
	int rc = 0;
	for (size_t i = 0; i < paths.n; i++) {
		struct smg_obj_info info = {0};
		/* A file removed since the walk is simply not listed. */
		if (rc == 0 && access(paths.v[i], F_OK) == 0) {
			rc = smg_file_head(paths.v[i], NULL, &info);
			if (rc == 0)
				fn(&info, arg);
			smg_obj_info_free(&info);
		}
		free(paths.v[i]);
	}
	free(paths.v);
	free(dir);
	free(base);
	return rc;
}
