#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""run.py - castle's benchmark driver.

Builds two network namespaces joined by a veth pair (gen -> dut), runs every
scenario as A/B pairs interleaved (A B A B ...), reads what the device under
test received from its own counters, and prints medians and the median of
the per-pair ratios A/B; the same numbers go to a JSON file.

  gen netns                                    dut netns
  castle-gen (test-run, LIVE_FRAMES) -> veth-gen ==== veth-dut -> program under test
  (XDP_PASS prog on veth-gen)                                     (+ nft / tcx / ...)

Everything it creates carries its pid (namespaces castle-bench-{gen,dut}-PID,
pins under /sys/fs/bpf/castle-bench-PID) and is removed on exit, on error and
on SIGINT/SIGTERM; leftovers of a killed run are removed by the next one.

Numbers are reported, never asserted: noise cannot fail a run. A scenario
that cannot run (a tool missing, castle's daemon not built yet) is reported
as skipped or pending; a harness error makes the exit status 1.

Adding a scenario: write a Variant (or reuse XdpProg, NftSet, ...), then add
a Scenario row to scenarios(). See docs/BENCHMARKS.md.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import statistics
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


# ---- variants: one side of an A/B pair ---------------------------------------

class Variant:
    """One side of a scenario. measure() returns {"value": ..., ...}."""
    unit = "Mpps"

    def __init__(self, label):
        self.label = label

    def unavailable(self, env):
        """None, or why this variant cannot run here (reported as skipped)."""
        return None


class LiveVariant(Variant):
    """Traffic from castle-gen; value = frames the DUT counted / gen time."""

    def setup(self, env):
        raise NotImplementedError

    def count(self, env):
        raise NotImplementedError

    def teardown(self, env):
        pass

    def measure(self, env, traffic, duration):
        self.setup(env)
        try:
            c0 = self.count(env)
            g = env.gen(traffic, duration)
            c1 = self.count(env)
        finally:
            self.teardown(env)
        rx = c1 - c0
        return {"value": rx / g["elapsed_s"] / 1e6, "received": rx,
                "offered": g["offered"], "offered_mpps": g["mpps"],
                "elapsed_s": g["elapsed_s"]}


class XdpProg(LiveVariant):
    """A castle-dut program (baseline or castle) on veth-dut, native XDP."""

    def __init__(self, label, kind, extra=None):
        super().__init__(label)
        self.kind = kind
        self.extra = extra          # another castle-dut program counted instead
        self.pins = []

    def unavailable(self, env):
        if self.kind == "castle" and not os.path.exists(env.castle_obj):
            return f"{env.castle_obj} not built"
        return None

    def attach(self, env, kind, dev):
        pin = env.new_pin(kind)
        cmd = [env.dut_bin, "attach", kind, "--dev", dev, "--pin", pin]
        if kind == "castle":
            cmd += ["--obj", env.castle_obj]
        env.dut_cmd(cmd)
        self.pins.append(pin)
        return pin

    def setup(self, env):
        self.pins = []
        self.attach(env, self.kind, DUT_DEV)
        if self.extra:
            self.attach(env, self.extra, DUT_DEV)

    def count(self, env):
        p = env.dut_cmd([env.dut_bin, "count", "--pin", self.pins[-1]])
        return last_json(p.stdout, "castle-dut count")["packets"]

    def teardown(self, env):
        for pin in reversed(self.pins):
            env.dut_cmd([env.dut_bin, "detach", "--pin", pin], check=False)
        self.pins = []


class NftBase(XdpProg):
    """nftables on veth-dut's netdev ingress hook. An XDP_PASS program stays
    on veth-dut: veth only takes redirected frames with XDP (NAPI) there.
    The count is a named nft counter at the top of the chain."""
    table = "castle_bench"

    def __init__(self, label):
        super().__init__(label, "xdp-pass")

    def unavailable(self, env):
        return None if shutil.which("nft") else "nft not installed"

    def ruleset(self):
        raise NotImplementedError

    def setup(self, env):
        super().setup(env)
        env.dut_cmd(["nft", "-f", "-"], stdin=self.ruleset())

    def count(self, env):
        p = env.dut_cmd(["nft", "-j", "list", "counter", "netdev", self.table, "seen"])
        for obj in json.loads(p.stdout)["nftables"]:
            if "counter" in obj:
                return obj["counter"]["packets"]
        raise BenchError("nft: counter 'seen' not in the listing")

    def teardown(self, env):
        env.dut_cmd(["nft", "delete", "table", "netdev", self.table], check=False)
        super().teardown(env)


class NftSet(NftBase):
    """Drop sources in a set of n CIDRs (/28 from 198.18.0.0 up)."""

    def __init__(self, label, n):
        super().__init__(label)
        self.n = n

    def ruleset(self):
        elems = ", ".join(nft_cidrs(self.n))
        return (f"table netdev {self.table} {{\n"
                f"  counter seen {{ }}\n"
                f"  set blk {{ type ipv4_addr; flags interval; elements = {{ {elems} }} }}\n"
                f"  chain in {{ type filter hook ingress device \"{DUT_DEV}\" priority 0;\n"
                f"    counter name \"seen\"\n"
                f"    ip saddr @blk drop\n  }}\n}}\n")


class NftMeter(NftBase):
    """Per-source rate limit with a dynamic set (the old `meter`)."""

    def __init__(self, label, rate, burst):
        super().__init__(label)
        self.rate, self.burst = rate, burst

    def ruleset(self):
        lim = f"limit rate over {self.rate}/second burst {self.burst} packets"
        return (f"table netdev {self.table} {{\n"
                f"  counter seen {{ }}\n"
                f"  set rl4 {{ type ipv4_addr; size 1048576; flags dynamic,timeout; "
                f"timeout 60s; }}\n"
                f"  set rl6 {{ type ipv6_addr; size 1048576; flags dynamic,timeout; "
                f"timeout 60s; }}\n"
                f"  chain in {{ type filter hook ingress device \"{DUT_DEV}\" priority 0;\n"
                f"    counter name \"seen\"\n"
                f"    update @rl4 {{ ip saddr {lim} }} drop\n"
                f"    update @rl6 {{ ip6 saddr {lim} }} drop\n  }}\n}}\n")


class XdpFilter(LiveVariant):
    """xdp-tools' xdp-filter (native XDP), default-allow policy, n source
    addresses denied (198.18.0.0 up). Its dispatcher pins go to our pin root
    (LIBXDP_BPFFS); its own maps live in /sys/fs/bpf/xdp-filter, so the
    variant refuses to run when another user has that directory."""

    def __init__(self, label, n):
        super().__init__(label)
        self.n = n
        self.registered = False

    def unavailable(self, env):
        if not shutil.which("xdp-filter"):
            return "xdp-filter not installed"
        if os.path.exists(f"{BPFFS}/xdp-filter"):
            return f"{BPFFS}/xdp-filter exists (xdp-filter in use on this host)"
        return None

    def xf(self, env, args, **kw):
        e = dict(os.environ, LIBXDP_BPFFS=f"{env.pin_root}/xdp")
        return env.dut_cmd(["xdp-filter"] + args, env=e, **kw)

    def setup(self, env):
        os.makedirs(f"{env.pin_root}/xdp", exist_ok=True)
        if not self.registered:     # unload before the namespace goes
            env.cleanups.append(lambda: self.xf(env, ["unload", DUT_DEV], check=False))
            self.registered = True
        self.xf(env, ["load", "-m", "native", "-f", "ipv4,ipv6", DUT_DEV])
        base = 198 << 24 | 18 << 16
        for i in range(self.n):
            a = base + i
            self.xf(env, ["ip", f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}",
                          "-m", "src"])

    def count(self, env):
        out = self.xf(env, ["status"]).stdout
        return sum(int(n) for n in re.findall(r"XDP_\w+\s+(\d+) pkts", out))

    def teardown(self, env):
        self.xf(env, ["unload", DUT_DEV], check=False)


class CastleDaemon(XdpProg):
    """HOOK for castle-with-policy scenarios: castled attaches castle to
    veth-dut with `policy` and pins under a private --pin-dir; the count is
    castle's own xdp_stats there. Pending until build/castled exists; written
    against the spec's CLI, not yet run."""

    def __init__(self, label, policy):
        super().__init__(label, "castle")
        self.policy = policy        # callable -> YAML text (may be large)
        self.proc = None

    @staticmethod
    def daemon(env):
        # build/bpf/castle_xdp.bpf.o -> build/castled
        return os.path.join(os.path.dirname(os.path.dirname(env.castle_obj)), "castled")

    def unavailable(self, env):
        if not os.access(self.daemon(env), os.X_OK):
            return "pending: needs castled (castle's user-space library)"
        return None

    def setup(self, env):
        pin = env.new_pin("castled")
        self.pins = [pin]
        path = f"/tmp/castle-bench-{env.pid}-policy.yaml"
        with open(path, "w") as f:
            f.write(self.policy())
        state = f"/tmp/castle-bench-{env.pid}-state"
        os.makedirs(state, exist_ok=True)
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{env.dut_ns}", self.daemon(env),
             "-i", DUT_DEV, "-p", path, "--pin-dir", pin, "--state-dir", state,
             "--metrics", "127.0.0.1:0", "--foreground"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        env.cleanups.append(lambda: self.teardown(env))     # if we are cut short
        deadline = time.monotonic() + 60
        while not os.path.exists(f"{pin}/xdp_stats") and time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"castled exited {self.proc.returncode}: "
                                 f"{self.proc.stderr.read().strip()[-300:]}")
            time.sleep(0.1)
        if not os.path.exists(f"{pin}/xdp_stats"):
            raise BenchError("castled: no xdp_stats pinned after 60 s")

    def teardown(self, env):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        ctl = os.path.join(os.path.dirname(self.daemon(env)), "castlectl")
        for pin in self.pins:
            env.dut_cmd([ctl, "--pin-dir", pin, "unload", DUT_DEV], check=False)
            shutil.rmtree(pin, ignore_errors=True)
        self.pins = []


class Cost(Variant):
    """ns per packet of one program over one crafted frame (test-run, no
    live frames): the program's own cost, without any device."""
    unit = "ns/pkt"

    def __init__(self, label, kind):
        super().__init__(label)
        self.kind = kind

    def unavailable(self, env):
        return XdpProg.unavailable(self, env)

    def measure(self, env, traffic, duration):
        cmd = [env.dut_bin, "cost", self.kind, "--repeat", str(env.args.cost_repeat),
               "--size", str(traffic.get("size", 64)), "--proto", traffic.get("proto", "udp"),
               "--obj", env.castle_obj]
        if traffic.get("family", 4) == 6:
            cmd.append("--v6")
        r = last_json(run(cmd).stdout, "castle-dut cost")
        return {"value": float(r["ns_per_pkt"]), "retval": r["retval"]}


# ---- scenarios -------------------------------------------------------------

class Scenario:
    def __init__(self, name, title, a, b, traffic, quick=False):
        self.name, self.title = name, title
        self.a, self.b = a, b
        self.traffic = traffic
        self.quick = quick


def v4(sources=1000, **kw):
    return dict(family=4, sources=sources, **kw)


def v6(sources=1000, **kw):
    return dict(family=6, sources=sources, **kw)


def nft_cidrs(n):
    """n /28s from 198.18.0.0 up: the blocklist both nft and castle get."""
    return [f"198.18.{(i * 16) // 256}.{(i * 16) % 256}/28" for i in range(n)]


def blocklist_policy(cidrs):
    """castle policy text blocking every CIDR that cidrs() returns."""
    def text():
        return "version: 1\nmode: enforce\nblock:\n" + "".join(f"  - {c}\n" for c in cidrs())
    return text


def v6_hosts(n):
    """n /128s from 2001:db8:5:: up: a blocklist the IPv6 pool hits entirely."""
    return [f"2001:db8:5::{i >> 16 & 0xffff:x}:{i & 0xffff:x}/128" for i in range(n)]


def ratelimit_policy(rate, burst):
    def text():
        return ("version: 1\nmode: enforce\nlimits:\n  - name: bench\n"
                f"    match: {{ proto: udp }}\n    rate: {rate}/s\n    burst: {burst}\n")
    return text


def scenarios():
    """The scenario table. quick=True rows run in `make bench-quick`."""
    return [
        Scenario("sanity-drop", "trivial XDP_DROP vs itself (ratio ~1)",
                 XdpProg("xdp-drop", "xdp-drop"), XdpProg("xdp-drop", "xdp-drop"),
                 v4(1000), quick=True),
        Scenario("castle-pass-v4", "castle XDP, no policy (pass path) vs XDP_PASS",
                 XdpProg("castle", "castle"), XdpProg("xdp-pass", "xdp-pass"),
                 v4(1000), quick=True),
        Scenario("cost-v4", "castle_xdp vs XDP_DROP, test-run ns/pkt, UDPv4",
                 Cost("castle", "castle"), Cost("xdp-drop", "xdp-drop"),
                 v4(1), quick=True),
        Scenario("castle-pass-v6", "castle XDP, no policy vs XDP_PASS, IPv6",
                 XdpProg("castle", "castle"), XdpProg("xdp-pass", "xdp-pass"), v6(1000)),
        Scenario("cost-v6", "castle_xdp vs XDP_DROP, test-run ns/pkt, UDPv6",
                 Cost("castle", "castle"), Cost("xdp-drop", "xdp-drop"), v6(1)),
        Scenario("tcx-ok", "XDP_PASS + tcx TC_ACT_OK vs XDP_PASS alone",
                 XdpProg("pass+tc-ok", "xdp-pass", extra="tc-ok"),
                 XdpProg("xdp-pass", "xdp-pass"), v4(1000)),
        Scenario("nft-set-drop", "nft netdev ingress, 1000-CIDR set -> drop vs XDP_DROP",
                 NftSet("nft-set", 1000), XdpProg("xdp-drop", "xdp-drop"), v4(4096)),
        Scenario("nft-meter", "nft per-source limit (dynamic set) vs XDP_PASS",
                 NftMeter("nft-meter", 10, 5), XdpProg("xdp-pass", "xdp-pass"), v4(65536)),
        Scenario("xdp-filter-drop", "xdp-filter, 1000 denied sources vs XDP_DROP",
                 XdpFilter("xdp-filter", 1000), XdpProg("xdp-drop", "xdp-drop"), v4(1000)),
        # Hooks: castle with policy, pending castled.
        Scenario("castle-blocklist-1m", "castle, 1M-entry blocklist (all hit) vs XDP_DROP",
                 CastleDaemon("castle-block", blocklist_policy(lambda: v6_hosts(1 << 20))),
                 XdpProg("xdp-drop", "xdp-drop"), v6(1 << 20)),
        Scenario("castle-vs-nft-set", "castle vs nft, the same 1000-CIDR blocklist",
                 CastleDaemon("castle-block", blocklist_policy(lambda: nft_cidrs(1000))),
                 NftSet("nft-set", 1000), v4(4096)),
        Scenario("castle-ratelimit-1m", "castle, 1M-source rate limit vs XDP_PASS",
                 CastleDaemon("castle-limit", ratelimit_policy(10, 5)),
                 XdpProg("xdp-pass", "xdp-pass"), v6(1 << 20)),
        Scenario("castle-vs-nft-meter", "castle 1M-source limit vs nft meter",
                 CastleDaemon("castle-limit", ratelimit_policy(10, 5)),
                 NftMeter("nft-meter", 10, 5), v6(1 << 20)),
    ]


# ---- running and reporting ---------------------------------------------------

def run_scenario(env, sc, runs, duration):
    res = {"name": sc.name, "title": sc.title, "unit": sc.a.unit, "traffic": sc.traffic,
           "a": {"label": sc.a.label, "samples": []},
           "b": {"label": sc.b.label, "samples": []}, "ratios": []}
    for v in (sc.a, sc.b):
        why = v.unavailable(env)
        if why:
            pending = why.startswith("pending: ")
            res["status"] = "pending" if pending else "skipped"
            res["reason"] = f"{v.label}: {why[len('pending: '):] if pending else why}"
            return res
    try:
        for i in range(runs):
            pair = []
            for side, v in (("a", sc.a), ("b", sc.b)):
                m = v.measure(env, sc.traffic, duration)
                res[side]["samples"].append(m)
                pair.append(m["value"])
            res["ratios"].append(pair[0] / pair[1] if pair[1] else None)
            log(f"  {sc.name} run {i + 1}/{runs}: {sc.a.label} {pair[0]:.3f}, "
                f"{sc.b.label} {pair[1]:.3f} {sc.a.unit}")
    except BenchError as e:
        res["status"] = "error"
        res["reason"] = str(e)
        return res
    for side in ("a", "b"):
        res[side]["median"] = statistics.median(s["value"] for s in res[side]["samples"])
        off = [s["offered_mpps"] for s in res[side]["samples"] if "offered_mpps" in s]
        if off:
            res[side]["offered_median"] = statistics.median(off)
    ratios = [r for r in res["ratios"] if r is not None]
    res["ratio_median"] = statistics.median(ratios) if ratios else None
    res["status"] = "ok"
    return res


def table(results):
    head = ["scenario", "A", "B", "A median", "B median", "A/B", "unit", "status"]
    rows = []
    for r in results:
        ok = r["status"] == "ok"
        rows.append([r["name"], r["a"]["label"], r["b"]["label"],
                     f"{r['a']['median']:.3f}" if ok else "-",
                     f"{r['b']['median']:.3f}" if ok else "-",
                     f"{r['ratio_median']:.3f}" if ok and r["ratio_median"] else "-",
                     r["unit"], r["status"]])
    w = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    num = {3, 4, 5}
    lines = []
    for x in [head] + rows:
        lines.append("  ".join(str(c).rjust(w[i]) if i in num else str(c).ljust(w[i])
                               for i, c in enumerate(x)).rstrip())
        if x is head:
            lines.append("  ".join("-" * n for n in w))
    for r in results:
        if r["status"] != "ok":
            lines.append(f"{r['name']}: {r['status']}: {r.get('reason', '')}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="castle benchmark driver (needs root)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the short set (default)")
    mode.add_argument("--full", action="store_true", help="every scenario")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only this scenario (repeatable)")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--runs", type=int, help="A/B pairs per scenario (quick 3, full 5)")
    ap.add_argument("--duration", type=float, help="seconds per run (quick 1, full 2)")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                    help="generator threads (one per CPU)")
    ap.add_argument("--queues", type=int, default=max(2, os.cpu_count() or 1),
                    help="veth queues (>= threads)")
    ap.add_argument("--max-count", type=int, default=200_000_000,
                    help="frames per run at most (the duration usually stops first)")
    ap.add_argument("--cost-repeat", type=int, default=1_000_000,
                    help="test-run repeat for ns/pkt scenarios")
    ap.add_argument("--build", default="build/bench", help="where castle-gen/castle-dut are")
    ap.add_argument("--castle-obj", default="build/bpf/castle_xdp.bpf.o")
    ap.add_argument("--json", default="build/bench/results.json", help="results file")
    args = ap.parse_args()

    all_sc = scenarios()
    if args.list:
        for sc in all_sc:
            print(f"{sc.name:22} {'quick' if sc.quick else 'full ':5}  {sc.title}")
        return 0
    if args.only:
        unknown = set(args.only) - {sc.name for sc in all_sc}
        if unknown:
            log(f"run.py: unknown scenario(s): {', '.join(sorted(unknown))} (see --list)")
            return 2
        chosen = [sc for sc in all_sc if sc.name in args.only]
    else:
        chosen = [sc for sc in all_sc if args.full or sc.quick]
    runs = args.runs or (5 if args.full else 3)
    duration = args.duration or (2.0 if args.full else 1.0)
    if runs < 1 or runs > 100 or duration <= 0 or duration > 60:
        log("run.py: --runs must be 1..100 and --duration 0..60 s")
        return 2
    if os.geteuid() != 0:
        log("run.py: needs root (namespaces, XDP, bpffs)")
        return 1

    def on_signal(sig, _frame):
        log(f"run.py: signal {sig}: cleaning up")
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = Env(args)
    results = []
    t0 = time.monotonic()
    try:
        env.setup()
        log(f"run.py: {len(chosen)} scenario(s), {runs} A/B pairs, {duration:g} s per run, "
            f"{args.threads} generator thread(s)")
        # Warm-up: fault in the generator and the veth rings.
        warm = XdpProg("xdp-drop", "xdp-drop")
        warm.measure(env, v4(1000), min(duration, 0.3))
        for sc in chosen:
            log(f"run.py: {sc.name}: {sc.title}")
            results.append(run_scenario(env, sc, runs, duration))
    except BenchError as e:
        log(f"run.py: {e}")
        results.append({"name": "setup", "status": "error", "reason": str(e)})
    finally:
        env.teardown()

    report = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "kernel": os.uname().release, "cpus": os.cpu_count(),
            "mode": "full" if args.full else "quick", "runs": runs,
            "duration_s": duration, "threads": args.threads, "queues": args.queues,
            "wall_s": round(time.monotonic() - t0, 1),
        },
        "scenarios": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(table([r for r in results if "a" in r]))
    for r in results:
        if "a" not in r:
            print(f"{r['name']}: {r['status']}: {r['reason']}")
    print(f"results: {args.json} ({report['meta']['wall_s']} s)")
    return 1 if any(r["status"] == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
