# tests/t/d1.sh - smg-fetch and smg-apply against Cloudflare's own runtime
# (scripts/d1-server): every value type read and written losslessly, push
# and pull round trips checked with sqldiff on the D1 database file, the
# config (upstream keys), profiles from the config, command targets,
# --dry-run and a truncated stream.  Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"

fetch() { smg-fetch -q --endpoint "$D1_URL" "$@" "$TGT"; }
apply() { smg-apply --endpoint "$D1_URL" "$@" "$TGT"; }
# only_identical STREAM: every summary of a diff counts only identical rows
only_identical() {
	jq -e -s '[.[] | select(.kind == "summary") | .counts
		| (.local_only + .remote_only + .local_newer + .remote_newer + .content_differs)]
		| length > 0 and all(. == 0)' "$1" >/dev/null
}

schema="CREATE TABLE v(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
CREATE TABLE w(id INTEGER PRIMARY KEY, c, t TEXT, r REAL, b BLOB, i INTEGER, updated_at TEXT);
CREATE TABLE c2(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
CREATE TABLE \"odd \"\"name\"\" é\"(\"key col\" TEXT PRIMARY KEY, \"select\" INTEGER);"
# every kind of value: int64 extremes, 2^53+1, reals 0.1/1.0/-0.0/1e308 and
# subnormal/huge/Inf, text with unicode/NUL/empty/invalid UTF-8/long, blobs
# empty/binary/long, NULL, '0' vs 0 vs '' vs NULL
rows=$every_value_rows
seed="$schema
INSERT INTO v VALUES $rows;
INSERT INTO w VALUES $rows;
INSERT INTO c2 VALUES ('x', 1, 1), ('x', 2, 2.5), ('y', 1, 'three'), ('', 0, NULL), ('x', -5, x'00');
INSERT INTO \"odd \"\"name\"\" é\" VALUES ('a b', 1), ('ü', 2);"
sqlite3 local.db "$seed"
d1sql "$schema
INSERT INTO v VALUES $rows;
INSERT INTO c2 VALUES ('x', 1, 1), ('x', 2, 2.5), ('y', 1, 'three'), ('', 0, NULL), ('x', -5, x'00');
INSERT INTO \"odd \"\"name\"\" é\" VALUES ('a b', 1), ('ü', 2);"

# --- fetch: the same stream as smg-hash --------------------------------------
reset
check "smg-fetch reads D1" sh -c 'smg-fetch -q --endpoint "$0" -t v -t c2 -t "odd \"name\" é" "$1" >remote.ndjson' "$D1_URL" "$TGT"
smg-hash -t v -t c2 -t 'odd "name" é' local.db >local.ndjson
if cmp -s local.ndjson remote.ndjson; then ok "smg-fetch of D1 writes byte for byte what smg-hash writes of the same rows (every value type)"
else fail "smg-fetch and smg-hash streams differ"; diff local.ndjson remote.ndjson | head -10 | sed 's/^/    /'; fi
smg-diff local.ndjson remote.ndjson >diff.ndjson
if only_identical diff.ndjson; then ok "smg-diff local vs D1: only identical"
else fail "smg-diff found differences"; grep summary diff.ndjson | sed 's/^/    /'; fi
check_eq "fetch of 3 small tables takes 1 request (schema) + 1 (first pages together)" "$(stat requests)" 2
check_eq "reads bind no parameter beyond the limit" "$(stat max_params)" 0
fetch -k -t v >keys.ndjson
check_eq "--keys-only writes no values" "$(grep -c '"values"' keys.ndjson)" 0
check_eq "--keys-only keeps the hashes" "$(jq -r 'select(.kind=="row") | .hash' keys.ndjson | md5sum)" \
	"$(jq -r 'select(.kind=="row" and .table=="v") | .hash' local.ndjson | md5sum)"
check "smg-fetch of a SQLite file is smg-hash's stream" sh -c 'smg-fetch -q -t v -t c2 -t "odd \"name\" é" local.db | cmp - local.ndjson'
check_exit 3 "a missing table is exit 3" fetch -t nosuch
check_grep "... naming the tables there" 'no table "nosuch" (tables: .*c2' "$T/.err"

# paging by key where keys mix types (an untyped key column) or compare with
# NOCASE: 2 rows a page, and still SQLite's BINARY order, no row lost
mix="CREATE TABLE mixk(k PRIMARY KEY, v) WITHOUT ROWID;
INSERT INTO mixk VALUES (1, 0), (2.5, 0), ('10', 0), ('a', 0), (x'00', 0), (-5, 0), ('2', 0), ('B', 0),
	(x'0001', 0), (9223372036854775807, 0), (1e300, 0), (printf('%0300d', 7), 0);
CREATE TABLE nc(k TEXT PRIMARY KEY COLLATE NOCASE, v);
INSERT INTO nc VALUES ('a', 1), ('B', 2), ('c', 3), ('D', 4), ('e', 5);
CREATE TABLE nc2(a TEXT COLLATE NOCASE, b INTEGER, v, PRIMARY KEY(a, b));
INSERT INTO nc2 VALUES ('a', 1, 1), ('B', 1, 2), ('c', 2, 3), ('A', 2, 4), ('b', 3, 5), ('_', 1, 6);"
sqlite3 mix.db "$mix"
d1sql "$mix"
printf '[target.profile_options]\npage_rows = 2\n' >p2.toml
check "paging 2 rows at a time over mixed-type and NOCASE keys" \
	sh -c 'smg-fetch -q -c p2.toml --endpoint "$0" -t mixk -t nc -t nc2 "$1" >mix-remote.ndjson' "$D1_URL" "$TGT"
smg-hash -t mixk -t nc -t nc2 mix.db >mix-local.ndjson
check "... gives the stream smg-hash gives" cmp mix-local.ndjson mix-remote.ndjson

# --- push: smg-hash local | smg-diff - remote | smg-apply d1 ------------------
fetch -t w >remote-w.ndjson
smg-hash -t w local.db | smg-diff - remote-w.ndjson >push.ndjson
reset
check "push to D1" sh -c 'smg-apply -r json --endpoint "$0" "$1" <push.ndjson >push.json' "$D1_URL" "$TGT"
check_eq "push report: 11 upserted, complete" "$(jq -c '[.upserted, .deleted, .complete, .batches, .landed]' push.json)" "[11,0,true,1,1]"
check_eq "push takes 2 requests: schema, one batch" "$(stat requests)" 2
check_same_table "after a push sqldiff finds nothing (D1's own file)" local.db "$D1_SQLITE" w
check_eq "typeof() of every value is kept" "$(typed_dump "$D1_SQLITE" w | md5sum)" "$(typed_dump local.db w | md5sum)"
fetch -t w >remote-w.ndjson
smg-hash -t w local.db | smg-diff - remote-w.ndjson >diff2.ndjson
if only_identical diff2.ndjson; then ok "after the push the diff is only identical"; else fail "diff after push"; fi

# updates and deletes, with --delete
sqlite3 local.db "UPDATE w SET t = 'changed', r = 2.5 WHERE id = 9; DELETE FROM w WHERE id IN (2, 5);
	INSERT INTO w VALUES (12, 12, 'new', 12.5, x'12', 12, NULL)"
smg-hash -t w local.db | smg-diff --delete - remote-w.ndjson >push2.ndjson
check "push updates and deletes" sh -c 'smg-apply -r json --endpoint "$0" "$1" <push2.ndjson >push2.json' "$D1_URL" "$TGT"
check_eq "... 2 upserted, 2 deleted" "$(jq -c '[.upserted, .deleted]' push2.json)" "[2,2]"
check_same_table "after updates and deletes sqldiff finds nothing" local.db "$D1_SQLITE" w

# D1 enforces foreign keys, and checks them at the end of each statement
# unless deferred to the commit.  A table that refers to itself may hold a
# row before the row it refers to: with one row per statement, only the
# d1 profile's batch_prefix (PRAGMA defer_foreign_keys) lets it land.
sqlite3 fk.db "CREATE TABLE node(id INTEGER PRIMARY KEY, next INTEGER REFERENCES node(id));
	INSERT INTO node VALUES (1, 2), (2, 3), (3, NULL)"
d1sql "$(sqlite3 fk.db .schema)"
fetch -t node >fk-remote.ndjson
smg-hash -t node fk.db | smg-diff - fk-remote.ndjson >fk.ndjson
printf '[sync]\nbatch_size = 1\n[target.profile_options]\nbatch_prefix = ""\n' >nodefer.toml
printf '[sync]\nbatch_size = 1\n' >defer.toml
check_exit 7 "without deferring them, the foreign keys refuse the batch (exit 7)" \
	sh -c 'smg-apply -c nodefer.toml --endpoint "$0" "$1" <fk.ndjson' "$D1_URL" "$TGT"
check_grep "... saying why" "FOREIGN KEY constraint failed" "$T/.err"
d1sql "SELECT count(*) AS n FROM node" && check_eq "... and the batch is atomic: not even row 3 landed" \
	"$(jq -r '.result[0].results[0].n' "$T/d1sql.out")" 0
check "deferred to the commit, a row before the row it refers to lands" \
	sh -c 'smg-apply -c defer.toml -r none --endpoint "$0" "$1" <fk.ndjson' "$D1_URL" "$TGT"
check_same_table "... sqldiff agrees (node)" fk.db "$D1_SQLITE" node
d1sql "PRAGMA foreign_key_check" && check_eq "... and D1 finds no dangling reference" "$(jq -c '.result[0].results' "$T/d1sql.out")" "[]"

# Across batches: a push of any size takes many requests, each its own
# transaction, so deferring is not enough.  Here the grandchild table sorts
# first and the parent last, and 5 rows per statement and 4 statements per
# request make the push 21 requests long: parents must land first, and on
# a push --delete, children must go first.
fam="CREATE TABLE c_parent(id INTEGER PRIMARY KEY, name TEXT);
	CREATE TABLE b_child(id INTEGER PRIMARY KEY, par_id INTEGER NOT NULL REFERENCES c_parent(id));
	CREATE TABLE a_grand(id INTEGER PRIMARY KEY, chi_id INTEGER NOT NULL REFERENCES b_child(id));"
sqlite3 fam.db "$fam
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 240)
	INSERT INTO c_parent SELECT i, 'p' || i FROM n WHERE i <= 60;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
	INSERT INTO b_child SELECT i, i % 60 + 1 FROM n;
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 240)
	INSERT INTO a_grand SELECT i, i % 120 + 1 FROM n;"
d1sql "$fam"
printf '[sync]\nbatch_size = 5\n[target.profile_options]\nmax_statements = 4\n' >small.toml
fam_push() {	# WHAT [smg-diff options]: push fam.db's three tables to D1
	fetch -t a_grand -t b_child -t c_parent >fam-remote.ndjson
	smg-hash -q -t a_grand -t b_child -t c_parent fam.db | smg-diff -q "$@" - fam-remote.ndjson >fam.ndjson
	check "$what" sh -c 'smg-apply -c small.toml -r json --endpoint "$0" "$1" <fam.ndjson >fam.json' \
		"$D1_URL" "$TGT"
	for t in a_grand b_child c_parent; do
		check_same_table "... sqldiff agrees ($t)" fam.db "$D1_SQLITE" $t
	done
	d1sql "PRAGMA foreign_key_check" &&
		check_eq "... no dangling reference" "$(jq -c '.result[0].results' "$T/d1sql.out")" "[]"
}
what="a grandchild, child and parent table, in many batches, land whole" fam_push
check "... in more than one batch" test "$(jq .batches fam.json)" -gt 1
sqlite3 fam.db "DELETE FROM a_grand; DELETE FROM b_child WHERE id > 20; DELETE FROM c_parent WHERE id > 30"
what="push --delete of most of them, in many batches" fam_push --delete
check_eq "... every delete landed" "$(jq -c '[.tables[] | .deleted]' fam.json)" '[240,100,30]'

# --- pull: D1 changes come back to the local file -------------------------------
d1sql "UPDATE v SET t = 'remote edit', updated_at = '2030-01-01T00:00:00Z' WHERE id = 4;
	DELETE FROM v WHERE id = 8; INSERT INTO v VALUES (20, -1, 'from d1', -0.5, x'0102', 20, NULL);
	UPDATE c2 SET v = x'ffff' WHERE a = 'y'"
fetch -t v -t c2 >remote.ndjson
smg-hash -t v -t c2 local.db | smg-diff --direction pull --policy remote_wins --delete - remote.ndjson >pull.ndjson
check "pull into the local file" sh -c 'smg-apply -r none local.db <pull.ndjson'
check_same_table "after a pull sqldiff finds nothing (v)" local.db "$D1_SQLITE" v
check_same_table "after a pull sqldiff finds nothing (c2, WITHOUT ROWID, composite key)" local.db "$D1_SQLITE" c2
check_eq "pulled values keep their types" "$(typed_dump "$D1_SQLITE" v | md5sum)" "$(typed_dump local.db v | md5sum)"

# --- the config: the upstream way, and a profile made of config only -------------
cat >up.toml <<EOF
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
cloudflare_api_token = "env:MY_D1_TOKEN"
[target]
endpoint = "$D1_URL"
[sync]
tables = ["c2"]
EOF
check "smg-fetch -c with the three cloudflare_* keys" sh -c 'MY_D1_TOKEN="$0" SMUGGLR_TARGET_TOKEN= smg-fetch -q -c up.toml >cfg.ndjson' "$D1_TOKEN"
smg-hash -t c2 local.db >c2.ndjson
check "... the same stream, [sync] tables honoured" cmp cfg.ndjson c2.ndjson
check_exit 5 "the token from CLOUDFLARE_API_TOKEN, when wrong, is rejected (exit 5)" \
	env -u SMUGGLR_TARGET_TOKEN CLOUDFLARE_API_TOKEN=wrong smg-fetch -q --endpoint "$D1_URL" "$TGT"

# a new service is a config change: D1's /query endpoint (rows as objects),
# described to the generic profile in [target.profile_options] only
cat >gen.toml <<EOF
[target]
url = "$D1_QUERY_URL"
profile = "generic"
[target.profile_options]
rows = "result.{i}.results"
errors = ["errors.0.message"]
max_params = 100
page_rows = 3
EOF
check "generic profile from the config reads rows given as objects" sh -c 'smg-fetch -q -c gen.toml -t c2 -t v >gen.ndjson'
smg-hash -t c2 -t v local.db >cv.ndjson
check "... the same stream, paged 3 rows at a time" cmp gen.ndjson cv.ndjson
check "--show-profile prints the profile in effect" sh -c 'smg-fetch -c gen.toml --show-profile >prof.toml'
check_grep "... as TOML with the config's overrides" "^page_rows = 3" prof.toml
check_grep "... keeping the built-in fields" "^statement = '{\"sql\":{sql},\"params\":\[{params}\]}'" prof.toml
check "every built-in profile prints" sh -c 'for p in d1 turso rqlite datasette sqlite-cloud starbasedb generic; do smg-fetch --show-profile -p $p >/dev/null || exit 1; done'
printf '[target]\nurl = "http://x"\n[target.profile_options]\nmax_params = "lots"\n' >bad.toml
check_exit 2 "a profile option of the wrong type is exit 2" smg-fetch -c bad.toml
check_grep "... naming the file, line and column" "bad.toml:4:14: profile option max_params must be an integer" "$T/.err"

# --- a command target: any program that speaks the stream on stdio -------------
cat >backend.sh <<EOF
# the two verbs a command target is run with
db="$T/cmd.db"
verb=\$1; shift
case \$verb in
fetch) exec smg-hash "\$@" "\$db" ;;
apply) exec smg-apply -r none "\$@" "\$db" ;;
esac
exit 2
EOF
sqlite3 cmd.db "CREATE TABLE c2(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID"
smg-hash -t c2 local.db | smg-diff - cmd.db >cmdpush.ndjson
check "smg-apply command:CMD feeds the stream to the command" sh -c 'smg-apply "command:sh backend.sh" <cmdpush.ndjson'
check_same_table "... which applied it" local.db cmd.db c2
check "smg-fetch command:CMD passes the selection and writes its stream" \
	sh -c 'smg-fetch -t c2 "command:sh backend.sh" >cmd.ndjson'
check "... the stream smg-hash writes" cmp cmd.ndjson c2.ndjson

# --- nothing is written without a whole stream, or with --dry-run --------------
sqlite3 local.db "UPDATE w SET t = 'dry' WHERE id = 1"
fetch -t w >remote-w.ndjson
smg-hash -t w local.db | smg-diff - remote-w.ndjson >dry.ndjson
reset
check "--dry-run" sh -c 'smg-apply -n --endpoint "$0" "$1" <dry.ndjson >dry.out' "$D1_URL" "$TGT"
check_grep "... says what it would write" "would write 1 upsert" dry.out
check_grep "... and how many batches" "would send 1 batch (1 statement)" dry.out
check_eq "--dry-run sends no write: one request (the schema), no row written" "$(stat requests),$(stat rows_written)" "1,0"
grep -v '"kind":"end"' dry.ndjson >cut.ndjson
reset
check_exit 7 "a truncated change stream is exit 7" apply <cut.ndjson
check_grep "... saying so" "no end record" "$T/.err"
check_eq "... and nothing was sent but the schema read" "$(stat requests),$(stat rows_written)" "1,0"
check_exit 3 "a table missing on D1 is exit 3 before anything is written" \
	sh -c 'sed "s/\"w\"/\"nosuch\"/g" dry.ndjson | smg-apply --endpoint "$0" "$1"' "$D1_URL" "$TGT"
sqlite3 new.db "CREATE TABLE fresh(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO fresh VALUES (1, 'a'), (2, 'b')"
echo '{"kind":"end","records":0}' >empty.ndjson
smg-hash new.db | smg-diff - empty.ndjson >fresh.ndjson
check "--create-tables creates the table on D1 and fills it" sh -c 'smg-apply --create-tables -r none --endpoint "$0" "$1" <fresh.ndjson' "$D1_URL" "$TGT"
check_same_table "... sqldiff agrees" new.db "$D1_SQLITE" fresh
# a mirror push computed against another copy, which had the table: its
# deletes reach a target that lacks it, so the table is made before them
sqlite3 old2.db "CREATE TABLE fresh2(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO fresh2 VALUES (1, 'a'), (9, 'gone')"
sqlite3 new2.db "CREATE TABLE fresh2(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO fresh2 VALUES (1, 'a'), (2, 'b')"
smg-hash -q new2.db | smg-diff -q --delete - old2.db >fresh2.ndjson
check_eq "a mirror push with one upsert and one delete" \
	"$(grep -c '"op":"upsert"' fresh2.ndjson) $(grep -c '"op":"delete"' fresh2.ndjson)" "1 1"
check "--create-tables makes the table before its deletes run" \
	sh -c 'smg-apply --create-tables -r none --endpoint "$0" "$1" <fresh2.ndjson' "$D1_URL" "$TGT"
d1sql "SELECT group_concat(id) AS ids FROM fresh2" &&
	check_eq "... and D1 holds what the stream wrote" "$(jq -r '.result[0].results[0].ids' "$T/d1sql.out")" 2
