# smugglr broadcast: the porcelain runs smg-beacon with the config, on two
# hosts joined by a real (veth + bridge) LAN in network namespaces.
. ./lib.sh
top=${SMG_TOP:?SMG_TOP is set by tests/run}
. "$top/tests/netns.sh"
command -v smg-beacon >/dev/null || { fail "smg-beacon is not built"; exit 0; }
S="$top/bin/smugglr"

netns_host a; netns_host b
netns_lan 1 7 a b
key=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')

schema="CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, data BLOB, updated_at TEXT);"
sqlite3 a.db "$schema INSERT INTO items VALUES (1,'from a',x'00ff','2026-11-25T10:00:00Z'), (2,'both, a older','a','2026-11-25T09:00:00Z');"
sqlite3 b.db "$schema INSERT INTO items VALUES (3,'from b',NULL,'2026-11-25T10:00:00Z'), (2,'both, b newer','b','2026-11-25T11:00:00Z');"
for h in a b; do
	cat >"$h.toml" <<TOML
local_db = "$T/$h.db"
[sync]
conflict_resolution = "newer_wins"
[broadcast]
port = 31399
interval_secs = 1
secret = "$key"
TOML
done

# --dry-run first: both discover, neither writes
before="$(sum_file a.db) $(sum_file b.db)"
nsbg a sh "$S" -c "$T/a.toml" -o json --once --dry-run broadcast >a-dry.out 2>a-dry.err; pa=$!
nsbg b sh "$S" -c "$T/b.toml" -o json --once --dry-run broadcast >b-dry.out 2>b-dry.err; pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
check_eq "broadcast --once --dry-run on both hosts: exit 0" "$ra $rb" "0 0"
check_eq "... nothing written on either" "$(sum_file a.db) $(sum_file b.db)" "$before"

nsbg a sh "$S" -c "$T/a.toml" -o json --once broadcast >a.out 2>a.err; pa=$!
nsbg b sh "$S" -c "$T/b.toml" -o json --once broadcast >b.out 2>b.err; pb=$!
wait $pa; ra=$?; wait $pb; rb=$?
check_eq "broadcast --once on both hosts: exit 0" "$ra $rb" "0 0"
check_same_db "the two databases converge (sqldiff)" a.db b.db
check_eq "... the newer version of row 2 won" "$(sqlite3 a.db 'SELECT name FROM items WHERE id = 2')" "both, b newer"
check_eq "... the blob stayed a blob" "$(sqlite3 b.db 'SELECT typeof(data), hex(data) FROM items WHERE id = 1')" "blob|00FF"
check_eq "-o json: one JSON object on stdout" \
	"$(python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]; print(sum(1 for _ in open(sys.argv[1])))' a.out 2>&1)" 1

check_exit 2 "without a secret and without --insecure: refused (exit 2)" \
	sh "$S" -c /dev/null -o json --once broadcast
check_grep "... and the refusal is a JSON error" '"exit_code"' .out
check_exit 2 "--once goes with broadcast only" sh "$S" -c "$T/a.toml" --once status

# the daemon: SIGTERM to smugglr reaches smg-beacon, which stops cleanly
nsbg a sh "$S" -c "$T/a.toml" -o json broadcast >d.out 2>d.err; pd=$!
n=0; until grep -q "port" d.err 2>/dev/null || [ $n -gt 50 ]; do sleep 0.1; n=$((n + 1)); done
sleep 0.5
kill -TERM $pd
n=0; while kill -0 $pd 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
alive=no; kill -0 $pd 2>/dev/null && alive=yes
wait $pd; rd=$?
check_eq "broadcast as a daemon stops on SIGTERM, exit 0" "$alive $rd" "no 0"
