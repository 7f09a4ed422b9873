"""NeighborService: the dataplane's ARP table, and static entries."""

from __future__ import annotations

from ipaddress import IPv4Address

from ..config.model import Neighbor
from ..core import changes as ch
from ..core.errors import NotFound, Unavailable
from ..dataplane.messages import NeighState
from ..v1 import neighbor_pb2 as pb
from ..v1 import neighbor_pb2_grpc as pb_grpc
from . import register
from .base import check_mac, parse_ip, rpc

STATES = {NeighState.INCOMPLETE: pb.NEIGHBOR_STATE_INCOMPLETE,
          NeighState.REACHABLE: pb.NEIGHBOR_STATE_REACHABLE,
          NeighState.PROBE: pb.NEIGHBOR_STATE_PROBE,
          NeighState.PERMANENT: pb.NEIGHBOR_STATE_PERMANENT}


@register(pb_grpc.add_NeighborServiceServicer_to_server)
class NeighborService(pb_grpc.NeighborServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine

    def _dp(self):
        dp = self.engine.executor.dp
        if dp is None or not self.engine.dataplane_up:
            raise Unavailable("the dataplane is down (restarting); try again shortly")
        return dp

    @rpc
    def List(self, request, context):
        dp = self._dp()
        with self.engine.lock:
            names = {pid: name for name, pid in self.engine.executor.ports.items()}
            itfs = dict(self.engine.state.interfaces)
            if request.vrf:
                self.engine.vrf(request.vrf)
        if request.interface and request.interface not in itfs:
            raise NotFound(f"interface {request.interface} does not exist")
        out = []
        for n in dp.neigh_list():
            name = names.get(n.port, str(n.port))
            vrf = itfs[name].vrf if name in itfs else ""
            if request.interface and name != request.interface:
                continue
            if request.vrf and vrf != request.vrf:
                continue
            out.append(pb.Neighbor(interface=name, ip=str(n.ip), mac=n.mac,
                                   state=STATES.get(n.state, 0), age_ms=n.age_ms,
                                   held_packets=n.held, vrf=vrf))
        out.sort(key=lambda m: (m.interface, IPv4Address(m.ip)))
        return pb.NeighborListResponse(neighbors=out)

    @rpc
    def Add(self, request, context):
        m = request.neighbor
        n = Neighbor(m.interface, parse_ip("neighbor.ip", m.ip), check_mac("neighbor.mac", m.mac))
        with self.engine.lock:
            if request.exist_ok and self.engine.state.neighbors.get((n.interface, n.ip)) == n:
                return pb.NeighborAddResponse()
            self.engine.transaction([ch.NeighborAdd(n)], f"neighbor add {n.ip}")
        return pb.NeighborAddResponse()

    @rpc
    def Delete(self, request, context):
        ip = parse_ip("ip", request.ip)
        with self.engine.lock:
            static = self.engine.state.neighbors.get((request.interface, ip))
            if static is not None:
                self.engine.transaction([ch.NeighborDel(static)], f"neighbor delete {ip}")
                return pb.NeighborDeleteResponse()
            port = self.engine.executor.ports.get(request.interface)
        if port is None:
            if request.missing_ok:
                return pb.NeighborDeleteResponse()
            raise NotFound(f"interface {request.interface} does not exist")
        learned = any(n.port == port and n.ip == ip for n in self._dp().neigh_list())
        if learned:
            self._dp().neigh_del(port, ip)  # a learned entry: flushed, learned again on use
        elif not request.missing_ok:
            raise NotFound(f"no neighbor {ip} on {request.interface}")
        return pb.NeighborDeleteResponse()
