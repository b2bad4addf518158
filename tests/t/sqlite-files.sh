# sqlite-files.sh - SQLite files that are not simply there to be read and
# written: a corrupt one (exit 7), a read-only one (exit 1, "read-only"),
# one another process holds locked ([sync] busy_timeout_ms, exit 6, and a
# sync that wrote the target and then failed locally says so), virtual
# tables (skipped with a warning), and integer settings out of range.
# Needs sqlite3, sqldiff.
. ./lib.sh
need_tools "sqlite-files.sh" sqlite3 sqldiff

SH=sh; command -v dash >/dev/null 2>&1 && SH=dash
smugglr() { "$SH" "$SMG_TOP/bin/smugglr" "$@"; }
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR

rows() {	# DB N: a table t of N rows
	sqlite3 "$1" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2)
		INSERT INTO t SELECT i, hex(randomblob(40)), NULL FROM n;"
}

# ---- a corrupt database: exit 7 wherever it is met -----------------------------
rows good.db 3000
sqlite3 empty.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);"
cp good.db bad.db
# pages 3 and 4 (the table's b-tree) overwritten; the header is intact
dd if=/dev/urandom of=bad.db bs=4096 seek=3 count=2 conv=notrunc 2>/dev/null
check_exit 7 "smg-hash of a corrupt database: exit 7 (was 1)" smg-hash -q bad.db
check_grep "... naming the file and what SQLite found" 'bad.db: reading table "t": database disk image is malformed' .err
check_exit 7 "smg-diff with a corrupt database: exit 7" smg-diff -q bad.db empty.db
before=$(sum_file empty.db)
printf 'local_db = "bad.db"\n[target]\npath = "empty.db"\n' >corrupt.toml
check_exit 7 "smugglr push from a corrupt database: exit 7" smugglr -c corrupt.toml push
check_eq "... nothing written to the target" "$(sum_file empty.db)" "$before"

# ---- a read-only database: exit 1, saying read-only ---------------------------------
# As root every file is writable: drop to nobody for these checks.
as_user() { "$@"; }
if [ "$(id -u)" = 0 ]; then
	need_tools "sqlite-files.sh (read-only checks as root)" setpriv
	as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups env PATH="$T/bin:$PATH" "$@"; }
	chmod 755 "$T"; chmod 777 "$T/tmp"	# nobody must reach the files
fi
# and the programs: the checkout may be where nobody cannot look (/root)
mkdir -p "$T/bin"
cp "$SMG_BUILD"/bin/smg-* "$SMG_TOP/bin/smugglr" "$T/bin/"
chmod 755 "$T/bin" "$T"/bin/*
mkdir ro; rows ro/src.db 5
sqlite3 ro/dst.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);"
chmod 644 ro/src.db ro/dst.db; chmod 777 ro; chmod 444 ro/dst.db
[ "$(id -u)" = 0 ] && chown 65534 ro/src.db
before=$(sum_file ro/dst.db)
smg-diff -q -d pull ro/dst.db ro/src.db >ro.s
as_user smg-apply -q -i ro.s ro/dst.db >.out 2>.err; rc=$?
check_eq "smg-apply into a database file read-only to this user: exit 1 (was 7, bad data)" "$rc" 1
check_grep "... saying read-only" 'ro/dst.db: the database is read-only to this user' .err
check_eq "... the file is unchanged" "$(sum_file ro/dst.db)" "$before"
printf 'local_db = "ro/dst.db"\n[target]\npath = "ro/src.db"\n' >ro.toml
as_user "$SH" "$T/bin/smugglr" -c ro.toml pull >.out 2>.err; rc=$?
check_eq "smugglr pull into a read-only local database: exit 1" "$rc" 1
check_grep "... saying read-only" 'ro/dst.db: the database is read-only to this user' .err
# a writable file in a directory that is not: SQLite cannot make its journal
chmod 666 ro/dst.db; chmod 555 ro
as_user smg-apply -q -i ro.s ro/dst.db >.out 2>.err; rc=$?
chmod 777 ro
check_eq "a writable file in a read-only directory: exit 1" "$rc" 1
check_grep "... saying the directory is read-only" 'the directory ro is read-only to this user' .err
check_eq "... the file is unchanged" "$(sum_file ro/dst.db)" "$before"
check_exit 0 "the dry run of the same reads it and writes nothing: exit 0" smg-apply -q -n -i ro.s ro/dst.db

# ---- a database another process holds: [sync] busy_timeout_ms ----------------------
rm -f l.db r.db; rows l.db 20; sqlite3 r.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
	INSERT INTO t VALUES (1000, 'only remote', NULL);"
hold() {	# DB: hold its write lock until release
	rm -f hold.fifo; mkfifo hold.fifo
	sqlite3 "$1" <hold.fifo >/dev/null 2>&1 &
	holder=$!
	exec 3>hold.fifo
	echo "BEGIN IMMEDIATE; UPDATE t SET v = v WHERE id = 1;" >&3
	sleep 0.3
}
release() { exec 3>&-; wait "$holder"; }
printf 'local_db = "l.db"\n[target]\npath = "r.db"\n[sync]\nbusy_timeout_ms = 300\n' >busy.toml
hold r.db
start=$(date +%s)
smugglr -c busy.toml push >.out 2>.err; rc=$?
took=$(($(date +%s) - start))
release
check_eq "push into a target held locked, busy_timeout_ms = 300: exit 6" "$rc" 6
check_eq "... within a few seconds, not the old fixed 10" "$([ "$took" -lt 5 ] && echo yes || echo "no: $took s")" yes
check_grep "... saying it is locked" 'database is locked' .err
sed 's/busy_timeout_ms = 300/busy_timeout_ms = 2500/' busy.toml >busy2.toml
hold r.db
start=$(date +%s)
smugglr -c busy2.toml push >.out 2>.err; rc=$?
took=$(($(date +%s) - start))
release
check_eq "busy_timeout_ms = 2500: it waits that long, then exit 6" \
	"$rc $([ "$took" -ge 2 ] && [ "$took" -lt 8 ] && echo waited || echo "took $took s")" "6 waited"
sed 's/busy_timeout_ms = 300/busy_timeout_ms = 3600001/' busy.toml >busy3.toml
check_exit 2 "busy_timeout_ms out of range: exit 2" smugglr -c busy3.toml status
check_grep "... naming its range" 'sync.busy_timeout_ms must be between 0 and 3600000, got 3600001' .err
printf '[sync]\nbatch_size = 99999999999\n' >range.toml
check_exit 2 "an integer too large for any setting: exit 2" smugglr -c range.toml status
check_grep "... naming the range, not \"at least 1\"" 'sync.batch_size must be between 1 and 100000, got 99999999999' .err

# ---- sync wrote the target, then the local side failed: it says so ------------------
hold l.db
smugglr -c busy.toml sync >.out 2>.err; rc=$?
release
check_eq "sync while the local database is held locked: exit 6" "$rc" 6
check_grep "... says the target has the changes and a re-run finishes it" \
	"sync stopped halfway: the target has this sync's changes, the local database l.db does not; run smugglr sync again to finish it" .err
check_eq "... the target did get the local rows" "$(sqlite3 r.db 'SELECT count(*) FROM t')" 21
smugglr -c busy.toml -o json sync >.out 2>.err; rc=$?
check_eq "the re-run: exit 0" "$rc" 0
check_same_db "... and both sides agree (sqldiff)" l.db r.db
sqlite3 r.db "INSERT INTO t VALUES (2000, 'new remote', NULL)"
hold l.db
smugglr -c busy.toml -o json sync >.out 2>.err; rc=$?
release
check_grep "-o json: the error says it too" '"error":".*sync stopped halfway.*run smugglr sync again' .out

# ---- virtual tables: skipped with a warning -----------------------------------------
sqlite3 v.db "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
	INSERT INTO notes VALUES (1, 'hello');
	CREATE VIRTUAL TABLE docs USING fts5(title, body); INSERT INTO docs VALUES ('a', 'b');"
sqlite3 w.db "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);
	CREATE VIRTUAL TABLE docs USING fts5(title, body);"
check_exit 0 "a database with a standalone FTS5 table: smg-hash runs" smg-hash -q v.db
check_grep "... warning that it skips the virtual table, naming it and its module" \
	'v.db: skipping virtual table "docs" (fts5)' .err
check_nogrep "... and nothing of it in the stream" '"docs' .out
check_exit 2 "naming it with -t: exit 2, it cannot be synced" smg-hash -q -t docs v.db
check_grep "... saying why" 'table "docs" cannot be synced: it is a virtual table (fts5)' .err
printf 'local_db = "v.db"\n[target]\npath = "w.db"\n' >v.toml
check_exit 0 "smugglr push with an FTS5 table on both sides: exit 0" smugglr -c v.toml push
check_grep "... with the warning" 'skipping virtual table "docs" (fts5)' .err
check_same_table "... the ordinary table synced (sqldiff)" v.db w.db notes
check_eq "... the virtual one left alone" "$(sqlite3 w.db 'SELECT count(*) FROM docs')" 0
check_exit 0 "-T docs: no warning for a table left out on purpose" smg-hash -q -T docs v.db
check_nogrep "... none" 'virtual' .err
