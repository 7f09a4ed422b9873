"""ICMP: echo replies, errors (RFC 792, RFC 1812 4.3), their suppression and
rate limit, and traffic to the router's own addresses."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, IPOption, UDPerror
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import host_mac, router_mac
from packet.helpers import (BCAST, arp_request_from_router, assert_counters, forwarded,
                            icmp_error, merge, rx, snapshot, to_router, tx)
from vrouter.dataplane.messages import NhType


@pytest.fixture
def two(router):
    """Ports a, b; hosts 10.0.0.2 (a) and 10.0.1.2 (b) known; 20.0.0.0/8 via
    10.0.1.2."""
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    router.dp.nh_add(1, NhType.GATEWAY, b, "10.0.1.2")
    router.dp.route_add(0, [("20.0.0.0/8", 1)])
    return a, b


def udp(dst="20.1.2.3", ttl=64, size=16, **ip):
    return (to_router(0) / IP(src="10.0.0.2", dst=dst, ttl=ttl, id=0x1234, **ip) /
            UDP(sport=3333, dport=33434) / Raw(bytes(range(256)) * (size // 256) +
                                              bytes(range(size % 256))))


def echo(dst, ttl=64, tos=0, chksum=None):
    return (to_router(0) / IP(src="10.0.0.2", dst=dst, ttl=ttl, tos=tos, id=0x4321) /
            ICMP(type=8, id=0x77, seq=5, chksum=chksum) / Raw(b"ping payload 0123456789"))


def error_to_sender(err, typ, code, pkt, **fields) -> bytes:
    """Expected ICMP error from 10.0.0.1 to 10.0.0.2 quoting pkt's IP datagram;
    the IP id is the router's choice, copied from err."""
    return icmp_error(0, host_mac(0), "10.0.0.1", "10.0.0.2", typ, code, bytes(pkt[IP]),
                      err[IP].id, **fields)


# ---- echo ------------------------------------------------------------------------


@pytest.mark.parametrize("dst, tos", [("10.0.0.1", 0), ("10.0.1.1", 0), ("10.0.0.1", 0x28)])
def test_echo_request_to_our_address_gets_exact_reply(router, two, dst, tos):
    a, b = two
    req = echo(dst, tos=tos)
    before = snapshot(router)
    router.send(a, req)
    (out,) = router.expect(a, 1)
    # IP id: the router's choice, copied from the reply
    want = (Ether(src=router_mac(0), dst=host_mac(0)) /
            IP(src=dst, dst="10.0.0.2", ttl=64, tos=tos, id=out[IP].id) /
            ICMP(type=0, id=0x77, seq=5) / Raw(b"ping payload 0123456789"))
    assert bytes(out) == bytes(want)
    router.expect_none(b)
    assert_counters(router, before, {a: merge(rx(req), tx(out), {
        "ip_local": 1, "icmp_echo_replies": 1})})


def test_echo_reply_carries_no_ip_options(router, two):
    a, _ = two
    req = echo("10.0.0.1")
    req[IP].options = [IPOption(b"\x88\x04\x12\x34")]
    router.send(a, req)
    (out,) = router.expect(a, 1)
    # IP id: the router's choice, copied from the reply
    want = (Ether(src=router_mac(0), dst=host_mac(0)) /
            IP(src="10.0.0.1", dst="10.0.0.2", ttl=64, id=out[IP].id) /
            ICMP(type=0, id=0x77, seq=5) / Raw(b"ping payload 0123456789"))
    assert bytes(out) == bytes(want)


@pytest.mark.parametrize("ttl", [1, 0])
def test_echo_request_with_low_ttl_to_the_router_is_answered(router, two, ttl):
    """RFC 1812 5.3.1: the TTL is checked only when forwarding."""
    a, _ = two
    req = echo("10.0.0.1", ttl=ttl)
    before = snapshot(router)
    router.send(a, req)
    (out,) = router.expect(a, 1)
    # IP id: the router's choice, copied from the reply
    want = (Ether(src=router_mac(0), dst=host_mac(0)) /
            IP(src="10.0.0.1", dst="10.0.0.2", ttl=64, id=out[IP].id) /
            ICMP(type=0, id=0x77, seq=5) / Raw(b"ping payload 0123456789"))
    assert bytes(out) == bytes(want)
    assert_counters(router, before, {a: merge(rx(req), tx(out), {
        "ip_local": 1, "icmp_echo_replies": 1})})


def test_echo_request_with_bad_checksum_is_dropped(router, two):
    a, b = two
    req = echo("10.0.0.1", chksum=0xBAD)
    before = snapshot(router)
    router.send(a, req)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(req), {"ip_local": 1, "drop_icmp_bad": 1})})


# ---- errors ------------------------------------------------------------------------


@pytest.mark.parametrize("ttl", [1, 0])
def test_ttl_expired_sends_time_exceeded_from_ingress_address(router, two, ttl):
    a, b = two
    pkt = udp(ttl=ttl)
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    router.expect_none(b)
    assert bytes(err) == error_to_sender(err, 11, 0, pkt)
    assert_counters(router, before, {a: merge(rx(pkt), tx(err), {
        "drop_ttl_expired": 1, "icmp_errors_sent": 1})})


@pytest.mark.parametrize("sender, want_src", [
    ("10.9.1.2", "10.9.0.1"),  # on the port's second subnet: that address
    ("30.1.1.1", "10.0.0.1"),  # on none of its subnets: the port's first address
])
def test_error_source_is_the_ingress_address_facing_the_sender(router, two, sender, want_src):
    a, _ = two
    router.dp.addr_add(a, "10.9.0.1/16")
    (garp,) = router.expect(a, 1)
    assert bytes(garp) == arp_request_from_router(0, "10.9.0.1", sip="10.9.0.1")
    router.dp.neigh_add(a, "10.9.1.2", host_mac(0, 9))
    router.dp.nh_add(2, NhType.GATEWAY, a, "10.0.0.2")
    router.dp.route_add(0, [("30.0.0.0/8", 2)])
    pkt = udp(ttl=1)
    pkt[IP].src = sender
    via = host_mac(0, 9) if sender.startswith("10.9.") else host_mac(0)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    assert bytes(err) == icmp_error(0, via, want_src, sender, 11, 0, bytes(pkt[IP]), err[IP].id)


def test_time_exceeded_quotes_at_most_576_bytes(router, two):
    a, _ = two
    pkt = udp(ttl=1, size=1200)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    assert err[IP].len == 576
    assert bytes(err) == error_to_sender(err, 11, 0, pkt)  # quote cut at 548 bytes


def test_no_route_sends_net_unreachable(router, two):
    a, b = two
    pkt = udp(dst="30.1.2.3")
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    router.expect_none(b)
    assert bytes(err) == error_to_sender(err, 3, 0, pkt)
    assert_counters(router, before, {a: merge(rx(pkt), tx(err), {
        "drop_no_route": 1, "icmp_errors_sent": 1})})


def test_df_packet_over_egress_mtu_sends_frag_needed_with_mtu(router, two):
    a, b = two
    router.dp.port_set(b, mtu=1000)
    pkt = udp(size=1200, flags="DF")
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    router.expect_none(b)
    assert bytes(err) == error_to_sender(err, 3, 4, pkt, nexthopmtu=1000)
    assert bytes(err)[14 + 20 + 4:14 + 20 + 8] == b"\x00\x00\x03\xe8"
    assert_counters(router, before, {a: merge(rx(pkt), tx(err), {
        "drop_frag_needed": 1, "icmp_errors_sent": 1})})


# ---- when no error may be sent (RFC 1812 4.3.2.7) -------------------------------------


def time_exceeded_in_transit():
    """An ICMP time exceeded someone else sent, about to expire here."""
    inner = IP(src="10.0.0.2", dst="20.9.9.9") / UDP(sport=1, dport=2)
    return (to_router(0) / IP(src="10.0.0.2", dst="20.1.2.3", ttl=1) /
            ICMP(type=11, code=0) / IPerror(bytes(inner)))


def later_fragment():
    return (to_router(0) / IP(src="10.0.0.2", dst="20.1.2.3", ttl=1, id=9, frag=100, proto=17) /
            Raw(b"x" * 64))


@pytest.mark.parametrize("make, dropped_as", [
    (time_exceeded_in_transit, "drop_ttl_expired"),
    (later_fragment, "drop_ttl_expired"),
], ids=["about_an_icmp_error", "about_a_non_first_fragment"])
def test_no_error_about(router, two, make, dropped_as):
    a, b = two
    pkt = make()
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {dropped_as: 1})})


@pytest.mark.parametrize("make", [
    lambda: (to_router(0) / IP(src="10.0.0.2", dst="20.1.2.3", ttl=1) / ICMP(type=8)),
    lambda: (to_router(0) / IP(src="10.0.0.2", dst="20.1.2.3", ttl=1, id=9, flags="MF",
                                proto=17) / Raw(b"x" * 64)),
], ids=["icmp_query", "first_fragment"])
def test_errors_are_sent_about(router, two, make):
    """The contrast to the above: queries and first fragments do get errors."""
    a, _ = two
    pkt = make()
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    assert bytes(err) == error_to_sender(err, 11, 0, pkt)


def test_no_error_about_a_link_layer_broadcast(router, two):
    a, b = two
    pkt = udp(dst="30.1.2.3")  # no route: would be net unreachable
    pkt[Ether].dst = BCAST
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_no_route": 1})})


@pytest.mark.parametrize("dst, mac", [("224.0.0.5", "01:00:5e:00:00:05"),
                                      ("255.255.255.255", BCAST)])
def test_no_port_unreachable_about_multicast_or_broadcast(router, two, dst, mac):
    a, b = two
    pkt = udp(dst=dst)
    pkt[Ether].dst = mac
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1})})


def test_errors_are_rate_limited(router, two):
    a, _ = two
    router.dp.params_set(icmp_rate=0, icmp_burst=3)
    pkts = [udp(ttl=1) for _ in range(10)]
    before = snapshot(router)
    router.send(a, *pkts)
    errs = router.expect(a, 3)
    assert [bytes(e) for e in errs] == [error_to_sender(e, 11, 0, pkts[0]) for e in errs]
    assert_counters(router, before, {a: merge(*map(rx, pkts), tx(*errs), {
        "drop_ttl_expired": 10, "icmp_errors_sent": 3, "icmp_errors_ratelimited": 7})})


# ---- to the router ----------------------------------------------------------------


def test_udp_to_the_router_gets_port_unreachable(router, two):
    a, b = two
    pkt = udp(dst="10.0.0.1")
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    assert bytes(err) == error_to_sender(err, 3, 3, pkt)
    assert isinstance(err[ICMP].payload, IPerror) and err[UDPerror].dport == 33434
    assert_counters(router, before, {a: merge(rx(pkt), tx(err), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1, "icmp_errors_sent": 1})})


def test_tcp_to_the_router_is_dropped_without_reply(router, two):
    a, b = two
    pkt = to_router(0) / IP(src="10.0.0.2", dst="10.0.0.1") / TCP(sport=5555, dport=22)
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1})})


@pytest.mark.parametrize("dst", ["10.0.1.255", "10.0.0.255"])
def test_directed_broadcast_is_not_forwarded(router, two, dst):
    a, b = two
    pkt = udp(dst=dst)
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_directed_broadcast": 1})})


def test_forwarding_still_works_after_errors(router, two):
    """Sanity: the setup forwards a normal packet (the errors above are not
    artefacts of a broken route)."""
    a, b = two
    pkt = udp()
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
