# relay-since.sh - a relay whose machines track their tables (smugglr
# track): after a first whole diff, each stash and retrieve reads only the
# rows changed since the last one (smg-diff --since against the cache,
# smugglr-relay(7)), and loses nothing the whole diff would have found:
# three machines over rounds of random writes, one of them made while a
# retrieve runs (between its diff and its apply), one stash round in
# parallel, a compaction, a deleted cache, a dry run that marks nothing,
# and sqldiff as the oracle at the end.  file:// relay.
# Needs sqlite3, sqldiff.
. ./lib.sh
need_tools "relay-since.sh" sqlite3 sqldiff
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }
sq() { sqlite3 "$@"; }
unset SMUGGLR_RELAY_COMPACT_MIN_BYTES SMUGGLR_RELAY_COMPACT_PERCENT SMUGGLR_RELAY_GRACE_SECS
mkdir -p store

for m in a b c; do
	cat >$m.toml <<CFG
local_db = "$T/$m.db"
[sync]
conflict_resolution = "newer_wins"
[stash]
url = "file://$T/store/team.db"
CFG
	sq $m.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
		CREATE TABLE tags(item INTEGER, tag TEXT, updated_at TEXT, PRIMARY KEY(item, tag)) WITHOUT ROWID;"
done
sq a.db "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
	INSERT INTO items SELECT i, 'r' || i, '2026-01-01T00:00:00Z' FROM n;
	INSERT INTO tags SELECT id, 't' || (id % 5), updated_at FROM items WHERE id % 10 = 0;"
mach() { mm=$1; shift; XDG_CACHE_HOME=$T/cache-$mm smugglr -c "$mm.toml" "$@"; }
for m in a b c; do check "track on $m" mach $m track; done

check "a: the first stash" mach a stash
check_nogrep "... reads every row: the new relay's copy logs nothing yet" "^only rows changed" .out
check "b: the first retrieve" mach b retrieve
check "c: the first retrieve" mach c retrieve
check_same_db "b has a's rows (sqldiff)" a.db b.db
# each machine's first diff of each direction reads every row: it has no
# marks of that direction yet
for v in "b stash" "c stash" "a retrieve"; do
	check "first $v" mach $v
	check_grep "... reads every row" "^every row compared: no mark of an earlier run" .out
done

# churn DB N: writes of every kind, newer each round
churn() {
	ts="2026-02-01T$(printf %02d $(($2 / 60))):$(printf %02d $(($2 % 60))):00Z"
	sq "$1" "UPDATE items SET name = 'e$2', updated_at = '$ts'
			WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 4);
		DELETE FROM items WHERE id IN (SELECT id FROM items ORDER BY random() LIMIT 1);
		INSERT OR IGNORE INTO items VALUES (3000 + abs(random() % 3000), 'n$2', '$ts');
		INSERT OR REPLACE INTO tags VALUES (1 + abs(random() % 50), 't$2', '$ts');"
}
incremental=0 whole=0 verbs=0
count() {	# the report of the verb just run: which kind of diff it was
	verbs=$((verbs + 1))
	if grep -q '^only rows changed since mark relay-' .out; then incremental=$((incremental + 1))
	elif grep -q '^every row compared' .out; then whole=$((whole + 1)); echo "# whole: $*: $(grep '^every row' .out)"; fi
}
n=1
for round in 1 2 3 4; do
	for m in a b c; do
		churn $m.db $n; n=$((n + 1))
		check "round $round: $m stashes" mach $m stash; count $m stash
		for o in a b c; do
			[ $o = $m ] && continue
			check "round $round: $o retrieves" mach $o retrieve; count $o retrieve
		done
	done
done
check_eq "every stash and retrieve of the rounds read only what changed" "$incremental $whole" "$verbs 0"
check_same_db "after the rounds a = b (sqldiff)" a.db b.db
check_same_db "... b = c" b.db c.db

# A row written while a retrieve runs (between its diff and its apply) is
# after the retrieve's mark: the next stash sends it.
churn a.db $n; n=$((n + 1))
check "a stashes" mach a stash
SMUGGLR_TEST_HOOK_BEFORE_APPLY="sqlite3 '$T/b.db' \"INSERT INTO items VALUES (9999, 'written during the retrieve', '2026-06-01T00:00:00Z')\"" \
	mach b retrieve >/dev/null 2>&1
check "b stashes" mach b stash
check_grep "... read only what changed" '^only rows changed since mark relay-' .out
check "c retrieves" mach c retrieve
check_eq "the row written during b's retrieve reached c" \
	"$(sq c.db "SELECT name FROM items WHERE id = 9999")" "written during the retrieve"

# A dry run reads the same way but marks nothing.
churn a.db $n; n=$((n + 1))
before=$(sq a.db "SELECT group_concat(token || seq) FROM _smugglr_marks")
check "a stash -n" mach a -n stash
check_grep "... reads only what changed" '^only rows changed since mark relay-' .out
check_eq "... and leaves the marks as they were" "$(sq a.db "SELECT group_concat(token || seq) FROM _smugglr_marks")" "$before"
check "a stashes" mach a stash
check_grep "... still only what changed" '^only rows changed since mark relay-' .out

# A cache that is gone takes its marks with it: one whole diff, then the
# changes again.
rm -rf cache-c
check "c retrieves without its cache" mach c retrieve
check_grep "... reading every row" '^every row compared: the two sides. marks are of different runs\|^every row compared: no mark' .out
churn a.db $n; n=$((n + 1))
check "a stashes" mach a stash
check "c retrieves" mach c retrieve
check_grep "... and then only what changed" '^only rows changed since mark relay-' .out
check "a retrieves" mach a retrieve
check_same_db "a = c (sqldiff)" a.db c.db

# Three machines stash at once, then a compaction folds the log into a base
# that carries a's marks: b and c, whose copies come from it, read every row
# once (the marks of another machine), then what changed.
for m in a b c; do churn $m.db $n; n=$((n + 1)); done
for m in a b c; do
	(mach $m stash >par-$m.out 2>&1 || mach $m stash >>par-$m.out 2>&1; echo $? >par-$m.rc) &
done
wait
check_eq "three stashes at once all succeed" "$(cat par-a.rc par-b.rc par-c.rc | tr -d '\n')" 000
export SMUGGLR_RELAY_COMPACT_MIN_BYTES=0 SMUGGLR_RELAY_COMPACT_PERCENT=1
churn a.db $n; n=$((n + 1))
check "a stashes, and compacts" mach a -o json stash
check_grep "... the log became a base" '"compacted":' .out
unset SMUGGLR_RELAY_COMPACT_MIN_BYTES SMUGGLR_RELAY_COMPACT_PERCENT
for m in b c a; do check "$m retrieves after the compaction" mach $m retrieve; done
for m in b c; do check "$m stashes" mach $m stash; done
for m in a b c; do check "$m retrieves" mach $m retrieve; done
check_same_db "in the end a = b (sqldiff)" a.db b.db
check_same_db "... b = c" b.db c.db
check_eq "nothing written was lost: the rows of the last round are everywhere" \
	"$(sq c.db "SELECT count(*) FROM items WHERE name = 'e$((n - 1))' OR name = 'n$((n - 1))'")" \
	"$(sq a.db "SELECT count(*) FROM items WHERE name = 'e$((n - 1))' OR name = 'n$((n - 1))'")"
check "the JSON report says how the diff read" mach b -o json stash
check_grep "... in diff.since" '"since":{"name":"relay-[0-9a-f]*-push","whole":false' .out

# A stash whose segment landed but whose copy then fails to take it (here
# the copy is spoiled just before the upload): the stash has happened, it
# says so and exits 0; the copy is dropped and rebuilt by the next verb.
churn a.db $n; n=$((n + 1))
SMUGGLR_TEST_HOOK_BEFORE_PUT='printf "not a database" >"$rdb"' mach a stash >landed.out 2>landed.err
check_eq "a stash whose copy fails after the upload: exit 0" "$?" 0
check_grep "... it says the segment landed and the copy is dropped" "our copy of the relay did not take it" landed.err
check_eq "... and leaves no cache behind" "$(ls cache-a/smugglr | grep -c '\.db')" 0
check "b retrieves the stash" mach b retrieve
last() { sq "$1" "SELECT count(*) FROM items WHERE name IN ('e$((n - 1))', 'n$((n - 1))')"; }
check_eq "... and has a's rows of that stash" "$(last b.db)" "$(last a.db)"
check "a retrieves: its copy is rebuilt" mach a -o json retrieve
check_grep "... from the base" '"cache":"missing"' .out
check_same_db "a = b (sqldiff)" a.db b.db
