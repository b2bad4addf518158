/* Unit tests of HTTP SQL endpoint profiles: templates, JSON paths,
 * loading overrides from TOML, and each built-in profile's requests and
 * answers: answers copied in shape from each service's published docs,
 * served on loopback and read by remote.c as smg-fetch reads them. */
#include "profile.h"
#include "remote-int.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* ---- answers from the services' docs ------------------------------------ */

/* One exchange: what was asked (request line and body) and how it went. */
struct exchange {
	struct smg_target t;
	struct smg_remote *r;
	struct failure f;
	bool ok;
	char request[4096];	/* the request line, then its body */
	const char *body;
};

/* Serve one HTTP answer on lfd, writing the request it answers to out. */
static _Noreturn void serve_once(int lfd, int out, int status, const char *answer)
{
	int fd = accept(lfd, NULL, NULL);
	if (fd < 0)
		_exit(1);
	struct smg_buf b = SMG_BUF_INIT;
	char chunk[4096], *end = NULL;
	size_t want = 0, head = 0;
	for (;;) {
		if (!end && b.data && (end = strstr(b.data, "\r\n\r\n"))) {
			head = (size_t)(end - b.data) + 4;
			const char *cl = strcasestr(b.data, "\r\nContent-Length:");
			want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		}
		if (end && b.len - head >= want)
			break;
		ssize_t n = read(fd, chunk, sizeof chunk - 1);
		if (n <= 0)
			_exit(1);
		smg_buf_add(&b, chunk, (size_t)n);
		smg_buf_addc(&b, '\0');
		b.len--;
	}
	size_t line = (size_t)(strstr(b.data, "\r\n") - b.data);
	smg_write_all(out, b.data, line, "pipe");
	smg_write_all(out, "\n", 1, "pipe");
	smg_write_all(out, b.data + head, b.len - head, "pipe");
	char top[160];
	int n = snprintf(top, sizeof top, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, strlen(answer));
	smg_write_all(fd, top, (size_t)n, "client");
	smg_write_all(fd, answer, strlen(answer), "client");
	close(fd);
	_exit(0);
}

/*
 * Send the statements sql[0..n) (each with one text parameter "fiona" for
 * its \x01) to the profile's endpoint on loopback, which answers status
 * and answer; read the answer as remote.c does.  No retries.
 */
static void ask(struct exchange *x, const char *profile, const char *const *sql, size_t n,
		int status, const char *answer)
{
	memset(x, 0, sizeof *x);
	int lfd = socket(AF_INET, SOCK_STREAM, 0), pfd[2];
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof a;
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) || pipe(pfd))
		smg_die(1, "cannot listen on loopback: %s", strerror(errno));
	fflush(stdout);	/* the child must not print it again */
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		serve_once(lfd, pfd[1], status, answer);
	}
	close(lfd);
	close(pfd[1]);
	static char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/fixtures", ntohs(a.sin_port));
	char err[300];
	if (smg_profile_load(&x->t.profile, profile, NULL, NULL, err, sizeof err))
		smg_die(1, "%s", err);
	struct smg_http_opts o = SMG_HTTP_OPTS_DEFAULT;
	o.retry.max_retries = 0;
	o.deadline_ms = 10000;
	x->t.type = SMG_TARGET_HTTP;
	x->t.name = (char *)profile;
	x->t.url = url;
	x->t.endpoint = x->t.account = "";
	x->t.database = "chinook.sqlite";
	x->t.token = "tok";
	x->t.http = o;
	x->r = smg_remote_open(&x->t, false);
	struct params ps = {0};
	for (size_t i = 0; i < n; i++) {
		remote_params_reset(&ps);
		if (strchr(sql[i], '\x01'))
			remote_params_add(&ps, 't', "fiona", 5);
		remote_req_add(x->r, sql[i], strlen(sql[i]), &ps);
	}
	remote_params_free(&ps);
	x->ok = remote_send(x->r, &x->f);
	size_t got = 0;
	ssize_t k;
	while (got + 1 < sizeof x->request &&
	       (k = read(pfd[0], x->request + got, sizeof x->request - 1 - got)) > 0)
		got += (size_t)k;
	x->request[got] = '\0';
	char *nl = strchr(x->request, '\n');
	x->body = nl ? nl + 1 : "";
	if (nl)
		*nl = '\0';
	close(pfd[0]);
	waitpid(pid, NULL, 0);
}

/* Statement i's rows as remote.c finds them ("" when it refuses them). */
static const char *rows_of(struct exchange *x, long i)
{
	static char out[512];
	const char *rows;
	size_t len;
	char why[512];
	if (!remote_find_rows(x->r, x->r->resp.body.data, x->r->resp.body.len, i, &rows, &len,
			      why, sizeof why))
		return "";
	snprintf(out, sizeof out, "%.*s", (int)len, rows);
	return out;
}

static const char *const SELECT1[] = {"SELECT * FROM foo WHERE name=\x01"};
#define INSERT "INSERT INTO foo(name) VALUES(\x01)"
static const char *const INSERT1[] = {INSERT};
static const char *const INSERT2[] = {INSERT, INSERT};
static const char *const INSERT3[] = {INSERT, "INSERT INTO nonsense", INSERT};
#define STMTS(a) a, sizeof a / sizeof a[0]

/* An answer from a service's docs and how smg-fetch must take it. */
struct answer_case {
	const char *profile, *what;
	const char *const *sql;
	size_t n;
	int status;
	const char *answer;
	int code;		/* 0: believed, else the exit status */
	const char *words;	/* in the message of a failure */
	const char *rows;	/* statement 1's rows ("": refused; NULL: not read) */
	int truncated;		/* 0 or 1: remote_answer_truncated; -1: not asked */
	const char *line, *body;	/* the request (NULL: not checked) */
};

static const struct answer_case answers[] = {
	/* rqlite.io/docs/api/api (rqlite/rqlite.io content/en/docs/API/api/_index.md) */
	{"rqlite", "a query's values are its rows", STMTS(SELECT1), 200,
	 "{\"results\":[{\"columns\":[\"id\",\"name\",\"age\"],\"types\":[\"integer\",\"text\",\"integer\"],"
	 "\"values\":[[1,\"fiona\",20]],\"time\":0.0150043}],\"time\":0.0220043}",
	 0, NULL, "[[1,\"fiona\",20]]", -1,
	 "POST /fixtures/db/request?transaction HTTP/1.1", "[[\"SELECT * FROM foo WHERE name=?\",\"fiona\"]]"},
	{"rqlite", "a query without values has no rows", STMTS(SELECT1), 200,
	 "{\"results\":[{\"columns\":[\"id\"],\"types\":[\"integer\"],\"time\":0.0001}]}",
	 0, NULL, "[]", -1, NULL, NULL},
	{"rqlite", "a write's result is believed", STMTS(INSERT1), 200,
	 "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1,\"time\":0.00886}],\"time\":0.0152}",
	 0, NULL, NULL, -1, NULL, NULL},
	{"rqlite", "a statement's error, exit 3", STMTS(SELECT1), 200,
	 "{\"results\":[{\"error\":\"no such table: bar\"}],\"time\":2.478862}",
	 SMG_EXIT_NOTFOUND, ": no such table: bar", NULL, -1, NULL, NULL},
	{"rqlite", "a transaction stopped at its error names the statement", STMTS(INSERT3), 200,
	 "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1},"
	 "{\"error\":\"near \\\"nonsense\\\": syntax error\"}]}",
	 SMG_EXIT_DATA, "near \"nonsense\": syntax error (statement 2 of 3)", NULL, -1, NULL, NULL},
	{"rqlite", "results missing without an error are not landed", STMTS(INSERT3), 200,
	 "{\"results\":[{\"last_insert_id\":1,\"rows_affected\":1}]}",
	 SMG_EXIT_DATA, "1 statement result at results for 3", NULL, -1, NULL, NULL},
	/* docs.datasette.io json_api (simonw/datasette docs/json_api.rst) */
	{"datasette", "rows of arrays, not truncated", STMTS(SELECT1), 200,
	 "{\"database\":\"fixtures\",\"rows\":[[1,\"Myoporum laetum :: Myoporum\"]],"
	 "\"truncated\":false,\"columns\":[\"id\",\"value\"],\"query_ms\":1.95}",
	 0, NULL, "[[1,\"Myoporum laetum :: Myoporum\"]]", 0,
	 "GET /fixtures.json?sql=SELECT%20%2A%20FROM%20foo%20WHERE%20name%3D%3Ap1&p1=fiona&_shape=arrays"
	 " HTTP/1.1", ""},
	{"datasette", "a page cut at max_returned_rows is truncated", STMTS(SELECT1), 200,
	 "{\"ok\":true,\"rows\":[[3],[2]],\"truncated\":true}", 0, NULL, "[[3],[2]]", 1, NULL, NULL},
	{"datasette", "no rows", STMTS(SELECT1), 200,
	 "{\"ok\":true,\"rows\":[],\"truncated\":false}", 0, NULL, "[]", 0, NULL, NULL},
	{"datasette", "an error with rows [] is the error", STMTS(SELECT1), 400,
	 "{\"ok\":false,\"database\":\"_memory\",\"rows\":[],\"truncated\":false,\"columns\":[],"
	 "\"error\":\"no such column: blah\",\"status\":400,\"title\":\"Invalid SQL\"}",
	 SMG_EXIT_DATA, "HTTP 400: no such column: blah", NULL, -1, NULL, NULL},
	{"datasette", "an answer without rows is refused, not empty", STMTS(SELECT1), 200,
	 "{\"ok\":true,\"truncated\":false}", 0, NULL, "", -1, NULL, NULL},
	/* docs.sqlitecloud.io/docs/weblite (sqlitecloud/docs
	 * sqlite-cloud/platform/weblite.mdx); bind and error.detail as
	 * sqlitecloud/sqlitecloud-js transport-ws.ts uses them */
	{"sqlite-cloud", "rows are data, objects by column", STMTS(SELECT1), 200,
	 "{\"data\":[{\"AlbumId\":1,\"Title\":\"For Those About To Rock We Salute You\"}],"
	 "\"metadata\":{\"database\":\"chinook.sqlite\",\"numberOfRows\":1,\"numberOfColumns\":2}}",
	 0, NULL, "[{\"AlbumId\":1,\"Title\":\"For Those About To Rock We Salute You\"}]", -1,
	 "POST /fixtures/v2/weblite/sql HTTP/1.1",
	 "{\"sql\":\"SELECT * FROM foo WHERE name=?\",\"bind\":[\"fiona\"],\"database\":\"chinook.sqlite\"}"},
	{"sqlite-cloud", "no rows", STMTS(SELECT1), 200,
	 "{\"data\":[],\"metadata\":{\"numberOfRows\":0}}", 0, NULL, "[]", -1, NULL, NULL},
	{"sqlite-cloud", "error.detail, exit 3", STMTS(SELECT1), 400,
	 "{\"error\":{\"status\":400,\"title\":\"Bad Request\",\"detail\":\"no such table: foo\"}}",
	 SMG_EXIT_NOTFOUND, ": no such table: foo", NULL, -1, NULL, NULL},
	{"sqlite-cloud", "an answer without data is refused, not empty", STMTS(SELECT1), 200,
	 "{\"metadata\":{\"numberOfRows\":0}}", 0, NULL, "", -1, NULL, NULL},
	/* tursodatabase/libsql docs/HRANA_3_SPEC.md ("Hrana over HTTP",
	 * "Batch results"): a batch of BEGIN, the statement, COMMIT, ROLLBACK
	 * (the last skipped) */
	{"turso", "step 1's rows", STMTS(SELECT1), 200,
	 "{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":\"ok\",\"response\":{\"type\":\"batch\","
	 "\"result\":{\"step_results\":[{\"cols\":[],\"rows\":[],\"affected_row_count\":0,"
	 "\"last_insert_rowid\":null},{\"cols\":[{\"name\":\"id\",\"decltype\":\"INTEGER\"}],"
	 "\"rows\":[[{\"type\":\"integer\",\"value\":\"1\"}]],\"affected_row_count\":0,"
	 "\"last_insert_rowid\":null},{\"cols\":[],\"rows\":[],\"affected_row_count\":0,"
	 "\"last_insert_rowid\":null},null],\"step_errors\":[null,null,null,null]}}},"
	 "{\"type\":\"ok\",\"response\":{\"type\":\"close\"}}]}",
	 0, NULL, "[[{\"type\":\"integer\",\"value\":\"1\"}]]", -1, NULL, NULL},
	{"turso", "a step's error, exit 3", STMTS(SELECT1), 200,
	 "{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":\"ok\",\"response\":{\"type\":\"batch\","
	 "\"result\":{\"step_results\":[{\"cols\":[],\"rows\":[],\"affected_row_count\":0,"
	 "\"last_insert_rowid\":null},null,null,{\"cols\":[],\"rows\":[],\"affected_row_count\":0,"
	 "\"last_insert_rowid\":null}],\"step_errors\":[null,{\"message\":\"SQLite error: no such "
	 "table: foo\",\"code\":\"SQLITE_UNKNOWN\"},null,null]}}},{\"type\":\"ok\",\"response\":"
	 "{\"type\":\"close\"}}]}",
	 SMG_EXIT_NOTFOUND, "SQLite error: no such table: foo", NULL, -1, NULL, NULL},
	{"turso", "a stream's error", STMTS(INSERT1), 200,
	 "{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":\"error\",\"error\":{\"message\":"
	 "\"Stream expired\",\"code\":\"STREAM_EXPIRED\"}},{\"type\":\"error\",\"error\":{\"message\":"
	 "\"Stream expired\",\"code\":\"STREAM_EXPIRED\"}}]}",
	 SMG_EXIT_DATA, ": Stream expired", NULL, -1, NULL, NULL},
	{"turso", "a step result missing is not landed", STMTS(INSERT1), 200,
	 "{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":\"ok\",\"response\":{\"type\":\"batch\","
	 "\"result\":{\"step_results\":[{\"cols\":[],\"rows\":[],\"affected_row_count\":0,"
	 "\"last_insert_rowid\":null}],\"step_errors\":[null]}}},{\"type\":\"ok\",\"response\":"
	 "{\"type\":\"close\"}}]}",
	 SMG_EXIT_DATA, "step_results.2.rows is absent, not an array", NULL, -1, NULL, NULL},
	/* every step answered, but the COMMIT's result null with no error:
	 * not landed */
	{"turso", "a batch whose COMMIT did not run is not landed", STMTS(INSERT1), 200,
	 "{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":\"ok\",\"response\":{\"type\":\"batch\","
	 "\"result\":{\"step_results\":[{\"cols\":[],\"rows\":[]},{\"cols\":[],\"rows\":[]},null,"
	 "{\"cols\":[],\"rows\":[]}],\"step_errors\":[null,null,null,null]}}}]}",
	 SMG_EXIT_DATA, "step_results.2.rows is absent, not an array", NULL, -1, NULL, NULL},
	{"turso", "a COMMIT's error is the batch's", STMTS(INSERT1), 200,
	 "{\"baton\":null,\"base_url\":null,\"results\":[{\"type\":\"ok\",\"response\":{\"type\":\"batch\","
	 "\"result\":{\"step_results\":[{\"cols\":[],\"rows\":[]},{\"cols\":[],\"rows\":[]},null,"
	 "{\"cols\":[],\"rows\":[]}],\"step_errors\":[null,null,{\"message\":\"FOREIGN KEY constraint "
	 "failed\"},null]}}}]}",
	 SMG_EXIT_DATA, ": FOREIGN KEY constraint failed", NULL, -1, NULL, NULL},
	/* outerbase/starbasedb src/handler.ts, src/utils.ts, src/do.ts */
	{"starbasedb", "result.{i}.rows", STMTS(SELECT1), 200,
	 "{\"result\":[{\"columns\":[\"id\",\"name\"],\"rows\":[[1,\"fiona\"]],"
	 "\"meta\":{\"rows_read\":1,\"rows_written\":0}}]}",
	 0, NULL, "[[1,\"fiona\"]]", -1, "POST /fixtures/query/raw HTTP/1.1",
	 "{\"transaction\":[{\"sql\":\"SELECT * FROM foo WHERE name=?\",\"params\":[\"fiona\"]}]}"},
	{"starbasedb", "no rows", STMTS(SELECT1), 200,
	 "{\"result\":[{\"columns\":[],\"rows\":[],\"meta\":{\"rows_read\":0,\"rows_written\":0}}]}",
	 0, NULL, "[]", -1, NULL, NULL},
	/* StarbaseDB answers every error, SQL ones too, with HTTP 500: its
	 * own words at the profile's error path make the answer final, not
	 * retried, and an SQL error is exit 7 (3 for a missing table) */
	{"starbasedb", "an SQL error under HTTP 500, exit 7", STMTS(INSERT1), 500,
	 "{\"error\":\"near \\\"INSERTT\\\": syntax error: SQLITE_ERROR\"}",
	 SMG_EXIT_DATA, "HTTP 500: near \"INSERTT\": syntax error: SQLITE_ERROR", NULL, -1, NULL, NULL},
	{"starbasedb", "a missing table under HTTP 500, exit 3", STMTS(INSERT1), 500,
	 "{\"error\":\"no such table: foo: SQLITE_ERROR\"}",
	 SMG_EXIT_NOTFOUND, ": no such table: foo: SQLITE_ERROR", NULL, -1, NULL, NULL},
	{"starbasedb", "a 500 without its words is the network's: exit 4", STMTS(INSERT1), 500,
	 "<html>Internal Server Error</html>", SMG_EXIT_NETWORK, "HTTP status 500", NULL, -1, NULL, NULL},
	{"starbasedb", "a result missing is not landed", STMTS(INSERT2), 200,
	 "{\"result\":[{\"columns\":[],\"rows\":[],\"meta\":{\"rows_read\":0,\"rows_written\":1}}]}",
	 SMG_EXIT_DATA, "1 statement result at result for 2", NULL, -1, NULL, NULL},
};

static void test_answers(void)
{
	for (size_t k = 0; k < sizeof answers / sizeof answers[0]; k++) {
		const struct answer_case *c = &answers[k];
		struct exchange x;
		ask(&x, c->profile, c->sql, c->n, c->status, c->answer);
		bool good = c->code ? !x.ok && x.f.code == c->code && strstr(x.f.msg, c->words) : x.ok;
		CHECK(good, "%s: %s: exit %d: %s", c->profile, c->what, x.ok ? 0 : x.f.code, x.f.msg);
		if (c->rows) {
			const char *rows = rows_of(&x, 0);
			CHECK(!strcmp(rows, c->rows), "%s: %s: rows %s", c->profile, c->what, rows);
		}
		if (c->truncated >= 0)
			CHECK(remote_answer_truncated(x.r) == (c->truncated == 1), "%s: %s: truncated is %s",
			      c->profile, c->what, c->truncated ? "true" : "false");
		if (c->line)
			CHECK(!strcmp(x.request, c->line) && !strcmp(x.body, c->body),
			      "%s: the request: %s %s", c->profile, x.request, x.body);
		smg_remote_close(x.r);
	}
}

/* Hrana values (tursodatabase/libsql docs/HRANA_3_SPEC.md, "Values") as
 * the turso profile reads them: exact, or an error, never a guess. */
static void test_hrana_values(void)
{
	struct smg_http_profile p;
	char err[300];
	CHECK(smg_profile_load(&p, "turso", NULL, NULL, err, sizeof err) == 0, "turso loads");
	struct {
		const char *cell;
		int type;	/* -1: refused */
		const char *text;	/* %lld, %.17g or the bytes */
		size_t n;
	} cases[] = {
		{"{\"type\":\"null\"}", SMG_NULL, "", 0},
		{"{\"type\":\"integer\",\"value\":\"-9223372036854775808\"}", SMG_INT, "-9223372036854775808", 0},
		{"{\"type\":\"integer\",\"value\":\"9007199254740993\"}", SMG_INT, "9007199254740993", 0},
		{"{\"value\":\"9223372036854775807\",\"type\":\"integer\"}", SMG_INT, "9223372036854775807", 0},
		{"{\"type\":\"integer\",\"value\":\"9223372036854775808\"}", -1, NULL, 0},
		{"{\"type\":\"integer\",\"value\":42}", -1, NULL, 0},
		{"{\"type\":\"integer\",\"value\":\"4x\"}", -1, NULL, 0},
		{"{\"type\":\"float\",\"value\":-0.0}", SMG_REAL, "-0", 0},
		{"{\"type\":\"float\",\"value\":5e-324}", SMG_REAL, "4.9406564584124654e-324", 0},
		{"{\"type\":\"float\",\"value\":1.7976931348623157e308}", SMG_REAL, "1.7976931348623157e+308", 0},
		{"{\"type\":\"float\",\"value\":null}", -1, NULL, 0},
		{"{\"type\":\"float\",\"value\":\"1.5\"}", -1, NULL, 0},
		{"{\"type\":\"text\",\"value\":\"a\\u0000b \\u00e9\\\"\"}", SMG_TEXT, "a\0b \xc3\xa9\"", 7},
		{"{\"type\":\"text\",\"value\":5}", -1, NULL, 0},
		{"{\"type\":\"blob\",\"base64\":\"YgD/\"}", SMG_BLOB, "\0\xff", 2},
		{"{\"type\":\"blob\",\"base64\":\"Yg==\"}", SMG_BLOB, "", 0},
		{"{\"type\":\"blob\",\"base64\":\"dP9h\"}", SMG_TEXT, "\xff" "a", 2},
		{"{\"type\":\"blob\",\"base64\":\"cis=\"}", SMG_REAL, "inf", 0},
		{"{\"type\":\"blob\",\"base64\":\"ci0=\"}", SMG_REAL, "-inf", 0},
		{"{\"type\":\"blob\",\"base64\":\"eHl6\"}", -1, NULL, 0},
		{"{\"type\":\"blob\",\"base64\":\"\"}", -1, NULL, 0},
		{"{\"type\":\"blob\",\"base64\":\"Y!==\"}", -1, NULL, 0},
		{"{\"type\":\"real\",\"value\":1}", -1, NULL, 0},
		{"\"i5\"", -1, NULL, 0},
	};
	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct smg_buf scratch = SMG_BUF_INIT, cell = SMG_BUF_INIT;
		struct smg_value v;
		smg_buf_adds(&cell, cases[k].cell);
		const char *e = remote_decode_cell(&p, cell.data, cell.len, &v, &scratch);
		char got[64] = "";
		bool good;
		if (cases[k].type < 0) {
			good = e != NULL;
		} else if (e || (int)v.type != cases[k].type) {
			good = false;
		} else if (v.type == SMG_INT) {
			snprintf(got, sizeof got, "%lld", (long long)v.i);
			good = !strcmp(got, cases[k].text);
		} else if (v.type == SMG_REAL) {
			snprintf(got, sizeof got, "%.17g", v.r);
			good = !strcmp(got, cases[k].text);
		} else {
			good = v.n == cases[k].n && (v.n == 0 || !memcmp(v.p, cases[k].text, v.n));
		}
		CHECK(good, "Hrana value %s: %s %s", cases[k].cell, e ? e : "read", got);
		smg_buf_free(&scratch);
		smg_buf_free(&cell);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_templates();
	test_paths();
	test_parsed_paths();
	test_load();
	test_answers();
	test_hrana_values();
	return test_failures != 0;
}
