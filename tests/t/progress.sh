# progress.sh - the progress line as a person sees it, in a real terminal
# (a tmux pane): done/total, a percentage, a rate and the time left, on one
# line redrawn in place at most ten times a second, handed from one program
# of a pipeline to the next, erased before the report; never a percentage
# without a total; nothing of it with -q, SMG_PROGRESS=0 or stderr not a
# terminal; S3 transfers against moto_server, remote batches and fetches
# against the local D1; the same lines through smugglr push (SQLite file
# and D1), with nothing of them when its stderr is not a terminal or -q.  Needs tmux >= 3.0, sqlite3, python3, bc, curl,
# moto_server, and what tests/d1-lib.sh needs.
TESTS=$PWD
. ./lib.sh
need_tools "the progress test" tmux sqlite3 python3 bc curl
. "$TESTS/moto.sh"

N=300000
sqlite3 a.db "
CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, data BLOB);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO items SELECT i, 'item-' || i || '-' || hex(randomblob(8)), i % 1000,
       (i % 10000) / 100.0, randomblob(24) FROM n;"
# the target: a trigger makes each insert scan 300 rows, so that applying
# the changes lasts a few seconds on a fast machine too
sqlite3 empty.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL,
	data BLOB); CREATE TABLE pad(x);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO pad SELECT i FROM n;
CREATE TRIGGER slow AFTER INSERT ON items BEGIN SELECT sum(x) FROM pad; END;"
smg-diff -q -t items a.db empty.db >changes
smg-hash -q a.db >rows

# The line appears after half a second: the stages are made to last a few
# seconds by a reader that takes their output at a set pace.  `slow FILE`
# is a command that copies stdin to stdout in about 3 seconds for as many
# bytes as FILE holds (a pipe holds little: its writer keeps that pace).
cat >slow.py <<'EOF'
import os, sys, time
rate = os.path.getsize(sys.argv[1]) / 3.0
start, n = time.monotonic(), 0
while True:
    b = sys.stdin.buffer.read1(65536)
    if not b:
        break
    sys.stdout.buffer.write(b)
    n += len(b)
    ahead = n / rate - (time.monotonic() - start)
    if ahead > 0:
        time.sleep(ahead)
EOF
slow() { echo "python3 $T/slow.py $T/$1"; }

sock=$T/tmux.sock
cleanup_hook() { tmux -S "$sock" kill-server 2>/dev/null; moto_stop; }

# in_terminal NAME 'COMMANDS': run COMMANDS (sh) in a new 160x20 pane; every
# byte the pane gets goes to NAME.raw, its screen every 0.1 s to NAME.snaps
# (snapshots split by "--"), its last screen to NAME.screen; $elapsed says
# how long it took.  Waits for the end (at most 5 minutes).
in_terminal() {
	name=$1
	printf 'cd "%s" || exit\nwhile [ ! -e %s.go ]; do sleep 0.05; done\n%s\necho "END $?"\nsleep 600\n' \
		"$T" "$name" "$2" >"$name.sh"
	: >"$name.raw"; : >"$name.snaps"
	tmux -S "$sock" new-session -d -s "$name" -x 160 -y 20 "PATH='$PATH' sh $T/$name.sh"
	tmux -S "$sock" pipe-pane -t "$name" -o "cat >>'$T/$name.raw'"
	started=$(date +%s.%N)
	touch "$name.go"
	i=0
	while [ $i -lt 3000 ]; do
		tmux -S "$sock" capture-pane -p -t "$name" >"$name.screen"
		{ cat "$name.screen"; echo --; } >>"$name.snaps"
		grep -q '^END [0-9]*$' "$name.screen" && break
		sleep 0.1
		i=$((i + 1))
	done
	elapsed=$(echo "$(date +%s.%N) - $started" | bc)
	tmux -S "$sock" kill-session -t "$name"
}

content() { sqlite3 "$1" "SELECT * FROM items ORDER BY id" | sha256sum; }

# the lines of NAME's snapshots that are progress lines of PROG
progress_lines() { grep -a "^$2: [a-z]*: [0-9]" "$1.snaps"; }
# every line NAME's pane was sent, however short-lived
drawn_lines() { tr '\r' '\n' <"$1.raw"; }
# how many times the line was drawn (or erased): the carriage returns the
# pane got, but for the terminal's own before each newline
draws() { python3 -c 'import re, sys; print(len(re.findall(rb"\r(?!\n)", open(sys.argv[1], "rb").read())))' "$1.raw"; }

full_line='^smg-diff: diff: [0-9]*/[0-9]* rows ([0-9]*%), [0-9]* rows/s, [0-9:]*s* left *$'
apply_line='^smg-apply: apply: [0-9]* changes, [0-9.]*/[0-9.]* [KMG]*i*B ([0-9]*%), [0-9]* changes/s, [0-9:]*s* left *$'

# ---- one program: smg-diff of two databases ---------------------------------------
in_terminal diff "smg-diff -t items a.db empty.db | $(slow changes) >/dev/null; smg-diff -t items -r text a.db empty.db"
progress_lines diff smg-diff >diff.lines
check_grep "smg-diff on a terminal: done/total rows, a percentage, a rate, time left" "$full_line" diff.lines
check_grep "... the total is the rows of both sides (count(*))" "^smg-diff: diff: [0-9]*/$N rows" diff.lines
n=$(sort -u diff.lines | wc -l)
[ "$n" -ge 3 ] && ok "... updated while it runs ($n different lines seen)" ||
	fail "... updated while it runs (only $n different lines seen)"
more=$(awk '/^--$/ { if (n > 1) bad++; n = 0; next } /rows\/s/ { n++ } END { print bad + 0 }' diff.snaps)
check_eq "... one line: never two progress lines on the screen at once" "$more" 0
nl=$(tr -d '\r' <diff.raw | grep -c 'rows/s')
check_eq "... redrawn in place: carriage returns, no newline between two draws" "$nl" 1
d=$(draws diff)
max=$(echo "$elapsed * 10 + 5" | bc | cut -d. -f1)
[ "$d" -ge 10 ] && [ "$d" -le "$max" ] && ok "... at most ten times a second ($d draws in ${elapsed}s)" ||
	fail "... at most ten times a second ($d draws in ${elapsed}s, wanted 10 to $max)"
check_nogrep "... erased before the report: nothing of it left on the screen" 'rows/s' diff.screen
check_grep "... the report starts at the start of its line" '^a\.db (local) vs empty\.db (remote)' diff.screen
check_grep "... and the program ended well" '^END 0$' diff.screen

# ---- a pipeline: the line is handed from smg-diff to smg-apply --------------------
cp empty.db t.db
in_terminal pipe "smg-diff -t items a.db t.db | $(slow changes) | smg-apply t.db"
progress_lines pipe smg-diff >pipe.diff
progress_lines pipe smg-apply >pipe.apply
check_grep "smg-diff | smg-apply: smg-diff's line while it diffs" "$full_line" pipe.diff
check_grep "... then smg-apply's: changes, bytes of the stream done/total, percentage, rate, time left" \
	"$apply_line" pipe.apply
both=$(awk '/^--$/ { if (d && a) bad++; d = a = 0; next } /^smg-diff: diff:/ { d = 1 } /^smg-apply: apply:/ { a = 1 }
	END { print bad + 0 }' pipe.snaps)
check_eq "... never both lines on the screen: one program draws at a time" "$both" 0
check_nogrep "... erased before the report" 'rows/s\|changes/s' pipe.screen
check_grep "... the report is there" "^t.db: wrote $N upserts and 0 deletes in 1 table" pipe.screen
check_eq "... and t.db holds the rows" "$(content t.db)" "$(content a.db)"

# ---- no total: done and rate, no percentage, no time left ----------------------------
in_terminal nototal "smg-hash -q a.db | $(slow rows) | smg-diff -t items - empty.db >/dev/null"
progress_lines nototal smg-diff >nototal.lines
check_grep "a stream with no count: done and rate" '^smg-diff: diff: [0-9]* rows, [0-9]* rows/s *$' nototal.lines
check_nogrep "... never a percentage or a time left without a total" '%\|left\|/[0-9]' nototal.lines

# ---- smg-hash, and smg-apply reading a file -----------------------------------------
cp empty.db t2.db
in_terminal hash "smg-hash a.db | $(slow rows) >/dev/null; smg-apply -i changes t2.db >/dev/null"
check_grep "smg-hash: done/total rows, percentage, rate, time left" \
	'^smg-hash: hash: [0-9]*/[0-9]* rows ([0-9]*%), [0-9]* rows/s, [0-9:]*s* left *$' hash.snaps
check_grep "smg-apply -i FILE: the file's size is the total" "$apply_line" hash.snaps

# ---- off: stderr not a terminal, -q, SMG_PROGRESS=0, a job in the background -------
cp empty.db t3.db
in_terminal off "smg-diff -t items a.db t3.db 2>diff.err | $(slow changes) | smg-apply t3.db 2>apply.err
smg-diff -q -t items a.db empty.db | $(slow changes) >/dev/null
SMG_PROGRESS=0 smg-hash a.db | $(slow rows) >/dev/null
set -m; smg-hash a.db | $(slow rows) >/dev/null & wait"
check_eq "stderr into a file: nothing of the line there" "$(cat diff.err apply.err | wc -c)" 0
check_eq "... -q, SMG_PROGRESS=0, a job in the background of a terminal: no line drawn" "$(draws off)" 0
check_grep "... the run is otherwise the same" "^t3.db: wrote $N upserts" off.screen

# ---- smugglr: the programs' lines through the porcelain ---------------------------
# smugglr keeps smg-apply's stderr (for its messages) and hands it the
# terminal for the line: SMG_PROGRESS_FD.
mkdir -p "$T/tmp"
cp empty.db t4.db; cp empty.db t5.db; cp empty.db t6.db
for n in 4 5 6; do printf 'local_db = "a.db"\n[target]\ntype = "sqlite"\npath = "t%s.db"\n' $n >p$n.toml; done
in_terminal porc "export TMPDIR=$T/tmp; smugglr -c p4.toml push"
progress_lines porc smg-apply >porc.apply
check_grep "smugglr push on a terminal: smg-apply's line while the upserts are written" "$apply_line" porc.apply
n=$(sort -u porc.apply | wc -l)
[ "$n" -ge 3 ] && ok "... updated while it runs ($n different lines seen)" ||
	fail "... updated while it runs (only $n different lines seen)"
# one_line NAME: how many of NAME's snapshots had two progress lines or more
one_line() { awk '/^--$/ { if (n > 1) bad++; n = 0; next } /rows\/s|changes\/s/ { n++ } END { print bad + 0 }' "$1.snaps"; }
check_eq "... one line at a time: never two progress lines on the screen" "$(one_line porc)" 0
check_nogrep "... erased before the report" 'rows/s\|changes/s' porc.screen
check_grep "... the report is there, at the start of its line" "^t4.db: wrote $N upserts and 0 deletes in 1 table" porc.screen
check_grep "... and smugglr ended well" '^END 0$' porc.screen
check_eq "... t4.db holds the rows" "$(content t4.db)" "$(content a.db)"

in_terminal porcoff "export TMPDIR=$T/tmp; smugglr -c p5.toml push 2>push.err; echo \"push \$?\"
smugglr -c p6.toml -q push >/dev/null; echo \"quiet \$?\"
smugglr -c p6.toml --quiet status >/dev/null"
check_eq "smugglr push, stderr not a terminal: no line drawn there" "$(tr -cd '\r' <push.err | wc -c)" 0
check_nogrep "... nothing of it at all (only messages)" '/s\|%' push.err
check_eq "... smugglr -q / --quiet on a terminal: no line drawn" "$(draws porcoff)" 0
check_grep "... the runs are otherwise the same" '^push 0$' porcoff.screen
check_grep "... (-q too)" '^quiet 0$' porcoff.screen
check_eq "... t5.db and t6.db hold the rows" "$(content t5.db) $(content t6.db)" "$(content a.db) $(content a.db)"
# a failure's message is still the first failing stage's, and still shown
in_terminal porcbad "export TMPDIR=$T/tmp; smugglr -c p4.toml -t nosuch push"
check_grep "a failed smugglr push on a terminal: the message is shown" "nosuch" porcbad.screen
check_grep "... with its exit code" '^END 3$' porcbad.screen

# stash and retrieve (a file:// relay): smg-diff and smg-apply into the
# relay's copy, smg-apply into the local database
sqlite3 big.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500000)
INSERT INTO items SELECT i, 'item-' || i, i % 1000 FROM n;"
printf 'local_db = "big.db"\n[stash]\nurl = "file://%s/relay1/r"\n' "$T" >s1.toml
printf 'local_db = "a.db"\n[stash]\nurl = "file://%s/relay2/r"\n' "$T" >s2.toml
printf 'local_db = "t7.db"\n[stash]\nurl = "file://%s/relay2/r"\n' "$T" >s3.toml
cp empty.db t7.db
TMPDIR=$T/tmp smugglr -c s2.toml stash >/dev/null 2>stash2.err || { fail "stash a.db"; cat stash2.err; }
in_terminal relay "export TMPDIR=$T/tmp; smugglr -c s1.toml stash && smugglr -c s3.toml retrieve"
grep -a '^smg-[a-z]*: [a-z]*: [0-9]' relay.snaps >relay.lines
sed -n '/^stashed to/,$p' relay.snaps | grep -a '^smg-apply: apply: ' >retrieve.lines
check_grep "smugglr stash on a terminal: the lines of the diff and of the apply to the relay's copy" \
	'^smg-\(diff\|apply\): \(diff\|apply\): [0-9]' relay.lines
check_grep "smugglr retrieve on a terminal: smg-apply's line while the local database is written" \
	"$apply_line" retrieve.lines
check_eq "... one line at a time" "$(one_line relay)" 0
check_nogrep "... erased before the reports" 'rows/s\|changes/s' relay.screen
check_grep "... and both ended well" '^END 0$' relay.screen
check_eq "... t7.db holds the rows" "$(content t7.db)" "$(content a.db)"

# ---- S3: bytes of the object, of its size going up, of Content-Length coming down -
moto_start
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 SMG_S3_ENDPOINT=$E
curl -sf -X PUT "$E/bkt" >/dev/null || fail "moto makes the bucket"
# (an upload cannot be slowed from here: big enough to last a while)
head -c 200000000 /dev/urandom >big
in_terminal s3 "smg-s3 put --path-style s3://bkt/big big && smg-s3 get --path-style s3://bkt/big - | $(slow big) >big.out"
drawn_lines s3 >s3.lines
check_grep "smg-s3 put: bytes sent of the object's size, percentage, rate, time left" \
	'^smg-s3: upload: [0-9.]*/190.7 MiB ([0-9]*%), [0-9.]* [KMG]*i*B/s, [0-9:]*s* left *$' s3.lines
check_grep "smg-s3 get: bytes received of Content-Length" \
	'^smg-s3: download: [0-9.]*/190.7 MiB ([0-9]*%), [0-9.]* [KMG]*i*B/s' s3.lines
check_nogrep "... erased at the end" 'B/s' s3.screen
check_grep "... and the transfers ended well" '^END 0$' s3.screen
check_eq "... the object came back whole" "$(sum_file big.out)" "$(sum_file big)"

# ---- a remote target: the changes D1 has taken of the stream's; smg-fetch: rows, rate
. "$TESTS/d1-lib.sh"
cleanup_hook() {
	tmux -S "$sock" kill-server 2>/dev/null; moto_stop
	[ -f "$D/pid" ] && "$top/scripts/d1-server" stop "$D" >/dev/null 2>&1; :
}
sqlite3 d1src.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO items SELECT i, 'item-' || i, i % 100 FROM n;"
smg-fetch -q --endpoint "$D1_URL" "$TGT" >d1.ndjson
smg-diff -q d1src.db d1.ndjson >d1changes
smg-hash -q d1src.db >d1rows	# what the fetch will write, for its pace
in_terminal d1 "export SMUGGLR_TARGET_TOKEN=$D1_TOKEN
smg-apply --create-tables --endpoint $D1_URL -i d1changes $TGT >/dev/null
smg-fetch --endpoint $D1_URL $TGT | $(slow d1rows) >/dev/null"
drawn_lines d1 >d1.lines
check_grep "smg-apply to D1: changes the target has taken of the stream's, percentage, rate, time left" \
	'^smg-apply: apply: [0-9]*/100000 changes ([0-9]*%), [0-9]* changes/s, [0-9:]*s* left *$' d1.lines
check_grep "smg-fetch: rows and rate (the endpoint is not asked for a count)" \
	'^smg-fetch: fetch: [0-9]* rows, [0-9]* rows/s *$' d1.lines
check_grep "... and both ended well" '^END 0$' d1.screen

# smugglr push into D1: smg-fetch | smg-diff | smg-apply, the line handed on
sqlite3 porc.db "CREATE TABLE porc(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO porc SELECT i, 'item-' || i, i % 100 FROM n;"
cat >pd1.toml <<EOF
local_db = "porc.db"
cloudflare_account_id = "$D1_ACCOUNT_ID"
database_id = "$D1_DATABASE_ID"
[target]
type = "d1"
endpoint = "$D1_URL"
# small batches: an apply long enough for its line (the first waits 0.5 s)
[sync]
batch_size = 10
EOF
in_terminal pd1 "export SMUGGLR_TARGET_TOKEN=$D1_TOKEN TMPDIR=$T/tmp
smugglr -c pd1.toml --create-tables push"
drawn_lines pd1 >pd1.lines
grep -q '^smg-apply: apply: ' pd1.lines || { echo "# the lines drawn:"; sed 's/^/#   /' pd1.lines | tail -8; }
check_grep "smugglr push into D1 on a terminal: smg-apply's changes taken, percentage, rate, time left" \
	'^smg-apply: apply: [0-9]*/100000 changes ([0-9]*%), [0-9]* changes/s, [0-9:]*s* left *$' pd1.lines
check_eq "... one line at a time" "$(one_line pd1)" 0
check_nogrep "... erased before the report" 'rows/s\|changes/s' pd1.screen
check_grep "... the report is there" ': wrote 100000 upserts and 0 deletes in 1 table' pd1.screen
check_grep "... and smugglr ended well" '^END 0$' pd1.screen
