#!/usr/bin/env bash
# test_castlectl_ops.sh - castlectl's reading and operating verbs against a
# live gate: status, stats, limit list, events, top, reload (accepted and
# refused), and unload (the gate comes off, traffic flows, pins go).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/castlectl_lib.sh"

A5=198.18.5.5 A6=198.18.6.6
E2E_SRC_ALIASES="$A5 $A6"

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
mode: enforce
block:
  - 198.18.66.0/24
limits:
  - name: api
    match: { proto: udp, dst_ports: [9000] }
    rate: 5/s
    burst: 5
YAML
e2e_castled || { t_fail "castled starts" "$(tail -5 "$TMP/castled.log")"; t_done; }
t_ok "castled starts"
udp_echo_start

# --- status ------------------------------------------------------------
st=$(ctl -j status)
t_eq "status: daemon running" "true" "$(echo "$st" | jq -r .daemon.running)"
t_eq "status: interface attached" "$DUT_IF" "$(echo "$st" | jq -r '.interfaces[0].name')"
xid=$(echo "$st" | jq -r '.interfaces[0].xdp_prog_id')
[ "$xid" -gt 0 ] 2>/dev/null && t_ok "status: XDP program id $xid" || t_fail "status: XDP program id" "$st"
serial=$(echo "$st" | jq -r .policy.serial)
[ "$serial" -ge 1 ] 2>/dev/null && t_ok "status: policy serial $serial" || t_fail "status: serial" "$st"
ctl status | grep -Eq "^$DUT_IF +[0-9]+ +[a-z-]+ +$xid " && t_ok "status table matches JSON" ||
	t_fail "status table matches JSON" "$(ctl status)"
ctl status | grep -q "^daemon: *running (pid" && t_ok "status: daemon line" || t_fail "status: daemon line"
out=$(ctl -j status 2>&1 >/dev/full); rc=$?
case "$rc $out" in
"1 castlectl: cannot write the output"*) t_ok "output that cannot be written is a failure (exit 1, says so)" ;;
*) t_fail "output that cannot be written is a failure (exit 1, says so)" "$rc $out" ;;
esac

# --- stats: a block drop is counted by reason ------------------------------
drops() { ctl -j stats | jq '[.counters[] | select(.stage=="xdp" and .verdict=="drop" and .reason=="blocklist") | .packets] | add // 0'; }
before=$(drops)
t_cmd "block add $A5" ctl block add $A5
for i in 1 2 3; do udp_reply $A5 $DUT4; done
after=$(drops)
t_eq "stats: three blocklist drops counted" 3 "$((after - before))"
human=$(ctl stats | awk -v i="$DUT_IF" '$1==i && $2=="xdp" && $3=="drop" && $4=="blocklist" {print $5}')
t_eq "stats table matches JSON" "$after" "$human"

# --- events: a drop shows up ----------------------------------------------
ctl -j events --count 1 --timeout 5s >"$TMP/ev.json" 2>"$TMP/ev.err" &
evpid=$!
sleep 0.5
udp_reply $A5 $DUT4
wait $evpid; rc=$?
t_eq "events --count 1 exits 0" 0 "$rc"
t_eq "event: source" "$A5" "$(jq -r .source "$TMP/ev.json")"
t_eq "event: reason, stage, interface" "blocklist xdp $DUT_IF udp $ECHO_PORT false" \
	"$(jq -r '"\(.reason) \(.stage) \(.interface) \(.proto) \(.dport) \(.dry_run)"' "$TMP/ev.json")"
ctl events --count 1 --timeout 5s >"$TMP/ev.txt" 2>&1 &
evpid=$!
sleep 0.5
udp_reply $A5 $DUT4
wait $evpid
grep -Eq " $DUT_IF +xdp +blocklist +$A5 +udp +$ECHO_PORT " "$TMP/ev.txt" && t_ok "events: table line" ||
	t_fail "events: table line" "$(cat "$TMP/ev.txt")"
out=$(ctl events --count 1 --timeout 300ms 2>&1); rc=$?
t_eq "events: --timeout before --count exits 1" "1" "$rc"
# The longest timeout that parses must not wrap to "already over" (bounded
# here by timeout(1): the packet is sent again until an event ends it).
timeout 20 nsenter --net=/var/run/netns/$NS_DUT -- "$CASTLECTL" --pin-dir "$PIN" \
	events --count 1 --timeout 213503d >"$TMP/ev.txt" 2>&1 &
evpid=$!
for _ in $(seq 20); do
	sleep 0.5
	kill -0 $evpid 2>/dev/null || break
	udp_reply $A5 $DUT4
done
wait $evpid; rc=$?
t_eq "events: --timeout 213503d waits for the event (exit 0)" 0 "$rc"

# --- top: the dropping sources ---------------------------------------------
t_eq "top: blocked source ranks first" "$A5 manual blocklist" \
	"$(ctl -j top --interval 0 | jq -r '.blocked[0] | "\(.cidr) \(.origin) \(.reason)"')"
ctl -j top --interval 2s >"$TMP/top.json" &
toppid=$!
sleep 0.5
send_udp $A6 $DUT4 9000 40
wait $toppid
t_eq "top: rate-limited source sampled with reason and class" "$A6 ratelimit api" \
	"$(jq -r '.sampled[] | select(.source=="'$A6'") | "\(.source) \(.reason) \(.class)"' "$TMP/top.json")"
n=$(jq -r '.sampled[] | select(.source=="'$A6'") | .events' "$TMP/top.json")
[ "${n:-0}" -ge 1 ] && t_ok "top: $n sampled drop events" || t_fail "top: sampled events" "$(cat "$TMP/top.json")"
t_eq "top -n 1 keeps one row" 1 "$(ctl -j top -n 1 --interval 0 | jq '.blocked | length')"
ctl top --interval 0 | grep -Eq "^$A5 +manual +blocklist +- +[0-9]" && t_ok "top table" ||
	t_fail "top table" "$(ctl top --interval 0)"

# --- limit list --------------------------------------------------------------
ll=$(ctl -j limit list)
t_eq "limit list: class" "api udp 5 5" \
	"$(echo "$ll" | jq -r '.classes[0] | "\(.name) \(.proto) \(.rate_pps) \(.burst)"')"
d=$(echo "$ll" | jq -r '.classes[0].dropped')
[ "${d:-0}" -ge 1 ] && t_ok "limit list: $d drops counted" || t_fail "limit list drops" "$ll"
t_eq "limit list: tracked sources" 1 "$(echo "$ll" | jq -r '.classes[0].sources')"
ctl limit list | grep -Eq '^api +udp +9000 +5/s +5 ' && t_ok "limit list table" ||
	t_fail "limit list table" "$(ctl limit list)"

# --- reload: accepted, then refused ------------------------------------------
out=$(ctl reload 2>&1); rc=$?
t_eq "reload exits 0" 0 "$rc"
t_eq "reload reports the new serial" "policy reloaded: serial $((serial + 1))" "$out"
out=$(timeout 20 nsenter --net=/var/run/netns/$NS_DUT -- "$CASTLECTL" --pin-dir "$PIN" \
	reload --timeout 0 2>&1); rc=$?
t_eq "reload --timeout 0 waits as long as it takes (exit 0)" 0 "$rc"
t_eq "... and reports the serial" "policy reloaded: serial $((serial + 2))" "$out"
serial=$((serial + 1))
cp "$POLICY" "$TMP/good.yaml"
echo "bogus_key: 1" >>"$POLICY"
out=$(ctl reload 2>&1); rc=$?
t_eq "reload of a bad policy exits 1" 1 "$rc"
t_eq "... with castled's verdict" "castlectl: castled refused the policy: see its log" "$out"
cp "$TMP/good.yaml" "$POLICY"
t_eq "the running policy stayed" "$((serial + 1))" "$(ctl -j status | jq -r .policy.serial)"

# --- reload while another reload is under way -----------------------------------
# A reload that read the file before the operator's edit is not the answer
# to the operator's castlectl reload: castlectl waits for the one that read
# the file after it asked. A big policy makes castled's own reload slow; the
# operator breaks the file while it runs, then asks. The answer must be the
# refusal of the broken file, not the success of the reload under way.
# the good policy with 400,000 more exact blocks (2001:db8:ff::/48 is not
# traffic here)
sed 's|^  - 198.18.66.0/24$|&\n@BIG@|' "$TMP/good.yaml" | $PY -c '
import sys
big = "".join("  - 2001:db8:ff:%x::%x\n" % (i >> 16, i & 0xffff) for i in range(400000))
sys.stdout.write(sys.stdin.read().replace("@BIG@\n", big))' >"$TMP/big.yaml"
cp "$TMP/big.yaml" "$POLICY"
castled_log_mark
kill -HUP "$CASTLED_PID"
for _ in $(seq 100); do castled_log_new_has "SIGHUP: reloading" && break; sleep 0.02; done
sleep 0.2 # the file is read at once; parsing and applying take longer
# broken at its end, so that castled takes a while to refuse it too: a
# castlectl that took the first verdict would see the big policy's success
{ cat "$TMP/big.yaml"; echo "bogus_key: 1"; } >"$TMP/bad.yaml"
mv "$TMP/bad.yaml" "$POLICY"
under_way=$(grep -c "policy $POLICY applied" "$TMP/castled.log")
out=$(ctl reload --timeout 60s 2>&1); rc=$?
t_eq "reload during another: castlectl reports the refusal of the file it asked about" \
	"1 castlectl: castled refused the policy: see its log" "$rc $out"
t_cmd "... while the reload under way (the big policy) had applied" \
	test "$(grep -c "policy $POLICY applied" "$TMP/castled.log")" -gt "$under_way"
t_eq "... and the big policy is what runs" "$((serial + 2))" "$(ctl -j status | jq -r .policy.serial)"
cp "$TMP/good.yaml" "$POLICY"
t_cmd "castled stops" castled_stop
out=$(ctl reload 2>&1); rc=$?
t_eq "reload without castled exits 1" 1 "$rc"
[[ "$out" == "castlectl: castled is not running"* ]] && t_ok "... and says castled is not running" ||
	t_fail "reload without castled" "$out"

# --- unload --------------------------------------------------------------------
t_cmd "gate still enforces with castled down" udp_noreply $A5 $DUT4
in_dut ip link show "$DUT_IF" | grep -q xdp && t_ok "XDP attached before unload" || t_fail "XDP attached before unload"
out=$(ctl unload nosuch0 2>&1); rc=$?
t_eq "unload of an unknown interface exits 1" "1 castlectl: castle is not attached to nosuch0 (see castlectl status)" "$rc $out"
t_cmd "unload $DUT_IF" ctl unload "$DUT_IF"
in_dut ip link show "$DUT_IF" | grep -q xdp && t_fail "no XDP after unload" "$(in_dut ip link show "$DUT_IF")" || t_ok "no XDP after unload"
t_cmd "traffic from the blocked source flows again" udp_reply $A5 $DUT4
[ -e "$PIN" ] && t_fail "pins removed with the last interface" "$(ls "$PIN")" || t_ok "pins removed with the last interface"
out=$(ctl status 2>&1); rc=$?
t_eq "status after unload: not loaded" "1" "$rc"
[[ "$out" == *"not found: castle is not loaded"* ]] && t_ok "... says castle is not loaded" || t_fail "status after unload" "$out"

t_done
