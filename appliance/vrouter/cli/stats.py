"""`vrouter stats` (interface counters, once or watched) and `vrouter status`."""

from __future__ import annotations

import sys

from ..v1 import stats_pb2 as pb
from ..v1 import stats_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("stats", "interface counters (the non-zero ones; drops marked with !)", rank=60)
group("status", "the appliance's health: dataplane, workers, config version", rank=61)

DROPS = ("drop_",)
DROP_SUFFIXES = ("_errors", "_missed", "_dropped", "_nombuf")


def is_drop(name: str) -> bool:
    return name.startswith(DROPS) or name.endswith(DROP_SUFFIXES)


def _order(name: str) -> tuple:
    family = 0 if name.startswith("rx_") else 1 if name.startswith("tx_") else 2
    return (is_drop(name), family, name)


def snapshot_json(resp: pb.StatsResponse) -> dict:
    return {"timestamp": resp.timestamp,
            "interfaces": {i.interface: dict(sorted(i.counters.items(), key=lambda kv: _order(kv[0])))
                           for i in resp.interfaces}}


def print_snapshot(resp: pb.StatsResponse, prev: dict | None) -> None:
    """Per interface, its counters; drops last, marked `!` (red on a
    terminal); with `prev` (watching), how much each grew."""
    for i in resp.interfaces:
        print(i.interface)
        if not i.counters:
            print("  (all counters zero)")
        before = (prev or {}).get(i.interface, {})
        rows = []
        for name in sorted(i.counters, key=_order):
            v = i.counters[name]
            delta = v - before.get(name, 0) if prev is not None else 0
            rows.append(("!" if is_drop(name) else " ", name, v, f"+{delta}" if delta else ""))
        width = max((len(r[1]) for r in rows), default=0)
        vwidth = max((len(str(r[2])) for r in rows), default=0)
        for mark, name, v, delta in rows:
            line = f"{mark} {name.ljust(width)}  {str(v).rjust(vwidth)}  {delta}".rstrip()
            print(out.red(line) if mark == "!" else line)


@command("stats", "interface counters (the non-zero ones; drops marked with !)",
         arg("name", nargs="?", type=w.name, metavar="NAME", complete=w.interfaces,
             help="only this interface's"),
         arg("-w", "--watch", nargs="?", const=1.0, type=w.seconds, metavar="SECONDS",
             help="again every SECONDS (default 1) until Ctrl-C, with what grew"),
         arg("-n", "--count", type=w.uint(1, 1 << 31), metavar="N",
             help="with --watch: stop after N updates"),
         arg("--all", action="store_true", help="also the counters that are zero"))
def stats(ctx, a):
    api = ctx.api.stub(pb_grpc.StatsServiceStub)
    if a.watch is None:
        resp = api.Get(pb.StatsRequest(interface=a.name or "", nonzero_only=not a.all))
        return out.emit_json(snapshot_json(resp)) if ctx.json else print_snapshot(resp, None)
    stream = api.Watch(pb.StatsWatchRequest(interface=a.name or "",
                                            interval_ms=int(a.watch * 1000),
                                            nonzero_only=not a.all), timeout=None)
    prev = None
    try:
        for n, resp in enumerate(stream, 1):
            if ctx.json:
                out.emit_json(snapshot_json(resp), stream=True)
            else:
                if out.color_enabled():
                    print("\x1b[H\x1b[2J", end="")  # like watch(1)
                print(f"every {a.watch:g}s, {resp.timestamp}")
                print_snapshot(resp, prev)
                sys.stdout.flush()
                prev = {i.interface: dict(i.counters) for i in resp.interfaces}
            if a.count and n >= a.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()


@command("status", "the appliance's health: dataplane, workers, config version")
def status(ctx, a):
    s = ctx.api.stub(pb_grpc.StatsServiceStub).Status(pb.StatusRequest())
    if ctx.json:
        return out.emit_json(out.to_dict(s))
    if s.dataplane_up:
        dp = (f"up, pid {s.dataplane_pid}, {s.workers} worker{'s' * (s.workers != 1)}, "
              f"{s.dataplane_restarts} restart{'s' * (s.dataplane_restarts != 1)}")
    else:
        dp = out.red(f"DOWN since {s.dataplane_down_since or '?'} (restarting), "
                     f"{s.dataplane_restarts} restarts")
    out.kv([("dataplane", dp), ("config version", s.config_version), ("vrouter", s.version)])
