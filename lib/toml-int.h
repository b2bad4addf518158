/*
 * toml-int.h - what the pieces of the TOML reader share, for lib/toml*.c
 * only (callers use toml.h).  One parser walks the text: toml-scan.c
 * reads characters, strings and keys and says where an error is,
 * toml-value.c reads values, toml.c owns the document, its arena and its
 * tables.  Values hold inline tables, which hold "key = value" lines
 * again, so the three call each other and share struct parser.
 */
#ifndef SMG_TOML_INT_H
#define SMG_TOML_INT_H

#include "toml.h"
#include "smg.h"

#include <setjmp.h>

/*
 * Table bookkeeping for TOML's "define once" rules.  A table a [header]
 * opened may not be opened again nor reached by dotted keys from another
 * section; a table dotted keys made may not get a [header]; an inline
 * table is complete as written.  A table made only as the path of some
 * [x.y] header has no flag: one later [x] may still define it.
 */
enum {
	F_HEADER = 1,
	F_DOTTED = 2,
	F_FROZEN = 4,
	F_AOT = 8,	/* array made by [[header]]: more [[header]]s append to it */
};

/* Deeper nesting than this is hostile input, not a config: refuse it
 * before the recursion runs out of stack. */
#define MAX_DEPTH 128

struct chunk;

struct smg_toml {
	struct chunk *chunks;
	struct smg_toml_node *root;
	char *filename;
};

/* One part of a dotted key, as written. */
struct seg {
	const char *s;
	size_t len;
	int line, col;
	struct seg *next;
};

struct parser {
	struct smg_toml *doc;
	const char *src, *end, *p;
	struct smg_buf buf;	/* the string being read */
	struct smg_buf path;	/* a key path for a message */
	char desc[24];		/* a character named for a message */
	struct smg_toml_node *cur;	/* where "key = value" lines go */
	const char *section;	/* cur's header path, to name keys in messages */
	int depth;
	const char *loc_p, *loc_bol;	/* toml_locate() resumes from here */
	int loc_line;
	char *err;
	size_t errlen;
	jmp_buf jmp;
};

/* ---- characters ---- */

static inline int toml_peek_at(const struct parser *p, size_t k)
{
	return (size_t)(p->end - p->p) > k ? (unsigned char)p->p[k] : -1;
}

static inline int toml_peek(const struct parser *p)
{
	return toml_peek_at(p, 0);
}

static inline bool toml_is_bare(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static inline bool toml_is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* ---- toml.c: the document, its nodes, keys and tables --------------------- */

void *toml_arena_alloc(struct smg_toml *doc, size_t n);
const char *toml_arena_strndup(struct smg_toml *doc, const char *s, size_t n);
/* A node of type at `at` in the text; append it to an array. */
struct smg_toml_node *toml_new_node_at(struct parser *p, enum smg_toml_type type,
				       const char *at);
void toml_append(struct smg_toml_node *parent, struct smg_toml_node *n);
/* "key = value" into table (an inline table's too). */
void toml_keyval(struct parser *p, struct smg_toml_node *table);

/* ---- toml-scan.c: positions, errors, characters, strings and keys ----------- */

void toml_locate(struct parser *p, const char *at, int *line, int *col);
/* "FILE:LINE:COL: message" into the caller's buffer, and out of the parse. */
__attribute__((format(printf, 4, 5)))
_Noreturn void toml_fail_lc(struct parser *p, int line, int col, const char *fmt, ...);
__attribute__((format(printf, 3, 4)))
_Noreturn void toml_fail(struct parser *p, const char *at, const char *fmt, ...);
/* The character at `at`, named for a message: 'x', U+0001, end of line. */
const char *toml_describe(struct parser *p, const char *at);
void toml_check_utf8(struct parser *p);
void toml_skip_ws(struct parser *p);
void toml_skip_blank_lines(struct parser *p);
void toml_expect_eol(struct parser *p);
int toml_hex_value(int c);
/* A string of any of the four forms at p->p. */
struct smg_toml_node *toml_string_value(struct parser *p);
/* A dotted key; the path head..last as text for a message. */
struct seg *toml_parse_key(struct parser *p);
const char *toml_key_path(struct parser *p, const struct seg *head, const struct seg *last,
			  bool in_section);

/* ---- toml-value.c: values --------------------------------------------------- */

/* A value at p->p: string, number, boolean, date-time, array, inline table. */
struct smg_toml_node *toml_parse_value(struct parser *p);

#endif
