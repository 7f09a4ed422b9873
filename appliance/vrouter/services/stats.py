"""StatsService: per-interface counters, once or streamed, and health."""

from __future__ import annotations

import threading

from ..core.errors import NotFound, Unavailable
from ..core.events import now_rfc3339
from ..v1 import stats_pb2 as pb
from ..v1 import stats_pb2_grpc as pb_grpc
from . import register
from .base import rpc


@register(pb_grpc.add_StatsServiceServicer_to_server)
class StatsService(pb_grpc.StatsServiceServicer):
    def __init__(self, app) -> None:
        self.app = app
        self.engine = app.engine

    def _snapshot(self, interface: str, nonzero: bool) -> pb.StatsResponse:
        e = self.engine
        dp = e.executor.dp
        if dp is None or not e.dataplane_up:
            raise Unavailable("the dataplane is down (restarting); try again shortly")
        with e.lock:
            ports = dict(e.executor.ports)
        if interface and interface not in ports:
            raise NotFound(f"interface {interface} does not exist")
        resp = pb.StatsResponse(timestamp=now_rfc3339())
        for name in sorted(ports):
            if interface and name != interface:
                continue
            counters = dp.port_stats(ports[name])
            if nonzero:
                counters = {k: v for k, v in counters.items() if v}
            resp.interfaces.add(interface=name, counters=counters)
        return resp

    @rpc
    def Get(self, request, context):
        return self._snapshot(request.interface, request.nonzero_only)

    @rpc
    def Watch(self, request, context):
        interval = (request.interval_ms or 1000) / 1000
        done = threading.Event()
        context.add_callback(done.set)
        while not done.is_set():
            yield self._snapshot(request.interface, request.nonzero_only)
            done.wait(interval)

    @rpc
    def Status(self, request, context):
        return self.app.status_pb(pb)
