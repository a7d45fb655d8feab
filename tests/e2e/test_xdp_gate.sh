#!/usr/bin/env bash
# test_xdp_gate.sh - the XDP gate with real traffic: castled attached to the
# dut end of a veth pair; scapy, ping and nc from the src namespace. Blocked
# sources (v4 and v6, exact and CIDR) are dropped, others pass, a limited
# source (v4 and v6) gets burst + rate while another v6 source keeps its own
# bucket, VLAN tags, IPv4 options, IPv6 extension headers and fragments carry
# neither a blocked nor a limited source through, and the counters equal what
# was sent.
E2E_SRC_ALIASES="198.18.66.5 198.18.77.7 198.18.30.1 2001:db8:bad::5 2001:db8:30::1 2001:db8:31::1"
. "$(dirname "$0")/lib.sh"

# blocked_ping NAME SRC DST [ping -6]: a ping from SRC fails AND its echo
# request is counted as a blocklist drop (a ping failing for another reason
# does not pass).
blocked_ping() {
	local name=$1 src=$2 dst=$3 d0 d1
	shift 3
	d0=$(xdp_count drop blocklist)
	if in_src ping "$@" -c1 -W1 -I "$src" "$dst" >/dev/null 2>&1; then
		t_fail "$name" "the ping got through"
		return
	fi
	d1=$(xdp_count drop blocklist)
	t_eq "$name (one blocklist drop)" 1 $((d1 - d0))
}

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
mode: enforce
malformed: drop
block:
  - 198.18.66.0/24
  - 198.18.77.7
  - 2001:db8:bad::/48
limits:
  - name: udp9000
    match: { proto: udp, dst_ports: ["9000-9001"] }
    rate: 1/s
    burst: 5
YAML
if ! e2e_castled; then t_fail "castled starts"; t_done; fi
t_ok "castled starts and serves /healthz"

t_cmd "ping from an unlisted v4 source passes" ping_ok $SRC4 $DUT4
blocked_ping "ping from a blocked v4 CIDR is dropped" 198.18.66.5 $DUT4
blocked_ping "ping from a blocked v4 address is dropped" 198.18.77.7 $DUT4
t_cmd "ping from an unlisted v6 source passes" in_src ping -6 -c1 -W1 -I $SRC6 $DUT6
blocked_ping "ping from a blocked v6 CIDR is dropped" 2001:db8:bad::5 $DUT6 -6

# Exact counting with scapy: 50 UDP datagrams from a blocked source.
before=$(xdp_count drop blocklist)
send_udp 198.18.66.5 $DUT4 7000 50
after=$(xdp_count drop blocklist)
t_eq "50 datagrams from a blocked source: blocklist drops +50" 50 $((after - before))

# nc: a TCP connection from an unlisted source works end to end.
in_dut timeout 5 nc -l -s $DUT4 -p 8080 >"$TMP/nc.out" &
ncpid=$!
sleep 0.3
echo "hello castle" | in_src timeout 3 nc -q1 -s $SRC4 $DUT4 8080
wait $ncpid # not a bare wait: castled runs in the background too
t_eq "nc from an unlisted source delivers its line" "hello castle" "$(cat "$TMP/nc.out")"

# Rate limit: 30 datagrams at once to port 9000 from one source: burst (5)
# pass, plus at most a couple of refills during the send.
p0=$(xdp_count pass ok); d0=$(xdp_count drop ratelimit)
send_udp 198.18.30.1 $DUT4 9000 30
p1=$(xdp_count pass ok); d1=$(xdp_count drop ratelimit)
passed=$((p1 - p0)); dropped=$((d1 - d0))
if [ $passed -ge 5 ] && [ $passed -le 8 ] && [ $((passed + dropped)) -eq 30 ]; then
	t_ok "rate limit 1/s burst 5: $passed of 30 pass, $dropped dropped as ratelimit"
else
	t_fail "rate limit 1/s burst 5" "passed $passed dropped $dropped of 30"
fi

# The same class over IPv6, read on the class counters: 30 at once from one
# source, burst (5) pass plus at most a couple of refills, the rest dropped as
# ratelimit; then 4 from another IPv6 source, within its own fresh bucket.
cls() { metric castle_limit_packets_total "limit=\"udp9000\",verdict=\"$1\""; }
# cls_settled P0 D0 N: wait (at most 3 s) until the class has judged N packets
# since it read P0 passes and D0 drops.
cls_settled() {
	local i
	for i in $(seq 30); do
		[ $(($(cls pass) - $1 + $(cls drop) - $2)) -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}
p0=$(cls pass); d0=$(cls drop); r0=$(xdp_count drop ratelimit)
send_udp 2001:db8:31::1 $DUT6 9000 30
cls_settled "$p0" "$d0" 30
passed=$(($(cls pass) - p0)); dropped=$(($(cls drop) - d0))
if [ $passed -ge 5 ] && [ $passed -le 8 ] && [ $((passed + dropped)) -eq 30 ]; then
	t_ok "IPv6 rate limit 1/s burst 5: $passed of 30 pass, $dropped dropped"
else
	t_fail "IPv6 rate limit 1/s burst 5" "passed $passed dropped $dropped of 30"
fi
t_eq "IPv6 rate limit: each class drop is a drop/ratelimit" "$dropped" $(($(xdp_count drop ratelimit) - r0))
p0=$(cls pass); d0=$(cls drop); r0=$(xdp_count drop ratelimit)
send_udp $SRC6 $DUT6 9000 4
cls_settled "$p0" "$d0" 4
t_eq "IPv6 rate limit: another IPv6 source passes, 4 of 4 (its own bucket)" "4 0" \
	"$(($(cls pass) - p0)) $(($(cls drop) - d0))"
t_eq "IPv6 rate limit: ... and adds no drop/ratelimit" 0 $(($(xdp_count drop ratelimit) - r0))

# Bypass attempts over the wire: a blocked source inside one and two VLAN tags,
# and as IPv4 fragments, is still dropped (and counted as blocklist).
before=$(xdp_count drop blocklist)
in_src $PY - "$SRC_IF" <<'PY'
import sys
from scapy.all import Ether, Dot1Q, Dot1AD, IP, UDP, Raw, sendp, fragment, conf
conf.verb = 0
ifc = sys.argv[1]
base = IP(src="198.18.66.5", dst="198.18.0.2") / UDP(sport=1, dport=7000) / Raw(b"x" * 64)
sendp(Ether(dst="ff:ff:ff:ff:ff:ff") / Dot1Q(vlan=10) / base, iface=ifc, count=10)
sendp(Ether(dst="ff:ff:ff:ff:ff:ff", type=0x88a8) / Dot1AD(vlan=20) / Dot1Q(vlan=10) / base, iface=ifc, count=10)
big = IP(src="198.18.66.5", dst="198.18.0.2") / UDP(sport=1, dport=7000) / Raw(b"y" * 3000)
for f in fragment(big, fragsize=1000):
    sendp(Ether(dst="ff:ff:ff:ff:ff:ff") / f, iface=ifc, count=1)
PY
after=$(xdp_count drop blocklist)
t_eq "VLAN, QinQ and fragments from a blocked source: all 24 dropped as blocklist" 24 $((after - before))

# IPv4 options and IPv6 extension headers (hop-by-hop, destination options and
# routing, fragments) carry neither a blocked source nor a limited one past
# the gate (contract, principle 4).
before=$(xdp_count drop blocklist)
p0=$(cls pass); d0=$(cls drop)
in_src $PY - "$SRC_IF" <<'PY'
import sys
from scapy.all import (Ether, IP, IPOption_RR, IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrDestOpt,
                       IPv6ExtHdrRouting, IPv6ExtHdrFragment, UDP, Raw, sendp, fragment6, conf)
conf.verb = 0
ifc = sys.argv[1]
eth = Ether(dst="ff:ff:ff:ff:ff:ff")
udp = UDP(sport=1, dport=7000) / Raw(b"x" * 64)
sendp(eth / IP(src="198.18.66.5", dst="198.18.0.2", options=[IPOption_RR()]) / udp, iface=ifc, count=10)
v6 = IPv6(src="2001:db8:bad::5", dst="2001:db8::2")
sendp(eth / v6 / IPv6ExtHdrHopByHop() / udp, iface=ifc, count=5)
sendp(eth / v6 / IPv6ExtHdrDestOpt() / IPv6ExtHdrRouting() / udp, iface=ifc, count=5)
for f in fragment6(v6 / IPv6ExtHdrFragment() / UDP(sport=1, dport=7000) / Raw(b"y" * 3000), 1280):
    sendp(eth / f, iface=ifc, count=1)
# a limited (unlisted) source behind a hop-by-hop header: 20 to the 1/s burst 5 class
lim = IPv6(src="2001:db8:30::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / UDP(sport=2, dport=9000) / Raw(b"z")
sendp(eth / lim, iface=ifc, count=20)
PY
after=$(xdp_count drop blocklist)
t_eq "IPv4 options (10), IPv6 hop-by-hop (5), dest-opts + routing (5), fragments (3) of a blocked source: all 23 dropped as blocklist" \
	23 $((after - before))
p1=$(cls pass); d1=$(cls drop)
passed=$((p1 - p0)); dropped=$((d1 - d0))
if [ $passed -ge 5 ] && [ $passed -le 8 ] && [ $((passed + dropped)) -eq 20 ]; then
	t_ok "a limited source behind a hop-by-hop header: $passed of 20 pass, $dropped dropped as ratelimit"
else
	t_fail "a limited source behind a hop-by-hop header" "passed $passed dropped $dropped of 20"
fi

# ARP always passes: the neighbour entry of the dut resolves even though the
# policy blocks addresses on the same link.
t_cmd "ARP passes (counted as non_ip)" test "$(xdp_count pass non_ip)" -gt 0

t_done
