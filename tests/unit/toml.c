/* tests/unit/toml.c - the TOML reader: every value form, every error with its position. */
#include "smg.h"
#include "test.h"
#include "toml.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>



static struct smg_toml *parse(const char *text)
{
	char err[512];
	struct smg_toml *doc = smg_toml_parse(text, strlen(text), "t.toml", err, sizeof err);
	if (!doc)
		printf("# unexpected error: %s\n", err);
	return doc;
}

static const struct smg_toml_node *get(const struct smg_toml *doc, const char *path)
{
	return smg_toml_get(smg_toml_root(doc), path);
}

static bool is_str(const struct smg_toml *doc, const char *path, const char *want)
{
	const struct smg_toml_node *n = get(doc, path);
	bool ok = n && n->type == SMG_TOML_STRING && n->v.str.len == strlen(want) &&
		  memcmp(n->v.str.s, want, n->v.str.len) == 0;
	if (!ok && n && n->type == SMG_TOML_STRING)
		printf("# %s is \"%s\"\n", path, n->v.str.s);
	return ok;
}

static bool is_int(const struct smg_toml *doc, const char *path, int64_t want)
{
	const struct smg_toml_node *n = get(doc, path);
	return n && n->type == SMG_TOML_INTEGER && n->v.i == want;
}

static bool is_float(const struct smg_toml *doc, const char *path, double want)
{
	const struct smg_toml_node *n = get(doc, path);
	return n && n->type == SMG_TOML_FLOAT && n->v.f == want && signbit(n->v.f) == signbit(want);
}

static bool is_at(const struct smg_toml_node *n, int line, int col)
{
	if (n && (n->line != line || n->col != col))
		printf("# at %d:%d\n", n->line, n->col);
	return n && n->line == line && n->col == col;
}

/* The text must fail with "t.toml:WHERE: ..." containing msg. */
static void expect_error(const char *text, size_t len, const char *where, const char *msg)
{
	char err[512], prefix[64];
	struct smg_toml *doc = smg_toml_parse(text, len, "t.toml", err, sizeof err);
	snprintf(prefix, sizeof prefix, "t.toml:%s: ", where);
	bool ok = !doc && strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, msg);
	check(ok, "error %s%s", prefix, msg);
	if (!ok)
		printf("#   got: %s\n", doc ? "(parsed)" : err);
	smg_toml_free(doc);
}

#define ERR(text, where, msg) expect_error(text, sizeof(text) - 1, where, msg)

static void test_scalars(void)
{
	struct smg_toml *doc = parse(
		"# a comment\n"
		"title = \"TOML\"   # trailing comment\n"
		"n = 42\n"
		"f = 3.5\n"
		"yes = true\n"
		"no = false\n");
	check(doc != NULL, "scalars parse");
	check(is_str(doc, "title", "TOML"), "basic string");
	check(is_int(doc, "n", 42), "integer");
	check(is_float(doc, "f", 3.5), "float");
	const struct smg_toml_node *y = get(doc, "yes"), *n = get(doc, "no");
	check(y && y->type == SMG_TOML_BOOL && y->v.b && n && !n->v.b, "booleans");
	check(get(doc, "missing") == NULL, "absent key is NULL");
	check(get(doc, "title.x") == NULL, "a path through a string is NULL");
	smg_toml_free(doc);
}

static void test_strings(void)
{
	struct smg_toml *doc = parse(
		"esc = \"b\\b t\\t n\\n f\\f r\\r q\\\" bs\\\\ \\u00E9 \\U0001F600\"\n"
		"nul = \"a\\u0000b\"\n"
		"lit = 'C:\\Users\\nodejs\\templates'\n"
		"litq = '<\\i\\c*\\s*>'\n"
		"ml = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
		"join = \"\"\"\\\n   The quick \\\n   brown \\  \n\n   fox.\\\n   \"\"\"\n"
		"q1 = \"\"\"Here are two quotation marks: \"\". Simple.\"\"\"\n"
		"q2 = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
		"q5 = \"\"\"a\"\"\"\"\"\n"
		"mll = '''\nThe first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n'''\n"
		"mlq = ''''That,' she said, 'is still pointless.''''\n"
		"tab = \"a\tb\"\n"
		"utf = \"caf\xC3\xA9 \xF0\x9F\x98\x80\"\n"
		"empty = \"\"\n"
		"emptyl = ''\n");
	check(doc != NULL, "strings parse");
	check(is_str(doc, "esc", "b\b t\t n\n f\f r\r q\" bs\\ \xC3\xA9 \xF0\x9F\x98\x80"),
	      "every basic escape including \\u and \\U");
	const struct smg_toml_node *n = get(doc, "nul");
	check(n && n->v.str.len == 3 && memcmp(n->v.str.s, "a\0b", 3) == 0, "\\u0000 kept, length says so");
	check(is_str(doc, "lit", "C:\\Users\\nodejs\\templates"), "literal string has no escapes");
	check(is_str(doc, "litq", "<\\i\\c*\\s*>"), "literal string keeps backslashes");
	check(is_str(doc, "ml", "Roses are red\nViolets are blue"), "multi-line basic trims first newline");
	check(is_str(doc, "join", "The quick brown fox."), "line-ending backslash joins lines");
	check(is_str(doc, "q1", "Here are two quotation marks: \"\". Simple."), "quotes inside multi-line");
	check(is_str(doc, "q2", "\"This,\" she said, \"is just a pointless statement.\""),
	      "quotes next to the multi-line delimiters");
	check(is_str(doc, "q5", "a\"\""), "five closing quotes leave two in the content");
	check(is_str(doc, "mll", "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n   is preserved.\n"),
	      "multi-line literal");
	check(is_str(doc, "mlq", "'That,' she said, 'is still pointless.'"), "quotes in multi-line literal");
	check(is_str(doc, "tab", "a\tb"), "tab allowed in a string");
	check(is_str(doc, "utf", "caf\xC3\xA9 \xF0\x9F\x98\x80"), "UTF-8 text kept as is");
	check(is_str(doc, "empty", "") && is_str(doc, "emptyl", ""), "empty strings");
	smg_toml_free(doc);

	const char crlf[] = "a = \"\"\"\r\none\r\ntwo\"\"\"\r\nb = 1\r\n";
	char err[256];
	doc = smg_toml_parse(crlf, sizeof crlf - 1, "t.toml", err, sizeof err);
	check(doc && is_str(doc, "a", "one\ntwo") && is_int(doc, "b", 1),
	      "CRLF documents; CRLF in a multi-line string reads as LF");
	smg_toml_free(doc);
}

static void test_integers(void)
{
	struct smg_toml *doc = parse(
		"a = +99\nb = 42\nc = 0\nd = -17\ne = 1_000\nf = 5_349_221\ng = -0\n"
		"h = 0xDEADBEEF\ni = 0xdead_beef\nj = 0o01234567\nk = 0o755\nl = 0b11010110\n"
		"max = 9223372036854775807\nmin = -9223372036854775808\n"
		"hmax = 0x7FFFFFFFFFFFFFFF\nz = 0x0000_00ff\n");
	check(doc != NULL, "integers parse");
	check(is_int(doc, "a", 99) && is_int(doc, "b", 42) && is_int(doc, "c", 0) &&
	      is_int(doc, "d", -17) && is_int(doc, "g", 0), "decimal integers with sign");
	check(is_int(doc, "e", 1000) && is_int(doc, "f", 5349221), "underscores between digits");
	check(is_int(doc, "h", 0xDEADBEEF) && is_int(doc, "i", 0xdeadbeef), "hexadecimal");
	check(is_int(doc, "j", 01234567) && is_int(doc, "k", 0755), "octal");
	check(is_int(doc, "l", 214), "binary");
	check(is_int(doc, "max", INT64_MAX) && is_int(doc, "min", INT64_MIN), "int64 limits");
	check(is_int(doc, "hmax", INT64_MAX) && is_int(doc, "z", 255), "hex limit and leading zeros");
	smg_toml_free(doc);
}

static void test_floats(void)
{
	struct smg_toml *doc = parse(
		"a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\nf = -2E-2\n"
		"g = 6.626e-34\nh = 224_617.445_991_228\ni = 0e0\nj = -0.0\nk = 1e1_0\n"
		"pi = inf\npp = +inf\nmi = -inf\nn1 = nan\nn2 = +nan\nn3 = -nan\n");
	check(doc != NULL, "floats parse");
	check(is_float(doc, "a", 1.0) && is_float(doc, "b", 3.1415) && is_float(doc, "c", -0.01),
	      "fractions");
	check(is_float(doc, "d", 5e22) && is_float(doc, "e", 1e6) && is_float(doc, "f", -2e-2) &&
	      is_float(doc, "g", 6.626e-34), "exponents");
	check(is_float(doc, "h", 224617.445991228) && is_float(doc, "k", 1e10), "underscores in floats");
	check(is_float(doc, "i", 0.0) && is_float(doc, "j", -0.0), "zero and negative zero");
	check(is_float(doc, "pi", INFINITY) && is_float(doc, "pp", INFINITY) &&
	      is_float(doc, "mi", -INFINITY), "infinities");
	const struct smg_toml_node *n1 = get(doc, "n1"), *n2 = get(doc, "n2"), *n3 = get(doc, "n3");
	check(n1 && isnan(n1->v.f) && n2 && isnan(n2->v.f) && n3 && isnan(n3->v.f) &&
	      n1->type == SMG_TOML_FLOAT, "nan");
	smg_toml_free(doc);
}

static void test_datetimes(void)
{
	struct smg_toml *doc = parse(
		"odt1 = 1979-05-27T07:32:00Z\n"
		"odt2 = 1979-05-27T00:32:00-07:00\n"
		"odt3 = 1979-05-27T00:32:00.999999+05:30\n"
		"odt4 = 1979-05-27 07:32:00Z\n"
		"ldt = 1979-05-27T07:32:00\n"
		"ld = 2000-02-29 # leap day\n"
		"lt = 00:32:00.999999\n"
		"arr = [1979-05-27, 07:32:00]\n");
	check(doc != NULL, "date-times parse");
	const struct smg_toml_node *n = get(doc, "odt3");
	check(n && n->type == SMG_TOML_DATETIME && strcmp(n->v.str.s, "1979-05-27T00:32:00.999999+05:30") == 0,
	      "offset date-time kept as text");
	n = get(doc, "odt4");
	check(n && strcmp(n->v.str.s, "1979-05-27 07:32:00Z") == 0, "space between date and time");
	n = get(doc, "ld");
	check(n && n->type == SMG_TOML_DATETIME && strcmp(n->v.str.s, "2000-02-29") == 0,
	      "local date before a comment");
	n = get(doc, "lt");
	check(n && strcmp(n->v.str.s, "00:32:00.999999") == 0, "local time");
	n = get(doc, "arr");
	check(n && n->count == 2 && n->first->type == SMG_TOML_DATETIME, "dates in an array");
	smg_toml_free(doc);
}

static void test_tables_and_keys(void)
{
	struct smg_toml *doc = parse(
		"top = 1\n"
		"a.b.c = 2\n"
		"site . \"google.com\" = true\n"
		"\"\" = \"empty key\"\n"
		"'quoted \"value\"' = 3\n"
		"3.14159 = \"pi\"\n"
		"[table-1]\n"
		"key1 = \"some string\"\n"
		"[ dog . \"tater.man\" ]\n"
		"type.name = \"pug\"\n"
		"[x.y.z.w]\n"
		"[x]\n"
		"k = 5\n"
		"[fruit]\n"
		"apple.color = \"red\"\n"
		"apple.taste.sweet = true\n"
		"[fruit.apple.texture]\n"
		"smooth = true\n");
	check(doc != NULL, "tables and keys parse");
	check(is_int(doc, "a.b.c", 2), "dotted keys make tables");
	const struct smg_toml_node *site = get(doc, "site");
	const struct smg_toml_node *g = smg_toml_member(site, "google.com");
	check(g && g->type == SMG_TOML_BOOL && g->v.b, "quoted key holding a dot, blanks around dots");
	check(smg_toml_member(smg_toml_root(doc), "") != NULL, "empty quoted key");
	check(smg_toml_member(smg_toml_root(doc), "quoted \"value\"") != NULL, "literal quoted key");
	check(is_str(doc, "3.14159", "pi"), "3.14159 is two bare keys");
	check(is_str(doc, "table-1.key1", "some string"), "[table] with a dash");
	check(smg_toml_get(smg_toml_member(get(doc, "dog"), "tater.man"), "type.name") != NULL,
	      "[ dog . \"tater.man\" ] header with blanks and a quoted part");
	check(get(doc, "x.y.z.w") && is_int(doc, "x.k", 5), "[x] after [x.y.z.w] defines x once");
	check(get(doc, "fruit.apple.texture.smooth") && get(doc, "fruit.apple.taste.sweet"),
	      "[fruit.apple.texture] below tables made by dotted keys");
	/* members keep document order */
	const char *want[] = {"top", "a", "site", "", "quoted \"value\"", "3", "table-1", "dog", "x", "fruit"};
	size_t i = 0;
	bool order = true;
	for (const struct smg_toml_node *n = smg_toml_root(doc)->first; n; n = n->next, i++)
		order = order && i < 10 && strcmp(n->key, want[i]) == 0;
	check(order && i == 10 && smg_toml_root(doc)->count == 10, "table members in document order");
	smg_toml_free(doc);
}

static void test_arrays(void)
{
	struct smg_toml *doc = parse(
		"ints = [ 1, 2, 3 ]\n"
		"empty = []\n"
		"nested = [ [ 1, 2 ], [\"a\", 'b'] ]\n"
		"mixed = [ 0.1, \"x\", { k = 1 }, true ]\n"
		"multi = [\n"
		"  \"one\", # first\n"
		"  # a comment line\n"
		"  \"two\",\n"
		"\n"
		"  \"three\",   # trailing comma next\n"
		"]\n"
		"after = 1\n");
	check(doc != NULL, "arrays parse");
	const struct smg_toml_node *a = get(doc, "ints");
	check(a && a->type == SMG_TOML_ARRAY && a->count == 3 && a->first->v.i == 1 &&
	      a->last->v.i == 3 && a->first->key == NULL, "array of integers");
	check(get(doc, "empty") && get(doc, "empty")->count == 0, "empty array");
	a = get(doc, "nested");
	check(a && a->count == 2 && a->first->type == SMG_TOML_ARRAY && a->last->count == 2,
	      "nested arrays");
	a = get(doc, "mixed");
	check(a && a->count == 4 && a->first->next->next->type == SMG_TOML_TABLE, "mixed types");
	a = get(doc, "multi");
	check(a && a->count == 3 && strcmp(a->last->v.str.s, "three") == 0,
	      "multi-line array with comments and trailing comma");
	check(is_int(doc, "after", 1), "parsing continues after a multi-line array");
	smg_toml_free(doc);
}

static void test_inline_tables(void)
{
	struct smg_toml *doc = parse(
		"name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
		"point = {x=1,y=2}\n"
		"animal = { type.name = \"pug\", type.size = 3 }\n"
		"empty = {}\n"
		"deep = { a = { b = { c = [1, {d = 2}] } } }\n");
	check(doc != NULL, "inline tables parse");
	check(is_str(doc, "name.last", "Preston-Werner") && is_int(doc, "point.y", 2),
	      "inline table members");
	check(is_str(doc, "animal.type.name", "pug") && is_int(doc, "animal.type.size", 3),
	      "dotted keys inside an inline table");
	check(get(doc, "empty") && get(doc, "empty")->type == SMG_TOML_TABLE &&
	      get(doc, "empty")->count == 0, "empty inline table");
	const struct smg_toml_node *c = get(doc, "deep.a.b.c");
	check(c && c->count == 2 && smg_toml_get(c->last, "d")->v.i == 2, "nested inline tables");
	smg_toml_free(doc);
}

static void test_array_tables(void)
{
	struct smg_toml *doc = parse(
		"[[products]]\n"
		"name = \"Hammer\"\n"
		"[[products]]  # empty\n"
		"[[products]]\n"
		"name = \"Nail\"\n"
		"\n"
		"[[fruits]]\n"
		"name = \"apple\"\n"
		"[fruits.physical]\n"
		"color = \"red\"\n"
		"[[fruits.varieties]]\n"
		"name = \"red delicious\"\n"
		"[[fruits.varieties]]\n"
		"name = \"granny smith\"\n"
		"[[fruits]]\n"
		"name = \"banana\"\n"
		"[[fruits.varieties]]\n"
		"name = \"plantain\"\n");
	check(doc != NULL, "arrays of tables parse");
	const struct smg_toml_node *p = get(doc, "products");
	check(p && p->type == SMG_TOML_ARRAY && p->count == 3 && p->first->next->count == 0 &&
	      is_at(p->last, 4, 1), "[[products]] three elements, the middle one empty");
	const struct smg_toml_node *f = get(doc, "fruits");
	check(f && f->count == 2, "two fruits");
	const struct smg_toml_node *apple = f->first, *banana = f->last;
	check(smg_toml_get(apple, "physical.color") &&
	      smg_toml_get(apple, "varieties")->count == 2 &&
	      smg_toml_get(banana, "varieties")->count == 1,
	      "sub-tables and nested arrays go into the last element");
	smg_toml_free(doc);
}

static void test_positions(void)
{
	struct smg_toml *doc = parse(
		"a = 1\n"
		"[sync]\n"
		"  batch_size   = \"x\"\n"
		"\"\xC3\xA9\xC3\xA9\" = 2\n"
		"k.l = [\n"
		"   7 ]\n");
	const struct smg_toml_node *n = get(doc, "sync.batch_size");
	check(is_at(n, 3, 18) && n->key_line == 3 && n->key_col == 3, "value and key positions");
	n = get(doc, "sync");
	check(is_at(n, 2, 1) && n->key_col == 2, "a [header] table is where its header is");
	n = smg_toml_get(get(doc, "sync"), "k.l");
	check(n && is_at(n->first, 6, 4), "array element position");
	const struct smg_toml_node *e = smg_toml_member(get(doc, "sync"), "\xC3\xA9\xC3\xA9");
	check(e && e->key_col == 1 && e->col == 8, "columns count characters, not bytes");
	smg_toml_free(doc);
}

static void test_misc(void)
{
	struct smg_toml *doc = parse("");
	check(doc && smg_toml_root(doc)->count == 0 && smg_toml_root(doc)->type == SMG_TOML_TABLE,
	      "empty document");
	smg_toml_free(doc);
	doc = parse("# only\n\n   # comments\n");
	check(doc && smg_toml_root(doc)->count == 0, "comments only");
	smg_toml_free(doc);
	doc = parse("\xEF\xBB\xBFk = 1");
	check(doc && is_int(doc, "k", 1) && is_at(get(doc, "k"), 1, 5),
	      "byte order mark skipped; no newline at end of file");
	smg_toml_free(doc);
	check(strcmp(smg_toml_type_name(SMG_TOML_INTEGER), "integer") == 0 &&
	      strcmp(smg_toml_type_name(SMG_TOML_TABLE), "table") == 0, "type names");

	char err[256];
	errno = 0;
	doc = smg_toml_parse_file("/nonexistent/dir/c.toml", err, sizeof err);
	check(!doc && errno == ENOENT && strcmp(err, "/nonexistent/dir/c.toml: No such file or directory") == 0,
	      "missing file: errno ENOENT and a message");
	char path[] = "/tmp/smg-toml-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	fputs("[s]\nk = \"v\"\nbad = \n", f);
	fclose(f);
	doc = smg_toml_parse_file(path, err, sizeof err);
	char want[128];
	snprintf(want, sizeof want, "%s:3:7: expected a value", path);
	check(!doc && strncmp(err, want, strlen(want)) == 0, "file errors name the file");
	f = fopen(path, "w");
	fputs("[s]\nk = \"v\"\n", f);
	fclose(f);
	doc = smg_toml_parse_file(path, err, sizeof err);
	check(doc && is_str(doc, "s.k", "v") && strcmp(smg_toml_filename(doc), path) == 0,
	      "parse a file");
	smg_toml_free(doc);
	unlink(path);

	char small[8];
	doc = smg_toml_parse("a = ", 4, "long-file-name.toml", small, sizeof small);
	check(!doc && strlen(small) == 7, "error message truncated to the buffer");
	check(smg_toml_parse("a = ", 4, "x", NULL, 0) == NULL, "no error buffer is fine");
}

static void test_redefinitions(void)
{
	ERR("a = 1\na = 2\n", "2:1", "key 'a' is already defined (at 1:1)");
	ERR("a.b = 1\na.b = 2\n", "2:3", "key 'a.b' is already defined");
	ERR("[a]\nx = 1\n[a]\n", "3:2", "table 'a' is already defined (at 1:2)");
	ERR("[a]\nb.c = 1\n[a.b]\n", "3:4", "table 'a.b' is already defined (at 2:1)");
	ERR("a.b = 1\n[a]\n", "2:2", "table 'a' is already defined");
	ERR("[fruit]\napple.color = 1\n[fruit.apple]\n", "3:8", "table 'fruit.apple' is already defined");
	ERR("a = {}\n[a]\n", "2:2", "'a' is an inline table");
	ERR("a = {b = 1}\na.c = 2\n", "2:1", "'a' is an inline table");
	ERR("a = {b = {c = 1}}\n[a.b.d]\n", "2:2", "'a' is an inline table");
	ERR("[[a]]\n[a]\n", "2:2", "'a' is already an array of tables");
	ERR("a = [1]\n[[a]]\n", "2:3", "key 'a' is already defined");
	ERR("a = [{b = 1}]\n[a.c]\n", "2:2", "key 'a' is already defined");
	ERR("[a.b]\n[a]\nb.c = 1\n", "3:1", "table 'a.b' is already defined");
	ERR("[a.b.c.d]\nz = 9\n[a]\nb.c.d.k.t = 1\n", "4:5", "table 'a.b.c.d' is already defined");
	ERR("a = 1\na.b = 2\n", "2:1", "key 'a' is already defined");
	ERR("a = 1\n[a]\n", "2:2", "key 'a' is already defined");
	ERR("[a]\nb = 1\n[a.b]\n", "3:4", "key 'a.b' is already defined");
	ERR("t = {a = 1, a = 2}\n", "1:13", "key 'a' is already defined (at 1:6)");
	ERR("t = {a.b = 1, a = 2}\n", "1:15", "table 'a' is already defined");
	ERR("[a.b.c]\n[a]\nb.d = 1\n[a.b]\n", "4:4", "table 'a.b' is already defined");
	ERR("\"a\" = 1\na = 2\n", "2:1", "key 'a' is already defined");
	ERR("'a b' = 1\n\"a b\" = 2\n", "2:1", "key '\"a b\"' is already defined");
}

static void test_string_errors(void)
{
	ERR("a = \"\\x41\"\n", "1:6", "invalid escape sequence '\\x'");
	ERR("a = \"\\e\"\n", "1:6", "invalid escape sequence '\\e'");
	ERR("a = \"\\ \"\n", "1:6", "invalid escape sequence: '\\' followed by ' '");
	ERR("a = \"\\u00\"\n", "1:6", "\\u needs 4 hexadecimal digits");
	ERR("a = \"\\U0000004\"\n", "1:6", "\\U needs 8 hexadecimal digits");
	ERR("a = \"\\uD800\"\n", "1:6", "\\uD800 is not a Unicode scalar value");
	ERR("a = \"\\U00110000\"\n", "1:6", "\\U00110000 is not a Unicode scalar value");
	ERR("a = \"abc\n", "1:5", "unterminated string");
	ERR("a = \"abc", "1:5", "unterminated string");
	ERR("a = 'abc\nb = 1\n", "1:5", "unterminated string");
	ERR("a = \"\"\"abc\n\n", "1:5", "unterminated multi-line string");
	ERR("x = 1\na = '''abc", "2:5", "unterminated multi-line string");
	ERR("a = \"\"\"x\"\"\"\"\"\"\n", "1:9", "too many quotes");
	ERR("a = \"\"\"x \\ y\"\"\"\n", "1:10", "invalid escape sequence");
	ERR("a = \"a\x01\"\n", "1:7", "control character U+0001 in a string");
	ERR("a = 'a\x7f'\n", "1:7", "control character U+007F in a string");
	ERR("a = \"\"\"\nx\x1f\"\"\"\n", "2:2", "control character U+001F");
	ERR("a = '''\x00'''\n", "1:8", "control character U+0000");
	ERR("a = \"a\rb\"\n", "1:7", "control character U+000D");
	ERR("a = 1 # bad \x02 comment\n", "1:13", "control character U+0002 in a comment");
	ERR("a = 1\r\nb = 2\r", "2:6", "carriage return not followed by a line feed");
	ERR("a = \"\xff\"\n", "1:6", "invalid UTF-8");
	ERR("a = \"\xed\xa0\x80\"\n", "1:6", "invalid UTF-8");
	ERR("a = \"\xc0\xaf\"\n", "1:6", "invalid UTF-8");
	ERR("\"\"\"k\"\"\" = 1\n", "1:1", "a multi-line string cannot be a key");
}

static void test_number_errors(void)
{
	ERR("a = 01\n", "1:5", "leading zeros are not allowed in '01'");
	ERR("a = -01.5\n", "1:5", "leading zeros");
	ERR("a = 1__0\n", "1:5", "invalid number '1__0'");
	ERR("a = 1_\n", "1:5", "invalid number '1_'");
	ERR("a = _1\n", "1:5", "expected a value, found '_1'");
	ERR("a = 0x\n", "1:5", "invalid number '0x'");
	ERR("a = 0x_1\n", "1:5", "invalid number '0x_1'");
	ERR("a = 0X10\n", "1:5", "invalid number '0X10'");
	ERR("a = 0b102\n", "1:5", "invalid number '0b102'");
	ERR("a = 0o8\n", "1:5", "invalid number '0o8'");
	ERR("a = +0x10\n", "1:5", "a sign is not allowed");
	ERR("a = 1.\n", "1:5", "invalid number '1.'");
	ERR("a = .5\n", "1:5", "expected a value, found '.'");
	ERR("a = 1.e5\n", "1:5", "invalid number '1.e5'");
	ERR("a = 1e\n", "1:5", "invalid number '1e'");
	ERR("a = 1e+\n", "1:5", "invalid number '1e+'");
	ERR("a = 1.5.3\n", "1:5", "invalid number '1.5.3'");
	ERR("a = ++1\n", "1:5", "invalid number '++1'");
	ERR("a = 9223372036854775808\n", "1:5", "integer '9223372036854775808' is out of range");
	ERR("a = -9223372036854775809\n", "1:5", "out of range");
	ERR("a = 0x8000000000000000\n", "1:5", "out of range");
	ERR("a = 1e400\n", "1:5", "float '1e400' is out of range");
	ERR("a = infinity\n", "1:5", "expected a value, found 'infinity' (strings need quotes)");
	ERR("a = NaN\n", "1:5", "expected a value, found 'NaN'");
	ERR("a = 1979-13-01\n", "1:5", "invalid date '1979-13-01'");
	ERR("a = 1979-02-29\n", "1:5", "invalid date");
	ERR("a = 1979-05-27T25:00:00\n", "1:16", "invalid time '25:00:00'");
	ERR("a = 1979-05-27T07:32\n", "1:16", "invalid time (expected HH:MM:SS)");
	ERR("a = 1979-05-27T07:32:00+5:00\n", "1:24", "invalid time zone offset");
	ERR("a = 1979-05-27T07:32:00.\n", "1:24", "a fraction of a second needs digits");
	ERR("a = 07:32:00Z\n", "1:5", "invalid date-time");
}

static void test_syntax_errors(void)
{
	ERR("a = hello\n", "1:5", "expected a value, found 'hello' (strings need quotes)");
	ERR("a = truee\n", "1:5", "found 'truee'");
	ERR("a =\n", "1:4", "expected a value, found end of line");
	ERR("a = 1 b = 2\n", "1:7", "expected the end of the line, found 'b'");
	ERR("a = \"x\" \"y\"\n", "1:9", "expected the end of the line");
	ERR("[a\n", "1:3", "expected ']' to close the header, found end of line");
	ERR("[[a]\n", "1:4", "expected ']]' to close the header");
	ERR("[a] x = 1\n", "1:5", "expected the end of the line, found 'x'");
	ERR("[]\n", "1:2", "expected a key, found ']'");
	ERR("[a.]\n", "1:4", "expected a key, found ']'");
	ERR("= 1\n", "1:1", "expected a key, found '='");
	ERR("a b = 1\n", "1:3", "expected '=' after a key, found 'b'");
	ERR("a\n= 1\n", "1:2", "expected '=' after a key, found end of line");
	ERR("a.\"b\n", "1:3", "unterminated string");
	ERR("a = [1, 2\n", "1:5", "unterminated array");
	ERR("a = [1 2]\n", "1:8", "expected ',' or ']' in an array, found '2'");
	ERR("a = [1,,2]\n", "1:8", "expected a value, found ','");
	ERR("a = [,]\n", "1:6", "expected a value, found ','");
	ERR("a = {b = 1\n", "1:5", "unterminated inline table");
	ERR("a = {b = 1,\nc = 2}\n", "1:5", "unterminated inline table");
	ERR("a = {\n}\n", "1:5", "unterminated inline table");
	ERR("a = {b = 1, }\n", "1:13", "trailing comma in an inline table");
	ERR("a = {b = 1 c = 2}\n", "1:12", "expected ',' or '}' in an inline table, found 'c'");
	ERR("a = {, b = 1}\n", "1:6", "expected a key, found ','");
	ERR("x = 1\n\n  \x01 = 2\n", "3:3", "expected a key, found U+0001");
	char deep[400] = "a = ";
	memset(deep + 4, '[', 200);
	expect_error(deep, strlen(deep), "1:133", "nested more than 128 deep");
}

int main(void)
{
	test_scalars();
	test_strings();
	test_integers();
	test_floats();
	test_datetimes();
	test_tables_and_keys();
	test_arrays();
	test_inline_tables();
	test_array_tables();
	test_positions();
	test_misc();
	test_redefinitions();
	test_string_errors();
	test_number_errors();
	test_syntax_errors();
	return test_failures ? 1 : 0;
}
