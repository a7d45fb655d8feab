#!/usr/bin/env bash
# test_castled_policy_keys.sh - the policy keys no other e2e test drives, on
# real traffic through the veth with the real castled and castlectl: `mode:
# dry-run` (would-drops delivered and counted as pass with their reason, then
# enforced after a reload), `allow:` beating `block:` and limits, `malformed:
# drop` and `pass` on a cut UDP header (IPv4 and IPv6) and on IPv6 headers that
# are cut or claim more than the frame holds, a `bytes:` + `byte_burst:` limit,
# `match.src` of a class (IPv4 and IPv6 sources), a `proto: icmp` class, `ban:` (autoban, its
# expiry), and a reload that makes the class at a position more generous. Each check asserts what reached the receiver (where a socket or
# ping can see it) and the exact counter deltas by verdict and reason.
. "$(dirname "$0")/lib.sh"

DRY_BAD=198.18.66.5	# in block 198.18.66.0/24 (dry-run, then enforced)
DRY_LIM=198.18.67.1	# over the dry-run policy's limit with a ban
ALLOWED=198.18.66.7	# allowed inside the blocked /24
MAL=198.18.40.1		# sends cut UDP headers
MAL_LIM=198.18.41.1	# sends cut UDP headers under a limit (malformed: pass)
MAL6=2001:db8:40::1	# sends malformed IPv6
MAL_LIM6=2001:db8:41::1	# sends malformed IPv6 under a limit (malformed: pass)
BIG=198.18.80.1		# over the byte budget, not the packet budget
SMALL=198.18.80.2	# same class, small datagrams
IN_NET=198.18.50.1	# inside class "nets" src
OUT_NET=198.18.51.1	# outside it
IN_NET6=2001:db8:50::1	# inside class "nets" src (its IPv6 prefix)
OUT_NET6=2001:db8:51::1	# outside it
PINGER=198.18.60.1	# pings over the icmp class
ABUSER=198.18.70.1	# gets auto-banned
SWAPPED=198.18.71.1	# drains a strict class that a reload makes generous
DRY_BAD6=2001:db8:bad::5	# in block 2001:db8:bad::/48
ALLOWED6=2001:db8:bad::7	# allowed inside it
E2E_SRC_ALIASES="$DRY_BAD $DRY_LIM $ALLOWED $MAL $MAL_LIM $BIG $SMALL $IN_NET $OUT_NET $PINGER $ABUSER $SWAPPED $DRY_BAD6 $ALLOWED6 $MAL6 $MAL_LIM6 $IN_NET6 $OUT_NET6"

# ---- helpers of this file ---------------------------------------------------

# class_count CLASS VERDICT: castle_limit_packets_total of the dut interface.
class_count() {
	local v
	v=$(in_dut curl -sf "http://$METRICS/metrics" | grep -E '^castle_limit_packets_total\{' |
		grep -F "interface=\"$DUT_IF\"" | grep -F "limit=\"$1\"" |
		grep -F "verdict=\"$2\"" | awk '{print $NF}' | head -1)
	echo "${v:-0}"
}
# A counter key is VERDICT/REASON (xdp stage) or lim/CLASS/VERDICT.
cnt() {
	case $1 in
	lim/*) local n=${1#lim/}; class_count "${n%/*}" "${n#*/}" ;;
	*) xdp_count "${1%/*}" "${1#*/}" ;;
	esac
}
declare -A BASE
# snap KEY...: remember the counters now; delta KEY: how much each moved since.
snap() { local k; for k in "$@"; do BASE[$k]=$(cnt "$k"); done; }
delta() { echo $(($(cnt "$1") - ${BASE[$1]:-0})); }
# wait_eq WANT CMD...: run CMD until it prints WANT (at most 3 s); print what it
# printed last, for t_eq to compare.
wait_eq() {
	local want=$1 i v=
	shift
	for i in $(seq 30); do
		v=$("$@")
		[ "$v" = "$want" ] && break
		sleep 0.1
	done
	echo "$v"
}
# expect NAME KEY WANT: the counter KEY moved by exactly WANT since snap.
# Checks of positive deltas go first: once they are met the packets have
# been judged, and a zero delta checked after them means zero.
expect() { t_eq "$1" "$3" "$(wait_eq "$3" delta "$2")"; }
# expect_rx NAME FILE SRC WANT: the sink FILE saw exactly WANT datagrams from
# SRC (waits up to 3 s; a WANT of 0 is checked after the counters settled).
expect_rx() { t_eq "$1" "$4" "$(wait_eq "$4" rx_from "$2" "$3")"; }

# reload_ok NAME: SIGHUP castled (lib.sh's castled_reload) and check the reload
# succeeded: success counter +1, serial +1.
reload_ok() {
	local ok0 s0
	ok0=$(metric castle_policy_reloads_total 'result="success"')
	s0=$(metric castle_policy_serial)
	if castled_reload && [ "$(metric castle_policy_reloads_total 'result="success"')" = $((ok0 + 1)) ] &&
		[ "$(metric castle_policy_serial)" = $((s0 + 1)) ]; then
		t_ok "$1"
	else
		t_fail "$1" "reloads ok $ok0 -> $(metric castle_policy_reloads_total 'result="success"'), serial $s0 -> $(metric castle_policy_serial); $(tail -2 "$TMP/castled.log")"
	fi
}

# send_cut_udp SRC DST DPORT COUNT: IPv4 datagrams whose total length (24)
# covers only the first 4 bytes of the UDP header (the ports): a truncated
# transport header, consistent at the IP layer.
send_cut_udp() {
	in_src $PY - "$@" <<'PY'
import struct, sys
from scapy.all import IP, Raw, send, conf
conf.verb = 0
src, dst, dport, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
p = IP(src=src, dst=dst, proto=17) / Raw(struct.pack("!HH", 40000, dport))
assert len(bytes(p)) == 24
send(p, count=count, inter=0)
PY
}

# send_bad6 KIND SRC DST DPORT COUNT: COUNT malformed IPv6 frames to the dut's
# MAC, built at layer 2 so that nothing below scapy fixes their lengths up.
# KIND cut: payload_len 4 covers only the ports of the UDP header (a truncated
# transport header; the source is known). long: a whole UDP datagram whose
# payload_len claims 200 bytes more than the frame holds. hdr: the frame ends
# 24 bytes into the 40-byte IPv6 header. The last two have no trustworthy
# source (malformed at layer 3).
send_bad6() {
	in_src $PY - "$SRC_IF" "$(in_dut ip -j link show dev "$DUT_IF" | jq -r '.[0].address')" "$@" <<'PY'
import struct, sys
from scapy.all import Ether, IPv6, UDP, Raw, sendp, conf
conf.verb = 0
ifc, mac, kind, src, dst = sys.argv[1:6]
dport, count = int(sys.argv[6]), int(sys.argv[7])
eth = Ether(dst=mac, type=0x86DD)
if kind == "cut":
    p = eth / IPv6(src=src, dst=dst, nh=17, plen=4) / Raw(struct.pack("!HH", 40000, dport))
    assert len(bytes(p)) == 14 + 40 + 4
elif kind == "long":
    udp = bytes(UDP(sport=40000, dport=dport) / Raw(b"castle"))
    p = eth / IPv6(src=src, dst=dst, nh=17, plen=len(udp) + 200) / Raw(udp)
    assert len(bytes(p)) == 14 + 40 + 14
else:
    p = eth / Raw(bytes(IPv6(src=src, dst=dst, nh=17, plen=0))[:24])
    assert len(bytes(p)) == 14 + 24
sendp(p, iface=ifc, count=count, inter=0)
PY
}

# send_icmp SRC DST COUNT: COUNT echo requests (scapy, no wait for replies).
send_icmp() {
	in_src $PY - "$@" <<'PY'
import sys
from scapy.all import IP, ICMP, Raw, send, conf
conf.verb = 0
src, dst, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
send(IP(src=src, dst=dst) / ICMP(id=77) / Raw(b"castle"), count=count, inter=0)
PY
}

# ping_received SRC DST COUNT: how many of COUNT pings (0.2 s apart) were
# answered (the last waited for 1 s).
ping_received() {
	in_src timeout 8 ping -n -q -c "$3" -i 0.2 -W 1 -I "$1" "$2" 2>/dev/null |
		sed -n 's/.* \([0-9]*\) received.*/\1/p'
}

# auto_entries: castle_blocklist_entries of origin auto, all families.
auto_entries() {
	in_dut curl -sf "http://$METRICS/metrics" | grep -E '^castle_blocklist_entries\{' |
		grep -F 'origin="auto"' | awk '{s += $NF} END {print s + 0}'
}

command -v jq >/dev/null || { t_skip "policy keys" "jq not installed"; t_done; }
e2e_topology || { t_fail "topology"; t_done; }
SINK=$TMP/rx9999 SINK_LIM=$TMP/rx9300
udp_sink 9999 "$SINK"
udp_sink 9300 "$SINK_LIM"
udp_sink 9100 "$TMP/rx9100"
udp_sink 9200 "$TMP/rx9200"
SINK6=$TMP/rx9999v6
udp_sink 9999 "$SINK6" 6

# ---- 1. mode: dry-run, then enforce -----------------------------------------
e2e_policy <<'YAML'
version: 1
mode: dry-run
block:
  - 198.18.66.0/24
  - 2001:db8:bad::/48
limits:
  - name: dry
    match: { proto: udp, dst_ports: [9300] }
    rate: 1/h
    burst: 2
    ban: { after: 2, for: 1m }
YAML
if e2e_castled; then t_ok "castled starts with a dry-run policy"; else t_fail "castled starts"; t_done; fi
t_eq "dry-run: castle_policy_dry_run reads 1" 1 "$(metric castle_policy_dry_run)"
t_eq "dry-run: castlectl status says mode dry-run" dry-run "$(ctl -j status | jq -r '.policy.mode')"

snap pass/blocklist drop/blocklist pass/ratelimit drop/ratelimit lim/dry/pass lim/dry/drop drop/autoban
send_udp $DRY_BAD $DUT4 9999 10
send_udp $DRY_LIM $DUT4 9300 8
send_udp $DRY_BAD6 $DUT6 9999 4
expect "dry-run: 10 + 4 (IPv6) blocklisted datagrams counted pass/blocklist" pass/blocklist 14
expect "dry-run: 6 over the limit (burst 2 of 8) counted pass/ratelimit" pass/ratelimit 6
expect "dry-run: class counts all 8 as pass" lim/dry/pass 8
expect "dry-run: class counts no drop" lim/dry/drop 0
expect "dry-run: no drop/blocklist" drop/blocklist 0
expect "dry-run: no drop/ratelimit" drop/ratelimit 0
expect "dry-run: no drop/autoban" drop/autoban 0
expect_rx "dry-run: all 10 from the blocklisted source delivered" "$SINK" $DRY_BAD 10
expect_rx "dry-run: all 4 from the blocklisted IPv6 source delivered" "$SINK6" $DRY_BAD6 4
expect_rx "dry-run: all 8 from the limited source delivered" "$SINK_LIM" $DRY_LIM 8
t_eq "dry-run: 6 drops in a row wrote no auto-ban (ban after 2)" 0 "$(auto_entries)"

# enforce, through castlectl reload
sed -i 's/^mode: dry-run/mode: enforce/' "$POLICY"
s0=$(metric castle_policy_serial)
t_cmd "castlectl reload applies mode: enforce" ctl reload
t_eq "enforce: serial moved by one" $((s0 + 1)) "$(metric castle_policy_serial)"
t_eq "enforce: castle_policy_dry_run reads 0" 0 "$(metric castle_policy_dry_run)"
t_eq "enforce: castlectl status says mode enforce" enforce "$(ctl -j status | jq -r '.policy.mode')"
snap pass/blocklist drop/blocklist pass/ok
send_udp $DRY_BAD $DUT4 9999 10
send_udp $DRY_BAD6 $DUT6 9999 4
send_udp $SRC4 $DUT4 9999 3
expect "enforce: the same 10 + 4 datagrams dropped (drop/blocklist)" drop/blocklist 14
expect "enforce: unlisted source still passes (pass/ok)" pass/ok 3
expect "enforce: no pass/blocklist" pass/blocklist 0
expect_rx "enforce: unlisted source delivered" "$SINK" $SRC4 3
expect_rx "enforce: nothing more from the blocklisted source (still 10)" "$SINK" $DRY_BAD 10
expect_rx "enforce: nothing more from the blocklisted IPv6 source (still 4)" "$SINK6" $DRY_BAD6 4

# ---- 2. allow beats block (and limits) --------------------------------------
e2e_policy <<'YAML'
version: 1
allow:
  - 198.18.66.7
  - 2001:db8:bad::7
block:
  - 198.18.66.0/24
  - 2001:db8:bad::/48
limits:
  - name: all9300
    match: { proto: udp, dst_ports: [9300] }
    rate: 1/h
    burst: 1
YAML
reload_ok "allow: reload with 198.18.66.7 allowed inside the blocked /24"
snap pass/allowlist drop/blocklist pass/blocklist lim/all9300/pass lim/all9300/drop drop/ratelimit
send_udp $ALLOWED $DUT4 9999 6
send_udp $ALLOWED $DUT4 9300 5
send_udp $DRY_BAD $DUT4 9999 4
send_udp $ALLOWED6 $DUT6 9999 3
send_udp $DRY_BAD6 $DUT6 9999 2
expect "allow: 11 + 3 (IPv6) datagrams of the allowed sources counted pass/allowlist" pass/allowlist 14
expect "allow: their neighbours still dropped, 4 + 2 (drop/blocklist)" drop/blocklist 6
expect "allow: no pass/blocklist" pass/blocklist 0
expect "allow: the allowed source is not limited (no drop/ratelimit)" drop/ratelimit 0
expect "allow: the class never saw it (pass)" lim/all9300/pass 0
expect "allow: the class never saw it (drop)" lim/all9300/drop 0
expect_rx "allow: all 6 delivered despite the block" "$SINK" $ALLOWED 6
expect_rx "allow: all 5 delivered despite the limit (burst 1)" "$SINK_LIM" $ALLOWED 5
expect_rx "allow: the blocked neighbour got nothing more" "$SINK" $DRY_BAD 10
expect_rx "allow: all 3 delivered from the allowed IPv6 source" "$SINK6" $ALLOWED6 3
expect_rx "allow: the blocked IPv6 neighbour got nothing more" "$SINK6" $DRY_BAD6 4

# ---- 3. malformed: drop, then pass ------------------------------------------
e2e_policy <<'YAML'
version: 1
malformed: drop
limits:
  - name: mal
    match: { src: [198.18.41.0/24, "2001:db8:41::/48"] }
    rate: 1/h
    burst: 2
YAML
reload_ok "malformed: drop policy applied"
snap drop/malformed pass/malformed pass/ok drop/ratelimit
send_cut_udp $MAL $DUT4 9999 7
send_udp $MAL $DUT4 9999 1
expect "malformed: drop: 7 cut UDP headers counted drop/malformed" drop/malformed 7
expect "malformed: drop: the source's whole datagram passes (pass/ok)" pass/ok 1
expect "malformed: drop: no pass/malformed" pass/malformed 0
expect_rx "malformed: drop: the whole datagram delivered" "$SINK" $MAL 1
# IPv6: a cut UDP header, a payload_len beyond the frame, a cut IPv6 header.
snap drop/malformed pass/malformed pass/ok drop/ratelimit
send_bad6 cut $MAL6 $DUT6 9999 5
expect "malformed: drop: 5 cut IPv6 UDP headers counted drop/malformed" drop/malformed 5
send_bad6 long $MAL6 $DUT6 9999 4
expect "malformed: drop: 4 IPv6 payload_len beyond the frame counted drop/malformed" drop/malformed 9
send_bad6 hdr $MAL6 $DUT6 9999 3
expect "malformed: drop: 3 cut IPv6 headers counted drop/malformed" drop/malformed 12
send_udp $MAL6 $DUT6 9999 1
expect "malformed: drop: the IPv6 source's whole datagram passes (pass/ok)" pass/ok 1
expect "malformed: drop: no IPv6 pass/malformed" pass/malformed 0
expect "malformed: drop: no IPv6 drop/ratelimit" drop/ratelimit 0
expect_rx "malformed: drop: the whole IPv6 datagram delivered" "$SINK6" $MAL6 1

sed -i 's/^malformed: drop/malformed: pass/' "$POLICY"
reload_ok "malformed: pass policy applied"
snap drop/malformed pass/malformed drop/ratelimit lim/mal/pass lim/mal/drop
send_cut_udp $MAL $DUT4 9999 7
expect "malformed: pass: 7 cut UDP headers counted pass/malformed" pass/malformed 7
expect "malformed: pass: no drop/malformed" drop/malformed 0
# A cut header is still charged to its source's limit: burst 2 of 5 pass.
send_cut_udp $MAL_LIM $DUT4 9999 5
expect "malformed: pass: limited source, 3 of 5 cut headers drop/ratelimit" drop/ratelimit 3
expect "malformed: pass: limited source, 2 (burst) more pass/malformed" pass/malformed 9
expect "malformed: pass: the class counts 2 pass" lim/mal/pass 2
expect "malformed: pass: the class counts 3 drop" lim/mal/drop 3
expect "malformed: pass: still no drop/malformed" drop/malformed 0
# IPv6, same policy: every kind passes counted; a cut transport header is
# charged to its source's class (burst 2 of 5 pass, then drop/ratelimit), a
# frame without a trustworthy source is not (malformed before the classes).
snap drop/malformed pass/malformed drop/ratelimit lim/mal/pass lim/mal/drop
send_bad6 cut $MAL6 $DUT6 9999 5
send_bad6 long $MAL6 $DUT6 9999 4
send_bad6 hdr $MAL6 $DUT6 9999 3
expect "malformed: pass: 5 + 4 + 3 malformed IPv6 frames counted pass/malformed" pass/malformed 12
send_bad6 cut $MAL_LIM6 $DUT6 9999 5
expect "malformed: pass: limited IPv6 source, 3 of 5 cut headers drop/ratelimit" drop/ratelimit 3
expect "malformed: pass: limited IPv6 source, 2 (burst) more pass/malformed" pass/malformed 14
send_bad6 long $MAL_LIM6 $DUT6 9999 2
send_bad6 hdr $MAL_LIM6 $DUT6 9999 2
expect "malformed: pass: limited IPv6 source, 2 + 2 without a trustworthy source pass/malformed" pass/malformed 18
expect "malformed: pass: ... and are not charged to the class (still 3 drop/ratelimit)" drop/ratelimit 3
expect "malformed: pass: the class counts 2 IPv6 pass" lim/mal/pass 2
expect "malformed: pass: the class counts 3 IPv6 drop" lim/mal/drop 3
expect "malformed: pass: no IPv6 drop/malformed" drop/malformed 0

# ---- 4. bytes: + byte_burst --------------------------------------------------
# 958 bytes of payload make 1000-byte frames (14 + 20 + 8 + 958). A byte
# budget of 5000B admits 5 of them at once, refilled at 100 B/s (a tenth of
# a frame per second); the packet budget (1000/s, burst 1000) admits all.
e2e_policy <<'YAML'
version: 1
limits:
  - name: bulk
    match: { proto: udp, dst_ports: [9100] }
    rate: 1000/s
    burst: 1000
    bytes: 100B/s
    byte_burst: 5000B
YAML
reload_ok "bytes: policy applied"
snap pass/ok drop/ratelimit lim/bulk/pass lim/bulk/drop
send_udp $BIG $DUT4 9100 20 "$(printf 'x%.0s' $(seq 958))"
send_udp $SMALL $DUT4 9100 20 small
expect "bytes: 5 + 20 pass (pass/ok)" pass/ok 25
expect "bytes: 15 of the 1000-byte frames over 5000B drop/ratelimit" drop/ratelimit 15
expect "bytes: class counts 25 pass" lim/bulk/pass 25
expect "bytes: class counts 15 drop" lim/bulk/drop 15
expect_rx "bytes: 5 big datagrams delivered" "$TMP/rx9100" $BIG 5
expect_rx "bytes: all 20 small datagrams (20 x 60 B) delivered" "$TMP/rx9100" $SMALL 20

# ---- 5. match.src -----------------------------------------------------------
# "nets" is the second class: token buckets are kept per class slot across
# reloads, and slot 0 holds the sources of the sections above.
e2e_policy <<'YAML'
version: 1
limits:
  - name: tcp1
    match: { proto: tcp, dst_ports: [1] }
    rate: 1/s
  - name: nets
    match: { src: [198.18.50.0/24, "2001:db8:50::/48"] }
    rate: 1/h
    burst: 2
YAML
reload_ok "match.src: policy applied"
# match_src TAG IN OUT DST SINK TRACKED: 6 datagrams from a source inside
# the class's prefix (the burst of 2 passes) and 6 from one outside (all pass);
# TRACKED sources of the class after it.
match_src() {
	local tag=$1 in=$2 out=$3 dst=$4 sink=$5 tracked=$6

	snap pass/ok drop/ratelimit lim/nets/pass lim/nets/drop
	send_udp "$in" "$dst" 9999 6
	send_udp "$out" "$dst" 9999 6
	expect "match.src:$tag 2 + 6 pass (pass/ok)" pass/ok 8
	expect "match.src:$tag 4 from inside the prefix drop/ratelimit" drop/ratelimit 4
	expect "match.src:$tag class counts 2 pass" lim/nets/pass 2
	expect "match.src:$tag class counts 4 drop" lim/nets/drop 4
	t_eq "match.src:$tag $tracked source(s) tracked (those inside)" "$tracked" \
		"$(metric castle_tracked_sources 'limit="nets"')"
	expect_rx "match.src:$tag burst of 2 delivered from inside" "$sink" "$in" 2
	expect_rx "match.src:$tag all 6 delivered from outside" "$sink" "$out" 6
}
match_src "" "$IN_NET" "$OUT_NET" "$DUT4" "$SINK" 1
# The class's IPv6 prefix (one v4 and one v6 source inside by then).
match_src " IPv6," "$IN_NET6" "$OUT_NET6" "$DUT6" "$SINK6" 2

# ---- 6. proto: icmp ---------------------------------------------------------
e2e_policy <<'YAML'
version: 1
limits:
  - name: ping
    match: { proto: icmp }
    rate: 1/h
    burst: 3
YAML
reload_ok "proto icmp: policy applied"
snap pass/ok drop/ratelimit lim/ping/pass lim/ping/drop
t_eq "proto icmp: 3 of 6 pings answered" 3 "$(ping_received $PINGER $DUT4 6)"
expect "proto icmp: class counts 3 pass" lim/ping/pass 3
expect "proto icmp: class counts 3 drop" lim/ping/drop 3
expect "proto icmp: 3 pings drop/ratelimit" drop/ratelimit 3
snap pass/ok drop/ratelimit lim/ping/pass lim/ping/drop
send_icmp $PINGER $DUT4 4
send_udp $PINGER $DUT4 9999 10
expect "proto icmp: 4 more echo requests drop/ratelimit" drop/ratelimit 4
expect "proto icmp: UDP of the same source passes (pass/ok)" pass/ok 10
expect "proto icmp: the class did not see the UDP" lim/ping/pass 0
expect_rx "proto icmp: the 10 UDP datagrams delivered" "$SINK" $PINGER 10

# ---- 7. ban: ----------------------------------------------------------------
e2e_policy <<'YAML'
version: 1
limits:
  - name: abuse
    match: { proto: udp, dst_ports: [9200] }
    rate: 1/h
    burst: 2
    ban: { after: 3, for: 8s }   # long enough for the checks while banned
YAML
reload_ok "ban: policy applied"
snap pass/ok drop/ratelimit drop/autoban lim/abuse/drop
send_udp $ABUSER $DUT4 9200 5
expect "ban: 3 over the limit drop/ratelimit" drop/ratelimit 3
t_eq "ban: the third drop in a row auto-banned the source" 1 "$(wait_eq 1 auto_entries)"
t_eq "ban: castlectl block list shows it, origin auto" auto \
	"$(ctl -j block list | jq -r --arg c "$ABUSER" '.entries[] | select(.cidr == $c or .cidr == ($c + "/32")) | .origin')"
send_udp $ABUSER $DUT4 9200 4
send_udp $ABUSER $DUT4 9999 2
expect "ban: 6 more, any port, drop/autoban" drop/autoban 6
expect "ban: no more drop/ratelimit while banned" drop/ratelimit 3
expect "ban: the class saw only its own 3 drops" lim/abuse/drop 3
expect_rx "ban: 2 (burst) delivered" "$TMP/rx9200" $ABUSER 2
expect_rx "ban: nothing to the other port while banned" "$SINK" $ABUSER 0
# for: 8s - the kernel stops enforcing it, castled sweeps it (12 s at most).
for i in $(seq 120); do [ "$(auto_entries)" = 0 ] && break; sleep 0.1; done
t_eq "ban: expired and swept within 12 s" 0 "$(auto_entries)"
snap drop/autoban pass/ok
send_udp $ABUSER $DUT4 9999 3
expect "ban: after expiry another port passes (pass/ok)" pass/ok 3
expect "ban: after expiry no drop/autoban" drop/autoban 0
expect_rx "ban: after expiry delivered" "$SINK" $ABUSER 3

# ---- 8. reload: a strict class made generous ---------------------------------
# Buckets are kept by class (its name's slot); the new limit must apply at
# once, not after the hours of debt the old 1/h class left (README,
# "Reloads").
e2e_policy <<'YAML'
version: 1
limits:
  - name: strict
    match: { proto: udp, dst_ports: [9100] }
    rate: 1/h
    burst: 2
YAML
reload_ok "reload: strict class applied"
snap drop/ratelimit
send_udp $SWAPPED $DUT4 9100 4
expect "reload: 2 of 4 over the strict class" drop/ratelimit 2
e2e_policy <<'YAML'
version: 1
limits:
  - name: strict
    match: { proto: udp, dst_ports: [9100] }
    rate: 10/s
    burst: 100
YAML
reload_ok "reload: the class made generous"
snap drop/ratelimit lim/strict/pass
# Two back to back (one scapy call, well under the 100 ms a token takes at
# 10/s): the first is refused and cuts the bucket to an empty one, the second
# finds it empty; a refilled bucket (burst 100) would pass it.
send_udp $SWAPPED $DUT4 9100 2
expect "reload: the drained bucket is cut to an empty one, not refilled (2 drops)" drop/ratelimit 2
sleep 0.8
send_udp $SWAPPED $DUT4 9100 5
expect "reload: then the new rate admits (5 of 5 after 0.8 s at 10/s)" lim/strict/pass 5
expect "reload: no more drops" drop/ratelimit 2
expect_rx "reload: 2 + 5 delivered" "$TMP/rx9100" $SWAPPED 7

t_done
