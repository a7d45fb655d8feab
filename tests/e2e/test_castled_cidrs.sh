#!/usr/bin/env bash
# test_castled_cidrs.sh - block CIDRs in few prefix lengths go in the
# prefix-length hashes, in many lengths in the LPM tries; either way castled
# enforces them on real traffic, counts hits on the entry that matched,
# lists them, and moves them between the two on a reload. (A policy cannot
# nest CIDRs of one list: tests/bpf/test_xdp_lists.c covers nesting.)
. "$(dirname "$0")/lib.sh"

IN24=198.18.66.5	# in 198.18.66.0/24
IN28=198.18.67.20	# in 198.18.67.16/28
IN22=198.18.73.9	# in 198.18.72.0/22
OUT=198.18.70.1		# in none
IN48=2001:db8:66::5	# in 2001:db8:66::/48
HOST=198.18.68.9	# an exact block of the TTL policy below
E2E_SRC_ALIASES="$IN24 $IN28 $IN22 $OUT $IN48 $HOST"

xdp() { metric castle_packets_total "stage=\"xdp\",verdict=\"$1\",reason=\"$2\""; }
entries() { metric castle_map_entries "map=\"$1\""; }
# expect_drops WHAT N: N blocklist drops in all, then $OUT's packet passes
# (the pass/ok counter moved since ok0) without one more drop (OUT sends last).
expect_drops() {
	wait_metric castle_packets_total 'reason="blocklist"' "$2"
	t_eq "$1: sources in the CIDRs dropped (blocklist)" "$2" "$(xdp drop blocklist)"
	wait_metric_ge castle_packets_total 'stage="xdp",verdict="pass",reason="ok"' $((ok0 + 1)) 30 &&
		t_ok "$1: the source in none is counted as passed (ok)" ||
		t_fail "$1: the source in none is counted as passed (ok)" "ok $ok0 before, $(xdp pass ok) after"
	t_eq "$1: the source in none passes (no drop counted)" "$2" "$(xdp drop blocklist)"
}
hits() { ctl -j block list | jq -r --arg c "$1" '.entries[] | select(.cidr == $c) | .hits'; }

command -v jq >/dev/null || { t_skip "CIDR maps" "jq not installed"; t_done; }
e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
  - 198.18.72.0/22
  - 198.18.67.16/28
  - 2001:db8:66::/48
YAML
e2e_castled || { t_fail "castled starts"; t_done; }
t_eq "3 IPv4 CIDRs in 3 lengths: in the hash" 3 "$(entries pol_nhash4)"
t_eq "... not in the trie" 0 "$(entries pol_net4)"
t_eq "the IPv6 CIDR: in its hash" 1 "$(entries pol_nhash6)"
t_eq "castle_blocklist_entries counts them" 3 \
	"$(metric castle_blocklist_entries 'origin="policy",family="ipv4"')"

ok0=$(xdp pass ok)
send_udp $IN24 $DUT4 9999 3
send_udp $IN28 $DUT4 9999 4
send_udp $IN22 $DUT4 9999 5
send_udp $IN48 $DUT6 9999 2
send_udp $OUT $DUT4 9999 1
expect_drops hash 14
t_eq "hits on the /24" 3 "$(hits 198.18.66.0/24)"
t_eq "hits on the /28" 4 "$(hits 198.18.67.16/28)"
t_eq "hits on the /22" 5 "$(hits 198.18.72.0/22)"
t_eq "hits on the IPv6 /48" 2 "$(hits 2001:db8:66::/48)"

# ---- nine lengths: the IPv4 CIDRs go in the trie ---------------------------
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
  - 198.18.72.0/22
  - 198.18.67.16/28
  - 198.19.0.0/20
  - 198.19.16.0/21
  - 198.19.24.0/23
  - 198.19.26.0/25
  - 198.19.26.128/26
  - 198.19.26.192/27
  - 2001:db8:66::/48
YAML
castled_reload
t_eq "reload with 9 IPv4 lengths applied" 2 "$(metric castle_policy_serial)"
t_eq "9 lengths: the IPv4 CIDRs in the trie" 9 "$(entries pol_net4)"
t_eq "... none in the hash" 0 "$(entries pol_nhash4)"
t_eq "IPv6 still in its hash" 1 "$(entries pol_nhash6)"
t_cmd "the log line counts the CIDRs in the hash" castled_log_has "0+3 IPv4 and 0+1 IPv6 blocks"
t_cmd "... and in the trie" castled_log_has "0+9 IPv4 and 0+1 IPv6 blocks"
ok0=$(xdp pass ok)
send_udp $IN24 $DUT4 9999 2
send_udp $IN28 $DUT4 9999 2
send_udp $OUT $DUT4 9999 1
expect_drops trie 18
t_eq "trie: hits on the /28" 2 "$(hits 198.18.67.16/28)"

# ---- hits across reloads (per-CPU slots, README "Counters") -----------------
# A TTL entry kept by a reload keeps its count (its slot's, carried into the
# next generation's entry), a CIDR or an exact block alike; an entry without
# a TTL starts afresh.
ttl_policy() {
	e2e_policy <<'YAML'
version: 1
block:
  - { cidr: 198.18.66.0/24, ttl: 1h }
  - 198.18.67.16/28
  - 2001:db8:66::/48
  - { cidr: 198.18.68.9, ttl: 1h }
YAML
}
ttl_policy
castled_reload
t_eq "reload with a TTL CIDR applied" 3 "$(metric castle_policy_serial)"
send_udp $IN24 $DUT4 9999 3
send_udp $IN28 $DUT4 9999 1
send_udp $HOST $DUT4 9999 2
wait_metric castle_packets_total 'reason="blocklist"' 24
t_eq "the TTL /24 counts its hits" 3 "$(hits 198.18.66.0/24)"
t_eq "the TTL exact block counts its hits" 2 "$(hits 198.18.68.9)"
ttl_policy
castled_reload
t_eq "the same policy applied again" 4 "$(metric castle_policy_serial)"
t_cmd "... its TTL entries kept" castled_log_has "2 TTLs kept"
t_eq "the kept TTL /24 kept its hits" 3 "$(hits 198.18.66.0/24)"
t_eq "the kept TTL exact block kept its hits" 2 "$(hits 198.18.68.9)"
t_eq "the /28 (no TTL) starts afresh" 0 "$(hits 198.18.67.16/28)"
send_udp $IN24 $DUT4 9999 2
wait_metric castle_packets_total 'reason="blocklist"' 26
t_eq "... and counts on from there" 5 "$(hits 198.18.66.0/24)"
# An allow CIDR counts in a slot of the same bank, after the block CIDRs.
e2e_policy <<'YAML'
version: 1
block:
  - { cidr: 198.18.66.0/24, ttl: 1h }
allow:
  - 198.18.70.0/24
YAML
castled_reload
t_eq "a policy with an allow CIDR applied" 5 "$(metric castle_policy_serial)"
send_udp $OUT $DUT4 9999 3
wait_metric castle_packets_total 'stage="xdp",verdict="pass",reason="allowlist"' 3
t_eq "the allow CIDR counts its hits" 3 \
	"$(ctl -j allow list | jq -r '.entries[] | select(.cidr == "198.18.70.0/24") | .hits')"
if castled_log_has "per-CPU hit counters ("; then
	t_fail "no per-CPU hit counter warning" "$(grep -F 'hit counters' "$TMP/castled.log")"
else
	t_ok "no per-CPU hit counter warning"
fi
t_done
