"""The running state: VRFs, interfaces, static routes and neighbours, and the
RIB built from them.

`apply(change)` checks one change against the current state (raising a
domain error and changing nothing if it does not fit), then applies it and
returns the dataplane operations that make the dataplane match.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Interface

from ..config.model import (DEFAULT_VRF, DataplaneConfig, Interface, NatRule, Neighbor, Prefix,
                            Route, RouterConfig, Vrf)
from .changes import nat_text as describe_nat
from .changes import (
    Change,
    LearnedSet,
    LiveParams,
    NatAdd,
    NatDel,
    ParamsSet,
    InterfaceAdd,
    InterfaceDel,
    InterfaceUpdate,
    NeighborAdd,
    NeighborDel,
    RouteAdd,
    RouteDel,
    VrfAdd,
    VrfDel,
)
from .errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from .ops import AddrOp, NatOp, NeighOp, Op, ParamsOp, PortOp, PortSetOp, VrfOp
from .rib import Candidate, Rib, Source, Spec


_SPEC_CACHE_MAX = 65536
_spec_cache: dict[int, tuple[tuple, str, Spec]] = {}


def route_spec(r: Route) -> Spec:
    if r.blackhole:
        return Spec("blackhole")
    if r.reject:
        return Spec("reject")
    vrf = r.via_vrf or r.vrf
    # Routes of a bulk load share their `via` tuple: memoize by identity
    # (hashing IPv4Address objects is slow). The entry keeps the tuple alive,
    # so its id cannot be reused while cached.
    hit = _spec_cache.get(id(r.via))
    if hit is not None and hit[0] is r.via and hit[1] == vrf:
        return hit[2]
    spec = Spec("gw", tuple(sorted({int(g) for g in r.via})), vrf)
    if len(_spec_cache) >= _SPEC_CACHE_MAX:
        _spec_cache.clear()
    _spec_cache[id(r.via)] = (r.via, vrf, spec)
    return spec


_STATIC = Source.STATIC  # enum member lookups are slow in a million-route loop


def route_candidate(r: Route) -> Candidate:
    return Candidate(_STATIC, r.distance, r.metric, route_spec(r), r)


@lru_cache(maxsize=65536)
def _check_target(via: tuple[IPv4Address, ...], blackhole: bool, reject: bool,
                  distance: int) -> str | None:
    """What is wrong with a route's target, or None (cached: routes share them)."""
    for g in via:
        if int(g) == 0 or g.is_multicast or int(g) == 0xFFFFFFFF:
            return f"gateway {g} is not a unicast address"
    if sum((bool(via), blackhole, reject)) != 1:
        return "needs exactly one of via, blackhole, reject"
    if not 1 <= distance <= 255:
        return f"distance {distance} out of range 1..255"
    if len(via) > 16:
        return f"{len(via)} gateways, at most 16"
    return None


def params_fields(p: LiveParams) -> dict[str, int]:
    """LiveParams as DataplaneClient.params_set() keywords."""
    return dict(arp_reachable_ms=p.arp.reachable_ms, arp_retrans_ms=p.arp.retrans_ms,
                arp_max_probes=p.arp.max_probes, arp_queue_len=p.arp.queue_len,
                arp_rate=p.arp.request_rate, arp_burst=p.arp.request_burst,
                icmp_rate=p.icmp.rate, icmp_burst=p.icmp.burst, idle_sleep_us=p.idle_sleep_us,
                punt_rate=p.punt.rate, punt_burst=p.punt.burst)


def _addr_candidates(itf: Interface, a: IPv4Interface) -> list[tuple[Prefix, Candidate]]:
    out = [(Prefix(int(a.ip), 32), Candidate(Source.LOCAL, 0, 0, Spec("local", interface=itf.name)))]
    if a.network.prefixlen < 32:
        net = Prefix(int(a.network.network_address), a.network.prefixlen)
        out.append((net, Candidate(Source.CONNECTED, 0, 0, Spec("connected", interface=itf.name))))
    return out


class RouterState:
    def __init__(self, max_nexthops: int = 65535,
                 default_vrf: Vrf = Vrf(DEFAULT_VRF, 0)) -> None:
        self.vrfs: dict[str, Vrf] = {}
        self.interfaces: dict[str, Interface] = {}
        self.routes: dict[tuple[str, Prefix, int], Route] = {}
        self.neighbors: dict[tuple[str, IPv4Address], Neighbor] = {}
        self.rib = Rib(max_nexthops)
        self.params = LiveParams.of(DataplaneConfig())
        self.nat: dict[NatRule, int] = {}  # rule -> dataplane rule id
        # outside addresses NAT rules claim as /32s on an interface: (interface, ip) -> rules
        self.nat_claims: dict[tuple[str, IPv4Address], int] = {}
        # ids are per rule for good: a rule re-added by an undo keeps its id
        self._nat_ids: dict[NatRule, int] = {}
        self.learned: dict[str, dict[Prefix, Candidate]] = {}  # vrf -> routes
        self._add_vrf(default_vrf)  # sized at start (--vrf0-routes); always there

    # ---- queries ----

    def vrf_of_interface(self, name: str) -> str:
        return self.interfaces[name].vrf

    def to_config(self, base: RouterConfig) -> RouterConfig:
        """The running state as a config (with `base`'s startup-only sections)."""
        dataplane = replace(base.dataplane, arp=self.params.arp, icmp=self.params.icmp,
                            idle_sleep_us=self.params.idle_sleep_us, punt=self.params.punt)
        return replace(base, dataplane=dataplane, nat=tuple(self.nat),
                       nat_timeouts=self.params.nat,
                       vrfs=tuple(sorted(self.vrfs.values(), key=lambda v: v.id)),
                       interfaces=tuple(self.interfaces.values()),
                       routes=tuple(self.routes.values()),
                       neighbors=tuple(self.neighbors.values()))

    # ---- changes ----

    def apply(self, c: Change) -> list[Op]:
        match c:
            case VrfAdd(v):
                return self._vrf_add(v)
            case VrfDel(v):
                return self._vrf_del(v)
            case InterfaceAdd(i):
                return self._interface_add(i)
            case InterfaceDel(i):
                return self._interface_del(i)
            case InterfaceUpdate(old, new):
                return self._interface_update(old, new)
            case RouteAdd(rs):
                return self._routes_add(rs)
            case RouteDel(rs):
                return self._routes_del(rs)
            case NeighborAdd(n):
                return self._neighbor_add(n)
            case NeighborDel(n):
                return self._neighbor_del(n)
            case ParamsSet(old, new):
                if old != self.params:
                    raise FailedPrecondition("the dataplane settings changed meanwhile")
                self.params = new
                return [ParamsOp(params_fields(old), params_fields(new), vars(old.nat),
                                 vars(new.nat))]
            case LearnedSet(vrf, adds, dels):
                return self._learned(vrf, adds, dels)
            case NatAdd(r):
                return self._nat_add(r)
            case NatDel(r):
                return self._nat_del(r)
        raise TypeError(f"not a change: {c!r}")

    # VRFs

    def _add_vrf(self, v: Vrf) -> None:
        self.vrfs[v.name] = v
        self.rib.add_vrf(v.name, v.id)

    def _vrf_add(self, v: Vrf) -> list[Op]:
        if v.name in self.vrfs:
            raise AlreadyExists(f"vrf {v.name} already exists")
        if not 1 <= v.id <= 255:
            raise InvalidArgument(f"vrf {v.name}: id {v.id} out of range 1..255")
        other = next((o.name for o in self.vrfs.values() if o.id == v.id), None)
        if other:
            raise AlreadyExists(f"vrf id {v.id} is already used by vrf {other}")
        self._add_vrf(v)
        return [VrfOp(True, v.id, v.max_routes, v.num_tbl8)]

    def _vrf_del(self, v: Vrf) -> list[Op]:
        cur = self._vrf(v.name)
        if cur.name == DEFAULT_VRF:
            raise FailedPrecondition("the default vrf cannot be deleted")
        users = [i.name for i in self.interfaces.values() if i.vrf == v.name]
        if users:
            raise FailedPrecondition(f"vrf {v.name} still has interfaces: {', '.join(users)}")
        routes = sum(1 for k in self.routes if k[0] == v.name)
        if routes:
            raise FailedPrecondition(f"vrf {v.name} still has {routes} static routes")
        if any(r.vrf == v.name for r in self.nat):
            raise FailedPrecondition(f"vrf {v.name} still has NAT rules")
        if self.learned.get(v.name):
            raise FailedPrecondition(f"vrf {v.name} still has learned routes")
        leaking = [r for r in self.routes.values() if r.via_vrf == v.name]
        if leaking:
            raise FailedPrecondition(f"vrf {leaking[0].vrf} has routes via vrf {v.name} "
                                     f"(e.g. {leaking[0].prefix})")
        if self.rib.entries[v.name]:
            raise FailedPrecondition(f"vrf {v.name} still has routes")
        del self.vrfs[v.name]
        self.rib.del_vrf(v.name)
        return [VrfOp(False, cur.id, cur.max_routes, cur.num_tbl8)]

    def _vrf(self, name: str) -> Vrf:
        try:
            return self.vrfs[name]
        except KeyError:
            raise NotFound(f"vrf {name} does not exist") from None

    # Interfaces

    def _interface(self, name: str) -> Interface:
        try:
            return self.interfaces[name]
        except KeyError:
            raise NotFound(f"interface {name} does not exist") from None

    def _check_addresses(self, itf: Interface, skip: str | None = None) -> None:
        seen: set = set()
        for a in itf.addresses:
            if a.network.prefixlen <= 30 and a.ip in (a.network.network_address,
                                                      a.network.broadcast_address):
                raise InvalidArgument(f"interface {itf.name}: address {a} is the network or "
                                      "broadcast address of its subnet")
            if a.ip in seen or a.network in seen:
                raise InvalidArgument(f"interface {itf.name}: address {a} overlaps another of "
                                      "its addresses")
            seen |= {a.ip, a.network}
            for o in self.interfaces.values():
                if o.name in (itf.name, skip) or o.vrf != itf.vrf:
                    continue
                for b in o.addresses:
                    if b.ip == a.ip:
                        raise AlreadyExists(f"address {a.ip} is already on interface {o.name}")
                    if b.network == a.network and a.network.prefixlen < 32:
                        raise AlreadyExists(f"subnet {a.network} is already connected on "
                                            f"interface {o.name} in vrf {itf.vrf}")

    def _interface_add(self, itf: Interface) -> list[Op]:
        if itf.name in self.interfaces:
            raise AlreadyExists(f"interface {itf.name} already exists")
        self._vrf(itf.vrf)
        dev = itf.device.split(",")[0]
        for o in self.interfaces.values():
            if o.device.split(",")[0] == dev:
                raise AlreadyExists(f"device {dev} is already interface {o.name}")
        self._check_addresses(itf)
        self.interfaces[itf.name] = itf
        try:
            addr_ops = self._addresses(itf, itf.addresses, add=True)
        except BaseException:
            del self.interfaces[itf.name]
            raise
        return [PortOp(True, itf, self.vrfs[itf.vrf].id), *addr_ops]

    def _addresses(self, itf: Interface, addrs, add: bool) -> list[Op]:
        ops: list[Op] = [AddrOp(add, itf.name, a) for a in addrs]
        cands = [(itf.vrf, p, c) for a in addrs for p, c in _addr_candidates(itf, a)]
        rib_ops = self.rib.update(adds=cands) if add else self.rib.update(dels=cands)
        # Routes leave before their addresses; new addresses come before routes.
        return ops + rib_ops if add else rib_ops + ops

    def _interface_del(self, itf: Interface) -> list[Op]:
        cur = self._interface(itf.name)
        users = [r for r in self.nat if r.interface == itf.name] + [
            r for r in self.nat if any(k[0] == itf.name for k in self.nat_claims
                                       if k[1] in self._nat_outside(r))]
        if users:
            raise FailedPrecondition(f"interface {itf.name} is used by NAT rule "
                                     f"{describe_nat(users[0])}")
        neigh = [n for n in self.neighbors.values() if n.interface == itf.name]
        if neigh:
            raise FailedPrecondition(f"interface {itf.name} has static neighbors "
                                     f"(e.g. {neigh[0].ip}); delete them first")
        ops = self._addresses(cur, cur.addresses, add=False)
        del self.interfaces[itf.name]
        return ops + [PortOp(False, cur, self.vrfs[cur.vrf].id)]

    def _interface_update(self, old: Interface, new: Interface) -> list[Op]:
        cur = self._interface(new.name)
        if new.device != cur.device:
            raise FailedPrecondition(f"interface {new.name}: the device cannot change "
                                     f"({cur.device} -> {new.device}); delete and add it")
        self._vrf(new.vrf)
        self._check_addresses(new)
        ops: list[Op] = []
        vrf_moves = new.vrf != cur.vrf
        # The dataplane forgets neighbours off the port's subnets (static ones
        # too) when an address goes: a static one must go first.
        for n in self.neighbors.values():
            if n.interface == new.name and (vrf_moves or not any(
                    n.ip in a.network and n.ip != a.ip for a in new.addresses)):
                raise FailedPrecondition(f"interface {new.name}: static neighbor {n.ip} "
                                         "needs an address on its subnet in this vrf; "
                                         "delete the neighbor first")
        gone = cur.addresses if vrf_moves else [a for a in cur.addresses if a not in new.addresses]
        came = new.addresses if vrf_moves else [a for a in new.addresses if a not in cur.addresses]
        if gone:
            ops += self._addresses(cur, gone, add=False)
        old_set, new_set = {}, {}
        for f, key in (("mtu", "mtu"), ("up", "admin_up"), ("mac", "mac")):
            if getattr(cur, f) != getattr(new, f) and getattr(new, f) is not None:
                old_set[key], new_set[key] = getattr(cur, f), getattr(new, f)
        if vrf_moves:
            old_set["vrf"], new_set["vrf"] = self.vrfs[cur.vrf].id, self.vrfs[new.vrf].id
        if new_set:
            ops.append(PortSetOp(new.name, old_set, new_set))
        self.interfaces[new.name] = new
        if came:
            try:
                ops += self._addresses(new, came, add=True)
            except BaseException:
                self.interfaces[new.name] = cur
                if gone:
                    self._addresses(cur, gone, add=True)
                raise
        return ops

    # Routes

    def _check_route(self, r: Route) -> None:
        if r.vrf not in self.vrfs:
            raise NotFound(f"route {r.prefix}: vrf {r.vrf} does not exist")
        if r.via_vrf is not None and r.via_vrf not in self.vrfs:
            raise NotFound(f"route {r.prefix}: via_vrf {r.via_vrf} does not exist")
        problem = _check_target(r.via, r.blackhole, r.reject, r.distance)
        if problem:
            raise InvalidArgument(f"route {r.prefix}: {problem}")

    def _routes_add(self, routes: tuple[Route, ...]) -> list[Op]:
        keys = [r.key for r in routes]
        clash = self.routes.keys() & keys if self.routes else set()
        if clash or len(set(keys)) != len(keys):
            seen: set = set()
            for r, k in zip(routes, keys):
                if k in clash or k in seen:
                    raise AlreadyExists(f"route {r.prefix} distance {r.distance} already "
                                        f"exists in vrf {r.vrf}")
                seen.add(k)
        for t in {(r.vrf, r.via_vrf, id(r.via), r.blackhole, r.reject, r.distance): r
                  for r in routes}.values():
            self._check_route(t)  # once per distinct target: routes share them
        ops = self.rib.update(adds=[(r.vrf, r.prefix, route_candidate(r)) for r in routes])
        self.routes.update(zip(keys, routes))
        return ops

    def _routes_del(self, routes: tuple[Route, ...]) -> list[Op]:
        batch: set = set()
        for r in routes:
            if self.routes.get(r.key) != r or r.key in batch:
                raise NotFound(f"route {r.prefix} distance {r.distance} not found "
                               f"in vrf {r.vrf}")
            batch.add(r.key)
        ops = self.rib.update(dels=[(r.vrf, r.prefix, route_candidate(r)) for r in routes])
        for r in routes:
            del self.routes[r.key]
        return ops

    # Neighbours

    def _neighbor_add(self, n: Neighbor) -> list[Op]:
        itf = self._interface(n.interface)
        if (n.interface, n.ip) in self.neighbors:
            raise AlreadyExists(f"neighbor {n.ip} on {n.interface} already exists")
        if not any(n.ip in a.network and n.ip != a.ip for a in itf.addresses):
            raise InvalidArgument(f"neighbor {n.ip} is not on a subnet of interface "
                                  f"{n.interface}")
        self.neighbors[(n.interface, n.ip)] = n
        return [NeighOp(True, n.interface, n.ip, n.mac)]

    def _neighbor_del(self, n: Neighbor) -> list[Op]:
        if self.neighbors.get((n.interface, n.ip)) != n:
            raise NotFound(f"static neighbor {n.ip} on {n.interface} not found")
        del self.neighbors[(n.interface, n.ip)]
        return [NeighOp(False, n.interface, n.ip, n.mac)]

    # Learned routes

    def _learned(self, vrf: str, adds: tuple, dels: tuple) -> list[Op]:
        self._vrf(vrf)
        mine = self.learned.get(vrf, {})
        if any(mine.get(p) != c for p, c in dels) or any(p in mine for p, _ in adds
                                                         if p not in dict(dels)):
            raise FailedPrecondition(f"learned routes of vrf {vrf} changed meanwhile")
        ops = self.rib.update(adds=[(vrf, p, c) for p, c in adds],
                              dels=[(vrf, p, c) for p, c in dels])
        mine = self.learned.setdefault(vrf, {})
        for p, _ in dels:
            del mine[p]
        mine.update(adds)
        return ops

    # NAT

    def _nat_outside(self, r: NatRule) -> list[IPv4Address]:
        return list(r.pool) if r.kind == "snat" else [r.external]

    def _nat_home(self, r: NatRule, ip: IPv4Address) -> tuple[str, bool]:
        """The interface an outside address lives on, and whether it is one of
        that interface's own addresses (else the rule claims it as a /32)."""
        cands = [i for i in self.interfaces.values() if i.vrf == r.vrf]
        if r.kind == "snat":
            cands = [self.interfaces[r.interface]]
        for itf in cands:
            if any(a.ip == ip for a in itf.addresses):
                return itf.name, True
        for itf in cands:
            if any(ip in a.network for a in itf.addresses):
                return itf.name, False
        where = f"interface {r.interface}" if r.kind == "snat" else f"vrf {r.vrf}"
        raise InvalidArgument(f"NAT {r.kind}: outside address {ip} is on no subnet of {where}")

    def _nat_check(self, r: NatRule) -> None:
        self._vrf(r.vrf)
        if r in self.nat:
            raise AlreadyExists(f"NAT rule already exists: {describe_nat(r)}")
        if r.kind == "snat":
            itf = self._interface(r.interface)
            if itf.vrf != r.vrf:
                raise InvalidArgument(f"NAT source rule: interface {itf.name} is in vrf "
                                      f"{itf.vrf}, not {r.vrf}")
            if r.match is None:
                raise InvalidArgument("NAT source rule: match (inside prefix) is missing")
            if r.masquerade == bool(r.pool):
                raise InvalidArgument("NAT source rule: masquerade or a pool, not both or neither")
            if r.masquerade and not itf.addresses:
                raise FailedPrecondition(f"NAT masquerade: interface {itf.name} has no address")
            lo, hi = r.ports
            if not 0 < lo <= hi <= 65535:
                raise InvalidArgument(f"NAT source rule: port range {lo}-{hi}")
        elif r.kind == "dnat":
            if r.proto not in ("tcp", "udp"):
                raise InvalidArgument(f"NAT forward: protocol {r.proto!r} is not tcp or udp")
            for o in self.nat:
                if (o.kind, o.vrf, o.proto, o.external, o.external_port) == (
                        "dnat", r.vrf, r.proto, r.external, r.external_port):
                    raise AlreadyExists(f"NAT forward of {r.external}:{r.external_port}/"
                                        f"{r.proto} overlaps: {describe_nat(o)}")
        elif r.kind == "static":
            for o in self.nat:
                if o.kind == "static" and o.vrf == r.vrf and (
                        o.external == r.external or o.internal == r.internal):
                    raise AlreadyExists(f"NAT static mapping overlaps: {describe_nat(o)}")
        else:
            raise InvalidArgument(f"NAT rule kind {r.kind!r}: snat, dnat or static")
        for ip in self._nat_outside(r):
            self._nat_home(r, ip)

    def _nat_add(self, r: NatRule) -> list[Op]:
        self._nat_check(r)
        ops: list[Op] = []
        for ip in self._nat_outside(r):
            home, own = self._nat_home(r, ip)
            if not own:
                key = (home, ip)
                self.nat_claims[key] = self.nat_claims.get(key, 0) + 1
                if self.nat_claims[key] == 1:  # the router answers ARP for it, and owns it
                    ops.append(AddrOp(True, home, IPv4Interface(f"{ip}/32")))
        self.nat[r] = self._nat_ids.setdefault(r, len(self._nat_ids) + 1)
        return ops + [NatOp(True, r, self.nat[r], self.vrfs[r.vrf].id)]

    def _nat_del(self, r: NatRule) -> list[Op]:
        if r not in self.nat:
            raise NotFound(f"no such NAT rule: {describe_nat(r)}")
        ops: list[Op] = [NatOp(False, r, self.nat.pop(r), self.vrfs[r.vrf].id)]
        for key, n in list(self.nat_claims.items()):
            if key[1] in self._nat_outside(r) and (
                    r.kind != "snat" or key[0] == r.interface):
                self.nat_claims[key] = n - 1
                if n == 1:
                    del self.nat_claims[key]
                    ops.append(AddrOp(False, key[0], IPv4Interface(f"{key[1]}/32")))
        return ops

    # ---- replay ----

    def replay_ops(self) -> list[Op]:
        """Everything, in dependency order, for a freshly started dataplane."""
        ops: list[Op] = [VrfOp(True, v.id, v.max_routes, v.num_tbl8)
                         for v in self.vrfs.values() if v.id != 0]
        for itf in self.interfaces.values():
            ops.append(PortOp(True, itf, self.vrfs[itf.vrf].id))
            ops += [AddrOp(True, itf.name, a) for a in itf.addresses]
        ops += [NeighOp(True, n.interface, n.ip, n.mac) for n in self.neighbors.values()]
        ops += [AddrOp(True, itf, IPv4Interface(f"{ip}/32")) for itf, ip in self.nat_claims]
        ops += [NatOp(True, r, rid, self.vrfs[r.vrf].id) for r, rid in self.nat.items()]
        return ops + self.rib.replay_ops()
