# dist.sh - `make dist` and scripts/install.sh: the tarball and its
# SHA256SUMS, an install into a scratch PREFIX that works (smugglr
# --version, a push between two databases), a tampered tarball refused;
# `make install DESTDIR= PREFIX=` puts the man pages in man1 and man5.
# Needs make, a C compiler and the build's libraries, sqlite3, sqldiff.
. ./lib.sh

top=$SMG_TOP
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")

# ---- make dist -------------------------------------------------------------------
make -s -C "$top" dist B="$T/build" >dist.out 2>dist.err; rc=$?
tarball=$T/build/smugglr-$version.tar.gz
check_eq "make dist B=DIR: exit 0, the versioned tarball and SHA256SUMS there" \
	"$rc $([ -f "$tarball" ] && echo tarball) $([ -f "$T/build/SHA256SUMS" ] && echo sums)" "0 tarball sums"
check_eq "SHA256SUMS holds the tarball's checksum" \
	"$(cat "$T/build/SHA256SUMS")" "$(sum_file "$tarball")  smugglr-$version.tar.gz"
check_eq "the tarball has one top directory, smugglr-$version" \
	"$(tar -tzf "$tarball" | cut -d/ -f1 | sort -u)" "smugglr-$version"
for f in Makefile bin/smugglr libexec/smugglr/relay.sh libexec/smugglr/watch.sh scripts/install.sh man/smugglr.1 man/smugglr-stream.5 config.example.toml; do
	check_eq "... with $f" "$(tar -tzf "$tarball" | grep -cx "smugglr-$version/$f")" 1
done

# ---- a tampered tarball is refused ------------------------------------------------
mkdir -p bad
cp "$T/build/SHA256SUMS" bad/
cp "$tarball" bad/
printf 'x' | dd of="bad/smugglr-$version.tar.gz" bs=1 seek=100 conv=notrunc 2>/dev/null
sh "$top/scripts/install.sh" -p "$T/bad-prefix" "bad/smugglr-$version.tar.gz" >out 2>err; rc=$?
check_eq "a tampered tarball: exit 7" "$rc" 7
check_grep "... saying the SHA-256 does not match" 'SHA-256 mismatch.*refusing to install' err
check_eq "... and nothing installed" "$([ -e "$T/bad-prefix" ] && echo installed || echo nothing)" nothing
printf '%s  other.tar.gz\n' "$(sum_file "$tarball")" >bad/SHA256SUMS
cp "$tarball" bad/
sh "$top/scripts/install.sh" -p "$T/bad-prefix" "bad/smugglr-$version.tar.gz" >out 2>err; rc=$?
check_eq "SHA256SUMS without a line for the tarball: exit 7, nothing installed" \
	"$rc $([ -e "$T/bad-prefix" ] && echo installed || echo nothing)" "7 nothing"
sh "$top/scripts/install.sh" -p "$T/bad-prefix" -s nosuch "$tarball" >out 2>err; rc=$?
check_eq "no SHA256SUMS: exit 3" "$rc" 3
sh "$top/scripts/install.sh" >out 2>err; rc=$?
check_eq "no tarball given: exit 2, usage" "$rc $(grep -c '^usage:' err)" "2 1"

# ---- install into a scratch PREFIX, and use it ------------------------------------
prefix=$T/prefix
TMPDIR=$T sh "$top/scripts/install.sh" -p "$prefix" "$tarball" >install.out 2>install.err; rc=$?
check_eq "install.sh -p PREFIX: exit 0" "$rc" 0
check_grep "... it says the checksum matched" 'SHA-256 [0-9a-f]* matches' install.out
check_eq "... programs in PREFIX/bin" \
	"$(cd "$prefix/bin" 2>/dev/null && ls smugglr smg-hash smg-diff smg-apply 2>/dev/null | tr '\n' ' ')" \
	"smg-apply smg-diff smg-hash smugglr "
check_eq "... man pages in PREFIX/share/man/man1 and man5" \
	"$(ls "$prefix/share/man/man1/smugglr.1" "$prefix/share/man/man5/smugglr-stream.5" 2>/dev/null | wc -l)" 2
check_eq "... no scratch directory left behind" "$(ls -d "$T"/smugglr-install.* 2>/dev/null | wc -l)" 0

# the installed smugglr, alone: no build directory, its own programs
installed() { env -u SMG_BUILD PATH="$prefix/bin:/usr/bin:/bin" smugglr "$@"; }
check_eq "installed smugglr --version" "$(installed --version)" "smugglr $version"
sqlite3 a.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1,'one'),(2,'two');"
sqlite3 b.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (3,'three');"
printf 'local_db = "a.db"\n[target]\npath = "b.db"\n' >config.toml
installed -v push --delete >push.out 2>push.err; rc=$?
check_eq "installed smugglr push --delete: exit 0" "$rc" 0
check_grep "... it ran the installed programs" "^smugglr: + smg-diff" push.err
check_eq "... which are the ones in PREFIX" "$(env -u SMG_BUILD PATH="$prefix/bin:/usr/bin:/bin" sh -c 'command -v smg-diff')" \
	"$prefix/bin/smg-diff"
check_same_db "... sqldiff a.db b.db prints nothing" a.db b.db
check_eq "... the porcelain's verb files in PREFIX/libexec/smugglr" \
	"$(cd "$prefix/libexec/smugglr" 2>/dev/null && ls | tr '\n' ' ')" "relay.sh watch.sh "
printf '[stash]\nurl = "file://%s/relay/r.db"\n' "$T" >>config.toml
installed snapshots >snaps.out 2>snaps.err; rc=$?
check_eq "installed smugglr snapshots (a verb of libexec/smugglr/relay.sh): exit 0, none yet" \
	"$rc $(cat snaps.out)" "0 no snapshots under file://$T/relay/snapshots/"
installed watch --ticks 1 --interval 1 >watch.out 2>watch.err; rc=$?
check_eq "installed smugglr watch --ticks 1 (libexec/smugglr/watch.sh): exit 0, one tick" \
	"$rc $(grep -c '^tick 1:' watch.out)" "0 1"
MANPATH=$prefix/share/man man -w smugglr >man.out 2>/dev/null &&
	check_eq "man -w smugglr finds the installed page" "$(cat man.out)" "$prefix/share/man/man1/smugglr.1"

# ---- make install DESTDIR= PREFIX=, through install.sh ---------------------------
DESTDIR=$T/stage TMPDIR=$T sh "$top/scripts/install.sh" -p /usr/local "$tarball" >out 2>err; rc=$?
check_eq "DESTDIR=STAGE install.sh -p /usr/local (make install DESTDIR= PREFIX=): exit 0" "$rc" 0
tar -xzf "$tarball" smugglr-$version/man
check_eq "... programs in STAGE/usr/local/bin" "$(ls "$T/stage/usr/local/bin" | tr '\n' ' ')" \
	"$(ls "$prefix/bin" | tr '\n' ' ')"
check_eq "... every section 1 page in STAGE/usr/local/share/man/man1" \
	"$(ls "$T/stage/usr/local/share/man/man1" | tr '\n' ' ')" "$(cd smugglr-$version/man && ls -- *.1 | tr '\n' ' ')"
check_eq "... every section 5 page in STAGE/usr/local/share/man/man5" \
	"$(ls "$T/stage/usr/local/share/man/man5" | tr '\n' ' ')" "$(cd smugglr-$version/man && ls -- *.5 | tr '\n' ' ')"
check_eq "... nothing outside STAGE/usr/local" "$(ls "$T/stage" | tr '\n' ' ')$(ls "$T/stage/usr" | tr '\n' ' ')" "usr local "
