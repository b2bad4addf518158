# tests/t/hrana.sh - the turso profile against a Hrana over HTTP server
# written from the spec (tests/hrana, scripts/hrana-server): every tricky
# value read and written both ways with Hrana's typed values (sqldiff and
# typed dumps as the oracles), /v3 probed and /v2 where only it is offered,
# compare-and-set with a write between diff and apply, a wrong token, and
# servers without unhex() and atan2() (probed: a tagged-SQL profile does
# without them).  Faults are tests/t/hrana-faults.sh.
# Needs python3, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/hrana-lib.sh"
hrana_start "$T/h3"

fetch() { smg-fetch -q -p turso "$@" "$HRANA_URL"; }
apply() { smg-apply -q -p turso "$@" "$HRANA_URL"; }
rows=$every_value_rows
schema="CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
CREATE TABLE c2(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;"
# every_value_rows of tests/d1-lib.sh, and long values (no 2,000,000-byte
# limit here: they go whole), keys of every kind
seed="$schema
INSERT INTO v VALUES $rows;
INSERT INTO v VALUES (12, CAST(x'00ff80' || zeroblob(700000) AS BLOB),
	CAST(x'ff' AS TEXT) || printf('%.*c', 600000, 'y'), -1e-300, CAST(printf('%.*c', 1200000, 'z') AS BLOB),
	-9223372036854775807, 'tab	and
newline'), (13, char(0), 'x' || char(0), 2.5e-310, CAST('t' AS BLOB), 9007199254740993, 'ü');
INSERT INTO c2 VALUES ('x', 1, 1), ('x', 2, 2.5), ('y', 1, 'three'), ('', 0, NULL), ('x', -5, x'00'),
	(CAST(x'ff' AS TEXT), 3, -0.0), ('a' || char(0), 4, 9e999);"
sqlite3 local.db "$seed"
hsql "$seed" || exit 1

# --- reads: the stream smg-hash writes of the same rows ----------------------
hreset
check "smg-fetch reads the Hrana server" sh -c 'smg-fetch -q -p turso -t v -t c2 "$0" >remote.ndjson' "$HRANA_URL"
smg-hash -t v -t c2 local.db >local.ndjson
if cmp -s local.ndjson remote.ndjson; then ok "... byte for byte smg-hash's stream (every value type, long values)"
else fail "smg-fetch and smg-hash streams differ"; diff local.ndjson remote.ndjson | cut -c1-200 | head -10 | sed 's/^/    /'; fi
check_eq "... over /v3 (GET /v3 probed once, no GET /v2)" \
	"$(hstat version_gets) $(hstat v2) $(test "$(hstat v3)" -ge 1 && echo v3)" "1 0 v3"
check_eq "... schema and first pages: 2 pipelines" "$(hstat pipelines)" 2
# paged 2 rows at a time by keys that are text not UTF-8, text with NUL, blobs
printf '[target.profile_options]\npage_rows = 2\n' >p2.toml
smg-fetch -q -c p2.toml -p turso -t c2 "$HRANA_URL" >paged.ndjson
smg-hash -t c2 local.db >c2.ndjson
check "paging 2 rows at a time past keys of every kind gives smg-hash's stream" cmp c2.ndjson paged.ndjson

# --- push into empty tables, pull back into an empty file ----------------------
hsql "DELETE FROM v; DELETE FROM c2;" || exit 1
fetch -t v -t c2 >empty.ndjson
smg-hash -t v -t c2 local.db | smg-diff - empty.ndjson >push.ndjson
hreset
check "push every value to the Hrana server" sh -c 'smg-apply -q -r json -p turso "$0" <push.ndjson >push.json' "$HRANA_URL"
check_eq "push report: 20 upserted, complete" "$(jq -c '[.upserted, .complete]' push.json)" "[20,true]"
check_same_table "after the push sqldiff finds nothing in v (the server's own file)" local.db "$HRANA_SQLITE" v
check_same_table "... nor in c2" local.db "$HRANA_SQLITE" c2
check_eq "... typed dumps agree (v)" "$(typed_dump "$HRANA_SQLITE" v | md5sum)" "$(typed_dump local.db v | md5sum)"
check_eq "... typed dumps agree (c2)" "$(typed_dump "$HRANA_SQLITE" c2 | md5sum)" "$(typed_dump local.db c2 | md5sum)"
check_eq "... -0.0 kept its sign on the server" \
	"$(sqlite3 "$HRANA_SQLITE" "SELECT atan2(v, -1.0) < 0 FROM c2 WHERE b = 3")" 1
check_eq "... long blobs and text that is not UTF-8 went as blob arguments (base64)" \
	"$(hstat blob_args)" 6
sqlite3 back.db "$schema"
smg-fetch -q -p turso -t v -t c2 "$HRANA_URL" >pulled.ndjson
smg-hash -t v -t c2 back.db | smg-diff -d pull - pulled.ndjson >pull.ndjson
check "pull back into an empty file" smg-apply -q back.db -i pull.ndjson
check_same_table "... sqldiff: the file pulled back is the file pushed (v)" local.db back.db v
check_same_table "... (c2)" local.db back.db c2
check_eq "... typed dumps agree" "$(typed_dump back.db v | md5sum)" "$(typed_dump local.db v | md5sum)"
check_eq "... -0.0 came back with its sign" "$(sqlite3 back.db "SELECT atan2(v, -1.0) < 0 FROM c2 WHERE b = 3")" 1

# --- compare-and-set: a write between diff and apply ---------------------------
cas="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, n REAL, updated_at TEXT)"
sqlite3 cas.db "$cas; INSERT INTO items VALUES (1,'one new',1.5,'2026-02-01'),(3,'three',3.0,'2026-01-01'),
 (4,'four',4.0,'2026-01-01'),(6,'six new',6.5,'2026-02-01');"
hsql "$cas; INSERT INTO items VALUES (1,'one old',1.0,'2025-01-01'),(2,'two',2.0,'2025-01-01'),
 (6,'six old',6.0,'2025-01-01')" || exit 1
fetch -t items >remote-items.ndjson
smg-hash -q -t items cas.db | smg-diff -q -d push --delete - remote-items.ndjson >changes
hsql "UPDATE items SET name='app wrote 1' WHERE id=1; UPDATE items SET name='app wrote 2' WHERE id=2;
 INSERT INTO items VALUES (3,'app inserted 3',33.0,'2026-03-01'); DELETE FROM items WHERE id=6" || exit 1
smg-apply -q -r json -p turso "$HRANA_URL" <changes >cas.json 2>cas.err; rc=$?
check_eq "apply after concurrent writes: exit 6" "$rc" 6
check_eq "... the app's writes stay, row 4 landed" \
	"$(sqlite3 "$HRANA_SQLITE" "SELECT id, name FROM items ORDER BY id")" \
"1|app wrote 1
2|app wrote 2
3|app inserted 3
4|four"
check_eq "... 4 conflicts counted from the RETURNING rows, 1 row written" \
	"$(jq -c '[.conflicts, .upserted, .deleted, .complete]' cas.json)" '[4,1,0,false]'

# --- a wrong token ------------------------------------------------------------
check_exit 5 "a wrong token: exit 5" env SMUGGLR_TARGET_TOKEN=wrong smg-fetch -q -p turso -t v "$HRANA_URL"
check_grep "... saying so" "token was rejected" "$T/.err"

# --- a server that offers only /v2 -------------------------------------------
hrana_start "$T/h2" --versions v2
hsql "$schema" || exit 1
fetch -t v -t c2 >empty2.ndjson
smg-hash -t v -t c2 local.db | smg-diff - empty2.ndjson >push2.ndjson
hreset
check "push to a /v2-only server" apply -i push2.ndjson
check_same_table "... sqldiff finds nothing" local.db "$HRANA_SQLITE" v
check_eq "... all over /v2 after GET /v3 and /v2" "$(hstat version_gets) $(hstat v3) $(test "$(hstat v2)" -ge 2 && echo v2)" "2 0 v2"
fetch -t v -t c2 >remote2.ndjson
check "... and read back as smg-hash writes it" cmp local.ndjson remote2.ndjson

# --- a server that offers neither ---------------------------------------------
hrana_start "$T/h0" --versions ""
check_exit 3 "a server that offers neither /v3 nor /v2: exit 3" smg-fetch -q -p turso -t v "$HRANA_URL"
check_grep "... naming what it asked" "offers none of the turso profile's protocol versions (GET .*/v3: HTTP 404, GET .*/v2: HTTP 404)" "$T/.err"

# --- a server without unhex() or atan2() ---------------------------------------
hrana_start "$T/hn" --no-unhex --no-atan2
hsql "$schema" || exit 1
fetch -t v -t c2 >empty3.ndjson
smg-hash -t v -t c2 local.db | smg-diff - empty3.ndjson >push3.ndjson
check "the turso profile needs neither: push" apply -i push3.ndjson
check_same_table "... sqldiff finds nothing" local.db "$HRANA_SQLITE" v
# the same server through tagged SQL values (hex), as other profiles read
printf '[target.profile_options]\nvalues = ""\nparam_blob = ""\n' >tagged.toml
hsql "DELETE FROM v; DELETE FROM c2" || exit 1
tfetch() { smg-fetch -q -c tagged.toml -p turso "$@" "$HRANA_URL"; }
tfetch -t v >empty4.ndjson
sqlite3 small.db "CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
INSERT INTO v VALUES (1, randomblob(2000), CAST(x'ff00fe' AS TEXT) || hex(randomblob(400)), 1.5, zeroblob(300), 7, NULL)"
smg-hash -t v small.db | smg-diff - empty4.ndjson >push4.ndjson
hreset
check "tagged values without unhex(): blobs go as X'..' literals" \
	smg-apply -q -v -c tagged.toml -p turso "$HRANA_URL" -i push4.ndjson
check_grep "... the probe found unhex() missing" "no such function: unhex" "$T/.err"
check_same_table "... sqldiff finds nothing" small.db "$HRANA_SQLITE" v
check "... and it reads back (no atan2())" sh -c 'smg-fetch -q -c tagged.toml -p turso -t v "$0" >back4.ndjson' "$HRANA_URL"
smg-hash -t v small.db >small.ndjson
check "... as smg-hash writes it" cmp small.ndjson back4.ndjson
