"""`vrouter arp ...` (also `neighbor`): the dataplane's ARP table."""

from __future__ import annotations

from ..v1 import neighbor_pb2 as pb
from ..v1 import neighbor_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("arp", "the neighbour (ARP) table", aliases=("neighbor", "neigh"), rank=40)

IP = arg("ip", type=w.ipv4, metavar="IP")
DEV = w.W("dev", w.name, metavar="NAME", required=True, complete=w.interfaces,
          help="the interface")


def _api(ctx):
    return ctx.api.stub(pb_grpc.NeighborServiceStub)


def _age(n: pb.Neighbor) -> str:
    if n.state == pb.NEIGHBOR_STATE_PERMANENT:
        return "-"
    return f"{n.age_ms / 1000:.1f}s"


@command("arp show", "list the neighbours (learned and static)",
         words=w.Words(w.W("dev", w.name, metavar="NAME", complete=w.interfaces,
                           help="only this interface's"),
                       w.W("vrf", w.name, metavar="VRF", complete=w.vrfs,
                           help="only this VRF's")))
def show(ctx, a):
    ns = _api(ctx).List(pb.NeighborListRequest(interface=a.dev or "", vrf=a.vrf or "")).neighbors
    if ctx.json:
        return out.emit_json([out.to_dict(n) for n in ns])
    out.table(["IP", "MAC", "DEV", "VRF", "STATE", "AGE", "HELD"],
              [(n.ip, n.mac or "-", n.interface, n.vrf,
                out.short_enum(pb.NeighborState, n.state), _age(n), n.held_packets or "")
               for n in ns], empty="no neighbours")


@command("arp add", "add a static (permanent) entry", IP,
         arg("mac", type=w.mac, metavar="MAC"), words=w.Words(DEV))
def add(ctx, a):
    _api(ctx).Add(pb.NeighborAddRequest(neighbor=pb.Neighbor(interface=a.dev, ip=a.ip,
                                                              mac=a.mac)))
    if ctx.json:
        out.emit_json({})


@command("arp del", "delete a static entry, or flush a learned one", IP, words=w.Words(DEV))
def delete(ctx, a):
    _api(ctx).Delete(pb.NeighborDeleteRequest(interface=a.dev, ip=a.ip))
    if ctx.json:
        out.emit_json({})
