# relay.sh - the relay verbs: stash, retrieve, snapshot, snapshots, prune,
# restore.  Sourced by bin/smugglr, which has parsed the options and holds
# the helpers used here (read_settings, run_stage, die, the lock); not a
# program of its own.  See smugglr(1).
# shellcheck shell=sh

# ---- relay: stash, retrieve, snapshot, snapshots, restore --------------------------
# The relay is one SQLite database kept as an object at [stash] url
# (s3://BUCKET/KEY or file:///PATH), shared by every machine that stashes to
# it; snapshots are whole copies of a local database beside it, under
# snapshots/.  smg-s3 moves the objects (an ETag condition makes a stash
# that lost a race say so, exit 6), smg-diff and smg-apply move the rows,
# smg-hash copies, checks and describes databases.

# The settings of the relay verbs: the local database and the relay ([stash]
# url); no target.  $1 = 1 when the local database must exist.
load_relay_config() {
	for p in smg-diff smg-s3; do
		command -v $p >/dev/null 2>&1 ||
			die $EXIT_FAILURE "cannot find $p (install the smg-* programs next to smugglr or on PATH)"
	done
	read_settings
	where=${config:-config.toml}
	local_db=$smg_local_db remote=''
	[ -n "$local_db" ] || die $EXIT_USAGE "no local database: set local_db in $where"
	[ "$1" = 0 ] || [ -e "$local_db" ] || die $EXIT_NOTFOUND "local database $local_db does not exist"
	relay_url=${smg_stash_url:-}
	[ -n "$relay_url" ] || die $EXIT_USAGE "no relay: set [stash] url in $where (s3://BUCKET/KEY or file:///PATH)"
	case $relay_url in
	*/) die $EXIT_USAGE "[stash] url names an object, not a directory: $relay_url" ;;
	s3://?*/?*|file:///?*) ;;
	*) die $EXIT_USAGE "[stash] url is s3://BUCKET/KEY or file:///PATH, not \"$relay_url\"" ;;
	esac
	snap_prefix=${relay_url%/*}/snapshots/
	relay_repl=$(printf '%s' "$relay_url" | sed 's/[&|\\]/\\&/g')	# for relay_words
}

# smg-s3 with the [stash] settings of our configuration.
s3() {
	[ -n "$config" ] && set -- -c "$config" "$@"
	say smg-s3 "$@"
	smg-s3 "$@"
}

# What the programs say of our temporary copy of the relay, said of the relay.
relay_words() {	# FILE...
	sed "s|$tmp/relay\\.db|$relay_repl|g" "$@"
}

# run_stage for the relay verbs: stderr speaks of the relay rather than of
# our copy; QUIET=1 shows it only when the stage fails.
relay_stage() {	# QUIET NAME CMD...
	rs_quiet=$1 name=$2
	shift 2
	say "$@"
	"$@" 2>"$tmp/$name.raw"
	rc=$?
	echo $rc >"$tmp/$name.rc"
	if [ -s "$tmp/$name.raw" ]; then
		relay_words "$tmp/$name.raw" >"$tmp/$name.err"
		if [ "$rs_quiet" = 0 ] || [ $rc -ne 0 ]; then show_err "$tmp/$name.err"; fi
	else
		: >"$tmp/$name.err"
	fi
	return $rc
}

# Download the relay to $tmp/relay.db and its ETag to $tmp/relay.etag.
# Returns 3 when there is no relay yet; other failures end the run.
fetch_relay() {
	rm -f "$tmp/relay.db" "$tmp/relay.db-wal" "$tmp/relay.db-shm" "$tmp/relay.db-journal" "$tmp/relay.etag"
	s3 get --etag-file "$tmp/relay.etag" "$relay_url" "$tmp/relay.db" 2>"$tmp/get.err"
	rc=$?
	[ $rc -eq $EXIT_NOTFOUND ] && return $rc
	[ $rc -eq 0 ] || die $rc "fetching the relay: $(last_message "$tmp/get.err")"
	return 0
}

# A relay that is not a sound SQLite database is neither merged nor
# replaced: exit 7, nothing written anywhere.
check_relay() {
	smg-hash --integrity-check "$tmp/relay.db" >/dev/null 2>"$tmp/check.raw"
	rc=$?
	[ $rc -eq 0 ] && return 0
	relay_words "$tmp/check.raw" >"$tmp/check.err"
	msg=$(last_message "$tmp/check.err")
	[ $rc -eq $EXIT_DATA ] || die $rc "$msg"
	die $EXIT_DATA "the relay $relay_url: ${msg#"$relay_url": }; nothing was changed"
}

# smg-diff -d push of two schema streams, its exit 8 (a table skipped) not
# a failure here.
schema_diff() {
	smg-diff -q -d push "$@"
	rc=$?
	[ $rc -eq $EXIT_PARTIAL ] && return 0
	return $rc
}

# The relay copy gets the local schema of every selected table it lacks, so
# that each table is on both sides of the diff and an empty one lands too.
# True when a table was created.
relay_schema() {
	IFS=$nl
	# shellcheck disable=SC2046
	set -- $(select_args)
	unset IFS
	# smg-diff of the two schemas picks the tables the relay lacks; one it has
	# with other columns is smg-diff's to report (exit 8) in the real diff
	relay_stage 1 schema.relay smg-hash -q --schema-only "$tmp/relay.db" >"$tmp/relay.schema"
	fail_from schema.relay
	{ relay_stage 1 schema smg-hash -q --schema-only "$@" "$local_db"; } |
		{ relay_stage 1 schema.diff schema_diff - "$tmp/relay.schema"; } |
		relay_stage 1 schema.apply smg-apply -q -r json --create-tables "$tmp/relay.db" >"$tmp/schema.out"
	fail_from schema schema.diff schema.apply
	grep -q '"created":true' "$tmp/schema.out"
}

# smg-diff LOCAL RELAY-COPY | smg-apply TARGET; reports in $tmp/diff.report
# and $tmp/apply.out.
relay_diff_apply() {	# push|pull TARGET [--delete]
	dir=$1 target=$2
	shift 2
	IFS=$nl
	# shellcheck disable=SC2046
	set -- $(common_args) -q -d "$dir" -r "$output" --report-file "$tmp/diff.report" "$@"
	unset IFS
	aflags=''
	[ "$dry_run" = 1 ] && aflags=-n
	[ "$create_tables" = 1 ] && aflags="$aflags --create-tables"	# retrieve
	# shellcheck disable=SC2086
	{ relay_stage 0 diff smg-diff "$@" "$local_db" "$tmp/relay.db"; } |
		relay_stage 0 apply smg-apply -q -r "$output" $aflags "$target" >"$tmp/apply.report"
	accept_partial diff
	fail_from diff apply
	relay_words "$tmp/apply.report" >"$tmp/apply.out"
}

# Did the apply write nothing?  (Its report's totals, text or JSON.)
wrote_nothing() {
	grep -q -e ' 0 upserts* and 0 deletes* in ' -e '],"upserted":0,"deleted":0[,}]' "$tmp/apply.report"
}

json_bool() { if [ "$1" = 1 ]; then echo true; else echo false; fi; }

relay_result() {	# EXTRA-JSON-FIELDS TEXT-LINE
	if [ "$output" = json ]; then
		printf '{"command":"%s","relay":%s,"dry_run":%s%s,"diff":%s,"apply":%s}\n' "$verb" \
			"$(json_str "$relay_url")" "$(json_bool "$dry_run")" "$1" \
			"$(relay_words "$tmp/diff.report")" "$(cat "$tmp/apply.out")"
	else
		relay_words "$tmp/diff.report" | grep -v '^  '	# counts, without sample keys
		cat "$tmp/apply.out"
		[ -z "$2" ] || echo "$2"
	fi >"$tmp/result"
	emit "$tmp/result"
}

# A short random pause before another attempt, so racers spread out.
relay_backoff() {	# ATTEMPT
	pause=$(awk -v s="$$" -v a="$1" 'BEGIN { srand(s + 7919 * a); printf "%.2f", rand() * 0.25 * a }')
	sleep "$pause" 2>/dev/null || sleep 1
}

# Fetch, diff, apply to the copy, upload if the ETag is still the one
# fetched; when it is not (exit 6), all again, up to [stash] max_attempts.
# A retried PUT that landed can still come back 412: the next fetch then
# finds nothing to write, and nothing is uploaded twice.
verb_stash() {
	load_relay_config 1
	max=${smg_stash_max_attempts:-5} attempt=0 uploaded=false etag='' note=''
	while :; do
		attempt=$((attempt + 1))
		first=0
		fetch_relay || first=1
		if [ $first = 1 ]; then
			: >"$tmp/relay.db"	# no relay yet: an empty database (a file of 0 bytes is one)
		else
			check_relay
		fi
		changed=0
		relay_schema && changed=1
		[ -s "$tmp/relay.db" ] || die $EXIT_NOTFOUND "nothing to stash: $local_db has no table to sync"
		if [ "$delete" = 1 ]; then
			relay_diff_apply push "$tmp/relay.db" --delete
		else
			relay_diff_apply push "$tmp/relay.db"
		fi
		wrote_nothing || changed=1
		if [ "$dry_run" = 1 ]; then
			note="dry run: nothing uploaded to $relay_url"
			break
		fi
		if [ $changed = 0 ]; then
			etag=$(cat "$tmp/relay.etag")
			note="the relay $relay_url already has every local change: nothing uploaded"
			break
		fi
		# tests force a lost race here (see tests/relay-cases.sh)
		if [ $attempt = 1 ] && [ -n "${SMUGGLR_TEST_HOOK_BEFORE_PUT:-}" ]; then
			eval "$SMUGGLR_TEST_HOOK_BEFORE_PUT"
		fi
		if [ $first = 1 ]; then
			set -- --if-none-match
		else
			set -- --if-match "$(cat "$tmp/relay.etag")"
		fi
		s3 put "$@" --etag-file "$tmp/put.etag" "$relay_url" "$tmp/relay.db" 2>"$tmp/put.err"
		rc=$?
		if [ $rc -eq 0 ]; then
			uploaded=true etag=$(cat "$tmp/put.etag")
			note="stashed to $relay_url"
			[ $attempt -gt 1 ] && note="$note (attempt $attempt: the relay had changed meanwhile)"
			break
		fi
		[ $rc -eq $EXIT_CONFLICT ] || die $rc "uploading the relay: $(last_message "$tmp/put.err")"
		[ $attempt -lt "$max" ] || die $EXIT_CONFLICT "the relay $relay_url changed during each of $max attempts to stash; nothing lost, try again (or raise [stash] max_attempts)"
		say "the relay changed since it was fetched (attempt $attempt of $max): again"
		relay_backoff $attempt
	done
	relay_result ",\"attempts\":$attempt,\"uploaded\":$uploaded,\"etag\":$(json_str "$etag")" "$note"
}

# Fetch the relay and take its changes into the local database, in one
# transaction (smg-apply's).
verb_retrieve() {
	load_relay_config 1
	fetch_relay || die $EXIT_NOTFOUND "no relay at $relay_url: nothing has been stashed there yet (smugglr stash makes it)"
	check_relay
	if [ "$delete" = 1 ]; then
		relay_diff_apply pull "$local_db" --delete
	else
		relay_diff_apply pull "$local_db"
	fi
	relay_result ",\"etag\":$(json_str "$(cat "$tmp/relay.etag")")" ""
}

# 20261125T100000Z -> 2026-11-25T10:00:00Z
ts_iso() {
	printf '%s\n' "$1" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\)Z$/\1-\2-\3T\4:\5:\6Z/'
}

# A UTC time as people write it (2026-11-25T10:00:00Z, 2026-11-25 10:00,
# 20261125T1000Z, 2026-11-25) -> 20261125T100000Z, the form of snapshot names.
norm_ts() {
	s=$(printf '%s' "$1" | tr -d ':-' | tr ' t' TT | sed -e 's/[Zz]$//' -e 's/\.[0-9]*$//')
	case $s in
	[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]) s=${s}T000000 ;;
	*T[0-9][0-9]) s=${s}0000 ;;
	*T[0-9][0-9][0-9][0-9]) s=${s}00 ;;
	esac
	case $s in
	[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]) echo "${s}Z" ;;
	*) return 1 ;;
	esac
}

# The snapshots beside the relay, newest first, in $tmp/snaps:
# NAME <tab> SIZE <tab> LAST-MODIFIED, NAME being the UTC time of the copy.
list_snapshots() {
	s3 list "$snap_prefix" >"$tmp/list" 2>"$tmp/list.err"
	rc=$?
	[ $rc -eq 0 ] || die $rc "listing $snap_prefix: $(last_message "$tmp/list.err")"
	d='[0-9]'
	awk -F '	' -v re="^$d$d$d$d$d$d$d${d}T$d$d$d$d$d${d}Z[.]sqlite\$" '
		{ n = $1; sub(/.*\//, "", n) }
		n ~ re { sub(/[.]sqlite$/, "", n); print n "\t" $2 "\t" $4 }' "$tmp/list" |
		sort -r >"$tmp/snaps"
}

# A consistent copy of the whole local database (SQLite's backup API),
# uploaded as snapshots/NAME.sqlite beside the relay, with NAME.json: the
# copy's size, SHA-256 and rows per table, as smg-hash --stats says.
verb_snapshot() {
	load_relay_config 1
	relay_stage 0 backup smg-hash --backup "$tmp/snapshot.sqlite" "$local_db" || fail_from backup
	relay_stage 0 stats smg-hash --stats "$tmp/snapshot.sqlite" >"$tmp/stats.json" || fail_from stats
	size=$(wc -c <"$tmp/snapshot.sqlite" | tr -d ' ')
	attempt=0
	while :; do
		attempt=$((attempt + 1))
		snap=$(date -u +%Y%m%dT%H%M%SZ)
		snap_url=$snap_prefix$snap.sqlite
		{
			printf '{"snapshot":"%s","created":"%s","source":%s,"host":%s,' "$snap" \
				"$(ts_iso "$snap")" "$(json_str "$local_db")" "$(json_str "$(uname -n)")"
			sed 's/^{//' "$tmp/stats.json"
		} >"$tmp/meta.json"
		[ "$dry_run" = 1 ] && break
		case $snap_prefix in
		file://*) mkdir -p "${snap_prefix#file://}" || die $EXIT_FAILURE "cannot make ${snap_prefix#file://}" ;;
		esac
		# one name per second: a name taken (by another machine) waits a second
		s3 put --if-none-match "$snap_url" "$tmp/snapshot.sqlite" 2>"$tmp/put.err"
		rc=$?
		[ $rc -eq 0 ] && break
		[ $rc -eq $EXIT_CONFLICT ] && [ $attempt -lt 5 ] && { sleep 1; continue; }
		die $rc "uploading $snap_url: $(last_message "$tmp/put.err")"
	done
	if [ "$dry_run" = 0 ]; then
		s3 put "${snap_url%.sqlite}.json" "$tmp/meta.json" 2>"$tmp/put.err" ||
			die $? "uploading ${snap_url%.sqlite}.json: $(last_message "$tmp/put.err")"
	fi
	if [ "$output" = json ]; then
		printf '{"command":"snapshot","dry_run":%s,"snapshot":"%s","url":%s,"metadata":%s}\n' \
			"$(json_bool "$dry_run")" "$snap" "$(json_str "$snap_url")" "$(cat "$tmp/meta.json")"
	elif [ "$dry_run" = 1 ]; then
		echo "dry run: would upload snapshot $snap of $local_db ($size bytes) to $snap_url; nothing uploaded"
	else
		echo "snapshot $snap of $local_db ($size bytes): $snap_url"
		echo "metadata: ${snap_url%.sqlite}.json"
	fi
}

verb_snapshots() {
	load_relay_config 0
	list_snapshots
	if [ "$output" = json ]; then
		printf '{"command":"snapshots","prefix":%s,"snapshots":[' "$(json_str "$snap_prefix")"
		sep=''
		while IFS='	' read -r snap size when; do
			printf '%s{"snapshot":"%s","time":"%s","size":%s,"last_modified":"%s","url":%s}' "$sep" \
				"$snap" "$(ts_iso "$snap")" "$size" "$when" "$(json_str "$snap_prefix$snap.sqlite")"
			sep=,
		done <"$tmp/snaps"
		printf ']}\n'
	elif [ -s "$tmp/snaps" ]; then
		while IFS='	' read -r snap size when; do
			printf '%s  %s  %12s  %s\n' "$snap" "$(ts_iso "$snap")" "$size" "$snap_prefix$snap.sqlite"
		done <"$tmp/snaps"
	else
		echo "no snapshots under $snap_prefix"
	fi
}

# Delete old snapshots: past the newest $keep, and/or taken before $before.
# A snapshot's .sqlite goes first, then its .json: listing and restore go by
# the .sqlite, so a failure between the two leaves no half snapshot behind.
verb_prune() {
	load_relay_config 0
	[ -n "$keep$before" ] || die $EXIT_USAGE "prune needs --keep N (keep the newest N), --before TIME (delete older ones), or both"
	cut=''
	if [ -n "$before" ]; then
		cut=$(norm_ts "$before") || die $EXIT_USAGE "--before: \"$before\" is not a UTC time such as 2026-11-25T10:00:00Z, 2026-11-25 10:00 or 20261125T100000Z"
	fi
	list_snapshots
	awk -F '	' -v keep="${keep:-0}" -v cut="$cut" \
		'{ print ((NR > keep && (cut == "" || $1 < cut)) ? "gone" : "kept") "\t" $0 }' \
		"$tmp/snaps" >"$tmp/plan"
	ngone=0 nkept=$(grep -c '^kept' "$tmp/plan")
	: >"$tmp/gone.json"
	while IFS='	' read -r what snap size when; do
		[ "$what" = gone ] || continue
		url=$snap_prefix$snap
		if [ "$dry_run" = 0 ]; then
			s3 delete "$url.sqlite" 2>"$tmp/del.err" ||
				die $? "deleting $url.sqlite: $(last_message "$tmp/del.err") ($ngone deleted before it)"
			s3 delete "$url.json" 2>"$tmp/del.err"
			rc=$?
			# a snapshot whose metadata is already gone is still pruned
			[ $rc -eq 0 ] || [ $rc -eq $EXIT_NOTFOUND ] ||
				die $rc "deleting $url.json: $(last_message "$tmp/del.err") (its .sqlite is deleted)"
		fi
		ngone=$((ngone + 1))
		if [ "$output" = json ]; then
			[ $ngone -gt 1 ] && printf , >>"$tmp/gone.json"
			printf '{"snapshot":"%s","time":"%s","size":%s,"url":%s}' "$snap" "$(ts_iso "$snap")" \
				"$size" "$(json_str "$url.sqlite")" >>"$tmp/gone.json"
		elif [ "$dry_run" = 1 ]; then
			echo "would delete snapshot $snap ($(ts_iso "$snap"), $size bytes): $url.sqlite"
		else
			echo "deleted snapshot $snap ($(ts_iso "$snap"), $size bytes): $url.sqlite"
		fi
	done <"$tmp/plan"
	if [ "$output" = json ]; then
		printf '{"command":"prune","dry_run":%s,"prefix":%s,"deleted":[%s],"kept":%d}\n' \
			"$(json_bool "$dry_run")" "$(json_str "$snap_prefix")" "$(cat "$tmp/gone.json")" "$nkept"
	elif [ "$dry_run" = 1 ]; then
		echo "dry run: would delete $ngone snapshot(s), keep $nkept; nothing deleted"
	else
		echo "deleted $ngone snapshot(s), kept $nkept under $snap_prefix"
	fi
}

# Leave nothing of a restore that did not happen.
restore_fail() {	# CODE MESSAGE
	rm -f "$new" "$new-wal" "$new-shm" "$new-journal"
	die "$1" "$2"
}

# The snapshot NAME, or the latest before it: fetched beside the local
# database, checked (size, SHA-256 and row counts against its metadata,
# PRAGMA integrity_check), and renamed over it.  The replaced database
# stays beside it as LOCAL.before-restore-NOW (hard link, then rename: the
# local database is never missing).  Not while another smugglr holds it.
verb_restore() {
	load_relay_config 0
	[ "$nargs" -eq 1 ] || die $EXIT_USAGE "restore takes one time: smugglr restore 2026-11-25T10:00:00Z (or latest)"
	set -- "$args"
	if [ "$1" = latest ]; then
		want=99999999T999999Z
	else
		want=$(norm_ts "$1") || die $EXIT_USAGE "\"$1\" is not a UTC time such as 2026-11-25T10:00:00Z, 2026-11-25 10:00 or 20261125T100000Z"
	fi
	list_snapshots
	pick=$(awk -F '	' -v w="$want" '$1 <= w { print $1; exit }' "$tmp/snaps")
	if [ -z "$pick" ]; then
		oldest=$(tail -n 1 "$tmp/snaps" | cut -f1)
		die $EXIT_NOTFOUND "no snapshot at or before $(ts_iso "$want") under $snap_prefix${oldest:+ (the oldest is $oldest)}"
	fi
	snap=$pick snap_url=$snap_prefix$pick.sqlite
	s3 get "${snap_url%.sqlite}.json" "$tmp/meta.json" 2>"$tmp/get.err" ||
		die $? "snapshot $snap: its metadata ${snap_url%.sqlite}.json: $(last_message "$tmp/get.err")"
	lock="$local_db.smugglr-lock"
	holder=$(cat "$lock/pid" 2>/dev/null)
	if [ -n "$holder" ] && [ "$holder" != $$ ] && alive "$holder"; then
		die $EXIT_CONFLICT "another smugglr (pid $holder) holds $local_db (lock $lock): not restoring under it"
	fi
	kept="$local_db.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
	[ -e "$local_db" ] || kept=''
	if [ "$dry_run" = 1 ]; then
		if [ "$output" = json ]; then
			printf '{"command":"restore","dry_run":true,"snapshot":"%s","url":%s,"local_db":%s,"kept":%s,"metadata":%s}\n' \
				"$snap" "$(json_str "$snap_url")" "$(json_str "$local_db")" \
				"$([ -n "$kept" ] && json_str "$kept" || echo null)" "$(cat "$tmp/meta.json")"
		else
			echo "dry run: would restore snapshot $snap ($(ts_iso "$snap")) from $snap_url into $local_db${kept:+, keeping the current database as $kept}; nothing changed"
		fi
		return 0
	fi
	take_lock
	new="$local_db.restore-$snap"
	s3 get "$snap_url" "$new" 2>"$tmp/get.err" ||
		restore_fail $? "snapshot $snap: $(last_message "$tmp/get.err")"
	smg-hash --stats "$new" >"$tmp/got.json" 2>"$tmp/stats.err" ||
		restore_fail $EXIT_DATA "snapshot $snap is damaged ($(last_message "$tmp/stats.err")): not restored"
	got=$(sed 's/^{//' "$tmp/got.json")
	case $(cat "$tmp/meta.json") in
	*",$got") ;;
	*) restore_fail $EXIT_DATA "snapshot $snap does not match its metadata (size, SHA-256 or rows: $(cat "$tmp/got.json")): not restored" ;;
	esac
	smg-hash --integrity-check "$new" >/dev/null 2>"$tmp/check.err" ||
		restore_fail $EXIT_DATA "snapshot $snap fails the integrity check ($(last_message "$tmp/check.err")): not restored"
	rm -f "$new-wal" "$new-shm"	# left by the read-only checks; empty
	if [ -n "$kept" ]; then
		[ -e "$kept" ] && kept="$kept-$$"
		ln "$local_db" "$kept" 2>/dev/null || cp -p "$local_db" "$kept" ||
			restore_fail $EXIT_FAILURE "cannot keep $local_db as $kept: not restored"
		# its WAL or hot journal goes with it: never replayed into the snapshot
		for s in -wal -journal; do
			if [ -e "$local_db$s" ]; then
				mv -f "$local_db$s" "$kept$s" || restore_fail $EXIT_FAILURE "cannot move $local_db$s aside: not restored"
			fi
		done
		rm -f "$local_db-shm"
	fi
	mv -f "$new" "$local_db" || restore_fail $EXIT_FAILURE "cannot rename $new to $local_db: not restored"
	if [ "$output" = json ]; then
		printf '{"command":"restore","dry_run":false,"snapshot":"%s","url":%s,"local_db":%s,"kept":%s,"metadata":%s}\n' \
			"$snap" "$(json_str "$snap_url")" "$(json_str "$local_db")" \
			"$([ -n "$kept" ] && json_str "$kept" || echo null)" "$(cat "$tmp/meta.json")"
	else
		echo "restored snapshot $snap ($(ts_iso "$snap")) into $local_db${kept:+; the replaced database is $kept}"
	fi
}
