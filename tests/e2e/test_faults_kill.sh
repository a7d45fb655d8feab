#!/usr/bin/env bash
# test_faults_kill.sh - SIGKILL of castled at each step of a reload. Two
# 200,000-entry policies (a reload takes about a second, so the kill lands
# while the standby generation is being filled, around the commit, or while
# the old one is released); castled is made to reload from one to the other
# and killed 0, 50, 100, 200, 400 and 800 ms after the SIGHUP. Defined outcome:
# the gate keeps enforcing exactly the old or exactly the new policy, never
# neither and never a mixture, and a restarted castled adopts the pins and
# applies the file's policy.
#
# Traffic flows all along: a canary blocked by both policies must never reach
# the socket, a control blocked by neither must never be dropped. After each
# kill, ONLY_A (blocked only by policy A) and ONLY_B (only by B) tell which
# policy is live: exactly one of the two must be blocked.
. "$(dirname "$0")/lib.sh"

CANARY=198.18.101.1	# blocked by both policies
CONTROL=198.18.101.2	# blocked by neither
ONLY_A=198.18.102.1
ONLY_B=198.18.102.2
E2E_SRC_ALIASES="$CANARY $CONTROL $ONLY_A $ONLY_B"
RX=$TMP/rx.log
N=${CASTLE_FAULT_ENTRIES:-200000}
DELAYS="0 50 100 200 400 800"

mkpolicy() { # mkpolicy OUT EXACT-BASE ONLY
	$PY "$E2E_ROOT/scripts/gen-policy.py" -n "$N" -m 100 --v4-exact-base "$2" -o "$1" &&
		printf '  - "%s"\n  - "%s"\n' $CANARY "$3" >> "$1" && chmod 0644 "$1"
}
use_policy() { cp "$1" "$TMP/next.yaml" && mv "$TMP/next.yaml" "$POLICY"; }
# live: which policy drops now ("A", "B", "none" or "both"), from 2 datagrams
# of ONLY_A and ONLY_B each.
live() {
	local a b
	a=$(rx_from "$RX" $ONLY_A); b=$(rx_from "$RX" $ONLY_B)
	send_udp $ONLY_A $DUT4 9999 2
	send_udp $ONLY_B $DUT4 9999 2
	sleep 0.4
	a=$(($(rx_from "$RX" $ONLY_A) - a)); b=$(($(rx_from "$RX" $ONLY_B) - b))
	if [ $a = 0 ] && [ $b = 2 ]; then echo A
	elif [ $a = 2 ] && [ $b = 0 ]; then echo B
	elif [ $a = 0 ] && [ $b = 0 ]; then echo both
	else echo "none($a,$b)"; fi
}

e2e_topology || { t_fail "topology"; t_done; }
mkpolicy "$TMP/a.yaml" 10.0.0.0 $ONLY_A || { t_fail "policy A written"; t_done; }
mkpolicy "$TMP/b.yaml" 11.0.0.0 $ONLY_B || { t_fail "policy B written"; t_done; }
use_policy "$TMP/a.yaml"
e2e_castled || { t_fail "castled starts with policy A"; t_done; }
udp_sink 9999 "$RX"
t_eq "policy A live at start" A "$(live)"

# Canary and control: one datagram each every 10 ms until the stop file.
send_rounds "$TMP/stop" "$TMP/sent.txt" $DUT4 40003 150 $CANARY $CONTROL
sender=$SENDER_PID

cur=A mid=0
for d in $DELAYS; do
	if [ $cur = A ]; then next=B; use_policy "$TMP/b.yaml"; else next=A; use_policy "$TMP/a.yaml"; fi
	: > "$TMP/castled.log"
	kill -HUP "$CASTLED_PID"
	sleep "$(awk -v d="$d" 'BEGIN { print d / 1000 }')"
	kill -9 "$CASTLED_PID"; wait "$CASTLED_PID" 2>/dev/null; CASTLED_PID=
	if castled_log_has "SIGHUP: reloading" && ! castled_log_has "applied"; then
		mid=$((mid + 1)); when="mid-reload"
	elif castled_log_has "applied"; then when="after the reload"
	else when="before the reload began"; fi
	l=$(live)
	case $l in
	"$cur" | "$next") t_ok "kill ${d}ms after SIGHUP ($when): exactly one whole policy live ($l)" ;;
	*) t_fail "kill ${d}ms after SIGHUP ($when): exactly one whole policy live" "got $l" ;;
	esac
	# Restart: adopts the pins and applies what the file says now.
	e2e_castled || { t_fail "kill ${d}ms: castled restarts"; break; }
	castled_log_has "adopted the maps pinned in $PIN" && t_ok "kill ${d}ms: restart adopts the pins" ||
		t_fail "kill ${d}ms: restart adopts the pins" "$(tail -3 "$TMP/castled.log")"
	t_eq "kill ${d}ms: after the restart the file's policy is live" $next "$(live)"
	cur=$next
done
touch "$TMP/stop"
wait $sender
sleep 0.5
rounds=$(cat "$TMP/sent.txt" 2>/dev/null || echo 0)
echo "# $mid of the $(echo $DELAYS | wc -w) kills landed mid-reload"
[ $mid -ge 2 ] && t_ok "at least two kills landed mid-reload ($mid)" ||
	t_fail "at least two kills landed mid-reload" "only $mid (reloads too fast? raise CASTLE_FAULT_ENTRIES)"
[ "$rounds" -ge 100 ] && t_ok "traffic flowed through the kills ($rounds rounds)" ||
	t_fail "traffic flowed through the kills" "only $rounds rounds"
t_eq "canary (blocked by both) never reached the socket" 0 "$(rx_from "$RX" $CANARY)"
t_eq "control (blocked by neither) never dropped" "$rounds" "$(rx_from "$RX" $CONTROL)"
e2e_stop_castled
t_done
