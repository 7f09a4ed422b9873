"""The Python API: a Generator on some ports runs profiles.

    from vrouter.loadgen import Generator

    with Generator(["loop"], cpu=0) as gen:
        res = gen.run("imix", rate="1mpps", duration=5)
        print(res.loss_ratio, res.latency.percentile(99))

A profile is a file or a profiles/ name (see profile.py), an STLProfile,
a list of STLStream, or a callable(direction, port_id) returning streams.
Everything is checked and compiled before the first packet goes out.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .compiler import CompiledStream, PortInfo, apply_rate, compile_streams, trial_text
from .engine import Engine, EnginePort, EngineSettings
from .errors import LoadgenError, PortError, ProfileError, RateError
from .ports import PortSpec, check_port, parse_port
from .profile import load_streams
from .rates import Rate, format_pps, parse_rate
from .stats import TrialResult, parse_result
from .streams import STLProfile, STLStream

MAX_DURATION_S = 24 * 3600
#: a run without a packet limit still stops after this many packets
#: beyond what its rate should send in its duration (unpaced: this rate)
UNPACED_CAP_PPS = 200e6


Profile = str | Path | STLProfile | Sequence[STLStream] | Callable[..., Any]


def cpu_lost_ns(pid: int | None, cpu: int) -> int | None:
    """CPU time others took from the generator so far: its threads' time
    runnable but not running (/proc/PID/task/TID/schedstat: other tasks had
    its CPU) plus its CPU's interrupt, softirq (other processes' network
    traffic lands there too) and hypervisor steal time (/proc/stat, in
    jiffies). Not its own slow system calls (af_packet), which a gap in its
    loop cannot tell apart. None where Linux does not say."""
    if pid is None:
        return None
    import os
    total, seen = 0, False
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[1])
                seen = True
        except (OSError, IndexError, ValueError):
            continue
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith(f"cpu{cpu} "):
                    f = line.split()
                    taken = int(f[6]) + int(f[7]) + int(f[8])  # irq, softirq, steal
                    total += taken * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
                    break
    except (OSError, IndexError, ValueError):
        pass
    return total if seen else None


def _streams_of(profile: Profile, direction: int, port_id: int,
                tunables: dict[str, str]) -> list[STLStream]:
    if isinstance(profile, (str, Path)):
        return load_streams(profile, direction, port_id, tunables)
    if isinstance(profile, STLProfile):
        return profile.get_streams()
    if isinstance(profile, STLStream):
        return [profile]
    if callable(profile):
        got = profile(direction=direction, port_id=port_id, **tunables)
        return _streams_of(got, direction, port_id, {})
    streams = list(profile)
    if not all(isinstance(s, STLStream) for s in streams):
        raise ProfileError("a profile given in code must be STLStream objects")
    return streams


def check_duration(duration: float) -> float:
    try:
        d = float(duration)
    except (TypeError, ValueError):
        raise LoadgenError(f"duration {duration!r} is not a number of seconds") from None
    if not 0 < d <= MAX_DURATION_S or math.isnan(d):
        raise LoadgenError(f"duration {duration}: must be more than 0 and at most "
                           f"{MAX_DURATION_S} s")
    return d


@dataclass
class Plan:
    """A compiled run: the streams with their rates, ready to send."""

    streams: list[CompiledStream]
    rate: Rate | None

    @property
    def offered_pps(self) -> float:
        return sum(s.pps for s in self.streams)

    @property
    def unpaced(self) -> bool:
        return any(s.pps == 0 for s in self.streams)


class Generator:
    def __init__(self, ports: Sequence[str | PortSpec], *, cpu: int = 0,
                 hugepages: str = "auto", memory_mb: int = 512, slots: int = 8,
                 slot0_mbufs: int = 32767, slot_mbufs: int = 4095, rx_mbufs: int = 32767,
                 link_timeout: float = 10.0, workdir: Path | None = None,
                 file_prefix: str | None = None, binary: Path | None = None,
                 check_ports: bool = True, rx_queues: int = 1):
        """check_ports=False: the ports are not visible from here (the
        generator is started in another network namespace by `binary`)."""
        self.specs = [p if isinstance(p, PortSpec) else parse_port(p) for p in ports]
        if not self.specs:
            raise PortError("no ports: give at least one (e.g. loop)")
        if check_ports:
            for s in self.specs:
                check_port(s)
        self.settings = EngineSettings(cpu=cpu, hugepages=hugepages, memory_mb=memory_mb,
                                       slots=slots, slot0_mbufs=slot0_mbufs,
                                       slot_mbufs=slot_mbufs, rx_mbufs=rx_mbufs,
                                       rx_queues=rx_queues,
                                       link_timeout_s=link_timeout, file_prefix=file_prefix)
        self.engine = Engine(self.specs, self.settings, binary=binary, workdir=workdir)
        self._trial = 0

    # ---- lifecycle ----

    def start(self) -> Generator:
        self.engine.start()
        return self

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Generator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def ports(self) -> list[EnginePort]:
        if self.engine.ready is None:
            raise LoadgenError("the generator is not started")
        return self.engine.ready.ports

    @property
    def tsc_hz(self) -> int:
        return self.engine.ready.tsc_hz if self.engine.ready else 0

    def port_info(self, user_port: int) -> PortInfo:
        ep = self.ports[user_port]
        # Virtual ports report made-up speeds (memif 100G, af_packet and tap
        # 10G whatever the veth can do): only a NIC's is a line rate.
        line = ep.spec.line_rate.value if ep.spec.line_rate else (
            ep.speed_mbps * 1e6 if ep.speed_mbps and ep.spec.kind == "pci" else None)
        return PortInfo(ep.tx, ep.spec.text, ep.mac or None, ep.spec.dst_mac, line, ep.driver)

    # ---- planning ----

    def _tx_ports(self, tx_ports: Sequence[int] | None) -> list[int]:
        n = len(self.specs)
        if tx_ports is None:
            return [0]
        out = []
        for p in tx_ports:
            if not isinstance(p, int) or not 0 <= p < n:
                raise PortError(f"transmit port {p!r}: there are ports 0..{n - 1}")
            if p not in out:
                out.append(p)
        return out

    def plan(self, profile: Profile, *, tx_ports: Sequence[int] | None = None,
             rate: str | Rate | None = None, tunables: dict[str, str] | None = None,
             stream_stats: str = "all", seed: int | None = None,
             offline: bool = False) -> Plan:
        """Load and compile the profile for each transmitting port (TRex's
        direction = port % 2). offline: before the generator is started
        (MAC addresses and speeds unknown), to find mistakes early."""
        r = parse_rate(rate) if rate is not None else None
        out: list[CompiledStream] = []
        infos: dict[int, PortInfo] = {}
        for p in self._tx_ports(tx_ports):
            if offline:
                spec = self.specs[p]
                info = PortInfo(p, spec.text, None, spec.dst_mac,
                                spec.line_rate.value if spec.line_rate else None)
            else:
                info = self.port_info(p)
            infos[info.index] = info
            streams = _streams_of(profile, p % 2, p, dict(tunables or {}))
            if not streams:
                raise ProfileError(f"the profile gives no streams for port {p}")
            out += compile_streams(streams, info, len(out), stream_stats,
                                   None if seed is None else seed + p)
        if len(out) > self.settings.slots:
            raise ProfileError(f"{len(out)} streams: the generator takes at most "
                               f"{self.settings.slots} at once (slots)")
        apply_rate(out, infos, r)
        return Plan(out, r)

    # ---- running ----

    def run(self, profile: Profile | Plan, *, rate: str | Rate | None = None,
            duration: float = 10.0, max_packets: int | None = None,
            tx_ports: Sequence[int] | None = None, tunables: dict[str, str] | None = None,
            stream_stats: str = "all", seed: int | None = None,
            progress: Callable[[dict], None] | None = None, drain: float = 0.1,
            sample: float = 0.1, catchup: float = 0.02) -> TrialResult:
        """One trial. catchup: how much of its schedule a paced stream may
        make up, back to back, after the generator lost its CPU (20 ms keeps
        the average rate through a few scheduler slices on a busy machine;
        the NDR search uses 0.5 ms: interrupts, VM exits and slow system
        calls (af_packet) are made up, while a burst after a real
        preemption never hits the DUT with more than 0.5 ms of traffic)."""
        duration = check_duration(duration)
        plan = profile if isinstance(profile, Plan) else self.plan(
            profile, tx_ports=tx_ports, rate=rate, tunables=tunables,
            stream_stats=stream_stats, seed=seed)
        if max_packets is None:
            pps = UNPACED_CAP_PPS if plan.unpaced else plan.offered_pps
            bursts = sum(s.packets or 0 for s in plan.streams)
            max_packets = int(duration * pps * 1.05) + bursts + 1000
        if max_packets < 0:
            raise RateError("max_packets must not be negative")
        self._trial += 1
        text = trial_text(plan.streams, trial_id=self._trial, duration_s=duration,
                          n_ports=self.engine.ready.n_dpdk_ports, max_packets=max_packets,
                          drain_s=drain, sample_s=sample, progress_s=0.5 if progress else 0,
                          epoch=random.getrandbits(31) | 1, catchup_s=catchup)
        lost0 = cpu_lost_ns(self.engine.proc.pid if self.engine.proc else None,
                            self.settings.cpu)
        ev = self.engine.run_trial(text, on_progress=progress, timeout=duration + drain + 60)
        lost1 = cpu_lost_ns(self.engine.proc.pid if self.engine.proc else None,
                            self.settings.cpu)
        offered = str(plan.rate) if plan.rate else "profile rates"
        res = parse_result(ev, plan.streams, self.ports, offered)
        if lost0 is not None and lost1 is not None:
            res.cpu_lost_s = max(0, lost1 - lost0) / 1e9
        return res

    def stop(self) -> None:
        """End the running trial early (from another thread or a signal
        handler); run() still returns its result."""
        self.engine.stop_trial()


class ProgressLine:
    """A one-line live view of a run: elapsed time, tx/rx rates, loss so
    far. On a terminal it rewrites itself; otherwise one line per event."""

    def __init__(self, duration: float, plan: Plan | None = None, out: TextIO = sys.stderr,
                 prefix: str = ""):
        self.duration = duration
        self.plan = plan
        self.out = out
        self.prefix = prefix
        self.tty = out.isatty()
        self.prev: dict | None = None
        self.t0 = time.monotonic()
        self.shown = False

    def __call__(self, ev: dict) -> None:
        t = ev["t_s"]
        tx, rx = sum(ev["port_tx"]), sum(ev["port_rx"])
        if self.prev is not None and t > self.prev["t_s"]:
            dt = t - self.prev["t_s"]
            txr = (tx - sum(self.prev["port_tx"])) / dt
            rxr = (rx - sum(self.prev["port_rx"])) / dt
        else:
            txr = tx / t if t > 0 else 0.0
            rxr = rx / t if t > 0 else 0.0
        marked_tx = marked_rx = 0
        if self.plan is not None:
            for cs, a, b in zip(self.plan.streams, ev["tx"], ev["rx"]):
                if cs.marked:
                    marked_tx += a
                    marked_rx += b
        loss = (f"  loss so far {100.0 * max(0, marked_tx - marked_rx) / marked_tx:.3f}% (in "
                "flight included)") if marked_tx else ""
        line = (f"{self.prefix}{t:6.1f}/{self.duration:g} s  tx {format_pps(txr):>12}  "
                f"rx {format_pps(rxr):>12}  {tx} sent, {rx} received{loss}")
        if self.tty:
            self.out.write("\r\033[K" + line)
        else:
            self.out.write(line + "\n")
        self.out.flush()
        self.prev = ev
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            self.out.write("\r\033[K")
            self.out.flush()
