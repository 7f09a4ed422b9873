"""StatsService: per-interface counters, once or streamed, health, and the
dataplane workers' cycle counters."""

from __future__ import annotations

import threading

from ..core.errors import InvalidArgument, NotFound, Unavailable
from ..core.events import now_rfc3339
from ..dataplane.client import DataplaneError
from ..v1 import stats_pb2 as pb
from ..v1 import stats_pb2_grpc as pb_grpc
from . import register
from .base import rpc

MIN_INTERVAL_MS, MAX_INTERVAL_MS = 10, 86_400_000  # a watch polls the dataplane each interval


def interface_counters(dp, port: int) -> dict[str, int]:
    """The dataplane's counters of a port (rx_packets, ..., drop_<reason>) and
    the losses only the device sees (rx_missed, rx_errors, tx_errors, rx_nombuf)."""
    counters = dp.port_stats(port)
    try:
        dev = dp.port_dev_stats(port)
    except DataplaneError:  # a driver that keeps no counters: the dataplane's still count
        return counters
    counters.update((k, dev[k]) for k in dp.DEV_COUNTERS)
    return counters


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
            counters = interface_counters(dp, ports[name])
            if nonzero:
                counters = {k: v for k, v in counters.items() if v}
            resp.interfaces.add(interface=name, counters=counters)
        return resp

    @rpc
    def Get(self, request, context):
        return self._snapshot(request.interface, request.nonzero_only)

    @rpc
    def Watch(self, request, context):
        ms = request.interval_ms or 1000
        if not MIN_INTERVAL_MS <= ms <= MAX_INTERVAL_MS:
            raise InvalidArgument(f"interval_ms: {ms} out of range {MIN_INTERVAL_MS}.."
                                  f"{MAX_INTERVAL_MS}")
        interval = ms / 1000
        done = threading.Event()
        context.add_callback(done.set)
        while not done.is_set():
            yield self._snapshot(request.interface, request.nonzero_only)
            done.wait(interval)

    @rpc
    def Status(self, request, context):
        return self.app.status_pb(pb)

    @rpc
    def Workers(self, request, context):
        e = self.engine
        dp = e.executor.dp
        if dp is None or not e.dataplane_up:
            raise Unavailable("the dataplane is down (restarting); try again shortly")
        tsc_hz, workers = dp.worker_stats()
        lcores = self.app.cfg.dataplane.workers
        resp = pb.WorkerStatsResponse(tsc_hz=tsc_hz, timestamp=now_rfc3339())
        for w in workers:
            resp.workers.add(worker=w.worker,
                             lcore=lcores[w.worker] if w.worker < len(lcores) else 0,
                             busy_cycles=w.busy_tsc, packets=w.packets, loops=w.loops,
                             idle_loops=w.idle_loops)
        return resp
