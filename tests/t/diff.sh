# diff.sh - smg-diff: buckets, timestamps as time, policies, directions,
# --delete, the three kinds of input, and its data errors.  Needs sqlite3, jq.
. ./lib.sh

# counts REPORT [TABLE]: "local_only remote_only local_newer remote_newer
# content_differs identical | upsert_local upsert_remote delete_local
# delete_remote skipped" of one table (or the total) of a --report json
counts() {
	if [ $# -gt 1 ]; then sel=".tables[] | select(.table==\"$2\") | .counts"; else sel=.total; fi
	jq -r "$sel | \"\(.local_only) \(.remote_only) \(.local_newer) \(.remote_newer) \(.content_differs) \(.identical) | \(.upsert_local) \(.upsert_remote) \(.delete_local) \(.delete_remote) \(.skipped)\"" "$1"
}
# changes STREAM: one line per change record: bucket op to key values
changes() { jq -rc 'select(.kind=="change") | "\(.bucket) \(.op) \(.to) \(.key|tojson) \(.values|tojson)"' "$1"; }
hash_of() { smg-hash -q "$1" | jq -r --argjson k "$2" 'select(.kind=="row" and .key==$k) | .hash'; }

# ---- every bucket ----------------------------------------------------------
# local.db / remote.db: 1 identical, 2 local only, 3 remote only, 4 local newer,
# 5 remote newer, 6 same time in two offsets (content differs), 7 no timestamps,
# 8 local newer although its text sorts lower (offsets), 9 identical content,
# different timestamps (identical: ts is not hashed).
sqlite3 local.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
INSERT INTO t VALUES
 (1,'same','2026-01-01T00:00:00Z'),
 (2,'local only',NULL),
 (4,'L4','2026-03-01T11:00:00Z'),
 (5,'L5','2026-03-01T09:00:00Z'),
 (6,'L6','2026-03-01T11:00:00+01:00'),
 (7,'L7',NULL),
 (8,'L8','2026-03-01T09:00:00-05:00'),
 (9,'same9','2020-01-01T00:00:00Z');
CREATE TABLE aaa(k TEXT PRIMARY KEY, n INT);
INSERT INTO aaa VALUES ('x',1),('y',2);
EOF
sqlite3 remote.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
INSERT INTO t VALUES
 (1,'same','2026-01-01T00:00:00Z'),
 (3,'remote only',NULL),
 (4,'R4','2026-03-01T10:00:00Z'),
 (5,'R5','2026-03-01T10:00:00Z'),
 (6,'R6','2026-03-01T10:00:00Z'),
 (7,'R7',NULL),
 (8,'R8','2026-03-01T13:00:00Z'),
 (9,'same9','2030-01-01T00:00:00Z');
CREATE TABLE zzz(id INTEGER PRIMARY KEY);
INSERT INTO zzz VALUES (1),(2),(3);
EOF
smg-diff -q -r json local.db remote.db >rep.json 2>rep.err
check_eq "--report json exits 0" "$?" 0
check_eq "buckets of t: 1 local_only, 1 remote_only, 2 local_newer, 1 remote_newer, 2 content_differs, 2 identical; push writes 6 to remote" \
	"$(counts rep.json t)" "1 1 2 1 2 2 | 0 6 0 0 0"
check_eq "a table only in local: all rows local_only" "$(counts rep.json aaa)" "2 0 0 0 0 0 | 0 2 0 0 0"
check_eq "a table only in remote: all rows remote_only (push writes nothing)" "$(counts rep.json zzz)" "0 3 0 0 0 0 | 0 0 0 0 0"
check_eq "the report says which side has a one-sided table" \
	"$(jq -r '.tables[] | "\(.table)=\(.only)"' rep.json | tr '\n' ' ')" "aaa=local t=null zzz=remote "
check_eq "the total adds the tables up" "$(counts rep.json)" "3 4 2 1 2 2 | 0 8 0 0 0"
check_eq "samples: local_newer keys are 4 and 8 (09:00-05:00 = 14:00Z, later than 13:00Z)" \
	"$(jq -c '.tables[] | select(.table=="t") | .samples.local_newer' rep.json)" '[[4],[8]]'
check_eq "+01:00 offset equals Z: key 6 is content_differs, not newer" \
	"$(jq -c '.tables[] | select(.table=="t") | .samples.content_differs' rep.json)" '[[6],[7]]'
smg-diff -q -r text local.db remote.db >rep.txt
check_grep "--report text lists the buckets" '^t: local_only 1 remote_only 1 local_newer 2 remote_newer 1 content_differs 2 identical 2' rep.txt

# ---- the change stream for each policy and direction -----------------------
smg-diff -q local.db remote.db >push.s
check_eq "push local_wins (default): every difference goes to remote with local values" \
	"$(changes push.s | grep -v '^local_only upsert remote \["[xy]"\]')" \
'local_only upsert remote [2] [2,"local only",null]
local_newer upsert remote [4] [4,"L4","2026-03-01T11:00:00Z"]
remote_newer upsert remote [5] [5,"L5","2026-03-01T09:00:00Z"]
content_differs upsert remote [6] [6,"L6","2026-03-01T11:00:00+01:00"]
content_differs upsert remote [7] [7,"L7",null]
local_newer upsert remote [8] [8,"L8","2026-03-01T09:00:00-05:00"]'
check_eq "push: the local-only table's rows are upserts to remote" \
	"$(changes push.s | grep -c '^local_only upsert remote \["[xy]"\]')" 2
check_eq "push: a table record precedes each table's changes, tables in name order" \
	"$(jq -r 'select(.kind=="table") | .table' push.s | tr '\n' ' ')" "aaa t "
check_eq "push: one summary per table, then the trailer with the right count" \
	"$(jq -r 'select(.kind=="summary") | .table' push.s | tr '\n' ' ')$(tail -n1 push.s)" \
	"aaa t zzz {\"kind\":\"end\",\"records\":$(($(wc -l <push.s) - 1))}"
check_eq "push: summary counts equal the report's" \
	"$(jq -c 'select(.kind=="summary" and .table=="t") | .counts' push.s)" \
	"$(jq -c '.tables[] | select(.table=="t") | .counts' rep.json)"

smg-diff -q -p remote_wins local.db remote.db >s
check_eq "push remote_wins: only rows remote lacks are written; differences skipped" \
	"$(changes s | grep -c .) $(changes s | grep -vc '^local_only upsert remote')" "3 0"
smg-diff -q -r json -p remote_wins local.db remote.db >r
check_eq "push remote_wins: 5 skipped in t" "$(counts r t)" "1 1 2 1 2 2 | 0 1 0 0 5"

smg-diff -q -d pull local.db remote.db >s
check_eq "pull local_wins: only rows local lacks come to local" \
	"$(changes s)" \
'remote_only upsert local [3] [3,"remote only",null]
remote_only upsert local [1] [1]
remote_only upsert local [2] [2]
remote_only upsert local [3] [3]'
smg-diff -q -d pull -p remote_wins --table t local.db remote.db >s
check_eq "pull remote_wins --table t: differences come to local with remote values" \
	"$(changes s)" \
'remote_only upsert local [3] [3,"remote only",null]
local_newer upsert local [4] [4,"R4","2026-03-01T10:00:00Z"]
remote_newer upsert local [5] [5,"R5","2026-03-01T10:00:00Z"]
content_differs upsert local [6] [6,"R6","2026-03-01T10:00:00Z"]
content_differs upsert local [7] [7,"R7",null]
local_newer upsert local [8] [8,"R8","2026-03-01T13:00:00Z"]'
check_eq "--table t limits the stream to t" "$(jq -r 'select(.kind=="table" or .kind=="summary") | .table' s | sort -u)" t

# newer_wins: the newer side wins; without a usable timestamp the higher hash
h6l=$(hash_of local.db '[6]'); h6r=$(hash_of remote.db '[6]')
h7l=$(hash_of local.db '[7]'); h7r=$(hash_of remote.db '[7]')
# expr compares strings in POSIX sh (test's \> is an extension)
w6=remote; expr "x$h6l" \> "x$h6r" >/dev/null && w6=local
w7=remote; expr "x$h7l" \> "x$h7r" >/dev/null && w7=local
other() { [ "$1" = local ] && echo remote || echo local; }
val() { [ "$1" = local ] && echo "L$2" || echo "R$2"; }
ts6() { [ "$1" = local ] && echo "2026-03-01T11:00:00+01:00" || echo "2026-03-01T10:00:00Z"; }
smg-diff -q -d sync -p newer_wins --table t local.db remote.db >s
check_eq "sync newer_wins: newer side wins, hash decides ties, one-sided rows go both ways" \
	"$(changes s)" \
"local_only upsert remote [2] [2,\"local only\",null]
remote_only upsert local [3] [3,\"remote only\",null]
local_newer upsert remote [4] [4,\"L4\",\"2026-03-01T11:00:00Z\"]
remote_newer upsert local [5] [5,\"R5\",\"2026-03-01T10:00:00Z\"]
content_differs upsert $(other $w6) [6] [6,\"$(val $w6 6)\",\"$(ts6 $w6)\"]
content_differs upsert $(other $w7) [7] [7,\"$(val $w7 7)\",null]
local_newer upsert remote [8] [8,\"L8\",\"2026-03-01T09:00:00-05:00\"]"
# swapping the inputs must pick the same winners (peers converge)
smg-diff -q -d sync -p newer_wins --table t remote.db local.db >s2
check_eq "newer_wins with the inputs swapped writes the same values to the same databases" \
	"$(changes s | awk '{ $1=""; sub(/ local /," X "); sub(/ remote /," local "); sub(/ X /," remote "); print }' | sort)" \
	"$(changes s2 | awk '{ $1=""; print }' | sort)"
smg-diff -q -p newer_wins --table t local.db remote.db >s
check_eq "push newer_wins: remote_newer is skipped, local_newer goes to remote" \
	"$(changes s | cut -d' ' -f1-4 | tr '\n' ';')" \
	"local_only upsert remote [2];local_newer upsert remote [4];$( [ $w6 = local ] && echo 'content_differs upsert remote [6];')$( [ $w7 = local ] && echo 'content_differs upsert remote [7];')local_newer upsert remote [8];"

smg-diff -q -d sync --table t local.db remote.db >s
check_eq "sync local_wins: both-sided differences go to remote, one-sided rows both ways" \
	"$(changes s | cut -d' ' -f1-4 | tr '\n' ';')" \
	"local_only upsert remote [2];remote_only upsert local [3];local_newer upsert remote [4];remote_newer upsert remote [5];content_differs upsert remote [6];content_differs upsert remote [7];local_newer upsert remote [8];"

# ---- --delete ---------------------------------------------------------------
smg-diff -q --delete local.db remote.db >s 2>s.err
check_eq "push --delete: rows only in remote are deleted at remote, not the table local lacks" \
	"$(changes s | grep delete)" \
'remote_only delete remote [3] null'
check_grep "... the table local lacks entirely is named as left alone" \
	'table "zzz": local.db lacks it entirely: --delete leaves it alone' s.err
smg-diff -q --delete -r json local.db remote.db >s.json 2>/dev/null
check_eq "... and the JSON report says left_alone for it alone" \
	"$(jq -c '[.tables[] | [.table, .left_alone]]' s.json)" '[["aaa",false],["t",false],["zzz",true]]'
smg-diff -q --delete -t zzz -t t local.db remote.db >s
check_eq "push --delete --table zzz: named, the table local lacks is emptied" \
	"$(changes s | grep delete)" \
'remote_only delete remote [3] null
remote_only delete remote [1] null
remote_only delete remote [2] null
remote_only delete remote [3] null'
check_eq "push --delete: delete records carry no values" \
	"$(jq -r 'select(.kind=="change" and .op=="delete") | has("values")' s | sort -u)" false
smg-diff -q -d pull --delete --table t local.db remote.db >s
check_eq "pull --delete: rows only in local are deleted at local" \
	"$(changes s | cut -d' ' -f1-4 | tr '\n' ';')" "local_only delete local [2];remote_only upsert local [3];"
check_exit 2 "sync with --delete is refused: exit 2" smg-diff -d sync --delete local.db remote.db
check_grep "... saying why" 'delete' .err
check_eq "... and writes no stream" "$(wc -c <.out)" 0

# ---- timestamps as time --------------------------------------------------
sqlite3 tl.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at);
INSERT INTO t VALUES
 (1,'a',1767225600),                 -- seconds = remote's millis
 (2,'a',1767225601),                 -- 1 s later than remote's millis
 (3,'a','2026-01-01T00:00:00Z'),     -- ISO = remote's unix seconds
 (4,'a','2026-03-01 10:00:00'),      -- no offset = UTC
 (5,'a','2026-03-01T10:00:00.250Z'), -- fractions count
 (6,'a','9'),                        -- numeric text, 9 s: older, though "9" > "1..." as text
 (7,'a','2026-03-01T23:30:00-01:00'),-- = 2026-03-02T00:30Z
 (8,'a','not a time');
EOF
sqlite3 tr.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at);
INSERT INTO t VALUES
 (1,'b',1767225600000),
 (2,'b',1767225600500),
 (3,'b',1767225600),
 (4,'b','2026-03-01T10:00:00Z'),
 (5,'b','2026-03-01T10:00:00Z'),
 (6,'b','1767225600'),
 (7,'b','2026-03-02T00:00:00+00:00'),
 (8,'b','2026-03-01T10:00:00Z');
EOF
smg-diff -q -r json --samples 10 tl.db tr.db >ts.json
check_eq "timestamps: local_newer = 2 5 7, remote_newer = 6, content_differs = 1 3 4 8" \
	"$(jq -c '.tables[0].samples | [.local_newer, .remote_newer, .content_differs]' ts.json)" \
	'[[[2],[5],[7]],[[6]],[[1],[3],[4],[8]]]'

# ---- three kinds of input give the same stream ------------------------------
smg-diff -q local.db remote.db >db-db.s
smg-hash -q local.db >local.s; smg-hash -q remote.db >remote.s
smg-hash -q local.db | smg-diff -q - remote.db >pipe-db.s
smg-hash -q remote.db | smg-diff -q local.db - >db-pipe.s
smg-diff -q local.s remote.s >file-file.s
smg-diff -q local.s - <remote.s >file-stdin.s
check_eq "stdin stream vs database = two databases" "$(sum_file pipe-db.s)" "$(sum_file db-db.s)"
# A destination read as a stream (a remote's, from smg-fetch) gets the row
# read in each change ("was", for compare-and-set in SQL); the rest is the same.
without_was() { sed 's/,"was":\[[^]]*\]//' "$1" | sum_file -; }
check_grep "changes to a side read as a stream carry the row read" '"to":"remote",.*"expect":"[0-9a-f]*","was":\[' db-pipe.s
check_eq "database vs stdin stream = two databases, but for was" "$(without_was db-pipe.s)" "$(sum_file db-db.s)"
check_eq "two stream files = two databases, but for was" "$(without_was file-file.s)" "$(sum_file db-db.s)"
check_eq "stream file vs stdin = two databases, but for was" "$(without_was file-stdin.s)" "$(sum_file db-db.s)"
check_exit 2 "both inputs stdin: exit 2" smg-diff - - 
smg-hash -q --keys-only local.db >lk.s; smg-hash -q --keys-only remote.db >rk.s
smg-diff -q -r json lk.s rk.s >k.json
check_eq "keys-only streams are enough for a report" "$(counts k.json t)" "1 1 2 1 2 2 | 0 6 0 0 0"
check_exit 7 "a keys-only stream cannot supply values for a change: exit 7" smg-diff lk.s remote.db
check_exit 3 "a missing input file: exit 3" smg-diff nosuch.s remote.db
check_grep "... naming it" nosuch.s .err

# ---- selection on database inputs ------------------------------------------
sqlite3 xa.db "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, secret TEXT); INSERT INTO p VALUES (1,'a','x'),(2,'b','y');"
sqlite3 xb.db "CREATE TABLE p(id INTEGER PRIMARY KEY, name TEXT, secret TEXT); INSERT INTO p VALUES (1,'a','DIFF'),(2,'b','y');"
smg-diff -q -r json xa.db xb.db >x.json
check_eq "control: a differing secret column is content_differs" "$(counts x.json p)" "0 0 0 0 1 1 | 0 1 0 0 0"
smg-diff -q -r json -X secret xa.db xb.db >x.json
check_eq "-X secret: the rows are identical" "$(counts x.json p)" "0 0 0 0 0 2 | 0 0 0 0 0"
check_exit 0 "--exit-code: 0 without changes" smg-diff -q --exit-code -X secret xa.db xb.db
check_exit 1 "--exit-code: 1 with changes" smg-diff -q --exit-code xa.db xb.db
check_eq "--exit-code still writes the stream" "$(changes .out)" 'content_differs upsert remote [1] [1,"a","x"]'

# ---- columns and keys that differ ------------------------------------------
sqlite3 c1.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1,'x');
               CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT, colour TEXT); INSERT INTO b VALUES (1,'x','red');"
sqlite3 c2.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO a VALUES (1,'y');
               CREATE TABLE b(id INTEGER PRIMARY KEY, v TEXT, size INT); INSERT INTO b VALUES (1,'x',3);"
check_exit 8 "columns that differ between the sides: exit 8 (partial)" smg-diff c1.db c2.db
check_grep "... naming the local-only column" '"colour"' .err
check_grep "... and the remote-only column" '"size"' .err
check_grep "... and the table" 'table "b".*skipped' .err
check_eq "... the stream is complete without that table: table a, its change, the trailer" \
	"$(jq -r 'select(.kind != "summary") | .kind + " " + (.table // "")' .out | tr '\n' ';')" 'table a;change a;end ;'
check_exit 0 "excluding the differing columns makes them comparable" smg-diff -X colour,size c1.db c2.db
sqlite3 k1.db "CREATE TABLE a(x INT, y INT, PRIMARY KEY(x, y));"
sqlite3 k2.db "CREATE TABLE a(x INT, y INT, PRIMARY KEY(y, x));"
check_exit 8 "primary keys that differ: the table is skipped, exit 8" smg-diff k1.db k2.db
check_grep "... naming the table" 'table "a": primary keys differ' .err
sqlite3 p1.db "CREATE TABLE a(id INTEGER PRIMARY KEY, v TEXT, n INT); INSERT INTO a VALUES (1,'x',2);"
sqlite3 p2.db "CREATE TABLE a(n INT, v TEXT, id INTEGER PRIMARY KEY); INSERT INTO a VALUES (3,'x',1);"
smg-diff -q -d pull -p remote_wins p1.db p2.db >s
check_eq "same columns in another order: values are written in the local order" \
	"$(changes s)" 'content_differs upsert local [1] [1,"x",3]'

# ---- out of order ------------------------------------------------------------
# swap the rows of key 4 and 5 in local.s (lines 6 and 7 of the stream)
grep -n '"key":\[4\]' local.s | cut -d: -f1 >line4
awk -v n="$(cat line4)" 'NR==n { held=$0; next } NR==n+1 { print; print held; next } { print }' local.s >ooo.s
check_exit 7 "an out-of-order stream: exit 7" smg-diff ooo.s remote.db
check_grep "... with the file and line number of the offending row" "ooo.s:$(($(cat line4) + 1)):" .err
check_grep "... saying it is out of order" 'order' .err
check_nogrep "... and no trailer" '"kind":"end"' .out
check_exit 7 "out-of-order on stdin: exit 7 naming stdin" sh -c 'smg-diff - remote.db <ooo.s'
check_grep "... stdin and line" "stdin:$(($(cat line4) + 1)):" .err
awk -v n="$(cat line4)" 'NR==n { print } { print }' local.s | awk '/"kind":"end"/ { $0 = "{\"kind\":\"end\",\"records\":" NR-1 "}" } { print }' >dup.s
check_exit 7 "a key twice: exit 7" smg-diff dup.s remote.db
check_grep "... at the second one" "dup.s:$(($(cat line4) + 1)):" .err
# tables out of name order: move table aaa after t
{ grep -v '"table":"aaa"' local.s | grep -v '"kind":"end"'; grep '"table":"aaa"' local.s; } >tables.s
echo "{\"kind\":\"end\",\"records\":$(wc -l <tables.s)}" >>tables.s
check_exit 7 "tables out of name order: exit 7" smg-diff tables.s remote.db
# a row whose table is not the current table
sed 's/"kind":"row","table":"t"/"kind":"row","table":"u"/' local.s >wrongtab.s
check_exit 7 "a row outside its table: exit 7" smg-diff wrongtab.s remote.db

# ---- uuid_v7_wins ----------------------------------------------------------
U1=01890a5d-ac96-774b-bcce-b302099a8057
U2=01890a5d-ac97-7000-8000-000000000001
U3=01890a5d-ac98-7abc-9def-0123456789ab
sqlite3 u1.db "CREATE TABLE e(id TEXT PRIMARY KEY, v TEXT, updated_at TEXT);
 INSERT INTO e VALUES ('$U1','a','2026-01-02'),('$U2','same',NULL),('$U3','l',NULL);"
sqlite3 u2.db "CREATE TABLE e(id TEXT PRIMARY KEY, v TEXT, updated_at TEXT);
 INSERT INTO e VALUES ('$U1','b','2026-01-01'),('$U2','same',NULL);"
smg-diff -q -p uuid_v7_wins u1.db u2.db >s 2>err
check_eq "uuid_v7_wins with UUIDv7 keys: exit 0" "$?" 0
check_eq "uuid_v7_wins: the newer row and the local-only row go to remote" \
	"$(changes s)" \
"local_newer upsert remote [\"$U1\"] [\"$U1\",\"a\",\"2026-01-02\"]
local_only upsert remote [\"$U3\"] [\"$U3\",\"l\",null]"
check_exit 7 "uuid_v7_wins with integer keys: exit 7" smg-diff -p uuid_v7_wins local.db remote.db
check_grep "... saying the key is not a UUIDv7" 'UUIDv7' .err
sqlite3 u4.db "CREATE TABLE e(id TEXT PRIMARY KEY, v TEXT, updated_at TEXT);
 INSERT INTO e VALUES ('$U1','a',NULL),('f47ac10b-58cc-4372-a567-0e02b2c3d479','v4',NULL);"
check_exit 7 "uuid_v7_wins with a UUIDv4 key: exit 7" smg-diff -p uuid_v7_wins u4.db u2.db
check_grep "... naming the key" 'f47ac10b-58cc-4372-a567-0e02b2c3d479' .err

# ---- usage -----------------------------------------------------------------
check_exit 2 "unknown policy: exit 2" smg-diff -p first_wins local.db remote.db
check_exit 2 "unknown direction: exit 2" smg-diff -d sideways local.db remote.db
check_exit 2 "one input only: exit 2" smg-diff local.db
check_exit 2 "unknown option: exit 2" smg-diff --frobnicate local.db remote.db
