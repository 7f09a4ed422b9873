"""`vrouter vrf ...`: routing tables that behave like network namespaces."""

from __future__ import annotations

from ..v1 import vrf_pb2 as pb
from ..v1 import vrf_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("vrf", "VRFs: separate routing tables", rank=20)

NAME = arg("name", type=w.name, metavar="NAME", complete=w.vrfs)


def _api(ctx):
    return ctx.api.stub(pb_grpc.VrfServiceStub)


@command("vrf show", "list the VRFs, or show one",
         arg("name", type=w.name, nargs="?", metavar="NAME", complete=w.vrfs))
def show(ctx, a):
    vrfs = ([_api(ctx).Get(pb.VrfGetRequest(name=a.name))] if a.name
            else _api(ctx).List(pb.VrfListRequest()).vrfs)
    if ctx.json:
        data = [out.to_dict(v) for v in vrfs]
        return out.emit_json(data[0] if a.name else data)
    out.table(["NAME", "ID", "ROUTES", "FIB", "MAX_ROUTES", "NAMESPACE", "INTERFACES"],
              [(v.name, v.id, v.routes, v.fib_routes, v.max_routes or "default",
                v.control_namespace or "-", " ".join(v.interfaces) or "-") for v in vrfs])


@command("vrf add", "add a VRF", NAME, words=w.Words(
    w.W("id", w.uint(1, 255), metavar="N", help="1..255 (default: the first free one)"),
    w.W("max-routes", w.uint(1, 1 << 26), metavar="N", help="FIB capacity (default 65536)"),
    w.W("tbl8", w.uint(1, 1 << 20), metavar="N", help="FIB /24+ groups (default: the FIB's)")))
def add(ctx, a):
    resp = _api(ctx).Add(pb.VrfAddRequest(vrf=pb.Vrf(
        name=a.name, id=a.id or 0, max_routes=a.max_routes or 0, num_tbl8=a.tbl8 or 0)))
    if ctx.json:
        out.emit_json(out.to_dict(resp.vrf))


@command("vrf del", "delete a VRF (it must have no interfaces)", NAME)
def delete(ctx, a):
    _api(ctx).Delete(pb.VrfDeleteRequest(name=a.name))
    if ctx.json:
        out.emit_json({})
