"""Fixtures for the traffic generator's tests.

Nothing here depends on speed: rates are low (at most a few hundred
thousand packets per second), counts come from single bursts, and the
device under test is vrouter-testfwd (loadgen/src/testfwd.c), a forwarder
that drops, duplicates, swaps, delays or rate-limits on command. The
generator runs on CPU 0, the forwarder on CPU 1, both without hugepages
(memif in copy mode).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from vrouter.loadgen import Generator, engine

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="needs root (DPDK)")
    for item in items:
        if "/loadgen/" in item.nodeid and "needs_dpdk" in item.keywords:
            item.add_marker(skip)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_dpdk: starts DPDK processes (root)")


@pytest.fixture(scope="session")
def built():
    engine.build()
    return engine.BUILD_DIR


class TestFwd:
    """vrouter-testfwd with two memif server ports; commands on stdin."""

    def __init__(self, workdir: Path, cpu: int = 1):
        self.a = workdir / "a.sock"
        self.b = workdir / "b.sock"
        self.prefix = f"lgtfwd{os.getpid()}"
        argv = [str(engine.BUILD_DIR / "vrouter-testfwd"), "--lcores", f"0@{cpu}",
                "--no-huge", "-m", "256", "--no-pci", "--no-telemetry",
                "--file-prefix", self.prefix,
                f"--vdev=net_memif0,role=server,id=0,socket={self.a},socket-abstract=no",
                f"--vdev=net_memif1,role=server,id=0,socket={self.b},socket-abstract=no"]
        self.log = open(workdir / "testfwd.log", "w")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True, bufsize=1,
                                     start_new_session=True)
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 20
        while not (self.a.exists() and self.b.exists()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "testfwd.log").read_text()
                raise RuntimeError(f"testfwd did not start:\n{log}")
            time.sleep(0.02)

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))

    def wait_ready(self):
        ev = self.events.get(timeout=20)
        assert ev["event"] == "ready", ev

    def cmd(self, text: str) -> dict:
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        ev = self.events.get(timeout=10)
        assert ev["event"] in ("ok", "stats"), ev
        return ev

    def stats(self) -> dict:
        return self.cmd("stats")["dirs"][0]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
        self.log.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)


class Bench:
    """A generator (port 0 -> testfwd -> port 1) and the forwarder."""

    def __init__(self, fwd: TestFwd, gen: Generator):
        self.fwd = fwd
        self.gen = gen

    def impair(self, *commands: str) -> None:
        self.fwd.cmd("reset")
        for c in commands:
            self.fwd.cmd(c)


@pytest.fixture(scope="module")
def fwd_bench(built):
    """Generator and forwarder, started once per test module; every test
    resets the impairments it uses."""
    if os.geteuid() != 0:
        pytest.skip("needs root (DPDK)")
    work = Path(tempfile.mkdtemp(prefix="lgtest-"))
    fwd = TestFwd(work)
    gen = Generator([f"memif:{fwd.a}", f"memif:{fwd.b}"], cpu=0, hugepages="no",
                    workdir=work / "gen")
    (work / "gen").mkdir()
    try:
        gen.start()
        fwd.wait_ready()
        yield Bench(fwd, gen)
    finally:
        # the forwarder (the memif servers) first, then the generator
        fwd.close()
        gen.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def loop_gen(built):
    if os.geteuid() != 0:
        pytest.skip("needs root (DPDK)")
    with Generator(["loop"], cpu=0, hugepages="no") as gen:
        yield gen


class PcapGen:
    """A generator whose only port writes what it sends to a pcap file;
    run() returns the result and the packets of that run (read from where
    the previous run's ended)."""

    def __init__(self, path: Path):
        self.path = path
        self.gen = Generator([f"pcap:tx={path}"], cpu=0, hugepages="no")
        self.offset = 24          # after the pcap file header

    def _read_new(self, dissect: bool = True) -> list:
        import struct

        from scapy.all import Ether
        out = []
        with open(self.path, "rb") as f:
            magic = struct.unpack("<I", f.read(4))[0]
            f.seek(self.offset)
            data = f.read()
        frac = 1e9 if magic == 0xA1B23C4D else 1e6  # nanosecond pcap, or micro
        pos = 0
        while pos + 16 <= len(data):
            sec, usec, incl, _ = struct.unpack_from("<IIII", data, pos)
            if pos + 16 + incl > len(data):
                break
            raw = data[pos + 16:pos + 16 + incl]
            if dissect:
                p = Ether(raw)
                p.time = sec + usec / frac
                out.append(p)
            else:
                out.append(raw)
            pos += 16 + incl
        self.offset += pos
        return out

    def run(self, profile, dissect: bool = True, **kw):
        """dissect=False: the frames as bytes (scapy takes milliseconds a
        packet to read a UDP port 53 payload as DNS)."""
        res = self.gen.run(profile, **kw)
        pkts = self._read_new(dissect)
        for _ in range(40):
            if len(pkts) >= res.tx_packets:
                break
            time.sleep(0.05)
            pkts += self._read_new(dissect)
        return res, pkts


@pytest.fixture(scope="module")
def pcap_gen(built, tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("needs root (DPDK)")
    pg = PcapGen(tmp_path_factory.mktemp("pcap") / "out.pcap")
    pg.gen.start()
    try:
        yield pg
    finally:
        pg.gen.close()
