# tests/t/hrana-faults.sh - broken answers from the Hrana test server
# (tests/hrana's /__test/fault): garbage, a truncated body, a body shorter
# than its Content-Length, no results, a step result missing, a batch whose
# COMMIT did not run, a stream error, HTTP 500 and a server that trickles.
# Each read ends in a clear error and never in an empty stream; each write
# ends with nothing written and the batch not counted as landed; all within
# their deadline.
# Needs python3, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/hrana-lib.sh"
hrana_start "$T/h"
now() { date +%s; }
printf '[sync]\nmax_retries = 2\ninitial_retry_delay_ms = 50\nmax_retry_delay_ms = 200\n' >fast.toml
fetch() { smg-fetch -q -c fast.toml -p turso "$@" "$HRANA_URL"; }
apply() { smg-apply -q -c fast.toml -r json -p turso "$@" "$HRANA_URL"; }
hrows() { sqlite3 "$HRANA_SQLITE" "SELECT id, name, qty FROM t ORDER BY id"; }

schema="CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, updated_at TEXT);"
hsql "$schema INSERT INTO t VALUES (1, 'bolt', 5, '2026-01-01'), (2, 'nut', 7, '2026-01-01');" || exit 1
sqlite3 local.db "$schema INSERT INTO t VALUES (1, 'bolt', 6, '2026-02-01'), (3, 'gear', 1, '2026-02-01');"
fetch -t t >remote.ndjson
smg-hash -t t local.db | smg-diff --delete - remote.ndjson >push.ndjson
before=$(hrows)
check_eq "the push to test holds 3 changes" "$(jq -s '[.[] | select(.kind == "change")] | length' push.ndjson)" 3

# kind, exit, words
cases='garbage 7 the answer is not JSON (HTTP 200
truncated 7 the answer is not JSON (HTTP 200
short 4 bytes
no_result 7 0 statement results\|results.0.type is absent
missing_step 7 step_results.[0-9]*.rows is absent
stream_error 7 injected: stream expired
http500 4 HTTP status 500 after 3 attempts'
echo "$cases" | while read -r kind code words; do
	# reads: the schema's answer, then a page's
	for after in 0 1; do
		hreset
		hfault "{\"kind\":\"$kind\",\"after\":$after,\"count\":5}"
		t0=$(now)
		fetch -t t >bad.ndjson 2>err; rc=$?
		check_eq "fetch, $kind answer (after $after): exit $code" "$rc" "$code"
		check_eq "... within seconds" "$(test $(($(now) - t0)) -le 10 && echo yes)" yes
		check_grep "... in words: $words" "$words" err
		check_nogrep "... no end record: never an empty table" '"kind":"end"' bad.ndjson
		hfault '{"kind":"garbage","count":0}'
	done
	# a write: the schema read answered well, the batch badly
	hreset
	hfault "{\"kind\":\"$kind\",\"after\":1,\"count\":5}"
	apply -i push.ndjson >bad.json 2>err; rc=$?
	check_eq "apply, $kind answer to the batch: exit $code" "$rc" "$code"
	check_eq "... the batch is not counted as landed" "$(jq -c '[.complete, .landed]' bad.json)" '[false,0]'
	check_eq "... nothing written" "$(hrows)" "$before"
	hfault '{"kind":"garbage","count":0}'
done

# a batch whose COMMIT did not run, though every statement answered
hreset
hfault '{"kind":"no_commit","after":1,"steps":5}'
apply -i push.ndjson >bad.json 2>err; rc=$?
check_eq "apply, an answer without the COMMIT's result: exit 7" "$rc" 7
check_grep "... saying the COMMIT's result is absent" "step_results.[0-9]*.rows is" err
check_eq "... not landed" "$(jq -c '[.complete, .landed, .maybe_landed]' bad.json)" '[false,0,true]'

# a server that trickles: the deadline ends it
printf '[sync]\nmax_retries = 1\ninitial_retry_delay_ms = 50\ntimeout_secs = 3\nlow_speed_limit = 100\nlow_speed_secs = 2\n' >slow.toml
hreset
hfault '{"kind":"trickle","interval":300,"count":5}'
t0=$(now)
smg-fetch -q -c slow.toml -p turso -t t "$HRANA_URL" >slow.ndjson 2>err; rc=$?
check_eq "fetch from a server that sends a byte every 0.3 s: exit 4" "$rc" 4
check_eq "... within its 3 s deadline" "$(test $(($(now) - t0)) -le 6 && echo yes)" yes
check_nogrep "... no end record" '"kind":"end"' slow.ndjson
hfault '{"kind":"trickle","count":0}'

# after all that, the push lands whole
hreset
check "the same push, the server well again: exit 0" apply -i push.ndjson
check_same_table "... sqldiff finds nothing" local.db "$HRANA_SQLITE" t
