"""Helpers for the lifecycle tests: the real `vrouter run` as a process,
traffic between namespaces timed packet by packet, what a stopped router
must not leave behind, and a dump of everything a dataplane holds."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from vrouter.config import RouterConfig
from vrouter.dataplane.client import DataplaneClient
from vrouter.dataplane.messages import VR_PORT_NONE, NeighState, NhType
from vrouter.dataplane.process import DataplaneRecord, dpdk_runtime_dir
from vrouter.demo import demo_links
from vrouter.hoststack import namespace_name


class VrouterRun:
    """`vrouter run [-c CONFIG] --run-dir RUN_DIR --name NAME [extra]` in its
    own session, its output in RUN_DIR/../NAME-<n>.log."""

    def __init__(self, cfg: RouterConfig, run_dir: Path, name: str,
                 config: Path | None = None, extra: tuple[str, ...] = ()) -> None:
        self.cfg, self.run_dir, self.name, self.config = cfg, run_dir, name, config
        self.extra = extra
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.logs: list[Path] = []

    @property
    def api(self) -> str:
        return f"unix:{self.cfg.api.socket}"

    def start(self, *extra: str, timeout: float = 90.0) -> VrouterRun:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.run_dir.parent / f"{self.name}-{len(self.logs)}.log"
        self.logs.append(self.log_path)
        argv = [sys.executable, "-m", "vrouter.cli", "run", "--run-dir", str(self.run_dir),
                "--name", self.name, *self.extra, *extra]
        if self.config is not None:
            argv += ["-c", str(self.config)]
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while "Ctrl-C stops it." not in self.log():
            if self.proc.poll() is not None:
                raise AssertionError(f"vrouter run exited with {self.proc.returncode}:\n"
                                     f"{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"vrouter run not up within {timeout}s:\n{self.log()}")
            time.sleep(0.05)
        self.wait_serving()
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, AttributeError):
            return ""

    def wait_serving(self, timeout: float = 30.0) -> None:
        with grpc.insecure_channel(self.api) as ch:
            h = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if h.Check(health_pb2.HealthCheckRequest(), timeout=2).status == \
                            health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                assert time.monotonic() < deadline, f"API not SERVING:\n{self.log()}"
                time.sleep(0.05)

    def dataplane_pid(self) -> int:
        rec = DataplaneRecord.load(self.run_dir / "dataplane.json")
        assert rec is not None and rec.alive(), "no running dataplane recorded"
        return rec.pid

    def dataplane(self) -> DataplaneClient:
        """A control-channel connection of our own (the dataplane serves several)."""
        c = DataplaneClient(self.run_dir / "dataplane.sock", timeout=10)
        c.connect()
        return c

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> tuple[int, float]:
        """(exit status, seconds it took)."""
        assert self.proc is not None
        t0 = time.monotonic()
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"vrouter run still running {timeout}s later:\n"
                                 f"{self.log()}") from None
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is cleaned up."""
        self.signal(signal.SIGKILL)
        self.proc.wait(10)

    def cleanup(self) -> None:
        """After a test: whatever is still running goes (the test failed)."""
        if self.proc is not None and self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        rec = DataplaneRecord.load(self.run_dir / "dataplane.json")
        if rec is not None and rec.alive():
            os.kill(rec.pid, signal.SIGKILL)
        for left in leftovers(self):
            if left.startswith("namespace "):
                subprocess.run(["ip", "netns", "del", left.split()[1]], check=False)
            elif left.startswith("link "):
                subprocess.run(["ip", "link", "del", left.split()[1]], check=False)


def _file_prefix_processes(name: str) -> list[int]:
    pids = []
    needle = f"\0--file-prefix\0{name}\0".encode()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if needle in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


def leftovers(run: VrouterRun, mp_pids: tuple[int, ...] = ()) -> list[str]:
    """What a stopped router has left: its namespaces (demo hosts, control
    namespaces), veths and TAPs, DPDK runtime files, shared memory and
    hugepage files, sockets, the state file, processes."""
    cfg, name = run.cfg, run.name
    out = []
    nss = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=True).stdout.split())
    ours = {h.name for h in cfg.demo_hosts} | {namespace_name(name, v.name) for v in cfg.vrfs}
    out += [f"namespace {ns}" for ns in sorted(ours & nss)]
    links = set(re.findall(r"^\d+: ([^:@]+)", subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout, re.MULTILINE))
    veths = {link.router_if for _, link in demo_links(cfg)}
    out += [f"link {ln}" for ln in sorted(veths & links)]
    taps = tuple(f"vt{p % 10000}x" for p in mp_pids)  # control TAPs before their move
    out += [f"link {ln}" for ln in sorted(links) if taps and ln.startswith(taps)]
    rt = dpdk_runtime_dir(name)
    if rt.exists():
        out.append(f"DPDK runtime dir {rt}: {sorted(os.listdir(rt))}")
    for d in (Path("/dev/shm"), Path("/dev/hugepages")):
        if d.is_dir():
            out += [f"file {f}" for f in sorted(d.iterdir()) if f.name.startswith(name)]
    for f in (Path(cfg.api.socket), run.run_dir / "dataplane.sock",
              run.run_dir / "dataplane.json"):
        if f.exists():
            out.append(f"file {f}")
    out += [f"process {p} (--file-prefix {name})" for p in _file_prefix_processes(name)]
    out += [f"process {p} (management plane)" for p in mp_pids if Path(f"/proc/{p}").exists()
            and "Z" not in Path(f"/proc/{p}/stat").read_text().split(")")[-1][:3]]
    return out


# ---- traffic ----

@dataclass
class Replies:
    sent: int
    times: list[tuple[int, float]]  # (icmp_seq, wall-clock time of the reply)

    @property
    def received(self) -> int:
        return len(self.times)

    def gap_around(self, t: float) -> float:
        """Seconds between the last reply before `t` and the first after it."""
        before = [ts for _, ts in self.times if ts <= t]
        after = [ts for _, ts in self.times if ts > t]
        assert before, "no reply before the event"
        assert after, "no reply after the event: forwarding never resumed"
        return min(after) - max(before)

    def longest_gap(self, start: float = 0.0, end: float = float("inf")) -> float:
        ts = sorted(ts for _, ts in self.times if start <= ts <= end)
        return max((b - a for a, b in itertools.pairwise(ts)), default=0.0)

    def lost_between(self, start: float, end: float, interval: float) -> int:
        """Echo requests sent in [start, end] that got no reply (the seqs
        between replies received in that window)."""
        seqs = sorted(s for s, ts in self.times if start <= ts <= end)
        return sum(b - a - 1 for a, b in itertools.pairwise(seqs))


class Pinger:
    """ping -D at a fast interval from a namespace; stop() -> Replies."""

    LINE = re.compile(r"^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+)")

    def __init__(self, ns: str, dst: str, interval: float = 0.005) -> None:
        self.interval = interval
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, "ping", "-D", "-n", "-i", str(interval), dst],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self) -> Replies:
        self.proc.send_signal(signal.SIGINT)
        text, _ = self.proc.communicate(10)
        times = [(int(m.group(2)), float(m.group(1)))
                 for m in map(self.LINE.match, text.splitlines()) if m]
        sent = re.search(r"(\d+) packets transmitted", text)
        assert sent, text[-500:]
        return Replies(int(sent.group(1)), times)


def wait_for_replies(ns: str, dst: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", dst],
                         capture_output=True, check=False).returncode != 0:
        assert time.monotonic() < deadline, f"{ns} cannot reach {dst}"


# ---- a dataplane's whole contents, comparable across processes ----

def dataplane_dump(dp: DataplaneClient, macs: bool = True) -> dict:
    """Everything the dataplane holds that configuration decides, with port
    and next-hop ids replaced by names and content. macs=False: without what
    differs each time devices are created (MACs of veths and TAPs, TAP
    devargs; and a TAP port's MTU, which only its creation sets: once the
    TAP is in its namespace the kernel side holds the MTU), so two
    dataplanes programmed alike dump alike."""
    ports = dp.port_list()
    pname = {p.port: p.name for p in ports}
    pname[VR_PORT_NONE] = None
    nhs = {n.id: n for n in dp.nh_list()}

    def nh(i: int):
        n = nhs.get(i)
        if n is None:
            return ("id", i)  # the dataplane's own (connected, local, broadcast)
        t = NhType(n.type).name if n.type in NhType._value2member_map_ else n.type
        return (t, pname.get(n.port) if n.type == NhType.GATEWAY else None,
                str(n.gw) if n.gw else None, tuple(sorted(map(nh, n.members))))

    vrfs = {v.vrf: (v.max_routes, v.num_tbl8) for v in dp.vrf_list()}
    params = {k: v for k, v in dp.nat_params_get().items()
              if k not in ("sessions", "mappings")}
    return {
        "vrfs": vrfs,
        "ports": {p.name: (p.devargs if macs or p.exception_of == VR_PORT_NONE else "(tap)",
                           p.vrf, p.mtu if macs or p.exception_of == VR_PORT_NONE else None,
                           p.mac if macs else None, p.admin_up,
                           tuple(sorted(map(str, p.addrs))), pname.get(p.punt_port),
                           pname.get(p.exception_of)) for p in ports},
        "routes": {vid: sorted((str(r.prefix), nh(r.nh_id)) for r in dp.route_list(vid))
                   for vid in vrfs},
        "neighbors": sorted((pname[n.port], str(n.ip), n.mac) for n in dp.neigh_list()
                            if n.state == NeighState.PERMANENT),
        "nat": sorted((r.id, r.type, r.vrf, r.proto, pname.get(r.out_port) if r.type == 1
                       else None, r.masquerade, r.pool, str(r.match), r.port_lo, r.port_hi,
                       str(r.ext_ip), r.ext_port, str(r.int_ip), r.int_port)
                      for r in dp.nat_rule_list()),
        "params": (dp.params_get(), params),
    }

