# tests/t/policy.sh - one table of conflict policies (lib/policy.h): the
# config file, smg-diff, smg-beacon and the porcelain accept the same names
# and refuse any other the same way, naming them all.
. ./lib.sh
need_tools "the policy tests" sqlite3

names='(local_wins, remote_wins, newer_wins or uuid_v7_wins)'
cd "$T" || exit 1
sqlite3 l.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v, updated_at TEXT)"
cp l.db r.db

check_exit 2 "smg-diff -p bogus: exit 2" smg-diff -p bogus l.db r.db
check_grep "smg-diff names every policy" "unknown policy \"bogus\" $names" "$T/.err"
check_exit 2 "smg-beacon -p bogus: exit 2" smg-beacon --insecure --once -p bogus l.db
check_grep "smg-beacon names every policy" "unknown policy \"bogus\" $names" "$T/.err"
check_exit 2 "smugglr status -p bogus: exit 2" smugglr status -p bogus
check_grep "smugglr asks the C side and names every policy" \
	"^smugglr: unknown policy \"bogus\" $names" "$T/.err"
check_exit 2 "smugglr -o json stash -p bogus: exit 2 before anything runs" \
	smugglr -o json stash -p bogus
check_grep "the JSON error names the policy" '"error":"unknown policy \\"bogus\\"' "$T/.out"

for p in local_wins remote_wins newer_wins uuid_v7_wins; do
	printf 'local_db = "l.db"\n[sync]\nconflict_resolution = "%s"\n' "$p" >c.toml
	smg-diff -c c.toml --print-config sh >p.out 2>&1
	check_grep "config: $p is read and printed back" "^smg_policy='$p'" p.out
	check_exit 0 "smg-diff -p $p is accepted" smg-diff -p "$p" l.db r.db
done
printf '[sync]\nconflict_resolution = "bogus"\n' >c.toml
check_exit 2 "config: an unknown conflict_resolution: exit 2" smg-diff -c c.toml l.db r.db
check_grep "config: the error names every policy" \
	"local_wins, remote_wins, newer_wins, uuid_v7_wins" "$T/.err"
