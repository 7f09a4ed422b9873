"""CaptureService: copies of the packets an interface receives or sends that
match a filter, streamed until a bound (count, bytes, time) or the client
cancels. The dataplane copies only while a capture runs; without one the
workers test one byte per burst."""

from __future__ import annotations

import threading
import time

from ..core.errors import InvalidArgument, NotFound
from ..dataplane.client import DataplaneUnavailable
from ..dataplane.messages import VR_DIR_RX, VR_DIR_TX, VR_FILTER_LEN
from ..v1 import capture_pb2 as pb
from ..v1 import capture_pb2_grpc as pb_grpc
from . import register
from .base import dataplane_refusals, log, rpc, running_dataplane

POLL_S = 0.02
DIRS = {pb.CAPTURE_DIRECTION_BOTH: VR_DIR_RX | VR_DIR_TX, pb.CAPTURE_DIRECTION_RX: VR_DIR_RX,
        pb.CAPTURE_DIRECTION_TX: VR_DIR_TX}
TO_PB = {VR_DIR_RX: pb.CAPTURE_DIRECTION_RX, VR_DIR_TX: pb.CAPTURE_DIRECTION_TX}


def check_filter(expr: str) -> str:
    if len(expr.encode()) >= VR_FILTER_LEN:
        raise InvalidArgument(f"filter: longer than {VR_FILTER_LEN - 1} bytes")
    return expr


@register(pb_grpc.add_CaptureServiceServicer_to_server)
class CaptureService(pb_grpc.CaptureServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine

    def _ports(self, names) -> dict[int, str]:
        if not names:
            raise InvalidArgument("interfaces: name at least one interface")
        if len(set(names)) != len(names):
            raise InvalidArgument("interfaces: an interface is named twice")
        with self.engine.lock:
            ports = dict(self.engine.executor.ports)
        missing = [n for n in names if n not in ports]
        if missing:
            raise NotFound(f"interface {missing[0]} does not exist")
        return {ports[n]: n for n in names}

    @rpc
    def Capture(self, request, context):
        q = request
        if q.direction not in DIRS:
            raise InvalidArgument(f"direction: {q.direction} is not rx, tx or both")
        if q.snaplen > 65535:
            raise InvalidArgument(f"snaplen: {q.snaplen} out of range 0..65535")
        ports = self._ports(list(q.interfaces))
        check_filter(q.filter)
        dp = running_dataplane(self.engine)
        caps: dict[int, str] = {}
        done = threading.Event()
        context.add_callback(done.set)
        deadline = time.monotonic() + q.duration_ms / 1000 if q.duration_ms else None
        n = size = 0
        stopped = ""
        try:
            with dataplane_refusals(f"capture with filter {q.filter!r}"):
                for port, name in ports.items():
                    caps[dp.capture_start(port, DIRS[q.direction], q.filter, q.count,
                                          q.snaplen)] = name
            context.send_initial_metadata((("capture-started", "1"),))  # tell the client
            while not stopped and not done.is_set():
                got = sorted((c for cid in caps for c in dp.capture_read(cid)),
                             key=lambda c: c.time_ns)
                for c in got:
                    yield pb.CaptureEvent(packet=pb.CapturedPacket(
                        time_ns=c.time_ns, interface=ports.get(c.port, str(c.port)),
                        direction=TO_PB.get(c.direction, 0), original_length=c.orig_len,
                        data=c.data))
                    n, size = n + 1, size + len(c.data)
                    if q.count and n >= q.count:
                        stopped = "count"
                    elif q.max_bytes and size >= q.max_bytes:
                        stopped = "bytes"
                    if stopped:
                        break
                if not stopped and deadline is not None and time.monotonic() >= deadline:
                    stopped = "time"
                if not got and not stopped:
                    done.wait(POLL_S)
        finally:
            lost = 0
            for cid in caps:
                try:
                    lost += dp.capture_stop(cid)[1]
                except (OSError, DataplaneUnavailable) as e:  # restarted: it is gone anyway
                    log.info("capture %d: stop: %s", cid, e)
        # the dataplane may have copied a few more than were sent (several
        # interfaces, or the count reached mid-read): those are not lost
        yield pb.CaptureEvent(summary=pb.CaptureSummary(captured=n, lost=lost,
                                                        stopped_by=stopped))
