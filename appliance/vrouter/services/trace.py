"""TraceService: the path of the next packets that match a filter, as the
dataplane records it (Trace), and the path a flow would take, worked out from
the tables without sending anything (Explain)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from ..core.errors import InvalidArgument, NotFound
from ..core.explain import Explainer, parse_flow
from ..core.path import Names, Path, trace_path
from ..dataplane.client import DataplaneUnavailable
from ..dataplane.messages import TraceStage
from ..v1 import trace_pb2 as pb
from ..v1 import trace_pb2_grpc as pb_grpc
from . import register
from .base import dataplane_refusals, log, rpc, running_dataplane
from .capture import check_filter
from .nat import rule_to_pb

POLL_S = 0.02
QUIET_S = 0.1           # a finished packet's last record is this old: nothing follows
MAX_COUNT = 10000
DEFAULT_TIMEOUT_S = 10.0
FINAL = (TraceStage.TX, TraceStage.DROP, TraceStage.LOCAL, TraceStage.ARP)


def steps_pb(path: Path) -> list[pb.PathStep]:
    out = []
    for s in path.steps:
        m = pb.PathStep(stage=s.stage, summary=s.summary, details=s.details)
        if s.rule is not None:
            m.nat_rule.CopyFrom(rule_to_pb(*s.rule))
        out.append(m)
    return out


@register(pb_grpc.add_TraceServiceServicer_to_server)
class TraceService(pb_grpc.TraceServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine

    @rpc
    def Trace(self, request, context):
        q = request
        count = q.count or 1
        if count > MAX_COUNT:
            raise InvalidArgument(f"count: {count} out of range 1..{MAX_COUNT}")
        if q.timeout_ms > 3_600_000:
            raise InvalidArgument(f"timeout_ms: {q.timeout_ms} is more than an hour")
        check_filter(q.filter)
        port = None
        if q.interface:
            with self.engine.lock:
                port = self.engine.executor.ports.get(q.interface)
            if port is None:
                raise NotFound(f"interface {q.interface} does not exist")
        dp = running_dataplane(self.engine)
        names = Names.of(self.engine, dp)
        done = threading.Event()
        context.add_callback(done.set)
        deadline = time.monotonic() + (q.timeout_ms / 1000 if q.timeout_ms else DEFAULT_TIMEOUT_S)
        with dataplane_refusals(f"trace with filter {q.filter!r}"):
            tid = dp.trace_start(count, q.filter, port)
        context.send_initial_metadata((("trace-started", "1"),))  # tell the client
        recs: dict[int, list] = defaultdict(list)
        last: dict[int, float] = {}
        sent: set[int] = set()
        lost = 0
        try:
            while len(sent) < count and not done.is_set() and time.monotonic() < deadline:
                now = time.monotonic()
                for r in dp.trace_read(tid):
                    recs[r.packet].append(r)
                    last[r.packet] = now
                ready = [k for k in sorted(recs) if k not in sent
                         and recs[k][-1].stage in FINAL and now - last[k] >= QUIET_S]
                for k in ready:
                    sent.add(k)
                    yield self._packet(names, k, recs[k])
                done.wait(POLL_S)
        finally:
            try:
                lost = dp.trace_stop(tid)[1]
            except (OSError, DataplaneUnavailable) as e:  # restarted: it is gone anyway
                log.info("trace %d: stop: %s", tid, e)
        for k in sorted(recs):  # unfinished (held, or the time ran out)
            if k not in sent:
                sent.add(k)
                yield self._packet(names, k, recs[k])
        yield pb.TraceEvent(summary=pb.TraceSummary(traced=len(sent), lost_records=lost,
                                                    timed_out=len(sent) < count))

    @staticmethod
    def _packet(names: Names, number: int, recs) -> pb.TraceEvent:
        path = trace_path(names, recs)
        return pb.TraceEvent(packet=pb.TracedPacket(
            number=number, interface=names.port(recs[0].port), steps=steps_pb(path),
            verdict=path.verdict or "in progress", reason=path.reason))

    @rpc
    def Explain(self, request, context):
        q = request
        flow = parse_flow(q.interface, q.protocol, q.source, q.destination, q.source_port,
                          q.destination_port, q.ttl)
        path = Explainer(self.engine, running_dataplane(self.engine)).explain(flow)
        return pb.ExplainResponse(steps=steps_pb(path), verdict=path.verdict,
                                  reason=path.reason, egress_interface=path.egress,
                                  translated=path.translated)
