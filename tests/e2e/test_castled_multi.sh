#!/usr/bin/env bash
# test_castled_multi.sh - one castled guarding two interfaces at once: the
# policy applies on both, counters are kept per interface (packets, class
# counters and TLS results carry the interface label, and castlectl sums the
# classes over both), status lists both, and unloading one leaves the other
# enforcing.
E2E_SRC_ALIASES="198.18.66.5"
. "$(dirname "$0")/lib.sh"

SRC_IF2=cs2$ID DUT_IF2=cd2$ID
SRC4B=198.19.0.1 DUT4B=198.19.0.2

# xdp_drops IFACE: castle_packets_total{stage="xdp",verdict="drop",reason="blocklist"} of IFACE.
xdp_drops() {
	local v
	v=$(in_dut curl -sf "http://$METRICS/metrics" | grep -E '^castle_packets_total\{' |
		grep -F "interface=\"$1\"" | grep -F 'stage="xdp"' | grep -F 'verdict="drop"' |
		grep -F 'reason="blocklist"' | awk '{print $NF}' | head -1)
	echo "${v:-0}"
}

# blocked_ping NAME IFACE SRC DST: a ping from SRC fails AND its echo request
# is counted as a blocklist drop on IFACE.
blocked_ping() {
	local d0 d1
	d0=$(xdp_drops "$2")
	if ping_ok "$3" "$4"; then
		t_fail "$1" "the ping got through"
		return
	fi
	d1=$(xdp_drops "$2")
	t_eq "$1 (one blocklist drop on $2)" 1 $((d1 - d0))
}

# on_if NAME IFACE LABELS: the sample of NAME on IFACE whose labels contain LABELS (0 if none).
on_if() {
	local v
	v=$(in_dut curl -sf "http://$METRICS/metrics" | grep -E "^$1\{" |
		grep -F "interface=\"$2\"" | grep -F -- "$3" | awk '{print $NF}' | head -1)
	echo "${v:-0}"
}

e2e_topology || { t_fail "topology"; t_done; }
ip link add "$SRC_IF2" netns "$NS_SRC" type veth peer name "$DUT_IF2" netns "$NS_DUT" ||
	{ t_fail "second veth pair"; t_done; }
in_src ip addr add $SRC4B/24 dev "$SRC_IF2"
in_src ip addr add 198.19.0.66/24 dev "$SRC_IF2"
in_dut ip addr add $DUT4B/24 dev "$DUT_IF2"
in_src ip link set "$SRC_IF2" up; in_dut ip link set "$DUT_IF2" up
sleep 0.2

e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
  - 198.19.0.66
limits:
  - name: dns
    match: { proto: udp, dst_ports: [5353] }
    rate: 1/h
    burst: 5
tls:
  ports: [443]
  quic: drop
YAML
if ! e2e_castled -i "$DUT_IF2"; then t_fail "castled starts on two interfaces"; t_done; fi
t_ok "castled starts on two interfaces"

st=$(ctl -j status)
t_eq "status lists both interfaces" 2 "$(echo "$st" | jq '[.interfaces[] | select(.name == "'$DUT_IF'" or .name == "'$DUT_IF2'")] | length')"
t_cmd "XDP is attached to the second interface" sh -c "nsenter --net=/var/run/netns/$NS_DUT ip link show $DUT_IF2 | grep -q xdp"

t_cmd "unlisted source passes on the first interface" ping_ok $SRC4 $DUT4
t_cmd "unlisted source passes on the second interface" ping_ok $SRC4B $DUT4B

a0=$(xdp_drops "$DUT_IF"); b0=$(xdp_drops "$DUT_IF2")
send_udp 198.19.0.66 $DUT4B 7000 20
send_udp 198.18.66.5 $DUT4 7000 10
a1=$(xdp_drops "$DUT_IF"); b1=$(xdp_drops "$DUT_IF2")
t_eq "20 blocked datagrams counted on the second interface" 20 $((b1 - b0))
t_eq "10 blocked datagrams counted on the first interface" 10 $((a1 - a0))
blocked_ping "blocked source dropped on the second interface" "$DUT_IF2" 198.19.0.66 $DUT4B

# A class and the TLS gate on both interfaces: each counts apart, under its
# interface's name; the sum is the class's total.
send_udp $SRC4 $DUT4 5353 8
send_udp $SRC4B $DUT4B 5353 20
t_eq "class dns on the first interface: 5 passed" 5 "$(on_if castle_limit_packets_total "$DUT_IF" 'limit="dns",verdict="pass"')"
t_eq "class dns on the first interface: 3 dropped" 3 "$(on_if castle_limit_packets_total "$DUT_IF" 'limit="dns",verdict="drop"')"
t_eq "class dns on the second interface: 5 passed" 5 "$(on_if castle_limit_packets_total "$DUT_IF2" 'limit="dns",verdict="pass"')"
t_eq "class dns on the second interface: 15 dropped" 15 "$(on_if castle_limit_packets_total "$DUT_IF2" 'limit="dns",verdict="drop"')"
t_eq "castlectl limit list: dns passed, summed over the interfaces" 10 \
	"$(ctl -j limit list | jq '.classes[] | select(.name == "dns") | .passed')"
t_eq "castlectl limit list: dns dropped, summed over the interfaces" 18 \
	"$(ctl -j limit list | jq '.classes[] | select(.name == "dns") | .dropped')"
send_udp $SRC4 $DUT4 443 1 $'\xc3\xa9QUIC-long-header'
send_udp $SRC4B $DUT4B 443 2 $'\xc3\xa9QUIC-long-header'
t_eq "QUIC dropped on the first interface: 1" 1 "$(on_if castle_tls_connections_total "$DUT_IF" 'result="quic_dropped"')"
t_eq "QUIC dropped on the second interface: 2" 2 "$(on_if castle_tls_connections_total "$DUT_IF2" 'result="quic_dropped"')"
t_eq "TLS results of the second interface have every result" 5 \
	"$(in_dut curl -sf "http://$METRICS/metrics" | grep -c "^castle_tls_connections_total{interface=\"$DUT_IF2\",")"
if command -v promtool >/dev/null; then
	out=$(in_dut curl -sf "http://$METRICS/metrics" | promtool check metrics 2>&1); rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] && t_ok "promtool check metrics: clean with two interfaces" ||
		t_fail "promtool check metrics: clean with two interfaces" "rc=$rc: $(echo "$out" | head -5)"
else
	t_skip "promtool check metrics" "promtool not installed"
fi

t_cmd "castlectl unload of the second interface" ctl unload "$DUT_IF2"
t_nocmd "no XDP left on the second interface" sh -c "nsenter --net=/var/run/netns/$NS_DUT ip link show $DUT_IF2 | grep -q xdp"
t_cmd "the second interface no longer filters" ping_ok 198.19.0.66 $DUT4B
blocked_ping "the first interface still enforces" "$DUT_IF" 198.18.66.5 $DUT4
t_cmd "castled still runs for the first interface" kill -0 "$CASTLED_PID"

t_done
