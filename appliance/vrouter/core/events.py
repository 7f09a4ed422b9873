"""A small publish/subscribe hub for the event stream."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

MAX_QUEUED = 10000  # per subscriber; a slow reader loses the oldest events


@dataclass(frozen=True)
class Event:
    type: str  # link_up, link_down, neighbor_learned, neighbor_expired, route_added,
    #            route_removed, dataplane_down, dataplane_up, config_committed
    vrf: str = ""
    interface: str = ""
    prefix: str = ""
    ip: str = ""
    mac: str = ""
    detail: str = ""
    timestamp: str = field(default_factory=lambda: now_rfc3339())


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class EventBus:
    def __init__(self) -> None:
        self._subs: list[queue.Queue] = []
        self._lock = threading.Lock()

    def subscribe(self) -> queue.Queue:
        q: queue.Queue = queue.Queue(MAX_QUEUED)
        with self._lock:
            self._subs.append(q)
        return q

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            if q in self._subs:
                self._subs.remove(q)

    def publish(self, ev: Event) -> None:
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            while True:
                try:
                    q.put_nowait(ev)
                    break
                except queue.Full:
                    try:
                        q.get_nowait()
                    except queue.Empty:
                        pass
