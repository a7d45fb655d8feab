#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""merge.py - a full run's results with the rows of a later partial run
(`make bench BENCH_ARGS="--only NAME,..."`) put in their place, for when
only some rows had to be measured again. The output's meta.rerun says which
rows came from where: {"names": [...], "commit": ..., "date": ...}, and
bench/report.py prints it under the run's own line.

  python3 bench/merge.py build/bench/results-full.json \
      build/bench/results-full-partial.json build/bench/results-merged.json
"""
import json
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: merge.py FULL.json PARTIAL.json OUT.json")
    with open(sys.argv[1]) as f:
        full = json.load(f)
    with open(sys.argv[2]) as f:
        part = json.load(f)
    new = {s["name"]: s for s in part["scenarios"]}
    unknown = set(new) - {s["name"] for s in full["scenarios"]}
    if unknown:
        sys.exit(f"merge.py: not in {sys.argv[1]}: {', '.join(sorted(unknown))}")
    full["scenarios"] = [new.get(s["name"], s) for s in full["scenarios"]]
    full["meta"]["rerun"] = {"names": sorted(new), "commit": part["meta"].get("commit"),
                             "date": part["meta"]["date"]}
    with open(sys.argv[3], "w") as f:
        json.dump(full, f, indent=1)
    print(f"merge.py: {len(new)} row(s) from {sys.argv[2]}: {', '.join(sorted(new))}")


if __name__ == "__main__":
    main()
