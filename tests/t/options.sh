# options.sh - one meaning per option letter across the programs: -p is
# --policy and -o is --output (the format of what is printed) wherever a
# program has them; -p for --profile in smg-fetch and smg-apply still works,
# with a warning; the two share their remote-target options and read the
# configuration the same way.
. ./lib.sh
need_tools "options.sh" sqlite3

# ---- every program's --help: -p and -o mean one thing ----------------------------
for p in smugglr smg-hash smg-diff smg-apply smg-fetch smg-s3 smg-beacon; do
	$p --help >"$p.help" 2>&1
	grep -E '^ +-p,' "$p.help" >>p.lines
	grep -E '^ +-o,' "$p.help" >>o.lines
done
check_eq "--help of every program: each -p is --policy (smugglr, smg-diff, smg-beacon)" \
	"$(grep -c -- '-p, --policy POLICY' p.lines) $(wc -l <p.lines)" "3 3"
check_eq "--help of every program: each -o is --output FORMAT (smugglr, smg-s3, smg-beacon)" \
	"$(grep -c -- '-o, --output FORMAT' o.lines) $(wc -l <o.lines)" "3 3"
for p in smg-fetch smg-apply; do
	check_eq "$p --help: the shared remote-target options, --profile without -p" \
		"$(grep -cE -- '^      --(profile NAME|token TOKEN|endpoint URL) |^  -v, --verbose ' $p.help)" 4
done

# ---- -p for --profile: deprecated, still working ----------------------------------
smg-fetch --profile rqlite --show-profile >new.out 2>new.err; rc=$?
check_eq "smg-fetch --profile rqlite --show-profile: exit 0, nothing on stderr" "$rc $(wc -c <new.err)" "0 0"
smg-fetch -p rqlite --show-profile >old.out 2>old.err; rc=$?
check_eq "smg-fetch -p rqlite --show-profile: exit 0, the same profile" "$rc $(cmp -s old.out new.out && echo same)" "0 same"
check_grep "... with one line saying -p is deprecated and what to say instead" \
	'^smg-fetch: -p for --profile is deprecated .*say --profile rqlite$' old.err
check_eq "... only that line" "$(wc -l <old.err)" 1

printf '' | smg-apply -p nosuch -p nosuch http://127.0.0.1:9/db >out 2>err; rc=$?
check_eq "smg-apply -p NAME is --profile NAME: an unknown one is exit 2" "$rc" 2
check_grep "... naming it and every profile" 'unknown profile "nosuch" (d1, turso,' err
check_eq "... after one deprecation line, however often -p is said" "$(grep -c 'deprecated' err)" 1
printf '' | smg-apply --profile nosuch http://127.0.0.1:9/db >out 2>err; rc=$?
check_eq "smg-apply --profile nosuch: exit 2, no deprecation line" "$rc $(grep -c deprecated err)" "2 0"

# ---- one way to load the configuration -------------------------------------------
# smg-apply reads ./config.toml as every program does, -c FILE wherever it
# stands; a bad one is exit 2 for a file target too.
sqlite3 b.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)"
smg-hash b.db | smg-diff -d push - b.db >changes 2>/dev/null
printf '[sync]\nbusy_timeout_ms = "soon"\n' >bad.toml
smg-apply -i changes b.db -c bad.toml >out 2>err; rc=$?
check_eq "smg-apply -i changes b.db -c bad.toml (after the target): exit 2" "$rc" 2
check_grep "... naming the setting" 'busy_timeout_ms' err
mkdir cwd && cp bad.toml cwd/config.toml
(cd cwd && smg-apply -i ../changes ../b.db) >out 2>err; rc=$?
check_eq "smg-apply with a bad ./config.toml: exit 2, as smg-hash and smg-diff" "$rc" 2
(cd cwd && smg-hash ../b.db) >out 2>err; rc=$?
check_eq "... smg-hash there: exit 2" "$rc" 2
smg-apply -i changes b.db >out 2>err; rc=$?
check_eq "smg-apply without a config: exit 0" "$rc" 0

# ---- smg-hash --backup waits [sync] busy_timeout_ms for a writer's lock ------------
sqlite3 lk.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 2);"
printf '[sync]\nbusy_timeout_ms = 1000\n' >bt.toml
printf 'BEGIN EXCLUSIVE;\nINSERT INTO t VALUES (2, 3);\n.shell sleep 4\nCOMMIT;\n' | sqlite3 lk.db &
holder=$!
sleep 0.5
t0=$(date +%s%N)
smg-hash -c bt.toml --backup copy.db lk.db >out 2>err; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check_eq "smg-hash --backup of a database a writer holds: exit 6 (a lock), naming the database" \
	"$rc $(grep -c 'lk.db.*locked' err)" "6 1"
check_eq "... after busy_timeout_ms = 1000 (${ms} ms), not 10 s" \
	"$([ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ] && echo yes)" yes
check_eq "... and no copy" "$([ -e copy.db ] && echo copy || echo none)" none
wait "$holder"
smg-hash -c bt.toml --backup copy.db lk.db >out 2>err; rc=$?
check_eq "once the writer is done: exit 0, a copy with its row" "$rc $(sqlite3 copy.db 'SELECT count(*) FROM t')" "0 2"
