#!/usr/bin/env bash
# test_castlectl_lists.sh - castlectl block/allow against a live gate: an entry
# takes effect on the next packet, a TTL expires, del restores traffic, JSON
# and the table agree, bad input is refused without a change, it works with
# castled down, and a non-root user gets a clear permission error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/castlectl_lib.sh"

A5=198.18.5.5 A6=198.18.6.6 A66=198.18.66.7 A6V6=2001:db8::5
E2E_SRC_ALIASES="$A5 $A6 $A66 $A6V6"

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
mode: enforce
block:
  - 198.18.66.0/24
  - { cidr: 198.18.77.7, ttl: 1h, comment: scanner }
limits:
  - name: api
    match: { proto: udp, dst_ports: [9000] }
    rate: 5/s
    burst: 5
YAML
e2e_castled || { t_fail "castled starts" "$(tail -5 "$TMP/castled.log")"; t_done; }
t_ok "castled starts"
udp_echo_start

entries() { ctl -j block list | jq -r '.entries[] | "\(.cidr) \(.origin)"' | sort; }

t_cmd "traffic flows before any block" udp_reply $A5 $DUT4

# --- block add takes effect on the next packet --------------------------
t_cmd "block add $A5" ctl block add $A5 --comment "e2e flood"
if udp_noreply $A5 $DUT4; then t_ok "blocked source gets no echo"; else t_fail "blocked source gets no echo"; fi
t_cmd "other sources still pass" udp_reply $A6 $DUT4
hits=$(ctl -j block list | jq -r ".entries[] | select(.cidr==\"$A5\") | .hits")
[ "${hits:-0}" -ge 1 ] && t_ok "the entry counts its hits ($hits)" || t_fail "entry hits" "got '$hits'"
t_eq "comment listed" "e2e flood" "$(ctl -j block list | jq -r ".entries[] | select(.cidr==\"$A5\") | .comment")"

# --- IPv6 -------------------------------------------------------------------
t_cmd "v6 traffic flows" udp_reply $A6V6 $DUT6
t_cmd "block add v6 prefix" ctl block add 2001:db8::4/126
if ! udp_reply $A6V6 $DUT6; then t_ok "v6 prefix blocks"; else t_fail "v6 prefix blocks"; fi
t_cmd "block del v6 prefix" ctl block del 2001:db8::4/126
t_cmd "v6 traffic flows again" udp_reply $A6V6 $DUT6

# --- JSON and table agree ------------------------------------------------
json=$(entries)
human=$(ctl block list | awk 'NR > 1 { print $1, $2 }' | sort)
t_eq "block list: JSON and table list the same entries" "$json" "$human"
t_eq "policy, manual and policy TTL entries listed" \
	"198.18.5.5 manual|198.18.66.0/24 policy|198.18.77.7 policy" "$(echo "$json" | paste -sd'|')"
ctl block list | grep -q '^198.18.77.7 .*policy .*5[0-9]m[0-9]*s .*scanner$' &&
	t_ok "table shows the TTL left and the policy comment" || t_fail "table TTL/comment" "$(ctl block list)"

# --- del restores traffic; refusals --------------------------------------
t_cmd "block del $A5" ctl block del $A5
t_cmd "traffic flows after del" udp_reply $A5 $DUT4
out=$(ctl block del $A5 2>&1); rc=$?
t_eq "del of a missing entry exits 1" 1 "$rc"
t_eq "... and says so" "castlectl: 198.18.5.5 is not in the blocklist" "$out"
out=$(ctl block del 198.18.66.0/24 2>&1); rc=$?
t_eq "del of a policy entry exits 1" 1 "$rc"
t_eq "... and says to edit the policy" \
	"castlectl: 198.18.66.0/24 comes from the policy file; edit the policy" "$out"

# --- TTL expires in the kernel ------------------------------------------
t_cmd "block add --ttl 2s" ctl block add $A6 --ttl 2s
t_eq "TTL entry listed" "$A6" "$(ctl_list block | jq -r ".entries[] | select(.cidr==\"$A6\") | .cidr")"
if udp_noreply $A6 $DUT4; then t_ok "TTL entry blocks"; else t_fail "TTL entry blocks"; fi
sleep 2.5
t_cmd "TTL entry expired: traffic flows" udp_reply $A6 $DUT4
if js=$(ctl_list block); then
	t_eq "expired entry no longer listed" "" "$(jq -r ".entries[] | select(.cidr==\"$A6\") | .cidr" <<<"$js")"
else
	t_fail "expired entry no longer listed" "castlectl -j block list failed"
fi

# --- a manual entry over a policy entry: a comment each ------------------
A77=198.18.77.7
comments() { ctl -j block list | jq -r ".entries[] | select(.cidr==\"$A77\") | \"\(.origin) \(.comment)\"" | sort | paste -sd'|'; }
t_cmd "block add over the policy's $A77" ctl block add $A77 --comment "operator's"
t_eq "each entry lists its own comment" "manual operator's|policy scanner" "$(comments)"
t_cmd "reload" castled_reload
t_eq "a reload keeps the operator's comment" "manual operator's|policy scanner" "$(comments)"
t_cmd "castled stops (SIGTERM), saving manual entries" castled_stop
grep -q "^block $A77 .*operator's" "$STATE/manual.state" &&
	t_ok "the state file has the operator's comment" ||
	t_fail "the state file has the operator's comment" "$(cat "$STATE/manual.state")"
e2e_castled || t_fail "castled starts again" "$(tail -5 "$TMP/castled.log")"
t_eq "after a restart: still a comment each" "manual operator's|policy scanner" "$(comments)"
t_cmd "block del of the manual entry" ctl block del $A77
t_eq "the policy entry keeps its comment" "policy scanner" "$(comments)"

# --- allow beats the policy block --------------------------------------
if udp_noreply $A66 $DUT4; then t_ok "policy block drops $A66"; else t_fail "policy block drops $A66"; fi
t_cmd "allow add $A66" ctl allow add $A66 --comment "vip"
t_cmd "allowed source passes the policy block" udp_reply $A66 $DUT4
t_eq "allow list: JSON" "198.18.66.7 manual vip" \
	"$(ctl -j allow list | jq -r '.entries[] | "\(.cidr) \(.origin) \(.comment)"')"
t_eq "allow list: table" "198.18.66.7  manual" "$(ctl allow list | awk 'NR==2 {print $1 "  " $2}')"
t_cmd "allow del" ctl allow del $A66
if udp_noreply $A66 $DUT4; then t_ok "blocked again after allow del"; else t_fail "blocked again after allow del"; fi

# --- bad input: refused, nothing changed --------------------------------
before=$(entries)
bad() { # bad NAME RC MESSAGE ARGS...
	local name=$1 want=$2 msg=$3; shift 3
	local out rc
	out=$(ctl "$@" 2>&1); rc=$?
	if [ "$rc" = "$want" ] && [[ "$out" == *"$msg"* ]]; then t_ok "$name"
	else t_fail "$name" "rc $rc (want $want): $out"; fi
}
bad "host bits set" 1 "host bits set in '198.18.5.1/24': did you mean 198.18.5.0/24 (the network) or 198.18.5.1 (the address alone)?" block add 198.18.5.1/24
bad "v6 host bits set" 1 "did you mean 2001:db8::/32 (the network)" block add 2001:db8::1/32
bad "IPv4-mapped" 1 "is an IPv4-mapped IPv6 address" block add ::ffff:198.18.5.1
bad "IPv4-compatible" 1 "for IPv4 write 198.18.5.1, for the IPv6 address ::c612:501" allow add ::198.18.5.1
bad "not an address" 1 "unknown address family" block add example.com
bad "bad prefix length" 1 "bad prefix length /40" block add 198.18.0.0/40
bad "bad duration" 1 "unknown unit in duration '10x'" block add 198.18.5.0/24 --ttl 10x
bad "duration without unit" 1 "has no unit" block add 198.18.5.0/24 --ttl 10
bad "comment too long" 1 "comment too long" block add 198.18.5.0/24 --comment "$(printf 'x%.0s' $(seq 80))"
bad "missing CIDR" 2 "missing CIDR" block add
bad "unknown option" 2 "unknown option '--forever'" block add 198.18.5.0/24 --forever
bad "unknown verb" 2 "unknown verb 'blok'" blok add 198.18.5.0/24
bad "del without CIDR" 2 "missing CIDR" block del
t_eq "bad input changed nothing" "$before" "$(entries)"
# the same address in hex is an IPv6 address, listed as written (glibc
# would print ::198.18.5.1, which add refuses)
t_cmd "block add ::c612:501 (hex)" ctl block add ::c612:501
t_eq "block list shows it in hex" "::c612:501" \
	"$(ctl -j block list | jq -r '.entries[] | select(.cidr | startswith("::c")) | .cidr')"
t_cmd "block del of the listed form" ctl block del ::c612:501
t_eq "and it is gone" "$before" "$(entries)"

# --- castled down: castlectl still blocks -------------------------------
t_cmd "castled stops (SIGTERM)" castled_stop
t_eq "status: daemon not running" "false" "$(ctl -j status | jq -r .daemon.running)"
t_cmd "block add with castled down" ctl block add $A5 --comment "daemon down"
if udp_noreply $A5 $DUT4; then t_ok "block takes effect with castled down"; else t_fail "block takes effect with castled down"; fi
t_cmd "block del with castled down" ctl block del $A5
t_cmd "traffic flows again" udp_reply $A5 $DUT4

# --- non-root: clear permission message ---------------------------------
for verb in status "block list" "block add 198.18.5.0/24" events reload "unload $DUT_IF"; do
	# shellcheck disable=SC2086
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$CASTLECTL" --pin-dir "$PIN" $verb 2>&1); rc=$?
	if [ "$rc" = 1 ] && [[ "$out" == "castlectl: permission denied opening $PIN/state: run as root or with CAP_BPF" ]]; then
		t_ok "non-root $verb: permission message"
	else
		t_fail "non-root $verb: permission message" "rc $rc: $out"
	fi
done

t_done
