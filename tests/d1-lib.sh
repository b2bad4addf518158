# tests/d1-lib.sh - sourced (after lib.sh) by the tests that run smg-fetch and
# smg-apply against the local D1 (tests/t/d1*.sh): starts scripts/d1-server
# in the test's directory, stops it on exit, and gives helpers.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
top=${SMG_TOP:?SMG_TOP is set by tests/run}
for tool in node npm curl jq sqlite3 sqldiff; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		fail "$tool is needed by the D1 tests but is not installed"
		exit 0
	fi
done
D=$T/d1
cleanup_hook() { [ -f "$D/pid" ] && "$top/scripts/d1-server" stop "$D" >/dev/null 2>&1; :; }
if ! "$top/scripts/d1-server" start "$D" >/dev/null 2>"$T/start.err"; then
	fail "scripts/d1-server start"; sed 's/^/    /' "$T/start.err" | tail -20
	exit 0
fi
. "$D/env"
TGT="d1:$D1_ACCOUNT_ID/$D1_DATABASE_ID"
export SMUGGLR_TARGET_TOKEN="$D1_TOKEN"
unset CLOUDFLARE_API_TOKEN SMUGGLR_CLOUDFLARE_API_TOKEN

# d1sql SQL: run SQL on the D1 database directly (no token, not counted);
# the answer in $T/d1sql.out
d1sql() {
	printf '%s' "$1" | jq -Rs '{sql: .}' |
		curl -sS -o "$T/d1sql.out" -w '%{http_code}' -X POST --data-binary @- \
			"$D1_URL/__test/sql" >"$T/d1sql.status"
	[ "$(cat "$T/d1sql.status")" = 200 ] || { echo "d1sql failed: $(cat "$T/d1sql.out")" >&2; return 1; }
}
# stat NAME: a counter of /__test/stats since the last reset
stat() { curl -sS "$D1_URL/__test/stats" | jq -r ".$1"; }
reset() { curl -sS -X POST "$D1_URL/__test/reset" >/dev/null; }
