"""Reports: a run or an NDR search as JSON, as a readable table, and (NDR)
a PNG plot of loss and latency against the offered rate."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

from .ndr import NdrResult
from .rates import format_bps, format_pps
from .stats import TrialResult


def _f(v, fmt: str, none: str = "-") -> str:
    return none if v is None else format(v, fmt)


def _table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _us(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e3:.1f}"


def run_table(res: TrialResult) -> str:
    """Per stream and in total: packets, loss, order, rates, latency (us)."""
    d = res.duration_s
    head = ["stream", "port", "bytes", "tx pkts", "rx pkts", "lost", "loss %", "ooo", "dup",
            "tx rate", "tx L1", "lat min", "avg", "p99", "max", "jitter"]
    rows = [head]
    for s in res.streams:
        lat = s.latency
        rows.append([
            s.name + (f" (pg {s.pg_id})" if s.pg_id is not None else ""), str(s.port),
            str(s.frame_bytes), str(s.tx_packets),
            str(s.rx_packets) if s.marked else "-", _f(s.lost, "d"),
            _f(None if s.loss_ratio is None else 100 * s.loss_ratio, ".4f"),
            str(s.ooo + s.too_old) if s.marked else "-", str(s.dup) if s.marked else "-",
            format_pps(s.tx_pps(d)),
            format_bps((s.tx_bytes + 24 * s.tx_packets) * 8 / d) if d > 0 else "-",
            _us(lat.min_ns if lat else None), _us(lat.avg_ns if lat else None),
            _us(lat.percentile(99) if lat else None), _us(lat.max_ns if lat else None),
            _us(lat.jitter_ns if lat else None)])
    lat = res.latency
    rows.append(["total", "", "", str(res.tx_packets), str(res.rx_packets), str(res.lost),
                 f"{100 * res.loss_ratio:.4f}", str(res.out_of_order), str(res.duplicates),
                 format_pps(res.tx_pps), format_bps(res.bps("tx", 1)),
                 _us(lat.min_ns if lat else None), _us(lat.avg_ns if lat else None),
                 _us(lat.percentile(99) if lat else None), _us(lat.max_ns if lat else None),
                 _us(lat.jitter_ns if lat else None)])
    lines = [f"{d:.3f} s ({res.stop}), offered {res.offered}; latency in microseconds",
             _table(rows, set(range(2, len(head))))]
    unmarked = [s.name for s in res.streams if not s.marked]
    if unmarked:
        lines.append(f"unmarked streams (counted per port only): {', '.join(unmarked)}")
    other = sum(p.rx_other for p in res.ports)
    if other and not unmarked:
        lines.append(f"{other} packets received that are not this run's (ignored)")
    if res.disturbed:
        lost = res.preempted_s if res.cpu_lost_s is None else res.cpu_lost_s
        lines.append(f"warning: other processes took the generator's CPU for {lost:.3f} s "
                     f"(its loop stood still {res.preemptions} times for over 1 ms): rates "
                     "and latency are suspect")
    return "\n".join(lines)


def ndr_table(nr: NdrResult) -> str:
    s = nr.settings
    rows = [["", "loss <=", "offered", "Gbps L1", "Gbps L2", "forwarded", "lat avg", "p99",
             "max (us)"]]
    for p in (nr.ndr, nr.pdr):
        j = p.to_json(nr.frame_mix)
        if not j["found"]:
            rows.append([p.name, f"{100 * p.loss_threshold:g}%", "not found", "", "", "", "",
                         "", ""])
            continue
        lat = j["latency"] or {}
        rows.append([p.name, f"{100 * p.loss_threshold:g}%", f"{j['mpps']:.3f} Mpps",
                     f"{j['gbps_l1']:.3f}", f"{j['gbps_l2']:.3f}",
                     format_pps(j["rx_pps"]), _f(lat.get("avg_us"), ".1f"),
                     _f(lat.get("p99_us"), ".1f"), _f(lat.get("max_us"), ".1f")])
    lines = [_table(rows, set(range(2, 9))),
             f"{len(nr.trials)} trials of {s.trial_s:g} s; upper bound "
             f"{format_pps(nr.upper_pps)} ({nr.upper_source}); resolution "
             f"{100 * s.resolution:g}%, rate tolerance {100 * s.rate_tolerance:g}%"]
    lines += [f"note: {n}" for n in nr.notes]
    return "\n".join(lines)


def trials_table(nr: NdrResult) -> str:
    rows = [["#", "offered", "sent", "received", "loss %", "short %", "late %", "lat avg",
             "max (us)", ""]]
    for i, t in enumerate(nr.trials, 1):
        r = t.result
        lat = r.latency
        flags = []
        if t.passes(nr.settings.ndr_loss, nr.settings.rate_tolerance):
            flags.append("NDR ok")
        elif t.passes(nr.settings.pdr_loss, nr.settings.rate_tolerance):
            flags.append("PDR ok")
        if t.retried:
            flags.append("retried")
        rows.append([str(i), "unpaced" if t.probe else format_pps(t.offered_pps),
                     format_pps(r.tx_pps), format_pps(r.rx_pps), f"{100 * r.loss_ratio:.4f}",
                     f"{100 * t.shortfall:.2f}", f"{100 * t.late_share:.2f}",
                     _us(lat.avg_ns if lat else None), _us(lat.max_ns if lat else None),
                     ", ".join(flags)])
    return _table(rows, set(range(1, 9)))


def meta() -> dict:
    return {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host": platform.node(),
            "kernel": platform.release()}


def write_json(path: Path, doc: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def plot_ndr(nr: NdrResult, path: Path, title: str = "") -> Path:
    """Loss and latency against the offered rate, NDR and PDR marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted((t for t in nr.trials if not t.probe), key=lambda t: t.offered_pps)
    x = [t.offered_pps / 1e6 for t in pts]
    loss = [100 * t.result.loss_ratio for t in pts]
    short = [100 * t.shortfall for t in pts]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(8, 6.5))
    ax1.plot(x, loss, "o-", label="loss (sent, not received)")
    ax1.plot(x, short, "s--", label="not taken by the port (back-pressure)", alpha=0.7)
    late = [100 * t.late_share for t in pts]
    if any(late):
        ax1.plot(x, late, "x:", label="skipped: the generator lost its CPU", alpha=0.7)
    ax1.set_yscale("symlog", linthresh=0.01)
    ax1.set_ylabel("% of packets")
    ax1.axhline(100 * nr.settings.pdr_loss, color="grey", lw=0.8, ls=":")
    ax1.legend(loc="upper left", fontsize=8)
    lat = [(t.offered_pps / 1e6, t.result.latency) for t in pts if t.result.latency]
    if lat:
        lx = [a for a, _ in lat]
        ax2.plot(lx, [lt.avg_ns / 1e3 for _, lt in lat], "o-", label="avg")
        ax2.plot(lx, [lt.percentile(99) / 1e3 for _, lt in lat], "^-", label="p99")
        ax2.plot(lx, [lt.max_ns / 1e3 for _, lt in lat], "v:", label="max")
        ax2.set_yscale("log")
        ax2.legend(loc="upper left", fontsize=8)
    ax2.set_ylabel("latency (us)")
    ax2.set_xlabel("offered rate (Mpps)")
    for p, color in ((nr.ndr, "green"), (nr.pdr, "orange")):
        if p.trial is not None:
            for ax in (ax1, ax2):
                ax.axvline(p.offered_pps / 1e6, color=color, lw=1)
            ax1.annotate(f"{p.name} {p.offered_pps / 1e6:.3f} Mpps",
                         (p.offered_pps / 1e6, ax1.get_ylim()[1]), color=color, fontsize=8,
                         ha="right", va="top", rotation=90)
    fig.suptitle(title or "NDR search")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
