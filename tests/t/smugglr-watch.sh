# smugglr-watch.sh - smugglr watch: ticks, the lock (a second watcher is
# refused, a stale lock is taken over), SIGTERM and SIGINT between syncs
# and during one, a failing tick retried; and exit 6 for a database another
# process holds locked.  Needs sqlite3, sqldiff, python3.
. ./lib.sh

SH=sh; command -v dash >/dev/null 2>&1 && SH=dash
SH=${SMUGGLR_SH:-$SH}
smugglr() { "$SH" "$SMG_TOP/bin/smugglr" "$@"; }
# for "smugglr_bg ... &": the background job is smugglr itself, so that $!
# is the watcher's pid (the one in its lock, the one signals go to)
smugglr_bg() { exec "$SH" "$SMG_TOP/bin/smugglr" "$@"; }
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR
PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3

# ticks FILE: check that every line is one JSON object of command watch, and
# print "tick:exit_code:upserted_remote:upserted_local" per line.
ticks() {
	"$PY" -I -S -c '
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    assert isinstance(o, dict) and list(o)[:2] == ["command", "tick"] and o["command"] == "watch", line
    if "error" in o:
        print("%d:%d:-:-" % (o["tick"], o["exit_code"]))
    else:
        print("%d:0:%d:%d" % (o["tick"], o["apply_remote"]["upserted"], o["apply_local"]["upserted"]))
' "$1" | tr '\n' ' '
}

# wait_for PATTERN FILE [SECONDS]: until a line of FILE matches (default 15 s)
wait_for() {
	n=$((${3:-15} * 20))
	while [ $n -gt 0 ]; do
		grep -q -e "$1" "$2" 2>/dev/null && return 0
		sleep 0.05; n=$((n - 1))
	done
	echo "# timed out waiting for '$1' in $2"
	return 1
}

# stop_bg PID: end a watcher that a failed check left running
stop_bg() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null; }

fresh() {
	# out and err too: a watcher started in the background truncates its
	# out only once it runs, and wait_for must not find the last one's tick
	rm -rf local.db remote.db local.db.smugglr-lock out err w.out w.err
	sqlite3 local.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
		INSERT INTO items VALUES (1,'one',NULL),(2,'two',NULL);"
	sqlite3 remote.db "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
		INSERT INTO items VALUES (3,'three',NULL);"
}
printf 'local_db = "local.db"\n[target]\npath = "remote.db"\n' >config.toml
config_sum=$(sum_file config.toml)
lock=local.db.smugglr-lock

# ---- two ticks, then it stops by itself ----------------------------------------
fresh
start=$(date +%s)
smugglr watch --interval 1 --ticks 2 >out 2>err; rc=$?
took=$(($(date +%s) - start))
check_eq "watch --interval 1 --ticks 2: exit 0" "$rc" 0
check_eq "... two ticks, then 'watch stopped'" \
	"$(grep -c '^tick [12]: ' out) $(tail -n 1 out)" "2 watch stopped after 2 ticks"
check_eq "... the first tick wrote 2 rows to the target and 1 locally, the second nothing" \
	"$(grep -c 'wrote 2 upserts' out) $(grep -c 'wrote 1 upsert and' out) $(grep -c 'wrote 0 upserts' out)" "1 1 2"
check_eq "... it waited the interval between them" "$([ "$took" -ge 1 ] && echo yes)" yes
check_same_db "... the databases agree (sqldiff)" local.db remote.db
check_eq "... the lock is gone" "$([ -e "$lock" ] && echo there || echo gone)" gone

# ---- a watcher in the background: JSON ticks, a second one refused, SIGTERM --------
fresh
smugglr_bg watch --interval 1 -o json >w.out 2>w.err &
wpid=$!
if wait_for '"tick":1,' w.out; then
	check_eq "the lock holds the watcher's pid" "$(cat "$lock/pid" 2>/dev/null)" "$wpid"
	sqlite3 local.db "INSERT INTO items VALUES (10,'ten',NULL)"
	smugglr watch >out 2>err; rc=$?
	check_eq "a second watch on the same database: exit 6, nothing on stdout" "$rc $(wc -c <out)" "6 0"
	check_grep "... saying who holds the lock" "another smugglr (pid $wpid) is watching local.db" err
	smugglr -c config.toml -o json watch --ticks 1 >out 2>err; rc=$?
	check_eq "... with -o json: the error as JSON, exit_code 6" "$rc $("$PY" -I -S -c '
import json, sys
o = json.loads(open(sys.argv[1]).read())
print(o["command"], o["exit_code"])' out)" "6 watch 6"
	check_eq "... and the first watcher's lock is untouched" "$(cat "$lock/pid" 2>/dev/null)" "$wpid"
	wait_for '"tick":2,' w.out
	sleep 0.3
	kill -TERM "$wpid"; wait "$wpid"; rc=$?
	check_eq "SIGTERM between syncs: exit 0" "$rc" 0
	check_eq "... the lock is gone" "$([ -e "$lock" ] && echo there || echo gone)" gone
	t=$(ticks w.out)
	check_eq "... every line one JSON object (command watch, tick): tick 1 wrote 2+1 rows, tick 2 the new row" \
		"$(echo "$t" | cut -d' ' -f1-2)" "1:0:2:1 2:0:1:0"
	check_eq "... nothing half-printed after the last tick" "$(tail -c 1 w.out | od -An -c | tr -d ' ')" '\n'
	check_same_db "... the databases agree (sqldiff)" local.db remote.db
	check_eq "... nothing on stderr" "$(cat w.err)" ""
else
	fail "the background watcher printed no tick"; cat w.err
	stop_bg "$wpid"
fi
check_eq "watch never rewrites the config file" "$(sum_file config.toml)" "$config_sum"

# ---- stale locks are taken over ------------------------------------------------------
fresh
sh -c 'exit 0' & dead=$!; wait "$dead"
mkdir "$lock"; echo "$dead" >"$lock/pid"
smugglr watch --ticks 1 >out 2>err; rc=$?
check_eq "a lock whose pid is gone: taken over, the watch runs, exit 0" "$rc $(grep -c '^tick 1: ' out)" "0 1"
check_grep "... saying so" "taking over a stale lock $lock (pid $dead is gone)" err
check_eq "... and removed at the end" "$([ -e "$lock" ] && echo there || echo gone)" gone
fresh
mkdir "$lock"
smugglr -o json watch --ticks 1 >out 2>err; rc=$?
check_eq "a lock without a pid (its maker died before writing it): taken over" "$rc $(ticks out)" "0 1:0:2:1 "
mkdir "$lock"; echo $$ >"$lock/pid"
smugglr watch --ticks 1 >out 2>err; rc=$?
check_eq "a lock held by a live process: exit 6, and the lock is left alone" "$rc $(cat "$lock/pid")" "6 $$"
rm -rf "$lock"

# ---- many watchers take over the same stale lock at once: one runs -------------
# Each round: a stale lock (a dead pid, or no pid), then 10 watchers started
# together.  The one that gets the lock holds it for a 3-second interval, so
# all the others meet it: exactly one may run (exit 0), the rest exit 6.
race_round() {	# PID-IN-STALE-LOCK ('' for none)
	rm -rf "$lock" "$lock".takeover-*
	mkdir "$lock"; [ -n "$1" ] && echo "$1" >"$lock/pid"
	i=0 pids=''
	while [ $i -lt 10 ]; do
		smugglr_bg watch --ticks 2 --interval 3 >race.$i.out 2>race.$i.err &
		pids="$pids $!"; i=$((i + 1))
	done
	ran=0 refused=0 other=''
	for p in $pids; do
		wait "$p"; rc=$?
		case $rc in 0) ran=$((ran + 1)) ;; 6) refused=$((refused + 1)) ;; *) other="$other $rc" ;; esac
	done
	echo "$ran $refused${other:+ other:$other}"
}
fresh
sh -c 'exit 0' & dead=$!; wait "$dead"
results=''
for _ in 1 2 3 4 5; do results="$results$(race_round "$dead"),"; done
check_eq "5 rounds of 10 watchers taking over one stale lock: one runs, 9 are refused (exit 6), each round" \
	"$results" "1 9,1 9,1 9,1 9,1 9,"
check_eq "... and neither the lock nor a takeover directory is left" \
	"$(ls -d "$lock"* 2>/dev/null | wc -l)" 0
cat race.*.err >race.all.err
check_grep "... the refused ones name the winner" "another smugglr (pid [0-9]*) is watching local.db" race.all.err
results=''
for _ in 1 2; do results="$results$(race_round ''),"; done
check_eq "the same with a stale lock without a pid: one runs, 9 are refused" "$results" "1 9,1 9,"
check_same_db "the databases agree (sqldiff)" local.db remote.db

# ---- a failing tick is reported and tried again --------------------------------------
fresh
smugglr_bg watch --interval 1 --ticks 3 -o json >w.out 2>w.err &
wpid=$!
if wait_for '"tick":1,' w.out; then
	mv remote.db remote.good
	echo "not a database" >remote.db
	wait_for '"tick":2,' w.out
	mv remote.good remote.db
	wait "$wpid"; rc=$?
	check_eq "ticks: ok, failed with exit 7 (the target was not a database), ok again" "$(ticks w.out)" \
		"1:0:2:1 2:7:-:- 3:0:0:0 "
	check_eq "... --ticks N ends with the last tick's status: 0" "$rc" 0
	check_grep "... the failure's message on stderr" 'remote.db' w.err
	check_same_db "... the databases agree in the end" local.db remote.db
else
	fail "the background watcher printed no tick"; cat w.err
	stop_bg "$wpid"
fi
fresh
mv remote.db remote.good
smugglr watch --ticks 1 --interval 1 >out 2>err; rc=$?
mv remote.good remote.db
check_eq "a missing target at the start: exit 3 before any tick" "$rc $(grep -c tick out)" "3 0"

# ---- SIGTERM during a sync: the sync finishes, then the watch ends ----------------------
rm -rf big.db empty.db big.db.smugglr-lock
sqlite3 big.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);
	WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000)
	INSERT INTO t SELECT x, 'row ' || x, NULL FROM c;"
sqlite3 empty.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);"
printf 'local_db = "big.db"\n[target]\npath = "empty.db"\n' >big.toml
smugglr_bg -c big.toml -o json watch --interval 1 >w.out 2>w.err &
wpid=$!
if wait_for . big.db.smugglr-lock/pid 10; then
	kill -TERM "$wpid"; wait "$wpid"; rc=$?
	check_eq "SIGTERM as the first sync starts: exit 0 after that one tick, its 300000 rows written" \
		"$rc $(ticks w.out)" "0 1:0:300000:0 "
	check_same_db "... the databases agree (the write was not cut short)" big.db empty.db
	check_eq "... the lock is gone" "$([ -e big.db.smugglr-lock ] && echo there || echo gone)" gone
else
	fail "the watcher took no lock"; cat w.err
	stop_bg "$wpid"
fi

# ---- SIGINT (as from ^C) ends it too ------------------------------------------------------
# A background job of a non-interactive shell ignores SIGINT: start it with
# the default action, as a terminal would.
fresh
"$PY" -I -S -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$SH" "$SMG_TOP/bin/smugglr" watch --interval 5 >out 2>err &
wpid=$!
if wait_for '^tick 1: ' out; then
	kill -INT "$wpid"; wait "$wpid"; rc=$?
	check_eq "SIGINT during the wait: exit 0 at once, 'watch stopped after 1 tick'" "$rc $(tail -n 1 out)" \
		"0 watch stopped after 1 tick"
	check_eq "... the lock is gone" "$([ -e "$lock" ] && echo there || echo gone)" gone
else
	fail "the watcher printed no tick"; cat err
	stop_bg "$wpid"
fi

# ---- SIGHUP (the terminal went away) too ---------------------------------------------------
# A shell cannot trap a signal ignored when it started (nohup, some CI
# runners start tests so): give the watcher SIGHUP's default back, as a
# terminal would, and never wait for ever.
fresh
env --default-signal=HUP "$SH" "$SMG_TOP/bin/smugglr" watch --interval 5 >out 2>err &
wpid=$!
if wait_for '^tick 1: ' out; then
	kill -HUP "$wpid"
	( sleep 20; kill -KILL "$wpid" 2>/dev/null ) & guard=$!
	wait "$wpid"; rc=$?
	kill "$guard" 2>/dev/null
	check_eq "SIGHUP: exit 0, the lock and the scratch directory gone" \
		"$rc $([ -e "$lock" ] && echo there || echo gone) $(ls "$TMPDIR" | wc -l)" "0 gone 0"
else
	fail "the watcher printed no tick"; cat err
	stop_bg "$wpid"
fi

# ---- SIGKILL: no trap runs; the next run cleans up after it ------------------------
fresh
smugglr_bg watch --interval 5 >out 2>err &
wpid=$!
if wait_for '^tick 1: ' out; then
	kill -KILL "$wpid"; wait "$wpid" 2>/dev/null
	left=$(ls -d "$TMPDIR"/smugglr.* 2>/dev/null | wc -l)
	check_eq "a watcher killed with SIGKILL leaves its scratch directory (and its lock)" \
		"$left $([ -d "$lock" ] && echo locked)" "1 locked"
	mkdir "$TMPDIR/smugglr.live"; echo $$ >"$TMPDIR/smugglr.live/owner"
	mkdir "$TMPDIR/smugglr.new"	# no owner yet: being made right now
	smugglr status >out 2>err; rc=$?
	check_eq "the next run removes it, and keeps one whose owner lives or is being made" \
		"$rc $(cd "$TMPDIR" && ls | tr '\n' ' ')" "0 smugglr.live smugglr.new "
	rm -rf "$TMPDIR/smugglr.live" "$TMPDIR/smugglr.new"
	smugglr watch --ticks 1 >out 2>err; rc=$?
	check_eq "... and the next watch takes over its lock" "$rc $(grep -c 'taking over a stale lock' err)" "0 1"
else
	fail "the watcher printed no tick"; cat err
	stop_bg "$wpid"
fi

# ---- --dry-run and the interval from the config ---------------------------------------------
fresh
before="$(sum_file local.db) $(sum_file remote.db)"
printf 'local_db = "local.db"\n[target]\npath = "remote.db"\n[sync]\nwatch_interval_secs = 1\n' >w1.toml
start=$(date +%s)
smugglr -c w1.toml watch -n --ticks 2 -o json >out 2>err; rc=$?
took=$(($(date +%s) - start))
check_eq "watch -n: two ticks that would write, and did not" \
	"$rc $(ticks out) $(sum_file local.db) $(sum_file remote.db)" "0 1:0:2:1 2:0:2:1  $before"
check_eq "... one second apart: sync.watch_interval_secs from the config" \
	"$([ "$took" -ge 1 ] && [ "$took" -lt 10 ] && echo yes)" yes

# ---- exit 6: a database another process holds locked ------------------------------------------
# (sqlite-files.sh checks [sync] busy_timeout_ms; this is the default, 10 s)
fresh
mkfifo hold
sqlite3 remote.db <hold >/dev/null 2>&1 &
holder=$!
exec 3>hold
echo "BEGIN IMMEDIATE; UPDATE items SET name = name;" >&3
sleep 0.3
before=$(sum_file remote.db)
smugglr -o json push >out 2>err; rc=$?
exec 3>&-
wait "$holder"
check_eq "push while another process holds the target's write lock (past the busy timeout): exit 6" "$rc" 6
check_grep "... as JSON" '"exit_code":6' out
check_grep "... saying the database is locked" 'remote.db: database is locked' err
check_eq "... nothing written" "$(sum_file remote.db)" "$before"
check_eq "no scratch directory left behind" "$(ls "$TMPDIR" | wc -l)" 0
