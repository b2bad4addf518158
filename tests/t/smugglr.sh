# smugglr.sh - the smugglr command on SQLite targets: every verb in text and
# JSON, --table, --dry-run, --delete, options before and after the verb,
# help and version, the config's errors and warnings, wrangler's local D1,
# and the exit codes.  watch is in smugglr-watch.sh.  Needs sqlite3,
# sqldiff, python3.
. ./lib.sh

# Run the script itself under dash (POSIX sh), as installed systems may.
SH=sh; command -v dash >/dev/null 2>&1 && SH=dash
SH=${SMUGGLR_SH:-$SH}
smugglr() { "$SH" "$SMG_TOP/bin/smugglr" "$@"; }
# its scratch directories go here, to check that none is left behind
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR

# jget FILE EXPR: FILE holds exactly one JSON object on one line; print the
# python expression EXPR of it (o), strings bare, anything else as JSON.
# (The system's python without site packages: it starts much faster.)
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
jget() {
	"$PY" -I -S -c '
import json, sys
text = open(sys.argv[1]).read()
lines = text.split("\n")
if len(lines) != 2 or lines[1] != "":
    sys.exit("%s: %d lines, not one JSON object on one line" % (sys.argv[1], len(lines) - 1))
o = json.loads(lines[0])
if not isinstance(o, dict):
    sys.exit("not an object")
r = eval(sys.argv[2])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))' "$1" "$2"
}

# run CMD...: stdout in out, stderr in err, exit status in $rc
run() { "$@" >out 2>err; rc=$?; }

# fixtures: 1 identical, 2 local only, 3 remote only, 4 newer locally,
# 5 newer remotely; tags: a BLOB only locally, one row only remotely; a
# table whose name has a space, identical.
fresh() {
	rm -f local.db remote.db
	for db in local.db remote.db; do
		sqlite3 $db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INT, updated_at TEXT);
			CREATE TABLE tags(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID;
			CREATE TABLE \"odd name\"(id INTEGER PRIMARY KEY, v TEXT);
			INSERT INTO \"odd name\" VALUES (1,'x');
			INSERT INTO items VALUES (1,'same',1,'2026-01-01T00:00:00Z');"
	done
	sqlite3 local.db "INSERT INTO items VALUES (2,'local only',2,'2026-01-01T00:00:00Z'),
		(4,'L4',4,'2026-03-01T11:00:00Z'), (5,'L5',5,'2026-03-01T09:00:00Z');
		INSERT INTO tags VALUES ('a', x'00ff');"
	sqlite3 remote.db "INSERT INTO items VALUES (3,'remote only',3,NULL),
		(4,'R4',40,'2026-03-01T10:00:00Z'), (5,'R5',50,'2026-03-01T10:00:00Z');
		INSERT INTO tags VALUES ('b', x'01');"
}
sums() { echo "$(sum_file local.db) $(sum_file remote.db)"; }

cat >config.toml <<'EOF'
local_db = "local.db"

[target]
path = "remote.db"

[sync]
conflict_resolution = "newer_wins"
EOF
fresh

# ---- version and help ---------------------------------------------------------
run smugglr --version
check_eq "--version: smugglr and the version the programs have" \
	"$(cat out) $rc" "smugglr $(smg-diff --version | sed 's/.* //') 0"
run smugglr --help
check_eq "--help exits 0" "$rc" 0
check_eq "--help lists every verb" \
	"$(for v in status diff push pull sync watch config; do grep -q "^  $v " out && printf '%s ' $v; done)" \
	"status diff push pull sync watch config "
# every verb --help lists has its own help, naming it in its usage
verbs=$(smugglr --help | sed -n '/^verbs:/,/^$/s/^  \([a-z-]*\) .*/\1/p')
check_eq "--help lists the relay verbs and help" \
	"$(for v in stash retrieve restore relay-repair help; do echo "$verbs" | grep -qx "$v" && printf '%s ' $v; done)" \
	"stash retrieve restore relay-repair help "
for v in $verbs; do
	run smugglr help "$v"
	check_eq "help $v: its usage, exit 0" \
		"$(grep -c '^usage: smugglr ' out) $(head -n 2 out | grep -cE " $v( [A-Z[]|\$)") $rc" "1 1 0"
done
run smugglr help relay-repair
check_grep "help relay-repair: what it does, as smugglr-relay(7) says" \
	'skipping each that does not apply' out
check_eq "--help before the verb, -h, and 'help VERB' say the same" \
	"$(smugglr --help push | sum_file -)$(smugglr -h push | sum_file -)$(smugglr help push | sum_file -)" \
	"$(smugglr push --help | sum_file -)$(smugglr push --help | sum_file -)$(smugglr push --help | sum_file -)"
run smugglr
check_eq "no verb: usage on stderr, nothing on stdout, exit 2" "$rc $(wc -c <out) $(grep -c '^usage:' err)" "2 0 1"
run smugglr frobnicate
check_eq "unknown verb: exit 2" "$rc" 2
check_grep "... naming it" 'unknown verb "frobnicate"' err
run smugglr frobnicate --help
check_eq "unknown verb --help: exit 2" "$rc" 2

# ---- status -----------------------------------------------------------------------
run smugglr status
check_eq "status: exit 0, nothing on stderr" "$rc $(wc -c <err)" "0 0"
check_eq "status text: a header and a summary per table, what a sync would write" "$(cat out)" \
"local.db (local) vs remote.db (remote), sync, newer_wins
items: local_only 1 remote_only 1 local_newer 1 remote_newer 1 identical 1
  would write: local +2 -0, remote +2 -0
odd name: identical 1
tags: local_only 1 remote_only 1
  would write: local +1 -0, remote +1 -0"
run smugglr -o json status
check_eq "status json: exit 0, one object, \"command\" first" "$rc $(jget out 'list(o)[0] + "=" + o["command"]')" \
	"0 command=status"
check_eq "status json: the report's members follow, in order" "$(jget out 'list(o)')" \
	'["command","local","remote","direction","policy","tables","total","partial"]'
check_eq "status json: per table counts" \
	"$(jget out '[[t["table"], t["only"], t["counts"]["local_only"], t["counts"]["remote_only"], t["counts"]["local_newer"], t["counts"]["remote_newer"], t["counts"]["identical"]] for t in o["tables"]]')" \
	'[["items",null,1,1,1,1,1],["odd name",null,0,0,0,0,1],["tags",null,1,1,0,0,0]]'
check_eq "status json: totals, and what sync would write" \
	"$(jget out '[o["total"][k] for k in ("local_only","remote_only","local_newer","remote_newer","content_differs","identical","upsert_local","upsert_remote","delete_local","delete_remote","skipped")]')" \
	'[2,2,1,1,0,2,3,3,0,0,0]'
check_eq "status json: no sample keys" "$(jget out '[t["samples"] for t in o["tables"]]')" '[{},{},{}]'
check_eq "status: nothing written" "$(sums)" "$(fresh; sums)"

# ---- diff -------------------------------------------------------------------------
run smugglr diff
check_eq "diff text: sample keys per bucket" "$(grep '^  ' out | grep -v 'would write')" \
"  local_only: [2]
  remote_only: [3]
  local_newer: [4]
  remote_newer: [5]
  local_only: [\"a\"]
  remote_only: [\"b\"]"
run smugglr diff -o json
check_eq "diff json: one object, command diff, samples by bucket" \
	"$(jget out '[o["command"], o["tables"][0]["samples"], o["tables"][2]["samples"]]')" \
	'["diff",{"local_only":[[2]],"remote_only":[[3]],"local_newer":[[4]],"remote_newer":[[5]]},{"local_only":[["a"]],"remote_only":[["b"]]}]'

# ---- options before or after the verb -----------------------------------------
smugglr -o json -t items -p local_wins status >o1
smugglr status -o json -t items -p local_wins >o2
smugglr --output=json status --table=items --policy=local_wins >o3
smugglr -ojson status -titems -plocal_wins >o4
smugglr -c config.toml -o json status --table items -p local_wins >o5
check_eq "options before the verb, after it, --opt=value, -oVALUE: the same output" \
	"$(sum_file o2) $(sum_file o3) $(sum_file o4) $(sum_file o5)" \
	"$(sum_file o1) $(sum_file o1) $(sum_file o1) $(sum_file o1)"
check_eq "-t items: only that table; -p overrides the config's policy" \
	"$(jget o1 '[[t["table"] for t in o["tables"]], o["policy"]]')" '[["items"],"local_wins"]'
run smugglr status -o json -t "odd name" -t tags
check_eq "-t twice, a name with a space: those two tables" "$rc $(jget out '[t["table"] for t in o["tables"]]')" \
	'0 ["odd name","tags"]'

# ---- --table validation ---------------------------------------------------------
before=$(sums)
run smugglr status -t nosuch
check_eq "an unknown table: exit 3, nothing on stdout" "$rc $(wc -c <out)" "3 0"
check_grep "... the message names it and lists the tables of both sides" 'no table "nosuch" on either side (local.db has: items, odd name, tags; remote.db has: items, odd name, tags)' err
run smugglr -o json push -t items -t nosuch
check_eq "push -t nosuch -o json: exit 3, the error as one JSON object" \
	"$rc $(jget out '[o["command"], o["exit_code"], "nosuch" in o["error"], "items, odd name, tags" in o["error"]]')" \
	'3 ["push",3,true,true]'
check_eq "... and list(keys) is command, error, exit_code" "$(jget out 'list(o)')" '["command","error","exit_code"]'
run smugglr sync -t nosuch
check_eq "sync -t nosuch: exit 3" "$rc" 3
run smugglr pull -t nosuch
check_eq "pull -t nosuch: exit 3" "$rc" 3
check_eq "... and nothing was written to either database" "$(sums)" "$before"
sqlite3 remote.db "CREATE TABLE only_remote(id INTEGER PRIMARY KEY)"
run smugglr push -t only_remote
check_eq "push -t a table only the target has: exit 3, listing the local tables" \
	"$rc $(grep -c 'local.db: no table "only_remote" to push (tables: items, odd name, tags)' err)" "3 1"
run smugglr pull -t only_remote
check_eq "pull -t the same table: exit 3, the local database has nowhere to write it" \
	"$rc $(grep -c 'local.db: no table "only_remote" to write to (tables: items, odd name, tags)' err)" "3 1"
run smugglr pull -t only_remote --create-tables
check_eq "... with --create-tables it is made from the target's schema" \
	"$rc $(sqlite3 local.db "SELECT count(*) FROM sqlite_schema WHERE name='only_remote'")" "0 1"
fresh

# ---- --dry-run leaves both databases byte-identical ---------------------------------
before=$(sums)
for v in push pull sync; do
	run smugglr "$v" --dry-run -o json
	check_eq "$v --dry-run: exit 0, dry_run true, both files byte-identical" \
		"$rc $(jget out 'o["dry_run"]') $(sums)" "0 true $before"
done
run smugglr -n push -o json
check_eq "push -n says what it would write (3 upserts into remote.db)" \
	"$(jget out '[o["apply"]["target"], o["apply"]["dry_run"], o["apply"]["upserted"], o["apply"]["deleted"]]')" \
	'["remote.db",true,3,0]'
run smugglr -n sync -o json
check_eq "sync -n: 3 upserts each way" \
	"$(jget out '[o["apply_remote"]["upserted"], o["apply_local"]["upserted"], o["apply_local"]["dry_run"]]')" '[3,3,true]'
run smugglr pull -n --delete
check_grep "pull -n --delete, text: would write, and nothing written" 'would write .* (dry run: nothing written)' out
check_eq "... both files still byte-identical" "$(sums)" "$before"
run smugglr push -n --delete -p local_wins
check_eq "push -n --delete -p local_wins: 4 upserts, 2 deletes, nothing written" \
	"$(grep -c 'would write 4 upserts and 2 deletes' out) $(sums)" "1 $before"
check_eq "--dry-run leaves no journal or lock behind" "$(ls | grep -c -e '-journal' -e '-wal' -e 'lock')" 0

# ---- push ---------------------------------------------------------------------------
run smugglr push
check_eq "push text: exit 0, counts then what was written" "$rc
$(cat out)" "0
local.db (local) vs remote.db (remote), push, newer_wins
items: local_only 1 remote_only 1 local_newer 1 remote_newer 1 identical 1
odd name: identical 1
tags: local_only 1 remote_only 1
remote.db: items: 2 upserted, 0 deleted
remote.db: tags: 1 upserted, 0 deleted
remote.db: wrote 3 upserts and 0 deletes in 2 tables"
check_eq "push: the local rows and the newer local row 4 reached the target, its newer row 5 stayed" \
	"$(sqlite3 remote.db "SELECT id, name, qty FROM items ORDER BY id")" \
"1|same|1
2|local only|2
3|remote only|3
4|L4|4
5|R5|50"
check_eq "push: the BLOB arrived as a BLOB" "$(typed_dump remote.db tags)" "text:'a'|blob:X'00FF'
text:'b'|blob:X'01'"
check_eq "push: local.db untouched" "$(sum_file local.db)" "$(echo "$before" | cut -d' ' -f1)"
run smugglr push -o json
check_eq "push again, json: one object, members in order, nothing left to write" \
	"$rc $(jget out '[list(o), o["diff"]["direction"], o["diff"]["total"]["upsert_remote"], o["apply"]["upserted"]]')" \
	'0 [["command","dry_run","rounds","conflicts_retried","diff","apply"],"push",0,0]'

# --delete makes the target a mirror (local_wins: every local row wins)
fresh
run smugglr push --delete -p local_wins -o json
check_eq "push --delete -p local_wins: exit 0, 4 upserts, 2 deletes" \
	"$rc $(jget out '[o["apply"]["upserted"], o["apply"]["deleted"], o["diff"]["total"]["delete_remote"]]')" "0 [4,2,2]"
check_same_db "push --delete: sqldiff local.db remote.db prints nothing" local.db remote.db

# ---- pull ---------------------------------------------------------------------------
fresh
run smugglr pull
check_eq "pull text: exit 0, the local database written" "$rc $(tail -n 1 out)" \
	"0 local.db: wrote 3 upserts and 0 deletes in 2 tables"
check_eq "pull: the target's own rows and its newer row 5 arrived, local row 4 (newer) stayed" \
	"$(sqlite3 local.db "SELECT id, name FROM items ORDER BY id" | tr '\n' ' ')" \
	"1|same 2|local only 3|remote only 4|L4 5|R5 "
check_eq "pull: remote.db untouched" "$(sum_file remote.db)" "$(fresh; sum_file remote.db)"
fresh
run smugglr pull --delete --policy remote_wins -o json
check_eq "pull --delete -p remote_wins json: command pull, direction pull, 4 upserts, 2 deletes locally" \
	"$rc $(jget out '[o["command"], o["diff"]["direction"], o["apply"]["target"], o["apply"]["upserted"], o["apply"]["deleted"]]')" \
	'0 ["pull","pull","local.db",4,2]'
check_same_db "pull --delete: sqldiff local.db remote.db prints nothing" local.db remote.db

# ---- sync ---------------------------------------------------------------------------
fresh
run smugglr sync
check_eq "sync text: exit 0, the target written, then the local database" \
	"$rc $(grep -c '^remote.db: wrote 3 upserts' out) $(grep -c '^local.db: wrote 3 upserts' out)" "0 1 1"
check_same_db "sync: sqldiff local.db remote.db prints nothing" local.db remote.db
check_eq "sync newer_wins: the newer version of 4 and of 5 on both sides" \
	"$(sqlite3 local.db "SELECT name FROM items WHERE id IN (4,5) ORDER BY id" | tr '\n' ' ')" "L4 R5 "
run smugglr sync -o json
check_eq "sync again, json: members in order, nothing to write either way" \
	"$rc $(jget out '[list(o), o["diff"]["direction"], o["apply_remote"]["upserted"], o["apply_local"]["upserted"], o["apply_remote"]["target"], o["apply_local"]["target"]]')" \
	'0 [["command","dry_run","rounds","conflicts_retried","diff","apply_remote","apply_local"],"sync",0,0,"remote.db","local.db"]'
run smugglr status -o json
check_eq "after sync, status: every row identical" "$(jget out '[o["total"]["identical"], o["total"]["upsert_local"] + o["total"]["upsert_remote"]]')" '[8,0]'

# a table the destination lacks: refused, or created with --create-tables
fresh
sqlite3 local.db "CREATE TABLE extra(id INTEGER PRIMARY KEY, note TEXT); INSERT INTO extra VALUES (1,'n1'),(2,'n2');"
before=$(sums)
run smugglr push
check_eq "push of a table the target lacks: exit 3, nothing written" "$rc $(sums)" "3 $before"
check_grep "... naming it and --create-tables" 'no table "extra" to write to .*--create-tables' err
run smugglr sync --create-tables -o json
check_eq "sync --create-tables: the table is created on the target, exit 0" \
	"$rc $(jget out '[t for t in o["apply_remote"]["tables"] if t["table"] == "extra"]')" \
	'0 [{"table":"extra","upserted":2,"deleted":0,"created":true,"conflicts":0}]'
check_same_db "... sqldiff local.db remote.db prints nothing" local.db remote.db

# excluded columns come from the config, and keep the destination's value
cat >x.toml <<'EOF'
local_db = "local.db"
[target]
path = "remote.db"
[sync]
exclude_columns = ["qty"]
EOF
fresh
smugglr -c x.toml push -t items >/dev/null 2>&1
check_eq "exclude_columns in the config: the target keeps its qty" \
	"$(sqlite3 remote.db "SELECT id, name, qty FROM items WHERE id IN (2,4) ORDER BY id" | tr '\n' ' ')" "2|local only| 4|L4|40 "

# ---- -v shows the plumbing ------------------------------------------------------
fresh
run smugglr -v push -t "odd name"
check_grep "-v: the smg-diff stage, quoted as a shell would" "^smugglr: + smg-diff .*-t 'odd name' .*-d push .*local.db remote.db" err
check_grep "-v: the smg-apply stage" "^smugglr: + smg-apply .*--only remote .*remote.db" err

# ---- config ---------------------------------------------------------------------
run smugglr config
check_eq "config text: exit 0, where from, the settings as TOML" \
	"$rc $(head -n 1 out) | $(grep -c '^path = "remote.db"' out) $(grep -c '^conflict_resolution = "newer_wins"' out)" \
	"0 # settings from config.toml, defaults and the environment | 1 1"
CLOUDFLARE_API_TOKEN=sekrit-token smugglr config -o json >out 2>err; rc=$?
check_eq "config json: one object, command and config_file first, secrets hidden" \
	"$rc $(jget out '[list(o)[:3], o["command"], o["config_file"], o["cloudflare_api_token"], o["sync"]["conflict_resolution"]]')" \
	'0 [["command","config_file","local_db"],"config","config.toml","<hidden>","newer_wins"]'
check_nogrep "... the token itself is not printed" 'sekrit' out

# ---- the config file's errors and warnings ----------------------------------------
printf 'local_db = "local.db"\n\n[target]\npath = remote.db"\n' >bad.toml
run smugglr -c bad.toml status
check_eq "malformed TOML: exit 2, nothing on stdout" "$rc $(wc -c <out)" "2 0"
check_grep "... the error is FILE:LINE:COLUMN" '^smugglr: bad.toml:4:8: ' err
check_eq "... said once" "$(grep -c 'bad.toml:4:8' err)" 1
run smugglr -c bad.toml push -o json
check_eq "malformed TOML, json: exit 2, the error as JSON with the position" \
	"$rc $(jget out '[o["command"], o["exit_code"], o["error"].startswith("bad.toml:4:8: ")]')" '2 ["push",2,true]'
printf 'local_db = "local.db"\n[target]\npath = "remote.db"\n[sync]\nconflict_resolution = "oldest_wins"\n' >badval.toml
run smugglr -c badval.toml sync
check_eq "a bad value: exit 2, file:line:col" "$rc $(grep -c '^smugglr: badval.toml:5:[0-9]*: ' err)" "2 1"
check_eq "... nothing written" "$(sums)" "$(fresh; sums)"
printf 'local_db = "local.db"\ncolour = "blue"\n[target]\npath = "remote.db"\n' >warn.toml
for o in text json; do
	run smugglr -c warn.toml -o $o push
	check_eq "an unknown key ($o): a warning naming it and its place, said once; the push runs" \
		"$rc $(grep -c "warn.toml:2:1: unknown key 'colour'" err)" "0 1"
done
run smugglr -c nosuch.toml status
check_eq "-c with a missing file: exit 3" "$rc" 3
check_grep "... naming it" 'nosuch.toml' err

# ---- what is missing ------------------------------------------------------------------
mkdir -p empty && cd empty || exit 1
run smugglr status
check_eq "no config, no local_db, no wrangler database: exit 2" "$rc" 2
check_grep "... saying what to set" 'no local database: set local_db in config.toml' err
printf 'local_db = "../local.db"\n' >config.toml
run smugglr -o json status
check_eq "no target: exit 2, as JSON" "$rc $(jget out 'o["exit_code"]')" "2 2"
check_grep "... saying what to set" 'no target: set \[target\]' err
printf 'local_db = "gone.db"\n[target]\npath = "../remote.db"\n' >config.toml
run smugglr push
check_eq "a missing local database: exit 3" "$rc" 3
check_grep "... naming it" 'local database gone.db does not exist' err
printf 'local_db = "../local.db"\n[target]\npath = "gone.db"\n' >config.toml
run smugglr -o json pull
check_eq "a missing target database: exit 3, as JSON" "$rc $(jget out 'o["exit_code"]')" "3 3"
cd .. || exit 1

# ---- wrangler's local D1, when local_db is unset ----------------------------------------
fresh
mkdir -p wr/.wrangler/state/v3/d1/miniflare-D1DatabaseObject
cp local.db wr/.wrangler/state/v3/d1/miniflare-D1DatabaseObject/x.sqlite
cp remote.db wr/remote.db
printf '[target]\npath = "remote.db"\n' >wr/config.toml
cd wr || exit 1
run smugglr push -o json
check_eq "no local_db: wrangler's D1 file is the local side" \
	"$rc $(jget out 'o["diff"]["local"]')" "0 .wrangler/state/v3/d1/miniflare-D1DatabaseObject/x.sqlite"
check_grep "... and stderr says which one was picked" 'local_db is not set: using .wrangler/state/v3/d1/miniflare-D1DatabaseObject/x.sqlite' err
check_eq "... once" "$(grep -c 'x.sqlite' err)" 1
run smugglr config
check_grep "config says which database is in use" '^# local_db is unset: using .wrangler/.*/x.sqlite' out
cd .. || exit 1
check_eq "wrangler push: the target has the local rows" "$(sqlite3 wr/remote.db "SELECT count(*) FROM items")" 5

# ---- usage errors: exit 2, as JSON too -----------------------------------------------
for args in "status --bogus" "status -o xml" "sync --delete" "status --delete" "push --interval 5" "diff --create-tables" \
	"status -p newest" "status extra" "status -t" "status --dry-run=yes" "watch --interval 0" "watch --ticks x"; do
	# shellcheck disable=SC2086
	run smugglr $args
	check_eq "smugglr $args: exit 2, a message, nothing on stdout" "$rc $(grep -c '^smugglr: ' err) $(wc -c <out)" "2 1 0"
done
run smugglr --bogus -o json status
check_eq "a usage error before -o json is still JSON" "$rc $(jget out '[o["command"], o["exit_code"]]')" '2 ["status",2]'
run smugglr -o json
check_eq "no verb, json: exit 2, one JSON object" "$rc $(jget out 'o["exit_code"]')" "2 2"
check_eq "none of it wrote anything" "$(sums)" "$(fresh; sums)"

# ---- bad data: exit 7 -------------------------------------------------------------------
fresh
printf 'this is not a database, it is a text file that is long enough to have a header %0100d\n' 0 >notdb.db
printf 'local_db = "local.db"\n[target]\npath = "notdb.db"\n' >c7.toml
before=$(sum_file local.db)
run smugglr -c c7.toml pull
check_eq "a target that is not a database: exit 7" "$rc" 7
check_grep "... naming it" 'target database notdb.db is not a SQLite database' err
run smugglr -c c7.toml sync -o json
check_eq "... json: exit_code 7" "$rc $(jget out '[o["command"], o["exit_code"]]')" '7 ["sync",7]'
check_eq "... and the local database was not touched" "$(sum_file local.db)" "$before"
printf 'local_db = "notdb.db"\n[target]\npath = "remote.db"\n' >c7b.toml
run smugglr -c c7b.toml status
check_eq "a local database that is not a database: exit 7" "$rc" 7
: >empty.db
printf 'local_db = "local.db"\n[target]\npath = "empty.db"\n' >c7e.toml
run smugglr -c c7e.toml push -o json
check_eq "an empty target file: exit 7, as JSON" "$rc $(jget out 'o["exit_code"]')" "7 7"
check_grep "... saying it is empty" 'empty.db is an empty file' err
# a SQLite header, then garbage: the programs find it corrupt
{ dd if=remote.db bs=100 count=1 2>/dev/null; printf '%04000d' 0; } >corrupt.db
printf 'local_db = "local.db"\n[target]\npath = "corrupt.db"\n' >c7d.toml
run smugglr -c c7d.toml sync
check_eq "a corrupt target database: exit 7" "$rc" 7
check_grep "... saying so" 'corrupt.db' err
sqlite3 other.db "CREATE TABLE items(id TEXT PRIMARY KEY, name TEXT); INSERT INTO items VALUES ('1','x');"
printf 'local_db = "local.db"\n[target]\npath = "other.db"\n' >c7c.toml
before=$(sum_file other.db)
run smugglr -c c7c.toml push -t items -o json
check_eq "a table with other columns on the target: skipped, exit 8, as JSON" \
	"$rc $(jget out '[t["skipped_schema"][:62] for t in o["diff"]["tables"]]')" \
	'8 ["columns differ: only in local.db: \"qty\", \"updated_at\"; only in"]'
check_eq "... nothing written" "$(sum_file other.db)" "$before"

# ---- the Makefile in smugglr(1)'s EXAMPLES works as it says ------------------------
mkdir mk && cd mk || exit 1
sed -n '/makefile-example-begin/,/makefile-example-end/p' "$SMG_TOP/man/smugglr.1" |
	sed -e '/^\.Bd/d' -e '/^\.Ed/d' -e '/^\.\\"/d' -e 's/^\\&//' -e 's/\\e/\\/g' >Makefile
sqlite3 app.db "CREATE TABLE orders(id INTEGER PRIMARY KEY, total REAL, updated_at TEXT);
 INSERT INTO orders VALUES (1, 9.5, '2026-11-01T10:00:00Z'), (2, 20.0, '2026-11-02T10:00:00Z');
 CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT); INSERT INTO customers VALUES (1, 'Ada', NULL);
 CREATE TABLE notes(id INTEGER PRIMARY KEY, t TEXT); INSERT INTO notes VALUES (1, 'not shipped');"
sqlite3 warehouse.db "CREATE TABLE orders(id INTEGER PRIMARY KEY, total REAL, updated_at TEXT);
 INSERT INTO orders VALUES (1, 9.0, '2026-10-01T10:00:00Z'), (3, 1.0, '2026-10-01T10:00:00Z');
 CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);"
wh=$(sum_file warehouse.db)
make >review.out 2>&1; rc=$?
check_eq "the man page's Makefile: make (review) exits 0 and writes nothing" "$rc $(sum_file warehouse.db)" "0 $wh"
check_grep "... the review shows the samples and what would be written" \
	'warehouse.db: would write 3 upserts and 0 deletes in 2 tables (dry run' review.out
make apply >apply.out 2>&1; rc=$?
check_eq "... make apply exits 0, writing 3 rows" "$rc $(grep -c 'wrote 3 upserts' apply.out)" "0 1"
check_same_table "... orders: the new and the newer row arrived" app.db warehouse.db customers
check_eq "... orders: the warehouse's own row 3 stays (a push without --delete)" \
	"$(sqlite3 warehouse.db "SELECT id, total FROM orders ORDER BY id" | tr '\n' ' ')" "1|9.5 2|20.0 3|1.0 "
make >review2.out 2>&1
check_grep "... a second review: nothing left to write" 'would write 0 upserts' review2.out
cd .. || exit 1

# ---- the verb files: libexec/smugglr beside bin/, or $SMUGGLR_EXEC_PATH ---------------
printf 'local_db = "local.db"\n[target]\npath = "remote.db"\n[stash]\nurl = "file://%s/relay.db"\n' "$T" >ep.toml
SMUGGLR_EXEC_PATH=$T/nowhere smugglr -c ep.toml snapshots >out 2>err; rc=$?
check_eq "SMUGGLR_EXEC_PATH without relay.sh: snapshots exits 1, naming the file and the variable" \
	"$rc $(grep -c "cannot find $T/nowhere/relay.sh .*SMUGGLR_EXEC_PATH" err)" "1 1"
SMUGGLR_EXEC_PATH=$T/nowhere smugglr -c ep.toml status >out 2>err; rc=$?
check_eq "... status needs no verb file: exit 0" "$rc" 0
mkdir alt && cp "$SMG_TOP"/libexec/smugglr/*.sh alt/ &&
	printf 'verb_snapshots() { echo "the snapshots of alt/relay.sh"; }\n' >>alt/relay.sh
SMUGGLR_EXEC_PATH=$T/alt smugglr -c ep.toml snapshots >out 2>err; rc=$?
check_eq "SMUGGLR_EXEC_PATH=DIR: the verbs come from DIR/relay.sh" "$rc $(cat out)" "0 the snapshots of alt/relay.sh"
smugglr -c ep.toml snapshots >out 2>err; rc=$?
check_eq "... unset: from libexec/smugglr beside bin/" "$rc $(cat out)" "0 no snapshots under file://$T/snapshots/"

# ---- output that cannot be written is an error ---------------------------------------
if [ -w /dev/full ]; then
	smugglr status >/dev/full 2>err; rc=$?
	check_eq "status >/dev/full: exit 1" "$rc" 1
	smugglr push -o json >/dev/full 2>err; rc=$?
	check_eq "push -o json >/dev/full: exit 1" "$rc" 1
fi
check_eq "no scratch directory left behind" "$(ls "$TMPDIR" | wc -l)" 0

