# tombstones.sh - deletes that travel both ways (smugglr track, issue #14):
# three SQLite-file machines delete, edit and insert rows of a tracked
# table between syncs; after the rounds every copy is the same (sqldiff,
# the tombstones included), no deleted row came back, an edit newer than a
# delete wins under newer_wins and a delete newer than an edit wins; the
# policies local_wins/remote_wins decide a delete against an edit; an
# untracked table behaves as before (a delete comes back); the horizon;
# and bad input (a table without a key, a damaged tombstone table, a
# tombstone with a bad key in a stream) is refused with its exit code and
# nothing written.  Needs sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/tomb-lib.sh"
need_tools "tombstones.sh" sqlite3 sqldiff
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }

pair() {	# CONFIG LOCAL TARGET [POLICY]
	cat >"$1" <<EOF
local_db = "$2"
[target]
type = "sqlite"
path = "$3"
[sync]
conflict_resolution = "${4:-newer_wins}"
EOF
}


sq m1.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
	CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
	INSERT INTO items SELECT i, 'r' || i, $OLD FROM n;
	INSERT INTO plain VALUES (1, 'a'), (2, 'b');"
cp m1.db m2.db
cp m1.db m3.db
pair c12.toml m1.db m2.db
pair c23.toml m2.db m3.db
sync_all() {
	for c in c12 c23 c12; do
		smugglr -c $c.toml sync >>sync.out 2>>sync.err || { fail "sync $c"; cat sync.err; }
	done
}

check_exit 0 "track: the local database and the target" smugglr -c c12.toml track -t items
check_grep "track says which tables of which database" "m2.db: track: items" .out
check_exit 0 "track on the second pair (m2 again: idempotent)" smugglr -c c23.toml track -t items
check_eq "the triggers are in m3" \
	"$(sq m3.db "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type='trigger' ORDER BY name)")" \
	"_smugglr_del_items _smugglr_ins_items _smugglr_logd_items _smugglr_logi_items _smugglr_logt_d _smugglr_logt_i _smugglr_logt_u _smugglr_logu_items _smugglr_upd_items"
smugglr -c c12.toml status >status.out 2>&1
check_nogrep "the tombstone table is not listed as a table to sync" _smugglr_tombstones status.out

# ---- round 1: each machine deletes, edits and inserts ----------------------
tomb_round1
sync_all
check_same_db "round 1: m1 = m2 (rows and tombstones)" m1.db m2.db
check_same_db "round 1: m2 = m3" m2.db m3.db
check_eq "round 1: deletes travelled, edits and inserts too" "$(names m3.db)" \
	"3=e3 5=e5 7=e7 8=r8 9=r9 10=r10 11=n11 12=n12 13=n13"
check_eq "round 1: every copy holds the four tombstones" \
	"$(sq m1.db "SELECT group_concat(key, ' ') FROM (SELECT key FROM _smugglr_tombstones ORDER BY key)")" \
	"[1] [2] [4] [6]"
check_eq "round 1: the untracked table behaves as before: the deleted row came back" \
	"$(sq m1.db "SELECT count(*) FROM plain")" 2
t1=$(sq m1.db "SELECT deleted_at FROM _smugglr_tombstones WHERE key='[1]'")
check_eq "a tombstone keeps the time of the delete on every copy" \
	"$(sq m3.db "SELECT deleted_at FROM _smugglr_tombstones WHERE key='[1]'")" "$t1"

# ---- round 2: deletes against edits ----------------------------------------
tomb_round2
sq m2.db "DELETE FROM items WHERE id=13"
sync_all
check_same_db "round 2: m1 = m2" m1.db m2.db
check_same_db "round 2: m2 = m3" m2.db m3.db
check_eq "round 2: an edit newer than a delete wins, a delete newer than an edit wins" \
	"$(names m1.db)" "1=again1 3=e3 5=e5 7=e7 8=late8 11=n11 12=n12"
check_eq "round 2: no deleted row came back, and the reborn key has no tombstone" \
	"$(sq m2.db "SELECT group_concat(key, ' ') FROM (SELECT key FROM _smugglr_tombstones ORDER BY key)")" \
	"[10] [13] [2] [4] [6] [9]"
check_eq "two deletes of one row agree on the later time" \
	"$(sq m2.db "SELECT deleted_at FROM _smugglr_tombstones WHERE key='[10]'")" \
	"$(sq m3.db "SELECT deleted_at FROM _smugglr_tombstones WHERE key='[10]'")"
smugglr -c c12.toml sync >again.out 2>&1
check_grep "a third sync has nothing left to write" "wrote 0 upserts and 0 deletes" again.out

# ---- policies ----------------------------------------------------------------
sq m1.db "DELETE FROM items WHERE id=3"; tick
sq m2.db "UPDATE items SET name='newer3', updated_at=$NOW WHERE id=3"
pair lw.toml m1.db m2.db local_wins
check_exit 0 "local_wins: sync" smugglr -c lw.toml sync
check_eq "local_wins: the local delete beats a newer remote edit" \
	"$(sq m2.db "SELECT count(*) FROM items WHERE id=3")" 0
check_same_db "local_wins: m1 = m2" m1.db m2.db
sq m1.db "UPDATE items SET name='newer5', updated_at=$NOW WHERE id=5"; tick
sq m2.db "DELETE FROM items WHERE id=5"
check_exit 0 "local_wins: sync" smugglr -c lw.toml sync
check_eq "local_wins: a local edit beats a newer remote delete" \
	"$(sq m2.db "SELECT name FROM items WHERE id=5")" newer5
sq m1.db "DELETE FROM items WHERE id=7"
pair rw.toml m1.db m2.db remote_wins
sq m2.db "UPDATE items SET name='old7', updated_at='2026-02-01T00:00:00Z' WHERE id=7"
check_exit 0 "remote_wins: sync" smugglr -c rw.toml sync
check_eq "remote_wins: an older remote edit beats the local delete" \
	"$(sq m1.db "SELECT name FROM items WHERE id=7")" old7
check_same_db "remote_wins: m1 = m2" m1.db m2.db
check_exit 0 "push/pull carry tombstones one way: sync m2 and m3" smugglr -c c23.toml sync
check_same_db "and m3 follows" m2.db m3.db

# ---- the horizon --------------------------------------------------------------
cat c12.toml >h.toml
echo "tombstone_horizon_days = 30" >>h.toml
sq m1.db "INSERT INTO _smugglr_tombstones VALUES ('items', '[99]', '2020-01-01T00:00:00Z')"
sq m2.db "INSERT INTO items VALUES (98, 'kept98', $OLD); DELETE FROM items WHERE id=98;
	UPDATE _smugglr_tombstones SET deleted_at='2020-01-01T00:00:00Z' WHERE key='[98]';
	INSERT INTO items VALUES (97, 'r97', $OLD)"
sq m1.db "INSERT INTO items VALUES (97, 'r97', $OLD); DELETE FROM items WHERE id=97;
	UPDATE _smugglr_tombstones SET deleted_at='2020-01-01T00:00:00Z' WHERE key='[97]'"
check_exit 0 "horizon: sync" smugglr -c h.toml sync
check_eq "a tombstone past the horizon is pruned" \
	"$(sq m1.db "SELECT count(*) FROM _smugglr_tombstones WHERE key IN ('[99]', '[98]')")$(sq m2.db "SELECT count(*) FROM _smugglr_tombstones WHERE key='[98]'")" 00
check_eq "a delete older than the horizon is forgotten: the row comes back (the documented cost)" \
	"$(sq m1.db "SELECT name FROM items WHERE id=97")" r97
check_same_db "horizon: m1 = m2" m1.db m2.db

# ---- bad input ------------------------------------------------------------------
sq nokey.db "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2)"
cp nokey.db nokey2.db
pair nokey.toml nokey.db nokey2.db
before=$(sum_file nokey.db)$(sum_file nokey2.db)
check_exit 2 "tracking a table without a primary key: exit 2" smg-apply --track -t t nokey.db
check_grep "it names the table and says why it cannot be tracked" \
	'nokey.db: table "t" cannot be tracked: no primary key (its tombstones are kept by key)' .err
check_exit 2 "smugglr track of it: exit 2" smugglr -c nokey.toml track -t t
check_grep "... saying so too" 'table "t" cannot be tracked: no primary key' .err
check_exit 2 "syncing it still says it cannot be synced: exit 2" smg-hash -t t nokey.db
check_grep "... and why a key matters there" \
	'table "t" cannot be synced: no primary key (smugglr matches rows by primary key)' .err
check_eq "and nothing is written on either side" "$(sum_file nokey.db)$(sum_file nokey2.db)" "$before"
check_exit 2 "the tombstone table itself cannot be tracked: exit 2" smg-apply --track -t _smugglr_tombstones m1.db

cp m1.db bad.db
sq bad.db "INSERT INTO _smugglr_tombstones VALUES ('items', 'not json', $NOW)"
pair bad.toml bad.db m2.db
before=$(sum_file m2.db)
check_exit 7 "a damaged tombstone table: smg-hash exits 7" smg-hash bad.db
check_grep "naming the table and the tombstone" 'table "items": tombstone not json in _smugglr_tombstones is damaged' .err
check_exit 7 "a damaged tombstone table: sync exits 7" smugglr -c bad.toml sync
check_eq "and writes nothing on the other side" "$(sum_file m2.db)" "$before"
cp m1.db bad.db
sq bad.db "INSERT INTO _smugglr_tombstones VALUES ('items', '[5]', $NOW)"	# row 5 is there
check_exit 7 "a tombstone beside a live row of its key: exit 7" smg-hash bad.db
check_grep "it says so" "the table has a row with that key too" .err

smg-hash m1.db >m1.stream
sed 's/"kind":"tombstone","table":"items","key":\[2\]/"kind":"tombstone","table":"items","key":["x",2]/' m1.stream >badkey.stream
check_exit 7 "a tombstone record with a bad key in a stream: smg-diff exits 7" smg-diff -d sync badkey.stream m2.db
check_grep "naming the line" 'badkey.stream:[0-9]*: .*key has the wrong number of values' .err
sed 's/"tracked":true//' m1.stream >untracked.stream
check_exit 7 "a tombstone in a table the stream does not say is tracked: exit 7" smg-diff -d sync untracked.stream m2.db
sed 's/\("kind":"tombstone","table":"items","key":\[2\]\),"ts":"[^"]*"/\1,"ts":"yesterday"/' m1.stream >badts.stream
check_exit 7 "a tombstone whose time is no time: exit 7" smg-diff -d sync badts.stream m2.db

check_exit 2 "the tombstone table named as a table to sync: exit 2" smugglr -c c12.toml -t _smugglr_tombstones status
check_grep "saying what it is" "holds the tombstones of tracked tables" .err
{
	smg-hash --schema-only m2.db | head -n 1
	echo '{"kind":"change","table":"items","bucket":"local_newer","op":"tombstone","to":"remote","key":[5,5],"expect":null,"ts":"2026-11-01T00:00:00Z"}'
	echo '{"kind":"end","records":2}'
} >badkey.changes
before=$(sum_file m2.db)
check_exit 7 "a tombstone change with a bad key: smg-apply exits 7" smg-apply -i badkey.changes m2.db
check_grep "naming the line" 'badkey.changes:2: .*key has the wrong number of values' .err
check_eq "and writes nothing" "$(sum_file m2.db)" "$before"

# a tombstone change into a database that does not track the table
sq plain1.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT); INSERT INTO items VALUES (1, 'x', $OLD)"
cp plain1.db plain2.db
smg-apply --track plain1.db >/dev/null
sq plain1.db "DELETE FROM items"
cat >changes.stream <<EOF
$(smg-hash --schema-only plain1.db | head -n 1)
{"kind":"change","table":"items","bucket":"local_newer","op":"tombstone","to":"remote","key":[2],"expect":null,"ts":"2026-11-01T00:00:00Z"}
{"kind":"end","records":2}
EOF
before=$(sum_file plain2.db)
check_exit 2 "a tombstone for a table the database does not track: smg-apply exits 2" smg-apply -i changes.stream plain2.db
check_grep "saying to track it" 'is not tracked, so it cannot take a tombstone' .err
check_eq "and writes nothing" "$(sum_file plain2.db)" "$before"
smugglr_sync_one_sided() { pair one.toml plain1.db plain2.db; smugglr -c one.toml sync; }
check_exit 0 "a table tracked on one side only: sync works as before" smugglr_sync_one_sided
check_grep "with a word that its deletes do not travel" 'tracked in plain1.db only' .err
check_eq "and the row comes back, as for an untracked table" "$(sq plain1.db "SELECT count(*) FROM items")" 1

check_exit 0 "untrack" smugglr -c c12.toml untrack -t items
check_eq "untrack removes the triggers and the tombstone table" \
	"$(sq m1.db "SELECT count(*) FROM sqlite_schema WHERE name LIKE '%smugglr%'")" 0
