# tests/t/d1-reals.sh - reals reach D1 as exact integer arithmetic, never as
# bound JSON numbers: 3000 doubles from random bit patterns (every exponent,
# subnormals, both signs) and edge values pushed, checked with sqldiff on
# D1's own file; no parameter sent.  Needs node/npm, curl, jq, sqlite3,
# sqldiff, od.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
need_tools "the reals test" od awk

schema="CREATE TABLE r(id INTEGER PRIMARY KEY, v REAL, w);"
d1sql "$schema"
{
	echo "$schema"
	echo "INSERT INTO r VALUES (1, 1.0, 1.0), (2, 0.1, 5e-324), (3, 1.7976931348623157e308, 2.2250738585072014e-308),"
	echo " (4, -2.815550462300322e-300, 4.9406564584124654e-324), (5, 9007199254740993.0, 1e20), (6, -0.0, 123456789.12345679)"
	od -An -tf8 -v -N 48000 /dev/urandom | tr -s ' ' '\n' | grep -v -i -e '^$' -e nan -e inf |
		awk 'NR % 2 { a = $1; next } { printf ",(%d, %s, %s)\n", NR / 2 + 10, a, $1 }'
	echo ";"
} >seed.sql
sqlite3 local.db <seed.sql
check_eq "3000 random doubles and the edge values to push" "$(sqlite3 local.db 'SELECT count(*) > 3000 FROM r')" 1
smg-fetch -q --endpoint "$D1_URL" -t r "$TGT" >remote.ndjson
smg-hash -t r local.db | smg-diff - remote.ndjson >push.ndjson
reset
check "push of the reals" sh -c 'smg-apply --endpoint "$0" "$1" <push.ndjson >/dev/null' "$D1_URL" "$TGT"
check_same_table "... sqldiff finds nothing: every double exact" local.db "$D1_SQLITE" r
types="SELECT group_concat(typeof(v) || typeof(w), ' ') FROM r"
check_eq "... typeof() agrees" "$(sqlite3 "$D1_SQLITE" "$types")" "$(sqlite3 local.db "$types")"
check_eq "... without one bound parameter" "$(stat max_params)" 0
smg-fetch -q --endpoint "$D1_URL" -t r "$TGT" >back.ndjson
smg-hash -t r local.db >local.ndjson
check "... and read back, smg-hash's stream byte for byte" cmp local.ndjson back.ndjson
