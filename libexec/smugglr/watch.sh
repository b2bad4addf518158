# watch.sh - the verbs that keep running: watch (sync every interval) and
# broadcast (smg-beacon on the LAN).  Sourced by bin/smugglr, which has
# parsed the options and holds the helpers used here (run_stage, die, the
# lock); not a program of its own.  See smugglr(1).
# shellcheck shell=sh

# ---- broadcast: smg-beacon does the work ----------------------------------------

# smg-beacon reads the same config (local_db, [broadcast], [sync]) and
# speaks for itself: its output, its exit status.
verb_broadcast() {
	IFS=$nl
	# shellcheck disable=SC2046
	set -- $(select_args)
	unset IFS
	[ -n "$policy" ] && set -- "$@" -p "$policy"
	[ "$dry_run" = 1 ] && set -- "$@" --dry-run
	[ "$once" = 1 ] && set -- "$@" --once
	[ "$insecure" = 1 ] && set -- "$@" --insecure
	[ -n "$interval" ] && set -- "$@" --interval "$interval"
	[ "$verbose" = 1 ] && set -- "$@" -v
	say "smg-beacon $* -o $output"
	[ "$output" = json ] || exec smg-beacon "$@" -o text
	# JSON: the daemon's messages still reach stderr as they come, and are
	# kept, so that a failure can also be one JSON error object on stdout
	mkfifo "$tmp/beacon.fifo" || die $EXIT_FAILURE "cannot make a fifo in $tmp"
	tee "$tmp/beacon.err" <"$tmp/beacon.fifo" >&2 &
	teepid=$!
	smg-beacon "$@" -o json 2>"$tmp/beacon.fifo" &
	child=$!
	trap 'kill -TERM "$child" 2>/dev/null' INT TERM HUP
	wait "$child"; rc=$?
	while kill -0 "$child" 2>/dev/null; do wait "$child"; rc=$?; done
	wait "$teepid"
	[ "$rc" -eq 0 ] || fail "$rc" "$(last_message "$tmp/beacon.err")"
	exit 0
}

# ---- watch -----------------------------------------------------------------------

# The lock (take_lock, still_locked) is bin/smugglr's: restore takes it too.
verb_watch() {
	stop=0 tick=0 sleeper='' rc=0
	# Signals end the watch between syncs; a sync in progress runs to its
	# end (its programs ignore SIGINT/SIGTERM, below).  Set before the lock
	# is taken, so that the lock never outlives a signal.
	trap 'stop=1; [ -n "$sleeper" ] && kill "$sleeper" 2>/dev/null' HUP INT TERM
	take_lock
	every=${interval:-$smg_watch_interval}
	while [ "$stop" = 0 ]; do
		if ! still_locked; then
			lock_held=''
			die $EXIT_CONFLICT "lost the lock $lock to another smugglr: stopping"
		fi
		tick=$((tick + 1))
		rm -f "$tmp"/fetch.* "$tmp"/diff.* "$tmp"/apply.*	# the last tick's
		(
			trap '' HUP INT TERM
			verb=sync
			verb_sync
			[ "$partial" = 0 ] || exit $EXIT_PARTIAL
		) >"$tmp/tick.out"
		rc=$?
		if [ "$output" = json ]; then
			if [ -s "$tmp/tick.out" ]; then
				sed "1s/^{\"command\":\"sync\"/{\"command\":\"watch\",\"tick\":$tick/" "$tmp/tick.out"
			else
				printf '{"command":"watch","tick":%d,"error":"the sync failed with exit status %d","exit_code":%d}\n' \
					"$tick" "$rc" "$rc"
			fi
		else
			echo "tick $tick: $(date -u +%Y-%m-%dT%H:%M:%SZ)$(
				if [ $rc -eq $EXIT_PARTIAL ]; then echo " partial (exit 8): tables whose schemas differ were skipped"
				elif [ $rc -ne 0 ]; then echo " failed (exit $rc), trying again next tick"; fi)"
			cat "$tmp/tick.out"
		fi || die $EXIT_FAILURE "writing the output failed"
		[ -n "$ticks" ] && [ "$tick" -ge "$ticks" ] && break
		[ "$stop" = 1 ] && break
		sleep "$every" &
		sleeper=$!
		wait "$sleeper" 2>/dev/null
		sleeper=''
	done
	if [ "$output" = text ]; then
		echo "watch stopped after $tick tick$([ $tick -ne 1 ] && echo s)"
	fi
	# stopped by a signal: 0; after --ticks: how the last sync went
	[ "$stop" = 1 ] && exit 0
	exit $rc
}
