#!/usr/bin/env bash
# test_castled_policy.sh - castled enforces its policy file on real traffic,
# counts exactly what it dropped, reloads on SIGHUP, keeps the running policy
# when the new file is broken (and says where), and --check validates files.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5		# in the blocked /24 of policy 1
LIM=198.18.1.9		# rate-limited by class "dns"
CLEAN=198.18.1.10	# blocked only by policy 3
E2E_SRC_ALIASES="$BAD $LIM $CLEAN"

xdp() { metric castle_packets_total "stage=\"xdp\",verdict=\"$1\",reason=\"$2\""; }

# ---- --check, before anything touches the kernel ----------------------------
cat > "$TMP/good.yaml" <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
printf 'version: 1\nblock:\n  - 198.18.1.300\nlimits:\n  - name: x\n    rate: 5/q\n' > "$TMP/bad.yaml"
chmod 0644 "$TMP/good.yaml" "$TMP/bad.yaml"
t_cmd "castled --check accepts a good file" "$CASTLED" --check -p "$TMP/good.yaml"
out=$("$CASTLED" --check -p "$TMP/bad.yaml" 2>&1); rc=$?
t_eq "castled --check exits 1 on a bad file" 1 "$rc"
case $out in
*"$TMP/bad.yaml:3:5: "*"$TMP/bad.yaml:6:11: "*) t_ok "castled --check prints every error as FILE:LINE:COL" ;;
*) t_fail "castled --check prints every error as FILE:LINE:COL" "got: $out" ;;
esac
"$CASTLED" --check >/dev/null 2>&1; t_eq "castled without -p is a usage error (2)" 2 $?
"$CASTLED" -p "$TMP/good.yaml" --xdp-mode turbo -i castle-none0 >/dev/null 2>&1
t_eq "castled with a bad --xdp-mode is a usage error (2)" 2 $?

out=$("$CASTLED" -p "$TMP/good.yaml" -zf 2>&1); rc=$?
t_eq "an unknown short option in a cluster is named (exit 2)" "2 castled: unknown option -z" "$rc $(echo "$out" | head -1)"
out=$("$CASTLED" --foreground -Zf 2>&1); rc=$?
t_eq "... also after a long option" "2 castled: unknown option -Z" "$rc $(echo "$out" | head -1)"
out=$("$CASTLED" -p "$TMP/good.yaml" --check=yes 2>&1); rc=$?
t_eq "a value given to a flag is named (exit 2)" "2 castled: option --check takes no argument" "$rc $(echo "$out" | head -1)"
out=$("$CASTLED" -p "$TMP/good.yaml" --fore=1 2>&1); rc=$?
t_eq "... by its full name when abbreviated" "2 castled: option --foreground takes no argument" "$rc $(echo "$out" | head -1)"
out=$("$CASTLED" --check -p "$TMP/good.yaml" 2>&1 >/dev/full); rc=$?
t_eq "--check whose verdict cannot be written fails" \
	"1 castled: cannot write the output: No space left on device" "$rc $out"
for m in 127.0.0.1:0 127.0.0.1:99999 localhost:9753 9753; do
	"$CASTLED" --check -p "$TMP/good.yaml" --metrics "$m" >/dev/null 2>&1
	t_eq "--metrics $m is a usage error (2)" 2 $?
done

# ---- before anything is pinned ----------------------------------------------
e2e_topology || { t_fail "topology"; t_done; }
out=$(in_dut "$CASTLED" -i "$DUT_IF" -p "$TMP/good.yaml" --pin-dir "$TMP/notbpf/castle" \
	--state-dir "$TMP/st" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "pin dir outside bpffs: exit 1" 1 "$rc"
case $out in
*"$TMP/notbpf/castle is not on a bpffs ($TMP is not one): give a --pin-dir under a bpffs mount"*)
	t_ok "pin dir outside bpffs: says to choose one on a bpffs, not to mount over $TMP" ;;
*) t_fail "pin dir outside bpffs: says to choose one on a bpffs, not to mount over $TMP" "$out" ;;
esac
# A mistyped interface among good ones: refused before the pins exist (no
# interface would be recorded for castlectl unload to remove them by).
out=$(in_dut "$CASTLED" -i "$DUT_IF" -i "${DUT_IF}x" -p "$TMP/good.yaml" --pin-dir "$PIN" \
	--state-dir "$TMP/st" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "a missing interface: exit 1" 1 "$rc"
t_eq "... says which" "castled: interface ${DUT_IF}x: no such interface" "$out"
[ -e "$PIN" ] && t_fail "... and pins nothing" "$(ls "$PIN")" || t_ok "... and pins nothing"
in_dut ip link show "$DUT_IF" | grep -q xdp && t_fail "... and attaches nothing" || \
	t_ok "... and attaches nothing"
# A policy that does not load, on a first start: refused before the pins exist.
out=$(in_dut "$CASTLED" -i "$DUT_IF" -p "$TMP/bad.yaml" --pin-dir "$PIN" \
	--state-dir "$TMP/st" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "a bad policy on a first start: exit 1" 1 "$rc"
case $out in *"castled: $TMP/bad.yaml:3:5: "*) t_ok "... with FILE:LINE:COL" ;;
*) t_fail "... with FILE:LINE:COL" "$out" ;; esac
[ -e "$PIN" ] && t_fail "... and pins nothing" "$(ls "$PIN")" || t_ok "... and pins nothing"
# A first start whose attach fails half way (a directory where the TC link's
# pin goes: XDP attaches, pinning the link fails): what it pinned goes too.
mkdir -p "$PIN/link_tc_$DUT_IF"
out=$(in_dut "$CASTLED" -i "$DUT_IF" -p "$TMP/good.yaml" --pin-dir "$PIN" \
	--state-dir "$TMP/st" --metrics "$METRICS" --foreground 2>&1); rc=$?
t_eq "a first start whose attach fails: exit 1" 1 "$rc"
t_eq "... leaves no pin of its own" "link_tc_$DUT_IF" "$(ls "$PIN" 2>&1)"
in_dut ip link show "$DUT_IF" | grep -q xdp && t_fail "... and no XDP program" || \
	t_ok "... and no XDP program"
rm -rf "$PIN"

# ---- enforce policy 1 -------------------------------------------------------
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
limits:
  - name: dns
    match: { proto: udp, dst_ports: [5353] }
    rate: 1/h
    burst: 5
YAML
if e2e_castled; then t_ok "castled starts"; else t_fail "castled starts"; t_done; fi

send_udp $BAD $DUT4 9999 7
send_udp $LIM $DUT4 5353 20
wait_metric castle_packets_total 'reason="blocklist"' 7
t_eq "blocked source: every packet dropped and counted (blocklist)" 7 "$(xdp drop blocklist)"
wait_metric castle_packets_total 'reason="ratelimit"' 15
t_eq "limited source: packets beyond the burst dropped (ratelimit)" 15 "$(xdp drop ratelimit)"
t_eq "class counter: burst of 5 passed" 5 "$(metric castle_limit_packets_total 'limit="dns",verdict="pass"')"
t_eq "class counter: 15 dropped" 15 "$(metric castle_limit_packets_total 'limit="dns",verdict="drop"')"
t_eq "one tracked source in class dns" 1 "$(metric castle_tracked_sources 'limit="dns"')"
ok_before=$(xdp pass ok)
send_udp $CLEAN $DUT4 9999 4
wait_metric_ge castle_packets_total 'stage="xdp",verdict="pass",reason="ok"' $((ok_before + 4)) 30 &&
	t_ok "clean source: its 4 packets counted as passed (ok)" ||
	t_fail "clean source: its 4 packets counted as passed (ok)" "ok $ok_before before, $(xdp pass ok) after"
t_eq "clean source passes (no drop counted)" 7 "$(xdp drop blocklist)"

# ---- a class inserted ahead of dns: dns keeps its counts and its bucket -----
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
limits:
  - name: web
    match: { proto: tcp, dst_ports: [443] }
    rate: 100/s
  - name: dns
    match: { proto: udp, dst_ports: [5353] }
    rate: 1/h
    burst: 5
YAML
castled_reload
t_eq "class inserted: reload applied (serial 2)" 2 "$(metric castle_policy_serial)"
t_eq "class inserted: dns keeps its passes" 5 "$(metric castle_limit_packets_total 'limit="dns",verdict="pass"')"
t_eq "class inserted: dns keeps its drops" 15 "$(metric castle_limit_packets_total 'limit="dns",verdict="drop"')"
t_eq "class inserted: the new class starts from zero" 0 "$(metric castle_limit_packets_total 'limit="web",verdict="pass"')"
t_eq "class inserted: dns keeps its tracked source" 1 "$(metric castle_tracked_sources 'limit="dns"')"
t_eq "class inserted: web tracks nothing" 0 "$(metric castle_tracked_sources 'limit="web"')"
send_udp $LIM $DUT4 5353 3
wait_metric castle_packets_total 'reason="ratelimit"' 18
t_eq "class inserted: the limited source's bucket stayed empty (no fresh burst)" 18 "$(xdp drop ratelimit)"
t_eq "class inserted: its drops counted under dns" 18 "$(metric castle_limit_packets_total 'limit="dns",verdict="drop"')"
lim=$(ctl limit list -j)
if echo "$lim" | grep -q '"name":"web".*"dropped":0}.*"name":"dns".*"passed":5,"dropped":18}'; then
	t_ok "castlectl limit list: policy order, dns with its counts"
else
	t_fail "castlectl limit list: policy order, dns with its counts" "$lim"
fi

buckets() { echo $(($(metric castle_map_entries 'map="rl_state"') + $(metric castle_map_entries 'map="rl_steady"'))); }
t_eq "one bucket in the table (either tier) before the classes go" 1 "$(buckets)"

# ---- edit + SIGHUP: policy 3 ------------------------------------------------
e2e_policy <<'YAML'
version: 1
block:
  - { cidr: 198.18.1.10, comment: "policy three" }
YAML
castled_log_mark
castled_reload
t_eq "SIGHUP applied the edited file (serial 3)" 3 "$(metric castle_policy_serial)"
t_eq "reload counted as success" 3 "$(metric castle_policy_reloads_total 'result="success"')"
t_eq "classes removed: their buckets dropped from the table" 0 "$(buckets)"
if castled_log_new_has "1 token bucket of removed rate-limit classes dropped"; then
	t_ok "classes removed: castled says how many buckets went"
else
	t_fail "classes removed: castled says how many buckets went" "$(tail -3 "$TMP/castled.log")"
fi
send_udp $BAD $DUT4 9999 5
send_udp $CLEAN $DUT4 9999 3
wait_metric castle_packets_total 'reason="blocklist"' 10
t_eq "after reload: old block gone, new block enforced" 10 "$(xdp drop blocklist)"

# ---- broken file + SIGHUP: nothing changes ----------------------------------
printf 'version: 1\nblock:\n  - 198.18.1.10\n  - not-an-address\n' > "$POLICY"
castled_reload
t_eq "broken file: reload counted as failure" 1 "$(metric castle_policy_reloads_total 'result="failure"')"
t_eq "broken file: serial unchanged" 3 "$(metric castle_policy_serial)"
if castled_log_has "castled: reload failed: $POLICY:4:5: "; then
	t_ok "broken file: log names file, line and column"
else
	t_fail "broken file: log names file, line and column" "$(tail -3 "$TMP/castled.log")"
fi
send_udp $CLEAN $DUT4 9999 2
send_udp $BAD $DUT4 9999 2
wait_metric castle_packets_total 'reason="blocklist"' 12
t_eq "broken file: policy 3 still enforced exactly" 12 "$(xdp drop blocklist)"

# ---- stop: the gate stays ---------------------------------------------------
pid=$CASTLED_PID
e2e_stop_castled
kill -0 "$pid" 2>/dev/null && t_fail "castled exits on SIGTERM" || t_ok "castled exits on SIGTERM"
if in_dut ip link show "$DUT_IF" | grep -q xdp; then t_ok "XDP stays attached after castled stopped"
else t_fail "XDP stays attached after castled stopped"; fi
t_done
