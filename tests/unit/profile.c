/* Unit tests of HTTP SQL endpoint profiles: templates, JSON paths,
 * loading overrides from TOML. */
#include "profile.h"
#include "test.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

static char *expand(const char *tmpl, long i, long n)
{
	struct smg_tvar vars[] = {
		{"sql", "\"SELECT 1\"", 10, false},
		{"params", "1,2", 3, false},
		{",params", ",1,2", 4, false},
		{"token", "a b/c", 5, true},
		{"", "42", 2, false},
	};
	struct smg_buf b = SMG_BUF_INIT;
	smg_template_expand(&b, tmpl, vars, 5, i, n);
	smg_buf_addc(&b, '\0');
	return smg_buf_detach(&b);
}

static void test_templates(void)
{
	char *s = expand("{\"sql\":{sql},\"params\":[{params}]}", 0, 0);
	CHECK(!strcmp(s, "{\"sql\":\"SELECT 1\",\"params\":[1,2]}"), "JSON braces are copied, placeholders filled: %s", s);
	free(s);
	s = expand("[{sql}{,params}]", 0, 0);
	CHECK(!strcmp(s, "[\"SELECT 1\",1,2]"), "{,params} puts a comma before each: %s", s);
	free(s);
	s = expand("step {i} {i+1} of {n} {n+2}", 3, 7);
	CHECK(!strcmp(s, "step 3 4 of 7 9"), "{i} {i+K} {n} {n+K}: %s", s);
	free(s);
	s = expand("{\"type\":\"float\",\"value\":{}}", 0, 0);
	CHECK(!strcmp(s, "{\"type\":\"float\",\"value\":42}"), "{} is the value: %s", s);
	free(s);
	s = expand("/t?k={token}&x={unknown}{", 0, 0);
	CHECK(!strcmp(s, "/t?k=a%20b%2Fc&x={unknown}{"), "url-encoded var, unknown and open braces kept: %s", s);
	free(s);
	CHECK(smg_template_has("Bearer {token}", "token"), "smg_template_has finds {token}");
	CHECK(!smg_template_has("Bearer {tokens}", "token"), "... and not {tokens}");
}

static void test_paths(void)
{
	const char *j = "{ \"result\" : [ {\"results\":{\"rows\":[[1,\"a\"]]}},"
			" {\"results\":{\"rows\":[[2,\"b\\\"]\"],[3,null]]}} ],"
			" \"errors\":[], \"we\\\"ird\":true, \"x\":{\"type\":\"text\",\"value\":\"v\"} }";
	const char *v;
	size_t n;
	CHECK(smg_jpath(j, strlen(j), "result.{i}.results.rows", 1, &v, &n) &&
	      n == strlen("[[2,\"b\\\"]\"],[3,null]]") && !strncmp(v, "[[2,\"b\\\"]\"],[3,null]]", n),
	      "path with {i} and an index: %.*s", (int)n, v);
	CHECK(!smg_jpath(j, strlen(j), "result.2.results", 0, &v, &n), "an index past the end is absent");
	CHECK(!smg_jpath(j, strlen(j), "errors.0.message", 0, &v, &n), "a member of an empty array is absent");
	CHECK(smg_jpath(j, strlen(j), "we\"ird", 0, &v, &n) && n == 4, "an escaped key matches");
	CHECK(smg_jpath(j, strlen(j), "", 0, &v, &n) && n == strlen(j), "the empty path is the whole answer");
	CHECK(smg_jmember("{\"type\":\"text\",\"value\":\"v\"}", 27, "value", &v, &n) && n == 3,
	      "smg_jmember finds a cell's value");
	CHECK(smg_jmember("{\"a\":1,\"a\":22}", 14, "a", &v, &n) && n == 2,
	      "a repeated member is the last one, as json-c reads it");
	CHECK(!smg_jmember("{\"a\":1,\"b\":2", 13, "a", &v, &n), "an object cut short is not read");
	struct smg_jiter it;
	const char *e;
	size_t elen, count = 0;
	const char *arr = "[ [1], {\"a\":[2]} ,\"]\" ]";
	CHECK(smg_jarray(&it, arr, strlen(arr)), "an array opens");
	while (smg_jnext(&it, &e, &elen))
		count++;
	CHECK(count == 3 && !it.bad, "three elements, brackets in strings ignored");
	CHECK(smg_jarray(&it, "[1,,2]", 6) && smg_jnext(&it, &e, &elen) && !smg_jnext(&it, &e, &elen) &&
	      it.bad, "a malformed array is reported");
	CHECK(!smg_jarray(&it, "{}", 2), "an object is not an array");
}

/* Paths in a parsed answer (json-c), as remote.c checks answers with. */
static void test_parsed_paths(void)
{
	struct json_object *j = json_tokener_parse(
		"{\"result\":[{\"results\":{\"rows\":[[1]]},\"success\":true},{\"results\":null}],"
		"\"success\":true,\"errors\":[{\"code\":7500}]}");
	struct json_object *v;
	CHECK(smg_jc_path(j, "result.{i}.results.rows", 0, &v) && json_object_array_length(v) == 1,
	      "{i} picks statement 0's rows");
	CHECK(smg_jc_path(j, "result.1.results", 0, &v) && v == NULL, "a null is present, as NULL");
	CHECK(!smg_jc_path(j, "result.{i}.results.rows", 1, &v) && v == NULL,
	      "a member of a null is absent");
	CHECK(!smg_jc_path(j, "result.2", 0, &v), "an index past the end is absent");
	CHECK(!smg_jc_path(j, "result.x", 0, &v), "a name in an array is absent");
	CHECK(smg_jc_path(j, "errors.0.code", 0, &v) && json_object_get_int(v) == 7500, "a code");
	CHECK(smg_jc_path(j, "", 0, &v) && v == j, "the empty path is the whole answer");
	json_object_put(j);
}

static void test_load(void)
{
	struct smg_http_profile p;
	char err[300];
	CHECK(smg_profile_load(&p, "d1", NULL, NULL, err, sizeof err) == 0 && p.max_params == 100 &&
	      p.max_statement_bytes == 100000 && p.atomic, "d1: 100 parameters, 100,000 bytes, atomic");
	CHECK(smg_profile_load(&p, "nosuch", NULL, NULL, err, sizeof err) == 2 &&
	      strstr(err, "unknown profile"), "an unknown profile is a usage error: %s", err);
	for (size_t i = 0; smg_profile_builtins[i]; i++)
		CHECK(smg_profile_load(&p, smg_profile_builtins[i], NULL, NULL, err, sizeof err) == 0 &&
		      p.url && p.rows && p.body && p.statement, "built-in %s loads with no NULL field",
		      smg_profile_builtins[i]);
	CHECK(smg_profile_load(&p, "datasette", NULL, NULL, err, sizeof err) == 0 && p.read_only &&
	      p.max_statements == 1, "datasette is read-only, one statement per request");
	const char *toml = "[target.profile_options]\n"
			   "rows = \"data.{i}\"\nmax_params = 7\natomic = false\n"
			   "headers = [\"X-Key: {token}\"]\nbogus = 1\n";
	char terr[200];
	struct smg_toml *doc = smg_toml_parse(toml, strlen(toml), "t.toml", terr, sizeof terr);
	const struct smg_toml_node *opt = smg_toml_get(smg_toml_root(doc), "target.profile_options");
	CHECK(smg_profile_load(&p, "turso", opt, "t.toml", err, sizeof err) == 0 &&
	      !strcmp(p.rows, "data.{i}") && p.max_params == 7 && !p.atomic &&
	      !strcmp(p.headers[0], "X-Key: {token}") && !p.headers[1] && !strcmp(p.cell, "value"),
	      "options override the built-in profile, the rest stays");
	smg_toml_free(doc);
	toml = "[target.profile_options]\nmethod = \"PUT\"\n";
	doc = smg_toml_parse(toml, strlen(toml), "t.toml", terr, sizeof terr);
	opt = smg_toml_get(smg_toml_root(doc), "target.profile_options");
	CHECK(smg_profile_load(&p, NULL, opt, "t.toml", err, sizeof err) == 2 && strstr(err, "POST or GET"),
	      "a method other than POST or GET is refused: %s", err);
	smg_toml_free(doc);
}

int main(void)
{
	test_templates();
	test_paths();
	test_parsed_paths();
	test_load();
	return test_failures != 0;
}
