"""Fragments in a NAT VRF are reassembled (only the first carries the ports),
translated as one datagram, and re-fragmented when over the egress MTU;
incomplete ones are given up after the reassembly timeout. Truncated L4
headers are dropped, never read past."""

from __future__ import annotations

import time

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import router_mac
from packet.helpers import assert_counters, merge, rx, snapshot, tx
from packet.nat_helpers import router  # noqa: F401 - the fixture
from packet.nat_helpers import (FAR, IN1, OUT_ADDR, from_inside, from_outside, in_mac, masquerade,
                                out_mac, setup, xlated)

MAPPED = 30000


@pytest.fixture
def masq(router):
    a, b = setup(router)
    masquerade(router, b, port_lo=MAPPED, port_hi=MAPPED)
    return a, b


def datagram(size, ip_id=0x5151):
    return (IP(src=IN1, dst=FAR, id=ip_id) / UDP(sport=5000, dport=7000) /
            Raw(bytes(i % 251 for i in range(size))))


def frames(ips, h=2):
    return [from_inside(h) / f for f in ips]


@pytest.mark.parametrize("order", ["in-order", "reversed", "shuffled"])
def test_fragmented_datagram_reassembled_and_translated(router, masq, order):
    a, b = masq
    dg = datagram(1000)
    frags = fragment(dg, fragsize=304)
    assert len(frags) == 4
    if order == "reversed":
        frags = frags[::-1]
    elif order == "shuffled":
        frags = [frags[2], frags[0], frags[3], frags[1]]
    pkts = frames(frags)
    before = snapshot(router)
    router.send(a, *pkts)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(Ether() / dg, 1, out_mac(), src=OUT_ADDR, sport=MAPPED)
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), {"nat_reassembled": 1, "ip_forwarded": 1,
                                  "nat_sessions_created": 1, "nat_translated": 1}),
        b: tx(out)})
    # the reply, fragmented by the server, comes back whole too
    rdg = IP(src=FAR, dst=OUT_ADDR, id=0x6262) / UDP(sport=7000, dport=MAPPED) / \
        Raw(b"r" * 600)
    rpkts = [from_outside() / f for f in fragment(rdg, fragsize=200)]
    router.send(b, *rpkts)
    (back,) = router.expect(a, 1)
    assert bytes(back) == xlated(Ether() / rdg, 0, in_mac(), dst=IN1, dport=5000)


def test_reassembled_datagram_over_the_mtu_is_fragmented_again(router, masq):
    a, b = masq
    dg = datagram(2400)  # 2428 bytes: over the 1500 of port b
    pkts = frames(fragment(dg, fragsize=1000))
    before = snapshot(router)
    router.send(a, *pkts)
    outs = router.expect(b, 2)
    whole = IP(xlated(Ether() / dg, 1, out_mac(), src=OUT_ADDR, sport=MAPPED)[14:])
    want = [bytes(Ether(src=router_mac(1), dst=out_mac()) / f)
            for f in fragment(whole, fragsize=1480)]
    assert [bytes(o) for o in outs] == want
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), {"nat_reassembled": 1, "ip_forwarded": 1,
                                  "nat_sessions_created": 1, "nat_translated": 1}),
        b: merge(tx(*outs), {"ip_fragments_out": 2})})


def test_fragments_of_existing_session_and_of_tcp(router, masq):
    a, b = masq
    first = datagram(100, ip_id=1)
    router.send(a, from_inside() / first)
    router.expect(b, 1)
    dg = datagram(500, ip_id=2)
    router.send(a, *frames(fragment(dg, fragsize=200)))
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(Ether() / dg, 1, out_mac(), src=OUT_ADDR, sport=MAPPED)
    seg = IP(src=IN1, dst=FAR, id=3) / TCP(sport=6000, dport=8443, flags="PA") / Raw(b"t" * 300)
    router.send(a, *frames(fragment(seg, fragsize=96)))
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(Ether() / seg, 1, out_mac(), src=OUT_ADDR, sport=MAPPED)


def test_incomplete_fragments_given_up_after_the_timeout(router, masq):
    a, b = masq
    frags = fragment(datagram(1000, ip_id=0x77), fragsize=304)
    held = frames([frags[0], frags[2]])  # two of four, never completed
    before = snapshot(router)
    router.send(a, *held)
    router.expect_none(b)
    assert_counters(router, before, {a: merge(*map(rx, held))})
    time.sleep(2.3)  # the reassembly timeout is 2 s
    # with or without other traffic, what was held is given up and counted
    assert_counters(router, before, {a: merge(*map(rx, held), {"drop_nat_reassembly": 2})})
    router.expect_none(a, b, wait=0)
    assert router.dp.nat_session_list() == []


def test_fragments_outside_a_nat_vrf_are_forwarded_as_they_are(router):
    a, b = setup(router)
    frags = frames(fragment(datagram(1000), fragsize=304))
    router.send(a, *frags)
    outs = router.expect(b, 4)
    assert [bytes(o) for o in outs] == [xlated(f, 1, out_mac()) for f in frags]


# ---- truncated headers ------------------------------------------------------------


def truncated(proto, l4_len):
    """A datagram whose IP total length leaves only l4_len bytes of L4 header."""
    l4 = {6: TCP(sport=5000, dport=8443, flags="S"), 17: UDP(sport=5000, dport=7000),
          1: ICMP(id=5, seq=1)}[proto]
    ip = IP(bytes(IP(src=IN1, dst=FAR, proto=proto) / l4)[:20 + l4_len])
    ip.len = 20 + l4_len
    del ip.chksum
    return from_inside() / IP(bytes(ip))


@pytest.mark.parametrize("proto, l4_len", [(17, 0), (17, 4), (17, 7), (6, 4), (6, 13),
                                           (6, 16), (6, 19), (1, 4), (1, 7)])
def test_truncated_l4_header_dropped(router, masq, proto, l4_len):
    a, b = masq
    pkt = truncated(proto, l4_len)
    assert len(pkt) == 14 + 20 + l4_len
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_nat_truncated": 1})})
    assert router.dp.nat_session_list() == []


@pytest.mark.xfail(strict=True, reason="reassembly holds at most RTE_LIBRTE_IP_FRAG_MAX_FRAG "
                   "(8) fragments per datagram: a valid datagram in more pieces is dropped "
                   "(drop_nat_reassembly) in a NAT VRF")
def test_datagram_in_more_than_8_fragments(router, masq):
    a, b = masq
    dg = datagram(1400)
    pkts = frames(fragment(dg, fragsize=128))
    assert len(pkts) == 11
    router.send(a, *pkts)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(Ether() / dg, 1, out_mac(), src=OUT_ADDR, sport=MAPPED)
