#!/usr/bin/env python3
"""Probe of the appliance's standard gRPC health service (grpc.health.v1).

  healthcheck.py [--ready | --live] [--socket PATH | --address HOST:PORT]
                 [--service NAME] [--timeout S] [--wait S]

--ready (default): exit 0 when the service reports SERVING, which the
appliance does while its dataplane is up (readiness: route traffic here).
--live: exit 0 when the health service answers at all, SERVING or
NOT_SERVING (liveness: the management plane is alive; a dataplane being
restarted and replayed is not a reason to kill the container).
Exit 1 otherwise, saying why on stderr. --wait S retries for up to S seconds.

The unix socket needs no network exposure of the API and works with TLS on
the TCP listener; --address probes a plaintext TCP listener instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

try:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
except ImportError:  # a system Python: run again under the appliance's environment
    venv_python = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "python"
    if Path(sys.executable).resolve() == venv_python.resolve() or not venv_python.exists():
        raise
    os.execv(venv_python, [str(venv_python), __file__, *sys.argv[1:]])


def check(target: str, service: str, timeout: float) -> int | None:
    """The service's status (a HealthCheckResponse.ServingStatus), or None
    when nothing answered."""
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            resp = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout)
        except grpc.RpcError as e:
            check.why = f"{e.code().name}: {e.details()}"  # type: ignore[attr-defined]
            return None
    return resp.status


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--ready", dest="live", action="store_false", help="SERVING (default)")
    mode.add_argument("--live", action="store_true", help="any answer")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--socket", default=os.environ.get("VROUTER_API_SOCKET",
                                                          "/run/vrouter/api.sock"))
    where.add_argument("--address", metavar="HOST:PORT")
    p.add_argument("--service", default="", help="default: the whole server")
    p.add_argument("--timeout", type=float, default=3.0, help="per attempt (s)")
    p.add_argument("--wait", type=float, default=0.0, help="keep trying this long (s)")
    a = p.parse_args(argv)

    target = a.address or f"unix:{a.socket}"
    deadline = time.monotonic() + a.wait
    while True:
        status = check(target, a.service, a.timeout)
        if status is not None and (a.live or status == health_pb2.HealthCheckResponse.SERVING):
            print(f"{target}: {health_pb2.HealthCheckResponse.ServingStatus.Name(status)}")
            return 0
        if time.monotonic() >= deadline:
            why = (getattr(check, "why", "no answer") if status is None else
                   health_pb2.HealthCheckResponse.ServingStatus.Name(status))
            print(f"{target}: {why}", file=sys.stderr)
            return 1
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
