# constraints.sh - any source state that satisfies its own UNIQUE, CHECK and
# NOT NULL constraints applies, whatever the order of its rows: two rows
# swapping a UNIQUE value, three rotating one, a value moved to a new row
# that sorts first, columns the sync excludes kept through all of it.  A row
# that really breaks a constraint of the target: exit 7 naming table, key
# and constraint, nothing written.  Needs sqlite3, sqldiff.
. ./lib.sh
need_tools "the constraint tests" sqlite3 sqldiff jq

schema="CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
  name TEXT CHECK (length(name) < 20), updated_at TEXT);
CREATE TABLE seats(row TEXT, num INTEGER, holder TEXT UNIQUE, PRIMARY KEY(row, num)) WITHOUT ROWID;"
sqlite3 src.db "$schema"
sqlite3 dst.db "$schema"
seed="INSERT INTO users VALUES (1,'a@x','ann','t0'),(2,'b@x','bob','t0'),(3,'c@x','cy','t0'),
  (4,'d@x','dee','t0'),(5,'e@x','eve','t0');
INSERT INTO seats VALUES ('A',1,'ann'),('A',2,'bob'),('B',1,NULL);"
sqlite3 src.db "$seed"
sqlite3 dst.db "$seed"

# On the source: 1 and 2 swap emails, 3 -> 4 -> 5 -> 3 rotate theirs, and
# seats swap holders in a table without rowid.
sqlite3 src.db "UPDATE users SET email='tmp' WHERE id=1;
UPDATE users SET email='a@x' WHERE id=2; UPDATE users SET email='b@x' WHERE id=1;
UPDATE users SET email='tmp' WHERE id=3; UPDATE users SET email='c@x' WHERE id=5;
UPDATE users SET email='e@x' WHERE id=4; UPDATE users SET email='d@x' WHERE id=3;
UPDATE seats SET holder=NULL WHERE num=1 AND row='A'; UPDATE seats SET holder='ann' WHERE num=2;
UPDATE seats SET holder='bob' WHERE row='A' AND num=1;"
check_exit 0 "a swap and a 3-cycle of UNIQUE values apply: exit 0" \
	sh -c 'smg-diff -q -d push src.db dst.db | smg-apply -q dst.db'
check_same_db "... and the target equals the source (sqldiff)" src.db dst.db
check_exit 0 "... a second run finds nothing to do" \
	sh -c 'smg-diff -q -d push src.db dst.db | smg-apply -q dst.db'
check_eq "... and says so" "$(cat .out)" "dst.db: wrote 0 upserts and 0 deletes in 0 tables"

# A value moved to a new row that sorts before the row that held it.
sqlite3 src.db "UPDATE users SET email='z@x' WHERE id=2; INSERT INTO users VALUES (0,'a@x','new','t1');"
check_exit 0 "a UNIQUE value moved to a new row that comes first: exit 0" \
	sh -c 'smg-diff -q -d push src.db dst.db | smg-apply -q dst.db'
check_same_db "... applied (sqldiff)" src.db dst.db

# With a column the sync excludes: the cycle keeps the target's values.
sqlite3 dst.db "UPDATE users SET updated_at='kept ' || id"
sqlite3 src.db "UPDATE users SET email='swap' WHERE id=1; UPDATE users SET email='b@x' WHERE id=3;
UPDATE users SET email='d@x' WHERE id=1; UPDATE users SET email='c@x' WHERE id=4;"
cat >cfg.toml <<'EOF'
[sync]
exclude_columns = ["updated_at"]
EOF
check_exit 0 "a cycle with a column excluded from the sync: exit 0" \
	sh -c 'smg-diff -q -c cfg.toml -d push src.db dst.db | smg-apply -q dst.db'
check_eq "... the excluded column kept the target's values" \
	"$(sqlite3 dst.db 'SELECT group_concat(updated_at, ",") FROM (SELECT updated_at FROM users WHERE id IN (1,3,4) ORDER BY id)')" \
	"kept 1,kept 3,kept 4"
check_eq "... and the synced ones are the source's" \
	"$(sqlite3 dst.db 'SELECT group_concat(id || email, ",") FROM users')" \
	"$(sqlite3 src.db 'SELECT group_concat(id || email, ",") FROM users')"

# Real violations: the target holds a row the stream does not move.
cp src.db src2.db; cp dst.db dst2.db
sqlite3 dst2.db "CREATE UNIQUE INDEX users_name ON users(name)"
sqlite3 src2.db "UPDATE users SET name='bob' WHERE id=4"
sqlite3 dst2.db "UPDATE users SET name='bob2' WHERE id=4"
cp dst2.db dst2-before.db
smg-diff -q -d push src2.db dst2.db >real.changes
check_exit 7 "a row that breaks a UNIQUE index of the target: exit 7" smg-apply -q -i real.changes dst2.db
check_grep "... naming table, key and constraint" 'table "users", key \[4\]: UNIQUE constraint failed: users.name' .err
check_same_db "... nothing written" dst2-before.db dst2.db

sqlite3 dst2.db "DROP INDEX users_name; CREATE TABLE t2(id INTEGER PRIMARY KEY, n INTEGER CHECK (n > 0))"
sqlite3 src2.db "CREATE TABLE t2(id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO t2 VALUES (1, 5), (2, -1)"
cp dst2.db dst2-before.db
smg-diff -q -d push src2.db dst2.db >check.changes
check_exit 7 "a row that breaks a CHECK constraint of the target: exit 7" smg-apply -q -i check.changes dst2.db
check_grep "... naming table, key and constraint" 'table "t2", key \[2\]: CHECK constraint failed' .err
check_same_db "... nothing written" dst2-before.db dst2.db

# After an apply, rows left without their parent are reported (not refused:
# the target may have had them before).
sqlite3 fa.db "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id));
INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 5), (2, 1);"
sqlite3 fb.db "CREATE TABLE p(id INTEGER PRIMARY KEY); CREATE TABLE c(id INTEGER PRIMARY KEY, pid INTEGER REFERENCES p(id));"
smg-diff -q -t c fa.db fb.db >fk.changes
check_exit 0 "a push of a child without the parent table's rows: exit 0" smg-apply -q -r json -i fk.changes fb.db
check_eq "... JSON: the rows PRAGMA foreign_key_check finds" \
	"$(jq -c '[.foreign_key_violations, .foreign_key_rows]' .out)" '[2,[{"table":"c","rowid":1,"parent":"p"},{"table":"c","rowid":2,"parent":"p"}]]'
sqlite3 fb.db "DELETE FROM c"
check_exit 0 "... text: exit 0" smg-apply -q -i fk.changes fb.db
check_grep "... says how many rows refer to a missing parent" 'fb.db: 2 rows refer to a missing parent (PRAGMA foreign_key_check)' .out
