# tests/t/beacon.sh - smg-beacon between hosts made of network namespaces
# (tests/netns.sh): discovery over real broadcast, the encrypted exchange,
# and what a wrong key, a tampering relay and a killed peer do to it.
. ./lib.sh
top=${SMG_TOP:?SMG_TOP is set by tests/run}
. "$top/tests/netns.sh"

need_tools "the beacon tests" sqlite3 sqldiff cc
bin=$(command -v smg-beacon) || { fail "smg-beacon is not built"; exit 0; }

# hosts: a b c on LAN 1; p - r - q across LANs 2 and 3 (r relays)
netns_host a; netns_host b; netns_host c
netns_host p; netns_host q; netns_host r
netns_lan 1 1 a b c
netns_lan 2 2 p r
netns_lan 3 3 q r

cc -O2 -o "$T/relay" "$top/tests/relay.c" || { fail "building tests/relay.c"; exit 0; }
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key2"

FAST="--interval 0.3 --peer-timeout 5 --wait 0.8"

# beacon HOST NAME ARGS...: start smg-beacon in HOST, output in NAME.out/.err
beacon() {
	h=$1 n=$2; shift 2
	nsbg "$h" "$bin" $FAST "$@" >"$T/$n.out" 2>"$T/$n.err"
}

# up NAME: wait until the daemon writing NAME.err has its sockets open
up() {
	n=0
	until grep -q "crypted on port" "$T/$1.err" 2>/dev/null || [ $n -gt 100 ]; do
		sleep 0.1; n=$((n + 1))
	done
}

# rc PID: wait for it; its exit status in $rc (not in $(...): a subshell
# cannot wait for its parent's children)
rc() { wait "$1"; rc=$?; }

# notes is WITHOUT ROWID: sqldiff compares a rowid table by rowid, which no
# sync carries (a text key gets whatever rowid its insertion order gives)
schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty, data BLOB, updated_at TEXT);
CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT, updated_at INTEGER) WITHOUT ROWID;"
mkdb() {	# DB SQL
	rm -f "$1"
	printf '%s\n%s\n' "$schema" "$2" | sqlite3 "$1"
}

# ---- refusals, no network needed ----------------------------------------
mkdb "$T/plain.db" ""
check_exit 2 "no secret and no --insecure: refused" "$bin" --once "$T/plain.db"
check_grep "the refusal names --insecure" "--insecure" "$T/.err"
echo 1234 >"$T/badkey"
check_exit 2 "a secret that is not 64 hex digits is a config error" \
	"$bin" --secret-file "$T/badkey" --once "$T/plain.db"
check_exit 2 "a secret and --insecure together: refused" \
	"$bin" --secret-file "$T/key" --insecure --once "$T/plain.db"
check_exit 3 "a missing database: exit 3" "$bin" --insecure --once "$T/nope.db"

# ---- two peers converge ------------------------------------------------------
mkdb "$T/a.db" "INSERT INTO items VALUES
 (1,'bolt',7,x'00ff','2026-01-01T00:00:00Z'),
 (2,'',0,NULL,'2026-01-02T00:00:00Z'),
 (3,'old',1,x'','2026-01-01T00:00:00Z'),
 (9223372036854775807,'max',1.5,NULL,'2026-01-01T00:00:00Z');
 INSERT INTO notes VALUES ('x','from a',1767225600), ('tie','a version',1767225600);"
mkdb "$T/b.db" "INSERT INTO items VALUES
 (3,'new',2,x'01','2026-02-01T00:00:00+01:00'),
 (4,'0',NULL,x'ffff','2026-01-03T00:00:00Z'),
 (-9223372036854775808,'min',0.1,NULL,'2026-01-01T00:00:00Z');
 INSERT INTO notes VALUES ('y','from b',1767225601), ('tie','b version',1767225600);"
beacon a a --secret-file "$T/key" --once -o json "$T/a.db"; pa=$!
beacon b b --secret-file "$T/key" --once -o json "$T/b.db"; pb=$!
rc $pa; check_eq "two peers: a's --once round succeeds" "$rc" 0
rc $pb; check_eq "two peers: b's --once round succeeds" "$rc" 0
check_same_db "two peers converge: sqldiff prints nothing" "$T/a.db" "$T/b.db"
check_eq "two peers: types survive (typeof of every value)" \
	"$(typed_dump "$T/a.db" items)" "$(typed_dump "$T/b.db" items)"
check_eq "two peers: the newer row won" \
	"$(sqlite3 "$T/a.db" "SELECT name FROM items WHERE id=3")" new
check_grep "two peers: -o json reports rows received per table" \
	'"tables":{"items":{"sent":[0-9]*,"received":[1-9]' "$T/a.out"
check_grep "two peers: -o json lists the peer" '"peers":\[{"id":"[0-9a-f]\{32\}"' "$T/a.out"
check_nogrep "an encrypted run does not say INSECURE" "INSECURE" "$T/a.err"

# ---- excluded columns are neither sent nor overwritten ---------------------------
for db in xa xb; do
	rm -f "$T/$db.db"
	sqlite3 "$T/$db.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, mine TEXT, updated_at TEXT)"
done
sqlite3 "$T/xa.db" "INSERT INTO t VALUES (1,'old','a private','2026-01-01T00:00:00Z')"
sqlite3 "$T/xb.db" "INSERT INTO t VALUES (1,'new','b private','2026-01-02T00:00:00Z'),
	(2,'two','b private too','2026-01-02T00:00:00Z')"
beacon a xa --secret-file "$T/key" --once -X mine "$T/xa.db"; pa=$!
beacon b xb --secret-file "$T/key" --once -X mine "$T/xb.db"; pb=$!
rc $pa; ra=$rc; rc $pb
check_eq "excluded column: both rounds succeed" "$ra$rc" 00
check_eq "excluded column: the synced column moved, the excluded one stayed" \
	"$(sqlite3 "$T/xa.db" "SELECT group_concat(id||'='||v||'/'||ifnull(mine,'NULL'), ' ') FROM t")" \
	"1=new/a private 2=two/NULL"
check_eq "excluded column: the sender's private value is its own still" \
	"$(sqlite3 "$T/xb.db" "SELECT mine FROM t WHERE id=1")" "b private"

# ---- groups: derived from the schema, or named ----------------------------------
mkdb "$T/ga.db" "INSERT INTO items VALUES (1,'ga',1,NULL,'2026-01-01T00:00:00Z')"
rm -f "$T/gb.db"
sqlite3 "$T/gb.db" "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty, data BLOB, updated_at TEXT);
	CREATE TABLE other(id INTEGER PRIMARY KEY, x);
	INSERT INTO items VALUES (2,'gb',1,NULL,'2026-01-01T00:00:00Z'); INSERT INTO other VALUES (1,1);"
sg=$(sum_file "$T/ga.db")
beacon a ga1 --secret-file "$T/key" --once -o json "$T/ga.db"; pa=$!
beacon b gb1 --secret-file "$T/key" --once -o json "$T/gb.db"; pb=$!
rc $pa; ra=$rc; rc $pb
check_eq "groups: other tables, another derived group: nothing to do" "$ra$rc" 00
check_grep "groups: the other group's announcements are counted" '"other_group":[1-9]' "$T/ga1.out"
check_eq "groups: nothing moved" "$(sum_file "$T/ga.db")" "$sg"
beacon a ga2 --secret-file "$T/key" --once --group shop -o json "$T/ga.db"; pa=$!
beacon b gb2 --secret-file "$T/key" --once --group shop -o json "$T/gb.db"; pb=$!
rc $pa; ra=$rc; rc $pb
check_eq "groups: one named group: both rounds succeed" "$ra$rc" 00
check_same_table "groups: the table both have converges" "$T/ga.db" "$T/gb.db" items
check_eq "groups: a table only one side has stays there" \
	"$(sqlite3 "$T/ga.db" "SELECT count(*) FROM sqlite_schema WHERE name='other'")" 0

# ---- settings from a configuration file ----------------------------------------
cat >"$T/beacon.toml" <<EOF
[sync]
conflict_resolution = "newer_wins"
[broadcast]
port = 31400
secret = "env:TEST_BEACON_SECRET"
EOF
mkdb "$T/ca.db" "INSERT INTO items VALUES (1,'ca',1,NULL,'2026-01-01T00:00:00Z')"
mkdb "$T/cb.db" "INSERT INTO items VALUES (2,'cb',1,NULL,'2026-01-01T00:00:00Z')"
TEST_BEACON_SECRET=$(cat "$T/key"); export TEST_BEACON_SECRET
beacon a ca -c "$T/beacon.toml" --once -o json "$T/ca.db"; pa=$!
beacon b cb -c "$T/beacon.toml" --once -o json "$T/cb.db"; pb=$!
rc $pa; ra=$rc; rc $pb
check_eq "config: secret (env:NAME) and port from [broadcast]" "$ra$rc" 00
check_same_db "config: the two converge" "$T/ca.db" "$T/cb.db"
check_grep "config: the port is the configured one" '"port":31400' "$T/ca.out"
unset TEST_BEACON_SECRET
printf '[broadcast]\nsecret = "abc"\n' >"$T/bad.toml"
check_exit 2 "config: a bad [broadcast] secret is a config error" \
	"$bin" -c "$T/bad.toml" --once "$T/ca.db"
check_grep "config: the error names the file and line" "bad.toml:2" "$T/.err"

# ---- three peers, as daemons ---------------------------------------------------
cp "$T/a.db" "$T/c.db"
sqlite3 "$T/a.db" "INSERT INTO items VALUES (100,'only a',1,NULL,'2026-03-01T00:00:00Z')"
sqlite3 "$T/b.db" "INSERT INTO items VALUES (200,'only b',1,NULL,'2026-03-01T00:00:00Z')"
sqlite3 "$T/c.db" "INSERT INTO items VALUES (300,'only c',1,NULL,'2026-03-01T00:00:00Z');
	UPDATE notes SET body='c edit', updated_at=1767229999 WHERE k='x'"
beacon a a3 --secret-file "$T/key" "$T/a.db"; pa=$!
beacon b b3 --secret-file "$T/key" "$T/b.db"; pb=$!
beacon c c3 --secret-file "$T/key" "$T/c.db"; pc=$!
converged() {
	for db in a b c; do
		[ "$(sqlite3 "$T/$db.db" "SELECT count(*) FROM items WHERE id IN (100,200,300)" \
			2>/dev/null)" = 3 ] || return 1
	done
	[ -z "$(sqldiff "$T/a.db" "$T/b.db" 2>&1)" ] && [ -z "$(sqldiff "$T/a.db" "$T/c.db" 2>&1)" ]
}
n=0
until converged || [ $n -gt 100 ]; do sleep 0.2; n=$((n + 1)); done
kill -TERM $pa $pb $pc
rc $pa; check_eq "three daemons stop cleanly on SIGTERM (a)" "$rc" 0
rc $pb; check_eq "three daemons stop cleanly on SIGTERM (b)" "$rc" 0
rc $pc; check_eq "three daemons stop cleanly on SIGTERM (c)" "$rc" 0
check_same_db "three peers converge: a = b" "$T/a.db" "$T/b.db"
check_same_db "three peers converge: a = c" "$T/a.db" "$T/c.db"
check_eq "three peers: every peer has every row" \
	"$(sqlite3 "$T/b.db" "SELECT group_concat(id) FROM (SELECT id FROM items WHERE id BETWEEN 100 AND 999 ORDER BY id)")" \
	"100,200,300"
check_eq "three peers: the newer note won" \
	"$(sqlite3 "$T/a.db" "SELECT body FROM notes WHERE k='x'")" "c edit"
check_grep "a daemon says it stopped" "stopped" "$T/a3.err"

# ---- a peer with the wrong key, and one without a key -------------------------
sqlite3 "$T/c.db" "INSERT INTO items VALUES (666,'intruder',1,NULL,'2026-04-01T00:00:00Z')"
sa=$(sum_file "$T/a.db") sc=$(sum_file "$T/c.db")
beacon a a4 --secret-file "$T/key" --once -o json "$T/a.db"; pa=$!
beacon b b4 --secret-file "$T/key" --once -o json "$T/b.db"; pb=$!
beacon c c4 --secret-file "$T/key2" --once -o json "$T/c.db"; pc=$!
wait $pa $pb $pc
check_eq "wrong key: a's database is unchanged" "$(sum_file "$T/a.db")" "$sa"
check_eq "wrong key: the intruder's database is unchanged" "$(sum_file "$T/c.db")" "$sc"
check_grep "wrong key: its announcements are dropped and counted (bad_tag)" \
	'"dropped":{[^}]*"bad_tag":[1-9]' "$T/a4.out"
check_nogrep "wrong key: a never lists it as a peer" '"address":"10.231.1.3"' "$T/a4.out"
check_grep "wrong key: a and b still exchange with each other" '"exchanges":{"ok":1' "$T/a4.out"

beacon a a5 --secret-file "$T/key" --once -o json "$T/a.db"; pa=$!
beacon c c5 --insecure --once -o json "$T/c.db"; pc=$!
wait $pa $pc
check_eq "no key: a's database is unchanged" "$(sum_file "$T/a.db")" "$sa"
check_grep "no key: plain announcements are dropped by a keyed peer (wrong_mode)" \
	'"wrong_mode":[1-9]' "$T/a5.out"
check_nogrep "--insecure: no status line without INSECURE" '^smg-beacon: [^I]' "$T/c5.err"
check_grep "--insecure: the status lines say INSECURE" "^smg-beacon: INSECURE" "$T/c5.err"

# ---- two insecure peers still sync, and still check lengths and sums -----------
cp "$T/a.db" "$T/ia.db"; mkdb "$T/ib.db" ""
beacon a ia --insecure --once "$T/ia.db"; pa=$!
beacon b ib --insecure --once "$T/ib.db"; pb=$!
wait $pa $pb
check_same_db "--insecure: two peers converge" "$T/ia.db" "$T/ib.db"
check_grep "--insecure: the report says INSECURE" "^INSECURE" "$T/ib.out"

# ---- a lying peer, where anyone may speak (--insecure) ----------------------------
cc -I"$top/lib" -o "$T/hostile" "$top/tests/hostile.c" "$top/lib/frame.c" \
	"$top/lib/util.c" -lsodium || fail "building tests/hostile.c"
si=$(sum_file "$T/ia.db")
beacon a ih --insecure -o json "$T/ia.db"; pa=$!
up ih
nsx b "$T/hostile" 10.231.1.1 31337 meta-garbage meta-group sqlite bad-json disorder \
	oversized truncated wrong-type >"$T/hostile.out" 2>&1
check_grep "lying peer: every lie was told" "sent wrong-type" "$T/hostile.out"
check "lying peer: the daemon is still running" kill -0 $pa
kill -TERM $pa; rc $pa
check_eq "lying peer: the daemon stops cleanly" "$rc" 0
check_eq "lying peer: nothing was applied" "$(sum_file "$T/ia.db")" "$si"
check_grep "lying peer: every exchange failed" '"exchanges":{"ok":0,"failed":8}' "$T/ih.out"
for what in unexpected other_group bad_data oversized truncated; do
	check_grep "lying peer: counted as $what" "\"dropped\":{.*\"$what\":[1-9]" "$T/ih.out"
done
check_grep "lying peer: a stream that is a SQLite file is refused unread" \
	"not a row stream" "$T/ih.err"
check_nogrep "lying peer: every line on stderr, errors too, says INSECURE" \
	'^smg-beacon: [^I]' "$T/ih.err"

# ---- dry run ---------------------------------------------------------------------
sa=$(sum_file "$T/a.db") sd=$(sum_file "$T/plain.db")
beacon a a6 --secret-file "$T/key" "$T/a.db"; pa=$!
up a6
beacon b d6 --secret-file "$T/key" --once --dry-run -o json "$T/plain.db"; pb=$!
rc $pb; check_eq "--dry-run: the round succeeds" "$rc" 0
kill -TERM $pa; wait $pa
check_eq "--dry-run: its database is byte for byte the same" "$(sum_file "$T/plain.db")" "$sd"
check_eq "--dry-run: the peer's database too" "$(sum_file "$T/a.db")" "$sa"
check_grep "--dry-run: reports what it would receive" '"dry_run":true.*"received":[1-9]' "$T/d6.out"
check_grep "--dry-run: announces itself passive" "passive" "$T/a6.err"

# ---- through a relay ---------------------------------------------------------------
# p (10.231.2.1) and q (10.231.3.1) only meet through r, which damages traffic
relay() {	# MODE [UDPMODE]
	nsbg r "$T/relay" 31337 10.231.2.1 10.231.2.255 10.231.3.1 10.231.3.255 "$@" \
		>"$T/relay.out" 2>&1
	relay_pid=$!
	n=0; until grep -q "relay up" "$T/relay.out" || [ $n -gt 50 ]; do sleep 0.1; n=$((n+1)); done
}
pair_once() {	# NAME: p and q, one round each, through the relay
	beacon p "p-$1" --secret-file "$T/key" --once -o json "$T/p.db"; pp=$!
	beacon q "q-$1" --secret-file "$T/key" --once -o json "$T/q.db"; pq=$!
	rc $pp; rp=$rc; rc $pq; rq=$rc
	kill $relay_pid 2>/dev/null; wait $relay_pid 2>/dev/null
}
mkdb "$T/p.db" "INSERT INTO items VALUES (1,'p',1,NULL,'2026-01-01T00:00:00Z')"
mkdb "$T/q.db" "INSERT INTO items VALUES (2,'q',1,NULL,'2026-01-01T00:00:00Z')"
sp=$(sum_file "$T/p.db") sq=$(sum_file "$T/q.db")

for m in flip:3 trunc:3 replay:2 reorder:4; do
	relay "$m"
	pair_once "$m"
	case $m in
	flip*) what=bad_tag ;; trunc*) what='truncated\|closed' ;;
	replay*) what=replay ;; reorder*) what=reorder ;;
	esac
	check_grep "relay $m: the relay did its damage" "flipped\|cut\|replayed\|swapped" "$T/relay.out"
	check_eq "relay $m: both rounds fail" "$rp$rq" 44
	[ "$rp$rq" = 44 ] || sed 's/^/    /' "$T/p-$m.err" "$T/q-$m.err" "$T/relay.out"
	check_eq "relay $m: p's database is unchanged" "$(sum_file "$T/p.db")" "$sp"
	check_eq "relay $m: q's database is unchanged" "$(sum_file "$T/q.db")" "$sq"
	cat "$T/p-$m.out" "$T/q-$m.out" >"$T/pq.out"
	check_grep "relay $m: detected and counted as $what" "\"\\($what\\)\":[1-9]" "$T/pq.out"
done

relay pass flip
pair_once udpflip
check_eq "tampered announcements: nobody is found, nothing fails" "$rp$rq" 00
check_grep "tampered announcements: counted" '"bad_tag":[1-9]' "$T/p-udpflip.out"
check_eq "tampered announcements: p unchanged" "$(sum_file "$T/p.db")" "$sp"

# a peer killed mid-exchange: the relay holds the server's rows half sent
sqlite3 "$T/p.db" "WITH RECURSIVE n(i) AS (SELECT 10 UNION ALL SELECT i+1 FROM n WHERE i < 3000)
	INSERT INTO items SELECT i, 'p'||i, i, randomblob(50), '2026-01-01T00:00:00Z' FROM n"
sqlite3 "$T/q.db" "WITH RECURSIVE n(i) AS (SELECT 5000 UNION ALL SELECT i+1 FROM n WHERE i < 8000)
	INSERT INTO items SELECT i, 'q'||i, i, randomblob(50), '2026-01-01T00:00:00Z' FROM n"
sp=$(sum_file "$T/p.db") sq=$(sum_file "$T/q.db")
relay stall
beacon p p-kill --secret-file "$T/key" --once -o json "$T/p.db"; pp=$!
beacon q q-kill --secret-file "$T/key" --once -o json "$T/q.db"; pq=$!
n=0; until grep -q "^stalled" "$T/relay.out" || [ $n -gt 100 ]; do sleep 0.1; n=$((n+1)); done
server=$(awk '/^stalled/ { print $3 }' "$T/relay.out")
case $server in
10.231.2.1) victim=p survivor=q; vp=$pp sp_=$pq ;;
10.231.3.1) victim=q survivor=p; vp=$pq sp_=$pp ;;
*) victim= ;;
esac
if [ -n "$victim" ]; then
	ok "killed mid-exchange: the relay stalled the server's rows ($victim)"
	for pid in $(ip netns pids "$NSP$victim"); do kill -9 "$pid"; done
	wait $vp
	rc $sp_; check_eq "killed mid-exchange: the survivor's round fails" "$rc" 4
	check_eq "killed mid-exchange: p's database is unchanged" "$(sum_file "$T/p.db")" "$sp"
	check_eq "killed mid-exchange: q's database is unchanged" "$(sum_file "$T/q.db")" "$sq"
	check_eq "killed mid-exchange: the survivor's database is intact" \
		"$(sqlite3 "$T/$survivor.db" "PRAGMA integrity_check")" ok
else
	fail "killed mid-exchange: the relay never stalled"; sed 's/^/    /' "$T/relay.out"
	wait $pp $pq
fi
kill $relay_pid 2>/dev/null; wait $relay_pid 2>/dev/null

relay pass
pair_once pass
check_eq "an honest relay: both rounds succeed" "$rp$rq" 00
check_same_db "an honest relay: p and q converge" "$T/p.db" "$T/q.db"

# ---- garbage at a daemon -------------------------------------------------------------
beacon a a7 --secret-file "$T/key" -o json "$T/a.db"; pa=$!
up a7
# /dev/udp and /dev/tcp are bash's
nsx b bash -c '
	head -c 100 /dev/urandom >/dev/udp/10.231.1.1/31337
	head -c 3000 /dev/zero >/dev/udp/10.231.1.1/31337
	printf "SB\001\001\001\000\000\000\177\377\377\377" >/dev/udp/10.231.1.1/31337
	head -c 100000 /dev/urandom >/dev/tcp/10.231.1.1/31337
	printf "SB\001\002\001\000\000\000\177\377\377\377%048d" 0 >/dev/tcp/10.231.1.1/31337
' 2>/dev/null
sleep 0.5
check "garbage: the daemon is still running" kill -0 $pa
kill -TERM $pa
rc $pa; check_eq "garbage: the daemon stops cleanly" "$rc" 0
check_grep "garbage: dropped and counted" '"dropped":{.*"garbage":[1-9]' "$T/a7.out"
check_grep "garbage: an oversized datagram is counted" '"oversized":[1-9]' "$T/a7.out"
