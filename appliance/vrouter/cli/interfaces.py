"""`vrouter interface ...` and `vrouter address ...` (also `interface address`)."""

from __future__ import annotations

from ..v1 import interface_pb2 as pb
from ..v1 import interface_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("interface", "router interfaces (DPDK ports)", aliases=("iface", "link"), rank=10)
group("address", "IPv4 addresses of interfaces (also: interface address)", aliases=("addr",),
      rank=11)
group("interface address", "IPv4 addresses of interfaces", aliases=("addr",))

NAME = arg("name", type=w.name, metavar="NAME", complete=w.interfaces)
DEV = w.W("dev", w.name, metavar="NAME", required=True, complete=w.interfaces,
          help="the interface")
VRF = w.W("vrf", w.name, metavar="VRF", complete=w.vrfs, help="its VRF (default: default)")
MTU = w.W("mtu", w.uint(68, 9600), metavar="N", help="68..9600 (default 1500)")
MAC = w.W("mac", w.mac, metavar="MAC", help="e.g. 02:00:00:00:00:01 (default: the device's)")
UP = w.flag("up", "up", True, help="administratively up (the default for add)")
DOWN = w.flag("down", "up", False, help="administratively down")


def _api(ctx):
    return ctx.api.stub(pb_grpc.InterfaceServiceStub)


def _state(i: pb.Interface) -> tuple[str, str]:
    return ("up" if i.up else "down"), ("up" if i.link_up else "down")


@command("interface show", "list the interfaces, or show one",
         arg("name", type=w.name, nargs="?", metavar="NAME", complete=w.interfaces))
def show(ctx, a):
    if a.name:
        i = _api(ctx).Get(pb.InterfaceGetRequest(name=a.name))
        if ctx.json:
            return out.emit_json(out.to_dict(i))
        admin, link = _state(i)
        speed = f", {i.link_speed_mbps} Mb/s" if i.link_up and i.link_speed_mbps else ""
        return out.kv([
            ("name", i.name), ("device", i.device), ("driver", f"{i.driver} (port {i.port_id})"
                                                      if i.driver else ""),
            ("vrf", i.vrf), ("admin", admin), ("link", link + speed), ("mtu", i.mtu),
            ("mac", i.mac), ("addresses", " ".join(i.addresses) or "-"),
            ("descriptors", f"rx {i.rxd or 'default'}, tx {i.txd or 'default'}")])
    itfs = _api(ctx).List(pb.InterfaceListRequest()).interfaces
    if ctx.json:
        return out.emit_json([out.to_dict(i) for i in itfs])
    out.table(["NAME", "VRF", "ADMIN", "LINK", "MTU", "MAC", "ADDRESSES", "DEVICE"],
              [(i.name, i.vrf, *_state(i), i.mtu, i.mac, " ".join(i.addresses) or "-", i.device)
               for i in itfs], empty="no interfaces")


@command("interface add", "add an interface", NAME, words=w.Words(
    w.W("device", str, metavar="DEVARGS", required=True,
        help="DPDK devargs (net_af_packet0,iface=eth1) or a PCI address"),
    VRF, MTU, MAC, w.W("address", w.ifaddr, metavar="ADDR/LEN", multi=True,
                       help="an IPv4 address (repeatable)"),
    w.W("rxd", w.uint(0, 65535), metavar="N", help="rx descriptors (default: the driver's)"),
    w.W("txd", w.uint(0, 65535), metavar="N", help="tx descriptors"), UP, DOWN))
def add(ctx, a):
    itf = pb.Interface(name=a.name, device=a.device, vrf=a.vrf or "", mtu=a.mtu or 0,
                       mac=a.mac or "", addresses=a.address, rxd=a.rxd or 0, txd=a.txd or 0)
    if a.up is not None:
        itf.up = a.up
    resp = _api(ctx).Add(pb.InterfaceAddRequest(interface=itf))
    if ctx.json:
        out.emit_json(out.to_dict(resp.interface))


@command("interface del", "delete an interface", NAME)
def delete(ctx, a):
    _api(ctx).Delete(pb.InterfaceDeleteRequest(name=a.name))
    if ctx.json:
        out.emit_json({})


def _something(v: dict) -> None:
    if all(x is None for x in v.values()):
        raise w.UsageError("nothing to change (mtu N, up|down, mac MAC, vrf VRF)")


@command("interface set", "change an interface", NAME,
         words=w.Words(MTU, UP, DOWN, MAC, w.W("vrf", w.name, metavar="VRF", complete=w.vrfs,
                                                help="move it to this VRF"),
                       check=_something))
def set_(ctx, a):
    req = pb.InterfaceSetRequest(name=a.name)
    for field in ("mtu", "up", "mac", "vrf"):
        if getattr(a, field) is not None:
            setattr(req, field, getattr(a, field))
    resp = _api(ctx).Set(req)
    if ctx.json:
        out.emit_json(out.to_dict(resp.interface))


# ---- addresses ----

ADDR = arg("address", type=w.ifaddr, metavar="ADDR/LEN")


@command(("address show", "interface address show"), "list the addresses",
         words=w.Words(w.W("dev", w.name, metavar="NAME", complete=w.interfaces,
                           help="only this interface's")))
def address_show(ctx, a):
    if a.dev:
        itfs = [_api(ctx).Get(pb.InterfaceGetRequest(name=a.dev))]
    else:
        itfs = _api(ctx).List(pb.InterfaceListRequest()).interfaces
    rows = [(addr, i.name, i.vrf) for i in itfs for addr in i.addresses]
    if ctx.json:
        return out.emit_json([dict(zip(("address", "interface", "vrf"), r)) for r in rows])
    out.table(["ADDRESS", "DEV", "VRF"], rows, empty="no addresses")


@command(("address add", "interface address add"), "add an address to an interface", ADDR,
         words=w.Words(DEV))
def address_add(ctx, a):
    _api(ctx).AddAddress(pb.AddressRequest(interface=a.dev, address=a.address))
    if ctx.json:
        out.emit_json({})


@command(("address del", "interface address del"), "remove an address from an interface", ADDR,
         words=w.Words(DEV))
def address_del(ctx, a):
    _api(ctx).DeleteAddress(pb.AddressRequest(interface=a.dev, address=a.address))
    if ctx.json:
        out.emit_json({})
