"""The container entrypoint, run here as a container runtime would run it: as
PID 1 of a new PID namespace, with the configuration at a mounted path, probed
through the standard gRPC health service, and stopped with SIGTERM. After the
stop nothing it made may remain: namespaces, veth/tap interfaces, DPDK runtime
directories, hugepage files, sockets, processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy" / "entrypoint.sh"
HEALTHCHECK = ROOT / "deploy" / "healthcheck.py"
NR_HUGEPAGES = Path("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (DPDK, namespaces)")

# Ports only, as in a pod whose interfaces Multus attached: af_packet on an
# existing interface, plus a tap and a memif the dataplane makes itself.
# ${...} are filled in by the entrypoint (the Kubernetes manifests' style).
PORTS = """
api: {{socket: {run}/api.sock}}
dataplane: {{main_lcore: ${{VROUTER_CPU_0}}, workers: [${{VROUTER_CPU_1}}], hugepages: {huge},
            memory_mb: 256, mbufs: 4096}}
interfaces:
  wan: {{device: "net_af_packet40,iface=${{DP_TEST_IFACE}}", addresses: [10.61.0.1/24]}}
  tap: {{device: "net_tap40,iface=dp-tap0", addresses: [10.61.1.1/24]}}
  mem: {{device: "net_memif40,role=server,id=0,socket={run}/memif.sock,socket-abstract=no",
         addresses: [10.61.2.1/24]}}
"""

DEMO = """
api: {{socket: {run}/api.sock}}
dataplane: {{workers: [1], hugepages: no, memory_mb: 256, mbufs: 4096}}
interfaces:
  lan1: {{device: "net_af_packet41,iface=dp-r1", addresses: [10.62.1.1/24]}}
  lan2: {{device: "net_af_packet42,iface=dp-r2", addresses: [10.62.2.1/24]}}
demo_hosts:
  - {{name: dp-h1, interface: lan1, address: 10.62.1.2/24, gateway: 10.62.1.1}}
  - {{name: dp-h2, interface: lan2, address: 10.62.2.2/24, gateway: 10.62.2.1}}
"""


def links() -> set[str]:
    return set(os.listdir("/sys/class/net"))


def netns() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def hugetlb_kb(pid: int) -> int:
    """Hugepage memory mapped by a process."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith(("Private_Hugetlb:", "Shared_Hugetlb:")):
            total += int(line.split()[1])
    return total


def processes_mentioning(text: str) -> list[str]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(f"{d.name}: {cmd}")
    return found


class Container:
    """The entrypoint as PID 1 of its own PID namespace (what `docker run`
    does), its configuration mounted at <tmp>/etc/vrouter/router.yaml."""

    def __init__(self, tmp: Path, config: str, name: str, env: dict[str, str] | None = None):
        self.tmp, self.name = tmp, name
        self.run = tmp / "run"
        etc = tmp / "etc" / "vrouter"
        etc.mkdir(parents=True)
        self.config = etc / "router.yaml"
        self.config.write_text(config.format(run=self.run, huge="no"))
        self.env = {**os.environ, "VROUTER_CONFIG": str(self.config),
                    "VROUTER_RUN_DIR": str(self.run), "VROUTER_NAME": name, **(env or {})}
        self.log = tmp / "container.log"
        self.proc: subprocess.Popen | None = None
        self.init = 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["unshare", "--pid", "--fork", "--kill-child", str(ENTRYPOINT)],
            env=self.env, stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 5
        while not (kids := children(self.proc.pid)):
            assert time.monotonic() < deadline, "unshare started no child"
            time.sleep(0.01)
        self.init = kids[0]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def probe(self, *args: str, wait: float = 0) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(HEALTHCHECK), "--socket",
                               str(self.run / "api.sock"), "--wait", str(wait), *args],
                              capture_output=True, text=True, timeout=wait + 30)

    def wait_serving(self) -> None:
        r = self.probe("--ready", wait=40)
        assert r.returncode == 0, f"{r.stderr}\n--- container output:\n{self.output()}"
        assert "SERVING" in r.stdout

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int:
        assert self.proc is not None
        os.kill(self.init, sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"no exit {timeout}s after {sig!r}:\n{self.output()}")

    def kill(self) -> None:
        """After a failed test: SIGKILL, then remove by hand what it made."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            for ns in netns():
                if ns.startswith(f"{self.name}-") or ns in ("dp-h1", "dp-h2"):
                    subprocess.run(["ip", "netns", "del", ns], check=False)
            for link in ("dp-tap0", "dp-r1", "dp-r2"):
                subprocess.run(["ip", "link", "del", link], check=False, capture_output=True)
            shutil.rmtree(f"/var/run/dpdk/{self.name}", ignore_errors=True)


@pytest.fixture
def container(tmp_path):
    made: list[Container] = []

    def make(config: str, name: str, env: dict[str, str] | None = None) -> Container:
        c = Container(tmp_path, config, name, env)
        made.append(c)
        return c

    yield make
    for c in made:
        c.kill()


@pytest.fixture
def veth():
    """An interface for an af_packet port, as Multus would attach it."""
    subprocess.run(["ip", "link", "add", "dp-wan0", "type", "veth", "peer", "name", "dp-wan1"],
                   check=True)
    subprocess.run(["ip", "link", "set", "dp-wan0", "up"], check=True)
    yield "dp-wan0"
    subprocess.run(["ip", "link", "del", "dp-wan0"], check=False)


@pytest.fixture(params=["no", "yes"], ids=["no-hugepages", "hugepages"])
def hugepages(request, tmp_path):
    """None, or 128 more 2 MB pages on a private hugetlbfs mount, given back
    afterwards. Set up before the container, torn down after it."""
    if request.param == "no":
        yield None
        return
    before = int(NR_HUGEPAGES.read_text())
    NR_HUGEPAGES.write_text(str(before + 128))
    if int(NR_HUGEPAGES.read_text()) < before + 128:
        NR_HUGEPAGES.write_text(str(before))
        pytest.fail("cannot reserve hugepages on this machine")
    mnt = tmp_path / "hugepages"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "hugetlbfs", "none", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)
    NR_HUGEPAGES.write_text(str(before))


def assert_nothing_left(c: Container, made_links=(), made_netns=()) -> None:
    assert not (set(made_links) & links()), "interfaces left behind"
    assert not (set(made_netns) & netns()), "network namespaces left behind"
    # control namespaces are named after the appliance (VROUTER_NAME)
    assert not [n for n in netns() if n.startswith(f"{c.name}-")], "control namespaces left"
    assert not Path(f"/var/run/dpdk/{c.name}").exists(), "DPDK runtime directory left behind"
    assert not [p.name for p in c.run.glob("*.sock")], "sockets left behind"
    deadline = time.monotonic() + 3  # the log follower notices within a second
    while (left := processes_mentioning(str(c.run))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left behind: {left}"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs")
def test_sigterm_stops_ports_config_cleanly(hugepages, container, veth):
    huge = "no" if hugepages is None else "yes"
    c = container(PORTS, f"dpports{huge}", env={"DP_TEST_IFACE": veth})
    c.config.write_text(PORTS.format(run=c.run, huge=huge))
    c.start()
    c.wait_serving()
    assert "dp-tap0" in links() and (c.run / "memif.sock").exists()
    assert f"{c.name}-default" in netns()  # the control namespace, with its TAPs
    # It really is PID 1 of its namespace, and runs tini there.
    status = Path(f"/proc/{c.init}/status").read_text()
    assert next(ln for ln in status.splitlines() if ln.startswith("NSpid:")).split()[-1] == "1"
    assert Path(f"/proc/{c.init}/comm").read_text().strip() == "tini"
    # The ${...} were filled in: lcores from this CPU set, the interface from the environment.
    rendered = (c.run / "router.yaml").read_text()
    cpus = sorted(os.sched_getaffinity(0))
    assert f"main_lcore: {cpus[0]}, workers: [{cpus[1]}]" in rendered
    assert f"iface={veth}" in rendered
    dp = [p for p in processes_mentioning(f"--file-prefix {c.name}") if "vrouter-dataplane" in p]
    assert len(dp) == 1
    assert ("--no-huge" in dp[0]) == (huge == "no")
    assert (hugetlb_kb(int(dp[0].split(":")[0])) > 0) == (huge == "yes")

    assert c.stop() == 0, c.output()
    assert_nothing_left(c, made_links={"dp-tap0"})
    assert not (c.run / "memif.sock").exists()
    if hugepages is not None:
        assert list(hugepages.iterdir()) == []  # no hugepage files hold pages


def test_sigterm_stops_demo_hosts_config_cleanly(container):
    c = container(DEMO, "dpdemo")
    c.start()
    c.wait_serving()
    assert {"dp-h1", "dp-h2"} <= netns() and {"dp-r1", "dp-r2"} <= links()
    ping = subprocess.run(["ip", "netns", "exec", "dp-h1", "ping", "-c", "1", "-W", "2",
                           "10.62.2.2"], capture_output=True, text=True, timeout=10)
    assert "1 received" in ping.stdout, ping.stdout + ping.stderr
    assert c.probe("--live").returncode == 0
    # PID 1 reaps orphans: a process whose parent exits becomes tini's child.
    subprocess.run(["nsenter", f"--pid=/proc/{c.init}/ns/pid", "--", "sh", "-c",
                    "sleep 0.2 & exit 0"], check=True)
    time.sleep(0.6)
    zombies = [p for p in children(c.init)
               if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"]
    assert not zombies

    assert c.stop() == 0, c.output()
    assert_nothing_left(c, made_links={"dp-r1", "dp-r2"}, made_netns={"dp-h1", "dp-h2"})
    out = c.output()
    assert "entrypoint: config " in out and "vrouter running (2 interfaces)" in out
    assert "vrouter-dataplane ready" in out  # the dataplane's log is on the container's output


def test_health_probe_fails_without_a_server(tmp_path):
    r = subprocess.run([sys.executable, str(HEALTHCHECK), "--socket", str(tmp_path / "none.sock"),
                        "--live", "--timeout", "1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "UNAVAILABLE" in r.stderr


def test_missing_config_or_variable_is_refused_before_anything_starts(tmp_path):
    env = {**os.environ, "VROUTER_CONFIG": str(tmp_path / "absent.yaml"),
           "VROUTER_RUN_DIR": str(tmp_path / "run")}
    r = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "absent.yaml" in r.stderr
    cfg = tmp_path / "router.yaml"
    cfg.write_text('interfaces:\n  wan: {device: "${DP_TEST_UNSET_PCI}"}\n')
    env["VROUTER_CONFIG"] = str(cfg)
    env.pop("DP_TEST_UNSET_PCI", None)
    r = subprocess.run([str(ENTRYPOINT)], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "router.yaml:2: ${DP_TEST_UNSET_PCI} is not set" in r.stderr


def test_other_commands_run_instead_of_the_appliance():
    r = subprocess.run([str(ENTRYPOINT), "vrouter", "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "usage" in r.stdout.lower()
