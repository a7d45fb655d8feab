#!/usr/bin/env bash
# castlectl_lib.sh - helpers of the castlectl end-to-end tests, on top of
# lib.sh: a UDP echo server in the dut namespace and a probe that tells
# whether a datagram from a given source gets its echo (needs neither ping
# nor scapy), and stopping castled by the pid it recorded in PIN/state.

ECHO_PORT=${ECHO_PORT:-7777}

# udp_echo_start: echo every datagram on ECHO_PORT, IPv4 and IPv6. It dies
# with the namespace (lib.sh's cleanup kills every process in it).
udp_echo_start() {
	in_dut $PY - "$ECHO_PORT" <<'PY' >/dev/null 2>&1 &
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
PY
	sleep 0.5
}

# udp_reply SRC DST: a datagram from SRC to DST:ECHO_PORT is echoed within 1 s.
udp_reply() {
	in_src $PY - "$1" "$2" "$ECHO_PORT" <<'PY'
import socket, sys
src, dst, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in dst else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
s.settimeout(1.0)
s.sendto(b"castle", (dst, port))
try:
    s.recvfrom(100)
except OSError:
    sys.exit(1)
PY
}
udp_noreply() { ! udp_reply "$@"; }

# castled_stop: SIGTERM to the pid castled recorded, and wait until it is gone
# (CASTLED_PID in lib.sh is the pid of the subshell that started it).
castled_stop() {
	local pid i
	pid=$(ctl -j status | jq -r '.daemon.pid // empty')
	[ -n "$pid" ] || return 1
	kill -TERM "$pid" || return 1
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}
