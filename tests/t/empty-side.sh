# empty-side.sh - a 0-byte file as a side of smg-diff (smg-diff(1), Empty
# sides): what a failed `smg-fetch > FILE` leaves is refused (exit 7,
# naming it, no stream written) as the side the changes come from and with
# --delete, so that it never turns into deletions; as the side written to,
# without --delete, it is an empty database (smugglr --create-tables).
# Needs sqlite3, sqldiff.
. ./lib.sh
need_tools "the empty side tests" sqlite3 sqldiff

sqlite3 local.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT);
INSERT INTO items VALUES (1,'a'),(2,'b'),(3,'c');"
cp local.db before.db
# a fetch that fails: nothing listens on port 9
smg-fetch -q --profile generic 'http://127.0.0.1:9/db' >fetched 2>fetch.err
check_eq "a failed smg-fetch > FILE: non-zero, and FILE is left empty" \
	"$([ $? -ne 0 ] && echo failed) $(wc -c <fetched)" "failed 0"

# refused: every way it would be read as the changes' source, or with --delete
for args in "-d pull --delete local.db fetched" "-d pull local.db fetched" \
	"--delete local.db fetched" "-d push fetched local.db" "-d sync --delete fetched local.db"; do
	# shellcheck disable=SC2086
	smg-diff -q $args >out 2>err
	check_eq "smg-diff $args: exit 7" "$?" 7
	check_grep "... naming the file and what it is" '^smg-diff: fetched: an empty file (0 bytes), as a failed smg-fetch' err
	check_eq "... and no stream on stdout" "$(wc -c <out)" 0
done
# the pipeline of the man page: nothing deleted
smg-diff -q -d pull --delete local.db fetched | smg-apply -q local.db >/dev/null 2>&1
check_same_db "smg-diff -d pull --delete local.db EMPTY | smg-apply local.db: nothing deleted" local.db before.db

# taken: the side written to, without --delete (a database to be filled)
smg-diff -q -d push local.db fetched >push.out 2>push.err
check_eq "smg-diff -d push local.db EMPTY: exit 0 (an empty database to fill)" "$?" 0
check_eq "... every local row goes to it" "$(grep -c '"op":"upsert"' push.out)" 3
smg-diff -q -d sync -r text fetched local.db >sync.out 2>&1
check_eq "smg-diff -d sync EMPTY local.db: exit 0" "$?" 0
cp fetched fill.db
smg-diff -q -d pull fill.db local.db | smg-apply -q --create-tables fill.db >/dev/null
check_same_db "smg-diff -d pull EMPTY local.db | smg-apply --create-tables EMPTY: filled" fill.db local.db

# smugglr push --create-tables --delete into an empty target file: the
# empty destination has nothing to delete, the push goes on
: >target.db
printf 'local_db = "local.db"\n[target]\npath = "target.db"\n' >c.toml
mkdir -p "$T/tmp"
TMPDIR=$T/tmp sh "$SMG_TOP/bin/smugglr" -c c.toml --create-tables --delete push >sm.out 2>sm.err
check_eq "smugglr push --create-tables --delete into an empty file: exit 0" "$?" 0
check_same_db "... it is filled" target.db local.db
