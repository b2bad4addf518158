# tests/t/npm.sh - the npm package (the engine as WebAssembly, npm/): packs
# it (make npm), installs the tarball into a scratch app, and runs the
# checks in tests/npm/*.test.mjs with Node's own runner against two local D1
# databases (scripts/d1-server) and a Hrana server (scripts/hrana-server):
# every value type synced both ways, D1 <-> D1 and D1 <-> Hrana, and the
# result equal to the CLI's for the same data; D1 <-> Hrana and a database
# kept in OPFS <-> Hrana in headless Chromium (tests/npm/browser.test.mjs).
# Needs emscripten, cmake, tcl and chromium (scripts/deps --test installs
# them) and what the D1 tests need.
. ./lib.sh
need_tools "the npm tests" emcc cmake tclsh python3
. "$SMG_TOP/tests/d1-lib.sh"
need_tools "the npm tests" npm
A_ENV=$D/env

# a second D1 database: the other side
if ! "$top/scripts/d1-server" start "$T/d1b" >/dev/null 2>"$T/startb.err"; then
	fail "scripts/d1-server start (second)"; sed 's/^/    /' "$T/startb.err" | tail -20
	exit 0
fi
# and a Hrana (Turso) server: D1 <-> Hrana (scripts/hrana-server)
if ! "$top/scripts/hrana-server" start "$T/hrana" >/dev/null 2>"$T/starth.err"; then
	fail "scripts/hrana-server start"; sed 's/^/    /' "$T/starth.err" | tail -20
fi
cleanup_hook() {
	for d in "$D" "$T/d1b"; do
		[ -f "$d/pid" ] && "$top/scripts/d1-server" stop "$d" >/dev/null 2>&1
	done
	[ -f "$T/hrana/pid" ] && "$top/scripts/hrana-server" stop "$T/hrana" >/dev/null 2>&1
	:
}

# the package as a user gets it: the tarball, installed from the file
if (cd "$top" && make -s npm B="$SMG_BUILD") >"$T/pack.out" 2>"$T/pack.err"; then
	ok "make npm builds and packs the package"
else
	fail "make npm"; tail -20 "$T/pack.err" | sed 's/^/    /'; exit 0
fi
tgz=$(tail -n 1 "$T/pack.out")
mkdir -p "$T/app"
check "npm installs the tarball" sh -c 'cd "$1/app" && npm init -y >/dev/null && npm install --offline --no-audit --no-fund "$2"' sh "$T" "$tgz"

# The runner prints TAP; each test becomes one check here.
node_node=$("$top/scripts/d1-server" node)
# shellcheck source=/dev/null # the D1 server's env file
. "$A_ENV"
(
	export SMG_T="$T" SMG_APP="$T/app" SMG_TOP="$top"
	export D1A_ENV="$A_ENV" D1B_ENV="$T/d1b/env" HRANA_ENV="$T/hrana/env"
	export EVERY_VALUE_ROWS="$every_value_rows"
	# one file at a time: they share the databases
	rc=0
	for f in "$top"/tests/npm/*.test.mjs; do
		(cd "$T/app" && "$node_node" --test --test-reporter=tap "$f") || rc=$?
	done
	exit $rc
) >"$T/node.tap" 2>&1
rc=$?
# top-level "ok N - name" / "not ok N - name" lines of the runner
sed -n 's/^ok [0-9]* - \(.*\)/ok - npm: \1/p; s/^not ok [0-9]* - \(.*\)/not ok - npm: \1/p' "$T/node.tap"
# what each failed test said
grep -A 30 '^not ok' "$T/node.tap" | sed 's/^/    /'
[ -n "${SMG_NPM_ARTIFACTS:-}" ] && mkdir -p "$SMG_NPM_ARTIFACTS" && cp "$T/node.tap" "$SMG_NPM_ARTIFACTS/"
[ $rc -eq 0 ] || grep -q '^not ok' "$T/node.tap" || fail "node --test exited with status $rc"
