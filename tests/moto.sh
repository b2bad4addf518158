# moto.sh - sourced (after lib.sh, with TESTS the tests directory) by the
# tests that need an S3 store: moto_server on a free loopback port, and
# s3cmd pointed at it.
#   moto_start [NAME=VALUE...]  start it with these in its environment and
#                               wait until it answers: sets PORT, E (its
#                               URL) and moto_pid; exits the test if it
#                               never does
#   moto_stop                   for cleanup_hook
#   s3cmd_config                $T/s3cfg for the keys in AWS_ACCESS_KEY_ID
#                               and AWS_SECRET_ACCESS_KEY; s3cmd uses it
# moto_server: $MOTO_SERVER, else the one scripts/deps --test installs into
# tests/moto-venv, else the one on PATH or in pyenv's shims (a PATH without
# them).  None is one failed check.
MOTO=${MOTO_SERVER:-}
[ -z "$MOTO" ] && [ -x "$TESTS/moto-venv/bin/moto_server" ] && MOTO=$TESTS/moto-venv/bin/moto_server
[ -z "$MOTO" ] && MOTO=$(PATH=$PATH:${PYENV_ROOT:-$HOME/.pyenv}/shims command -v moto_server)
if [ -z "$MOTO" ]; then
	echo "not ok - moto_server (moto[server] 5) is needed by the S3 tests but is not installed:" \
		"scripts/deps --test installs it from PyPI into tests/moto-venv; or set MOTO_SERVER"
	exit 0
fi
moto_pid=

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null \
		|| echo $((20000 + $$ % 30000))
}

moto_start() {
	PORT=$(free_port)
	E=http://127.0.0.1:$PORT
	env "$@" "$MOTO" -H 127.0.0.1 -p "$PORT" >"$T/moto.log" 2>&1 &
	moto_pid=$!
	i=0
	# /moto-api/ does not count as an action
	until curl -sf -o /dev/null "$E/moto-api/data.json"; do
		i=$((i + 1))
		if [ $i -gt 150 ] || ! kill -0 "$moto_pid" 2>/dev/null; then
			fail "moto_server answers on $E"; sed 's/^/    /' "$T/moto.log" | tail -20; exit 1
		fi
		sleep 0.1
	done
	ok "moto_server answers on $E"
}

moto_stop() {
	[ -n "$moto_pid" ] && kill "$moto_pid" 2>/dev/null && wait "$moto_pid" 2>/dev/null
	:
}

s3cmd_config() {
	cat >"$T/s3cfg" <<EOF
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = 127.0.0.1:$PORT
host_bucket = 127.0.0.1:$PORT
bucket_location = us-east-1
use_https = False
signature_v2 = False
EOF
}
s3cmd() { command s3cmd -c "$T/s3cfg" "$@"; }
