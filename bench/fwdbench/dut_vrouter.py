"""The vrouter dataplane as a device under test: the real binary, configured
through its control socket the way the management plane does it.

Two flavours, measured side by side:
  vrouter      one route covers every destination
  vrouter-1m   1,000,000 prefixes in the FIB, a realistic mix (mostly /24,
               some shorter, a few longer), the traffic's destinations each
               under its own /24 among them, spread over 8 gateways

The worker and the control thread share the DUT CPU (like testpmd's main and
forwarding lcores) so the generator's CPU stays its own.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from .duts import Dut, DutContext
from .loadgen import Flow, memif_vdev
from .system import BenchError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "appliance"))

from vrouter.dataplane.messages import NhType  # noqa: E402
from vrouter.dataplane.process import DataplaneProcess, DataplaneSettings, find_binary  # noqa: E402

PORT_A_MAC = "02:00:00:00:0a:01"
PORT_B_MAC = "02:00:00:00:0b:01"
GATEWAYS = [f"198.19.0.{i}" for i in range(1, 9)]   # neighbours on port B
FIRST_DST = (16 << 24) + 1                          # 16.0.0.1, then one per /24


def _ip(n: int) -> str:
    return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def full_table(n: int, dsts: list[int], seed: int = 2026) -> list[tuple[tuple[int, int], int]]:
    """n distinct prefixes as ((address, length), gateway index): a /24 for
    each destination, then random ones, ~60% /24, ~38% /16-/23, ~2% /25-/32,
    avoiding the ranges the flow and the ports use."""
    rnd = random.Random(seed)
    seen: set[tuple[int, int]] = set()
    out = []
    for d in dsts:
        p = (d & 0xFFFFFF00, 24)
        if p not in seen:
            seen.add(p)
            out.append((p, len(out) % len(GATEWAYS)))
    while len(out) < n:
        r = rnd.random()
        plen = 24 if r < 0.60 else (rnd.randint(16, 23) if r < 0.98 else rnd.randint(25, 32))
        a = rnd.randrange(1 << 24, 224 << 24) & ((0xFFFFFFFF << (32 - plen)) & 0xFFFFFFFF)
        if (a >> 24) in (10, 16, 127) or (a >> 17) == (198 << 7 | 18 >> 1) or (a, plen) in seen:
            continue
        seen.add((a, plen))
        out.append(((a, plen), len(out) % len(GATEWAYS)))
    return out


def _devargs(vdev_arg: str) -> str:
    """'--vdev=net_memif0,...' (an EAL option) -> devargs for a hot-plugged port."""
    return vdev_arg.removeprefix("--vdev=")


class VrouterDut(Dut):
    name = "vrouter"
    label = "vrouter, 1 route"
    routes = 1

    def __init__(self, env):
        super().__init__(env)
        self.proc: DataplaneProcess | None = None
        self.dp = None
        self.ports: tuple[int, int] | None = None

    @property
    def flow(self) -> Flow:
        return Flow(dst_mac=PORT_A_MAC, src_ip="198.18.0.1", dst_ip=_ip(FIRST_DST),
                    dst_count=self.env.dst_count, dst_step=self.env.dst_step)

    def check(self) -> None:
        try:
            find_binary()
        except FileNotFoundError as e:
            raise BenchError(str(e)) from e

    def _destinations(self) -> list[int]:
        return [FIRST_DST + k * self.env.dst_step for k in range(self.env.dst_count)]

    def start(self, port_a_socket: Path, port_b_socket: Path) -> DutContext:
        cpu = self.env.cpu
        big = self.routes > 1
        s = DataplaneSettings(
            socket=self.env.workdir / f"{self.name}.sock", main_lcore=0, worker_lcores=(1,),
            cpus=(cpu, cpu), hugepages="yes", in_memory=True,
            memory_mb=768 if big else 256, mbufs=16384,
            file_prefix=self.env.prefixes.new(self.name), log_level="warning",
            vrf0_routes=self.routes + 1024 if big else 0, vrf0_tbl8=65536 if big else 0)
        self.proc = DataplaneProcess(s, log_path=self.env.workdir / f"{self.name}.log")
        self.dp = dp = self.proc.start()
        a = dp.port_add("a", _devargs(memif_vdev(0, "server", port_a_socket, self.env.rsize)),
                        mac=PORT_A_MAC)
        b = dp.port_add("b", _devargs(memif_vdev(1, "server", port_b_socket, self.env.rsize)),
                        mac=PORT_B_MAC)
        self.ports = (a, b)
        dp.addr_add(a, "198.18.255.254/16")
        dp.addr_add(b, "198.19.0.254/24")
        for i, gw in enumerate(GATEWAYS, 1):
            dp.neigh_add(b, gw, f"02:00:00:00:0b:{i + 1:02x}")
            dp.nh_add(i, NhType.GATEWAY, port=b, gw=gw)
        t = time.perf_counter()
        if big:
            table = full_table(self.routes, self._destinations())
            dp.route_add(0, ((p, gw + 1) for p, gw in table))
        else:
            dp.route_add(0, [("16.0.0.0/8", 1)])
        self.load_s = time.perf_counter() - t
        return DutContext(pids=[self.proc.pid], info={
            "routes": self.routes, "route_load_s": round(self.load_s, 2),
            "argv": s.command(self.proc.binary)})

    def counters(self) -> dict | None:
        if self.dp is None or self.ports is None:
            return None
        a, b = (self.dp.port_stats(p) for p in self.ports)
        return {"port_a": {k: v for k, v in a.items() if v},
                "port_b": {k: v for k, v in b.items() if v}}

    def stop(self) -> None:
        if self.dp is not None:
            self.dp.close()
            self.dp = None
        if self.proc is not None:
            status = self.proc.stop()
            self.teardown_problem = None if status == 0 else f"exit status {status}"
            self.proc = None


class VrouterFullTableDut(VrouterDut):
    name = "vrouter-1m"
    label = "vrouter, 1M prefixes"
    routes = 1_000_000
