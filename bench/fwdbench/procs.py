"""Processes of a trial: started in their own session, logged to files,
and always killed (by process group id) before the benchmark exits."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import time
from pathlib import Path

from .system import BenchError


class Proc:
    """One child process. stdout and stderr go to files in the work dir
    (so a chatty child can never block on a full pipe); stdin is a pipe
    when asked for, to drive testpmd's "Press enter" and loadgen's --hold."""

    def __init__(self, name: str, argv: list[str], workdir: Path, stdin_pipe: bool = False):
        self.name = name
        self.argv = argv
        self.out_path = workdir / f"{name}.out"
        self.err_path = workdir / f"{name}.err"
        self._out = open(self.out_path, "w")
        self._err = open(self.err_path, "w")
        try:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=self._out, stderr=self._err, start_new_session=True)
        except OSError as e:
            self._close_files()
            raise BenchError(f"cannot start {name} ({argv[0]}): {e}") from e

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stdout_text(self) -> str:
        return self.out_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            text = self.err_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_text(self, text: str, timeout: float, stream: str = "out") -> bool:
        """Poll the log until text shows up; False on timeout or exit."""
        path = self.out_path if stream == "out" else self.err_path
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in path.read_text(errors="replace"):
                return True
            if not self.alive():
                return text in path.read_text(errors="replace")
            time.sleep(0.02)
        return False

    def close_stdin(self) -> None:
        if self.popen.stdin and not self.popen.stdin.closed:
            try:
                self.popen.stdin.close()
            except OSError:
                pass

    def write_stdin(self, data: str) -> None:
        if self.popen.stdin and not self.popen.stdin.closed:
            try:
                self.popen.stdin.write(data.encode())
                self.popen.stdin.flush()
            except OSError:
                pass

    def wait(self, timeout: float) -> int | None:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self, grace: float = 3.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after grace seconds."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
            if self.wait(grace) is None:
                self._signal_group(signal.SIGKILL)
                self.wait(5)
        self.close_stdin()
        self._close_files()
        return self.popen.returncode

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except ProcessLookupError:
            pass

    def _close_files(self) -> None:
        for f in (self._out, self._err):
            if not f.closed:
                f.close()


class ProcessRegistry:
    """Every process the benchmark starts, so that any exit path (error,
    Ctrl-C, SIGTERM) can kill what is still running."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.procs: list[Proc] = []

    def start(self, name: str, argv: list[str], stdin_pipe: bool = False) -> Proc:
        p = Proc(name, argv, self.workdir, stdin_pipe)
        self.procs.append(p)
        return p

    def kill_all(self) -> None:
        for p in self.procs:
            p.kill(grace=2.0)
        self.procs.clear()


def wait_for_socket(path: Path, timeout: float, proc: Proc | None = None) -> None:
    """Wait until a unix socket exists at path (a memif server is listening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if stat.S_ISSOCK(path.stat().st_mode):
                return
        except FileNotFoundError:
            pass
        if proc is not None and not proc.alive():
            raise BenchError(f"{proc.name} exited before creating {path}:\n"
                             f"{proc.stderr_tail()}")
        time.sleep(0.02)
    raise BenchError(f"no memif socket at {path} after {timeout:.0f} s")


def _schedstat_ns(pids: list[int], field: int) -> int | None:
    """A field of /proc/PID/task/TID/schedstat summed over every thread of
    these processes; None if the kernel says nothing."""
    total = 0
    seen = False
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[field])
                    seen = True
            except (OSError, IndexError, ValueError):
                continue
    return total if seen else None


def runqueue_wait_ns(pids: list[int]) -> int | None:
    """Total time the threads of these processes spent runnable but not
    running (schedstat field 2): CPU time another task on the same CPU took
    from them. None if the kernel does not say."""
    return _schedstat_ns(pids, 1)


def runtime_ns(pids: list[int]) -> int | None:
    """Total CPU time the threads of these processes have run (schedstat
    field 1). For a poll-mode DUT alone on its CPU it grows as fast as the
    clock: wall time minus its growth is what others (processes,
    interrupts) took from it. None if unknown."""
    return _schedstat_ns(pids, 0)
