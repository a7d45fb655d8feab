#!/usr/bin/env bash
# test_faults_state_room.sh - a state file with lines castled cannot restore,
# in a state dir without room for the copy castled keeps of it: castled
# restores what it can and enforces, but saves nothing (not on a change, not
# at its stop) until it is restarted with room; the restart restores the file
# again into the pins, keeps the copy, and saves the maps, the entry added
# meanwhile included. Without the hold, the first save would have written the
# maps over the only copy of the lines it could not read.
# The state dir is a 64 KiB tmpfs in a mount namespace of this test's own (a
# `sleep` holds it; castled runs in it), gone with the holder.
. "$(dirname "$0")/lib.sh"

MAN=198.18.2.2		# a line of the file
LATE=198.18.3.3		# added by castlectl while castled holds its saves
E2E_SRC_ALIASES="$MAN $LATE"
N_LINES=600		# ~41 KB: the file fits the tmpfs once, not twice

HOLDER=
trap '[ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null; e2e_cleanup' EXIT
in_room() { nsenter -t "$HOLDER" -m -- "$@"; }
blocklist() { metric castle_packets_total 'stage="xdp",verdict="drop",reason="blocklist"'; }
# castled in the holder's mount namespace and the dut's network namespace
room_castled() { E2E_CASTLED_MNT_NS=$HOLDER e2e_castled; }
file_sum() { in_room sha256sum "$STATE/manual.state" | cut -d' ' -f1; }

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
block:
  - 198.18.66.0/24
YAML
mkdir -p "$STATE"
unshare -m --propagation private sleep 600 &
HOLDER=$!
for i in $(seq 50); do
	[ "$(readlink /proc/$HOLDER/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && break
	sleep 0.1
done
t_cmd "a 64 KiB tmpfs as the state dir (private mount namespace)" \
	in_room mount -t tmpfs -o size=64k,mode=0700 castle-e2e-state "$STATE"
{
	echo "block $MAN 0 from the file"
	for i in $(seq 0 $((N_LINES - 1))); do
		printf 'block 198.18.%d.%d 0 line %04d of the state file, kept for its size\n' \
			$((100 + i / 250)) $((i % 250 + 1)) "$i"
	done
	echo "block 198.18.1.1/24 0"	# host bits: cannot be restored
} > "$TMP/manual.state"
t_cmd "the state file (~41 KB, one bad line) fills most of it" \
	in_room install -m 0600 "$TMP/manual.state" "$STATE/manual.state"
sum0=$(file_sum)

room_castled || { t_fail "castled starts" "$(tail -5 "$TMP/castled.log")"; t_done; }
t_ok "castled starts"
castled_log_has "restored $((N_LINES + 1)) manual entries from $STATE/manual.state" &&
	t_ok "the good lines are restored" || t_fail "the good lines are restored" "$(cat "$TMP/castled.log")"
castled_log_has "not saving manual entries until castled is restarted with room to keep a copy" &&
	t_ok "no room for the copy: castled says it holds its saves" ||
	t_fail "no room for the copy: castled says it holds its saves" "$(cat "$TMP/castled.log")"
before=$(blocklist)
send_udp $MAN $DUT4 9999 3
wait_metric castle_packets_total 'reason="blocklist"' $((before + 3))
t_eq "a restored entry blocks" $((before + 3)) "$(blocklist)"

# room now, but the hold lasts until the restart: saving the maps over the
# file would still lose its bad line, kept nowhere else
t_cmd "the tmpfs grows (room for the copy now)" in_room mount -o remount,size=1m "$STATE"
t_cmd "castlectl block add while castled holds its saves" ctl block add $LATE --comment late
before=$(blocklist)
send_udp $LATE $DUT4 9999 2
wait_metric castle_packets_total 'reason="blocklist"' $((before + 2))
t_eq "... it blocks" $((before + 2)) "$(blocklist)"
sleep 2.5	# two of castled's save ticks
t_eq "held: the state file is not written on a change" "$sum0" "$(file_sum)"
t_cmd "castled stops (SIGTERM)" e2e_stop_castled
t_eq "held: nor at castled's stop" "$sum0" "$(file_sum)"
t_eq "held: no copy was left half written" "" "$(in_room sh -c "ls -A '$STATE' | grep -v '^manual.state$'")"

: > "$TMP/castled.log"
room_castled || { t_fail "castled starts again, with room" "$(tail -5 "$TMP/castled.log")"; t_done; }
t_ok "castled starts again, with room"
castled_log_has "into pins a start that did not finish left" &&
	t_ok "the pins are taken as unrestored: the file is restored into them again" ||
	t_fail "the pins are taken as unrestored: the file is restored into them again" "$(cat "$TMP/castled.log")"
kept=$(in_room sh -c "ls '$STATE'/manual.state.unrestored-* 2>/dev/null" | head -1)
castled_log_has "the file as it was is kept in $kept" && t_ok "the copy is kept now, and castled says where" ||
	t_fail "the copy is kept now, and castled says where" "$(cat "$TMP/castled.log")"
t_eq "the copy is the file as it was" "$sum0" "$(in_room sha256sum "${kept:-/nonexistent}" | cut -d' ' -f1)"
saved=
for i in $(seq 30); do
	saved=$(in_room cat "$STATE/manual.state" 2>/dev/null)
	grep -q "^block $LATE 0 late$" <<<"$saved" && break
	sleep 0.1
done
grep -q "^block $LATE 0 late$" <<<"$saved" && t_ok "the entry added while held is saved" ||
	t_fail "the entry added while held is saved" "$(head -3 <<<"$saved")"
t_eq "... beside every line of the file but the bad one" "$((N_LINES + 1)) 0" \
	"$(grep -c "^block 198.18.[0-9]*.[0-9]* 0 \(from the file\|line \)" <<<"$saved") $(grep -c /24 <<<"$saved")"
e2e_stop_castled
t_done
