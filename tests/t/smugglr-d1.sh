# tests/t/smugglr-d1.sh - the smugglr command against Cloudflare's own runtime
# (scripts/d1-server, a real D1 binding under miniflare): status, diff, push,
# pull and sync in text and JSON, --table, --dry-run, --delete, with D1
# configured the upstream way (the three top-level cloudflare_* keys and
# [target] endpoint), through [target] (type d1, and http with profile d1),
# and with the token in the file or the environment.  Every value type makes
# the round trip (sqldiff --table on D1's own file, typeof() dumps); a wrong
# token is exit 5; injected 429/500 answers are survived.
# Needs node/npm, curl, jq, sqlite3, sqldiff, bc.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
# d1-lib.sh exports the token for smg-fetch/smg-apply's TARGET form; here
# each configuration says where its token comes from.
unset SMUGGLR_TARGET_TOKEN

# Run the script itself under dash (POSIX sh), as installed systems may.
SH=sh; command -v dash >/dev/null 2>&1 && SH=dash
SH=${SMUGGLR_SH:-$SH}
SMUGGLR=$SMG_TOP/bin/smugglr
smugglr() { "$SH" "$SMUGGLR" "$@"; }
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR

# run CMD...: stdout in out, stderr in err, exit status in $rc
run() { "$@" >out 2>err; rc=$?; }
# jq on the one JSON object in out
j() { jq -c "$1" out; }
inject() { curl -sS -X POST -d "$1" "$D1_URL/__test/fail" >/dev/null; }
now() { date +%s.%N; }
# the D1 database as its own file holds it (but D1's own _cf_METADATA, which
# the runtime updates on every request, reads included), and the local one
d1dump() { sqlite3 "$D1_SQLITE" .dump | grep -a -v '^INSERT INTO _cf_METADATA '; }
sums() { echo "$(d1dump | sum_file -) $(sum_file local.db)"; }
# the shapes of the requests since the last reset: [statements, [bytes...]]
shapes() { curl -sS "$D1_URL/__test/requests" | jq -c '[.[] | [.statements, .bytes]] | unique'; }
d1count() { d1sql "SELECT count(*) AS n FROM $1" && jq -r '.result[0].results[0].n' "$T/d1sql.out"; }
# same_tables WHAT TABLE...: sqldiff --table and the typeof() dump agree for each
same_tables() {
	st_what=$1; shift
	bad=''
	for tb; do
		if ! sqldiff --table "$tb" local.db "$D1_SQLITE" >"$T/.sqldiff" 2>&1 || [ -s "$T/.sqldiff" ]; then
			bad="$bad $tb(sqldiff: $(head -c 200 "$T/.sqldiff" | tr '\n' ' '))"
		elif [ "$(typed_dump local.db "$tb" | sum_file -)" != "$(typed_dump "$D1_SQLITE" "$tb" | sum_file -)" ]; then
			bad="$bad $tb(typeof dump differs)"
		fi
	done
	if [ -z "$bad" ]; then ok "$st_what"; else fail "$st_what:$bad"; fi
}

# ---- fixtures -------------------------------------------------------------------
# items: 1 identical, 2 local only, 3 remote only, 4 newer locally, 5 newer
# remotely.  v: every kind of value, local only; w: the same, on D1 only.
# c2: WITHOUT ROWID, composite key, mixed types, local only.
schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INT, updated_at TEXT);
CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
CREATE TABLE w(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
CREATE TABLE c2(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;"
# int64 extremes, 2^53+1, reals 0.1/1.0/-0.0/1e308/subnormal/Inf, text with
# unicode/NUL/empty/invalid UTF-8/long, blobs empty/binary/long, NULL, and
# '0' vs 0 vs '' vs NULL
rows=$every_value_rows
sqlite3 local.db "$schema
INSERT INTO items VALUES (1,'same',1,'2026-01-01T00:00:00Z'), (2,'local only',2,'2026-01-01T00:00:00Z'),
 (4,'L4',4,'2026-03-01T11:00:00Z'), (5,'L5',5,'2026-03-01T09:00:00Z');
INSERT INTO v VALUES $rows;
INSERT INTO c2 VALUES ('x', 1, 1), ('x', 2, 2.5), ('y', 1, 'three'), ('', 0, NULL), ('x', -5, x'00');"
d1sql "$schema
INSERT INTO items VALUES (1,'same',1,'2026-01-01T00:00:00Z'), (3,'remote only',3,NULL),
 (4,'R4',40,'2026-03-01T10:00:00Z'), (5,'R5',50,'2026-03-01T10:00:00Z');
INSERT INTO w VALUES $rows;" || exit 1

# The upstream way, token in the file: config.toml, read without -c.
cat >config.toml <<EOF
local_db = "local.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
cloudflare_api_token = "$D1_TOKEN"
database_id = "$D1_DATABASE_ID"

[target]
endpoint = "$D1_URL"

[sync]
conflict_resolution = "newer_wins"
max_retries = 4
initial_retry_delay_ms = 50
max_retry_delay_ms = 3000
EOF
# the same without the token: it comes from the environment
grep -v '^cloudflare_api_token' config.toml >upenv.toml
# [target] type d1 (the ids stay top-level), token from SMUGGLR_TARGET_TOKEN
cat >typed1.toml <<EOF
local_db = "local.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
type = "d1"
endpoint = "$D1_URL"
[sync]
conflict_resolution = "newer_wins"
max_retries = 4
initial_retry_delay_ms = 50
EOF
# [target] http with profile d1: the D1 database's URL, token from the environment
cat >http.toml <<EOF
local_db = "local.db"
[target]
type = "http"
url = "$D1_URL/client/v4/accounts/$D1_ACCOUNT_ID/d1/database/$D1_DATABASE_ID"
profile = "d1"
[sync]
conflict_resolution = "newer_wins"
max_retries = 4
initial_retry_delay_ms = 50
EOF

# ---- status and diff ---------------------------------------------------------------
before=$(sums)
reset
run smugglr status
check_eq "status (the upstream keys in config.toml): exit 0" "$rc" 0
check_eq "status text: counts per table, what a sync would write" "$(sed 1d out)" \
"c2: local_only 5
  would write: local +0 -0, remote +5 -0
items: local_only 1 remote_only 1 local_newer 1 remote_newer 1 identical 1
  would write: local +2 -0, remote +2 -0
v: local_only 11
  would write: local +0 -0, remote +11 -0
w: remote_only 11
  would write: local +11 -0, remote +0 -0"
check_eq "status: the header names local.db, sync and the policy" "$(head -n 1 out | sed 's/ vs .* (remote)/ vs R (remote)/')" \
	"local.db (local) vs R (remote), sync, newer_wins"
check_grep "status: the header names the D1 database as the remote side (not \"stdin\")" \
	"^local.db (local) vs .*$D1_DATABASE_ID.* (remote), sync" out
check_eq "status reads D1 in 2 requests (schema, the first pages of 4 tables together)" \
	"$(stat requests),$(stat rows_written)" "2,0"
status_shapes=$(shapes)

run smugglr -o json status
check_eq "status json: command first, then the report" "$rc $(j '[keys_unsorted[0], .command, .local, .direction, .policy]')" \
	'0 ["command","status","local.db","sync","newer_wins"]'
check_eq "status json: per table counts (local_only, remote_only, local_newer, remote_newer, identical)" \
	"$(j '[.tables[] | [.table, .counts.local_only, .counts.remote_only, .counts.local_newer, .counts.remote_newer, .counts.identical]]')" \
	'[["c2",5,0,0,0,0],["items",1,1,1,1,1],["v",11,0,0,0,0],["w",0,11,0,0,0]]'
check_eq "status json: totals, and what a sync would write" \
	"$(j '.total | [.local_only, .remote_only, .identical, .upsert_remote, .upsert_local, .delete_remote, .delete_local]')" \
	'[17,12,1,18,13,0,0]'
check_eq "status json: the remote side is the D1 database (not \"stdin\")" \
	"$(j '.remote | test("'"$D1_DATABASE_ID"'")')" true

run smugglr diff
check_eq "diff text: sample keys per bucket (items)" "$rc $(grep -A4 '^items:' out | grep '^  [a-z_]*: ' | tr '\n' ' ')" \
	"0   local_only: [2]   remote_only: [3]   local_newer: [4]   remote_newer: [5] "
run smugglr diff -o json
check_eq "diff json: samples: typed keys, composite keys" \
	"$(j '[.command, (.tables[] | select(.table == "items") | .samples), (.tables[] | select(.table == "c2") | .samples.local_only)]')" \
	'["diff",{"local_only":[[2]],"remote_only":[[3]],"local_newer":[[4]],"remote_newer":[[5]]},[["",0],["x",-5],["x",1]]]'
check_eq "status and diff wrote nothing (D1 dump, local file)" "$(sums)" "$before"

# ---- --table ------------------------------------------------------------------------
run smugglr -o json status -t items -t w
check_eq "-t items -t w: only those tables" "$rc $(j '[.tables[].table]')" '0 ["items","w"]'
reset
run smugglr status -t nosuch
check_eq "-t nosuch: exit 3, nothing on stdout" "$rc $(wc -c <out)" "3 0"
check_grep "... the message names it and lists the tables" 'no table "nosuch" (tables: c2, items, v, w)' err
run smugglr -o json push -t items -t nosuch
check_eq "push -t items -t nosuch -o json: exit 3, the error as one JSON object listing the tables" \
	"$rc $(j '[.command, .exit_code, (.error | test("no table \"nosuch\" \\(tables: c2, items, v, w\\)"))]')" \
	'3 ["push",3,true]'
run smugglr pull -t nosuch
check_eq "pull -t nosuch: exit 3" "$rc" 3
run smugglr sync -t nosuch -t v
check_eq "sync -t nosuch: exit 3" "$rc" 3
check_eq "... nothing written to D1 or to the local file" "$(sums) $(stat rows_written)" "$before 0"
# a table only one side has: the side that lacks it says so, and lists its own
sqlite3 local.db "CREATE TABLE lonly(id INTEGER PRIMARY KEY, x); INSERT INTO lonly VALUES (1, 1)"
before=$(sums)
run smugglr push -t lonly
check_eq "push -t a table D1 lacks: exit 3" "$rc" 3
check_grep "... D1 says it has no such table, listing its own" 'no table "lonly" (tables: c2, items, v, w)' err
run smugglr -o json push -t lonly
check_eq "... as JSON: exit_code 3, and the error is D1's" "$rc $(j '[.exit_code, (.error | test("lonly.*tables: c2, items, v, w"))]')" "3 [3,true]"
check_eq "... nothing written" "$(sums)" "$before"
sqlite3 local.db "DROP TABLE lonly"
d1sql "CREATE TABLE donly(id INTEGER PRIMARY KEY)" || exit 1
run smugglr pull -t donly
check_eq "pull -t a table only D1 has: exit 3" "$rc" 3
check_grep "... the local database says it has nowhere to write it, listing its tables" 'no table "donly" to write to (tables: c2, items, v, w)' err
d1sql "DROP TABLE donly" || exit 1

# ---- --dry-run: D1 byte for byte unchanged, no write request ----------------------------
before=$(sums)
for v in push pull sync; do
	reset
	run smugglr "$v" --dry-run -o json
	check_eq "$v --dry-run: exit 0, dry_run true, D1's dump and the local file unchanged, no row written" \
		"$rc $(j .dry_run) $(sums) $(stat rows_written)" "0 true $before 0"
	check_eq "... every request it sent is one that status sends too (reads)" \
		"$(jq -n --argjson a "$(shapes)" --argjson b "$status_shapes" '$a - $b')" "[]"
done
run smugglr -n push -o json
check_eq "push -n json: it would upsert 18 rows into the D1 database" \
	"$(j '[.apply.dry_run, .apply.upserted, .apply.deleted, (.apply.target | test("'"$D1_DATABASE_ID"'"))]')" '[true,18,0,true]'
run smugglr -n sync -o json
check_eq "sync -n json: 18 upserts to D1, 13 to local.db" \
	"$(j '[.apply_remote.upserted, .apply_local.upserted, .apply_local.target]')" '[18,13,"local.db"]'
run smugglr push -n
check_grep "push -n text: would write, nothing written" "would write 18 upserts and 0 deletes in 3 tables (dry run: nothing written)" out
check_eq "... still unchanged" "$(sums)" "$before"

# ---- push, pull, sync: every value type both ways ---------------------------------------
reset
run smugglr -o json push -t items
check_eq "push -t items json: 2 upserted (local only, newer locally) into items alone" \
	"$rc $(j '[.command, .diff.direction, .apply.upserted, [.apply.tables[].table]]')" '0 ["push","push",2,["items"]]'
check_eq "... v and c2 on D1 still empty" "$(d1count v),$(d1count c2)" "0,0"
check_eq "... D1's items: its newer row 5 kept, the newer local row 4 arrived" \
	"$(sqlite3 "$D1_SQLITE" "SELECT group_concat(id || ':' || name, ' ') FROM (SELECT * FROM items ORDER BY id)")" \
	"1:same 2:local only 3:remote only 4:L4 5:R5"

run smugglr push
check_eq "push text: exit 0" "$rc" 0
check_grep "... c2: 5 upserted" ": c2: 5 upserted, 0 deleted$" out
check_grep "... v: 11 upserted" ": v: 11 upserted, 0 deleted$" out
check_grep "... the total" ": wrote 16 upserts and 0 deletes in 2 tables$" out
same_tables "push: every value type and the composite keys arrived (sqldiff --table, typeof() dumps: v, c2)" v c2

run smugglr -o json pull
check_eq "pull json: 13 upserted into local.db (items 3 and 5, all of w)" \
	"$rc $(j '[.command, .apply.target, .apply.upserted, .apply.deleted, [.apply.tables[] | [.table, .upserted]]]')" \
	'0 ["pull","local.db",13,0,[["items",2],["w",11]]]'
same_tables "pull: every value type came back (sqldiff --table, typeof() dumps: w, items)" w items
run smugglr -o json status
check_eq "after push and pull, status: all 32 rows identical, nothing to write" \
	"$(j '.total | [.identical, .upsert_local + .upsert_remote + .delete_local + .delete_remote]')" '[32,0]'

# sync: a change on each side, and a conflict newer_wins settles (rows with
# a timestamp on both sides: without one, the greater hash wins)
sqlite3 local.db "UPDATE v SET t = 'local edit', updated_at = '2030-01-01T00:00:00Z' WHERE id = 1;
	UPDATE items SET name = 'L1', updated_at = '2030-01-01T00:00:00Z' WHERE id = 1"
d1sql "UPDATE w SET b = x'cafe', updated_at = '2030-01-01T00:00:00Z' WHERE id = 3;
	UPDATE items SET name = 'R1', updated_at = '2029-01-01T00:00:00Z' WHERE id = 1;
	INSERT INTO items VALUES (6, 'from d1', 6, NULL)" || exit 1
reset
run smugglr -o json sync
check_eq "sync json: 2 upserts to D1 (v 1, the newer local items 1), 2 to local.db (w 3, items 6)" \
	"$rc $(j '[.command, .apply_remote.upserted, .apply_local.upserted, .apply_remote.complete]')" '0 ["sync",2,2,true]'
same_tables "after sync sqldiff and typeof() dumps agree on every table" c2 items v w
check_eq "... newer_wins: L1 on both sides" "$(sqlite3 "$D1_SQLITE" "SELECT name FROM items WHERE id = 1")" L1
run smugglr sync
check_eq "sync again, text: nothing to write either way" "$rc $(grep -c 'wrote 0 upserts and 0 deletes in 0 tables' out)" "0 2"

# --delete makes the destination a mirror
sqlite3 local.db "DELETE FROM items WHERE id = 2; DELETE FROM v WHERE id IN (5, 8)"
run smugglr -o json push --delete
check_eq "push --delete json: 3 rows deleted on D1" "$rc $(j '[.apply.upserted, .apply.deleted]')" '0 [0,3]'
same_tables "... sqldiff agrees (items, v)" items v
d1sql "DELETE FROM w WHERE id = 11" || exit 1
run smugglr pull --delete -t w
check_grep "pull --delete -t w: 1 deleted locally" "^local.db: w: 0 upserted, 1 deleted$" out
same_tables "... sqldiff agrees (w)" w

# ---- other ways to configure D1 ------------------------------------------------------------
# cycle WHAT CMD...: with CMD (smugglr and its config), a push, a pull and a sync of one changed row
# each; every cycle's timestamps are later than the last one's (203N)
n=0
cycle() {
	cy=$1; shift
	n=$((n + 1))
	sqlite3 local.db "UPDATE items SET qty = qty + 1, updated_at = '203$n-01-01T00:00:00Z' WHERE id = 1"
	run "$@" push -o json
	check_eq "$cy: push, 1 upserted" "$rc $(j '.apply.upserted')" "0 1"
	same_tables "... sqldiff agrees (items)" items
	d1sql "UPDATE items SET qty = qty + 1, updated_at = '203$n-02-01T00:00:00Z' WHERE id = 4" || return
	run "$@" pull -o json
	check_eq "$cy: pull, 1 upserted" "$rc $(j '.apply.upserted')" "0 1"
	same_tables "... sqldiff agrees (items)" items
	sqlite3 local.db "UPDATE items SET qty = qty + 1, updated_at = '203$n-03-01T00:00:00Z' WHERE id = 5"
	d1sql "UPDATE items SET qty = qty + 1, updated_at = '203$n-03-01T00:00:00Z' WHERE id = 1" || return
	run "$@" sync -o json
	check_eq "$cy: sync, 1 row each way" "$rc $(j '[.apply_remote.upserted, .apply_local.upserted]')" "0 [1,1]"
	same_tables "... sqldiff agrees (items)" items
}
cycle "upstream keys, token from CLOUDFLARE_API_TOKEN" \
	env CLOUDFLARE_API_TOKEN="$D1_TOKEN" "$SH" "$SMUGGLR" -c upenv.toml
cycle "upstream keys, SMUGGLR_CLOUDFLARE_API_TOKEN before CLOUDFLARE_API_TOKEN" \
	env SMUGGLR_CLOUDFLARE_API_TOKEN="$D1_TOKEN" CLOUDFLARE_API_TOKEN=wrong "$SH" "$SMUGGLR" -c upenv.toml
cycle "[target] type d1, token from SMUGGLR_TARGET_TOKEN" \
	env SMUGGLR_TARGET_TOKEN="$D1_TOKEN" "$SH" "$SMUGGLR" -c typed1.toml
cycle "[target] http with profile d1, token from SMUGGLR_TARGET_TOKEN" \
	env SMUGGLR_TARGET_TOKEN="$D1_TOKEN" "$SH" "$SMUGGLR" -c http.toml
run env SMUGGLR_TARGET_TOKEN="$D1_TOKEN" "$SH" "$SMUGGLR" -c http.toml status -o json
check_eq "[target] http with profile d1: status, every row identical" \
	"$(j '.total | [.identical, .upsert_local + .upsert_remote]')" '[29,0]'
run env -u CLOUDFLARE_API_TOKEN "$SH" "$SMUGGLR" -c upenv.toml status
check_eq "no token anywhere: exit 2 (a configuration error)" "$rc" 2
check_grep "... saying where a token can come from" "no API token" err

# ---- a wrong token: exit 5, "the token was rejected", nothing written ---------------------
sqlite3 local.db "UPDATE items SET name = 'unsent', updated_at = '2040-01-01T00:00:00Z' WHERE id = 1"
before=$(sums)
sed "s/^cloudflare_api_token = .*/cloudflare_api_token = \"wrong\"/" config.toml >badtok.toml
for how in "in the file" CLOUDFLARE_API_TOKEN SMUGGLR_TARGET_TOKEN; do
	case $how in
	"in the file") set -- -c badtok.toml ;;
	CLOUDFLARE_API_TOKEN) set -- CLOUDFLARE_API_TOKEN=wrong -c config.toml ;;	# overrides the file's
	SMUGGLR_TARGET_TOKEN) set -- SMUGGLR_TARGET_TOKEN=wrong -c http.toml ;;
	esac
	reset
	t0=$(now)
	case $1 in -c) run smugglr "$@" push ;; *) e=$1; shift; run env "$e" "$SH" "$SMUGGLR" "$@" push ;; esac
	t1=$(now)
	check_eq "a wrong token ($how): push is exit 5" "$rc" 5
	check_grep "... saying the token was rejected" "the token was rejected (HTTP 401" err
	check_nogrep "... and not what smg-diff says of the cut stream" "no end record" err
	check_eq "... fast, without retries: at most one request per program" \
		"$(test "$(stat requests)" -le 2 && echo "$t1 - $t0 < 2" | bc)" 1
done
run smugglr -c badtok.toml -o json status
check_eq "a wrong token, -o json: exit 5, the error says the token was rejected" \
	"$rc $(j '[.exit_code, (.error | test("token was rejected"))]')" "5 [5,true]"
check_eq "... nothing written anywhere" "$(sums)" "$before"

# ---- retries survive injected 429 and 500 answers ------------------------------------------
reset
inject '{"status":429,"count":2,"retry_after":1}'
t0=$(now)
run smugglr -o json push
t1=$(now)
check_eq "two 429s with Retry-After: 1: the push lands (exit 0, 1 upserted)" "$rc $(j .apply.upserted)" "0 1"
check_eq "... the 2 injected answers were met" "$(stat injected) $(stat status | jq -c '."429"')" "2 2"
if [ "$(echo "$t1 - $t0 >= 0.9" | bc)" = 1 ]; then ok "... after waiting what Retry-After asked ($(echo "$t1 - $t0" | bc) s)"
else fail "... Retry-After not honoured: done in $(echo "$t1 - $t0" | bc) s"; fi
same_tables "... sqldiff agrees (items)" items
sqlite3 local.db "UPDATE items SET name = 'after 500s', updated_at = '2041-01-01T00:00:00Z' WHERE id = 4;
	INSERT INTO v VALUES (5, NULL, 'a' || char(0) || 'b', 5e-324, zeroblob(300), NULL, NULL)"
reset
inject '{"status":500,"count":3}'
run smugglr push
check_eq "three 500s: the push lands (exit 0)" "$rc" 0
check_eq "... 3 injected" "$(stat injected)" 3
same_tables "... sqldiff and typeof() agree (items, v)" items v
sqlite3 local.db "UPDATE items SET name = 'never', updated_at = '2042-01-01T00:00:00Z' WHERE id = 4"
before=$(sums)
reset
inject '{"status":503,"count":50}'
run smugglr push
check_eq "503s past max_retries: exit 4" "$rc" 4
check_grep "... saying the retries ran out" "HTTP status 503 after 5 attempts" err
check_eq "... nothing written" "$(sums)" "$before"
inject '{"status":503,"count":0}'

# ---- -v shows the plumbing -----------------------------------------------------------------
run smugglr -v status -t items
check_grep "-v: the smg-fetch stage, as a person could type it" "^smugglr: + smg-fetch .*-t items" err
check_grep "-v: the smg-diff stage reading it from stdin" "^smugglr: + smg-diff .*-t items .*local.db -$" err
check_eq "no scratch directory left behind" "$(ls "$TMPDIR" | wc -l)" 0
