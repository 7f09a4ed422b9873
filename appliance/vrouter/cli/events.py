"""`vrouter events [TYPE...]`: what changes, as it happens, until Ctrl-C."""

from __future__ import annotations

from ..v1 import events_pb2 as pb
from ..v1 import events_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("events", "stream events (links, neighbours, routes, dataplane, commits)", rank=70)

TYPES = {out.short_enum(pb.EventType, v): v for v in pb.EventType.values() if v}


def event_type(text: str) -> list[int]:
    """`route_added`, `route-added`, or a family: `route` (added and removed)."""
    t = text.lower().replace("-", "_").removeprefix("event_type_")
    found = [v for k, v in TYPES.items() if k == t or k.startswith(t + "_")]
    if not found:
        raise w.BadValue(f"{text!r} is not an event type ({', '.join(TYPES)})")
    return found


def _line(e: pb.Event) -> str:
    fields = [f"{k}={getattr(e, k)}" for k in ("vrf", "interface", "prefix", "ip", "mac")
              if getattr(e, k)]
    detail = f"  ({e.detail})" if e.detail else ""
    return f"{e.timestamp}  {out.short_enum(pb.EventType, e.type):<16}  {' '.join(fields)}{detail}"


@command("events", "stream events (links, neighbours, routes, dataplane, commits)",
         arg("types", nargs="*", type=event_type, metavar="TYPE",
             complete=lambda **_: list(TYPES),
             help=f"only these ({', '.join(TYPES)}; or a family: link, route, ...)"),
         arg("-n", "--count", type=w.uint(1, 1 << 31), metavar="N",
             help="stop after N events"))
def events(ctx, a):
    types = sorted({t for group in a.types for t in group})
    stream = ctx.api.stub(pb_grpc.EventServiceStub).Subscribe(
        pb.SubscribeRequest(types=types), timeout=None)
    try:
        for n, e in enumerate(stream, 1):
            if ctx.json:
                out.emit_json(out.to_dict(e), stream=True)
            else:
                print(_line(e), flush=True)
            if a.count and n >= a.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()
