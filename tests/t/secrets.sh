# secrets.sh - a password in a target URL never shows (with or without a
# scheme, with an '@' in it; one on the command line without its scheme is
# refused, not taken for a file name): not in
# --print-config sh (which smugglr(1) evaluates and passes on as
# --remote-name, so into reports and ps), toml or json, not in smugglr
# config, not in smg-fetch's messages; and with a working target at such a
# URL (the D1 runtime), in no verb's output, report, JSON or messages, in
# no argument of a program smugglr starts, in no process ps shows.
# Needs node/npm, curl, jq, sqlite3 (tests/d1-lib.sh).
. ./lib.sh

sqlite3 local.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
cat >c.toml <<'TOML'
local_db = "local.db"
[target]
url = "https://alice:s3cretPW@127.0.0.1:9/db"
TOML

check "print-config sh runs" smg-diff -c c.toml --print-config sh
cp .out sh.out
check_nogrep "print-config sh: no password" 's3cretPW' sh.out
check_nogrep "print-config sh: no user" 'alice' sh.out
check_grep "print-config sh: the label is the URL without user:password@" \
	"^smg_target_label='https://127.0.0.1:9/db'\$" sh.out
check_grep "print-config sh: so is the URL" "^smg_target_url='https://127.0.0.1:9/db'\$" sh.out

# a URL on the command line: the failure names the target, not its password
smg-fetch -q 'https://alice:s3cretPW@127.0.0.1:9/db' >fetch.out 2>fetch.err
rc=$?
check_eq "smg-fetch of an unreachable URL fails" "$([ $rc -ne 0 ] && echo yes)" yes
check_grep "smg-fetch: the message names the target" '127.0.0.1:9/db' fetch.err
check_nogrep "smg-fetch: no password in its messages" 's3cretPW' fetch.err

# a URL without its scheme (curl takes it for http), and a password that
# holds an '@': hidden whole all the same
for u in 'alice:s3cretPW@127.0.0.1:9/db|127.0.0.1:9/db' 'https://alice:s3c@retPW@127.0.0.1:9/db|https://127.0.0.1:9/db'; do
	printf 'local_db = "local.db"\n[target]\nurl = "%s"\n' "${u%|*}" >u.toml
	for fmt in sh toml json; do
		smg-diff -c u.toml --print-config $fmt >u.out 2>&1
		check_nogrep "print-config $fmt of ${u#*|}: no password, no user" 's3c\|retPW\|alice' u.out
	done
	smg-diff -c u.toml --print-config sh >u.sh 2>&1
	check_grep "... the label is the URL without user:password@" "^smg_target_label='${u#*|}'\$" u.sh
done
# one on the command line is no file name: refused (exit 2), never shown
for p in smg-fetch smg-apply; do
	$p -q 'alice:s3cretPW@127.0.0.1:9/db' </dev/null >nos.out 2>nos.err
	check_eq "$p alice:PASSWORD@host/db (no scheme): exit 2" "$?" 2
	check_nogrep "... no password, no user in its message" 's3cretPW\|alice' nos.err
	check_grep "... which says a URL needs its scheme" '127.0.0.1:9/db (user:password hidden): a URL needs its scheme' nos.err
done

# ---- toml and json: the same URL without user:password@ ---------------------------
for fmt in toml json; do
	smg-diff -c c.toml --print-config $fmt >$fmt.out 2>$fmt.err; rc=$?
	check_eq "print-config $fmt: exit 0" "$rc" 0
	check_nogrep "print-config $fmt: no password" 's3cretPW' $fmt.out
	check_nogrep "print-config $fmt: no user" 'alice' $fmt.out
	check_grep "print-config $fmt: the URL without user:password@" '"https://127.0.0.1:9/db"' $fmt.out
done
printf '[stash]\nurl = "s3://b/relay.db"\nendpoint = "http://bob:stashPW@127.0.0.1:9"\n' >>c.toml
smg-diff -c c.toml --print-config toml >toml.out 2>&1
check_nogrep "print-config toml: no password in [stash] endpoint" 'stashPW\|bob' toml.out
check_grep "... which shows without it" '^endpoint = "http://127.0.0.1:9"$' toml.out
sh "$SMG_TOP/bin/smugglr" -c c.toml config >cfg.out 2>&1
check_nogrep "smugglr config: no password, no user" 's3cretPW\|stashPW\|alice\|bob' cfg.out
sh "$SMG_TOP/bin/smugglr" -c c.toml -o json config >cfg.out 2>&1
check_nogrep "smugglr -o json config: no password, no user" 's3cretPW\|stashPW\|alice\|bob' cfg.out

# ---- a working target whose URL has a password: every verb, every output ---------
# The D1 runtime (tests/d1) through the generic profile, at a URL with
# user:password@ (curl sends it as Basic auth; the runtime takes the bearer
# token).  Every smg-* program smugglr starts runs through a wrapper that
# logs its arguments, and ps is watched while the verbs run: the password
# is in no output, no report, no JSON and no child's arguments.
. "$SMG_TOP/tests/d1-lib.sh"
pw="pw$$x$(date +%N)"
url=$(printf '%s' "$D1_RAW_URL" | sed "s|://|://alice:$pw@|")
schema="CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, updated_at TEXT);"
d1sql "$schema INSERT INTO t VALUES (1, 'remote', '2026-01-01'), (2, 'both', '2026-01-01');"
sqlite3 l.db "$schema INSERT INTO t VALUES (2, 'both', '2026-01-01'), (3, 'local', '2026-01-01');"
printf 'local_db = "l.db"\n[target]\nurl = "%s"\nprofile = "generic"\n[sync]\nmax_retries = 1\n' "$url" >w.toml

# the checks take the password from a file: the test's own greps must not
# show it to the ps watcher either
printf '%s\n' "$pw" >pw.pat
no_pw() {	# WHAT FILE
	if grep -q -F -f pw.pat "$2"; then fail "$1 (the password is in $2)"; else ok "$1"; fi
}
mkdir bin
cp "$SMG_TOP/bin/smugglr" bin/
for p in smg-hash smg-diff smg-apply smg-fetch smg-s3; do
	printf '#!/bin/sh\nprintf "%%s\\n" "%s $*" >>"%s/argv.log"\nexec "%s" "$@"\n' \
		"$p" "$T" "$SMG_BUILD/bin/$p" >bin/$p
	chmod +x bin/$p
done
: >argv.log
wsmugglr() { env -u SMG_BUILD SMUGGLR_EXEC_PATH="$SMG_TOP/libexec/smugglr" sh bin/smugglr -c w.toml "$@"; }
( while :; do ps -eo args 2>/dev/null; sleep 0.05; done ) >ps.log &
watcher=$!
for verb in status diff "push -n" pull push sync "watch --ticks 1 --interval 1"; do
	for fmt in text json; do
		# shellcheck disable=SC2086	# the verb and its options
		wsmugglr -v -o $fmt $verb >v.out 2>v.err; rc=$?
		check_eq "smugglr -v -o $fmt $verb to a URL with a password: exit 0" "$rc" 0
		no_pw "... no password in its output" v.out
		no_pw "... nor in its messages (-v: the commands it runs)" v.err
		check_nogrep "... nor the user" 'alice' v.out
	done
done
check_grep "the reports name the target by its URL without user:password@" \
	"$(printf '%s' "$D1_RAW_URL" | sed 's/[.[\*^$]/\\&/g')" v.out
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null
check_grep "the wrapped programs ran (smg-fetch, for one)" '^smg-fetch ' argv.log
check_grep "... and smg-apply wrote to the target" '^smg-apply .*--only remote' argv.log
no_pw "no smg-* program smugglr started had the password in its arguments" argv.log
check_grep "ps saw the verbs run" 'bin/smugglr -c w.toml' ps.log
no_pw "... and no process with the password in its arguments" ps.log

# and when the target cannot be reached: the error, text and JSON
sed "s|://alice:$pw@[^/]*|://alice:$pw@127.0.0.1:9|" w.toml >x.toml
check_grep "(the unreachable URL has the password)" "^url = \"http://alice:$pw@127.0.0.1:9/" x.toml
for fmt in text json; do
	env -u SMG_BUILD SMUGGLR_EXEC_PATH="$SMG_TOP/libexec/smugglr" sh bin/smugglr -c x.toml -o $fmt push >v.out 2>v.err; rc=$?
	check_eq "smugglr -o $fmt push to an unreachable URL with a password: exit 4" "$rc" 4
	no_pw "... no password in its output" v.out
	no_pw "... nor in its messages" v.err
done
