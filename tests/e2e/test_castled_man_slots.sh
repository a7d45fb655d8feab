#!/usr/bin/env bash
# test_castled_man_slots.sh - manual and auto entries count their hits in
# per-CPU slots of man_hits (README "Counters"): a CIDR and an allow CIDR
# added with castlectl and an auto-ban each claim one (the listing counts
# every packet; the class of the ban is kept beside its slot); a deleted
# entry's slot goes back to the free bitmap by castled's sweep (15 s after),
# castle_map_entries{map="man_hits"} counts the slots claimed, and a
# restarted castled frees none that a live entry names, even with its
# man_slots pinned anew.
. "$(dirname "$0")/lib.sh"

IN80=198.18.80.5	# in the manual block 198.18.80.0/24
IN81=198.18.81.5	# in the manual allow 198.18.81.0/24
FLOOD=198.18.82.2	# banned by the "api" limit
E2E_SRC_ALIASES="$IN80 $IN81 $FLOOD"

hits() { ctl -j "$1" list | jq -r --arg c "$2" '.entries[] | select(.cidr == $c) | .hits'; }
# slots_used: the bits set in man_slots after its header word (bpftool's
# dump of an array of u64: key and value as byte lists), and the metric
# castled serves from the same bitmap.
slots_used() {
	in_dut bpftool -j map dump pinned "$PIN/man_slots" | $PY -c '
import json, sys
n = 0
for e in json.load(sys.stdin):
    k = int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little")
    v = int.from_bytes(bytes(int(b, 16) for b in e["value"]), "little")
    n += bin(v).count("1") if k else 0
print(n)'
}
slots_metric() { metric castle_map_entries 'map="man_hits"'; }
# wait_slots N SECS: until N slots are claimed (castled sweeps each second and
# frees a slot no entry has named for 15 s).
wait_slots() {
	local i
	for i in $(seq $(($2 * 2))); do [ "$(slots_used)" = "$1" ] && return 0; sleep 0.5; done
	return 1
}

command -v jq >/dev/null || { t_skip "manual hit slots" "jq not installed"; t_done; }
e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
limits:
  - name: api
    match: { proto: udp, dst_ports: [9400] }
    rate: 1/h
    burst: 2
    ban: { after: 2, for: 1h }
YAML
e2e_castled || { t_fail "castled starts"; t_done; }
t_eq "no slot claimed before any manual entry" 0 "$(slots_used)"

t_cmd "block add 198.18.80.0/24" ctl block add 198.18.80.0/24
t_cmd "allow add 198.18.81.0/24" ctl allow add 198.18.81.0/24
t_eq "each claimed a slot" 2 "$(slots_used)"
d0=$(xdp_count drop blocklist)
send_udp $IN80 $DUT4 9999 7
send_udp $IN81 $DUT4 9999 3
wait_metric castle_packets_total 'reason="blocklist"' $((d0 + 7))
t_eq "the manual /24 counts every packet" 7 "$(hits block 198.18.80.0/24)"
t_eq "the manual allow /24 counts every packet" 3 "$(hits allow 198.18.81.0/24)"

# 2 pass (burst), 2 drop in a row: banned; 5 more drop as autoban
send_udp $FLOOD $DUT4 9400 4
a0=$(xdp_count drop autoban)
send_udp $FLOOD $DUT4 9400 5
wait_metric castle_packets_total 'reason="autoban"' $((a0 + 5))
t_eq "the auto-ban claimed a slot in the program" 3 "$(slots_used)"
t_eq "castle_map_entries{map=\"man_hits\"} says so" 3 "$(slots_metric)"
t_eq "castle_map_capacity{map=\"man_hits\"}: the slots there are" \
	"$(in_dut bpftool -j map show pinned "$PIN/man_hits" | jq '.max_entries')" \
	"$(metric castle_map_capacity 'map="man_hits"')"
t_eq "the auto-ban counts every packet" 5 "$(hits block $FLOOD)"
t_eq "the auto-ban keeps its class beside the slot" api \
	"$(ctl -j block list | jq -r --arg c $FLOOD '.entries[] | select(.cidr == $c) | .class')"

t_cmd "block del 198.18.80.0/24" ctl block del 198.18.80.0/24
sleep 11
t_eq "the slot is not freed at once (the sweep waits 15 s, not two sweeps)" 3 "$(slots_used)"
wait_slots 2 25 && t_ok "castled's sweep frees the deleted entry's slot" ||
	t_fail "castled's sweep frees the deleted entry's slot" "$(slots_used) claimed"
t_cmd "block add 198.18.80.0/24 again" ctl block add 198.18.80.0/24
send_udp $IN80 $DUT4 9999 2
wait_metric castle_packets_total 'reason="blocklist"' $((d0 + 9))
t_eq "added again, it counts from zero" 2 "$(hits block 198.18.80.0/24)"

# A restarted castled starts its sweep afresh: after the sweep's age, every
# slot a live entry names is still claimed and still counts. A man_slots
# pinned anew (here: its pin removed while castled is down) gets the slots
# the entries name marked taken at start.
e2e_stop_castled
in_dut rm -f "$PIN/man_slots"
castled_log_mark
e2e_castled || { t_fail "castled restarts"; t_done; }
castled_log_new_has "3 hit slots of manual entries marked taken" &&
	t_ok "a man_slots pinned anew: castled marks the 3 named slots taken" ||
	t_fail "a man_slots pinned anew: castled marks the 3 named slots taken" "$(tail -5 "$TMP/castled.log")"
# the running program claims in the old bitmap: castled must not keep it
castled_log_new_has "XDP replaced in place" &&
	t_ok "... and replaces the program that used the old bitmap" ||
	t_fail "... and replaces the program that used the old bitmap" "$(grep XDP "$TMP/castled.log")"
sleep 21
t_eq "after a restart and the sweep's age, the live entries keep their slots" 3 "$(slots_used)"
t_eq "... and their hits (block)" 2 "$(hits block 198.18.80.0/24)"
t_eq "... (allow)" 3 "$(hits allow 198.18.81.0/24)"
t_eq "... (auto-ban)" 5 "$(hits block $FLOOD)"
castled_log_has "sweep the hit slots" && t_fail "no sweep failed" "$(grep sweep "$TMP/castled.log")" ||
	t_ok "no sweep failed"
t_done
