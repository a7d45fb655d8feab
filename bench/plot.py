#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""plot.py - the two plots of docs/BENCHMARKS.md from a results JSON:
throughput vs number of sources (castle's rate limit, most packets over
their limit) and vs blocklist size (every packet blocked), castle beside
trivial XDP_DROP measured in the same A/B pairs. Needs gnuplot.

  python3 bench/plot.py build/bench/results-full.json docs/
"""
import json
import os
import subprocess
import sys

SERIES = {
    "sources": ("throughput vs number of sources (rate limit, 1/min per source)",
                "distinct sources", [("sweep-sources-1", 1), ("sweep-sources-1k", 1000),
                                     ("sweep-sources-100k", 100_000),
                                     ("castle-ratelimit-1m", 1 << 20)]),
    "blocklist": ("throughput vs blocklist size (every packet blocked)",
                  "blocklist entries (/128)", [("sweep-blocklist-1k", 1000),
                                               ("sweep-blocklist-100k", 100_000),
                                               ("castle-blocklist-1m", 1 << 20)]),
}


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    with open(src) as f:
        res = {r["name"]: r for r in json.load(f)["scenarios"]}
    for key, (title, xlabel, pts) in SERIES.items():
        rows = [(x, res[n]["a"]["median"], res[n]["b"]["median"]) for n, x in pts
                if res.get(n, {}).get("status") == "ok"]
        if not rows:
            print(f"plot.py: no data for {key}", file=sys.stderr)
            continue
        data = "\n".join(f"{x} {a:.4f} {b:.4f}" for x, a, b in rows) + "\ne\n"
        out = os.path.join(outdir, f"bench-{key}.png")
        script = f"""set terminal pngcairo size 640,360 font ",10" noenhanced
set output "{out}"
set title "{title}"
set xlabel "{xlabel}"
set ylabel "Mpps received by the DUT"
set logscale x
set xrange [*:3e6]
set format x "%.0s%c"
set yrange [0:*]
set key bottom left
set grid
plot "-" using 1:2 with linespoints lw 2 pt 7 title "castle", \\
     "-" using 1:3 with linespoints lw 2 pt 5 dt 2 title "trivial XDP_DROP (same pairs)"
{data}{data}"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        print(out)


if __name__ == "__main__":
    main()
