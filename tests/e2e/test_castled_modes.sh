#!/usr/bin/env bash
# test_castled_modes.sh - what the other e2e tests leave out of castled's
# surface: `--xdp-mode generic` (attached in generic mode, says so, enforces),
# a class's `per:` aggregation (sources of one /24, or of one IPv6 /64, share a
# bucket; a ban of the aggregate is the /24), and SIGINT (exit 0, the gate keeps enforcing).
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5		# blocked
AGG_A=198.18.90.1	# two sources of one /24 under per: {ipv4: 24}
AGG_B=198.18.90.2
OTHER=198.18.91.1	# another /24, same class
AGG6_A=2001:db8:90::1	# two sources of one /64 (the IPv6 aggregate)
AGG6_B=2001:db8:90::2
OTHER6=2001:db8:91::1	# another /64
E2E_SRC_ALIASES="$BAD $AGG_A $AGG_B $OTHER $AGG6_A $AGG6_B $OTHER6"

cls() { metric castle_limit_packets_total "limit=\"agg\",verdict=\"$1\""; }

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
limits:
  - name: agg
    match: { proto: udp, dst_ports: [9400] }
    rate: 1/h
    burst: 3
    per: { ipv4: 24, ipv6: 64 }
    ban: { after: 2, for: 1m }
YAML
e2e_castled --xdp-mode generic || { t_fail "castled starts with --xdp-mode generic"; t_done; }
t_ok "castled starts with --xdp-mode generic"
t_eq "castlectl -j status: xdp_mode generic" generic "$(ctl -j status | jq -r '.interfaces[0].xdp_mode')"
in_dut ip -d link show "$DUT_IF" | grep -q 'xdpgeneric' && t_ok "the kernel shows the program in generic mode (xdpgeneric)" ||
	t_fail "the kernel shows the program in generic mode (xdpgeneric)" "$(in_dut ip -d link show "$DUT_IF")"
d0=$(xdp_count drop blocklist)
send_udp $BAD $DUT4 7000 10
t_eq "generic mode enforces: 10 blocked datagrams dropped as blocklist" 10 $(($(xdp_count drop blocklist) - d0))

# ---- per: {ipv4: 24} --------------------------------------------------------
p0=$(cls pass); d0=$(cls drop)
send_udp $AGG_A $DUT4 9400 2
send_udp $AGG_B $DUT4 9400 2
t_eq "per /24: two sources share one bucket of burst 3 (3 pass)" 3 $(($(cls pass) - p0))
t_eq "per /24: ... and the fourth datagram drops" 1 $(($(cls drop) - d0))
send_udp $OTHER $DUT4 9400 3
t_eq "per /24: a source of another /24 has its own bucket (3 more pass)" 6 $(($(cls pass) - p0))
t_eq "castle_tracked_sources counts the aggregates (2 /24s)" 2 "$(metric castle_tracked_sources 'limit="agg"')"
# the second drop in a row bans the aggregate: the /24, as a CIDR
send_udp $AGG_B $DUT4 9400 1
auto=$(ctl_list block | jq -r '[.entries[] | select(.origin == "auto") | .cidr] | join(" ")')
t_eq "per /24: the ban after 2 drops is the aggregate 198.18.90.0/24" "198.18.90.0/24" "$auto"
a0=$(xdp_count drop autoban)
send_udp 198.18.90.2 $DUT4 7000 3
t_eq "... and it drops another port of that /24 as autoban" 3 $(($(xdp_count drop autoban) - a0))

# IPv6: per ipv6 64, two sources of one /64 share a bucket, another /64 not
p0=$(cls pass); d0=$(cls drop)
send_udp $AGG6_A $DUT6 9400 2
send_udp $AGG6_B $DUT6 9400 2
send_udp $OTHER6 $DUT6 9400 3
t_eq "per /64: two IPv6 sources of one /64 share a bucket, another /64 has its own (6 pass)" 6 $(($(cls pass) - p0))
t_eq "per /64: ... the fourth datagram of the shared /64 drops" 1 $(($(cls drop) - d0))

# ---- SIGINT -----------------------------------------------------------------
kill -INT "$CASTLED_PID"
rc=0
for i in $(seq 50); do kill -0 "$CASTLED_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$CASTLED_PID" 2>/dev/null; then
	t_fail "SIGINT stops castled within 5 s"
else
	wait "$CASTLED_PID"; rc=$?
	CASTLED_PID=
	t_eq "SIGINT stops castled with exit 0" 0 "$rc"
fi
grep -q "Interrupt: stopping; the gate keeps enforcing" "$TMP/castled.log" && t_ok "... saying the gate keeps enforcing" ||
	t_fail "... saying the gate keeps enforcing" "$(tail -3 "$TMP/castled.log")"
d0=$(ctl -j stats | jq '[.counters[] | select(.stage=="xdp" and .verdict=="drop" and .reason=="blocklist") | .packets] | add // 0')
send_udp $BAD $DUT4 7000 5
d1=$(ctl -j stats | jq '[.counters[] | select(.stage=="xdp" and .verdict=="drop" and .reason=="blocklist") | .packets] | add // 0')
t_eq "after SIGINT the gate still drops (5 more blocklist drops in the pinned counters)" 5 $((d1 - d0))
t_cmd "castlectl unload $DUT_IF" ctl unload "$DUT_IF"

t_done
