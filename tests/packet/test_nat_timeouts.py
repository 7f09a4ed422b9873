"""NAT session timeouts with the test clock (nat_clock_advance moves the NAT
clock and runs a full expiry pass), at the default values: UDP 300 s
(RFC 4787 REQ-5), ICMP 60 s (RFC 5508 REQ-1), TCP established 7440 s and
transitory 240 s (RFC 5382 REQ-5); and TCP state tracking."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP, UDPerror
from scapy.packet import Raw

from packet.helpers import assert_counters, icmp_error, merge, rx, snapshot, tx
from packet.nat_helpers import router  # noqa: F401 - the fixture
from packet.nat_helpers import (FAR, IN1, OUT_ADDR, NatState, from_inside, from_outside, in_mac,
                                masquerade, out_mac, setup, xlated)


@pytest.fixture
def masq(router):
    a, b = setup(router)
    masquerade(router, b)
    return a, b


def tcp_out(flags, seq=100, ack=0):
    return from_inside() / IP(src=IN1, dst=FAR) / TCP(sport=40000, dport=8443, flags=flags,
                                                      seq=seq, ack=ack)


def tcp_in(flags, seq=900, ack=0):
    return from_outside() / IP(src=FAR, dst=OUT_ADDR) / TCP(sport=8443, dport=40000,
                                                            flags=flags, seq=seq, ack=ack)


def through(router, port_in, port_out, pkt, n=1):
    router.send(port_in, pkt)
    return router.expect(port_out, n)


def states(router):
    return [(s.state, s.timeout_s) for s in router.dp.nat_session_list()]


def expires_after(router, timeout: int, state: int) -> None:
    """The only session is in `state`, still there 1 s before `timeout`
    and gone 1 s after."""
    assert states(router) == [(state, timeout)]
    router.dp.nat_clock_advance(timeout - 1)
    assert states(router) == [(state, timeout)]
    assert router.dp.nat_session_list()[0].age_ms >= (timeout - 1) * 1000
    router.dp.nat_clock_advance(2)
    assert router.dp.nat_session_list() == []
    p = router.dp.nat_params_get()
    assert (p["sessions"], p["mappings"]) == (0, 0)


# ---- UDP and ICMP ----------------------------------------------------------------


def test_udp_session_expires_after_300s_then_replies_are_not_translated(router, masq):
    a, b = masq
    out_pkt = from_inside() / IP(src=IN1, dst=FAR) / UDP(sport=5000, dport=7000) / Raw(b"q")
    through(router, a, b, out_pkt)
    expires_after(router, 300, NatState.UDP)
    # the reply now is for the router itself: punted, and UDP to a closed
    # port of ours gets port unreachable (back out of b, via the gateway)
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR, id=3) / UDP(sport=7000, dport=5000) / \
        Raw(b"late")
    before = snapshot(router)
    router.send(b, reply)
    (err,) = router.expect(b, 1)
    assert err[UDPerror].dport == 5000
    assert bytes(err) == icmp_error(1, out_mac(), OUT_ADDR, FAR, 3, 3, bytes(reply[IP]),
                                    err[IP].id)
    router.expect_none(a)
    assert_counters(router, before, {b: merge(rx(reply), tx(err), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1, "icmp_errors_sent": 1})})


def test_udp_traffic_refreshes_the_session(router, masq):
    a, b = masq
    out_pkt = from_inside() / IP(src=IN1, dst=FAR) / UDP(sport=5000, dport=7000) / Raw(b"q")
    through(router, a, b, out_pkt)
    router.dp.nat_clock_advance(299)
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR) / UDP(sport=7000, dport=5000)
    (back,) = through(router, b, a, reply)  # inbound refreshes too (RFC 4787 REQ-6 allows)
    assert bytes(back) == xlated(reply, 0, in_mac(), dst=IN1)
    router.dp.nat_clock_advance(299)
    assert states(router) == [(NatState.UDP, 300)]
    router.dp.nat_clock_advance(2)
    assert router.dp.nat_session_list() == []


def test_icmp_session_expires_after_60s(router, masq):
    a, b = masq
    ping = from_inside() / IP(src=IN1, dst=FAR) / ICMP(id=0x99, seq=1) / Raw(b"p")
    through(router, a, b, ping)
    expires_after(router, 60, NatState.ICMP)
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR) / ICMP(type=0, id=0x99, seq=1) / Raw(b"p")
    before = snapshot(router)
    router.send(b, reply)
    router.expect_none(a, b)  # an echo reply for the router: nobody wants it
    assert_counters(router, before, {b: merge(rx(reply), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1})})


# ---- TCP ------------------------------------------------------------------------------


def test_tcp_syn_only_expires_after_240s(router, masq):
    a, b = masq
    through(router, a, b, tcp_out("S"))
    expires_after(router, 240, NatState.TCP_SYN)
    before = snapshot(router)
    late = tcp_in("SA", ack=101)
    router.send(b, late)
    router.expect_none(a, b)
    assert_counters(router, before, {b: merge(rx(late), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1})})


def test_tcp_established_expires_after_7440s(router, masq):
    a, b = masq
    through(router, a, b, tcp_out("S"))
    through(router, b, a, tcp_in("SA", ack=101))
    through(router, a, b, tcp_out("A", seq=101, ack=901))
    expires_after(router, 7440, NatState.TCP_EST)


def test_tcp_fin_state_expires_after_240s(router, masq):
    a, b = masq
    through(router, a, b, tcp_out("S"))
    through(router, b, a, tcp_in("SA", ack=101))
    through(router, a, b, tcp_out("FA", seq=101, ack=901))
    expires_after(router, 240, NatState.TCP_FIN)


def test_tcp_closing_state_expires_after_240s(router, masq):
    a, b = masq
    through(router, a, b, tcp_out("S"))
    through(router, b, a, tcp_in("SA", ack=101))
    through(router, a, b, tcp_out("FA", seq=101, ack=901))
    through(router, b, a, tcp_in("FA", seq=901, ack=102))
    expires_after(router, 240, NatState.TCP_CLOSING)


def test_tcp_rst_state_expires_after_240s(router, masq):
    a, b = masq
    through(router, a, b, tcp_out("S"))
    through(router, b, a, tcp_in("SA", ack=101))
    through(router, b, a, tcp_in("R", seq=901))
    expires_after(router, 240, NatState.TCP_CLOSING)


def test_tcp_state_tracking(router, masq):
    a, b = masq
    steps = [
        (a, b, tcp_out("S"), NatState.TCP_SYN),
        (a, b, tcp_out("S"), NatState.TCP_SYN),  # a retransmitted SYN
        (b, a, tcp_in("SA", ack=101), NatState.TCP_EST),
        (a, b, tcp_out("A", seq=101, ack=901), NatState.TCP_EST),
        (b, a, tcp_in("PA", seq=901, ack=101) / Raw(b"data"), NatState.TCP_EST),
        (b, a, tcp_in("FA", seq=905, ack=101), NatState.TCP_FIN),
        (a, b, tcp_out("A", seq=101, ack=906), NatState.TCP_FIN),
        (a, b, tcp_out("FA", seq=101, ack=906), NatState.TCP_CLOSING),
        (b, a, tcp_in("A", seq=906, ack=102), NatState.TCP_CLOSING),
    ]
    for pin, pout, pkt, state in steps:
        (out,) = through(router, pin, pout, pkt)
        if pin == a:
            assert bytes(out) == xlated(pkt, 1, out_mac(), src=OUT_ADDR)
        else:
            assert bytes(out) == xlated(pkt, 0, in_mac(), dst=IN1)
        assert [s.state for s in router.dp.nat_session_list()] == [state], pkt.summary()
    assert router.dp.nat_session_list()[0].packets == len(steps)


def test_tcp_rst_from_inside_closes(router, masq):
    a, b = masq
    through(router, a, b, tcp_out("S"))
    through(router, b, a, tcp_in("SA", ack=101))
    assert states(router) == [(NatState.TCP_EST, 7440)]
    through(router, a, b, tcp_out("R", seq=101))
    assert states(router) == [(NatState.TCP_CLOSING, 240)]


def test_tcp_session_opened_without_syn_is_established(router, masq):
    """A flow picked up mid-stream (e.g. after a restart) is taken as
    established (RFC 5382 allows it; its timeout is the long one)."""
    a, b = masq
    through(router, a, b, tcp_out("A", seq=101, ack=901))
    assert states(router) == [(NatState.TCP_EST, 7440)]


def test_tcp_syn_after_close_reopens(router, masq):
    """After both FINs, a new SYN on the same ports starts over."""
    a, b = masq
    through(router, a, b, tcp_out("S"))
    through(router, b, a, tcp_in("SA", ack=101))
    through(router, a, b, tcp_out("FA", seq=101, ack=901))
    through(router, b, a, tcp_in("FA", seq=901, ack=102))
    assert states(router) == [(NatState.TCP_CLOSING, 240)]
    through(router, a, b, tcp_out("S", seq=5000))
    assert states(router) == [(NatState.TCP_SYN, 240)]
    through(router, b, a, tcp_in("SA", seq=7000, ack=5001))
    assert states(router) == [(NatState.TCP_EST, 7440)]
