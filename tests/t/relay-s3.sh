# relay-s3.sh - smugglr stash, retrieve, snapshot, snapshots and restore
# through an S3 relay: moto_server on a free loopback port (it honours
# If-Match and If-None-Match on PUT), the endpoint taken from the config's
# [stash] table, s3cmd as an independent client.  The cases are
# tests/relay-cases.sh, shared with relay.sh.  Needs moto_server, s3cmd,
# curl, sqlite3, sqldiff, GNU date.
#
# moto runs without IAM here (s3.sh checks signatures and credentials):
# moto checks a signature against werkzeug's rebuilt URL, which turns the
# %2F that SigV4 wants in a list prefix back into '/', so listing
# snapshots under "team/snapshots/" would fail there, though AWS accepts it.
TESTS=$PWD
. ./lib.sh
. "$TESTS/moto.sh"

BUCKET=smg-relay
cleanup_hook() { relay_cleanup; moto_stop; }
moto_start

AWS_ACCESS_KEY_ID=AKIDRELAYTEST AWS_SECRET_ACCESS_KEY=relay-test-secret AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION SMG_S3_ENDPOINT
s3cmd_config
check "s3cmd creates the bucket" s3cmd mb "s3://$BUCKET"

RELAY=s3://$BUCKET/team
STASH_EXTRA="endpoint = \"$E\"
path_style = true"
. "$TESTS/relay-cases.sh"

# ---- an independent client reads what the verbs wrote ---------------------------
check "s3cmd gets the relay" s3cmd get --force "s3://$BUCKET/team/relay.db" s3cmd-relay.db
fetch relay.db smg-relay.db 2>/dev/null
check_eq "s3cmd: the same relay, byte for byte" "$(sum_file s3cmd-relay.db)" "$(sum_file smg-relay.db)"
check "s3cmd lists the snapshots" s3cmd ls "s3://$BUCKET/team/snapshots/"
check_grep "s3cmd: snapshot and metadata side by side" "s3://$BUCKET/team/snapshots/$s1\\.json" "$T/.out"
check_grep "s3cmd: the snapshot" "s3://$BUCKET/team/snapshots/$s1\\.sqlite" "$T/.out"
