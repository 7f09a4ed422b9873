"""Frames a control namespace sends into its exception port (fuzzer finding:
they were routed without any IPv4 header check, so a raw or packet socket in
the namespace could make the router forward a header with version 0, an IHL
below 5, a total length beyond the frame, or trailing bytes; a header cut
short made the worker read past the segment). They now get the checks frames
from the wire get, counted against the port the namespace serves."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import checksum

from packet.harness import PacketRouter, host_mac, router_mac
from packet.helpers import snapshot, deltas, wait_for

NS_PEER_MAC = "02:76:72:00:00:01"  # exception.c exception_peer_mac
PAYLOAD = bytes(UDP(sport=179, dport=179) / b"abcdefgh")


@pytest.fixture
def ports(router: PacketRouter):
    """a 10.0.0.1/24 with exception port x; b 10.0.1.1/24 with host 10.0.1.2."""
    a, b = router.add_ports(2)
    (x,) = router.add_ports(1, addresses=False)
    router.dp.port_set(a, punt_port=x)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    return a, b, x


def from_namespace(ip: bytes) -> bytes:
    """A frame the namespace's kernel sends out of its interface (a's MAC)
    to the one neighbour MAC it knows."""
    return bytes(Ether(src=router_mac(0), dst=NS_PEER_MAC, type=0x0800)) + ip


def ipv4(ver_ihl=0x45, total=None, options=b"", good_checksum=True, payload=PAYLOAD) -> bytes:
    hlen = 20 + len(options)
    total = hlen + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", ver_ihl, 0, total, 1, 0, 64, 17, 0,
                      bytes([10, 0, 0, 1]), bytes([10, 0, 1, 2])) + options
    ck = checksum(hdr) if good_checksum else checksum(hdr) ^ 0x00FF
    return hdr[:10] + struct.pack("!H", ck) + hdr[12:] + payload


def test_well_formed_namespace_packet_is_routed(router, ports):
    a, b, x = ports
    router.send(x, from_namespace(ipv4()))
    (out,) = router.expect(b, 1)
    assert out.src == router_mac(1) and out.dst == host_mac(1)
    assert bytes(out[IP]) == ipv4()  # the router's own packet: TTL kept
    assert router.counters(a)["injected"] == 1


MALFORMED = {
    "version_0": (ipv4(ver_ihl=0x05), "drop_ip_version"),
    "ihl_below_5": (ipv4(ver_ihl=0x44), "drop_ip_bad_ihl"),
    "ihl_beyond_the_frame": (ipv4(ver_ihl=0x4F), "drop_ip_bad_ihl"),
    "total_length_beyond_the_frame": (ipv4(total=20 + len(PAYLOAD) + 1), "drop_ip_bad_length"),
    "total_length_below_header": (ipv4(total=19), "drop_ip_bad_length"),
    "header_cut_short": (ipv4()[:19], "drop_ip_truncated"),
    "bad_header_checksum": (ipv4(good_checksum=False), "drop_ip_bad_checksum"),
    "option_longer_than_header": (ipv4(0x46, options=b"\x88\x09\x00\x00"),
                                  "drop_ip_bad_options"),
}


@pytest.mark.parametrize("ip, counter", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_namespace_packet_is_dropped_and_counted(router, ports, ip, counter):
    a, b, x = ports
    before = snapshot(router)
    router.send(x, from_namespace(ip))
    wait_for(lambda: router.counters(a)[counter] == 1, what=counter)
    router.expect_none(a, b, x)
    d = deltas(router, before)
    assert d[a] == {counter: 1}, d
    assert d[x] == {"rx_packets": 1, "rx_bytes": 14 + len(ip)}, d


def test_namespace_frame_padding_is_not_forwarded(router, ports):
    """Bytes after the IP datagram (Ethernet padding) stay behind."""
    a, b, x = ports
    router.send(x, from_namespace(ipv4()) + b"\xee" * 20)
    (out,) = router.expect(b, 1)
    assert bytes(out[IP]) == ipv4() and len(bytes(out)) == 14 + len(ipv4())
