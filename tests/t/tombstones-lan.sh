# tests/t/tombstones-lan.sh - deletes of a tracked table on a LAN of network
# namespaces (tests/netns.sh; issue #14): three hosts run smg-beacon daemons
# that find each other by UDP and reconcile over TCP; each host deleted,
# edited or inserted rows before they start.  After they converge every copy
# is the same (sqldiff, tombstones included), no deleted row came back, the
# untracked table behaves as before (its deleted row comes back), and an
# edit newer than a delete of the same row wins under newer_wins.  The same
# exchange over pipes, round by round: t/tombstones-beacon.sh.
. ./lib.sh
top=${SMG_TOP:?SMG_TOP is set by tests/run}
. "$top/tests/netns.sh"

need_tools "the tombstone LAN test" sqlite3 sqldiff
bin=$(command -v smg-beacon) || { fail "smg-beacon is not built"; exit 0; }

netns_host a; netns_host b; netns_host c
netns_lan 1 2 a b c
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/key"
mkdir "$T/tmp"
TMPDIR=$T/tmp; export TMPDIR
OLD="'2026-01-01T00:00:00Z'"

sqlite3 "$T/a.db" "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
	CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10)
	INSERT INTO items SELECT i, 'r' || i, $OLD FROM n;
	INSERT INTO plain VALUES (1, 'a'), (2, 'b');"
smg-apply --track -t items "$T/a.db" >/dev/null
cp "$T/a.db" "$T/b.db"
cp "$T/a.db" "$T/c.db"
sqlite3 "$T/a.db" "DELETE FROM items WHERE id IN (1, 2); DELETE FROM plain WHERE id = 1;
	DELETE FROM items WHERE id = 5"
sleep 0.05
sqlite3 "$T/b.db" "UPDATE items SET name = 'b3', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 3;
	UPDATE items SET name = 'b5 after the delete', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = 5"
sqlite3 "$T/c.db" "DELETE FROM items WHERE id = 4; INSERT INTO items VALUES (11, 'c11', $OLD)"

for h in a b c; do
	nsbg "$h" "$bin" --interval 0.3 --peer-timeout 5 -p newer_wins --secret-file "$T/key" \
		"$T/$h.db" >"$T/$h.out" 2>"$T/$h.err"
	eval "p$h=\$!"
done
want="3=b3 5=b5 after the delete 6=r6 7=r7 8=r8 9=r9 10=r10 11=c11"
names() {
	sqlite3 "$1" "SELECT group_concat(id || '=' || name, ' ') FROM (SELECT * FROM items ORDER BY id)" 2>/dev/null
}
n=0
until { [ "$(names "$T/a.db")" = "$want" ] && [ "$(names "$T/b.db")" = "$want" ] &&
	[ "$(names "$T/c.db")" = "$want" ]; } || [ $n -gt 300 ]; do
	sleep 0.2; n=$((n + 1))
done
sleep 1	# the last exchanges end
# shellcheck disable=SC2154 # set by the eval above
kill -TERM "$pa" "$pb" "$pc"; wait "$pa" "$pb" "$pc"
check_eq "3 hosts: the deletes, the edits and the insert reached a" "$(names "$T/a.db")" "$want"
check_same_db "3 hosts: a = b, rows and tombstones" "$T/a.db" "$T/b.db"
check_same_db "3 hosts: b = c, rows and tombstones" "$T/b.db" "$T/c.db"
check_eq "... the tombstones of the deleted rows, the one an edit beat gone" \
	"$(sqlite3 "$T/b.db" "SELECT group_concat(key, ' ') FROM (SELECT key FROM _smugglr_tombstones ORDER BY key)")" \
	"[1] [2] [4]"
check_eq "... the untracked table as before: its deleted row came back" \
	"$(sqlite3 "$T/a.db" "SELECT count(*) FROM plain")" 2
exit 0
