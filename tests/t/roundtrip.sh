# roundtrip.sh - whole databases through the pipeline and back, with sqldiff
# as the oracle: every type and awkward identifier, then 20k rows with
# updates, inserts and deletes.  Needs sqlite3, sqldiff, jq.
. ./lib.sh

# check_same_pk WHAT A B: sqldiff --primarykey prints nothing.  A rowid table
# whose key is not INTEGER PRIMARY KEY ("order" below) gets rowids in insertion
# order, which no sync carries: sqldiff must match its rows by the declared key.
check_same_pk() {
	if sqldiff --primarykey "$2" "$3" >"$T/.sqldiff" 2>&1 && [ ! -s "$T/.sqldiff" ]; then ok "$1"
	else fail "$1 (sqldiff --primarykey says:)"; head -20 "$T/.sqldiff" | sed 's/^/    /'; fi
}

# tdump DB TABLE: typed_dump for any identifiers (quotes in table and column names)
tdump() {
	q=$(printf '%s' "$2" | sed 's/"/""/g'); l=$(printf '%s' "$2" | sed "s/'/''/g")
	cols=$(sqlite3 "$1" "SELECT group_concat('typeof(\"'||replace(name,'\"','\"\"')||'\")||'':''||quote(\"'||replace(name,'\"','\"\"')||'\")', '||''|''||') FROM pragma_table_info('$l')")
	sqlite3 "$1" "SELECT $cols FROM \"$q\" ORDER BY 1"
}

schema='
CREATE TABLE "all types"(id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, any_ NUMERIC, free, updated_at TEXT);
CREATE TABLE "we""ird ✓ name"("the ""key""" TEXT, "select" INTEGER, "ünï" BLOB, "from where" REAL,
    PRIMARY KEY("select", "the ""key""")) WITHOUT ROWID;
CREATE TABLE "order"("group" PRIMARY KEY, "by" TEXT);
CREATE TABLE "Zebra"(k TEXT PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE apple(id INTEGER PRIMARY KEY);'
sqlite3 a.db "$schema"
sqlite3 a.db <<'EOF'
INSERT INTO "all types" VALUES
 (-9223372036854775808, 9223372036854775807, 0.1, 'plain', X'00', 1, NULL, '2026-01-01T00:00:00Z'),
 (9223372036854775807, -9223372036854775808, 1e308, '', X'', 0, '', NULL),
 (0, 0, 5e-324, '0', zeroblob(0), '0', 0, '2026-03-01T11:00:00+01:00'),
 (1, NULL, 0.30000000000000004, 'say "hi" \ back', randomblob(1048576), 1.5, -0.0, 1767225600),
 (2, 1, 1.0, 'ünïcödé ✓ 日本 😀', X'FFFE00', NULL, 1e999, NULL),
 (3, -1, -1.5e-300, 'line
break	tab', X'0A0D', 'abc', -1e999, NULL),
 (4, 42, 123456789.125, CAST(X'61FF62' AS TEXT), X'22275C', 9223372036854775807, CAST(X'610062' AS TEXT), NULL),
 (5, 7, -0.0, char(1,2,31,127), randomblob(300), -2, X'00', 'not a time'),
 (6, 8, 2.5, NULL, NULL, NULL, 0.1, NULL);
INSERT INTO "we""ird ✓ name" VALUES
 ('a', 1, X'01', 1.0), ('A', 1, NULL, NULL), ('"quoted"', 2, X'', -0.5), ('ключ', -5, X'FF', 1e-10),
 ('', 0, NULL, 0.0), ('z', 9223372036854775807, X'AA', 3.25);
INSERT INTO "order" VALUES (1, 'int'), (1.5, 'real'), ('1', 'text one'), (X'01', 'blob'),
 ('a', 'lower'), ('B', 'upper'), (-7, 'neg'), (' space', 'sp');
INSERT INTO "Zebra" VALUES ('Z', 1), ('z', 2);
INSERT INTO apple VALUES (1);
EOF
cp a.db a0.db
sqlite3 b.db "$schema"

smg-hash -q a.db | smg-diff -q - b.db | smg-apply -q b.db >push.out 2>push.err
check_eq "a.db -> empty b.db: the pipeline exits 0" "$?" 0
check_eq "every row was written (9 + 6 + 8 + 2 + 1)" "$(tail -n 1 push.out)" \
	"b.db: wrote 26 upserts and 0 deletes in 5 tables"
check_same_pk "sqldiff --primarykey a.db b.db prints nothing" a.db b.db
check_same_pk "sqldiff --primarykey b.db a.db prints nothing" b.db a.db
for t in "all types" 'we"ird ✓ name' Zebra apple; do
	check_same_table "sqldiff --table '$t' a.db b.db prints nothing" a.db b.db "$t"
done
for t in "all types" order Zebra apple; do
	check_eq "typeof() and value of every column of '$t' preserved (typed_dump)" "$(typed_dump b.db "$t")" "$(typed_dump a.db "$t")"
done
check_eq "control: tdump sees the 6 rows of the quoted table" "$(tdump a.db 'we"ird ✓ name' | wc -l)" 6
check_eq "typeof() and value of every column of 'we\"ird ✓ name' preserved" \
	"$(tdump b.db 'we"ird ✓ name')" "$(tdump a.db 'we"ird ✓ name')"
check_eq "bytes of text, blobs and reals (hex, printf %!.17g) are identical" \
	"$(sqlite3 b.db "SELECT id, hex(t), hex(b), hex(free), printf('%!.17g', r), printf('%!.17g', free) FROM \"all types\" ORDER BY id")" \
	"$(sqlite3 a.db "SELECT id, hex(t), hex(b), hex(free), printf('%!.17g', r), printf('%!.17g', free) FROM \"all types\" ORDER BY id")"
check_eq "the text with an embedded NUL keeps all 3 bytes" \
	"$(sqlite3 b.db "SELECT typeof(free), hex(free) FROM \"all types\" WHERE id = 4")" "text|610062"
check_eq "-0.0 stays negative zero (as smg-hash reads it back from b.db)" \
	"$(smg-hash -q -t "all types" b.db | grep -c '"key":\[1\].*,-0\.0,"1767225600"\]')" 1
check_eq "a second diff finds everything identical (26)" \
	"$(smg-diff -q -r json a.db b.db | jq -c '.total | [.identical, .local_only, .remote_only, .local_newer, .remote_newer, .content_differs]')" \
	'[26,0,0,0,0,0]'

# ... and back: empty a.db, pull everything from b.db
for t in "all types" 'we""ird ✓ name' order Zebra apple; do sqlite3 a.db "DELETE FROM \"$t\""; done
check_eq "a.db is empty now" "$(sqlite3 a.db 'SELECT count(*) FROM "all types"')" 0
smg-hash -q b.db | smg-diff -q -d pull a.db - | smg-apply -q a.db >pull.out
check_eq "b.db -> a.db by pull writes the 26 rows back" "$(tail -n 1 pull.out)" \
	"a.db: wrote 26 upserts and 0 deletes in 5 tables"
check_same_pk "after the round trip, sqldiff --primarykey a0.db a.db prints nothing" a0.db a.db
check_same_pk "... and sqldiff --primarykey a.db a0.db prints nothing" a.db a0.db
check_same_db "... and plain sqldiff b.db a.db prints nothing (both written in key order)" b.db a.db
check_eq "typeof() preserved through both trips" "$(typed_dump a.db "all types")" "$(typed_dump a0.db "all types")"
check_eq "typeof() preserved through both trips (quoted table)" "$(tdump a.db 'we"ird ✓ name')" "$(tdump a0.db 'we"ird ✓ name')"
check_eq "the stream of the round-tripped a.db is byte-identical to the original's" \
	"$(smg-hash -q a.db | sha256sum)" "$(smg-hash -q a0.db | sha256sum)"

# ... and into a database with no tables at all, with --create-tables
sqlite3 c.db 'PRAGMA user_version = 1'
smg-diff -q a.db c.db | smg-apply -q --create-tables c.db >create.out
check_eq "--create-tables into an empty file creates the 5 tables" \
	"$(grep -c '(table created)' create.out)" 5
check_same_db "sqldiff a.db c.db prints nothing" a.db c.db
check_eq "the schemas are the same" "$(sqlite3 c.db 'SELECT name, sql FROM sqlite_schema ORDER BY name')" \
	"$(sqlite3 a.db 'SELECT name, sql FROM sqlite_schema ORDER BY name')"
check_eq "typeof() preserved in the created tables" "$(typed_dump c.db "all types")" "$(typed_dump a0.db "all types")"

# ---- 20k rows: 1% updates, 0.5% inserts, 0.2% deletes --------------------------
sqlite3 big-a.db <<'EOF'
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB, updated_at TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO items SELECT i, 'item ' || i, i % 97, i / 7.0, randomblob(i % 50), '2026-01-01T00:00:00Z' FROM c;
EOF
cp big-a.db big-b.db
sqlite3 big-a.db <<'EOF'
UPDATE items SET name = name || ' (changed)', qty = qty + 1, updated_at = '2026-02-01T00:00:00Z' WHERE id % 100 = 0;
INSERT INTO items SELECT id + 20000, 'new ' || id, NULL, 0.5, X'', '2026-02-01T00:00:00Z' FROM items WHERE id % 200 = 1;
DELETE FROM items WHERE id % 500 = 7;
EOF
check_eq "the change set: 200 updated, 100 inserted, 40 deleted" \
	"$(sqlite3 big-a.db "SELECT (SELECT count(*) FROM items WHERE name LIKE '%(changed)'), (SELECT count(*) FROM items WHERE id > 20000), 20100 - (SELECT count(*) FROM items)")" \
	"200|100|40"
smg-diff -q -r json -p newer_wins --delete big-a.db big-b.db >big.json
check_eq "the diff: 100 local_only, 40 remote_only, 200 local_newer, 19760 identical" \
	"$(jq -c '.total | [.local_only, .remote_only, .local_newer, .remote_newer, .content_differs, .identical, .upsert_remote, .delete_remote]' big.json)" \
	'[100,40,200,0,0,19760,300,40]'
smg-hash -q big-a.db | smg-diff -q -p newer_wins --delete - big-b.db | smg-apply -q -r json big-b.db >big-apply.json
check_eq "smg-apply writes 300 upserts and 40 deletes" "$(jq -c '[.upserted, .deleted]' big-apply.json)" '[300,40]'
check_same_db "the 20k-row table converges: sqldiff prints nothing" big-a.db big-b.db
check_eq "a second run has nothing to do" \
	"$(smg-diff -q --delete big-a.db big-b.db | grep -c '"kind":"change"')" 0
# the other way: change b, pull into a
sqlite3 big-b.db "UPDATE items SET price = price * 2, updated_at = '2026-03-01T00:00:00Z' WHERE id % 250 = 3; DELETE FROM items WHERE id % 1000 = 11;"
smg-diff -q -d pull -p newer_wins --delete big-a.db big-b.db | smg-apply -q -r json big-a.db >pull.json
check_eq "pull: 80 upserts, 20 deletes" "$(jq -c '[.upserted, .deleted]' pull.json)" '[80,20]'
check_same_db "pull: the two databases converge again" big-a.db big-b.db
