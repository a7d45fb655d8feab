#!/usr/bin/env bash
# test_castled_exclusive.sh - one castled per pin directory and no signal to
# a stranger:
#  - two castleds started at the same instant on the same pins: exactly one
#    keeps running (flock on the pin directory, taken before anything is
#    committed), the other names the pin directory;
#  - the lock dies with its holder: after a kill -9 a new castled starts;
#  - a stale daemon_pid in PIN/state that now belongs to another process
#    (pid reuse after a kill -9): castlectl reload refuses and does not
#    signal it, castlectl status says castled is not running;
#  - an attach that fails half way (TC after XDP) leaves nothing behind on
#    that interface: its XDP program is detached and its counter slot freed,
#    and PIN/prog_xdp names the running program again, even when castled
#    adopted existing pins.
. "$(dirname "$0")/lib.sh"

EX_IF=ex$ID	# second interface in the dut namespace (veth to EY_IF)
EY_IF=ey$ID
SLEEP_PID=

has_xdp() { in_dut ip link show "$1" | grep -q 'xdp'; }
state_pid() { ctl -j status 2>/dev/null | jq -r '.daemon.pid // 0'; }

# set_state_pid PID: overwrite daemon_pid (bytes 4..7 of struct castle_state).
set_state_pid() {
	local val
	val=$(bpftool -j map lookup pinned "$PIN/state" key 0 0 0 0 | $PY -c '
import json, struct, sys
v = [int(b, 16) for b in json.load(sys.stdin)["value"]]
v[4:8] = list(struct.pack("<I", int(sys.argv[1])))
print(" ".join(str(b) for b in v))' "$1") || return 1
	bpftool map update pinned "$PIN/state" key 0 0 0 0 value $val
}

# u32_at MAP OFFSET KEY-BYTES...: the little-endian u32 at OFFSET of the
# value under KEY in the pinned MAP. Fails, printing nothing, when the lookup
# or the value does (no such map or entry, a value too short).
u32_at() {
	local map=$1 off=$2 out
	shift 2
	out=$(bpftool -j map lookup pinned "$PIN/$map" key "$@") || return 1
	$PY -c '
import json, struct, sys
v = bytes(int(b, 16) for b in json.loads(sys.argv[2])["value"])
o = int(sys.argv[1])
if len(v) < o + 4:
    sys.exit("value of %d bytes has no u32 at %d" % (len(v), o))
print(struct.unpack("<I", v[o:o + 4])[0])' "$off" "$out"
}

# slot_of IFACE: its counter slot in PIN/ifslot (an array indexed by ifindex:
# 0 is "none"). Fails when the interface or the lookup does.
slot_of() {
	local ifx
	ifx=$(in_dut ip -j link show "$1" | jq -er '.[0].ifindex') || return 1
	u32_at ifslot 0 $($PY -c '
import struct, sys
print(" ".join(str(b) for b in struct.pack("<I", int(sys.argv[1]))))' "$ifx")
}

cleanup_extra() { [ -n "$SLEEP_PID" ] && kill "$SLEEP_PID" 2>/dev/null; e2e_cleanup; }
trap cleanup_extra EXIT

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
mkdir -p "$STATE"

# ---- two castleds at the same instant ---------------------------------------
start_bg() {
	nsenter --net=/var/run/netns/$NS_DUT -- "$CASTLED" -i "$DUT_IF" -p "$POLICY" \
		--pin-dir "$PIN" --state-dir "$STATE" --metrics "127.0.0.1:$1" --foreground \
		>>"$TMP/castled$2.log" 2>&1 &
}
start_bg "$METRICS_PORT" a; PA=$!
start_bg "$((METRICS_PORT + 1))" b; PB=$!
# One read per turn: two reads could see "" (not pinned yet) then 0 (pinned,
# pid not written yet) and stop the wait before the winner recorded itself.
for i in $(seq 100); do
	p=$(state_pid)
	[ -n "$p" ] && [ "$p" != 0 ] && break
	sleep 0.1
done
sleep 1
alive=0; winner=; loser=; loser_log=
kill -0 "$PA" 2>/dev/null && { alive=$((alive + 1)); winner=$PA; loser=$PB; loser_log=$TMP/castledb.log; }
kill -0 "$PB" 2>/dev/null && { alive=$((alive + 1)); winner=$PB; loser=$PA; loser_log=$TMP/castleda.log; }
t_eq "two castleds started together on the same pins: exactly one keeps running" 1 "$alive"
if [ "$alive" = 1 ]; then
	CASTLED_PID=$winner
	wait "$loser"; t_eq "... the other exits 1" 1 $?
	if grep -q "another castled.* holds $PIN" "$loser_log"; then t_ok "... naming the pin directory"
	else t_fail "... naming the pin directory" "$(cat "$loser_log")"; fi
	t_eq "... and the winner is the one recorded in PIN/state" "$winner" "$(state_pid)"
else
	cat "$TMP"/castled?.log | sed 's/^/# /'
	kill -9 "$PA" "$PB" 2>/dev/null
	t_done
fi
out=$(in_dut "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$STATE" \
	--metrics 127.0.0.1:1 --foreground 2>&1); rc=$?
t_eq "a third castled later is refused too (exit 1)" 1 $rc
case $out in *"another castled (pid $winner) holds $PIN"*) t_ok "... naming the holder's pid" ;;
*) t_fail "... naming the holder's pid" "$out" ;; esac
t_cmd "castlectl works while castled holds the lock" ctl status

# ---- kill -9, pid reused by a stranger ---------------------------------------
kill -9 "$CASTLED_PID"; wait "$CASTLED_PID" 2>/dev/null; CASTLED_PID=
t_eq "after kill -9 the dead pid stays recorded" "$winner" \
	"$(u32_at state 4 0 0 0 0)"
sleep 30 &
SLEEP_PID=$!
set_state_pid "$SLEEP_PID" && t_ok "PIN/state now names a live process that is not castled ($SLEEP_PID)" ||
	t_fail "PIN/state now names a live process that is not castled"
out=$(ctl reload --timeout 2s 2>&1); rc=$?
t_eq "castlectl reload refuses (exit 1)" 1 $rc
case $out in *"castled is not running"*) t_ok "... saying castled is not running" ;;
*) t_fail "... saying castled is not running" "$out" ;; esac
sleep 0.3
kill -0 "$SLEEP_PID" 2>/dev/null && t_ok "... and did not signal the stranger" ||
	t_fail "... and did not signal the stranger" "sleep $SLEEP_PID is gone"
case $(ctl status 2>&1) in *"daemon:     not running"*) t_ok "castlectl status: not running" ;;
*) t_fail "castlectl status: not running" "$(ctl status 2>&1)" ;; esac
t_eq "castlectl -j status: running false" false "$(ctl -j status | jq -r .daemon.running)"

e2e_castled || { t_fail "castled starts after a kill -9 (the lock died with it)"; t_done; }
t_ok "castled starts after a kill -9 (the lock died with it)"
kill -0 "$SLEEP_PID" 2>/dev/null && t_ok "... and leaves the stranger alone" ||
	t_fail "... and leaves the stranger alone"
t_eq "... and records its own pid" "$CASTLED_PID" "$(state_pid)"
# Positive control of slot_of, used below to prove a slot was freed.
slot=$(slot_of "$DUT_IF") && [ "$slot" -gt 0 ] && t_ok "$DUT_IF has a counter slot while attached ($slot)" ||
	t_fail "$DUT_IF has a counter slot while attached" "slot_of: '$slot'"
kill "$SLEEP_PID" 2>/dev/null; SLEEP_PID=

# ---- attach fails half way (TC after XDP), adopted pins ----------------------
e2e_stop_castled
in_dut ip link add "$EX_IF" type veth peer name "$EY_IF"
in_dut ip link set "$EY_IF" up; in_dut ip link set "$EX_IF" up
# A directory where castle pins EX_IF's TC link: XDP attaches, then pinning
# the TCX link fails with EEXIST.
mkdir "$PIN/link_tc_$EX_IF"
out=$(in_dut "$CASTLED" -i "$DUT_IF" -i "$EX_IF" -p "$POLICY" --pin-dir "$PIN" \
	--state-dir "$STATE" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "castled with an interface whose TC attach fails exits 1" 1 $rc
case $out in *"pin TCX link"*"$EX_IF"*) t_ok "... saying why" ;;
*) t_fail "... saying why" "$out" ;; esac
has_xdp "$EX_IF" && t_fail "no orphan XDP program left on $EX_IF" "$(in_dut ip link show "$EX_IF")" ||
	t_ok "no orphan XDP program left on $EX_IF"
slot=$(slot_of "$EX_IF") && t_eq "no counter slot left assigned to $EX_IF" 0 "$slot" ||
	t_fail "no counter slot left assigned to $EX_IF" "slot_of $EX_IF failed"
slot=$(slot_of "$DUT_IF") && [ "$slot" -gt 0 ] && t_ok "... while $DUT_IF keeps its slot ($slot)" ||
	t_fail "... while $DUT_IF keeps its slot" "slot_of: '$slot'"
has_xdp "$DUT_IF" && t_ok "the adopted gate on $DUT_IF keeps enforcing" ||
	t_fail "the adopted gate on $DUT_IF keeps enforcing"
# EX_IF's program was pinned as PIN/prog_xdp, then taken off again: the pin
# goes back to the program that still runs.
t_eq "PIN/prog_xdp names the program running on $DUT_IF, not the one taken off $EX_IF" \
	"$(in_dut ip -j link show "$DUT_IF" | jq -r '.[0].xdp.prog.id // 0')" \
	"$(bpftool -j prog show pinned "$PIN/prog_xdp" 2>/dev/null | jq -r '.id // 0')"
rmdir "$PIN/link_tc_$EX_IF"
t_done
