"""Two subnets through the router, with real hosts and real tools."""

from __future__ import annotations

import re

import pytest

from e2e.conftest import sh

CONFIG = """
dataplane: {workers: [1], hugepages: no, memory_mb: 256, mbufs: 8192}
interfaces:
  lan1: {device: "net_af_packet10,iface=vt-r1", mac: "02:00:00:00:01:01",
         addresses: [10.10.1.1/24]}
  lan2: {device: "net_af_packet11,iface=vt-r2", mac: "02:00:00:00:02:01",
         addresses: [10.10.2.1/24]}
demo_hosts:
  - {name: vt-h1, interface: lan1, address: 10.10.1.2/24, gateway: 10.10.1.1}
  - {name: vt-h2, interface: lan2, address: 10.10.2.2/24, gateway: 10.10.2.1}
"""


@pytest.fixture
def router(appliance):
    return appliance(CONFIG)


def test_ping_through_router_and_to_router(router):
    out = sh("vt-h1", "ping -c 3 -i 0.2 -W 2 10.10.2.2").stdout
    assert "3 received" in out
    assert re.search(r"ttl=63", out), "one router hop: TTL 64 - 1"
    out = sh("vt-h1", "ping -c 2 -i 0.2 -W 2 10.10.1.1").stdout
    assert "2 received" in out and "ttl=64" in out


def test_traceroute_shows_the_router_hop(router):
    for probe in ("", "-I"):  # UDP probes, then ICMP echo probes
        out = sh("vt-h1", f"traceroute -n -q 1 -w 2 {probe} 10.10.2.2").stdout
        hops = re.findall(r"^\s*(\d+)\s+(\S+)", out, re.M)
        assert hops == [("1", "10.10.1.1"), ("2", "10.10.2.2")], out


def test_tcp_http_download_through_router(router, tmp_path):
    blob = tmp_path / "www" / "blob.bin"
    blob.parent.mkdir()
    blob.write_bytes(bytes(range(256)) * 8192)  # 2 MiB
    server = sh("vt-h2", f"cd {blob.parent} && (python3 -m http.server 8080 --bind 10.10.2.2 "
                         ">/dev/null 2>&1 & echo $!)").stdout.strip()
    try:
        sh("vt-h1", "for i in $(seq 50); do curl -s -o /dev/null http://10.10.2.2:8080/ && "
                    "exit 0; sleep 0.1; done; exit 1")
        out = sh("vt-h1", "curl -s http://10.10.2.2:8080/blob.bin | sha256sum").stdout
        want = sh("vt-h2", f"sha256sum < {blob}").stdout
        assert out.split()[0] == want.split()[0]
    finally:
        sh("vt-h2", f"kill {server}", check=False)


def test_arp_entries_on_both_sides(router):
    sh("vt-h1", "ping -c 1 -W 2 10.10.2.2")
    h1_neigh = sh("vt-h1", "ip neigh show 10.10.1.1").stdout
    assert "02:00:00:00:01:01" in h1_neigh, h1_neigh
    learned = {(n.ip.exploded, n.mac) for n in router.dp.neigh_list()}
    h1_mac = sh("vt-h1", "cat /sys/class/net/eth0/address").stdout.strip()
    h2_mac = sh("vt-h2", "cat /sys/class/net/eth0/address").stdout.strip()
    assert ("10.10.1.2", h1_mac) in learned and ("10.10.2.2", h2_mac) in learned, learned
