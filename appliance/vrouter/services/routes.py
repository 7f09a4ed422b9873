"""RouteService: static routes in, the RIB and its resolved next hops out."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Address

from ..config.model import DEFAULT_VRF, Prefix, Route
from ..core import changes as ch
from ..core.errors import InvalidArgument, NotFound
from ..core.rib import Candidate, Source
from ..v1 import route_pb2 as pb
from ..v1 import route_pb2_grpc as pb_grpc
from . import register
from .base import no_gc, rpc

BULK = 10000  # routes in one request above which the cyclic GC is paused

SOURCES = {Source.CONNECTED: pb.ROUTE_SOURCE_CONNECTED, Source.LOCAL: pb.ROUTE_SOURCE_LOCAL,
           Source.STATIC: pb.ROUTE_SOURCE_STATIC, Source.LEARNED: pb.ROUTE_SOURCE_LEARNED}


@lru_cache(maxsize=4096)
def _gateways(values: tuple[str, ...]) -> tuple[IPv4Address, ...]:
    """One shared tuple per distinct gateway list (the RIB memoizes by it)."""
    return tuple(IPv4Address(v) for v in values)


def _prefix(field: str, value: str) -> Prefix:
    try:
        return Prefix.parse(value)
    except ValueError as e:
        raise InvalidArgument(f"{field}: {e}") from None


_ONE_GATEWAY: dict[str, tuple[IPv4Address, ...]] = {}
_ACTIONS = frozenset((pb.ROUTE_ACTION_FORWARD, pb.ROUTE_ACTION_BLACKHOLE,
                      pb.ROUTE_ACTION_REJECT))


def route_from_pb(i: int, m: pb.Route) -> Route:
    # Runs once per route of a bulk load: cheap checks first, messages only
    # on the error paths.
    via_pb = m.via
    n = len(via_pb)
    try:
        if n == 1:  # the common case; reading one element is much cheaper
            g = via_pb[0]
            via = _ONE_GATEWAY.get(g) or _ONE_GATEWAY.setdefault(g, (IPv4Address(g),))
        else:
            via = _gateways(tuple(via_pb)) if n else ()
    except ValueError:
        raise InvalidArgument(f"routes[{i}].via: {list(via_pb)} has a bad IPv4 address") from None
    action = m.action
    if action not in _ACTIONS:
        raise InvalidArgument(f"routes[{i}].action: {action} is not forward, blackhole or "
                              "reject")
    if (n > 0) == (action != pb.ROUTE_ACTION_FORWARD):
        raise InvalidArgument(f"routes[{i}]: give gateways (via) or a blackhole/reject action, "
                              "not both or neither")
    distance = m.distance
    if distance > 255:
        raise InvalidArgument(f"routes[{i}].distance: {distance} out of range 1..255")
    try:
        prefix = Prefix.parse(m.prefix)
    except ValueError as e:
        raise InvalidArgument(f"routes[{i}].prefix: {e}") from None
    return Route(prefix, m.vrf or DEFAULT_VRF, via, m.via_vrf or None,
                 action == pb.ROUTE_ACTION_BLACKHOLE, action == pb.ROUTE_ACTION_REJECT,
                 distance or 1, m.metric)


def routes_from_batch(b: int, batch: pb.RouteBatch) -> list[Route]:
    """The batch's target checked once, then one Route per prefix."""
    tg = batch.target
    if tg.prefix:
        raise InvalidArgument(f"batches[{b}].target.prefix: leave it empty (the prefixes "
                              "come in batches[].prefixes)")
    try:
        t = route_from_pb(0, pb.Route(prefix="0.0.0.0/0", vrf=tg.vrf, via=tg.via,
                                      via_vrf=tg.via_vrf, action=tg.action,
                                      distance=tg.distance, metric=tg.metric))
    except InvalidArgument as e:
        raise InvalidArgument(str(e).replace("routes[0]", f"batches[{b}].target", 1)) from None
    rest, parse, new = tuple(t)[1:], Prefix.parse, tuple.__new__
    try:  # Route(prefix, *rest) without the NamedTuple constructor's overhead
        return [new(Route, (parse(p), *rest)) for p in batch.prefixes]
    except ValueError as e:
        raise InvalidArgument(f"batches[{b}].prefixes: {e}") from None


@register(pb_grpc.add_RouteServiceServicer_to_server)
class RouteService(pb_grpc.RouteServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine

    def _candidate_pb(self, vrf: str, p: Prefix, c: Candidate, selected: bool,
                      installed: bool) -> pb.Route:
        rib = self.engine.state.rib
        m = pb.Route(vrf=vrf, prefix=str(p), distance=c.distance, metric=c.metric,
                     source=SOURCES[c.source], selected=selected, installed=installed)
        r = c.origin if isinstance(c.origin, Route) else None
        if r is not None:
            m.via.extend(str(g) for g in r.via)
            m.via_vrf = r.via_vrf or ""
        elif c.source == Source.LEARNED:
            m.origin = str(c.origin or "")
            m.via.extend(str(IPv4Address(g)) for g in c.spec.gateways)
        if c.spec.kind == "blackhole":
            m.action = pb.ROUTE_ACTION_BLACKHOLE
        elif c.spec.kind == "reject":
            m.action = pb.ROUTE_ACTION_REJECT
        res = rib.resolution(c.spec)
        if isinstance(res, frozenset):
            for iface, gw in sorted(res):
                ivrf = self.engine.state.interfaces[iface].vrf
                m.nexthops.add(gateway=str(IPv4Address(gw)), interface=iface,
                               vrf=ivrf if ivrf != vrf else "")
        elif c.spec.kind in ("connected", "local"):
            m.nexthops.add(interface=c.spec.interface)
        return m

    @rpc
    def List(self, request, context):
        st = self.engine.state
        with self.engine.lock:
            vrfs = [request.vrf] if request.vrf else sorted(st.vrfs, key=lambda n: st.vrfs[n].id)
            for v in vrfs:
                self.engine.vrf(v)
            within = _prefix("prefix", request.prefix) if request.prefix else None
            snapshot = []
            for v in vrfs:
                fib = st.rib.fib[v]
                for p, cands in st.rib.entries[v].items():
                    if within and not (p.plen >= within.plen and within.contains(p.net)):
                        continue
                    snapshot.append((v, p, list(cands), st.rib.selected(v, p), p in fib))
        for v, p, cands, sel, in_fib in sorted(snapshot, key=lambda t: (t[0], t[1])):
            for c in sorted(cands, key=lambda c: (c.distance, c.metric)):
                chosen = c in sel
                if request.selected_only and not chosen:
                    continue
                installed = chosen and (in_fib or c.spec.kind in ("connected", "local"))
                yield self._candidate_pb(v, p, c, chosen, installed)

    @rpc
    def Add(self, request, context):
        size = len(request.routes) + sum(len(b.prefixes) for b in request.batches)
        with no_gc(size > BULK):
            return self._add(request)

    def _add(self, request):
        routes = [route_from_pb(i, m) for i, m in enumerate(request.routes)]
        for b, batch in enumerate(request.batches):
            routes += routes_from_batch(b, batch)
        with self.engine.lock:
            if request.exist_ok:
                have = self.engine.state.routes
                routes = [r for r in routes if have.get(r.key) != r]
            self.engine.transaction([ch.RouteAdd(tuple(routes))],
                                    f"route add ({len(routes)})" if len(routes) > 1 else
                                    f"route add {routes[0].prefix}" if routes else "")
        return pb.RouteAddResponse(added=len(routes))

    @rpc
    def Delete(self, request, context):
        with self.engine.lock:
            have = self.engine.state.routes
            found: list[Route] = []
            for i, k in enumerate(request.routes):
                vrf = k.vrf or DEFAULT_VRF
                p = _prefix(f"routes[{i}].prefix", k.prefix)
                if k.distance > 255:
                    raise InvalidArgument(f"routes[{i}].distance: {k.distance} out of range "
                                          "1..255")
                if k.distance:
                    r = have.get((vrf, p, k.distance))
                    match = [r] if r else []
                else:
                    match = [r for d in range(1, 256) if (r := have.get((vrf, p, d)))]
                if not match and not request.missing_ok:
                    raise NotFound(f"routes[{i}]: no static route {p} in vrf {vrf}" +
                                   (f" with distance {k.distance}" if k.distance else ""))
                found += match
            self.engine.transaction([ch.RouteDel(tuple(dict.fromkeys(found)))],
                                    f"route delete ({len(found)})")
        return pb.RouteDeleteResponse(deleted=len(found))

    @rpc
    def Lookup(self, request, context):
        vrf = request.vrf or DEFAULT_VRF
        try:
            ip = int(IPv4Address(request.address))
        except ValueError:
            raise InvalidArgument(f"address: {request.address!r} is not an IPv4 address") from None
        resp = pb.RouteLookupResponse()
        with self.engine.lock:
            v = self.engine.vrf(vrf)
            st = self.engine.state
            p = st.rib.lookup(vrf, ip)
            if p is not None:
                c = st.rib.selected(vrf, p)[0]
                resp.route.CopyFrom(self._candidate_pb(vrf, p, c, True, True))
            dp = self.engine.executor.dp
        if dp is not None and self.engine.dataplane_up:
            route, nh = dp.route_lookup(v.id, IPv4Address(ip))
            if route is not None:
                resp.fib_prefix = str(route.prefix)
                resp.fib_nexthop = _nh_text(nh)
        return resp


def _nh_text(nh) -> str:
    if nh is None:
        return ""
    t = nh.type.name.lower() if hasattr(nh.type, "name") else str(nh.type)
    if t == "group":
        return f"ecmp over next hops {', '.join(str(m) for m in nh.members)}"
    if nh.gw is not None:
        return f"{t} {nh.gw} port {nh.port}"
    return f"{t} port {nh.port}" if t == "connected" else t

