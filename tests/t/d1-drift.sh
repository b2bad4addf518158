# d1-drift.sh - what differs between a local file and D1 (scripts/d1-server),
# through the smugglr command: a column's declared type (refused once, named,
# never rewritten), a column one side lacks (that table skipped, exit 8, the
# others synced), a table one side lacks under --delete (left alone), a D1
# table whose schema text hides statements in comments (pull --create-tables
# runs only its CREATE TABLE), and timestamps in every unix unit (newer_wins
# picks the newer row both ways).  sqldiff on D1's own file is the oracle.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }
run() { "$@" >out 2>err; rc=$?; }
d1q() { sqlite3 "$D1_SQLITE" "$1"; }
cat >config.toml <<EOF
local_db = "local.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
endpoint = "$D1_URL"
EOF

# ---- type drift: TEXT here, INTEGER on D1 -----------------------------------------
sqlite3 local.db "CREATE TABLE codes(id INTEGER PRIMARY KEY, code TEXT); INSERT INTO codes VALUES (1,'007'),(2,'042');
	CREATE TABLE other(id INTEGER PRIMARY KEY, v VARCHAR(10)); INSERT INTO other VALUES (1,'007');"
d1sql "CREATE TABLE codes(id INTEGER PRIMARY KEY, code INTEGER); CREATE TABLE other(id INTEGER PRIMARY KEY, v TEXT);" || exit 1
run smugglr push
check_eq "TEXT vs INTEGER on D1: push exits 8 (partial)" "$rc" 8
check_grep "... naming table, column and both declared types" \
	'table "codes": column "code" is TEXT in local.db (TEXT affinity) but INTEGER in .* (INTEGER affinity)' err
check_eq "... codes is not written to D1" "$(d1q 'SELECT count(*) FROM codes')" 0
check_same_table "... VARCHAR(10) vs TEXT: other synced, '007' kept (sqldiff)" local.db "$D1_SQLITE" other
reset
run smugglr push
check_eq "a second push: exit 8 again" "$rc" 8
check_eq "... and no row is rewritten on D1" "$(stat rows_written)" 0

# ---- a column only the local side has: that table alone is skipped ----------------------
sqlite3 local.db "DROP TABLE codes; DROP TABLE other;
	CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, note TEXT NOT NULL DEFAULT 'none');
	INSERT INTO items VALUES (1,'a','first'),(2,'b','none');
	CREATE TABLE more(id INTEGER PRIMARY KEY, v); INSERT INTO more VALUES (1,'x'),(2,'y');"
d1sql "DROP TABLE codes; DROP TABLE other; CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT);
	INSERT INTO items VALUES (1,'a'); CREATE TABLE more(id INTEGER PRIMARY KEY, v);" || exit 1
run smugglr push
check_eq "a column D1 lacks: push exits 8" "$rc" 8
check_grep "... naming the table and the column" '^items: skipped: columns differ: only in local.db: "note"' out
check_same_table "... the other table is synced (sqldiff)" local.db "$D1_SQLITE" more
check_eq "... items is untouched on D1" "$(d1q 'SELECT group_concat(id || name) FROM items')" "1a"
run smugglr push --add-columns
check_eq "push --add-columns: exit 0" "$rc" 0
check_same_table "... D1's items got the column and the rows (sqldiff)" local.db "$D1_SQLITE" items

# ---- --delete and a table one side lacks entirely ----------------------------------------
d1sql "CREATE TABLE donly(id INTEGER PRIMARY KEY, v); INSERT INTO donly VALUES (1,'keep'),(2,'me');
	INSERT INTO more VALUES (3,'gone')" || exit 1
run smugglr push --delete
check_eq "push --delete with a table only D1 has: exit 0" "$rc" 0
check_eq "... D1's table is left whole, the other mirrored" \
	"$(d1q 'SELECT count(*) FROM donly'),$(d1q 'SELECT count(*) FROM more')" "2,2"
check_grep "... and stderr says why" 'table "donly": local.db lacks it entirely: --delete leaves it alone' err
sqlite3 local.db "CREATE TABLE lonly(id INTEGER PRIMARY KEY, v); INSERT INTO lonly VALUES (1,'mine')"
run smugglr pull --delete -t more -t lonly
check_eq "pull --delete naming a table D1 lacks: exit 3, the local table kept" \
	"$rc $(sqlite3 local.db 'SELECT count(*) FROM lonly')" "3 1"
sqlite3 local.db "DROP TABLE lonly"
run smugglr push --delete -t donly
check_eq "push --delete --table donly: named, it is emptied" "$rc $(d1q 'SELECT count(*) FROM donly')" "0 0"

# ---- pull --create-tables of a D1 table whose schema text hides statements ---------------
d1sql "CREATE TABLE hid(id INTEGER PRIMARY KEY, v TEXT /* ; DELETE FROM items; */, w -- ; DROP TABLE more
	); INSERT INTO hid VALUES (1,'a',2)" || exit 1
before=$(sqlite3 local.db 'SELECT count(*) FROM items'),$(sqlite3 local.db 'SELECT count(*) FROM more')
run smugglr pull --create-tables -t hid
check_eq "pull --create-tables of a table whose comments hold statements: exit 0" "$rc" 0
check_same_table "... the table is made, with its rows (sqldiff)" local.db "$D1_SQLITE" hid
check_eq "... and nothing the comments say ran" \
	"$(sqlite3 local.db 'SELECT count(*) FROM items'),$(sqlite3 local.db 'SELECT count(*) FROM more')" "$before"

# ---- timestamps in every unix unit, newer_wins both ways ---------------------------------
s=1772359200
sqlite3 local.db "CREATE TABLE ts(id INTEGER PRIMARY KEY, v TEXT, updated_at);
INSERT INTO ts VALUES (1,'l1',$((s + 1))),(2,'l2',$s),(3,'l3',${s}000001),(4,'l4',${s}000000000),
 (5,'l5',${s}000002000),(6,'l6','2026-03-01T10:00:00.5Z'),(7,'l7','9300000000000001'),(8,'l8',9300000000000000001);"
d1sql "CREATE TABLE ts(id INTEGER PRIMARY KEY, v TEXT, updated_at);
INSERT INTO ts VALUES (1,'r1',${s}000),(2,'r2',${s}001),(3,'r3',${s}000000000),(4,'r4',${s}000001000),
 (5,'r5',${s}000001000),(6,'r6',${s}499),(7,'r7',9300000000000000),(8,'r8',9300000000000000000);" || exit 1
cat >ts.toml <<EOF
local_db = "local.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
endpoint = "$D1_URL"
[sync]
conflict_resolution = "newer_wins"
timestamp_column = "updated_at"
tables = ["ts"]
EOF
run smugglr -c ts.toml sync
check_eq "sync newer_wins, timestamps in s, ms, us, ns and ISO: exit 0" "$rc" 0
check_same_table "... both sides agree (sqldiff)" local.db "$D1_SQLITE" ts
check_eq "... and each row is the newer one: local 1 3 5 6 7 8, D1 2 4" \
	"$(sqlite3 local.db 'SELECT group_concat(v) FROM ts')" "l1,r2,l3,r4,l5,l6,l7,l8"
