/* output.c - output files replaced atomically or written through (see output.h). */
#include "output.h"
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEMP_TAG ".smg-tmp."
#define MAX_LINKS 40	/* Linux's own limit on links followed in a path */

/* The output smg_die cleans up after. */
static struct smg_output *pending;

static void abort_pending(void)
{
	if (pending)
		smg_output_abort(pending);
}

static int fail_errno(const char *what, const char *path)
{
	int e = errno;
	smg_warn("%s %s: %s", what, path, strerror(e));
	if (e == ENOENT || e == ENOTDIR)
		return SMG_EXIT_NOTFOUND;
	return SMG_EXIT_FAILURE;
}

static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return smg_xstrdup(".");
	return slash == path ? smg_xstrdup("/") : smg_xstrndup(path, (size_t)(slash - path));
}

/*
 * path with the symbolic links of its last component followed to the end,
 * as open(2) would: a dangling link names the file it would create.  NULL
 * with errno on a loop or an unreadable link.  Links among the directories
 * need no care: rename(2) resolves them the same way.
 */
static char *follow_links(const char *path)
{
	char *p = smg_xstrdup(path);
	for (int hops = 0;; hops++) {
		struct stat st;
		if (lstat(p, &st) != 0 || !S_ISLNK(st.st_mode))
			return p;
		char link[PATH_MAX];
		ssize_t n = hops < MAX_LINKS ? readlink(p, link, sizeof link - 1) : -1;
		if (n < 0) {
			int e = hops < MAX_LINKS ? errno : ELOOP;
			free(p);
			errno = e;
			return NULL;
		}
		link[n] = '\0';
		struct smg_buf next = SMG_BUF_INIT;
		if (link[0] != '/' && strchr(p, '/')) {
			char *dir = dir_of(p);
			smg_buf_addf(&next, "%s/", strcmp(dir, "/") == 0 ? "" : dir);
			free(dir);
		}
		smg_buf_adds(&next, link);
		free(p);
		p = smg_buf_detach(&next);
	}
}

/* ".NAME.smg-tmp.XXXXXX" beside target. */
static char *temp_name(const char *target)
{
	const char *slash = strrchr(target, '/');
	struct smg_buf b = SMG_BUF_INIT;
	if (slash)
		smg_buf_add(&b, target, (size_t)(slash - target + 1));
	smg_buf_addf(&b, ".%s" TEMP_TAG "XXXXXX", slash ? slash + 1 : target);
	return smg_buf_detach(&b);
}

bool smg_output_is_temp(const char *name)
{
	const char *tag = strstr(name, TEMP_TAG);
	return name[0] == '.' && tag && tag > name + 1 && strlen(tag) == strlen(TEMP_TAG) + 6;
}

int smg_tmpdir_file(const char *prefix, char **path)
{
	const char *dir = getenv("TMPDIR");
	struct smg_buf b = SMG_BUF_INIT;
	smg_buf_addf(&b, "%s/%s.XXXXXX", dir && *dir ? dir : "/tmp", prefix);
	int fd = mkstemp(b.data);
	if (fd < 0) {
		fail_errno("cannot create", b.data);
		smg_buf_free(&b);
		*path = NULL;
		return -1;
	}
	*path = smg_buf_detach(&b);
	return fd;
}

/* A FIFO, a device or standard output, opened as a shell's ">" would
 * (without truncating: a device has nothing to truncate, and a regular
 * file is never written through). */
static int open_through(struct smg_output *o, const struct stat *st, unsigned flags)
{
	if (S_ISDIR(st->st_mode)) {
		smg_warn("%s: is a directory, not a file to write", o->name);
		return SMG_EXIT_USAGE;
	}
	if (flags & SMG_OUTPUT_REGULAR) {
		smg_warn("%s: not a regular file, so not an object to replace", o->name);
		return SMG_EXIT_USAGE;
	}
	o->through_fd = open(o->name, O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (o->through_fd < 0)
		return fail_errno("cannot open", o->name);
	if (!(flags & SMG_OUTPUT_SPOOL)) {
		o->fd = o->through_fd;
		return 0;
	}
	o->fd = smg_tmpdir_file("smg-spool", &o->temp);
	return o->fd < 0 ? SMG_EXIT_FAILURE : 0;
}

/* A temporary file beside the file the name leads to, to rename over it. */
static int open_replacement(struct smg_output *o)
{
	o->target = follow_links(o->name);
	if (!o->target)
		return fail_errno("cannot follow the link", o->name);
	struct stat st;
	mode_t mask = umask(0);
	umask(mask);
	o->mode = stat(o->target, &st) == 0 ? st.st_mode & 07777 : 0666 & ~mask;
	o->temp = temp_name(o->target);
	o->fd = mkstemp(o->temp);
	if (o->fd < 0) {
		int rc = fail_errno("cannot create a temporary file", o->temp);
		free(o->temp);
		o->temp = NULL;
		return rc;
	}
	if (fchmod(o->fd, o->mode) != 0)
		return fail_errno("cannot set the mode of", o->temp);
	return 0;
}

int smg_output_open(struct smg_output *o, const char *name, unsigned flags)
{
	*o = (struct smg_output){.name = smg_xstrdup(name), .fd = -1, .through_fd = -1};
	struct stat st;
	int rc;
	if (strcmp(name, "-") == 0 && !(flags & SMG_OUTPUT_REGULAR)) {
		o->through_fd = STDOUT_FILENO;
		if (flags & SMG_OUTPUT_SPOOL) {
			o->fd = smg_tmpdir_file("smg-spool", &o->temp);
			rc = o->fd < 0 ? SMG_EXIT_FAILURE : 0;
		} else {
			o->fd = STDOUT_FILENO;
			rc = 0;
		}
	} else if (stat(name, &st) == 0 && !S_ISREG(st.st_mode)) {
		rc = open_through(o, &st, flags);
	} else {
		rc = open_replacement(o);
	}
	if (rc) {
		smg_output_abort(o);
		return rc;
	}
	pending = o;
	smg_atdie(abort_pending);
	return 0;
}

static bool sync_dir_of(const char *path)
{
	char *dir = dir_of(path);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = fd >= 0 && fsync(fd) == 0;
	if (fd >= 0)
		close(fd);
	free(dir);
	return ok;
}

static int commit_replacement(struct smg_output *o)
{
	if (fsync(o->fd) != 0)
		return fail_errno("cannot sync", o->temp);
	int fd = o->fd;
	o->fd = -1;
	if (close(fd) != 0)
		return fail_errno("cannot close", o->temp);
	if (rename(o->temp, o->target) != 0)
		return fail_errno("cannot rename the temporary file over", o->target);
	free(o->temp);
	o->temp = NULL;
	/* The rename is durable once the directory is. */
	if (!sync_dir_of(o->target))
		return fail_errno("cannot sync the directory of", o->target);
	return 0;
}

static int commit_spool(struct smg_output *o)
{
	const char *what = "";
	if (lseek(o->fd, 0, SEEK_SET) != 0)
		return fail_errno("cannot rewind", o->temp);
	if (!smg_fd_copy(o->fd, o->through_fd, NULL, NULL, NULL, &what)) {
		int e = errno;
		smg_warn("%s %s: %s", what, strcmp(what, "reading") == 0 ? o->temp : o->name,
			 strerror(e));
		return SMG_EXIT_FAILURE;
	}
	return 0;
}

int smg_output_commit(struct smg_output *o)
{
	int rc = 0;
	if (o->target)
		rc = commit_replacement(o);
	else if (o->temp)
		rc = commit_spool(o);
	if (rc == 0 && o->through_fd > STDOUT_FILENO) {
		int fd = o->through_fd;
		o->through_fd = -1;
		if (fd == o->fd)
			o->fd = -1;
		/* A device may report a failed write only now. */
		if (close(fd) != 0)
			rc = fail_errno("cannot close", o->name);
	}
	smg_output_abort(o);
	return rc;
}

void smg_output_abort(struct smg_output *o)
{
	if (pending == o) {
		pending = NULL;
		smg_atdie(NULL);
	}
	if (o->fd >= 0 && o->fd != o->through_fd && o->fd != STDOUT_FILENO)
		close(o->fd);
	if (o->through_fd > STDOUT_FILENO)
		close(o->through_fd);
	if (o->temp)
		unlink(o->temp);
	free(o->temp);
	free(o->target);
	free(o->name);
	*o = (struct smg_output){.fd = -1, .through_fd = -1};
}
