# relay-config.sh - the relay's settings in the [stash] table: when a stash
# compacts the log (compact_min_bytes, compact_percent) and how long what
# it folded is kept (compact_grace_secs), the variables that win over them,
# and bad values refused with exit 2, naming the key or the variable.  On
# a file:// relay.  Needs sqlite3, sqldiff.
. ./lib.sh
need_tools "the relay config tests" sqlite3 sqldiff
unset SMUGGLR_RELAY_COMPACT_MIN_BYTES SMUGGLR_RELAY_COMPACT_PERCENT SMUGGLR_RELAY_GRACE_SECS
mkdir store
sqlite3 a.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)"
sqlite3 b.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT)"
cfg() {	# NAME DB [STASH LINES]
	printf 'local_db = "%s"\n[stash]\nurl = "file://%s/store/r.db"\n%s\n' "$2" "$T" "${3:-}" >"$1.toml"
}
row() { sqlite3 a.db "INSERT INTO items VALUES ($1, 'row $1')"; }
segs() { ls store/r.db.log | grep -c '^seg-'; }

# ---- the defaults: a small log is not compacted ------------------------------------
cfg a a.db
row 1
check "the first stash" smugglr -c a.toml stash
row 2
check "a stash of one row, the defaults" smugglr -c a.toml -o json stash
check_nogrep "...does not compact (1 MiB at least)" '"compacted"' "$T/.out"

# ---- compact_min_bytes and compact_percent from the file ------------------------------
cfg a a.db 'compact_min_bytes = 0
compact_percent = 0
compact_grace_secs = 1'
row 3
check "compact_min_bytes = 0, compact_percent = 0: a stash" smugglr -c a.toml -o json stash
check_grep "...compacts" '"compacted":2' "$T/.out"
check_eq "...the segments it folded stay for the grace" "$(segs)" 2
sleep 2
row 4
check "a stash after compact_grace_secs = 1" smugglr -c a.toml -o json stash
check_grep "...compacts again" '"compacted":3' "$T/.out"
check_eq "...and deletes the segments folded before the grace" "$(ls store/r.db.log | grep -c '^seg-000000000[12]$')" 0
cfg b b.db
check "another machine retrieves" smugglr -c b.toml retrieve
check_same_db "...every row (sqldiff)" a.db b.db

# ---- the variables win over the file ----------------------------------------------------
row 5
check "SMUGGLR_RELAY_COMPACT_MIN_BYTES=100000000 over the file: a stash" \
	env SMUGGLR_RELAY_COMPACT_MIN_BYTES=100000000 smugglr -c a.toml -o json stash
check_nogrep "...does not compact" '"compacted"' "$T/.out"

# ---- bad values: exit 2, naming them, nothing written -----------------------------------
row 6
before=$(ls store/r.db.log | wc -l)
for kv in 'compact_percent = -1' 'compact_min_bytes = "lots"' 'compact_grace_secs = 0' 'part_size = 1.5'; do
	cfg bad a.db "$kv"
	check_exit 2 "[stash] $kv: exit 2" smugglr -c bad.toml stash
	check_grep "...naming stash.${kv%% *}" "stash\\.${kv%% *}" "$T/.err"
done
for v in SMUGGLR_RELAY_COMPACT_MIN_BYTES=-5 SMUGGLR_RELAY_COMPACT_PERCENT=lots SMUGGLR_RELAY_GRACE_SECS=0; do
	check_exit 2 "$v: exit 2" env "$v" smugglr -c a.toml stash
	check_grep "...naming ${v%%=*}" "${v%%=*}=" "$T/.err"
done
check_eq "...and nothing was written to the relay" "$(ls store/r.db.log | wc -l)" "$before"
