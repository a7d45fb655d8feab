#!/usr/bin/env bash
# test_castled_upgrade.sh - an operator upgrades castle under traffic, and
# goes back: castled of an older build (UPGRADE_BASE, default c274410, the
# last before the manual/auto entries' hit slots) runs the gate with a
# policy, a manual block and an auto-ban; castled of this build takes its
# pins over (the program replaced in place, the entries and their counts
# kept, the maps the older build lacked pinned beside them); entries written
# now get hit slots; the older castlectl still lists the pins and reloads;
# and the older castled, started again, keeps enforcing every entry, slotted
# or not, and this castlectl's reload still gets its verdict.
# The older build is made from `git archive` once, under build/upgrade-base/.
. "$(dirname "$0")/lib.sh"

BASE=${UPGRADE_BASE:-c274410}
OLD=$BUILD/upgrade-base/$BASE
NEW_CASTLED=$CASTLED
BAD=198.18.66.5		# the policy's block
MAN=198.18.80.5		# a manual /24 the older castlectl adds
FLOOD=198.18.82.2	# auto-banned under the older build
NEWMAN=198.18.83.5	# a manual /24 this build's castlectl adds
FLOOD2=198.18.84.2	# auto-banned under this build
E2E_SRC_ALIASES="$BAD $MAN $FLOOD $NEWMAN $FLOOD2"

octl() { in_dut "$OLD/build/castlectl" --pin-dir "$PIN" "$@"; }
# notes CTL: "cidr origin comment" of every commented entry
notes() { "$@" -j block list | jq -r '[.entries[] | select(.comment) | "\(.cidr) \(.origin) \(.comment)"] | sort | join("|")'; }
hits() { ctl -j block list | jq -r --arg c "$1" '.entries[] | select(.cidr == $c) | .hits'; }
drops() { metric castle_packets_total "stage=\"xdp\",verdict=\"drop\",reason=\"$1\""; }
# send_wait SRC DPORT N REASON: N datagrams, then until castled counts them
send_wait() {
	local d0
	d0=$(drops "$4")
	send_udp "$1" $DUT4 "$2" "$3"
	wait_metric castle_packets_total "reason=\"$4\"" $((${d0:-0} + $3))
}

build_old() {
	[ -x "$OLD/build/castled" ] && [ -x "$OLD/build/castlectl" ] && return 0
	# not the settings of a `make test` this runs under (O=, -j, ...)
	rm -rf "$OLD" && mkdir -p "$OLD" &&
		git -c safe.directory="$E2E_ROOT" -C "$E2E_ROOT" archive "$BASE" | tar -x -C "$OLD" &&
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -C "$OLD" O=build -j"$(nproc)" \
			build/castled build/castlectl >"$OLD.log" 2>&1
}

command -v jq >/dev/null || { t_skip "upgrade" "jq not installed"; t_done; }
why=$(git -c safe.directory="$E2E_ROOT" -C "$E2E_ROOT" cat-file -e "$BASE^{commit}" 2>&1) ||
	{ t_skip "upgrade from $BASE" "no commit $BASE in this checkout (.ci/run unshallows): $why"; t_done; }
build_old && t_ok "the older build ($BASE) is built" ||
	{ t_fail "the older build ($BASE) is built" "$(tail -5 "$OLD.log" 2>/dev/null)"; t_done; }

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - { cidr: 198.18.66.0/24, comment: pol66 }
limits:
  - name: api
    match: { proto: udp, dst_ports: [9400] }
    rate: 1/h
    burst: 2
    ban: { after: 2, for: 1h }
YAML

# ---- the older build runs the gate ------------------------------------------
CASTLED=$OLD/build/castled
e2e_castled || { t_fail "the older castled starts"; t_done; }
t_cmd "the older castlectl adds a manual block" octl block add 198.18.80.0/24 --comment op80
send_wait $BAD 9999 2 blocklist
send_wait $MAN 9999 4 blocklist
send_udp $FLOOD $DUT4 9400 4		# 2 pass, 2 drop in a row: banned
send_wait $FLOOD 9400 3 autoban
t_eq "older build: the manual /24 counts its hits" 4 "$(hits 198.18.80.0/24)"
t_eq "older build: the auto-ban counts its hits" 3 "$(hits $FLOOD)"

# ---- upgrade ------------------------------------------------------------------
e2e_stop_castled
CASTLED=$NEW_CASTLED
castled_log_mark
e2e_castled || { t_fail "this build's castled takes the pins over"; t_done; }
t_ok "this build's castled takes the pins over"
castled_log_new_has "XDP replaced in place" && t_ok "... replacing the older program in place" ||
	t_fail "... replacing the older program in place" "$(grep XDP "$TMP/castled.log")"
castled_log_new_has "adopted the maps pinned in $PIN" && t_ok "... adopting the pinned maps" ||
	t_fail "... adopting the pinned maps"
in_dut test -e "$PIN/man_hits" && in_dut test -e "$PIN/man_slots" &&
	t_ok "the maps the older build lacked are pinned beside its own" ||
	t_fail "the maps the older build lacked are pinned beside its own" "$(in_dut ls "$PIN")"
t_eq "the manual /24 and its count are kept" 4 "$(hits 198.18.80.0/24)"
t_eq "the auto-ban and its count are kept" 3 "$(hits $FLOOD)"
t_eq "... and its class" api "$(ctl -j block list | jq -r --arg c $FLOOD '.entries[] | select(.cidr == $c) | .class')"
send_wait $MAN 9999 2 blocklist
send_wait $FLOOD 9999 2 autoban
send_wait $BAD 9999 1 blocklist
# the older build kept both comments under one kind of key; this one keys the
# policy's apart (a manual entry of its prefix keeps its own) and drops the
# older key of the policy's note, which no manual entry owns
t_eq "the comments are kept" "198.18.66.0/24 policy pol66|198.18.80.0/24 manual op80" "$(notes ctl)"
t_eq "... the older build's note of the policy entry dropped" 2 \
	"$(metric castle_map_entries 'map="notes"')"
t_eq "the older entries count on (locked add: no slot)" "6 5" "$(hits 198.18.80.0/24) $(hits $FLOOD)"

t_cmd "this build's castlectl adds a manual block" ctl block add 198.18.83.0/24
send_wait $NEWMAN 9999 3 blocklist
send_udp $FLOOD2 $DUT4 9400 4
send_wait $FLOOD2 9400 3 autoban
t_eq "the new manual /24 counts in its slot" 3 "$(hits 198.18.83.0/24)"
t_eq "the new auto-ban counts in its slot" 3 "$(hits $FLOOD2)"
t_eq "two slots claimed, none for the older entries" 2 "$(metric castle_map_entries 'map="man_hits"')"

# ---- the older castlectl on these pins -----------------------------------------
out=$(octl -j block list 2>"$TMP/octl.err") && t_ok "the older castlectl still lists the pins" ||
	t_fail "the older castlectl still lists the pins" "$(cat "$TMP/octl.err")"
t_eq "... every entry" "198.18.66.0/24 198.18.80.0/24 198.18.82.2 198.18.83.0/24 198.18.84.2" \
	"$(echo "$out" | jq -r '[.entries[].cidr] | sort | join(" ")' 2>/dev/null)"

t_eq "the older castlectl reloads this build's castled (by its counters)" "0 policy reloaded" \
	"$(out=$(octl reload 2>&1); echo "$? ${out%%:*}")"

# ---- and back: the older castled on the pins this build left -------------------
e2e_stop_castled
CASTLED=$OLD/build/castled
castled_log_mark
e2e_castled || { t_fail "the older castled starts again on these pins"; t_done; }
t_ok "the older castled starts again on these pins"
castled_log_new_has "XDP replaced in place" && t_ok "... replacing this build's program" ||
	t_fail "... replacing this build's program" "$(grep XDP "$TMP/castled.log")"
b0=$(drops blocklist) a0=$(drops autoban)
send_wait $NEWMAN 9999 2 blocklist
send_wait $FLOOD2 9999 2 autoban
send_wait $MAN 9999 1 blocklist
t_eq "the older castlectl reads the comments" \
	"198.18.66.0/24 policy pol66|198.18.80.0/24 manual op80" "$(notes octl)"
t_eq "the older program enforces the slotted entries too (3 blocklist, 2 autoban drops)" "3 2" \
	"$(($(drops blocklist) - b0)) $(($(drops autoban) - a0))"
t_eq "... counting them by the locked add, on top of their slots (this castlectl sums both)" \
	"5 5 7" "$(hits 198.18.83.0/24) $(hits $FLOOD2) $(hits 198.18.80.0/24)"
# the daemon map is pinned, but the older castled does not number its reloads
# (the record names no pid of it): this castlectl goes by the counters
t_eq "this castlectl reloads the older castled (by the counters: it does not number reloads)" \
	"0 policy reloaded" "$(out=$(ctl reload 2>&1); echo "$? ${out%%:*}")"
echo "bogus_key: 1" >>"$POLICY"
t_eq "... and reports its refusal" "1 castlectl: castled refused the policy: see its log" \
	"$(out=$(ctl reload 2>&1); echo "$? $out")"
t_done
