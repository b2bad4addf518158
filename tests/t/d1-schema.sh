# d1-schema.sh - schema changes against Cloudflare's runtime (scripts/d1-server):
# push --add-columns adds a column D1 lacks (ALTER TABLE ADD COLUMN, the
# source's definition) and syncs it; --create-tables creates a table with its
# indexes; a table record whose schema text is anything but one CREATE TABLE
# for that very table is refused, exit 7, nothing sent.  pull --create-tables
# creates a table D1 has with D1's indexes (UNIQUE, partial, names and
# strings quoted every way), the same schema text on both sides.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR
smugglr() { sh "$SMG_TOP/bin/smugglr" "$@"; }

sqlite3 local.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT,
  note TEXT COLLATE NOCASE NOT NULL DEFAULT 'none');
INSERT INTO items VALUES (1,'a','first'),(2,'b','none');
CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT);
CREATE UNIQUE INDEX tags_label ON tags(label);
INSERT INTO tags VALUES (1,'red'),(2,'blue');"
d1sql "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO items VALUES (1,'a'),(2,'old b')" || exit 1
cat >config.toml <<EOF
local_db = "local.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
endpoint = "$D1_URL"
EOF

check_exit 8 "push without --add-columns: the drifted table is skipped, exit 8" smugglr push -t items
check_grep "... naming the column D1 lacks" '"note"' .err
check_exit 0 "push --add-columns --create-tables: exit 0" smugglr push --add-columns --create-tables
check_eq "... D1's items has the column, with the source's definition" \
	"$(sqlite3 "$D1_SQLITE" "SELECT type, \"notnull\", dflt_value FROM pragma_table_info('items') WHERE name='note'")" \
	"TEXT|1|'none'"
check_same_table "... and the rows (sqldiff)" local.db "$D1_SQLITE" items
check_eq "... tags was created with its UNIQUE index" \
	"$(sqlite3 "$D1_SQLITE" "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='tags'")" "tags_label"
check_same_table "... and its rows (sqldiff)" local.db "$D1_SQLITE" tags
check_exit 0 "a second push: exit 0" smugglr push --add-columns
check_grep "... nothing to write" 'wrote 0 upserts and 0 deletes' .out

# A table record whose schema text does something else.
smg-hash -q -t tags local.db >tags.s
d1sql "DROP TABLE tags" || exit 1
before=$(sqlite3 "$D1_SQLITE" "SELECT count(*) FROM items")
for evil in 'CREATE TABLE tags(id INTEGER PRIMARY KEY, label TEXT); DELETE FROM items' \
	    'CREATE TEMP TABLE tags(id INTEGER PRIMARY KEY, label TEXT)' \
	    'CREATE TABLE other(id INTEGER PRIMARY KEY, label TEXT)'; do
	jq -c --arg s "$evil" 'if .kind == "table" then .sql = $s else . end' tags.s >evil.s
	: >empty.db
	smg-diff -q evil.s empty.db >evil-changes.s
	check_exit 7 "--create-tables with schema text \"$(echo "$evil" | cut -c1-40)...\": exit 7" \
		smg-apply -q --create-tables --endpoint "$D1_URL" "$TGT" -i evil-changes.s
	check_eq "... nothing ran on D1" \
		"$(sqlite3 "$D1_SQLITE" "SELECT count(*) FROM items"),$(sqlite3 "$D1_SQLITE" "SELECT count(*) FROM sqlite_master WHERE name IN ('tags','other')")" \
		"$before,0"
done

# pull --create-tables: the table comes with D1's indexes, their text as D1
# has it, odd quoting and all.  A UNIQUE constraint's own index (no text)
# comes with the CREATE TABLE.
d1sql "CREATE TABLE people(id INTEGER PRIMARY KEY, email TEXT, name TEXT,
  \"odd \"\"col\" TEXT, [br] TEXT, \`bq\` TEXT, code TEXT UNIQUE);
CREATE UNIQUE INDEX people_email ON people(email);
CREATE INDEX people_name ON people(name COLLATE NOCASE, id DESC);
CREATE INDEX \"it's \"\"odd\"\"; index\" ON people(\"odd \"\"col\", [br], \`bq\`)
  WHERE \"odd \"\"col\" <> 'it''s; DROP TABLE items; --' AND [br] IS NOT '\"x\"';
INSERT INTO people VALUES (1, 'a@x', 'Ann', 'q\"\"q', 'b', 'c', 'k1'),
  (2, 'b@x', 'bob', NULL, NULL, NULL, 'k2')" || exit 1
people_schema() {	# DB: the table's and its indexes' schema rows
	sqlite3 "$1" "SELECT type, name, tbl_name, quote(sql) FROM sqlite_schema
		WHERE tbl_name = 'people' ORDER BY type DESC, name"
}
check_eq "D1 has the table and its 4 indexes" \
	"$(sqlite3 "$D1_SQLITE" "SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'people'")" 5
check_exit 0 "pull --create-tables of a table with indexes: exit 0" \
	smugglr pull --create-tables -t people
check_eq "... the local table and its indexes are D1's (sqlite_schema)" \
	"$(people_schema local.db)" "$(people_schema "$D1_SQLITE")"
check_same_table "... and its rows (sqldiff)" local.db "$D1_SQLITE" people
sqlite3 local.db "INSERT INTO people(id, email) VALUES (3, 'a@x')" 2>unique.err
check_grep "... the UNIQUE index holds on the new table" \
	"UNIQUE constraint failed: people.email" unique.err
check_eq "... its indexes hold its rows (integrity_check)" \
	"$(sqlite3 local.db "PRAGMA integrity_check")" ok
check_eq "... items untouched (the quoted DROP TABLE is text)" \
	"$(sqlite3 local.db "SELECT count(*) FROM items")" 2
smg-fetch -q --endpoint "$D1_URL" -t people "$TGT" >people-d1.s
smg-hash -q -t people local.db >people-local.s
check_eq "... D1's stream and the new table's are byte for byte the same" \
	"$(sum_file people-d1.s)" "$(sum_file people-local.s)"
printf '[target.profile_options]\nmax_statements = 1\n' >one.toml
reset
smg-fetch -q -c one.toml --endpoint "$D1_URL" -t people "$TGT" >people-d1-one.s
check_eq "... the same, one statement a request (the index query a request of its own)" \
	"$(sum_file people-d1-one.s),$(stat max_statements)" "$(sum_file people-local.s),1"
