"""`vrouter loadgen`: the traffic generator (appliance/vrouter/loadgen).

    vrouter loadgen run imix --rate 1mpps --duration 10          (on a loop)
    vrouter loadgen run profiles/udp_1pkt_simple.py -p memif:/run/a.sock -p memif:/run/b.sock
    vrouter loadgen ndr udp_64b -p af_packet:lg0 -p af_packet:lg1 --pdr 0.1%
    vrouter loadgen show imix -t ...                              (compile only, send nothing)

Not a client of the API: it drives DPDK ports itself (needs root).
"""

from __future__ import annotations

import argparse
import datetime
import signal
import sys
from pathlib import Path

from . import arg, command, group
from . import output as out
from .client import CliError, UsageError

group("loadgen", "traffic generator: run TRex-style profiles, search the non-drop rate", rank=85)

PORT_HELP = ("a port (repeat for more; numbered 0, 1... in order): loop (default: two memif "
             "ports joined inside the generator), memif:SOCKET[,role=server][,zero-copy=yes], "
             "af_packet:IFACE, tap:NAME, pcap:rx=FILE,tx=FILE, null, pci:BDF, vdev:DEVARGS; "
             "add dst_mac=MAC to set the destination MAC of what it sends, line_rate=10gbps "
             "for %% rates")


def _ratio(text: str) -> float:
    """'0', '0.005', '0.5%' -> a ratio."""
    t = text.strip()
    try:
        v = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a ratio (0.005 or 0.5%)") from None
    if not 0 <= v < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: a ratio from 0 up to 1 (100%)")
    return v


def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return v


COMMON = (
    arg("profile", metavar="PROFILE",
        help="a profile file (TRex STL form) or the name of one in profiles/ (imix, "
             "udp_64b, ...)"),
    arg("-p", "--port", action="append", metavar="SPEC", help=PORT_HELP),
    arg("--tx", action="append", type=int, metavar="N",
        help="port to send on, repeatable (default 0; with loop its sending side). TRex's "
             "direction is N %% 2"),
    arg("-t", "--tunable", action="append", metavar="K=V[,K=V]",
        help="profile tunables, as TRex's -t"),
    arg("--stream-stats", choices=("all", "flow", "none"), default="all",
        help="which streams carry a sequence number and timestamp for per-stream loss, "
             "order and latency: all (default), flow (only those with flow_stats, as TRex), "
             "none (count per port only: cheapest)"),
    arg("--seed", type=int, help="seed of random field-engine variables (default: random)"),
    arg("--cpu", type=int, default=0, help="the CPU the generator runs on (default 0)"),
    arg("--hugepages", choices=("auto", "yes", "no"), default="auto",
        help="use 2 MB hugepages (auto: when mounted and free)"),
    arg("-j", "--json", action="store_true", default=argparse.SUPPRESS,
        help="machine-readable output"),
)


def _need_root() -> None:
    import os
    if os.geteuid() != 0:
        raise CliError("the generator drives DPDK ports: run as root")


def _generator(a):
    from ..loadgen import Generator
    return Generator(a.port or ["loop"], cpu=a.cpu, hugepages=a.hugepages)


def _tx(a, gen) -> list[int] | None:
    if a.tx is not None:
        return a.tx
    return None


def _errors(fn):
    """LoadgenError subclasses: input mistakes exit 2, the rest 1."""
    def wrapped(ctx, a):
        from ..loadgen.errors import EngineError, LoadgenError
        try:
            return fn(ctx, a)
        except EngineError as e:
            raise CliError(str(e)) from None
        except LoadgenError as e:
            raise UsageError(str(e)) from None
    return wrapped


def _tunables(a) -> dict[str, str]:
    from ..loadgen.profile import parse_tunables
    return parse_tunables(a.tunable)


@command("loadgen show", "compile a profile and show its streams; sends nothing",
         *COMMON, arg("-r", "--rate", metavar="RATE", help="as for run"), api=False)
@_errors
def show(ctx, a) -> int:
    gen = _generator(a)
    plan = gen.plan(a.profile, tx_ports=_tx(a, gen), rate=a.rate, tunables=_tunables(a),
                    stream_stats=a.stream_stats, seed=a.seed, offline=True)
    docs = [cs.describe() for cs in plan.streams]
    if ctx.json:
        out.emit_json({"streams": docs})
        return 0
    out.table(["ID", "NAME", "PORT", "BYTES", "MODE", "PACKETS", "RATE", "PPS", "STATS", "VARS",
               "HEADERS"],
              [(d["id"], d["name"], d["port"], d["frame_bytes"], d["mode"], d["packets"] or "-",
                d["rate"], "unpaced" if not d["pps"] else f"{d['pps']:.6g}", d["stats"],
                ",".join(d["vars"]) or "-", "/".join(d["headers"])) for d in docs])
    for d in docs:
        for w in d["warnings"]:
            print(f"warning: stream {d['name']}: {w}", file=sys.stderr)
    return 0


class _Interrupt:
    """Ctrl-C during a run: stop the trial (its result still comes back)
    rather than kill the generator mid-way; a second Ctrl-C gives up."""

    def __init__(self, gen):
        self.gen = gen
        self.hits = 0

    def __enter__(self):
        self.prev = signal.signal(signal.SIGINT, self.handler)
        return self

    def handler(self, *_):
        self.hits += 1
        if self.hits > 1:
            raise KeyboardInterrupt
        print("\nstopping...", file=sys.stderr)
        self.gen.stop()

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self.prev)


@command("loadgen run", "send a profile for a while; report per-stream loss, order, latency",
         *COMMON,
         arg("-r", "--rate", metavar="RATE",
             help="per transmitting port: 1mpps, 500kpps, 10gbps (L2), 10gbpsl1, 50%%, 2x "
                  "(the profile's rates times 2), max (default: the profile's own rates)"),
         arg("-d", "--duration", type=_positive, default=10.0, metavar="SECONDS",
             help="how long to send (default 10; at most a day)"),
         arg("-n", "--max-packets", metavar="N",
             help="stop after this many packets in all (default: what the rate sends in the "
                  "duration, plus 5%%)"),
         arg("-o", "--out", metavar="FILE", help="also write the JSON report there"),
         arg("--no-progress", action="store_true", help="no live progress line"),
         api=False)
@_errors
def run(ctx, a) -> int:
    from ..loadgen import ProgressLine
    from ..loadgen.rates import parse_count
    from ..loadgen.report import meta, run_table, write_json
    from ..loadgen.runner import check_duration

    check_duration(a.duration)
    max_packets = parse_count(a.max_packets) if a.max_packets is not None else None
    gen = _generator(a)
    tunables = _tunables(a)
    # Everything that can be checked without the generator, before it starts.
    gen.plan(a.profile, tx_ports=a.tx, rate=a.rate, tunables=tunables,
             stream_stats=a.stream_stats, seed=a.seed, offline=True)
    _need_root()
    with gen:
        plan = gen.plan(a.profile, tx_ports=a.tx, rate=a.rate, tunables=tunables,
                        stream_stats=a.stream_stats, seed=a.seed)
        for cs in plan.streams:
            for w in cs.warnings:
                print(f"warning: stream {cs.name}: {w}", file=sys.stderr)
        progress = None if a.no_progress else ProgressLine(a.duration, plan)
        with _Interrupt(gen):
            res = gen.run(plan, duration=a.duration, max_packets=max_packets, progress=progress)
        if progress:
            progress.done()
    doc = {"meta": {**meta(), "profile": a.profile, "ports": a.port or ["loop"],
                    "rate": a.rate, "duration_s": a.duration, "tunables": tunables},
           "result": res.to_json()}
    if a.out:
        write_json(Path(a.out), doc)
    if ctx.json:
        out.emit_json(doc)
    else:
        print(run_table(res))
        if a.out:
            print(f"wrote {a.out}")
    return 130 if res.stop == "signal" else 0


@command("loadgen ndr", "search the non-drop rate (and the partial drop rate) of what the "
         "ports lead to",
         *COMMON,
         arg("--max-loss", type=_ratio, default=0.0, metavar="RATIO",
             help="NDR: loss at most this (default 0)"),
         arg("--pdr", type=_ratio, default=0.005, metavar="RATIO",
             help="PDR: loss at most this (default 0.5%%)"),
         arg("--trial-duration", type=_positive, default=1.0, metavar="SECONDS",
             help="each trial (default 1)"),
         arg("--resolution", type=_ratio, default=0.01, metavar="RATIO",
             help="stop when the bracket is this part of the upper bound (default 1%%)"),
         arg("--rate-tolerance", type=_ratio, default=0.01, metavar="RATIO",
             help="how far below the offered rate the ports may take and still pass "
                  "(default 1%%)"),
         arg("--max-rate", metavar="RATE",
             help="upper bound per transmitting port (default: the line rate, else what the "
                  "ports take unpaced)"),
         arg("--max-trials", type=int, default=30, help="at most this many trials (default 30)"),
         arg("-o", "--out", metavar="PREFIX",
             help="write PREFIX.json and PREFIX.png (default loadgen-results/ndr-TIME)"),
         api=False)
@_errors
def ndr(ctx, a) -> int:
    from ..loadgen.ndr import NdrSettings, run_ndr
    from ..loadgen.report import meta, ndr_table, plot_ndr, trials_table, write_json

    settings = NdrSettings(ndr_loss=a.max_loss, pdr_loss=max(a.pdr, a.max_loss),
                           trial_s=a.trial_duration, resolution=a.resolution,
                           rate_tolerance=a.rate_tolerance, max_trials=a.max_trials,
                           max_rate=a.max_rate)
    settings.check()
    gen = _generator(a)
    tunables = _tunables(a)
    gen.plan(a.profile, tx_ports=a.tx, rate=a.max_rate, tunables=tunables,
             stream_stats=a.stream_stats, seed=a.seed, offline=True)
    _need_root()
    say = (lambda m: None) if ctx.json else (lambda m: print(m, flush=True))
    say(f"NDR search: trials of {a.trial_duration:g} s, loss <= {100 * settings.ndr_loss:g}% "
        f"(NDR) and <= {100 * settings.pdr_loss:g}% (PDR)")
    with gen:
        with _Interrupt(gen):
            nr = run_ndr(gen, a.profile, tx_ports=a.tx, tunables=tunables,
                         stream_stats=a.stream_stats, seed=a.seed, settings=settings, log=say)
    prefix = Path(a.out) if a.out else Path("loadgen-results") / (
        "ndr-" + datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    doc = {"meta": {**meta(), "profile": a.profile, "ports": a.port or ["loop"],
                    "tunables": tunables}, "ndr": nr.to_json()}
    jpath = write_json(prefix.with_suffix(".json"), doc)
    ppath = plot_ndr(nr, prefix.with_suffix(".png"),
                     f"{a.profile} on {', '.join(a.port or ['loop'])}")
    if ctx.json:
        out.emit_json({**doc, "files": [str(jpath), str(ppath)]})
    else:
        print()
        print(trials_table(nr))
        print()
        print(ndr_table(nr))
        print(f"wrote {jpath}\n      {ppath}")
    return 0
