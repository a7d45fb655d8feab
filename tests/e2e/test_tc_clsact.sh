#!/usr/bin/env bash
# test_tc_clsact.sh - the TLS gate on the clsact path (castled --tc-mode
# clsact), on a kernel that has TCX, so that the fallback is exercised:
#  - a bad --tc-mode is a usage error (exit 2) that names the option;
#  - castled --tc-mode clsact: castle's filter (handle 0xca57, pref 1) is on
#    the ingress of the dut veth, no TCX link is pinned, status says clsact;
#  - with real clients: openssl s_client (TLS 1.3 and 1.2) to the protected
#    port gets through, plaintext (nc, curl http://) is dropped, and the
#    counters equal what was sent;
#  - restarts adopt the filter: --tc-mode clsact and --tc-mode auto each leave
#    exactly one castle filter and no TCX link; --tc-mode tcx is refused
#    (exit 1, names clsact) and the clsact gate keeps enforcing;
#  - castlectl unload removes castle's filter and the clsact qdisc castle
#    created; with a foreign filter (u32, another priority) on that
#    qdisc, unload removes only castle's filter: qdisc and foreign filter stay;
#  - an attach that fails (a foreign u32 filter at castle's priority 1)
#    leaves no castle filter, no XDP program, no TCX link and no prog_xdp /
#    prog_tc pin behind, and the foreign qdisc and filters untouched.
. "$(dirname "$0")/lib.sh"

if [ ! -x "$CASTLED" ]; then
	t_fail "tls gate on clsact" "$CASTLED missing: build it (make)"
	t_done
fi

# castle_filters: castle's filters on the dut ingress (tc prints the
# program's name after the handle).
castle_filters() {
	in_dut tc filter show dev "$DUT_IF" ingress 2>/dev/null | grep -c 'bpf chain 0 handle 0xca57 castle_tc'
}
# foreign_filters: u32 filters (one line per priority) on the dut ingress.
foreign_filters() { in_dut tc filter show dev "$DUT_IF" ingress 2>/dev/null | grep -cE 'u32 chain 0 *$'; }
# foreign_filter PREF: a u32 filter at PREF that matches nothing (this
# kernel has no matchall/gact; any filter of another kind will do).
foreign_filter() {
	in_dut tc filter add dev "$DUT_IF" ingress pref "$1" protocol ip u32 \
		match ip dst 198.19.255.255/32 flowid 1:1
}
# server_start: openssl s_server on 443 in the dut namespace. It serves one
# connection at a time: a plaintext connection the gate stalls holds it, so
# it is started afresh before the TLS checks that follow plaintext ones.
SERVER_PID=
server_start() {
	[ -n "$SERVER_PID" ] && { kill "$SERVER_PID"; wait "$SERVER_PID"; } 2>/dev/null
	# nsenter execs openssl, so $! is the server itself.
	nsenter --net=/var/run/netns/$NS_DUT openssl s_server -accept 443 -naccept 1000 \
		-cert "$TMP/cert.pem" -key "$TMP/key.pem" -www -quiet >>"$TMP/s_server.log" 2>&1 &
	SERVER_PID=$!
	wait_listen 443
}
clsact_qdiscs() { in_dut tc qdisc show dev "$DUT_IF" | grep -c '^qdisc clsact'; }
has_xdp() { in_dut ip link show "$DUT_IF" | grep -q 'xdp'; }
tls_result() { local v; v=$(metric castle_tls_connections_total "result=\"$1\""); echo "${v:-0}"; }
wait_listen() { for _ in $(seq 50); do in_dut ss -ltn | grep -q ":$1 " && return 0; sleep 0.1; done; return 1; }
status_json() { ctl -j status | jq -r ".interfaces[] | select(.name == \"$DUT_IF\") | $1"; }
# tls_ok: one TLS 1.3 handshake from src to the protected port succeeds.
tls_ok() { echo Q | in_src timeout 5 openssl s_client -connect $DUT4:443 -servername example.com 2>&1 | grep -q '^New, TLSv1.3'; }
# plain_dropped: a text line to the protected port gets no answer.
plain_dropped() { [ -z "$(echo "GET / HTTP/1.0" | in_src timeout 3 nc -q 2 $DUT4 443 2>&1)" ]; }
# castled_run ARGS...: castled in the foreground, expected to exit by itself
# (a refused start); prints its output, returns its status.
castled_run() {
	mkdir -p "$STATE"
	in_dut timeout 20 "$CASTLED" -i "$DUT_IF" -p "$POLICY" --pin-dir "$PIN" --state-dir "$STATE" \
		--metrics "$METRICS" --foreground "$@" 2>&1
}

e2e_topology || { t_fail "topology"; t_done; }
e2e_policy <<'YAML'
version: 1
mode: enforce
tls:
  ports: [443]
  min_version: "1.2"
YAML

# ---- option parsing -----------------------------------------------------------
out=$("$CASTLED" -p "$POLICY" --tc-mode turbo -i castle-none0 2>&1); rc=$?
t_eq "castled --tc-mode turbo is a usage error (2)" 2 $rc
case $out in *"--tc-mode: 'turbo' is not auto, tcx or clsact"*) t_ok "... naming the option and the choices" ;;
*) t_fail "... naming the option and the choices" "$out" ;; esac
case $("$CASTLED" --help) in *"--tc-mode MODE"*"auto | tcx | clsact"*) t_ok "castled --help lists --tc-mode" ;;
*) t_fail "castled --help lists --tc-mode" ;; esac

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=example.com -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1
server_start || t_fail "s_server listens on 443"

# ---- attach with clsact ---------------------------------------------------------
t_eq "no clsact qdisc before castled" 0 "$(clsact_qdiscs)"
e2e_castled --tc-mode clsact || { t_fail "castled --tc-mode clsact starts"; t_done; }
t_ok "castled --tc-mode clsact starts"
t_eq "one castle filter on the ingress (tc filter show)" 1 "$(castle_filters)"
t_cmd "... at priority 1, direct-action" sh -c "nsenter --net=/var/run/netns/$NS_DUT \
	tc filter show dev $DUT_IF ingress | grep -q 'pref 1 bpf chain 0 handle 0xca57 castle_tc.* direct-action'"
t_nocmd "no TCX link pinned" test -e "$PIN/link_tc_$DUT_IF"
t_eq "castlectl status: tc_mode clsact" clsact "$(status_json .tc_mode)"
t_eq "castlectl status: castle created the qdisc" true "$(status_json .tc_own_qdisc)"
case $(ctl status) in *"$DUT_IF"*clsact*) t_ok "castlectl status (text) shows clsact" ;;
*) t_fail "castlectl status (text) shows clsact" "$(ctl status)" ;; esac
t_cmd "castled logs the clsact attach" castled_log_has "$DUT_IF: XDP attached"
t_cmd "... as TC clsact attached" castled_log_has "TC clsact attached"
tc_id=$(status_json .tc_prog_id)
t_eq "status tc_prog_id is the filter's program" "$tc_id" \
	"$(in_dut tc filter show dev "$DUT_IF" ingress | sed -n 's/.*castle_tc.* id \([0-9]*\) .*/\1/p' | head -1)"


# ---- real traffic ---------------------------------------------------------------
out=$(echo Q | in_src timeout 5 openssl s_client -connect $DUT4:443 -servername example.com 2>&1)
t_cmd "openssl s_client (TLS 1.3) through the clsact gate" grep -q '^New, TLSv1.3' <<<"$out"
out=$(echo Q | in_src timeout 5 openssl s_client -tls1_2 -connect $DUT4:443 -servername example.com 2>&1)
t_cmd "openssl s_client -tls1_2 through the clsact gate" grep -q '^New, TLSv1.2' <<<"$out"
t_cmd "nc with a plaintext line to 443 gets nothing back" plain_dropped
rc=0; in_src curl -s --max-time 3 http://$DUT4:443/ >/dev/null 2>&1 || rc=$?
t_eq "curl http:// to 443 is dropped (times out)" 28 "$rc"
sleep 0.5
t_eq "castle_tls_connections_total{result=tls}" 2 "$(tls_result tls)"
t_eq "castle_tls_connections_total{result=not_tls}" 2 "$(tls_result not_tls)"
t_cmd "tc drops, reason tls_not_tls (>= 2 segments)" test "$(tc_count drop tls_not_tls)" -ge 2
t_cmd "tc passes, reason tls (>= 2)" test "$(tc_count pass tls)" -ge 2
t_eq "nothing passed with reason tls_not_tls" 0 "$(tc_count pass tls_not_tls)"

# ---- restarts adopt the filter --------------------------------------------------
e2e_stop_castled
: >"$TMP/castled.log"
e2e_castled --tc-mode clsact || { t_fail "castled --tc-mode clsact restarts"; t_done; }
t_cmd "restart (clsact): TC replaced in place" castled_log_has "TC clsact replaced in place"
t_eq "restart (clsact): exactly one castle filter" 1 "$(castle_filters)"
t_eq "restart (clsact): still owns the qdisc" true "$(status_json .tc_own_qdisc)"

e2e_stop_castled
: >"$TMP/castled.log"
e2e_castled || { t_fail "castled (auto) restarts"; t_done; }
server_start
t_cmd "restart (auto, kernel has TCX): keeps clsact" castled_log_has "TC clsact replaced in place"
t_eq "restart (auto): exactly one castle filter" 1 "$(castle_filters)"
t_nocmd "restart (auto): no TCX link stacked on top" test -e "$PIN/link_tc_$DUT_IF"
t_eq "restart (auto): status tc_mode clsact" clsact "$(status_json .tc_mode)"
t_cmd "restart (auto): TLS still passes" tls_ok
t_cmd "restart (auto): plaintext still dropped" plain_dropped
sleep 0.3
t_eq "tls connections counted once each across restarts (3)" 3 "$(tls_result tls)"
t_eq "not_tls connections counted once each (3)" 3 "$(tls_result not_tls)"

e2e_stop_castled
out=$(castled_run --tc-mode tcx); rc=$?
t_eq "restart with --tc-mode tcx over castle's clsact filter: refused (1)" 1 $rc
case $out in *"attached there with clsact"*"--tc-mode tcx would attach it a second time"*)
	t_ok "... saying why" ;;
*) t_fail "... saying why" "$out" ;; esac
t_eq "... the clsact filter stays, alone" 1 "$(castle_filters)"
t_nocmd "... no TCX link pinned" test -e "$PIN/link_tc_$DUT_IF"
t_cmd "... the XDP gate stays" has_xdp
server_start
t_cmd "... TLS passes (castled down)" tls_ok
t_cmd "... plaintext dropped (castled down)" plain_dropped

# ---- unload: castle's filter and qdisc go -----------------------------------------
t_cmd "castlectl unload" ctl unload "$DUT_IF"
t_eq "unload: no castle filter" 0 "$(castle_filters)"
t_eq "unload: the clsact qdisc castle created is gone" 0 "$(clsact_qdiscs)"
t_nocmd "unload: no XDP program" has_xdp
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
in_dut timeout 5 nc -l -p 443 >"$TMP/nc.out" 2>/dev/null &
wait_listen 443
echo "plain text line" | in_src timeout 3 nc -q 1 $DUT4 443 >/dev/null 2>&1
sleep 0.3
t_eq "after unload, plaintext reaches a listener on 443" "plain text line" "$(cat "$TMP/nc.out")"

# ---- unload with a foreign filter on castle's qdisc -------------------------------
: >"$TMP/castled.log"
e2e_castled --tc-mode clsact || { t_fail "castled --tc-mode clsact starts again"; t_done; }
t_eq "again: castle created the qdisc" true "$(status_json .tc_own_qdisc)"
t_cmd "a foreign u32 filter (pref 100) added to that qdisc" foreign_filter 100
e2e_stop_castled
t_cmd "castlectl unload" ctl unload "$DUT_IF"
t_eq "unload: no castle filter" 0 "$(castle_filters)"
t_eq "unload: the foreign filter stays" 1 "$(foreign_filters)"
t_eq "unload: the qdisc holding it stays" 1 "$(clsact_qdiscs)"

# ---- an attach that fails leaves nothing behind ------------------------------------
# Another kind of filter at castle's priority: the kernel refuses castle's bpf
# filter there (EINVAL), after XDP was attached.
t_cmd "a foreign u32 filter at pref 1" foreign_filter 1
out=$(castled_run --tc-mode clsact); rc=$?
t_eq "castled --tc-mode clsact with pref 1 taken: exit 1" 1 $rc
case $out in *"attach TC filter"*"$DUT_IF"*) t_ok "... saying why" ;;
*) t_fail "... saying why" "$out" ;; esac
t_eq "... no castle filter" 0 "$(castle_filters)"
t_nocmd "... no XDP program left on $DUT_IF" has_xdp
t_nocmd "... no TCX link pinned" test -e "$PIN/link_tc_$DUT_IF"
t_nocmd "... no prog_xdp pin naming a detached program" test -e "$PIN/prog_xdp"
t_nocmd "... no prog_tc pin" test -e "$PIN/prog_tc"
t_eq "... both foreign filters stay" 2 "$(foreign_filters)"
t_eq "... their qdisc stays" 1 "$(clsact_qdiscs)"

t_done
