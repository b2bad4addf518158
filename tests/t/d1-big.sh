# tests/t/d1-big.sh - D1 values up to its 2,000,000-byte limit, both ways:
# 1.2 MB and 1.99 MB text (UTF-8 and not) and blobs pushed in pieces and
# read back in pieces, checked with sqldiff on D1's own file; a 2.1 MB value
# and a row past 2,000,000 bytes refused (exit 7, table, key and column
# named) before anything is written.  Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"

fetch() { smg-fetch -q --endpoint "$D1_URL" "$@" "$TGT"; }
apply() { smg-apply -r json --endpoint "$D1_URL" "$@" "$TGT"; }
# id, type and length of every value, and a digest of the table
shape() { sqlite3 "$1" "SELECT id, typeof(t), length(CAST(t AS BLOB)), typeof(b), length(b) FROM big ORDER BY id"; }

schema="CREATE TABLE big(id INTEGER PRIMARY KEY, t TEXT, b BLOB, updated_at TEXT);"
d1sql "$schema"
sqlite3 local.db "$schema
INSERT INTO big VALUES
 (1, substr(hex(randomblob(600000)), 1, 1200000), NULL, '2026-01-01'),
 (2, CAST(randomblob(1200000) AS TEXT), NULL, '2026-01-01'),
 (3, NULL, randomblob(1200000), '2026-01-01'),
 (4, 'é' || substr(hex(randomblob(995000)), 1, 1989998), NULL, '2026-01-01'),
 (5, CAST(randomblob(1990000) AS TEXT), NULL, '2026-01-01'),
 (6, NULL, randomblob(1990000), '2026-01-01'),
 (7, 'small', x'00ff', '2026-01-01');"
check_eq "the local rows hold 1.2 MB and 1.99 MB text (UTF-8 and not) and blobs" \
	"$(sqlite3 local.db "SELECT group_concat(coalesce(length(CAST(t AS BLOB)), length(b)), ' ') FROM big")" \
	"1200000 1200000 1200000 1990000 1990000 1990000 5"

# --- push ----------------------------------------------------------------------
fetch -t big >remote.ndjson
smg-hash -t big local.db | smg-diff - remote.ndjson >push.ndjson
reset
check "push of 1.2 MB and 1.99 MB values to D1" sh -c 'smg-apply -r json --endpoint "$0" "$1" <push.ndjson >push.json' "$D1_URL" "$TGT"
check_eq "... all 7 rows upserted, complete" "$(jq -c '[.upserted, .complete]' push.json)" "[7,true]"
check_same_table "... sqldiff finds nothing (D1's own file)" local.db "$D1_SQLITE" big
check_eq "... every type and length kept" "$(shape "$D1_SQLITE")" "$(shape local.db)"
check_eq "... no parameter over 2,000,000 bytes reached D1 (its limit, enforced by the test server)" \
	"$(stat errors)" 0

# --- read back ------------------------------------------------------------------
check "fetch of the long values" sh -c 'smg-fetch -q --endpoint "$0" -t big "$1" >back.ndjson' "$D1_URL" "$TGT"
smg-hash -t big local.db >local.ndjson
check "... gives byte for byte the stream smg-hash gives" cmp local.ndjson back.ndjson
smg-diff local.ndjson back.ndjson >status.ndjson
check_eq "... and smg-diff finds every row identical" \
	"$(jq -c 'select(.kind == "summary") | .counts.identical' status.ndjson)" 7

# --- pull into an empty file ------------------------------------------------------
sqlite3 pulled.db "$schema"
smg-hash -t big pulled.db | smg-diff --direction pull - back.ndjson | smg-apply pulled.db >/dev/null
check_same_db "pull of the long values into a local file: sqldiff finds nothing" local.db pulled.db

# --- over the limit: refused before anything is written ------------------------------
d1count() { d1sql "SELECT count(*) AS n, sum(length(b)) AS s FROM big" && jq -c '.result[0].results[0]' "$T/d1sql.out"; }
before=$(d1count)
# refused ROWS WHAT PATTERN: the push of local.db with ROWS added is exit 7,
# with a message matching PATTERN, and nothing is written
refused() {
	sqlite3 local.db "DELETE FROM big WHERE id >= 8; INSERT INTO big VALUES $1"
	smg-hash -t big local.db | smg-diff - back.ndjson >over.ndjson
	reset
	apply <over.ndjson >over.json 2>err; rc=$?
	check_eq "$2: exit 7" "$rc" 7
	check_grep "... naming table, key and column" "$3" err
	check_eq "... no request after the schema read: nothing written" "$(stat requests)" 1
	check_eq "... D1 holds what it held" "$(d1count)" "$before"
}
refused "(8, 'fine', NULL, '2026-02-01'), (9, NULL, randomblob(2100000), '2026-02-01')" "a 2.1 MB blob" \
	'table "big", key \[9\], column "b": a 2100000-byte value is more than d1:.* (max_value_bytes 2000000)'
refused "(10, substr(hex(randomblob(600000)), 1, 1100000), randomblob(1000000), '2026-02-01')" \
	"a row of 1.1 MB text and a 1 MB blob (2.1 MB)" \
	'table "big", key \[10\], column "t": a 2100.*-byte value (the whole row) is more than'
refused "(11, CAST(randomblob(2100000) AS TEXT), NULL, '2026-02-01')" "2.1 MB of text that is not UTF-8" \
	'table "big", key \[11\], column "t": a 2100000-byte value'
