# schema.sh - schemas that differ between the sides, on SQLite files
# (sqldiff as the oracle): a table whose columns, key or declared types
# differ is skipped and the others sync (exit 8); --add-columns adds what
# the destination lacks; --create-tables runs only one CREATE TABLE for the
# table and its CREATE INDEXes, and makes a destination file that does not
# exist or is empty; --delete leaves alone a table the source lacks.
# Needs sqlite3, sqldiff, jq.
. ./lib.sh
need_tools "schema.sh" sqlite3 sqldiff jq

SH=sh; command -v dash >/dev/null 2>&1 && SH=dash
smugglr() { "$SH" "$SMG_TOP/bin/smugglr" "$@"; }
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR
run() { "$@" >out 2>err; rc=$?; }
# the rows and schema of one table, to show it was not touched
table_dump() { sqlite3 "$1" "SELECT sql FROM sqlite_schema WHERE tbl_name = '$2'" && typed_dump "$1" "$2"; }

cat >config.toml <<'EOF'
local_db = "local.db"

[target]
path = "remote.db"
EOF

# ---- a column added on one side: that table is skipped, the others sync ------
fresh() {
	rm -f local.db remote.db
	sqlite3 local.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, note TEXT NOT NULL DEFAULT 'none' COLLATE NOCASE);
		INSERT INTO items VALUES (1,'a','first'),(2,'b','second');
		CREATE TABLE other(id INTEGER PRIMARY KEY, v);
		INSERT INTO other VALUES (1,'x'),(2,'y');"
	sqlite3 remote.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT);
		INSERT INTO items VALUES (1,'a'),(3,'c');
		CREATE TABLE other(id INTEGER PRIMARY KEY, v);
		INSERT INTO other VALUES (1,'old');"
}
fresh
before=$(table_dump remote.db items)
smg-diff -q local.db remote.db >s 2>s.err
check_eq "smg-diff: a table with a column only local has: exit 8" "$?" 8
check_grep "... warning with the table and the columns on each side" \
	'table "items": columns differ: only in local.db: "note"; only in remote.db: none .*skipped' s.err
check_eq "... the stream is complete for the other table (trailer included), without items" \
	"$(jq -r 'select(.kind == "table" or .kind == "end") | .kind + ":" + (.table // "")' s | tr '\n' ' ')" \
	"table:other end: "
check_exit 0 "... and smg-apply takes it" smg-apply -q -i s remote.db
check_same_table "... other is synced (sqldiff)" local.db remote.db other
check_eq "... items is untouched" "$(table_dump remote.db items)" "$before"

fresh
run smugglr push
check_eq "smugglr push: exit 8 (partial)" "$rc" 8
check_grep "... the report names the skipped table and why" '^items: skipped: columns differ: only in local.db: "note"' out
check_grep "... and what it wrote to the rest" 'remote.db: other: 2 upserted' out
check_grep "... the warning reaches stderr" 'table "items": columns differ' err
check_same_table "... other is synced (sqldiff)" local.db remote.db other
check_eq "... items is untouched" "$(table_dump remote.db items)" "$before"
fresh
run smugglr push -o json
check_eq "push -o json: exit 8, one object saying partial and why items was skipped" \
	"$rc $(jq -c '[.diff.partial, [.diff.tables[] | [.table, (.skipped_schema // "" | .[0:15])]], .apply.upserted]' out)" \
	'8 [true,[["items","columns differ:"],["other",""]],2]'
run smugglr status
check_eq "status: exit 8 too" "$rc" 8
check_grep "... saying so" '^items: skipped: columns differ' out
run smugglr sync
check_eq "sync: exit 8, other synced both ways" "$rc" 8
check_same_table "... other (sqldiff)" local.db remote.db other

# ---- --add-columns ----------------------------------------------------------------
fresh
run smugglr push --add-columns
check_eq "push --add-columns: exit 0" "$rc" 0
check_grep "... reporting the column added" 'remote.db: items: .* (column "note" added)' out
check_eq "... with the source's type, collation, NOT NULL and default" \
	"$(sqlite3 remote.db "SELECT type, \"notnull\", dflt_value FROM pragma_table_xinfo('items') WHERE name = 'note'")" \
	"TEXT|1|'none'"
check_eq "... NOCASE collation included" \
	"$(sqlite3 remote.db "INSERT INTO items VALUES (9,'z','ABC'); SELECT count(*) FROM items WHERE note = 'abc'; DELETE FROM items WHERE id = 9")" 1
sqlite3 remote.db "DELETE FROM items WHERE id = 3"	# remote's own row
check_same_db "... and both tables agree (sqldiff)" local.db remote.db
run smugglr push --add-columns
check_eq "a second push --add-columns: exit 0, nothing written" "$rc $(grep -c 'wrote 0 upserts' out)" "0 1"

fresh
sqlite3 remote.db "ALTER TABLE items ADD COLUMN extra INT"
run smugglr push --add-columns
check_eq "--add-columns with a column only the destination has: still skipped, exit 8" "$rc" 8
check_grep "... naming it" 'only in remote.db: "extra"' out

fresh
cp local.db l2.db; cp remote.db r2.db
mv l2.db remote.db; mv r2.db local.db	# now local lacks the column
run smugglr pull --add-columns -p remote_wins
check_eq "pull --add-columns: exit 0, the local table gets the column" \
	"$rc $(sqlite3 local.db "SELECT count(*) FROM pragma_table_info('items') WHERE name = 'note'")" "0 1"
sqlite3 local.db "DELETE FROM items WHERE id = 3"
check_same_db "... and the rows (sqldiff)" local.db remote.db

fresh
run smugglr sync --add-columns
check_eq "sync --add-columns: usage error, exit 2" "$rc" 2
check_grep "... saying it goes with push or pull" 'add-columns goes with push or pull' err
check_exit 2 "smg-diff -d sync --add-columns: exit 2" smg-diff -d sync --add-columns local.db remote.db

# a column ALTER TABLE cannot add: refused, exit 7, nothing written
fresh
sqlite3 local.db "ALTER TABLE items RENAME TO old_items;
	CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, note TEXT NOT NULL);
	INSERT INTO items SELECT id, name, note FROM old_items; DROP TABLE old_items"
before=$(sum_file remote.db)
run smugglr push --add-columns
check_eq "a NOT NULL column without a default: exit 7, nothing written" "$rc $(sum_file remote.db)" "7 $before"
check_grep "... saying why" 'cannot add column "note" to table "items": column "note" is NOT NULL without a default' err
fresh
smg-diff -q --add-columns local.db remote.db >s
before=$(sum_file remote.db)
check_exit 7 "smg-apply without --add-columns, a table that lacks a column: exit 7" smg-apply -q -i s remote.db
check_grep "... naming it and --add-columns" 'table "items" lacks column "note" (--add-columns' .err
check_eq "... nothing written" "$(sum_file remote.db)" "$before"

# ---- type drift: refused once, never rewritten ------------------------------------
rm -f local.db remote.db
sqlite3 local.db "CREATE TABLE codes(id INTEGER PRIMARY KEY, code TEXT); INSERT INTO codes VALUES (1,'007'),(2,'042');
	CREATE TABLE other(id INTEGER PRIMARY KEY, v VARCHAR(10)); INSERT INTO other VALUES (1,'007');"
sqlite3 remote.db "CREATE TABLE codes(id INTEGER PRIMARY KEY, code INTEGER);
	CREATE TABLE other(id INTEGER PRIMARY KEY, v TEXT);"
run smugglr push
check_eq "TEXT vs INTEGER: push exits 8" "$rc" 8
check_grep "... naming table, column and both declared types" \
	'table "codes": column "code" is TEXT in local.db (TEXT affinity) but INTEGER in remote.db (INTEGER affinity)' err
check_eq "... codes is not written" "$(sqlite3 remote.db 'SELECT count(*) FROM codes')" 0
check_same_table "... VARCHAR(10) vs TEXT is the same affinity: other synced, '007' kept" local.db remote.db other
before=$(sum_file remote.db)
run smugglr push
check_eq "a second push: exit 8 again, nothing rewritten" "$rc $(sum_file remote.db)" "8 $before"
check_grep "... it writes no upsert" 'wrote 0 upserts' out

# ---- --create-tables: the schema text is one CREATE TABLE for that table --------
rm -f src.db dst.db
sqlite3 src.db "CREATE TABLE x(id INTEGER PRIMARY KEY, email TEXT, n INT);
	CREATE UNIQUE INDEX x_email ON x(email);
	CREATE INDEX x_n ON x(n) WHERE n > 0;
	INSERT INTO x VALUES (1,'a@x',1),(2,'b@x',2);"
sqlite3 dst.db "CREATE TABLE items(id INTEGER PRIMARY KEY, v); INSERT INTO items VALUES (1,'keep me');"
smg-diff -q -t x src.db dst.db >create.s
check_eq "the table record carries the source's indexes" \
	"$(jq -c 'select(.kind == "table") | .indexes' create.s)" \
	'["CREATE UNIQUE INDEX x_email ON x(email)","CREATE INDEX x_n ON x(n) WHERE n > 0"]'
before=$(sum_file dst.db)
hostile() {	# WHAT JQ-FILTER
	jq -c "if .kind == \"table\" then $2 else . end" create.s >hostile.s
	check_exit 7 "--create-tables refuses $1: exit 7" smg-apply -q --create-tables -i hostile.s dst.db
	check_eq "... nothing written" "$(sum_file dst.db)" "$before"
}
hostile "a DELETE after the CREATE TABLE" '.sql = "CREATE TABLE x(id INTEGER PRIMARY KEY, email TEXT, n INT); DELETE FROM items"'
check_grep "... saying what is wrong" 'refusing to create table "x": its schema text is more than one CREATE TABLE statement' .err
hostile "a CREATE TEMP TABLE" '.sql = "CREATE TEMP TABLE x(id INTEGER PRIMARY KEY, email TEXT, n INT)"'
check_grep "... saying TEMP" 'TEMP' .err
hostile "a CREATE TABLE for another table" '.sql = "CREATE TABLE items2(id INTEGER PRIMARY KEY, email TEXT, n INT)"'
check_grep "... naming it" 'it creates table "items2"' .err
hostile "an ATTACH" '.sql = "ATTACH '"'"'evil.db'"'"' AS e"'
check_eq "... and no file was attached into being" "$(ls evil.db 2>/dev/null | wc -l)" 0
hostile "CREATE TABLE AS SELECT" '.sql = "CREATE TABLE x AS SELECT * FROM items"'
hostile "an index with a DROP after it" '.indexes = ["CREATE INDEX x_n ON x(n); DROP TABLE items"]'
hostile "an index on another table" '.indexes = ["CREATE INDEX i_v ON items(v)"]'
hostile "a trigger in place of an index" '.indexes = ["CREATE TRIGGER t AFTER INSERT ON x BEGIN DELETE FROM items; END"]'
check_exit 7 "--dry-run checks the schema text too" smg-apply -q -n --create-tables -i hostile.s dst.db
check_exit 0 "the genuine record: --create-tables creates the table" smg-apply -q --create-tables -i create.s dst.db
check_same_table "... with its rows (sqldiff)" src.db dst.db x
check_eq "... and its indexes, as the source has them" \
	"$(sqlite3 dst.db "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'x' ORDER BY name")" \
	"$(sqlite3 src.db "SELECT sql FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'x' ORDER BY name")"
check_eq "... the UNIQUE index holds on the destination" \
	"$(sqlite3 dst.db "INSERT INTO x VALUES (3,'a@x',3)" 2>&1 | grep -c 'UNIQUE constraint failed')" 1
check_eq "... and items was never touched" "$(sqlite3 dst.db 'SELECT v FROM items')" "keep me"
sqlite3 dst2.db "CREATE TABLE items(id INTEGER PRIMARY KEY, v); CREATE INDEX x_email ON items(v);"
before=$(sum_file dst2.db)
check_exit 7 "an index name the target already uses for another table: exit 7" \
	smg-apply -q --create-tables -i create.s dst2.db
check_grep "... naming the table and the index" 'table "x": cannot create its index: index x_email already exists' .err
check_eq "... nothing written, not even the table" "$(sum_file dst2.db)" "$before"

# ---- push --create-tables into a target file that does not exist, or is empty ------
rm -f local.db remote.db
sqlite3 local.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT UNIQUE); INSERT INTO a VALUES (1,'x'),(2,'y');
	CREATE TABLE b(k TEXT PRIMARY KEY, n) WITHOUT ROWID; INSERT INTO b VALUES ('k',1);"
run smugglr push
check_eq "push into a target that does not exist: exit 3" "$rc" 3
run smugglr push -n --create-tables
check_eq "push -n --create-tables: exit 0, and the target is not left behind" \
	"$rc $(ls remote.db 2>/dev/null | wc -l)" "0 0"
run smugglr push --create-tables
check_eq "push --create-tables into a target that does not exist: exit 0" "$rc" 0
check_same_db "... it is created with every table (sqldiff)" local.db remote.db
rm -f remote.db; : >remote.db
run smugglr push
check_eq "push into an empty target file: exit 7" "$rc" 7
run smugglr push --create-tables
check_eq "push --create-tables into an empty target file: exit 0" "$rc" 0
check_same_db "... it is filled (sqldiff)" local.db remote.db
rm -f local.db; : >local.db
run smugglr pull --create-tables
check_eq "pull --create-tables into an empty local file: exit 0" "$rc" 0
check_same_db "... it is filled (sqldiff)" local.db remote.db

# ---- --delete never empties a table the source lacks entirely ----------------------
rm -f local.db remote.db
sqlite3 local.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v); INSERT INTO a VALUES (1,'x');"
sqlite3 remote.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v); INSERT INTO a VALUES (1,'x'),(2,'y');
	CREATE TABLE precious(id INTEGER PRIMARY KEY, v); INSERT INTO precious VALUES (1,'p'),(2,'q');"
run smugglr push --delete
check_eq "push --delete: exit 0" "$rc" 0
check_eq "... a's extra row is deleted, precious (only remote) keeps its rows" \
	"$(sqlite3 remote.db 'SELECT count(*) FROM a; SELECT count(*) FROM precious' | tr '\n' ' ')" "1 2 "
check_grep "... the report names it as left alone" '^precious: (only remote) remote_only 2, left alone: the source lacks the table' out
check_grep "... and stderr says why" 'table "precious": local.db lacks it entirely: --delete leaves it alone' err
run smugglr push --delete -o json
check_eq "... in JSON: left_alone" "$(jq -c '[.diff.tables[] | select(.left_alone) | .table]' out)" '["precious"]'
run smugglr push --delete -t precious -t a
check_eq "push --delete --table precious: named, it is emptied" \
	"$rc $(sqlite3 remote.db 'SELECT count(*) FROM precious')" "0 0"

# ---- the relay verbs: a table whose schema differs is skipped, the rest moves ------
mkdir -p relay
rm -f local.db other.db
sqlite3 local.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v); INSERT INTO a VALUES (1,'x');
	CREATE TABLE b(id INTEGER PRIMARY KEY, v); INSERT INTO b VALUES (1,'y');"
printf 'local_db = "local.db"\n[stash]\nurl = "file://%s/relay/team.db"\n' "$T" >relay.toml
run smugglr -c relay.toml stash
check_eq "stash into a new relay: exit 0" "$rc" 0
sqlite3 local.db "ALTER TABLE b ADD COLUMN note TEXT; INSERT INTO a VALUES (2,'x2'); INSERT INTO b VALUES (2,'y2','n')"
run smugglr -c relay.toml stash
# what the relay (a log: smugglr-relay(7)) holds, retrieved into a new database
: >relay-now.db
printf 'local_db = "relay-now.db"\n[stash]\nurl = "file://%s/relay/team.db"\n' "$T" >relay-now.toml
smugglr -c relay-now.toml --create-tables retrieve >/dev/null 2>&1
check_eq "stash with a column the relay lacks: exit 8, the rest uploaded" \
	"$rc $(sqlite3 relay-now.db 'SELECT count(*) FROM a; SELECT count(*) FROM b' | tr '\n' ' ')" "8 2 1 "
check_grep "... naming the table and the column" 'table "b": columns differ: only in local.db: "note"' err
sqlite3 other.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT, extra);"
printf 'local_db = "other.db"\n[stash]\nurl = "file://%s/relay/team.db"\n' "$T" >relay2.toml
run smugglr -c relay2.toml retrieve
check_eq "retrieve into a database whose table b has another column: exit 8, a retrieved" \
	"$rc $(sqlite3 other.db 'SELECT count(*) FROM a; SELECT count(*) FROM b' | tr '\n' ' ')" "8 2 0 "
check_same_table "... a agrees with the relay (sqldiff)" other.db relay-now.db a

# ---- watch: a partial tick says so ----------------------------------------------------
rm -f local.db remote.db
sqlite3 local.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v, extra); INSERT INTO a VALUES (1,'x',0);
	CREATE TABLE b(id INTEGER PRIMARY KEY, v); INSERT INTO b VALUES (1,'y');"
sqlite3 remote.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v); CREATE TABLE b(id INTEGER PRIMARY KEY, v);"
run smugglr watch --ticks 1 --interval 1
check_eq "watch --ticks 1 with a table skipped: exit 8, b synced" \
	"$rc $(sqlite3 remote.db 'SELECT count(*) FROM a; SELECT count(*) FROM b' | tr '\n' ' ')" "8 0 1 "
check_grep "... the tick says partial" '^tick 1: .* partial (exit 8)' out
