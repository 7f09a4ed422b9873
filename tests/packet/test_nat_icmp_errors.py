"""ICMP errors about NATed flows (RFC 5508 REQ-3, RFC 4787 REQ-13/14): the
outer destination and the quoted packet are translated back, every checksum
fixed, everything else (MTU field included) kept."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import router_mac
from packet.helpers import assert_counters, icmp_error, merge, rx, snapshot, tx
from packet.nat_helpers import router  # noqa: F401 - the fixture
from packet.nat_helpers import (FAR, IN1, IN2, OUT_ADDR, PEER,
                                forward_rule, from_inside, from_outside, in_mac, masquerade,
                                out_mac, setup, static_rule, xlated)

MAPPED = 30000  # a one-port range moves the inside port 5000 to 30000


@pytest.fixture
def masq(router):
    a, b = setup(router)
    masquerade(router, b, port_lo=MAPPED, port_hi=MAPPED)
    return a, b


def flow(proto):
    l4 = TCP(sport=5000, dport=8443, flags="S", seq=1, window=1000) if proto == 6 else \
        UDP(sport=5000, dport=7000)
    return from_inside() / IP(src=IN1, dst=FAR, id=0x3333) / l4 / Raw(b"x" * 40)


def ip_bytes(ip: IP, **changes) -> bytes:
    """An IP datagram's bytes with fields changed, header checksum recomputed."""
    ip = IP(bytes(ip))
    for k, v in changes.items():
        setattr(ip, k, v)
    del ip.chksum
    return bytes(ip)


def error_frame(eth, src, dst, typ, code, quote, ttl=64, ip_id=0x4444, **icmp):
    return eth / IP(src=src, dst=dst, ttl=ttl, id=ip_id) / ICMP(type=typ, code=code, **icmp) / \
        Raw(quote)


ERRORS = {
    "time-exceeded": (11, 0, {}),
    "port-unreachable": (3, 3, {}),
    "frag-needed": (3, 4, {"nexthopmtu": 1400}),
}


@pytest.mark.parametrize("quote_len", ["full", "8-byte"])
@pytest.mark.parametrize("proto", [17, 6])
@pytest.mark.parametrize("kind", list(ERRORS))
def test_error_from_outside_translated_back(router, masq, kind, proto, quote_len):
    a, b = masq
    pkt = flow(proto)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert out.sport == MAPPED and out[IP].src == OUT_ADDR
    # what a router or the server out there quotes: the packet as it got it
    # (time exceeded: with TTL 1 left)
    ttl = 1 if kind == "time-exceeded" else 63
    quoted = ip_bytes(out[IP], ttl=ttl)
    inside_form = ip_bytes(pkt[IP], ttl=ttl)  # the same, as the inside host sent it
    n = len(quoted) if quote_len == "full" else 20 + 8
    typ, code, fields = ERRORS[kind]
    src = PEER if kind == "time-exceeded" else FAR
    err = error_frame(from_outside(), src, OUT_ADDR, typ, code, quoted[:n], **fields)
    before = snapshot(router)
    router.send(b, err)
    (got,) = router.expect(a, 1)
    want = error_frame(Ether(src=router_mac(0), dst=in_mac()), src, IN1, typ, code,
                       inside_form[:n], ttl=63, **fields)
    assert bytes(got) == bytes(want)
    if kind == "frag-needed":
        assert got[ICMP].nexthopmtu == 1400
    assert_counters(router, before, {a: tx(got), b: merge(rx(err), {
        "ip_forwarded": 1, "nat_icmp_errors_translated": 1})})


def test_error_about_an_echo_request_translates_the_identifier_back(router, masq):
    a, b = masq
    e1 = from_inside(2) / IP(src=IN1, dst=FAR) / ICMP(id=0x77, seq=1) / Raw(b"1")
    e2 = from_inside(3) / IP(src=IN2, dst=FAR) / ICMP(id=0x77, seq=1) / Raw(b"2")
    router.send(a, e1)
    router.expect(b, 1)
    router.send(a, e2)
    (o2,) = router.expect(b, 1)
    assert o2[ICMP].id != 0x77  # IN2's identifier was taken: translated
    quoted = ip_bytes(o2[IP], ttl=1)
    err = error_frame(from_outside(), PEER, OUT_ADDR, 11, 0, quoted)
    router.send(b, err)
    (got,) = router.expect(a, 1)
    want = error_frame(Ether(src=router_mac(0), dst=in_mac(3)), PEER, IN2, 11, 0,
                       ip_bytes(e2[IP], ttl=1), ttl=63)
    assert bytes(got) == bytes(want)


def test_error_from_inside_about_a_reply_translated(router, masq):
    """The inside host refuses a reply (port unreachable): the error leaves
    from the outside address, quoting the reply as the outside sent it."""
    a, b = masq
    pkt = flow(17)
    router.send(a, pkt)
    router.expect(b, 1)
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR, id=5) / UDP(sport=7000, dport=MAPPED) / \
        Raw(b"reply")
    router.send(b, reply)
    (back,) = router.expect(a, 1)
    err = error_frame(from_inside(), IN1, FAR, 3, 3, ip_bytes(back[IP]))
    before = snapshot(router)
    router.send(a, err)
    (got,) = router.expect(b, 1)
    want = error_frame(Ether(src=router_mac(1), dst=out_mac()), OUT_ADDR, FAR, 3, 3,
                       ip_bytes(reply[IP], ttl=63), ttl=63)
    assert bytes(got) == bytes(want)
    assert_counters(router, before, {b: tx(got), a: merge(rx(err), {
        "ip_forwarded": 1, "nat_icmp_errors_translated": 1})})


def test_error_about_a_port_forward_reply(router):
    """The outside client's host says port unreachable about the forwarded
    server's reply: it reaches the server, quoting the reply as it left the
    server."""
    a, b = setup(router)
    forward_rule(router, 17, 8080, IN2, 9090)
    req = from_outside() / IP(src=PEER, dst=OUT_ADDR) / UDP(sport=4000, dport=8080) / Raw(b"r")
    router.send(b, req)
    router.expect(a, 1)
    rep = from_inside(3) / IP(src=IN2, dst=PEER, id=8) / UDP(sport=9090, dport=4000) / Raw(b"s")
    router.send(a, rep)
    (out,) = router.expect(b, 1)
    err = error_frame(from_outside(), PEER, OUT_ADDR, 3, 3, ip_bytes(out[IP]))
    router.send(b, err)
    (got,) = router.expect(a, 1)
    want = error_frame(Ether(src=router_mac(0), dst=in_mac(3)), PEER, IN2, 3, 3,
                       ip_bytes(rep[IP], ttl=63), ttl=63)
    assert bytes(got) == bytes(want)


def test_error_about_no_known_session_passes_unchanged(router, masq):
    a, b = masq
    # about a flow of IN1's that never went through the NAT, sent to IN1 itself
    quoted = ip_bytes(IP(src=IN1, dst=FAR, ttl=1) / UDP(sport=6000, dport=7000) / Raw(b"q"))
    err = error_frame(from_outside(), PEER, IN1, 11, 0, quoted)
    before = snapshot(router)
    router.send(b, err)
    (got,) = router.expect(a, 1)
    assert bytes(got) == xlated(err, 0, in_mac())
    assert_counters(router, before, {a: tx(got), b: merge(rx(err), {"ip_forwarded": 1})})
    assert router.dp.nat_session_list() == []


def test_router_own_error_about_inside_packet_quotes_it_untranslated(router, masq):
    """TTL expiry at the router happens before source NAT: the error quotes
    the packet as the inside host sent it, and no session is made."""
    a, b = masq
    pkt = flow(17)
    pkt[IP].ttl = 1
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    assert bytes(err) == icmp_error(0, in_mac(), "10.0.0.1", IN1, 11, 0, bytes(pkt[IP]),
                                    err[IP].id)
    router.expect_none(b)
    assert router.dp.nat_session_list() == []
    assert_counters(router, before, {a: merge(rx(pkt), tx(err), {
        "drop_ttl_expired": 1, "icmp_errors_sent": 1})})


def test_router_own_error_about_forwarded_packet_quotes_what_the_sender_sent(router):
    """Traceroute to a port forward: the outside client's TTL-1 packet gets
    time exceeded quoting its own packet (to the outside address and port)."""
    a, b = setup(router)
    forward_rule(router, 17, 8080, IN2, 9090)
    req = from_outside() / IP(src=PEER, dst=OUT_ADDR, ttl=1, id=7) / UDP(sport=4000, dport=8080) / \
        Raw(b"probe")
    router.send(b, req)
    (err,) = router.expect(b, 1)
    router.expect_none(a)
    assert bytes(err) == icmp_error(1, out_mac(), OUT_ADDR, PEER, 11, 0, bytes(req[IP]),
                                    err[IP].id)


def test_router_own_error_about_a_reply_quotes_it_as_the_server_sent_it(router, masq):
    """A reply to a masqueraded flow with TTL 1 expires at the router: the
    error quotes the reply to the outside address and mapped port, not to
    the inside host."""
    a, b = masq
    router.send(a, flow(17))
    router.expect(b, 1)
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR, ttl=1, id=5) / \
        UDP(sport=7000, dport=MAPPED) / Raw(b"reply")
    router.send(b, reply)
    (err,) = router.expect(b, 1)
    router.expect_none(a)
    assert bytes(err) == icmp_error(1, out_mac(), OUT_ADDR, FAR, 11, 0, bytes(reply[IP]),
                                    err[IP].id)


def test_router_own_error_about_a_static_inbound_packet_quotes_the_external_address(router):
    a, b = setup(router)
    static_rule(router, "10.0.1.50", IN2)
    req = from_outside() / IP(src=PEER, dst="10.0.1.50", ttl=1, id=9) / TCP(sport=4000, dport=22)
    router.send(b, req)
    (err,) = router.expect(b, 1)
    router.expect_none(a)
    assert bytes(err) == icmp_error(1, out_mac(), OUT_ADDR, PEER, 11, 0, bytes(req[IP]),
                                    err[IP].id)


def test_error_from_inside_about_a_static_inbound_flow_translated(router):
    """The inside host of a 1:1 mapping answers an inbound packet with an
    error: it leaves from the external address, quoting the packet as the
    outside sender sent it."""
    a, b = setup(router)
    static_rule(router, "10.0.1.50", IN2)
    req = from_outside() / IP(src=PEER, dst="10.0.1.50", id=9) / UDP(sport=4000, dport=9999) / \
        Raw(b"q")
    router.send(b, req)
    (inb,) = router.expect(a, 1)
    assert inb[IP].dst == IN2
    err = error_frame(from_inside(3), IN2, PEER, 3, 3, ip_bytes(inb[IP]))
    router.send(a, err)
    (got,) = router.expect(b, 1)
    want = error_frame(Ether(src=router_mac(1), dst=out_mac()), "10.0.1.50", PEER, 3, 3,
                       ip_bytes(req[IP], ttl=63), ttl=63)
    assert bytes(got) == bytes(want)


def test_error_from_an_inside_router_leaves_from_the_outside_address(router, masq):
    """RFC 5508 REQ-4 c: an error about a reply, from an inside router that
    has no mapping of its own, leaves with the NAT's public address as its
    source (not the inside router's)."""
    a, b = masq
    router.dp.neigh_add(a, "10.0.0.9", in_mac(9))
    pkt = flow(17)
    router.send(a, pkt)
    router.expect(b, 1)
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR, id=5) / UDP(sport=7000, dport=MAPPED) / \
        Raw(b"reply")
    router.send(b, reply)
    (back,) = router.expect(a, 1)
    err = error_frame(from_inside(9), "10.0.0.9", FAR, 11, 0, ip_bytes(back[IP], ttl=1))
    router.send(a, err)
    (got,) = router.expect(b, 1)
    want = error_frame(Ether(src=router_mac(1), dst=out_mac()), OUT_ADDR, FAR, 11, 0,
                       ip_bytes(reply[IP], ttl=1), ttl=63)
    assert bytes(got) == bytes(want)


def test_error_from_inside_about_no_session_is_dropped(router, masq):
    """RFC 5508 REQ-4: from the private realm, about nothing the NAT knows:
    dropped (it could not be translated)."""
    a, b = masq
    quoted = ip_bytes(IP(src=FAR, dst=IN1, ttl=60) / UDP(sport=7000, dport=6000) / Raw(b"q"))
    err = error_frame(from_inside(), IN1, FAR, 3, 3, quoted)
    before = snapshot(router)
    router.send(a, err)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(err), {
        "drop_nat_unsupported": 1})})


def test_fragmented_error_translated_with_the_whole_checksum(router, masq):
    """An error quoting a whole large datagram, fragmented on the way: it is
    reassembled, translated, and its ICMP checksum covers all of it."""
    a, b = masq
    pkt = from_inside() / IP(src=IN1, dst=FAR, id=0x3333) / UDP(sport=5000, dport=7000) / \
        Raw(bytes(i % 253 for i in range(1200)))
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    err_ip = IP(src=FAR, dst=OUT_ADDR, id=0x4444, ttl=64) / ICMP(type=3, code=3) / \
        Raw(ip_bytes(out[IP]))
    frags = [from_outside() / f for f in fragment(err_ip, fragsize=600)]
    assert len(frags) == 3
    router.send(b, *frags)
    (got,) = router.expect(a, 1)
    want = error_frame(Ether(src=router_mac(0), dst=in_mac()), FAR, IN1, 3, 3,
                       ip_bytes(pkt[IP], ttl=63), ttl=63)
    assert bytes(got) == bytes(want)


def test_error_about_a_static_flow_translated(router):
    """RFC 5508 REQ-3 (Basic NAT too, RFC 3022 4.3): an error about a 1:1
    flow reaches the inside host with the quote translated back."""
    a, b = setup(router)
    static_rule(router, "10.0.1.50", IN2)
    pkt = from_inside(3) / IP(src=IN2, dst=FAR, id=1) / UDP(sport=5000, dport=7000) / Raw(b"x")
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    err = error_frame(from_outside(), PEER, "10.0.1.50", 11, 0, ip_bytes(out[IP], ttl=1))
    router.send(b, err)
    (got,) = router.expect(a, 1)
    want = error_frame(Ether(src=router_mac(0), dst=in_mac(3)), PEER, IN2, 11, 0,
                       ip_bytes(pkt[IP], ttl=1), ttl=63)
    assert bytes(got) == bytes(want)
