#!/usr/bin/env bash
# test_castled_lifecycle.sh - castled as a daemon (fork, parent exits once the
# gate enforces), its pid in the state map, `castlectl reload` reaching it, a
# manual entry added with castlectl persisted with its comment, refusal of a
# second castled on the same pins, and `castlectl unload` (castled's loader)
# taking everything off the interface and out of bpffs. The daemon is started
# with a relative policy path and state dir.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5
E2E_SRC_ALIASES="$BAD"

state_pid() { ctl -j status 2>/dev/null | jq -r '.daemon.pid // 0'; }
has_xdp() { in_dut ip link show "$DUT_IF" | grep -q 'xdp'; }

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
mkdir -p "$STATE"

# ---- daemon mode ------------------------------------------------------------
# Relative paths, as an operator types them: the daemon leaves its working
# directory, and still reads this policy on reload and persists under this
# state dir (both checked below).
cd "$TMP" || exit 1
in_dut "$CASTLED" -i "$DUT_IF" -p policy.yaml --pin-dir "$PIN" --state-dir state \
	--metrics "$METRICS" >>"$TMP/castled.log" 2>&1
t_eq "castled (daemon mode) returns 0 once enforcing" 0 $?
t_cmd "healthz answers as soon as the parent returned" in_dut curl -sf "http://$METRICS/healthz"
has_xdp && t_ok "XDP attached when the parent returned" || t_fail "XDP attached when the parent returned"
pid=$(pgrep -f "castled -i $DUT_IF" | head -1)
[ -n "$pid" ] && t_ok "daemon running (pid $pid)" || t_fail "daemon running"
t_eq "state map holds the daemon's pid" "$pid" "$(state_pid)"

out=$(in_dut "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$STATE" \
	--metrics 127.0.0.1:1 --foreground 2>&1); rc=$?
t_eq "a second castled on the same pins is refused (exit 1)" 1 $rc
case $out in *"another castled (pid $pid)"*) t_ok "... and says which pid" ;;
*) t_fail "... and says which pid" "$out" ;; esac

# ---- castlectl reload / block add -------------------------------------------
t_cmd "castlectl reload reaches castled" ctl reload
t_eq "reload applied (serial 2)" 2 "$(metric castle_policy_serial)"
t_cmd "castlectl block add with a comment" ctl block add 198.18.77.7 --comment "night shift"
sleep 1.5
if grep -qx "block 198.18.77.7 0 night shift" "$STATE/manual.state"; then t_ok "manual entry and its comment persisted"
else t_fail "manual entry and its comment persisted" "$(cat "$STATE/manual.state")"; fi

kill -TERM "$pid"
for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && t_fail "SIGTERM stops the daemon" || t_ok "SIGTERM stops the daemon"
t_eq "stopped castled cleared its pid" "0" "$(state_pid)"
has_xdp && t_ok "the gate stays attached after the stop" || t_fail "the gate stays attached after the stop"
send_udp $BAD $DUT4 9999 3
sleep 0.3
t_eq "and still drops (counted in the pinned map)" 3 \
	"$(ctl -j stats | jq '[.. | objects | select(.reason? == "blocklist" and .verdict? == "drop") | .packets] | add // 0')"

# ---- castlectl unload -------------------------------------------------------
# What is attached before: the TC program (by id: TCX is invisible to `bpftool
# net` and `tc filter` here), its TCX link pin.
tc_id=$(ctl -j status | jq -r --arg i "$DUT_IF" '.interfaces[] | select(.name == $i) | .tc_prog_id')
tc_mode=$(ctl -j status | jq -r --arg i "$DUT_IF" '.interfaces[] | select(.name == $i) | .tc_mode')
[ "${tc_id:-0}" -gt 0 ] 2>/dev/null && bpftool prog show id "$tc_id" >/dev/null 2>&1 &&
	t_ok "before unload: the TC program (id $tc_id) is loaded" ||
	t_fail "before unload: the TC program is loaded" "tc_prog_id '$tc_id'"
t_eq "before unload: TC attached with TCX (auto mode)" tcx "$tc_mode"
t_eq "before unload: one TCX program on the interface" 1 "$(tcx_progs "$DUT_IF")"
[ -e "$PIN/link_tc_$DUT_IF" ] && t_ok "before unload: the TCX link is pinned" ||
	t_fail "before unload: the TCX link is pinned" "$(ls "$PIN")"
t_cmd "castlectl unload $DUT_IF" ctl unload "$DUT_IF"
has_xdp && t_fail "no XDP program left on the interface" || t_ok "no XDP program left on the interface"
# The kernel frees a program once nothing holds it (after an RCU grace period).
for i in $(seq 30); do bpftool prog show id "${tc_id:-0}" >/dev/null 2>&1 || break; sleep 0.1; done
bpftool prog show id "${tc_id:-0}" >/dev/null 2>&1 &&
	t_fail "the TC program is gone (id $tc_id)" "$(bpftool prog show id "$tc_id")" ||
	t_ok "the TC program is gone (id $tc_id)"
t_eq "no TCX program left on the interface" 0 "$(tcx_progs "$DUT_IF")"
[ -e "$PIN/link_tc_$DUT_IF" ] && t_fail "the TCX link pin is removed" ||
	t_ok "the TCX link pin is removed"
[ -e "$PIN" ] && t_fail "pins removed with the last interface" "$(ls "$PIN")" ||
	t_ok "pins removed with the last interface"

# ---- unload under a running castled -----------------------------------------
e2e_castled || { t_fail "castled starts again"; t_done; }
t_cmd "castlectl unload while castled runs" ctl unload "$DUT_IF"
for i in $(seq 50); do kill -0 "$CASTLED_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CASTLED_PID" 2>/dev/null && t_fail "castled exits when its last interface is unloaded" ||
	t_ok "castled exits when its last interface is unloaded"
wait "$CASTLED_PID"; t_eq "... with status 0" 0 $?
CASTLED_PID=
castled_log_has "no interface left to manage: exiting" && t_ok "... and says why" ||
	t_fail "... and says why" "$(tail -3 "$TMP/castled.log")"
has_xdp && t_fail "... leaving nothing attached" || t_ok "... leaving nothing attached"
t_done
