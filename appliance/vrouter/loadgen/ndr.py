"""Non-drop rate search (RFC 2544 section 26.1 throughput; TRex's
ndr_bench): the highest offered rate at which the device under test loses
at most a given ratio of the packets: 0 for the NDR, 0.5% by default for
the PDR (partial drop rate).

The search is a binary search over the offered rate between 0 and an
upper bound (a given maximum, else the ports' line rate, else what the
generator manages unpaced on these ports: on memif the DUT pushes back,
so that is about the DUT's own ceiling). Each step is one trial of
`trial_s` seconds. A trial passes a threshold when
  - the packets lost (sent but not received) are at most that ratio, and
  - the ports took what was offered, to within `rate_tolerance` (a memif
    DUT that cannot keep up does not drop: its ring fills and the
    generator cannot send; that is a failure too).
Packets the generator skipped because it did not run (another process or
the host had its CPU: `late`) are not held against the DUT; such a trial
is marked disturbed, and one in which the generator skipped more than
MAX_LATE of its schedule cannot pass (too little was offered to claim the
rate). A failing disturbed trial is run again (`retry_disturbed` times).
Every trial of the search is kept, and both searches (NDR, PDR) use all of
them: a rate known to pass (fail) bounds the other search as well. It
stops when the gap between the highest passing and the lowest failing
rate is within `resolution` of the upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from .compiler import apply_rate
from .errors import LoadgenError
from .rates import Rate, format_pps, l1_bits, l2_bits, parse_rate
from .stats import Latency, TrialResult

#: a trial in which the generator skipped more than this share of its
#: schedule (it did not run: its CPU was taken) cannot pass: too little of
#: the offered rate was offered
MAX_LATE = 0.25


@dataclass
class NdrSettings:
    ndr_loss: float = 0.0           # NDR: loss ratio at most this
    pdr_loss: float = 0.005         # PDR: 0.5%
    trial_s: float = 1.0            # one trial
    resolution: float = 0.01        # stop when the bracket is this fraction of the upper bound
    rate_tolerance: float = 0.01    # the ports must take the offered rate to within this
    max_trials: int = 30
    max_rate: str | None = None     # upper bound (per transmitting port), e.g. "10mpps"
    retry_disturbed: int = 2        # re-runs of a failing trial the machine disturbed
    drain_s: float = 0.2            # receive this long after each trial
    catchup_s: float = 0.0005       # schedule made up after a stall (Generator.run)
    max_raise: int = 4              # times a probed upper bound that passes is raised

    def check(self) -> None:
        if not 0 <= self.ndr_loss < 1 or not 0 <= self.pdr_loss < 1:
            raise LoadgenError("loss thresholds are ratios in [0, 1) (0.005 = 0.5%)")
        if self.pdr_loss < self.ndr_loss:
            raise LoadgenError("the PDR loss threshold must be at least the NDR's")
        if not 0 < self.trial_s <= 3600:
            raise LoadgenError("trial duration must be in (0, 3600] s")
        if not 0 < self.resolution < 0.5:
            raise LoadgenError("resolution is a fraction of the upper bound, in (0, 0.5)")
        if self.max_trials < 2:
            raise LoadgenError("at least 2 trials")


@dataclass
class NdrTrial:
    offered_pps: float              # total over all streams; None-like 0 = unpaced probe
    result: TrialResult
    probe: bool = False             # the unpaced trial that found the upper bound
    retried: bool = False

    @property
    def loss_ratio(self) -> float:
        return self.result.loss_ratio

    def _offered_packets(self) -> float:
        return self.offered_pps * self.result.duration_s

    @property
    def late_share(self) -> float:
        """The share of the offered packets the generator skipped because it
        did not run (another process or the host had its CPU; `late` in
        loadgen/src/trial.c): the DUT never saw them offered. Only as many
        as the time others took its CPU explains (offered rate x that time:
        cpu_lost_s where Linux says, else the gaps in its loop): a
        generator simply too slow for the rate, or slowed by its own system
        calls (af_packet), falls behind by itself, and that is a
        shortfall."""
        offered = self._offered_packets()
        if self.probe or offered <= 0:
            return 0.0
        r = self.result
        lost = r.cpu_lost_s if r.cpu_lost_s is not None else max(r.stalled_s, r.preempted_s)
        excused = min(r.late, self.offered_pps * lost)
        return min(1.0, excused / offered)

    @property
    def shortfall(self) -> float:
        """How much of the offered rate the ports did not take: the DUT
        pushed back (a memif DUT that cannot keep up fills its ring instead
        of dropping), or the generator could not send that fast. Packets
        the generator skipped because it itself lost its CPU are not the
        DUT's doing and do not count here (late_share; such a trial is
        marked disturbed)."""
        offered = self._offered_packets()
        if self.probe or offered <= 0:
            return 0.0
        return max(0.0, 1.0 - (self.result.tx_packets + self.late_share * offered) / offered)

    def passes(self, loss: float, tolerance: float) -> bool:
        """At most `loss` lost, the ports took the offered rate to within
        `tolerance`, and the generator ran for most of the trial (a trial
        in which it skipped more than MAX_LATE of the schedule offered too
        little to claim the rate)."""
        return (not self.probe and self.result.tx_packets > 0
                and self.loss_ratio <= loss and self.shortfall <= tolerance
                and self.late_share <= MAX_LATE)

    def to_json(self, s: NdrSettings) -> dict:
        r = self.result
        lat = r.latency
        return {
            "offered_pps": None if self.probe else self.offered_pps,
            "unpaced_probe": self.probe, "retried": self.retried,
            "tx_pps": r.tx_pps, "rx_pps": r.rx_pps, "loss_ratio": r.loss_ratio,
            "lost": r.lost, "tx_shortfall": self.shortfall,
            "generator_late_share": self.late_share,
            "tx_bps_l1": r.bps("tx", 1), "rx_bps_l1": r.bps("rx", 1),
            "passes_ndr": self.passes(s.ndr_loss, s.rate_tolerance),
            "passes_pdr": self.passes(s.pdr_loss, s.rate_tolerance),
            "latency": lat.summary() if lat else None,
            "generator_preempted_s": r.preempted_s, "duration_s": r.duration_s,
            "out_of_order": r.out_of_order, "duplicates": r.duplicates,
            **({"extra": r.extra} if r.extra else {}),
        }


@dataclass
class NdrPoint:
    name: str
    loss_threshold: float
    trial: NdrTrial | None          # the highest passing trial; None: none passed

    @property
    def offered_pps(self) -> float:
        return self.trial.offered_pps if self.trial else 0.0

    def to_json(self, frame_mix: list[tuple[float, int]]) -> dict:
        if self.trial is None:
            return {"name": self.name, "loss_threshold": self.loss_threshold, "found": False}
        r = self.trial.result
        return {
            "name": self.name, "loss_threshold": self.loss_threshold, "found": True,
            "offered_pps": self.offered_pps, "mpps": self.offered_pps / 1e6,
            "gbps_l1": offered_bps(self.offered_pps, frame_mix, 1) / 1e9,
            "gbps_l2": offered_bps(self.offered_pps, frame_mix, 2) / 1e9,
            "tx_pps": r.tx_pps, "rx_pps": r.rx_pps, "loss_ratio": r.loss_ratio,
            "latency": r.latency.summary() if r.latency else None,
        }


def offered_bps(pps: float, frame_mix: list[tuple[float, int]], layer: int) -> float:
    """frame_mix: (share of packets, frame length) per stream."""
    bits = l1_bits if layer == 1 else l2_bits
    return pps * sum(share * bits(length) for share, length in frame_mix)


@dataclass
class NdrResult:
    settings: NdrSettings
    upper_pps: float
    upper_source: str
    trials: list[NdrTrial]
    ndr: NdrPoint
    pdr: NdrPoint
    frame_mix: list[tuple[float, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def latency_at(self, point: NdrPoint) -> Latency | None:
        return point.trial.result.latency if point.trial else None

    def to_json(self) -> dict:
        return {
            "settings": asdict(self.settings),
            "upper_bound_pps": self.upper_pps, "upper_bound_from": self.upper_source,
            "frame_mix": [{"share": s, "frame_bytes": n} for s, n in self.frame_mix],
            "ndr": self.ndr.to_json(self.frame_mix), "pdr": self.pdr.to_json(self.frame_mix),
            "trials": [t.to_json(self.settings) for t in self.trials],
            "notes": self.notes,
        }


def ndr_search(measure: Callable[[float | None], TrialResult], upper_pps: float | None,
               settings: NdrSettings, log: Callable[[str], None] | None = None,
               frame_mix: Sequence[tuple[float, int]] = ()) -> NdrResult:
    """measure(total_pps) runs one trial at that total offered rate (None:
    unpaced). upper_pps: the upper bound, or None to probe for it."""
    settings.check()
    say = log or (lambda _m: None)
    trials: list[NdrTrial] = []
    notes: list[str] = []
    tol = settings.rate_tolerance

    def run(pps: float | None) -> NdrTrial:
        res = measure(pps)
        t = NdrTrial(pps or 0.0, res, probe=pps is None)
        for _ in range(int(settings.retry_disturbed) if pps is not None else 0):
            if not res.disturbed or t.passes(settings.ndr_loss, tol):
                break
            why = res.extra.get("disturbed") or (
                f"others took the generator's CPU for "
                f"{res.preempted_s if res.cpu_lost_s is None else res.cpu_lost_s:.3f} s")
            say(f"  {format_pps(pps)}: failed while disturbed ({why}); trying again")
            res = measure(pps)
            t = NdrTrial(pps, res, retried=True)
        trials.append(t)
        if t.probe:
            say(f"  unpaced probe: sent {format_pps(res.tx_pps)}, received "
                f"{format_pps(res.rx_pps)}, loss {100 * res.loss_ratio:.4f}%")
        else:
            lat = res.latency
            say(f"  {format_pps(pps):>12}: sent {format_pps(res.tx_pps)}"
                f" ({100 * t.shortfall:.2f}% short"
                + (f", {100 * t.late_share:.1f}% late" if t.late_share >= 0.0005 else "")
                + f"), loss {100 * res.loss_ratio:.4f}%"
                + (f", latency avg {lat.avg_ns / 1e3:.1f} us max {lat.max_ns / 1e3:.1f} us"
                   if lat else "")
                + ("  ndr-ok" if t.passes(settings.ndr_loss, tol) else "")
                + ("  pdr-ok" if t.passes(settings.pdr_loss, tol) else ""))
        return t

    source = "given maximum"
    if upper_pps is None:
        probe = run(None)
        upper_pps = probe.result.tx_pps
        source = "unpaced probe (what the ports took as fast as the generator could send)"
        if sum(p.tx_full for p in probe.result.ports):
            # The DUT pushed back (memif): the probe's rate is the DUT's own
            # ceiling; start a little above it so that the search brackets it.
            upper_pps *= 1.03
            source = ("unpaced probe + 3% (the DUT pushed back: the probe ran at its "
                      "ceiling)")
        if upper_pps <= 0:
            raise LoadgenError("nothing could be sent: no upper bound for the search")

    def bracket(loss: float) -> tuple[NdrTrial | None, float | None]:
        best = None
        for t in trials:
            if t.passes(loss, tol) and (best is None or t.offered_pps > best.offered_pps):
                best = t
        lo = best.offered_pps if best else 0.0
        fails = [t.offered_pps for t in trials
                 if not t.probe and not t.passes(loss, tol) and t.offered_pps > lo]
        return best, (min(fails) if fails else None)

    top = run(upper_pps)
    # An unpaced probe can land below what the DUT takes paced (hammering a
    # full memif ring slows its consumer): while the bound passes, raise it.
    raised = 0
    while (source.startswith("unpaced") and raised < settings.max_raise
           and top.passes(settings.pdr_loss, tol) and len(trials) < settings.max_trials):
        upper_pps *= 1.25
        raised += 1
        source = f"unpaced probe, raised {raised} time(s) by 25% while it passed"
        top = run(upper_pps)
    res_abs = settings.resolution * upper_pps
    points = {}
    for name, loss in (("NDR", settings.ndr_loss), ("PDR", settings.pdr_loss)):
        while True:
            best, hi = bracket(loss)
            lo = best.offered_pps if best else 0.0
            if hi is None:
                break                      # the upper bound itself passes
            if hi - lo <= res_abs:
                break
            if len(trials) >= settings.max_trials:
                notes.append(f"{name}: stopped after {settings.max_trials} trials with "
                             f"{format_pps(lo)}..{format_pps(hi)} still open")
                break
            run((lo + hi) / 2)
        points[name] = NdrPoint(name, loss, bracket(loss)[0])
    if points["NDR"].trial is None:
        notes.append(f"no trial passed the NDR threshold, down to {format_pps(res_abs)}")
    top = max((t for t in trials if not t.probe), key=lambda t: t.offered_pps)
    if top.passes(settings.pdr_loss, tol):
        notes.append("the upper bound itself passed: the DUT was not the limit (the "
                     "generator, the port kind or the given maximum was)")
    return NdrResult(settings, upper_pps, source, trials, points["NDR"], points["PDR"],
                     list(frame_mix), notes)


def run_ndr(gen, profile, *, tx_ports=None, tunables=None, stream_stats: str = "all",
            seed: int | None = None, settings: NdrSettings | None = None,
            log: Callable[[str], None] | None = None,
            on_trial: Callable[[TrialResult], None] | None = None,
            measure_hook: Callable[[float | None, Callable[[], TrialResult]], TrialResult]
            | None = None) -> NdrResult:
    """The search on a started Generator. measure_hook(pps, run) lets a
    harness wrap each trial (sample a DUT's counters around it)."""
    settings = settings or NdrSettings()
    settings.check()
    plan = gen.plan(profile, tx_ports=tx_ports, rate=Rate("max"), tunables=tunables,
                    stream_stats=stream_stats, seed=seed)
    ports = {cs.port for cs in plan.streams}
    infos = {p: gen.port_info(next(ep.index for ep in gen.ports if ep.tx == p)) for p in ports}
    total_base = sum(cs.base_pps for cs in plan.streams)
    mix = [(cs.base_pps / total_base, cs.length) for cs in plan.streams] if total_base else []
    if any(cs.mode != "cont" for cs in plan.streams):
        raise LoadgenError("an NDR search needs continuous streams (STLTXCont)")

    def measure(total_pps: float | None) -> TrialResult:
        rate = Rate("max") if total_pps is None else Rate("pps", total_pps / len(ports))
        apply_rate(plan.streams, infos, rate)

        def once() -> TrialResult:
            return gen.run(plan, duration=settings.trial_s, catchup=settings.catchup_s,
                           drain=settings.drain_s)
        res = measure_hook(total_pps, once) if measure_hook else once()
        if on_trial:
            on_trial(res)
        return res

    upper = None
    if settings.max_rate:
        r = parse_rate(settings.max_rate)
        if r.kind == "max":
            upper = None
        else:
            apply_rate(plan.streams, infos, r)
            upper = sum(cs.pps for cs in plan.streams)
    elif all(i.line_bps for i in infos.values()):
        apply_rate(plan.streams, infos, Rate("percent", 100.0))
        upper = sum(cs.pps for cs in plan.streams)
    result = ndr_search(measure, upper, settings, log, mix)
    if settings.max_rate:
        result.upper_source = f"--max-rate {settings.max_rate}"
    elif upper is not None:
        result.upper_source = "line rate"
    if not math.isfinite(result.upper_pps):
        raise LoadgenError("the upper bound is not finite")
    return result
