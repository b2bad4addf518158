# tests/netns.sh - hosts on a LAN for tests, out of network namespaces.
# Source it after tests/lib.sh.  Needs root (ip netns); without it the
# test prints one skipped check and exits.
#
#   netns_host H            a namespace for host H, loopback up
#   netns_lan L X H...      LAN L: a bridge (in its own namespace) with a
#                           veth to each host; host number i (1-based, in
#                           the order given) gets 10.231.X.i/24 on its
#                           interface "lanL"; broadcast 10.231.X.255
#   netns_addr H L          host H's address on LAN L
#   nsx H CMD...            run CMD inside host H
#   nsbg H CMD...           the same in the background; $! is its pid
#   netns_cleanup           kill what runs inside, delete the namespaces
#
# Names are unique per test run (smg-<random>-H), so concurrent runs do
# not meet; every address lives inside the namespaces only.  The cleanup
# runs on exit, also when the test fails or is interrupted.

if [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
	echo "ok - # SKIP network namespaces need root and ip netns"
	exit 0
fi

NSP=smg-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')-
: >"$T/.netns"		# one line per namespace we made
: >"$T/.netns-addr"	# "HOST LAN ADDRESS"

netns_cleanup() {
	[ -f "$T/.netns" ] || return 0
	while read -r ns; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null
		done
	done <"$T/.netns"
	while read -r ns; do
		ip netns del "$ns" 2>/dev/null
	done <"$T/.netns"
	: >"$T/.netns"
}
cleanup_hook() { netns_cleanup; }
trap 'exit 130' INT TERM HUP

_netns_add() {
	ip netns add "$NSP$1" || return 1
	echo "$NSP$1" >>"$T/.netns"
	ip -n "$NSP$1" link set lo up
}

netns_host() { _netns_add "$1"; }

netns_lan() {
	lan=$1 x=$2; shift 2
	br=br$lan
	_netns_add "$br" || return 1
	ip -n "$NSP$br" link add br0 type bridge || return 1
	ip -n "$NSP$br" link set br0 up
	i=0
	for h in "$@"; do
		i=$((i + 1))
		ip -n "$NSP$br" link add "p$i" type veth peer name "lan$lan" netns "$NSP$h" ||
			return 1
		ip -n "$NSP$br" link set "p$i" master br0
		ip -n "$NSP$br" link set "p$i" up
		ip -n "$NSP$h" addr add "10.231.$x.$i/24" brd + dev "lan$lan"
		ip -n "$NSP$h" link set "lan$lan" up
		echo "$h $lan 10.231.$x.$i" >>"$T/.netns-addr"
	done
}

netns_addr() {
	awk -v h="$1" -v l="$2" '$1 == h && $2 == l { print $3 }' "$T/.netns-addr"
}

nsx() {
	h=$1; shift
	ip netns exec "$NSP$h" "$@"
}

nsbg() {
	h=$1; shift
	ip netns exec "$NSP$h" "$@" &
}
