# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""hostinfo.py - what a bench run records about where it ran: the CPU model,
the commit and whether the tree differed from it, and the host's facts that
move the numbers (bench/report.py prints them as its Machine: line).
"""

import gzip
import os

from benchlib import run


def cpu_model():
    for line in (read_first("/proc/cpuinfo") or "").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "?"


def git_commit():
    p = run(["git", "rev-parse", "--short", "HEAD"], check=False)
    return p.stdout.strip() or "?"


def git_dirty():
    """True when tracked files differ from the commit: the run did not
    measure the commit it names."""
    p = run(["git", "status", "--porcelain", "--untracked-files=no"], check=False)
    return bool(p.stdout.strip()) if p.returncode == 0 else None


def read_first(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def kernel_config(name):
    """A kernel config value from /boot/config-RELEASE or /proc/config.gz."""
    for path, opener in ((f"/boot/config-{os.uname().release}", open),
                         ("/proc/config.gz", gzip.open)):
        try:
            with opener(path, "rt") as f:
                for line in f:
                    if line.startswith(name + "="):
                        return line.split("=", 1)[1].strip()
        except OSError:
            continue
    return None


def machine():
    """What differs between hosts and moves the numbers (docs/BENCHMARKS.md,
    "Four hosts so far"): recorded so a run's host is never a guess."""
    flags, mem_kb = "", None
    for line in (read_first("/proc/cpuinfo") or "").splitlines():
        if line.startswith("flags") and not flags:
            flags = line
    for line in (read_first("/proc/meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    spectre = read_first("/sys/devices/system/cpu/vulnerabilities/spectre_v2")
    return {
        "clocksource": read_first("/sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "hz": kernel_config("CONFIG_HZ"),
        "spectre_v2": spectre.split(";")[0] if spectre else None,
        "bpf_jit": read_first("/proc/sys/net/core/bpf_jit_enable"),
        "guest": " hypervisor" in flags if flags else None,
        "mem_gib": round(mem_kb / (1 << 20), 1) if mem_kb else None,
    }
