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


def worker_cycles(dp) -> dict | None:
    """The worker's own cycle accounting (struct vr_worker_stats, summed
    over workers): busy_tsc (TSC cycles of loop iterations that had
    packets), packets, loops, idle_loops. Growth over a trial gives the
    router's own cycles per packet, which unlike TSC Hz / pps leaves out
    the polls that found nothing. None from a dataplane without it."""
    import ctypes

    from vrouter.dataplane import messages as m
    if not hasattr(m.MsgType, "WORKER_STATS"):
        return None
    try:
        bodies = dp.request(m.MsgType.WORKER_STATS)
    except OSError:
        return None
    head, item = ctypes.sizeof(m.WorkerStatsResp), ctypes.sizeof(m.WorkerStats)
    out = {"busy_tsc": 0, "packets": 0, "loops": 0, "idle_loops": 0}
    for body in bodies:
        n = m.WorkerStatsResp.from_buffer_copy(body[:head]).n if len(body) >= head else 0
        for i in range(n):
            ws = m.WorkerStats.from_buffer_copy(body[head + i * item:head + (i + 1) * item])
            for k in out:
                out[k] += getattr(ws, k)
    return out


class VrouterDut(Dut):
    name = "vrouter"
    label = "vrouter, 1 route"
    routes = 1

    def __init__(self, env):
        super().__init__(env)
        self.proc: DataplaneProcess | None = None
        self.dp = None
        self.ports: tuple[int, int] | None = None

    #: the MACs of its ports A and B
    mac_a = PORT_A_MAC
    mac_b = PORT_B_MAC

    @property
    def flow(self) -> Flow:
        return Flow(dst_mac=self.mac_a, src_ip="198.18.0.1", dst_ip=_ip(FIRST_DST),
                    dst_count=self.env.dst_count, dst_step=self.env.dst_step)

    def check(self) -> None:
        try:
            find_binary()
        except FileNotFoundError as e:
            raise BenchError(str(e)) from e

    def _destinations(self) -> list[int]:
        return [FIRST_DST + k * self.env.dst_step for k in range(self.env.dst_count)]

    def port_devargs(self, port_a_socket: Path, port_b_socket: Path) -> tuple[str, str]:
        """The two ports: memif servers on the harness's sockets."""
        return (_devargs(memif_vdev(0, "server", port_a_socket, self.env.rsize)),
                _devargs(memif_vdev(1, "server", port_b_socket, self.env.rsize)))

    #: a wrapper to start the dataplane with (e.g. in a network namespace)
    binary: Path | None = None

    def settings(self) -> DataplaneSettings:
        cpu = self.env.cpu
        big = self.routes > 1
        s = DataplaneSettings(
            socket=self.env.workdir / f"{self.name}.sock", main_lcore=0, worker_lcores=(1,),
            cpus=(cpu, cpu), hugepages="yes", in_memory=True,
            memory_mb=768 if big else 256, mbufs=16384,
            file_prefix=self.env.prefixes.new(self.name), log_level="warning",
            vrf0_routes=self.routes + 1024 if big else 0, vrf0_tbl8=65536 if big else 0)
        return s

    def start(self, port_a_socket: Path, port_b_socket: Path) -> DutContext:
        s = self.settings()
        self.proc = DataplaneProcess(s, binary=self.binary,
                                     log_path=self.env.workdir / f"{self.name}.log")
        self.dp = dp = self.proc.start()
        dev_a, dev_b = self.port_devargs(port_a_socket, port_b_socket)
        a = dp.port_add("a", dev_a, mac=self.mac_a)
        b = dp.port_add("b", dev_b, mac=self.mac_b)
        self.ports = (a, b)
        dp.addr_add(a, "198.18.255.254/16")
        dp.addr_add(b, "198.19.0.254/24")
        for i, gw in enumerate(GATEWAYS, 1):
            dp.neigh_add(b, gw, f"02:00:00:00:0b:{i + 1:02x}")
            dp.nh_add(i, NhType.GATEWAY, port=b, gw=gw)
        t = time.perf_counter()
        if self.routes > 1:
            table = full_table(self.routes, self._destinations())
            dp.route_add(0, ((p, gw + 1) for p, gw in table))
        else:
            dp.route_add(0, [("16.0.0.0/8", 1)])
        self.load_s = time.perf_counter() - t
        self.configure_more(dp, a, b)
        return DutContext(pids=[self.proc.pid], info={
            "routes": self.routes, "route_load_s": round(self.load_s, 2),
            "argv": s.command(self.proc.binary)})

    def configure_more(self, dp, a: int, b: int) -> None:
        """For subclasses: anything beyond the routes (NAT rules)."""

    def counters(self) -> dict | None:
        if self.dp is None or self.ports is None:
            return None
        a, b = (self.dp.port_stats(p) for p in self.ports)
        out = {"port_a": {k: v for k, v in a.items() if v},
               "port_b": {k: v for k, v in b.items() if v}}
        w = worker_cycles(self.dp)
        if w is not None:
            out["worker"] = w
        return out

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


def nat_api():
    """The dataplane client's NAT calls, or None while NAT is not in this
    tree (the benchmark then says so and skips the NAT contender)."""
    try:
        from vrouter.dataplane.messages import NatType
        from vrouter.dataplane.types import NatRule
    except ImportError:
        return None
    from vrouter.dataplane.client import DataplaneClient
    if not hasattr(DataplaneClient, "nat_rule_add"):
        return None
    return NatType, NatRule


class VrouterNatDut(VrouterDut):
    """vrouter with source NAT on what leaves port B to a pool of four
    outside addresses (its mapping is endpoint-independent: one outside
    port per inside address:port, so 100,000 sessions need more than one
    address's 64,512 ports), and a session table big enough for them."""

    name = "vrouter-nat"
    label = "vrouter, NAT 100k sessions"
    sessions = 100_000

    def check(self) -> None:
        super().check()
        if nat_api() is None:
            raise BenchError("NAT is not in this tree yet (no NAT calls in the dataplane "
                             "client)")
        if "nat_sessions" not in DataplaneSettings.__dataclass_fields__:
            raise BenchError("this dataplane cannot size its NAT session table")

    def settings(self) -> DataplaneSettings:
        s = super().settings()
        s.nat_sessions = 1 << (2 * self.sessions - 1).bit_length()
        s.memory_mb = 512
        return s

    def configure_more(self, dp, a: int, b: int) -> None:
        import ipaddress
        NatType, NatRule = nat_api()
        pool = tuple(ipaddress.IPv4Address(f"198.19.0.{250 + i}") for i in range(4))
        dp.nat_rule_add(NatRule(id=1, type=NatType.SNAT, out_port=b, pool=pool,
                                match=ipaddress.IPv4Network("198.18.0.0/16")))

    def counters(self) -> dict | None:
        c = super().counters()
        return c


class VrouterNatSetupDut(VrouterNatDut):
    """vrouter with source NAT where every packet opens a new session: the
    session setup rate on one worker core. Two SNAT rules (each half of the
    inside range to its own 16 outside addresses: 2 x 16 x 64,512 UDP
    ports, so that ports never run out within a trial) and a table of
    2,097,152 sessions; the harness flushes the sessions before every
    trial, so each trial starts empty and its flows are all new."""

    name = "vrouter-nat-setup"
    label = "vrouter, NAT new sessions"
    sessions = 1 << 21
    #: what each trial may create at most (the table, less a margin)
    capacity = (1 << 21) - 4096

    def settings(self) -> DataplaneSettings:
        s = super().settings()
        s.nat_sessions = self.sessions
        s.memory_mb = 1024
        return s

    def configure_more(self, dp, a: int, b: int) -> None:
        import ipaddress
        NatType, NatRule = nat_api()
        for i, (match, first) in enumerate((("198.18.0.0/17", 64), ("198.18.128.0/17", 80)), 1):
            pool = tuple(ipaddress.IPv4Address(f"198.19.0.{first + k}") for k in range(16))
            dp.nat_rule_add(NatRule(id=i, type=NatType.SNAT, out_port=b, pool=pool,
                                    match=ipaddress.IPv4Network(match)))

    def before_trial(self) -> None:
        """Every trial starts with an empty table: all its flows are new."""
        if self.dp is not None:
            self.dp.nat_session_flush()


class VrouterAfPacketDut(VrouterDut):
    """vrouter on af_packet ports (the veth section): lgd0 and lgd1 of a
    VethTopology, the dataplane started inside its DUT namespace."""

    name = "vrouter-afp"
    label = "vrouter, 1 route (af_packet)"

    def __init__(self, env, topo):
        super().__init__(env)
        self.topo = topo
        # the veths' own addresses: an af_packet socket hears its interface's
        self.mac_a = topo.macs["lgd0"]
        self.mac_b = topo.macs["lgd1"]
        # DataplaneProcess runs [binary, *args]: a script that enters the
        # namespace and execs the real dataplane.
        self.binary = self.env.workdir / "in-dut-dataplane.sh"
        self.binary.write_text(f"#!/bin/sh\nexec ip netns exec {topo.ns_dut} "
                               f"{find_binary()} \"$@\"\n")
        self.binary.chmod(0o755)

    def port_devargs(self, port_a_socket, port_b_socket) -> tuple[str, str]:
        from .veth import AF_PACKET_ARGS
        return (f"net_af_packet0,iface=lgd0,{AF_PACKET_ARGS}",
                f"net_af_packet1,iface=lgd1,{AF_PACKET_ARGS}")
