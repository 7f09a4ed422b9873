"""Starting, adopting and stopping the vrouter-dataplane process.

The dataplane is a DPDK primary process: EAL options first, then `--`, then
its own options. This module builds that command line from settings (lcores,
hugepages or not, memory) so the management plane, the tests and the
benchmarks all start it the same way.

Two lifetimes:
- Given a `state_path` (the appliance: /run/vrouter/dataplane.json), the
  dataplane runs in its own session and outlives the management plane: a
  management plane that crashes leaves it forwarding, and the next one
  `adopt()`s it from the pid, process start time and socket the state file
  records. `stop()` ends it (SIGTERM, then SIGKILL) and removes what it leaves
  behind: its DPDK runtime directory, its socket, the state file.
- Without one (packet tests, benchmarks), it dies with its parent
  (PR_SET_PDEATHSIG), so a killed test run leaves no dataplane polling.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .client import DataplaneClient, DataplaneUnavailable

REPO_ROOT = Path(__file__).resolve().parents[3]

log = logging.getLogger("vrouter.dataplane")


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
    queue_size: int = 0  # rings between threads; 0: the dataplane's default (4096)
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
        if self.queue_size:
            app += ["--queue-size", str(self.queue_size)]
        return [str(binary), *eal, "--", *app]


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the parent dies, so a
    killed test or benchmark never leaves a dataplane polling (and holding
    its DPDK runtime directory)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def dpdk_runtime_dir(file_prefix: str, env: dict[str, str] | None = None,
                     uid: int | None = None) -> Path:
    """Where EAL keeps a primary process's runtime files (config, fbarrays,
    the multi-process socket): /var/run/dpdk/<prefix> as root, else
    $XDG_RUNTIME_DIR/dpdk/<prefix> or /tmp/dpdk/<prefix> (eal_create_runtime_dir)."""
    env = os.environ if env is None else env
    if (os.geteuid() if uid is None else uid) == 0:
        base = "/var/run"
    else:
        base = env.get("XDG_RUNTIME_DIR") or "/tmp"
    return Path(base) / "dpdk" / file_prefix


def _start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of
    /proc/PID/stat), which tells it from a later process given the same pid;
    None if there is no such process or it is a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


@dataclass
class DataplaneRecord:
    """What the state file says about a running dataplane."""

    pid: int
    start_time: int
    socket: str
    file_prefix: str
    command: list[str]
    started: float  # time.time()

    def save(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1) + "\n")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> DataplaneRecord | None:
        try:
            d = json.loads(path.read_text())
            return cls(**{k: d[k] for k in cls.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def alive(self) -> bool:
        return _start_time(self.pid) == self.start_time


class DataplaneProcess:
    """One running dataplane; `start()` returns once its socket answers."""

    def __init__(self, settings: DataplaneSettings, binary: Path | None = None,
                 log_path: Path | None = None, state_path: Path | None = None) -> None:
        self.settings = settings
        self.binary = binary or find_binary()
        self.log_path = log_path
        self.state_path = state_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.adopted: DataplaneRecord | None = None  # a dataplane we did not start
        self.returncode: int | None = None  # of the last one stopped, when known
        self._log = None

    @property
    def pid(self) -> int | None:
        if self.proc is not None:
            return self.proc.pid
        return self.adopted.pid if self.adopted else None

    def runtime_dir(self) -> Path:
        return dpdk_runtime_dir(self.settings.file_prefix, {**os.environ, **self.settings.env})

    def start(self, timeout: float = 30.0) -> DataplaneClient:
        s = self.settings
        s.socket.parent.mkdir(parents=True, exist_ok=True)
        if s.socket.exists():
            s.socket.unlink()
        self._log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.adopted = None
        self.returncode = None
        command = s.command(self.binary)
        # Its own session either way: a Ctrl-C at the terminal is the
        # management plane's to handle (it stops the dataplane in order).
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, **s.env}, start_new_session=True,
            preexec_fn=None if self.state_path else _die_with_parent,
        )
        if self.state_path is not None:
            start_time = _start_time(self.proc.pid)
            if start_time is not None:
                DataplaneRecord(self.proc.pid, start_time, str(s.socket), s.file_prefix,
                                command, time.time()).save(self.state_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._forget()
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

    def recorded(self) -> DataplaneRecord | None:
        """The dataplane the state file names, if it is still running."""
        if self.state_path is None:
            return None
        rec = DataplaneRecord.load(self.state_path)
        return rec if rec is not None and rec.alive() else None

    def adopt(self, timeout: float = 5.0) -> DataplaneClient | None:
        """Connects to the dataplane the state file records, if it runs with
        our file prefix and socket and answers; None otherwise (see
        `clear_leftovers()`)."""
        rec = self.recorded()
        s = self.settings
        if rec is None:
            return None
        if rec.file_prefix != s.file_prefix or rec.socket != str(s.socket):
            log.warning("the running dataplane (pid %d) has file prefix %s and socket %s, "
                        "not %s and %s: not adopting it", rec.pid, rec.file_prefix,
                        rec.socket, s.file_prefix, s.socket)
            return None
        client = DataplaneClient(s.socket, timeout=timeout)
        try:
            client.connect()
            hello = client.hello()
        except (DataplaneUnavailable, OSError, ValueError) as e:
            client.close()
            log.warning("the running dataplane (pid %d) does not answer on %s (%s): not "
                        "adopting it", rec.pid, s.socket, e)
            return None
        if hello.pid != rec.pid:
            client.close()
            log.warning("%s is served by pid %d, not the recorded %d: not adopting it",
                        s.socket, hello.pid, rec.pid)
            return None
        client.timeout = 30.0
        self.proc, self.adopted, self.returncode = None, rec, None
        return client

    def clear_leftovers(self) -> None:
        """Before a fresh start: a recorded dataplane that still runs (not
        adopted) is stopped; a dead one's runtime files are removed."""
        if self.state_path is None:
            return
        rec = DataplaneRecord.load(self.state_path)
        if rec is not None and rec.alive():
            if rec.file_prefix != self.settings.file_prefix:
                log.warning("%s records a dataplane of another appliance (pid %d, file prefix "
                            "%s): leaving it alone", self.state_path, rec.pid, rec.file_prefix)
                return
            log.warning("stopping the dataplane a previous management plane left (pid %d)",
                        rec.pid)
            self.adopted = rec
            self.stop()
            return
        self._cleanup(rec)

    def log_tail(self, lines: int = 8) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, AttributeError):
            return ""

    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.adopted is not None and self.adopted.alive()

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it does not exit; removes its runtime
        directory, socket and state file. Returns the exit status when known
        (not for an adopted dataplane: it is not our child)."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.error("the dataplane (pid %d) ignored SIGTERM for %.0fs: SIGKILL",
                              self.proc.pid, timeout)
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
        elif self.adopted is not None:
            self._stop_adopted(self.adopted, timeout)
        else:
            return None
        rec, self.adopted = self.adopted, None
        self._forget()
        self._cleanup(rec)
        return self.returncode

    def _stop_adopted(self, rec: DataplaneRecord, timeout: float) -> None:
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not rec.alive():
                return
            try:
                os.kill(rec.pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + wait
            while rec.alive() and time.monotonic() < deadline:
                time.sleep(0.02)
            if sig == signal.SIGTERM and rec.alive():
                log.error("the dataplane (pid %d) ignored SIGTERM for %.0fs: SIGKILL",
                          rec.pid, timeout)

    def _forget(self) -> None:
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def _cleanup(self, rec: DataplaneRecord | None) -> None:
        """What a stopped (or dead) dataplane leaves: EAL's runtime directory
        (removed only at exit, never after a crash), the control socket (left
        by a crash), the state file."""
        shutil.rmtree(self.runtime_dir(), ignore_errors=True)
        for path in {self.settings.socket, *([Path(rec.socket)] if rec else [])}:
            try:
                path.unlink()
            except (FileNotFoundError, IsADirectoryError):
                pass
            except OSError as e:
                log.warning("cannot remove %s: %s", path, e.strerror)
        if self.state_path is not None:
            cur = DataplaneRecord.load(self.state_path)
            if cur is None or rec is None or cur.pid == rec.pid or not cur.alive():
                self.state_path.unlink(missing_ok=True)
