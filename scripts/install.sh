#!/bin/sh
# install.sh - install a smugglr release tarball (made by `make dist`) after
# checking its SHA-256 against the SHA256SUMS file that came with it.
#
#   sh install.sh [-p PREFIX] [-s SHA256SUMS] smugglr-VERSION.tar.gz
#
# Builds with make (a C11 compiler, pkg-config, and the development files of
# sqlite3, libcurl, libcrypto and libsodium) and runs `make install`:
# programs into PREFIX/bin, man pages into PREFIX/share/man.  PREFIX is
# ~/.local unless given (-p or the PREFIX environment variable); DESTDIR is
# passed on for staged installs.
#
# Exit status: 0 installed, 1 the build or the install failed, 2 usage,
# 3 the tarball or SHA256SUMS not found, 7 the checksum does not match (or
# SHA256SUMS has none for the tarball): nothing is built or installed.
set -u
prog=install.sh

usage() {
	cat <<'EOF'
usage: install.sh [-p PREFIX] [-s SHA256SUMS] smugglr-VERSION.tar.gz
Check the tarball's SHA-256 against SHA256SUMS (default: the one beside the
tarball), then build it and install the programs and man pages into PREFIX
(default: ~/.local, so the programs land in ~/.local/bin).
  -p, --prefix DIR    install under DIR (or the PREFIX environment variable)
  -s, --sums FILE     the SHA256SUMS file to check against
  -h, --help          this help
Exit status: 0 installed, 1 build or install failed, 2 usage, 3 not found,
7 checksum mismatch (nothing installed).
EOF
}

die() { code=$1; shift; echo "$prog: $*" >&2; exit "$code"; }

prefix=${PREFIX:-} sums='' tarball=''
while [ $# -gt 0 ]; do
	case $1 in
	-p|--prefix) [ $# -ge 2 ] || die 2 "$1 needs a directory"; prefix=$2; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	-s|--sums) [ $# -ge 2 ] || die 2 "$1 needs a file"; sums=$2; shift ;;
	--sums=*) sums=${1#*=} ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; die 2 "unknown option $1" ;;
	*) [ -z "$tarball" ] || die 2 "one tarball at a time"; tarball=$1 ;;
	esac
	shift
done
for a; do
	[ -z "$tarball" ] || die 2 "one tarball at a time"
	tarball=$a
done
[ -n "$tarball" ] || { usage >&2; exit 2; }
if [ -z "$prefix" ]; then
	[ -n "${HOME:-}" ] || die 2 "HOME is not set: give -p PREFIX"
	prefix=$HOME/.local
fi
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac

[ -f "$tarball" ] || die 3 "$tarball: no such file"
name=$(basename -- "$tarball")
case $name in
smugglr-*.tar.gz) ;;
*) die 2 "$name: not a smugglr release tarball (smugglr-VERSION.tar.gz)" ;;
esac
top=${name%.tar.gz}
[ -n "$sums" ] || sums=$(dirname -- "$tarball")/SHA256SUMS
[ -f "$sums" ] || die 3 "$sums: no such file (the SHA256SUMS of the release; -s FILE names another)"

# ---- the checksum, before anything else touches the tarball ----------------
sha256() {
	if command -v sha256sum >/dev/null 2>&1; then sha256sum <"$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then shasum -a 256 <"$1" | cut -d' ' -f1
	elif command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 <"$1" | sed 's/.*= *//'
	else return 1; fi
}
# "HASH  NAME" or "HASH *NAME" (binary mode), as sha256sum writes them
want=$(awk -v n="$name" '{ f = $2; sub(/^\*/, "", f) } f == n { print tolower($1); exit }' "$sums")
[ -n "$want" ] || die 7 "$sums has no checksum for $name: refusing to install"
case $want in
*[!0-9a-f]*) die 7 "$sums: the checksum for $name is not a SHA-256: refusing to install" ;;
esac
[ ${#want} -eq 64 ] || die 7 "$sums: the checksum for $name is not a SHA-256: refusing to install"
got=$(sha256 "$tarball") || die 1 "no sha256sum, shasum or openssl to check the tarball with"
if [ "$got" != "$want" ]; then
	die 7 "$name: SHA-256 mismatch: $sums says $want, the file is $got; the download is corrupt or was tampered with: refusing to install"
fi
echo "$prog: $name: SHA-256 $got matches $sums"

# ---- build and install ------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/smugglr-install.XXXXXX") || die 1 "cannot make a temporary directory"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
gzip -dc <"$tarball" | (cd "$work" && tar -xf -) || die 1 "$name: cannot unpack"
[ -f "$work/$top/Makefile" ] || die 1 "$name: no $top/Makefile inside"

jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
make=${MAKE:-make}
echo "$prog: building $top"
(cd "$work/$top" && $make -j"$jobs" >"$work/build.log" 2>&1) || {
	tail -n 20 "$work/build.log" >&2
	die 1 "the build failed (above: the end of its log)"
}
echo "$prog: installing into ${DESTDIR:-}$prefix"
(cd "$work/$top" && $make install PREFIX="$prefix" DESTDIR="${DESTDIR:-}" >"$work/install.log" 2>&1) || {
	tail -n 20 "$work/install.log" >&2
	die 1 "make install failed (above: the end of its log)"
}
for f in "$work/$top"/build/bin/* "$work/$top"/bin/smugglr; do
	[ -f "$f" ] && echo "  ${DESTDIR:-}$prefix/bin/$(basename -- "$f")"
done
echo "  ${DESTDIR:-}$prefix/share/man/man1, man5: the manual (man smugglr)"
case :${PATH:-}: in
*:"$prefix/bin":*) ;;
*) [ -z "${DESTDIR:-}" ] && echo "$prog: $prefix/bin is not on your PATH; add it, e.g. export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
exit 0
