# tests/t/d1-server.sh - the local D1 test server itself (scripts/d1-server,
# tests/d1/worker.js on miniflare/workerd), checked with curl, and the value
# fidelity facts that tests/d1/FIDELITY.md states.
. ./lib.sh

top=${SMG_TOP:?SMG_TOP is set by tests/run}
d1s=$top/scripts/d1-server

need_tools "the D1 test server tests" node npm curl sqlite3 sqldiff

D=$T/d1
cleanup_hook() { [ -f "$D/pid" ] && "$d1s" stop "$D" >/dev/null 2>&1; :; }

if ! "$d1s" start "$D" >"$T/url" 2>"$T/start.err"; then
	fail "scripts/d1-server start"
	sed 's/^/    /' "$T/start.err" | tail -30
	exit 0
fi
ok "scripts/d1-server start"
. "$D/env"
check_eq "start prints the base URL" "$(cat "$T/url")" "$D1_URL"
check "DIR/pid names a live process" kill -0 "$(cat "$D/pid")"
check "the D1 database file exists (D1_SQLITE)" test -f "$D1_SQLITE"

# q ENDPOINT JSON: POST to the D1 REST API with the token; body in $T/body,
# HTTP status in $T/status, headers in $T/headers.
q() {
	curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' \
		-H "Authorization: Bearer $D1_TOKEN" -H 'Content-Type: application/json' \
		--data-binary "$2" "$D1_API/accounts/$D1_ACCOUNT_ID/d1/database/$D1_DATABASE_ID/$1" >"$T/status"
}
status() { cat "$T/status"; }
body_has() { check_grep "$1" "$2" "$T/body"; }
# body_has_str WHAT STRING: the body contains STRING, taken literally.
body_has_str() {
	if grep -qF -e "$2" "$T/body"; then ok "$1"
	else fail "$1 (no '$2' in the body)"; head -c 600 "$T/body" | sed 's/^/    /'; echo; fi
}
ok_env='^{"result":\[.*\],"success":true,"errors":\[\],"messages":\[\]}$'

# --- the query endpoint -------------------------------------------------------
q query '{"sql":"CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)"}'
check_eq "CREATE TABLE answers 200" "$(status)" 200
body_has "answer is Cloudflare's success envelope" "$ok_env"
body_has "each result has results, success and meta" '"results":\[\],"success":true,"meta":{'

q query '{"sql":"INSERT INTO items VALUES (?, ?, ?)","params":[1,"bolt",7]}'
check_eq "INSERT with params answers 200" "$(status)" 200
body_has "meta reports one change" '"changes":1,'

q query '{"sql":"SELECT * FROM items WHERE id = ?","params":[1]}'
body_has "SELECT returns the row as an object" '"results":\[{"id":1,"name":"bolt","qty":7}\]'

q raw '{"sql":"SELECT id, name FROM items"}'
check_eq "raw endpoint answers 200" "$(status)" 200
body_has "raw returns columns and rows" '"results":{"columns":\["id","name"\],"rows":\[\[1,"bolt"\]\]}'
q raw '{"sql":"SELECT id, name FROM items WHERE 0"}'
body_has "raw gives column names for zero rows" '"results":{"columns":\["id","name"\],"rows":\[\]}'

q query '{"sql":"INSERT INTO items VALUES (2, '"'a;b'"', 1); SELECT count(*) AS n FROM items"}'
body_has "two statements in one sql give two results" '"result":\[{"results":\[\],.*},{"results":\[{"n":2}\]'
q query '{"sql":"SELECT 1 AS a; SELECT ? AS b","params":[5]}'
body_has "params bind to the last of several statements" '{"results":\[{"b":5}\]'

# --- the batch form -----------------------------------------------------------
q query '{"batch":[{"sql":"INSERT INTO items VALUES (?, ?, ?)","params":[3,"nut",2]},{"sql":"SELECT name FROM items WHERE id = ?","params":[3]}]}'
check_eq "batch form answers 200" "$(status)" 200
body_has "batch gives one result per query" '"result":\[{"results":\[\],.*},{"results":\[{"name":"nut"}\]'
q query '{"batch":[{"sql":"INSERT INTO items VALUES (4, ?, 1)","params":["washer"]},{"sql":"SELECT * FROM no_such_table"}]}'
check_eq "failing batch answers 400" "$(status)" 400
q query '{"sql":"SELECT count(*) AS n FROM items WHERE id = 4"}'
body_has "a failing batch is rolled back whole" '"results":\[{"n":0}\]'

# --- errors -------------------------------------------------------------------
q query '{"sql":"SELEC 1"}'
check_eq "SQL error answers 400" "$(status)" 400
body_has "SQL error in Cloudflare's error shape (code 7500)" '^{"result":null,"success":false,"errors":\[{"code":7500,"message":"near \\"SELEC\\": syntax error at offset 0: SQLITE_ERROR"}\],"messages":\[\]}$'

code=$(curl -sS -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary '{"sql":"SELECT 1"}' "$D1_QUERY_URL")
check_eq "no token answers 401" "$code" 401
body_has "401 body is Authentication error, code 10000" '"errors":\[{"code":10000,"message":"Authentication error"}\]'
code=$(curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer wrong-$D1_TOKEN" \
	--data-binary '{"sql":"SELECT 1"}' "$D1_QUERY_URL")
check_eq "wrong token answers 401" "$code" 401
code=$(curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $D1_TOKEN" \
	--data-binary '{"sql":"SELECT 1"}' "$D1_API/accounts/$D1_ACCOUNT_ID/d1/database/not-this-one/query")
check_eq "unknown database id answers 404" "$code" 404
body_has "unknown database: code 7404" '"code":7404'
code=$(curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $D1_TOKEN" \
	--data-binary '{"sql":"SELECT 1"}' "$D1_API/accounts/not-this-one/d1/database/$D1_DATABASE_ID/query")
check_eq "unknown account id answers 404" "$code" 404

# 100 bound parameters per statement: 100 pass, 101 fail.
p100=$(i=0; while [ $i -lt 99 ]; do printf '?,'; i=$((i + 1)); done; printf '?')
v100=$(i=0; while [ $i -lt 99 ]; do printf '1,'; i=$((i + 1)); done; printf '1')
q query "{\"sql\":\"SELECT $p100\",\"params\":[$v100]}"
check_eq "100 bound parameters pass" "$(status)" 200
q query "{\"sql\":\"SELECT $p100,?\",\"params\":[$v100,1]}"
check_eq "101 bound parameters answer 400" "$(status)" 400
body_has "101 parameters: too many SQL variables" '"code":7500,"message":"too many SQL variables'

# At most 100 columns in a result (and in a table).
c100=$(i=1; while [ $i -lt 100 ]; do printf '%s,' $i; i=$((i + 1)); done; printf '100')
q query "{\"sql\":\"SELECT $c100\"}"
check_eq "100 result columns pass" "$(status)" 200
q query "{\"sql\":\"SELECT $c100,101\"}"
check_eq "101 result columns answer 400" "$(status)" 400
body_has "101 result columns: too many columns in result set" '"message":"too many columns in result set'

# 100,000 bytes per statement: SELECT '<x...>' AS s is 14 bytes plus the x's.
xs() { head -c "$1" /dev/zero | tr '\0' x; }
q query "{\"sql\":\"SELECT '$(xs 99986)' AS s\"}"
check_eq "a 100,000-byte statement passes" "$(status)" 200
q query "{\"sql\":\"SELECT '$(xs 99987)' AS s\"}"
check_eq "a 100,001-byte statement answers 400" "$(status)" 400
body_has "too long: statement too long: SQLITE_TOOBIG" '"message":"statement too long: SQLITE_TOOBIG"'

q query '{"sql":"BEGIN"}'
check_eq "BEGIN is refused, as in D1" "$(status)" 400

# --- injected failures --------------------------------------------------------
check "POST /__test/fail 429" curl -sSf -d '{"status":429,"count":2,"retry_after":3}' "$D1_URL/__test/fail"
q query '{"sql":"SELECT 1"}'
check_eq "injected 429 (1st)" "$(status)" 429
check_grep "429 carries Retry-After" '^[Rr]etry-[Aa]fter: 3' "$T/headers"
body_has "429 body in Cloudflare's error shape" '^{"result":null,"success":false,"errors":\[{"code":971,'
q query '{"sql":"SELECT 1"}'
check_eq "injected 429 (2nd)" "$(status)" 429
q query '{"sql":"SELECT 1"}'
check_eq "after the injected count, 200 again" "$(status)" 200

curl -sSf -d '{"status":500}' "$D1_URL/__test/fail" >/dev/null
q query '{"sql":"SELECT 1"}'
check_eq "injected 500" "$(status)" 500
body_has "500 body in Cloudflare's error shape" '"success":false,"errors":\[{"code":7500,'
check_nogrep "500 without retry_after has no Retry-After" '^[Rr]etry-[Aa]fter' "$T/headers"
curl -sSf -d '{"status":503,"count":1,"retry_after":1}' "$D1_URL/__test/fail" >/dev/null
q query '{"sql":"SELECT 1"}'
check_eq "injected 503" "$(status)" 503
curl -sSf -d '{"status":401}' "$D1_URL/__test/fail" >/dev/null
q query '{"sql":"SELECT 1"}'
check_eq "injected 401 even with a good token" "$(status)" 401
body_has "injected 401: code 10000" '"code":10000,"message":"Authentication error"'

# --- stats --------------------------------------------------------------------
check "POST /__test/reset" curl -sSf -X POST "$D1_URL/__test/reset"
q query '{"sql":"SELECT 1"}'
q query '{"sql":"SELECT 1; SELECT 2"}'
q raw '{"batch":[{"sql":"SELECT ?","params":[1]},{"sql":"SELECT ?, ?","params":[1,2]}]}'
curl -sS -o /dev/null --data-binary '{"sql":"SELECT 1"}' "$D1_QUERY_URL"
curl -sS "$D1_URL/__test/stats" >"$T/stats"
check_grep "stats count requests" '"requests":4,' "$T/stats"
check_grep "stats count statements as queries" '"queries":5,' "$T/stats"
check_grep "stats count answers by status" '"status":{"200":3,"401":1}' "$T/stats"
check_grep "stats keep the most parameters in a statement" '"max_params":2,' "$T/stats"
check_grep "stats count batch requests" '"batch_requests":1,' "$T/stats"
curl -sS "$D1_URL/__test/requests" >"$T/requests"
check_grep "request log has per-statement parameter counts" '"statements":2,"params":\[1,2\]' "$T/requests"
curl -sS -d '{"sql":"SELECT count(*) AS n FROM items"}' "$D1_URL/__test/sql" >"$T/body"
body_has "/__test/sql runs SQL without a token" '"results":\[{"n":3}\]'
curl -sS "$D1_URL/__test/stats" >"$T/stats"
check_grep "/__test/sql is not counted" '"requests":4,' "$T/stats"

# --- the database file while the server runs ----------------------------------
check_eq "sqlite3 sees committed rows in D1_SQLITE while the server runs" \
	"$(sqlite3 "$D1_SQLITE" 'SELECT group_concat(name) FROM (SELECT name FROM items ORDER BY id)')" "bolt,a;b,nut"

# --- value fidelity (tests/d1/FIDELITY.md) ------------------------------------
# The same values, written locally with SQL literals and to D1 through params
# with the SQL FIDELITY.md recommends, must compare equal (sqldiff, typeof).
sqlite3 "$T/local.db" "CREATE TABLE f(k INTEGER PRIMARY KEY, c);
INSERT INTO f VALUES (1, 9223372036854775807), (2, -9223372036854775808),
 (3, 9007199254740993), (4, 0), (5, 1.0), (6, 0.1), (7, 1e308), (8, -0.0),
 (9, 'h'||char(233)||'llo '||char(9731)||' '||char(128512)), (10, CAST(x'610062' AS TEXT)), (11, ''), (12, x''),
 (13, x'00ff80'), (14, NULL), (15, 9e999), (16, -9e999), (17, '0'),
 (18, CAST(x'ff61' AS TEXT)), (19, 5e-324), (20, -2.815550462300322e-300),
 (21, 1.7976931348623157e308), (22, 123456789.12345679)"
q query '{"sql":"CREATE TABLE f(k INTEGER PRIMARY KEY, c)"}'
q query '{"batch":[
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS INTEGER))","params":[1,"9223372036854775807"]},
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS INTEGER))","params":[2,"-9223372036854775808"]},
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS INTEGER))","params":[3,"9007199254740993"]},
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS INTEGER))","params":[4,"0"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[5,1.0]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[6,0.10000000000000001]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[7,1e308]},
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS REAL))","params":[8,"-0.0"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[9,"h\u00e9llo \u2603 \ud83d\ude00"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[10,"a\u0000b"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[11,""]},
 {"sql":"INSERT INTO f VALUES (?, unhex(?))","params":[12,""]},
 {"sql":"INSERT INTO f VALUES (?, unhex(?))","params":[13,"00FF80"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[14,null]},
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS REAL))","params":[15,"9e999"]},
 {"sql":"INSERT INTO f VALUES (?, CAST(? AS REAL))","params":[16,"-9e999"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[17,"0"]},
 {"sql":"INSERT INTO f VALUES (?, CAST(unhex(?) AS TEXT))","params":[18,"FF61"]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[19,4.9406564584124654e-324]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[20,-2.815550462300322e-300]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[21,1.7976931348623157e308]},
 {"sql":"INSERT INTO f VALUES (?, ?)","params":[22,123456789.12345679]}]}'
check_eq "fidelity: every type written through params" "$(status)" 200
check_same_table "fidelity: sqldiff finds D1 = local for every value" "$T/local.db" "$D1_SQLITE" f
typed_dump "$T/local.db" f >"$T/local.typed"
typed_dump "$D1_SQLITE" f >"$T/d1.typed"
check "fidelity: typeof() and quote() agree for every value" cmp "$T/local.typed" "$T/d1.typed"
check_eq "fidelity: -0.0 keeps its sign through CAST(? AS REAL)" \
	"$(sqlite3 "$D1_SQLITE" 'SELECT atan2(c, -1.0) < 0 FROM f WHERE k = 8')" 1

# What plain SELECT gives (the losses FIDELITY.md lists).
q raw '{"sql":"SELECT c FROM f ORDER BY k"}'
body_has_str "plain: int64 extremes and 2^53+1 come back as rounded JSON numbers, 1.0 as 1" \
	'"rows":[[9223372036854776000],[-9223372036854776000],[9007199254740992],[0],[1],[0.1],[1e+308],'
body_has_str "plain: -0.0 as 0, NUL kept, BLOB as byte array, Inf as null, bad UTF-8 replaced" \
	"[0],[\"héllo ☃ 😀\"],[\"a\\u0000b\"],[\"\"],[[]],[[0,255,128]],[null],[null],[null],[\"0\"],[\"$(printf '\357\277\275')a\"]"

# The lossless read FIDELITY.md recommends: one result column per column
# (D1 answers at most 100 result columns), tagged so that the JSON type tells
# the SQLite type: number = real, null = NULL, "i..." integer, "t<hex>" text,
# "b<hex>" blob, "r..." the reals JSON cannot carry.
enc="CASE typeof(c) WHEN 'integer' THEN 'i' || c WHEN 'real' THEN CASE WHEN c = 9e999 THEN 'rInf' WHEN c = -9e999 THEN 'r-Inf' WHEN c = 0 AND atan2(c, -1.0) < 0 THEN 'r-0.0' ELSE c END WHEN 'text' THEN 't' || hex(c) WHEN 'blob' THEN 'b' || hex(c) END"
q raw "{\"sql\":\"SELECT k, $enc AS c FROM f ORDER BY k\"}"
check_eq "lossless read answers 200" "$(status)" 200
for want in '[1,"i9223372036854775807"]' '[2,"i-9223372036854775808"]' \
	'[3,"i9007199254740993"]' '[4,"i0"]' '[5,1]' '[6,0.1]' '[7,1e+308]' \
	'[8,"r-0.0"]' '[9,"t68C3A96C6C6F20E2988320F09F9880"]' '[10,"t610062"]' \
	'[11,"t"]' '[12,"b"]' '[13,"b00FF80"]' '[14,null]' \
	'[15,"rInf"]' '[16,"r-Inf"]' '[17,"t30"]' '[18,"tFF61"]' \
	'[19,5e-324]' '[20,-2.815550462300322e-300]' \
	'[21,1.7976931348623157e+308]' '[22,123456789.12345679]'; do
	body_has_str "lossless read: $want" "$want"
done
q raw "{\"sql\":\"SELECT printf('%!.17g', c) FROM f WHERE k = 20\"}"
check_nogrep "printf('%!.17g') is not exact in D1's SQLite 3.47 (FIDELITY.md)" '"-2.815550462300322\(0\)*e-300"' "$T/body"

# --- stop ---------------------------------------------------------------------
pid=$(cat "$D/pid")
check "scripts/d1-server stop" "$d1s" stop "$D"
check_exit 1 "the server process is gone" kill -0 "$pid"
check_exit 7 "the port no longer answers" curl -sS -o /dev/null "$D1_URL/__test/stats"
check_eq "after stop, the file still holds the rows" \
	"$(sqlite3 "$D1_SQLITE" 'SELECT count(*) FROM f')" 22
