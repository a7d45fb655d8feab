#!/usr/bin/env bash
# test_faults_caps.sh - castled with the capability set of dist/castled.service
# instead of full root (uid 0 with a bounding set, as systemd runs it): it
# starts, attaches, enforces, serves metrics and adopts after a restart. The
# minimal set found is CAP_NET_ADMIN + CAP_SYS_ADMIN (CAP_SYS_ADMIN also
# grants what CAP_BPF and CAP_PERFMON do). Without CAP_SYS_ADMIN, without
# CAP_BPF (and CAP_SYS_ADMIN), or without CAP_NET_ADMIN castled exits 1 with a
# message naming the capabilities, and leaves nothing attached (CAP_SYS_ADMIN
# is checked before the attach). castlectl's adds and deletes work with
# CAP_BPF alone, as uid 0 even without capabilities, since the pins' file
# modes are the access control; its lists need CAP_SYS_ADMIN too and say so.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5
E2E_SRC_ALIASES="$BAD"
SERVICE_CAPS=+bpf,+perfmon,+net_admin,+sys_admin,+sys_resource

blocklist() { metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"'; }
has_xdp() { in_dut ip link show "$DUT_IF" | grep -q 'prog/xdp'; }
# capped CAPS [args]: castled in the dut netns with bounding set CAPS only.
capped() {
	local caps=$1; shift
	nsenter --net=/var/run/netns/$NS_DUT -- setpriv --inh-caps=-all --bounding-set=-all,"$caps" -- \
		"$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$STATE" \
		--metrics "$METRICS" --foreground "$@"
}
start_capped() { # start_capped CAPS: in the background, wait for healthz
	: > "$TMP/castled.log"
	# Not through capped: a function in the background is a subshell, and $!
	# would not be castled. nsenter and setpriv exec, so $! is castled.
	nsenter --net=/var/run/netns/$NS_DUT -- setpriv --inh-caps=-all --bounding-set=-all,"$1" -- \
		"$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$STATE" \
		--metrics "$METRICS" --foreground >>"$TMP/castled.log" 2>&1 &
	CASTLED_PID=$!
	local i
	for i in $(seq 100); do
		in_dut curl -sf "http://$METRICS/healthz" >/dev/null 2>&1 && return 0
		kill -0 "$CASTLED_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
fresh() { ctl unload "$DUT_IF" >/dev/null 2>&1; rm -rf "$PIN"; }
# refused NAME CAPS WANT: castled with CAPS exits 1 saying WANT, nothing attached.
refused() {
	local out rc
	fresh
	out=$(capped "$2" 2>&1); rc=$?
	t_eq "$1: exit 1" 1 "$rc"
	case $out in
	*"$3"*"CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN"*) t_ok "$1: the message names the capabilities" ;;
	*) t_fail "$1: the message names the capabilities" "$(echo "$out" | grep -v 'libbpf: *$' | tail -3)" ;;
	esac
	has_xdp && t_fail "$1: nothing left attached" || t_ok "$1: nothing left attached"
}

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
tls:
  ports: [443]
YAML
mkdir -p "$STATE"

for caps in $SERVICE_CAPS +net_admin,+sys_admin; do
	fresh
	start_capped $caps && t_ok "[$caps] castled starts" ||
		{ t_fail "[$caps] castled starts" "$(tail -3 "$TMP/castled.log")"; continue; }
	has_xdp && t_ok "[$caps] XDP attached" || t_fail "[$caps] XDP attached"
	t_eq "[$caps] TC attached (tcx)" tcx "$(ctl -j status | jq -r '.interfaces[0].tc_mode')"
	send_udp $BAD $DUT4 9999 3
	wait_metric castle_packets_total 'reason="blocklist"' 3
	t_eq "[$caps] enforces, and metrics answer" 3 "$(blocklist)"
	t_cmd "[$caps] reload" castled_reload
	kill -9 "$CASTLED_PID"; wait "$CASTLED_PID" 2>/dev/null
	start_capped $caps && t_ok "[$caps] restart with the same set" ||
		t_fail "[$caps] restart with the same set" "$(tail -3 "$TMP/castled.log")"
	castled_log_has "adopted the maps pinned in $PIN" && castled_log_has "XDP adopted" &&
		t_ok "[$caps] restart adopts maps and program" || t_fail "[$caps] restart adopts maps and program"
	t_eq "[$caps] counters continued" 3 "$(blocklist)"
	e2e_stop_castled
done

# castlectl with CAP_BPF only: adds and deletes work on the pins; the lists
# need CAP_SYS_ADMIN too (the policy's maps are opened by id), and without
# it they fail saying so, rather than list the manual entries alone.
in_ctl_caps() { local caps=$1; shift; setpriv --inh-caps=-all --bounding-set=-all,"$caps" -- "$CASTLECTL" --pin-dir "$PIN" "$@"; }
t_cmd "castlectl with CAP_BPF only: block add" in_ctl_caps +bpf block add 198.18.77.7
out=$(in_ctl_caps +bpf block list 2>&1); rc=$?
t_eq "castlectl with CAP_BPF only: block list fails, naming CAP_SYS_ADMIN" \
	"1 castlectl: read the blocklist: Operation not permitted (the policy's maps are opened by id, which needs CAP_SYS_ADMIN)" \
	"$rc $out"
t_cmd "castlectl with CAP_BPF and CAP_SYS_ADMIN: block list shows the manual and the policy entry" \
	sh -c "$(declare -f in_ctl_caps); CASTLECTL=$CASTLECTL PIN=$PIN in_ctl_caps +bpf,+sys_admin block list |
		grep -q 198.18.77.7 && CASTLECTL=$CASTLECTL PIN=$PIN in_ctl_caps +bpf,+sys_admin block list | grep -q 198.18.66.0/24"
out=$(in_ctl_caps +bpf block del 198.18.66.0/24 2>&1); rc=$?
t_eq "castlectl with CAP_BPF only: del of a policy entry says what it cannot read" \
	"1 castlectl: 198.18.66.0/24 is not a manual entry (whether the policy has it cannot be read: the policy's maps are opened by id, which needs CAP_SYS_ADMIN)" \
	"$rc $out"
t_cmd "castlectl with CAP_BPF only: block del" in_ctl_caps +bpf block del 198.18.77.7
# uid 0 without any capability: the pins are root's 0600 files, and a map
# fd needs no capability, so castlectl still writes (a non-root user gets
# the permission message: test_castlectl_lists.sh).
t_cmd "castlectl as uid 0 without capabilities: block add (pin file permissions decide)" \
	setpriv --inh-caps=-all --bounding-set=-all -- "$CASTLECTL" --pin-dir "$PIN" block add 198.18.77.8
t_cmd "castlectl as uid 0 without capabilities: block del" \
	setpriv --inh-caps=-all --bounding-set=-all -- "$CASTLECTL" --pin-dir "$PIN" block del 198.18.77.8

refused "without CAP_SYS_ADMIN" +bpf,+perfmon,+net_admin,+sys_resource "cannot look programs up by id"
refused "without CAP_BPF and CAP_SYS_ADMIN" +perfmon,+net_admin,+sys_resource "load castle_xdp"
refused "without CAP_NET_ADMIN" +bpf,+perfmon,+sys_admin,+sys_resource "attach XDP to $DUT_IF: Operation not permitted"
t_done
