# hash.sh - smg-hash: the row stream of a SQLite database, as a user sees it:
# order, identifiers, exact typed values, the hash's invariants, selection
# options and errors.  Needs sqlite3, jq, python3.
. ./lib.sh

# rows TABLE FILE: "key hash" of each row record of TABLE, in stream order
rows() { jq -rc --arg t "$1" 'select(.kind=="row" and .table==$t) | "\(.key|tojson) \(.hash)"' "$2"; }
keys() { jq -rc --arg t "$1" 'select(.kind=="row" and .table==$t) | .key' "$2"; }
hash_of() {	# TABLE KEYJSON FILE
	jq -r --arg t "$1" --argjson k "$2" 'select(.kind=="row" and .table==$t and .key==$k) | .hash' "$3"
}
# the raw "values" text of the row of TABLE whose key (raw JSON) is KEY
raw_values() {	# TABLE KEY FILE
	grep -F "\"kind\":\"row\",\"table\":\"$1\",\"key\":$2," "$3" | sed 's/.*"values":\(\[.*\]\)}$/\1/'
}

# ---- composite keys, WITHOUT ROWID, awkward identifiers --------------------
sqlite3 a.db <<'EOF'
CREATE TABLE comp(a INTEGER, b TEXT, v TEXT, PRIMARY KEY(b, a));
INSERT INTO comp VALUES (2,'x','p'),(1,'y','q'),(1,'x','r'),(3,'B','s');
CREATE TABLE wr(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID;
INSERT INTO wr VALUES ('b',2),('a',1),('C',3);
CREATE TABLE "my table"("the key" INTEGER PRIMARY KEY, "say ""hi""" TEXT);
INSERT INTO "my table" VALUES (1,'one');
CREATE TABLE "order"("select" INTEGER PRIMARY KEY, "from" TEXT);
INSERT INTO "order" VALUES (7,'seven');
CREATE TABLE "ünï ""cødé"""("ключ" TEXT PRIMARY KEY, "値" INTEGER) WITHOUT ROWID;
INSERT INTO "ünï ""cødé""" VALUES ('я',1),('a',2);
CREATE TABLE nopk(x, y);
INSERT INTO nopk VALUES (1,2);
EOF
smg-hash a.db >a.out 2>a.err; rc=$?
check_eq "smg-hash a.db exits 0 with a table without a primary key in it" "$rc" 0
check "every line of the stream is one valid JSON object (identifiers with quotes)" \
	sh -c 'jq -e "type == \"object\"" a.out >/dev/null'
check_grep "the keyless table is skipped with a warning naming it" 'nopk' a.err
check_eq "no table record for the keyless table" \
	"$(jq -r 'select(.kind=="table") | .table' a.out | tr '\n' '|')" \
	'comp|my table|order|wr|ünï "cødé"|'
check_eq "pk of a composite key is listed in PRIMARY KEY order" \
	"$(jq -c 'select(.kind=="table" and .table=="comp") | .pk' a.out)" '["b","a"]'
check_eq "composite keys are written in PK order and sorted by (b, a)" \
	"$(keys comp a.out | tr '\n' ' ')" '["B",3] ["x",1] ["x",2] ["y",1] '
check_eq "composite-key values stay in column order" \
	"$(raw_values comp '["x",1]' a.out)" '[1,"x","r"]'
check_eq "WITHOUT ROWID table rows, BINARY order" \
	"$(keys wr a.out | tr '\n' ' ')" '["C"] ["a"] ["b"] '
check_eq "identifier with a space and double quotes: columns" \
	"$(jq -c 'select(.kind=="table" and .table=="my table") | .columns' a.out)" '["the key","say \"hi\""]'
check_eq "identifier with a space: row values" \
	"$(jq -c 'select(.kind=="row" and .table=="my table") | .values' a.out)" '[1,"one"]'
check_eq "keyword identifiers \"order\" / \"select\"" \
	"$(jq -c 'select(.kind=="row" and .table=="order") | [.key,.values]' a.out)" '[[7],[7,"seven"]]'
check_eq "unicode + quotes table, WITHOUT ROWID, unicode key column" \
	"$(jq -c 'select(.kind=="table" and .table=="ünï \"cødé\"") | .pk' a.out)" '["ключ"]'
check_eq "unicode text keys sort by bytes" \
	"$(keys 'ünï "cødé"' a.out | tr '\n' ' ')" '["a"] ["я"] '
check_eq "trailer counts the records before it" \
	"$(tail -n 1 a.out)" "{\"kind\":\"end\",\"records\":$(($(wc -l <a.out) - 1))}"
check_eq "every hash is 64 lowercase hex" \
	"$(jq -r 'select(.kind=="row") | .hash' a.out | grep -cv '^[0-9a-f]\{64\}$')" 0
check_eq "the table record carries the CREATE statement" \
	"$(jq -r 'select(.kind=="table" and .table=="wr") | .sql' a.out)" \
	'CREATE TABLE wr(k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID'

# ---- errors about tables and files ---------------------------------------
check_exit 2 "--table of a table without primary key: exit 2" smg-hash --table nopk a.db
check_grep "... and the error names it" 'nopk' .err
check_exit 3 "--table of a missing table: exit 3" smg-hash --table nosuch a.db
check_grep "... names the missing table" 'nosuch' .err
check_grep "... and lists the tables there" 'comp.*my table.*order' .err
check_exit 3 "a missing database file: exit 3" smg-hash no-such.db
check_grep "... names the file" 'no-such.db' .err
printf 'hello, I am not a database, just text that is long enough to look like a header\n' >text.db
check_exit 7 "a file that is not a SQLite database: exit 7" smg-hash text.db
check_grep "... names it" 'text.db' .err
: >empty.db
smg-hash empty.db >empty.out 2>/dev/null; rc=$?
check_eq "an empty file is an empty database: exit 0, only the trailer" \
	"$rc $(cat empty.out)" '0 {"kind":"end","records":0}'

# ---- selection: --table, --exclude-table, --exclude-columns, --keys-only ----
smg-hash -q --table wr --table order a.db >sel.out 2>/dev/null
check_eq "--table (repeated) selects exactly those tables, by name" \
	"$(jq -r 'select(.kind=="table") | .table' sel.out | tr '\n' ' ')" 'order wr '
check_eq "--table: only their rows" "$(grep -c '"kind":"row"' sel.out)" 4
smg-hash -q --exclude-table comp --exclude-table 'my table' a.db >ex.out 2>/dev/null
check_eq "--exclude-table drops those tables" \
	"$(jq -r 'select(.kind=="table") | .table' ex.out | tr '\n' '|')" 'order|wr|ünï "cødé"|'

sqlite3 c.db <<'EOF'
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, secret TEXT, note TEXT);
INSERT INTO items VALUES (1,'bolt','s1','n1'),(2,'nut','s2','n2');
CREATE TABLE other(id INTEGER PRIMARY KEY, secret TEXT, note TEXT);
INSERT INTO other VALUES (1,'s','n');
EOF
sqlite3 c2.db <<'EOF'
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, secret TEXT, note TEXT);
INSERT INTO items VALUES (1,'bolt','DIFFERENT','n1'),(2,'nut','ALSO','n2');
CREATE TABLE other(id INTEGER PRIMARY KEY, secret TEXT, note TEXT);
INSERT INTO other VALUES (1,'x','n');
EOF
smg-hash -q -X secret c.db >x1.out 2>/dev/null
smg-hash -q -X secret c2.db >x2.out 2>/dev/null
check_eq "--exclude-columns secret: columns no longer list it (every table)" \
	"$(jq -c 'select(.kind=="table") | .columns' x1.out | tr '\n' ' ')" '["id","name","note"] ["id","note"] '
check_eq "--exclude-columns: values omit it" "$(raw_values items '[1]' x1.out)" '[1,"bolt","n1"]'
check_eq "--exclude-columns: excluded column is not hashed (equal hashes across dbs)" \
	"$(rows items x1.out; rows other x1.out)" "$(rows items x2.out; rows other x2.out)"
smg-hash -q c.db >full1.out 2>/dev/null; smg-hash -q c2.db >full2.out 2>/dev/null
check_eq "control: without -X the differing secret changes every items hash" \
	"$( (rows items full1.out; rows items full2.out) | cut -d' ' -f2 | sort | uniq -d | wc -l)" 0
smg-hash -q -X items.secret c.db >x3.out 2>/dev/null
check_eq "--exclude-columns table.col excludes in that table only" \
	"$(jq -c 'select(.kind=="table") | .columns' x3.out | tr '\n' ' ')" '["id","name","note"] ["id","secret","note"] '
smg-hash -q -X 'se*,no*' c.db >x4.out 2>/dev/null
check_eq "--exclude-columns glob list (comma-separated)" \
	"$(jq -c 'select(.kind=="table") | .columns' x4.out | tr '\n' ' ')" '["id","name"] ["id"] '
smg-hash -q --keys-only c.db >k.out 2>/dev/null
check_eq "--keys-only: no row has values" \
	"$(jq -r 'select(.kind=="row") | has("values")' k.out | sort -u)" false
check_eq "--keys-only: same keys and hashes as the full stream" \
	"$(rows items k.out; rows other k.out)" "$(rows items full1.out; rows other full1.out)"

# ---- typed values: int64 extremes, exact reals, blobs --------------------
sqlite3 v.db <<'EOF'
CREATE TABLE v(id INTEGER PRIMARY KEY, x);
INSERT INTO v VALUES (1, -9223372036854775808), (2, 9223372036854775807),
  (3, 0.1), (4, 1e308), (5, 5e-324), (6, -0.0), (7, 1.0), (8, 0.30000000000000004),
  (9, X''), (10, zeroblob(0)), (11, ''), (12, NULL), (13, 0), (14, '0'),
  (15, 'ünïcode ✓'), (20, 'plain "quoted" ascii'), (16, 'line
break "quoted" \ back'), (17, X'00FF10'), (18, -1.5e-300), (19, 123456789.125);
CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB);
INSERT INTO big VALUES (1, randomblob(1048576));
CREATE TABLE ik(k INTEGER PRIMARY KEY, v TEXT);
INSERT INTO ik VALUES (9223372036854775807,'max'),(-9223372036854775808,'min'),(0,'zero');
EOF
smg-hash -q v.db >v.out 2>v.err
check_eq "smg-hash of typed values exits 0" "$?" 0
check_eq "int64 min is written exactly" "$(raw_values v '[1]' v.out)" '[1,-9223372036854775808]'
check_eq "int64 max is written exactly" "$(raw_values v '[2]' v.out)" '[2,9223372036854775807]'
check_eq "int64 extremes as keys, in numeric order" \
	"$(grep '"table":"ik"' v.out | grep '"kind":"row"' | sed 's/.*"key":\(\[[^]]*\]\).*/\1/' | tr '\n' ' ')" \
	'[-9223372036854775808] [0] [9223372036854775807] '
# every real token carries '.' or an exponent and reads back as the same double
cat >realcheck.py <<'EOF'
import json, math, struct, sys
want = {3: 0.1, 4: 1e308, 5: 5e-324, 6: -0.0, 7: 1.0, 8: 0.30000000000000004,
        18: -1.5e-300, 19: 123456789.125}
bad = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("kind") != "row" or r["table"] != "v" or r["key"][0] not in want:
        continue
    k = r["key"][0]
    raw = line.split('"values":[', 1)[1].split(",", 1)[1].rstrip("]}\n")
    v = r["values"][1]
    if not isinstance(v, float) or not ("." in raw or "e" in raw or "E" in raw):
        bad.append("%d: %s is not written as a real" % (k, raw))
    elif struct.pack("<d", v) != struct.pack("<d", want[k]):
        bad.append("%d: %s != %r" % (k, raw, want[k]))
print(" ".join(bad) if bad else "exact")
EOF
check_eq "reals round-trip exactly (0.1 1e308 5e-324 -0.0 1.0 0.30000000000000004 ...)" \
	"$(python3 realcheck.py v.out)" exact
check_eq "empty blob X'' is {\"blob\":\"\"}" "$(raw_values v '[9]' v.out)" '[9,{"blob":""}]'
check_eq "zeroblob(0) is an empty blob too" "$(raw_values v '[10]' v.out)" '[10,{"blob":""}]'
check_eq "small blob base64" "$(raw_values v '[17]' v.out)" '[17,{"blob":"AP8Q"}]'
check_eq "'' NULL 0 '0' are written as four different values" \
	"$(for k in 11 12 13 14; do raw_values v "[$k]" v.out; done | tr '\n' ' ')" \
	'[11,""] [12,null] [13,0] [14,"0"] '
check "every line of the typed-value stream is valid JSON" sh -c 'jq -e "type == \"object\"" v.out >/dev/null'
check_eq "plain ASCII text with double quotes is escaped" "$(raw_values v '[20]' v.out)" '[20,"plain \"quoted\" ascii"]'
check_eq "unicode, quotes and escapes in text survive JSON" \
	"$(jq -r 'select(.kind=="row" and .table=="v" and (.key[0]==15 or .key[0]==16 or .key[0]==20)) | .values[1]' v.out)" \
	"$(sqlite3 v.db "SELECT x FROM v WHERE id IN (15,16,20) ORDER BY id")"
sqlite3 v.db "SELECT writefile('big.want', b) FROM big" >/dev/null
jq -r 'select(.kind=="row" and .table=="big") | .values[1].blob' v.out | base64 -d >big.got
check_eq "1 MB blob: base64 decodes to the exact bytes" "$(wc -c <big.want) $(sum_file big.got)" "1048576 $(sum_file big.want)"

# NULL, '', 0 and '0' in otherwise identical rows: four different hashes
sqlite3 n.db <<'EOF'
CREATE TABLE n1(id INTEGER PRIMARY KEY, v); INSERT INTO n1 VALUES (1, NULL);
CREATE TABLE n2(id INTEGER PRIMARY KEY, v); INSERT INTO n2 VALUES (1, '');
CREATE TABLE n3(id INTEGER PRIMARY KEY, v); INSERT INTO n3 VALUES (1, 0);
CREATE TABLE n4(id INTEGER PRIMARY KEY, v); INSERT INTO n4 VALUES (1, '0');
CREATE TABLE n5(id INTEGER PRIMARY KEY, v); INSERT INTO n5 VALUES (1, NULL);
CREATE TABLE n6(id INTEGER PRIMARY KEY, v); INSERT INTO n6 VALUES (1, X'');
CREATE TABLE n7(id INTEGER PRIMARY KEY, v); INSERT INTO n7 VALUES (1, 0.0);
CREATE TABLE n8(id INTEGER PRIMARY KEY, v); INSERT INTO n8 VALUES (1, X'30');
EOF
smg-hash -q n.db >n.out
check_eq "NULL / '' / 0 / '0' / X'' / X'30': six different hashes" \
	"$(for t in n1 n2 n3 n4 n6 n8; do hash_of $t '[1]' n.out; done | sort -u | wc -l)" 6
check_eq "control: the same NULL row in another table hashes the same" \
	"$(hash_of n1 '[1]' n.out)" "$(hash_of n5 '[1]' n.out)"
check_eq "an integral REAL 0.0 and INTEGER 0 hash the same" \
	"$(hash_of n3 '[1]' n.out)" "$(hash_of n7 '[1]' n.out)"

# ---- order: BINARY, mixed case, mixed types, NOCASE columns ---------------
sqlite3 o.db <<'EOF'
CREATE TABLE txt(k TEXT PRIMARY KEY, n INT);
INSERT INTO txt VALUES ('b',1),('B',2),('a',3),('A',4),('_',5),('é',6),('Z',7),('aa',8),('',9);
CREATE TABLE mixed(k PRIMARY KEY, n INT);
INSERT INTO mixed VALUES (X'00',1),('a',2),(2,3),(1.5,4),('B',5),(-3,6),(X'',7),(10,8),('10',9);
CREATE TABLE nc(k TEXT COLLATE NOCASE PRIMARY KEY, n INT);
INSERT INTO nc VALUES ('b',1),('A',2),('c',3),('D',4);
CREATE TABLE desc_pk(k INTEGER, PRIMARY KEY(k DESC));
INSERT INTO desc_pk VALUES (3),(1),(2);
EOF
smg-hash -q o.db >o.out
check_eq "text keys with mixed case come in BINARY order" \
	"$(keys txt o.out | tr -d '"[]' | tr '\n' ' ')" \
	"$(sqlite3 o.db "SELECT k FROM txt ORDER BY k COLLATE BINARY" | tr '\n' ' ')"
check_eq "... which is: '' A B Z _ a aa b é" "$(keys txt o.out | tr '\n' ' ')" \
	'[""] ["A"] ["B"] ["Z"] ["_"] ["a"] ["aa"] ["b"] ["é"] '
check_eq "mixed-type keys: numbers by value, then text, then blobs" \
	"$(grep '"table":"mixed"' o.out | grep '"kind":"row"' | sed 's/.*"key":\(\[[^]]*\]\).*/\1/' | tr '\n' ' ')" \
	'[-3] [1.5] [2] [10] ["10"] ["B"] ["a"] [{"blob":""}] [{"blob":"AA=="}] '
check_eq "a NOCASE key column still streams in BINARY order" \
	"$(keys nc o.out | tr '\n' ' ')" '["A"] ["D"] ["b"] ["c"] '
check_eq "a DESC primary key still streams ascending" \
	"$(keys desc_pk o.out | tr '\n' ' ')" '[1] [2] [3] '

# numbers near 2^53 and 2^63, INTEGER and REAL mixed: SQLite's exact order
sqlite3 big.db <<'EOF'
CREATE TABLE t(k PRIMARY KEY, n INT);
INSERT INTO t VALUES (9223372036854775807,1),(9223372036854775806,2),(9223372036854775808.0,3),
 (9223372036854774784.0,4),(9007199254740993,5),(9007199254740992.0,6),(-9223372036854775808,7),
 (-9223372036854777856.0,8),(-9223372036854775807,9),(9007199254740991,10);
EOF
smg-hash -q big.db >big.out 2>big.err
check_eq "keys near 2^53 and 2^63, INTEGER and REAL mixed, stream in SQLite's order" \
	"$(jq -r 'select(.kind=="row") | .values[1]' big.out | tr '\n' ' ')" \
	"$(sqlite3 big.db 'SELECT n FROM t ORDER BY k' | tr '\n' ' ')"
check_eq "... and smg-diff accepts that order" \
	"$(smg-diff -q -r json big.out big.db | jq -c '[.total.identical, .total.content_differs]')" '[10,0]'

# ---- no collisions by concatenation or position -----------------------------
sqlite3 cc.db <<'EOF'
CREATE TABLE c1(id INTEGER PRIMARY KEY, x, y); INSERT INTO c1 VALUES (1,'ab','c');
CREATE TABLE c2(id INTEGER PRIMARY KEY, x, y); INSERT INTO c2 VALUES (1,'a','bc');
CREATE TABLE c3(id INTEGER PRIMARY KEY, x, y); INSERT INTO c3 VALUES (1,'c','ab');
CREATE TABLE c4(id INTEGER PRIMARY KEY, x, y); INSERT INTO c4 VALUES (1,'abc','');
CREATE TABLE c5(id INTEGER PRIMARY KEY, x, y); INSERT INTO c5 VALUES (1,'abc',NULL);
CREATE TABLE c6(id INTEGER PRIMARY KEY, x, y); INSERT INTO c6 VALUES (1,X'6162',X'63');
CREATE TABLE c7(id INTEGER PRIMARY KEY, x, y); INSERT INTO c7 VALUES (1,1,2);
CREATE TABLE c8(id INTEGER PRIMARY KEY, x, y); INSERT INTO c8 VALUES (1,2,1);
CREATE TABLE c9(id INTEGER PRIMARY KEY, x, y); INSERT INTO c9 VALUES (1,'1','2');
EOF
smg-hash -q cc.db >cc.out
check_eq "values split differently across columns, swapped or retyped: 9 different hashes" \
	"$(jq -r 'select(.kind=="row") | .hash' cc.out | sort -u | wc -l)" 9

# ---- the same content, built differently, hashes alike --------------------
sqlite3 p.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);
ALTER TABLE t ADD COLUMN qty INTEGER;
ALTER TABLE t ADD COLUMN price REAL;
INSERT INTO t VALUES (1,'a',1,1.5),(2,'b',2,2.0),(3,'c',NULL,NULL),(4,'d',4,0.1);
CREATE TABLE u(a TEXT, b INTEGER, c BLOB, PRIMARY KEY(a,b));
INSERT INTO u VALUES ('x',1,X'01'),('x',2,X'02'),('y',1,NULL);
EOF
sqlite3 q.db <<'EOF'
CREATE TABLE u(c BLOB, b INTEGER, a TEXT, PRIMARY KEY(a,b));
INSERT INTO u VALUES (NULL,1,'y'),(X'02',2,'x'),(X'01',1,'x');
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT);
ALTER TABLE t ADD COLUMN price REAL;
ALTER TABLE t ADD COLUMN qty INTEGER;
INSERT INTO t(id,name,price,qty) VALUES (4,'d',0.1,4),(3,'c',NULL,NULL),(2,'b',2,2),(1,'a',1.5,1);
EOF
smg-hash -q p.db >p.out; smg-hash -q q.db >q.out
check_eq "control: the two databases list their columns in different orders" \
	"$(jq -c 'select(.kind=="table" and .table=="t") | .columns' p.out q.out | tr '\n' ' ')" \
	'["id","name","qty","price"] ["id","name","price","qty"] '
check_eq "same content, different insertion and ALTER TABLE order: same keys and hashes" \
	"$(rows t p.out; rows u p.out)" "$(rows t q.out; rows u q.out)"
check_eq "... and the same number of rows (7)" "$(rows t p.out | wc -l)$(rows u p.out | wc -l)" "43"

sqlite3 r1.db "CREATE TABLE m(id INTEGER PRIMARY KEY, v); INSERT INTO m VALUES (1, 1), (2, -7), (3, 2.5);"
sqlite3 r2.db "CREATE TABLE m(id INTEGER PRIMARY KEY, v REAL); INSERT INTO m VALUES (1, 1.0), (2, -7.0), (3, 2.5);"
smg-hash -q r1.db >r1.out; smg-hash -q r2.db >r2.out
check_eq "control: r2 stores REALs (1.0 written as 1.0)" "$(raw_values m '[1]' r2.out)" '[1,1.0]'
check_eq "an integral REAL 1.0 and INTEGER 1 hash the same" "$(rows m r1.out)" "$(rows m r2.out)"

# ---- the timestamp column ------------------------------------------------
sqlite3 ts1.db "CREATE TABLE e(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT, mtime INT); INSERT INTO e VALUES (1,'x','2026-01-01T00:00:00Z',1);"
sqlite3 ts2.db "CREATE TABLE e(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT, mtime INT); INSERT INTO e VALUES (1,'x','2027-05-05T00:00:00Z',1);"
smg-hash -q ts1.db >ts1.out; smg-hash -q ts2.db >ts2.out
check_eq "the table record names updated_at as the timestamp" \
	"$(jq -r 'select(.kind=="table") | .timestamp' ts1.out)" updated_at
check_eq "rows carry ts" "$(jq -r 'select(.kind=="row") | .ts' ts2.out)" 2027-05-05T00:00:00Z
check_eq "updated_at is not hashed" "$(rows e ts1.out)" "$(rows e ts2.out)"
smg-hash -q --no-timestamp ts1.db >ts1n.out; smg-hash -q --no-timestamp ts2.db >ts2n.out
check_eq "--no-timestamp: timestamp null" "$(jq -r 'select(.kind=="table") | .timestamp' ts1n.out)" null
if [ "$(rows e ts1n.out)" != "$(rows e ts2n.out)" ]; then ok "--no-timestamp: updated_at is hashed"
else fail "--no-timestamp: updated_at is hashed (hashes are equal)"; fi
smg-hash -q --timestamp-column mtime ts1.db >ts1m.out; smg-hash -q --timestamp-column mtime ts2.db >ts2m.out
check_eq "--timestamp-column mtime: named in the table record" \
	"$(jq -r 'select(.kind=="table") | .timestamp' ts1m.out)" mtime
if [ "$(rows e ts1m.out)" != "$(rows e ts2m.out)" ]; then ok "--timestamp-column mtime: updated_at is hashed again"
else fail "--timestamp-column mtime: updated_at is hashed again (hashes are equal)"; fi

# ---- usage -----------------------------------------------------------------
check_exit 2 "no database argument: exit 2" smg-hash
check_exit 2 "unknown option: exit 2" smg-hash --frobnicate a.db
check_exit 0 "--help exits 0" smg-hash --help
check_grep "--help prints usage on stdout" 'usage: smg-hash' .out

# ---- text that is not valid UTF-8 ------------------------------------------
sqlite3 u8.db "CREATE TABLE b(id INTEGER PRIMARY KEY, s TEXT); INSERT INTO b VALUES (1, CAST(X'FF61' AS TEXT)), (2, 'a');"
smg-hash -q u8.db >u8.out
check_eq "invalid UTF-8 text is {\"text64\":...} with the exact bytes" "$(raw_values b '[1]' u8.out)" '[1,{"text64":"/2E="}]'
check_eq "... and hashes differently from the blob of the same bytes" \
	"$(sqlite3 u8.db "UPDATE b SET s = X'FF61' WHERE id = 1"; smg-hash -q u8.db | jq -r 'select(.kind=="row" and .key==[1]) | .hash' | grep -c "$(jq -r 'select(.kind=="row" and .key==[1]) | .hash' u8.out)")" 0

# ---- rows of large blobs are not held many at a time -----------------------------
# Rows are read in batches to be hashed two at a time; a batch is capped in
# bytes as well as rows, so memory follows the largest row, not the table.
sqlite3 blobs48.db "CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 48)
	INSERT INTO b SELECT i, randomblob(2097152) FROM n;"
sqlite3 blob1.db "CREATE TABLE b(id INTEGER PRIMARY KEY, v BLOB); INSERT INTO b VALUES (1, randomblob(2097152));"
rss() { sed -n 's/.*Maximum resident set size (kbytes): *//p' "$1"; }
/usr/bin/time -v -o one.time smg-hash -q blob1.db >/dev/null 2>&1
check "48 rows of 2 MiB blobs" /usr/bin/time -v -o big.time smg-hash -q blobs48.db
check_eq "... every row written" "$(grep -c '"kind":"row"' .out)" 48
limit=$(($(rss one.time) + 16384))
check "... peak RSS $(rss big.time) KiB: that of one such row ($(rss one.time) KiB) + 16 MiB at most" \
	test "$(rss big.time)" -lt "$limit"
check "smg-diff of two such databases" /usr/bin/time -v -o bigd.time smg-diff -q blobs48.db blob1.db
limit=$(($(rss one.time) + 32768))
check "... peak RSS $(rss bigd.time) KiB, under $limit KiB" test "$(rss bigd.time)" -lt "$limit"
