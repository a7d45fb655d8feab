# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""benchlib.py - the bench driver's plumbing: running commands with errors
that say what failed, and Env, the namespaces, veth pair and pin root of one
driver run (created with the driver's pid in every name, undone on exit).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

GEN_DEV = "veth-gen"
DUT_DEV = "veth-dut"
GEN_ADDR4, DUT_ADDR4 = "198.19.0.1", "198.19.0.2"
GEN_ADDR6, DUT_ADDR6 = "2001:db8:ca::1", "2001:db8:ca::2"
SRC4, SRC6 = "198.18.0.0", "2001:db8:5::"     # first source of the pool
BPFFS = "/sys/fs/bpf"
CMD_TIMEOUT = 120                              # seconds, any one command


class BenchError(Exception):
    """A step of the harness failed; the message says which and why."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout=CMD_TIMEOUT, check=True, env=None, stdin=None):
    """Run cmd; on failure raise BenchError with the command and its stderr."""
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=env, input=stdin)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{' '.join(cmd)}: no answer in {timeout} s") from None
    except FileNotFoundError:
        raise BenchError(f"{cmd[0]}: not found") from None
    if check and p.returncode != 0:
        err = (p.stderr or p.stdout).strip().splitlines()
        raise BenchError(f"{' '.join(cmd)}: exit {p.returncode}: "
                         f"{' / '.join(err[-4:]) or 'no message'}")
    return p


def cpu_idle_fraction(window):
    """Share of all CPUs' time spent idle over the next `window` s."""

    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return v[3] + v[4], sum(v[:8])      # idle + iowait, all but guest
    i0, t0 = sample()
    time.sleep(window)
    i1, t1 = sample()
    return (i1 - i0) / (t1 - t0) if t1 > t0 else 1.0


def settle(window=1.0, idle=0.95, limit=20.0):
    """Wait until the machine is quiet again (CPUs at least `idle` idle over
    a window), at most `limit` s; returns the seconds waited. A
    million-entry map is freed by kernel workers after its last user goes:
    half a gigabyte within a second, then RCU callbacks and slab frees for
    10-20 s. A run that starts meanwhile shares the CPUs with them: XDP_DROP
    right after a 1M-entry map ran at 10-12 Mpps instead of 13.4-13.5 once
    quiet. That would flatter the program before it by slowing the one after
    it. Nothing of the bench runs between two runs, so any CPU time is that
    cleanup (or another tenant, which should not be measured either)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if cpu_idle_fraction(window) >= idle:
            break
    return time.monotonic() - t0


def last_json(text, what):
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise BenchError(f"{what}: no JSON result in its output: {text.strip()[:200]!r}")


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Env:
    """The namespaces, the veth pair and the pin root of one driver run."""

    def __init__(self, args):
        self.args = args
        self.pid = os.getpid()
        self.gen_ns = f"castle-bench-gen-{self.pid}"
        self.dut_ns = f"castle-bench-dut-{self.pid}"
        self.pin_root = f"{BPFFS}/castle-bench-{self.pid}"
        self.gen_bin = os.path.join(args.build, "castle-gen")
        self.dut_bin = os.path.join(args.build, "castle-dut")
        self.castle_obj = args.castle_obj
        self.dut_mac = None
        self.slot = 0
        self.cleanups = []          # callables, run last-in first-out

    # -- commands inside a namespace (nsenter keeps our mount ns: bpffs) --
    def in_ns(self, ns, cmd, **kw):
        return run(["nsenter", f"--net=/var/run/netns/{ns}"] + cmd, **kw)

    def gen_cmd(self, cmd, **kw):
        return self.in_ns(self.gen_ns, cmd, **kw)

    def dut_cmd(self, cmd, **kw):
        return self.in_ns(self.dut_ns, cmd, **kw)

    def new_pin(self, name):
        self.slot += 1
        return f"{self.pin_root}/{self.slot}-{name}"

    # -- lifetime --
    @staticmethod
    def remove_stale():
        """Remove what a killed earlier run (its pid gone) left behind."""
        p = run(["ip", "netns", "list"], check=False)
        for line in p.stdout.splitlines():
            m = re.match(r"(castle-bench-(?:gen|dut)-(\d+))\b", line)
            if m and not pid_alive(int(m.group(2))):
                log(f"run.py: removing stale namespace {m.group(1)}")
                run(["ip", "netns", "del", m.group(1)], check=False)
        for name in os.listdir(BPFFS):
            m = re.fullmatch(r"castle-bench-(\d+)", name)
            if m and not pid_alive(int(m.group(1))):
                log(f"run.py: removing stale pins {BPFFS}/{name}")
                shutil.rmtree(f"{BPFFS}/{name}", ignore_errors=True)

    def setup(self):
        if not os.path.ismount(BPFFS):
            run(["mount", "-t", "bpf", "bpf", BPFFS])
        for b in (self.gen_bin, self.dut_bin):
            if not os.access(b, os.X_OK):
                raise BenchError(f"{b}: not built (run `make bench-build`)")
        self.remove_stale()
        os.mkdir(self.pin_root, 0o700)
        self.cleanups.append(lambda: shutil.rmtree(self.pin_root, ignore_errors=True))
        for ns in (self.gen_ns, self.dut_ns):
            run(["ip", "netns", "add", ns])
            self.cleanups.append(lambda ns=ns: run(["ip", "netns", "del", ns], check=False))
        q = str(self.args.queues)
        # Created inside gen, peer moved straight to dut: never in our netns.
        run(["ip", "-n", self.gen_ns, "link", "add", GEN_DEV, "numtxqueues", q,
             "numrxqueues", q, "type", "veth", "peer", "name", DUT_DEV, "numtxqueues", q,
             "numrxqueues", q, "netns", self.dut_ns])
        for ns, dev, a4, a6 in ((self.gen_ns, GEN_DEV, GEN_ADDR4, GEN_ADDR6),
                                (self.dut_ns, DUT_DEV, DUT_ADDR4, DUT_ADDR6)):
            run(["ip", "-n", ns, "addr", "add", f"{a4}/24", "dev", dev])
            run(["ip", "-n", ns, "addr", "add", f"{a6}/64", "dev", dev, "nodad"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "link", "set", dev, "up"])
        links = json.loads(run(["ip", "-n", self.dut_ns, "-j", "link", "show", DUT_DEV]).stdout)
        self.dut_mac = links[0]["address"]
        # veth's ndo_xdp_xmit wants XDP on the receiving peer (attached per
        # variant) and, as observed, on the sending side too: any XDP_PASS.
        pin = self.new_pin("gen-pass")
        self.gen_cmd([self.dut_bin, "attach", "xdp-pass", "--dev", GEN_DEV, "--pin", pin])

    def teardown(self):
        # A second Ctrl-C must not cut the undo short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except BaseException as e:  # keep undoing the rest
                log(f"run.py: cleanup: {e}")

    # -- traffic --
    def gen(self, traffic, duration, count=None):
        v6 = traffic.get("family", 4) == 6
        cmd = [self.gen_bin, "--dev", GEN_DEV, "--json",
               "--src", traffic.get("src", SRC6 if v6 else SRC4),
               "--dst", DUT_ADDR6 if v6 else DUT_ADDR4, "--dst-mac", self.dut_mac,
               "--sources", str(traffic.get("sources", 1)),
               "--proto", traffic.get("proto", "udp"),
               "--dport", str(traffic.get("dport", 443)),
               "--size", str(traffic.get("size", 64)),
               "--threads", str(self.args.threads),
               "--count", str(count or self.args.max_count),
               "--duration", str(duration)]
        p = self.gen_cmd(cmd, timeout=duration + 60)
        return last_json(p.stdout, "castle-gen")
