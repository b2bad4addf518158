# bad-input.sh - what smg-diff and smg-apply do with input that is not a
# good stream: exit 7 naming the input and line, nothing applied; and
# unknown options (exit 2).  Needs sqlite3.
. ./lib.sh

sqlite3 l.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (1,'a'),(2,X'00');"
sqlite3 e.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
sqlite3 target.db "CREATE TABLE t(id INTEGER PRIMARY KEY, v); INSERT INTO t VALUES (9,'keep');"
before=$(sum_file target.db)
smg-hash -q l.db >l.s
H=$(sed -n 2p l.s | sed 's/.*"hash":"\([0-9a-f]*\)".*/\1/')
TAB='{"kind":"table","table":"t","columns":["id","v"],"pk":["id"],"timestamp":null}'
CH='{"kind":"change","table":"t","bucket":"local_only","op":"upsert","to":"remote"'
row() { echo "{\"kind\":\"row\",\"table\":\"t\",\"key\":[$1],\"hash\":\"$2\",\"values\":[$1,$3]}"; }
change() { echo "$CH,\"key\":[$1],\"values\":[$1,$2]}"; }
# stream FILE LINE...: write the lines and a correct trailer
stream() {
	f=$1; shift
	printf '%s\n' "$@" >"$f"
	echo "{\"kind\":\"end\",\"records\":$#}" >>"$f"
}

# diff_bad WHAT FILE LINE: smg-diff FILE e.db exits 7, names FILE:LINE, and
# writes no trailer (nothing downstream could apply it)
diff_bad() {
	check_exit 7 "smg-diff: $1: exit 7" smg-diff -q "$2" e.db
	check_grep "smg-diff: $1: the message names $2 line $3" "^smg-diff: $2:$3: " .err
	check_nogrep "smg-diff: $1: no trailer on stdout" '"kind":"end"' .out
}
# apply_bad WHAT FILE LINE: smg-apply exits 7, names the line, target untouched
apply_bad() {
	check_exit 7 "smg-apply: $1: exit 7" smg-apply -q -i "$2" target.db
	check_grep "smg-apply: $1: the message names $2 line $3" "^smg-apply: $2:$3: " .err
	check_eq "smg-apply: $1: target unchanged" "$(sum_file target.db)" "$before"
}

# ---- control: the well-formed versions are accepted ------------------------
stream good-row.s "$TAB" "$(row 1 "$H" '"a"')"
check_exit 0 "control: a hand-written row stream is accepted by smg-diff" smg-diff -q good-row.s e.db
check_eq "control: ... and gives one upsert" "$(grep -c '"kind":"change"' .out)" 1
stream good-change.s "$TAB" "$(change 1 '"a"')"
cp target.db control.db
check_exit 0 "control: a hand-written change stream is accepted by smg-apply" smg-apply -q -i good-change.s control.db
check_eq "control: ... and applied" "$(sqlite3 control.db 'SELECT v FROM t WHERE id = 1')" a

# ---- malformed JSON -------------------------------------------------------
stream m1.s "$TAB" "{\"kind\":\"row\",\"table\":\"t\",\"key\":[1],\"hash\":\"$H\",\"values\":[1,\"a\"]"
diff_bad "a record missing its closing brace" m1.s 2
stream m2.s "$TAB" "$(row 1 "$H" '"a"')" 'this is not json'
diff_bad "a line of plain text" m2.s 3
stream m3.s "$TAB" "$(row 1 "$H" '"unterminated')"
diff_bad "an unterminated string" m3.s 2
stream m4.s "$TAB" '[1,2,3]'
diff_bad "a JSON array instead of an object" m4.s 2
stream m5.s "$TAB" '{"kind":"bogus"}'
diff_bad "an unknown kind" m5.s 2
stream m6.s "$TAB" '{"table":"t","key":[1]}'
diff_bad "a record without kind" m6.s 2
stream m7.s "$(row 1 "$H" '"a"')"
diff_bad "a row before any table record" m7.s 1
stream m8.s "$TAB" "$(row '1,2' "$H" '"a"')"
diff_bad "a key with more values than the primary key" m8.s 2
# the writer's own layout, which the reader takes by a shorter path
stream m9.s "$TAB" "$(row 1 "$H" '"a"')x"
diff_bad "text after the closing brace" m9.s 2
stream m10.s "$TAB" "$(row 1 "$H" '"a\\"],"x":1')"
diff_bad "an escaped quote, then what would close the values" m10.s 2
stream m11.s "$TAB" "{\"kind\":\"row\",\"table\":\"t\",\"key\":[\"1],\"hash\":\"$H\",\"values\":[1,\"a\"]}"
diff_bad "an unterminated string in the key" m11.s 2
stream ok-brackets.s "$TAB" "$(row 1 "$H" '"a\\"]}{["')"
check_exit 0 "control: brackets and an escaped quote inside a value are only text" \
	smg-diff -q ok-brackets.s e.db
check_grep "control: ... and travel as they are" '"values":\[1,"a\\"\]}{\["\]' .out
stream m9.s "$TAB" "$(row 1 "$H" '"a"') trailing"
diff_bad "text after the record on the line" m9.s 2

stream am1.s "$TAB" "$CH,\"key\":[1],\"values\":[1,\"a\"]"
apply_bad "a record missing its closing brace" am1.s 2
stream am2.s "$TAB" "$(change 1 '"a"')" '{"kind":"change",,}'
apply_bad "a malformed second change" am2.s 3
stream am3.s "$TAB" "$(change 1 '1.5.5')"
apply_bad "a malformed number" am3.s 2
stream am4.s "$TAB" "$(change 1 '9223372036854775808')"
apply_bad "an integer beyond int64" am4.s 2
stream am5.s "$TAB" "$(change 1 '"bad \q escape"')"
apply_bad "a bad string escape" am5.s 2
stream am6.s "$TAB" "$(change 1 '"\ud800"')"
apply_bad "an unpaired surrogate" am6.s 2
stream am7.s "$TAB" "$(change 1 "\"$(printf 'a\377b')\"")"
apply_bad "raw invalid UTF-8 in a JSON string" am7.s 2
stream am8.s "$TAB" "$CH,\"key\":[1],\"values\":[1]}"
apply_bad "fewer values than columns" am8.s 2
stream am9.s "$TAB" "$CH,\"key\":[2],\"values\":[1,\"a\"]}"
apply_bad "a key that does not match the values" am9.s 2
stream am10.s "$TAB" "$CH,\"key\":[1]}"
apply_bad "an upsert without values" am10.s 2
stream am11.s "$TAB" '{"kind":"change","table":"t","bucket":"local_only","op":"merge","to":"remote","key":[1],"values":[1,"a"]}'
apply_bad "an unknown op" am11.s 2
stream am12.s "$TAB" '{"kind":"change","table":"t","bucket":"local_only","op":"upsert","to":"moon","key":[1],"values":[1,"a"]}'
apply_bad "an unknown side in to" am12.s 2
stream am13.s "$TAB" "$(change 1 '"a"')" "$TAB"
apply_bad "the same table twice" am13.s 3

# ---- a member twice: an error, not "the last one wins" -----------------------
stream dup-op.s "$TAB" "$CH,\"op\":\"delete\",\"key\":[1],\"values\":[1,\"a\"]}"
apply_bad '"op" twice in a change record (upsert, then delete)' dup-op.s 2
check_grep 'smg-apply: ... the message names the member' 'member "op" appears twice' .err
stream dup-key.s "$TAB" "{\"kind\":\"row\",\"table\":\"t\",\"key\":[1],\"key\":[2],\"hash\":\"$H\",\"values\":[1,\"a\"]}"
diff_bad '"key" twice in a row record' dup-key.s 2
check_grep 'smg-diff: ... the message names the member' 'member "key" appears twice' .err
stream dup-kind.s "{\"kind\":\"table\",\"kind\":\"row\",\"table\":\"t\",\"columns\":[\"id\",\"v\"],\"pk\":[\"id\"],\"timestamp\":null}"
diff_bad '"kind" twice in a table record' dup-kind.s 1
stream dup-unknown.s "$TAB" "$CH,\"note\":1,\"note\":2,\"key\":[1],\"values\":[1,\"a\"]}"
check_exit 0 "an unknown member twice is still ignored, as unknown members are" smg-apply -q -n -i dup-unknown.s target.db

# ---- --print-config frees what it allocated --------------------------------------
# (under the ASan pass of make check, a leak report makes the exit status 1)
for f in sh toml json; do
	check_exit 0 "smg-diff --print-config $f: exit 0, no leak report" smg-diff --print-config $f
done

# ---- wrong value types --------------------------------------------------
for v in true false '[1]' '{"x":1}' '{"blob":1}'; do
	stream v.s "$TAB" "$(change 1 "$v")"
	apply_bad "value $v" v.s 2
done
stream v.s "$TAB" "$(change 1 true)"
smg-apply -q -i v.s target.db >/dev/null 2>v.err
check_grep "smg-apply: the message says what is wrong with a boolean" 'boolean' v.err
stream k1.s "$TAB" "$(row true "$H" '"a"')"
diff_bad "a boolean key" k1.s 2
stream k2.s "$TAB" "$(row '[1]' "$H" '"a"')"
diff_bad "an array key" k2.s 2
# smugglr-stream(5): booleans, arrays and other objects are not values, a
# reader rejects them -- smg-diff too, before it passes them on in a change
for v in true '[1]' '{"x":1}'; do
	stream dv.s "$TAB" "$(row 1 "$H" "$v")"
	diff_bad "value $v in a row it would copy into a change" dv.s 2
done

stream dv.s "$TAB" "$(row 1 "$H" true)"
smg-diff -q dv.s e.db 2>/dev/null | smg-apply -q target.db >/dev/null 2>pipe.err
check_grep "whatever smg-diff passes on, smg-apply refuses it (a boolean value or a cut stream)" '^smg-apply: stdin:[0-9]*: ' pipe.err
check_eq "... and the target is unchanged" "$(sum_file target.db)" "$before"

# ---- bad base64 -------------------------------------------------------------
for b in '!!!' 'AA=' 'A' 'AAA=A'; do
	stream b.s "$TAB" "$(change 1 "{\"blob\":\"$b\"}")"
	apply_bad "blob base64 '$b'" b.s 2
done
stream b.s "$TAB" "$(change 1 '{"text64":"%%%"}')"
apply_bad "text64 with bad base64" b.s 2
stream b.s "$TAB" "$(row '{"blob":"!!"}' "$H" 'null')"
diff_bad "a blob key with bad base64" b.s 2
stream db.s "$TAB" "$(row 1 "$H" '{"blob":"!!!"}')"
diff_bad "bad base64 in a row it would copy into a change" db.s 2

# ---- bad hash hex ---------------------------------------------------------------
UPPER=$(echo "$H" | tr a-f A-F)
for h in "${H%?}g" abc "${H}00" "$UPPER" ""; do
	stream h.s "$TAB" "$(row 1 "$h" '"a"')"
	diff_bad "hash '$h'" h.s 2
done
stream h.s "$TAB" '{"kind":"row","table":"t","key":[1],"values":[1,"a"]}'
diff_bad "a row without a hash" h.s 2

# ---- data after the end record --------------------------------------------------
{ cat l.s; echo '{"kind":"row"}'; } >after.s
diff_bad "data after the end record" after.s 5
{ cat l.s; cat l.s; } >twice.s
diff_bad "a stream concatenated twice" twice.s 5
{ cat good-change.s; echo "$TAB"; } >after-change.s
apply_bad "data after the end record" after-change.s 4
{ cat good-change.s; echo '{"kind":"end","records":3}'; } >two-ends.s
apply_bad "two end records" two-ends.s 4

# ---- the wrong kind of stream --------------------------------------------------
check_exit 7 "a row stream given to smg-apply: exit 7" smg-apply -q -i l.s target.db
check_grep "... saying it expected a change stream, with the line" '^smg-apply: l.s:2: .*change' .err
check_eq "... target unchanged" "$(sum_file target.db)" "$before"
check_exit 7 "a row stream on smg-apply's stdin: exit 7" sh -c 'smg-apply -q target.db <l.s'
smg-diff -q l.db e.db >changes.s
check_exit 7 "a change stream given to smg-diff: exit 7" smg-diff -q changes.s e.db
check_grep "... with the line of the first change" '^smg-diff: changes.s:2: ' .err
check_exit 7 "a change stream as smg-diff's remote input: exit 7" smg-diff -q l.db changes.s
check_grep "... naming it" 'changes.s:2:' .err
smg-diff -q -r json l.db e.db >report.json
check_exit 7 "a JSON report given to smg-apply: exit 7" smg-apply -q -i report.json target.db
check_eq "... target unchanged" "$(sum_file target.db)" "$before"
printf 'CREATE TABLE x(y);\n' >sql.txt
check_exit 7 "SQL text given to smg-diff: exit 7" smg-diff -q sql.txt e.db
check_grep "... naming line 1" 'sql.txt:1:' .err

# ---- unknown options and bad arguments ---------------------------------------------
for p in smg-hash smg-diff smg-apply; do
	check_exit 2 "$p --no-such-option: exit 2" $p --no-such-option l.db e.db
	check_grep "$p --no-such-option: a usage message" 'usage' .err
	check_exit 2 "$p -Z (unknown short option): exit 2" $p -Z l.db
done
check_exit 2 "smg-diff --policy bogus: exit 2" smg-diff --policy bogus l.db e.db
check_exit 2 "smg-diff --direction bogus: exit 2" smg-diff --direction bogus l.db e.db
check_exit 2 "smg-diff --report bogus: exit 2" smg-diff --report bogus l.db e.db
check_exit 2 "smg-apply --report bogus: exit 2" smg-apply --report bogus -i good-change.s target.db
check_exit 2 "smg-diff with three inputs: exit 2" smg-diff l.db e.db l.db
check_exit 2 "smg-apply with two targets: exit 2" smg-apply -i good-change.s target.db e.db
check_eq "after all that, the target is still unchanged" "$(sum_file target.db)" "$before"
