#!/usr/bin/env bash
# run-tests.sh [bpf|unit|e2e|fuzz|bench ...] - run the test suites and print one summary.
# Every suite speaks TAP ("ok N - name" / "not ok N - name"); a suite that exits
# non-zero without reporting a failure counts as one failure of its own, and a
# unit or bpf test whose source exists but whose binary does not is a failure.
# Skips ("ok N - name # SKIP why") are counted apart, not as passes; with
# CASTLE_REQUIRE_ALL=1 (CI) every skip is a failure.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(unit bpf fuzz e2e bench)

pass=0 fail=0 skip=0
failed=()
require_all=${CASTLE_REQUIRE_ALL:-0}
export CMOCKA_MESSAGE_OUTPUT=TAP
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mount | grep -q ' /sys/fs/bpf ' || mount -t bpf bpf /sys/fs/bpf 2>/dev/null

run_one() {
	local name=$1; shift
	local log
	log=$(mktemp)
	echo "# --- $name"
	timeout "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
	local rc=$?
	local p f s
	# A skip is "ok N - name # SKIP why" (lib.sh) or "not ok N # SKIP why"
	# (cmocka): neither a pass nor a failure.
	s=$(grep -ciE '^(not )?ok [^#]*#[[:space:]]*skip' "$log")
	p=$(grep -E '^ok ' "$log" | grep -cviE '^ok [^#]*#[[:space:]]*skip')
	f=$(grep -E '^not ok ' "$log" | grep -cviE '^not ok [^#]*#[[:space:]]*skip')
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ] || [ $((p + f + s)) -eq 0 ]; then
		cat "$log"
		[ "$f" -eq 0 ] && f=1 && echo "not ok - $name exited with status $rc"
		failed+=("$name")
	else
		grep -E '^(ok|not ok) ' "$log"
		if [ "$s" -gt 0 ] && [ "$require_all" = 1 ]; then
			echo "# $name: $s skipped, counted as failed (CASTLE_REQUIRE_ALL=1)"
			failed+=("$name")
		fi
	fi
	[ "$require_all" = 1 ] && f=$((f + s))
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
	rm -f "$log"
}

for s in "${suites[@]}"; do
	case $s in
	unit|bpf)
		# From the sources: a test that did not build is a failure, not
		# a test that silently does not exist.
		for src in tests/"$s"/test_*.c; do
			[ -f "$src" ] || continue
			n=$(basename "$src" .c)
			t=$O/tests/$s/$n
			if [ -x "$t" ]; then
				run_one "$s/$n" "$t"
			else
				echo "# --- $s/$n"
				echo "not ok - $s/$n not built ($t missing)"
				fail=$((fail + 1)); failed+=("$s/$n")
			fi
		done ;;
	fuzz)
		# Each libFuzzer target for a bounded time from its seed corpus; a
		# crash is a failure (its reproducer lands in build/fuzz/).
		for t in "$O"/fuzz/fuzz_*; do
			[ -x "$t" ] || continue
			n=$(basename "$t")
			run_one "fuzz/$n" bash -c '
				mkdir -p "$3/fuzz/corpus-$1"
				if "$2" -max_total_time="${FUZZ_SECONDS:-10}" -artifact_prefix="$3/fuzz/$1-" \
					"$3/fuzz/corpus-$1" "tests/fuzz/corpus/$1" >"$3/fuzz/$1.log" 2>&1; then
					echo "ok 1 - $1 ran ${FUZZ_SECONDS:-10}s without a crash"
				else
					tail -30 "$3/fuzz/$1.log"; echo "not ok 1 - $1 crashed"
				fi' _ "$n" "$t" "$O"
		done ;;
	e2e)
		for t in tests/e2e/test_*.sh; do
			[ -f "$t" ] && run_one "e2e/$(basename "$t")" bash "$t"
		done ;;
	bench)
		# `make bench-quick` (~30 s) keeps the benchmark harness working:
		# one line, ok when it ran every quick scenario without a harness
		# error. Its numbers are never asserted (see docs/BENCHMARKS.md).
		run_one "bench/bench-quick" bash -c '
			if make -s bench-quick >"$1/bench/quick.log" 2>&1; then
				echo "ok 1 - make bench-quick ($(tail -1 "$1/bench/quick.log"))"
			else
				tail -30 "$1/bench/quick.log"; echo "not ok 1 - make bench-quick failed"
			fi
			# the report of that run names its host and whether the
			# tree was the commit it names
			if python3 bench/report.py "$1/bench/results-quick.json" >"$1/bench/quick.md" 2>&1 &&
			   grep -q "^Machine: .*clocksource .*CONFIG_HZ" "$1/bench/quick.md"; then
				echo "ok 2 - report.py: $(grep "^Machine: " "$1/bench/quick.md")"
			else
				head -5 "$1/bench/quick.md"; echo "not ok 2 - report.py of the quick run, with its Machine line"
			fi
			# profile.py edits bpf/ by regex: a change there must not
			# silently break a variant
			if out=$(python3 bench/profile.py --check 2>&1); then
				echo "ok 3 - $out"
			else
				echo "$out"; echo "not ok 3 - bench/profile.py --check"
			fi
			# the live profile: perf samples mapped onto castle'"'"'s JIT image
			if out=$(python3 bench/hotspots.py --seconds 1 --top 3 2>&1) &&
			   echo "$out" | grep -q "castle_xdp_blocked+0x"; then
				echo "ok 4 - bench/hotspots.py: $(echo "$out" | grep -m1 "castle_xdp_blocked+0x" | tr -s " ")"
			else
				echo "$out" | tail -20; echo "not ok 4 - bench/hotspots.py found no sample in castle_xdp_blocked"
			fi
			# every per-path cost row carries its fastest run beside the
			# median, for both sides (what report.py shows as "fastest")
			if out=$(python3 - "$1/bench/results-quick.json" 2>&1 <<-"EOF"
				import json, sys
				rows = [r for r in json.load(open(sys.argv[1]))["scenarios"]
				        if r["name"].startswith(("cost-xdp:", "cost-tc:")) and "a" in r]
				bad = [r["name"] for r in rows for s in ("a", "b")
				       if not isinstance(r[s].get("min"), (int, float))
				       or not 0 < r[s]["min"] <= r[s]["median"]]
				print(f"{len(rows)} cost rows" if rows and not bad else f"no fastest run: {bad or rows}")
				sys.exit(1 if bad or not rows else 0)
				EOF
			); then
				echo "ok 5 - castle-cost rows carry their fastest run ($out)"
			else
				echo "$out"; echo "not ok 5 - castle-cost rows without their fastest run"
			fi' _ "$O" ;;
	*)
		echo "unknown suite: $s" >&2; exit 2 ;;
	esac
done

[ ${#failed[@]} -gt 0 ] && printf '# failed suites: %s\n' "${failed[*]}"
echo "$skip skipped"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
