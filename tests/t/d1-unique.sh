# d1-unique.sh - UNIQUE constraints against Cloudflare's runtime
# (scripts/d1-server): a source state that satisfies its own UNIQUE
# constraints applies to D1 whatever the order of its rows (two rows
# swapping a value, three rotating one, a renumbered chain, a value moved
# to a new row), inside one atomic batch, with compare-and-set kept and
# without ever deleting a row (a child's ON DELETE CASCADE would fire).  A
# row that really breaks a constraint of D1: exit 7 naming table, constraint
# and key (found by sending the batch again, cut, with a statement that
# always fails, so nothing commits), nothing of the batch written.  sqldiff on D1's own file is the oracle.
# Needs node/npm, curl, jq, sqlite3, sqldiff.
. ./lib.sh
. "$SMG_TOP/tests/d1-lib.sh"
mkdir -p "$T/tmp"; TMPDIR=$T/tmp; export TMPDIR

schema="CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE,
  name TEXT CHECK (length(name) < 20), pos INTEGER NOT NULL, UNIQUE(pos));
CREATE TABLE posts(id INTEGER PRIMARY KEY, uid INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  author TEXT REFERENCES users(email) ON UPDATE CASCADE);
CREATE TABLE seats(row TEXT, num INTEGER, holder TEXT, PRIMARY KEY(row, num)) WITHOUT ROWID;
CREATE UNIQUE INDEX seats_holder ON seats(holder);"
seed="INSERT INTO users VALUES (1,'a@x','ann',1),(2,'b@x','bob',2),(3,'c@x','cy',3),(4,'d@x','dee',4),(5,'e@x','eve',5);
INSERT INTO posts VALUES (1,1,'a@x'),(2,2,'b@x'),(3,3,'c@x');
INSERT INTO seats VALUES ('A',1,'ann'),('A',2,'bob'),('B',1,NULL);"
sqlite3 local.db "$schema $seed"
d1sql "$schema $seed" || exit 1

# push [smg-apply options]: fetch D1, diff the local file against it, apply;
# the changes in $T/changes, smg-apply's output in .out/.err
push() {
	smg-fetch -q --endpoint "$D1_URL" "$TGT" >remote.ndjson &&
	smg-hash -q local.db | smg-diff -q -d push - remote.ndjson >changes &&
	smg-apply -q --endpoint "$D1_URL" "$TGT" -i changes "$@"
}
reverse() {	# the positions of users 1-5, reversed
	sqlite3 local.db "UPDATE users SET pos = -pos WHERE id > 0;
	UPDATE users SET pos = pos - (SELECT min(pos) + max(pos) FROM users WHERE id > 0) WHERE id > 0;"
}
same() {	# WHAT: every table of local.db as on D1
	for t in users posts seats; do check_same_table "$1: $t (sqldiff)" local.db "$D1_SQLITE" $t; done
}

# 1 and 2 swap emails, 3 -> 4 -> 5 -> 3 rotate theirs (case differs: the
# index is NOCASE), positions reversed, seats swap holders.
sqlite3 local.db "UPDATE users SET email='tmp', pos=-1 WHERE id=1; UPDATE users SET email='A@x', pos=-2 WHERE id=2;
UPDATE users SET email='b@x' WHERE id=1; UPDATE users SET email='tmp' WHERE id=3;
UPDATE users SET email='C@X' WHERE id=5; UPDATE users SET email='e@x' WHERE id=4; UPDATE users SET email='d@x' WHERE id=3;
UPDATE users SET pos = -pos; UPDATE users SET pos = 6 + pos;
UPDATE seats SET holder=NULL WHERE num=1 AND row='A'; UPDATE seats SET holder='ann' WHERE num=2;
UPDATE seats SET holder='bob' WHERE row='A' AND num=1;"
d1sql "UPDATE posts SET author = NULL" || exit 1	# (ON UPDATE CASCADE would have moved them)
sqlite3 local.db "UPDATE posts SET author = NULL"
check_exit 0 "a swap and a 3-cycle of UNIQUE values, positions reversed: exit 0" push -r json
check_eq "... 5 users and 2 seats written, no conflict, in one batch" \
	"$(jq -c '[.upserted, .conflicts, .batches, .complete]' .out)" '[7,0,1,true]'
same "... D1 equals the local file"
check_eq "... the posts of users 1-3 are still there (no row was deleted and inserted)" \
	"$(sqlite3 "$D1_SQLITE" 'SELECT count(*) FROM posts')" 3
check_eq "... and no parked value is left" \
	"$(sqlite3 "$D1_SQLITE" "SELECT count(*) FROM users WHERE email LIKE '%smg-park%' OR typeof(pos) <> 'integer'")" 0
check_exit 0 "a second push: exit 0" push -r json
check_eq "... finds nothing to do" "$(jq -c '[.upserted, .deleted]' .out)" '[0,0]'

# A value moved to a new row, and a chain: positions 1 -> 2 -> ... -> 6.
sqlite3 local.db "UPDATE users SET email='z@x' WHERE id=2; INSERT INTO users VALUES (0,'a@x','new',0);
UPDATE users SET pos = -pos - 1 WHERE id > 0; UPDATE users SET pos = -pos WHERE id > 0;"
check_exit 0 "a UNIQUE value moved to a new row, and a chain of positions: exit 0" push
same "... applied"

# Compare-and-set holds.  A row outside the exchange changed on D1 after
# the diff: left as it is, counted, the exchange written, exit 6.
sqlite3 local.db "UPDATE users SET email='tmp' WHERE id=1; UPDATE users SET email='b@x' WHERE id=4;
UPDATE users SET email='e@x' WHERE id=1; UPDATE users SET name='cy 2' WHERE id=3"
smg-fetch -q --endpoint "$D1_URL" "$TGT" >remote.ndjson
smg-hash -q local.db | smg-diff -q -d push - remote.ndjson >changes
d1sql "UPDATE users SET name='app wrote 3' WHERE id=3" || exit 1
check_exit 6 "a row outside the exchange changed since the diff: exit 6" \
	smg-apply -q -r json --endpoint "$D1_URL" "$TGT" -i changes
check_eq "... 1 conflict, the 2 rows of the swap written" "$(jq -c '[.conflicts, .upserted]' .out)" '[1,2]'
check_eq "... the app's write is still there" "$(sqlite3 "$D1_SQLITE" 'SELECT name FROM users WHERE id=3')" "app wrote 3"
check_eq "... the swap landed" "$(sqlite3 "$D1_SQLITE" 'SELECT group_concat(email, ",") FROM users WHERE id IN (1,4)')" "e@x,b@x"
d1sql "UPDATE users SET name='cy 2' WHERE id=3" || exit 1

# A row of the exchange changed on D1 after the diff: it is not parked and
# still holds the value the other takes, so the batch fails and nothing of
# it is written; a read finds the row changed: a conflict, exit 6.  The
# next diff sees the row and applies.
sqlite3 local.db "UPDATE users SET email='tmp' WHERE id=1; UPDATE users SET email='e@x' WHERE id=4;
UPDATE users SET email='b@x' WHERE id=1"
smg-fetch -q --endpoint "$D1_URL" "$TGT" >remote.ndjson
smg-hash -q local.db | smg-diff -q -d push - remote.ndjson >changes
d1sql "UPDATE users SET name='app wrote 4' WHERE id=4" || exit 1
d1dump() { sqlite3 "$D1_SQLITE" 'SELECT group_concat(id || email || name || pos, ",") FROM users'; }
before=$(d1dump)
check_exit 6 "a row of the exchange changed since the diff: a conflict, exit 6" \
	smg-apply -q -r json --endpoint "$D1_URL" "$TGT" -i changes
check_eq "... 1 conflict, not complete" "$(jq -c '[.conflicts, .complete, .exit]' .out)" '[1,false,6]'
check_grep "... D1's words, and why" 'UNIQUE constraint failed: users.email.*: 1 row of an exchange of UNIQUE values changed since the diff' .err
check_grep "... and that the batch did not land" 'batch 1 and the 0 after it did not land' .err
check_eq "... nothing of the batch written" "$(d1dump)" "$before"
sqlite3 local.db "UPDATE users SET name='app wrote 4' WHERE id=4"
check_exit 0 "... a fresh diff applies: exit 0" push
same "... and D1 equals the local file"

# Rows parked and written land in one batch: after other statements that
# leave too little room, in a batch of their own; more than one batch
# takes, nothing is sent.  (Statements of 2 rows, 6 or 3 per request.)
printf '[sync]\nbatch_size = 2\n[target.profile_options]\nmax_statements = 6\n' >small.toml
reverse
sqlite3 local.db "UPDATE seats SET holder = holder || '!'; INSERT INTO seats VALUES ('C',1,'c1'),('C',2,'c2');"
check_exit 0 "positions reversed after 4 seats, 6 statements a request: exit 0" push -c small.toml -r json
check_eq "... the exchange (2 park + 2 write statements) went in a batch of its own: 2 batches" \
	"$(jq -c '[.upserted, .batches, .landed]' .out)" '[9,2,2]'
same "... D1 equals the local file"
printf '[sync]\nbatch_size = 2\n[target.profile_options]\nmax_statements = 3\n' >small.toml
reverse
before=$(d1dump)
check_exit 7 "an exchange larger than one request: exit 7" push -c small.toml
check_grep "... saying so" 'table "users": 4 rows exchange UNIQUE values among themselves, more than one request takes' .err
check_eq "... nothing was written" "$(d1dump)" "$before"
check_exit 0 "... with the default limits: exit 0" push
same "... applied"

# A row that really breaks a UNIQUE index of D1 (one the local file lacks),
# in the same push as a swap: exit 7 naming table and constraint, and
# nothing of the batch is written.
d1sql "CREATE UNIQUE INDEX users_name ON users(name)" || exit 1
sqlite3 local.db "UPDATE users SET email='tmp' WHERE id=1; UPDATE users SET email='b@x' WHERE id=4;
UPDATE users SET email='e@x' WHERE id=1; UPDATE users SET name='ann' WHERE id=5"
before=$(d1dump)
check_exit 7 "a row that breaks D1's own UNIQUE index: exit 7" push
check_grep "... naming table, constraint and key" 'UNIQUE constraint failed: users.name.* (table "users", key \[5\])' .err
check_eq "... nothing of the batch was written, the swap neither" "$(d1dump)" "$before"

# The same for a composite text key (WITHOUT ROWID): the key as the SQL
# literals that wrote it.
sqlite3 local.db "DROP INDEX seats_holder; UPDATE users SET name='eve' WHERE id=5; UPDATE seats SET holder='c1' WHERE row='B' AND num=1"
before=$(d1dump)
check_exit 7 "a seat that takes a holder D1 keeps on another seat: exit 7" push
check_grep "... naming table, constraint and key" \
	"UNIQUE constraint failed: seats.holder.* (table \"seats\", key \\['B',1\\])" .err
check_eq "... nothing of the batch was written" "$(d1dump)" "$before"
