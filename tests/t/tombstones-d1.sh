# tombstones-d1.sh - deletes of tracked tables between a SQLite file and D1
# (Cloudflare's own runtime under miniflare, scripts/d1-server; issue #14):
# smugglr track installs the triggers in D1 too; deletes on either side
# travel with sync, with the time of the delete; an edit newer than a
# delete wins, a delete newer than an edit wins; afterwards D1's own file
# and the local one hold the same rows and tombstones (sqldiff); a table
# without a primary key cannot be tracked there (exit 2).
# Needs node/npm, curl, jq, sqlite3, sqldiff, bc.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR
NOW="strftime('%Y-%m-%dT%H:%M:%fZ','now')"
OLD="'2026-01-01T00:00:00Z'"
sq() { sqlite3 "$@"; }
tick() { sleep 0.05; }
names() { sq "$1" "SELECT group_concat(id || '=' || name, ' ') FROM (SELECT * FROM items ORDER BY id)"; }
tombs() { sq "$1" "SELECT group_concat(key, ' ') FROM (SELECT key FROM _smugglr_tombstones ORDER BY key)"; }

schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)"
rows="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8)
	INSERT INTO items SELECT i, 'r' || i, $OLD FROM n"
sq local.db "$schema; $rows"
d1sql "$schema; $rows" || exit 0
cat >c.toml <<EOF
local_db = "local.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
type = "d1"
endpoint = "$D1_URL"
[sync]
conflict_resolution = "newer_wins"
EOF
# D1's file as a plain SQLite file, for sqlite3 and sqldiff (a copy: the
# runtime keeps it open)
d1copy() { sq "$D1_SQLITE" ".backup d1.db"; }

check_exit 0 "track: the local database and D1" smugglr -c c.toml track -t items
check_grep "it says so for D1" "track: items" .out
d1copy
check_eq "the triggers are in D1" \
	"$(sq d1.db "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_schema WHERE type='trigger' ORDER BY name)")" \
	"_smugglr_del_items _smugglr_ins_items _smugglr_upd_items"

sq local.db "DELETE FROM items WHERE id IN (1, 2); INSERT INTO items VALUES (9, 'n9', $NOW)"
d1sql "DELETE FROM items WHERE id = 3" || fail "a delete on D1"
check_exit 0 "sync" smugglr -c c.toml sync
d1copy
check_eq "deletes travelled both ways" "$(names local.db)" "4=r4 5=r5 6=r6 7=r7 8=r8 9=n9"
check_same_table "D1 holds the same rows (sqldiff)" local.db d1.db items
check_same_table "and the same tombstones, with the times of the deletes" local.db d1.db _smugglr_tombstones
check_eq "three tombstones" "$(tombs d1.db)" "[1] [2] [3]"

sq local.db "DELETE FROM items WHERE id = 4"; tick
d1sql "UPDATE items SET name = 'late4', updated_at = $NOW WHERE id = 4" || fail "an edit on D1"
d1sql "UPDATE items SET name = 'early5', updated_at = $NOW WHERE id = 5" || fail "an edit on D1"; tick
sq local.db "DELETE FROM items WHERE id = 5"
check_exit 0 "sync: deletes against edits" smugglr -c c.toml sync
d1copy
check_eq "an edit newer than a delete wins, a delete newer than an edit wins" \
	"$(names local.db)" "4=late4 6=r6 7=r7 8=r8 9=n9"
check_same_table "D1 agrees (sqldiff)" local.db d1.db items
check_same_table "tombstones agree" local.db d1.db _smugglr_tombstones
smugglr -c c.toml sync >again.out 2>&1
check_grep "a further sync writes nothing" "wrote 0 upserts and 0 deletes" again.out

check_exit 0 "untrack" smugglr -c c.toml untrack -t items
d1copy
check_eq "the triggers are gone from D1" \
	"$(sq d1.db "SELECT count(*) FROM sqlite_schema WHERE type='trigger'")" 0

# a table without a primary key cannot be tracked in D1 either
d1sql "CREATE TABLE nokey(a, b); INSERT INTO nokey VALUES (1, 2)" || fail "a table without a key in D1"
check_exit 2 "smg-apply --track of D1's table without a primary key: exit 2" \
	smg-apply -c c.toml --track -t nokey
check_grep "... naming it and saying why it cannot be tracked" \
	'table "nokey" cannot be tracked: no primary key (its tombstones are kept by key)' .err
d1copy
check_eq "... no trigger installed in D1" \
	"$(sq d1.db "SELECT count(*) FROM sqlite_schema WHERE type='trigger'")" 0
