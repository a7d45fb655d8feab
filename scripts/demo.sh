#!/usr/bin/env bash
# demo.sh - install what is missing, build, and show castle guarding a
# self-made two-host topology: namespaces castle-src-demo and castle-dut-demo
# joined by a veth pair (198.18.0.0/15, 2001:db8::/32). Nothing outside those
# namespaces is touched; everything is torn down at the end.
set -eu
cd "$(dirname "$0")/.."
scripts/deps.sh
make -j"$(nproc)" >/dev/null

ID=demo
export ID METRICS_PORT=29753
E2E_SRC_ALIASES="198.18.66.5 198.18.77.7 198.18.20.1"
# lib.sh provides the topology, castled start-up and traffic helpers.
. tests/e2e/lib.sh

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "topology: $NS_SRC ($SRC4, aliases $E2E_SRC_ALIASES) <-> $NS_DUT ($DUT4, $DUT_IF)"
e2e_topology

e2e_policy <<'YAML'
version: 1
mode: enforce
malformed: drop
allow:
  - 198.18.20.0/24
block:
  - 198.18.66.0/24
  - { cidr: 198.18.77.7, ttl: 1h, comment: scanner }
limits:
  - name: dns
    match: { proto: udp, dst_ports: [53] }
    rate: 10/s
    burst: 20
YAML
step "policy"
cat "$POLICY"

step "castled -i $DUT_IF -p policy.yaml (in $NS_DUT)"
e2e_castled
ctl status

step "ping from an unlisted source ($SRC4): passes"
in_src ping -c2 -W1 -I $SRC4 $DUT4 | tail -2
step "ping from a blocked /24 (198.18.66.5): dropped by XDP"
in_src ping -c2 -W1 -I 198.18.66.5 $DUT4 | tail -2 || true
step "100 DNS queries at once from $SRC4: burst 20 passes, the rest is rate-limited"
send_udp $SRC4 $DUT4 53 100
step "manual block of $SRC4 for 30 s, then ping"
ctl block add $SRC4 --ttl 30s --comment "demo"
in_src ping -c2 -W1 -I $SRC4 $DUT4 | tail -2 || true
ctl block list
step "castlectl stats"
ctl stats
step "castlectl limit list"
ctl limit list
step "metrics (excerpt)"
in_dut curl -s "http://$METRICS/metrics" | grep -E '^castle_(packets_total|limit_packets_total)' | grep -v ' 0$' | head -20
step "castlectl unload $DUT_IF, stop castled, tear down"
ctl unload "$DUT_IF"
e2e_stop_castled
