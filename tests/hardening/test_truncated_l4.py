"""L4 headers cut short by the IP total length (the frame may go on: its
padding is not the datagram). In a NAT VRF every packet's ports are looked
at, in either direction, so one too short to hold them is dropped
(drop_nat_truncated) before any session is made, never read past; inside
to outside is test_nat_fragments.py's, this is outside to inside: to a port
forward and to the masquerade address. Without NAT the router needs no L4
header: the datagram is forwarded as it is (ECMP hashing reads the ports
only when they are there)."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from packet.harness import host_mac
from packet.helpers import assert_counters, forwarded, merge, rx, snapshot, to_router
from packet.nat_helpers import (IN2, OUT_ADDR, PEER, forward_rule, from_outside, masquerade,
                                setup)
from vrouter.dataplane.messages import NhType

L4 = {6: TCP(sport=4000, dport=8080, flags="S"), 17: UDP(sport=4000, dport=8080),
      1: ICMP(type=0, id=7, seq=1)}
CASES = [(6, 0), (6, 3), (6, 12), (6, 19), (17, 0), (17, 3), (17, 7), (1, 0), (1, 7)]


def cut(ip: IP, l4_len: int, pad: int = 6) -> bytes:
    """`ip` with its total length leaving l4_len bytes of L4 header, and
    `pad` bytes of padding after it in the frame."""
    raw = bytes(ip)[:20 + l4_len]
    hdr = IP(raw)
    hdr.len = 20 + l4_len
    del hdr.chksum
    return bytes(hdr)[:20] + raw[20:] + b"\xee" * pad


@pytest.mark.parametrize("proto, l4_len", CASES, ids=[f"{p}-{n}" for p, n in CASES])
@pytest.mark.parametrize("target", ["port_forward", "masquerade_address"])
def test_short_l4_header_from_outside_is_dropped_by_nat(router, proto, l4_len, target):
    a, b = setup(router)
    masquerade(router, b)
    forward_rule(router, 6, 8080, IN2, 80)
    forward_rule(router, 17, 8080, IN2, 53, id=3)
    dport = 8080 if target == "port_forward" else 30000
    l4 = L4[proto].copy()
    if proto != 1:
        l4.dport = dport
    frame = bytes(from_outside() / b"")[:12] + b"\x08\x00" + cut(IP(src=PEER, dst=OUT_ADDR, proto=proto) / l4, l4_len)
    before = snapshot(router)
    router.send(b, frame)
    router.expect_none(a, b)
    assert_counters(router, before, {b: merge(rx(frame), {"drop_nat_truncated": 1})})
    assert router.dp.nat_session_list() == []


@pytest.mark.parametrize("proto, l4_len", CASES, ids=[f"{p}-{n}" for p, n in CASES])
def test_short_l4_header_without_nat_is_forwarded_as_it_is(router, proto, l4_len):
    a, b = router.add_ports(2)
    for i, h in enumerate((8, 9)):  # ECMP over two gateways: the hash looks at L4
        router.dp.neigh_add(b, f"10.0.1.{h}", host_mac(1, h))
        router.dp.nh_add(i + 1, NhType.GATEWAY, b, f"10.0.1.{h}")
    router.dp.nh_add(10, NhType.GROUP, members=[1, 2])
    router.dp.route_add(0, [("20.0.0.0/8", 10)])
    ip = cut(IP(src="10.0.0.2", dst="20.1.2.3", proto=proto) / L4[proto], l4_len)
    eth = bytes(to_router(0) / b"")[:12] + b"\x08\x00"
    frame = eth + ip
    router.send(a, frame)
    (out,) = router.expect(b, 1)
    datagram = IP(ip[:20 + l4_len])
    assert out.dst in (host_mac(1, 8), host_mac(1, 9))
    assert bytes(out) == forwarded(Ether(eth) / datagram, 1, out.dst)
