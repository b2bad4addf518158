# relay-log-s3.sh - the relay as a log on moto_server: the cases of
# tests/relay-log-cases.sh, with every request going through
# tests/relay-proxy.py, which counts the bytes on the wire, so that what a
# one-row stash or retrieve moves is measured outside smugglr.  Needs
# moto_server, python3, curl, sqlite3, sqldiff, setsid, truncate.
TESTS=$PWD
. ./lib.sh
. "$TESTS/moto.sh"
need_tools "the relay log tests" python3 sqlite3 sqldiff setsid truncate
proxy_pid=
cleanup_hook() { [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null; moto_stop; }
moto_start

python3 "$TESTS/relay-proxy.py" "$T/proxy.port" "$T/proxy.count" "$PORT" 2>"$T/proxy.err" &
proxy_pid=$!
i=0
while [ ! -s "$T/proxy.port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
[ -s "$T/proxy.port" ] || { fail "the byte-counting proxy starts"; cat "$T/proxy.err"; exit 1; }
proxy_bytes() { cat "$T/proxy.count"; }

AWS_ACCESS_KEY_ID=AKIDRELAYTEST AWS_SECRET_ACCESS_KEY=relay-test-secret AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION SMG_S3_ENDPOINT
curl -sf -X PUT "$E/smg-relay-log" >/dev/null || { fail "moto makes the bucket"; exit 1; }
RELAY=s3://smg-relay-log/team
STASH_EXTRA="endpoint = \"http://127.0.0.1:$(cat "$T/proxy.port")\"
path_style = true"
. "$TESTS/relay-log-cases.sh"
