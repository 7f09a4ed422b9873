"""InterfaceService: router interfaces (DPDK ports) and their addresses."""

from __future__ import annotations

from dataclasses import replace

from ..config.model import Interface
from ..core import changes as ch
from ..core.errors import AlreadyExists, InvalidArgument, NotFound
from ..dataplane.messages import VR_DEVARGS_LEN
from ..v1 import interface_pb2 as pb
from ..v1 import interface_pb2_grpc as pb_grpc
from . import register
from .base import check_mac, check_name, parse_iface_addr, rpc


def to_pb(itf: Interface, live=None) -> pb.Interface:
    m = pb.Interface(name=itf.name, device=itf.device, vrf=itf.vrf, mac=itf.mac or "",
                     mtu=itf.mtu, up=itf.up, addresses=[str(a) for a in itf.addresses],
                     rxd=itf.rxd, txd=itf.txd)
    if live is not None:
        m.link_up, m.link_speed_mbps, m.driver, m.port_id = (
            live.link_up, live.link_speed, live.driver, live.port)
        if not itf.mac:
            m.mac = live.mac
    return m


def check_device(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(f"{field}: empty (DPDK devargs or a PCI address)")
    if not value.isascii() or not value.isprintable() or " " in value:
        raise InvalidArgument(f"{field}: {value[:64]!r} is not DPDK devargs (printable ASCII, "
                              "no spaces)")
    if len(value) >= VR_DEVARGS_LEN:
        raise InvalidArgument(f"{field}: {len(value)} characters, at most "
                              f"{VR_DEVARGS_LEN - 1}")
    return value


def from_pb(m: pb.Interface) -> Interface:
    name = check_name("interface.name", m.name)
    device = check_device("interface.device", m.device)
    if m.mtu and not 68 <= m.mtu <= 9600:
        raise InvalidArgument(f"interface.mtu: {m.mtu} out of range 68..9600")
    for f in ("rxd", "txd"):
        if getattr(m, f) > 65535:
            raise InvalidArgument(f"interface.{f}: {getattr(m, f)} out of range 0..65535")
    return Interface(name=name, device=device, vrf=m.vrf or "default",
                     mac=check_mac("interface.mac", m.mac) if m.mac else None,
                     mtu=m.mtu or 1500, up=m.up if m.HasField("up") else True,
                     rxd=m.rxd, txd=m.txd,
                     addresses=tuple(parse_iface_addr(f"interface.addresses[{i}]", a)
                                     for i, a in enumerate(m.addresses)))


@register(pb_grpc.add_InterfaceServiceServicer_to_server)
class InterfaceService(pb_grpc.InterfaceServiceServicer):
    def __init__(self, app) -> None:
        self.app = app
        self.engine = app.engine

    def _live(self) -> dict:
        dp = self.engine.executor.dp
        if dp is None or not self.engine.dataplane_up:
            return {}
        return {p.name: p for p in dp.port_list()}

    def _get(self, name: str) -> Interface:
        if not name:
            raise InvalidArgument("name: empty (which interface?)")
        try:
            return self.engine.state.interfaces[name]
        except KeyError:
            raise NotFound(f"interface {name} does not exist") from None

    @rpc
    def List(self, request, context):
        live = self._live()
        with self.engine.lock:
            itfs = list(self.engine.state.interfaces.values())
        return pb.InterfaceListResponse(interfaces=[to_pb(i, live.get(i.name)) for i in itfs])

    @rpc
    def Get(self, request, context):
        return to_pb(self._get(request.name), self._live().get(request.name))

    @rpc
    def Add(self, request, context):
        itf = from_pb(request.interface)
        with self.engine.lock:
            cur = self.engine.state.interfaces.get(itf.name)
            if cur is not None and request.exist_ok and cur == itf:
                return pb.InterfaceAddResponse(interface=to_pb(cur))
            self.engine.transaction([ch.InterfaceAdd(itf)], f"interface add {itf.name}")
        return pb.InterfaceAddResponse(interface=to_pb(itf, self._live().get(itf.name)))

    @rpc
    def Delete(self, request, context):
        with self.engine.lock:
            cur = self.engine.state.interfaces.get(request.name)
            if cur is None:
                if request.missing_ok:
                    return pb.InterfaceDeleteResponse()
                raise NotFound(f"interface {request.name} does not exist")
            self.engine.transaction([ch.InterfaceDel(cur)], f"interface delete {cur.name}")
        return pb.InterfaceDeleteResponse()

    def _update(self, name: str, comment: str, **fields) -> Interface:
        with self.engine.lock:
            cur = self._get(name)
            new = replace(cur, **fields)
            if new != cur:
                self.engine.transaction([ch.InterfaceUpdate(cur, new)], comment)
            return new

    @rpc
    def Set(self, request, context):
        fields = {}
        if request.HasField("mtu"):
            if not 68 <= request.mtu <= 9600:
                raise InvalidArgument(f"mtu: {request.mtu} out of range 68..9600")
            fields["mtu"] = request.mtu
        if request.HasField("up"):
            fields["up"] = request.up
        if request.HasField("mac"):
            fields["mac"] = check_mac("mac", request.mac)
        if request.HasField("vrf"):
            fields["vrf"] = request.vrf
        new = self._update(request.name, f"interface set {request.name}", **fields)
        return pb.InterfaceSetResponse(interface=to_pb(new, self._live().get(new.name)))

    @rpc
    def AddAddress(self, request, context):
        a = parse_iface_addr("address", request.address)
        with self.engine.lock:
            cur = self._get(request.interface)
            if a in cur.addresses:
                if request.exist_ok:
                    return pb.AddressResponse()
                raise AlreadyExists(f"address {a} is already on interface {cur.name}")
            self._update(cur.name, f"address add {a} {cur.name}",
                         addresses=cur.addresses + (a,))
        return pb.AddressResponse()

    @rpc
    def DeleteAddress(self, request, context):
        a = parse_iface_addr("address", request.address)
        with self.engine.lock:
            cur = self._get(request.interface)
            if a not in cur.addresses:
                if request.missing_ok:
                    return pb.AddressResponse()
                raise NotFound(f"address {a} is not on interface {cur.name}")
            self._update(cur.name, f"address delete {a} {cur.name}",
                         addresses=tuple(x for x in cur.addresses if x != a))
        return pb.AddressResponse()
