# secrets.sh - a password in a target URL never shows: not in
# --print-config sh (which smugglr(1) evaluates and passes on as
# --remote-name, so into reports and ps), not in smg-fetch's messages.
. ./lib.sh

sqlite3 local.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
cat >c.toml <<'TOML'
local_db = "local.db"
[target]
url = "https://alice:s3cretPW@127.0.0.1:9/db"
TOML

check "print-config sh runs" smg-diff -c c.toml --print-config sh
cp .out sh.out
check_nogrep "print-config sh: no password" 's3cretPW' sh.out
check_nogrep "print-config sh: no user" 'alice' sh.out
check_grep "print-config sh: the label is the URL without user:password@" \
	"^smg_target_label='https://127.0.0.1:9/db'\$" sh.out
check_grep "print-config sh: so is the URL" "^smg_target_url='https://127.0.0.1:9/db'\$" sh.out

# a URL on the command line: the failure names the target, not its password
smg-fetch -q 'https://alice:s3cretPW@127.0.0.1:9/db' >fetch.out 2>fetch.err
rc=$?
check_eq "smg-fetch of an unreachable URL fails" "$([ $rc -ne 0 ] && echo yes)" yes
check_grep "smg-fetch: the message names the target" '127.0.0.1:9/db' fetch.err
check_nogrep "smg-fetch: no password in its messages" 's3cretPW' fetch.err
