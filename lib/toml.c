/*
 * toml.c - TOML 1.0 reader (see toml.h for what it covers): the document,
 * its arena and nodes, "key = value" lines, [tables] and [[arrays of
 * tables]] with TOML's define-once rules, and the entry points.
 *
 * A recursive-descent parser over the whole text (toml-int.h: the scanner
 * is toml-scan.c, values toml-value.c).  Every node and string is carved
 * from one arena owned by the document, and an error longjmps out of any
 * depth: nothing to unwind, the arena is dropped in one go.
 */
#include "toml-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

/* ---- memory ---- */

void *toml_arena_alloc(struct smg_toml *doc, size_t n)
{
	size_t a = sizeof(max_align_t);
	n = (n + a - 1) / a * a;
	struct chunk *c = doc->chunks;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > 8192 ? n : 8192;
		c = smg_xmalloc(sizeof *c + cap);
		c->next = doc->chunks;
		c->used = 0;
		c->cap = cap;
		doc->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

const char *toml_arena_strndup(struct smg_toml *doc, const char *s, size_t n)
{
	char *d = toml_arena_alloc(doc, n + 1);
	if (n)
		memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void smg_toml_free(struct smg_toml *doc)
{
	if (!doc)
		return;
	for (struct chunk *c = doc->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(doc->filename);
	free(doc);
}


/* ---- nodes ---- */

static struct smg_toml_node *new_node(struct parser *p, enum smg_toml_type type,
				      int line, int col)
{
	struct smg_toml_node *n = toml_arena_alloc(p->doc, sizeof *n);
	memset(n, 0, sizeof *n);
	n->type = type;
	n->line = n->key_line = line;
	n->col = n->key_col = col;
	return n;
}

struct smg_toml_node *toml_new_node_at(struct parser *p, enum smg_toml_type type,
					 const char *at)
{
	int line, col;
	toml_locate(p, at, &line, &col);
	return new_node(p, type, line, col);
}

void toml_append(struct smg_toml_node *parent, struct smg_toml_node *n)
{
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	parent->count++;
}

static void add_member(struct smg_toml_node *table, const struct seg *k,
		       struct smg_toml_node *n)
{
	n->key = k->s;
	n->key_len = k->len;
	n->key_line = k->line;
	n->key_col = k->col;
	toml_append(table, n);
}

static struct smg_toml_node *find(const struct smg_toml_node *t, const char *key, size_t len)
{
	if (!t || t->type != SMG_TOML_TABLE)
		return NULL;
	for (struct smg_toml_node *n = t->first; n; n = n->next)
		if (n->key_len == len && memcmp(n->key, key, len) == 0)
			return n;
	return NULL;
}


/* ---- key/value pairs and headers ---- */

/* A key already holding n cannot be defined again as k (path head..k). */
_Noreturn static void redefined(struct parser *p, bool in_section,
				const struct seg *head, const struct seg *k,
				const struct smg_toml_node *n)
{
	const char *path = toml_key_path(p, head, k, in_section);
	if (n->type == SMG_TOML_ARRAY && (n->flags & F_AOT))
		toml_fail_lc(p, k->line, k->col, "'%s' is already an array of tables (defined at %d:%d)",
			path, n->key_line, n->key_col);
	if (n->type == SMG_TOML_TABLE && (n->flags & F_FROZEN))
		toml_fail_lc(p, k->line, k->col, "'%s' is an inline table, complete as written at %d:%d",
			path, n->key_line, n->key_col);
	if (n->type == SMG_TOML_TABLE)
		toml_fail_lc(p, k->line, k->col, "table '%s' is already defined (at %d:%d)",
			path, n->key_line, n->key_col);
	toml_fail_lc(p, k->line, k->col, "key '%s' is already defined (at %d:%d)",
		path, n->key_line, n->key_col);
}

static struct smg_toml_node *new_table(struct parser *p, struct smg_toml_node *parent,
				       const struct seg *k, unsigned flags)
{
	struct smg_toml_node *n = new_node(p, SMG_TOML_TABLE, k->line, k->col);
	n->flags = flags;
	add_member(parent, k, n);
	return n;
}

/* The table a dotted key goes through: made if absent; an existing one
 * only if no [header] opened it and it is not an inline table. */
static struct smg_toml_node *dotted_table(struct parser *p, struct smg_toml_node *t,
					  bool in_section, const struct seg *head,
					  const struct seg *k)
{
	struct smg_toml_node *n = find(t, k->s, k->len);
	if (!n)
		return new_table(p, t, k, F_DOTTED);
	if (n->type != SMG_TOML_TABLE || (n->flags & (F_FROZEN | F_HEADER)))
		redefined(p, in_section, head, k, n);
	n->flags |= F_DOTTED;
	return n;
}

void toml_keyval(struct parser *p, struct smg_toml_node *table)
{
	struct seg *head = toml_parse_key(p), *k;
	if (toml_peek(p) != '=')
		toml_fail(p, p->p, "expected '=' after a key, found %s", toml_describe(p, p->p));
	p->p++;
	toml_skip_ws(p);
	struct smg_toml_node *v = toml_parse_value(p);
	bool in_section = table == p->cur;
	for (k = head; k->next; k = k->next)
		table = dotted_table(p, table, in_section, head, k);
	struct smg_toml_node *old = find(table, k->s, k->len);
	if (old)
		redefined(p, in_section, head, k, old);
	add_member(table, k, v);
}

/* A table on the path of a header: made if absent; in an array of
 * tables, its last element. */
static struct smg_toml_node *header_path_table(struct parser *p, struct smg_toml_node *t,
					       const struct seg *head, const struct seg *k)
{
	struct smg_toml_node *n = find(t, k->s, k->len);
	if (!n)
		return new_table(p, t, k, 0);
	if (n->type == SMG_TOML_ARRAY && (n->flags & F_AOT))
		return n->last;
	if (n->type != SMG_TOML_TABLE || (n->flags & F_FROZEN))
		redefined(p, false, head, k, n);
	return n;
}

/* [a.b]: the last part k names a new table, or one only headers' paths made so far. */
static struct smg_toml_node *open_table(struct parser *p, struct smg_toml_node *t,
					const struct seg *head, const struct seg *k,
					int line, int col)
{
	struct smg_toml_node *n = find(t, k->s, k->len);
	if (!n)
		n = new_table(p, t, k, 0);
	else if (n->type != SMG_TOML_TABLE || (n->flags & (F_HEADER | F_DOTTED | F_FROZEN)))
		redefined(p, false, head, k, n);
	n->flags |= F_HEADER;
	n->line = line;
	n->col = col;
	n->key_line = k->line;	/* later messages point at the header, not the path */
	n->key_col = k->col;
	return n;
}

/* [[a.b]]: append a table to the array of tables k names, made if absent. */
static struct smg_toml_node *open_array_table(struct parser *p, struct smg_toml_node *t,
					      const struct seg *head, const struct seg *k,
					      int line, int col)
{
	struct smg_toml_node *a = find(t, k->s, k->len);
	if (!a) {
		a = new_node(p, SMG_TOML_ARRAY, line, col);
		a->flags = F_AOT;
		add_member(t, k, a);
	} else if (a->type != SMG_TOML_ARRAY || !(a->flags & F_AOT)) {
		redefined(p, false, head, k, a);
	}
	struct smg_toml_node *n = new_node(p, SMG_TOML_TABLE, line, col);
	n->flags = F_HEADER;
	toml_append(a, n);
	return n;
}

static void table_header(struct parser *p)
{
	int line, col;
	toml_locate(p, p->p, &line, &col);
	bool aot = toml_peek_at(p, 1) == '[';
	p->p += aot ? 2 : 1;
	toml_skip_ws(p);
	struct seg *head = toml_parse_key(p), *k;
	if (toml_peek(p) != ']' || (aot && toml_peek_at(p, 1) != ']'))
		toml_fail(p, p->p, "expected '%s' to close the header, found %s", aot ? "]]" : "]",
		     toml_describe(p, p->p));
	p->p += aot ? 2 : 1;
	struct smg_toml_node *t = p->doc->root;
	for (k = head; k->next; k = k->next)
		t = header_path_table(p, t, head, k);
	p->cur = aot ? open_array_table(p, t, head, k, line, col)
		     : open_table(p, t, head, k, line, col);
	const char *path = toml_key_path(p, head, k, false);
	p->section = toml_arena_strndup(p->doc, path, strlen(path));
}

static void parse_document(struct parser *p)
{
	p->cur = p->doc->root;
	for (;;) {
		toml_skip_blank_lines(p);
		if (p->p >= p->end)
			return;
		if (toml_peek(p) == '[')
			table_header(p);
		else
			toml_keyval(p, p->cur);
		toml_expect_eol(p);
	}
}

/* ---- entry points ---- */

struct smg_toml *smg_toml_parse(const char *text, size_t len, const char *filename,
				char *err, size_t errlen)
{
	struct smg_toml *doc = smg_xcalloc(1, sizeof *doc);
	doc->filename = smg_xstrdup(filename ? filename : "<string>");
	/* On the heap, so its contents are well defined after longjmp. */
	struct parser *p = smg_xcalloc(1, sizeof *p);
	p->doc = doc;
	p->src = p->p = p->loc_p = p->loc_bol = text;
	p->end = text + len;
	p->loc_line = 1;
	p->err = err;
	p->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
		p->src = p->p = p->loc_p = p->loc_bol = text + 3;	/* byte order mark */
	if (setjmp(p->jmp)) {
		smg_buf_free(&p->buf);
		smg_buf_free(&p->path);
		free(p);
		smg_toml_free(doc);
		return NULL;
	}
	toml_check_utf8(p);
	doc->root = new_node(p, SMG_TOML_TABLE, 1, 1);
	parse_document(p);
	smg_buf_free(&p->buf);
	smg_buf_free(&p->path);
	free(p);
	return doc;
}

/* "PATH: reason" into err, keeping errno for the caller (ENOENT matters). */
static struct smg_toml *read_error(const char *path, char *err, size_t errlen)
{
	int e = errno;
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(e));
	errno = e;
	return NULL;
}

struct smg_toml *smg_toml_parse_file(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return read_error(path, err, errlen);
	struct smg_buf b = SMG_BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		smg_buf_add(&b, chunk, n);
	if (ferror(f)) {
		int e = errno;
		fclose(f);
		smg_buf_free(&b);
		errno = e;
		return read_error(path, err, errlen);
	}
	fclose(f);
	struct smg_toml *doc = smg_toml_parse(b.data ? b.data : "", b.len, path, err, errlen);
	smg_buf_free(&b);
	errno = 0;	/* NULL from here on is a syntax error, not a read error */
	return doc;
}

const struct smg_toml_node *smg_toml_root(const struct smg_toml *doc)
{
	return doc ? doc->root : NULL;
}

const char *smg_toml_filename(const struct smg_toml *doc)
{
	return doc ? doc->filename : NULL;
}

const struct smg_toml_node *smg_toml_member(const struct smg_toml_node *table, const char *key)
{
	return find(table, key, strlen(key));
}

const struct smg_toml_node *smg_toml_get(const struct smg_toml_node *table, const char *path)
{
	while (table) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		table = find(table, path, len);
		if (!dot)
			return table;
		path = dot + 1;
	}
	return NULL;
}

const char *smg_toml_type_name(enum smg_toml_type type)
{
	switch (type) {
	case SMG_TOML_STRING: return "string";
	case SMG_TOML_INTEGER: return "integer";
	case SMG_TOML_FLOAT: return "float";
	case SMG_TOML_BOOL: return "boolean";
	case SMG_TOML_DATETIME: return "datetime";
	case SMG_TOML_ARRAY: return "array";
	case SMG_TOML_TABLE: return "table";
	}
	return "value";
}

