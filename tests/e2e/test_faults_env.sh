#!/usr/bin/env bash
# test_faults_env.sh - faults of castled's environment, each with a defined
# outcome (docs/SECURITY.md, "Fault injection"):
#   - bpffs not mounted: castled and castlectl exit 1 and print the mount
#     command (run in a private mount namespace: /sys/fs/bpf stays mounted for
#     everybody else);
#   - bpffs unmounted under a running castled: it keeps its fds, so it keeps
#     enforcing, reloading and serving metrics;
#   - state dir is a file: castled refuses to start, before the kernel is
#     touched, and leaves the file alone;
#   - state dir others may write in: castled refuses to start, before the
#     kernel is touched, and leaves its mode alone;
#   - state dir 0500: castled puts it back to 0700 and saves;
#   - state dir read-only while castled runs: the failure is logged once,
#     enforcement and manual entries go on, saving resumes when it is writable.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5		# blocked by the policy
MAN=198.18.2.2		# blocked by a manual entry added while the state dir is read-only
E2E_SRC_ALIASES="$BAD $MAN"

blocklist() { metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"'; }

# wait_healthy PID: /healthz answers within 10 s and PID lives.
wait_healthy() {
	local i
	for i in $(seq 100); do
		in_dut curl -sf "http://$METRICS/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
mkdir -p "$STATE"

# ---- bpffs not mounted --------------------------------------------------------
# unshare -m makes a private copy of the mounts (propagation private): the
# umount is seen by this one command only.
out=$(unshare -m sh -c 'umount /sys/fs/bpf && exec "$@"' sh \
	nsenter --net=/var/run/netns/$NS_DUT -- "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" \
	--state-dir "$STATE" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "bpffs not mounted: castled exits 1" 1 "$rc"
case $out in
*"bpffs not mounted at /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf"*) t_ok "bpffs not mounted: castled prints the mount command" ;;
*) t_fail "bpffs not mounted: castled prints the mount command" "$out" ;;
esac
[ -e "$PIN" ] && t_fail "bpffs not mounted: nothing pinned" "$(ls "$PIN")" || t_ok "bpffs not mounted: nothing pinned"
in_dut ip link show "$DUT_IF" | grep -q xdp && t_fail "bpffs not mounted: nothing attached" ||
	t_ok "bpffs not mounted: nothing attached"
for verb in status "block add 198.18.5.5"; do
	out=$(unshare -m sh -c 'umount /sys/fs/bpf && exec "$@"' sh "$CASTLECTL" --pin-dir "$PIN" $verb 2>&1); rc=$?
	t_eq "bpffs not mounted: castlectl $verb exits 1" 1 "$rc"
	case $out in
	*"bpffs not mounted at /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf"*) t_ok "bpffs not mounted: castlectl $verb prints the mount command" ;;
	*) t_fail "bpffs not mounted: castlectl $verb prints the mount command" "$out" ;;
	esac
done

# ---- state dir is a file --------------------------------------------------------
echo "not a directory" > "$TMP/statefile"; chmod 0644 "$TMP/statefile"
out=$(in_dut timeout 20 "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$TMP/statefile" \
	--metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "state dir is a file: castled exits 1" 1 "$rc"
case $out in
*"state directory $TMP/statefile exists and is not a directory"*) t_ok "state dir is a file: the error says so" ;;
*) t_fail "state dir is a file: the error says so" "$out" ;;
esac
[ -e "$PIN" ] && t_fail "state dir is a file: fails before touching the kernel" "$(ls "$PIN")" ||
	t_ok "state dir is a file: fails before touching the kernel"
t_eq "state dir is a file: the file is left as it was" "644 not a directory" \
	"$(stat -c %a "$TMP/statefile") $(cat "$TMP/statefile")"

# ---- state dir others may write in (a /tmp) -----------------------------------------
mkdir -m 1777 "$TMP/sharedtmp"
out=$(in_dut timeout 20 "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$TMP/sharedtmp" \
	--metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "state dir writable by others: castled exits 1" 1 "$rc"
case $out in
*"state directory $TMP/sharedtmp is writable by others (mode 1777): they could change the manual entries castle restores"*)
	t_ok "state dir writable by others: the error says why" ;;
*) t_fail "state dir writable by others: the error says why" "$out" ;;
esac
[ -e "$PIN" ] && t_fail "state dir writable by others: fails before touching the kernel" "$(ls "$PIN")" ||
	t_ok "state dir writable by others: fails before touching the kernel"
t_eq "state dir writable by others: its mode is left alone" 1777 "$(stat -c %a "$TMP/sharedtmp")"

# ---- state dir 0500 ---------------------------------------------------------------
chmod 0500 "$STATE"
# castled in a private mount namespace with the state dir bind-mounted onto
# itself, so that it can be made read-only for castled alone later (the
# mount disappears with castled). unshare and sh exec, so $! is castled.
unshare -m --propagation private sh -c 'mount --bind "$1" "$1" && shift && exec "$@"' sh "$STATE" \
	nsenter --net=/var/run/netns/$NS_DUT -- "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" \
	--state-dir "$STATE" --metrics "$METRICS" --foreground >>"$TMP/castled.log" 2>&1 &
CASTLED_PID=$!
wait_healthy $CASTLED_PID || { t_fail "castled starts (private mount namespace)" "$(cat "$TMP/castled.log")"; t_done; }
t_eq "state dir 0500: castled makes it 0700 again" 700 "$(stat -c %a "$STATE")"
sleep 1.5
t_cmd "state dir 0500: castled saved the state file" test -f "$STATE/manual.state"

# ---- state dir read-only while castled runs ----------------------------------------
t_cmd "state dir made read-only for castled" nsenter -t $CASTLED_PID -m mount -o remount,bind,ro "$STATE"
t_cmd "castlectl block add while castled cannot save" ctl block add $MAN --comment readonly
sleep 3.5 # three ticks: three failed saves
n=$(grep -c "persist manual entries: .*Read-only file system" "$TMP/castled.log")
t_eq "read-only state dir: the save failure is logged once, not every second" 1 "$n"
castled_log_has "the gate keeps enforcing" && t_ok "read-only state dir: the log says enforcement goes on" ||
	t_fail "read-only state dir: the log says enforcement goes on" "$(tail -3 "$TMP/castled.log")"
kill -0 $CASTLED_PID 2>/dev/null && t_ok "read-only state dir: castled still runs" ||
	t_fail "read-only state dir: castled still runs"
t_cmd "read-only state dir: metrics still answer" in_dut curl -sf "http://$METRICS/metrics"
before=$(blocklist)
send_udp $MAN $DUT4 9999 4
send_udp $BAD $DUT4 9999 4
wait_metric castle_packets_total 'reason="blocklist"' $((before + 8))
t_eq "read-only state dir: manual and policy blocks enforced" $((before + 8)) "$(blocklist)"
grep -q "^block $MAN " "$STATE/manual.state" && t_fail "read-only state dir: nothing written" ||
	t_ok "read-only state dir: nothing written"
t_cmd "state dir writable again" nsenter -t $CASTLED_PID -m mount -o remount,bind,rw "$STATE"
for i in $(seq 30); do grep -q "^block $MAN 0 readonly" "$STATE/manual.state" && break; sleep 0.1; done
grep -q "^block $MAN 0 readonly" "$STATE/manual.state" && t_ok "writable again: the manual entry is saved" ||
	t_fail "writable again: the manual entry is saved" "$(cat "$STATE/manual.state")"
castled_log_has "persist manual entries: saved again to $STATE/manual.state" &&
	t_ok "writable again: the recovery is logged" || t_fail "writable again: the recovery is logged"

# ---- bpffs unmounted under a running castled ----------------------------------------
# lazy: castled holds the pin directory open (its one-daemon lock), so a
# plain umount is "busy"; -l detaches the mount from castled's view all the same
t_cmd "bpffs unmounted in castled's mount namespace" nsenter -t $CASTLED_PID -m umount -l /sys/fs/bpf
nsenter -t $CASTLED_PID -m sh -c 'mount | grep -q " /sys/fs/bpf "' && t_fail "... really gone for castled" ||
	t_ok "... really gone for castled"
t_cmd "bpffs gone: castled reloads the policy" castled_reload
t_eq "bpffs gone: the reload succeeded" 2 "$(metric castle_policy_reloads_total 'result="success"')"
before=$(blocklist)
send_udp $BAD $DUT4 9999 3
wait_metric castle_packets_total 'reason="blocklist"' $((before + 3))
t_eq "bpffs gone: enforcement and counters go on" $((before + 3)) "$(blocklist)"
t_cmd "bpffs gone: castlectl (other mount namespace) still works" ctl block del $MAN
kill -0 $CASTLED_PID 2>/dev/null && t_ok "bpffs gone: castled still runs" || t_fail "bpffs gone: castled still runs"
e2e_stop_castled
t_done
