"""`vrouter vrf exec`, `vrouter ping`, `vrouter traceroute`: commands run in a
VRF's control namespace (the router's own stack), as `ip vrf exec` does.

They run here, so they need this machine to be the router (the namespace is
looked up through the API).
"""

from __future__ import annotations

import os

from ..v1 import vrf_pb2 as pb
from ..v1 import vrf_pb2_grpc as pb_grpc
from . import arg, command, group
from . import words as w
from .client import CliError

group("ping", "ping from a VRF's control namespace (the router's own stack)", rank=80)
group("traceroute", "traceroute from a VRF's control namespace", rank=81)

def _vrf() -> w.W:
    return w.W("vrf", w.name, metavar="V", complete=w.vrfs, help="default: default")


def namespace(ctx, vrf: str) -> str:
    v = ctx.api.stub(pb_grpc.VrfServiceStub).Get(pb.VrfGetRequest(name=vrf))
    if not v.control_namespace:
        raise CliError(f"vrf {vrf} has no control namespace (control_plane is off)")
    return v.control_namespace


def run_in(ns: str, argv: list[str]) -> None:
    """Replaces this process: the command's exit status is ours."""
    os.execvp("ip", ["ip", "netns", "exec", ns, *argv])


@command("vrf exec", "run a command in the VRF's control namespace: vrf exec red -- CMD...",
         arg("name", type=w.name, metavar="NAME", complete=w.vrfs),
         arg("argv", nargs="+", metavar="CMD"))
def vrf_exec(ctx, a):
    run_in(namespace(ctx, a.name), a.argv)


@command("ping", "ping ADDR from the router, in a VRF",
         arg("address", type=w.ipv4, metavar="ADDR"),
         words=w.Words(_vrf(), w.W("count", w.uint(1, 1 << 20), metavar="N",
                                   help="stop after N replies (default: Ctrl-C)")))
def ping(ctx, a):
    count = ["-c", str(a.count)] if a.count else []
    run_in(namespace(ctx, a.vrf or "default"), ["ping", *count, a.address])


@command("traceroute", "traceroute ADDR from the router, in a VRF",
         arg("address", type=w.ipv4, metavar="ADDR"), words=w.Words(_vrf()))
def traceroute(ctx, a):
    run_in(namespace(ctx, a.vrf or "default"), ["traceroute", "-n", a.address])
