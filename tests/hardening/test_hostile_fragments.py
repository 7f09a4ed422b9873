"""Hostile fragments. In a NAT VRF the router reassembles (only the first
fragment carries the ports), so a set of fragments that cannot make one
valid datagram must cost it nothing but a counted drop: overlapping or
duplicated pieces, more pieces than it holds (8), a datagram that would end
past 65535 bytes ("ping of death", which the reassembly library would
rebuild with its total length wrapped), pieces with no data, and first
pieces too short for the L4 header (RFC 1858). Every fragment given up is
counted once (drop_nat_reassembly), at once or when the 2 s reassembly
timeout gives up the rest of its set; nothing is sent; no session is made;
the next valid datagram goes through. Outside a NAT VRF the router is no
reassembler: fragments are forwarded as they came."""

from __future__ import annotations

import struct
import time

import pytest
from scapy.layers.inet import IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import host_mac
from packet.helpers import assert_counters, forwarded, merge, rx, snapshot, to_router, tx
from packet.nat_helpers import (FAR, IN1, OUT_ADDR, from_inside, masquerade, out_mac, setup,
                                xlated)

MAPPED = 30000
REASSEMBLY_TIMEOUT = 2.0  # nat_worker.c FRAG_TIMEOUT_S


@pytest.fixture
def masq(router):
    a, b = setup(router)
    masquerade(router, b, port_lo=MAPPED, port_hi=MAPPED)
    return a, b


def datagram(size, ip_id):
    return (IP(src=IN1, dst=FAR, id=ip_id) / UDP(sport=5000, dport=7000) /
            Raw(bytes(i % 251 for i in range(size))))


def piece(ip_id, offset, data, more=True, proto=17):
    """A fragment by hand: `offset` in bytes (a multiple of 8)."""
    return IP(src=IN1, dst=FAR, id=ip_id, proto=proto, flags="MF" if more else 0,
              frag=offset // 8) / Raw(data)


def four(ip_id):
    """A 1008-byte UDP datagram in four fragments (304, 304, 304, 96 bytes)."""
    f = fragment(datagram(1000, ip_id), fragsize=304)
    assert len(f) == 4
    return f


def overlapping(ip_id):
    f = four(ip_id)
    moved = IP(bytes(f[1]))  # the second piece starts 8 bytes early
    moved.frag -= 1
    del moved.chksum
    return [f[0], moved, f[2], f[3]]


def teardrop(ip_id):
    """The second piece lies inside the first and the one it replaces never
    comes: the sizes never add up."""
    f = four(ip_id)
    return [f[0], piece(ip_id, 16, b"t" * 24), f[2], f[3]]


def ping_of_death(ip_id):
    """Eight 8200-byte pieces: the datagram would be 65620 bytes long."""
    data = struct.pack("!HHHH", 5000, 7000, 0, 0) + b"z" * (8 * 8200 - 8)
    return [piece(ip_id, i * 8200, data[i * 8200:(i + 1) * 8200], more=i < 7) for i in range(8)]


def tiny_tcp(ip_id):
    """RFC 1858: a TCP SYN in 8-byte pieces, the first too short for the
    TCP header."""
    seg = IP(src=IN1, dst=FAR, id=ip_id) / TCP(sport=5000, dport=80, flags="S") / Raw(b"y" * 40)
    return fragment(seg, fragsize=8)


# name: (fragments, dropped at once, dropped in all, other counters of the inside port)
CASES = {
    "duplicate": (lambda i: [four(i)[k] for k in (0, 1, 1, 2, 3)], 5, 5, {}),
    "overlapping": (overlapping, 4, 4, {}),
    "overlapping_never_complete": (teardrop, 0, 4, {}),
    "duplicate_first": (lambda i: [four(i)[k] for k in (0, 0, 1, 2, 3)], 2, 5, {}),
    "more_than_8": (lambda i: fragment(datagram(1400, i), fragsize=128), 8, 11, {}),
    "ending_past_65535": (ping_of_death, 1, 8, {}),
    "no_data": (lambda i: [piece(i, 8, b"")], 1, 1, {}),
    "first_too_short_for_tcp": (tiny_tcp, 0, 0, {"nat_reassembled": 1, "drop_nat_truncated": 1}),
}


@pytest.mark.parametrize("make, now, total, other", CASES.values(), ids=CASES.keys())
def test_fragments_that_make_no_datagram_are_given_up_and_counted(router, masq, make, now,
                                                                  total, other):
    a, b = masq
    pkts = [from_inside() / f for f in make(0x4141)]
    before = snapshot(router)
    router.send(a, *pkts)
    router.expect_none(a, b)
    drops = {"drop_nat_reassembly": now} if now else {}
    assert_counters(router, before, {a: merge(*map(rx, pkts), drops, other)})
    if total > now:
        time.sleep(REASSEMBLY_TIMEOUT + 0.3)
        assert_counters(router, before, {a: merge(*map(rx, pkts),
                                                  {"drop_nat_reassembly": total}, other)})
    router.expect_none(a, b, wait=0)
    assert router.dp.nat_session_list() == []

    # the table is not poisoned: a whole datagram goes through next
    dg = datagram(1000, 0x4242)
    good = [from_inside() / f for f in fragment(dg, fragsize=304)]
    router.send(a, *good)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(Ether() / dg, 1, out_mac(), src=OUT_ADDR, sport=MAPPED)


@pytest.mark.parametrize("make", [overlapping, lambda i: [four(i)[k] for k in (0, 1, 1, 2, 3)],
                                  ping_of_death],
                         ids=["overlapping", "duplicate", "ending_past_65535"])
def test_outside_a_nat_vrf_fragments_are_forwarded_as_they_came(router, make):
    """No reassembly without NAT: the destination host judges the pieces."""
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    frags = make(0x4444)
    pkts = []
    for f in frags:
        ip = IP(bytes(f))
        ip.src, ip.dst = "10.0.0.2", "10.0.1.2"
        del ip.chksum
        pkts.append(to_router(0) / ip)
    router.dp.port_set(b, mtu=9000)
    before = snapshot(router)
    router.send(a, *pkts)
    outs = router.expect(b, len(pkts))
    assert [bytes(o) for o in outs] == [forwarded(p, 1, host_mac(1)) for p in pkts]
    assert_counters(router, before, {a: merge(*map(rx, pkts), {"ip_forwarded": len(pkts)}),
                                     b: tx(*outs)})
