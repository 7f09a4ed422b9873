"""Dataplane operations and the executor that runs them with an undo journal.

The state and the RIB turn changes into these small operations; each has an
exact inverse. The executor batches route operations into bulk control
messages and, if the dataplane refuses one, undoes everything it did in this
transaction, so the dataplane is left exactly as it was.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface
from itertools import groupby, repeat

from ..config.model import Interface, NatRule, Prefix
from ..dataplane.client import DataplaneClient, DataplaneError
from ..dataplane.messages import NatType, NhType
from ..dataplane.types import NatRule as DpNatRule
from .errors import DataplaneRejected, ResourceExhausted

log = logging.getLogger("vrouter.ops")


@dataclass(frozen=True)
class VrfOp:
    add: bool
    vrf_id: int
    max_routes: int = 0
    num_tbl8: int = 0


@dataclass(frozen=True)
class PortOp:
    add: bool
    interface: Interface  # addresses are separate AddrOps
    vrf_id: int           # the interface's VRF when the op was made


@dataclass(frozen=True)
class PortSetOp:
    name: str
    old: dict  # field -> value: mtu, admin_up, mac, vrf_id
    new: dict


@dataclass(frozen=True)
class AddrOp:
    add: bool
    interface: str
    address: IPv4Interface


@dataclass(frozen=True)
class NeighOp:
    add: bool
    interface: str
    ip: IPv4Address
    mac: str


@dataclass(frozen=True)
class NhOp:
    add: bool
    nh_id: int
    type: NhType
    interface: str = ""
    gw: IPv4Address | None = None
    members: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RouteOp:
    """Sets prefix -> nh in a VRF's FIB: add (old 0), replace, or delete (new 0)."""

    vrf_id: int
    prefix: Prefix
    new: int
    old: int

    @property
    def kind(self) -> str:
        return "add" if not self.old else ("del" if not self.new else "replace")


@dataclass(frozen=True)
class RouteBulkOp:
    """Many fresh prefixes to one next hop (add), or their removal: one object
    for what a bulk load does to a million routes."""

    vrf_id: int
    prefixes: list[Prefix]
    nh: int
    add: bool


@dataclass(frozen=True)
class ParamsOp:
    old: dict  # VR_PARAM fields, as DataplaneClient.params_set() takes them
    new: dict
    nat_old: dict = field(default_factory=dict)  # NAT timeouts (nat_params_set)
    nat_new: dict = field(default_factory=dict)


@dataclass(frozen=True)
class NatOp:
    add: bool
    rule: NatRule
    rule_id: int
    vrf_id: int


Op = (VrfOp | PortOp | PortSetOp | AddrOp | NeighOp | NhOp | RouteOp | RouteBulkOp | ParamsOp
      | NatOp)
ROUTE_OPS = (RouteOp, RouteBulkOp)


def inverse(op: Op) -> Op:
    match op:
        case VrfOp():
            return VrfOp(not op.add, op.vrf_id, op.max_routes, op.num_tbl8)
        case PortOp():
            return PortOp(not op.add, op.interface, op.vrf_id)
        case PortSetOp():
            return PortSetOp(op.name, op.new, op.old)
        case AddrOp():
            return AddrOp(not op.add, op.interface, op.address)
        case NeighOp():
            return NeighOp(not op.add, op.interface, op.ip, op.mac)
        case NhOp():
            return NhOp(not op.add, op.nh_id, op.type, op.interface, op.gw, op.members)
        case RouteOp():
            return RouteOp(op.vrf_id, op.prefix, op.old, op.new)
        case RouteBulkOp():
            return RouteBulkOp(op.vrf_id, op.prefixes, op.nh, not op.add)
        case ParamsOp():
            return ParamsOp(op.new, op.old, op.nat_new, op.nat_old)
        case NatOp():
            return NatOp(not op.add, op.rule, op.rule_id, op.vrf_id)
    raise TypeError(op)


@dataclass
class Executor:
    """Runs operations against one dataplane connection."""

    dp: DataplaneClient | None = None
    vrf_ids: dict[str, int] = field(default_factory=dict)  # set by the state
    ports: dict[str, int] = field(default_factory=dict)    # interface -> port id
    journal: list[Op] = field(default_factory=list)

    def begin(self) -> None:
        self.journal = []

    def run(self, ops: list[Op]) -> None:
        """Runs ops in order; raises DataplaneRejected on the first refusal
        (what ran is in the journal, see rollback())."""
        for is_route, group in groupby(ops, key=lambda o: isinstance(o, ROUTE_OPS)):
            if is_route:
                self._routes(list(group))
            else:
                for op in group:
                    self._one(op)
                    self.journal.append(op)

    def rollback(self) -> None:
        """Undoes the journal, newest first. A failure here means the
        dataplane and the state disagree: logged, and the caller resyncs."""
        undo = [inverse(op) for op in reversed(self.journal)]
        self.journal = []
        try:
            self.run(undo)
        finally:
            self.journal = []

    def _port(self, name: str) -> int:
        return self.ports[name]

    def _nat_rule(self, op: NatOp) -> DpNatRule:
        r = op.rule
        proto = {"tcp": 6, "udp": 17}.get(r.proto or "", 0)
        return DpNatRule(
            id=op.rule_id, type={"snat": NatType.SNAT, "dnat": NatType.DNAT,
                                 "static": NatType.STATIC}[r.kind],
            vrf=op.vrf_id, proto=proto,
            out_port=self._port(r.interface) if r.interface else 0, masquerade=r.masquerade,
            pool=r.pool, match=r.match, port_lo=r.ports[0] if r.kind == "snat" else 0,
            port_hi=r.ports[1] if r.kind == "snat" else 0, ext_ip=r.external,
            ext_port=r.external_port, int_ip=r.internal, int_port=r.internal_port)

    def _one(self, op: Op) -> None:
        dp = self.dp
        assert dp is not None
        try:
            match op:
                case VrfOp(add=True):
                    dp.vrf_add(op.vrf_id, op.max_routes, op.num_tbl8)
                case VrfOp(add=False):
                    dp.vrf_del(op.vrf_id)
                case PortOp(add=True, interface=i):
                    self.ports[i.name] = dp.port_add(
                        i.name, i.device, vrf=op.vrf_id, mtu=i.mtu, rxd=i.rxd,
                        txd=i.txd, mac=i.mac, admin_up=i.up)
                case PortOp(add=False, interface=i):
                    dp.port_del(self.ports.pop(i.name))
                case PortSetOp():
                    dp.port_set(self._port(op.name), **op.new)
                case AddrOp(add=True):
                    dp.addr_add(self._port(op.interface), op.address)
                case AddrOp(add=False):
                    dp.addr_del(self._port(op.interface), op.address)
                case NeighOp(add=True):
                    dp.neigh_add(self._port(op.interface), op.ip, op.mac)
                case NeighOp(add=False):
                    dp.neigh_del(self._port(op.interface), op.ip)
                case NhOp(add=True):
                    dp.nh_add(op.nh_id, op.type, port=self._port(op.interface) if op.interface
                              else 0, gw=op.gw, members=op.members)
                case NhOp(add=False):
                    dp.nh_del(op.nh_id)
                case ParamsOp():
                    if op.new != op.old:
                        dp.params_set(**op.new)
                    if op.nat_new != op.nat_old:
                        dp.nat_params_set(**op.nat_new)
                case NatOp(add=True):
                    dp.nat_rule_add(self._nat_rule(op))
                case NatOp(add=False):
                    dp.nat_rule_del(op.rule_id)
                case _:
                    raise TypeError(op)
        except DataplaneError as e:
            raise _refused(e, f"dataplane refused {_op_text(op)}: {e.msg}") from e

    def _routes(self, ops: list[RouteOp | RouteBulkOp]) -> None:
        for (vrf_id, kind), group in groupby(ops, key=_route_kind):
            batch = list(group)
            if isinstance(batch[0], RouteBulkOp):
                for op in batch:
                    pairs = zip(op.prefixes, repeat(op.nh))
                    self._route_call(vrf_id, kind, pairs, [op],
                                     lambda k, op=op: [RouteBulkOp(vrf_id, op.prefixes[:k],
                                                                   op.nh, op.add)])
            else:
                pairs = ((o.prefix, o.new) for o in batch)
                self._route_call(vrf_id, kind, pairs, batch, lambda k, b=batch: b[:k])

    def _route_call(self, vrf_id: int, kind: str, pairs, done: list[Op], partial) -> None:
        """One bulk call; on refusal the journal gets what the dataplane applied
        (it applies whole messages, `applied` counts them)."""
        dp = self.dp
        assert dp is not None
        try:
            if kind.endswith("del"):
                dp.route_del(vrf_id, (p for p, _ in pairs))
            else:
                dp.route_add(vrf_id, pairs, replace=kind == "replace")
        except DataplaneError as e:
            self.journal.extend(partial(e.applied or 0))
            raise _refused(e, f"dataplane refused routes in vrf id {vrf_id}: {e.msg}") from e
        self.journal.extend(done)


def _refused(e: DataplaneError, msg: str) -> DataplaneRejected:
    if e.errno in (errno.ENOMEM, errno.ENOSPC):
        return ResourceExhausted(msg)
    return DataplaneRejected(msg)


def _route_kind(o: RouteOp | RouteBulkOp) -> tuple[int, str]:
    if isinstance(o, RouteBulkOp):
        return (o.vrf_id, "bulk_add" if o.add else "bulk_del")
    return (o.vrf_id, o.kind)


def _op_text(op: Op) -> str:
    match op:
        case VrfOp():
            return f"{'adding' if op.add else 'removing'} vrf id {op.vrf_id}"
        case PortOp():
            return f"{'adding' if op.add else 'removing'} interface {op.interface.name} " \
                   f"({op.interface.device})"
        case PortSetOp():
            return f"changing interface {op.name} ({op.new})"
        case AddrOp():
            return f"{'adding' if op.add else 'removing'} address {op.address} on {op.interface}"
        case NeighOp():
            return f"{'adding' if op.add else 'removing'} neighbor {op.ip} on {op.interface}"
        case NhOp():
            return f"{'adding' if op.add else 'removing'} next hop {op.nh_id}"
        case ParamsOp():
            return f"setting {op.new}"
        case NatOp():
            return f"{'adding' if op.add else 'removing'} NAT rule {op.rule_id}"
    return repr(op)
