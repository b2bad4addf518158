# tombstones-beacon.sh - deletes of tracked tables on the LAN (smg-beacon
# over --connect/--stdio pipes, issue #14): three machines delete, edit and
# insert rows between exchanges; the tombstones are reconciled like rows
# (smugglr-reconcile(5)); after the rounds every copy is the same (sqldiff,
# tombstones included), no deleted row came back, an edit newer than a
# delete wins and a delete newer than an edit wins.  Needs sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/tomb-lib.sh"
need_tools "tombstones-beacon.sh" sqlite3 sqldiff
bin=$(command -v smg-beacon) || { fail "smg-beacon is not built"; exit 0; }
mkdir "$T/tmp"
TMPDIR=$T/tmp; export TMPDIR
pipe() {	# A B: exchange A with B (B through --stdio), newer_wins on both ends
	"$bin" -o json -p newer_wins --connect "$bin -p newer_wins --stdio $T/$2" "$T/$1" \
		>>"$T/beacon.out" 2>>"$T/beacon.err" || { fail "exchange $1 with $2"; tail -5 "$T/beacon.err"; }
}
rounds() { pipe m1.db m2.db; pipe m2.db m3.db; pipe m1.db m2.db; }

sq m1.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
	CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
	INSERT INTO items SELECT i, 'r' || i, $OLD FROM n;
	INSERT INTO plain VALUES (1, 'a'), (2, 'b');"
smg-apply --track -t items m1.db >/dev/null
cp m1.db m2.db
cp m1.db m3.db

tomb_round1
rounds
check_same_db "round 1: m1 = m2 (rows and tombstones)" m1.db m2.db
check_same_db "round 1: m2 = m3" m2.db m3.db
check_eq "round 1: deletes travelled on the LAN, edits and inserts too" "$(names m3.db)" \
	"3=e3 5=e5 7=e7 8=r8 9=r9 10=r10 11=n11 12=n12 13=n13"
check_eq "round 1: the tombstones too" "$(tombs m1.db)" "[1] [2] [4] [6]"
check_eq "round 1: the untracked table behaves as before: the deleted row came back" \
	"$(sq m1.db "SELECT count(*) FROM plain")" 2

tomb_round2
rounds
check_same_db "round 2: m1 = m2" m1.db m2.db
check_same_db "round 2: m2 = m3" m2.db m3.db
check_eq "round 2: an edit newer than a delete wins, a delete newer than an edit wins" \
	"$(names m2.db)" "1=again1 3=e3 5=e5 7=e7 8=late8 11=n11 12=n12 13=n13"
check_eq "round 2: no deleted row came back; the reborn key lost its tombstone" \
	"$(tombs m3.db)" "[10] [2] [4] [6] [9]"
: >"$T/beacon.out"
pipe m1.db m3.db
check_nogrep "converged: a further exchange moves no row" '"sent":[1-9]' "$T/beacon.out"
check_nogrep "no warning that a table is tracked on one side only" "tracked in" "$T/beacon.err"
