"""Port kinds besides memif and pcap: af_packet on a veth pair (in a
network namespace of its own, so nothing reaches the host's stack) and
tap."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from vrouter.loadgen import Generator
from vrouter.loadgen.engine import find_binary

pytestmark = pytest.mark.needs_dpdk


def sh(*argv):
    subprocess.run(argv, check=True, capture_output=True)


@pytest.fixture
def veth_ns(tmp_path):
    ns = f"lgt{uuid.uuid4().hex[:8]}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1")
        sh("ip", "-n", ns, "link", "add", "lgv0", "type", "veth", "peer", "name", "lgv1")
        for i in ("lgv0", "lgv1"):
            sh("ip", "-n", ns, "link", "set", i, "up")
        wrapper = tmp_path / "in-ns.sh"
        wrapper.write_text(f"#!/bin/sh\nexec ip netns exec {ns} {find_binary()} \"$@\"\n")
        wrapper.chmod(0o755)
        yield wrapper
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_af_packet_on_a_veth_pair(veth_ns):
    with Generator(["af_packet:lgv0", "af_packet:lgv1"], cpu=0, hugepages="no",
                   binary=veth_ns, check_ports=False) as gen:
        assert [p.driver for p in gen.ports] == ["net_af_packet", "net_af_packet"]
        res = gen.run("imix", rate="3000pps", duration=1)
    assert res.tx_packets > 2500 and res.loss_ratio == 0
    assert all(s.rx_packets == s.tx_packets for s in res.streams)
    assert {s.frame_bytes for s in res.streams} == {60, 590, 1514}


def test_tap_sends(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    name = f"lgt{uuid.uuid4().hex[:6]}"
    with Generator([f"tap:{name}"], cpu=0, hugepages="no") as gen:
        assert gen.ports[0].driver == "net_tap"
        res = gen.run("udp_64b", rate="2000pps", duration=0.5)
    assert res.tx_packets > 900
    assert res.ports[0].eth["opackets"] == res.tx_packets
