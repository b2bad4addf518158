# relay-cases.sh - the relay verbs of smugglr (stash, retrieve, snapshot,
# snapshots, restore) against one relay, sourced by t/relay.sh (file://)
# and t/relay-s3.sh (moto_server).  The caller sets RELAY (the URL of a
# directory: file:///abs/dir or s3://bucket/prefix) and STASH_EXTRA (more
# [stash] lines, e.g. the endpoint), and has sourced lib.sh.
# sqldiff is the oracle; sqlite3 makes and inspects the databases.
# The relay is a log (smugglr-relay(7)); what it holds is read back with
# relay_state, a retrieve into a fresh database with a cache of its own.
# Every smugglr here keeps its cache of the relay under $T.
XDG_CACHE_HOME=$T/cache
export XDG_CACHE_HOME
unset SMUGGLR_CACHE_DIR

schema='CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty REAL, data BLOB, updated_at TEXT);
CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT, updated_at TEXT);
CREATE TABLE tags(id INTEGER PRIMARY KEY, tag TEXT);'

# cfg NAME DB [KEY] [EXTRA]: NAME.toml syncing DB through $RELAY/KEY
cfg() {
	cat >"$1.toml" <<EOF
local_db = "$2"
[sync]
conflict_resolution = "newer_wins"
[stash]
url = "$RELAY/${3:-relay.db}"
$STASH_EXTRA
${4:-}
EOF
}
mkdb() { sqlite3 "$1" "$schema"; }
watcher=
relay_cleanup() { [ -n "$watcher" ] && kill "$watcher" 2>/dev/null; :; }
sm() { m=$1; shift; smugglr -c "$m.toml" "$@"; }
# the relay object (or any object beside it) as a file
fetch() { smg-s3 -c a.toml get "$RELAY/$1" "$2"; }
etag_of() { smg-s3 -c a.toml head "$RELAY/$1" 2>/dev/null | cut -f3; }
rows() { sqlite3 "$1" "SELECT count(*) FROM $2"; }
# relay_state DB [KEY]: DB (made anew) holds what the relay KEY holds
relay_state() {
	rm -f "$1"; : >"$1"
	cfg "$1.state" "$1" "${2:-relay.db}"
	XDG_CACHE_HOME=$T/cache-state smugglr -c "$1.state.toml" --create-tables retrieve >/dev/null 2>&1
}
# what the relay is now: its manifest and the names in its log
relay_now() { { fetch relay.db.log/manifest - 2>/dev/null; smg-s3 -c a.toml list "$RELAY/relay.db.log/" | cut -f1; } | sum_file -; }

mkdb a.db; cfg a a.db
mkdb b.db; cfg b b.db

# ---- first stash, retrieve, round trips ------------------------------------
sqlite3 a.db "INSERT INTO items VALUES
 (1, 'bolt', 0.1, X'00FF', '2026-01-01T00:00:00Z'), (2, 'nut', 2.5, NULL, '2026-01-01T00:00:00Z'),
 (3, 'say \"hi\"', -1e300, zeroblob(3000), '2026-01-02T00:00:00Z');
 INSERT INTO notes VALUES ('n1', 'first', '2026-01-01T00:00:00Z');"
check_exit 3 "retrieve before any stash: exit 3" sm a retrieve
check_grep "retrieve before any stash: says so" 'nothing has been stashed there yet' "$T/.err"
check "first stash (no relay yet)" sm a -o json stash
check_grep "first stash: uploaded at the first attempt" '"attempts":1,"uploaded":true' "$T/.out"
check "the relay's manifest is there" fetch relay.db.log/manifest manifest1
check_grep "...and names the base" '^base base-0000000000-[0-9a-f]*$' manifest1
check "the relay object is a marker for older smugglr" fetch relay.db marker1
check_grep "...which says where the relay went" '^smugglr-relay-moved 1$' marker1
relay_state relay1.db
check_same_table "the relay has local's items (sqldiff)" a.db relay1.db items
check_same_table "the relay has local's notes (sqldiff)" a.db relay1.db notes
check_eq "the relay got the empty table too" "$(rows relay1.db tags)" 0
check "retrieve into a second database" sm b retrieve
check_same_db "a and b agree after stash + retrieve (sqldiff)" a.db b.db

sqlite3 b.db "INSERT INTO items VALUES (4, 'washer', 3.0, X'01', '2026-01-03T00:00:00Z');
 UPDATE items SET name = 'bolt M6', updated_at = '2026-01-04T00:00:00Z' WHERE id = 1;
 INSERT INTO tags VALUES (1, 'hardware');"
check "b stashes an insert and an update" sm b stash
check_grep "b's stash: text report names the relay" "vs $RELAY/relay.db (remote)" "$T/.out"
check_grep "b's stash: says where" "^stashed to $RELAY/relay.db" "$T/.out"
check "a retrieves them" sm a retrieve
check_same_db "a and b agree again (sqldiff)" a.db b.db

# a database without the tables: refused, unless they are to be created
sqlite3 bare.db "PRAGMA user_version = 1"
cfg bare bare.db
check_exit 3 "retrieve into a database without the tables: exit 3" sm bare retrieve
check "retrieve --create-tables" sm bare --create-tables retrieve
check_same_db "...creates them, rows and all (sqldiff)" bare.db b.db
check_exit 2 "stash --create-tables: exit 2 (the relay always gets them)" sm a --create-tables stash

e1=$(relay_now)
check "stash with nothing new" sm a -o json stash
check_grep "nothing new: nothing uploaded" '"uploaded":false' "$T/.out"
check_eq "nothing new: the relay is the same" "$(relay_now)" "$e1"

# ---- dry runs ------------------------------------------------------------------
sqlite3 a.db "INSERT INTO items VALUES (5, 'dry', 1.0, NULL, '2026-01-05T00:00:00Z')"
check "stash --dry-run" sm a -n -o json stash
check_grep "stash --dry-run: says what it would write" '"dry_run":true.*"upserted":1' "$T/.out"
check_eq "stash --dry-run uploads nothing" "$(relay_now)" "$e1"
sm a stash >/dev/null 2>&1
sum_b=$(sum_file b.db)
check "retrieve --dry-run" sm b -n -o json retrieve
check_grep "retrieve --dry-run: says what it would write" '"apply":{"target":"b.db","dry_run":true,.*"upserted":1,"deleted":0,[^{]*}}$' "$T/.out"
check_eq "retrieve --dry-run writes nothing" "$(sum_file b.db)" "$sum_b"

# ---- --table, conflict_resolution with the relay as the remote side ----------
sqlite3 a.db "INSERT INTO items VALUES (7, 'only items', 1.0, NULL, '2026-01-07T00:00:00Z');
 INSERT INTO notes VALUES ('n7', 'not stashed', '2026-01-07T00:00:00Z')"
check "stash -t items" sm a -t items stash
relay_state relay2.db
check_eq "stash -t items: the items row is in the relay" "$(sqlite3 relay2.db "SELECT name FROM items WHERE id = 7")" "only items"
check_eq "stash -t items: the notes row is not" "$(sqlite3 relay2.db "SELECT count(*) FROM notes WHERE k = 'n7'")" 0
check "a stashes the rest" sm a stash
check "b retrieves" sm b retrieve
check_same_db "a and b agree (sqldiff)" a.db b.db

# newer_wins: an older local row does not replace a newer relay row...
sqlite3 b.db "UPDATE items SET name = 'newer', updated_at = '2026-02-01T00:00:00Z' WHERE id = 2"
sm b stash >/dev/null 2>&1
sqlite3 a.db "UPDATE items SET name = 'older', updated_at = '2026-01-15T00:00:00Z' WHERE id = 2"
check "newer_wins: a stashes an older version" sm a stash
relay_state relay3.db
check_eq "newer_wins: the relay keeps the newer row" "$(sqlite3 relay3.db "SELECT name FROM items WHERE id = 2")" newer
check "newer_wins: retrieve brings the newer row" sm a retrieve
check_eq "newer_wins: local now has it" "$(sqlite3 a.db "SELECT name FROM items WHERE id = 2")" newer
# ...unless the policy says local wins
sqlite3 a.db "UPDATE items SET name = 'mine', updated_at = '2026-01-16T00:00:00Z' WHERE id = 2"
check "-p local_wins stash" sm a -p local_wins stash
relay_state relay4.db
check_eq "local_wins: the relay takes the local row" "$(sqlite3 relay4.db "SELECT name FROM items WHERE id = 2")" mine

# ---- a relay object that is not a SQLite database ----------------------------
cfg bad a.db bad.db
printf 'this is not a database\n' >garbage
smg-s3 -c a.toml put "$RELAY/bad.db" garbage 2>/dev/null
sum_a=$(sum_file a.db)
check_exit 7 "retrieve from a relay that is not SQLite: exit 7" sm bad retrieve
check_grep "it says so" "the relay $RELAY/bad.db: not a SQLite database; nothing was changed" "$T/.err"
check_eq "the local database is untouched" "$(sum_file a.db)" "$sum_a"
ebad=$(etag_of bad.db)
check_exit 7 "stash onto a relay that is not SQLite: exit 7" sm bad stash
check_eq "the foreign object is not replaced" "$(etag_of bad.db)" "$ebad"
check_exit 7 "-o json: the error is one JSON object" sm bad -o json retrieve
check_grep "-o json error" '^{"command":"retrieve","error":".*not a SQLite database.*","exit_code":7}$' "$T/.out"

# ---- lost races ----------------------------------------------------------------
# hooked CODE CMD...: CMD, with stash running CODE (in its own shell) once,
# between its first fetch and its first upload
hooked() {
	SMUGGLR_TEST_HOOK_BEFORE_PUT=$1
	export SMUGGLR_TEST_HOOK_BEFORE_PUT
	shift
	"$@"
	unset SMUGGLR_TEST_HOOK_BEFORE_PUT
}
b_stashes='env -u SMUGGLR_TEST_HOOK_BEFORE_PUT smugglr -c b.toml stash >/dev/null 2>&1'

# Forced: between a's fetch and a's upload, b stashes.  a's segment is
# refused (412: b took its number), a applies b's, diffs again and lands.
sqlite3 a.db "INSERT INTO items VALUES (20, 'from a', 1.0, NULL, '2026-03-01T00:00:00Z')"
sqlite3 b.db "INSERT INTO items VALUES (21, 'from b', 1.0, NULL, '2026-03-01T00:00:00Z')"
hooked "$b_stashes" check "race: b stashes between a's fetch and a's upload" sm a -o json stash
check_grep "race: a's first upload lost, the second landed" '"attempts":2,"uploaded":true' "$T/.out"
relay_state relay5.db
check_eq "race: the relay has both rows" "$(sqlite3 relay5.db "SELECT group_concat(name, '+') FROM items WHERE id IN (20, 21)")" "from a+from b"

# A PUT retried after a 5xx may have landed and still answer 412: a's
# copy is uploaded behind its back; the next fetch finds nothing to do.
sqlite3 a.db "INSERT INTO items VALUES (22, 'landed', 1.0, NULL, '2026-03-02T00:00:00Z')"
hooked 's3 put "$(seg_url $((pos + 1)))" "$tmp/seg" 2>/dev/null' check "a 412 for a write that landed" sm a -o json stash
check_grep "it is not taken for a loss: nothing uploaded twice" '"attempts":2,"uploaded":false' "$T/.out"
relay_state relay6.db
check_eq "the row is in the relay" "$(sqlite3 relay6.db "SELECT name FROM items WHERE id = 22")" landed

cfg a1 a.db relay.db 'max_attempts = 1'
sqlite3 a.db "INSERT INTO items VALUES (23, 'a1', 1.0, NULL, '2026-03-03T00:00:00Z')"
sqlite3 b.db "INSERT INTO items VALUES (24, 'b1', 1.0, NULL, '2026-03-03T00:00:00Z')"
hooked "$b_stashes" check_exit 6 "max_attempts = 1 and a lost race: exit 6" sm a1 stash
check_grep "exit 6 says what happened" 'changed during each of 1 attempts to stash' "$T/.err"
check "the next stash lands" sm a stash

# Real races: two processes stash at the same moment, several times.
for m in c1 c2; do mkdb $m.db; cfg $m $m.db race.db; done
races=0
for round in 1 2 3; do
	for m in 1 2; do
		sqlite3 c$m.db "INSERT INTO items VALUES ($((1000 * m + 10 * round)), 'c$m r$round', 1.0, NULL, '2026-04-01T00:00:00Z'),
			($((1000 * m + 10 * round + 1)), 'c$m r$round b', 2.0, X'AA', '2026-04-01T00:00:00Z')"
	done
	rm -f go
	racers=
	for m in 1 2; do
		(while [ ! -e go ]; do sleep 0.01; done; smugglr -c c$m.toml -o json stash >race$m.out 2>race$m.err; echo $? >race$m.rc) &
		racers="$racers $!"
	done
	touch go
	wait $racers	# not moto_server
	check_eq "round $round: both concurrent stashes succeed" "$(cat race1.rc race2.rc | tr '\n' ' ')" "0 0 "
	grep -q '"attempts":[2-9]' race1.out race2.out && races=$((races + 1))
done
echo "# concurrent stashes: $races of 3 rounds had a lost race that was retried"
mkdb check.db; cfg check check.db race.db
sm check retrieve >/dev/null 2>&1
want=$( (sqlite3 c1.db "SELECT id, name FROM items"; sqlite3 c2.db "SELECT id, name FROM items") | sort)
check_eq "after 3 rounds of races the relay has all 12 rows of both" "$(sqlite3 check.db "SELECT id, name FROM items" | sort)" "$want"

# ---- snapshots -----------------------------------------------------------------
check "snapshots: none yet" sm a snapshots
check_grep "snapshots: none yet, says so" '^no snapshots under ' "$T/.out"
check "snapshot --dry-run" sm a -n snapshot
check_grep "snapshot --dry-run says what" '^dry run: would upload snapshot ' "$T/.out"
sm a snapshots >snaps0
check_grep "snapshot --dry-run uploads nothing" '^no snapshots' snaps0

# A consistent copy while another process writes (WAL): each transaction
# adds one row to items and one to notes, so the copy must hold as many
# new rows in one as in the other.
sqlite3 a.db "PRAGMA journal_mode=WAL" >/dev/null
base_i=$(rows a.db items) base_n=$(rows a.db notes)
awk 'BEGIN { print "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;"
	for (i = 0; i < 20000; i++)
		printf "BEGIN; INSERT INTO items(name, updated_at) VALUES (%d, \"2026-05-01T00:00:00Z\"); INSERT INTO notes VALUES (\"w%d\", \"w\", \"2026-05-01T00:00:00Z\"); COMMIT;\n", i, i }' >writer.sql
sqlite3 a.db <writer.sql >/dev/null 2>&1 &
writer=$!
sleep 0.2
check "snapshot under a concurrent writer (WAL)" sm a -o json snapshot
kill $writer 2>/dev/null
wait $writer
s1=$(sed -n 's/^{"command":"snapshot","dry_run":false,"snapshot":"\([0-9TZ]*\)".*/\1/p' "$T/.out")
check_eq "snapshot: named by its UTC time" "$(printf '%s' "$s1" | grep -c '^20[0-9]\{6\}T[0-9]\{6\}Z$')" 1
check "snapshot: the copy is there" fetch "snapshots/$s1.sqlite" snap1.db
check "snapshot: its metadata beside it" fetch "snapshots/$s1.json" snap1.json
check "snapshot: the copy passes PRAGMA integrity_check" smg-hash --integrity-check snap1.db
caught_i=$(($(rows snap1.db items) - base_i)) caught_n=$(($(rows snap1.db notes) - base_n))
echo "# the snapshot caught $caught_i of the writer's transactions"
check_eq "snapshot: a consistent copy (as many new items as new notes)" "$caught_i" "$caught_n"
check_grep "metadata: size and SHA-256 of the copy" "\"size\":$(wc -c <snap1.db | tr -d ' '),\"sha256\":\"$(sum_file snap1.db)\"" snap1.json
check_grep "metadata: rows per table" "\"tables\":{\"items\":$(rows snap1.db items),\"notes\":$(rows snap1.db notes),\"tags\":$(rows snap1.db tags)}}" snap1.json
cp snap1.db at-s1.db

sleep 1
sqlite3 a.db "DELETE FROM notes WHERE k LIKE 'w%'; INSERT INTO items VALUES (9030, 'after s1', 1.0, NULL, '2026-06-01T00:00:00Z')"
check "a second snapshot" sm a -o json snapshot
s2=$(sed -n 's/^{"command":"snapshot","dry_run":false,"snapshot":"\([0-9TZ]*\)".*/\1/p' "$T/.out")
fetch "snapshots/$s2.sqlite" at-s2.db 2>/dev/null
check "snapshots" sm a snapshots
check_eq "snapshots: newest first" "$(cut -d' ' -f1 "$T/.out" | tr '\n' ' ')" "$s2 $s1 "
check_grep "snapshots: time, size and URL" "^$s2  20..-..-..T..:..:..Z  *[0-9][0-9]*  $RELAY/snapshots/$s2.sqlite\$" "$T/.out"
check "snapshots -o json" sm a -o json snapshots
check_grep "snapshots -o json: one object, newest first" "^{\"command\":\"snapshots\",\"prefix\":\"$RELAY/snapshots/\",\"snapshots\":\\[{\"snapshot\":\"$s2\",.*},{\"snapshot\":\"$s1\",\"time\":\"" "$T/.out"

# ---- restore ---------------------------------------------------------------------
iso() { printf '%s\n' "$1" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\)Z$/\1-\2-\3 \4:\5:\6/'; }
sqlite3 a.db "INSERT INTO items VALUES (9031, 'after s2', 1.0, NULL, '2026-06-02T00:00:00Z')"
sqlite3 a.db ".backup before.db"
sum_a=$(sum_file a.db)
check "restore --dry-run" sm a -n restore "$s1"
check_grep "restore --dry-run says which snapshot" "^dry run: would restore snapshot $s1 " "$T/.out"
check_eq "restore --dry-run changes nothing" "$(sum_file a.db)" "$sum_a"
check_eq "restore --dry-run keeps nothing aside" "$(ls | grep -c 'before-restore')" 0

# refused while another smugglr holds the database (a watch)
cfg w a.db relay.db
printf '[target]\ntype = "sqlite"\npath = "wt.db"\n' >>w.toml
mkdb wt.db
smugglr -c w.toml watch --interval 30 >watch.out 2>&1 &
watcher=$!
i=0
while [ ! -s a.db.smugglr-lock/pid ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
check_exit 6 "restore while a watch holds the database: exit 6" sm a restore "$s1"
check_grep "refused: names the holder" "another smugglr (pid $watcher) holds a.db" "$T/.err"
check_eq "refused: the database is untouched" "$(sqlite3 a.db "SELECT count(*) FROM items WHERE id IN (9030, 9031)")" 2
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
watcher=
sqlite3 a.db ".backup before.db"

check "restore the exact snapshot" sm a restore "$s1"
check_same_db "restored: the database is the snapshot (sqldiff)" a.db at-s1.db
kept=$(ls | grep '^a\.db\.before-restore-' | head -n 1)
check_same_db "the replaced database is kept beside it (sqldiff)" "$kept" before.db
check_eq "no temporary file left beside it" "$(ls -a | grep -c -e '\.restore-' -e '\.smg-s3\.')" 0

s2m=$(date -u -d "@$(($(date -u -d "$(iso "$s2")" +%s) - 1))" +%Y-%m-%dT%H:%M:%SZ)
check "restore one second before the second snapshot" sm a -o json restore "$s2m"
check_grep "...takes the latest snapshot before that time" "\"snapshot\":\"$s1\"" "$T/.out"
check_same_db "...and the database is that snapshot" a.db at-s1.db
check "restore a later time" sm a restore "$(date -u -d "$(iso "$s2") + 1 day" +'%Y-%m-%d %H:%M')"
check_same_db "a later time: the newest snapshot before it" a.db at-s2.db
check "restore latest" sm a restore latest
check_same_db "latest: the newest snapshot" a.db at-s2.db
check_exit 3 "restore before the first snapshot: exit 3" sm a restore 2000-01-01
check_grep "...says so" 'no snapshot at or before 2000-01-01T00:00:00Z' "$T/.err"
check_exit 2 "restore of something that is not a time: exit 2" sm a restore yesterday

# into a database that does not exist yet
cfg fresh fresh.db
check "restore into a missing database" sm fresh restore "$s1"
check_same_db "...is the snapshot" fresh.db at-s1.db

# through a symbolic link: the file it names is replaced, the link stays
mkdir -p real
cp at-s2.db real/linked.db
ln -s real/linked.db link.db
cfg link link.db
check "restore into a database named by a symbolic link" sm link restore "$s1"
check_eq "...the link is still a link" "$([ -L link.db ] && readlink link.db)" real/linked.db
check_same_db "...and the file it names is the snapshot (sqldiff)" real/linked.db at-s1.db
check_eq "...the replaced one kept beside that file" "$(ls real | grep -c '^linked\.db\.before-restore-')" 1

# a damaged snapshot is refused, the local database untouched
fetch "snapshots/$s2.sqlite" dmg.db
printf 'XXXXXXXX' | dd of=dmg.db bs=1 seek=6000 conv=notrunc 2>/dev/null
smg-s3 -c a.toml put "$RELAY/snapshots/$s2.sqlite" dmg.db 2>/dev/null
sum_a=$(sum_file a.db)
check_exit 7 "restore of a damaged snapshot: exit 7" sm a restore "$s2"
check_grep "...says it does not match its metadata" "snapshot $s2 does not match its metadata" "$T/.err"
check_eq "...the local database is untouched" "$(sum_file a.db)" "$sum_a"
check_eq "...and nothing is left beside it" "$(ls -a | grep -c -e '\.restore-' -e '\.smg-s3\.')" 0

# ---- prune ------------------------------------------------------------------------
# three more snapshots, of long ago (a snapshot is named by its time, and
# listing and restore go by the name): five in all
for old in 20200101T000000Z 20210101T000000Z 20220101T000000Z; do
	smg-s3 -c a.toml put "$RELAY/snapshots/$old.sqlite" at-s1.db 2>/dev/null
	smg-s3 -c a.toml put "$RELAY/snapshots/$old.json" snap1.json 2>/dev/null
done
snap_names() { sm a snapshots | cut -d' ' -f1 | tr '\n' ' '; }
check_eq "prune: five snapshots to start with" "$(snap_names)" "$s2 $s1 20220101T000000Z 20210101T000000Z 20200101T000000Z "
check_exit 2 "prune without --keep or --before: exit 2" sm a prune
check_exit 2 "prune --keep 0: exit 2 (the newest always stays)" sm a prune --keep 0
check_exit 2 "prune --before a non-time: exit 2" sm a prune --before yesterday
check_exit 2 "--keep with another verb: exit 2" sm a snapshots --keep 2
check "prune --dry-run --keep 2" sm a -n prune --keep 2
check_grep "...says what it would delete" "^would delete snapshot 20220101T000000Z (2022-01-01T00:00:00Z, " "$T/.out"
check_grep "...and sums up" "^dry run: would delete 3 snapshot(s), keep 2; nothing deleted" "$T/.out"
check_eq "...and deletes nothing" "$(snap_names)" "$s2 $s1 20220101T000000Z 20210101T000000Z 20200101T000000Z "
check "prune --before 2021-06-01" sm a -o json prune --before 2021-06-01
check_grep "...deletes what is older, as JSON" '^{"command":"prune","dry_run":false,"prefix":".*","deleted":\[{"snapshot":"20210101T000000Z","time":"2021-01-01T00:00:00Z","size":[0-9]*,"url":".*20210101T000000Z.sqlite"},{"snapshot":"20200101T000000Z",.*}\],"kept":3}$' "$T/.out"
check_eq "...leaving the newer ones" "$(snap_names)" "$s2 $s1 20220101T000000Z "
check_exit 3 "...and no metadata of the deleted ones" fetch snapshots/20200101T000000Z.json gone.json
check "prune --keep 2 --before 2030-01-01" sm a prune --keep 2 --before 2030-01-01
check_grep "...deletes past the newest two" "^deleted snapshot 20220101T000000Z " "$T/.out"
check_eq "...which stay" "$(snap_names)" "$s2 $s1 "
check "prune --keep 1 --before 2000-01-01: nothing that old" sm a prune --keep 1 --before 2000-01-01
check_eq "...keeps both" "$(snap_names)" "$s2 $s1 "
check "restore still finds the newest" sm a -n restore latest
check_grep "...which is $s2" "would restore snapshot $s2 " "$T/.out"
