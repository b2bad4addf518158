# d1-cas.sh - compare-and-set against Cloudflare's runtime (scripts/d1-server):
# a change applied to D1 carries the row smg-diff read ("was"), and smg-apply
# writes it only if D1 still holds that row (or already holds the result).
# Rows written on D1 between diff and apply are left as they are, counted,
# exit 6; the rest lands.  Last, writers keep writing D1 and the local file
# while smugglr sync runs in a loop, each sync meeting a write between its
# diff and its apply (the test hook; push and pull too): no write may be
# lost.
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

# ---- live writers on D1 ---------------------------------------------------------
# Writers write D1 (through its test endpoint) and the local file, a
# strictly growing clock as each row's updated_at and value; smugglr sync
# (newer_wins) runs meanwhile.  Each row must end with its newest write.
# The race is made certain, not left to chance: before each sync the local
# file gets a newer row 9, and the sync's test hook
# (SMUGGLR_TEST_HOOK_BEFORE_APPLY, smugglr(1)) writes a newer row 9 still
# into D1 between the diff and the apply: every sync meets a conflict in its
# first round and diffs again.
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
# The hook, run by smugglr: sh race.sh d1|local ROW CLOCK writes ROW at
# CLOCK on D1 or in the local file, and logs it (writes.log, hooks.log)
# once it landed.
cat >race.sh <<EOF
where=\$1 row=\$2 clock=\$3
sql="UPDATE hot SET v=\$clock, updated_at=\$clock WHERE id=\$row"
if [ "\$where" = d1 ]; then
	printf '%s' "\$sql" | jq -Rs '{sql: .}' | curl -sS -o /dev/null -w '%{http_code}' \\
		-X POST --data-binary @- "$D1_URL/__test/sql" | grep -q '^200\$' || exit 0
else
	sqlite3 -cmd '.timeout 30000' "$T/live.db" "\$sql" || exit 0
fi
echo "\$row \$clock" >>"$T/writes.log"
echo "\$where \$row \$clock" >>"$T/hooks.log"
EOF
: >hooks.log
# race VERB ROW CLOCK WHERE: smugglr VERB, its hook writing ROW at CLOCK
# on WHERE (d1|local) between the diff and the apply; the report in s.json
race() {
	env SMUGGLR_TEST_HOOK_BEFORE_APPLY="sh '$T/race.sh' $4 $2 $3" \
		sh "$SMG_TOP/bin/smugglr" -c live.toml -o json "$1" >s.json 2>s.err
}
local_write() {	# ROW CLOCK
	sqlite3 -cmd '.timeout 30000' live.db "UPDATE hot SET v=$2, updated_at=$2 WHERE id=$1" &&
		echo "$1 $2" >>writes.log
}
# Each writer has clocks of its own residue mod 4, so all clocks differ
# (row 9's are 3 mod 4); two write D1, one the local file.
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
conflicts=0 rounds=0 gave_up=0 failed=0 unraced=0 i=0
while [ $i -lt 8 ]; do
	i=$((i + 1))
	clock=$((1900000000 + 8 * i + 3))
	local_write 9 $clock
	race sync 9 $((clock + 4)) d1
	case $? in
	0) rounds=$((rounds + $(jq '.rounds // 1' s.json)))
	   c=$(jq '.conflicts_retried // 0' s.json)
	   conflicts=$((conflicts + c))
	   [ "$c" -gt 0 ] || unraced=$((unraced + 1)) ;;
	6) gave_up=$((gave_up + 1)) ;;
	*) failed=$((failed + 1)); sed 's/^/    /' s.err | tail -3 ;;
	esac
done
touch stop
wait $w0 $w1 $w2
check_eq "the hook wrote D1 between the diff and the apply of each of the 8 syncs" \
	"$(grep -c '^d1 9 ' hooks.log)" 8
check_eq "... and every sync that ended met a conflict in its first round" "$unraced" 0

# push and pull run the hook too: a write on the destination between the
# diff and the apply is a conflict; the next round keeps it (newer).
local_write 10 1910000003
race push 10 1910000007 d1
check_eq "push with a D1 write between its diff and its apply: exit 0, 2 rounds, 1 conflict" \
	"$? $(jq -c '[.rounds, .conflicts_retried]' s.json)" "0 [2,1]"
check_eq "... D1 keeps that write" "$(sqlite3 "$D1_SQLITE" 'SELECT v FROM hot WHERE id=10')" 1910000007
d1sql "UPDATE hot SET v=1910000011, updated_at=1910000011 WHERE id=11" && echo "11 1910000011" >>writes.log
race pull 11 1910000015 local
check_eq "pull with a local write between its diff and its apply: exit 0, 2 rounds, 1 conflict" \
	"$? $(jq -c '[.rounds, .conflicts_retried]' s.json)" "0 [2,1]"
check_eq "... the local file keeps that write" "$(sqlite3 live.db 'SELECT v FROM hot WHERE id=11')" 1910000015

check_exit 0 "a last sync with the writers stopped: exit 0" smugglr -c live.toml sync
check_same_table "... D1 equals the local file (sqldiff)" live.db "$D1_SQLITE" hot
check_eq "no sync failed other than by giving up on conflicts" "$failed" 0
check_no_lost_writes writes.log live.db hot
