"""The router's own TCP/IP control stack: a control namespace per VRF that
mirrors its interfaces (namespaces.py), and the routes a routing daemon
running there learns (learned.py)."""

from __future__ import annotations

import logging

from pyroute2 import NetNS, netns

from .learned import Learned, LearnedRoutes, read_table
from .namespaces import ControlNamespaces, namespace_name

log = logging.getLogger("vrouter.hoststack")

__all__ = ["HostStack", "namespace_name"]


class HostStack:
    def __init__(self, engine, appliance: str = "vrouter") -> None:
        self.engine = engine
        self.ns = ControlNamespaces(appliance)
        self.watchers: dict[str, LearnedRoutes] = {}
        self.known: dict[str, Learned] = {}  # learned routes the RIB got at adoption

    def read_learned(self, vrfs) -> dict[str, Learned]:
        """The routes in the control namespaces that exist now (a dataplane
        being adopted: a daemon there kept its routes), per VRF. Read before
        the API serves: NetNS forks."""
        have = set(netns.listnetns())
        out: dict[str, Learned] = {}
        for vrf in vrfs:
            ns = namespace_name(self.ns.appliance, vrf)
            if ns in have:
                try:
                    with NetNS(ns) as n:
                        out[vrf] = read_table(n, vrf)
                except Exception as e:  # noqa: BLE001 - the watcher reads them later
                    log.warning("reading the routes of %s: %s", ns, e)
        self.known = {v: r for v, r in out.items() if r}
        return self.known

    def start(self, adopt: bool = False) -> None:
        """adopt: the dataplane outlived a previous management plane; its
        control interfaces and their namespaces are kept, not rebuilt."""
        e = self.engine
        if adopt and e.executor.dp is not None:
            with e.lock:
                self.ns.adopt(e.executor.dp, dict(e.state.interfaces), dict(e.executor.ports),
                              set(e.state.vrfs))
        else:
            self.ns.cleanup_leftovers()
        self.sync()
        self.engine.after_commit.append(self.sync)

    def sync(self) -> None:
        e = self.engine
        with e.lock:
            dp = e.executor.dp
            if dp is None or not e.dataplane_up:
                return
            self.ns.sync(dp, dict(e.state.interfaces), dict(e.executor.ports),
                         set(e.state.vrfs))
        for vrf in e.state.vrfs:
            ns = namespace_name(self.ns.appliance, vrf)
            if ns in self.ns.namespaces and vrf not in self.watchers:
                w = LearnedRoutes(ns, vrf, e.learned, current=self.known.pop(vrf, None))
                self.watchers[vrf] = w
                w.start()
        for vrf in list(self.watchers):
            if vrf not in e.state.vrfs:
                self.watchers.pop(vrf).stop()

    def dataplane_restarted(self) -> None:
        """Its TAPs died with it: mirror everything again."""
        self.ns.forget_taps()
        self.sync()

    def namespace(self, vrf: str) -> str:
        return namespace_name(self.ns.appliance, vrf)

    def stop(self) -> None:
        if self.sync in self.engine.after_commit:
            self.engine.after_commit.remove(self.sync)
        for w in self.watchers.values():
            w.stop()
        self.watchers.clear()
        self.ns.teardown()
