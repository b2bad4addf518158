#!/bin/sh
# install.sh - install smugglr from a release after checking its SHA-256
# against the SHA256SUMS that came with it.
#
#   sh install.sh [-p PREFIX] [-s SHA256SUMS] DIR | URL | TARBALL
#
# A binary release (`make release`: smugglr-VERSION-linux-MACHINE.tar.gz,
# programs linked statically but for glibc) is unpacked into PREFIX as it
# is: bin/, libexec/, share/man/.  Given a directory or a URL (the base the
# release's files are under), install.sh reads its SHA256SUMS and takes
# the newest tarball for the machine it runs on (uname -m: x86_64 or
# aarch64).  A source release (`make dist`: smugglr-VERSION.tar.gz) is
# built with make (a C11 compiler, pkg-config, and the development files
# of sqlite3, libcurl, libcrypto, libsodium and json-c) and installed with
# `make install`.  PREFIX is ~/.local unless given (-p or the PREFIX
# environment variable), so the programs land in ~/.local/bin; DESTDIR is
# honoured for staged installs.  URLs are fetched with curl or wget.
#
# Exit status: 0 installed, 1 the build or the install failed, or the
# programs do not run here, 2 usage (or a tarball for another machine),
# 3 the tarball, SHA256SUMS or a release for this machine not found,
# 4 a download failed, 7 the checksum does not match (or SHA256SUMS has
# none for the tarball): nothing is built or installed.
set -u
prog=install.sh

usage() {
	cat <<'EOF'
usage: install.sh [-p PREFIX] [-s SHA256SUMS] DIR | URL | TARBALL
Check a smugglr release's SHA-256 against SHA256SUMS, then install it into
PREFIX (default: ~/.local, so the programs land in ~/.local/bin).
  DIR, URL            where a release's files are: the binary tarball for
                      this machine (smugglr-VERSION-linux-MACHINE.tar.gz)
                      is picked from its SHA256SUMS
  TARBALL             a file or URL: a binary tarball, installed as it is,
                      or a source one (smugglr-VERSION.tar.gz), built first
  -p, --prefix DIR    install under DIR (or the PREFIX environment variable)
  -s, --sums FILE     the SHA256SUMS file to check against (default: the
                      one beside the tarball)
  -h, --help          this help
Exit status: 0 installed, 1 build or install failed, 2 usage, 3 not found,
4 download failed, 7 checksum mismatch (nothing installed).
EOF
}

die() { code=$1; shift; echo "$prog: $*" >&2; exit "$code"; }

prefix=${PREFIX:-} sums='' src=''
while [ $# -gt 0 ]; do
	case $1 in
	-p|--prefix) [ $# -ge 2 ] || die 2 "$1 needs a directory"; prefix=$2; shift ;;
	--prefix=*) prefix=${1#*=} ;;
	-s|--sums) [ $# -ge 2 ] || die 2 "$1 needs a file"; sums=$2; shift ;;
	--sums=*) sums=${1#*=} ;;
	-h|--help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; die 2 "unknown option $1" ;;
	*) [ -z "$src" ] || die 2 "one release at a time"; src=$1 ;;
	esac
	shift
done
for a; do
	[ -z "$src" ] || die 2 "one release at a time"
	src=$a
done
[ -n "$src" ] || { usage >&2; exit 2; }
if [ -z "$prefix" ]; then
	[ -n "${HOME:-}" ] || die 2 "HOME is not set: give -p PREFIX"
	prefix=$HOME/.local
fi
case $prefix in /*) ;; *) prefix=$(pwd)/$prefix ;; esac

# the name of this machine in the release's file names
case $(uname -m) in
x86_64|amd64) machine=x86_64 ;;
aarch64|arm64) machine=aarch64 ;;
*) machine=$(uname -m) ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/smugglr-install.XXXXXX") || die 1 "cannot make a temporary directory"
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- where the release is: a file, a directory, or a URL --------------------------
case $src in
http://*|https://*|file://*) remote=1 ;;
*) remote= ;;
esac
case $src in
*.tar.gz) name=${src##*/} base=${src%/*}; [ "$base" = "$src" ] && base=. ;;
*) name='' base=${src%/} ;;
esac
if [ -z "$remote" ]; then
	if [ -n "$name" ]; then [ -f "$src" ] || die 3 "$src: no such file"
	else [ -d "$src" ] || die 3 "$src: no such directory (or a tarball named *.tar.gz)"; fi
fi

# download URL FILE
download() {
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 -o "$2" "$1"; rc=$?
		[ "$rc" -eq 22 ] && die 3 "$1: not found (curl: the server answered with an error)"
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$2" "$1"; rc=$?
		[ "$rc" -eq 8 ] && die 3 "$1: not found (wget: the server answered with an error)"
	else
		die 4 "no curl or wget to download $1 with"
	fi
	[ "$rc" -eq 0 ] || die 4 "$1: the download failed (exit $rc)"
}

if [ -z "$sums" ] && [ -n "$remote" ]; then
	download "$base/SHA256SUMS" "$work/SHA256SUMS"
	sums=$work/SHA256SUMS
fi
[ -n "$sums" ] || sums=$base/SHA256SUMS
[ -f "$sums" ] || die 3 "$sums: no such file (the SHA256SUMS of the release; -s FILE names another)"

if [ -z "$name" ]; then
	# the newest binary tarball for this machine that SHA256SUMS lists
	name=$(awk '{ f = $2; sub(/^\*/, "", f); print f }' "$sums" |
		grep -x "smugglr-[0-9][^/]*-linux-$machine\.tar\.gz" | sort -V | tail -n 1)
	[ -n "$name" ] || die 3 "$sums lists no smugglr-VERSION-linux-$machine.tar.gz: no binary release for this machine ($(uname -m)); build a source tarball (smugglr-VERSION.tar.gz) instead"
	echo "$prog: $name is the release for this machine ($(uname -m))"
fi
case $name in
smugglr-*-linux-*.tar.gz)
	kind=binary top=${name%.tar.gz}
	for_machine=${top##*-linux-}
	[ "$for_machine" = "$machine" ] ||
		die 2 "$name is for $for_machine; this machine is $(uname -m): take smugglr-*-linux-$machine.tar.gz"
	;;
smugglr-*.tar.gz) kind=source top=${name%.tar.gz} ;;
*) die 2 "$name: not a smugglr release tarball (smugglr-VERSION.tar.gz, smugglr-VERSION-linux-MACHINE.tar.gz)" ;;
esac
if [ -n "$remote" ]; then
	download "$base/$name" "$work/$name"
	tarball=$work/$name
else
	tarball=$base/$name
	[ -f "$tarball" ] || die 3 "$tarball: no such file (SHA256SUMS lists it)"
fi

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

mkdir "$work/unpacked" || die 1 "cannot make $work/unpacked"
gzip -dc <"$tarball" | (cd "$work/unpacked" && tar -xf -) || die 1 "$name: cannot unpack"
dest=${DESTDIR:-}$prefix

# ---- a binary release: its files, as they are ----------------------------------
install_binary() {
	if [ "$(ls -A "$work/unpacked")" != "$top" ] || [ ! -x "$work/unpacked/$top/bin/smugglr" ]; then
		die 1 "$name: not one folder $top with bin/smugglr in it"
	fi
	# programs that cannot run here (another machine, an older glibc) are
	# refused before anything is copied
	v=$("$work/unpacked/$top/bin/smg-hash" --version 2>&1) ||
		die 1 "$name: its programs do not run on this machine: $v"
	echo "$prog: installing $v into $dest"
	(cd "$work/unpacked/$top" && find . ! -type d) | while IFS= read -r f; do
		f=${f#./}
		mkdir -p "$dest/${f%/*}" &&
		# a new file renamed over the old one: a running program keeps its copy
		cp -P "$work/unpacked/$top/$f" "$dest/$f.new.$$" &&
		mv -f "$dest/$f.new.$$" "$dest/$f" || exit 1
	done || die 1 "cannot install into $dest"
	for f in "$work/unpacked/$top"/bin/*; do
		echo "  $dest/bin/${f##*/}"
	done
}

# ---- a source release: build and make install ----------------------------------
install_source() {
	[ -f "$work/unpacked/$top/Makefile" ] || die 1 "$name: no $top/Makefile inside"
	jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)
	make=${MAKE:-make}
	echo "$prog: building $top"
	(cd "$work/unpacked/$top" && $make -j"$jobs" >"$work/build.log" 2>&1) || {
		tail -n 20 "$work/build.log" >&2
		die 1 "the build failed (above: the end of its log)"
	}
	echo "$prog: installing into $dest"
	(cd "$work/unpacked/$top" && $make install PREFIX="$prefix" DESTDIR="${DESTDIR:-}" >"$work/install.log" 2>&1) || {
		tail -n 20 "$work/install.log" >&2
		die 1 "make install failed (above: the end of its log)"
	}
	for f in "$work/unpacked/$top"/build/bin/* "$work/unpacked/$top"/bin/smugglr; do
		[ -f "$f" ] && echo "  $dest/bin/${f##*/}"
	done
}

case $kind in
binary) install_binary ;;
source) install_source ;;
esac
echo "  $dest/share/man/man1, man5, man7: the manual (man smugglr)"
case :${PATH:-}: in
*:"$prefix/bin":*) ;;
*) [ -z "${DESTDIR:-}" ] && echo "$prog: $prefix/bin is not on your PATH; add it, e.g. export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
exit 0
