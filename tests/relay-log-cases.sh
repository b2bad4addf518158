# relay-log-cases.sh - the relay as a log (smugglr-relay(7)): what one
# changed row costs at 100k rows, the cache and its checks, a relay of the
# single-object form upgraded in place, machines stashing in parallel with
# compaction, kill -9 at random points, and retrieve's compare-and-set
# rounds.  Sourced by t/relay-log.sh (file://) and t/relay-log-s3.sh
# (moto_server behind a byte-counting proxy).  The caller sets RELAY (a
# directory URL) and STASH_EXTRA (more [stash] lines), has sourced lib.sh,
# and may define proxy_bytes, printing "SENT RECEIVED" as counted outside
# smugglr so far.  sqldiff is the oracle.
TMPDIR=$T/tmp
mkdir -p "$TMPDIR"
export TMPDIR
unset SMUGGLR_CACHE_DIR SMUGGLR_RELAY_COMPACT_MIN_BYTES SMUGGLR_RELAY_COMPACT_PERCENT SMUGGLR_RELAY_GRACE_SECS

# cfg NAME DB KEY: NAME.toml syncing DB through $RELAY/KEY
cfg() {
	cat >"$1.toml" <<CFG
local_db = "$2"
[sync]
conflict_resolution = "newer_wins"
[stash]
url = "$RELAY/$3"
$STASH_EXTRA
CFG
}
# mach NAME ARGS...: smugglr on machine NAME, with a cache of its own
mach() { mm=$1; shift; XDG_CACHE_HOME=$T/cache-$mm smugglr -c "$mm.toml" "$@"; }
# jnum NAME FILE: the first number "NAME":N in FILE
jnum() { sed -n "s/^[^{]*{.*\"$1\":\([0-9][0-9]*\).*/\1/p" "$2" | head -n 1; }
jstr() { sed -n "s/^{.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$2" | head -n 1; }
url_of_key() { case $RELAY in s3://*) b=${RELAY#s3://}; echo "s3://${b%%/*}/$1" ;; *) echo "file://$1" ;; esac; }
# drop_relay KEY: every object of the relay KEY gone
drop_relay() {
	smg-s3 -c a.toml list "$RELAY/$1" | cut -f1 | while IFS= read -r k; do
		smg-s3 -c a.toml delete "$(url_of_key "$k")"
	done
}
schema='CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty REAL, updated_at TEXT);'
mkdb() { rm -f "$1"; sqlite3 "$1" "$schema"; }

# ---- one changed row at 100k rows ----------------------------------------------
mkdb big-a.db
sqlite3 big-a.db "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 100000)
 INSERT INTO items SELECT i, 'item ' || i || ' ' || hex(randomblob(12)), i * 0.5, '2026-01-01T00:00:00Z' FROM c"
mkdb big-b.db
cfg a big-a.db big.db; cfg b big-b.db big.db
full=$(wc -c <big-a.db | tr -d ' ')
check "100k rows: the first stash" mach a -o json stash
check_grep "...its JSON etag is the base object's ETag (not its name)" '"etag":"[^b"][^"]*"' "$T/.out"
check "100k rows: another machine retrieves them" mach b -o json retrieve
check_same_db "...and has them all (sqldiff)" big-a.db big-b.db

# moved WHAT CMD...: CMD (a verb with -o json) moves under 64 KiB, as it
# says and, when there is a proxy, as the proxy counted
moved() {
	what=$1; shift
	[ "$(command -v proxy_bytes)" = proxy_bytes ] && p0=$(proxy_bytes)
	check "$what" "$@"
	s=$(jnum bytes_sent "$T/.out") r=$(jnum bytes_received "$T/.out")
	check_eq "$what: under 64 KiB by its count ($s sent, $r received; the database is $full bytes)" \
		"$([ $((s + r)) -lt 65536 ] && echo yes)" yes
	if [ "$(command -v proxy_bytes)" = proxy_bytes ]; then
		sleep 0.2
		# shellcheck disable=SC2046,SC2086 # two counts each, split on purpose
		set -- $p0 $(proxy_bytes)
		check_eq "$what: under 64 KiB on the wire ($(($3 - $1)) bytes sent, $(($4 - $2)) received)" \
			"$([ $(($3 - $1 + $4 - $2)) -lt 65536 ] && echo yes)" yes
	fi
}
sqlite3 big-a.db "UPDATE items SET name = 'changed', updated_at = '2026-02-01T00:00:00Z' WHERE id = 4242"
moved "1-row stash at 100k rows" mach a -o json stash
check_grep "...from its cache" '"cache":"used"' "$T/.out"
moved "1-row retrieve at 100k rows" mach b -o json retrieve
check_grep "...from its cache" '"cache":"used"' "$T/.out"
check_same_db "...and the machines agree (sqldiff)" big-a.db big-b.db

# ---- the cache: deleted, truncated, of another relay ------------------------------
cache_file() { ls "$T/cache-$1/smugglr/"relay-*.db | head -n 1; }
one_more() { sqlite3 big-a.db "UPDATE items SET qty = qty + 1, updated_at = '2026-03-0$1T00:00:00Z' WHERE id = $1"; mach a stash >/dev/null 2>&1; }
one_more 1
rm -rf "$T/cache-b"
check "a deleted cache: retrieve" mach b -o json retrieve
check_grep "...says it was missing" '"cache":"missing"' "$T/.out"
check_same_db "...and brings every row (sqldiff)" big-a.db big-b.db
check_eq "...and keeps a cache again" "$(ls "$T/cache-b/smugglr" | grep -c '\.db$')" 1
one_more 2
f=$(cache_file b)
truncate -s 8192 "$f"
check "a truncated cache: retrieve" mach b -o json retrieve
check_grep "...finds it damaged" '"cache":"damaged"' "$T/.out"
check_same_db "...and brings every row (sqldiff)" big-a.db big-b.db
one_more 3
printf 'X' | dd of="$(cache_file b)" bs=1 seek=5000 conv=notrunc 2>/dev/null
check "a cache with one byte changed: retrieve" mach b -o json retrieve
check_grep "...finds it damaged" '"cache":"damaged"' "$T/.out"
check_same_db "...and brings every row (sqldiff)" big-a.db big-b.db
# the cache of another relay put where this one's goes
mkdb small.db; sqlite3 small.db "INSERT INTO items VALUES (1, 'small', 1.0, '2026-01-01T00:00:00Z')"
cfg s small.db small.db
mach s stash >/dev/null 2>&1
one_more 4
cp "$(ls "$T/cache-s/smugglr/"relay-*.db)" "$(cache_file b)"
cp "$(ls "$T/cache-s/smugglr/"relay-*.meta)" "${f%.db}.meta"
check "a cache of another relay: retrieve" mach b -o json retrieve
check_grep "...is not used" '"cache":"of another relay"' "$T/.out"
check_same_db "...and every row comes (sqldiff)" big-a.db big-b.db
# the same URL, a relay made anew: its id differs
drop_relay small.db
mkdb small2.db; sqlite3 small2.db "INSERT INTO items VALUES (2, 'anew', 1.0, '2026-01-01T00:00:00Z')"
cfg s2 small2.db small.db
mach s2 stash >/dev/null 2>&1
mkdb small3.db; cfg s small3.db small.db
check "a relay made anew under the same URL: retrieve" mach s -o json retrieve
check_grep "...the old cache is not used" '"cache":"of another relay"' "$T/.out"
check_same_db "...the new relay's rows, not the old one's (sqldiff)" small2.db small3.db
# the stamp is more than the time: SQLite's change counter moves with a write
one_more 5
f=$(cache_file b)
touch -r "$f" stamp.ref
sqlite3 "$f" "UPDATE items SET name = 'tampered' WHERE id = 6"
touch -r stamp.ref "$f"
check "a cache written to, its time put back: retrieve" mach b -o json retrieve
check_grep "...finds it damaged" '"cache":"damaged"' "$T/.out"
check_same_db "...and brings every row (sqldiff)" big-a.db big-b.db
# a claim (the cache renamed while a verb works on it) of a smugglr killed
sh -c 'exit 0' & dead=$!; wait $dead
# reaped WHAT OWNER: b's cache, claimed by OWNER (PID or PID-START) that is
# gone, is neither trusted nor left behind
reaped() {
	f=$(cache_file b)
	mv "$f" "$f.claim-$2"
	check "$1: retrieve" mach b -o json retrieve
	check_grep "...does not trust it, nor take it for busy" '"cache":"missing"' "$T/.out"
	check_eq "...and removes the claim" "$(ls "$T/cache-b/smugglr" | grep -c claim)" 0
	check_same_db "...and brings every row (sqldiff)" big-a.db big-b.db
}
one_more 6
reaped "a cache claimed by a smugglr that was killed" "$dead"
# a claim of a smugglr at work: the other works from the base, both keep going
one_more 7
f=$(cache_file b)
mv "$f" "$f.claim-$$"
check "a cache in use by another smugglr: retrieve" mach b -o json retrieve
check_grep "...says so" '"cache":"busy (another smugglr is using it)"' "$T/.out"
check_same_db "...and brings every row (sqldiff)" big-a.db big-b.db
check "...and leaves the claim alone" test -f "$f.claim-$$"
rm -f "$f.claim-$$"
# a claim whose pid now belongs to another process (it started at another
# time than the claim says): the owner is gone, the claim goes
if [ -r /proc/$$/stat ]; then
	sqlite3 big-a.db "UPDATE items SET qty = qty + 1, updated_at = '2026-03-07T12:00:00Z' WHERE id = 17"
	mach a stash >/dev/null 2>&1
	reaped "a claim whose pid was used again by another process" "$$-1"
fi
one_more 8
check "the next retrieve" mach b -o json retrieve
check_grep "...uses the cache the busy one kept" '"cache":"used"' "$T/.out"
check_same_db "...(sqldiff)" big-a.db big-b.db

# ---- a relay of the single-object form --------------------------------------------
mkdb legacy.db
sqlite3 legacy.db "INSERT INTO items VALUES (1, 'from the old relay', 1.0, '2026-01-01T00:00:00Z')"
smg-s3 -c a.toml put "$RELAY/old.db" legacy.db 2>/dev/null
mkdb old-a.db; sqlite3 old-a.db "INSERT INTO items VALUES (2, 'new machine', 1.0, '2026-01-02T00:00:00Z')"
mkdb old-b.db
cfg oa old-a.db old.db; cfg ob old-b.db old.db
check "retrieve from a single-object relay" mach ob -o json retrieve
check_eq "...reads it as it is" "$(sqlite3 old-b.db "SELECT name FROM items")" "from the old relay"
check "stash onto a single-object relay" mach oa -o json stash
check "...which is now a log" smg-s3 -c a.toml get "$RELAY/old.db.log/manifest" old.manifest
smg-s3 -c a.toml get "$RELAY/old.db" old.marker 2>/dev/null
check_exit 7 "...and the object an older smugglr reads is refused by it (not SQLite)" smg-hash --integrity-check old.marker
check "retrieve after the upgrade" mach ob retrieve
check_eq "...has both rows" "$(sqlite3 old-b.db "SELECT group_concat(name, '+') FROM (SELECT name FROM items ORDER BY id)")" "from the old relay+new machine"
# a kill -9 between the marker and the manifest: the marker names the base
smg-s3 -c a.toml delete "$RELAY/old.db.log/manifest"
sqlite3 old-b.db "INSERT INTO items VALUES (3, 'after', 1.0, '2026-01-03T00:00:00Z')"
check "the manifest gone: stash makes it again from the marker" mach ob stash
check "...and retrieve reads the relay" mach oa retrieve
check_same_db "...whole (sqldiff)" old-a.db old-b.db

# ---- deletions travel as segments too ----------------------------------------------------
mkdb x-a.db; mkdb x-b.db; cfg xa x-a.db del.db; cfg xb x-b.db del.db
sqlite3 x-a.db "INSERT INTO items VALUES (1, 'keep', 1.0, '2026-01-01T00:00:00Z'), (2, 'drop', 1.0, '2026-01-01T00:00:00Z')"
mach xa stash >/dev/null 2>&1; mach xb retrieve >/dev/null 2>&1
sqlite3 x-a.db "DELETE FROM items WHERE id = 2"
check "stash --delete of one row" mach xa -o json --delete stash
check_grep "...a segment with the delete" '"position":1,' "$T/.out"
check "retrieve --delete" mach xb --delete retrieve
check_same_db "...the row is gone there too (sqldiff)" x-a.db x-b.db
mkdb x-c.db; cfg xc x-c.db del.db
check "a new machine retrieves" mach xc retrieve
check_same_db "...without the deleted row (sqldiff)" x-a.db x-c.db

# ---- a damaged log is refused, nothing written ----------------------------------------
mkdb d-a.db; sqlite3 d-a.db "INSERT INTO items VALUES (1, 'one', 1.0, '2026-01-01T00:00:00Z')"
mkdb d-b.db; cfg da d-a.db dmg.db; cfg db d-b.db dmg.db
mach da stash >/dev/null 2>&1
printf '{"kind":"change","table":"items"\n' >cut.seg	# cut short, no trailer
smg-s3 -c a.toml put "$RELAY/dmg.db.log/seg-0000000001" cut.seg 2>/dev/null
check_exit 7 "a segment cut short: retrieve exits 7" mach db retrieve
check_grep "...naming the segment" 'segment 1 (.*seg-0000000001) does not apply' "$T/.err"
check_eq "...and writes nothing" "$(sqlite3 d-b.db "SELECT count(*) FROM items")" 0
check_exit 7 "...and stash exits 7 too" mach da stash
# the way out: relay-repair skips what does not apply and names its rows
check "relay-repair -n" mach da -n relay-repair
check_grep "...names the segment" 'segment 1 (.*seg-0000000001)' "$T/.out"
check_exit 7 "...and changes nothing" mach db retrieve
check "relay-repair" mach da -o json relay-repair
check_grep "...skips it and makes a new base" '"skipped":1,"compacted":1' "$T/.out"
check "a retrieve after the repair" mach db retrieve
check_same_db "...brings every row (sqldiff)" d-a.db d-b.db
sqlite3 d-a.db "INSERT INTO items VALUES (2, 'two', 1.0, '2026-01-02T00:00:00Z')"
check "a stash after the repair" mach da -o json stash
n=$(jnum position "$T/.out")
# that segment once more, another value in it: written against a relay
# without the row, it does not fit one with it
smg-s3 -c a.toml get "$RELAY/dmg.db.log/seg-$(printf %010d "$n")" seg.txt 2>/dev/null
sed 's/"two"/"other"/' seg.txt >dup.seg
smg-s3 -c a.toml put "$RELAY/dmg.db.log/seg-$(printf %010d $((n + 1)))" dup.seg 2>/dev/null
check_exit 7 "a segment that does not fit: retrieve exits 7" mach db retrieve
check "relay-repair" mach db relay-repair
check_grep "...names its rows" 'table items key \[2\]' "$T/.out"
check "...and retrieve works again" mach db retrieve
check_same_db "...(sqldiff)" d-a.db d-b.db
check "relay-repair of a whole relay" mach db relay-repair
check_grep "...has nothing to do" 'nothing to repair' "$T/.out"
printf 'not a manifest\n' >bad.manifest
smg-s3 -c a.toml put "$RELAY/dmg.db.log/manifest" bad.manifest 2>/dev/null
check_exit 7 "a manifest that is not one: exit 7" mach db retrieve
check_grep "...says so" 'its manifest .* is not one' "$T/.err"

# ---- retrieve: a local write between the diff and the apply is never lost ----------
mkdb r-a.db; mkdb r-b.db
sqlite3 r-a.db "INSERT INTO items VALUES (1, 'one', 1.0, '2026-01-01T00:00:00Z'), (2, 'two', 2.0, '2026-01-01T00:00:00Z')"
cfg ra r-a.db race.db; cfg rb r-b.db race.db
mach ra stash >/dev/null 2>&1; mach rb retrieve >/dev/null 2>&1
sqlite3 r-a.db "UPDATE items SET name = 'one from a', updated_at = '2026-02-01T00:00:00Z' WHERE id = 1"
mach ra stash >/dev/null 2>&1
# a command line that relay.sh runs with eval, quotes and all
# shellcheck disable=SC2089
SMUGGLR_TEST_HOOK_BEFORE_APPLY='sqlite3 r-b.db "UPDATE items SET name = '"'written meanwhile'"', updated_at = '"'2026-03-01T00:00:00Z'"' WHERE id = 1"'
# shellcheck disable=SC2090
export SMUGGLR_TEST_HOOK_BEFORE_APPLY
check "retrieve with a local write between its diff and its apply" mach rb -o json retrieve
unset SMUGGLR_TEST_HOOK_BEFORE_APPLY
check_grep "...a conflict, diffed again: 2 rounds" '"rounds":2,"conflicts_retried":1' "$T/.out"
check_eq "...the local write is kept (newer than the relay's)" "$(sqlite3 r-b.db "SELECT name FROM items WHERE id = 1")" "written meanwhile"
check "...and stashed, it reaches the other machine" mach rb stash
mach ra retrieve >/dev/null 2>&1
check_same_db "...both agree (sqldiff)" r-a.db r-b.db

# ---- three machines stashing at once, compaction at every chance ------------------
SMUGGLR_RELAY_COMPACT_MIN_BYTES=0 SMUGGLR_RELAY_COMPACT_PERCENT=1 SMUGGLR_RELAY_GRACE_SECS=2
export SMUGGLR_RELAY_COMPACT_MIN_BYTES SMUGGLR_RELAY_COMPACT_PERCENT SMUGGLR_RELAY_GRACE_SECS
for m in 1 2 3; do mkdb p$m.db; cfg p$m p$m.db par.db; done
failed=0 compactions=0
for round in 1 2 3 4; do
	for m in 1 2 3; do
		sqlite3 p$m.db "INSERT INTO items VALUES ($((100 * m + 10 * round)), 'p$m r$round', 1.0, '2026-04-01T00:00:00Z'),
			($((100 * m + 10 * round + 1)), 'p$m r$round b', 2.0, '2026-04-01T00:00:00Z');
			INSERT OR REPLACE INTO items VALUES (1, 'shared by p$m', $round.0, '2026-04-0${round}T00:00:0${m}Z')"
	done
	rm -f go
	racers=
	for m in 1 2 3; do
		(while [ ! -e go ]; do sleep 0.01; done; mach p$m -o json stash >par$m.out 2>par$m.err; echo $? >par$m.rc) &
		racers="$racers $!"
	done
	touch go
	wait $racers
	for m in 1 2 3; do
		[ "$(cat par$m.rc)" = 0 ] || { failed=$((failed + 1)); sed 's/^/    /' par$m.err | tail -3; }
		grep -q '"compacted"' par$m.out && compactions=$((compactions + 1))
	done
	for m in 1 2 3; do mach p$m retrieve >/dev/null 2>&1; done
done
echo "# parallel stashes: $compactions compactions in 4 rounds"
check_eq "4 rounds of 3 parallel stashes: every one succeeded" "$failed" 0
for m in 1 2 3; do mach p$m retrieve >/dev/null 2>&1; done
check_same_db "machines 1 and 2 agree (sqldiff)" p1.db p2.db
check_same_db "machines 1 and 3 agree (sqldiff)" p1.db p3.db
check_eq "nothing lost: all 24 rows and the shared one" "$(sqlite3 p1.db "SELECT count(*) FROM items")" 25
check_eq "the shared row is the newest write" "$(sqlite3 p1.db "SELECT name FROM items WHERE id = 1")" "shared by p3"
mkdb p0.db; cfg p0 p0.db par.db
check "a machine that never saw the relay gets everything" mach p0 retrieve
check_same_db "...(sqldiff)" p0.db p1.db

# ---- kill -9 at random points of stash, retrieve and compaction --------------------
mkdb k1.db; mkdb k2.db; cfg k1 k1.db kill.db; cfg k2 k2.db kill.db
sqlite3 k1.db "INSERT INTO items VALUES (1, 'first', 1.0, '2026-01-01T00:00:00Z')"
mach k1 stash >/dev/null 2>&1
unreadable=0
i=0
while [ $i -lt 12 ]; do
	i=$((i + 1))
	sqlite3 k1.db "INSERT INTO items VALUES ($((i + 1)), 'row $i', 1.0, '2026-01-01T00:00:00Z')"
	XDG_CACHE_HOME=$T/cache-k1 setsid smugglr -c k1.toml stash >/dev/null 2>&1 &
	s=$!
	XDG_CACHE_HOME=$T/cache-k2 setsid smugglr -c k2.toml retrieve >/dev/null 2>&1 &
	r=$!
	sleep "0.$(awk -v s=$i 'BEGIN { srand(s); printf "%03d", rand() * 400 }')"
	kill -9 -- -$s -$r 2>/dev/null
	wait $s $r 2>/dev/null
	mkdb kx.db; cfg kx kx.db kill.db
	XDG_CACHE_HOME=$T/cache-kx smugglr -c kx.toml retrieve >/dev/null 2>&1 || unreadable=$((unreadable + 1))
	rm -rf "$T/cache-kx"
done
check_eq "after each kill -9 the relay is readable" "$unreadable" 0
check "a stash after the kills" mach k1 stash
check "a retrieve after the kills" mach k2 retrieve
check_same_db "nothing lost: both machines agree (sqldiff)" k1.db k2.db
check_eq "...with every row" "$(sqlite3 k2.db "SELECT count(*) FROM items")" 13
unset SMUGGLR_RELAY_COMPACT_MIN_BYTES SMUGGLR_RELAY_COMPACT_PERCENT SMUGGLR_RELAY_GRACE_SECS
