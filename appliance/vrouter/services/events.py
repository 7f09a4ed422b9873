"""EventService: a stream of link, neighbour, route and dataplane events."""

from __future__ import annotations

import queue

from ..core.errors import InvalidArgument
from ..v1 import events_pb2 as pb
from ..v1 import events_pb2_grpc as pb_grpc
from . import register
from .base import rpc

TYPES = {
    "link_up": pb.EVENT_TYPE_LINK_UP, "link_down": pb.EVENT_TYPE_LINK_DOWN,
    "neighbor_learned": pb.EVENT_TYPE_NEIGHBOR_LEARNED,
    "neighbor_expired": pb.EVENT_TYPE_NEIGHBOR_EXPIRED,
    "route_added": pb.EVENT_TYPE_ROUTE_ADDED, "route_removed": pb.EVENT_TYPE_ROUTE_REMOVED,
    "dataplane_down": pb.EVENT_TYPE_DATAPLANE_DOWN, "dataplane_up": pb.EVENT_TYPE_DATAPLANE_UP,
    "config_committed": pb.EVENT_TYPE_CONFIG_COMMITTED,
}


@register(pb_grpc.add_EventServiceServicer_to_server)
class EventService(pb_grpc.EventServiceServicer):
    def __init__(self, app) -> None:
        self.bus = app.engine.events

    @rpc
    def Subscribe(self, request, context):
        known = set(TYPES.values())
        for i, t in enumerate(request.types):
            if t not in known:
                raise InvalidArgument(f"types[{i}]: {t} is not an event type")
        wanted = set(request.types)
        q = self.bus.subscribe()
        try:
            while context.is_active():
                try:
                    ev = q.get(timeout=0.5)
                except queue.Empty:
                    continue
                t = TYPES[ev.type]
                if wanted and t not in wanted:
                    continue
                yield pb.Event(type=t, timestamp=ev.timestamp, vrf=ev.vrf,
                               interface=ev.interface, prefix=ev.prefix, ip=ev.ip, mac=ev.mac,
                               detail=ev.detail)
        finally:
            self.bus.unsubscribe(q)
