"""Building and driving vrouter-loadgen (loadgen/) and vrouter-c2c-probe."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .procs import Proc, ProcessRegistry
from .system import BenchError


@dataclass(frozen=True)
class Flow:
    """What the generator sends. A DUT that routes (vrouter) overrides this
    to match its addresses; a DUT that only moves frames does not care.
    198.18.0.0/15 is the range RFC 2544 (appendix C.2.2) sets aside for
    benchmarks."""

    src_mac: str = "02:00:00:00:00:01"
    dst_mac: str = "02:00:00:00:00:02"
    src_ip: str = "198.18.0.1"
    dst_ip: str = "198.19.0.1"
    dst_count: int = 1
    dst_step: int = 1  # addresses between destinations (256: one per /24)


@dataclass(frozen=True)
class GenSettings:
    cpu: int
    size: int
    rsize: int              # memif ring = 2^rsize descriptors
    duration_s: float
    dst_count: int = 1      # for the ceiling; DUT trials use the DUT's Flow
    dst_step: int = 1
    sample_ms: int = 100


def memif_vdev(index: int, role: str, socket: Path, rsize: int, zero_copy: bool = False) -> str:
    """--vdev for one memif port. socket-abstract=no: DPDK 22.11 defaults to
    the abstract namespace, and we want a file to wait for."""
    args = [f"net_memif{index}", f"role={role}", "id=0", f"socket={socket}",
            "socket-abstract=no", f"rsize={rsize}"]
    if zero_copy:
        args.append("zero-copy=yes")
    return "--vdev=" + ",".join(args)


def eal_args(lcores: str, prefix: str, single_file_segments: bool) -> list[str]:
    """EAL arguments every benchmark process shares: its own --file-prefix,
    --in-memory (no hugepage files or shared config left behind), no PCI
    scan, no telemetry socket or threads."""
    args = ["-l", lcores, "--file-prefix", prefix, "--in-memory", "--no-pci", "--no-telemetry"]
    if single_file_segments:
        # memif zero-copy exports memory by fd: one fd per memseg list.
        args.append("--single-file-segments")
    return args


class Loadgen:
    def __init__(self, repo: Path):
        self.src = repo / "loadgen"
        self.build_dir = self.src / "build"
        self.binary = self.build_dir / "vrouter-loadgen"
        self.probe_binary = self.build_dir / "vrouter-c2c-probe"

    def build(self) -> None:
        """meson setup once, then ninja (a no-op when nothing changed)."""
        if not (self.build_dir / "build.ninja").exists():
            self._run(["meson", "setup", str(self.build_dir), str(self.src)], "meson setup")
        self._run(["ninja", "-C", str(self.build_dir)], "ninja")
        for b in (self.binary, self.probe_binary):
            if not b.exists():
                raise BenchError(f"build did not produce {b}")

    @staticmethod
    def _run(argv: list[str], what: str) -> None:
        try:
            res = subprocess.run(argv, capture_output=True, text=True)
        except OSError as e:
            raise BenchError(f"{what}: {e}") from e
        if res.returncode != 0:
            raise BenchError(f"{what} failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")

    def argv(self, settings: GenSettings, prefix: str, vdevs: list[str], flow: Flow,
             extra: list[str] | None = None, hold: bool = False) -> list[str]:
        argv = [str(self.binary), *eal_args(str(settings.cpu), prefix, True), *vdevs, "--",
                "--duration", f"{settings.duration_s:g}",
                "--size", str(settings.size),
                "--src-mac", flow.src_mac, "--dst-mac", flow.dst_mac,
                "--src-ip", flow.src_ip, "--dst-ip", flow.dst_ip,
                "--dst-count", str(flow.dst_count), "--dst-step", str(flow.dst_step),
                "--sample-ms", str(settings.sample_ms), "--json"]
        if hold:
            argv.append("--hold")
        return argv + (extra or [])

    def start(self, procs: ProcessRegistry, name: str, argv: list[str], hold: bool) -> Proc:
        return procs.start(name, argv, stdin_pipe=hold)

    @staticmethod
    def wait_result(proc: Proc, timeout: float) -> dict:
        """The JSON line loadgen prints when done. With --hold it then waits
        for stdin to close; without, it exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in proc.stdout_text().splitlines():
                line = line.strip()
                if line.startswith("{") and line.endswith("}"):
                    return json.loads(line)
            if not proc.alive():
                # one last look: it may have printed and exited in between
                for line in proc.stdout_text().splitlines():
                    if line.strip().startswith("{"):
                        return json.loads(line)
                raise BenchError(f"loadgen exited with status {proc.popen.returncode} "
                                 f"and no result:\n{proc.stderr_tail()}")
            time.sleep(0.05)
        raise BenchError(f"loadgen gave no result within {timeout:.0f} s:\n"
                         f"{proc.stderr_tail()}")

    def probe(self, cpus: tuple[int, int]) -> dict:
        """Core-to-core cache-line round trip between the generator's and
        the DUT's CPU (see loadgen/src/c2c_probe.c)."""
        res = subprocess.run([str(self.probe_binary), "--cpus", f"{cpus[0]},{cpus[1]}",
                              "--samples", "500", "--batch", "20", "--json"],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise BenchError(f"c2c probe failed: {res.stderr.strip()}")
        return json.loads(res.stdout)
