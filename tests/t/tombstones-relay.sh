# tombstones-relay.sh - deletes of tracked tables through the relay
# (stash/retrieve on a file:// relay, issue #14): three machines delete,
# edit and insert rows between stashes and retrieves; after the rounds
# every copy is the same (sqldiff, tombstones included), no deleted row
# came back, an edit newer than a delete wins and a delete newer than an
# edit wins; a relay whose table was not tracked starts tracking it with
# the first stash of a machine that tracks it.  Needs sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/tomb-lib.sh"
need_tools "tombstones-relay.sh" sqlite3 sqldiff
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }
TMPDIR=$T/tmp
mkdir -p "$TMPDIR" "$T/store"
export TMPDIR

cfg() {	# NAME DB
	cat >"$1.toml" <<EOF
local_db = "$2"
[sync]
conflict_resolution = "newer_wins"
[stash]
url = "file://$T/store/team.db"
EOF
}
# mach NAME VERB...: smugglr on machine NAME, with a cache of its own
mach() { mm=$1; shift; XDG_CACHE_HOME=$T/cache-$mm smugglr -c "$mm.toml" "$@"; }
round() {	# every machine stashes, then every machine retrieves
	for m in m1 m2 m3; do mach $m stash >>relay.out 2>>relay.err || { fail "$m stash"; tail -5 relay.err; }; done
	for m in m1 m2 m3; do mach $m retrieve >>relay.out 2>>relay.err || { fail "$m retrieve"; tail -5 relay.err; }; done
}

schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
	CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);"
sq m1.db "$schema
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
	INSERT INTO items SELECT i, 'r' || i, $OLD FROM n;
	INSERT INTO plain VALUES (1, 'a'), (2, 'b');"
sq m2.db "$schema"
sq m3.db "$schema"
for m in m1 m2 m3; do cfg $m $m.db; done

# the relay starts without tracking: m1 stashes before it tracks
check_exit 0 "a first stash, untracked" mach m1 stash
check_exit 0 "track on m1: a relay config needs no target" mach m1 track -t items
check_grep "it tracks the local database" "m1.db: track: items" .out
for m in m2 m3; do mach $m track -t items >/dev/null; done
check_exit 0 "the next stash makes the relay track the table" mach m1 stash
for m in m2 m3; do check_exit 0 "$m retrieves" mach $m retrieve; done
check_same_db "the relay's rows reached m3" m1.db m3.db

# ---- round 1 ---------------------------------------------------------------
tomb_round1
round
check_same_db "round 1: m1 = m2 (rows and tombstones)" m1.db m2.db
check_same_db "round 1: m2 = m3" m2.db m3.db
check_eq "round 1: deletes travelled through the relay, edits and inserts too" "$(names m2.db)" \
	"3=e3 5=e5 7=e7 8=r8 9=r9 10=r10 11=n11 12=n12 13=n13"
check_eq "round 1: the tombstones too" "$(tombs m3.db)" "[1] [2] [4] [6]"
check_eq "round 1: the untracked table behaves as before: the deleted row came back" \
	"$(sq m1.db "SELECT count(*) FROM plain")" 2

# ---- round 2: deletes against edits ----------------------------------------
tomb_round2
round
round	# m3's stash came last: the earlier machines retrieve what it won
check_same_db "round 2: m1 = m2" m1.db m2.db
check_same_db "round 2: m2 = m3" m2.db m3.db
check_eq "round 2: an edit newer than a delete wins, a delete newer than an edit wins" \
	"$(names m1.db)" "1=again1 3=e3 5=e5 7=e7 8=late8 11=n11 12=n12 13=n13"
check_eq "round 2: no deleted row came back; the reborn key lost its tombstone" \
	"$(tombs m1.db)" "[10] [2] [4] [6] [9]"
check_nogrep "no warning that a table is tracked on one side only" "tracked in" relay.err
