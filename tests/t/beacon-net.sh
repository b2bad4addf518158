# tests/t/beacon-net.sh - smg-beacon on a LAN of network namespaces
# (tests/netns.sh), issue 16: what an exchange costs on the wire, idle
# connections, a replayed HELLO, a spool left by kill -9, skewed clocks.
. ./lib.sh
top=${SMG_TOP:?SMG_TOP is set by tests/run}
. "$top/tests/netns.sh"

need_tools "the beacon LAN tests" sqlite3 sqldiff bash
bin=$(command -v smg-beacon) || { fail "smg-beacon is not built"; exit 0; }

netns_host a; netns_host b; netns_host c
netns_lan 1 1 a b c
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key"
FAST="--interval 0.3 --peer-timeout 5 --wait 0.8"
mkdir "$T/tmp"
TMPDIR=$T/tmp; export TMPDIR

beacon() {	# HOST NAME ARGS...: smg-beacon in HOST, output in NAME.out/.err
	h=$1 n=$2; shift 2
	nsbg "$h" "$bin" $FAST --secret-file "$T/key" "$@" >"$T/$n.out" 2>"$T/$n.err"
}
up() {	# NAME: the daemon writing NAME.err has its sockets open
	n=0
	until grep -q "crypted on port" "$T/$1.err" 2>/dev/null || [ $n -gt 100 ]; do
		sleep 0.1; n=$((n + 1))
	done
}
rc() { wait "$1"; rc=$?; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
# bytes FILE: bytes in and out over every peer of a -o json report
bytes() {
	grep -o '"bytes_in":[0-9]*,"bytes_out":[0-9]*' "$1" |
		sed 's/[^0-9,]//g; s/,/ /' | awk '{ s += $1 + $2 } END { print s + 0 }'
}
schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty, data BLOB, updated_at TEXT);"
fill() {	# DB N
	rm -f "$1"
	sqlite3 "$1" "$schema
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < $2)
		INSERT INTO items SELECT i, 'row'||i, i, zeroblob(40), '2026-01-01T00:00:00Z' FROM n"
}

# ---- three hosts x 100k rows: the wire carries the change, not the table ----
fill "$T/a.db" 100000
cp "$T/a.db" "$T/b.db"; cp "$T/a.db" "$T/c.db"
sqlite3 "$T/a.db" "UPDATE items SET name='a edit', updated_at='2026-02-01T00:00:00Z' WHERE id=11"
sqlite3 "$T/b.db" "UPDATE items SET name='b edit', updated_at='2026-02-01T00:00:00Z' WHERE id=22222;
	INSERT INTO items VALUES (100001, 'b new', 1, NULL, '2026-02-01T00:00:00Z')"
sqlite3 "$T/c.db" "UPDATE items SET name='c edit', updated_at='2026-02-01T00:00:00Z' WHERE id=99999"
beacon a a1 -o json "$T/a.db"; pa=$!
beacon b b1 -o json "$T/b.db"; pb=$!
beacon c c1 -o json "$T/c.db"; pc=$!
converged() {
	[ "$(sqlite3 "$T/$1.db" "SELECT count(*) FROM items WHERE name LIKE '_ edit' OR id=100001" \
		2>/dev/null)" = 4 ]
}
n=0
until { converged a && converged b && converged c; } || [ $n -gt 300 ]; do
	sleep 0.2; n=$((n + 1))
done
sleep 1	# the last exchanges end
kill -TERM $pa $pb $pc; wait $pa $pb $pc
check_same_db "100k rows, 3 hosts: a = b" "$T/a.db" "$T/b.db"
check_same_db "100k rows, 3 hosts: a = c" "$T/a.db" "$T/c.db"
total=$(($(bytes "$T/a1.out") + $(bytes "$T/b1.out") + $(bytes "$T/c1.out")))
ex=$(cat "$T/a1.out" "$T/b1.out" "$T/c1.out" | grep -o '"exchanges":{"ok":[0-9]*' |
	sed 's/.*://' | awk '{ s += $1 } END { print s + 0 }')
echo "# 3 x 100k rows, 4 rows changed: $total bytes on the wire (counted at both ends) in $ex exchanges"
check "100k rows, 3 hosts: under 64 KiB per exchange ($total bytes, $ex exchanges)" \
	test "$total" -lt $((ex * 65536 + 1)) -a "$ex" -gt 0
check "100k rows, 3 hosts: under 1 MB in all (the full exchange took ~45 MB)" \
	test "$total" -lt 1000000

# ---- idle connections do not delay a sync -----------------------------------
fill "$T/a.db" 100; fill "$T/c.db" 100
once_ms() {	# NAME: c exchanges once with a's daemon; elapsed ms in $ms
	sqlite3 "$T/c.db" "UPDATE items SET qty=qty+1, updated_at='2026-03-0$1T00:00:00Z' WHERE id=5"
	t0=$(now_ms)
	beacon c "c-$1" --once -o json "$T/c.db"; p=$!
	rc $p
	ms=$(($(now_ms) - t0))
}
beacon a a2 -o json "$T/a.db"; pa=$!
up a2
once_ms 1; base=$ms; rc1=$rc
check_eq "idle connections: the round without them succeeds" "$rc1" 0
nsbg b bash -c 'for i in $(seq 200); do exec {fd}<>/dev/tcp/10.231.1.1/31337 || :; done; sleep 20' \
	2>/dev/null; idle=$!
sleep 1
once_ms 2; loaded=$ms
check_eq "idle connections: the round with 200 open succeeds" "$rc" 0
[ "$rc" = 0 ] || sed 's/^/    /' "$T/c-2.err" "$T/a2.err"
check "200 idle connections delay a sync by less than a second ($base ms, then $loaded ms)" \
	test $((loaded - base)) -lt 1000
check_eq "idle connections: the row crossed" \
	"$(sqlite3 "$T/a.db" "SELECT updated_at FROM items WHERE id=5")" "2026-03-02T00:00:00Z"
kill $idle 2>/dev/null; wait $idle 2>/dev/null

# ---- a captured HELLO replayed to a restarted daemon ---------------------------
# the client's first frame is its HELLO: a command peer captures it
nsx b "$bin" --secret-file "$T/key" --connect "head -c 132 >$T/hello.bin" "$T/c.db" \
	>/dev/null 2>&1
check_eq "replay: a sealed HELLO was captured" "$(wc -c <"$T/hello.bin" | tr -d ' ')" 132
kill -TERM $pa; wait $pa
beacon a a3 -o json "$T/a.db"; pa=$!
up a3
sa=$(sum_file "$T/a.db")
replay() { nsx b bash -c "exec 3<>/dev/tcp/10.231.1.1/31337; cat $T/hello.bin >&3; sleep 3" \
	2>/dev/null; }
t0=$(now_ms); replay; replay
kill -TERM $pa; wait $pa
check_eq "replay: nothing written" "$(sum_file "$T/a.db")" "$sa"
check_grep "replay: the first is refused once it cannot prove the session keys" \
	"handshake not confirmed" "$T/a3.err"
check_grep "replay: the second is refused unread (counted as replay)" '"replay":1' "$T/a3.out"
check_grep "replay: the replayed peer is not listed" '"peers":\[\]' "$T/a3.out"
check_grep "replay: one failed exchange, not two" '"exchanges":{"ok":0,"failed":1}' "$T/a3.out"
SMG_TEST_CLOCK_OFFSET_MS=180000; export SMG_TEST_CLOCK_OFFSET_MS
beacon a a4 -o json "$T/a.db"; pa=$!
unset SMG_TEST_CLOCK_OFFSET_MS
up a4
replay
kill -TERM $pa; wait $pa
check_grep "replay: a HELLO from minutes ago is stale" '"stale":1' "$T/a4.out"

# ---- a spool left by kill -9 ------------------------------------------------------
mkdir "$T/tmp9"
TMPDIR=$T/tmp9 nsbg a "$bin" $FAST --secret-file "$T/key" "$T/a.db" >/dev/null 2>"$T/k1.err"; pk=$!
up k1
spool=$(ls "$T/tmp9")
touch "$T/tmp9/$spool/keys-mine"
kill -9 $pk; wait $pk 2>/dev/null
check "kill -9: the spool is left behind" test -e "$T/tmp9/$spool/keys-mine"
TMPDIR=$T/tmp9 nsbg a "$bin" $FAST --secret-file "$T/key" "$T/a.db" >/dev/null 2>"$T/k2.err"; pk=$!
up k2
check "a restart removes the spool of the killed beacon" test ! -e "$T/tmp9/$spool"
check_grep "a restart says it removed the old spool" "removed .*$spool" "$T/k2.err"
check_eq "a restart keeps its own spool only" "$(ls "$T/tmp9" | wc -l | tr -d ' ')" 1
kill -TERM $pk; wait $pk

# ---- skewed clocks ------------------------------------------------------------------
SMG_TEST_CLOCK_OFFSET_MS=-300000; export SMG_TEST_CLOCK_OFFSET_MS
beacon a a5 "$T/a.db"; pa=$!
unset SMG_TEST_CLOCK_OFFSET_MS
up a5
beacon c c5 --once "$T/c.db"; pc=$!
rc $pc
check_eq "skewed clock: --once exits 4 when it could not sync with a peer it heard" "$rc" 4
check_grep "skewed clock: reported without -v, with the offset" \
	"its clock is -300 s from ours" "$T/c5.err"
check_eq "skewed clock: reported once for the peer" \
	"$(grep -c "its clock is" "$T/c5.err")" 1
kill -TERM $pa; wait $pa
check_eq "no spool is left behind" "$(ls "$T/tmp")" ""
