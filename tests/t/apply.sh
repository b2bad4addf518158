# apply.sh - smg-apply: the pipeline converges (sqldiff as the oracle, typeof()
# preserved), excluded columns keep their value, deletes, pull, sync split by
# --only, dry runs, missing tables, and a run that is killed, truncated or
# miscounted changes nothing.  Needs sqlite3, sqldiff, jq, mkfifo.
. ./lib.sh

schema='
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB, anything, updated_at TEXT);
CREATE TABLE pairs(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;'
sqlite3 a.db "$schema"
sqlite3 b.db "$schema"
sqlite3 a.db <<'EOF'
INSERT INTO items VALUES
 (1,'same',1,1.5,X'01',NULL,'2026-01-01T00:00:00Z'),
 (2,'changed in a',2,2.25,X'02','text','2026-01-02T00:00:00Z'),
 (3,'only in a',-9223372036854775808,0.1,X'',9223372036854775807,NULL),
 (4,'blob now',4,4.5,zeroblob(100000),X'00FF',NULL),
 (5,'',0,-0.5,NULL,'0',NULL),
 (6,NULL,NULL,NULL,NULL,0.30000000000000004,NULL),
 (8,'type changes',8,8.5,NULL,42,NULL);
INSERT INTO pairs VALUES ('x',1,'one'),('x',2,X'CAFE'),('y',1,1e308),('Y',1,-1);
EOF
sqlite3 b.db <<'EOF'
INSERT INTO items VALUES
 (1,'same',1,1.5,X'01',NULL,'2026-01-01T00:00:00Z'),
 (2,'old b',2,2.25,X'02','text','2020-01-01T00:00:00Z'),
 (4,'blob now',4,4.5,'text, not a blob',X'00FF',NULL),
 (5,NULL,NULL,NULL,NULL,NULL,NULL),
 (7,'only in b',7,7.5,NULL,NULL,NULL),
 (8,'type changes',8,8.5,NULL,'42',NULL);
INSERT INTO pairs VALUES ('x',1,'uno'),('z',9,NULL);
EOF
cp a.db a0.db; cp b.db b0.db

smg-hash -q a.db | smg-diff -q - b.db | smg-apply -q b.db >apply.out 2>apply.err
check_eq "smg-hash a.db | smg-diff - b.db | smg-apply b.db exits 0" "$?" 0
check_eq "the text report counts per table" "$(cat apply.out)" \
"b.db: items: 6 upserted, 0 deleted
b.db: pairs: 4 upserted, 0 deleted
b.db: wrote 10 upserts and 0 deletes in 2 tables"
# b keeps what a lacks (no --delete): items 7 and pairs z
sqlite3 b.db "DELETE FROM items WHERE id = 7; DELETE FROM pairs WHERE a = 'z'" 
check_same_db "after the push, sqldiff a.db b.db finds nothing but b's own rows" a.db b.db
check_eq "typeof() of every value in items is preserved" "$(typed_dump b.db items)" "$(typed_dump a.db items)"
check_eq "typeof() of every value in pairs is preserved" "$(typed_dump b.db pairs)" "$(typed_dump a.db pairs)"
check_eq "the BLOB that replaced a TEXT is a BLOB of 100000 bytes" \
	"$(sqlite3 b.db "SELECT typeof(data), length(data) FROM items WHERE id = 4")" "blob|100000"
check_eq "int64 extremes arrive exactly" \
	"$(sqlite3 b.db "SELECT qty, anything FROM items WHERE id = 3")" "-9223372036854775808|9223372036854775807"
check_eq "TEXT '42' became INTEGER 42" "$(sqlite3 b.db "SELECT typeof(anything) FROM items WHERE id = 8")" integer

# a second run finds nothing to do
cp b0.db b.db
smg-diff -q a.db b.db | smg-apply -q b.db >/dev/null
check_eq "after a push, a second diff writes no changes" \
	"$(smg-diff -q a.db b.db | grep -c '"kind":"change"')" 0
smg-diff -q a.db b.db | smg-apply -q -r json b.db >j.out
check_eq "--report json of an empty change stream" "$(cat j.out)" \
	'{"target":"b.db","dry_run":false,"tables":[],"upserted":0,"deleted":0,"conflicts":0,"conflict_rows":[],"unchecked":0,"foreign_key_violations":0}'

# ---- --delete makes a mirror ----------------------------------------------
cp b0.db b.db
smg-diff -q --delete a.db b.db | smg-apply -q -r json b.db >j.out
check_eq "--delete: the json report counts the deletes" \
	"$(jq -c '[.upserted,.deleted,[.tables[]|[.table,.upserted,.deleted]]]' j.out)" \
	'[10,2,[["items",6,1],["pairs",4,1]]]'
check_same_db "push --delete: sqldiff a.db b.db prints nothing" a.db b.db
check_eq "push --delete: b lacks the rows a lacks" \
	"$(sqlite3 b.db "SELECT count(*) FROM items WHERE id = 7; SELECT count(*) FROM pairs WHERE a = 'z'")" "0
0"

# ---- pull ------------------------------------------------------------------
cp a0.db a.db; cp b0.db b.db
smg-diff -q -d pull -p remote_wins --delete a.db b.db | smg-apply -q a.db >/dev/null
check_same_db "pull remote_wins --delete into a.db: sqldiff a.db b.db prints nothing" a.db b.db
check_eq "pull: b.db was not touched" "$(sum_file b.db)" "$(sum_file b0.db)"
check_eq "pull: typeof() preserved" "$(typed_dump a.db items)" "$(typed_dump b.db items)"

# ---- sync through a saved change file, split by --only ---------------------
cp a0.db a.db; cp b0.db b.db
smg-diff -q -d sync -p newer_wins a.db b.db >sync.s
nl=$(grep -c '"to":"local"' sync.s); nr=$(grep -c '"to":"remote"' sync.s)
check_eq "the sync stream has 12 changes, at least b's 2 own rows to local and a's newer row 2 to remote" \
	"$((nl + nr)) $([ "$nl" -ge 2 ] && echo y) $(grep -c '"to":"remote","key":\[2\]' sync.s)" "12 y 1"
smg-apply -q --only local -r json -i sync.s a.db >jl.out
smg-apply -q --only remote -r json -i sync.s b.db >jr.out
check_eq "--only local applies just the changes to local" "$(jq -c '[.upserted,.deleted]' jl.out)" "[$nl,0]"
check_eq "--only remote applies just the changes to remote" "$(jq -c '[.upserted,.deleted]' jr.out)" "[$nr,0]"
check_same_db "sync applied to both sides: sqldiff a.db b.db prints nothing" a.db b.db
check_eq "sync: b's own row 7 reached a" "$(sqlite3 a.db "SELECT name FROM items WHERE id = 7")" "only in b"
check_eq "sync: the newer version of row 2 (a's) won on both sides" \
	"$(sqlite3 a.db "SELECT name FROM items WHERE id = 2")$(sqlite3 b.db "SELECT name FROM items WHERE id = 2")" \
	"changed in achanged in a"
check_exit 2 "--only with something else than local or remote: exit 2" smg-apply --only both -i sync.s b.db

# ---- excluded columns keep the destination's value -------------------------
sqlite3 xa.db "CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT, token TEXT DEFAULT 'dflt');
 INSERT INTO u VALUES (1,'alice','a-secret'),(2,'bob','b-secret'),(3,'carol','c-secret');"
sqlite3 xb.db "CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT, token TEXT DEFAULT 'dflt');
 INSERT INTO u VALUES (1,'ALICE','keep-1'),(2,'bob','keep-2');"
smg-hash -q -X token xa.db | smg-diff -q -X token - xb.db | smg-apply -q xb.db >/dev/null
check_eq "-X token: names synced, b's tokens kept, the new row gets the column default" \
	"$(sqlite3 xb.db "SELECT id, name, token FROM u ORDER BY id")" \
"1|alice|keep-1
2|bob|keep-2
3|carol|dflt"
smg-diff -q -X u.token xa.db xb.db >x.s
check_eq "-X u.token: the diff now sees no difference" "$(grep -c '"kind":"change"' x.s)" 0

# ---- --dry-run ---------------------------------------------------------------
cp a0.db a.db; cp b0.db b.db
before=$(sum_file b.db)
smg-diff -q --delete a.db b.db >push.s
smg-apply -q --dry-run -i push.s b.db >dry.out 2>dry.err; rc=$?
check_eq "--dry-run exits 0" "$rc" 0
check_eq "--dry-run leaves the file byte-identical" "$(sum_file b.db)" "$before"
check_eq "--dry-run leaves no journal behind" "$(ls b.db-* 2>/dev/null | wc -l)" 0
check_eq "--dry-run reports what it would do" "$(cat dry.out)" \
"b.db: items: 6 upserted, 1 deleted
b.db: pairs: 4 upserted, 1 deleted
b.db: would write 10 upserts and 2 deletes in 2 tables (dry run: nothing written)"
smg-apply -q -n -r json -i push.s b.db >dry.json
check_eq "--dry-run json says dry_run" "$(jq -c '[.dry_run,.upserted,.deleted]' dry.json)" '[true,10,2]'

# ---- a missing target table ----------------------------------------------------
sqlite3 src.db 'CREATE TABLE "new table"(id INTEGER PRIMARY KEY, "val ue" TEXT, n REAL); INSERT INTO "new table" VALUES (1,'"'one'"',1.0),(2,NULL,2.5);
 CREATE TABLE other(id INTEGER PRIMARY KEY); INSERT INTO other VALUES (1);'
sqlite3 dst.db 'CREATE TABLE other(id INTEGER PRIMARY KEY); CREATE TABLE zebra(id INTEGER PRIMARY KEY);'
smg-hash -q src.db >src.s
smg-hash -q -t other dst.db >dst.s
smg-diff -q src.s dst.s >create.s
before=$(sum_file dst.db)
check_exit 3 "a table missing in the target: exit 3" smg-apply -q -i create.s dst.db
check_grep "... naming it" '"new table"' .err
check_grep "... and listing the target's tables" 'zebra' .err
check_grep "... and pointing at --create-tables" 'create-tables' .err
check_eq "... and nothing was written" "$(sum_file dst.db)" "$before"
smg-apply -q -n --create-tables -i create.s dst.db >dry.out
check_grep "--dry-run --create-tables says it would create the table" 'new table.*would be created' dry.out
check_eq "... without creating it" "$(sum_file dst.db)" "$before"
check_exit 0 "--create-tables creates the table and fills it" smg-apply -q --create-tables -i create.s dst.db
check_grep "... reporting the table as created" 'new table.*created' .out
check_eq "the created table has the source's CREATE statement" \
	"$(sqlite3 dst.db "SELECT sql FROM sqlite_schema WHERE name = 'new table'")" \
	"$(sqlite3 src.db "SELECT sql FROM sqlite_schema WHERE name = 'new table'")"
check_same_table "sqldiff --table 'new table' prints nothing" src.db dst.db "new table"
check_same_table "sqldiff --table other prints nothing" src.db dst.db other
check_eq "typeof() in the created table" "$(typed_dump dst.db 'new table')" "$(typed_dump src.db 'new table')"
check_exit 3 "a missing target database: exit 3" smg-apply -q -i create.s nosuch.db
check_eq "... and it is not created" "$(ls nosuch.db 2>/dev/null | wc -l)" 0
sqlite3 emptyother.db 'CREATE TABLE other(id INTEGER PRIMARY KEY);'
smg-diff -q -t other src.db emptyother.db >other.s
sqlite3 lack.db 'CREATE TABLE other(x INTEGER PRIMARY KEY, y);'
check_exit 7 "a target table with other columns: exit 7" smg-apply -q -i other.s lack.db
check_grep "... naming the missing column" '"id"' .err

# ---- a change the target refuses rolls back the whole run ------------------
# (swapped values apply: t/constraints.sh; here row 3 keeps the value)
sqlite3 ua.db "CREATE TABLE aaa(id INTEGER PRIMARY KEY, v); INSERT INTO aaa VALUES (1,'new');
 CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT UNIQUE); INSERT INTO u VALUES (1,'x'),(2,'y');"
sqlite3 ub.db "CREATE TABLE aaa(id INTEGER PRIMARY KEY, v);
 CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT UNIQUE); INSERT INTO u VALUES (1,'y'),(2,'z'),(3,'x');"
before=$(sum_file ub.db)
smg-diff -q ua.db ub.db >unique.s
smg-apply -q -i unique.s ub.db >/dev/null 2>unique.err; rc=$?
check_eq "a UNIQUE violation in the second table fails the run (exit 7)" "$rc" 7
check_grep "... naming the table, the key and the constraint" 'table "u", key \[1\]: UNIQUE constraint failed: u.name' unique.err
check_eq "... and the first table's upsert is rolled back: the file is byte-identical" "$(sum_file ub.db)" "$before"
check_eq "... no journal left behind" "$(ls ub.db-* 2>/dev/null | wc -l)" 0

# ---- truncated and miscounted streams change nothing -------------------------
cp b0.db b.db
smg-diff -q a.db b.db >push.s
before=$(sum_file b.db)
head -n -1 push.s >trunc.s
check_exit 7 "a stream without its end record: exit 7" smg-apply -q -i trunc.s b.db
check_grep "... saying the end record is missing, with the line" 'trunc.s:[0-9]*:.*end record' .err
check_eq "... and nothing was applied" "$(sum_file b.db)" "$before"
head -n 3 push.s >trunc3.s
check_exit 7 "a stream cut after three records: exit 7" smg-apply -q -i trunc3.s b.db
check_eq "... nothing applied" "$(sum_file b.db)" "$before"
head -c 700 push.s >cut.s
check_exit 7 "a stream cut mid-line: exit 7" smg-apply -q -i cut.s b.db
check_eq "... nothing applied" "$(sum_file b.db)" "$before"
n=$(($(wc -l <push.s) - 1))
{ head -n -1 push.s; echo "{\"kind\":\"end\",\"records\":$((n + 1))}"; } >miscount.s
check_exit 7 "an end record counting one record too many: exit 7" smg-apply -q -i miscount.s b.db
check_eq "... nothing applied" "$(sum_file b.db)" "$before"
# a line lost in transit: the count no longer matches
{ grep -v '"key":\[3\]' push.s | head -n -1; echo "{\"kind\":\"end\",\"records\":$n}"; } >lost.s
check_exit 7 "a change lost in transit (end count mismatch): exit 7" smg-apply -q -i lost.s b.db
check_eq "... nothing applied" "$(sum_file b.db)" "$before"
: >empty.s
check_exit 7 "an empty input (an upstream that wrote nothing): exit 7" smg-apply -q -i empty.s b.db
# an upstream stage dies: smg-hash's output is cut before its trailer
smg-hash -q a.db | head -n 5 | smg-diff -q - b.db 2>diff.err | smg-apply -q b.db >/dev/null 2>apply.err
check_grep "an upstream smg-hash cut short: smg-diff reports the truncated input" 'stdin' diff.err
check_grep "... and smg-apply refuses the unfinished change stream" 'smg-apply' apply.err
check_eq "... and b.db is unchanged" "$(sum_file b.db)" "$before"

# ---- killed mid-run ------------------------------------------------------------
# 30k upserts of ~250-byte rows: far more than SQLite's page cache, so pages
# spill into b.db before the commit; kill -9 must still leave it as it was.
sqlite3 big-a.db <<'EOF'
CREATE TABLE big(id INTEGER PRIMARY KEY, s TEXT, n INTEGER, r REAL, b BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 30000)
INSERT INTO big SELECT i, printf('row %d %s', i, hex(randomblob(40))), i * 7, i / 3.0, randomblob(60) FROM c;
EOF
sqlite3 big-b.db <<'EOF'
CREATE TABLE big(id INTEGER PRIMARY KEY, s TEXT, n INTEGER, r REAL, b BLOB);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000)
INSERT INTO big SELECT 200000 + i * 97, 'old', i, i, NULL FROM c;
EOF
cp big-b.db big-b0.db
before=$(sum_file big-b.db)
smg-diff -q big-a.db big-b.db >big.s
total=$(grep -c '"kind":"change"' big.s)
check_eq "the big change stream has 30000 upserts" "$total" 30000
# feed 90% of it through a fifo that stays open, then kill -9 smg-apply:
# it spools a piped stream before it writes, so it is killed holding nothing
head -n 27000 big.s >big-part.s
mkfifo fifo
smg-apply -q big-b.db <fifo >/dev/null 2>kill.err &
pid=$!
exec 3>fifo
cat big-part.s >&3
sleep 0.5
alive=no; kill -0 $pid 2>/dev/null && alive=yes
check_eq "smg-apply is still waiting for the rest of the stream" "$alive" yes
check_eq "... and has not begun writing (no rollback journal)" "$(ls big-b.db-journal 2>/dev/null)" ""
kill -9 $pid
wait $pid 2>/dev/null
exec 3>&-
check_eq "after kill -9 mid-stream, the target is byte-identical" "$(sum_file big-b.db)" "$before"
# kill -9 in the middle of the writes: as soon as the rollback journal
# appears, the transaction is open and pages are being changed
smg-apply -q -i big.s big-b.db >/dev/null 2>kill.err &
pid=$!
i=0
while [ ! -e big-b.db-journal ] && [ $i -lt 200000 ] && kill -0 $pid 2>/dev/null; do i=$((i + 1)); done
journal=no; [ -e big-b.db-journal ] && journal=yes
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
check_eq "smg-apply was killed with its transaction open (a rollback journal existed)" "$journal" yes
check_same_db "after kill -9 mid-write, sqldiff finds the target as it was" big-b0.db big-b.db
check_eq "... and the file is byte-identical to before (after SQLite's recovery)" "$(sum_file big-b.db)" "$before"
check_eq "... and intact" "$(sqlite3 big-b.db 'PRAGMA integrity_check')" ok
check_eq "... no row of the killed run is there" "$(sqlite3 big-b.db 'SELECT count(*) FROM big')" 1000
# the same, with the writer going away before the trailer (upstream died)
smg-apply -q big-b.db <big-part.s >/dev/null 2>trunc.err; rc=$?
check_eq "a big stream that stops before the trailer: exit 7" "$rc" 7
check_eq "... and the target is byte-identical" "$(sum_file big-b.db)" "$before"
# the headline pipeline on a change set larger than SQLite's page cache:
# smg-apply must be able to write while smg-diff still reads the same file
cp big-b0.db big-c.db
check_exit 0 "smg-hash big-a.db | smg-diff - big-c.db | smg-apply big-c.db with 30000 changes finishes (no lock deadlock, 8 s limit)" \
	timeout 8 sh -c 'smg-hash -q big-a.db | smg-diff -q - big-c.db | smg-apply -q big-c.db'
check_eq "... and converges: only c's own 1000 rows differ" \
	"$(sqldiff big-a.db big-c.db | grep -c '^INSERT INTO big')$(sqldiff big-a.db big-c.db | grep -vc '^INSERT INTO big')" 10000
check_exit 0 "the whole big stream applies" smg-apply -q -i big.s big-b.db
check_eq "... and converges: only b's own 1000 rows differ" \
	"$(sqldiff big-a.db big-b.db | grep -c '^INSERT INTO big')$(sqldiff big-a.db big-b.db | grep -vc '^INSERT INTO big')" 10000

# ---- a SQLite target loads no HTTP stack ---------------------------------------
# libcurl (and its TLS, Kerberos and LDAP libraries) is opened only when a
# remote target needs it: the dynamic loader's own log says which it opened
LD_DEBUG=files smg-apply -q -i big.s big-b.db 2>ld.log
check_eq "smg-apply into a SQLite file opens no libcurl" "$(grep -c 'file=libcurl' ld.log)" 0
check "... while the log does name the libraries it opens" grep -q 'file=libc\.so' ld.log
printf '[sync]\nmax_retries = 0\n' >noretry.toml
CLOUDFLARE_API_TOKEN=x LD_DEBUG=files smg-apply -q -c noretry.toml -i big.s \
	--endpoint http://127.0.0.1:1 d1:0123456789abcdef0123456789abcdef/00000000-0000-4000-8000-00000000d1d1 2>ld2.log
check "... and a remote target does open it (a refused connection, here)" grep -q 'file=libcurl' ld2.log

# ---- usage -----------------------------------------------------------------
check_exit 2 "no target: exit 2" smg-apply -i push.s
check_exit 2 "unknown option: exit 2" smg-apply --frobnicate b.db
check_exit 3 "-i of a missing file: exit 3" smg-apply -i nosuch.s b.db
