# cas.sh - compare-and-set: a change record says what the diff saw on the
# side it writes ("expect"), and smg-apply writes nothing when a row changed
# in between (exit 6, the rows named); a change already made is not a
# conflict; a stream without "expect" still applies and says so; smugglr
# diffs again a bounded number of times.  Last, a live writer keeps writing
# both databases while smugglr sync runs in a loop: no write may be lost.
# Needs sqlite3, sqldiff, jq, python3.
. ./lib.sh
need_tools "the compare-and-set tests" sqlite3 sqldiff jq python3

schema='CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);'
sqlite3 a.db "$schema
INSERT INTO items VALUES (1,'a new','2026-02-01'),(3,'c','2026-01-02'),(4,'d','2026-01-01'),(5,'e','2026-01-01'),
 (6,'f new','2026-02-01');"
sqlite3 b.db "$schema
INSERT INTO items VALUES (1,'a old','2025-01-01'),(2,'b','2026-01-01'),(5,'e old','2025-01-01'),
 (6,'f old','2025-01-01');"

smg-diff -q -d push --delete a.db b.db >changes
check_eq "every change says what the diff saw on the destination" \
	"$(grep '"kind":"change"' changes | jq -c '[.key[0], .op, .expect]' | sed 's/"[0-9a-f]\{64\}"/HASH/')" \
'[1,"upsert",HASH]
[2,"delete",HASH]
[3,"upsert",null]
[4,"upsert",null]
[5,"upsert",HASH]
[6,"upsert",HASH]'
check_eq "expect holds the hash smg-hash gives the destination row" \
	"$(jq -r 'select(.kind=="change" and .key[0]==1) | .expect' changes)" \
	"$(smg-hash -q b.db | jq -r 'select(.kind=="row" and .key[0]==1) | .hash')"

# Between diff and apply, the app writes the destination: row 1 changed,
# row 2 deleted, row 3 inserted, row 6 deleted.  Row 4 is untouched; row 5
# already holds what the change would write.
sqlite3 b.db "UPDATE items SET name='app wrote this', updated_at='2026-03-01' WHERE id=1;
DELETE FROM items WHERE id=2; INSERT INTO items VALUES (3,'app inserted','2026-03-01');
UPDATE items SET name='e', updated_at='2026-01-01' WHERE id=5; DELETE FROM items WHERE id=6;"
cp b.db b-before.db
check_exit 6 "smg-apply: rows changed since the diff: exit 6" smg-apply -q -i changes b.db
check_same_db "... and nothing was written (sqldiff)" b-before.db b.db
check_grep "... it names the changed row" 'conflict: table "items", key \[1\]: the diff saw a row, now it holds other values' .err
check_grep "... and the inserted one" 'key \[3\]: the diff saw no row, now there is one' .err
check_nogrep "... a row deleted that the change deletes anyway is no conflict" 'key \[2\]' .err
check_nogrep "... nor a row that already holds what the change writes" 'key \[5\]' .err
check_grep "... and the row deleted under an update" 'key \[6\]: the diff saw a row, now it is deleted' .err
check_grep "... and says nothing was written" '3 rows changed since the diff: nothing written' .err
check_eq "the text report says so" "$(cat .out)" \
	"b.db: 3 conflicts: rows were changed since the diff; nothing written"

smg-apply -q -r json -i changes b.db >json.out 2>/dev/null
check_eq "JSON: the conflicts, each row with what the diff saw and what is there" \
	"$(jq -c '[.conflicts, .conflict_rows, .tables[0].conflicts]' json.out)" \
	'[3,[{"table":"items","key":[1],"op":"upsert","expected":"row","found":"changed"},{"table":"items","key":[3],"op":"upsert","expected":"absent","found":"row"},{"table":"items","key":[6],"op":"upsert","expected":"row","found":"absent"}],3]'
check_exit 6 "--dry-run finds the same conflicts: exit 6" smg-apply -q -n -i changes b.db
check_same_db "... and writes nothing" b-before.db b.db

# A fresh diff sees the app's writes; its stream applies.
smg-diff -q -d push --delete a.db b.db >changes2
check_exit 0 "a fresh diff applies: exit 0" smg-apply -q -i changes2 b.db
check_same_db "... and the target equals the source (sqldiff)" a.db b.db
check_exit 0 "the same stream again: everything is already there, exit 0" smg-apply -q -i changes2 b.db
check_eq "... nothing is counted as written" "$(cat .out)" "b.db: wrote 0 upserts and 0 deletes in 0 tables"

# A stream from an older smg-diff has no "expect": applied as before, said.
cp b-before.db b.db
sed 's/,"expect":\(null\|"[0-9a-f]*"\)//' changes >old-changes
check_nogrep "(the old stream has no expect)" '"expect"' old-changes
check_exit 0 "a stream without expect applies unconditionally: exit 0" smg-apply -q -i old-changes b.db
check_grep "... and says the changes were not checked" 'changes without "expect".*written without checking' .err
check_eq "... JSON counts them as unchecked" \
	"$(cp b-before.db b.db; smg-apply -q -r json -i old-changes b.db 2>/dev/null | jq .unchecked)" 6

# Malformed expectations are errors, nothing written.
cp b-before.db b.db
sed '0,/"expect":"[0-9a-f]*"/s//"expect":"abc"/' changes >bad1
check_exit 7 "expect that is not a hash: exit 7" smg-apply -q -i bad1 b.db
check_grep "... saying what expect must be" '"expect" must be null or a row hash' .err
sed 's/"op":"delete","to":"remote","key":\[2\],"expect":"[0-9a-f]*"/"op":"delete","to":"remote","key":[2],"expect":null/' changes >bad2
check_exit 7 "a delete that expects no row: exit 7" smg-apply -q -i bad2 b.db
sed 's/"expect":null/"expect":null,"expect":null/' changes >bad3
check_exit 7 "expect twice in one record: exit 7" smg-apply -q -i bad3 b.db
check_grep "... naming the member" 'expect' .err
check_same_db "after the bad streams the target is unchanged" b-before.db b.db

# The porcelain: a conflict means another round, and -o json says how many.
mkdir p && cd p || exit 1
sqlite3 local.db "$schema
INSERT INTO items VALUES (1,'l1','2026-01-05'),(2,'l2','2026-01-05');"
sqlite3 remote.db "$schema
INSERT INTO items VALUES (1,'r1','2026-01-01'),(3,'r3','2026-01-01');"
cat >config.toml <<'EOF'
local_db = "local.db"
[sync]
conflict_resolution = "newer_wins"
[target]
type = "sqlite"
path = "remote.db"
EOF
run_json() { smugglr -o json sync >sync.json 2>sync.err; echo $?; }
check_eq "a sync without interference: one round" \
	"$(run_json) $(jq -c '[.rounds, .conflicts_retried]' sync.json)" "0 [1,0]"
check_same_db "... both sides equal" local.db remote.db
cd ..

# ---- a live writer -----------------------------------------------------------
# writer.py writes both databases as an app would: random rows of a small
# hot set, each write stamped with a clock that only goes forward, every
# write logged.  smugglr sync (newer_wins) runs in a loop meanwhile.  After
# a last quiet sync, each row must hold the newest write made to it on
# either side: a write lost to an apply that overwrote it would show.
mkdir live && cd live || exit 1
python3 - <<'EOF'
import sqlite3
for name in ("local.db", "remote.db"):
    db = sqlite3.connect(name)
    db.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, v INTEGER, pad TEXT, updated_at INTEGER)")
    db.executemany("INSERT INTO items VALUES (?,0,?,1700000000)",
                   [(i, "x" * 200) for i in range(1, 10001)])
    db.commit()
EOF
cat >config.toml <<'EOF'
local_db = "local.db"
[sync]
conflict_resolution = "newer_wins"
timestamp_column = "updated_at"
[target]
type = "sqlite"
path = "remote.db"
EOF
cat >writer.py <<'EOF'
import os, random, sqlite3, sys, time
dbs = [sqlite3.connect(n, timeout=30, isolation_level=None) for n in ("local.db", "remote.db")]
clock = 1800000000
log = open("writes.log", "w")
while not os.path.exists("stop"):
    side = random.randrange(2)
    row = random.randrange(1, 31)
    clock += 1
    dbs[side].execute("UPDATE items SET v=?, updated_at=? WHERE id=?", (clock, clock, row))
    log.write("%d %d %d\n" % (side, row, clock))
    log.flush()
    time.sleep(0.002)
EOF
smugglr sync >/dev/null 2>&1
python3 writer.py &
writer=$!
rounds=0 gave_up=0 failed=0 conflicts=0
i=0
# (more rounds, up to 30, until the race has shown at least once)
while [ $i -lt 12 ] || { [ $i -lt 30 ] && [ $((conflicts + gave_up)) -eq 0 ]; }; do
	smugglr -o json sync >s.json 2>s.err
	rc=$?
	if [ $rc -eq 0 ]; then
		r=$(jq ".rounds // 1" s.json) c=$(jq ".conflicts_retried // 0" s.json)
		rounds=$((rounds + r)) conflicts=$((conflicts + c))
	elif [ $rc -eq 6 ]; then
		gave_up=$((gave_up + 1))
	else
		failed=$((failed + 1)); sed 's/^/    /' s.err | tail -3
	fi
	i=$((i + 1))
done
touch stop
wait $writer
check_exit 0 "a last sync with the writer stopped: exit 0" smugglr sync
check_same_db "... both sides equal (sqldiff)" local.db remote.db
check_eq "no sync failed other than by a conflict it gave up on" "$failed" 0
lost=$(sort -k2,2n -k3,3n writes.log | awk '{ last[$2] = $3 } END { for (r in last) print r, last[r] }' |
	while read -r row want; do
		got=$(sqlite3 remote.db "SELECT v FROM items WHERE id=$row")
		[ "$got" = "$want" ] || echo "row $row holds $got, the newest write was $want"
	done)
check_eq "every row holds its newest write: no write was lost" "$lost" ""
echo "# $(wc -l <writes.log) writes; $conflicts conflicts detected and retried over $rounds rounds; $gave_up syncs gave up after $((5)) rounds"
check_eq "conflicts were detected while the writer ran (the race was real)" \
	"$([ $((conflicts + gave_up)) -gt 0 ] && echo yes)" yes
