#!/usr/bin/env bash
# test_faults_iface.sh - interfaces that change under castled, each with a
# defined outcome (docs/SECURITY.md, "Fault injection"):
#   - one of two interfaces deleted (and made again at once under the same
#     name): castled logs it, forgets its record
#     (status no longer lists it), keeps running and enforcing on the other;
#   - interface flapped (down/up): the XDP program stays attached, the gate
#     enforces again after up;
#   - the last interface deleted: castled exits 0 ("no interface left"), the
#     pins stay; once the interface is back a restarted castled attaches and
#     adopts the maps;
#   - a second castled on the same interface with another pin dir: refused
#     (exit 1, names the running castled's pid), the first keeps the
#     interface; once the first has stopped, the second replaces its program
#     in place (the upgrade path);
#   - an interface that is not Ethernet (a tun device): refused (exit 1, says
#     why), nothing attached to it.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5		# blocked by the policy
CLEAN=198.18.1.10	# blocked by nothing
E2E_SRC_ALIASES="$BAD $CLEAN"
RX=$TMP/rx.log
DUT_IF2=cy$ID		# second interface of castled (a veth with its peer in src)
SRC_IF2=cx$ID
trap 'e2e_cleanup; rm -rf "$PIN-b"' EXIT

# castled manages two interfaces at first: count the drops of DUT_IF only.
blocklist() { metric castle_packets_total "interface=\"$DUT_IF\",stage=\"xdp\",verdict=\"drop\",reason=\"blocklist\""; }
xdp_id() { in_dut ip -j link show "$1" 2>/dev/null | jq -r '.[0].xdp.prog.id // 0'; }
status_ifaces() { ctl -j status | jq -r '[.interfaces[]?.name] | sort | join(",")'; }
# probe: 3 datagrams from BAD and CLEAN; BAD all counted as blocklist drops,
# CLEAN all received. Prints "drops received".
probe() {
	local b r
	b=$(blocklist); b=${b:-0}; r=$(rx_from "$RX" $CLEAN)
	send_udp $BAD $DUT4 9999 3
	send_udp $CLEAN $DUT4 9999 3
	wait_metric castle_packets_total "interface=\"$DUT_IF\",stage=\"xdp\",verdict=\"drop\",reason=\"blocklist\"" $((b + 3)) 2>/dev/null
	for i in $(seq 20); do [ "$(rx_from "$RX" $CLEAN)" -ge $((r + 3)) ] && break; sleep 0.1; done
	sleep 0.2
	echo "$(($(blocklist) - b)) $(($(rx_from "$RX" $CLEAN) - r))"
}

e2e_topology || { t_fail "topology"; t_done; }
ip link add "$SRC_IF2" netns "$NS_SRC" type veth peer name "$DUT_IF2" netns "$NS_DUT" || { t_fail "second veth"; t_done; }
in_src ip link set "$SRC_IF2" up; in_dut ip link set "$DUT_IF2" up
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
e2e_castled -i "$DUT_IF2" || { t_fail "castled starts on two interfaces"; t_done; }
udp_sink 9999 "$RX"
t_eq "status lists both interfaces" "$(printf '%s\n' "$DUT_IF" "$DUT_IF2" | sort | paste -sd,)" "$(status_ifaces)"
t_eq "before any fault: blocked dropped, clean received" "3 3" "$(probe)"
t_eq "before any fault: one TCX program on each interface (the query sees them)" "1 1" \
	"$(tcx_progs "$DUT_IF") $(tcx_progs "$DUT_IF2")"

# ---- one of two interfaces deleted, and made again at once -----------------------
# Between two of castled's looks: the name is back, under another ifindex,
# with nothing of castle's on it; the old one's record and link pin go.
in_dut ip link del "$DUT_IF2" && ip link add "$SRC_IF2" netns "$NS_SRC" type veth peer name "$DUT_IF2" netns "$NS_DUT"
for i in $(seq 30); do castled_log_has "$DUT_IF2: interface went away" && break; sleep 0.1; done
# (castled's one-second look may fall between the two commands: then it saw
# the deletion alone, and says that)
castled_log_has "$DUT_IF2: interface went away (deleted" &&
	t_ok "deleted interface: castled logs it" || t_fail "deleted interface: castled logs it" "$(tail -3 "$TMP/castled.log")"
kill -0 "$CASTLED_PID" 2>/dev/null && t_ok "deleted interface: castled keeps running (one interface left)" ||
	t_fail "deleted interface: castled keeps running (one interface left)"
t_cmd "deleted interface: metrics still answer" in_dut curl -sf "http://$METRICS/metrics"
t_eq "deleted interface: status no longer lists it" "$DUT_IF" "$(status_ifaces)"
[ -e "$PIN/link_tc_$DUT_IF2" ] && t_fail "deleted interface: its TC link pin is removed" ||
	t_ok "deleted interface: its TC link pin is removed"
t_eq "deleted interface: the other one still enforces" "3 3" "$(probe)"

# ---- flap ------------------------------------------------------------------------
id=$(xdp_id "$DUT_IF")
in_dut ip link set "$DUT_IF" down
sleep 1.5 # a tick sees the interface down
in_dut ip link set "$DUT_IF" up
sleep 1.5
kill -0 "$CASTLED_PID" 2>/dev/null && t_ok "flap: castled keeps running" || t_fail "flap: castled keeps running"
t_eq "flap: the same XDP program is still attached" "$id" "$(xdp_id "$DUT_IF")"
t_eq "flap: status still lists the interface" "$DUT_IF" "$(status_ifaces)"
for i in $(seq 20); do ping_ok $SRC4 $DUT4 && break; sleep 0.2; done # carrier back
t_eq "flap: after up, blocked dropped and clean received" "3 3" "$(probe)"

# ---- the last interface deleted ----------------------------------------------------
in_dut ip link del "$DUT_IF"
for i in $(seq 50); do kill -0 "$CASTLED_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$CASTLED_PID" 2>/dev/null; then t_fail "last interface deleted: castled exits"; else
	wait "$CASTLED_PID"; t_eq "last interface deleted: castled exits 0" 0 $?; CASTLED_PID=; fi
castled_log_has "no interface left to manage: exiting" && t_ok "last interface deleted: says why" ||
	t_fail "last interface deleted: says why" "$(tail -3 "$TMP/castled.log")"
t_cmd "last interface deleted: the pins stay (castlectl status works)" ctl status
t_eq "last interface deleted: status lists no interface" "" "$(status_ifaces)"

in_src ip link del "$SRC_IF" 2>/dev/null # gone with its peer already; be sure
ip link add "$SRC_IF" netns "$NS_SRC" type veth peer name "$DUT_IF" netns "$NS_DUT" || { t_fail "veth re-created"; t_done; }
in_src ip addr add $SRC4/15 dev "$SRC_IF"
in_dut ip addr add $DUT4/15 dev "$DUT_IF"
for a in $E2E_SRC_ALIASES; do in_src ip addr add "$a"/15 dev "$SRC_IF"; done
in_src ip link set "$SRC_IF" up; in_dut ip link set "$DUT_IF" up
sleep 0.3
drops=$(blocklist 2>/dev/null)
e2e_castled || { t_fail "re-created interface: castled starts again"; t_done; }
castled_log_has "adopted the maps pinned in $PIN" && t_ok "re-created interface: castled adopts the maps" ||
	t_fail "re-created interface: castled adopts the maps"
t_eq "re-created interface: status lists it" "$DUT_IF" "$(status_ifaces)"
[ "$(xdp_id "$DUT_IF")" != 0 ] && t_ok "re-created interface: XDP attached" || t_fail "re-created interface: XDP attached"
for i in $(seq 20); do ping_ok $SRC4 $DUT4 && break; sleep 0.2; done
t_eq "re-created interface: blocked dropped, clean received" "3 3" "$(probe)"

# ---- a second castled on the same interface, another pin dir ------------------------
id=$(xdp_id "$DUT_IF")
out=$(in_dut timeout 20 "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN-b" --state-dir "$TMP/state-b" \
	--metrics 127.0.0.1:$((METRICS_PORT + 1)) --foreground 2>&1); rc=$?
t_eq "second castled, other pin dir: exit 1" 1 "$rc"
case $out in
*"attach XDP to $DUT_IF: "*"another castled, pid $CASTLED_PID, runs castle there with other pins"*)
	t_ok "second castled, other pin dir: the error names the running castled" ;;
*) t_fail "second castled, other pin dir: the error names the running castled" "$out" ;;
esac
t_eq "second castled, other pin dir: the first one's program stays attached" "$id" "$(xdp_id "$DUT_IF")"
t_eq "second castled, other pin dir: the first one still enforces" "3 3" "$(probe)"
rm -rf "$PIN-b"

e2e_stop_castled
nsenter --net=/var/run/netns/$NS_DUT -- "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN-b" \
	--state-dir "$TMP/state-b" --metrics 127.0.0.1:$((METRICS_PORT + 1)) --foreground >"$TMP/castled-b.log" 2>&1 &
pid_b=$!
for i in $(seq 100); do
	in_dut curl -sf "http://127.0.0.1:$((METRICS_PORT + 1))/healthz" >/dev/null 2>&1 && break
	kill -0 $pid_b 2>/dev/null || break
	sleep 0.1
done
kill -0 $pid_b 2>/dev/null && t_ok "first castled stopped: a castled with another pin dir starts" ||
	t_fail "first castled stopped: a castled with another pin dir starts" "$(cat "$TMP/castled-b.log")"
grep -q "XDP replaced in place" "$TMP/castled-b.log" && t_ok "... and replaces the program in place" ||
	t_fail "... and replaces the program in place" "$(cat "$TMP/castled-b.log")"
t_eq "... and enforces its policy" "3 3" "$(METRICS=127.0.0.1:$((METRICS_PORT + 1)) probe)"
kill -TERM $pid_b; wait $pid_b
in_dut "$CASTLECTL" --pin-dir "$PIN-b" unload "$DUT_IF" >/dev/null 2>&1
rm -rf "$PIN-b"

# ---- an interface that is not Ethernet ---------------------------------------------
TUN_IF=ct$ID
if in_dut ip tuntap add dev "$TUN_IF" mode tun 2>/dev/null && in_dut ip link set "$TUN_IF" up; then
	out=$(in_dut timeout 20 "$CASTLED" -i "$TUN_IF" -p "$POLICY" --pin-dir "$PIN-b" \
		--state-dir "$TMP/state-b" --metrics 127.0.0.1:$((METRICS_PORT + 1)) --foreground 2>&1); rc=$?
	t_eq "tun interface: castled exits 1" 1 "$rc"
	case $out in
	*"interface $TUN_IF is not an Ethernet interface"*) t_ok "tun interface: the error says why" ;;
	*) t_fail "tun interface: the error says why" "$out" ;;
	esac
	t_eq "tun interface: no XDP attached" 0 "$(xdp_id "$TUN_IF")"
	# TCX links are invisible to `tc filter show`: ask the kernel, and
	# look for the link pin too.
	t_eq "tun interface: no TCX program attached" 0 "$(tcx_progs "$TUN_IF")"
	in_dut tc filter show dev "$TUN_IF" ingress 2>/dev/null | grep -q castle &&
		t_fail "tun interface: no TC filter attached" || t_ok "tun interface: no TC filter attached"
	[ -e "$PIN-b/link_tc_$TUN_IF" ] && t_fail "tun interface: no TCX link pinned" ||
		t_ok "tun interface: no TCX link pinned"
	in_dut ip link del "$TUN_IF"
else
	t_fail "tun interface: create a tun device in the dut namespace"
fi
rm -rf "$PIN-b"
t_done
