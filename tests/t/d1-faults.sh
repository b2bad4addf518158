# tests/t/d1-faults.sh - hostile and broken D1 answers (tests/d1's
# /__test/fault and /__test/fail): garbage, a truncated body, a missing
# result, a wrong count of results, rows missing or not arrays, success:false
# without an error, D1's transient 7500 "internal error" and its real error
# codes.  Each read ends in exit 7 with the endpoint's words and never in an
# empty stream; each write ends with nothing written and the batch not
# counted as landed; 7500 is retried, then the push lands.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"

# fault JSON: the next answers are malformed (see tests/d1/README.md)
fault() { curl -sS -X POST -d "$1" "$D1_URL/__test/fault" >/dev/null; }
inject() { curl -sS -X POST -d "$1" "$D1_URL/__test/fail" >/dev/null; }
# the D1 table as text, to show nothing was written
d1rows() { d1sql "SELECT id, name, qty FROM t ORDER BY id" && jq -c '.result[0].results' "$T/d1sql.out"; }
now() { date +%s; }
printf '[sync]\nmax_retries = 3\ninitial_retry_delay_ms = 50\nmax_retry_delay_ms = 200\n' >fast.toml
fetch() { smg-fetch -q -c fast.toml --endpoint "$D1_URL" "$@" "$TGT"; }
apply() { smg-apply -c fast.toml -r json --endpoint "$D1_URL" "$@" "$TGT"; }

schema="CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, updated_at TEXT);"
d1sql "$schema INSERT INTO t VALUES (1, 'bolt', 5, '2026-01-01'), (2, 'nut', 7, '2026-01-01');"
sqlite3 local.db "$schema INSERT INTO t VALUES (1, 'bolt', 6, '2026-02-01'), (3, 'gear', 1, '2026-02-01');"
fetch -t t >remote.ndjson
smg-hash -t t local.db | smg-diff --delete - remote.ndjson >push.ndjson
before=$(d1rows)
check_eq "the push to test holds 3 changes" "$(jq -s '[.[] | select(.kind == "change")] | length' push.ndjson)" 3

# --- reads: every malformed answer is exit 7, never an empty table ------------
for kind in garbage truncated no_result wrong_count no_rows rows_not_array row_not_array success_false; do
	reset
	fault "{\"kind\":\"$kind\"}"
	t0=$(now)
	fetch -t t >bad.ndjson 2>err; rc=$?
	check_eq "fetch, $kind answer to the schema read: exit 7" "$rc" 7
	check_eq "... within seconds, no retry" "$(test $(($(now) - t0)) -le 5 && echo yes)" yes
	check_nogrep "... no row and no end record written" '"kind":"\(row\|end\)"' bad.ndjson
	# the schema read answered well, the page read badly
	reset
	fault "{\"kind\":\"$kind\",\"after\":1}"
	fetch -t t >bad.ndjson 2>err; rc=$?
	check_eq "fetch, $kind answer to the page read: exit 7" "$rc" 7
	check_grep "... naming the target" "^smg-fetch: d1:" err
	check_nogrep "... no end record: smg-diff cannot take it for an empty table" '"kind":"end"' bad.ndjson
	# through a pipe, as the porcelain runs it: never an empty table to --delete by
	smg-hash -t t local.db >local.ndjson
	fault "{\"kind\":\"$kind\",\"after\":1}"
	if { fetch -t t 2>/dev/null; } | smg-diff --delete local.ndjson - >/dev/null 2>&1; then
		fail "... smg-diff took the cut stream"; else ok "... smg-diff refuses the cut stream"; fi
done
reset; fault '{"kind":"garbage"}'; fetch -t t >/dev/null 2>err
check_grep "garbage is named: not JSON, with what came" "the answer is not JSON (HTTP 200, .* bytes): <html><body><h1>502 Bad Gateway" err
reset; fault '{"kind":"wrong_count","after":1}'; fetch -t t >/dev/null 2>err
check_grep "a wrong count of results is named" "1 statement result at result for 2 statements sent" err	# (the page and the trigger names)
reset; fault '{"kind":"success_false"}'; fetch -t t >/dev/null 2>err
check_grep "success:false without errors is named" "success is false, not true, and no error is given" err
reset; fault '{"kind":"no_rows","after":1}'; fetch -t t >/dev/null 2>err
check_grep "missing rows are named with the table" 'table "t": no rows at result.{i}.results.rows (statement 1)' err
reset; fault '{"kind":"row_not_array","after":1}'; fetch -t t >/dev/null 2>err
check_grep "a row that is a number is named" 'table "t": row 1 of the answer is int, not an array or an object' err

# --- writes: nothing written, the batch not counted as landed -----------------
for kind in garbage truncated no_result wrong_count success_false; do
	for after in 0 1; do
		reset
		fault "{\"kind\":\"$kind\",\"after\":$after}"
		apply <push.ndjson >report.json 2>err; rc=$?
		what=$([ "$after" = 0 ] && echo "the schema read" || echo "the write batch")
		check_eq "apply, $kind answer to $what: exit 7" "$rc" 7
		check_eq "... nothing written in D1" "$(d1rows)" "$before"
		if [ "$after" = 1 ]; then
			check_eq "... the report: not complete, no batch landed, maybe landed" \
				"$(jq -c '[.complete, .landed, .upserted, .deleted, .maybe_landed]' report.json)" \
				"[false,0,0,0,true]"
		fi
	done
done

# --- transient answers: retried, then the push lands --------------------------
for status in 200 400; do
	reset
	fault "{\"kind\":\"internal\",\"status\":$status,\"count\":2,\"after\":1}"
	apply <push.ndjson >report.json 2>err; rc=$?
	check_eq "two 7500 'internal error' answers (HTTP $status) to the batch: retried, exit 0" "$rc" 0
	check_eq "... both were met" "$(stat injected)" 2
	check_eq "... the push landed" "$(jq -c '[.complete, .upserted, .deleted]' report.json)" "[true,2,1]"
	d1sql "DELETE FROM t; INSERT INTO t VALUES (1, 'bolt', 5, '2026-01-01'), (2, 'nut', 7, '2026-01-01');"
done
reset
fault '{"kind":"internal","status":400,"count":50,"after":1}'
apply <push.ndjson >report.json 2>err; rc=$?
check_eq "7500 'internal error' past max_retries: exit 4" "$rc" 4
check_grep "... saying so, with D1's words" "internal error; reference = smugglr-test-fault (code 7500) (gave up after 4 attempts)" err
check_eq "... 4 attempts" "$(stat injected)" 4
check_eq "... nothing written in D1" "$(d1rows)" "$before"
reset
fault '{"kind":"internal","count":2}'
fetch -t t >ok.ndjson 2>err; rc=$?
check_eq "a read met by two 7500 answers is retried and succeeds" "$rc" 0
check_eq "... with every row" "$(grep -c '"kind":"row"' ok.ndjson)" 2

# --- D1's error codes, mapped to the exit-code table ----------------------------
reset
inject '{"status":403,"code":7403,"message":"The given account is not valid or is not authorized to access this service"}'
fetch -t t >/dev/null 2>err; rc=$?
check_eq "7403 (account not valid or not authorized): exit 5" "$rc" 5
check_grep "... in D1's words, with the code" "not authorized to access this service (code 7403)" err
reset
inject '{"status":400,"code":7400,"message":"The request is not valid"}'
fetch -t t >/dev/null 2>err; rc=$?
check_eq "7400 (request not valid, e.g. a malformed id): exit 2" "$rc" 2
check_grep "... pointing at the ids" "check the account and database ids" err
reset
inject '{"status":400,"code":7500,"message":"no such table: t: SQLITE_ERROR"}'
fetch -t t >/dev/null 2>err; rc=$?
check_eq "7500 with a SQLite error is final: exit 3 (no such table)" "$rc" 3
check_eq "... not retried" "$(stat injected)" 1

# --- the generic profile (D1's shape at any URL) checks answers the same way ----
for kind in garbage no_result wrong_count rows_not_array success_false; do
	reset
	fault "{\"kind\":\"$kind\",\"after\":1}"
	smg-fetch -q -c fast.toml -p generic -t t "$D1_RAW_URL" >bad.ndjson 2>err; rc=$?
	check_eq "generic profile, $kind answer to the page read: exit 7" "$rc" 7
	check_nogrep "... no end record" '"kind":"end"' bad.ndjson
	[ "$kind" = rows_not_array ] && continue	# a write's answer need not have rows
	reset
	fault "{\"kind\":\"$kind\",\"after\":1}"
	smg-apply -c fast.toml -p generic "$D1_RAW_URL" <push.ndjson >/dev/null 2>err; rc=$?
	check_eq "generic profile, $kind answer to the write batch: exit 7" "$rc" 7
	check_eq "... nothing written in D1" "$(d1rows)" "$before"
done

# --- a server that trickles: the deadline ends it, nothing is taken ------------
printf '[sync]\nmax_retries = 1\ninitial_retry_delay_ms = 50\ntimeout_secs = 3\nlow_speed_limit = 100\nlow_speed_secs = 2\n' >slow.toml
reset
fault '{"kind":"trickle","interval":300,"count":5}'
t0=$(now)
smg-fetch -q -c slow.toml --endpoint "$D1_URL" -t t "$TGT" >slow.ndjson 2>err; rc=$?
check_eq "fetch from a server that sends a byte every 0.3 s: exit 4" "$rc" 4
check_eq "... within its 3 s deadline" "$(test $(($(now) - t0)) -le 5 && echo yes)" yes
check_grep "... saying why" 'deadline\|slow\|timed out\|Timeout' err
check_nogrep "... no end record" '"kind":"end"' slow.ndjson
fault '{"kind":"trickle","count":0}'
