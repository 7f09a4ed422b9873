"""`vrouter route ...`: static routes in, the RIB and its next hops out."""

from __future__ import annotations

from ..v1 import route_pb2 as pb
from ..v1 import route_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("route", "routes: the RIB of each VRF and what it installs", rank=30)

PREFIX = arg("prefix", type=w.prefix, metavar="PREFIX")
VRF = w.W("vrf", w.name, metavar="VRF", complete=w.vrfs, help="the VRF (default: default)")


def _api(ctx):
    return ctx.api.stub(pb_grpc.RouteServiceStub)


def _vrf_or_all(text: str) -> str:
    return text if text == "all" else w.name(text)


def _origin(r: pb.Route) -> str:
    if r.source == pb.ROUTE_SOURCE_LEARNED and r.origin:
        return r.origin
    return out.short_enum(pb.RouteSource, r.source)


def next_hops(r: pb.Route) -> list[str]:
    """One line per next hop, as `ip route` would say it."""
    if r.action != pb.ROUTE_ACTION_FORWARD:
        return [out.short_enum(pb.RouteAction, r.action)]
    hops = [f"via {h.gateway} dev {h.interface}" if h.gateway else f"dev {h.interface}"
            for h in r.nexthops]
    hops = [h + (f" vrf {n.vrf}" if n.vrf else "") for h, n in zip(hops, r.nexthops)]
    via = ",".join(r.via) + (f" via-vrf {r.via_vrf}" if r.via_vrf else "")
    if r.via and not r.nexthops:
        return [f"via {via} (unresolved)"]
    if r.via and sorted(r.via) != sorted({h.gateway for h in r.nexthops}):
        return [f"via {via} (recursive)", *(f"  {h}" for h in hops)]
    return hops or ["-"]


@command("route show", "list routes: the selected ones, or every candidate",
         arg("-a", "--all-candidates", action="store_true",
             help="also the routes not selected (higher distance)"),
         words=w.Words(w.W("vrf", _vrf_or_all, metavar="VRF|all",
                           complete=lambda *a, **k: ["all", *w.vrfs(*a, **k)],
                           help="this VRF's (default: default), or all"),
                       w.W(None, w.prefix, dest="within", metavar="PREFIX",
                           help="only this prefix and the more specific ones")))
def show(ctx, a):
    vrf = "" if a.vrf == "all" else a.vrf or "default"
    routes = list(_api(ctx).List(pb.RouteListRequest(vrf=vrf, prefix=a.within or "",
                                                     selected_only=not a.all_candidates)))
    if ctx.json:
        return out.emit_json([out.to_dict(r) for r in routes])
    rows = []
    for r in routes:
        flags = (">" if r.selected else " ") + ("*" if r.installed else " ")
        dist = f"{r.distance}/{r.metric}" if r.source in (pb.ROUTE_SOURCE_STATIC,
                                                          pb.ROUTE_SOURCE_LEARNED) else ""
        hops = next_hops(r)
        rows.append([r.vrf, flags, r.prefix, _origin(r), dist, hops[0]])
        rows += [["", "", "", "", "", h] for h in hops[1:]]
    if vrf:
        rows = [r[1:] for r in rows]
    out.table((["VRF"] if not vrf else []) + ["  ", "PREFIX", "PROTO", "DIST/MET", "NEXT HOP"],
              rows, empty=f"no routes{'' if not vrf else f' in vrf {vrf}'}")
    if rows:
        print("(> selected, * installed in the FIB)")


def _one_action(v: dict) -> None:
    if bool(v["via"]) == (v["action"] is not None):
        raise w.UsageError("give `via GW[,GW...]`, or `blackhole` or `reject`"
                           + (" (not both)" if v["via"] else ""))
    if v["via_vrf"] and not v["via"]:
        raise w.UsageError("via-vrf goes with via")


ROUTE_WORDS = w.Words(
    w.W("via", w.gateways, metavar="GW[,GW...]", multi=True,
        help="gateways (several: ECMP)"),
    w.W("via-vrf", w.name, metavar="VRF", complete=w.vrfs,
        help="resolve the gateways in this VRF (leaking)"),
    VRF,
    w.W("distance", w.uint(1, 255), metavar="N", help="administrative distance (default 1)"),
    w.W("metric", w.uint(0, 2**32 - 1), metavar="N", help="(default 0)"),
    w.flag("blackhole", "action", pb.ROUTE_ACTION_BLACKHOLE, help="drop silently"),
    w.flag("reject", "action", pb.ROUTE_ACTION_REJECT, help="drop, ICMP unreachable"),
    check=_one_action)


@command("route add", "add a static route: via gateways, or blackhole|reject", PREFIX,
         words=ROUTE_WORDS)
def add(ctx, a):
    resp = _api(ctx).Add(pb.RouteAddRequest(routes=[pb.Route(
        vrf=a.vrf or "", prefix=a.prefix, via=a.via, via_vrf=a.via_vrf or "",
        action=a.action or pb.ROUTE_ACTION_FORWARD, distance=a.distance or 0,
        metric=a.metric or 0)]))
    if ctx.json:
        out.emit_json(out.to_dict(resp))


@command("route del", "delete a static route (all its distances, unless one is given)", PREFIX,
         words=w.Words(VRF, w.W("distance", w.uint(1, 255), metavar="N",
                                help="only the route with this distance")))
def delete(ctx, a):
    resp = _api(ctx).Delete(pb.RouteDeleteRequest(routes=[pb.RouteKey(
        vrf=a.vrf or "", prefix=a.prefix, distance=a.distance or 0)]))
    if ctx.json:
        out.emit_json(out.to_dict(resp))


@command("route lookup", "the route an address takes (RIB and dataplane FIB)",
         arg("address", type=w.ipv4, metavar="ADDR"), words=w.Words(VRF))
def lookup(ctx, a):
    vrf = a.vrf or "default"
    resp = _api(ctx).Lookup(pb.RouteLookupRequest(vrf=vrf, address=a.address))
    if ctx.json:
        return out.emit_json(out.to_dict(resp))
    if not resp.HasField("route") and not resp.fib_prefix:
        return print(f"{a.address}: no route in vrf {vrf}")
    r = resp.route
    out.kv([("address", f"{a.address} (vrf {vrf})"),
            ("route", f"{r.prefix} {_origin(r)} " + "; ".join(h.strip() for h in next_hops(r))
             if resp.HasField("route") else "none"),
            ("fib", f"{resp.fib_prefix} {resp.fib_nexthop}" if resp.fib_prefix else "no match")])
