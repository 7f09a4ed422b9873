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

from limits import TINY, tiny

_prefix = itertools.count()

# what a test gets unless VROUTER_LIMITS=tiny (limits.py) (the dataplane's defaults but a smaller pool)
DEFAULT_LIMITS = {"mbufs": 8192, "neigh_table": 4096, "nat_sessions": 65536, "queue_size": 4096}


# VROUTER_FUZZ_SEEDS=DIR (dataplane/fuzz/ci.sh): every send() is also written
# to DIR as an input of the fuzz harness (dataplane/fuzz/fuzz_rx.c), so the
# fuzzer starts from what the packet tests send. Port index i becomes the
# harness's port p(i % 4): p0 and p1 have the MACs and subnets of ports 0
# and 1 here (router_mac(i), 10.0.i.1/24).
FUZZ_SEEDS = os.environ.get("VROUTER_FUZZ_SEEDS", "")
FUZZ_MAX_FRAMES = 64  # fuzz_rx.c MAX_FRAMES


def record_fuzz_seed(port_index: int, frames: list[bytes]) -> None:
    import hashlib
    import struct
    data = b"".join(struct.pack("!BH", (port_index % 4) | (0x10 if k else 0), len(f)) + f
                    for k, f in enumerate(frames[:FUZZ_MAX_FRAMES]) if len(f) <= 0xFFFF)
    if not data:
        return
    d = Path(FUZZ_SEEDS)
    d.mkdir(parents=True, exist_ok=True)
    (d / ("pkt-" + hashlib.sha1(data).hexdigest()[:16])).write_bytes(data)


def router_mac(i: int) -> str:
    return f"02:00:00:00:00:{i + 1:02x}"


def host_mac(i: int, h: int = 2) -> str:
    return f"02:00:00:00:{i + 1:02x}:{h:02x}"


class PacketRouter:
    """A dataplane whose ports are ring ports; port i is 10.0.i.1/24 with MAC
    router_mac(i) when created by `add_ports`."""

    def __init__(self, tmp: Path, **settings) -> None:
        sizes = {"mbufs": 8192, **(TINY if tiny() else {}), **settings}
        s = DataplaneSettings(socket=tmp / "dp.sock", file_prefix=f"pkt{os.getpid()}-{next(_prefix)}",
                           memory_mb=256, hugepages="no", **sizes)
        self.proc = DataplaneProcess(s, log_path=tmp / "dataplane.log")
        self.dp: DataplaneClient = self.proc.start()
        self.ports: list[int] = []
        # what the pools lend out with nothing going on: no_leaks() compares
        self.mbuf_baseline = self.mbufs_in_use()

    def add_ports(self, n: int, vrf: int = 0, addresses: bool = True, rxd: int = 0,
                  txd: int = 0) -> list[int]:
        """Adds n ring ports, with addresses, and drains their gratuitous ARPs.
        `rxd`, `txd`: entries of their rx and tx rings (default 4096)."""
        for _ in range(n):
            i = len(self.ports)
            pid = self.dp.port_add(f"p{i}", kind=PortKind.RING, vrf=vrf, mac=router_mac(i),
                                   rxd=rxd, txd=txd)
            self.ports.append(pid)
            if addresses:
                self.dp.addr_add(pid, f"10.0.{i}.1/24")
        if addresses:
            for p in self.ports[-n:]:
                self.expect(p, 1)  # the gratuitous ARP
        return self.ports[-n:]

    def send(self, port: int, *frames) -> None:
        raw = [bytes(f) for f in frames]
        if FUZZ_SEEDS:
            record_fuzz_seed(self.ports.index(port) if port in self.ports else 0, raw)
        self.dp.pg_inject(port, raw)

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

    def mbufs_in_use(self) -> dict[str, int]:
        return {name: p["in_use"] for name, p in self.dp.mempool_stats().items()}

    def assert_no_mbuf_leak(self, timeout: float = 3.0) -> None:
        """Every mbuf the dataplane took is back in its pool: once what the
        ring ports sent is taken, the pools lend out what they did at
        start-up plus the packets the ARP table holds for resolution (which
        neigh_list() shows). Fragments waiting for reassembly are given up
        within 2 s, so this waits up to `timeout` for them."""
        deadline = time.monotonic() + timeout
        while True:
            for p in self.dp.port_list():
                if p.kind == PortKind.RING:
                    self.dp.pg_capture(p.port)
            held = sum(n.held for n in self.dp.neigh_list())
            now = self.mbufs_in_use()
            lent = sum(now.values()) - sum(self.mbuf_baseline.values())
            if lent == held or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        assert lent == held, (f"mbuf leak: {lent} mbufs in use beyond the {held} held for ARP "
                              f"(pools now {now}, at start {self.mbuf_baseline})")

    def assert_nat_table_empties(self) -> None:
        """Past the longest NAT timeout, no session and no mapping is left
        (the NAT clock is the dataplane's test clock: nothing waits)."""
        p = self.dp.nat_params_get()
        longest = max(p[k] for k in ("tcp_established", "tcp_transitory", "udp", "icmp", "other"))
        self.dp.nat_clock_advance(longest + 1)
        p = self.dp.nat_params_get()
        assert (p["sessions"], p["mappings"]) == (0, 0), \
            f"{p['sessions']} NAT sessions, {p['mappings']} mappings left past every timeout"

    def close(self, check: bool = True) -> None:
        """Stops the dataplane, which must exit 0; with `check`, first that
        it leaked no mbuf and its NAT table empties."""
        failed: BaseException | None = None
        if check and self.proc.alive():
            try:
                self.assert_no_mbuf_leak()
                self.assert_nat_table_empties()
                self.assert_no_mbuf_leak()
            except BaseException as e:  # stop the process all the same
                failed = e
        self.dp.close()
        rc = self.proc.stop()
        assert rc == 0, f"dataplane exited with {rc}" + (f" (and: {failed})" if failed else "")
        if failed is not None:
            raise failed


def counter_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Counters that changed, with their increase."""
    return {k: after[k] - before[k] for k in after if after[k] != before[k]}
