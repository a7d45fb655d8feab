#!/usr/bin/env bash
# test_castled_atomic.sh - reloads under traffic: 66 sources send UDP while
# castled is made to swap 20 times between two policies that block disjoint
# halves of them. Both policies also block a canary source, and neither blocks
# a control source: a reload with a gap (an empty or half-built policy live
# for a moment) would let the canary through or drop the control. Every packet
# is accounted for: received by the socket or counted as a blocklist drop.
#
# That one packet is never judged by a mixture of two generations is proven
# at the packet level by tests/bpf/test_gen_atomic.c (test runs racing
# commits); this test proves the daemon's reload path on a real interface.
. "$(dirname "$0")/lib.sh"

CANARY=198.18.101.1	# blocked by both policies
CONTROL=198.18.101.2	# blocked by neither
SRCS=$(for i in $(seq 0 63); do echo 198.18.100.$i; done)
E2E_SRC_ALIASES="$SRCS $CANARY $CONTROL"
RX=$TMP/rx.log
SWAPS=20

policy() { # policy FIRST LAST: block 198.18.100.FIRST..LAST and the canary
	{
		echo "version: 1"
		echo "block:"
		echo "  - $CANARY"
		for i in $(seq "$1" "$2"); do echo "  - 198.18.100.$i"; done
	} > "$POLICY"
}

e2e_topology || { t_fail "topology"; t_done; }
policy 0 31
e2e_castled || { t_fail "castled starts"; t_done; }
udp_sink 9999 "$RX"

# Sender: one round = one datagram from every source; rounds until the stop
# file appears. Writes how many datagrams each source sent.
send_rounds "$TMP/stop" "$TMP/sent.txt" $DUT4 40002 120 $SRCS $CANARY $CONTROL
sender=$SENDER_PID
sleep 1

fails=0
for n in $(seq $SWAPS); do
	if [ $((n % 2)) -eq 1 ]; then policy 32 63; else policy 0 31; fi
	castled_reload || fails=$((fails + 1))
done
touch "$TMP/stop"
wait $sender
sleep 0.5
rounds=$(cat "$TMP/sent.txt" 2>/dev/null || echo 0)

t_eq "all $SWAPS reloads succeeded" $((SWAPS + 1)) "$(metric castle_policy_reloads_total 'result="success"')"
t_eq "no reload failed or timed out" "0 0" "$(metric castle_policy_reloads_total 'result="failure"') $fails"
[ "$rounds" -ge 100 ] && t_ok "traffic flowed through the swaps ($rounds rounds of 66)" ||
	t_fail "traffic flowed through the swaps" "only $rounds rounds"
t_eq "canary (blocked by both policies) never got through a swap" 0 "$(rx_from "$RX" $CANARY)"
t_eq "control (blocked by neither) never dropped during a swap" "$rounds" "$(rx_from "$RX" $CONTROL)"

# Sources of the halves were blocked in some rounds and passed in others.
both=0
for s in 198.18.100.0 198.18.100.31 198.18.100.32 198.18.100.63; do
	r=$(rx_from "$RX" $s)
	[ "$r" -gt 0 ] && [ "$r" -lt "$rounds" ] && both=$((both + 1))
done
t_eq "sources of both halves saw both policies" 4 "$both"

received=$(wc -l < "$RX")
drops=$(metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"')
t_eq "every datagram accounted for: received + blocklist drops = sent" $((rounds * 66)) \
	$((received + drops))

# The last policy (SWAPS even: 0..31) is exactly what is enforced now.
before=$(rx_from "$RX" 198.18.100.40)
send_udp 198.18.100.5 $DUT4 9999 3
send_udp 198.18.100.40 $DUT4 9999 3
wait_metric castle_packets_total 'reason="blocklist"' $((drops + 3))
t_eq "final policy: its half is blocked" $((drops + 3)) \
	"$(metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"')"
sleep 0.3
t_eq "final policy: the other half passes" $((before + 3)) "$(rx_from "$RX" 198.18.100.40)"
t_done
