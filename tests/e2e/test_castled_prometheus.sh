#!/usr/bin/env bash
# test_castled_prometheus.sh - a real Prometheus scrapes castled and sees the
# packets that were sent; the exposition is lint-clean for promtool; the HTTP
# endpoint answers only what it should; castle_build_info's labels and
# castle_map_capacity's values are what the binary and the kernel say.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5
BAD_PAYLOAD=castle
E2E_SRC_ALIASES="$BAD"
PROM=127.0.0.1:9090	# inside the dut namespace: no clash with anything
MAX_SOURCES=5000	# not the default 1048576, so rl_state's size proves the option
# The pins of the second castled below go even when the test stops early.
trap 'e2e_cleanup; rm -rf "$PIN-2"' EXIT

command -v prometheus >/dev/null || { t_skip "prometheus" "prometheus not installed"; t_done; }

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
limits:
  - name: web
    match: { proto: tcp, dst_ports: [443] }
    rate: 100/s
YAML
e2e_castled --max-sources $MAX_SOURCES || { t_fail "castled starts"; t_done; }

# ---- the endpoint itself ----------------------------------------------------
in_dut curl -s "http://$METRICS/metrics" > "$TMP/scrape.txt"
out=$(promtool check metrics < "$TMP/scrape.txt" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then t_ok "promtool check metrics: clean"
else t_fail "promtool check metrics: clean" "rc=$rc: $(echo "$out" | head -5)"; fi
for fam in castle_packets_total castle_bytes_total castle_limit_packets_total \
	castle_tls_connections_total castle_blocklist_entries castle_tracked_sources \
	castle_map_entries castle_map_capacity castle_policy_reloads_total \
	castle_policy_last_reload_success_timestamp_seconds castle_build_info; do
	grep -q "^# TYPE $fam " "$TMP/scrape.txt" && t_ok "family $fam exposed" ||
		t_fail "family $fam exposed"
done
ctype=$(in_dut curl -s -o /dev/null -w '%{content_type}' "http://$METRICS/metrics")
t_eq "content type is text format 0.0.4" "text/plain; version=0.0.4; charset=utf-8" "$ctype"
t_eq "GET /healthz is 200" 200 "$(in_dut curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/healthz")"
t_eq "unknown path is 404" 404 "$(in_dut curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/nope")"
t_eq "POST /metrics is 405" 405 "$(in_dut curl -s -o /dev/null -w '%{http_code}' -X POST "http://$METRICS/metrics")"
t_eq "GET /metrics with a body is 400" 400 \
	"$(in_dut curl -s -o /dev/null -w '%{http_code}' --data-binary x -X GET "http://$METRICS/metrics")"
# Two scrapes on one connection: castled keeps it alive (Prometheus does).
t_eq "keep-alive: the second scrape reuses the connection" "200 1 200 0" \
	"$(in_dut curl -s -o /dev/null -o /dev/null -w '%{http_code} %{num_connects} ' \
		"http://$METRICS/metrics" "http://$METRICS/healthz" | sed 's/ $//')"

# Raw malformed HTTP (tests/unit/test_metrics_http.c has the full set against
# libmicrohttpd alone): each gets a 4xx or a closed connection, never a 200 or
# a 5xx, and castled goes on serving.
raw_http() {
	in_dut timeout 20 $PY - "$METRICS" <<'PY'
import re, socket, sys
host, port = sys.argv[1].rsplit(":", 1)
cases = {
    "garbage request line": b"HELLO\r\n\r\n",
    "binary (a TLS hello)": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "NUL in the request line": b"GET /heal\x00thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "non-ASCII path": b"GET /m\xc3\xa9trics HTTP/1.1\r\nHost: x\r\n\r\n",
    "256 KiB header": b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 262144 + b"\r\n\r\n",
    "POST with a 1 MiB body": b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + b"b" * 1048576,
    "pipelined 404 then a scrape": b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
}
for name, req in cases.items():
    s = socket.create_connection((host, int(port)), timeout=5)
    try:
        s.sendall(req)
    except OSError:
        pass  # refused and closed before everything was sent
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError:
        pass
    s.close()
    codes = [int(c) for c in re.findall(rb"(?:^|\n)HTTP/1\.[01] (\d{3}) ", out)]
    ok = all(400 <= c < 500 for c in codes)
    print(("ok" if ok else "bad"), name, codes)
PY
}
out=$(raw_http 2>&1); rc=$?
n=$(grep -c '^ok ' <<<"$out")
[ $rc -eq 0 ] && [ "$n" -eq 7 ] && t_ok "raw malformed HTTP: each answered 4xx or closed (7 cases)" ||
	t_fail "raw malformed HTTP: each answered 4xx or closed (7 cases)" "rc=$rc: $(grep -v '^ok ' <<<"$out" | head -5)"
t_eq "after the malformed requests: GET /healthz is 200" 200 \
	"$(in_dut curl -s -o /dev/null -w '%{http_code}' "http://$METRICS/healthz")"
kill -0 "$CASTLED_PID" 2>/dev/null && t_ok "after the malformed requests: castled still runs" ||
	t_fail "after the malformed requests: castled still runs"

# ---- castle_build_info ------------------------------------------------------
# Each label against a source of its own: the version define of the tree
# castled was built from, the libbpf shared object castled loads (soname
# libbpf.so.MAJOR.MINOR.PATCH; pkg-config when it is linked statically) and
# uname -r.
info=$(grep -E '^castle_build_info\{' "$TMP/scrape.txt")
t_eq "castle_build_info: one sample, value 1" "1 1" "$(wc -l <<<"$info" | tr -d ' ') $(awk '{print $NF}' <<<"$info")"
label() { sed -n "s/.*[{,]$1=\"\([^\"]*\)\".*/\1/p" <<<"$info"; }
want_version=$(sed -n 's/^#define CASTLE_VERSION "\(.*\)"$/\1/p' "$E2E_ROOT/include/castle/castle.h")
so=$(ldd "$CASTLED" | awk '$1 ~ /^libbpf\.so/ {print $3}')
if [ -n "$so" ]; then
	want_libbpf=$(readlink -f "$so" | sed -n 's/.*libbpf\.so\.\([0-9]*\)\.\([0-9]*\).*/\1.\2/p')
else
	want_libbpf=$(pkg-config --modversion libbpf | cut -d. -f1,2)
fi
t_eq "castle_build_info: version is CASTLE_VERSION of include/castle/castle.h ($want_version)" \
	"$want_version" "$(label version)"
t_eq "castle_build_info: castled --version says the same version and libbpf" \
	"castled $(label version) (libbpf $(label libbpf))" "$("$CASTLED" --version)"
t_eq "castle_build_info: libbpf is the major.minor of the libbpf castled loads ($want_libbpf)" \
	"$want_libbpf" "$(label libbpf)"
t_eq "castle_build_info: kernel is uname -r" "$(in_dut uname -r)" "$(label kernel)"

# ---- castle_map_capacity ------------------------------------------------------
# Each map's value against its pin's max_entries as the kernel reports it (the
# events ring buffer: its size in bytes, which is its max_entries). The pol_*
# pins are the generations' outer arrays; their capacity is documented as the
# most a policy may hold, so they are left out of the comparison.
max_entries() { bpftool -j map show pinned "$PIN/$1" 2>/dev/null | jq -r '.max_entries // empty'; }
cap() { grep -E "^castle_map_capacity\{map=\"$1\"\} " "$TMP/scrape.txt" | awk '{print $NF}'; }
t_eq "rl_state: the kernel map has --max-sources $MAX_SOURCES entries" "$MAX_SOURCES" "$(max_entries rl_state)"
t_eq "castle_map_capacity{map=rl_state} is $MAX_SOURCES (follows --max-sources)" "$MAX_SOURCES" "$(cap rl_state)"
for m in rl_steady events man_block4 man_block6; do
	want=$(max_entries $m)
	if [ -n "$want" ]; then
		t_eq "castle_map_capacity{map=$m} equals the pinned map's max_entries ($want)" "$want" "$(cap $m)"
	else
		t_fail "castle_map_capacity{map=$m} equals the pinned map's max_entries" "no pin $PIN/$m"
	fi
done
n=0 bad=
for m in $(sed -n 's/^castle_map_capacity{map="\([^"]*\)"} .*/\1/p' "$TMP/scrape.txt"); do
	case $m in pol_*|rl_state|rl_steady|events|man_block4|man_block6) continue ;; esac
	[ -e "$PIN/$m" ] || continue
	want=$(max_entries $m)
	n=$((n + 1))
	[ "$want" = "$(cap $m)" ] || bad="$bad $m=$(cap $m)(max_entries $want)"
done
if [ -z "$bad" ] && [ "$n" -ge 10 ]; then
	t_ok "castle_map_capacity of the $n other pinned maps equals their max_entries"
else
	t_fail "castle_map_capacity of the other pinned maps equals their max_entries" "compared $n;$bad"
fi

# A second castled (other pins) on the same port: clear error, exit 1, and
# nothing created in the kernel.
out=$(in_dut timeout 20 "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN-2" \
	--state-dir "$TMP/state2" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "metrics port taken: exit status 1" 1 "$rc"
case $out in
*"listen on $METRICS: Address already in use"*) t_ok "metrics port taken: the error says so" ;;
*) t_fail "metrics port taken: the error says so" "$out" ;;
esac
[ -e "$PIN-2" ] && t_fail "metrics port taken: fails before touching the kernel" ||
	t_ok "metrics port taken: fails before touching the kernel"
rm -rf "$PIN-2"

# ---- a real Prometheus ------------------------------------------------------
cat > "$TMP/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: castle
    static_configs:
      - targets: ["$METRICS"]
EOF
in_dut prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/tsdb" \
	--web.listen-address="$PROM" --log.level=warn >"$TMP/prometheus.log" 2>&1 &

# query EXPR: the value of the single sample EXPR yields ('' if none)
query() {
	in_dut curl -s --get "http://$PROM/api/v1/query" --data-urlencode "query=$1" |
		jq -r 'if .status == "success" and (.data.result | length) == 1
		       then .data.result[0].value[1] else "" end' 2>/dev/null
}
prom_wait() {
	local i v=
	for i in $(seq 300); do
		v=$(query "$1")
		[ "$v" = "$2" ] && return 0
		sleep 0.1
	done
	echo "# prometheus: $1 = '$v', waited for $2" >&2
	return 1
}

prom_wait 'up{job="castle"}' 1 && t_ok "Prometheus scrapes castled (up == 1)" ||
	t_fail "Prometheus scrapes castled (up == 1)" "$(tail -5 "$TMP/prometheus.log")"
send_udp $BAD $DUT4 9999 9 "$BAD_PAYLOAD"
# XDP counts data_end - data: the Ethernet frame, Ethernet 14 + IPv4 20 + UDP 8
# + the payload (no padding on a veth).
FRAME=$((14 + 20 + 8 + ${#BAD_PAYLOAD}))
wait_metric castle_packets_total 'reason="blocklist"' 9
prom_wait 'castle_packets_total{stage="xdp",verdict="drop",reason="blocklist"}' 9 &&
	t_ok "Prometheus query castle_packets_total returns the 9 packets sent" ||
	t_fail "Prometheus query castle_packets_total returns the 9 packets sent"
t_eq "castled counts the bytes: 9 frames of $FRAME bytes" $((9 * FRAME)) \
	"$(metric castle_bytes_total 'stage="xdp",verdict="drop",reason="blocklist"')"
prom_wait "castle_bytes_total{stage=\"xdp\",verdict=\"drop\",reason=\"blocklist\",interface=\"$DUT_IF\"}" \
	$((9 * FRAME)) &&
	t_ok "Prometheus has the bytes too ($((9 * FRAME))), labelled with the interface name" ||
	t_fail "Prometheus has the bytes too ($((9 * FRAME))), labelled with the interface name"
prom_wait 'castle_policy_reloads_total{result="success"}' 1 &&
	t_ok "Prometheus sees the policy apply" || t_fail "Prometheus sees the policy apply"
prom_wait 'count(castle_limit_packets_total{limit="web"})' 2 &&
	t_ok "class counters are labelled with the class name" ||
	t_fail "class counters are labelled with the class name"
prom_wait "count(castle_limit_packets_total{limit=\"web\",interface=\"$DUT_IF\"})" 2 &&
	t_ok "class counters are labelled with the interface name" ||
	t_fail "class counters are labelled with the interface name"
prom_wait "count(castle_tls_connections_total{interface=\"$DUT_IF\"})" 5 &&
	t_ok "TLS results are labelled with the interface name (one series per result)" ||
	t_fail "TLS results are labelled with the interface name (one series per result)"
t_done
