"""Starting and stopping the vrouter-dataplane process.

The dataplane is a DPDK primary process: EAL options first, then `--`, then
its own options. This module builds that command line from settings (lcores,
hugepages or not, memory) so the management plane, the tests and the
benchmarks all start it the same way.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .client import DataplaneClient, DataplaneUnavailable

REPO_ROOT = Path(__file__).resolve().parents[3]


def find_binary() -> Path:
    """The dataplane binary: $VROUTER_DATAPLANE, the build tree, or PATH."""
    env = os.environ.get("VROUTER_DATAPLANE")
    if env:
        return Path(env)
    built = REPO_ROOT / "dataplane" / "build" / "vrouter-dataplane"
    if built.exists():
        return built
    found = shutil.which("vrouter-dataplane")
    if found:
        return Path(found)
    raise FileNotFoundError(
        "vrouter-dataplane not found: build it (make -C dataplane) or set VROUTER_DATAPLANE"
    )


def hugepages_mounted() -> str | None:
    """Mount point of a hugetlbfs with free pages, or None."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    points = [ln.split()[1] for ln in mounts if ln.split()[2:3] == ["hugetlbfs"]]
    if not points:
        return None
    free = 0
    for d in Path("/sys/kernel/mm/hugepages").glob("hugepages-*"):
        try:
            free += int((d / "free_hugepages").read_text())
        except (OSError, ValueError):
            pass
    return points[0] if free > 0 else None


@dataclass
class DataplaneSettings:
    socket: Path
    main_lcore: int = 0
    worker_lcores: tuple[int, ...] = (1,)
    hugepages: str = "auto"  # "auto" | "yes" | "no"
    memory_mb: int = 512
    pci: bool = False  # scan the PCI bus (needed for NIC ports)
    file_prefix: str = "vrouter"
    mbufs: int = 32768
    nexthops: int = 65536
    neigh_table: int = 4096
    nat_sessions: int = 65536
    vrf0_routes: int = 0
    vrf0_tbl8: int = 0
    extra_eal: tuple[str, ...] = ()
    log_level: str = "notice"
    # Pin lcores to CPUs: cpus[0] for the main lcore, then one per worker
    # (default: lcore n on CPU n). Benchmarks put the control thread beside
    # its worker so the other CPU stays the generator's.
    cpus: tuple[int, ...] | None = None
    in_memory: bool = False  # no runtime files (hugepages only)
    env: dict[str, str] = field(default_factory=dict)

    def use_hugepages(self) -> bool:
        if self.hugepages == "yes":
            return True
        if self.hugepages == "no":
            return False
        return hugepages_mounted() is not None

    def command(self, binary: Path) -> list[str]:
        ids = (self.main_lcore, *self.worker_lcores)
        if self.cpus is not None:
            eal = ["--lcores", ",".join(f"{i}@{c}" for i, c in zip(ids, self.cpus))]
        else:
            eal = ["-l", ",".join(str(c) for c in ids)]
        eal += ["--main-lcore", str(self.main_lcore), "--file-prefix", self.file_prefix,
                "--log-level", self.log_level]
        if self.use_hugepages():
            eal += ["--socket-mem", str(self.memory_mb)]
            eal += ["--in-memory"] if self.in_memory else ["--huge-unlink"]
        else:
            eal += ["--no-huge", "-m", str(self.memory_mb)]
        if not self.pci:
            eal.append("--no-pci")
        eal += list(self.extra_eal)
        app = ["--socket", str(self.socket), "--mbufs", str(self.mbufs),
               "--nexthops", str(self.nexthops), "--neigh-table", str(self.neigh_table),
               "--nat-sessions", str(self.nat_sessions)]
        if self.vrf0_routes:
            app += ["--vrf0-routes", str(self.vrf0_routes)]
        if self.vrf0_tbl8:
            app += ["--vrf0-tbl8", str(self.vrf0_tbl8)]
        return [str(binary), *eal, "--", *app]


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the management plane dies,
    so a crashed appliance never leaves a dataplane polling (and holding its
    DPDK runtime directory)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class DataplaneProcess:
    """One running dataplane; `start()` returns once its socket answers."""

    def __init__(self, settings: DataplaneSettings, binary: Path | None = None,
                 log_path: Path | None = None) -> None:
        self.settings = settings
        self.binary = binary or find_binary()
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 30.0) -> DataplaneClient:
        s = self.settings
        s.socket.parent.mkdir(parents=True, exist_ok=True)
        if s.socket.exists():
            s.socket.unlink()
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            s.command(self.binary), stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, **s.env}, start_new_session=True, preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"dataplane exited with status {self.proc.returncode} during start"
                    + (f"; {self.log_path} ends with:\n{self.log_tail()}" if self.log_path
                       else ""))
            if s.socket.exists():
                client = DataplaneClient(s.socket, timeout=30.0)
                try:
                    client.connect()
                    client.hello()
                    return client
                except DataplaneUnavailable:
                    client.close()
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"dataplane did not open {s.socket} within {timeout:.0f}s")

    def log_tail(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None
        runtime = Path("/var/run/dpdk") / self.settings.file_prefix
        shutil.rmtree(runtime, ignore_errors=True)
        return self.proc.returncode
