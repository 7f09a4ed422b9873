"""ICMP errors whose quoted packet is cut short or is not TCP, UDP or an
echo (RFC 5508 needs the quoted IP header and the first 8 bytes of L4 to
find the session). The NAT reads no byte past the quote and translates
nothing it cannot match: an error from outside to the router's outside
address stays addressed to the router (delivered locally; with no control
namespace it is counted and dropped, drop_punt_no_consumer), one from
inside is dropped as untranslatable (drop_nat_unsupported), and nothing is
sent either way. The same error with a whole quote is translated (the
reference case), so each case differs from a good one only in its quote."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Raw

from packet.helpers import assert_counters, merge, rx, snapshot, tx
from packet.nat_helpers import (FAR, IN1, OUT_ADDR, PEER, from_inside, from_outside, masquerade,
                                setup)

MAPPED = 30000


@pytest.fixture
def flow(router):
    """A UDP flow IN1:5000 -> FAR:7000, translated to OUT_ADDR:30000; returns
    the ports and the translated packet's IP bytes (what an outside router
    quotes)."""
    a, b = setup(router)
    masquerade(router, b, port_lo=MAPPED, port_hi=MAPPED)
    pkt = from_inside() / IP(src=IN1, dst=FAR, id=1) / UDP(sport=5000, dport=7000) / Raw(b"x" * 20)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    return a, b, bytes(out[IP])


def outside_error(quote: bytes):
    """Time exceeded from a router on the outside, about our translated packet."""
    return from_outside() / IP(src=PEER, dst=OUT_ADDR, id=9) / ICMP(type=11, code=0) / Raw(quote)


def inside_error(quote: bytes):
    """Port unreachable from the inside host about what the server sent it."""
    return from_inside() / IP(src=IN1, dst=FAR, id=9) / ICMP(type=3, code=3) / Raw(quote)


def patched(data: bytes, off: int, value: bytes) -> bytes:
    return data[:off] + value + data[off + len(value):]


# name: the quote made from the translated packet's IP bytes q
QUOTES = {
    "inner_header_cut_at_12_bytes": lambda q: q[:12],
    "inner_header_only": lambda q: q[:20],
    "udp_header_cut_at_2_bytes": lambda q: q[:22],
    "inner_ihl_beyond_the_quote": lambda q: patched(q[:28], 0, b"\x4f"),
    "inner_ihl_below_5": lambda q: patched(q[:28], 0, b"\x43"),
    "inner_gre": lambda q: patched(q[:28], 9, b"\x2f"),
    "inner_icmp_error": lambda q: patched(q[:20], 9, b"\x01") + bytes(ICMP(type=3, code=1)),
    "inner_echo_cut_at_4_bytes": lambda q: patched(q[:20], 9, b"\x01") + b"\x08\x00\x00\x00",
    "inner_later_fragment": lambda q: patched(q[:28], 6, b"\x00\x10"),
}


def test_reference_error_from_outside_with_a_whole_quote_is_translated(router, flow):
    a, b, q = flow
    err = outside_error(q[:28])
    before = snapshot(router)
    router.send(b, err)
    (got,) = router.expect(a, 1)
    assert got[IP].dst == IN1 and got[ICMP].type == 11
    assert_counters(router, before, {a: tx(got), b: merge(rx(err), {
        "ip_forwarded": 1, "nat_icmp_errors_translated": 1})})


def reply_inside() -> bytes:
    """The server's reply as the inside host got it: FAR:7000 -> IN1:5000."""
    return bytes(IP(src=FAR, dst=IN1, id=2, ttl=63) / UDP(sport=7000, dport=5000) / Raw(b"r"))


def test_reference_error_from_inside_with_a_whole_quote_is_translated(router, flow):
    a, b, q = flow
    err = inside_error(reply_inside()[:28])
    before = snapshot(router)
    router.send(a, err)
    (got,) = router.expect(b, 1)
    assert got[IP].src == OUT_ADDR and got[ICMP].type == 3
    assert_counters(router, before, {b: tx(got), a: merge(rx(err), {
        "ip_forwarded": 1, "nat_icmp_errors_translated": 1})})


@pytest.mark.parametrize("quote", QUOTES.values(), ids=QUOTES.keys())
def test_error_from_outside_with_a_bad_quote_stays_the_routers(router, flow, quote):
    a, b, q = flow
    err = outside_error(quote(q))
    before = snapshot(router)
    router.send(b, err)
    router.expect_none(a, b)
    assert_counters(router, before, {b: merge(rx(err), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1})})
    assert len(router.dp.nat_session_list()) == 1  # the flow's own, untouched


@pytest.mark.parametrize("quote", QUOTES.values(), ids=QUOTES.keys())
def test_error_from_inside_with_a_bad_quote_is_dropped(router, flow, quote):
    a, b, q = flow
    err = inside_error(quote(reply_inside()))
    before = snapshot(router)
    router.send(a, err)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(err), {"drop_nat_unsupported": 1})})
