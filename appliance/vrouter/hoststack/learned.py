"""Routes a routing daemon (BIRD, FRR) puts into a control namespace's kernel
table become "learned" routes of that VRF's RIB, and go when withdrawn.

One thread per namespace listens on netlink (pyroute2) for route changes,
and on each (or every few seconds regardless) reads the main table again
and hands the difference to the engine.
"""

from __future__ import annotations

import logging
import select
import socket
import threading
from collections.abc import Callable

from pyroute2 import NetNS

from ..config.model import Prefix
from ..core.rib import Candidate, Source, Spec

log = logging.getLogger("vrouter.learned")

RT_TABLE_MAIN = 254
RTPROT_KERNEL = 2  # the kernel's own (connected) routes: ours already
RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT = 1, 6, 7, 8
RTMGRP_IPV4_ROUTE = 0x40

# rtnetlink protocol numbers (/etc/iproute2/rt_protos) -> (name, distance)
PROTOS = {3: ("boot", 1), 4: ("static", 1), 12: ("bird", 20), 186: ("bgp", 20),
          187: ("isis", 115), 188: ("ospf", 110), 189: ("rip", 120), 192: ("eigrp", 90)}
DEFAULT_DISTANCE = 20

Learned = dict[Prefix, Candidate]


def read_table(ns: NetNS, vrf: str) -> Learned:
    out: Learned = {}
    for r in ns.get_routes(family=socket.AF_INET, table=RT_TABLE_MAIN):
        if r["proto"] == RTPROT_KERNEL or r["type"] not in (
                RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT):
            continue
        dst = r.get_attr("RTA_DST") or "0.0.0.0"
        try:
            p = Prefix.parse(f"{dst}/{r['dst_len']}")
        except ValueError:
            continue
        name, distance = PROTOS.get(r["proto"], (f"proto {r['proto']}", DEFAULT_DISTANCE))
        metric = r.get_attr("RTA_PRIORITY") or 0
        if r["type"] == RTN_BLACKHOLE:
            spec = Spec("blackhole")
        elif r["type"] != RTN_UNICAST:
            spec = Spec("reject")
        else:
            gws = [r.get_attr("RTA_GATEWAY")] if r.get_attr("RTA_GATEWAY") else []
            for hop in r.get_attr("RTA_MULTIPATH") or []:
                gw = hop.get_attr("RTA_GATEWAY")
                if gw:
                    gws.append(gw)
            if not gws:
                continue  # a route to a link with no gateway: nothing to forward to
            ints = sorted({Prefix.parse(f"{g}/32").net for g in gws})
            spec = Spec("gw", tuple(ints), vrf)
        out[p] = Candidate(Source.LEARNED, distance, metric, spec, name)
    return out


class LearnedRoutes(threading.Thread):
    """Watches one namespace; `apply(vrf, adds, dels)` takes the changes."""

    def __init__(self, namespace: str, vrf: str,
                 apply: Callable[[str, Learned, Learned], None], period: float = 5.0,
                 current: Learned | None = None) -> None:
        super().__init__(name=f"learned-{vrf}", daemon=True)
        self.namespace, self.vrf, self.apply, self.period = namespace, vrf, apply, period
        self.current: Learned = dict(current or {})  # what the RIB already has
        self.stop_event = threading.Event()

    def resync(self, ns: NetNS) -> None:
        want = read_table(ns, self.vrf)
        adds = {p: c for p, c in want.items() if self.current.get(p) != c}
        dels = {p: c for p, c in self.current.items() if want.get(p) != c}
        if adds or dels:
            try:
                self.apply(self.vrf, adds, dels)
                self.current = want
            except Exception as e:  # noqa: BLE001 - retried at the next change or period
                log.warning("learned routes of vrf %s not applied yet: %s", self.vrf, e)

    def run(self) -> None:
        try:
            with NetNS(self.namespace) as ns:
                ns.bind(groups=RTMGRP_IPV4_ROUTE)
                while not self.stop_event.is_set():
                    self.resync(ns)
                    ready, _, _ = select.select([ns.fileno()], [], [], self.period)
                    if ready:
                        ns.get()  # drain; the table is read again anyway
        except Exception:  # noqa: BLE001 - namespace gone at teardown
            if not self.stop_event.is_set():
                log.exception("watching routes of %s stopped", self.namespace)

    def stop(self) -> None:
        self.stop_event.set()
