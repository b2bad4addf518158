/*
 * toml.h - a TOML 1.0 reader, enough for configuration files.
 *
 * The whole document is parsed into a tree of nodes that live as long as
 * the struct smg_toml that owns them.  Every node remembers where it was
 * written, so a caller can say "config.toml:12:14: ..." about a value.
 *
 * Supported: [tables], [[arrays of tables]], dotted and quoted keys, the
 * four string forms with every TOML 1.0 escape, integers (decimal, 0x,
 * 0o, 0b, underscores, sign), floats (exponent, inf, nan), booleans,
 * arrays (multi-line, trailing comma, comments), inline tables, comments,
 * and date-times, which are validated and kept as text (SMG_TOML_DATETIME).
 * Everything TOML 1.0 calls invalid is an error: a key or table defined
 * twice, a bad escape, an unterminated string, a malformed or out-of-range
 * number, a control character, invalid UTF-8.  Error messages read
 * "FILE:LINE:COLUMN: message"; columns count characters from 1.
 */
#ifndef SMG_TOML_H
#define SMG_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum smg_toml_type {
	SMG_TOML_STRING,
	SMG_TOML_INTEGER,
	SMG_TOML_FLOAT,
	SMG_TOML_BOOL,
	SMG_TOML_DATETIME,	/* text as written, e.g. "1979-05-27T07:32:00Z" */
	SMG_TOML_ARRAY,
	SMG_TOML_TABLE,
};

/* One value.  Read-only for callers; the parser owns the memory. */
struct smg_toml_node {
	enum smg_toml_type type;
	const char *key;	/* name in its table; NULL in an array or at the root */
	size_t key_len;		/* a quoted key may hold "\u0000" */
	int line, col;		/* where the value (or the [header]) starts */
	int key_line, key_col;	/* where the key was first written */
	union {
		struct {
			const char *s;	/* NUL-terminated, UTF-8 */
			size_t len;	/* s may hold NUL bytes: trust len */
		} str;		/* STRING and DATETIME */
		int64_t i;
		double f;
		bool b;
	} v;
	/* ARRAY elements and TABLE members, in document order. */
	struct smg_toml_node *first, *last;
	size_t count;
	struct smg_toml_node *next;	/* next sibling */
	unsigned flags;			/* parser bookkeeping */
};

struct smg_toml;

/*
 * Parse len bytes of text.  filename is used in error messages only.
 * On error return NULL and write "FILE:LINE:COL: message" into err
 * (if err is not NULL and errlen > 0).
 */
struct smg_toml *smg_toml_parse(const char *text, size_t len, const char *filename,
				char *err, size_t errlen);
/*
 * Read and parse a file.  An unreadable file is "PATH: strerror" in err
 * with errno set (ENOENT: no such file); after a syntax error errno is 0.
 */
struct smg_toml *smg_toml_parse_file(const char *path, char *err, size_t errlen);
void smg_toml_free(struct smg_toml *doc);

const struct smg_toml_node *smg_toml_root(const struct smg_toml *doc);
/* The filename given to the parser, for messages about its values. */
const char *smg_toml_filename(const struct smg_toml *doc);

/*
 * Look up a dotted path ("sync.batch_size") below table.  Each segment is
 * one key, so a key that itself holds a dot needs smg_toml_member.
 * NULL when absent or when the path crosses something that is not a table.
 */
const struct smg_toml_node *smg_toml_get(const struct smg_toml_node *table,
					 const char *path);
/* One member of table by its exact name; NULL if absent or table is not a table. */
const struct smg_toml_node *smg_toml_member(const struct smg_toml_node *table,
					    const char *key);

/* "string", "integer", "float", "boolean", "datetime", "array", "table" */
const char *smg_toml_type_name(enum smg_toml_type type);

#endif
