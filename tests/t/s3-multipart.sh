# s3-multipart.sh - smg-s3 put in parts (multipart upload) against
# moto_server, with a part size small enough to force many parts (moto is
# told to accept parts that small): the object comes back byte for byte,
# the condition holds on completion, memory stays flat whatever the size,
# and smugglr's snapshot and restore go through it.  Needs moto_server,
# curl, sqlite3, sqldiff, GNU time.
TESTS=$PWD
. ./lib.sh
. "$TESTS/moto.sh"
need_tools "the multipart tests" curl sqlite3 sqldiff
[ -x /usr/bin/time ] || { fail "GNU time (/usr/bin/time) is needed by the multipart tests"; exit 0; }
cleanup_hook() { moto_stop; }
moto_start S3_UPLOAD_PART_MIN_SIZE=1024

AWS_ACCESS_KEY_ID=AKIDPARTS AWS_SECRET_ACCESS_KEY=parts-secret AWS_REGION=us-east-1
SMG_S3_ENDPOINT=$E
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION SMG_S3_ENDPOINT
unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION SMG_S3_PART_SIZE
curl -sf -X PUT "$E/parts" >/dev/null || { fail "moto makes the bucket"; exit 1; }
B=s3://parts

head -c 3000000 /dev/urandom >three.bin
check "put 3 MB in parts of 64 KiB" smg-s3 --part-size 65536 --etag-file e1 put $B/three three.bin
check_grep "...a multipart ETag: 46 parts" '^[0-9a-f]\{32\}-46$' e1
check "get it back" smg-s3 get $B/three three.back
check_eq "...byte for byte" "$(sum_file three.back)" "$(sum_file three.bin)"
check "head" smg-s3 head $B/three
check_grep "...its size" "	3000000	" "$T/.out"
check_exit 6 "put --if-none-match in parts onto an object that exists: exit 6" \
	smg-s3 --part-size 65536 --if-none-match put $B/three e1
check "...the object is the same" smg-s3 get $B/three three.back2
check_eq "...byte for byte" "$(sum_file three.back2)" "$(sum_file three.bin)"
check_nogrep "...and no upload is left behind (aborted)" '<Upload>' "$(curl -s "$E/parts?uploads" >uploads.xml; echo uploads.xml)"
check "put --if-none-match in parts under a new key" smg-s3 --part-size 65536 --if-none-match put $B/new three.bin
check "from a pipe, in parts (SMG_S3_PART_SIZE)" sh -c "cat three.bin | SMG_S3_PART_SIZE=100000 smg-s3 --etag-file e2 put $B/piped -"
check_grep "...30 parts" '^[0-9a-f]\{32\}-30$' e2
check "...comes back whole" smg-s3 get $B/piped piped.back
check_eq "...byte for byte" "$(sum_file piped.back)" "$(sum_file three.bin)"
# the part size from the configuration, below the environment and the option
printf '[stash]\npart_size = 65536\n' >parts.toml
check "[stash] part_size = 65536: put 3 MB" smg-s3 -c parts.toml --etag-file e4 put $B/cfg three.bin
check_grep "...in 46 parts" '^[0-9a-f]\{32\}-46$' e4
check "SMG_S3_PART_SIZE wins over it" env SMG_S3_PART_SIZE=1000000 smg-s3 -c parts.toml --etag-file e5 put $B/cfg three.bin
check_grep "...3 parts" '^[0-9a-f]\{32\}-3$' e5
check "--part-size wins over both" env SMG_S3_PART_SIZE=1000000 smg-s3 -c parts.toml --part-size 0 --etag-file e6 put $B/cfg three.bin
check_grep "...one PUT" '^[0-9a-f]\{32\}$' e6
printf '[stash]\npart_size = -1\n' >badparts.toml
check_exit 2 "[stash] part_size = -1: exit 2" smg-s3 -c badparts.toml put $B/x three.bin
check_grep "...naming the key" 'stash.part_size must be between 0 and' "$T/.err"
check "--part-size 0: one PUT" smg-s3 --part-size 0 --etag-file e3 put $B/whole three.bin
check_grep "...a plain ETag" '^[0-9a-f]\{32\}$' e3
check_exit 2 "--part-size that is not a number: exit 2" smg-s3 --part-size lots put $B/x three.bin
check_exit 2 "more than 10000 parts: exit 2" smg-s3 --part-size 100 put $B/x three.bin

# memory stays flat: 8 MB and 64 MB in parts of 256 KiB, maximum RSS alike
truncate -s 8M small.bin; truncate -s 64M large.bin
rss() { /usr/bin/time -f %M -o rss.out smg-s3 --part-size 262144 put "$B/$1" "$1" && cat rss.out; }
r8=$(rss small.bin) r64=$(rss large.bin)
echo "# maximum RSS: $r8 KiB for 8 MB, $r64 KiB for 64 MB"
check_eq "memory flat: 64 MB in 256 parts takes under 4 MB more than 8 MB" \
	"$([ -n "$r8" ] && [ -n "$r64" ] && [ $((r64 - r8)) -lt 4096 ] && echo yes)" yes
check "...and comes back whole" smg-s3 get $B/large.bin large.back
check_eq "...byte for byte" "$(sum_file large.back)" "$(sum_file large.bin)"

# snapshot and restore through parts
sqlite3 app.db "CREATE TABLE items(id INTEGER PRIMARY KEY, body TEXT);
 WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
 INSERT INTO items SELECT i, hex(randomblob(40)) FROM c"
cat >app.toml <<CFG
local_db = "app.db"
[stash]
url = "$B/team/relay.db"
endpoint = "$E"
CFG
SMG_S3_PART_SIZE=65536
export SMG_S3_PART_SIZE
check "snapshot of a database larger than a part" smugglr -c app.toml -o json snapshot
snap=$(sed -n 's/^{"command":"snapshot","dry_run":false,"snapshot":"\([0-9TZ]*\)".*/\1/p' "$T/.out")
check "the snapshot is in parts" smg-s3 head "$B/team/snapshots/$snap.sqlite"
check_grep "...a multipart ETag" '	[0-9a-f]\{32\}-[0-9]*	' "$T/.out"
cp app.db before.db
sqlite3 app.db "DELETE FROM items WHERE id > 100"
check "restore it (checksum and integrity_check first)" smugglr -c app.toml restore "$snap"
check_same_db "...the database is the snapshot (sqldiff)" app.db before.db
unset SMG_S3_PART_SIZE
