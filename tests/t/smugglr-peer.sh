# smugglr-peer.sh - smugglr sync with a peer target ([target] type peer):
# smg-beacon --connect runs the command, whose far end is smg-beacon
# --stdio, as "ssh host smg-beacon --stdio /srv/app.db" would; here the
# command runs the peer locally.  Text and JSON reports, -n, -t, the
# policy, watch; push/pull/status refused; a command that fails, is not
# found or hangs: exit 4, a message, nothing written, no hang.  Needs
# sqlite3, sqldiff, python3.
. ./lib.sh
need_tools "the peer target tests" sqlite3 sqldiff python3

SH=sh; command -v dash >/dev/null 2>&1 && SH=dash
SH=${SMUGGLR_SH:-$SH}
smugglr() { "$SH" "$SMG_TOP/bin/smugglr" "$@"; }
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR
run() { "$@" >out 2>err; rc=$?; }
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
jget() { "$PY" -I -S -c 'import json, sys; o = json.loads(open(sys.argv[1]).read()); r = eval(sys.argv[2])
print(r if isinstance(r, str) else json.dumps(r, separators=(",", ":")))' "$1" "$2"; }

schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
CREATE TABLE notes(k TEXT PRIMARY KEY, body TEXT, updated_at TEXT) WITHOUT ROWID;"
# 1 identical, 2 local only, 3 remote only, 4 newer locally, 5 newer remotely
fresh() {
	rm -f local.db far.db
	sqlite3 local.db "$schema
	INSERT INTO items VALUES (1,'same','2026-01-01'),(2,'local','2026-01-01'),(4,'mine','2026-03-01'),
	 (5,'old','2026-01-01');
	INSERT INTO notes VALUES ('a','local note','2026-01-01');"
	sqlite3 far.db "$schema
	INSERT INTO items VALUES (1,'same','2026-01-01'),(3,'far','2026-01-01'),(4,'stale','2026-01-01'),
	 (5,'theirs','2026-04-01');
	INSERT INTO notes VALUES ('b','far note','2026-01-01');"
}
conf() {	# FILE COMMAND
	cat >"$1" <<EOF
local_db = "local.db"
[target]
type = "peer"
command = "$2"
[sync]
conflict_resolution = "newer_wins"
EOF
}
sums() { echo "$(sum_file local.db) $(sum_file far.db)"; }
conf peer.toml "smg-beacon --stdio $T/far.db"

fresh
run smugglr -c peer.toml sync
check_eq "sync with a peer target: exit 0" "$rc" 0
check_same_db "... both databases converge (sqldiff)" local.db far.db
check_eq "... newer_wins on both ends: the newer rows won" \
	"$(sqlite3 local.db "SELECT name FROM items WHERE id IN (4,5) ORDER BY id" | tr '\n' ' ')" "mine theirs "
check_grep "... the text report names both sides" \
	"^local.db (local) vs peer:smg-beacon --stdio $T/far.db (remote), sync through smg-beacon$" out
check_grep "... and counts rows per table" '^items: 2 sent, 2 received$' out
check_grep "... (every table)" '^notes: 1 sent, 1 received$' out
check_grep "... and in all" '^3 rows sent, 3 received$' out
check_eq "... nothing on stderr when it went well" "$(cat err)" ""
run smugglr -c peer.toml sync
check_grep "again: nothing to send" '^0 rows sent, 0 received$' out

fresh
run smugglr -c peer.toml -o json sync
check_eq "-o json: exit 0" "$rc" 0
check_eq "... one object: the command, the target and smg-beacon's report" \
	"$(jget out '[o["command"], o["target"], o["program"], o["exchanges"], o["tables"]["items"]]')" \
	"[\"sync\",\"peer:smg-beacon --stdio $T/far.db\",\"smg-beacon\",{\"ok\":1,\"failed\":0},{\"sent\":2,\"received\":2}]"

fresh
s=$(sums)
run smugglr -c peer.toml -n sync
check_eq "-n: exit 0" "$rc" 0
check_eq "-n: nothing written on either end" "$(sums)" "$s"
check_grep "-n: the report says so" 'dry run: nothing written' out

# the selection is this end's: the far end's command selects the same
run smugglr -c peer.toml -t notes sync
check_eq "-t notes, the far end selecting every table: exit 4" "$rc" 4
check_grep "... the peer is in another group" 'another group' err
check_eq "... nothing written" "$(sums)" "$s"
conf notes.toml "smg-beacon -t notes --stdio $T/far.db"
run smugglr -c notes.toml -t notes sync
check_eq "-t notes, the far end's command with -t notes: exit 0" "$rc" 0
check_same_table "... that table converged" local.db far.db notes
check_eq "... items left alone" "$(sqlite3 far.db "SELECT count(*) FROM items WHERE id=2")" 0

run smugglr -c peer.toml -p remote_wins sync
check_eq "-p remote_wins: refused by smg-beacon, exit 2" "$rc" 2
check_grep "... saying why" 'remote_wins' err

fresh
run smugglr -c peer.toml --ticks 1 --interval 1 watch
check_eq "watch with a peer target: exit 0" "$rc" 0
check_same_db "... converged" local.db far.db
check_grep "... the tick's report" '^3 rows sent, 3 received$' out

# the verbs that read or write one side: refused
for v in push pull status diff; do
	run smugglr -c peer.toml "$v"
	check_eq "$v with a peer target: exit 2" "$rc" 2
	check_grep "... saying what to use instead" 'synced both ways, by smugglr sync or watch' err
done
run smugglr -c peer.toml --create-tables sync
check_eq "--create-tables with a peer target: exit 2" "$rc" 2
printf 'local_db = "local.db"\n[target]\ntype = "peer"\n' >nocmd.toml
run smugglr -c nocmd.toml sync
check_eq "type peer without command: exit 2" "$rc" 2
check_grep "... naming the key" 'type peer needs command' err
run smg-fetch -c peer.toml
check_eq "smg-fetch of a peer target: exit 2" "$rc" 2
check_grep "... saying it is smugglr sync's" 'synced both ways by smugglr sync' err

# commands that are no peer: exit 4, a message, nothing written
fresh
s=$(sums)
conf fails.toml "exit 3"
run smugglr -c fails.toml sync
check_eq "a command that fails at once: exit 4" "$rc" 4
check_grep "... the message says the connection closed" 'closed' err
conf notfound.toml "no-such-command-$$"
run smugglr -c notfound.toml -o json sync
check_eq "a command not found: exit 4" "$rc" 4
check_grep "... the shell's word is shown" "no-such-command-$$.*not found" err
check_eq "... -o json: one error object, exit_code 4" "$(jget out 'o["exit_code"]')" 4
conf key.toml "smg-beacon --stdio $T/far.db"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >secret
printf '[broadcast]\nsecret = "%s"\n' "$(cat secret)" >>key.toml
run smugglr -c key.toml sync
check_eq "a secret on this end only: exit 4" "$rc" 4
conf hangs.toml "cat >/dev/null"
started=$(date +%s)
run smugglr -c hangs.toml sync
took=$(($(date +%s) - started))
check_eq "a command that never answers: exit 4" "$rc" 4
check_grep "... timed out" 'timed out' err
[ "$took" -le 45 ] && ok "... no hang: given up after ${took}s (smg-beacon's 30 s)" ||
	fail "... no hang (took ${took}s)"
check_eq "... after all of them, nothing written on either end" "$(sums)" "$s"
check_eq "no scratch directory left behind" "$(ls "$T/tmp")" ""
