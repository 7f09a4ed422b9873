"""Adopting a dataplane that outlived its management plane.

A management plane that restarts finds the dataplane still forwarding. It
builds its state from the configuration as a start would (the next hops
keeping the ids the dataplane already uses for them, see `nh_hints()`), then
`reconcile()` reads everything the dataplane holds and changes only what
differs, in an order that never takes away something still forwarding:

  1. settings; VRFs, ports, addresses, static neighbours, next hops and
     routes that are missing or different are added or replaced;
  2. only then are the extra ones removed: routes, NAT rules, next hops,
     neighbours, addresses, ports, VRFs (users before what they use).

What cannot change in place (a port on another device, a VRF sized
differently, a port that must be re-created) raises CannotAdopt: the caller
then restarts the dataplane and replays, as after a crash.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface

from ..dataplane.client import DataplaneClient, DataplaneError
from ..dataplane.messages import VR_PORT_NONE, NeighState, NhType
from ..dataplane.types import NatRule as DpNatRule
from ..dataplane.types import Nexthop, Port
from .ops import AddrOp, NatOp, NeighOp, NhOp, PortOp, RouteBulkOp, RouteOp, VrfOp
from .state import params_fields

log = logging.getLogger("vrouter.adopt")


class CannotAdopt(Exception):
    """The running dataplane cannot be brought to the state in place."""


def client_nexthops(dp: DataplaneClient, max_nexthops: int) -> dict[int, Nexthop]:
    """The next hops the management plane made (ids below the dataplane's
    max_nexthops; the dataplane's own ones are above)."""
    return {n.id: n for n in dp.nh_list() if 0 < n.id < max_nexthops}


def nh_key(nh: Nexthop, port_names: dict[int, str]) -> tuple | None:
    """A dataplane next hop as the RIB's NhTable key, or None."""
    t = nh.type
    if t == NhType.GATEWAY and nh.port in port_names and nh.gw is not None:
        return ("gw", port_names[nh.port], int(nh.gw))
    if t == NhType.GROUP:
        return ("group", tuple(sorted(nh.members)))
    if t == NhType.BLACKHOLE:
        return ("blackhole",)
    if t == NhType.REJECT:
        return ("reject",)
    return None


def nh_hints(dp: DataplaneClient, max_nexthops: int) -> dict[tuple, int]:
    ports = {p.port: p.name for p in dp.port_list()}
    hints = {}
    for nh in client_nexthops(dp, max_nexthops).values():
        key = nh_key(nh, ports)
        if key is not None:
            hints.setdefault(key, nh.id)
    return hints


def _port_fields(p: Port) -> dict:
    return {"mtu": p.mtu, "admin_up": p.admin_up, "mac": p.mac.lower(), "vrf": p.vrf}


def _nat_same(a: DpNatRule, b: DpNatRule) -> bool:
    return replace(a, sessions=0) == replace(b, sessions=0)


class Reconciler:
    def __init__(self, engine, dp: DataplaneClient, max_nexthops: int,
                 keep_port=lambda p: False) -> None:
        self.e = engine
        self.dp = dp
        self.max_nh = max_nexthops
        self.keep_port = keep_port  # ports that are someone else's (control-plane TAPs)
        self.done: Counter[str] = Counter()

    def _count(self, what: str, n: int = 1) -> None:
        if n:
            self.done[what] += n

    def run(self) -> dict[str, int]:
        try:
            self._apply()
        except DataplaneError as e:
            raise CannotAdopt(f"the dataplane refused a change while adopting it: {e}") from e
        return dict(self.done)

    # ---- the whole pass ----

    def _apply(self) -> None:
        e, dp = self.e, self.dp
        st = e.state
        want = st.replay_ops()
        dp.params_set(**params_fields(st.params))
        dp.nat_params_set(**vars(st.params.nat))

        # VRFs
        have_vrfs = {v.vrf: v for v in dp.vrf_list()}
        want_vrfs = {o.vrf_id: o for o in want if isinstance(o, VrfOp)}
        for vid, o in want_vrfs.items():
            v = have_vrfs.get(vid)
            if v is None:
                dp.vrf_add(vid, o.max_routes, o.num_tbl8)
                self._count("vrfs added")
            elif (o.max_routes and v.max_routes != o.max_routes) or \
                    (o.num_tbl8 and v.num_tbl8 != o.num_tbl8):
                raise CannotAdopt(f"vrf id {vid} is sized max_routes {v.max_routes}, num_tbl8 "
                                  f"{v.num_tbl8}; the configuration says {o.max_routes}, "
                                  f"{o.num_tbl8}")

        # Ports: found by name, on the same device
        have = {p.name: p for p in dp.port_list()}
        ports: dict[str, int] = {}
        for o in (o for o in want if isinstance(o, PortOp)):
            itf = o.interface
            p = have.get(itf.name)
            if p is None:
                ports[itf.name] = dp.port_add(itf.name, itf.device, vrf=o.vrf_id, mtu=itf.mtu,
                                              rxd=itf.rxd, txd=itf.txd, mac=itf.mac,
                                              admin_up=itf.up)
                self._count("ports added")
                continue
            if p.devargs != itf.device:
                raise CannotAdopt(f"port {itf.name} is on {p.devargs}, the configuration "
                                  f"says {itf.device}")
            ports[itf.name] = p.port
            cur = _port_fields(p)
            new = {"mtu": itf.mtu, "admin_up": itf.up, "vrf": o.vrf_id}
            if itf.mac:
                new["mac"] = itf.mac.lower()
            diff = {k: v for k, v in new.items() if cur[k] != v}
            if "vrf" in diff and p.addrs:
                for a in p.addrs:  # re-added in the new VRF below
                    dp.addr_del(p.port, a)
                have[itf.name] = replace(p, addrs=())
            if diff:
                dp.port_set(p.port, **diff)
                self._count("ports changed")
        e.executor.ports = ports

        # Addresses (interface addresses and NAT's claimed /32s)
        want_addrs: dict[str, set[IPv4Interface]] = {n: set() for n in ports}
        for o in (o for o in want if isinstance(o, AddrOp)):
            want_addrs[o.interface].add(o.address)
        for name, addrs in want_addrs.items():
            cur = set(have[name].addrs) if name in have else set()
            for a in sorted(addrs - cur):
                dp.addr_add(ports[name], a)
                self._count("addresses added")

        # Static neighbours
        want_neigh = {(ports[o.interface], o.ip): o.mac.lower() for o in want
                      if isinstance(o, NeighOp)}
        have_neigh = {(n.port, n.ip): n.mac.lower() for n in dp.neigh_list()
                      if n.state == NeighState.PERMANENT}
        for (port, ip), mac in want_neigh.items():
            if have_neigh.get((port, ip)) != mac:
                dp.neigh_add(port, ip, mac)
                self._count("neighbors set")

        # Next hops: the state took the ids the dataplane has for the same
        # next hops, so an id here either matches or is missing.
        have_nh = client_nexthops(dp, self.max_nh)
        want_nh = {o.nh_id: o for o in want if isinstance(o, NhOp)}
        for o in want_nh.values():  # members before groups (NhTable.all_ops)
            cur = have_nh.get(o.nh_id)
            if cur is not None and self._nh_same(cur, o, ports):
                continue
            if cur is not None:
                raise CannotAdopt(f"next hop {o.nh_id} differs ({cur} in the dataplane)")
            dp.nh_add(o.nh_id, o.type, port=ports[o.interface] if o.interface else 0, gw=o.gw,
                      members=o.members)
            self._count("next hops added")

        # Routes, per VRF: add the missing, repoint the different
        vrf_ids = sorted({v.id for v in st.vrfs.values()})
        want_fib: dict[int, dict] = {vid: {} for vid in vrf_ids}
        for o in want:
            if isinstance(o, RouteBulkOp):
                want_fib[o.vrf_id].update((p.network, o.nh) for p in o.prefixes)
            elif isinstance(o, RouteOp):
                want_fib[o.vrf_id][o.prefix.network] = o.new
        have_fib = {vid: {r.prefix: r.nh_id for r in dp.route_list(vid)
                          if 0 < r.nh_id < self.max_nh} for vid in vrf_ids}
        for vid in vrf_ids:
            cur = have_fib[vid]
            add = [(p, nh) for p, nh in want_fib[vid].items() if p not in cur]
            repl = [(p, nh) for p, nh in want_fib[vid].items() if p in cur and cur[p] != nh]
            if add:
                dp.route_add(vid, add)
            if repl:
                dp.route_add(vid, repl, replace=True)
            self._count("routes added", len(add))
            self._count("routes replaced", len(repl))

        # NAT rules: same id, same rule, or replaced
        want_nat = {o.rule_id: e.executor._nat_rule(o) for o in want if isinstance(o, NatOp)}
        have_nat = {r.id: r for r in dp.nat_rule_list()}
        for rid, r in want_nat.items():
            cur = have_nat.get(rid)
            if cur is not None and _nat_same(cur, r):
                continue
            if cur is not None:
                dp.nat_rule_del(rid)
            dp.nat_rule_add(r)
            self._count("nat rules set")

        # ---- removals, users before what they use ----
        for vid in vrf_ids:
            extra = [p for p in have_fib[vid] if p not in want_fib[vid]]
            if extra:
                dp.route_del(vid, extra)
            self._count("routes removed", len(extra))
        for rid in have_nat:
            if rid not in want_nat:
                dp.nat_rule_del(rid)
                self._count("nat rules removed")
        extra_nh = [n for i, n in have_nh.items() if i not in want_nh]
        for n in sorted(extra_nh, key=lambda n: n.type != NhType.GROUP):  # groups first
            dp.nh_del(n.id)
            self._count("next hops removed")
        for port, ip in have_neigh:
            if (port, ip) not in want_neigh:
                dp.neigh_del(port, ip)
                self._count("neighbors removed")
        for name, p in have.items():
            if name in ports:
                for a in p.addrs:
                    if a not in want_addrs[name]:
                        dp.addr_del(p.port, a)
                        self._count("addresses removed")
        extra_ports = [p for name, p in have.items()
                       if name not in ports and not self.keep_port(p)]
        live = {p.port for p in have.values()}
        # exception ports (TAPs) before the ports they serve
        for p in sorted(extra_ports, key=lambda p: p.exception_of == VR_PORT_NONE):
            if p.exception_of != VR_PORT_NONE and p.exception_of in live:
                dp.port_set(p.exception_of, punt_port=VR_PORT_NONE)
            if p.punt_port != VR_PORT_NONE and p.punt_port in live:
                dp.port_set(p.port, punt_port=VR_PORT_NONE)
            dp.port_del(p.port)
            live.discard(p.port)
            self._count("ports removed")
        for vid in have_vrfs:
            if vid != 0 and vid not in want_vrfs:
                dp.vrf_del(vid)
                self._count("vrfs removed")

    @staticmethod
    def _nh_same(cur: Nexthop, o: NhOp, ports: dict[str, int]) -> bool:
        if cur.type != o.type:
            return False
        if o.type == NhType.GATEWAY:
            return cur.port == ports.get(o.interface) and cur.gw == IPv4Address(o.gw)
        if o.type == NhType.GROUP:
            return tuple(sorted(cur.members)) == tuple(sorted(o.members))
        return True
