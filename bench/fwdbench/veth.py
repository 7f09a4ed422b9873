"""The veth section of the NDR benchmark: the generator's af_packet ports on
veth pairs into a device under test in another network namespace.

    namespace G (generator)          namespace D (device under test)
      lg0  <---------- veth ---------->  lgd0   198.18.255.254/16
      lg1  <---------- veth ---------->  lgd1   198.19.0.254/24
      lgc0 <-- veth --> lgc1                    (the generator's own ceiling)

Both sides live in namespaces of their own so that nothing of the test
traffic can reach the host's stack (which may forward), and IPv6 is off on
every test interface so that the kernel sends nothing of its own there.

Where the forwarding work runs: a frame sent into a veth is received by the
peer in the sender's context; RPS on lgd0 moves it to the DUT's CPU, so that
the kernel (and vrouter's af_packet receive) forward on the same core as a
DPDK DUT would. Contenders:

  kernel      Linux IPv4 forwarding in D: a route to 16.0.0.0/8 via a
              static neighbour on lgd1
  kernel-nat  the same plus nftables masquerade on lgd1 (conntrack), with
              100,000 source address:port pairs
  vrouter     vrouter's dataplane in D with af_packet ports on lgd0/lgd1
              (one worker on the DUT CPU, same routes as over memif)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .loadgen import Flow
from .system import BenchError

GW = "198.19.0.1"
AF_PACKET_ARGS = "framecnt=2048,qdisc_bypass=1"


def sh(*argv: str, ns: str | None = None, check: bool = True) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check and res.returncode != 0:
        raise BenchError(f"{' '.join(cmd)}: {res.stderr.strip() or res.stdout.strip()}")
    return res.stdout


def write_sysfs(ns: str, path: str, value: str) -> None:
    sh("sh", "-c", f"echo {value} > {path}", ns=ns)


@dataclass
class VethTopology:
    tag: str
    dut_cpu: int

    def __post_init__(self):
        self.ns_gen = f"{self.tag}g"
        self.ns_dut = f"{self.tag}d"
        self.macs: dict[str, str] = {}
        self.up = False

    def setup(self) -> None:
        for ns in (self.ns_gen, self.ns_dut):
            sh("ip", "netns", "add", ns)
        self.up = True
        for a, b, nb in (("lg0", "lgd0", self.ns_dut), ("lg1", "lgd1", self.ns_dut),
                         ("lgc0", "lgc1", self.ns_gen)):
            sh("ip", "link", "add", a, "netns", self.ns_gen, "type", "veth", "peer", "name", b,
               "netns", nb)
        for ns, ifs in ((self.ns_gen, ("lg0", "lg1", "lgc0", "lgc1")),
                        (self.ns_dut, ("lgd0", "lgd1"))):
            sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
               "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
            for i in ifs:
                sh("ip", "link", "set", i, "up", ns=ns)
            for link in json.loads(sh("ip", "-j", "link", "show", ns=ns)):
                self.macs[link["ifname"]] = link.get("address", "")
        # Kernel work of what arrives at the DUT: on the DUT's CPU. (The
        # receive side of the ceiling's pair too: on the generator's CPU the
        # kernel would only run when the generator's busy loop is preempted.)
        mask = format(1 << self.dut_cpu, "x")
        write_sysfs(self.ns_dut, "/sys/class/net/lgd0/queues/rx-0/rps_cpus", mask)
        write_sysfs(self.ns_gen, "/sys/class/net/lgc1/queues/rx-0/rps_cpus", mask)

    def teardown(self) -> None:
        if self.up:
            for ns in (self.ns_gen, self.ns_dut):
                sh("ip", "netns", "del", ns, check=False)
            self.up = False

    def wrapper(self, workdir: Path, ns: str, name: str, real: Path) -> Path:
        """An executable that runs `real` with its arguments inside
        namespace ns: for DPDK processes started by path."""
        p = workdir / f"in-{name}.sh"
        p.write_text(f"#!/bin/sh\nexec ip netns exec {ns} {real} \"$@\"\n")
        p.chmod(0o755)
        return p

    def gen_ports(self, ceiling: bool) -> list[str]:
        a, b = ("lgc0", "lgc1") if ceiling else ("lg0", "lg1")
        return [f"af_packet:{a},{AF_PACKET_ARGS}", f"af_packet:{b},{AF_PACKET_ARGS}"]


def kernel_flow(topo: VethTopology, dst_count: int, dst_step: int) -> Flow:
    return Flow(src_mac=topo.macs["lg0"], dst_mac=topo.macs["lgd0"], src_ip="198.18.0.1",
                dst_ip="16.0.0.1", dst_count=dst_count, dst_step=dst_step)


class KernelDut:
    name = "kernel"
    label = "Linux kernel forwarding"
    nat = False

    def __init__(self, topo: VethTopology):
        self.topo = topo
        self.saved: dict[str, str] = {}

    def check(self) -> None:
        pass

    def start(self) -> dict:
        ns = self.topo.ns_dut
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
           "net.ipv4.conf.default.rp_filter=0", ns=ns)
        sh("ip", "addr", "add", "198.18.255.254/16", "dev", "lgd0", ns=ns)
        sh("ip", "addr", "add", "198.19.0.254/24", "dev", "lgd1", ns=ns)
        sh("ip", "neigh", "replace", GW, "lladdr", self.topo.macs["lg1"], "dev", "lgd1",
           "nud", "permanent", ns=ns)
        sh("ip", "route", "add", "16.0.0.0/8", "via", GW, ns=ns)
        return {"kernel": os.uname().release, "rps_cpus": 1 << self.topo.dut_cpu}

    def counters(self) -> dict:
        """IP forwarding and drop counters of the DUT namespace."""
        ns = self.topo.ns_dut
        out: dict[str, int] = {}
        lines = sh("cat", "/proc/net/snmp", ns=ns).splitlines()
        for head, vals in zip(lines[::2], lines[1::2]):
            if head.startswith("Ip:"):
                for k, v in zip(head.split()[1:], vals.split()[1:]):
                    if k in ("InReceives", "ForwDatagrams", "InDiscards", "OutDiscards",
                             "OutNoRoutes", "InHdrErrors", "InAddrErrors"):
                        out[f"ip_{k}"] = int(v)
        for link in json.loads(sh("ip", "-j", "-s", "link", "show", ns=ns)):
            st = link.get("stats64", {})
            for d in ("rx", "tx"):
                for k in ("packets", "dropped"):
                    out[f"{link['ifname']}_{d}_{k}"] = st.get(d, {}).get(k, 0)
        # backlog drops (netdev_max_backlog exceeded), all CPUs
        drops = 0
        with open("/proc/net/softnet_stat") as f:
            for line in f:
                drops += int(line.split()[1], 16)
        out["softnet_dropped"] = drops
        return out

    def stop(self) -> None:
        pass


class KernelNatDut(KernelDut):
    name = "kernel-nat"
    label = "Linux kernel + nftables masquerade"
    nat = True
    CT_MAX = 262144

    def check(self) -> None:
        if shutil.which("nft") is None:
            install = subprocess.run(["apt-get", "install", "-y", "-qq", "nftables"],
                                     capture_output=True, text=True,
                                     env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
            if shutil.which("nft") is None:
                raise BenchError("nft not found and `apt-get install nftables` failed: "
                                 + (install.stderr.strip().splitlines() or ["?"])[-1])

    def start(self) -> dict:
        info = super().start()
        ns = self.topo.ns_dut
        sh("nft", "add table ip vrlgnat", ns=ns)
        sh("nft", "add chain ip vrlgnat post { type nat hook postrouting priority 100 ; }",
           ns=ns)
        sh("nft", "add rule ip vrlgnat post oifname lgd1 masquerade", ns=ns)
        # Room for the sessions (a global setting: put back afterwards).
        p = Path("/proc/sys/net/netfilter/nf_conntrack_max")
        if p.exists():
            self.saved["ct_max"] = p.read_text().strip()
            p.write_text(str(self.CT_MAX))
        info["nf_conntrack_max"] = self.CT_MAX
        return info

    def counters(self) -> dict:
        out = super().counters()
        try:
            out["conntrack_entries"] = int(sh("cat", "/proc/sys/net/netfilter/nf_conntrack_count",
                                              ns=self.topo.ns_dut).strip())
        except (BenchError, ValueError):
            pass
        return out

    def stop(self) -> None:
        if "ct_max" in self.saved:
            Path("/proc/sys/net/netfilter/nf_conntrack_max").write_text(self.saved.pop("ct_max"))
