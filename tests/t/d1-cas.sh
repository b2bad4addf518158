# d1-cas.sh - compare-and-set against Cloudflare's runtime (scripts/d1-server):
# a change applied to D1 carries the row smg-diff read ("was"), and smg-apply
# writes it only if D1 still holds that row (or already holds the result).
# Rows written on D1 between diff and apply are left as they are, counted,
# exit 6; the rest lands.  Last, a writer keeps writing D1 and the local
# file while smugglr sync runs in a loop: no write may be lost.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR

schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, n REAL, updated_at TEXT)"
sqlite3 local.db "$schema;
INSERT INTO items VALUES (1,'one new',1.5,'2026-02-01'),(3,'three',3.0,'2026-01-01'),
 (4,'four',4.0,'2026-01-01'),(5,'five',5.0,'2026-01-01'),(6,'six new',6.5,'2026-02-01');"
d1sql "$schema" || exit 1
d1sql "INSERT INTO items VALUES (1,'one old',1.0,'2025-01-01'),(2,'two',2.0,'2025-01-01'),
 (5,'five',5.0,'2026-01-01'),(6,'six old',6.0,'2025-01-01')" || exit 1
d1dump() { sqlite3 "$D1_SQLITE" "SELECT id, name, n FROM items ORDER BY id"; }

smg-fetch -q --endpoint "$D1_URL" "$TGT" >remote.ndjson
smg-hash -q local.db | smg-diff -q -d push --delete - remote.ndjson >changes
check_eq "changes to D1 carry the row read (was) with its hash (expect)" \
	"$(grep '"kind":"change"' changes | jq -c '[.key[0], .op, (.expect|type), .was]')" \
'[1,"upsert","string",[1,"one old",1,"2025-01-01"]]
[2,"delete","string",[2,"two",2,"2025-01-01"]]
[3,"upsert","null",null]
[4,"upsert","null",null]
[6,"upsert","string",[6,"six old",6,"2025-01-01"]]'

# Between diff and apply: row 1 updated on D1, row 2 updated, row 3
# inserted, row 6 deleted; row 4 untouched.
d1sql "UPDATE items SET name='app wrote 1' WHERE id=1; UPDATE items SET name='app wrote 2' WHERE id=2;
 INSERT INTO items VALUES (3,'app inserted 3',33.0,'2026-03-01'); DELETE FROM items WHERE id=6" || exit 1
smg-apply -q -r json --endpoint "$D1_URL" "$TGT" <changes >apply.json 2>apply.err; rc=$?
check_eq "smg-apply into D1: rows changed since the diff: exit 6" "$rc" 6
check_eq "... the app's four writes are all still there (row 6 stays deleted), row 4 landed" "$(d1dump)" \
"1|app wrote 1|1.0
2|app wrote 2|2.0
3|app inserted 3|33.0
4|four|4.0
5|five|5.0"
check_eq "... JSON: 4 conflicts, 1 row written, not complete" \
	"$(jq -c '[.conflicts, .upserted, .deleted, .complete, .tables[0].conflicts]' apply.json)" '[4,1,0,false,4]'
check_grep "... stderr counts them per table" 'conflict: table "items": 4 rows changed since the diff' apply.err
check_grep "... and says the rest was written" '4 rows changed since the diff: left as they are, the rest written' apply.err

# The same stream again: row 4 already holds what it writes, no conflict.
d1sql "DELETE FROM items WHERE id IN (1,2,3)" || exit 1	# (6 is gone already)
smg-fetch -q --endpoint "$D1_URL" "$TGT" >remote.ndjson
smg-hash -q local.db | smg-diff -q -d push --delete - remote.ndjson >changes2
check_exit 0 "a fresh diff applies: exit 0" smg-apply -q --endpoint "$D1_URL" "$TGT" -i changes2
smg-apply -q -r json --endpoint "$D1_URL" "$TGT" -i changes2 >again.json 2>&1
check_eq "the same stream twice: the rows already written count as written, no conflict" \
	"$(jq -c '[.conflicts, .upserted, .complete]' again.json)" '[0,3,true]'
check_same_table "... D1 equals the local file (sqldiff)" local.db "$D1_SQLITE" items

# A stream without what the diff read applies as before, and says so.
d1sql "UPDATE items SET name='stale' WHERE id=1" || exit 1
sed 's/,"expect":\(null\|"[0-9a-f]*"\)//; s/,"was":\[[^]]*\]//' changes >old-changes
check_exit 0 "a stream without expect/was: exit 0" smg-apply -q --endpoint "$D1_URL" "$TGT" -i old-changes
check_grep "... and a warning that nothing was checked" 'without "expect".*written without checking' .err
check_eq "... it overwrote the row, as streams did before" "$(sqlite3 "$D1_SQLITE" 'SELECT name FROM items WHERE id=1')" "one new"

# A record whose "was" does not hash to its "expect" contradicts itself.
sed '0,/"was":\[1,"one old"/s//"was":[1,"one forged"/' changes >forged
check_exit 7 "was that does not match expect: exit 7" smg-apply -q --endpoint "$D1_URL" "$TGT" -i forged
check_grep "... saying so" 'does not hash to "expect"' .err

# ---- a live writer on D1 ------------------------------------------------------
# One process writes D1 (through its test endpoint) and the local file, a
# strictly growing clock as each row's updated_at and value; smugglr sync
# (newer_wins) runs meanwhile.  Each row must end with its newest write.
sqlite3 live.db "CREATE TABLE hot(id INTEGER PRIMARY KEY, v INTEGER, updated_at INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40)
INSERT INTO hot SELECT i, 0, 1700000000 FROM n;"
d1sql "CREATE TABLE hot(id INTEGER PRIMARY KEY, v INTEGER, updated_at INTEGER)" || exit 1
d1sql "$(sqlite3 live.db .dump | grep '^INSERT')" || exit 1
cat >live.toml <<EOF
local_db = "live.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
endpoint = "$D1_URL"
[sync]
conflict_resolution = "newer_wins"
timestamp_column = "updated_at"
tables = ["hot"]
EOF
# Each writer has clocks of its own residue mod 4, so all clocks differ;
# two write D1, one the local file.
writer() {	# RESIDUE
	clock=$((1800000000 + $1))
	while [ ! -f stop ]; do
		clock=$((clock + 4))
		row=$(( (clock / 4 * 7919) % 8 + 1 ))	# a hot set of 8 rows
		if [ "$1" != 0 ]; then
			d1sql "UPDATE hot SET v=$clock, updated_at=$clock WHERE id=$row" 2>/dev/null || continue
			sleep 0.3
		else
			sqlite3 -cmd '.timeout 30000' live.db "UPDATE hot SET v=$clock, updated_at=$clock WHERE id=$row" || continue
			sleep 0.1
		fi
		echo "$row $clock" >>writes.log
	done
}
writer 0 & w0=$!
writer 1 & w1=$!
writer 2 & w2=$!
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }
conflicts=0 rounds=0 gave_up=0 failed=0 i=0
# (more rounds, up to 48, until the race has shown at least once: the
# window between a fetch and its apply is short, so it may take a while)
while [ $i -lt 8 ] || { [ $i -lt 48 ] && [ $((conflicts + gave_up)) -eq 0 ]; }; do
	smugglr -c live.toml -o json sync >s.json 2>s.err
	case $? in
	0) rounds=$((rounds + $(jq '.rounds // 1' s.json)))
	   conflicts=$((conflicts + $(jq '.conflicts_retried // 0' s.json))) ;;
	6) gave_up=$((gave_up + 1)) ;;
	*) failed=$((failed + 1)); sed 's/^/    /' s.err | tail -3 ;;
	esac
	i=$((i + 1))
done
touch stop
wait $w0 $w1 $w2
check_exit 0 "a last sync with the writer stopped: exit 0" smugglr -c live.toml sync
check_same_table "... D1 equals the local file (sqldiff)" live.db "$D1_SQLITE" hot
check_eq "no sync failed other than by giving up on conflicts" "$failed" 0
check_no_lost_writes writes.log live.db hot
