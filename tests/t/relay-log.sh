# relay-log.sh - the relay as a log on a file:// relay: the cases of
# tests/relay-log-cases.sh.  Needs sqlite3, sqldiff, setsid, truncate.
TESTS=$PWD
. ./lib.sh
need_tools "the relay log tests" sqlite3 sqldiff setsid truncate
mkdir -p "$T/store/team"
RELAY=file://$T/store/team
STASH_EXTRA=
. "$TESTS/relay-log-cases.sh"
