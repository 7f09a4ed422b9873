"""The machine: hugepages, DPDK runtime directories, and a description of
the conditions a result was measured under."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HUGEPAGE_KB = 2048
NR_HUGEPAGES = Path(f"/sys/kernel/mm/hugepages/hugepages-{HUGEPAGE_KB}kB/nr_hugepages")
DPDK_RUN_DIR = Path("/var/run/dpdk")


class BenchError(Exception):
    """A problem the user can fix; printed without a traceback."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise BenchError("run as root: hugepages, hugetlbfs and DPDK need it")


def _mounted_hugetlbfs() -> list[str]:
    mounts = []
    with open("/proc/mounts") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "hugetlbfs":
                mounts.append(parts[1])
    return mounts


def _hugetlbfs_users(mount_point: Path) -> list[str]:
    """'comm[pid]' of the processes with memory mapped from mount_point."""
    users = []
    prefix = str(mount_point).rstrip("/") + "/"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as f:
                if any(prefix in line for line in f):
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                    users.append(f"{comm}[{pid}]")
        except OSError:
            continue
    return users


def _meminfo(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


@dataclass
class Hugepages:
    """Reserve 2 MB hugepages and mount hugetlbfs for the run, then put back
    exactly what was there before (page count, mount, mount point).

    Use as a context manager; restore() is idempotent so a signal handler
    or a finally block can both call it."""

    pages: int = 512
    mount_point: Path = Path("/dev/hugepages")
    _prev_pages: int | None = None
    _mounted: bool = False
    _made_dir: bool = False
    description: dict = field(default_factory=dict)

    def __enter__(self) -> Hugepages:
        self.setup()
        return self

    def __exit__(self, *exc) -> None:
        self.restore()

    def setup(self) -> None:
        if not NR_HUGEPAGES.exists():
            raise BenchError(f"no {HUGEPAGE_KB} kB hugepage support ({NR_HUGEPAGES} missing)")
        nr = int(NR_HUGEPAGES.read_text())
        free_pages = _meminfo("HugePages_Free")
        if free_pages < self.pages:
            # nr_hugepages counts surplus pages (made on demand for others,
            # and freed when they let go) too: give back only what was
            # persistent. Others may hold pages: grow by what is missing.
            self._prev_pages = nr - _meminfo("HugePages_Surp")
            NR_HUGEPAGES.write_text(str(nr + self.pages - free_pages))
        free_pages = _meminfo("HugePages_Free")
        if free_pages < self.pages:
            self.restore()
            raise BenchError(
                f"only {free_pages} free {HUGEPAGE_KB} kB hugepages after asking for "
                f"{self.pages} (memory too fragmented? try fewer with --hugepages)")

        mounts = _mounted_hugetlbfs()
        if mounts:
            mount_point = mounts[0]
        else:
            if not self.mount_point.exists():
                self.mount_point.mkdir(parents=True)
                self._made_dir = True
            subprocess.run(["mount", "-t", "hugetlbfs", "none", str(self.mount_point)],
                           check=True)
            self._mounted = True
            mount_point = str(self.mount_point)
        self.description = {
            "page_size_kB": HUGEPAGE_KB,
            "pages_free_at_start": free_pages,
            "pages_reserved_by_bench": (int(NR_HUGEPAGES.read_text()) - self._prev_pages
                                        if self._prev_pages is not None else 0),
            "hugetlbfs": mount_point,
            "hugetlbfs_mounted_by_bench": self._mounted,
        }

    def restore(self) -> None:
        if self._mounted:
            res = subprocess.run(["umount", str(self.mount_point)], capture_output=True,
                                 text=True)
            if res.returncode != 0:
                # Another DPDK process on the machine found our mount and
                # took pages from it: never pull memory from under it.
                users = _hugetlbfs_users(self.mount_point)
                print(f"warning: cannot unmount {self.mount_point} ({res.stderr.strip()}); "
                      f"in use by {', '.join(users) or 'another process'}. Left mounted: "
                      f"umount {self.mount_point}"
                      + (f" && rmdir {self.mount_point}" if self._made_dir else "")
                      + " once they exit.", file=sys.stderr)
                self._made_dir = False
            self._mounted = False
        if self._made_dir:
            try:
                self.mount_point.rmdir()
            except OSError as e:
                print(f"warning: rmdir {self.mount_point}: {e}", file=sys.stderr)
            self._made_dir = False
        if self._prev_pages is not None:
            NR_HUGEPAGES.write_text(str(self._prev_pages))
            self._prev_pages = None


class DpdkPrefixes:
    """Hands out a fresh --file-prefix per DPDK process and removes what
    those processes leave in /var/run/dpdk (a directory each, even with
    --in-memory). Touches nothing it did not hand out: other DPDK users
    may share the machine."""

    def __init__(self, tag: str):
        self.tag = tag
        self.count = 0
        self.issued: list[str] = []
        self.made_run_dir = not DPDK_RUN_DIR.exists()

    def new(self, role: str) -> str:
        self.count += 1
        prefix = f"{self.tag}-{role}{self.count}"
        self.issued.append(prefix)
        return prefix

    def cleanup(self) -> None:
        for prefix in self.issued:
            shutil.rmtree(DPDK_RUN_DIR / prefix, ignore_errors=True)
        self.issued.clear()
        if self.made_run_dir:
            try:
                DPDK_RUN_DIR.rmdir()  # only if empty: someone else may use it now
            except OSError:
                pass


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _hypervisor() -> str | None:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"^Hypervisor vendor:\s*(.+)$", out, re.M)
    return m.group(1).strip() if m else None


def _dpdk_version() -> str:
    try:
        out = subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                             text=True)
        if out.returncode == 0:
            return out.stdout.strip()
    except OSError:
        pass
    return "unknown"


def _git_describe(repo: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True)
    except OSError:
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"],
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def machine_info(repo: Path) -> dict:
    return {
        "cpu_model": _cpu_model(),
        "cpus_online": os.cpu_count(),
        "hypervisor": _hypervisor(),
        "kernel": platform.release(),
        "os": _os_release(),
        "dpdk": _dpdk_version(),
        "python": platform.python_version(),
        "git": _git_describe(repo),
    }


def _os_release() -> str:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return platform.system()
    m = re.search(r'^PRETTY_NAME="?([^"\n]+)"?', text, re.M)
    return m.group(1) if m else platform.system()
