# since.sh - smg-diff --since and smg-apply --mark (changelog.h): a diff
# of two tracked SQLite files that reads only the rows either changed since
# both were marked finds exactly the changes a diff of every row finds.
# Rounds of random inserts, edits, key changes and deletes on both sides,
# some of them made between a diff and its marks, with the full diff as the
# oracle each round and sqldiff at the end; each thing that must make the
# marks untrusted (a column added, other options, a file put back from a
# copy, tracking begun anew, an old mark, a mark on one side only) makes
# the diff read every row; a table whose key is REAL is read whole; bad
# input is refused with its exit code and nothing written.
# Needs sqlite3, sqldiff.
. ./lib.sh
need_tools "since.sh" sqlite3 sqldiff
sq() { sqlite3 "$@"; }

make_db() {	# FILE
	sq "$1" "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
		CREATE TABLE pairs(a TEXT, b INTEGER, v TEXT, updated_at TEXT, PRIMARY KEY(a, b)) WITHOUT ROWID;
		CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);
		CREATE TABLE reals(k REAL PRIMARY KEY, v TEXT, updated_at TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
		INSERT INTO items SELECT i, 'r' || i, '2026-01-01T00:00:00Z' FROM n;
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
		INSERT INTO pairs SELECT 'k' || (i % 7), i, 'p' || i, '2026-01-01T00:00:00Z' FROM n;
		INSERT INTO plain VALUES (1, 'a'), (2, 'b');
		INSERT INTO reals VALUES (0.5, 'half', '2026-01-01T00:00:00Z'), (1.25, 'more', '2026-01-01T00:00:00Z');"
}

# churn FILE ROUND: random writes to every table, each newer than the last
# round's so that newer_wins has something to decide.
churn() {
	ts="2026-02-01T00:$(printf %02d "$2"):00Z"
	sq "$1" "UPDATE items SET name = 'e$2-' || abs(random() % 1000), updated_at = '$ts'
			WHERE id IN (SELECT id FROM items WHERE id < 7000 ORDER BY random() LIMIT 3);
		DELETE FROM items WHERE id IN (SELECT id FROM items WHERE id < 7000 ORDER BY random() LIMIT 2);
		INSERT OR IGNORE INTO items VALUES (1000 + abs(random() % 500), 'n$2', '$ts');
		INSERT OR REPLACE INTO items SELECT id, 'replaced$2', '$ts' FROM items WHERE id < 7000
			ORDER BY random() LIMIT 1;
		UPDATE OR IGNORE items SET id = id + 5000, name = 'moved$2', updated_at = '$ts'
			WHERE id = (SELECT id FROM items WHERE id < 5000 ORDER BY random() LIMIT 1);
		UPDATE pairs SET v = 'e$2', updated_at = '$ts'
			WHERE (a, b) IN (SELECT a, b FROM pairs ORDER BY random() LIMIT 2);
		DELETE FROM pairs WHERE (a, b) IN (SELECT a, b FROM pairs ORDER BY random() LIMIT 1);
		INSERT OR IGNORE INTO pairs VALUES ('z$2', abs(random() % 50), 'n', '$ts');
		UPDATE plain SET v = 'e$2' WHERE id = 1 + abs(random() % 2);
		UPDATE reals SET v = 'e$2', updated_at = '$ts' WHERE k = 0.5;"
}

changes() { grep '"kind":"change"' "$1" | LC_ALL=C sort; }

# one_way DIR FROM TO ROUND: the diff with --since against the one without;
# then its changes are written into TO and both files marked, as smugglr
# does.  A write to FROM lands between the diff and the marks on odd rounds.
one_way() {
	dir=$1 from=$2 to=$3 r=$4
	smg-diff -p newer_wins -d push "$from" "$to" >full.$dir 2>/dev/null
	smg-diff -p newer_wins -d push --since "$dir" --mark-file mark.$dir -r text \
		--report-file report.$dir "$from" "$to" >inc.$dir 2>/dev/null ||
		fail "round $r $dir: smg-diff --since (exit $?)"
	if [ "$(changes inc.$dir)" != "$(changes full.$dir)" ]; then
		missed="$missed $r.$dir"
		diff full.$dir inc.$dir | head -10 | sed 's/^/    /'
	fi
	[ -s full.$dir ] && compared=$((compared + 1))
	[ $((r % 2)) = 1 ] && sq "$from" "UPDATE items SET name = 'between$r', updated_at = '2026-03-01T00:$(printf %02d "$r"):00Z'
		WHERE id = (SELECT max(id) FROM items)"
	# TO's mark goes in the apply's transaction; a row inserted into TO
	# before it (every third round) must keep TO's mark where the diff read
	k=$((7000 + r)); [ "$dir" = pull ] && k=$((7500 + r))
	[ $((r % 3)) = 0 ] && sq "$to" "INSERT INTO items VALUES ($k, 'before the apply', '2026-03-02T00:00:00Z')"
	smg-apply -q -r none -i inc.$dir --mark remote:mark.$dir "$to" || fail "round $r $dir: smg-apply --mark"
	smg-apply -q --mark local:mark.$dir "$from" >/dev/null || fail "round $r $dir: smg-apply --mark alone"
}

# ---- rounds: --since finds what the whole diff finds -------------------------
make_db x.db
cp x.db y.db
check_exit 0 "track x" smg-apply --track -t items -t pairs -t reals x.db
check_grep "a table whose key is REAL is tracked, but its changes are not logged" \
	'table "reals": its changes are not logged' .err
check_exit 0 "track y" smg-apply --track -t items -t pairs -t reals y.db
check_eq "track adds the log triggers" \
	"$(sq x.db "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type='trigger' AND tbl_name='items' ORDER BY name)")" \
	"_smugglr_del_items _smugglr_ins_items _smugglr_logd_items _smugglr_logi_items _smugglr_logu_items _smugglr_upd_items"
sq x.db "DELETE FROM plain WHERE id = 2"	# untracked: read whole every time
rounds=12 incremental=0 missed='' compared=0
r=1
while [ $r -le $rounds ]; do
	churn x.db $r
	churn y.db $((r + 20))
	one_way push x.db y.db $r
	one_way pull y.db x.db $r
	grep -q '^only rows changed since mark push compared' report.push && incremental=$((incremental + 1))
	r=$((r + 1))
done
check_eq "every round after the first, --since read only the changed rows" "$incremental" $((rounds - 1))
check_grep "the report says how many keys it read" '^only rows changed since mark pull compared: [0-9]* keys* in 2 tables$' report.pull
check_eq "each round, both ways, --since found exactly the whole diff's changes" "$missed" ""
check_eq "... the whole diff ran each time" "$compared" $((rounds * 2))
smg-diff -p newer_wins -d push x.db y.db | smg-apply -q -r none y.db
smg-diff -p newer_wins -d pull x.db y.db | smg-apply -q -r none x.db
check_same_db "after the rounds both files agree (sqldiff)" x.db y.db
check_eq "... the rows inserted before an apply included" \
	"$(sq x.db "SELECT count(*) FROM items WHERE name = 'before the apply'")" 8
check_eq "the log keeps what the oldest mark has not seen, not every change" \
	"$(sq x.db "SELECT count(*) < 40 FROM _smugglr_changes")" 1
check_grep "the mark file is one line: name, token, fingerprint, time, two positions, tables logged on each side" \
	'^push [0-9a-f]\{32\} [0-9a-f]\{64\} [0-9]* [0-9]* [0-9]* 2 2$' mark.push

# ---- what makes the marks untrusted: the diff reads every row ------------------
mark_both() {	# x's changes into y, and a fresh pair of marks "m"
	smg-diff -p newer_wins --since m --mark-file mark.m x.db y.db 2>/dev/null | smg-apply -q -r none y.db
	smg-apply -q --mark local:mark.m x.db >/dev/null && smg-apply -q --mark remote:mark.m y.db >/dev/null
}
whole_because() {	# WHAT WHY [smg-diff options]
	what=$1 why=$2; shift 2
	smg-diff -p newer_wins --since m -r text "$@" x.db y.db >since.out 2>&1
	check_grep "$what: every row is read ($why)" "^every row compared: $why" since.out
}
mark_both
smg-diff -p newer_wins --since m -r text x.db y.db >since.out 2>&1
check_grep "marks just made: nothing changed, no key read" \
	'^only rows changed since mark m compared: 0 keys in 2 tables$' since.out
whole_because "other options" "the tables or the options changed since the marks" -p local_wins
whole_because "a table named" "the tables or the options changed since the marks" -t items
cp x.db x.saved
sq y.db "DELETE FROM _smugglr_marks WHERE name = 'm'"
whole_because "a mark on one side only" "no mark of an earlier run"
mark_both
sq x.db "UPDATE _smugglr_marks SET at = at - 90000 WHERE name = 'm'"
sq y.db "UPDATE _smugglr_marks SET at = at - 90000 WHERE name = 'm'"
whole_because "marks more than a day old" "the marks are more than a day old"
mark_both
cp x.saved x.db
whole_because "x put back from a copy made before the marks" "the two sides' marks are of different runs"
mark_both
sq y.db "ALTER TABLE items ADD COLUMN extra TEXT"
whole_because "a column added on one side" "the tables or the options changed since the marks"
sq y.db "ALTER TABLE items DROP COLUMN extra"
mark_both
smg-apply --untrack -t pairs x.db >/dev/null && smg-apply --track -t pairs x.db >/dev/null
whole_because "tracking begun anew" "no mark of an earlier run"
check_eq "untrack of every table removes the log and the marks" \
	"$(cp x.db u.db; smg-apply --untrack u.db >/dev/null; sq u.db "SELECT count(*) FROM sqlite_schema WHERE name LIKE '\\_smugglr\\_%' ESCAPE '\\'")" 0

# A write the log missed cannot be: one made while the triggers were gone is
# before a track, which forgets the marks.  A REAL key is read whole:
mark_both
sq x.db "UPDATE reals SET v = 'late', updated_at = '2026-05-01T00:00:00Z' WHERE k = 1.25"
smg-diff -p newer_wins --since m -d push x.db y.db >inc.out 2>/dev/null
check_grep "a table whose key is REAL is read whole: its change is found" '"table":"reals".*"key":\[1.25\]' inc.out

# Most of a big table changed: a scan costs less than the lookups.
sq x.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
	INSERT INTO items SELECT 100000 + i, 'bulk', '2026-04-01T00:00:00Z' FROM n"
mark_both
sq x.db "UPDATE items SET name = 'bulk2' WHERE id > 100000"
smg-diff -p newer_wins --since m -r text x.db y.db >since.out 2>&1
check_grep "a table most of whose rows changed is read whole" \
	'^only rows changed since mark m compared: [0-9]* keys* in 1 table$' since.out
check_grep "... and its changes are all there" 'content_differs 20000' since.out

# ---- bad input: its exit code, nothing written ---------------------------------
sum=$(sum_file x.db)
smg-hash x.db | smg-diff --since m --mark-file mark.stream - y.db >since.out 2>&1
check_eq "--since with a stream for a side: every row is read, exit 0" "$?" 0
check_eq "... the changes are the whole diff's" "$(changes since.out)" "$(smg-hash x.db | smg-diff - y.db 2>/dev/null | changes /dev/stdin)"
check_exit 0 "... and its mark file marks nothing" smg-apply --mark local:mark.stream x.db
check_grep "... saying so" "no mark" .out
printf 'not a database\n' >notdb.db
check_exit 7 "a target that is no database, with --since: exit 7 as without (the stream reader)" \
	smg-diff --since m x.db notdb.db
check_exit 2 "--mark-file without --since" smg-diff --mark-file mk x.db y.db
check_exit 2 "a mark's name with a space" smg-diff --since "a b" x.db y.db
check_exit 2 "smg-apply --mark SIDE not local, remote or now" smg-apply --mark left:mark.m x.db
check_grep "... naming what it takes" "local:FILE, remote:FILE or now:FILE" .err
printf 'not a mark file\n' >bad.mark
check_exit 2 "smg-apply --mark of a file that is no mark file" smg-apply --mark local:bad.mark x.db
check_exit 2 "smg-apply --mark of a missing file" smg-apply --mark local:nope.mark x.db
check_exit 2 "smg-apply --mark with --track" smg-apply --track --mark local:mark.m x.db
check_exit 2 "smg-apply --mark of a remote target" smg-apply --mark local:mark.m https://example.invalid/sql
check_exit 0 "smg-apply -n --mark" smg-apply -n --mark local:mark.m x.db
check_grep "... says what it would do" "would mark m" .out
check_eq "nothing written by any of them" "$(sum_file x.db)" "$sum"
make_db plainfile.db
sum=$(sum_file plainfile.db)
check_exit 0 "smg-apply --mark of a file without a change log: nothing to do" smg-apply --mark local:mark.m plainfile.db
check_grep "... it says so" "no change log" .out
check_eq "... and writes nothing" "$(sum_file plainfile.db)" "$sum"
smg-diff --since m --mark-file mark.none plainfile.db plainfile.db >/dev/null 2>&1
chmod a-w plainfile.db
check_exit 0 "a mark of a diff where the side logged no table: nothing to do" \
	smg-apply --mark local:mark.none plainfile.db
check_grep "... it says so, without opening the file to write (it may be read-only)" \
	"no table of it was logged in the diff: no mark" .out
chmod u+w plainfile.db
mark_both
sq x.db "INSERT INTO _smugglr_changes(tbl, key) VALUES ('items', 'garbage')"
check_exit 7 "a damaged change log: exit 7" smg-diff --since m -p newer_wins x.db y.db
check_grep "... naming it" "_smugglr_changes is damaged" .err
check_exit 2 "the change log is not a table to sync" smg-diff -t _smugglr_changes x.db y.db

# ---- smugglr push, pull and sync between two tracked files -----------------------
make_db p.db
cp p.db q.db
cat >pq.toml <<CFG
local_db = "$T/p.db"
[target]
type = "sqlite"
path = "$T/q.db"
[sync]
conflict_resolution = "newer_wins"
CFG
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }
check "smugglr track on both files" smugglr -c pq.toml track -t items -t pairs
check "the first sync" smugglr -c pq.toml sync
check_grep "... reads every row" "^every row compared: no mark of an earlier run" .out
for r in 1 2 3; do
	churn p.db $((r + 40)); churn q.db $((r + 50))
	check "sync $r" smugglr -c pq.toml sync
	check_grep "... reads only what changed" "^only rows changed since mark file-[0-9]*-[0-9]*-sync compared" .out
	check_same_db "... and both files agree (sqldiff)" p.db q.db
done
churn p.db 45
check "the first push" smugglr -c pq.toml push
check "a push" smugglr -c pq.toml push
check_grep "... reads only what changed" "^only rows changed since mark file-[0-9]*-[0-9]*-push compared: 0 keys" .out
churn q.db 55
check "the first pull" smugglr -c pq.toml pull
churn q.db 56
check "a pull" smugglr -c pq.toml pull
check_grep "... reads only what changed" "^only rows changed since mark file-[0-9]*-[0-9]*-pull compared" .out
check "sync" smugglr -c pq.toml sync
check_same_db "in the end both files agree (sqldiff)" p.db q.db
sum=$(sum_file q.db)
check "sync -n" smugglr -c pq.toml -n sync
check_eq "... marks nothing" "$(sum_file q.db)" "$sum"
