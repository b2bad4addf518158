# tests/hrana-lib.sh - sourced (after lib.sh) by the tests that run smg-fetch
# and smg-apply against the Hrana test server (tests/t/hrana*.sh): gives
# hrana_start DIR [OPTION...] (scripts/hrana-server; stopped on exit), which
# sets HRANA_URL, HRANA_SQLITE, HRANA_TOKEN and HU (the server's /__test/ base),
# and helpers.  Needs python3, curl, jq, sqlite3, sqldiff.
top=${SMG_TOP:?SMG_TOP is set by tests/run}
need_tools "the Hrana tests" python3 curl jq sqlite3 sqldiff
hrana_dirs=
cleanup_hook() {
	for d in $hrana_dirs; do
		[ -f "$d/pid" ] && "$top/scripts/hrana-server" stop "$d" >/dev/null 2>&1
	done
	:
}
# hrana_start DIR [OPTION...]: a server on DIR; its env in this shell
hrana_start() {
	d=$1; shift
	if ! "$top/scripts/hrana-server" start "$d" "$@" >/dev/null 2>"$T/start.err"; then
		fail "scripts/hrana-server start $*"; sed 's/^/    /' "$T/start.err" | tail -20
		exit 0
	fi
	hrana_dirs="$hrana_dirs $d"
	. "$d/env"
	HU=$HRANA_URL
	export SMUGGLR_TARGET_TOKEN="$HRANA_TOKEN"
}
# hsql SQL: run SQL on the server's database directly (not counted)
hsql() {
	printf '%s' "$1" | jq -Rs '{sql: .}' |
		curl -sS -o "$T/hsql.out" -w '%{http_code}' -X POST --data-binary @- \
			"$HU/__test/sql" >"$T/hsql.status"
	[ "$(cat "$T/hsql.status")" = 200 ] || { echo "hsql failed: $(cat "$T/hsql.out")" >&2; return 1; }
}
# hstat NAME: a counter of /__test/stats since the last hreset
hstat() { curl -sS "$HU/__test/stats" | jq -r ".$1"; }
hreset() { curl -sS -X POST "$HU/__test/reset" >/dev/null; }
# hfault JSON: the next pipeline answers are faulty (tests/hrana/README.md)
hfault() { curl -sS -X POST -d "$1" "$HU/__test/fault" >/dev/null; }
# the rows of every kind of value the D1 tests use (tests/d1-lib.sh, which
# starts the D1 server when sourced): one list for both
every_value_rows=$(sed -n '/^every_value_rows="/,/NULL)"$/p' "$top/tests/d1-lib.sh" |
	sed '1s/^every_value_rows="//; $s/"$//')
[ -n "$every_value_rows" ] || { fail "every_value_rows not found in tests/d1-lib.sh"; exit 0; }
