#!/usr/bin/env bash
# test_castled_old_counter_pins.sh - castled starts over maps pinned by a
# build that counted classes and TLS results for all interfaces together
# (class_stats of 16 entries, tls_results of 5): it drops those two pins,
# pins its per-interface ones, and counts the class per interface. Pins of
# an older layout of any other map (state, before tick_to_mono; a TC map)
# are refused before anything is touched, so castlectl still works on them.
. "$(dirname "$0")/lib.sh"

command -v bpftool >/dev/null || { t_skip "old counter pins" "bpftool not installed"; t_done; }
e2e_topology || { t_fail topology; t_done; }
e2e_policy <<'YAML'
version: 1
limits:
  - name: dns
    match: { proto: udp, dst_ports: [5353] }
    rate: 1/h
    burst: 5
YAML
mkdir -p "$PIN"
# ---- an older state layout (castle_state without tick_to_mono: 40 bytes) ---
bpftool map create "$PIN/state" type array key 4 value 40 entries 1 name state
bpftool map create "$PIN/class_stats" type percpu_array key 4 value 32 entries 16 name class_stats
if e2e_castled; then t_fail "old state layout: castled refuses"; e2e_stop_castled
else t_ok "old state layout: castled refuses"; fi
t_cmd "old state layout: the message names the map and the way out" \
	castled_log_has "$PIN/state was pinned by a castle build with another layout"
t_eq "old state layout: the old counter pin is left alone" 16 \
	"$(bpftool -j map show pinned $PIN/class_stats | jq .max_entries)"
rm -f "$PIN"/* # (what `castlectl unload` or the operator would do)

# ---- a TC map of an older layout: nothing of the XDP side is touched either ---
bpftool map create "$PIN/tls_conns" type lru_hash key 40 value 8 entries 1024 name tls_conns
bpftool map create "$PIN/class_stats" type percpu_array key 4 value 32 entries 16 name class_stats
if e2e_castled; then t_fail "old TC map layout: castled refuses"; e2e_stop_castled
else t_ok "old TC map layout: castled refuses"; fi
t_cmd "old TC map layout: the message names the map" \
	castled_log_has "$PIN/tls_conns was pinned by a castle build with another layout"
t_eq "old TC map layout: the old counter pin is left alone, nothing else pinned" "16 class_stats tls_conns" \
	"$(bpftool -j map show pinned $PIN/class_stats | jq .max_entries) $(ls "$PIN" | sort | paste -sd' ')"
rm -f "$PIN"/*

bpftool map create "$PIN/class_stats" type percpu_array key 4 value 32 entries 16 name class_stats
bpftool map create "$PIN/tls_results" type percpu_array key 4 value 8 entries 5 name tls_results
e2e_castled || { t_fail "castled starts over old-layout counter pins"; t_done; }
t_ok "castled starts over old-layout counter pins"
t_eq "class_stats re-pinned at the new size" 1024 "$(bpftool -j map show pinned $PIN/class_stats | jq .max_entries)"
t_eq "tls_results re-pinned at the new size" 512 "$(bpftool -j map show pinned $PIN/tls_results | jq .max_entries)"
send_udp $SRC4 $DUT4 5353 8
t_eq "class counted on the interface" 3 "$(metric castle_limit_packets_total "interface=\"$DUT_IF\",limit=\"dns\",verdict=\"drop\"")"
t_done
