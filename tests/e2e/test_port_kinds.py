"""Each kind of DPDK port the router takes, carrying real traffic.

PCI NICs cannot be tested on a machine without one; every virtual kind is.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import time
from ipaddress import IPv4Interface

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import Ether
from scapy.utils import rdpcap, wrpcap

from e2e.conftest import sh
from vrouter.dataplane.messages import NhType, PortKind
from vrouter.dataplane.process import DataplaneProcess, DataplaneSettings
from vrouter.demo import HostLink

_n = itertools.count()


@pytest.fixture
def dataplane(tmp_path):
    s = DataplaneSettings(socket=tmp_path / "dp.sock", file_prefix=f"kinds{os.getpid()}-{next(_n)}",
                          hugepages="no", memory_mb=256, mbufs=8192)
    proc = DataplaneProcess(s, log_path=tmp_path / "dataplane.log")
    client = proc.start()
    yield client
    client.close()
    assert proc.stop() == 0


def wait_for(cond, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def port_info(dp, pid):
    return next(p for p in dp.port_list() if p.port == pid)


@pytest.fixture
def host():
    link = HostLink("vk-host", "vk-r0")
    yield link
    link.destroy()


@pytest.mark.parametrize("devargs", [
    "net_af_packet20,iface=vk-r0",
    "net_af_xdp0,iface=vk-r0,start_queue=0,queue_count=1",
])
def test_kernel_interface_ports_answer_ping(dataplane, host, devargs):
    host.create(address=IPv4Interface("10.20.0.2/24"))
    pid = dataplane.port_add("k0", devargs)
    dataplane.addr_add(pid, "10.20.0.1/24")
    assert port_info(dataplane, pid).driver.startswith(devargs.split(",")[0][:10])
    out = sh("vk-host", "ping -c 3 -i 0.2 -W 2 10.20.0.1").stdout
    assert "3 received" in out
    assert dataplane.port_stats(pid)["icmp_echo_replies"] >= 3


def test_tap_port_answers_ping_from_the_kernel_side(dataplane):
    pid = dataplane.port_add("t0", "net_tap0,iface=vk-tap0")
    dataplane.addr_add(pid, "10.21.0.1/24")
    ns = "vk-tapns"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "link", "set", "vk-tap0", "netns", ns], check=True)
        sh(ns, "ip addr add 10.21.0.2/24 dev vk-tap0 && ip link set vk-tap0 up && "
               "ethtool -K vk-tap0 tx off >/dev/null 2>&1; true")
        out = sh(ns, "ping -c 3 -i 0.2 -W 2 10.21.0.1").stdout
        assert "3 received" in out
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def back_to_back(dataplane, kind_a: str, kind_b: str) -> None:
    """Ring port (10.0.0.1/24) -> port A (10.1.0.1/24, VRF 0) wired to port B
    (10.1.0.2/24, VRF 1). An echo request to B's address crosses the wire, B
    answers it from VRF 1, and the reply comes back out of the ring port."""
    dataplane.vrf_add(1)
    r = dataplane.port_add("ring", kind=PortKind.RING, mac="02:00:00:00:00:01")
    a = dataplane.port_add("a", kind_a)
    b = dataplane.port_add("b", kind_b, vrf=1)
    dataplane.addr_add(r, "10.0.0.1/24")
    dataplane.addr_add(a, "10.1.0.1/24")
    dataplane.addr_add(b, "10.1.0.2/24")
    dataplane.neigh_add(r, "10.0.0.2", "02:00:00:00:00:02")
    dataplane.nh_add(1, NhType.GATEWAY, port=b, gw="10.1.0.1")
    dataplane.route_add(1, [("10.0.0.0/24", 1)])
    wait_for(lambda: port_info(dataplane, a).link_up and port_info(dataplane, b).link_up,
             what="both ports linked")
    ping = (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") /
            IP(src="10.0.0.2", dst="10.1.0.2", ttl=64) / ICMP(id=9, seq=1) / b"across")
    replies: list[bytes] = []

    def got_reply():
        dataplane.pg_inject(r, [bytes(ping)]) if not replies else None
        replies.extend(f for f in dataplane.pg_capture(r) if Ether(f).haslayer(ICMP))
        return bool(replies)

    wait_for(got_reply, what="echo reply across the link")
    rep = Ether(replies[0])
    assert rep[IP].src == "10.1.0.2" and rep[IP].dst == "10.0.0.2"
    assert rep[ICMP].type == 0 and rep[ICMP].id == 9 and bytes(rep[ICMP].payload) == b"across"
    assert rep[IP].ttl == 63  # answered in VRF 1, forwarded once by VRF 0


def test_memif_server_and_client(dataplane, tmp_path):
    sock = tmp_path / "memif.sock"
    back_to_back(dataplane, f"net_memif0,role=server,id=0,socket={sock}",
                 f"net_memif1,role=client,id=0,socket={sock}")


def test_vhost_user_and_virtio_user(dataplane, tmp_path):
    sock = tmp_path / "vhost.sock"
    back_to_back(dataplane, f"net_vhost0,iface={sock},queues=1",
                 f"net_virtio_user0,path={sock},queues=1")


def test_pcap_port_reads_a_file_and_writes_one(dataplane, tmp_path):
    rx, tx = tmp_path / "in.pcap", tmp_path / "out.pcap"
    ping = (Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01") /
            IP(src="10.30.0.2", dst="10.30.0.1") / ICMP(id=3, seq=4) / b"pcap")
    wrpcap(str(rx), [ping])
    # Down until configured: the file is read as soon as the port starts.
    pid = dataplane.port_add("pc0", f"net_pcap0,rx_pcap={rx},tx_pcap={tx}",
                             mac="02:00:00:00:00:01", admin_up=False)
    dataplane.addr_add(pid, "10.30.0.1/24")
    dataplane.neigh_add(pid, "10.30.0.2", "02:00:00:00:00:02")
    dataplane.port_set(pid, admin_up=True)
    wait_for(lambda: dataplane.port_stats(pid)["icmp_echo_replies"] == 1, what="echo reply")
    dataplane.port_del(pid)  # closing the port flushes the capture file
    frames = [Ether(bytes(p)) for p in rdpcap(str(tx))]
    replies = [f for f in frames if f.haslayer(ICMP)]
    assert len(replies) == 1 and replies[0][IP].dst == "10.30.0.2"
    assert bytes(replies[0][ICMP].payload) == b"pcap"


def test_null_port_garbage_is_counted_as_dropped(dataplane):
    pid = dataplane.port_add("n0", "net_null0,size=64")
    wait_for(lambda: dataplane.port_stats(pid)["rx_packets"] > 1000, what="null rx")
    dataplane.port_set(pid, admin_up=False)
    st = dataplane.port_stats(pid)
    # all-zero frames: destination MAC 00:00:00:00:00:00 is not ours
    assert st["drop_other_host"] == st["rx_packets"] > 1000


def test_port_removal_releases_the_device(dataplane, host):
    host.create(address=IPv4Interface("10.22.0.2/24"))
    pid = dataplane.port_add("k0", "net_af_packet21,iface=vk-r0")
    dataplane.port_del(pid)
    assert all(p.name != "k0" for p in dataplane.port_list())
    pid2 = dataplane.port_add("k0", "net_af_packet21,iface=vk-r0")
    dataplane.addr_add(pid2, "10.22.0.1/24")
    assert "1 received" in sh("vk-host", "ping -c 1 -W 2 10.22.0.1").stdout

