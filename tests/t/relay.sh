# relay.sh - smugglr stash, retrieve, snapshot, snapshots and restore with a
# file:// relay (smg-s3 gives it atomic renames and a lock): the cases are
# tests/relay-cases.sh, shared with relay-s3.sh.  Needs sqlite3, sqldiff,
# GNU date.
TESTS=$PWD
. ./lib.sh
cleanup_hook() { relay_cleanup; }
mkdir -p "$T/store/team"
RELAY=file://$T/store/team
STASH_EXTRA=
. "$TESTS/relay-cases.sh"

# ---- the smg-hash options the relay verbs stand on ---------------------------
check_exit 7 "smg-hash --integrity-check of a file that is not a database: exit 7" smg-hash --integrity-check garbage
check_exit 2 "smg-hash --stats and --backup exclude each other: exit 2" smg-hash --stats --backup x a.db
check_exit 3 "smg-hash --backup of a missing database: exit 3" smg-hash --backup x nosuch.db
check_eq "...and leaves nothing behind" "$(ls | grep -c '^x')" 0
: >schema-only.db	# a file of 0 bytes is an empty database
check "smg-hash --schema-only | smg-apply --create-tables" sh -c 'smg-hash -q --schema-only b.db | smg-apply -q --create-tables schema-only.db'
check_eq "...gives the tables, empty" "$(sqlite3 schema-only.db "SELECT group_concat(name) FROM (SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name)"):$(rows schema-only.db items)" "items,notes,tags:0"
