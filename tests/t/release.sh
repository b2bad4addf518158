# release.sh - `make release` and scripts/install.sh with a binary release:
# the tarballs and SHA256SUMS; `make install`'s layout under one top folder;
# programs that need only glibc (sqlite3, libcrypto, libsodium and json-c
# linked in, libcurl loaded at run time, no glibc newer than Debian 12's);
# install.sh picking this machine's tarball from a directory and from a
# URL, into an empty PREFIX, and the demo run from there with no source
# tree around and a PATH of only PREFIX/bin and the system; a tampered
# tarball refused with nothing installed.  The aarch64 tarball is built
# and checked too (the cross toolchain: scripts/deps --test); t/arm64.sh
# runs it.  Needs make, cc, readelf, ldd, sqlite3, sqldiff,
# python3, curl.
. ./lib.sh

top=$SMG_TOP
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")
need_tools "the release test" readelf ldd sqlite3 sqldiff python3 curl
[ "$(uname -m)" = x86_64 ] || { skip "binary releases are built on x86_64 (this is $(uname -m))"; exit 0; }
# Debian 12's glibc: the release must run there
glibc_max=2.36
machines=x86_64
if command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && [ -f /usr/lib/aarch64-linux-gnu/pkgconfig/sqlite3.pc ]; then
	machines="x86_64 aarch64"
else
	fail "the linux-aarch64 tarball is not built: no aarch64-linux-gnu-gcc or arm64 -dev packages (scripts/deps --test installs them)"
fi

# ---- make release ------------------------------------------------------------------
rel=$T/build/release
make -s -C "$top" release B="$T/build" RELEASE_MACHINES="$machines" >release.out 2>release.err; rc=$?
check_eq "make release ($machines): exit 0" "$rc" 0
[ "$rc" -eq 0 ] || { sed 's/^/    /' release.err | tail -20; exit 0; }
names=$(for m in $machines; do echo "smugglr-$version-linux-$m.tar.gz"; done)
check_eq "SHA256SUMS lists the tarballs and install.sh" "$(awk '{ print $2 }' "$rel/SHA256SUMS")" "$names
install.sh"
check_eq "... which is scripts/install.sh" "$(sum_file "$rel/install.sh")" "$(sum_file "$top/scripts/install.sh")"
check "... with their checksums (sha256sum -c)" sh -c "cd '$rel' && sha256sum -c SHA256SUMS"

# what `make install` puts under a PREFIX, from the ordinary build
make -s -C "$top" install B="$SMG_BUILD" DESTDIR="$T/stage" PREFIX=/p >/dev/null 2>&1
want_files=$(cd "$T/stage/p" && find . -type f | sort)
check "make install stages the programs, the porcelain and the manual" \
	test -x "$T/stage/p/bin/smugglr" -a -x "$T/stage/p/bin/smg-apply" -a -f "$T/stage/p/share/man/man1/smugglr.1"

for m in $machines; do
	name=smugglr-$version-linux-$m
	mkdir "$m" && tar -xzf "$rel/$name.tar.gz" -C "$m"
	check_eq "$name.tar.gz: one top folder, $name" "$(ls "$m")" "$name"
	check_eq "... holding what make install installs, and nothing else" \
		"$(cd "$m/$name" && find . -type f | sort)" "$want_files"
	elf=$(case $m in x86_64) echo X86-64 ;; aarch64) echo AArch64 ;; esac)
	bad_machine='' needed='' glibc='' exported=''
	for f in "$m/$name"/bin/smg-*; do
		LC_ALL=C readelf -h "$f" | grep -q "Machine:.*$elf" || bad_machine="$bad_machine ${f##*/}"
		needed="$needed $(LC_ALL=C readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
		glibc="$glibc $(LC_ALL=C readelf -V "$f" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//')"
		# the libraries linked in must stay the program's own: libcurl's
		# libssl, loaded at run time, binds to its own libcrypto
		exported="$exported $(LC_ALL=C readelf --dyn-syms -W "$f" |
			awk '$7 != "UND" && $8 ~ /^(sqlite3_|EVP_|OPENSSL_|sodium_|crypto_|json_)/ { print $8 }')"
	done
	check_eq "... its programs are $elf" "$bad_machine" ""
	needed=$(echo $needed | tr ' ' '\n' | sort -u | tr '\n' ' ')
	extra=$(echo $needed | tr ' ' '\n' | grep -v -e '^libc\.so\.6$' -e '^libm\.so\.6$' -e '^ld-linux-[a-z0-9-]*\.so\.[12]$')
	check_eq "... they need glibc's libraries only (NEEDED: $needed)" "$extra" ""
	newest=$(echo $glibc | tr ' ' '\n' | sort -uV | tail -n 1)
	check_eq "... and glibc $glibc_max (Debian 12's) or older (they need GLIBC_$newest)" \
		"$(printf '%s\n%s\n' "$newest" "$glibc_max" | sort -V | tail -n 1)" "$glibc_max"
	check_eq "... and export no symbol of the libraries linked in" "$(echo $exported)" ""
done
x=x86_64/smugglr-$version-linux-x86_64/bin
check_eq "ldd finds every library of the x86_64 programs" \
	"$(for f in "$x"/smg-*; do ldd "$f"; done | grep -c 'not found')" 0

# ---- a tampered tarball is refused, nothing installed -------------------------------
mkdir bad && cp "$rel"/*.tar.gz "$rel/SHA256SUMS" bad/
printf 'x' | dd of="bad/smugglr-$version-linux-x86_64.tar.gz" bs=1 seek=5000 conv=notrunc 2>/dev/null
sh "$top/scripts/install.sh" -p "$T/bad-prefix" bad >out 2>err; rc=$?
check_eq "install.sh DIR with a tampered tarball for this machine: exit 7" "$rc" 7
check_grep "... saying the SHA-256 does not match" 'SHA-256 mismatch.*refusing to install' err
check_eq "... and nothing installed" "$([ -e "$T/bad-prefix" ] && echo installed || echo nothing)" nothing
if [ "$machines" != x86_64 ]; then
	sh "$top/scripts/install.sh" -p "$T/bad-prefix" "$rel/smugglr-$version-linux-aarch64.tar.gz" >out 2>err; rc=$?
	check_eq "install.sh with the aarch64 tarball on x86_64: exit 2, nothing installed" \
		"$rc $([ -e "$T/bad-prefix" ] && echo installed || echo nothing)" "2 nothing"
	check_grep "... saying which machine it is for" 'is for aarch64; this machine is x86_64' err
fi

# ---- install.sh from a directory, into an empty PREFIX ------------------------------
# install.sh and the release alone in a folder, run with a bare environment
mkdir dl && cp "$rel"/*.tar.gz "$rel/install.sh" "$rel/SHA256SUMS" dl/
prefix=$T/prefix
bare() { env -i HOME="$T" TMPDIR="$T" PATH="$prefix/bin:/usr/bin:/bin" "$@"; }
(cd dl && bare sh ./install.sh -p "$prefix" .) >install.out 2>install.err; rc=$?
check_eq "install.sh -p PREFIX DIR: exit 0" "$rc" 0
check_grep "... it picks this machine's tarball" "smugglr-$version-linux-x86_64.tar.gz is the release for this machine" install.out
check_grep "... and says the checksum matched" 'SHA-256 [0-9a-f]* matches' install.out
check_eq "... PREFIX holds the release's files" "$(cd "$prefix" && find . -type f | sort)" "$want_files"
check_eq "... its programs are x86-64" "$(LC_ALL=C readelf -h "$prefix/bin/smg-apply" | sed -n 's/ *Machine: *//p')" \
	"Advanced Micro Devices X86-64"
check_eq "... no scratch directory left behind" "$(ls -d "$T"/smugglr-install.* 2>/dev/null | wc -l)" 0
check_eq "the installed smugglr --version" "$(bare smugglr --version)" "smugglr $version"
MANPATH=$prefix/share/man man -w smugglr >man.out 2>/dev/null &&
	check_eq "man -w smugglr finds the installed page" "$(cat man.out)" "$prefix/share/man/man1/smugglr.1"

# ---- the demo, from there ---------------------------------------------------------
mkdir -p demo-copy/scripts && cp "$top/scripts/demo" demo-copy/scripts/
bare sh demo-copy/scripts/demo "$T/demo" >demo.out 2>demo.err; rc=$?
check_eq "the demo with the installed programs only: exit 0" "$rc" 0
check_eq "... it ran PREFIX's smugglr" "$(bare sh -c 'command -v smugglr')" "$prefix/bin/smugglr"
check_grep "... which synced: smugglr status finds every row identical" '^items: identical 5$' demo.out
check_same_db "... and sqldiff finds the two databases equal" "$T/demo/laptop.db" "$T/demo/server.db"

# watch: a verb whose shell the porcelain sources from PREFIX/libexec/smugglr
mkdir w && sqlite3 w/a.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'x');" &&
	sqlite3 w/b.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);" &&
	printf 'local_db = "a.db"\n[target]\npath = "b.db"\n' >w/config.toml
(cd w && bare timeout 60 smugglr watch --ticks 1 --interval 1) >watch.out 2>watch.err; rc=$?
check_eq "the installed smugglr watch --ticks 1: exit 0" "$rc" 0
check_same_db "... and sqldiff finds b as a" w/a.db w/b.db

# ---- HTTP: libcurl, loaded at run time beside the static libcrypto ------------------
mkdir -p www/bucket && echo 'hello from the server' >www/bucket/key
(cd www && exec python3 -u -m http.server --bind 127.0.0.1 0) >www.log 2>&1 &
www=$!
cleanup_hook() { kill "$www" 2>/dev/null; }
i=0
until port=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' www.log) && [ -n "$port" ]; do
	i=$((i + 1)); [ $i -lt 100 ] && kill -0 "$www" 2>/dev/null || break; sleep 0.1
done
check "a local HTTP server answers" curl -sf -o /dev/null "http://127.0.0.1:$port/bucket/key"
bare AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test smg-s3 --endpoint "http://127.0.0.1:$port" \
	--path-style get s3://bucket/key >got 2>err; rc=$?
check_eq "the installed smg-s3 gets an object over HTTP (libcurl)" "$rc $(cat got)" "0 hello from the server"

# ---- install.sh from a URL ------------------------------------------------------------
mkdir -p www/rel && cp "$rel"/*.tar.gz "$rel/SHA256SUMS" www/rel/
bare sh dl/install.sh -p "$T/prefix2" "http://127.0.0.1:$port/rel/" >url.out 2>url.err; rc=$?
check_eq "install.sh -p PREFIX URL: exit 0" "$rc" 0
check_eq "... PREFIX holds the release's files" "$(cd "$T/prefix2" 2>/dev/null && find . -type f | sort)" "$want_files"
cp bad/smugglr-$version-linux-x86_64.tar.gz www/rel/
bare sh dl/install.sh -p "$T/prefix3" "http://127.0.0.1:$port/rel" >url.out 2>url.err; rc=$?
check_eq "install.sh URL with a tampered tarball there: exit 7, nothing installed" \
	"$rc $([ -e "$T/prefix3" ] && echo installed || echo nothing)" "7 nothing"
bare sh dl/install.sh -p "$T/prefix3" "http://127.0.0.1:$port/nosuch" >url.out 2>url.err; rc=$?
check_eq "install.sh URL with no SHA256SUMS there: exit 3" "$rc" 3
