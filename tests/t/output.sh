# output.sh - output files (lib/output.h): a regular file is replaced
# atomically, a FIFO, a device or "-" is written through and stays what it
# is, a symbolic link stays a link and the file it names is replaced.  For
# smg-hash --backup, smg-s3 get and smg-s3 put to file:// objects.  Only
# files under $T are written: a FIFO, links and (where mknod is allowed) a
# character device of our own.  Needs sqlite3, sqldiff, mkfifo, timeout.
. ./lib.sh
need_tools output.sh sqlite3 sqldiff mkfifo timeout

sqlite3 a.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1, 'one'), (2, x'00ff');"

# reader FIFO OUT: copies what comes through FIFO to OUT, in the background
reader() { timeout 20 cat "$1" >"$2" & reader_pid=$!; }
no_temps() { check_eq "$1" "$(ls -a "${2:-.}" | grep -c '\.smg-tmp\.')" 0; }

# ---- smg-hash --backup --------------------------------------------------------
mkfifo fifo
reader fifo fifo.out
check "backup to a FIFO" timeout 20 smg-hash --backup fifo a.db
wait $reader_pid
check "the FIFO is still a FIFO" test -p fifo
check_same_db "the reader got the whole database" fifo.out a.db

echo old >real.db
chmod 600 real.db
ln -s real.db link.db
check "backup to a symbolic link" smg-hash --backup link.db a.db
check "the link is still a link" test -L link.db
check_eq "...to the same name" "$(readlink link.db)" real.db
check_same_db "the file it names is the backup" real.db a.db
check_eq "the replaced file's mode is kept" "$(stat -c %a real.db)" 600

mkdir sub
ln -s deep.db sub/link.db	# relative to sub/, where the link is
ln -s sub/link.db chain.db
check "backup through a chain of links, the last dangling" smg-hash --backup chain.db a.db
check "...each link stays a link" test -L chain.db -a -L sub/link.db
check_same_db "...and the file at the end is created" sub/deep.db a.db

smg-hash --backup - a.db >stdout.db 2>"$T/.err"
check_same_db "backup to - writes the database to stdout" stdout.db a.db

ln -s loop1 loop2; ln -s loop2 loop1
check_exit 1 "backup to a loop of links: exit 1" smg-hash --backup loop1 a.db
check_grep "...saying why" 'loop1: Too many levels of symbolic links' "$T/.err"
mkdir adir
check_exit 2 "backup to a directory: exit 2" smg-hash --backup adir a.db
check_exit 3 "backup into a missing directory: exit 3" smg-hash --backup nodir/x.db a.db
no_temps "smg-hash leaves no temporary file"

# A character device written through: major 1 minor 3 is the null device,
# made here, never the system's /dev/null.  mknod needs privileges.
if mknod null c 1 3 2>/dev/null; then
	check "backup to a character device" smg-hash --backup null a.db
	check "...which stays a character device" test -c null
else
	echo "# skipped: mknod is not permitted here, the character device case is not run"
fi

# ---- smg-s3 get and put with file:// -----------------------------------------------
mkdir store
printf 'object bytes\n' >obj
check "put an object" smg-s3 put "file://$T/store/obj" obj

reader fifo fifo.get
check "get to a FIFO" timeout 20 smg-s3 get "file://$T/store/obj" fifo
wait $reader_pid
check "the FIFO is still a FIFO" test -p fifo
check_eq "the reader got the object" "$(cat fifo.get)" "object bytes"

echo old >target
ln -s target get-link
check "get to a symbolic link" smg-s3 get "file://$T/store/obj" get-link
check "the link is still a link" test -L get-link
check_eq "the file it names holds the object" "$(cat target)" "object bytes"

echo keep >target
check_exit 3 "a failed get through a link: exit 3" smg-s3 get "file://$T/store/missing" get-link
check_eq "...leaves the file it names alone" "$(cat target)" keep
check "...and the link" test -L get-link

ln -s obj store/alias
printf 'new bytes\n' >obj2
check "put to an object that is a link" smg-s3 put "file://$T/store/alias" obj2
check "the link is still a link" test -L store/alias
check_eq "the object it names is replaced" "$(cat store/obj)" "new bytes"

mkfifo store/pipe
check_exit 2 "put to an object that is a FIFO: exit 2" timeout 20 smg-s3 put "file://$T/store/pipe" obj
check_grep "...saying it is not a regular file" 'not a regular file' "$T/.err"
check "...and the FIFO stays" test -p store/pipe
no_temps "smg-s3 leaves no temporary file" store
no_temps "smg-s3 leaves no temporary file beside a link's target"
