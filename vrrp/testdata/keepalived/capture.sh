#!/bin/sh
# Re-capture the keepalived adverts of keepalived.conf into capture.pcap.
# Needs root, keepalived and tcpdump (apt-get install -y keepalived tcpdump).
# Everything lives in network namespaces made here (tdmpkt-sw, -a, -b) with
# 198.51.100.0/24 and 2001:db8::/64; nothing touches the root namespace.
# Usage: sh capture.sh [SECONDS]   (default 8)
# Writes capture.pcap next to this script, or into $OUT if set; prints the
# tcpdump and keepalived logs.
set -eu
DIR=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$DIR}
SECS=${1:-8}
T=$(mktemp -d /tmp/tdmpkt.XXXXXX)
SW=tdmpkt-sw A=tdmpkt-a B=tdmpkt-b
KPID= TPID=

cleanup() {
	[ -n "$KPID" ] && kill "$KPID" 2>/dev/null || true
	[ -n "$TPID" ] && kill "$TPID" 2>/dev/null || true
	sleep 0.5
	ip netns del $A 2>/dev/null || true
	ip netns del $B 2>/dev/null || true
	ip netns del $SW 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ip netns add $SW
ip netns add $A
ip netns add $B
ip -n $SW link add br0 type bridge
ip -n $SW link set br0 up
ip -n $SW link add p1 type veth peer name lan0 netns $A
ip -n $SW link add p2 type veth peer name lan0 netns $B
ip -n $SW link set p1 master br0 up
ip -n $SW link set p2 master br0 up
n=11
for ns in $A $B; do
	ip netns exec $ns sysctl -qw net.ipv6.conf.lan0.accept_dad=0
	ip -n $ns link set lan0 address 02:00:00:00:00:$n
	ip -n $ns link set lo up
	ip -n $ns link set lan0 up
	ip -n $ns addr add 198.51.100.$n/24 dev lan0
	ip -n $ns addr add 2001:db8::$n/64 dev lan0 nodad
	n=12
done
sleep 1

ip netns exec $A tcpdump -U -Z root -i lan0 -w "$T/capture.pcap" 'ip proto 112 or ip6 proto 112' 2>"$T/tcpdump.log" &
TPID=$!
sleep 1
ip netns exec $A keepalived -n -l -D -P -f "$DIR/keepalived.conf" \
	-p "$T/keepalived.pid" -r "$T/vrrp.pid" -c "$T/checkers.pid" -b "$T/bfd.pid" >"$T/keepalived.log" 2>&1 &
KPID=$!
sleep "$SECS"
# SIGTERM: every instance resigns with a priority 0 advert.
kill -TERM $KPID
wait $KPID || true
KPID=
sleep 0.5
kill -INT $TPID
wait $TPID || true
TPID=
cp "$T/capture.pcap" "$OUT/capture.pcap"
cat "$T/tcpdump.log" "$T/keepalived.log"
