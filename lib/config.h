/*
 * config.h - smugglr's configuration: every key, its default, and how a
 * TOML file and the environment change it.  config.example.toml at the
 * top of the tree documents each key for users; this is the C side.
 *
 * Order of precedence, lowest first: built-in default, the file, the
 * environment (for the secrets and AWS settings listed in
 * config.example.toml).  A string value "env:NAME" in the file reads
 * the environment variable NAME instead; it is an error if NAME is unset.
 *
 * Errors (wrong type, out of range, unknown choice, bad secret, TOML
 * syntax) read "FILE:LINE:COL: message" and are exit code SMG_EXIT_USAGE.
 * An unknown key is only a warning on stderr, naming it and where it is.
 * Keys under [target.profile_options] are not checked: they belong to the
 * target's profile and are read raw through target.profile_options.
 */
#ifndef SMG_CONFIG_H
#define SMG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "policy.h"
#include "toml.h"

/* NONE: no [target] and no database_id; the verbs say what is missing. */
enum smg_target_type {
	SMG_TARGET_NONE,
	SMG_TARGET_SQLITE,
	SMG_TARGET_D1,
	SMG_TARGET_HTTP,
	SMG_TARGET_COMMAND,
	SMG_TARGET_PEER,	/* smg-beacon --stdio at the end of a command */
};

enum smg_profile {
	SMG_PROFILE_NONE,
	SMG_PROFILE_D1,
	SMG_PROFILE_TURSO,
	SMG_PROFILE_RQLITE,
	SMG_PROFILE_DATASETTE,
	SMG_PROFILE_SQLITE_CLOUD,
	SMG_PROFILE_STARBASEDB,
	SMG_PROFILE_GENERIC,
};

/* Names as written in the file, indexed by the enums above; NULL-terminated.
 * The NONE entries are "" (they cannot be written).  The profile names are
 * profile.c's, the one list of them. */
extern const char *const smg_target_type_names[];
extern const char *const smg_profile_names[];

/* [sync] exclude_tables when unset, and what every selection starts with:
 * SQLite's and the tools' bookkeeping; NULL-terminated. */
extern const char *const smg_default_exclude_tables[];

struct smg_strlist {
	char **v;
	size_t n;
};

struct smg_config {
	char *path;		/* the file asked for, or NULL */
	bool from_file;		/* false: it did not exist, defaults apply */
	struct smg_toml *doc;	/* the parsed file, for raw reads; NULL without one */

	char *local_db;		/* NULL: see smg_config_local_db() */
	char *cloudflare_account_id;
	char *cloudflare_api_token;
	char *database_id;

	struct {
		/* Unset type is inferred: path -> sqlite, url -> http,
		 * command -> command, top-level database_id -> d1; peer
		 * (command, run by smugglr sync) is only ever set. */
		enum smg_target_type type;
		char *path;
		char *url;
		char *endpoint;	/* D1 API base */
		/* Unset profile: d1 for a d1 target, generic for http. */
		enum smg_profile profile;
		char *token;	/* for a d1 target, cloudflare_api_token if unset */
		char *command;
		const struct smg_toml_node *table;	     /* [target] as written */
		const struct smg_toml_node *profile_options; /* [target.profile_options] */
	} target;

	struct {
		struct smg_strlist tables;	/* empty: every table */
		struct smg_strlist exclude_tables;
		char *timestamp_column;
		enum smg_policy conflict_resolution;
		struct smg_strlist exclude_columns;	/* globs */
		int max_retries;
		int initial_retry_delay_ms;
		int max_retry_delay_ms;
		double backoff_multiplier;
		int batch_size;
		int max_statement_bytes;
		int watch_interval_secs;
		/* Each request to a remote target: its deadline, retries
		 * included, and the low-speed limit (bytes a second) below
		 * which for low_speed_secs an attempt is abandoned. */
		int timeout_secs;
		int low_speed_limit;
		int low_speed_secs;
		int busy_timeout_ms;	/* a SQLite file locked by another process */
		/* Tombstones older than this are ignored and pruned (0: kept
		 * for ever): a copy offline longer can bring a row back. */
		int tombstone_horizon_days;
	} sync;

	struct {
		char *url;	/* s3://bucket/key or file:///path */
		char *endpoint;
		char *region;
		char *access_key_id;
		char *secret_access_key;
		char *session_token;
		bool path_style;
		int max_attempts;
		int timeout_secs;	/* as in [sync], for each request to the store */
		int low_speed_limit;
		int low_speed_secs;
		int part_size;		/* bytes: a larger upload goes in parts; 0: never */
		int compact_min_bytes;	/* the relay's log is folded into a new base */
		int compact_percent;	/* past both of these */
		int compact_grace_secs;	/* before what was folded is deleted */
	} stash;

	struct {
		int port;
		int interval_secs;
		char *group;	/* NULL: derived from the database by smg-beacon */
		char *secret;	/* 64 hex characters, or NULL */
		int peer_timeout_secs;
		bool insecure;
	} broadcast;

	bool local_db_searched;	/* smg_config_local_db() looked already */
};

/*
 * Fill c from defaults, the file at path (NULL: none) and the environment.
 * A missing file is fine unless must_exist.  Returns 0, or an exit code
 * with the message in err: SMG_EXIT_USAGE for a bad config,
 * SMG_EXIT_NOTFOUND for a missing required file, SMG_EXIT_FAILURE when
 * the file cannot be read.  Call smg_config_free(c) afterwards either way.
 */
int smg_config_read(struct smg_config *c, const char *path, bool must_exist,
		    char *err, size_t errlen);
/* The same, dying with the message and exit code on error, and making
 * sync.busy_timeout_ms the wait of every database opened afterwards. */
void smg_config_load(struct smg_config *c, const char *path, bool must_exist);
void smg_config_free(struct smg_config *c);

/*
 * local_db, or when unset wrangler's local D1 file (found once, and said
 * on stderr); NULL if there is neither.
 */
const char *smg_config_local_db(struct smg_config *c);

/*
 * The SQLite file wrangler keeps for a local D1 database under
 * DIR/.wrangler/state/v3/d1/miniflare-D1DatabaseObject/ (DIR NULL: the
 * current directory).  With several, the most recently modified.  Says
 * on stderr which it picked.  A malloc'd path, or NULL if there is none.
 */
char *smg_config_find_wrangler_db(const char *dir);

enum smg_config_format {
	SMG_CONFIG_TOML,
	SMG_CONFIG_JSON,
};

/* The effective configuration, as TOML or as one JSON object.  Unless
 * show_secrets, secrets print as "<hidden>" and URLs without their
 * user:password@ (as smg_target_label shows them). */
void smg_config_print(const struct smg_config *c, FILE *out, enum smg_config_format format,
		      bool show_secrets);

#endif
