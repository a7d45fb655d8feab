#!/usr/bin/env bash
# test_castled_multi.sh - one castled guarding two interfaces at once: the
# policy applies on both, counters are kept per interface, status lists both,
# and unloading one leaves the other enforcing.
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
t_nocmd "blocked source dropped on the second interface" ping_ok 198.19.0.66 $DUT4B

t_cmd "castlectl unload of the second interface" ctl unload "$DUT_IF2"
t_nocmd "no XDP left on the second interface" sh -c "nsenter --net=/var/run/netns/$NS_DUT ip link show $DUT_IF2 | grep -q xdp"
t_cmd "the second interface no longer filters" ping_ok 198.19.0.66 $DUT4B
t_nocmd "the first interface still enforces" ping_ok 198.18.66.5 $DUT4
t_cmd "castled still runs for the first interface" kill -0 "$CASTLED_PID"

t_done
