"""`vrouter top`: a live view of the router, redrawn every few seconds.

Per port the packet and bit rates each way and the drops per second; the
drop reasons that grew, with the ports they grew on; per worker its load,
and cycles per packet; the NAT table. Rates are differences between two
reads of the counters (StatsService.Get, StatsService.Workers,
NatService.CountSessions) divided by the time between the reads.

`--once` prints one view (two reads, an interval apart) and exits; `-n N`
prints N views. With --json each view is a JSON document (one per line when
there are several).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import grpc

from ..v1 import nat_pb2, nat_pb2_grpc
from ..v1 import stats_pb2 as pb
from ..v1 import stats_pb2_grpc as pb_grpc
from . import arg, command, group
from .client import ServerError
from . import output as out
from . import words as w
from .stats import is_drop

group("top", "a live view: rates per port, drops, cycles per packet, NAT (Ctrl-C stops)",
      rank=62)

DROP = "drop_"


@dataclass
class Sample:
    at: float  # time.monotonic() half way through the read of the counters
    timestamp: str
    ports: dict[str, dict[str, int]]
    workers: pb.WorkerStatsResponse
    nat: nat_pb2.NatSessionCount
    status: pb.StatusResponse


def read(api) -> Sample:
    stats = api.stub(pb_grpc.StatsServiceStub)
    status = stats.Status(pb.StatusRequest())
    t0 = time.monotonic()
    resp = stats.Get(pb.StatsRequest())
    t1 = time.monotonic()
    workers = stats.Workers(pb.WorkerStatsRequest())
    nat = api.stub(nat_pb2_grpc.NatServiceStub).CountSessions(nat_pb2.NatSessionFilter())
    return Sample(at=(t0 + t1) / 2, timestamp=resp.timestamp,
                  ports={i.interface: dict(i.counters) for i in resp.interfaces},
                  workers=workers, nat=nat, status=status)


def _delta(new: int, old: int | None) -> int:
    """A counter's growth; a dataplane restarted in between starts again from 0."""
    if old is None:
        return 0
    return new - old if new >= old else new


def view(prev: Sample, cur: Sample) -> dict:
    """What `top` shows, computed from two samples: rates per second."""
    dt = max(cur.at - prev.at, 1e-6)
    ports: dict[str, dict] = {}
    drop_total: dict[str, float] = {}
    drop_ports: dict[str, list[str]] = {}
    translated = 0
    for name, c in sorted(cur.ports.items()):
        p = prev.ports.get(name, {})

        def d(key: str) -> int:
            return _delta(c.get(key, 0), p.get(key))

        drops = {k.removeprefix(DROP): d(k) / dt for k in sorted(c) if is_drop(k) and d(k)}
        for reason, rate in drops.items():
            drop_total[reason] = drop_total.get(reason, 0.0) + rate
            drop_ports.setdefault(reason, []).append(name)
        translated += d("nat_translated")
        ports[name] = {
            "rx_pps": d("rx_packets") / dt, "tx_pps": d("tx_packets") / dt,
            "rx_bps": d("rx_bytes") * 8 / dt, "tx_bps": d("tx_bytes") * 8 / dt,
            "drops_per_s": sum(drops.values(), 0.0), "drops": drops,
        }
    workers = []
    before = {x.worker: x for x in prev.workers.workers}
    hz = cur.workers.tsc_hz or 1
    for x in cur.workers.workers:
        b = before.get(x.worker)
        busy = _delta(x.busy_cycles, b.busy_cycles if b else None)
        pkts = _delta(x.packets, b.packets if b else None)
        workers.append({"worker": x.worker, "lcore": x.lcore, "pps": pkts / dt,
                        "busy_percent": 100.0 * busy / (dt * hz),
                        "cycles_per_packet": busy / pkts if pkts else None})
    s = cur.status
    return {
        "timestamp": cur.timestamp, "interval_s": dt,
        "dataplane_up": s.dataplane_up, "config_version": s.config_version,
        "ports": ports,
        "drops": {r: {"per_s": drop_total[r], "ports": drop_ports[r]}
                  for r in sorted(drop_total, key=lambda r: -drop_total[r])},
        "workers": workers,
        "nat": {"sessions": cur.nat.sessions, "mappings": cur.nat.mappings,
                "max_sessions": cur.nat.max_sessions, "translated_per_s": translated / dt},
    }


def si(v: float | None, unit: str = "") -> str:
    """1234567 -> '1.23M': short numbers for columns."""
    if v is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}{unit}"
    if v == int(v):
        return f"{int(v)}{unit}"
    return f"{v:.3g}{unit}"


def render(v: dict) -> None:
    up = "" if v["dataplane_up"] else "  " + out.red("DATAPLANE DOWN")
    print(f"vrouter top  {v['timestamp']}  over {v['interval_s']:.2f}s  "
          f"config version {v['config_version']}{up}")
    print()
    out.table(["PORT", "RX PPS", "RX BIT/S", "TX PPS", "TX BIT/S", "DROPS/S"],
              [[n, si(p["rx_pps"]), si(p["rx_bps"]), si(p["tx_pps"]), si(p["tx_bps"]),
                si(p["drops_per_s"])] for n, p in v["ports"].items()],
              empty="(no interfaces)")
    print()
    if v["drops"]:
        out.table(["DROPS/S", "REASON", "PORTS"],
                  [[si(d["per_s"]), r, ",".join(d["ports"])] for r, d in v["drops"].items()])
    else:
        print("no drops")
    print()
    out.table(["WORKER", "LCORE", "PPS", "BUSY", "CYCLES/PKT"],
              [[x["worker"], x["lcore"], si(x["pps"]), f"{x['busy_percent']:.1f}%",
                si(x["cycles_per_packet"])] for x in v["workers"]])
    print()
    n = v["nat"]
    out.kv([("NAT sessions", f"{n['sessions']} of {n['max_sessions']}, "
                             f"{n['mappings']} mappings, {si(n['translated_per_s'])} "
                             "packets translated/s")])


@command("top", "a live view: rates per port, drops, cycles per packet, NAT (Ctrl-C stops)",
         arg("-i", "--interval", type=w.seconds, default=1.0, metavar="SECONDS",
             help="time between reads (default %(default)gs)"),
         arg("-n", "--count", type=w.uint(1, 1 << 31), metavar="N",
             help="stop after N views (for scripts)"),
         arg("--once", action="store_true",
             help="one view and exit (the same as -n 1)"))
def top(ctx, a):
    count = 1 if a.once else a.count
    lines = ctx.json and count != 1  # a stream: one document per line
    clear = not ctx.json and count != 1 and out.color_enabled()
    prev = read(ctx.api)
    shown = 0
    try:
        while count is None or shown < count:
            time.sleep(max(0.0, prev.at + a.interval - time.monotonic()))
            try:
                cur = read(ctx.api)
            except ServerError as e:
                if e.code != grpc.StatusCode.UNAVAILABLE or count is not None:
                    raise
                # a live view outlasts a dataplane restart: say so, read again
                print(f"{time.strftime('%H:%M:%S')} {e.message}", file=sys.stderr, flush=True)
                prev.at = time.monotonic()
                continue
            v = view(prev, cur)
            prev = cur
            shown += 1
            if ctx.json:
                out.emit_json(v, stream=lines)
                continue
            if clear:
                print("\x1b[H\x1b[2J", end="")  # redraw in place, like top(1)
            elif shown > 1:
                print()
            render(v)
            sys.stdout.flush()
    except KeyboardInterrupt:
        pass
