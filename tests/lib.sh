# tests/lib.sh - sourced by every shell test in tests/t.
# Each check prints "ok - what" or "not ok - what"; tests/run counts them.
# A test works in its own scratch directory $T, removed on exit.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/smg-test.XXXXXX")
trap 'cleanup_hook; rm -rf "$T"' EXIT
cleanup_hook() { :; }
cd "$T" || exit 1
# the relay's cache (smugglr-relay(7)) goes under $T too, never to ~/.cache
XDG_CACHE_HOME=$T/.cache; export XDG_CACHE_HOME
unset SMUGGLR_CACHE_DIR

ok()   { echo "ok - $*"; }

# need_tools WHAT TOOL...: a missing tool is one failed check, and the
# test stops there (tests/run counts it; nothing is skipped in silence).
need_tools() {
	what=$1; shift
	for tool; do
		command -v "$tool" >/dev/null 2>&1 && continue
		echo "not ok - $tool is needed by $what but is not installed (scripts/deps --test installs what the tests use)"
		exit 0
	done
}
fail() { echo "not ok - $*"; }
# skip WHY: what follows cannot run on this machine; tests/run counts it as
# skipped (not passed) and shows WHY.
skip() { echo "ok - # SKIP $*"; }

# check WHAT CMD...: the command succeeds.
check() {
	what=$1; shift
	if "$@" >"$T/.out" 2>"$T/.err"; then ok "$what"
	else fail "$what (exit $?)"; sed 's/^/    /' "$T/.err" | head -20; fi
}

# check_exit CODE WHAT CMD...: the command exits with CODE.
check_exit() {
	want=$1 what=$2; shift 2
	"$@" >"$T/.out" 2>"$T/.err"; got=$?
	if [ "$got" -eq "$want" ]; then ok "$what"
	else fail "$what (exit $got, wanted $want)"; sed 's/^/    /' "$T/.err" | head -20; fi
}

# check_grep WHAT PATTERN FILE: FILE contains a line matching PATTERN.
check_grep() {
	if grep -q -e "$2" "$3"; then ok "$1"
	else fail "$1 (no line matching '$2' in $3)"; sed 's/^/    /' "$3" | head -20; fi
}

check_nogrep() {
	if grep -q -e "$2" "$3"; then fail "$1 (unexpected '$2' in $3)"; grep -e "$2" "$3" | head -5
	else ok "$1"; fi
}

# check_eq WHAT GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"
	else fail "$1 (got '$2', wanted '$3')"; fi
}

# check_same_db WHAT A B: sqldiff (an independent oracle) finds no
# difference, but in each file's own change log and marks (smugglr track:
# what each machine saw change when, never synced, smg-diff(1) --since).
check_same_db() {
	sqldiff "$2" "$3" >"$T/.sqldiff.all" 2>&1; rc=$?
	grep -v -E '^(INSERT INTO|DELETE FROM|UPDATE|CREATE TABLE|DROP TABLE) "?(_smugglr_changes|_smugglr_marks|sqlite_sequence)\b' \
		"$T/.sqldiff.all" >"$T/.sqldiff"
	if [ $rc = 0 ] && [ ! -s "$T/.sqldiff" ]; then ok "$1"
	elif [ $rc != 0 ]; then fail "$1 (sqldiff failed, exit $rc:)"; head -5 "$T/.sqldiff.all" | sed 's/^/    /'
	else fail "$1 (sqldiff says:)"; head -20 "$T/.sqldiff" | sed 's/^/    /'; fi
}

# check_same_table WHAT A B TABLE: sqldiff on one table prints nothing.
check_same_table() {
	if sqldiff --table "$4" "$2" "$3" >"$T/.sqldiff" 2>&1 && [ ! -s "$T/.sqldiff" ]; then ok "$1"
	else fail "$1 (sqldiff says:)"; head -20 "$T/.sqldiff" | sed 's/^/    /'; fi
}

# typed dump of a table: every value with its typeof(), for type-preservation checks
typed_dump() {	# DB TABLE
	sqlite3 "$1" "SELECT * FROM \"$2\" LIMIT 0" >/dev/null || return 1
	cols=$(sqlite3 "$1" "SELECT group_concat('typeof(\"'||name||'\")||'':''||quote(\"'||name||'\")', '||''|''||') FROM pragma_table_info('$2')")
	sqlite3 "$1" "SELECT $cols FROM \"$2\" ORDER BY 1"
}

sum_file() { sha256sum "$1" | cut -d' ' -f1; }

# check_no_lost_writes LOG DB TABLE: after a writer logged "ROW VALUE" for
# each write (values only ever grow) while syncs ran, every row of TABLE
# (id, v) holds the newest value written to it; and the race was real:
# $conflicts or $gave_up (the caller's counts) show a conflict was met.
# shellcheck disable=SC2154	# conflicts, rounds, gave_up: the caller's counts
check_no_lost_writes() {
	lost=$(sort -k1,1n -k2,2n "$1" | awk '{ last[$1] = $2 } END { for (r in last) print r, last[r] }' |
		while read -r row want; do
			got=$(sqlite3 "$2" "SELECT v FROM $3 WHERE id=$row")
			[ "$got" = "$want" ] || echo "row $row holds $got, the newest write was $want"
		done)
	check_eq "every row holds its newest write: no write was lost" "$lost" ""
	echo "# $(wc -l <"$1") writes; $conflicts conflicts detected and retried over $rounds rounds; $gave_up syncs gave up after 5 rounds"
	check_eq "conflicts were met while the writers ran (the race was real)" \
		"$([ $((conflicts + gave_up)) -gt 0 ] && echo yes)" yes
}
