"""Changes to the running state: the unit of every transaction.

A commit, a rollback or a single API call is a list of these, applied in
order, all or nothing. Each has an exact inverse, which is how a failed
transaction is undone and how rollback works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from ..config.model import (ArpSettings, DataplaneConfig, IcmpSettings, Interface, NatRule,
                            NatTimeouts, Neighbor, PuntSettings, Route, Vrf)


@dataclass(frozen=True)
class VrfAdd:
    vrf: Vrf


@dataclass(frozen=True)
class VrfDel:
    vrf: Vrf


@dataclass(frozen=True)
class InterfaceAdd:
    interface: Interface


@dataclass(frozen=True)
class InterfaceDel:
    interface: Interface


@dataclass(frozen=True)
class InterfaceUpdate:
    old: Interface
    new: Interface


@dataclass(frozen=True)
class RouteAdd:
    """Routes added together (a config, or one bulk API call)."""

    routes: tuple[Route, ...]


@dataclass(frozen=True)
class RouteDel:
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class NeighborAdd:
    neighbor: Neighbor


@dataclass(frozen=True)
class NeighborDel:
    neighbor: Neighbor


@dataclass(frozen=True)
class NatAdd:
    rule: NatRule


@dataclass(frozen=True)
class NatDel:
    rule: NatRule


@dataclass(frozen=True)
class LearnedSet:
    """Routes a routing daemon put in (adds) or took out of (dels) a VRF's
    control namespace: RIB state, not configuration."""

    vrf: str
    adds: tuple  # (Prefix, rib.Candidate) pairs
    dels: tuple


@dataclass(frozen=True)
class LiveParams:
    """The dataplane settings that apply without a restart."""

    arp: ArpSettings
    icmp: IcmpSettings
    idle_sleep_us: int
    nat: NatTimeouts = NatTimeouts()
    punt: PuntSettings = PuntSettings()

    @classmethod
    def of(cls, d: DataplaneConfig, nat: NatTimeouts = NatTimeouts()) -> LiveParams:
        return cls(d.arp, d.icmp, d.idle_sleep_us, nat, d.punt)


@dataclass(frozen=True)
class ParamsSet:
    old: LiveParams
    new: LiveParams


Change = Union[VrfAdd, VrfDel, InterfaceAdd, InterfaceDel, InterfaceUpdate, RouteAdd, RouteDel,
               NeighborAdd, NeighborDel, NatAdd, NatDel, ParamsSet, LearnedSet]


def inverse(c: Change) -> Change:
    match c:
        case VrfAdd(v):
            return VrfDel(v)
        case VrfDel(v):
            return VrfAdd(v)
        case InterfaceAdd(i):
            return InterfaceDel(i)
        case InterfaceDel(i):
            return InterfaceAdd(i)
        case InterfaceUpdate(old, new):
            return InterfaceUpdate(new, old)
        case RouteAdd(r):
            return RouteDel(r)
        case RouteDel(r):
            return RouteAdd(r)
        case NeighborAdd(n):
            return NeighborDel(n)
        case NeighborDel(n):
            return NeighborAdd(n)
        case NatAdd(r):
            return NatDel(r)
        case NatDel(r):
            return NatAdd(r)
        case ParamsSet(old, new):
            return ParamsSet(new, old)
        case LearnedSet(vrf, adds, dels):
            return LearnedSet(vrf, dels, adds)
    raise TypeError(f"not a change: {c!r}")


def describe(c: Change) -> str:
    """A line per object changed, as `config diff` shows them."""
    match c:
        case VrfAdd(v):
            return f"+ vrf {v.name} id {v.id}"
        case VrfDel(v):
            return f"- vrf {v.name} id {v.id}"
        case InterfaceAdd(i):
            return f"+ interface {i.name} {i.device} vrf {i.vrf} mtu {i.mtu}" + \
                "".join(f" {a}" for a in i.addresses)
        case InterfaceDel(i):
            return f"- interface {i.name}"
        case InterfaceUpdate(old, new):
            parts = []
            for f in ("vrf", "mac", "mtu", "up", "rxd", "txd"):
                if getattr(old, f) != getattr(new, f):
                    parts.append(f"{f} {getattr(old, f)} -> {getattr(new, f)}")
            for a in new.addresses:
                if a not in old.addresses:
                    parts.append(f"+address {a}")
            for a in old.addresses:
                if a not in new.addresses:
                    parts.append(f"-address {a}")
            return f"~ interface {new.name}: " + ", ".join(parts)
        case RouteAdd(rs):
            return "\n".join(f"+ route {route_text(r)}" for r in rs)
        case RouteDel(rs):
            return "\n".join(f"- route {route_text(r)}" for r in rs)
        case NeighborAdd(n):
            return f"+ neighbor {n.ip} {n.mac} on {n.interface}"
        case NeighborDel(n):
            return f"- neighbor {n.ip} {n.mac} on {n.interface}"
        case LearnedSet(vrf, adds, dels):
            return "\n".join([f"+ learned {p} ({c.origin}) vrf {vrf}" for p, c in adds] +
                             [f"- learned {p} ({c.origin}) vrf {vrf}" for p, c in dels])
        case NatAdd(r):
            return f"+ nat {nat_text(r)}"
        case NatDel(r):
            return f"- nat {nat_text(r)}"
        case ParamsSet(old, new):
            parts = [f"{k} {a} -> {b}" for (k, a), (_, b) in zip(_leaves(old), _leaves(new))
                     if a != b]
            return "~ dataplane: " + ", ".join(parts)
    raise TypeError(f"not a change: {c!r}")


def _leaves(p: LiveParams) -> list[tuple[str, int]]:
    return [*((f"arp.{k}", v) for k, v in vars(p.arp).items()),
            *((f"icmp.{k}", v) for k, v in vars(p.icmp).items()),
            ("idle_sleep_us", p.idle_sleep_us),
            *((f"punt.{k}", v) for k, v in vars(p.punt).items()),
            *((f"nat.timeouts.{k}", v) for k, v in vars(p.nat).items())]


def nat_text(r: NatRule) -> str:
    if r.kind == "snat":
        to = "masquerade" if r.masquerade else "pool " + ",".join(map(str, r.pool))
        return (f"source {r.match} out {r.interface} -> {to} ports {r.ports[0]}-{r.ports[1]} "
                f"vrf {r.vrf}")
    if r.kind == "dnat":
        return (f"forward {r.proto} {r.external}:{r.external_port} -> "
                f"{r.internal}:{r.internal_port} vrf {r.vrf}")
    return f"static {r.external} <-> {r.internal} vrf {r.vrf}"


def route_text(r: Route) -> str:
    if r.blackhole:
        target = "blackhole"
    elif r.reject:
        target = "reject"
    else:
        target = "via " + ",".join(str(g) for g in r.via)
        if r.via_vrf:
            target += f" (vrf {r.via_vrf})"
    extra = f" distance {r.distance}" if r.distance != 1 else ""
    extra += f" metric {r.metric}" if r.metric else ""
    return f"{r.prefix} {target} vrf {r.vrf}{extra}"
