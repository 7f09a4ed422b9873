"""Jumbo frames arrive as chains of mbufs (a ring port fills 2048-byte
buffers, like a NIC with scattered receive): every path that reads or
rewrites a packet must follow the chain, not the first buffer. 9014-byte
frames (8972 bytes of UDP payload) forwarded, answered, quoted in ICMP
errors, translated by NAT and fragmented, and held while ARP resolves; each
comes out byte for byte as it should, counted."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, defragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from packet.harness import host_mac, router_mac
from packet.helpers import (arp_request_from_router, assert_counters, forwarded, icmp_error,
                            merge, rx, snapshot, to_router, tx)
from packet.nat_helpers import FAR, IN1, OUT_ADDR, masquerade, out_mac, setup, xlated

DATA = bytes(i % 251 for i in range(8972))  # a 9000-byte datagram with IP and UDP headers


@pytest.fixture
def jumbo(router):
    """Inside port a and outside port b (nat_helpers.setup), MTU 9000 both."""
    a, b = setup(router)
    router.dp.port_set(a, mtu=9000)
    router.dp.port_set(b, mtu=9000)
    return a, b


def udp(dst=FAR, **ip):
    return to_router(0) / IP(src=IN1, dst=dst, id=0x1234, **ip) / UDP(sport=5000, dport=7000) / \
        Raw(DATA)


def test_jumbo_is_forwarded_whole(router, jumbo):
    a, b = jumbo
    pkt = udp()
    assert len(pkt) == 9014
    before = snapshot(router)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, out_mac())
    assert_counters(router, before, {a: merge(rx(pkt), {"ip_forwarded": 1}), b: tx(out)})


def test_jumbo_echo_request_gets_the_whole_payload_back(router, jumbo):
    a, b = jumbo
    req = to_router(0) / IP(src=IN1, dst="10.0.0.1", id=7) / ICMP(id=5, seq=1) / Raw(DATA)
    before = snapshot(router)
    router.send(a, req)
    (rep,) = router.expect(a, 1)
    want = Ether(src=router_mac(0), dst=host_mac(0)) / \
        IP(src="10.0.0.1", dst=IN1, id=rep[IP].id, ttl=64) / ICMP(type=0, id=5, seq=1) / Raw(DATA)
    assert bytes(rep) == bytes(want)  # ICMP checksum over the whole chain
    assert_counters(router, before, {a: merge(rx(req), tx(rep), {
        "ip_local": 1, "icmp_echo_replies": 1})})


@pytest.mark.parametrize("case", ["ttl_expired", "frag_needed"])
def test_icmp_error_about_a_jumbo_quotes_576_bytes_of_it(router, jumbo, case):
    a, b = jumbo
    if case == "frag_needed":
        router.dp.port_set(b, mtu=1500)
        pkt, typ, code, info = udp(flags="DF"), 3, 4, {"nexthopmtu": 1500}
        drop = "drop_frag_needed"
    else:
        pkt, typ, code, info = udp(ttl=1), 11, 0, {}
        drop = "drop_ttl_expired"
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    assert bytes(err) == icmp_error(0, host_mac(0), "10.0.0.1", IN1, typ, code, bytes(pkt[IP]),
                                    err[IP].id, **info)
    router.expect_none(b)
    assert_counters(router, before, {a: merge(rx(pkt), tx(err), {
        drop: 1, "icmp_errors_sent": 1})})


def test_jumbo_tcp_is_translated_with_its_checksum_over_the_chain(router, jumbo):
    a, b = jumbo
    masquerade(router, b)
    pkt = to_router(0) / IP(src=IN1, dst=FAR, id=3) / TCP(sport=5000, dport=80, flags="S") / \
        Raw(DATA[:8900])
    before = snapshot(router)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(pkt, 1, out_mac(), src=OUT_ADDR)
    assert_counters(router, before, {a: merge(rx(pkt), {
        "ip_forwarded": 1, "nat_sessions_created": 1, "nat_translated": 1}), b: tx(out)})


def test_jumbo_translated_then_fragmented_for_a_smaller_egress(router, jumbo):
    a, b = jumbo
    masquerade(router, b)
    router.dp.port_set(b, mtu=1500)
    pkt = udp()
    before = snapshot(router)
    router.send(a, pkt)
    outs = router.expect(b, 7)
    assert all(len(o[IP]) <= 1500 for o in outs)
    assert all(o.src == router_mac(1) and o.dst == out_mac() for o in outs)
    (whole,) = defragment([o[IP] for o in outs])
    assert bytes(whole) == bytes(Ether(xlated(pkt, 1, out_mac(), src=OUT_ADDR))[IP])
    assert_counters(router, before, {
        a: merge(rx(pkt), {"ip_forwarded": 1, "nat_sessions_created": 1, "nat_translated": 1}),
        b: merge(tx(*outs), {"ip_fragments_out": 7})})


def test_jumbo_held_for_arp_is_sent_whole_once_resolved(router, jumbo):
    a, b = jumbo
    pkt = udp(dst="10.0.0.77")
    before = snapshot(router)
    router.send(a, pkt)
    (req,) = router.expect(a, 1)
    assert bytes(req) == arp_request_from_router(0, "10.0.0.77")
    mac = host_mac(0, 77)
    reply = Ether(src=mac, dst=router_mac(0)) / ARP(op=2, hwsrc=mac, psrc="10.0.0.77",
                                                     pdst="10.0.0.1", hwdst=router_mac(0))
    router.send(a, reply)
    (out,) = router.expect(a, 1)
    assert bytes(out) == forwarded(pkt, 0, mac)
    assert_counters(router, before, {a: merge(rx(pkt), rx(reply), tx(req, out), {
        "ip_forwarded": 1, "arp_requests_out": 1, "arp_replies_in": 1, "arp_learned": 1,
        "arp_held": 1, "arp_released": 1})})
