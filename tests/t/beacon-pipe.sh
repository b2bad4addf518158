# tests/t/beacon-pipe.sh - smg-beacon over a command's standard input and
# output (--connect CMD, --stdio), as "ssh host smg-beacon --stdio DB"
# would run; here the command runs the peer locally.  What crosses is the
# reconciliation of smugglr-reconcile(5): its cost follows the change.
. ./lib.sh
need_tools "the beacon pipe tests" sqlite3 sqldiff
bin=$(command -v smg-beacon) || { fail "smg-beacon is not built"; exit 0; }

mkdir "$T/tmp"
TMPDIR=$T/tmp; export TMPDIR
schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty, data BLOB, updated_at TEXT);
CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT, updated_at INTEGER) WITHOUT ROWID;"
mkdb() {	# DB SQL
	rm -f "$1"
	printf '%s\n%s\n' "$schema" "$2" | sqlite3 "$1"
}
fill() {	# DB N
	sqlite3 "$1" "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $2)
		INSERT INTO items SELECT i, 'row'||i, i, zeroblob(40), '2026-01-01T00:00:00Z' FROM n"
}
# wire FILE: bytes in plus out, from a -o json report
wire() {
	sed -n 's/.*"peers":\[{[^]]*"bytes_in":\([0-9]*\),"bytes_out":\([0-9]*\).*/\1 \2/p' "$1" |
		awk '{ print $1 + $2 }'
}
pipe() {	# NAME A B [ARGS...]: exchange A with B (B through --stdio)
	n=$1 a=$2 b=$3; shift 3
	"$bin" -o json "$@" --connect "$bin $* --stdio $b" "$a" >"$T/$n.out" 2>"$T/$n.err"
}

mkdb "$T/a.db" "INSERT INTO items VALUES (1,'bolt',7,x'00ff','2026-01-01T00:00:00Z'),
 (3,'old',1,x'','2026-01-01T00:00:00Z');
 INSERT INTO notes VALUES ('x','from a',1767225600);"
mkdb "$T/b.db" "INSERT INTO items VALUES (3,'new',2,x'01','2026-02-01T00:00:00Z'),
 (-9223372036854775808,'min',0.1,NULL,'2026-01-01T00:00:00Z');
 INSERT INTO notes VALUES ('y','from b',1767225601);"
pipe small "$T/a.db" "$T/b.db"
check_eq "--connect: the exchange succeeds" "$?" 0
check_same_db "--connect: both files converge (sqldiff)" "$T/a.db" "$T/b.db"
check_eq "--connect: the newer row won" "$(sqlite3 "$T/a.db" "SELECT name FROM items WHERE id=3")" new
check_grep "--connect: the report counts rows per table" '"items":{"sent":1,"received":2}' \
	"$T/small.out"
check_eq "no spool is left behind" "$(ls "$T/tmp")" ""

# 100k rows, one changed: the reconciliation costs the change
mkdb "$T/a.db" ""; fill "$T/a.db" 100000
cp "$T/a.db" "$T/b.db"
pipe same "$T/a.db" "$T/b.db"
check_eq "identical 100k rows: the exchange succeeds" "$?" 0
w=$(wire "$T/same.out")
check "identical 100k rows: under 2 KB on the wire ($w bytes)" test "${w:-99999}" -lt 2048
sqlite3 "$T/b.db" "UPDATE items SET name='changed', updated_at='2026-03-01T00:00:00Z' WHERE id=4242"
pipe one "$T/a.db" "$T/b.db"
check_eq "one changed row among 100k: the exchange succeeds" "$?" 0
check_same_db "one changed row among 100k: converged" "$T/a.db" "$T/b.db"
w=$(wire "$T/one.out")
check "one changed row among 100k: under 64 KiB on the wire ($w bytes)" \
	test "${w:-999999}" -lt 65536

# a secret: both need it; one side only fails and writes nothing
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key"
sqlite3 "$T/b.db" "UPDATE items SET name='keyed', updated_at='2026-04-01T00:00:00Z' WHERE id=7"
pipe keyed "$T/a.db" "$T/b.db" --secret-file "$T/key"
check_eq "--secret-file on both ends: the exchange succeeds" "$?" 0
check_same_db "--secret-file on both ends: converged" "$T/a.db" "$T/b.db"
sqlite3 "$T/b.db" "UPDATE items SET name='half', updated_at='2026-05-01T00:00:00Z' WHERE id=8"
sa=$(sum_file "$T/a.db")
"$bin" --secret-file "$T/key" --connect "$bin --stdio $T/b.db" "$T/a.db" >"$T/half.out" 2>"$T/half.err"
check_eq "a secret on one end only: exit 4" "$?" 4
check_grep "a secret on one end only: the report says why" "sealed and plain\|closed" "$T/half.err"
check_eq "a secret on one end only: nothing written" "$(sum_file "$T/a.db")" "$sa"

# a command that is no peer
"$bin" --connect "exit 3" "$T/a.db" >"$T/false.out" 2>"$T/false.err"
check_eq "a command that exits at once: exit 4" "$?" 4
check_grep "a command that exits at once: the connection closed" "closed" "$T/false.err"
"$bin" --connect "cat $T/a.db" "$T/a.db" >"$T/cat.out" 2>"$T/cat.err"
check_eq "a command that prints a database file: refused, exit 4" "$?" 4
check_eq "refused commands: nothing written" "$(sum_file "$T/a.db")" "$sa"
check_exit 2 "--stdio and --connect together: refused" "$bin" --stdio --connect true "$T/a.db"
check_eq "no spool is left behind, after failures too" "$(ls "$T/tmp")" ""
