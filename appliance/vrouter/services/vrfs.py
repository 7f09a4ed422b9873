"""VrfService: routing tables that behave like network namespaces."""

from __future__ import annotations

from ..config.model import Vrf
from ..core import changes as ch
from ..core.errors import InvalidArgument, NotFound
from ..v1 import vrf_pb2 as pb
from ..v1 import vrf_pb2_grpc as pb_grpc
from . import register
from .base import check_name, rpc


def route_counts(st, vrf: str) -> tuple[int, int]:
    """(prefixes in the VRF's RIB, routes in its FIB). The FIB also holds
    what the dataplane installs itself: a local /32 and a connected route
    per interface address. The caller holds the engine lock."""
    rib, fib = st.rib.count(vrf)
    own = sum(1 + (a.network.prefixlen < 32) for i in st.interfaces.values() if i.vrf == vrf
              for a in i.addresses)
    return rib, fib + own


@register(pb_grpc.add_VrfServiceServicer_to_server)
class VrfService(pb_grpc.VrfServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine
        self.hoststack = getattr(app, "hoststack", None)

    def _pb(self, v: Vrf) -> pb.Vrf:
        st = self.engine.state
        rib, fib = route_counts(st, v.name)
        itfs = [i for i in st.interfaces.values() if i.vrf == v.name]
        ns = self.hoststack.namespace(v.name) if self.hoststack is not None else ""
        return pb.Vrf(name=v.name, id=v.id, max_routes=v.max_routes, num_tbl8=v.num_tbl8,
                      interfaces=[i.name for i in itfs], routes=rib, fib_routes=fib,
                      control_namespace=ns)

    @rpc
    def List(self, request, context):
        with self.engine.lock:
            vrfs = sorted(self.engine.state.vrfs.values(), key=lambda v: v.id)
            return pb.VrfListResponse(vrfs=[self._pb(v) for v in vrfs])

    @rpc
    def Get(self, request, context):
        with self.engine.lock:
            return self._pb(self.engine.vrf(request.name))

    @rpc
    def Add(self, request, context):
        m = request.vrf
        name = check_name("vrf.name", m.name)
        for f, hi in (("max_routes", 1 << 26), ("num_tbl8", 1 << 20)):  # as the loader
            if getattr(m, f) > hi:
                raise InvalidArgument(f"vrf.{f}: {getattr(m, f)} out of range 0..{hi}")
        with self.engine.lock:
            used = {v.id for v in self.engine.state.vrfs.values()}
            vid = m.id or next((i for i in range(1, 256) if i not in used), 0)
            if not vid:
                raise InvalidArgument("vrf.id: all ids 1..255 are in use")
            v = Vrf(name, vid, m.max_routes, m.num_tbl8)
            cur = self.engine.state.vrfs.get(name)
            if cur is not None and request.exist_ok and (cur == v or not m.id):
                return pb.VrfAddResponse(vrf=self._pb(cur))
            self.engine.transaction([ch.VrfAdd(v)], f"vrf add {name}")
            return pb.VrfAddResponse(vrf=self._pb(v))

    @rpc
    def Delete(self, request, context):
        with self.engine.lock:
            cur = self.engine.state.vrfs.get(request.name)
            if cur is None:
                if request.missing_ok:
                    return pb.VrfDeleteResponse()
                raise NotFound(f"vrf {request.name} does not exist")
            self.engine.transaction([ch.VrfDel(cur)], f"vrf delete {cur.name}")
        return pb.VrfDeleteResponse()
