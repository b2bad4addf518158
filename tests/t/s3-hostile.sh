# s3-hostile.sh - smg-s3 against an S3 endpoint that lies (tests/hostile-http.py):
# garbage and endless listings, keys no file name can hold, a server that
# trickles, stalls or cuts a body short.  Each ends in one clear line and
# the documented exit code (4 network or deadline, 7 malformed answer)
# within its deadline, with nothing listed and the output file untouched.
# Uploads to a server that never answers end the same way.
# Needs python3 (standard library only), timeout, mkfifo, GNU date.
TESTS=$PWD
. ./lib.sh
need_tools s3-hostile.sh python3 timeout mkfifo

python3 "$TESTS/hostile-http.py" "$T/port" 2>"$T/server.log" &
server_pid=$!
cleanup_hook() { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; :; }
i=0
until [ -s "$T/port" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then fail "hostile-http.py starts"; cat "$T/server.log"; exit 0; fi
	sleep 0.1
done
ok "hostile-http.py starts"
SMG_S3_ENDPOINT=http://127.0.0.1:$(cat "$T/port")
AWS_ACCESS_KEY_ID=AKIDHOSTILE AWS_SECRET_ACCESS_KEY=hostile AWS_REGION=us-east-1
export SMG_S3_ENDPOINT AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION

ms() { date +%s%3N; }
# timed CODE MAX_SECS WHAT CMD...: exits CODE within MAX_SECS seconds (a
# hang is cut at 60 s and fails)
timed() {
	want=$1 max=$2 what=$3; shift 3
	t0=$(ms)
	check_exit "$want" "$what: exit $want" timeout 60 "$@"
	took=$(( $(ms) - t0 ))
	# not check(): $T/.err must stay the command's
	if [ "$took" -le $((max * 1000)) ]; then ok "$what: ends within $max s (took $took ms)"
	else fail "$what: ends within $max s (took $took ms)"; fi
}
no_output() { check_eq "$1: nothing on stdout" "$(wc -c <"$T/.out")" 0; }

# ---- listings ---------------------------------------------------------------------
for b in garbage html; do
	check_exit 7 "a $b listing: exit 7" smg-s3 list "s3://$b/"
	check_grep "...says it is not a listing" '^smg-s3: malformed listing: not a ListBucketResult document (.* bytes, starting ".*") (bucket '"$b"')$' "$T/.err"
	no_output "a $b listing"
done
timed 7 10 "a continuation token repeated at once" smg-s3 list "s3://loop/"
check_grep "...names the token" 'continuation token "same" given again after 2 pages: the listing would never end' "$T/.err"
no_output "a repeated token"
timed 7 10 "a continuation token repeated after a cycle" smg-s3 list "s3://cycle/"
check_grep "...names the token" 'continuation token "A" given again after 3 pages' "$T/.err"
no_output "a cycle of tokens: the pages before are not listed either;"
check_exit 7 "a truncated page without a token: exit 7" smg-s3 list "s3://notoken/"
check_grep "...says so" 'a truncated page without a <NextContinuationToken>' "$T/.err"
check_exit 7 "IsTruncated neither true nor false: exit 7" smg-s3 list "s3://badtrunc/"
check_exit 7 "an object without a Size: exit 7" smg-s3 list "s3://nosize/"
check_exit 7 "a key holding &#0;: exit 7" smg-s3 list "s3://nul/"
check_grep "...names the key as the store wrote it" 'key "a&#0;b" (as the store wrote it) holds the character U+0000 (NUL), which no key can hold' "$T/.err"
no_output "a key holding NUL: not even the good key before it;"
check_exit 7 "a URL-encoded key holding %00: exit 7" smg-s3 list "s3://pct-nul/"
check_grep "...names the key" 'key "a%00b"' "$T/.err"
check_exit 7 "a key with an entity XML does not define: exit 7" smg-s3 list "s3://badentity/"
check_grep "...says which" 'key "a&bogus;b" (as the store wrote it) holds an entity XML does not define' "$T/.err"

# Keys decoded exactly: character references (decimal and hex, past the
# BMP), named entities; control characters escaped in the text output.
check "keys with a newline, a tab, a backslash, an emoji" smg-s3 list "s3://keys/"
check_eq "text: one line an object" "$(wc -l <"$T/.out")" 6
check_eq "text: escaped keys" "$(cut -f1 "$T/.out" | tr '\n' '|')" \
	'line1\nline2|tab\tx|back\\slash|smile😀|café|amp&lt<|'
check_eq "text: four fields a line" "$(awk -F'\t' 'NF != 4' "$T/.out" | wc -l)" 0
check "the same keys as JSON" smg-s3 -o json list "s3://keys/"
check_eq "JSON: keys decoded exactly" "$(python3 -c '
import json, sys
keys = [json.loads(line)["key"] for line in open(sys.argv[1])]
print(keys == ["line1\nline2", "tab\tx", "back\\slash", "smile\U0001F600", "caf\u00e9", "amp&lt<"])' "$T/.out")" True
check "URL-encoded keys (EncodingType url)" smg-s3 -o json list "s3://urlkeys/"
check_eq "URL-encoded keys decoded: %0A, + as space, %2B, UTF-8" "$(python3 -c '
import json, sys
print([json.loads(line)["key"] for line in open(sys.argv[1])] == ["a\nb c+", "caf\u00e9"])' "$T/.out")" True

nl='
'
check_exit 3 "a missing object whose key holds a newline: exit 3" smg-s3 get "s3://nosuch/a${nl}b" out
check_eq "...the diagnostic stays one line" "$(wc -l <"$T/.err")" 1
check_grep "...with the newline escaped" '^smg-s3: NoSuchKey: .*(bucket nosuch, key a\\nb)$' "$T/.err"

# ---- head -------------------------------------------------------------------------------
check "head" smg-s3 head s3://ok/k
check_grep "...gives the size" '^k	15	d41d8cd98f00b204e9800998ecf8427e	' "$T/.out"
check_exit 7 "head answered without a Content-Length: exit 7" smg-s3 head s3://nolength/k
check_grep "...says so" 'malformed answer: HEAD without a numeric Content-Length (bucket nolength, key k)' "$T/.err"
no_output "a head without a size"

# ---- downloads ------------------------------------------------------------------------
echo keep >out
timed 4 8 "one byte a second, low-speed limit 1024 B/s over 2 s" \
	smg-s3 --retries 0 --low-speed 1024 --low-speed-time 2 get s3://trickle/k out
check_grep "...says it was too slow" '^smg-s3: GET s3://trickle/k: Operation too slow' "$T/.err"
check_eq "...and leaves the output file alone" "$(cat out)" keep
timed 4 8 "one byte a second, with retries: the 3 s deadline ends it" \
	smg-s3 --retries 5 --timeout 3 --low-speed 1 --low-speed-time 1000 get s3://trickle/k out
check_grep "...naming the deadline" 'deadline of 3 s reached' "$T/.err"
check_eq "...and leaves the output file alone" "$(cat out)" keep
timed 4 8 "no answer at all: the low-speed limit ends it" \
	smg-s3 --retries 0 --low-speed-time 2 get s3://stall/k out
timed 4 8 "no answer at all, with retries: the 4 s deadline ends it" \
	smg-s3 --retries 3 --timeout 4 --low-speed-time 3 get s3://stall/k out
check_eq "...and leaves the output file alone" "$(cat out)" keep
cat >limits.toml <<CFG
[stash]
timeout_secs = 3
low_speed_limit = 1
low_speed_secs = 1000
CFG
timed 4 8 "[stash] timeout_secs = 3 in a config file" smg-s3 -c limits.toml get s3://trickle/k out
check_eq "...and leaves the output file alone" "$(cat out)" keep

timed 4 10 "a body cut short of its Content-Length, retried once" smg-s3 --retries 1 get s3://short/k out
check_grep "...names both numbers" '^smg-s3: GET s3://short/k: the body was cut short: Content-Length 1000 bytes, 10 received; gave up after 2 attempts$' "$T/.err"
check_eq "...and leaves the output file alone" "$(cat out)" keep
check_eq "no temporary file is left" "$(ls -a | grep -c '\.smg-tmp\.')" 0
check_exit 4 "cut short on stdout: exit 4 (what came went through)" smg-s3 --retries 0 get s3://short/k -

# ---- uploads -----------------------------------------------------------------------------
echo body >body
check "put" smg-s3 put s3://ok/k body
timed 4 8 "a put nobody answers: the low-speed limit ends it" \
	smg-s3 --retries 0 --low-speed-time 2 put s3://stall/k body
timed 4 8 "a put nobody answers, with retries: the 3 s deadline ends it" \
	smg-s3 --retries 5 --timeout 3 put s3://stall/k body

mkfifo fifo
timeout 20 cat fifo >fifo.out &
reader=$!
check "get to a FIFO" timeout 20 smg-s3 get s3://ok/k fifo
wait $reader
check_eq "...the reader got the object" "$(cat fifo.out)" "hello, hostile"
check "...and the FIFO is still one" test -p fifo
