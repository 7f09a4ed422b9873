"""IPv4 forwarding between ring ports, byte for byte."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP, IPOption
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import counter_delta, host_mac, router_mac
from packet.helpers import (BCAST, assert_counters, forwarded, merge, rx, snapshot, to_router,
                            tx)


@pytest.fixture
def two(router):
    """Ports a (10.0.0.1/24) and b (10.0.1.1/24), host 10.0.1.2 known on b."""
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    return a, b


def udp(ttl=64, ip_id=77, payload=b"payload" * 4, **ip):
    return (to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2", ttl=ttl, id=ip_id, **ip) /
            UDP(sport=1000, dport=2000) / Raw(payload))


def test_forward_decrements_ttl_and_rewrites_ethernet(router, two):
    a, b = two
    pkt = (Ether(src=host_mac(0), dst=router_mac(0)) /
           IP(src="10.0.0.2", dst="10.0.1.2", ttl=64, id=77) / UDP(sport=1000, dport=2000) /
           Raw(b"payload" * 4))
    before = router.counters(a)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)

    want = pkt.copy()
    want[Ether].src, want[Ether].dst = router_mac(1), host_mac(1)
    want[IP].ttl = 63
    del want[IP].chksum
    assert bytes(out) == bytes(Ether(bytes(want)))
    assert counter_delta(before, router.counters(a)) == {
        "rx_packets": 1, "rx_bytes": len(pkt), "ip_forwarded": 1}


def test_forward_ttl_2_leaves_with_ttl_1(router, two):
    a, b = two
    pkt = udp(ttl=2)
    before = snapshot(router)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    assert out[IP].ttl == 1
    assert_counters(router, before, {a: merge(rx(pkt), {"ip_forwarded": 1}), b: tx(out)})


@pytest.mark.parametrize("ip_id, chksum_in, chksum_out", [
    (26061, 0x0000, 0x0100),  # incoming checksum 0x0000 (a sum of +0)
    (26061, 0xFFFF, 0x0100),  # the same header with -0 (0xffff), equally valid
    (26317, 0xFEFF, 0x0000),  # the decrement makes the checksum 0x0000
    (1, None, None),          # an ordinary one, for contrast
])
def test_forward_incremental_checksum_at_edge_values(router, two, ip_id, chksum_in, chksum_out):
    a, b = two
    pkt = udp(ip_id=ip_id, payload=b"x")
    if chksum_in is not None:
        assert IP(bytes(pkt[IP])).chksum in (chksum_in, 0xFFFF - chksum_in)
        pkt[IP].chksum = chksum_in
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    if chksum_out is not None:
        assert out[IP].chksum == chksum_out


def test_forward_trims_ethernet_padding(router, two):
    a, b = two
    pkt = to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2", id=5) / UDP(sport=1, dport=2) / b"hi"
    frame = bytes(pkt).ljust(60, b"\xaa")  # padded to the Ethernet minimum
    assert len(pkt) == 44
    before = snapshot(router)
    router.send(a, frame)
    (out,) = router.expect(b, 1)
    assert len(out) == 30 + 14  # IP total length + Ethernet header, no padding
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    assert_counters(router, before, {
        a: {"rx_packets": 1, "rx_bytes": 60, "ip_forwarded": 1}, b: tx(out)})


def test_forward_keeps_ip_options_intact_and_counts_them(router, two):
    a, b = two
    # Stream ID (136, obsolete): nothing for a router to do with it but carry it.
    pkt = udp(options=[IPOption(b"\x88\x04\x12\x34")])
    assert pkt[IP].ihl is None and len(IP(bytes(pkt[IP])).options) == 1
    before = snapshot(router)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    assert bytes(out)[14 + 20:14 + 24] == b"\x88\x04\x12\x34"
    assert_counters(router, before, {
        a: merge(rx(pkt), {"ip_forwarded": 1, "ip_options": 1}), b: tx(out)})


def test_frame_to_another_unicast_mac_is_dropped(router, two):
    a, b = two
    pkt = udp()
    pkt[Ether].dst = "02:00:00:00:00:99"
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_other_host": 1})})


def test_link_broadcast_with_unicast_ip_destination_is_not_forwarded(router, two):
    """RFC 1812 5.3.4: a router MUST NOT forward a packet received as a
    link-layer broadcast unless its IP destination is multicast/broadcast."""
    a, b = two
    pkt = udp()
    pkt[Ether].dst = BCAST
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_l2_bcast_fwd": 1})})


def test_ipv6_frame_is_dropped_as_unknown_ethertype(router, two):
    a, b = two
    pkt = to_router(0) / IPv6(src="fe80::2", dst="fe80::1") / UDP(sport=1, dport=2)
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_ethertype": 1})})


def test_forward_trims_a_trailer_longer_than_the_last_buffer(router, two):
    """A 1014-byte datagram in a 2100-byte frame: the frame spans two 2048-byte
    buffers and the 1086 bytes after the datagram are more than the second one
    holds."""
    a, b = two
    pkt = udp(payload=b"q" * 978)
    frame = bytes(pkt).ljust(2100, b"\xee")
    before = snapshot(router)
    router.send(a, frame)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    assert_counters(router, before, {
        a: {"rx_packets": 1, "rx_bytes": 2100, "ip_forwarded": 1}, b: tx(out)})
