#!/usr/bin/env bash
# test_tls.sh - the TC TLS gate with real clients: openssl s_server on port
# 443 in the dut namespace behind castled; openssl s_client, curl https:// and
# a Python client with a > 1500-byte ClientHello get through (v4 and v6);
# curl http:// and nc with a text line to the same port are dropped, as are a
# denied SNI, TLS 1.1 and QUIC; the counters equal what was sent. quic: allow
# (by a reload) lets QUIC through, an unknown version only at 1200 bytes or
# more. Then unload removes the TC attachment and plaintext reaches a
# listener again.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$CASTLED" ]; then
	t_fail "tls gate end to end" "$CASTLED missing: build it (make)"
	t_done
fi

tls_result() { local v; v=$(metric castle_tls_connections_total "result=\"$1\""); echo "${v:-0}"; }
wait_listen() { for _ in $(seq 50); do in_dut ss -ltn | grep -q ":$1 " && return 0; sleep 0.1; done; return 1; }

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
mode: enforce
tls:
  ports: [443]
  min_version: "1.2"
  sni: { allow: ["example.com", "*.example.com"] }
  quic: drop
YAML

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=example.com -addext "subjectAltName=DNS:example.com,DNS:*.example.com" \
	-keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
# -www answers GET with a status page; @SECLEVEL=0 so that the TLS 1.1 client
# below is refused by the gate, not by the server.
# nsenter execs openssl, so $! is the server itself.
nsenter --net=/var/run/netns/$NS_DUT openssl s_server -accept 443 -naccept 1000 -cert "$TMP/cert.pem" -key "$TMP/key.pem" \
	-www -quiet -cipher 'DEFAULT:@SECLEVEL=0' >"$TMP/s_server.log" 2>&1 &
SERVER_PID=$!
wait_listen 443

if ! e2e_castled; then t_fail "castled starts"; t_done; fi
t_ok "castled starts with a tls section"

# TCX where the kernel has it (a pinned link), else a clsact filter.
if [ -e "$PIN/link_tc_$DUT_IF" ]; then
	t_ok "TC program attached with a pinned TCX link"
else
	t_cmd "TC program attached on clsact" sh -c "nsenter --net=/var/run/netns/$NS_DUT \
		tc filter show dev $DUT_IF ingress | grep -q castle_tc"
fi

CURL="curl -sk --max-time 5"
t_cmd "curl https:// (v4, allowed SNI) succeeds" \
	in_src $CURL --resolve www.example.com:443:$DUT4 https://www.example.com/
t_cmd "curl https:// (v6, allowed SNI) succeeds" \
	in_src $CURL --resolve "example.com:443:[$DUT6]" https://example.com/
out=$(echo Q | in_src openssl s_client -connect $DUT4:443 -servername api.example.com \
	-CAfile "$TMP/cert.pem" 2>&1)
t_cmd "openssl s_client (TLS 1.3) succeeds and verifies" grep -q 'Verify return code: 0' <<<"$out"
out=$(echo Q | in_src openssl s_client -tls1_2 -connect $DUT4:443 -servername example.com 2>&1)
t_cmd "openssl s_client -tls1_2 succeeds" grep -q '^New, TLSv1.2' <<<"$out"

# A ClientHello of ~2.5 KB (a long ALPN list stands in for post-quantum key
# shares): more than one segment at MTU 1500.
alpn=$(seq -f 'proto-%04g' 1 200 | paste -sd, -)
out=$(echo Q | in_src openssl s_client -connect $DUT4:443 -servername www.example.com \
	-alpn "$alpn" -msg 2>&1)
len=$(sed -n 's/.*Handshake \[length \([0-9a-f]*\)\], ClientHello.*/\1/p' <<<"$out" | head -1)
t_cmd "the big ClientHello is larger than 1500 bytes (0x${len:-0})" test $((16#${len:-0})) -gt 1500
t_cmd "openssl s_client with the big ClientHello succeeds" grep -q '^New, TLSv1.3' <<<"$out"
t_cmd "python ssl with a 2.5 KB ClientHello (v6) succeeds" in_src $PY - "$DUT6" <<'PY'
import socket, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["proto-%04d" % i for i in range(200)])
with socket.create_connection((sys.argv[1], 443), timeout=5) as s:
    with ctx.wrap_socket(s, server_hostname="big.example.com") as t:
        t.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert t.recv(100)
PY
ok_tls=6

# Refused. curl times out (exit 28): its request never arrives.
rc=0; in_src $CURL --max-time 3 http://$DUT4:443/ >/dev/null 2>&1 || rc=$?
t_eq "curl http:// to the TLS port is dropped (times out)" 28 "$rc"
out=$(echo "hello there" | in_src timeout 3 nc -q 2 $DUT4 443 2>&1)
t_eq "nc with a text line gets nothing back" "" "$out"
rc=0; in_src $CURL --max-time 3 --resolve evil.org:443:$DUT4 https://evil.org/ >/dev/null 2>&1 || rc=$?
t_eq "curl https:// with a denied SNI times out" 28 "$rc"
rc=0; echo Q | in_src timeout 4 openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
	-connect $DUT4:443 -servername example.com >/dev/null 2>&1 || rc=$?
t_nocmd "TLS 1.1 below min_version fails" test "$rc" -eq 0
in_src $PY - $SRC4 $DUT4 <<'PY'
import sys
from scapy.all import IP, UDP, Raw, send, conf
conf.verb = 0
quic = b"\xc3\x00\x00\x00\x01" + b"q" * 1200  # QUIC v1 Initial-shaped
send(IP(src=sys.argv[1], dst=sys.argv[2]) / UDP(sport=40000, dport=443) / Raw(quic),
     count=3, inter=0)
PY

sleep 0.5
t_eq "castle_tls_connections_total{result=tls}" $ok_tls "$(tls_result tls)"
t_eq "castle_tls_connections_total{result=not_tls}" 2 "$(tls_result not_tls)"
t_eq "castle_tls_connections_total{result=sni_denied}" 1 "$(tls_result sni_denied)"
t_eq "castle_tls_connections_total{result=old_version}" 1 "$(tls_result old_version)"
t_eq "castle_tls_connections_total{result=quic_dropped}" 3 "$(tls_result quic_dropped)"
t_eq "tc drops, reason quic" 3 "$(tc_count drop quic)"
t_cmd "tc drops, reason tls_not_tls" test "$(tc_count drop tls_not_tls)" -ge 2
t_cmd "tc drops, reason tls_sni" test "$(tc_count drop tls_sni)" -ge 1
t_cmd "tc drops, reason tls_version" test "$(tc_count drop tls_version)" -ge 1
t_cmd "tc passes, reason tls" test "$(tc_count pass tls)" -ge $ok_tls
t_eq "nothing passed with a TLS drop reason" 0 \
	"$(($(tc_count pass tls_not_tls) + $(tc_count pass tls_sni) + $(tc_count pass tls_version)))"

# quic: allow, by a reload. A UDP listener on 443 counts what reaches it:
# a QUIC v1 Initial and an unknown version at 1200 bytes (the server answers
# that with Version Negotiation) pass; an unknown version in a smaller
# datagram, and a datagram that is no QUIC at all, stay dropped.
sed -i 's/quic: drop/quic: allow/' "$POLICY"
t_cmd "castlectl reload (quic: allow)" ctl reload
q0=$(tls_result quic_dropped) d0=$(tc_count drop quic)
in_dut timeout 4 $PY - "$DUT4" >"$TMP/udp.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 443))
s.settimeout(3)
got = []
try:
    while True:
        got.append(len(s.recv(4096)))
except socket.timeout:
    pass
print(" ".join(map(str, got)))
PY
UDP_PID=$!
for _ in $(seq 50); do in_dut ss -lun | grep -q "$DUT4:443 " && break; sleep 0.1; done
in_src $PY - $SRC4 $DUT4 <<'PY'
import sys, time
from scapy.all import IP, UDP, Raw, send, conf
conf.verb = 0
def dgram(version, size):
    return b"\xc3" + version.to_bytes(4, "big") + b"\x08" + b"q" * (size - 6)
for payload in (dgram(1, 1200), dgram(0x1a2a3a4a, 1200), dgram(0x1a2a3a4a, 600),
                b"GET / HTTP/1.0\r\n\r\n"):
    send(IP(src=sys.argv[1], dst=sys.argv[2]) / UDP(sport=40001, dport=443) / Raw(payload))
    time.sleep(0.05)
PY
wait "$UDP_PID"
t_eq "quic: allow: v1 and an unknown version at 1200 bytes reach the server" "1200 1200" "$(cat "$TMP/udp.out")"
t_eq "quic: allow: the small unknown version counts as quic_dropped" $((q0 + 1)) "$(tls_result quic_dropped)"
t_eq "quic: allow: tc drops, reason quic (small unknown version, plain text)" $((d0 + 2)) "$(tc_count drop quic)"

# Unload: the TC attachment goes and plaintext reaches a listener on 443.
e2e_stop_castled
t_cmd "castlectl unload" ctl unload "$DUT_IF"
t_nocmd "TCX link pin removed" test -e "$PIN/link_tc_$DUT_IF"
kill "$SERVER_PID" 2>/dev/null
wait "$SERVER_PID" 2>/dev/null
in_dut timeout 5 nc -l -p 443 >"$TMP/nc.out" 2>/dev/null &
wait_listen 443
echo "plain text line" | in_src timeout 3 nc -q 1 $DUT4 443 >/dev/null 2>&1
sleep 0.3
t_eq "after unload, plaintext reaches the server" "plain text line" "$(cat "$TMP/nc.out")"

t_done
