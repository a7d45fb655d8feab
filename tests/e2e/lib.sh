#!/usr/bin/env bash
# lib.sh - shared by the end-to-end tests: TAP output, a two-host topology in
# network namespaces (src -- veth -- dut) with addresses from 198.18.0.0/15 and
# 2001:db8::/32, castled started inside the dut namespace, and a cleanup trap
# that tears everything down even when a test fails.
#
# Usage in a test:
#   . "$(dirname "$0")/lib.sh"
#   e2e_topology            # namespaces, veth, addresses
#   e2e_policy <<'YAML' ... YAML   # writes $POLICY
#   e2e_castled             # castled -i $DUT_IF -p $POLICY in the dut netns
#   t_ok "name" / t_fail "name" "why" / t_eq "name" want got / t_cmd "name" cmd...
#   t_done                  # prints the plan and exits non-zero on failure
#
# E2E_KEEP=DIR keeps a copy of the test's scratch directory (castled's logs,
# the policy, the state dir) in DIR when it ends.

set -u
E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$E2E_ROOT/build}
CASTLED=${CASTLED:-$BUILD/castled}
CASTLECTL=${CASTLECTL:-$BUILD/castlectl}
PY=/usr/bin/python3

ID=${ID:-$$}
NS_SRC=castle-src-$ID
NS_DUT=castle-dut-$ID
SRC_IF=cs$ID		# veth end in the src namespace
DUT_IF=cd$ID		# veth end in the dut namespace (castle attaches here)
PIN=/sys/fs/bpf/castle-e2e-$ID
TMP=$(mktemp -d /tmp/castle-e2e.XXXXXX)
STATE=$TMP/state
POLICY=$TMP/policy.yaml
METRICS_PORT=${METRICS_PORT:-$((20000 + ID % 20000))}
METRICS=127.0.0.1:$METRICS_PORT
SRC4=198.18.0.1 DUT4=198.18.0.2 SRC6=2001:db8::1 DUT6=2001:db8::2
CASTLED_PID=
T_N=0 T_FAIL=0

t_ok() { T_N=$((T_N + 1)); echo "ok $T_N - $1"; }
t_fail() { T_N=$((T_N + 1)); T_FAIL=$((T_FAIL + 1)); echo "not ok $T_N - $1"; [ $# -gt 1 ] && echo "#   $2"; return 0; }
t_eq() { if [ "$2" == "$3" ]; then t_ok "$1"; else t_fail "$1" "expected '$2', got '$3'"; fi; }
t_cmd() { local n=$1; shift; local out; if out=$("$@" 2>&1); then t_ok "$n"; else t_fail "$n" "$* failed: $(echo "$out" | tail -3)"; fi; }
t_nocmd() { local n=$1; shift; if "$@" >/dev/null 2>&1; then t_fail "$n" "$* unexpectedly succeeded"; else t_ok "$n"; fi; }
t_skip() { T_N=$((T_N + 1)); echo "ok $T_N - $1 # SKIP $2"; }
t_done() { echo "1..$T_N"; [ "$T_FAIL" -eq 0 ]; exit $?; }

in_src() { nsenter --net=/var/run/netns/$NS_SRC -- "$@"; }
in_dut() { nsenter --net=/var/run/netns/$NS_DUT -- "$@"; }
ctl() { in_dut "$CASTLECTL" --pin-dir "$PIN" "$@"; }

# ctl_list KIND: `castlectl -j KIND list` (KIND block or allow), checked: fails,
# saying why on stderr, unless castlectl exits 0 with {"list": KIND,
# "entries": [...]}, so that "nothing listed" never reads a failed castlectl.
ctl_list() {
	local out
	out=$(ctl -j "$1" list) || { echo "# castlectl -j $1 list failed" >&2; return 1; }
	jq -e --arg k "$1" '.list == $k and (.entries | type == "array")' <<<"$out" >/dev/null ||
		{ echo "# castlectl -j $1 list: not a list: $(head -c 200 <<<"$out")" >&2; return 1; }
	printf '%s\n' "$out"
}

e2e_cleanup() {
	[ -n "$CASTLED_PID" ] && { kill -9 "$CASTLED_PID"; wait "$CASTLED_PID"; } 2>/dev/null
	ip netns pids "$NS_DUT" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns pids "$NS_SRC" 2>/dev/null | xargs -r kill -9 2>/dev/null
	ip netns del "$NS_SRC" 2>/dev/null
	ip netns del "$NS_DUT" 2>/dev/null
	rm -rf "$PIN" 2>/dev/null
	[ -n "${E2E_KEEP:-}" ] && cp -r "$TMP" "$E2E_KEEP" 2>/dev/null; rm -rf "$TMP"
}
trap e2e_cleanup EXIT
trap 'exit 130' INT TERM

mount | grep -q ' /sys/fs/bpf ' || mount -t bpf bpf /sys/fs/bpf

# e2e_topology: src and dut namespaces joined by a veth pair. The src side
# gets extra addresses (E2E_SRC_ALIASES) to send from.
e2e_topology() {
	ip netns add "$NS_SRC" && ip netns add "$NS_DUT" || return 1
	ip link add "$SRC_IF" netns "$NS_SRC" type veth peer name "$DUT_IF" netns "$NS_DUT" || return 1
	in_src ip link set lo up; in_dut ip link set lo up
	in_src ip addr add $SRC4/15 dev "$SRC_IF"
	in_dut ip addr add $DUT4/15 dev "$DUT_IF"
	in_src ip -6 addr add $SRC6/32 dev "$SRC_IF" nodad
	in_dut ip -6 addr add $DUT6/32 dev "$DUT_IF" nodad
	local a
	for a in ${E2E_SRC_ALIASES:-}; do
		case $a in
		*:*) in_src ip -6 addr add "$a"/32 dev "$SRC_IF" nodad ;;
		*) in_src ip addr add "$a"/15 dev "$SRC_IF" ;;
		esac
	done
	in_src ip link set "$SRC_IF" up; in_dut ip link set "$DUT_IF" up
	# veth native XDP delivers to the peer only if the peer has an XDP
	# program too; the src side sends through the normal stack, no need.
	sleep 0.2
}

e2e_policy() { cat > "$POLICY"; chmod 0644 "$POLICY"; }

# e2e_castled [extra args]: start castled in the dut namespace and wait until
# /healthz answers (at most CASTLED_START_S seconds, default 10). With
# E2E_CASTLED_MNT_NS=PID, in the mount namespace of PID as well.
e2e_castled() {
	mkdir -p "$STATE"
	# nsenter directly, not through in_dut: a function in the background
	# runs in a subshell, and $! would be that shell, not castled (signals
	# would miss it). nsenter execs castled, so $! is castled itself.
	nsenter ${E2E_CASTLED_MNT_NS:+-t "$E2E_CASTLED_MNT_NS" -m} \
		--net=/var/run/netns/$NS_DUT -- "$CASTLED" -i "$DUT_IF" -p "$POLICY" \
		--pin-dir "$PIN" --state-dir "$STATE" --metrics "$METRICS" --foreground "$@" \
		>>"$TMP/castled.log" 2>&1 &
	CASTLED_PID=$!
	local i
	for i in $(seq "$(awk -v s="${CASTLED_START_S:-10}" 'BEGIN { print int(s * 10) }')"); do
		if in_dut curl -sf "http://$METRICS/healthz" >/dev/null 2>&1; then return 0; fi
		kill -0 "$CASTLED_PID" 2>/dev/null || { cat "$TMP/castled.log"; return 1; }
		sleep 0.1
	done
	cat "$TMP/castled.log"
	return 1
}

e2e_stop_castled() {
	[ -n "$CASTLED_PID" ] || return 0
	kill -TERM "$CASTLED_PID" 2>/dev/null
	wait "$CASTLED_PID" 2>/dev/null
	CASTLED_PID=
}

# metric NAME LABEL-SUBSTRING: the value of the first sample matching both.
metric() {
	in_dut curl -sf "http://$METRICS/metrics" | grep -E "^$1[{ ]" | grep -F -- "${2:-}" | head -1 | awk '{print $NF}'
}

# stage_count STAGE VERDICT REASON: castle_packets_total of STAGE (xdp or tc)
# on the dut interface (0 while the sample is not there yet); xdp_count and
# tc_count VERDICT REASON for each stage.
stage_count() {
	local v
	v=$(in_dut curl -sf "http://$METRICS/metrics" | grep -E '^castle_packets_total\{' |
		grep -F "interface=\"$DUT_IF\"" | grep -F "stage=\"$1\"" |
		grep -F "verdict=\"$2\"" | grep -F "reason=\"$3\"" | awk '{print $NF}' | head -1)
	echo "${v:-0}"
}
xdp_count() { stage_count xdp "$@"; }
tc_count() { stage_count tc "$@"; }

# send_udp SRC DST DPORT COUNT [PAYLOAD]: COUNT datagrams from the src netns
# (scapy, so the source address can be any of the aliases).
send_udp() {
	in_src $PY - "$@" <<'PY'
import sys
from scapy.all import IP, IPv6, UDP, Raw, send, conf
conf.verb = 0
src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
payload = sys.argv[5].encode() if len(sys.argv) > 5 else b"castle"
l3 = IPv6(src=src, dst=dst) if ":" in dst else IP(src=src, dst=dst)
send(l3 / UDP(sport=40000, dport=dport) / Raw(payload), count=count, inter=0)
PY
}

# tcx_progs IFACE: how many programs are attached to IFACE (dut namespace)
# with TCX, ingress and egress (BPF_PROG_QUERY: `bpftool net` and `tc filter`
# of older versions do not show TCX). Fails, printing nothing, when the query
# does (no such interface, a kernel without TCX).
tcx_progs() {
	in_dut $PY - "$1" <<'PY'
import ctypes, os, platform, socket, struct, sys
nr = {"x86_64": 321, "aarch64": 280}[platform.machine()]
libc = ctypes.CDLL(None, use_errno=True)
ifindex = socket.if_nametoindex(sys.argv[1])
n = 0
for attach_type in (46, 47):		# BPF_TCX_INGRESS, BPF_TCX_EGRESS
    # union bpf_attr, query: target_ifindex, attach_type, ..., prog_cnt at 24
    attr = ctypes.create_string_buffer(struct.pack("<II", ifindex, attach_type), 128)
    if libc.syscall(nr, 16, attr, 128) != 0:	# BPF_PROG_QUERY
        sys.exit("BPF_PROG_QUERY: " + os.strerror(ctypes.get_errno()))
    n += struct.unpack_from("<I", attr.raw, 24)[0]
print(n)
PY
}

# ping_ok SRC DST: one ping from SRC succeeds within 1 s.
ping_ok() { in_src ping -c1 -W1 -I "$1" "$2" >/dev/null 2>&1; }

# ---- castled helpers (test_castled_*.sh) --------------------------------------

# wait_metric NAME LABEL-SUBSTRING WANT [TENTHS]: poll /metrics until the
# sample equals WANT (default 10 s). Prints the last value seen on failure.
wait_metric() {
	local i v=
	for i in $(seq "${4:-100}"); do
		v=$(metric "$1" "$2")
		[ "$v" = "$3" ] && return 0
		sleep 0.1
	done
	echo "# $1{$2}: waited for $3, last seen '$v'" >&2
	return 1
}

# wait_metric_ge NAME LABEL-SUBSTRING MIN [TENTHS]: poll /metrics until the
# sample is at least MIN (default 10 s), for counters other traffic (IPv6
# neighbour discovery) may move too. Prints the last value seen on failure.
wait_metric_ge() {
	local i v=
	for i in $(seq "${4:-100}"); do
		v=$(metric "$1" "$2")
		[ -n "$v" ] && [ "$v" -ge "$3" ] 2>/dev/null && return 0
		sleep 0.1
	done
	echo "# $1{$2}: waited for >= $3, last seen '$v'" >&2
	return 1
}

# castled_log_has FIXED-STRING: the castled log of this test contains it.
castled_log_has() { grep -qF -- "$1" "$TMP/castled.log"; }
# castled_log_mark, then castled_log_new_has TEXT: TEXT logged since the mark
# (the log of every castled a test starts is appended to one file).
castled_log_mark() { CASTLED_LOG_MARK=$(wc -l <"$TMP/castled.log" 2>/dev/null || echo 0); }
castled_log_new_has() { tail -n +$((${CASTLED_LOG_MARK:-0} + 1)) "$TMP/castled.log" | grep -qF -- "$1"; }

# castled_reload: SIGHUP and wait until castled has finished with it (either
# reloads counter moved).
castled_reload() {
	local ok fail i
	ok=$(metric castle_policy_reloads_total 'result="success"')
	fail=$(metric castle_policy_reloads_total 'result="failure"')
	kill -HUP "$CASTLED_PID" || return 1
	for i in $(seq 100); do
		[ "$(metric castle_policy_reloads_total 'result="success"')" != "$ok" ] && return 0
		[ "$(metric castle_policy_reloads_total 'result="failure"')" != "$fail" ] && return 0
		sleep 0.1
	done
	return 1
}

# send_udp_paced SRC DST DPORT COUNT INTERVAL: like send_udp, spread over
# time (INTERVAL seconds between datagrams), for traffic that must still be
# flowing while something else happens.
send_udp_paced() {
	in_src $PY - "$@" <<'PY'
import sys
from scapy.all import IP, IPv6, UDP, Raw, send, conf
conf.verb = 0
src, dst, dport, count, gap = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
l3 = IPv6(src=src, dst=dst) if ":" in dst else IP(src=src, dst=dst)
send(l3 / UDP(sport=40001, dport=dport) / Raw(b"paced"), count=count, inter=gap)
PY
}

# udp_sink PORT FILE [6]: in the dut namespace, append the source address of
# every datagram received on PORT to FILE (one line each) until killed; with
# 6, over IPv6 (an IPv6-only socket: it shares the port with an IPv4 one).
# Proves what reached a socket, i.e. what the gate let through.
udp_sink() {
	in_dut $PY - "$@" <<'PY' &
import socket, sys
if len(sys.argv) > 3 and sys.argv[3] == "6":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    where = "::"
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    where = "0.0.0.0"
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((where, int(sys.argv[1])))
with open(sys.argv[2], "a", buffering=1) as f:
    while True:
        data, addr = s.recvfrom(2048)
        f.write(addr[0] + "\n")
PY
	UDP_SINK_PID=$!
	sleep 0.5
}

# rx_from FILE SRC: datagrams from SRC that udp_sink saw.
rx_from() { grep -cxF -- "$2" "$1" 2>/dev/null || true; }

# send_rounds STOP OUT DST SPORT MAXSECS SRC...: in the background, one UDP
# datagram from every SRC to DST:9999 every 10 ms (a "round") until the file
# STOP appears or MAXSECS pass; then write the number of rounds to OUT. Sets
# SENDER_PID.
send_rounds() {
	in_src $PY - "$@" <<'PY' &
import os, sys, time
from scapy.all import IP, UDP, Raw, conf
conf.verb = 0
stop, out, dst, sport, maxs, srcs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6:]
pkts = [IP(src=s, dst=dst) / UDP(sport=sport, dport=9999) / Raw(b"castle") for s in srcs]
sock = conf.L3socket()
sent = 0
deadline = time.time() + maxs
while not os.path.exists(stop) and time.time() < deadline:
    for p in pkts:
        sock.send(p)
    sent += 1
    time.sleep(0.01)
with open(out, "w") as f:
    f.write("%d\n" % sent)
PY
	SENDER_PID=$!
}
