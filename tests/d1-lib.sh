# tests/d1-lib.sh - sourced (after lib.sh) by the tests that run smg-fetch and
# smg-apply against the local D1 (tests/t/d1*.sh): starts scripts/d1-server
# in the test's directory, stops it on exit, and gives helpers.
# Needs node/npm, curl, jq, sqlite3, sqldiff, bc.
# shellcheck disable=SC2034	# TGT, every_value_rows...: for the tests that source this
top=${SMG_TOP:?SMG_TOP is set by tests/run}
need_tools "the D1 tests" node npm curl jq sqlite3 sqldiff bc
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

# Rows for a table (id, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT)
# holding every kind of value: int64 extremes, 2^53+1, reals 0.1/1.0/-0.0/
# 1e308/subnormal/Inf, text with unicode/NUL/empty/invalid UTF-8/long, blobs
# empty/binary/long, NULL, and '0' vs 0 vs '' vs NULL.
every_value_rows="(1, 9223372036854775807, 'max', 1.0, x'', 9223372036854775807, '2024-01-01T00:00:00Z'),
 (2, -9223372036854775808, 'min', 0.1, x'00ff80', -9223372036854775808, NULL),
 (3, 9007199254740993, '', -0.0, NULL, 9007199254740993, '2024-01-02T00:00:00Z'),
 (4, 1e308, 'héllo ☃ 😀', 1e308, x'00', 0, NULL),
 (5, NULL, 'a' || char(0) || 'b', 5e-324, zeroblob(300), NULL, NULL),
 (6, '0', '0', 0.0, 0, '0', NULL),
 (7, 0.1, NULL, 2.2250738585072014e-308, x'41', 1.0, NULL),
 (8, 9e999, 'inf', -9e999, x'deadbeef', -1, NULL),
 (9, '', 'it''s ''quoted''', 123456789.12345679, 'text in a blob column', 42, NULL),
 (10, x'ff61', replace(hex(zeroblob(200)), '0', 'x'), 1.7976931348623157e308, x'', 2, NULL),
 (11, 1.0, CAST(x'ff61' AS TEXT), 4.9406564584124654e-324, CAST('abc' AS BLOB), -0.0, NULL)"
