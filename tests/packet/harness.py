"""Deterministic packet tests, the way VPP's test framework uses its packet
generator: a real dataplane with in-process ring ports; scapy frames go in,
and every byte that comes out is checked.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from scapy.layers.l2 import Ether

from vrouter.dataplane.client import DataplaneClient
from vrouter.dataplane.messages import PortKind
from vrouter.dataplane.process import DataplaneProcess, DataplaneSettings

_prefix = itertools.count()


def router_mac(i: int) -> str:
    return f"02:00:00:00:00:{i + 1:02x}"


def host_mac(i: int, h: int = 2) -> str:
    return f"02:00:00:00:{i + 1:02x}:{h:02x}"


class PacketRouter:
    """A dataplane whose ports are ring ports; port i is 10.0.i.1/24 with MAC
    router_mac(i) when created by `add_ports`."""

    def __init__(self, tmp: Path, **settings) -> None:
        s = DataplaneSettings(socket=tmp / "dp.sock", file_prefix=f"pkt{os.getpid()}-{next(_prefix)}",
                              memory_mb=256, mbufs=8192, hugepages="no", **settings)
        self.proc = DataplaneProcess(s, log_path=tmp / "dataplane.log")
        self.dp: DataplaneClient = self.proc.start()
        self.ports: list[int] = []

    def add_ports(self, n: int, vrf: int = 0, addresses: bool = True) -> list[int]:
        """Adds n ring ports, with addresses, and drains their gratuitous ARPs."""
        for _ in range(n):
            i = len(self.ports)
            pid = self.dp.port_add(f"p{i}", kind=PortKind.RING, vrf=vrf, mac=router_mac(i))
            self.ports.append(pid)
            if addresses:
                self.dp.addr_add(pid, f"10.0.{i}.1/24")
        if addresses:
            for p in self.ports[-n:]:
                self.expect(p, 1)  # the gratuitous ARP
        return self.ports[-n:]

    def send(self, port: int, *frames) -> None:
        self.dp.pg_inject(port, [bytes(f) for f in frames])

    def expect(self, port: int, n: int, timeout: float = 2.0) -> list[Ether]:
        """Exactly n frames out of `port` (waits for them, then a little more
        to catch extras)."""
        got: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            got += self.dp.pg_capture(port)
            if len(got) < n:
                time.sleep(0.005)
        time.sleep(0.02)
        got += self.dp.pg_capture(port)
        assert len(got) == n, f"port {port}: expected {n} frames, got {len(got)}: " + \
            ", ".join(Ether(f).summary() for f in got)
        return [Ether(f) for f in got]

    def expect_none(self, *ports: int, wait: float = 0.1) -> None:
        time.sleep(wait)
        for p in ports:
            got = self.dp.pg_capture(p)
            assert not got, f"port {p}: expected nothing, got " + \
                ", ".join(Ether(f).summary() for f in got)

    def counters(self, port: int) -> dict[str, int]:
        return self.dp.port_stats(port)

    def wait_counter(self, port: int, name: str, value: int, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while self.counters(port)[name] < value and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.counters(port)[name] == value, \
            f"port {port}: {name} is {self.counters(port)[name]}, expected {value}"

    def close(self) -> None:
        self.dp.close()
        rc = self.proc.stop()
        assert rc == 0, f"dataplane exited with {rc}"


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Counters that changed, with their increase."""
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}
