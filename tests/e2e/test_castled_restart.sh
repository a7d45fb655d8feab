#!/usr/bin/env bash
# test_castled_restart.sh - the data path does not depend on the daemon:
# castled killed -9 under traffic leaves the gate enforcing; a restarted
# castled adopts the pinned maps (counters continue, manual entries stay);
# after a simulated reboot (pins gone) manual entries come back from the
# state directory (a file with bad lines kept aside); castlectl's changes
# while castled is down are saved; pins a start left before its restore get
# the file restored into them.
. "$(dirname "$0")/lib.sh"

BAD=198.18.66.5		# blocked by the policy
MAN=198.18.2.2		# blocked by a manual entry written straight into the map
CLEAN=198.18.1.10
E2E_SRC_ALIASES="$BAD $MAN $CLEAN"
RX=$TMP/rx.log

blocklist() { metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"'; }

# A manual block as castlectl would write it: key = address, value =
# struct castle_block_val { expires 0, created, hits, last_hit, origin 1
# (manual), class_slot 0xff }.
manual_block() {
	local key
	key=$(printf '%02x ' ${1//./ })
	in_dut bpftool map update pinned "$PIN/man_block4" key hex $key value hex \
		00 00 00 00 00 00 00 00  01 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00 \
		00 00 00 00 00 00 00 00  01 00 00 00 ff 00 00 00
}

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
e2e_castled || { t_fail "castled starts"; t_done; }
udp_sink 9999 "$RX"

t_cmd "manual entry written directly into man_block4" manual_block $MAN
# Written around castle's tools, the entry is not in man_count: castled
# notices within a tick and counts it, so the gate looks at the map again.
for _ in $(seq 30); do castled_log_has "man_block4 holds entries castle did not write" && break; sleep 0.1; done
t_cmd "castled counted the entry written around it" castled_log_has "man_block4 holds entries castle did not write"
send_udp $BAD $DUT4 9999 5
send_udp $MAN $DUT4 9999 5
send_udp $CLEAN $DUT4 9999 5
wait_metric castle_packets_total 'reason="blocklist"' 10
t_eq "policy and manual blocks both enforced" 10 "$(blocklist)"
sleep 1.5 # one persistence tick
if grep -q "^block $MAN 0" "$STATE/manual.state" 2>/dev/null; then t_ok "manual entry persisted to the state dir"
else t_fail "manual entry persisted to the state dir" "$(cat "$STATE/manual.state" 2>&1)"; fi
t_eq "state file mode 0600" 600 "$(stat -c %a "$STATE/manual.state" 2>/dev/null)"
t_eq "state dir mode 0700" 700 "$(stat -c %a "$STATE")"

# ---- kill -9 under traffic --------------------------------------------------
before=$(blocklist)
send_udp_paced $BAD $DUT4 9999 60 0.05 &
sender=$!
sleep 1
kill -9 "$CASTLED_PID"; wait "$CASTLED_PID" 2>/dev/null; CASTLED_PID=
t_nocmd "castled is dead (metrics unreachable)" in_dut curl -sf "http://$METRICS/healthz"
wait $sender
send_udp $MAN $DUT4 9999 5
send_udp $CLEAN $DUT4 9999 5
sleep 0.5
t_eq "while castled is dead: nothing from the blocked source reached the socket" 0 "$(rx_from "$RX" $BAD)"
t_eq "while castled is dead: nothing from the manual block reached the socket" 0 "$(rx_from "$RX" $MAN)"
t_eq "while castled is dead: the clean source still gets through" 10 "$(rx_from "$RX" $CLEAN)"

# ---- restart: adoption ------------------------------------------------------
e2e_castled || { t_fail "castled restarts"; t_done; }
castled_log_has "adopted the maps pinned in $PIN" && t_ok "restart adopts the pinned maps" ||
	t_fail "restart adopts the pinned maps"
castled_log_has "XDP adopted (already running)" && t_ok "restart leaves the identical program attached" ||
	t_fail "restart leaves the identical program attached" "$(tail -4 "$TMP/castled.log")"
after=$(blocklist)
t_eq "counters continued: every packet sent while dead was counted" $((before + 60 + 5)) "$after"
t_eq "manual entry survived the restart" 1 "$(metric castle_blocklist_entries 'origin="manual",family="ipv4"')"
send_udp $MAN $DUT4 9999 3
wait_metric castle_packets_total 'reason="blocklist"' $((after + 3))
t_eq "manual entry still enforced after the restart" $((after + 3)) "$(blocklist)"

# ---- stale program: pins removed, program still attached -------------------
e2e_stop_castled
old_id=$(in_dut ip -j link show "$DUT_IF" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])')
rm -rf "$PIN"
e2e_castled || { t_fail "castled starts with pins gone but program attached"; t_done; }
castled_log_has "XDP replaced in place" && t_ok "an attached castle program on old maps is replaced in place" ||
	t_fail "an attached castle program on old maps is replaced in place" "$(tail -4 "$TMP/castled.log")"
new_id=$(in_dut ip -j link show "$DUT_IF" | $PY -c 'import json,sys; print(json.load(sys.stdin)[0]["xdp"]["prog"]["id"])')
[ "$new_id" != "$old_id" ] && t_ok "the new program runs (id $old_id -> $new_id)" || t_fail "the new program runs"
castled_log_has "restored 1 manual entry" && t_ok "manual entry restored into fresh maps" ||
	t_fail "manual entry restored into fresh maps" "$(tail -4 "$TMP/castled.log")"

# ---- simulated reboot: stop, detach, remove the pins, start ------------------
e2e_stop_castled
in_dut ip link set dev "$DUT_IF" xdp off
rm -rf "$PIN"
: > "$TMP/castled.log"
# Hand edits castlectl could not have made: host bits, an expiring allow, a
# comment over 63 bytes (its entry is kept, without the comment).
first_bad=$(($(wc -l < "$STATE/manual.state") + 1))
printf 'block 198.18.1.1/24 0\nallow 198.18.2.2 1767225600\nblock 198.18.3.3 0 %s\n' \
	"$(printf 'x%.0s' $(seq 70))" >> "$STATE/manual.state"
e2e_castled || { t_fail "castled starts after the reboot"; t_done; }
castled_log_has "restored 2 manual entries from $STATE/manual.state" && t_ok "reboot: manual entries restored from the state dir" ||
	t_fail "reboot: manual entries restored from the state dir" "$(cat "$TMP/castled.log")"
castled_log_has "$STATE/manual.state:$first_bad: host bits set in '198.18.1.1/24'" &&
	castled_log_has "(3 bad lines)" && t_ok "reboot: hand-edited bad lines reported with the first line number" ||
	t_fail "reboot: hand-edited bad lines reported with the first line number" "$(cat "$TMP/castled.log")"
kept=$(ls "$STATE"/manual.state.unrestored-* 2>/dev/null | head -1)
t_cmd "reboot: the file as it was, bad lines and all, is kept in manual.state.unrestored-TIME" \
	grep -q "^block 198.18.1.1/24 0$" "${kept:-/nonexistent}"
castled_log_has "the file as it was is kept in $kept" &&
	t_ok "reboot: ... and castled says so" || t_fail "reboot: ... and castled says so" "$(cat "$TMP/castled.log")"
t_eq "reboot: the entry whose comment was refused is restored" 1 \
	"$(ctl -j block list | $PY -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["entries"] if e["cidr"] == "198.18.3.3" and e["origin"] == "manual" and e["comment"] is None))' 2>&1)"
t_eq "reboot: counters start from zero (fresh maps)" 0 "$(blocklist)"
n_man=$(rx_from "$RX" $MAN)
send_udp $MAN $DUT4 9999 4
wait_metric castle_packets_total 'reason="blocklist"' 4
t_eq "reboot: restored manual entry enforced" 4 "$(blocklist)"
t_eq "reboot: nothing from the manual block reached the socket" "$n_man" "$(rx_from "$RX" $MAN)"

# ---- castled down, castlectl changes, reboot before castled runs again -------
# castlectl saves what it changes while castled is down (castled's state dir
# by --state-dir), so neither an emergency block nor an unblock is lost or
# undone by a reboot before castled runs again.
DOWN=198.18.1.77
e2e_stop_castled
t_cmd "castled down: block add --state-dir" ctl --state-dir "$STATE" block add $DOWN --comment "while down"
grep -q "^block $DOWN 0 while down$" "$STATE/manual.state" && t_ok "castled down: the block is in the state file at once" ||
	t_fail "castled down: the block is in the state file at once" "$(cat "$STATE/manual.state")"
t_cmd "castled down: block del --state-dir" ctl --state-dir "$STATE" block del $MAN
grep -q "^block $MAN " "$STATE/manual.state" && t_fail "castled down: the unblock is in the state file at once" \
	"$(cat "$STATE/manual.state")" || t_ok "castled down: the unblock is in the state file at once"
# Without --state-dir and with a pin dir of its own, castlectl does not guess
# where castled keeps state: it says so, and writes nothing.
out=$(ctl block add 198.18.1.78 2>&1); rc=$?
t_eq "castled down, no --state-dir: block add still exits 0" 0 "$rc"
[[ "$out" == *"castled is not running: the change is enforced, and saved when castled runs again"* ]] &&
	t_ok "castled down, no --state-dir: says where the change lives" || t_fail "castled down, no --state-dir: says where the change lives" "$out"
grep -q "198.18.1.78" "$STATE/manual.state" && t_fail "castled down, no --state-dir: state file untouched" ||
	t_ok "castled down, no --state-dir: state file untouched"
in_dut ip link set dev "$DUT_IF" xdp off
rm -rf "$PIN"
: > "$TMP/castled.log"
e2e_castled || { t_fail "castled starts after the second reboot"; t_done; }
t_eq "second reboot: the block made while castled was down is back" 1 \
	"$(ctl -j block list | $PY -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["entries"] if e["cidr"] == "'$DOWN'" and e["comment"] == "while down"))' 2>&1)"
t_eq "second reboot: the source unblocked while castled was down stays unblocked" 0 \
	"$(ctl -j block list | $PY -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin)["entries"] if e["cidr"] == "'$MAN'"))' 2>&1)"
n_man=$(rx_from "$RX" $MAN)
send_udp $MAN $DUT4 9999 3
for _ in $(seq 20); do [ "$(rx_from "$RX" $MAN)" -ge $((n_man + 3)) ] && break; sleep 0.1; done
t_eq "second reboot: the unblocked source gets through" $((n_man + 3)) "$(rx_from "$RX" $MAN)"

# ---- pins of a start that did not finish -------------------------------------
# A castled killed (or failed) after pinning its maps and before restoring the
# state file leaves pins without the file's entries. castlectl must not save
# them over the file: told castled's state dir, it restores the file into
# them first; not told, it saves nothing. The next castled restores into such
# pins (not taking them for a restart's), keeping what castlectl wrote since.
# Simulated: stop castled, take an entry out of the map and the "restored"
# flag out of the daemon map.
LATE=198.18.1.79 LATER=198.18.1.80
unrestore() {
	in_dut bpftool map delete pinned "$PIN/man_block4" key hex $(printf '%02x ' ${1//./ }) &&
		in_dut bpftool map update pinned "$PIN/daemon" key hex 00 00 00 00 value hex $(printf '00 %.0s' $(seq 64))
}
manual_cidrs() { ctl -j block list | jq -r '[.entries[] | select(.origin == "manual") | .cidr] | sort | join(" ")'; }
e2e_stop_castled
t_cmd "simulate: unrestored pins, without $DOWN" unrestore $DOWN
out=$(ctl block add $LATE 2>&1); rc=$?
t_eq "unrestored pins, no --state-dir: block add exits 0" 0 "$rc"
[[ "$out" == *"has not been restored into these maps yet: the change is enforced and not saved"* ]] &&
	t_ok "unrestored pins, no --state-dir: castlectl says it does not save" ||
	t_fail "unrestored pins, no --state-dir: castlectl says it does not save" "$out"
grep -q "^block $DOWN 0 while down$" "$STATE/manual.state" && ! grep -q "$LATE" "$STATE/manual.state" &&
	t_ok "unrestored pins: the state file keeps its entries" ||
	t_fail "unrestored pins: the state file keeps its entries" "$(cat "$STATE/manual.state")"
castled_log_mark
e2e_castled || { t_fail "castled starts on the unrestored pins"; t_done; }
castled_log_new_has "into pins a start that did not finish left" && t_ok "unrestored pins: castled restores the file into them" ||
	t_fail "unrestored pins: castled restores the file into them" "$(tail -5 "$TMP/castled.log")"
t_eq "unrestored pins: the file's entries and the new one are listed" "$DOWN $LATE 198.18.3.3" \
	"$(manual_cidrs)"
for _ in $(seq 30); do grep -q "^block $LATE " "$STATE/manual.state" && break; sleep 0.1; done
grep -q "^block $DOWN 0 while down$" "$STATE/manual.state" && grep -q "^block $LATE 0" "$STATE/manual.state" &&
	t_ok "unrestored pins: castled saves both" || t_fail "unrestored pins: castled saves both" "$(cat "$STATE/manual.state")"

e2e_stop_castled
t_cmd "simulate again: unrestored pins, without $DOWN" unrestore $DOWN
out=$(ctl --state-dir "$STATE" block del $DOWN 2>&1); rc=$?
t_eq "unrestored pins, --state-dir: block del of an entry of the file exits 0" 0 "$rc"
[[ "$out" == *"restored 1 entry of $STATE/manual.state"* ]] &&
	t_ok "unrestored pins, --state-dir: castlectl restores the file first" ||
	t_fail "unrestored pins, --state-dir: castlectl restores the file first" "$out"
! grep -q "^block $DOWN " "$STATE/manual.state" && grep -q "^block $LATE 0" "$STATE/manual.state" &&
	t_ok "unrestored pins, --state-dir: the unblock is saved, the rest kept" ||
	t_fail "unrestored pins, --state-dir: the unblock is saved, the rest kept" "$(cat "$STATE/manual.state")"
castled_log_mark
e2e_castled || { t_fail "castled starts after castlectl restored"; t_done; }
castled_log_new_has "adopted the maps pinned in $PIN" && t_ok "... castled adopts them as restored" ||
	t_fail "... castled adopts them as restored" "$(tail -5 "$TMP/castled.log")"
t_eq "... and the unblocked source stays unblocked" "$LATE 198.18.3.3" \
	"$(manual_cidrs)"
t_done
