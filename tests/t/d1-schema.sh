# d1-schema.sh - schema changes against Cloudflare's runtime (scripts/d1-server):
# push --add-columns adds a column D1 lacks (ALTER TABLE ADD COLUMN, the
# source's definition) and syncs it; --create-tables creates a table with its
# indexes; a table record whose schema text is anything but one CREATE TABLE
# for that very table is refused, exit 7, nothing sent.
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
