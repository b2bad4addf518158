# tests/t/shellcheck.sh - shellcheck finds nothing at severity warning in the shell
# of the tree: bin/smugglr with the verb files it sources
# (libexec/smugglr/*.sh, followed from it, where their variables are
# set), every sh script in scripts/, tests/run and every test.  The
# tree's .shellcheckrc says which checks are off and why; a finding is
# fixed, or disabled on its line with a reason.  Info and style notes
# (quoting a number, say) are not checked.
# Needs shellcheck >= 0.8 (scripts/deps --test installs it).
. ./lib.sh
need_tools "shellcheck.sh" shellcheck
top=$SMG_TOP

# ---- the check sees a finding -----------------------------------------------------
printf '#!/bin/sh\nunused=1\n' >probe.sh
shellcheck -S warning -s sh -f gcc probe.sh >probe.out 2>&1; rc=$?
check_eq "shellcheck -S warning reports an unused variable (it can fail)" "$rc $(grep -c SC2034 probe.out)" "1 1"

# ---- every verb file is checked through bin/smugglr ------------------------------
for f in "$top"/libexec/smugglr/*.sh; do
	rel=libexec/smugglr/${f##*/}
	check_eq "$rel is followed from bin/smugglr (a '# shellcheck source=' line)" \
		"$(grep -c "^[[:space:]]*# shellcheck source=$rel\$" "$top/bin/smugglr")" 1
done

# ---- the tree ---------------------------------------------------------------------
set -- bin/smugglr tests/run
for f in "$top"/scripts/* "$top"/tests/*.sh "$top"/tests/t/*.sh; do
	case $(head -n 1 "$f") in '#!/bin/sh'*) ;; *) case $f in *.sh) ;; *) continue ;; esac ;; esac
	set -- "$@" "${f#"$top"/}"
done
check_eq "the files checked include scripts/deps and this test" \
	"$(printf '%s\n' "$@" | grep -c -x -e scripts/deps -e tests/t/shellcheck.sh)" 2
(cd "$top" && shellcheck -x -a -S warning -s sh -f gcc "$@") >sc.out 2>&1; rc=$?
check_eq "shellcheck -S warning of bin/smugglr (and libexec), scripts and tests: no finding ($# files)" \
	"$rc $(wc -l <sc.out)" "0 0"
[ -s sc.out ] && sed 's/^/    /' sc.out | head -40
exit 0
