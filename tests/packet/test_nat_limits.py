"""NAT resource limits: a full session table and an exhausted port range
drop new flows (counted) while existing flows keep working."""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.packet import Raw

from packet.harness import PacketRouter
from packet.helpers import assert_counters, merge, rx, snapshot, tx
from packet.nat_helpers import (FAR, IN1, OUT_ADDR, from_inside,
                                from_outside, in_mac, masquerade, out_mac, pool_rule, setup,
                                xlated)

SESSIONS = 64  # the dataplane's minimum


@pytest.fixture
def small(tmp_path):
    r = PacketRouter(tmp_path, nat_sessions=SESSIONS)
    yield r
    r.close()


def udp_out(sport, payload=b"q"):
    return from_inside() / IP(src=IN1, dst=FAR, id=sport) / UDP(sport=sport, dport=7000) / \
        Raw(payload)


def udp_in(dport, dst=OUT_ADDR, payload=b"a"):
    return from_outside() / IP(src=FAR, dst=dst, id=dport) / UDP(sport=7000, dport=dport) / \
        Raw(payload)


def test_session_table_full_drops_new_flows_only(small):
    router = small
    a, b = setup(router)
    masquerade(router, b)
    assert router.dp.nat_params_get()["max_sessions"] == SESSIONS
    first = [udp_out(10000 + i) for i in range(SESSIONS)]
    router.send(a, *first)
    outs = router.expect(b, SESSIONS)
    assert [bytes(o) for o in outs] == [xlated(p, 1, out_mac(), src=OUT_ADDR) for p in first]
    p = router.dp.nat_params_get()
    assert (p["sessions"], p["mappings"]) == (SESSIONS, SESSIONS)

    extra = [udp_out(20000), udp_out(20001)]
    old = [udp_out(10000, b"again"), udp_out(10000 + SESSIONS - 1, b"again")]
    before = snapshot(router)
    router.send(a, *extra, *old)
    got = router.expect(b, 2)
    assert [bytes(o) for o in got] == [xlated(p, 1, out_mac(), src=OUT_ADDR) for p in old]
    replies = [udp_in(10000), udp_in(10000 + SESSIONS - 1)]
    router.send(b, *replies)
    back = router.expect(a, 2)
    assert [bytes(o) for o in back] == [xlated(r, 0, in_mac(), dst=IN1) for r in replies]
    assert_counters(router, before, {
        a: merge(*map(rx, extra + old), tx(*back), {"ip_forwarded": 2, "nat_translated": 2,
                                                    "drop_nat_table_full": 2}),
        b: merge(*map(rx, replies), tx(*got), {"ip_forwarded": 2, "nat_translated": 2})})
    assert len(router.dp.nat_session_list()) == SESSIONS

    # a freed session makes room again
    router.dp.nat_session_flush(port=10005)
    router.send(a, extra[0])
    (o,) = router.expect(b, 1)
    assert bytes(o) == xlated(extra[0], 1, out_mac(), src=OUT_ADDR)


def test_pool_ports_exhausted(router):
    """Four ports on one pool address: four inside endpoints get them, the
    fifth is dropped, the four keep working, and a port freed is reused."""
    a, b = setup(router)
    ext = "192.0.2.1"
    pool_rule(router, b, [ext], port_lo=40000, port_hi=40003)
    four = [udp_out(1000 + i) for i in range(4)]
    router.send(a, *four)
    outs = router.expect(b, 4)
    ports = [o[UDP].sport for o in outs]
    assert sorted(ports) == [40000, 40001, 40002, 40003]
    for p, o in zip(four, outs):
        assert bytes(o) == xlated(p, 1, out_mac(), src=ext, sport=o[UDP].sport)

    fifth = udp_out(1004)
    before = snapshot(router)
    router.send(a, fifth)
    router.expect_none(b)
    assert_counters(router, before, {a: merge(rx(fifth), {
        "drop_nat_ports_exhausted": 1})})
    # the same endpoint to a second destination still has its mapping
    again = [udp_out(1000 + i, b"again") for i in range(4)]
    router.send(a, *again)
    outs2 = router.expect(b, 4)
    assert [o[UDP].sport for o in outs2] == ports
    replies = [udp_in(p, dst=ext) for p in ports]
    router.send(b, *replies)
    back = router.expect(a, 4)
    for r, p, o in zip(replies, four, back):
        assert bytes(o) == xlated(r, 0, in_mac(), dst=IN1, dport=p[UDP].sport)

    router.dp.nat_session_flush(port=1002)
    router.send(a, fifth)
    (o,) = router.expect(b, 1)
    assert bytes(o) == xlated(fifth, 1, out_mac(), src=ext, sport=ports[2])


def test_icmp_ids_do_not_use_the_port_range(router):
    """The configured range is for ports; echo identifiers are kept."""
    a, b = setup(router)
    masquerade(router, b, port_lo=40000, port_hi=40000)
    ping = from_inside() / IP(src=IN1, dst=FAR) / ICMP(id=7, seq=1)
    router.send(a, ping)
    (o,) = router.expect(b, 1)
    assert bytes(o) == xlated(ping, 1, out_mac(), src=OUT_ADDR)


def test_nat_drop_is_not_counted_as_forwarded(router):
    a, b = setup(router)
    pool_rule(router, b, ["192.0.2.1"], port_lo=40000, port_hi=40000)
    router.send(a, udp_out(1000))
    router.expect(b, 1)
    second = udp_out(1001)
    before = snapshot(router)
    router.send(a, second)
    router.expect_none(b)
    assert_counters(router, before, {a: merge(rx(second), {"drop_nat_ports_exhausted": 1})})
