#!/usr/bin/env bash
# test_faults_policy.sh - policy and map faults, each with a defined outcome
# (docs/SECURITY.md, "Fault injection"):
#   - a policy with more entries than the policy maps hold: refused by
#     --check and by a reload (FILE:LINE:COL), the running policy stays;
#   - the policy file deleted, emptied, or cut in the middle of a line before
#     SIGHUP: the reload fails, is counted in
#     castle_policy_reloads_total{result="failure"}, the running policy stays;
#   - a file cut at a line boundary is still a valid policy with fewer entries
#     and is applied (not detectable: write policies atomically);
#   - the manual CIDR blocklist full (65,536 entries, filled with one bpftool
#     batch): castlectl block add says "full", exit 1, nothing changed; an
#     exact address goes to its own map and is still added.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5		# blocked by the running policy
TAIL=198.18.67.7	# blocked by the last line of the policy
CLEAN=198.18.1.10
E2E_SRC_ALIASES="$BAD $TAIL $CLEAN"
RX=$TMP/rx.log

blocklist() { metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"'; }
failures() { metric castle_policy_reloads_total 'result="failure"'; }
serial() { metric castle_policy_serial; }
good_policy() { printf 'version: 1\nblock:\n  - 198.18.66.0/24\n  - 198.18.67.7\n' > "$POLICY"; chmod 0644 "$POLICY"; }
# still_enforced NAME: the running policy (both blocks) still drops, clean passes.
still_enforced() {
	local b r
	b=$(blocklist); r=$(rx_from "$RX" $CLEAN)
	send_udp $BAD $DUT4 9999 2; send_udp $TAIL $DUT4 9999 2; send_udp $CLEAN $DUT4 9999 2
	wait_metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"' $((b + 4)) 2>/dev/null
	sleep 0.3
	t_eq "$1: running policy still enforced (4 dropped, 2 received)" "4 2" \
		"$(($(blocklist) - b)) $(($(rx_from "$RX" $CLEAN) - r))"
}
# reload_fails NAME: SIGHUP fails, is counted, the serial stays.
reload_fails() {
	local f s
	f=$(failures); s=$(serial)
	castled_reload || { t_fail "$1: castled answered the reload"; return; }
	t_eq "$1: reload counted as a failure" $((f + 1)) "$(failures)"
	t_eq "$1: policy serial unchanged" "$s" "$(serial)"
	kill -0 "$CASTLED_PID" 2>/dev/null && t_ok "$1: castled still runs" || t_fail "$1: castled still runs"
}

e2e_topology || { t_fail "topology"; t_done; }
good_policy
e2e_castled || { t_fail "castled starts"; t_done; }
udp_sink 9999 "$RX"
still_enforced "start"

# ---- policy bigger than the maps ------------------------------------------------------
# 65,537 allowed IPv4 hosts: one more than pol_allow4 holds.
$PY - "$TMP/big.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("version: 1\nblock:\n  - 198.18.66.0/24\nallow:\n")
    for i in range(65537):
        f.write("  - 10.%d.%d.%d\n" % (i >> 16, (i >> 8) & 255, i & 255))
PY
chmod 0644 "$TMP/big.yaml"
out=$("$CASTLED" --check -p "$TMP/big.yaml" 2>&1); rc=$?
t_eq "policy too big: --check exits 1" 1 "$rc"
case $out in
*"$TMP/big.yaml:"*"allow: 65537 IPv4 entries, more than the 65536 the map holds"*) t_ok "policy too big: --check says which list and its capacity" ;;
*) t_fail "policy too big: --check says which list and its capacity" "$out" ;;
esac
cp "$TMP/big.yaml" "$POLICY"
reload_fails "policy too big"
castled_log_has "reload failed: $POLICY:" && castled_log_has "more than the 65536 the map holds" &&
	t_ok "policy too big: the log says why" || t_fail "policy too big: the log says why" "$(tail -3 "$TMP/castled.log")"
t_eq "policy too big: no allow entry from it" 0 "$(metric castle_allowlist_entries 'origin="policy",family="ipv4"')"
still_enforced "policy too big"

# ---- policy file deleted ---------------------------------------------------------------
rm -f "$POLICY"
reload_fails "policy deleted"
still_enforced "policy deleted"

# ---- policy file emptied (truncated to 0 bytes) ----------------------------------------
: > "$POLICY"; chmod 0644 "$POLICY"
reload_fails "policy emptied"
still_enforced "policy emptied"

# ---- cut in the middle of a line --------------------------------------------------------
printf 'version: 1\nblock:\n  - 198.18.66.0/24\n  - 198.18.6' > "$POLICY"
reload_fails "policy cut mid-line"
still_enforced "policy cut mid-line"

# ---- cut mid-key (a torn write of the header) --------------------------------------------
printf 'vers' > "$POLICY"
reload_fails "policy cut mid-key"
still_enforced "policy cut mid-key"

# ---- cut at a line boundary: valid, applied (documented limitation) ------------------------
good_policy
t_cmd "the whole file reloads" castled_reload
s=$(serial)
printf 'version: 1\nblock:\n  - 198.18.66.0/24\n' > "$POLICY"
castled_reload
t_eq "cut at a line boundary: a valid policy, applied (not detectable)" $((s + 1)) "$(serial)"
r=$(rx_from "$RX" $TAIL)
send_udp $TAIL $DUT4 9999 2
sleep 0.5
t_eq "cut at a line boundary: the lost last entry no longer blocks" $((r + 2)) "$(rx_from "$RX" $TAIL)"
good_policy
t_cmd "the whole file again" castled_reload
still_enforced "after the cuts"

# ---- manual CIDR blocklist full -----------------------------------------------------------
# 65,536 /24s (10.0.0.0/24 .. 10.255.255.0/24), one bpftool process.
$PY - "$PIN/man_net4" > "$TMP/batch" <<'PY'
import sys
val = "00 " * 16 + "00 " * 16 + "01 00 00 00 ff 00 00 00"
for i in range(65536):
    print("map update pinned %s key hex 18 00 00 00 0a %02x %02x 00 value hex %s" % (sys.argv[1], i >> 8, i & 255, val))
PY
t_cmd "manual CIDR map filled (bpftool batch)" in_dut bpftool batch file "$TMP/batch"
n=$(in_dut bpftool -j map show pinned "$PIN/man_net4" | jq .max_entries)
t_eq "man_net4 capacity" 65536 "$n"
out=$(ctl block add 198.18.99.0/24 --comment overflow 2>&1); rc=$?
t_eq "manual map full: castlectl block add exits 1" 1 "$rc"
case $out in
*"full: 65536 entries (capacity 65536); 198.18.99.0/24 not added"*) t_ok "manual map full: says full, with the capacity" ;;
*) t_fail "manual map full: says full, with the capacity" "$out" ;;
esac
ctl block list > "$TMP/list" 2>&1
t_eq "manual map full: the list holds the 65,536 and not the refused one" "65536 0" \
	"$(grep -c '^10\.' "$TMP/list") $(grep -c '198\.18\.99\.0/24' "$TMP/list")"
if js=$(ctl_list block); then
	t_eq "manual map full: no comment left behind" "" \
		"$(jq -r '.entries[] | select((.comment // "") | contains("overflow")) | .cidr' <<<"$js")"
else
	t_fail "manual map full: no comment left behind" "castlectl -j block list failed"
fi
t_cmd "manual map full: an exact address still goes in (its own map)" ctl block add 198.18.99.9
t_done
