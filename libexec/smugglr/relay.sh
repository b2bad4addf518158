# relay.sh - the relay verbs: stash, retrieve, snapshot, snapshots, prune,
# restore.  Sourced by bin/smugglr, which has parsed the options and holds
# the helpers used here (read_settings, run_stage, die, the lock); not a
# program of its own.  See smugglr(1) and smugglr-relay(7).
# shellcheck shell=sh

# ---- relay: stash, retrieve, snapshot, snapshots, restore --------------------------
# The relay at [stash] url U (s3://BUCKET/KEY or file:///PATH) is a log
# (smugglr-relay(7)): a base database and numbered change-stream segments
# under U.log/, and a small manifest naming the base.  Every object is
# written with a condition: a segment with If-None-Match under the next
# number, so of two writers one gets it and the other learns it lost; the
# manifest with If-Match.  Each machine keeps a cache of the relay (base
# plus the segments it has applied), worked on in place, checked by its
# stamp before use and rebuilt from the store when it is missing, damaged
# or of another relay: nothing the user must keep.  Snapshots are whole copies of a local
# database beside U, under snapshots/.  smg-s3 moves the objects, smg-diff
# and smg-apply move the rows, smg-hash copies, checks and describes
# databases.

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
	log_url=$relay_url.log
	manifest_url=$log_url/manifest
	bytes_sent=0 bytes_received=0 rdb=$tmp/relay.db mine='' mine_re='' held=0 dirty=0
	compaction_limits
	# the cache goes back however the verb ends (cache_give_back)
	trap 'cache_give_back; cleanup' EXIT
}

# smg-s3 with the [stash] settings of our configuration.
s3() {
	[ -n "$config" ] && set -- -c "$config" "$@"
	say smg-s3 "$@"
	smg-s3 "$@"
}

# What the programs say of our temporary copy of the relay, said of the relay.
relay_words() {	# FILE...
	sed -e "s|$tmp/relay\\.db|$relay_repl|g" ${mine_re:+-e "s|$mine_re|$relay_repl|g"} "$@"
}

# run_stage for the relay verbs: stderr speaks of the relay rather than of
# our copy; QUIET=1 shows it only when the stage fails, QUIET=2 never (the
# caller decides).
relay_stage() {	# QUIET NAME CMD...
	rs_quiet=$1 name=$2
	shift 2
	say "$@"
	"$@" 2>"$tmp/$name.raw"
	rc=$?
	echo $rc >"$tmp/$name.rc"
	if [ -s "$tmp/$name.raw" ]; then
		relay_words "$tmp/$name.raw" >"$tmp/$name.err"
		if [ "$rs_quiet" = 0 ] || { [ "$rs_quiet" = 1 ] && [ $rc -ne 0 ]; }; then show_err "$tmp/$name.err"; fi
	else
		: >"$tmp/$name.err"
	fi
	return $rc
}

file_size() { echo $(($(wc -c <"$1"))); }

# ---- the store: objects in and out, counted ------------------------------------

# relay_get URL FILE [smg-s3 options]: 0, or 3 when there is no such object;
# anything else ends the run.
relay_get() {
	rg_url=$1 rg_file=$2
	shift 2
	s3 get "$@" "$rg_url" "$rg_file" 2>"$tmp/get.err"
	rc=$?
	[ $rc -eq $EXIT_NOTFOUND ] && return $rc
	[ $rc -eq 0 ] || die $rc "fetching $rg_url: $(last_message "$tmp/get.err")"
	bytes_received=$((bytes_received + $(file_size "$rg_file")))
	return 0
}

# relay_put URL FILE [smg-s3 options]: 0, or 6 when the condition did not
# hold; anything else ends the run.
relay_put() {
	rp_url=$1 rp_file=$2
	shift 2
	case $rp_url in
	file://*) d=${rp_url#file://}; mkdir -p "${d%/*}" 2>/dev/null ;;
	esac
	s3 put "$@" "$rp_url" "$rp_file" 2>"$tmp/put.err"
	rc=$?
	[ $rc -eq $EXIT_CONFLICT ] && return $rc
	[ $rc -eq 0 ] || die $rc "uploading $rp_url: $(last_message "$tmp/put.err")"
	bytes_sent=$((bytes_sent + $(file_size "$rp_file")))
	return 0
}

# A short random pause before another attempt, so racers spread out.
relay_backoff() {	# ATTEMPT
	pause=$(awk -v s="$$" -v a="$1" 'BEGIN { srand(s + 7919 * a); printf "%.2f", rand() * 0.25 * a }')
	sleep "$pause" 2>/dev/null || sleep 1
}

rand_hex() { od -An -N8 -tx1 /dev/urandom | tr -d ' \n'; }

file_sha256() {
	# shellcheck disable=SC2046
	if command -v sha256sum >/dev/null 2>&1; then set -- $(sha256sum "$1")
	elif command -v shasum >/dev/null 2>&1; then set -- $(shasum -a 256 "$1")
	else set -- $(openssl dgst -sha256 -r "$1"); fi
	echo "$1"
}

seg_url() { printf '%s/seg-%010d' "$log_url" "$1"; }

# ---- the manifest ------------------------------------------------------------------
# Text, one "name value" a line (smugglr-relay(7)):
#   smugglr-relay 1
#   id ID            the relay's random name: a cache of another is not used
#   base NAME        the base object, U.log/NAME: base-SEQ-RANDOM
#   base_seq N       the last segment folded into it
#   base_bytes B
#   base_time T      when it became the base (Unix seconds)
#   head N           a hint: segments past it may exist
#   log_bytes B      a hint: bytes of the segments past the base

# Fetch it into $tmp/manifest (ETag in $tmp/manifest.etag) and read it into
# m_*; 3 when there is none.  A manifest that is not one: exit 7.
read_manifest() {
	relay_get "$manifest_url" "$tmp/manifest" --etag-file "$tmp/manifest.etag" || return $?
	m_etag=$(cat "$tmp/manifest.etag") m_read_at=$(date +%s)
	m_bad=1 m_id='' m_base='' m_base_seq=0 m_base_bytes=0 m_base_time=0 m_head=0 m_log_bytes=0
	eval "$(awk 'NR == 1 && $0 != "smugglr-relay 1" { bad = 1 }
		NR > 1 && $1 ~ /^(id|base)$/ && $2 ~ /^[A-Za-z0-9-]+$/ { v[$1] = $2 }
		NR > 1 && $1 ~ /^(base_seq|base_bytes|base_time|head|log_bytes)$/ && $2 ~ /^[0-9]+$/ { v[$1] = $2 }
		END {
			if (bad || !("id" in v) || !("base" in v) || !("base_seq" in v)) { print "m_bad=1"; exit }
			printf "m_bad=0 m_id=%s m_base=%s m_base_seq=%d m_base_bytes=%d m_base_time=%d m_head=%d m_log_bytes=%d\n",
				v["id"], v["base"], v["base_seq"], v["base_bytes"], v["base_time"], v["head"], v["log_bytes"] }' "$tmp/manifest")"
	[ "$m_bad" = 0 ] || die $EXIT_DATA "the relay $relay_url: its manifest $manifest_url is not one (smugglr-relay(7)); nothing was changed"
	return 0
}

write_manifest() {	# FILE ID BASE BASE_SEQ BASE_BYTES BASE_TIME HEAD LOG_BYTES
	printf 'smugglr-relay 1\nid %s\nbase %s\nbase_seq %d\nbase_bytes %d\nbase_time %d\nhead %d\nlog_bytes %d\n' \
		"$2" "$3" "$4" "$5" "$6" "$7" "$8" >"$1"
}

# Move the manifest's head hint to N (log bytes + B), If-Match; a lost race
# reads it again.  Only a hint: a reader looks for segments past it anyway.
advance_head() {	# N B
	i=0
	while [ $i -lt 5 ]; do
		i=$((i + 1))
		[ "$m_head" -ge "$1" ] && return 0
		write_manifest "$tmp/manifest.new" "$m_id" "$m_base" "$m_base_seq" "$m_base_bytes" \
			"$m_base_time" "$1" $((m_log_bytes + $2))
		relay_put "$manifest_url" "$tmp/manifest.new" --if-match "$m_etag" && return 0
		read_manifest || return 0
	done
	return 0
}

# ---- the marker: what U itself holds once the relay is a log -------------------
# A text file, so that a smugglr that knows only the single-object relay
# refuses it (not a SQLite database: exit 7, nothing written) rather than
# writing where nobody reads.  It names the base the log started from, so
# that a manifest lost to a kill -9 between the two writes is made again.
marker_base() { sed -n 's/^base \(base-[0-9]*-[0-9a-f]*\)$/\1/p' "$1" | head -n 1; }
is_marker() { [ "$(head -n 1 "$1" 2>/dev/null)" = "smugglr-relay-moved 1" ]; }

# ---- the cache -----------------------------------------------------------------------
# A copy of the relay at a segment number, under $SMUGGLR_CACHE_DIR or
# $XDG_CACHE_HOME/smugglr: never the only copy of anything, so deleting it
# at any time costs one download of the base.  A verb works on it in place
# rather than on a copy: it claims it by renaming it to relay-H.db.claim-PID
# (atomic: of two smugglr at once, one gets it and the other works from the
# base), applies segments to it, and gives it back when it is done, the
# record first, then the file renamed back.  The record holds the relay's
# URL and id, the segment, and the file's stamp: inode, size, modification
# time to the nanosecond and SQLite's change counter (or, where stat(1)
# cannot say, its SHA-256).  A file whose stamp is not the recorded one was
# changed by something else, or by a smugglr killed while writing it, and
# is rebuilt; checking the stamp costs nothing at any size, where hashing
# the file cost half a second per 100 MB (smugglr-relay(7) says what the
# stamp cannot see).
cache_paths() {
	[ -n "${cache_db:-}" ] && return 0
	cache_dir=${SMUGGLR_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/smugglr}
	printf '%s\n' "$relay_url" >"$tmp/url"
	h=$(file_sha256 "$tmp/url")
	cache_db=$cache_dir/relay-$h.db cache_meta=$cache_dir/relay-$h.meta
	mark_name=relay-$(printf %.16s "$h")	# smg-diff --since, with -push or -pull
	mine=$cache_db.claim-$$-$(proc_start $$) held=0 held_pos=0 dirty=0
	mine_re=$(printf '%s' "$mine" | sed 's/[][\.*^$|]/\\&/g')	# for relay_words
}

# FILE's stamp: "stat INODE SIZE MTIME CHANGE-COUNTER", else "sha256 HEX".
cache_stamp() {
	st=$(stat -c '%i %s %.9Y' "$1" 2>/dev/null) || st=$(stat -f '%i %z %Fm' "$1" 2>/dev/null) || st=''
	case $st in
	*[0-9].[0-9]*) echo "stat $st $(od -An -j24 -N4 -tx1 "$1" | tr -d ' \n')" ;;
	*) echo "sha256 $(file_sha256 "$1")" ;;
	esac
}

stamp_matches() {	# FILE STAMP
	case $2 in
	"sha256 "*) [ "sha256 $(file_sha256 "$1")" = "$2" ] ;;
	*) [ "$(cache_stamp "$1")" = "$2" ] ;;
	esac
}

# When process PID started (clock ticks since boot, /proc/PID/stat's 22nd
# field; 0 where there is no /proc): with the pid, it names a claim's
# owner, so that a pid used again by another process is not taken for the
# owner still at work.
proc_start() {	# PID
	st=0
	[ -r "/proc/$1/stat" ] && st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20)
	case $st in ''|*[!0-9]*) st=0 ;; esac
	echo "$st"
}

# Claims left by a smugglr that is gone: what it was doing is unknown.
# claim-PID-START (claim-PID from smugglr 0.2): gone when PID is not alive
# or is a process started at another time.
cache_reap() {
	for f in "$cache_db".claim-*; do
		case $f in *-journal|*-wal|*-shm) continue ;; esac
		p=${f##*.claim-} start=''
		case $p in *-*) start=${p#*-} p=${p%%-*} ;; esac
		case $p$start in ''|*[!0-9]*) continue ;; esac
		[ -f "$f" ] || continue
		if ! alive "$p" || { [ -n "$start" ] && [ "$start" != 0 ] && [ "$(proc_start "$p")" != "$start" ]; }; then
			rm -f "$f" "$f-journal" "$f-wal" "$f-shm"
		fi
	done
	return 0
}

# Claim the cache as $rdb at its position ($pos) if it is of this relay
# (URL and id), not behind the base, and its stamp is the recorded one;
# else cache_state says why not.  A claim held already (a stash that lost
# a race reads the relay again) is checked against the manifest only.
cache_take() {
	cache_paths
	if [ "$held" = 0 ]; then
		cache_reap
		if [ ! -f "$cache_meta" ] || ! mv "$cache_db" "$mine" 2>/dev/null; then
			cache_state=missing
			for f in "$cache_db".claim-*; do
				[ -f "$f" ] && case $f in *[0-9]) cache_state="busy (another smugglr is using it)" ;; esac
			done
			return 1
		fi
		held=1 c_url='' c_id='' c_seq='' c_stamp=''
		while IFS=' ' read -r k v; do
			case $k in
			url) c_url=$v ;; id) c_id=$v ;; seq) c_seq=$v ;; stamp) c_stamp=$v ;;
			sha256) c_stamp="sha256 $v" ;;	# a record of smugglr 0.1.0
			esac
		done <"$cache_meta"
		case $c_seq in ''|*[!0-9]*) c_seq=-1 ;; esac
		if [ "$c_url" != "$relay_url" ]; then cache_state="of another relay"
		elif [ -e "$mine-journal" ] || [ -e "$mine-wal" ] || ! stamp_matches "$mine" "$c_stamp"; then
			cache_state=damaged
		else
			held_pos=$c_seq cache_state=used
		fi
		[ "$cache_state" = used ] || { cache_drop; return 1; }
	fi
	if [ "$c_id" != "$m_id" ]; then cache_state="of another relay"; cache_drop; return 1; fi
	if [ "$held_pos" -lt "$m_base_seq" ]; then cache_state="behind the base"; cache_drop; return 1; fi
	rdb=$mine pos=$held_pos
	return 0
}

# Make $tmp/relay.db (the relay at $pos, just read from the base) our
# claim: a rename, or a copy when the cache is on another file system.
cache_adopt() {
	cache_paths
	mkdir -p "$cache_dir" 2>/dev/null && mv -f "$tmp/relay.db" "$mine" 2>/dev/null || return 0
	held=1 held_pos=$pos c_id=$m_id rdb=$mine
}

# Work on a copy of the claim (a stash that creates tables, or a dry run):
# the claim stays the relay at held_pos.
cache_detach() {
	[ "$rdb" = "$mine" ] || return 0
	cp "$mine" "$tmp/relay.db" || die $EXIT_FAILURE "cannot copy the cache $mine to $tmp/relay.db"
	rdb=$tmp/relay.db
}

# The verb is done with the relay at $pos in $rdb: a copy it worked on
# becomes the claim (dry runs' copies do not), then the claim goes back.
cache_keep() {
	[ "$relay_kind" = log ] || return 0
	[ "$rdb" = "$tmp/relay.db" ] && [ "$dry_run" = 0 ] && cache_adopt
	cache_give_back
}
cache_give_back() {
	[ "${held:-0}" = 1 ] || return 0
	held=0
	if [ "$dirty" = 1 ]; then rm -f "$mine" "$mine-journal"; return 0; fi
	printf 'url %s\nid %s\nseq %d\nstamp %s\n' "$relay_url" "$c_id" "$held_pos" "$(cache_stamp "$mine")" \
		>"$cache_meta.$$" && mv -f "$cache_meta.$$" "$cache_meta" && mv -f "$mine" "$cache_db"
	rm -f "$mine" "$cache_meta.$$"
	return 0
}
cache_drop() { cache_paths; held=0; rm -f "$mine" "$mine-journal" "$cache_meta"; }

# ---- segments ------------------------------------------------------------------------
# A segment is one or two change streams one after the other, each with its
# trailer: the tables it creates (when it does), then the rows.

# Apply segment FILE (number N) to $rdb; false when it does not
# apply (damaged, or a compare-and-set that failed: our copy is not the
# state it was written against).
apply_segment() {	# FILE N
	rm -f "$tmp"/part.*
	awk -v p="$tmp/part." '{ print > (p n + 0) } /^\{"kind":"end"/ { close(p n + 0); n++ }' "$1"
	for part in "$tmp"/part.*; do
		[ -f "$part" ] || continue
		relay_stage 2 segment smg-apply -r none --create-tables --tracking -i "$part" "$rdb" || return 1
	done
	return 0
}

# Apply every segment past $pos that exists, in order.  Returns 1 when one
# does not apply.
catch_up() {
	while :; do
		n=$((pos + 1))
		seg_get $n "$tmp/seg.in" || return 0
		# a claim left dirty (a verb stopped in the middle) is dropped,
		# not given back
		[ "$rdb" = "$mine" ] && dirty=1
		apply_segment "$tmp/seg.in" $n || { bad_seg=$n; return 1; }
		pos=$n
		[ "$rdb" = "$mine" ] && held_pos=$n
		dirty=0
	done
}

# While the manifest comes, the segment after the cache's is asked for
# too: one round trip instead of two when, as mostly, there is none yet.
# seg_get takes its answer when it wants that segment, else asks itself.
seg_prefetch() {
	cache_paths
	pre_n=''
	[ -f "$cache_meta" ] || return 0
	pre_n=$(sed -n 's/^seq \([0-9][0-9]*\)$/\1/p' "$cache_meta")
	[ -n "$pre_n" ] || return 0
	pre_n=$((pre_n + 1))
	(s3 get "$(seg_url $pre_n)" "$tmp/pre.seg" 2>"$tmp/pre.err"; echo $? >"$tmp/pre.rc") &
	pre_pid=$!
}
seg_get() {	# N FILE: as relay_get
	if [ "$1" = "${pre_n:-}" ]; then
		pre_n=''
		wait "$pre_pid"
		case $(cat "$tmp/pre.rc" 2>/dev/null) in
		0) mv -f "$tmp/pre.seg" "$2"; bytes_received=$((bytes_received + $(file_size "$2"))); return 0 ;;
		"$EXIT_NOTFOUND") return "$EXIT_NOTFOUND" ;;
		esac
	fi
	relay_get "$(seg_url "$1")" "$2"
}

# ---- opening the relay -------------------------------------------------------------
# relay_open: $rdb is the relay at segment $pos, the latest there is (the
# cache, claimed, or $tmp/relay.db), and m_* its manifest.  relay_kind says
# what was found: log (the manifest), none (nothing yet: $tmp/relay.db is
# empty), legacy (a
# single-object relay, $tmp/relay.db a copy of it, its ETag in
# $tmp/relay.etag) or marker (U moved, the manifest missing: m_base from
# the marker).
relay_open() {
	opens=0 cache_state=${cache_state:-missing}
	[ "${held:-0}" = 0 ] && seg_prefetch
	while :; do
		opens=$((opens + 1))
		[ $opens -le 5 ] || die $EXIT_CONFLICT "the relay $relay_url changed under each of 5 attempts to read it (compacted meanwhile?); nothing lost, try again"
		rm -f "$tmp/relay.db" "$tmp/relay.db-journal" "$tmp/relay.db-wal" "$tmp/relay.db-shm"
		rdb=$tmp/relay.db
		if ! read_manifest; then
			relay_single && return 0
			continue
		fi
		relay_kind=log
		if ! cache_take; then
			rm -f "$tmp/relay.db"
			relay_get "$log_url/$m_base" "$tmp/relay.db" || continue	# compacted and collected: again
			check_relay
			pos=$m_base_seq
			cache_adopt
		fi
		catch_up && return 0
		if [ "$cache_state" = used ]; then
			cache_drop
			cache_state="damaged (segment $bad_seg did not apply to it)"
			continue
		fi
		show_err "$tmp/segment.err"
		die $EXIT_DATA "the relay $relay_url: segment $bad_seg ($(seg_url "$bad_seg")) does not apply to the state it was written against: $(last_message "$tmp/segment.err"); nothing was changed"
	done
}

# No manifest: what U holds.  False when the relay became a log meanwhile.
relay_single() {
	rm -f "$tmp/relay.etag"
	if ! relay_get "$relay_url" "$tmp/relay.db" --etag-file "$tmp/relay.etag"; then
		relay_kind=none pos=0 m_id=''
		: >"$tmp/relay.db"	# an empty database (a file of 0 bytes is one)
		return 0
	fi
	if is_marker "$tmp/relay.db"; then
		relay_kind=marker m_base=$(marker_base "$tmp/relay.db")
		[ -n "$m_base" ] || die $EXIT_DATA "the relay $relay_url: a marker without its base; nothing was changed"
		mv -f "$tmp/relay.db" "$tmp/marker"
		relay_get "$log_url/$m_base" "$tmp/relay.db" || die $EXIT_DATA "the relay $relay_url: the base $m_base its marker names is missing; nothing was changed"
		check_relay
		m_id=${m_base##*-} pos=0
		catch_up || die $EXIT_DATA "the relay $relay_url: segment $bad_seg does not apply; nothing was changed"
		return 0
	fi
	check_relay
	relay_kind=legacy pos=0 m_id=''
	return 0
}

# Make the relay a log whose base is $tmp/relay.db (segment 0): the base,
# then the marker over U (If-Match the single object's ETag, or
# If-None-Match when there was none; a marker that is there already stays),
# then the manifest (If-None-Match).  Returns 6 when U changed meanwhile.
relay_create() {
	rm -f "$tmp/put.etag"
	if [ "$relay_kind" = marker ]; then
		id=$m_id base=$m_base
	else
		id=$(rand_hex)
		base=base-0000000000-$id
		relay_put "$log_url/$base" "$tmp/relay.db" --if-none-match --etag-file "$tmp/put.etag" || return $?
		{
			echo "smugglr-relay-moved 1"
			echo "This relay is kept as a log under $log_url/ (smugglr-relay(7)); a smugglr that"
			echo "knows only the single-object relay cannot read it: update it."
			echo "base $base"
		} >"$tmp/marker"
		if [ "$relay_kind" = legacy ]; then
			set -- --if-match "$(cat "$tmp/relay.etag")"
		else
			set -- --if-none-match
		fi
		if ! relay_put "$relay_url" "$tmp/marker" "$@"; then
			s3 delete "$log_url/$base" 2>/dev/null
			return $EXIT_CONFLICT
		fi
	fi
	write_manifest "$tmp/manifest.new" "$id" "$base" 0 "$(file_size "$tmp/relay.db")" "$(date +%s)" 0 0
	relay_put "$manifest_url" "$tmp/manifest.new" --if-none-match	# taken: by one naming the same base
	read_manifest || die $EXIT_FAILURE "the manifest $manifest_url vanished after it was written"
	pos=$m_base_seq
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

# ---- compaction ------------------------------------------------------------------------
# When the log past the base has grown past a fraction of the base, the
# stash that notices uploads its copy (the relay at $pos) as a new base and
# points the manifest at it, If-Match.  Segments are never deleted while
# anyone may still be writing or reading them: only those folded into a
# base that has been the base for longer than the grace, which is longer
# than any request may take (smugglr-relay(7)).  The limits: the
# environment, else [stash] compact_min_bytes, compact_percent and
# compact_grace_secs (which smg-diff --print-config checked).
# shellcheck disable=SC2154 # smg_stash_*: read_settings sets them (--print-config sh)
compaction_limits() {
	env_number SMUGGLR_RELAY_COMPACT_MIN_BYTES 0
	env_number SMUGGLR_RELAY_COMPACT_PERCENT 0
	env_number SMUGGLR_RELAY_GRACE_SECS 1
	compact_min=${SMUGGLR_RELAY_COMPACT_MIN_BYTES:-$smg_stash_compact_min_bytes}
	compact_percent=${SMUGGLR_RELAY_COMPACT_PERCENT:-$smg_stash_compact_percent}
	relay_grace=${SMUGGLR_RELAY_GRACE_SECS:-$smg_stash_compact_grace_secs}
	relay_timeout=$smg_stash_timeout_secs
}
# The variable NAME, when set, is a whole number from MIN.
env_number() {	# NAME MIN
	en=''
	eval "en=\${$1:-}"
	case $en in
	'') return 0 ;;
	*[!0-9]*) ;;
	*) [ ${#en} -le 9 ] && [ "$en" -ge "$2" ] && return 0 ;;
	esac
	die $EXIT_USAGE "$1=\"$en\": not a whole number from $2 to 999999999"
}

# The manifest read at m_read_at still stands for the check before a
# segment's upload while less than half of the grace less [stash]
# timeout_secs has passed since: a segment is collected a grace after the
# base that folded it was made, which was after that read, and the upload
# ends within timeout_secs.  Half: the other half is for the clocks.
manifest_fresh() {
	[ $((($(date +%s) - m_read_at) * 2)) -lt $((relay_grace - relay_timeout)) ]
}

maybe_compact() {
	[ "$relay_kind" = log ] && [ "$dry_run" = 0 ] && [ "$pos" -gt "$m_base_seq" ] &&
		[ "${no_compact:-0}" = 0 ] || return 0
	[ "$m_log_bytes" -ge "$compact_min" ] &&
		[ $((m_log_bytes * 100)) -ge $((m_base_bytes * compact_percent)) ] || return 0
	compact
}

compact() {
	base=base-$(printf %010d "$pos")-$(rand_hex)
	relay_put "$log_url/$base" "$rdb" --if-none-match || return 0
	old_seq=$m_base_seq old_time=$m_base_time
	i=0
	while :; do
		i=$((i + 1))
		if [ "$m_base_seq" -ge "$pos" ] || [ $i -gt 5 ]; then
			s3 delete "$log_url/$base" 2>/dev/null	# another compaction got further
			return 0
		fi
		head=$m_head
		[ "$head" -ge "$pos" ] || head=$pos
		write_manifest "$tmp/manifest.new" "$m_id" "$base" "$pos" "$(file_size "$rdb")" \
			"$(date +%s)" "$head" 0
		relay_put "$manifest_url" "$tmp/manifest.new" --if-match "$m_etag" && break
		read_manifest || return 0
	done
	compacted=$pos
	read_manifest || return 0
	collect_garbage "$old_seq" "$old_time"
}

# Delete the segments folded into the base before this one when it became
# the base longer than the grace ago, and bases older than it that are as
# old: nobody can be reading or writing them any more.
collect_garbage() {	# OLD_BASE_SEQ OLD_BASE_TIME
	[ $(($(date +%s) - $2)) -gt "$relay_grace" ] || return 0
	s3 list "$log_url/" >"$tmp/log.list" 2>/dev/null || return 0
	awk -F '	' -v old="$1" -v cur="$m_base" '{
		n = $1; sub(/.*\//, "", n)
		if (n ~ /^seg-[0-9]+$/ && substr(n, 5) + 0 <= old) print n
		else if (n ~ /^base-[0-9]+-/ && n != cur && substr(n, 6, 10) + 0 < old) print n
	}' "$tmp/log.list" | while IFS= read -r n; do
		s3 delete "$log_url/$n" 2>/dev/null
	done
	return 0
}

# ---- stash ----------------------------------------------------------------------------

# The tables the relay lacks, from the local schema, as a stream in
# $tmp/seg.schema (empty when none), applied to our copy of the relay too
# (a copy of the claim: the claim stays as the relay is), so that each
# table is on both sides of the diff and an empty one lands too.  True
# when a table was created.
relay_schema() {
	IFS=$nl
	# shellcheck disable=SC2046
	set -- $(select_args)
	unset IFS
	# smg-diff of the two schemas picks the tables the relay lacks; one it has
	# with other columns is smg-diff's to report (exit 8) in the real diff
	relay_stage 1 schema.relay smg-hash -q --schema-only "$rdb" >"$tmp/relay.schema"
	fail_from schema.relay
	{ relay_stage 1 schema smg-hash -q --schema-only "$@" "$local_db"; } |
		relay_stage 1 schema.diff schema_diff - "$tmp/relay.schema" >"$tmp/seg.schema"
	fail_from schema schema.diff
	relay_stage 1 schema.local smg-hash -q --schema-only "$@" "$local_db" >"$tmp/local.schema"
	fail_from schema.local
	relay_tracking "$tmp/local.schema" "$tmp/relay.schema" "$tmp/seg.schema"
	if ! grep -q '^{"kind":"table"' "$tmp/seg.schema"; then
		: >"$tmp/seg.schema"
		return 1
	fi
	cache_detach
	relay_stage 1 schema.apply smg-apply -q -r none --create-tables --tracking -i "$tmp/seg.schema" "$rdb"
	fail_from schema.apply
	return 0
}

# Tombstones (smugglr track): $tmp/seg.schema gets, besides the tables the
# relay lacks, the table records of those the local database tracks and
# the relay does not, so that every copy of the relay tracks them from
# this segment on (smg-apply --tracking).  Table names of tracked tables
# hold no quote or backslash, so the name is the text between the quotes.
relay_tracking() {	# LOCAL-SCHEMA RELAY-SCHEMA SEG-SCHEMA
	awk 'function name(l) { sub(/^\{"kind":"table","table":"/, "", l); sub(/".*/, "", l); return l }
	!/^\{"kind":"table"/ { next }
	FILENAME == ARGV[1] && /,"tracked":true/ { tracked[name($0)] = $0 }
	FILENAME == ARGV[2] && /,"tracked":true/ { has[name($0)] = 1 }
	FILENAME == ARGV[3] { out[name($0)] = $0 }
	END { for (n in tracked) if (!(n in has) && !(n in out)) out[n] = tracked[n]
	      for (n in out) print out[n] }' "$@" | LC_ALL=C sort >"$tmp/seg.tables"
	n=$(($(wc -l <"$tmp/seg.tables")))
	[ "$n" -gt 0 ] || return 0
	{ cat "$tmp/seg.tables"; printf '{"kind":"end","records":%d}\n' "$n"; } >"$3"
}

# smg-diff LOCAL RELAY-COPY: the change stream into $tmp/seg.rows, the
# report into $tmp/diff.report.
relay_diff() {	# push|pull [smg-diff options]
	dir=$1
	shift
	IFS=$nl
	# shellcheck disable=SC2046
	set -- $(common_args) -d "$dir" -r "$output" --report-file "$tmp/diff.report" $(since_args "$dir") "$@"
	unset IFS
	relay_stage 0 diff smg-diff "$@" "$local_db" "$rdb" >"$tmp/seg.rows"
	accept_partial diff
	fail_from diff
}

# Tracked tables (smugglr track) log their changes, and a diff between the
# local database and our copy of the relay marks both when its changes are
# written: the next diff of that direction reads only the rows either
# logged since (smg-diff --since, smugglr-relay(7)).  Without a log, or
# when the marks do not agree, the diff reads every row as before.
since_args() {	# push|pull: smg-diff's options, a word a line
	cache_paths
	rm -f "$tmp/mark"
	printf '%s\n' --since "$mark_name-$1" --mark-file "$tmp/mark"
}

# The diff's changes are written (or there were none): mark the side the
# verb did not write; the side it wrote got its mark in the same
# transaction (smg-apply --mark with -i: its position then counts the
# verb's own writes as seen).  Our copy is marked "now", which also starts
# its change log after the rows a first stash or a base brought.  A mark
# that cannot be written costs the next diff a read of every row, nothing
# else.
relay_mark() {	# local|relay
	[ "$dry_run" = 0 ] && [ -s "$tmp/mark" ] || return 0
	if [ "$1" = local ]; then
		relay_stage 1 mark.local smg-apply -q --mark "local:$tmp/mark" "$local_db" >/dev/null
	else
		relay_stage 1 mark.relay smg-apply -q --mark "now:$tmp/mark" "$rdb" >/dev/null
	fi || warn "could not mark the $1 side as compared: the next diff reads every row"
	return 0
}

# A stream that writes something: a change record.
writes_rows() { grep -q '^{"kind":"change"' "$1"; }

# One attempt at a stash onto the relay at $pos: the local changes as a
# segment in $tmp/seg.  False when there is nothing to write.  The rows go
# into our copy of the relay (stash_apply) once the segment is the
# relay's, so that a lost race leaves the copy as the relay is; before,
# only when the copy itself is uploaded (the first stash) or nothing will
# be (a dry run, nothing to write), for the report.
stash_prepare() {
	changed=0 applied=0
	relay_schema && changed=1
	[ -s "$rdb" ] || die $EXIT_NOTFOUND "nothing to stash: $local_db has no table to sync"
	if [ "$delete" = 1 ]; then relay_diff push --delete; else relay_diff push; fi
	writes_rows "$tmp/seg.rows" && changed=1
	if [ "$dry_run" = 1 ] || [ "$relay_kind" != log ] || [ $changed = 0 ]; then stash_apply; fi
	cat "$tmp/seg.schema" "$tmp/seg.rows" >"$tmp/seg"
	[ $changed = 1 ]
}

# The diff's rows into our copy.  With N, our segment N is the relay's
# already: the stash has landed whatever happens to the copy, so a copy that
# does not take it (a full disk, a damaged file) is dropped, to be rebuilt
# by the next verb, and nothing is compacted from it or marked.
stash_apply() {	# [N]
	[ "$applied" = 1 ] && return 0
	landed=${1:-}
	set -- -r "$output" -i "$tmp/seg.rows"
	[ "$dry_run" = 1 ] && set -- "$@" -n
	# our copy, marked as it is after its own rows (relay_mark)
	[ "$dry_run" = 0 ] && [ -s "$tmp/mark" ] && set -- "$@" --mark "now:$tmp/mark"
	if relay_stage 1 apply smg-apply "$@" "$rdb" >"$tmp/apply.report"; then
		relay_words "$tmp/apply.report" >"$tmp/apply.out"
	elif [ -n "$landed" ]; then
		warn "stashed as segment $landed of $relay_url, but our copy of the relay did not take it: the copy is dropped, and the next smugglr rebuilds it"
		rm -f "$tmp/apply.rc" "$tmp/mark" "$tmp/relay.db" "$tmp/relay.db-journal"
		cache_drop	# (and nothing left for cache_keep to adopt)
		rdb=$tmp/relay.db no_compact=1
		echo "$relay_url: our copy of the relay is rebuilt next time" >"$tmp/apply.out"
	else
		fail_from apply
	fi
	applied=1
}


# Fetch (from the cache, then only the segments it lacks), diff, and write
# the local changes as the next segment, If-None-Match; when another
# writer took that number (exit 6), apply its segment and all again, up
# to [stash] max_attempts.  A retried PUT that landed can still come back
# 412: its segment, ours, is then applied like any other, the next diff
# finds nothing, and nothing is written twice.
verb_stash() {
	load_relay_config 1
	max=${smg_stash_max_attempts:-5} attempt=0 uploaded=false etag='' note='' compacted=''
	relay_open
	while :; do
		attempt=$((attempt + 1))
		if [ "$relay_kind" = legacy ] || [ "$relay_kind" = marker ]; then
			# a relay of the single-object form becomes a log, as it is
			[ "$dry_run" = 1 ] || { relay_create || { relay_open; continue; }; relay_kind=log; cache_adopt; }
		fi
		if ! stash_prepare; then
			note="the relay $relay_url already has every local change: nothing uploaded"
			break
		fi
		if [ "$dry_run" = 1 ]; then
			note="dry run: nothing uploaded to $relay_url"
			break
		fi
		# tests force a lost race here (see tests/relay-cases.sh)
		if [ $attempt = 1 ] && [ -n "${SMUGGLR_TEST_HOOK_BEFORE_PUT:-}" ]; then
			eval "$SMUGGLR_TEST_HOOK_BEFORE_PUT"
		fi
		if [ "$relay_kind" = none ]; then
			# the first stash: its copy is the base
			if relay_create; then
				relay_kind=log uploaded=true etag=$(cat "$tmp/put.etag" 2>/dev/null)
				note="stashed to $relay_url"
				break
			fi
			rc=$EXIT_CONFLICT
		else
			n=$((pos + 1))
			# a compaction may have folded segment n's number away since
			# we read the manifest: then the relay is read again
			manifest_fresh || read_manifest || die $EXIT_DATA "the manifest $manifest_url vanished"
			if [ "$m_base_seq" -ge "$n" ]; then
				relay_open
				rc=$EXIT_CONFLICT
			elif relay_put "$(seg_url $n)" "$tmp/seg" --if-none-match --etag-file "$tmp/put.etag"; then
				# the segment is the relay's: the manifest's hint moves
				# (a subshell: what it sent comes back in a file) while
				# our copy takes the segment
				(advance_head "$n" "$(file_size "$tmp/seg")"; echo $bytes_sent >"$tmp/head.sent") >/dev/null &
				head_pid=$!
				[ "$rdb" = "$mine" ] && dirty=1
				stash_apply "$n"
				pos=$n uploaded=true etag=$(cat "$tmp/put.etag")
				[ "$rdb" = "$mine" ] && held_pos=$n
				dirty=0
				wait $head_pid
				bytes_sent=$(cat "$tmp/head.sent" 2>/dev/null || echo "$bytes_sent")
				note="stashed to $relay_url (segment $n)"
				[ $attempt -gt 1 ] && note="$note (attempt $attempt: the relay had changed meanwhile)"
				break
			else
				# back to the relay without our changes (the cache, still
				# as it was) and forward through the segments others wrote
				rc=$EXIT_CONFLICT
				relay_open
			fi
		fi
		[ $attempt -lt "$max" ] || die $EXIT_CONFLICT "the relay $relay_url changed during each of $max attempts to stash; nothing lost, try again (or raise [stash] max_attempts)"
		say "the relay changed since it was fetched (attempt $attempt of $max): again"
		relay_backoff $attempt
		[ "$relay_kind" = none ] && relay_open
	done
	relay_mark local
	maybe_compact
	cache_keep
	relay_result ",\"attempts\":$attempt,\"uploaded\":$uploaded,\"etag\":$(json_str "$etag")$(relay_json)" "$note"
}

# ---- relay-repair ----------------------------------------------------------------------
# A segment that does not apply blocks every stash and retrieve (exit 7).
# The way out: rebuild the relay from its base, applying each segment that
# applies and skipping each that does not, and make the result the new
# base (a compaction, If-Match).  What a skipped segment held may be
# missing from the relay afterwards: its rows are named, and a stash from
# a machine that has them writes them again.  Nothing is deleted: the
# skipped segments stay until the garbage collection of a later compaction.
verb_relay_repair() {
	load_relay_config 0
	compacted=''
	read_manifest || die $EXIT_NOTFOUND "no relay log at $relay_url (no $manifest_url): nothing to repair"
	relay_kind=log
	relay_get "$log_url/$m_base" "$tmp/relay.db" ||
		die $EXIT_DATA "the relay $relay_url: its base $m_base is missing; restore a snapshot (smugglr restore) and stash it anew"
	check_relay
	pos=$m_base_seq skipped=0 applied=0
	: >"$tmp/repair.lost"
	while seg_get $((pos + 1)) "$tmp/seg.in"; do
		n=$((pos + 1))
		if apply_segment "$tmp/seg.in" "$n"; then
			applied=$((applied + 1))
		else
			skipped=$((skipped + 1))
			{
				printf 'segment %d (%s): %s\n' "$n" "$(seg_url "$n")" "$(last_message "$tmp/segment.err")"
				sed -n 's/^{"kind":"change","table":"\([^"]*\)".*"key":\(\[[^]]*\]\).*/  table \1 key \2/p' "$tmp/seg.in"
			} >>"$tmp/repair.lost"
		fi
		pos=$n
	done
	if [ $skipped -gt 0 ] && [ "$dry_run" = 0 ]; then
		compact
		[ -n "$compacted" ] || die $EXIT_CONFLICT "the relay $relay_url changed during the repair; nothing lost, run it again"
		cache_keep
	fi
	if [ "$output" = json ]; then
		printf '{"command":"relay-repair","relay":%s,"dry_run":%s,"position":%d,"applied":%d,"skipped":%d,"compacted":%s,"lost":%s}\n' \
			"$(json_str "$relay_url")" "$(json_bool "$dry_run")" "$pos" "$applied" "$skipped" \
			"${compacted:-null}" "$(json_str "$(cat "$tmp/repair.lost")")"
	elif [ $skipped -eq 0 ]; then
		echo "the relay $relay_url is whole: its $applied segment(s) past the base apply; nothing to repair"
	else
		echo "the relay $relay_url: $skipped of $((applied + skipped)) segment(s) past the base do not apply:"
		cat "$tmp/repair.lost"
		if [ "$dry_run" = 1 ]; then
			echo "dry run: nothing changed; without -n they are skipped and the rest becomes the new base"
		else
			echo "skipped: the relay after segment $pos without them is the new base; the rows above may be missing from it, and a stash from a machine that has them writes them again"
		fi
	fi
}

# What the relay verbs say of the log, for JSON.
relay_json() {
	printf ',"position":%d,"cache":%s,"bytes_sent":%d,"bytes_received":%d' "$pos" \
		"$(json_str "$cache_state")" "$bytes_sent" "$bytes_received"
	[ -n "${compacted:-}" ] && printf ',"compacted":%d' "$compacted"
	return 0
}

# ---- retrieve -------------------------------------------------------------------------

# smg-diff LOCAL RELAY-COPY | smg-apply LOCAL, one transaction, with
# compare-and-set: a local row written between the diff and the apply is
# a conflict (smg-apply exit 6, nothing written) and another round diffs
# again, up to max_rounds (bin/smugglr's conflicted).
retrieve_rounds() {
	rounds=0 conflicts=0
	IFS=$nl
	# shellcheck disable=SC2046
	set -- $(common_args) -d pull -r "$output" --report-file "$tmp/diff.report" $(since_args pull)
	unset IFS
	[ "$delete" = 1 ] && set -- "$@" --delete
	while :; do
		rounds=$((rounds + 1))
		if [ $rounds = 1 ] && [ -n "${SMUGGLR_TEST_HOOK_BEFORE_APPLY:-}" ]; then
			# tests write a local row between the diff and the apply
			relay_stage 0 diff smg-diff "$@" "$local_db" "$rdb" >"$tmp/changes"
			eval "$SMUGGLR_TEST_HOOK_BEFORE_APPLY"
			retrieve_apply <"$tmp/changes" >"$tmp/apply.report"
		else
			{ relay_stage 0 diff smg-diff "$@" "$local_db" "$rdb"; } |
				retrieve_apply >"$tmp/apply.report"
		fi
		accept_partial diff
		first_failure diff && break
		conflicted apply.local || break
	done
	[ -f "$tmp/apply.local.err" ] && show_err "$tmp/apply.local.err"
	fail_from diff apply.local
	relay_words "$tmp/apply.report" >"$tmp/apply.out"
}

# smg-apply of the change stream on stdin into the local database; it reads
# the config for [sync] busy_timeout_ms.
retrieve_apply() {
	set -- -r "$output"
	[ "$dry_run" = 1 ] && set -- "$@" -n
	# the local mark, in the apply's transaction (relay_mark): smg-diff
	# writes the file once its stream is whole, before smg-apply reads on
	[ "$dry_run" = 0 ] && set -- "$@" -i - --mark "local:$tmp/mark"
	[ "$create_tables" = 1 ] && set -- "$@" --create-tables
	cf=${config:-$smg_config_file}
	[ -n "$cf" ] && set -- "$@" -c "$cf"
	relay_stage 2 apply.local smg-apply "$@" "$local_db"
}

# Read the relay (the cache, and the segments it lacks) and take its
# changes into the local database.
verb_retrieve() {
	load_relay_config 1
	compacted=''
	relay_open
	[ "$relay_kind" = none ] && die $EXIT_NOTFOUND "no relay at $relay_url: nothing has been stashed there yet (smugglr stash makes it)"
	retrieve_rounds
	relay_mark relay
	cache_keep	# the relay's state: -n wrote nothing to our copy
	relay_result ",\"rounds\":$rounds,\"conflicts_retried\":$conflicts$(relay_json)" ""
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
		[ "${rounds:-1}" -gt 1 ] &&
			echo "$rounds rounds: $conflicts $([ "$conflicts" -eq 1 ] && echo "row changed during the retrieve and was" || echo "rows changed during the retrieve and were") diffed again"
		[ -z "$2" ] || echo "$2"
	fi >"$tmp/result"
	emit "$tmp/result"
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

# The file PATH names: a symbolic link is followed (to the file it names,
# at most 40 deep), so that restore replaces that file and the link stays.
real_path() {	# PATH
	rp=$1 n=0
	while [ -L "$rp" ] && [ $n -lt 40 ]; do
		l=$(readlink "$rp") || return 1
		case $l in /*) rp=$l ;; *) rp=$(dirname "$rp")/$l ;; esac
		n=$((n + 1))
	done
	printf '%s\n' "$rp"
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
	# a symbolic link stays; the file it names is replaced
	db=$(real_path "$local_db") || die $EXIT_FAILURE "cannot read the symbolic link $local_db"
	kept="$db.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
	[ -e "$db" ] || kept=''
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
	new="$db.restore-$snap"
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
		ln "$db" "$kept" 2>/dev/null || cp -p "$db" "$kept" ||
			restore_fail $EXIT_FAILURE "cannot keep $local_db as $kept: not restored"
		# its WAL or hot journal goes with it: never replayed into the snapshot
		for s in -wal -journal; do
			if [ -e "$db$s" ]; then
				mv -f "$db$s" "$kept$s" || restore_fail $EXIT_FAILURE "cannot move $db$s aside: not restored"
			fi
		done
		rm -f "$db-shm"
	fi
	mv -f "$new" "$db" || restore_fail $EXIT_FAILURE "cannot rename $new to $db: not restored"
	if [ "$output" = json ]; then
		printf '{"command":"restore","dry_run":false,"snapshot":"%s","url":%s,"local_db":%s,"kept":%s,"metadata":%s}\n' \
			"$snap" "$(json_str "$snap_url")" "$(json_str "$local_db")" \
			"$([ -n "$kept" ] && json_str "$kept" || echo null)" "$(cat "$tmp/meta.json")"
	else
		echo "restored snapshot $snap ($(ts_iso "$snap")) into $local_db${kept:+; the replaced database is $kept}"
	fi
}
