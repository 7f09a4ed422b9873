"""Results: what the generator counted in a trial, per stream and per port,
and what follows from it (loss, rates in pps and bps, latency
percentiles).

Loss of a marked stream = packets sent - distinct packets received
(received minus duplicates). Packets of unmarked streams are only counted
per port, as "other" at the receiving port; they are matched against the
unmarked streams' transmit count as a whole.

Latency histogram buckets (loadgen/src/rxstats.h): bucket i < 16 holds
[i, i+1) ns; above, e = i // 16 + 3, m = i % 16 holds
[(16 + m) << (e - 4), (17 + m) << (e - 4)) ns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .rates import FCS, L1_OVERHEAD

HIST_SUB = 16


def bucket_bounds(i: int) -> tuple[int, int]:
    """[low, high) of histogram bucket i, in nanoseconds."""
    if i < HIST_SUB:
        return i, i + 1
    e, m = i // HIST_SUB + 3, i % HIST_SUB
    return (HIST_SUB + m) << (e - 4), (HIST_SUB + 1 + m) << (e - 4)


def bucket_index(ns: int) -> int:
    if ns < HIST_SUB:
        return ns
    e = ns.bit_length() - 1
    return HIST_SUB * (e - 3) + ((ns >> (e - 4)) & (HIST_SUB - 1))


@dataclass
class Latency:
    count: int = 0
    min_ns: int = 0
    max_ns: int = 0
    sum_ns: int = 0
    jitter_ns: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)   # bucket index -> count

    @classmethod
    def from_json(cls, d: dict | None) -> Latency | None:
        if not d:
            return None
        return cls(d["count"], d["min_ns"], d["max_ns"], d["sum_ns"], d["jitter_ns"],
                   {int(i): int(c) for i, c in d["hist"]})

    @property
    def avg_ns(self) -> float:
        return self.sum_ns / self.count if self.count else 0.0

    def buckets(self) -> list[tuple[int, int, int]]:
        """(low_ns, high_ns, count) of the non-empty buckets, in order."""
        return [(*bucket_bounds(i), c) for i, c in sorted(self.hist.items())]

    def percentile(self, p: float) -> float:
        """The p-th percentile (0..100), as the upper bound of the bucket it
        falls in (at most max): HDR-style, at most 1/16 high."""
        if not self.count:
            return 0.0
        want = p / 100.0 * self.count
        seen = 0
        for lo, hi, c in self.buckets():
            seen += c
            if seen >= want:
                return float(max(self.min_ns, min(hi, self.max_ns)))
        return float(self.max_ns)

    def merge(self, other: Latency | None) -> Latency:
        if other is None or not other.count:
            return self
        if not self.count:
            return Latency(other.count, other.min_ns, other.max_ns, other.sum_ns,
                           other.jitter_ns, dict(other.hist))
        hist = dict(self.hist)
        for i, c in other.hist.items():
            hist[i] = hist.get(i, 0) + c
        # jitter: the larger (it is not additive)
        return Latency(self.count + other.count, min(self.min_ns, other.min_ns),
                       max(self.max_ns, other.max_ns), self.sum_ns + other.sum_ns,
                       max(self.jitter_ns, other.jitter_ns), hist)

    def summary(self) -> dict:
        return {"count": self.count, "min_us": self.min_ns / 1e3, "avg_us": self.avg_ns / 1e3,
                "max_us": self.max_ns / 1e3, "p50_us": self.percentile(50) / 1e3,
                "p99_us": self.percentile(99) / 1e3, "p999_us": self.percentile(99.9) / 1e3,
                "jitter_us": self.jitter_ns / 1e3}

    def to_json(self) -> dict:
        return {**self.summary(),
                "histogram": [{"low_ns": lo, "high_ns": hi, "count": c}
                              for lo, hi, c in self.buckets()]}


def _bits(pkts: int, nbytes: int, overhead: int) -> int:
    return (nbytes + pkts * overhead) * 8


@dataclass
class StreamStats:
    id: int
    name: str
    port: int                      # user port it is sent from
    pg_id: int | None
    frame_bytes: int
    marked: bool                   # carries a signature (per-stream rx counts)
    latency_on: bool
    offered_pps: float             # 0: unpaced
    tx_packets: int
    tx_bytes: int
    rx_packets: int
    rx_bytes: int
    dup: int
    ooo: int
    too_old: int
    behind: int                    # skipped: the port pushed back
    first_s: float
    last_s: float
    latency: Latency | None
    late: int = 0                  # skipped: the generator itself was late
    table_period: int = 0          # >0: built from a precomputed period (trial.c)

    @property
    def lost(self) -> int | None:
        if not self.marked:
            return None
        return max(0, self.tx_packets - (self.rx_packets - self.dup))

    @property
    def loss_ratio(self) -> float | None:
        lost = self.lost
        if lost is None:
            return None
        return lost / self.tx_packets if self.tx_packets else 0.0

    def tx_pps(self, duration: float) -> float:
        return self.tx_packets / duration if duration > 0 else 0.0

    def to_json(self, duration: float) -> dict:
        d = {
            "id": self.id, "name": self.name, "port": self.port, "pg_id": self.pg_id,
            "frame_bytes": self.frame_bytes, "marked": self.marked,
            "offered_pps": self.offered_pps or None,
            "tx_packets": self.tx_packets, "tx_bytes": self.tx_bytes,
            "rx_packets": self.rx_packets if self.marked else None,
            "rx_bytes": self.rx_bytes if self.marked else None,
            "lost": self.lost, "loss_ratio": self.loss_ratio,
            "duplicates": self.dup if self.marked else None,
            "out_of_order": (self.ooo + self.too_old) if self.marked else None,
            "tx_pps": self.tx_pps(duration),
            "tx_bps_l1": _bits(self.tx_packets, self.tx_bytes, L1_OVERHEAD) / duration
            if duration > 0 else 0.0,
            "skipped_port_pushed_back": self.behind,
            "skipped_generator_late": self.late,
        }
        if self.latency is not None:
            d["latency"] = self.latency.to_json()
        return d


@dataclass
class PortStats:
    port: int
    label: str
    tx_packets: int = 0
    tx_bytes: int = 0
    rx_packets: int = 0
    rx_bytes: int = 0
    rx_other: int = 0
    tx_full: int = 0
    eth: dict = field(default_factory=dict)


@dataclass
class TrialResult:
    duration_s: float
    stop: str
    streams: list[StreamStats]
    ports: list[PortStats]
    stalled_s: float = 0.0
    preempted_s: float = 0.0
    preemptions: int = 0
    samples: dict = field(default_factory=dict)
    offered: str = ""               # the rate asked for, as text
    raw: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)   # what a harness measured around it
    cpu_lost_s: float | None = None  # CPU time others took from the generator (runner.py)

    # ---- totals ----
    @property
    def tx_packets(self) -> int:
        return sum(s.tx_packets for s in self.streams)

    @property
    def tx_bytes(self) -> int:
        return sum(s.tx_bytes for s in self.streams)

    @property
    def rx_packets(self) -> int:
        """Distinct packets of ours received (marked streams exactly;
        unmarked ones from the ports' unattributed counts)."""
        marked = sum(s.rx_packets - s.dup for s in self.streams if s.marked)
        unmarked_tx = sum(s.tx_packets for s in self.streams if not s.marked)
        other = sum(p.rx_other for p in self.ports)
        return marked + min(unmarked_tx, other)

    @property
    def rx_bytes(self) -> int:
        marked = sum(s.rx_bytes for s in self.streams if s.marked)
        unmarked = [s for s in self.streams if not s.marked]
        if unmarked:
            frac = min(1.0, sum(p.rx_other for p in self.ports) /
                       max(1, sum(s.tx_packets for s in unmarked)))
            marked += int(frac * sum(s.tx_bytes for s in unmarked))
        return marked

    @property
    def lost(self) -> int:
        return max(0, self.tx_packets - self.rx_packets)

    @property
    def loss_ratio(self) -> float:
        return self.lost / self.tx_packets if self.tx_packets else 0.0

    @property
    def duplicates(self) -> int:
        return sum(s.dup for s in self.streams if s.marked)

    @property
    def out_of_order(self) -> int:
        return sum(s.ooo + s.too_old for s in self.streams if s.marked)

    @property
    def tx_pps(self) -> float:
        return self.tx_packets / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def rx_pps(self) -> float:
        return self.rx_packets / self.duration_s if self.duration_s > 0 else 0.0

    def bps(self, direction: str = "tx", layer: int = 1) -> float:
        pkts, nbytes = ((self.tx_packets, self.tx_bytes) if direction == "tx"
                        else (self.rx_packets, self.rx_bytes))
        over = L1_OVERHEAD if layer == 1 else FCS
        return _bits(pkts, nbytes, over) / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def offered_pps(self) -> float:
        return sum(s.offered_pps for s in self.streams)

    @property
    def late(self) -> int:
        """Packets the schedule skipped because the generator did not run."""
        return sum(s.late for s in self.streams)

    @property
    def latency(self) -> Latency | None:
        lat = Latency()
        for s in self.streams:
            lat = lat.merge(s.latency)
        return lat if lat.count else None

    @property
    def disturbed(self) -> bool:
        """Others took the generator's CPU for more than 1% of the trial
        (cpu_lost_s where Linux says, else the gaps over 1 ms in its loop),
        or a harness around it saw the machine misbehave
        (extra["disturbed"])."""
        lost = self.preempted_s if self.cpu_lost_s is None else self.cpu_lost_s
        return (lost > 0.01 * max(self.duration_s, 1e-9)
                or bool(self.extra.get("disturbed")))

    def to_json(self) -> dict:
        lat = self.latency
        return {
            "offered": self.offered, "duration_s": self.duration_s, "stop": self.stop,
            "tx_packets": self.tx_packets, "rx_packets": self.rx_packets, "lost": self.lost,
            "loss_ratio": self.loss_ratio, "duplicates": self.duplicates,
            "out_of_order": self.out_of_order,
            "tx_pps": self.tx_pps, "rx_pps": self.rx_pps,
            "tx_bps_l1": self.bps("tx", 1), "tx_bps_l2": self.bps("tx", 2),
            "rx_bps_l1": self.bps("rx", 1), "rx_bps_l2": self.bps("rx", 2),
            "latency": lat.summary() if lat else None,
            "generator_stalled_s": self.stalled_s, "generator_preempted_s": self.preempted_s,
            "generator_cpu_lost_s": self.cpu_lost_s,
            "generator_late_packets": self.late,
            "streams": [s.to_json(self.duration_s) for s in self.streams],
            "ports": [{"port": p.port, "label": p.label, "tx_packets": p.tx_packets,
                       "rx_packets": p.rx_packets, "rx_unattributed": p.rx_other,
                       "tx_ring_full": p.tx_full, "ethdev": p.eth} for p in self.ports],
            "samples": self.samples,
            **({"extra": self.extra} if self.extra else {}),
        }


def parse_result(ev: dict, streams, engine_ports, offered: str = "") -> TrialResult:
    """The generator's result event -> TrialResult. streams: the
    CompiledStreams of the trial (in id order); engine_ports: EnginePort
    list (user ports)."""
    by_dpdk: dict[int, tuple[int, str]] = {}
    for ep in engine_ports:
        by_dpdk[ep.tx] = (ep.index, ep.spec.text)
        by_dpdk[ep.rx] = (ep.index, ep.spec.text)
    user_of_tx = {ep.tx: ep.index for ep in engine_ports}
    out_streams = []
    for cs, s in zip(streams, ev["streams"]):
        out_streams.append(StreamStats(
            id=cs.id, name=cs.name, port=user_of_tx.get(cs.port, cs.port), pg_id=cs.pg_id,
            frame_bytes=cs.length, marked=cs.marked, latency_on=cs.latency,
            offered_pps=cs.pps, tx_packets=s["tx_packets"], tx_bytes=s["tx_bytes"],
            rx_packets=s["rx_packets"], rx_bytes=s["rx_bytes"], dup=s["dup"], ooo=s["ooo"],
            too_old=s["too_old"], behind=s["behind"], first_s=s["first_s"], last_s=s["last_s"],
            latency=Latency.from_json(s.get("lat")), late=s.get("late", 0),
            table_period=s.get("table_period", 0)))
    # Fold the generator's ports into the user's (a loop is two of them).
    ports: dict[int, PortStats] = {}
    for p in ev["ports"]:
        user, label = by_dpdk.get(p["port"], (p["port"], f"dpdk{p['port']}"))
        ps = ports.setdefault(user, PortStats(user, label))
        ps.tx_packets += p["tx_packets"]
        ps.tx_bytes += p["tx_bytes"]
        ps.rx_packets += p["rx_packets"]
        ps.rx_bytes += p["rx_bytes"]
        ps.rx_other += p["rx_other"]
        ps.tx_full += p["tx_full"]
        for k, v in p["eth"].items():
            ps.eth[k] = ps.eth.get(k, 0) + v
    return TrialResult(
        duration_s=ev["duration_s"], stop=ev["stop"], streams=out_streams,
        ports=[ports[k] for k in sorted(ports)], stalled_s=ev["stalled_s"],
        preempted_s=ev["preempted_s"], preemptions=ev["preemptions"],
        samples=ev.get("samples", {}), offered=offered, raw=ev)
