#!/usr/bin/env python3
"""The benchmark: NDR and PDR of this router and its peers, measured in one
run with one generator (vrouter-loadgen, through vrouter.loadgen) on the
same port kind for all, and written up as JSON and Markdown.

    sudo .venv/bin/vrouter bench            (or: make bench)
    sudo .venv/bin/vrouter bench --quick    (short trials, coarse search, no
                                             1M table, no OVS: a smoke test)
    sudo .venv/bin/vrouter bench --only vrouter,testpmd,kernel

memif section (one DUT core, memif server ports in copy mode, the
generator's ports zero-copy clients):
  ceiling      the generator's two ports joined inside it: its own ceiling
  testpmd      dpdk-testpmd --forward-mode=io: the raw I/O floor
  ovs          Open vSwitch with DPDK doing the L3 job with one flow
  vrouter      this router, 1 route
  vrouter-1m   this router, 1,000,000 prefixes
  vrouter-nat  this router with source NAT, 100,000 sessions (established
               by a warm-up before the search)
  vrouter-nat-setup  the new-session setup rate: source NAT, every packet
               a new flow, the sessions flushed before each trial; sessions
               created per second (NDR and saturated) from the router's
               own counters, and its cycles per new session
veth section (af_packet ports on veth pairs between network namespaces):
  ceiling-veth the generator's two ports on one veth pair
  vrouter-afp  this router with af_packet ports
  kernel       Linux forwarding
  kernel-nat   Linux forwarding + nftables masquerade, 100,000 sessions

Each contender gets the same traffic (fwdbench/traffic.py: 64-byte UDP to
4096 destinations one per /24, plus a 0.1% latency stream; NAT contenders
100,000 source address:port pairs) and an NDR search (vrouter.loadgen.ndr):
binary search on the offered rate, a trial passing when it loses at most
the threshold (NDR 0, PDR 0.5%) and the ports took the offered rate. Around
every trial: the DUT's counters (the router's own forwarding and drop
counters), the DUT CPU's busy time (/proc/stat) and a core-to-core probe
(vCPUs placed far apart by the host make memif ~2.5x slower: such a trial
counts as disturbed and a failing one is run again). Before every trial
it waits (up to --quiet-wait seconds) until nobody else uses the two CPUs:
the machine is shared, and a trial run while another process computes
measures that process as much as the DUT.

Cycles per packet = DUT CPU busy cycles / packets forwarded, in the unpaced
trial that saturates the DUT (for a poll-mode DUT the CPU is always busy,
so it is TSC Hz / forwarded pps; for the kernel it is the time it really
spent).

What this harness needs and restores: 2 MB hugepages (reserved and mounted
for the run, then put back), its own network namespaces, nf_conntrack_max
for kernel-nat; it may apt-get install openvswitch-switch-dpdk and
nftables. Every process it starts is killed on exit, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "appliance"))

from fwdbench import ndrreport, traffic  # noqa: E402
from fwdbench.duts import DutEnv, TestpmdDut  # noqa: E402
from fwdbench.loadgen import Flow, Loadgen  # noqa: E402
from fwdbench.procs import ProcessRegistry, runtime_ns, wait_for_socket  # noqa: E402
from fwdbench.system import (  # noqa: E402
    BenchError,
    DpdkPrefixes,
    Hugepages,
    machine_info,
    require_root,
)
from vrouter.loadgen import Generator  # noqa: E402
from vrouter.loadgen.errors import LoadgenError  # noqa: E402
from vrouter.loadgen.ndr import NdrSettings, run_ndr  # noqa: E402

MEMIF = ["ceiling", "testpmd", "ovs", "vrouter", "vrouter-1m", "vrouter-nat",
         "vrouter-nat-setup"]
VETH = ["ceiling-veth", "vrouter-afp", "kernel", "kernel-nat"]
LABELS = {
    "ceiling": "generator ceiling (memif loop)",
    "testpmd": "dpdk-testpmd io",
    "ovs": "Open vSwitch DPDK, 1 flow",
    "vrouter": "vrouter, 1 route",
    "vrouter-1m": "vrouter, 1M prefixes",
    "vrouter-nat": "vrouter, source NAT (4-address pool), 100k sessions",
    "vrouter-nat-setup": "vrouter, source NAT, every packet a new session",
    "ceiling-veth": "generator ceiling (veth pair)",
    "vrouter-afp": "vrouter, 1 route",
    "kernel": "Linux kernel forwarding",
    "kernel-nat": "Linux kernel + nft masquerade, 100k sessions",
}
QUICK_SKIP = {"ovs", "vrouter-1m"}
NAT_SESSIONS = 100_000


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vrouter bench",
                                description="NDR/PDR of vrouter and its peers over memif and veth "
                                            "(see bench/ndrbench.py)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 0.25 s trials, 5%% resolution, no OVS and no 1M table")
    p.add_argument("--only", metavar="NAMES",
                   help=f"comma-separated contenders: {', '.join(MEMIF + VETH)}")
    p.add_argument("--skip", metavar="NAMES", help="contenders to leave out")
    p.add_argument("--trial-duration", type=float, help="seconds per trial (default 1)")
    p.add_argument("--resolution", type=float, help="search resolution (default 0.01)")
    p.add_argument("--pdr", type=float, default=0.005, help="PDR loss ratio (default 0.005)")
    p.add_argument("--rate-tolerance", type=float, default=0.01,
                   help="how far below the offered rate the ports may take (default 0.01)")
    p.add_argument("--dst-count", type=int, default=4096, help="destinations (default 4096)")
    p.add_argument("--dst-step", type=int, default=256,
                   help="addresses between them (default 256: one per /24)")
    p.add_argument("--rsize", type=int, default=10, help="memif ring log2 size (default 10)")
    p.add_argument("--gen-cpu", type=int, default=0)
    p.add_argument("--dut-cpu", type=int, default=1)
    p.add_argument("--hugepages", type=int, default=1024, help="2 MB pages (default 1024)")
    p.add_argument("--probe-bad-cycles", type=int, default=700,
                   help="core-to-core round trip above which vCPUs count as far apart")
    p.add_argument("--no-probe", action="store_true", help="no core-to-core probe per trial")
    p.add_argument("--perf", action="store_true",
                   help="profile each DUT (perf record, CPU clock) during its saturating trial "
                        "and keep the top functions in the report")
    p.add_argument("--quiet-wait", type=float, default=None,
                   help="seconds to wait before a trial for the CPUs to be free of other "
                        "processes (default 20, --quick 2)")
    p.add_argument("--results-dir", type=Path, default=BENCH / "results")
    a = p.parse_args(argv)
    a.trial_duration = a.trial_duration or (0.25 if a.quick else 1.0)
    a.resolution = a.resolution or (0.05 if a.quick else 0.01)
    if a.quiet_wait is None:
        a.quiet_wait = 2.0 if a.quick else 20.0
    names = MEMIF + VETH
    if a.only:
        want = [n.strip() for n in a.only.split(",") if n.strip()]
        bad = [n for n in want if n not in names]
        if bad:
            p.error(f"unknown contender(s) {', '.join(bad)}: {', '.join(names)}")
        # a section's ceiling always comes along: it is the yardstick
        if any(n in MEMIF for n in want) and "ceiling" not in want:
            want.insert(0, "ceiling")
        if any(n in VETH for n in want) and "ceiling-veth" not in want:
            want.insert(0, "ceiling-veth")
        a.contenders = [n for n in names if n in want]
    else:
        a.contenders = [n for n in names if not (a.quick and n in QUICK_SKIP)]
    if a.skip:
        skip = {n.strip() for n in a.skip.split(",")}
        a.contenders = [n for n in a.contenders if n not in skip]
    if a.gen_cpu == a.dut_cpu:
        p.error("--gen-cpu and --dut-cpu must differ")
    return a


# ---- measuring around each trial ----

def cpu_times(cpu: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + v[4]
                return sum(v) - idle, sum(v)
    raise BenchError(f"no cpu{cpu} in /proc/stat")


def flat(d: dict | None, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in (d or {}).items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)):
            out[prefix + k] = v
    return out


def delta(a: dict, b: dict) -> dict[str, float]:
    fa, fb = flat(a), flat(b)
    return {k: fb[k] - fa.get(k, 0) for k in fb if fb[k] - fa.get(k, 0)}


@dataclass
class Ctx:
    args: argparse.Namespace
    workdir: Path
    procs: ProcessRegistry
    prefixes: DpdkPrefixes
    loadgen: Loadgen
    env: DutEnv
    say: callable
    stamp: str = ""


class Session:
    """A started contender: the generator's ports and the traffic it
    expects; counters() samples the DUT; close() stops the DUT."""

    ports: list[str]
    flow: Flow
    sessions = 0
    binary: Path | None = None
    dut = None
    pids: tuple[int, ...] = ()
    info: dict | None = None
    polls = True  # a poll-mode DUT: its CPU is always busy
    runqueue_disturbs = True  # the DUT waiting for its CPU spoils a trial
    rx_queues = 1  # OVS transmits on a second memif ring (its PMD's queue)
    new_sessions = False  # every packet a new NAT session (the setup rate)

    def before_trial(self) -> None:
        if self.dut is not None and hasattr(self.dut, "before_trial"):
            self.dut.before_trial()

    def counters(self) -> dict | None:
        return self.dut.counters() if self.dut is not None else None

    def close(self) -> None:
        if self.dut is not None:
            self.dut.stop()


def memif_session(ctx: Ctx, name: str) -> Session:
    from fwdbench.dut_ovs import OvsDut
    from fwdbench.dut_vrouter import (
        VrouterDut,
        VrouterFullTableDut,
        VrouterNatDut,
        VrouterNatSetupDut,
    )
    a = ctx.args
    s = Session()
    if name == "ceiling":
        s.ports = [f"loop,zero-copy=yes,rsize={a.rsize}"]
        s.flow = Flow(dst_count=a.dst_count, dst_step=a.dst_step)
        s.info = {"ports": "memif server + zero-copy client in the generator process"}
        return s
    cls = {"testpmd": TestpmdDut, "ovs": OvsDut, "vrouter": VrouterDut,
           "vrouter-1m": VrouterFullTableDut, "vrouter-nat": VrouterNatDut,
           "vrouter-nat-setup": VrouterNatSetupDut}[name]
    dut = cls(ctx.env)
    dut.check()
    sockdir = ctx.workdir / f"{name}-{time.monotonic_ns() % 10**9}"
    sockdir.mkdir()
    a_sock, b_sock = sockdir / "a.sock", sockdir / "b.sock"
    s.dut = dut
    dctx = dut.start(a_sock, b_sock)
    for sock in (a_sock, b_sock):
        wait_for_socket(sock, timeout=30)
    s.pids = dctx.pids
    s.info = dctx.info
    s.flow = dut.flow
    if name == "ovs":
        s.rx_queues = 2
    if name == "vrouter-nat":
        s.sessions = NAT_SESSIONS
        s.flow = Flow(dst_mac=dut.flow.dst_mac, src_ip="198.18.0.1", dst_ip=dut.flow.dst_ip)
    if name == "vrouter-nat-setup":
        s.new_sessions = True
        s.flow = Flow(dst_mac=dut.flow.dst_mac, src_ip="198.18.0.1", dst_ip=dut.flow.dst_ip)
    s.ports = [f"memif:{a_sock},zero-copy=yes,rsize={a.rsize}",
               f"memif:{b_sock},zero-copy=yes,rsize={a.rsize}"]
    return s


class VethSession(Session):
    # The kernel's receive work for the DUT runs on the DUT's CPU by design
    # (RPS): a poll-mode DUT waiting for its CPU is normal here, not a
    # disturbance.
    runqueue_disturbs = False

    def __init__(self, topo):
        self.topo = topo

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.topo.teardown()


def veth_session(ctx: Ctx, name: str) -> Session:
    from fwdbench.dut_vrouter import VrouterAfPacketDut
    from fwdbench.veth import KernelDut, KernelNatDut, VethTopology, kernel_flow
    a = ctx.args
    topo = VethTopology(f"vrlg{os.getpid() % 10000}", a.dut_cpu)
    s = VethSession(topo)
    try:
        if name == "kernel-nat":
            KernelNatDut(topo).check()
        topo.setup()
        from vrouter.loadgen.engine import find_binary
        s.binary = topo.wrapper(ctx.workdir, topo.ns_gen, "gen", find_binary())
        s.ports = topo.gen_ports(ceiling=name == "ceiling-veth")
        if name == "ceiling-veth":
            s.flow = Flow(src_mac=topo.macs["lgc0"], dst_mac=topo.macs["lgc1"],
                          dst_count=a.dst_count, dst_step=a.dst_step)
            s.info = {"ports": "af_packet on the two ends of one veth pair"}
            return s
        if name == "vrouter-afp":
            dut = VrouterAfPacketDut(ctx.env, topo)
            dut.check()
            s.dut = dut
            dctx = dut.start(Path("/nonexistent"), Path("/nonexistent"))  # af_packet: no sockets
            s.pids, s.info, s.flow = dctx.pids, dctx.info, dut.flow
            return s
        dut = (KernelNatDut if name == "kernel-nat" else KernelDut)(topo)
        dut.check()
        s.dut = dut
        s.info = dut.start()
        s.polls = False
        s.flow = kernel_flow(topo, a.dst_count, a.dst_step)
        if name == "kernel-nat":
            s.sessions = NAT_SESSIONS
            s.flow = kernel_flow(topo, 1, 1)
        return s
    except BaseException:
        s.close()
        raise


class DutTime:
    """How much of the wall time since it was made a poll-mode DUT did not
    run (others took its CPU: processes, interrupts). Its own threads
    taking turns on its CPU do not count (its control thread answering the
    harness), unlike a plain run-queue wait."""

    def __init__(self, pids):
        self.pids = list(pids or [])
        self.t0 = time.monotonic_ns()
        self.r0 = runtime_ns(self.pids) if self.pids else None

    def lost_s(self) -> float | None:
        if self.r0 is None:
            return None
        r1 = runtime_ns(self.pids)
        if r1 is None:
            return None
        return max(0, (time.monotonic_ns() - self.t0) - (r1 - self.r0)) / 1e9


class Profiler:
    """perf record (CPU-clock sampling: this guest has no hardware
    counters) of some processes while a trial runs; stop() gives the
    functions with the most samples."""

    def __init__(self, pids, path: Path):
        import subprocess
        self.path = path
        self.proc = None
        if shutil.which("perf") is None:
            return
        self.proc = subprocess.Popen(
            ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4999", "-o", str(path),
             "-p", ",".join(str(p) for p in pids)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)  # perf attaches before the trial starts

    def stop(self, top: int = 25) -> dict:
        import subprocess
        if self.proc is None:
            return {"error": "perf not installed"}
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return {"error": "perf record did not stop"}
        res = subprocess.run(["perf", "report", "-i", str(self.path), "--stdio", "--no-children",
                              "--sort", "symbol", "--percent-limit", "0.5"],
                             capture_output=True, text=True, timeout=120, check=False)
        rows = []
        for line in res.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[0].endswith("%") and parts[1].startswith("["):
                rows.append({"percent": float(parts[0].rstrip("%")),
                             "symbol": " ".join(parts[2:])})
        return {"top": rows[:top], "samples_file": str(self.path)}


def wait_quiet(a, session: Session) -> tuple[float, bool]:
    """Wait until no other process uses the generator's CPU or the DUT's
    (other people's tests share this machine), at most a.quiet_wait
    seconds. Between trials the generator sleeps, so its CPU should be
    idle; a poll-mode DUT keeps its CPU busy itself, so there the sign of
    another process is the DUT waiting for its CPU; a kernel DUT's CPU
    should be idle. Returns (seconds waited, quiet)."""
    t0 = time.monotonic()
    window = 0.25
    while True:
        g0, d0 = cpu_times(a.gen_cpu), cpu_times(a.dut_cpu)
        lost0 = DutTime(session.pids)
        time.sleep(window)
        g1, d1 = cpu_times(a.gen_cpu), cpu_times(a.dut_cpu)
        lost = lost0.lost_s()
        gen_busy = (g1[0] - g0[0]) / max(1, g1[1] - g0[1])
        if session.polls and lost is not None:
            dut_ok = lost < 0.02 * window
        elif session.polls:
            dut_ok = True  # a ceiling: no DUT
        else:
            dut_ok = (d1[0] - d0[0]) / max(1, d1[1] - d0[1]) < 0.1
        quiet = gen_busy < 0.1 and dut_ok
        waited = time.monotonic() - t0 - window
        if quiet or waited >= a.quiet_wait:
            return max(0.0, waited), quiet


def establish_sessions(ctx: Ctx, session: Session, gen, streams) -> dict:
    """NAT contenders: open the sessions before measuring (they are to be
    established, not new, during the search): the traffic's flows, each
    sent a few times at a rate every contender takes; then what the DUT
    says it holds."""
    rate = 2e6 if session.polls and not isinstance(session, VethSession) else 150e3
    duration = 3 * session.sessions / rate
    before = session.counters() or {}
    out = {"flows_sent": session.sessions, "packets": 0, "duration_s": 0.0, "runs": 0}
    # again while some are missing (a generator that lost its CPU skipped
    # part of its schedule: those flows were never sent)
    for _ in range(5):
        res = gen.run(streams, rate=f"{rate:g}pps", duration=duration, stream_stats="flow",
                      catchup=0.02)
        out["packets"] += res.tx_packets
        out["duration_s"] = round(out["duration_s"] + res.duration_s, 3)
        out["runs"] += 1
        time.sleep(0.2)
        after = session.counters() or {}
        grown = delta(before, after)
        if "port_a.nat_sessions_created" in grown or "worker.packets" in grown:
            out["sessions_created"] = int(grown.get("port_a.nat_sessions_created", 0))
            out["drops"] = {k: int(v) for k, v in grown.items() if "drop_nat" in k}
        if "conntrack_entries" in after:
            out["sessions_created"] = int(after["conntrack_entries"])
        if out.get("sessions_created", 0) >= session.sessions:
            break
    ctx.say(f"  warm-up: {out.get('sessions_created', '?')} sessions established "
            f"({out['packets']} packets, {out['duration_s']:.2f} s, {out['runs']} run(s))")
    return out


def run_contender(ctx: Ctx, name: str) -> dict:
    a = ctx.args
    section = "memif" if name in MEMIF else "veth"
    out = {"name": name, "label": LABELS[name], "section": section}
    ctx.say(f"{LABELS[name]} [{section}]")
    t0 = time.monotonic()
    session = None
    gen = None
    try:
        session = (memif_session if section == "memif" else veth_session)(ctx, name)
        gwork = ctx.workdir / f"gen-{name}"
        gwork.mkdir(exist_ok=True)
        gen = Generator(session.ports, cpu=a.gen_cpu, hugepages="yes", memory_mb=512, slots=2,
                        slot0_mbufs=32767, slot_mbufs=8191, workdir=gwork,
                        file_prefix=ctx.prefixes.new("gen"), binary=session.binary,
                        check_ports=session.binary is None, rx_queues=session.rx_queues)
        gen.start()
        hz = gen.tsc_hz
        trial_s = a.trial_duration
        if session.new_sessions:
            streams = traffic.new_session_streams(session.flow)
            # a trial's flows must fit the table (capacity) at any rate the
            # DUT manages: short trials
            trial_s = min(trial_s, 0.25)
        else:
            streams = traffic.streams(session.flow, sessions=session.sessions)
        settings = NdrSettings(ndr_loss=0.0, pdr_loss=a.pdr, trial_s=trial_s,
                               resolution=a.resolution, rate_tolerance=a.rate_tolerance,
                               max_trials=25 if not a.quick else 12,
                               retry_disturbed=1 if a.quick else 4)
        waits = []
        profiles: list[dict] = []

        def hook(pps, run_trial):
            session.before_trial()
            waited, quiet = wait_quiet(a, session)
            waits.append(waited)
            probe0 = None if a.no_probe else ctx.loadgen.probe((a.gen_cpu, a.dut_cpu))
            c0, cpu0 = session.counters(), cpu_times(a.dut_cpu)
            dut_time = DutTime(session.pids)
            prof = (Profiler(session.pids, ctx.workdir / f"perf-{name}.data")
                    if a.perf and pps is None and session.pids else None)
            try:
                res = run_trial()
            finally:
                if prof is not None:
                    profiles.append(prof.stop())
            c1, cpu1 = session.counters(), cpu_times(a.dut_cpu)
            lost = dut_time.lost_s()
            probe1 = None if a.no_probe else ctx.loadgen.probe((a.gen_cpu, a.dut_cpu))
            busy = (cpu1[0] - cpu0[0]) / max(1, cpu1[1] - cpu0[1])
            extra = {"dut_cpu_busy": round(busy, 4),
                     "dut_counters": (c1 if name == "ovs" else delta(c0 or {}, c1 or {})),
                     "waited_for_quiet_s": round(waited, 2)}
            problems = []
            if not quiet:
                problems.append("other processes kept the CPUs busy")
            if probe0 is not None:
                extra["probe_cycles"] = [probe0["median_cycles"], probe1["median_cycles"]]
                if max(extra["probe_cycles"]) > a.probe_bad_cycles:
                    problems.append("vCPUs far apart")
            if lost is not None:
                extra["dut_cpu_taken_s"] = round(lost, 4)
                if session.runqueue_disturbs and lost > 0.01 * res.duration_s:
                    problems.append(f"others took {lost:.3f} s of the DUT's CPU")
            if problems:
                extra["disturbed"] = "; ".join(problems)
            res.extra = extra
            return res

        warm = None
        if session.sessions:
            warm = establish_sessions(ctx, session, gen, streams)
        nr = run_ndr(gen, streams, stream_stats="flow", settings=settings,
                     log=lambda m: ctx.say("  " + m.strip()), measure_hook=hook)
        if warm is not None:
            out["established"] = warm
        out["waited_for_quiet_s"] = round(sum(waits), 1)
        try:  # loss, back-pressure and latency against the offered rate
            from vrouter.loadgen.report import plot_ndr
            png = plot_ndr(nr, a.results_dir / f"ndr-{ctx.stamp}-{name}.png",
                           f"{LABELS[name]} ({section})")
            out["plot"] = png.name
        except Exception as e:  # noqa: BLE001 - a plot is not worth the results
            out["plot_error"] = str(e)
        if profiles:
            out["perf_saturated"] = profiles[0]
        out.update(summarize(nr, session, hz))
        out["status"] = "ok"
    except (BenchError, LoadgenError, OSError) as e:
        out["status"] = "failed"
        out["reason"] = str(e).strip()
        ctx.say(f"  failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
        if os.environ.get("VROUTER_BENCH_DEBUG"):
            traceback.print_exc()
    except Exception as e:  # noqa: BLE001 - a bug here must not lose the others' results
        out["status"] = "failed"
        out["reason"] = f"{type(e).__name__}: {e}\n{traceback.format_exc()}"
        ctx.say(f"  failed: {type(e).__name__}: {e}")
    finally:
        # The DUT first, the generator idle but connected: memif unmaps
        # shared memory on disconnect and the side still polling crashes.
        if session is not None:
            with contextlib.suppress(Exception):
                session.close()
        if gen is not None:
            gen.close()
        ctx.procs.kill_all()
        ctx.prefixes.cleanup()
    out["elapsed_s"] = round(time.monotonic() - t0, 1)
    return out


def summarize(nr, session: Session, hz: int) -> dict:
    out = {"ndr_search": nr.to_json(), "info": session.info}
    probe = next((t for t in nr.trials if t.probe), None)
    if probe is not None:
        r = probe.result
        fwd = r.rx_packets
        busy = r.extra.get("dut_cpu_busy")
        if session.dut is None:
            busy = None  # a ceiling: no DUT
        elif session.polls:
            busy = 1.0
        out["saturated"] = {
            "rx_mpps": r.rx_pps / 1e6, "tx_mpps": r.tx_pps / 1e6,
            "dut_cpu_busy": r.extra.get("dut_cpu_busy"),
            "cycles_per_packet": busy * hz * r.duration_s / fwd if busy and fwd else None,
            "dut_counters": r.extra.get("dut_counters"),
        }
    if nr.ndr.trial is not None:
        r = nr.ndr.trial.result
        out["ndr_trial_dut_counters"] = r.extra.get("dut_counters")
        busy = None if session.dut is None else (1.0 if session.polls
                                                 else r.extra.get("dut_cpu_busy"))
        # cycles the DUT's CPU spent per packet forwarded at the NDR (for a
        # poll-mode DUT, its whole budget: TSC Hz / NDR pps, as CSIT does)
        out["cycles_per_packet_at_ndr"] = (busy * hz * r.duration_s / r.rx_packets
                                           if busy and r.rx_packets else None)
    # the router's own accounting: worker cycles in iterations that had
    # packets, per packet (leaves out the empty polls a DUT below its
    # limit makes)
    for key, t in (("router_cycles_per_packet_at_ndr", nr.ndr.trial), ("saturated", probe)):
        c = (t.result.extra.get("dut_counters") or {}) if t is not None else {}
        cpp = (c["worker.busy_tsc"] / c["worker.packets"]
               if c.get("worker.packets") and c.get("worker.busy_tsc") else None)
        if key == "saturated":
            if "saturated" in out:
                out["saturated"]["router_cycles_per_packet"] = cpp
        else:
            out[key] = cpp
    if session.new_sessions:
        out["new_sessions"] = new_session_figures(nr, probe)
    out["tsc_hz"] = hz
    out["disturbed_trials"] = sum(1 for t in nr.trials if t.result.disturbed)
    return out


def new_session_figures(nr, probe) -> dict:
    """The setup rate: sessions the router created per second (its
    nat_sessions_created counter over the trial's duration) in the NDR
    trial (no packet lost) and in the saturating one, and the worker's
    cycles per new session."""
    out = {}
    for which, t in (("ndr", nr.ndr.trial), ("pdr", nr.pdr.trial), ("saturated", probe)):
        if t is None:
            continue
        r = t.result
        c = r.extra.get("dut_counters") or {}
        created = int(c.get("port_a.nat_sessions_created", 0))
        busy = c.get("worker.busy_tsc")
        out[which] = {
            "sessions_created": created,
            "sessions_per_s": created / r.duration_s if r.duration_s > 0 else None,
            "forwarded_pps": r.rx_pps,
            # every packet the router received opened a session (1.0)
            "new_per_received": (created / c["port_a.rx_packets"]
                                 if c.get("port_a.rx_packets") else None),
            "router_cycles_per_session": busy / created if busy and created else None,
            "drops": {k: int(v) for k, v in c.items() if "drop" in k},
            "duration_s": r.duration_s,
        }
    return out


def _raise_on_signal(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_on_signal)
    a = parse_args(argv)
    try:
        require_root()
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # The harness itself stays off the DUT's CPU (it wakes up between and
    # around trials; on the DUT's CPU that would count as a disturbance).
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {a.gen_cpu})
    started = datetime.datetime.now()
    stamp = started.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="vrndr-"))
    procs = ProcessRegistry(workdir)
    prefixes = DpdkPrefixes(f"vrndr{os.getpid()}")
    hugepages = Hugepages(pages=a.hugepages)
    def say(m: str) -> None:
        print(m, flush=True)
    results = []
    try:
        say("building the generator and the dataplane ...")
        loadgen = Loadgen(REPO)
        loadgen.build()
        _build_dataplane()
        hugepages.setup()
        env = DutEnv(cpu=a.dut_cpu, rsize=a.rsize, dst_count=a.dst_count, dst_step=a.dst_step,
                     procs=procs, prefixes=prefixes, workdir=workdir)
        ctx = Ctx(a, workdir, procs, prefixes, loadgen, env, say, stamp)
        busy = _machine_busy()
        tasks0, t_start = task_times(), time.monotonic()
        for name in a.contenders:
            results.append(run_contender(ctx, name))
        others = foreign_cpu_users(tasks0, task_times(), [f"vrndr{os.getpid()}", str(workdir),
                                                          "c2c-probe", "vrouter bench",
                                                          "ndrbench"],
                                   time.monotonic() - t_start)
        run = {
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.datetime.now().isoformat(timespec="seconds"),
            "machine": machine_info(REPO),
            "busy_before": busy,
            "other_cpu_users": others,
            "conditions": {
                "frame_bytes": traffic.FRAME, "dst_count": a.dst_count, "dst_step": a.dst_step,
                "latency_stream_share": traffic.LATENCY_SHARE, "nat_sessions": NAT_SESSIONS,
                "gen_cpu": a.gen_cpu, "dut_cpu": a.dut_cpu, "memif_rsize": a.rsize,
                "trial_s": a.trial_duration, "resolution": a.resolution,
                "rate_tolerance": a.rate_tolerance, "ndr_loss": 0.0, "pdr_loss": a.pdr,
                "quick": a.quick, "hugepages": hugepages.description,
            },
            "contenders": results,
        }
        json_path, md_path = ndrreport.write(run, a.results_dir, stamp)
        say("")
        say(md_path.read_text())
        say(f"wrote {json_path}\n      {md_path}")
        return 0 if any(r.get("status") == "ok" for r in results) else 1
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; cleaned up", file=sys.stderr)
        return 130
    finally:
        procs.kill_all()
        prefixes.cleanup()
        hugepages.restore()
        shutil.rmtree(workdir, ignore_errors=True)


def _build_dataplane() -> None:
    import subprocess
    d = REPO / "dataplane"
    if not (d / "build" / "build.ninja").exists():
        subprocess.run(["meson", "setup", str(d / "build"), str(d)], check=True,
                       capture_output=True)
    res = subprocess.run(["ninja", "-C", str(d / "build")], capture_output=True, text=True)
    if res.returncode != 0:
        # Someone may be half-way through a change: use what is built, or
        # measure the others (the vrouter contenders then say why not).
        have = (d / "build" / "vrouter-dataplane").exists()
        print("warning: the dataplane does not build right now; "
              + ("using the binary already built" if have else "no vrouter contenders")
              + "\n" + res.stdout[-1500:], file=sys.stderr)


def task_times() -> dict[int, tuple[str, str, int]]:
    """Every thread: (its process's command line, comm, utime + stime jiffies)."""
    out = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")[:300]
            for tid in os.listdir(f"/proc/{pid}/task"):
                st = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                comm = st[st.index("(") + 1:st.rindex(")")]
                f = st[st.rindex(")") + 2:].split()
                out[int(tid)] = (cmd or f"[{comm}]", comm, int(f[11]) + int(f[12]))
        except (OSError, ValueError, IndexError):
            continue
    return out


def foreign_cpu_users(before: dict, after: dict, tags: list[str], elapsed: float) -> list[dict]:
    """Processes that are not this benchmark's and used a CPU meanwhile: the
    machine is shared, and they take time from the generator or the DUT."""
    hz = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    per_proc: dict[str, float] = {}
    for tid, (cmd, comm, t1) in after.items():
        t0 = before.get(tid, (cmd, comm, t1 if tid == me else 0))[2]
        used = (t1 - t0) / hz
        if used <= 0 or any(tag in cmd for tag in tags) or tid == me:
            continue
        key = cmd if not cmd.startswith("[") else "kernel threads (softirq work, including "\
            "the veth section's)"
        per_proc[key] = per_proc.get(key, 0.0) + used
    return [{"process": k[:160], "cpu_s": round(v, 1)} for k, v in
            sorted(per_proc.items(), key=lambda kv: -kv[1]) if v > max(1.0, 0.01 * elapsed)]


def _machine_busy(seconds: float = 0.5) -> float:
    def sample():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v) - v[3] - v[4], sum(v)
    b0, t0 = sample()
    time.sleep(seconds)
    b1, t1 = sample()
    return round((b1 - b0) / max(1, t1 - t0), 3)


if __name__ == "__main__":
    sys.exit(main())
