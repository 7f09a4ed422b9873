"""NAT44 translations, byte for byte, both directions: masquerade, address
pools (RFC 4787 REQ-1 endpoint-independent mapping, REQ-2 paired pooling,
port preservation), port ranges, port forwards (with hairpinning, REQ-9),
static 1:1 for any protocol; TCP, UDP and ICMP echo checksums."""

from __future__ import annotations

from ipaddress import IPv4Network

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption
from scapy.packet import Raw

from packet.harness import PacketRouter
from packet.helpers import assert_counters, merge, rx, snapshot, tx
from packet.nat_helpers import router  # noqa: F401 - the fixture
from packet.nat_helpers import (FAR, FAR2, IN1, IN2, OUT_ADDR, PEER, NatState, forward_rule,
                                from_inside, from_outside, in_mac, masquerade, out_mac, pool_rule,
                                session_tuples, setup, static_rule, xlated)

NEW = {"ip_forwarded": 1, "nat_sessions_created": 1, "nat_translated": 1}  # first packet
HIT = {"ip_forwarded": 1, "nat_translated": 1}  # a packet of a known session


def udp_out(sport=5000, dport=7000, dst=FAR, h=2, payload=b"question", **ip):
    return (from_inside(h) / IP(src=f"10.0.0.{h}", dst=dst, id=0x1111, **ip) /
            UDP(sport=sport, dport=dport) / Raw(payload))


def udp_in(dport, sport=7000, src=FAR, dst=OUT_ADDR, payload=b"answer!", **ip):
    return (from_outside() / IP(src=src, dst=dst, id=0x2222, **ip) /
            UDP(sport=sport, dport=dport) / Raw(payload))


@pytest.fixture
def masq(router):
    a, b = setup(router)
    masquerade(router, b)
    return a, b


@pytest.fixture
def setup_range(router):
    """Masquerade with a port range: setup_range(lo, hi) -> (a, b)."""
    def make(lo, hi):
        a, b = setup(router)
        masquerade(router, b, port_lo=lo, port_hi=hi)
        return a, b
    return make


# ---- masquerade --------------------------------------------------------------------


def test_masquerade_udp_both_ways_keeps_the_port(router, masq):
    a, b = masq
    out_pkt = udp_out()
    before = snapshot(router)
    router.send(a, out_pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(out_pkt, 1, out_mac(), src=OUT_ADDR)
    assert session_tuples(router) == {
        (17, (IN1, 5000, FAR, 7000), (OUT_ADDR, 5000, FAR, 7000), NatState.UDP, 1)}
    reply = udp_in(5000)
    router.send(b, reply)
    (back,) = router.expect(a, 1)
    assert bytes(back) == xlated(reply, 0, in_mac(), dst=IN1)
    assert_counters(router, before, {a: merge(rx(out_pkt), tx(back), NEW),
                                     b: merge(rx(reply), tx(out), HIT)})
    (s,) = router.dp.nat_session_list()
    assert s.packets == 2 and s.timeout_s == 300 and s.worker == 0


def test_masquerade_tcp_both_ways(router, masq):
    a, b = masq
    syn = (from_inside() / IP(src=IN1, dst=FAR, id=7) /
           TCP(sport=40000, dport=8443, flags="S", seq=1000, options=[("MSS", 1460)]))
    router.send(a, syn)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(syn, 1, out_mac(), src=OUT_ADDR)
    synack = (from_outside() / IP(src=FAR, dst=OUT_ADDR, id=8) /
              TCP(sport=8443, dport=40000, flags="SA", seq=5000, ack=1001) / Raw(b"data"))
    router.send(b, synack)
    (back,) = router.expect(a, 1)
    assert bytes(back) == xlated(synack, 0, in_mac(), dst=IN1)
    assert [s.state for s in router.dp.nat_session_list()] == [NatState.TCP_EST]


def test_translation_with_ip_options(router, masq):
    """The L4 header is found after the options, both ways."""
    a, b = masq
    opt = [IPOption(b"\x88\x04\x12\x34")]  # stream id
    out_pkt = udp_out(options=opt)
    router.send(a, out_pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == xlated(out_pkt, 1, out_mac(), src=OUT_ADDR)
    reply = udp_in(5000, options=opt)
    router.send(b, reply)
    (back,) = router.expect(a, 1)
    assert bytes(back) == xlated(reply, 0, in_mac(), dst=IN1)


@pytest.fixture
def own_router(tmp_path):
    r = PacketRouter(tmp_path)
    yield r
    r.close()


def test_inside_to_inside_and_other_egress_ports_are_not_translated(own_router):
    router = own_router
    a, b = setup(router)
    c = router.add_ports(1)[0]  # 10.0.2.1/24, no NAT rule for it
    router.dp.neigh_add(c, "10.0.2.2", "02:00:00:00:03:02")
    masquerade(router, b)
    to_in2 = udp_out(dst=IN2)
    to_c = udp_out(dst="10.0.2.2")
    router.send(a, to_in2, to_c)
    (o1,) = router.expect(a, 1)
    (o2,) = router.expect(c, 1)
    assert bytes(o1) == xlated(to_in2, 0, in_mac(3))
    assert bytes(o2) == xlated(to_c, 2, "02:00:00:00:03:02")
    assert router.dp.nat_session_list() == []


def test_endpoint_independent_mapping(router, setup_range):
    """RFC 4787 REQ-1: one inside ip:port to two destinations gets one
    outside ip:port (here moved by the port range), and both destinations'
    replies reach it."""
    a, b = setup_range(30000, 30000)  # one port: the mapping's
    p1, p2 = udp_out(sport=5000, dst=FAR), udp_out(sport=5000, dst=FAR2, dport=7001)
    router.send(a, p1, p2)
    o1, o2 = router.expect(b, 2)
    assert bytes(o1) == xlated(p1, 1, out_mac(), src=OUT_ADDR, sport=30000)
    assert bytes(o2) == xlated(p2, 1, out_mac(), src=OUT_ADDR, sport=30000)
    assert router.dp.nat_params_get()["mappings"] == 1
    r1, r2 = udp_in(30000, src=FAR), udp_in(30000, src=FAR2, sport=7001)
    router.send(b, r1, r2)
    b1, b2 = router.expect(a, 2)
    assert bytes(b1) == xlated(r1, 0, in_mac(), dst=IN1, dport=5000)
    assert bytes(b2) == xlated(r2, 0, in_mac(), dst=IN1, dport=5000)


def test_source_port_taken_gets_another_port(router, masq):
    """Two inside hosts with the same source port: the first keeps it, the
    second is given another (RFC 4787 REQ-3: in 1024-65535), and replies to
    each outside port reach the right host."""
    a, b = masq
    p1, p2 = udp_out(sport=5000, h=2), udp_out(sport=5000, h=3)
    router.send(a, p1)
    (o1,) = router.expect(b, 1)
    router.send(a, p2)
    (o2,) = router.expect(b, 1)
    assert bytes(o1) == xlated(p1, 1, out_mac(), src=OUT_ADDR)
    port2 = o2[UDP].sport
    assert port2 != 5000 and 1024 <= port2 <= 65535
    assert bytes(o2) == xlated(p2, 1, out_mac(), src=OUT_ADDR, sport=port2)
    assert session_tuples(router) == {
        (17, (IN1, 5000, FAR, 7000), (OUT_ADDR, 5000, FAR, 7000), NatState.UDP, 1),
        (17, (IN2, 5000, FAR, 7000), (OUT_ADDR, port2, FAR, 7000), NatState.UDP, 1)}
    r1, r2 = udp_in(5000), udp_in(port2)
    router.send(b, r2, r1)
    b2, b1 = router.expect(a, 2)
    assert bytes(b2) == xlated(r2, 0, in_mac(3), dst=IN2, dport=5000)
    assert bytes(b1) == xlated(r1, 0, in_mac(2), dst=IN1, dport=5000)


def test_port_range_is_honoured(router, setup_range):
    """A source port inside the configured range is kept; one outside it is
    moved into it."""
    a, b = setup_range(20000, 20003)
    inside = udp_out(sport=20002)
    outside = udp_out(sport=5000)
    router.send(a, inside, outside)
    o1, o2 = router.expect(b, 2)
    assert bytes(o1) == xlated(inside, 1, out_mac(), src=OUT_ADDR)
    assert 20000 <= o2[UDP].sport <= 20003 and o2[UDP].sport != 20002
    assert bytes(o2) == xlated(outside, 1, out_mac(), src=OUT_ADDR, sport=o2[UDP].sport)
    reply = udp_in(o2[UDP].sport)
    router.send(b, reply)
    (back,) = router.expect(a, 1)
    assert bytes(back) == xlated(reply, 0, in_mac(), dst=IN1, dport=5000)


# ---- address pools -----------------------------------------------------------------

POOL = ("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13")


@pytest.mark.capacity("48 NAT sessions")
def test_pool_pairs_each_inside_address_with_one_pool_address(router):
    """RFC 4787 REQ-2 (paired): every flow of an inside address gets the same
    pool address; the inside addresses spread over the pool."""
    a, b = setup(router)
    pool_rule(router, b, POOL)
    hosts = range(2, 18)
    pkts = [udp_out(sport=6000 + 10 * h + p, dport=7000 + p, h=h, dst=FAR if p % 2 else FAR2)
            for h in hosts for p in range(3)]
    router.send(a, *pkts)
    outs = router.expect(b, len(pkts))
    by_host: dict[str, set[str]] = {}
    for pkt, out in zip(pkts, outs):
        assert out[IP].src in POOL
        assert bytes(out) == xlated(pkt, 1, out_mac(), src=out[IP].src)  # ports kept
        by_host.setdefault(pkt[IP].src, set()).add(out[IP].src)
    assert all(len(v) == 1 for v in by_host.values()), by_host
    assert len(set().union(*by_host.values())) > 1  # more than one pool address used
    # and again later, for new flows of the same hosts
    again = [udp_out(sport=9000, h=h) for h in hosts]
    router.send(a, *again)
    for pkt, out in zip(again, router.expect(b, len(again))):
        assert {out[IP].src} == by_host[pkt[IP].src]


def test_pool_both_ways_with_endpoint_independent_mapping(router):
    a, b = setup(router)
    pool_rule(router, b, POOL)
    p1, p2 = udp_out(sport=5000, dst=FAR), udp_out(sport=5000, dst=FAR2)
    router.send(a, p1, p2)
    o1, o2 = router.expect(b, 2)
    ext = o1[IP].src
    assert ext in POOL
    assert bytes(o1) == xlated(p1, 1, out_mac(), src=ext)
    assert bytes(o2) == xlated(p2, 1, out_mac(), src=ext)
    r1, r2 = udp_in(5000, src=FAR, dst=ext), udp_in(5000, src=FAR2, dst=ext)
    before = snapshot(router)
    router.send(b, r1, r2)
    b1, b2 = router.expect(a, 2)
    assert bytes(b1) == xlated(r1, 0, in_mac(), dst=IN1)
    assert bytes(b2) == xlated(r2, 0, in_mac(), dst=IN1)
    assert_counters(router, before, {a: tx(b1, b2),
                                     b: merge(rx(r1), rx(r2), HIT, HIT)})


# ---- checksums -----------------------------------------------------------------------


def test_icmp_echo_id_translated_and_checksum_updated(router, masq):
    """Two inside hosts ping with the same identifier: the second's is
    translated (the ICMP checksum with it), and the replies go back to each
    with its own identifier."""
    a, b = masq
    e1 = from_inside(2) / IP(src=IN1, dst=FAR, id=1) / ICMP(id=0x77, seq=1) / Raw(b"ping-1")
    e2 = from_inside(3) / IP(src=IN2, dst=FAR, id=2) / ICMP(id=0x77, seq=1) / Raw(b"ping-2")
    router.send(a, e1)
    (o1,) = router.expect(b, 1)
    router.send(a, e2)
    (o2,) = router.expect(b, 1)
    assert bytes(o1) == xlated(e1, 1, out_mac(), src=OUT_ADDR)
    id2 = o2[ICMP].id
    assert id2 != 0x77
    assert bytes(o2) == xlated(e2, 1, out_mac(), src=OUT_ADDR, icmp_id=id2)
    assert session_tuples(router, proto=1) == {
        (1, (IN1, 0x77, FAR, 0), (OUT_ADDR, 0x77, FAR, 0), NatState.ICMP, 1),
        (1, (IN2, 0x77, FAR, 0), (OUT_ADDR, id2, FAR, 0), NatState.ICMP, 1)}
    r1 = from_outside() / IP(src=FAR, dst=OUT_ADDR, id=3) / ICMP(type=0, id=0x77, seq=1) / \
        Raw(b"ping-1")
    r2 = from_outside() / IP(src=FAR, dst=OUT_ADDR, id=4) / ICMP(type=0, id=id2, seq=1) / \
        Raw(b"ping-2")
    before = snapshot(router)
    router.send(b, r2, r1)
    b2, b1 = router.expect(a, 2)
    assert bytes(b2) == xlated(r2, 0, in_mac(3), dst=IN2, icmp_id=0x77)
    assert bytes(b1) == xlated(r1, 0, in_mac(2), dst=IN1)
    assert_counters(router, before, {a: tx(b1, b2), b: merge(rx(r1), rx(r2), HIT, HIT)})


def test_udp_checksum_zero_stays_zero(router, setup_range):
    a, b = setup_range(20000, 20000)
    pkt = udp_out(sport=5000)
    pkt[UDP].chksum = 0
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert out[UDP].chksum == 0
    assert bytes(out) == xlated(pkt, 1, out_mac(), src=OUT_ADDR, sport=20000)
    reply = udp_in(20000)
    reply[UDP].chksum = 0
    router.send(b, reply)
    (back,) = router.expect(a, 1)
    assert back[UDP].chksum == 0
    assert bytes(back) == xlated(reply, 0, in_mac(), dst=IN1, dport=5000)


def _payload_for_zero_checksum(make) -> bytes:
    """A 2-byte payload for which the ones' complement sum of make(payload)'s
    UDP checksum coverage is 0xffff, so that its checksum computes to 0: the
    checksum with a zero payload, added in, complements the rest."""
    c0 = IP(bytes(make(b"\0\0")))[UDP].chksum
    payload = c0.to_bytes(2, "big")
    assert IP(bytes(make(payload)))[UDP].chksum == 0xFFFF  # scapy's 0 -> 0xffff
    return payload


def test_udp_checksum_computing_to_zero_is_sent_as_ffff(router, setup_range):
    """RFC 768: a computed checksum of 0 is sent as 0xffff (0 means none)."""
    a, b = setup_range(20000, 20000)
    payload = _payload_for_zero_checksum(
        lambda p: IP(src=OUT_ADDR, dst=FAR, ttl=63, id=0x1111) / UDP(sport=20000, dport=7000) /
        Raw(p))
    pkt = udp_out(sport=5000, payload=payload)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert out[UDP].chksum == 0xFFFF
    assert bytes(out) == xlated(pkt, 1, out_mac(), src=OUT_ADDR, sport=20000)


# ---- port forwards -----------------------------------------------------------------


@pytest.mark.parametrize("proto", [6, 17])
def test_port_forward_both_ways(router, proto):
    a, b = setup(router)
    masquerade(router, b)
    forward_rule(router, proto, 8080, IN2, 9090)
    l4 = (lambda **k: TCP(flags="S", seq=77, **k)) if proto == 6 else UDP
    req = from_outside() / IP(src=PEER, dst=OUT_ADDR, id=5) / l4(sport=4000, dport=8080) / \
        Raw(b"request")
    before = snapshot(router)
    router.send(b, req)
    (fwd,) = router.expect(a, 1)
    assert bytes(fwd) == xlated(req, 0, in_mac(3), dst=IN2, dport=9090)
    assert session_tuples(router) == {
        (proto, (PEER, 4000, OUT_ADDR, 8080), (PEER, 4000, IN2, 9090),
         NatState.TCP_SYN if proto == 6 else NatState.UDP, 2)}
    l4r = (lambda **k: TCP(flags="SA", seq=900, ack=78, **k)) if proto == 6 else UDP
    rep = from_inside(3) / IP(src=IN2, dst=PEER, id=6) / l4r(sport=9090, dport=4000) / \
        Raw(b"response")
    router.send(a, rep)
    (back,) = router.expect(b, 1)
    assert bytes(back) == xlated(rep, 1, out_mac(), src=OUT_ADDR, sport=8080)
    assert_counters(router, before, {a: merge(rx(rep), tx(fwd), HIT),
                                     b: merge(rx(req), tx(back), NEW)})
    assert [r.sessions for r in router.dp.nat_rule_list()] == [0, 1]


def test_hairpinning_through_a_port_forward(router):
    """RFC 4787 REQ-9: an inside client reaching a port forward through the
    outside address: the server sees the client's outside mapping, the
    client sees the reply from the outside address and port."""
    a, b = setup(router)
    masquerade(router, b, port_lo=30000, port_hi=30000)
    forward_rule(router, 17, 8080, IN2, 9090)
    req = from_inside(2) / IP(src=IN1, dst=OUT_ADDR, id=5) / UDP(sport=5555, dport=8080) / \
        Raw(b"hairpin")
    before = snapshot(router)
    router.send(a, req)
    (at_server,) = router.expect(a, 1)
    assert bytes(at_server) == xlated(req, 0, in_mac(3), src=OUT_ADDR, sport=30000, dst=IN2,
                                      dport=9090)
    rep = from_inside(3) / IP(src=IN2, dst=OUT_ADDR, id=6) / UDP(sport=9090, dport=30000) / \
        Raw(b"back")
    router.send(a, rep)
    (at_client,) = router.expect(a, 1)
    assert bytes(at_client) == xlated(rep, 0, in_mac(2), src=OUT_ADDR, sport=8080, dst=IN1,
                                      dport=5555)
    assert_counters(router, before, {a: merge(rx(req), rx(rep), tx(at_server, at_client),
                                              NEW, HIT)})
    # the client's mapping is the one it has for the outside too (REQ-1)
    out = udp_out(sport=5555, dst=FAR)
    router.send(a, out)
    (o,) = router.expect(b, 1)
    assert bytes(o) == xlated(out, 1, out_mac(), src=OUT_ADDR, sport=30000)


def test_port_forward_from_outside_client_inside_the_snat_match(router):
    """A SNAT match wide enough to cover outside addresses too (10.0.0.0/16
    here, the outside being 10.0.1.0/24): an outside client of a port
    forward is no hairpin client, the server sees its real address."""
    a, b = setup(router)
    masquerade(router, b, match=IPv4Network("10.0.0.0/16"))
    forward_rule(router, 17, 8080, IN2, 9090)
    req = from_outside() / IP(src=PEER, dst=OUT_ADDR, id=5) / UDP(sport=4000, dport=8080) / \
        Raw(b"request")
    router.send(b, req)
    (fwd,) = router.expect(a, 1)
    assert bytes(fwd) == xlated(req, 0, in_mac(3), dst=IN2, dport=9090)
    rep = from_inside(3) / IP(src=IN2, dst=PEER, id=6) / UDP(sport=9090, dport=4000) / \
        Raw(b"response")
    router.send(a, rep)
    (back,) = router.expect(b, 1)
    assert bytes(back) == xlated(rep, 1, out_mac(), src=OUT_ADDR, sport=8080)
    assert router.dp.nat_params_get()["mappings"] == 0


# ---- static 1:1 --------------------------------------------------------------------

EXT2 = "10.0.1.50"  # IN2's outside address


@pytest.mark.parametrize("proto", [47, 253])
def test_static_one_to_one_other_protocols(router, proto):
    a, b = setup(router)
    masquerade(router, b)  # the 1:1 rule takes precedence for IN2
    static_rule(router, EXT2, IN2)
    inb = from_outside() / IP(src=PEER, dst=EXT2, proto=proto, id=9) / Raw(b"\x00\x00\x08\x00in")
    before = snapshot(router)
    router.send(b, inb)
    (o1,) = router.expect(a, 1)
    assert bytes(o1) == xlated(inb, 0, in_mac(3), dst=IN2)
    outb = from_inside(3) / IP(src=IN2, dst=FAR, proto=proto, id=10) / Raw(b"\x00\x00\x08\x00out")
    router.send(a, outb)
    (o2,) = router.expect(b, 1)
    assert bytes(o2) == xlated(outb, 1, out_mac(), src=EXT2)
    assert_counters(router, before, {a: merge(rx(outb), tx(o1), HIT),
                                     b: merge(rx(inb), tx(o2), HIT)})
    assert router.dp.nat_session_list() == []  # 1:1 is stateless


def test_static_one_to_one_udp_tcp_icmp(router):
    a, b = setup(router)
    static_rule(router, EXT2, IN2)
    pairs = [
        (from_outside() / IP(src=PEER, dst=EXT2) / UDP(sport=1111, dport=2222) / Raw(b"u"),
         from_inside(3) / IP(src=IN2, dst=PEER) / UDP(sport=2222, dport=1111) / Raw(b"v")),
        (from_outside() / IP(src=PEER, dst=EXT2) / TCP(sport=1111, dport=2222, flags="S"),
         from_inside(3) / IP(src=IN2, dst=PEER) / TCP(sport=2222, dport=1111, flags="SA")),
        (from_outside() / IP(src=PEER, dst=EXT2) / ICMP(id=5, seq=1) / Raw(b"ping"),
         from_inside(3) / IP(src=IN2, dst=PEER) / ICMP(type=0, id=5, seq=1) / Raw(b"ping")),
    ]
    for inb, outb in pairs:
        router.send(b, inb)
        (o1,) = router.expect(a, 1)
        assert bytes(o1) == xlated(inb, 0, in_mac(3), dst=IN2)
        router.send(a, outb)
        (o2,) = router.expect(b, 1)
        assert bytes(o2) == xlated(outb, 1, out_mac(), src=EXT2)
