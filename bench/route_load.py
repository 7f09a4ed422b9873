#!/usr/bin/env python3
"""Benchmark: loading routes through the gRPC API into the dataplane FIB.

Starts the real appliance (management plane + dataplane) in this process,
then a separate client process sends N routes (a realistic mix: 60% /24,
38% /16-/23, 2% /25-/32) in --batch routes per RouteService.Add call, via 8
gateways, either as RouteBatch messages (prefixes sharing a target) or as one
Route message each (--form routes). Reports the end-to-end rate (API call
to FIB, confirmed by the dataplane's route count) and the resident memory of
both processes at that size.

    bench/route_load.py [--routes 1000000] [--batch 100000] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "appliance"))

from vrouter.appliance import Appliance  # noqa: E402
from vrouter.config import parse  # noqa: E402

CONFIG = """
api: {{socket: {sock}}}
dataplane: {{hugepages: auto, memory_mb: 2048, mbufs: 8192}}
vrfs: {{default: {{max_routes: {cap}, num_tbl8: 65536}}}}
interfaces:
  uplink: {{device: "net_null0,size=64", up: false, addresses: [10.0.0.1/24]}}
"""

CLIENT = r"""
import sys, time, random, grpc
sys.path.insert(0, sys.argv[4])
from vrouter.v1 import route_pb2 as pb, route_pb2_grpc as pbg
sock, n, batch, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[5]
rnd = random.Random(1)
gws = [f"10.0.0.{i}" for i in range(2, 10)]
seen = set()
routes = []  # (prefix, gateway)
while len(routes) < n:
    r = rnd.random()
    plen = 24 if r < 0.6 else rnd.choice([16, 18, 19, 20, 21, 22, 23] if r < 0.98 else [25, 26, 27, 28, 29, 30, 32])
    ip = rnd.randrange(1 << 24, 224 << 24) & (0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF
    if (ip >> 24) in (10, 127) or (ip, plen) in seen:
        continue
    seen.add((ip, plen))
    routes.append((f"{ip>>24}.{(ip>>16)&255}.{(ip>>8)&255}.{ip&255}/{plen}",
                   gws[len(routes) % len(gws)]))
def request(chunk):
    if mode == "routes":
        return pb.RouteAddRequest(routes=[pb.Route(prefix=p, via=[g]) for p, g in chunk])
    by_gw = {}
    for p, g in chunk:
        by_gw.setdefault(g, []).append(p)
    return pb.RouteAddRequest(batches=[pb.RouteBatch(target=pb.Route(via=[g]), prefixes=ps)
                                       for g, ps in by_gw.items()])
reqs = [request(routes[i:i + batch]) for i in range(0, n, batch)]
ch = grpc.insecure_channel(f"unix:{sock}", options=[("grpc.max_send_message_length", 1 << 30)])
stub = pbg.RouteServiceStub(ch)
t = time.perf_counter()
for q in reqs:
    stub.Add(q, timeout=600)
print(time.perf_counter() - t)
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--routes", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=100_000)
    ap.add_argument("--form", choices=("batches", "routes"), default="batches",
                    help="RouteAddRequest.batches (prefixes sharing a target, as routing "
                         "protocols announce them; default) or one Route message per route")
    ap.add_argument("--json", help="write the result here too")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vr-bench-"))
    sock = tmp / "api.sock"
    cfg = parse(yaml.safe_load(CONFIG.format(sock=sock, cap=int(args.routes * 1.1) + 1024)),
                "bench")
    app = Appliance(cfg, tmp / "run", name="benchroutes")
    app.start()
    try:
        base_mgmt, base_dp = rss_mb(os.getpid()), rss_mb(app.process.pid)
        out = subprocess.run([sys.executable, "-c", CLIENT, str(sock), str(args.routes),
                              str(args.batch), str(ROOT / "appliance"), args.form],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"the client failed:\n{out.stderr[-3000:]}")
        api_s = float(out.stdout.strip())
        fib = app.dp.vrf_list()[0].n_routes
        result = {
            "routes": args.routes, "batch": args.batch, "form": args.form,
            "seconds": round(api_s, 2),
            "routes_per_second": round(args.routes / api_s),
            "fib_routes_confirmed": fib,
            "rss_mb": {"management_plane": round(rss_mb(os.getpid())),
                       "dataplane": round(rss_mb(app.process.pid)),
                       "management_plane_idle": round(base_mgmt),
                       "dataplane_idle": round(base_dp)},
            "machine": {"cpu": platform.processor() or platform.machine(),
                        "cores": os.cpu_count(), "python": platform.python_version(),
                        "hugepages": app.process.settings.use_hugepages()},
        }
    finally:
        app.stop()
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0 if result["fib_routes_confirmed"] == args.routes else 1


if __name__ == "__main__":
    sys.exit(main())
