# timestamps.sh - newer_wins through smg-diff with timestamps in every unix
# unit and in ISO 8601: the newer row wins (sqldiff against a database of
# the expected winners is the oracle), impossible dates count as missing
# and are warned about once per table, far-future ones too.  Needs sqlite3.
. ./lib.sh
need_tools "timestamps.sh" sqlite3 sqldiff jq

now=$(date +%s)
# a.db and b.db: each row once per side, v says which side; the expected
# winners go into want.db.  Times are around 2026-03-01T10:00:00Z.
s=1772359200
sqlite3 a.db <<EOF
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at);
INSERT INTO t VALUES
 (1, 'a1', $((s + 1))),                 -- seconds vs b's milliseconds, a newer
 (2, 'a2', $s),                         -- seconds vs b's milliseconds, b newer
 (3, 'a3', ${s}000001),                 -- microseconds vs b's nanoseconds, a newer
 (4, 'a4', ${s}000000000),              -- nanoseconds, b newer by 1 us
 (5, 'a5', ${s}000002000),              -- nanoseconds, a newer by 1 us
 (6, 'a6', ${s}000000000),              -- nanoseconds, b newer by 1 us
 (7, 'a7', ${s}000005000),              -- nanoseconds, a newer by 1 us
 (8, 'a8', '2026-03-01T10:00:00.5Z'),   -- ISO vs b's milliseconds, a newer
 (9, 'a9', '9300000000000001'),         -- microseconds as text, a newer by 1
 (10,'a10','2026-03-01T10:00:00Z');     -- vs b's 2026-02-30: that is no time
EOF
sqlite3 b.db <<EOF
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at);
INSERT INTO t VALUES
 (1, 'b1', ${s}000),
 (2, 'b2', ${s}001),
 (3, 'b3', ${s}000000000),
 (4, 'b4', ${s}000001000),
 (5, 'b5', ${s}000001000),
 (6, 'b6', ${s}000001000),
 (7, 'b7', ${s}000004000),
 (8, 'b8', ${s}499),
 (9, 'b9', 9300000000000000),
 (10,'b10','2026-02-30T10:00:00Z');
EOF
cp a.db a0.db; cp b.db b0.db

smg-diff -q -d sync -p newer_wins -s updated_at --report json a.db b.db >rep.json 2>rep.err
check_eq "every pair has an order: 9 newer rows, key 10 (a date that does not exist) compared by hash" \
	"$(jq -c '.tables[0].counts | [.local_newer, .remote_newer, .content_differs]' rep.json)" '[6,3,1]'
check_eq "local newer: keys 1 3 5 (first three); remote newer: 2 4 6" \
	"$(jq -c '.tables[0].samples | [.local_newer, .remote_newer]' rep.json)" '[[[1],[3],[5]],[[2],[4],[6]]]'

smg-diff -q -d sync -p newer_wins -s updated_at a.db b.db >sync.s 2>sync.err
smg-apply -q --only local -i sync.s a.db 2>/dev/null
smg-apply -q --only remote -i sync.s b.db 2>/dev/null
check_same_db "sync: both sides agree (sqldiff a.db b.db)" a.db b.db

# The expected winners, b's rows 2, 4 and 6 over a's: sqldiff compares.
cp a0.db want.db
sqlite3 want.db "ATTACH 'b0.db' AS b;
 UPDATE main.t SET (v, updated_at) = (SELECT v, updated_at FROM b.t AS bt WHERE bt.id = main.t.id)
  WHERE id IN (2, 4, 6);"
# key 10: b's timestamp is no time, so the higher hash decides; take
# whichever won, but only from the two candidates.
w10=$(sqlite3 a.db "SELECT v FROM t WHERE id = 10")
case $w10 in a10|b10) ok "key 10 holds one of the two versions ($w10)" ;;
*) fail "key 10 holds $w10" ;; esac
[ "$w10" = b10 ] && sqlite3 want.db "ATTACH 'b0.db' AS b;
 UPDATE main.t SET (v, updated_at) = (SELECT v, updated_at FROM b.t WHERE id = 10) WHERE id = 10;"
check_same_db "the newer row won in every unit (sqldiff want.db a.db)" want.db a.db

check_grep "an impossible date is warned about, naming table, column, key and value" \
	'b.db: table "t": 1 value of "updated_at" is not a possible time (first: key \[10\], value "2026-02-30T10:00:00Z")' sync.err
check_eq "the warning is given once" "$(grep -c 'not a possible time' sync.err)" 1

# ---- impossible dates and offsets, many of them: one warning, all counted ----
sqlite3 c.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
 CREATE TABLE u(id INTEGER PRIMARY KEY, updated_at TEXT);
 INSERT INTO t VALUES (1,'x','2026-02-30'),(2,'x','2026-04-31T10:00:00Z'),(3,'x','2026-02-29'),
  (4,'x','2026-03-01T10:00:00+25:00'),(5,'x','2026-03-01T10:00:00+23:99'),(6,'x','2026-03-01T24:01:00'),
  (7,'x','2024-02-29T10:00:00Z'),(8,'x',NULL),(9,'x','2026-03-01T24:00:00Z');
 INSERT INTO u VALUES (1,'2026-06-31');"
sqlite3 d.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
 CREATE TABLE u(id INTEGER PRIMARY KEY, updated_at TEXT);"
smg-diff -q -p newer_wins -s updated_at c.db d.db >/dev/null 2>c.err
check_grep "six impossible values in t counted in one warning (2024-02-29, 24:00 and NULL are fine)" \
	'c.db: table "t": 6 values of "updated_at" are not a possible time (first: key \[1\], value "2026-02-30")' c.err
check_grep "table u gets its own warning" 'c.db: table "u": 1 value of "updated_at" is not a possible time' c.err
check_eq "two warnings in all" "$(wc -l <c.err | tr -d ' ')" 2

# ---- the far future: more than a day ahead of now ----------------------------
sqlite3 f.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at INTEGER);
 INSERT INTO t VALUES (1,'f',$((now + 2 * 86400))),(2,'f',$((now + 3600))),(3,'f',$(( (now + 5 * 86400) * 1000 )));"
sqlite3 g.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at INTEGER);
 INSERT INTO t VALUES (1,'g',$now),(2,'g',$now),(3,'g',$now);"
smg-diff -q -d sync -p newer_wins -s updated_at f.db g.db >fut.s 2>fut.err
check_grep "two rows more than a day ahead: warned once, naming the first" \
	'f.db: table "t": 2 values of "updated_at" are more than a day in the future (first: key \[1\]' fut.err
check_eq "an hour ahead is no warning; one line in all" "$(wc -l <fut.err | tr -d ' ')" 1
check_eq "the future rows still win (the warning says they will)" \
	"$(jq -rc 'select(.kind=="change") | "\(.key[0]) \(.to)"' fut.s | sort | tr '\n' ' ')" "1 remote 2 remote 3 remote "

# ---- a stream input is audited as well ---------------------------------------
smg-hash -q -s updated_at b0.db | smg-diff -q -p newer_wins -s updated_at a0.db - >/dev/null 2>st.err
check_grep "a stream from smg-hash: the same warning, naming stdin" \
	'stdin: table "t": 1 value of "updated_at" is not a possible time (first: key \[10\]' st.err
smg-diff -q -p local_wins -s updated_at c.db d.db >/dev/null 2>lw.err
check_eq "with local_wins, where timestamps decide nothing, no warning" "$(cat lw.err)" ""
