"""The generator process (loadgen/, vrouter-loadgen --server): started once
on its ports, then given trials one after the other.

    eng = Engine([parse_port("loop")], EngineSettings(cpu=0))
    eng.start()                       # returns once every link is up
    result = eng.run_trial(text, on_progress=print)
    eng.close()

It talks JSON lines on stdout (events: ready, progress, result, error) and
takes `run FILE` / `quit` on stdin. Its stderr (DPDK's log) goes to a file
whose tail is quoted when something fails.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .errors import EngineError, PortError
from .ports import EalPort, PortSpec, eal_ports

REPO = Path(__file__).resolve().parents[3]
LOADGEN_SRC = REPO / "loadgen"
BUILD_DIR = LOADGEN_SRC / "build"
HUGEPAGE_MB = 2
DPDK_RUN_DIR = Path("/var/run/dpdk")


def build(quiet: bool = True) -> Path:
    """meson setup (once) and ninja: a no-op when nothing changed."""
    def run(argv: list[str], what: str) -> None:
        try:
            res = subprocess.run(argv, capture_output=True, text=True)
        except OSError as e:
            raise EngineError(f"{what}: {e} (apt install meson ninja-build libdpdk-dev)") from e
        if res.returncode != 0:
            raise EngineError(f"{what} failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
    if not (BUILD_DIR / "build.ninja").exists():
        run(["meson", "setup", str(BUILD_DIR), str(LOADGEN_SRC)], "meson setup loadgen")
    run(["ninja", "-C", str(BUILD_DIR)], "building loadgen")
    return BUILD_DIR / "vrouter-loadgen"


def find_binary(name: str = "vrouter-loadgen") -> Path:
    env = os.environ.get("VROUTER_LOADGEN")
    if env and name == "vrouter-loadgen":
        return Path(env)
    p = BUILD_DIR / name
    if not p.exists():
        build()
    if not p.exists():
        raise EngineError(f"{p} missing after the build")
    return p


def hugepages_free_mb() -> int:
    """Free 2 MB hugepages, in MB, if hugetlbfs is mounted; else 0."""
    try:
        mounted = any(ln.split()[2:3] == ["hugetlbfs"]
                      for ln in Path("/proc/mounts").read_text().splitlines())
        free = int(Path("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages").read_text())
    except (OSError, ValueError, IndexError):
        return 0
    return free * HUGEPAGE_MB if mounted else 0


@dataclass
class EngineSettings:
    cpu: int = 0                    # the CPU its lcore runs on
    hugepages: str = "auto"         # auto | yes | no
    memory_mb: int = 512
    slots: int = 8                  # streams per trial at most
    slot0_mbufs: int = 32767
    slot_mbufs: int = 4095
    rx_mbufs: int = 32767
    rx_queues: int = 1              # per port (2 for a memif peer sending on two: OVS)
    link_timeout_s: float = 10.0
    file_prefix: str | None = None
    extra_eal: tuple[str, ...] = ()
    log_level: str = "notice"


@dataclass
class EnginePort:
    """A user port as the generator sees it: where it sends and receives."""

    index: int                      # the user's port number
    spec: PortSpec
    tx: int                         # generator port id it sends on
    rx: int                         # ... and receives on (a loop: the other side)
    name: str = ""
    driver: str = ""
    mac: str = ""
    speed_mbps: int = 0


@dataclass
class Ready:
    tsc_hz: int
    ports: list[EnginePort]
    n_dpdk_ports: int
    slots: int
    raw: dict = field(default_factory=dict)


class Engine:
    def __init__(self, ports: list[PortSpec], settings: EngineSettings | None = None,
                 binary: Path | None = None, workdir: Path | None = None):
        if not ports:
            raise PortError("no ports: give at least one (e.g. --port loop)")
        self.specs = ports
        self.s = settings or EngineSettings()
        self.binary = binary
        self._own_workdir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="vrouter-loadgen-"))
        self.log_path = self.workdir / "loadgen.log"
        self.proc: subprocess.Popen | None = None
        self.ready: Ready | None = None
        self._events: queue.Queue = queue.Queue()
        self._reader: threading.Thread | None = None
        self._trials = 0
        self.prefix = self.s.file_prefix or f"vrlg{os.getpid()}-{id(self) % 100000}"
        self.eal: list[EalPort] = eal_ports(ports, self.workdir)

    # ---- starting ----

    def _use_hugepages(self) -> bool:
        zc = any(p.spec.zero_copy for p in self.eal)
        if self.s.hugepages == "yes":
            return True
        if self.s.hugepages == "no":
            if zc:
                raise PortError("memif zero-copy needs hugepages (hugepages=no was asked)")
            return False
        have = hugepages_free_mb() >= self.s.memory_mb
        if zc and not have:
            raise PortError(f"memif zero-copy needs {self.s.memory_mb} MB of free 2 MB hugepages "
                            "on a mounted hugetlbfs")
        return have

    def command(self) -> list[str]:
        binary = self.binary or find_binary()
        eal = ["--lcores", f"0@{self.s.cpu}", "--main-lcore", "0", "--file-prefix", self.prefix,
               "--no-telemetry", "--log-level", self.s.log_level]
        if self._use_hugepages():
            # --in-memory: no hugepage files left behind; --single-file-segments:
            # one fd per memseg list, which memif zero-copy hands to its peer.
            eal += ["--in-memory", "--socket-mem", str(self.s.memory_mb),
                    "--single-file-segments"]
        else:
            eal += ["--no-huge", "-m", str(self.s.memory_mb)]
        pci = [p for p in self.eal if p.vdev is None]
        if pci:
            for p in pci:
                eal += ["-a", p.name]
        else:
            eal.append("--no-pci")
        eal += [f"--vdev={p.vdev}" for p in self.eal if p.vdev is not None]
        eal += list(self.s.extra_eal)
        app = ["--server", "--slots", str(self.s.slots), "--slot0-mbufs", str(self.s.slot0_mbufs),
               "--slot-mbufs", str(self.s.slot_mbufs), "--rx-mbufs", str(self.s.rx_mbufs),
               "--rx-queues", str(self.s.rx_queues),
               "--link-timeout", f"{self.s.link_timeout_s:g}"]
        return [str(binary), *eal, "--", *app]

    def start(self, timeout: float | None = None) -> Ready:
        argv = self.command()
        self._log = open(self.log_path, "w")
        try:
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._log, text=True, bufsize=1,
                                         start_new_session=True)
        except OSError as e:
            raise EngineError(f"cannot start {argv[0]}: {e}") from e
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        ev = self._next_event(timeout or self.s.link_timeout_s + 60, "start")
        if ev.get("event") != "ready":
            self.close()
            raise EngineError(f"the generator did not start: {ev.get('message', ev)}\n"
                              f"{self.log_tail()}")
        self.ready = self._parse_ready(ev)
        return self.ready

    def _parse_ready(self, ev: dict) -> Ready:
        by_name = {p["name"]: p for p in ev["ports"]}
        out: list[EnginePort] = []
        i = 0
        user = 0
        while i < len(self.eal):
            ep = self.eal[i]
            if ep.spec.kind == "loop":
                rx, tx = self.eal[i], self.eal[i + 1]
                i += 2
            else:
                rx = tx = ep
                i += 1
            try:
                rxi, txi = self._port_id(by_name, rx), self._port_id(by_name, tx)
            except KeyError as e:
                raise EngineError(f"port {ep.spec.text!r}: the generator has no port {e} "
                                  f"(it has {', '.join(by_name)})") from None
            info = by_name[tx.name if tx.vdev is not None else self._pci_name(tx.name)]
            out.append(EnginePort(user, ep.spec, txi, rxi, info["name"], info["driver"],
                                  info["mac"], int(info.get("speed_mbps") or 0)))
            user += 1
        return Ready(int(ev["tsc_hz"]), out, len(ev["ports"]), int(ev["slots"]), ev)

    @staticmethod
    def _pci_name(name: str) -> str:
        return name if name.count(":") == 2 else "0000:" + name

    def _port_id(self, by_name: dict, ep: EalPort) -> int:
        name = ep.name if ep.vdev is not None else self._pci_name(ep.name)
        return int(by_name[name]["port"])

    # ---- talking ----

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                self._events.put(json.loads(line))
            except json.JSONDecodeError:
                self._events.put({"event": "error", "message": f"unparsable output: {line[:200]}"})
        self._events.put({"event": "exit"})

    def _next_event(self, timeout: float, what: str) -> dict:
        try:
            ev = self._events.get(timeout=timeout)
        except queue.Empty:
            raise EngineError(f"the generator gave no answer within {timeout:.0f} s ({what})\n"
                              f"{self.log_tail()}") from None
        if ev.get("event") == "exit":
            self.proc.wait(5)
            raise EngineError(f"the generator exited (status {self.proc.returncode}) during "
                              f"{what}:\n{self.log_tail()}")
        return ev

    def log_tail(self, lines: int = 12) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        keep = [ln for ln in text.splitlines() if ln.strip()][-lines:]
        return "\n".join("  | " + ln for ln in keep)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def run_trial(self, text: str, on_progress: Callable[[dict], None] | None = None,
                  timeout: float = 3600.0) -> dict:
        """Run the trial described by text; returns the result event."""
        if not self.alive():
            raise EngineError("the generator is not running")
        self._trials += 1
        path = self.workdir / f"trial{self._trials}.txt"
        path.write_text(text)
        try:
            self.proc.stdin.write(f"run {path}\n")
            self.proc.stdin.flush()
        except OSError as e:
            raise EngineError(f"the generator stopped listening: {e}\n{self.log_tail()}") from e
        deadline = time.monotonic() + timeout
        while True:
            ev = self._next_event(max(1.0, deadline - time.monotonic()), "a trial")
            kind = ev.get("event")
            if kind == "progress":
                if on_progress is not None:
                    on_progress(ev)
            elif kind == "result":
                return ev
            elif kind == "error":
                raise EngineError(f"the generator refused the trial: {ev.get('message')}")

    def stop_trial(self) -> None:
        """End the running trial early (its result still comes)."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGUSR1)

    def close(self, timeout: float = 10.0) -> int | None:
        """Stop the generator (after the DUT, for memif: see main.c)."""
        status = None
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.stdin.write("quit\n")
                    self.proc.stdin.close()
                except OSError:
                    pass
                try:
                    status = self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    status = self.proc.wait(5)
            else:
                status = self.proc.returncode
        if getattr(self, "_log", None) is not None:
            self._log.close()
        shutil.rmtree(DPDK_RUN_DIR / self.prefix, ignore_errors=True)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return status

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
