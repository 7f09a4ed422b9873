"""Open vSwitch with DPDK (Debian's openvswitch-switch-dpdk) as a device
under test: a netdev bridge with the two memif server ports and one
OpenFlow flow doing the router's job for the benchmark's traffic:

    ip,in_port=a,nw_dst=16.0.0.0/8 -> set source and destination MAC,
                                      decrement TTL, out port b

Its own ovsdb-server and ovs-vswitchd (database, sockets and logs in the
benchmark's work directory; the system's Open vSwitch, if any, is not
touched), pinned with its PMD thread to the DUT CPU. If the package is
missing the benchmark installs it (apt-get); if that or OVS's start fails,
check() or start() say why and the benchmark goes on without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from .duts import Dut, DutContext
from .loadgen import Flow, memif_vdev
from .procs import Proc
from .system import BenchError

OVS_DPDK = Path("/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk")
SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")
PORT_A_MAC = "02:00:00:00:0a:01"
PORT_B_MAC = "02:00:00:00:0b:01"
GW_MAC = "02:00:00:00:0b:02"


def _install() -> str | None:
    """apt-get install openvswitch-switch-dpdk; None or why it failed."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # The package's service cannot start here (no systemd) and must not:
    # a policy-rc.d refusing starts is the Debian way to say so.
    policy = Path("/usr/sbin/policy-rc.d")
    made = not policy.exists()
    if made:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        res = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                              "openvswitch-switch-dpdk"], capture_output=True, text=True,
                             env=env, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return str(e)
    finally:
        if made:
            policy.unlink(missing_ok=True)
    if res.returncode != 0 and not OVS_DPDK.exists():
        lines = (res.stderr.strip() or res.stdout.strip()).splitlines()
        return lines[-1] if lines else f"apt-get exit status {res.returncode}"
    return None


class OvsDut(Dut):
    name = "ovs"
    label = "Open vSwitch (DPDK), 1 flow"

    def __init__(self, env):
        super().__init__(env)
        self.procs: list[Proc] = []
        self.dir: Path | None = None
        self.version = ""

    @property
    def flow(self) -> Flow:
        return Flow(dst_mac=PORT_A_MAC, src_ip="198.18.0.1", dst_ip="16.0.0.1",
                    dst_count=self.env.dst_count, dst_step=self.env.dst_step)

    def check(self) -> None:
        if not OVS_DPDK.exists() or shutil.which("ovs-vsctl") is None:
            why = _install()
            if why is not None or not OVS_DPDK.exists():
                raise BenchError(f"Open vSwitch with DPDK is not installed and "
                                 f"`apt-get install openvswitch-switch-dpdk` failed: {why}")
        res = subprocess.run([str(OVS_DPDK), "--version"], capture_output=True, text=True)
        self.version = " ".join(res.stdout.split("\n")[0:2]).strip()

    def _env(self) -> dict:
        return {**os.environ, "OVS_RUNDIR": str(self.dir), "OVS_LOGDIR": str(self.dir),
                "OVS_DBDIR": str(self.dir)}

    def _ctl(self, *argv: str, timeout: float = 30) -> str:
        prog = argv[0]
        args = list(argv[1:])
        if prog == "ovs-vsctl":
            args = [f"--db=unix:{self.dir}/db.sock", f"--timeout={int(timeout)}", *args]
        elif prog == "ovs-appctl":
            args = ["-t", str(self.dir / "ovs-vswitchd.ctl"), *args]
        try:
            res = subprocess.run([prog, *args], capture_output=True, text=True, env=self._env(),
                                 timeout=timeout + 5)
        except subprocess.TimeoutExpired:
            raise BenchError(f"{prog} {' '.join(args)}: no answer in {timeout:.0f} s") from None
        if res.returncode != 0:
            raise BenchError(f"{prog} {' '.join(argv[1:])}: {res.stderr.strip()}")
        return res.stdout

    def _wait(self, path: Path, what: str, proc: Proc, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if not proc.alive():
                raise BenchError(f"{what} exited:\n{proc.stderr_tail()}\n{self._log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{what}: no {path.name} after {timeout:.0f} s\n"
                                 f"{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self) -> str:
        p = self.dir / "ovs-vswitchd.log" if self.dir else None
        if p is None or not p.exists():
            return ""
        return "\n".join(p.read_text(errors="replace").splitlines()[-15:])

    def start(self, port_a_socket: Path, port_b_socket: Path) -> DutContext:
        cpu = self.env.cpu
        self.dir = self.env.workdir / f"ovs{len(self.procs)}-{int(time.time() * 1000) % 100000}"
        self.dir.mkdir()
        db = self.dir / "conf.db"
        subprocess.run(["ovsdb-tool", "create", str(db), str(SCHEMA)], check=True,
                       capture_output=True)
        # OVS_RUNDIR: where ovs-vswitchd puts br0.mgmt, which ovs-ofctl needs
        pin = ["env", f"OVS_RUNDIR={self.dir}", f"OVS_LOGDIR={self.dir}", f"OVS_DBDIR={self.dir}",
               "taskset", "-c", str(cpu)]
        ovsdb = self.env.procs.start("ovsdb-server", [
            *pin, "ovsdb-server", str(db), f"--remote=punix:{self.dir}/db.sock",
            f"--unixctl={self.dir}/ovsdb-server.ctl", f"--log-file={self.dir}/ovsdb.log",
            f"--pidfile={self.dir}/ovsdb.pid"])
        self.procs.append(ovsdb)
        self._wait(self.dir / "db.sock", "ovsdb-server", ovsdb)
        prefix = self.env.prefixes.new("ovs")
        self._ctl("ovs-vsctl", "--no-wait", "init")
        self._ctl("ovs-vsctl", "--no-wait", "set", "Open_vSwitch", ".",
                  "other_config:dpdk-init=true",
                  "other_config:dpdk-socket-mem=512",
                  f"other_config:dpdk-lcore-mask=0x{1 << cpu:x}",
                  f"other_config:pmd-cpu-mask=0x{1 << cpu:x}",
                  f'other_config:dpdk-extra="--file-prefix={prefix} --no-pci --in-memory '
                  '--no-telemetry"')
        vsd = self.env.procs.start("ovs-vswitchd", [
            *pin, str(OVS_DPDK), f"unix:{self.dir}/db.sock",
            f"--unixctl={self.dir}/ovs-vswitchd.ctl", f"--log-file={self.dir}/ovs-vswitchd.log",
            f"--pidfile={self.dir}/ovs-vswitchd.pid"])
        self.procs.append(vsd)
        self._wait(self.dir / "ovs-vswitchd.ctl", "ovs-vswitchd", vsd, timeout=60)
        deadline = time.monotonic() + 60
        while self._ctl("ovs-vsctl", "get", "Open_vSwitch", ".",
                        "dpdk_initialized").strip() != "true":
            if not vsd.alive() or time.monotonic() > deadline:
                raise BenchError(f"ovs-vswitchd: DPDK did not initialise\n{self._log_tail()}")
            time.sleep(0.2)
        a = memif_vdev(0, "server", port_a_socket, self.env.rsize).removeprefix("--vdev=")
        b = memif_vdev(1, "server", port_b_socket, self.env.rsize).removeprefix("--vdev=")
        self._ctl("ovs-vsctl", "add-br", "br0", "--", "set", "bridge", "br0",
                  "datapath_type=netdev")
        for name, dev, mac, ofport in (("a", a, PORT_A_MAC, 1), ("b", b, PORT_B_MAC, 2)):
            self._ctl("ovs-vsctl", "add-port", "br0", name, "--", "set", "Interface", name,
                      "type=dpdk", f"options:dpdk-devargs={dev}", f"ofport_request={ofport}",
                      f'mac="{mac}"')
        for name in ("a", "b"):
            err = self._ctl("ovs-vsctl", "get", "Interface", name, "error").strip()
            if err not in ("[]", '""'):
                raise BenchError(f"ovs port {name}: {err}\n{self._log_tail()}")
        for sock in (port_a_socket, port_b_socket):
            self._wait(sock, f"ovs memif port {sock.name}", vsd)
        self._ctl("ovs-ofctl", "del-flows", "br0")
        self._ctl("ovs-ofctl", "add-flow", "br0",
                  f"priority=10,ip,in_port=1,nw_dst=16.0.0.0/8,actions=mod_dl_src:{PORT_B_MAC},"
                  f"mod_dl_dst:{GW_MAC},dec_ttl,output:2")
        self._ctl("ovs-ofctl", "add-flow", "br0", "priority=0,actions=drop")
        self._ctl("ovs-appctl", "dpif-netdev/pmd-stats-clear")
        return DutContext(pids=[vsd.pid], info={
            "version": self.version, "flows": self._ctl("ovs-ofctl", "dump-flows", "br0",
                                                       "--no-stats").strip().splitlines()})

    def counters(self) -> dict | None:
        if not self.procs:
            return None
        out: dict = {}
        try:
            stats = self._ctl("ovs-appctl", "dpif-netdev/pmd-stats-show")
            self._ctl("ovs-appctl", "dpif-netdev/pmd-stats-clear")
        except BenchError:
            return None
        for line in stats.splitlines():
            k, sep, v = line.strip().partition(":")
            if sep and v.strip():
                num = v.strip().split()[0]
                try:
                    out[k.strip()] = float(num)
                except ValueError:
                    pass
        return out

    def stop(self) -> None:
        self.teardown_problem = None
        for p in reversed(self.procs):
            status = p.kill(grace=5)
            if status not in (0, None, -15):
                self.teardown_problem = f"{p.name} exit status {status}"
        self.procs = []
