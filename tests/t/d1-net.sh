# tests/t/d1-net.sh - smg-fetch and smg-apply against the local D1
# (scripts/d1-server) when the network is unkind or the data large:
# injected 429s (Retry-After honoured, measured) and 500s, 401/403 that
# stop at once, batches that stay within D1's limits with an exact request
# count, a push that fails midway and says what landed, and a rerun that
# converges.  Prints push/pull rates for 10k rows as comments.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"

d1count() { d1sql "SELECT count(*) AS n FROM $1" && jq -r '.result[0].results[0].n' "$T/d1sql.out"; }
inject() { curl -sS -X POST -d "$1" "$D1_URL/__test/fail" >/dev/null; }
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }
# push TABLE DB [CONFIG]: fetch, diff, apply; the apply's report in push.json
push() {
	smg-fetch -q ${3:+-c "$3"} --endpoint "$D1_URL" -t "$1" "$TGT" >remote.ndjson &&
	smg-hash -t "$1" "$2" | smg-diff - remote.ndjson >changes.ndjson &&
	smg-apply -r json ${3:+-c "$3"} --endpoint "$D1_URL" "$TGT" <changes.ndjson >push.json
}

cat >fast.toml <<EOF
[sync]
max_retries = 3
initial_retry_delay_ms = 50
max_retry_delay_ms = 3000
EOF

sqlite3 small.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
	INSERT INTO items VALUES (1, 'bolt', 7), (2, 'nut', 2), (3, 'washer', 0)"
d1sql "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER)"

# --- retries --------------------------------------------------------------------
reset
inject '{"status":429,"count":2,"retry_after":1}'
t0=$(now)
check "two 429s with Retry-After: 1 are retried" \
	sh -c 'smg-fetch -q -c fast.toml --endpoint "$0" "$1" >items.ndjson' "$D1_URL" "$TGT"
t1=$(now)
wait_s=$(elapsed "$t0" "$t1")
if [ "$(echo "$wait_s >= 1.9" | bc)" = 1 ]; then ok "... after waiting what Retry-After asked, twice (${wait_s} s)"
else fail "... Retry-After not honoured: done in $wait_s s"; fi
check_eq "... 2 injected answers, then success" "$(stat injected),$(stat ok)" "2,2"

reset
inject '{"status":500,"count":3}'
check "three 500s are retried and the push lands" sh -c 'smg-hash small.db | smg-diff - items.ndjson |
	smg-apply -r none -c fast.toml --endpoint "$0" "$1"' "$D1_URL" "$TGT"
check_same_table "... sqldiff agrees" small.db "$D1_SQLITE" items
check_eq "... 3 injected 500s" "$(stat injected)" 3

reset
inject '{"status":503,"count":50}'
sqlite3 small.db "UPDATE items SET qty = 8 WHERE id = 1"
smg-hash small.db >small.ndjson
inject '{"status":503,"count":50}'
check_exit 4 "503s past max_retries are exit 4" \
	sh -c 'smg-diff small.ndjson items.ndjson | smg-apply -c fast.toml --endpoint "$0" "$1"' "$D1_URL" "$TGT"
check_grep "... saying the retries ran out, and what D1 said the last time" \
	"HTTP status 503 after 4 attempts: D1 DB is overloaded" "$T/.err"
check_eq "... 1 + max_retries attempts" "$(stat requests)" 4
inject '{"status":503,"count":0}'

for st in 401 403; do
	reset
	inject "{\"status\":$st,\"count\":5}"
	t0=$(now)
	check_exit 5 "HTTP $st stops at once with exit 5" \
		sh -c 'smg-diff small.ndjson items.ndjson | smg-apply -c fast.toml --endpoint "$0" "$1"' "$D1_URL" "$TGT"
	t1=$(now)
	check_grep "... saying the token was rejected" "the token was rejected (HTTP $st" "$T/.err"
	check_eq "... after one request, no retry" "$(stat requests)" 1
	if [ "$(echo "$(elapsed "$t0" "$t1") < 1" | bc)" = 1 ]; then ok "... fast"; else fail "... took $(elapsed "$t0" "$t1") s"; fi
	inject '{"status":500,"count":0}'
done
check_exit 5 "a wrong token is exit 5" smg-fetch -q --token nope --endpoint "$D1_URL" "$TGT"

# --- batching within D1's limits --------------------------------------------------
# 2500 rows, one bound parameter each (the REAL price; integers and short text
# go as literals): statements of batch_size = 100 rows and 100 parameters;
# max_statements = 10 per request gives 3 batches: 10 + 10 + 5 statements.
cat >batch.toml <<EOF
[sync]
max_retries = 3
initial_retry_delay_ms = 50
[target.profile_options]
max_statements = 10
EOF
sqlite3 big.db "CREATE TABLE big(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, updated_at TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500)
	INSERT INTO big SELECT i, 'item ' || i, i, i / 4.0, '2026-01-01T00:00:00Z' FROM n;
	UPDATE big SET qty = -1 WHERE id = 1500"
d1sql "CREATE TABLE big(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER CHECK (qty >= 0), price REAL, updated_at TEXT)"
reset
push big big.db batch.toml; rc=$?
check_eq "a push that meets a CHECK constraint in batch 2 fails with exit 7" "$rc" 7
check_eq "... the report says batch 1 of 3 landed, batch 2 failed, not complete" \
	"$(jq -c '[.complete, .batches, .landed, .failed_batch, .upserted, .pending_upserts, .statements]' push.json)" \
	"[false,3,1,2,1000,1500,25]"
check_grep "... and why" '"error":".*CHECK constraint failed' push.json
check_grep "... naming the row" '"error":".*CHECK constraint failed.* (table \\"big\\", key \[1500\])' push.json
check_eq "... in 15 requests: fetch (schema, one page), apply (schema, batches 1 and 2, 10 probes for the row)" "$(stat requests)" 15
smg-hash -t big big.db | smg-diff - remote.ndjson | smg-apply -c batch.toml --endpoint "$D1_URL" "$TGT" >/dev/null 2>fail.err
check_grep "stderr names the landed batches and tables" "batches 1-1 of 3 landed (big: 1000 upserted, 0 deleted)" fail.err
check_grep "... what did not land" "batch 2 and the 1 after it did not land: 1500 upserts and 0 deletes" fail.err
check_eq "D1 holds exactly the rows of batch 1" "$(d1count big)" 1000
sqlite3 big.db "UPDATE big SET qty = 1500 WHERE id = 1500"
reset
push big big.db batch.toml
check_eq "rerun after the fix converges: only the 1500 missing rows, in 2 batches" \
	"$(jq -c '[.complete, .upserted, .batches, .landed, .statements]' push.json)" "[true,1500,2,2,15]"
check_same_table "... sqldiff agrees" big.db "$D1_SQLITE" big

sqlite3 big.db "UPDATE big SET price = price + 1, updated_at = '2026-02-01T00:00:00Z'"
reset
push big big.db batch.toml
# An update carries the row it replaces (compare-and-set); its REAL, as
# every real, is exact SQL, not a parameter: 100 rows a statement.
check_eq "updating all 2500 rows: 25 statements in 3 batches" \
	"$(jq -c '[.complete, .upserted, .statements, .batches]' push.json)" "[true,2500,25,3]"
check_eq "... requests: fetch 1 schema + 2 pages, apply 1 schema + 1 UNIQUE indexes + 3 batches" "$(stat requests)" 8
check_eq "... reals go as exact SQL (integers and powers of two), never as bound parameters" "$(stat max_params)" 0
check_eq "... at most 10 statements per request, and the PRAGMA that defers foreign keys" "$(stat max_statements)" 11
if [ "$(stat max_statement_bytes)" -le 100000 ]; then ok "... no statement over 100,000 bytes ($(stat max_statement_bytes))"
else fail "... a statement of $(stat max_statement_bytes) bytes"; fi
check_same_table "... sqldiff agrees" big.db "$D1_SQLITE" big

# statement bytes: [sync] max_statement_bytes bounds them; long text becomes
# parameters, so three of them per row fill 100 parameters at 33 rows
cat >bytes.toml <<EOF
[sync]
max_statement_bytes = 4000
EOF
sqlite3 txt.db "CREATE TABLE txt(id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
	INSERT INTO txt SELECT i, printf('%0200d', i), NULL, NULL FROM n"
d1sql "CREATE TABLE txt(id INTEGER PRIMARY KEY, a TEXT, b TEXT, c TEXT)"
reset
push txt txt.db bytes.toml
check_eq "rows of 200-byte text literals under max_statement_bytes = 4000" "$(jq -c '[.complete, .upserted]' push.json)" "[true,300]"
if [ "$(stat max_statement_bytes)" -le 4000 ]; then ok "... no statement over 4000 bytes ($(stat max_statement_bytes))"
else fail "... a statement of $(stat max_statement_bytes) bytes"; fi
check_same_table "... sqldiff agrees" txt.db "$D1_SQLITE" txt
sqlite3 txt.db "UPDATE txt SET a = printf('%0300d', id), b = printf('%0400d', id), c = printf('%0500d', id)"
reset
push txt txt.db
check_eq "rows of three long texts (parameters): 300 rows in 10 statements of 33" "$(jq -c '[.complete, .upserted, .statements]' push.json)" "[true,300,10]"
check_eq "... 99 parameters at most" "$(stat max_params)" 99
check_same_table "... sqldiff agrees" txt.db "$D1_SQLITE" txt

# a row whose statement cannot fit max_statement_bytes (its placeholders
# count, not its parameters): exit 7 naming the table, nothing sent; a row
# of values in pieces (a 600 kB blob) the same
printf '[sync]\nmax_statement_bytes = 60\n' >tiny.toml
sqlite3 txt.db "INSERT INTO txt VALUES (301, 'x', NULL, NULL)"
reset
push txt txt.db tiny.toml 2>push.err
check_eq "a row under max_statement_bytes = 60: exit 7" "$?" 7
check_grep "... naming the table and the limit" \
	'table "txt": a row needs a [0-9]*-byte statement, more than max_statement_bytes (60)' push.err
check_eq "... nothing sent: D1 keeps its 300 rows" "$(d1count txt)" 300
sqlite3 lng.db "CREATE TABLE lng(id INTEGER PRIMARY KEY, b BLOB); INSERT INTO lng VALUES (1, zeroblob(600000))"
d1sql "CREATE TABLE lng(id INTEGER PRIMARY KEY, b BLOB)"
reset
push lng lng.db tiny.toml 2>push.err
check_eq "a row of a 600 kB blob (in pieces) under max_statement_bytes = 60: exit 7" "$?" 7
check_grep "... naming the table and the limit" \
	'table "lng": a row needs a [0-9]*-byte statement, more than max_statement_bytes (60)' push.err
check_eq "... nothing sent" "$(d1count lng)" 0

# --- 10k rows each way: rates, as comments --------------------------------------
sqlite3 10k.db "CREATE TABLE tenk(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, updated_at TEXT, data BLOB);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
	INSERT INTO tenk SELECT i, 'item ' || i || ' ' || hex(randomblob(8)), i * 7, i / 3.0,
		'2026-01-01T00:00:00Z', randomblob(16) FROM n"
d1sql "$(sqlite3 10k.db .schema)"
echo '{"kind":"end","records":0}' >empty.ndjson
smg-hash 10k.db | smg-diff - empty.ndjson >tenk.ndjson
reset
t0=$(now)
check "push of 10,000 rows" sh -c 'smg-apply -r json --endpoint "$0" "$1" <tenk.ndjson >push.json' "$D1_URL" "$TGT"
t1=$(now)
preq=$(stat requests)
check_eq "... in 2 requests (schema, one batch of 100 statements)" "$preq" 2
reset
t2=$(now)
check "pull of 10,000 rows" sh -c 'smg-fetch -q -t tenk --endpoint "$0" "$1" >tenk-remote.ndjson' "$D1_URL" "$TGT"
t3=$(now)
freq=$(stat requests)
check_eq "... in 7 requests (schema, five 2000-row pages, the empty last one)" "$freq" 7
check "... identical to smg-hash of the file" sh -c 'smg-hash 10k.db | cmp - tenk-remote.ndjson'
echo "# push 10k rows: $(elapsed "$t0" "$t1") s, $(echo "10000 / $(elapsed "$t0" "$t1")" | bc) rows/s, $preq requests"
echo "# pull 10k rows: $(elapsed "$t2" "$t3") s, $(echo "10000 / $(elapsed "$t2" "$t3")" | bc) rows/s, $freq requests"
