# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""variants.py - one side of an A/B scenario each: what is attached to the
device under test, how what it received is counted, and how it is undone.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from benchlib import BPFFS, DUT_DEV, BenchError, last_json, run

def nft_cidrs(n):
    """n /28s from 198.18.0.0 up: the blocklist both nft and castle get."""
    return [f"198.18.{(i * 16) // 256}.{(i * 16) % 256}/28" for i in range(n)]


class Variant:
    """One side of a scenario. measure() returns {"value": ..., ...}."""
    unit = "Mpps"
    big_state = False       # leaves large maps to free: the driver settles after it

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
        """{"packets": N} and, where the counter knows, "dropped"."""
        raise NotImplementedError

    def teardown(self, env):
        pass

    def measure(self, env, traffic, duration):
        self.setup(env)
        try:
            if traffic.get("warmup"):
                # Fill the DUT's tables (e.g. one rate-limit entry per
                # source) before counting: the steady state is measured.
                env.gen(traffic, traffic["warmup"])
            c0 = self.count(env)
            g = env.gen(traffic, duration)
            c1 = self.count(env)
        finally:
            self.teardown(env)
        rx = c1["packets"] - c0["packets"]
        m = {"value": rx / g["elapsed_s"] / 1e6, "received": rx,
             "offered": g["offered"], "offered_mpps": g["mpps"],
             "elapsed_s": g["elapsed_s"], "pool": g.get("pool", "shared")}
        if "dropped" in c0:
            m["dropped"] = c1["dropped"] - c0["dropped"]
        for key in ("by_reason", "rl_events"):
            if key in c0 and key in c1:
                m[key] = {k: n - c0.get(key, {}).get(k, 0) for k, n in c1[key].items()}
        m.update(self.extra_sample())
        return m

    def extra_sample(self):
        """Anything else a run learnt (castled's start time, say)."""
        return {}


class XdpProg(LiveVariant):
    """A castle-dut program (baseline or castle) on veth-dut, native XDP."""

    def __init__(self, label, kind, extra=None, args=(), big_state=False):
        super().__init__(label)
        self.kind = kind
        if big_state:               # else the class's (CastleDaemon: True)
            self.big_state = True
        self.extra = extra          # another castle-dut program counted instead
        self.args = list(args)      # more `castle-dut attach` options for kind
        self.pins = []

    def unavailable(self, env):
        if self.kind == "castle" and not os.path.exists(env.castle_obj):
            return f"{env.castle_obj} not built"
        return None

    def attach(self, env, kind, dev, args=()):
        pin = env.new_pin(kind)
        cmd = [env.dut_bin, "attach", kind, "--dev", dev, "--pin", pin] + list(args)
        if kind == "castle":
            cmd += ["--obj", env.castle_obj]
        env.dut_cmd(cmd)
        self.pins.append(pin)
        return pin

    def setup(self, env):
        self.pins = []
        self.attach(env, self.kind, DUT_DEV, self.args)
        if self.extra:
            self.attach(env, self.extra, DUT_DEV)

    def count(self, env):
        p = env.dut_cmd([env.dut_bin, "count", "--pin", self.pins[-1]])
        return last_json(p.stdout, "castle-dut count")

    def teardown(self, env):
        for pin in reversed(self.pins):
            env.dut_cmd([env.dut_bin, "detach", "--pin", pin], check=False)
        self.pins = []


class NftBase(XdpProg):
    """nftables on veth-dut's netdev ingress hook. An XDP_PASS program stays
    on veth-dut: veth only takes redirected frames with XDP (NAPI) there.
    The count is the XDP_PASS program's (every frame nft sees passed it);
    the ruleset also keeps a named nft counter at the top of the chain."""
    table = "castle_bench"

    def __init__(self, label):
        super().__init__(label, "xdp-pass")

    def unavailable(self, env):
        return None if shutil.which("nft") else "nft not installed"

    def ruleset(self):
        raise NotImplementedError

    def setup(self, env):
        super().setup(env)
        try:
            env.dut_cmd(["nft", "-f", "-"], stdin=self.ruleset())
        except BenchError:
            self.teardown(env)      # measure() tears down only what set up
            raise

    def count(self, env):
        # Every frame nft sees went through the XDP_PASS program first, so
        # its counter is the same count; `nft list counter` would fetch the
        # whole ruleset, 1M dynamic set elements included (~1 min each).
        return super().count(env)

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
    big_state = True                # a million set elements

    def __init__(self, label, rate, burst, per="second"):
        super().__init__(label)
        self.rate, self.burst, self.per = rate, burst, per

    def ruleset(self):
        lim = f"limit rate over {self.rate}/{self.per} burst {self.burst} packets"
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


class IptBase(XdpProg):
    """iptables in the raw table's PREROUTING chain, the earliest hook
    iptables has: after the stack has built the skb and checked the IP
    header, before conntrack and routing. `iptables` is Debian's default,
    the nf_tables backend (xtables matches through nft_compat); with
    legacy=True, iptables-legacy (x_tables, the classic kernel path). As
    with nft, an XDP_PASS program stays on veth-dut and its count is the
    count. Everything lives in the dut namespace, so the namespace's removal
    undoes what a cut run left. `iptables -V` is recorded with each sample.

    A legacy table, once used, stays registered in its namespace (its hooks
    too, even flushed) until the namespace goes: run.py puts the legacy
    scenarios after every scenario whose packets reach the stack."""

    def __init__(self, label, legacy=False):
        super().__init__(label, "xdp-pass")
        self.version = None
        self.legacy = legacy
        sfx = "-legacy" if legacy else ""
        self.ipt4, self.ipt6 = "iptables" + sfx, "ip6tables" + sfx
        self.tools = (self.ipt4, self.ipt6) + self.extra_tools

    extra_tools = ()

    def unavailable(self, env):
        missing = [t for t in self.tools if not shutil.which(t)]
        return f"{', '.join(missing)} not installed" if missing else None

    def commands(self):
        """(argv, stdin or None) to run in order."""
        raise NotImplementedError

    def undo(self):
        flush = [[self.ipt4, "-t", "raw", "-F", "PREROUTING"],
                 [self.ipt6, "-t", "raw", "-F", "PREROUTING"]]
        if self.legacy:
            return flush        # the tables cannot go (see above)
        # Flushing leaves the raw tables hooked in (nf_tables backend): an
        # empty hook every later scenario's packets would still pass. The
        # tables go too.
        return flush + [["nft", "delete", "table", "ip", "raw"],
                        ["nft", "delete", "table", "ip6", "raw"]]

    def extra_sample(self):
        return {"iptables": self.version} if self.version else {}

    def setup(self, env):
        super().setup(env)
        if not self.version:
            self.version = env.dut_cmd([self.ipt4, "-V"], check=False).stdout.strip()
        for argv in self.undo():            # what an aborted run of this env left
            env.dut_cmd(argv, check=False)
        try:
            for argv, stdin in self.commands():
                env.dut_cmd(argv, stdin=stdin)
        except BenchError:
            self.teardown(env)      # measure() tears down only what set up
            raise

    def count(self, env):
        """The XDP_PASS program's count, and what the DROP rules matched
        (their rule counters): a rule that never matches (a frame the stack
        threw away before PREROUTING) shows as a drop count of 0."""
        c = super().count(env)
        dropped = 0
        for tool in (self.ipt4, self.ipt6):
            out = env.dut_cmd([tool, "-t", "raw", "-n", "-v", "-x", "-L", "PREROUTING"]).stdout
            dropped += sum(int(m) for m in re.findall(r"^\s*(\d+)\s+\d+\s+DROP\b", out, re.M))
        c["dropped"] = dropped
        return c

    def teardown(self, env):
        for argv in self.undo():
            env.dut_cmd(argv, check=False)
        super().teardown(env)


class IpsetSet(IptBase):
    """Drop sources in an ipset hash:net of n CIDRs (nft_cidrs: the /28s the
    nft set and castle get), matched from raw PREROUTING."""
    extra_tools = ("ipset",)
    name = "castle_bench"

    def __init__(self, label, n, legacy=False):
        super().__init__(label, legacy)
        self.n = n

    def commands(self):
        # -exist and a flush: with the nf_tables backend the kernel may still
        # hold the set for a moment after the rule that used it is gone, so
        # the previous run's destroy can have failed; the set is then reused.
        adds = "".join(f"add {self.name} {c}\n" for c in nft_cidrs(self.n))
        return [(["ipset", "create", self.name, "hash:net", "family", "inet",
                  "maxelem", str(max(65536, 2 * self.n)), "-exist"], None),
                (["ipset", "flush", self.name], None),
                (["ipset", "-exist", "restore"], adds),
                ([self.ipt4, "-t", "raw", "-A", "PREROUTING", "-m", "set", "--match-set",
                  self.name, "src", "-j", "DROP"], None)]

    def undo(self):
        # the rule first: a set in use cannot be destroyed
        return super().undo() + [["ipset", "destroy", self.name]]


class Hashlimit(IptBase):
    """Per-source rate limit with iptables' hashlimit (one /32 or /128 per
    bucket), dropping what is over, in raw PREROUTING for IPv4 and IPv6. The
    table holds `size` sources (buckets and entries; 1M by default), its
    entries expire after twice the limit's period."""
    big_state = True                # a million hashlimit entries

    PER_MS = {"second": 1000, "minute": 60_000, "hour": 3_600_000}

    def __init__(self, label, rate, burst, per="second", size=1 << 20, legacy=False):
        super().__init__(label, legacy)
        self.rate, self.burst, self.per, self.size = rate, burst, per, size

    def commands(self):
        # xt_hashlimit reuses a live table of the same name with its old
        # settings (one the kernel has not yet freed after the last flush),
        # so the name carries the size.
        cmds = []
        for tool, name, mask in ((self.ipt4, f"cb4_{self.size}", "32"),
                                 (self.ipt6, f"cb6_{self.size}", "128")):
            cmds.append(([tool, "-t", "raw", "-A", "PREROUTING", "-m", "hashlimit",
                          "--hashlimit-above", f"{self.rate}/{self.per}",
                          "--hashlimit-burst", str(self.burst),
                          "--hashlimit-mode", "srcip", "--hashlimit-srcmask", mask,
                          "--hashlimit-name", name,
                          "--hashlimit-htable-size", str(self.size),
                          "--hashlimit-htable-max", str(self.size),
                          "--hashlimit-htable-expire", str(2 * self.PER_MS[self.per]),
                          "-j", "DROP"], None))
        return cmds


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
        n = {a: int(v) for a, v in re.findall(r"XDP_(\w+)\s+(\d+) pkts", out)}
        return {"packets": sum(n.values()), "dropped": n.get("DROP", 0)}

    def teardown(self, env):
        self.xf(env, ["unload", DUT_DEV], check=False)


class CastleDaemon(XdpProg):
    """HOOK for castle-with-policy scenarios: castled attaches castle to
    veth-dut with `policy`, pinning under a private --pin-dir (libxdp's pins
    under our pin root too); the count is castle's own xdp_stats there.
    Pending until build/castled exists; build/castlectl unloads if present,
    else teardown clears veth-dut's hooks itself."""
    ready_timeout = 120             # s: a 1M-entry policy takes a while
    big_state = True                # rl_state alone is 128 MB
    # castled's metrics listen on the dut namespace's loopback; port 0 is
    # refused (exit 2), so each instance takes the next of these.
    metrics_ports = iter(range(19464, 29464))

    def __init__(self, label, policy, castle_obj=None, manual=()):
        super().__init__(label, "castle")
        self.policy = policy        # callable -> YAML text (may be large)
        self.castle_obj = castle_obj  # another build's castle_xdp.bpf.o (its castled)
        self.manual = manual        # CIDRs castlectl blocks once castled runs
        self.proc = None
        self.tmp = None
        self.ready_s = None

    def tool(self, env, name):
        # build/bpf/castle_xdp.bpf.o -> build/NAME
        obj = self.castle_obj or env.castle_obj
        return os.path.join(os.path.dirname(os.path.dirname(obj)), name)

    def unavailable(self, env):
        if not os.access(self.tool(env, "castled"), os.X_OK):
            return "pending: needs build/castled (castle's user space)"
        return None

    def log(self):
        try:
            with open(os.path.join(self.tmp, "castled.log")) as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self):
        return " / ".join(self.log().strip().splitlines()[-4:])

    def extra_sample(self):
        return {"castled_ready_s": round(self.ready_s, 3)} if self.ready_s else {}

    def reload(self, text, timeout=120):
        """Write a new policy, SIGHUP castled, return the seconds until it
        logs the new policy applied."""
        n0 = self.log().count(" applied: serial")
        with open(os.path.join(self.tmp, "policy.yaml"), "w") as f:
            f.write(text)
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGHUP)
        while time.monotonic() < t0 + timeout:
            log = self.log()
            if log.count(" applied: serial") > n0:
                return time.monotonic() - t0
            if "reload failed" in log or self.proc.poll() is not None:
                raise BenchError(f"castled: reload failed: {self.log_tail()}")
            time.sleep(0.01)
        raise BenchError(f"castled: reload not applied after {timeout} s")

    def xdp_attached(self, env):
        p = run(["ip", "-n", env.dut_ns, "-j", "link", "show", DUT_DEV], check=False)
        return p.returncode == 0 and "xdp" in (json.loads(p.stdout or "[{}]")[0])

    def setup(self, env):
        pin = env.new_pin("castled")
        self.pins = [pin]
        self.metrics = f"127.0.0.1:{next(CastleDaemon.metrics_ports)}"
        self.tmp = tempfile.mkdtemp(prefix=f"castle-bench-{env.pid}-")
        env.cleanups.append(lambda: self.teardown(env))     # if we are cut short
        policy = os.path.join(self.tmp, "policy.yaml")
        with open(policy, "w") as f:
            f.write(self.policy())
        os.makedirs(f"{env.pin_root}/xdp", exist_ok=True)
        logf = open(os.path.join(self.tmp, "castled.log"), "w")
        self.proc = subprocess.Popen(
            ["nsenter", f"--net=/var/run/netns/{env.dut_ns}", self.tool(env, "castled"),
             "-i", DUT_DEV, "-p", policy, "--pin-dir", pin,
             "--state-dir", os.path.join(self.tmp, "state"),
             "--metrics", self.metrics, "--foreground"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
            env=dict(os.environ, LIBXDP_BPFFS=f"{env.pin_root}/xdp"))
        logf.close()
        t0 = time.monotonic()
        deadline = t0 + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"castled exited {self.proc.returncode}: {self.log_tail()}")
            # "running (pid N)" comes after the policy is applied and
            # every interface attached: castled is ready.
            if "running (pid" in self.log() and os.path.exists(f"{pin}/xdp_stats") \
                    and self.xdp_attached(env):
                self.ready_s = time.monotonic() - t0
                for cidr in self.manual:
                    p = env.dut_cmd([self.tool(env, "castlectl"), "--pin-dir", pin, "block",
                                     "add", cidr], check=False)
                    if p.returncode:
                        raise BenchError(f"castlectl block add {cidr}: {p.stderr.strip()}")
                return
            time.sleep(0.02)
        raise BenchError(f"castled: not attached to {DUT_DEV} with {pin}/xdp_stats "
                         f"after {self.ready_timeout} s")

    def cpu_s(self):
        """CPU seconds castled used so far (nsenter execs it: same pid)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def metric(self, env, name, labels=""):
        """The first sample of metric `name` whose labels contain `labels`."""
        p = env.dut_cmd(["curl", "-sf", f"http://{self.metrics}/metrics"], check=False)
        for line in p.stdout.splitlines():
            if line.startswith(name + "{") and labels in line or line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        return None

    RL_EVENTS = ("insert", "promote", "steady_full", "untracked")   # castle.h

    def count(self, env):
        # The rate limiter's own events (per-CPU, summed): inserts and
        # refused promotions show the churn behind a rate-limit number.
        c = super().count(env)
        p = env.dut_cmd(["bpftool", "-j", "map", "dump", "pinned", f"{self.pins[-1]}/rl_events"],
                        check=False)
        if p.returncode == 0:
            c["rl_events"] = {}
            for e in json.loads(p.stdout):
                i = int.from_bytes(bytes(int(b, 16) for b in e["key"]), "little") \
                    if isinstance(e.get("key"), list) else int(e["key"])
                vals = e.get("values", [])
                n = sum(int.from_bytes(bytes(int(b, 16) for b in v["value"]), "little")
                        if isinstance(v["value"], list) else int(v["value"]) for v in vals)
                if i < len(self.RL_EVENTS):
                    c["rl_events"][self.RL_EVENTS[i]] = n
        return c

    def teardown(self, env):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        e = dict(os.environ, LIBXDP_BPFFS=f"{env.pin_root}/xdp")
        ctl = self.tool(env, "castlectl")
        for pin in self.pins:
            if os.access(ctl, os.X_OK):
                env.dut_cmd([ctl, "--pin-dir", pin, "unload", DUT_DEV], check=False, env=e)
            shutil.rmtree(pin, ignore_errors=True)
        if self.pins:
            # Whatever castled left on our own veth (the gate outlives the
            # daemon by design): the next variant needs the hooks free.
            env.dut_cmd(["ip", "link", "set", "dev", DUT_DEV, "xdp", "off"], check=False)
            env.dut_cmd(["tc", "qdisc", "del", "dev", DUT_DEV, "clsact"], check=False)
        self.pins = []
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None


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


def xdp_prog_on(env, dev=DUT_DEV):
    """(id, name) of the XDP program attached to dev in the dut namespace."""
    p = env.dut_cmd(["ip", "-j", "link", "show", dev])
    xdp = json.loads(p.stdout)[0].get("xdp")
    if not xdp:
        raise BenchError(f"no XDP program on {dev}")
    pid = xdp.get("prog", {}).get("id") or xdp.get("attached", [{}])[0].get("prog", {}).get("id")
    if not pid:
        raise BenchError(f"{dev}: XDP attached but no program id in {xdp}")
    info = json.loads(run(["bpftool", "-j", "prog", "show", "id", str(pid)]).stdout)
    return pid, info.get("name", "?")


def udp4_frame(src, dst="198.19.0.2", size=64):
    """An Ethernet + IPv4 + UDP frame of `size` bytes (checksummed IP)."""
    import struct
    ip_len = size - 14
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, ip_len, 0, 0, 64, 17, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    c = sum(struct.unpack("!10H", hdr))
    while c >> 16:
        c = (c & 0xffff) + (c >> 16)
    hdr = hdr[:10] + struct.pack("!H", ~c & 0xffff) + hdr[12:]
    udp = struct.pack("!HHHH", 40000, 443, ip_len - 20, 0)
    eth = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00])
    return (eth + hdr + udp).ljust(size, b"\0")


class AttachedCost(Variant):
    """ns/pkt of whatever `inner` (a LiveVariant: castled, xdp-filter, ...)
    attached to veth-dut, by test-running that program (`bpftool prog run`,
    repeat) over one frame: both sides measured the same way, through the
    same entry point (a libxdp dispatcher if that is what is attached), the
    fastest of SLICES runs of repeat/SLICES each."""
    unit = "ns/pkt"
    SLICES = 5

    def __init__(self, label, inner, frame):
        super().__init__(label)
        self.inner, self.frame = inner, frame

    def unavailable(self, env):
        if not shutil.which("bpftool"):
            return "bpftool not installed"
        return self.inner.unavailable(env)

    def measure(self, env, traffic, duration):
        fd, path = tempfile.mkstemp(prefix=f"castle-bench-{env.pid}-", suffix=".frame")
        with os.fdopen(fd, "wb") as f:
            f.write(self.frame)
        env.cleanups.append(lambda: os.path.exists(path) and os.unlink(path))
        self.inner.setup(env)
        durations, retval = [], None
        try:
            pid, name = xdp_prog_on(env)
            # The repeat in SLICES runs, the fastest taken: a host that slows
            # down in bursts (seen: 2x for a second or so) only ever adds time,
            # and the two sides of a pair are seconds apart (setup between).
            for _ in range(self.SLICES):
                out = run(["bpftool", "prog", "run", "id", str(pid), "data_in", path,
                           "repeat", str(max(1, env.args.cost_repeat // self.SLICES))])
                text = out.stdout + out.stderr
                m = re.search(r"Return value:\s*(\d+),\s*duration[^:]*:\s*(\d+)ns", text)
                if not m:
                    raise BenchError(f"bpftool prog run: no duration in {text.strip()[:200]!r}")
                durations.append(float(m.group(2)))
                retval = int(m.group(1))
        finally:
            self.inner.teardown(env)
        return {"value": min(durations), "slices_ns": durations, "retval": retval,
                "prog": name, "prog_id": pid}
