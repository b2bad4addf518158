# arm64.sh - the linux-aarch64 release, run, not only built: `make release
# RELEASE_MACHINES=aarch64` cross-compiles it, and under qemu-user its row
# hashes (lib/sha256.c's portable code: arm64 has no x86 SHA extensions)
# equal the x86_64 build's on the same rows, streams cross between the two
# machines' programs, and the unit test of SHA-256 and the core pipeline's
# tests (t/hash.sh, t/diff.sh, t/apply.sh, sqldiff the oracle) pass with
# its programs.  Skipped on a machine that is not x86_64; there, without
# the cross toolchain or qemu-aarch64-static, it fails saying so
# (scripts/deps --test installs them).  Slow: keep the data small.  Needs sqlite3, sqldiff, jq, readelf.
. ./lib.sh

top=$SMG_TOP
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")

if [ "$(uname -m)" != x86_64 ]; then
	skip "this test checks aarch64 against x86_64, and this machine is $(uname -m)"
	exit 0
fi
why=
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 ||
	why="no aarch64-linux-gnu-gcc (the cross toolchain)"
[ -n "$why" ] || [ -f /usr/lib/aarch64-linux-gnu/pkgconfig/sqlite3.pc ] ||
	why="no arm64 -dev packages (libsqlite3-dev:arm64 and the others)"
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64) ||
	why=${why:-no qemu-aarch64-static (qemu-user-static)}
if [ -n "$why" ]; then
	fail "the linux-aarch64 release is neither built nor run: $why (scripts/deps --test installs what it needs)"
	exit 0
fi
need_tools "the arm64 test" sqlite3 sqldiff jq readelf

# ---- the release, cross-compiled --------------------------------------------------
make -s -C "$top" release B="$T/build" RELEASE_MACHINES=aarch64 >release.out 2>release.err; rc=$?
tarball=$T/build/release/smugglr-$version-linux-aarch64.tar.gz
check_eq "make release RELEASE_MACHINES=aarch64: exit 0, the tarball made" \
	"$rc $([ -f "$tarball" ] && echo tarball)" "0 tarball"
[ "$rc" -eq 0 ] || { sed 's/^/    /' release.err | tail -20; exit 0; }
tar -xzf "$tarball"
arm=$T/smugglr-$version-linux-aarch64/bin
check_eq "its programs are AArch64 ELF" \
	"$(for f in "$arm"/smg-*; do LC_ALL=C readelf -h "$f" | sed -n 's/ *Machine: *//p'; done | sort -u)" AArch64

# A directory of the aarch64 programs as a build directory looks, each run by
# qemu: tests/run and the tests run them as they would run a build's.
q=$T/qemu-build
mkdir -p "$q/bin" "$q/tests"
for f in "$arm"/smg-* "$T/build/release/aarch64/tests/lib"; do
	d=$q/bin; case $f in */tests/*) d=$q/tests ;; esac
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$qemu" "$f" >"$d/${f##*/}"
	chmod +x "$d/${f##*/}"
done
check_eq "qemu runs them: smg-hash --version" "$("$q/bin/smg-hash" --version 2>&1)" "smg-hash (smugglr) $version"

# ---- the same rows hash the same on both machines ----------------------------------
# lengths around SHA-256's block and padding edges (55, 56, 64, 119, 120),
# every type, a 1 MB blob, and enough rows to fill batches of two
sqlite3 a.db <<'EOF'
CREATE TABLE t(id INTEGER PRIMARY KEY, s TEXT, r REAL, b BLOB, n);
WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < 300)
INSERT INTO t SELECT x, substr(hex(randomblob(100)), 1, x % 140), x / 7.0,
	CASE WHEN x % 3 = 0 THEN randomblob(x) END, CASE WHEN x % 2 THEN -x * 1000003 END FROM i;
INSERT INTO t VALUES (1001, 'ünï "cødé" ключ 値', 0.30000000000000004, x'00ff', 9223372036854775807),
	(1002, '', -0.0, zeroblob(1000000), NULL), (1003, NULL, 1e308, x'', 5e-324);
CREATE TABLE c(a TEXT, b INTEGER, v, PRIMARY KEY(a, b)) WITHOUT ROWID;
INSERT INTO c VALUES ('x', 1, 'one'), ('x', 2, 2.5), ('y', 1, x'01');
EOF
cp a.db b.db
sqlite3 b.db "UPDATE t SET s = s || '!' WHERE id % 10 = 0; DELETE FROM t WHERE id % 17 = 0;
	INSERT INTO t VALUES (2000, 'only in b', 1, NULL, NULL); UPDATE c SET v = 'uno' WHERE b = 1;"
smg-hash a.db >x86.hash
"$q/bin/smg-hash" a.db >arm.hash 2>arm.err; rc=$?
check_eq "aarch64 smg-hash a.db: exit 0, $(grep -c '"kind":"row"' x86.hash) rows" \
	"$rc $(grep -c '"kind":"row"' arm.hash)" "0 $(grep -c '"kind":"row"' x86.hash)"
check_eq "... and its stream is byte for byte the x86_64 one: the same hashes and values" \
	"$(sum_file arm.hash)" "$(sum_file x86.hash)"
check_eq "... 306 rows, each hash 64 hex digits" \
	"$(jq -r 'select(.kind=="row") | .hash' arm.hash | grep -c '^[0-9a-f]\{64\}$')" 306

# ---- streams cross between the machines ----------------------------------------------
smg-diff --delete x86.hash b.db >x86.diff
"$q/bin/smg-diff" --delete x86.hash b.db >arm.diff 2>arm.err; rc=$?
check_eq "x86_64 smg-hash | aarch64 smg-diff: exit 0, the stream x86_64 smg-diff writes" \
	"$rc $(sum_file arm.diff)" "0 $(sum_file x86.diff)"
cp b.db b1.db
"$q/bin/smg-hash" a.db | smg-diff -q --delete - b1.db | "$q/bin/smg-apply" b1.db 2>arm.err; rc=$?
check_eq "aarch64 smg-hash | x86_64 smg-diff --delete | aarch64 smg-apply: exit 0" "$rc" 0
check_same_db "... and sqldiff finds b as a" a.db b1.db
cp b.db b2.db
"$q/bin/smg-hash" a.db | "$q/bin/smg-diff" --delete - b2.db | "$q/bin/smg-apply" b2.db 2>arm.err; rc=$?
check_eq "smg-hash | smg-diff --delete | smg-apply, all aarch64: exit 0" "$rc" 0
check_same_db "... and sqldiff finds b as a" a.db b2.db

# ---- the unit test and the core pipeline's tests, on the aarch64 programs ------------
# Their checks are this test's, each marked "aarch64:".
SMG_ASAN='' SMG_BUILD=$q sh "$top/tests/run" unit/lib t/hash.sh t/diff.sh t/apply.sh >core.out 2>&1
sed -n 's/^ \{0,2\}\(ok\|not ok\) - /\1 - aarch64: /p' core.out
check_grep "aarch64: unit/lib and t/hash.sh, t/diff.sh, t/apply.sh ran, none failed" '^[0-9]* passed, 0 failed' core.out
