/*
 * target.h - where a program reads or writes: a SQLite file, Cloudflare D1,
 * another HTTP SQL endpoint (profile.h), or a command that speaks the
 * stream on stdio.  Resolving a spec or the config into one, its label for
 * messages and reports (never with a password), and running a command
 * target.
 */
#ifndef SMG_TARGET_H
#define SMG_TARGET_H

#include "config.h"
#include "http.h"
#include "profile.h"

/* Where a program reads or writes. */
struct smg_target {
	enum smg_target_type type;	/* SQLITE, D1, HTTP or COMMAND (never PEER) */
	char *name;			/* for messages: "d1:ACCOUNT/DB", the URL, ... */
	char *path;			/* SQLITE */
	char *command;			/* COMMAND: run by /bin/sh with a verb appended */
	struct smg_http_profile profile;	/* D1, HTTP */
	char *url, *endpoint, *account, *database, *token;
	struct smg_http_opts http;	/* retry policy from [sync] */
	long batch_rows;		/* rows per statement at most ([sync] batch_size) */
};

/*
 * Resolve spec (NULL: the config's [target], else a D1 target from the
 * top-level cloudflare_* keys) into t.  spec is an http(s):// or libsql://
 * URL, d1:ACCOUNT_ID/DATABASE_ID, command:CMD, or a SQLite file path.
 * profile, token, endpoint: command-line overrides or NULL.  Dies with
 * SMG_EXIT_USAGE on a bad or incomplete target.
 */
void smg_target_resolve(struct smg_target *t, const char *spec, const char *profile,
			const char *token, const char *endpoint, const struct smg_config *cfg);
void smg_target_free(struct smg_target *t);
/* Does spec name a remote target (URL, d1:, command:) rather than a file? */
bool smg_target_spec_is_remote(const char *spec);

/*
 * Run a command target: /bin/sh -c 'COMMAND "$@"' with verb ("fetch" or
 * "apply") and args appended; stdin and stdout are the program's.  Does
 * not return.
 */
_Noreturn void smg_target_exec(const struct smg_target *t, const char *verb,
			       char *const *args, size_t nargs);

/*
 * The label of a target for messages, reports and --remote-name: the file,
 * d1:ACCOUNT/DATABASE ("?" for a missing part), the URL without
 * user:password@, command:CMD or peer:CMD.  Every label is built here, so a password
 * in a URL never reaches an output or a child's arguments.  Malloc'd.
 */
char *smg_target_label(enum smg_target_type type, const char *path, const char *url,
		       const char *command, const char *account, const char *database);

#endif
