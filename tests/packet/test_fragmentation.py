"""Fragmentation (RFC 791, RFC 1812 5.2.6) on the egress MTU, and fragments
received."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP, IPOption, defragment, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import host_mac, router_mac
from packet.helpers import assert_counters, forwarded, merge, rx, snapshot, to_router, tx


@pytest.fixture
def two(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    return a, b


def datagram(size, ip_id=0x2222, **ip):
    data = bytes((i * 7) & 0xFF for i in range(size))
    return (to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2", id=ip_id, ttl=64, **ip) /
            UDP(sport=5000, dport=6000) / Raw(data))


def check_fragments(outs, original: IP, mtu: int) -> None:
    """Each fragment valid and within the MTU; together they are `original`
    with TTL - 1. Offsets and lengths are the router's choice: each fragment
    is checked against the original's header and bytes at its own offset."""
    want_ip = IP(bytes(original))
    want_ip.ttl -= 1
    del want_ip.chksum
    payload = bytes(want_ip.payload)
    first_off = original.frag * 8
    for k, out in enumerate(outs):
        ip = out[IP]
        last = k == len(outs) - 1
        data_len = ip.len - ip.ihl * 4
        assert ip.len <= mtu
        assert last or data_len % 8 == 0
        assert ("MF" in ip.flags) == (not last or "MF" in original.flags)
        start = ip.frag * 8 - first_off
        want = IP(bytes(want_ip)[:want_ip.ihl * 4])  # header incl. options
        if k > 0:  # RFC 791: only options with the copy flag go in later fragments
            want.options = [o for o in want.options if o.copy_flag]
            want.ihl = want.len = None
        want.flags, want.frag, want.len = ip.flags, ip.frag, ip.len
        del want.chksum
        frag = IP(bytes(want) + payload[start:start + data_len])
        assert bytes(out) == bytes(Ether(src=router_mac(1), dst=host_mac(1)) / frag)
    if original.frag == 0 and "MF" not in original.flags:
        (whole,) = defragment([o[IP] for o in outs])
        assert bytes(whole) == bytes(want_ip)


@pytest.mark.parametrize("mtu, size", [(576, 1400), (1280, 1281 - 28), (68, 300)])
def test_datagram_over_egress_mtu_is_fragmented(router, two, mtu, size):
    a, b = two
    router.dp.port_set(b, mtu=mtu)
    pkt = datagram(size)
    before = snapshot(router)
    router.send(a, pkt)
    outs = router.expect(b, -(-(size + 8) // ((mtu - 20) & ~7)))
    check_fragments(outs, pkt[IP], mtu)
    assert_counters(router, before, {
        a: merge(rx(pkt), {"ip_forwarded": 1}),
        b: merge(tx(*outs), {"ip_fragments_out": len(outs)})})


def test_datagram_of_exactly_the_mtu_is_not_fragmented(router, two):
    a, b = two
    router.dp.port_set(b, mtu=1000)
    pkt = datagram(1000 - 28)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))


def test_fragmentation_copies_only_copied_options_to_later_fragments(router, two):
    a, b = two
    router.dp.port_set(b, mtu=576)
    # Stream ID (copied) and Record Route with its room used up (not copied).
    opts = [IPOption(b"\x88\x04\x12\x34"), IPOption(b"\x07\x07\x08\x0a\x00\x00\x09")]
    pkt = datagram(1000, options=opts)
    router.send(a, pkt)
    outs = router.expect(b, 2)
    check_fragments(outs, pkt[IP], 576)


def test_fragment_over_mtu_is_refragmented_keeping_offset_and_mf(router, two):
    a, b = two
    router.dp.port_set(b, mtu=576)
    first, second = fragment(datagram(1800)[IP], fragsize=1000)
    assert "MF" in first.flags and second.frag == 1000 // 8
    router.send(a, to_router(0) / first, to_router(0) / second)
    outs = router.expect(b, 4)
    check_fragments(outs[:2], first, 576)
    check_fragments(outs[2:], second, 576)
    (whole,) = defragment([o[IP] for o in outs])
    want = IP(bytes(datagram(1800)[IP]))
    want.ttl -= 1
    del want.chksum
    assert bytes(whole) == bytes(want)


def test_datagram_spanning_several_buffers_is_fragmented(router, two):
    """A 4000-byte frame arrives in a chain of mbufs."""
    a, b = two
    pkt = datagram(4000 - 28)
    router.send(a, pkt)
    outs = router.expect(b, 3)
    check_fragments(outs, pkt[IP], 1500)


def test_received_fragment_is_forwarded_as_is(router, two):
    a, b = two
    frags = fragment(datagram(600)[IP], fragsize=304)
    assert len(frags) == 2
    pkts = [to_router(0) / f for f in frags]
    before = snapshot(router)
    router.send(a, *pkts)
    outs = router.expect(b, 2)
    assert [bytes(o) for o in outs] == [forwarded(p, 1, host_mac(1)) for p in pkts]
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), {"ip_forwarded": 2}), b: tx(*outs)})


def test_fragment_addressed_to_the_router_is_dropped(router, two):
    a, b = two
    frag = to_router(0) / fragment(
        IP(src="10.0.0.2", dst="10.0.0.1", id=3) / UDP(sport=1, dport=2) / Raw(b"z" * 200),
        fragsize=104)[0]
    before = snapshot(router)
    router.send(a, frag)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(frag), {
        "ip_local": 1, "drop_local_fragment": 1})})
