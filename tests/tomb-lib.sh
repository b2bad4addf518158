# tests/tomb-lib.sh - sourced (after lib.sh) by the tombstone tests
# (tests/t/tombstones*.sh): the three machines' scenario they share, each
# carrying it over its own way (files, the relay, the beacon).  m1.db,
# m2.db and m3.db hold the tracked table items (ids 1..10, all $OLD); each
# round's edits are below, the checks stay in each test.

NOW="strftime('%Y-%m-%dT%H:%M:%fZ','now')"
# shellcheck disable=SC2034 # for the tests that source this file
OLD="'2026-01-01T00:00:00Z'"
sq() { sqlite3 "$@"; }
names() { sq "$1" "SELECT group_concat(id || '=' || name, ' ') FROM (SELECT * FROM items ORDER BY id)"; }
tombs() { sq "$1" "SELECT group_concat(key, ' ') FROM (SELECT key FROM _smugglr_tombstones ORDER BY key)"; }
# a moment, so that the next write's time is later than the last one's
tick() { sleep 0.02; }

# Round 1: each machine deletes, edits and inserts; m1 also deletes a row of
# the untracked table plain.
tomb_round1() {
	sq m1.db "DELETE FROM items WHERE id IN (1, 2); UPDATE items SET name='e3', updated_at=$NOW WHERE id=3;
		INSERT INTO items VALUES (11, 'n11', $NOW); DELETE FROM plain WHERE id=1"
	sq m2.db "DELETE FROM items WHERE id=4; UPDATE items SET name='e5', updated_at=$NOW WHERE id=5;
		INSERT INTO items VALUES (12, 'n12', $NOW)"
	sq m3.db "DELETE FROM items WHERE id=6; UPDATE items SET name='e7', updated_at=$NOW WHERE id=7;
		INSERT INTO items VALUES (13, 'n13', $NOW)"
}

# Round 2: deletes against edits.
tomb_round2() {
	sq m1.db "DELETE FROM items WHERE id=8"; tick
	sq m3.db "UPDATE items SET name='late8', updated_at=$NOW WHERE id=8"	# newer than the delete
	sq m2.db "UPDATE items SET name='early9', updated_at=$NOW WHERE id=9"; tick
	sq m3.db "DELETE FROM items WHERE id=9"					# newer than the edit
	sq m2.db "DELETE FROM items WHERE id=10"; tick
	sq m3.db "DELETE FROM items WHERE id=10"				# deleted twice
	sq m1.db "INSERT INTO items VALUES (1, 'again1', $NOW)"			# a deleted key born again
}
