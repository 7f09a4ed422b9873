"""Packet capture and tracing in the dataplane: copies of exactly the packets
that match the filter, in either direction, and the stages a traced packet
went through, named."""

from __future__ import annotations

import time
from ipaddress import IPv4Network

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.packet import Raw

from packet.harness import host_mac
from packet.helpers import assert_counters, forwarded, merge, rx, snapshot, to_router, tx
from vrouter.dataplane.client import DataplaneError
from vrouter.dataplane.messages import (VR_DIR_RX, VR_DIR_TX, VR_TRACE_NAT_NEW, NatType,
                                        TraceStage)
from vrouter.dataplane.types import NatRule


@pytest.fixture
def two(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    return a, b


def udp(dport: int, ttl: int = 64, payload: bytes = b"x" * 20):
    return (to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2", ttl=ttl, id=dport) /
            UDP(sport=1000, dport=dport) / Raw(payload))


def read_until(dp, cap: int, n: int, timeout: float = 2.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += dp.capture_read(cap)
        time.sleep(0.01)
    return got


def test_capture_rx_and_tx_with_filter_exact_bytes(router, two):
    a, b = two
    dp = router.dp
    rx_cap = dp.capture_start(a, VR_DIR_RX, "udp port 7")
    tx_cap = dp.capture_start(b, VR_DIR_TX, "udp dst port 7")
    pkts = [udp(7, payload=b"first"), udp(9), udp(7, payload=b"second" * 50)]
    t0 = time.time_ns()
    router.send(a, *pkts)
    outs = router.expect(b, 3)
    got_rx = read_until(dp, rx_cap, 2)
    got_tx = read_until(dp, tx_cap, 2)
    assert [c.data for c in got_rx] == [bytes(pkts[0]), bytes(pkts[2])]
    assert [c.data for c in got_tx] == [bytes(outs[0]), bytes(outs[2])]
    assert [c.data for c in got_tx] == [forwarded(pkts[0], 1, host_mac(1)),
                                        forwarded(pkts[2], 1, host_mac(1))]
    assert {(c.port, c.direction) for c in got_rx} == {(a, VR_DIR_RX)}
    assert {(c.port, c.direction) for c in got_tx} == {(b, VR_DIR_TX)}
    for c in got_rx + got_tx:
        assert c.orig_len == len(c.data)
        assert t0 - 1_000_000_000 < c.time_ns < time.time_ns() + 1_000_000_000
    assert dp.capture_stop(rx_cap) == (2, 0)
    assert dp.capture_stop(tx_cap) == (2, 0)


def test_capture_count_and_snaplen(router, two):
    a, b = two
    dp = router.dp
    cap = dp.capture_start(a, VR_DIR_RX | VR_DIR_TX, "", count=2, snaplen=30)
    pkts = [udp(100 + i) for i in range(4)]
    router.send(a, *pkts)
    router.expect(b, 4)
    got = read_until(dp, cap, 2)
    time.sleep(0.05)
    got += dp.capture_read(cap)
    assert [c.data for c in got] == [bytes(p)[:30] for p in pkts[:2]]
    assert [c.orig_len for c in got] == [len(p) for p in pkts[:2]]
    assert dp.capture_stop(cap) == (2, 0)


def test_capture_is_transparent_and_stopped_captures_are_gone(router, two):
    """Capturing changes nothing about forwarding or the counters; a stopped
    capture no longer exists."""
    a, b = two
    dp = router.dp
    cap = dp.capture_start(a, VR_DIR_RX | VR_DIR_TX, "")
    before = snapshot(router)
    pkt = udp(5)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    assert_counters(router, before, {a: merge(rx(pkt), {"ip_forwarded": 1}), b: tx(out)})
    assert [c.data for c in read_until(dp, cap, 1)] == [bytes(pkt)]
    dp.capture_stop(cap)
    with pytest.raises(DataplaneError, match=f"capture {cap} does not exist"):
        dp.capture_read(cap)


@pytest.mark.parametrize("kwargs, message", [
    ({"filter": "udp port"}, "syntax error"),
    ({"filter": "ip6 and tcp[99999] = 1"}, ""),
    ({"port": 77}, "port 77 does not exist"),
    ({"dirs": 0}, "direction"),
])
def test_capture_refuses_bad_requests(router, two, kwargs, message):
    a, _ = two
    args = {"port": a, "dirs": VR_DIR_RX, "filter": ""} | kwargs
    try:
        cap = router.dp.capture_start(**args)
    except DataplaneError as e:
        assert message in str(e)
    else:
        # a filter libpcap accepts is fine; it must then work
        router.dp.capture_stop(cap)
        assert message == ""


def stages(recs, packet):
    return [(TraceStage(r.stage).name, r.a, r.b) for r in recs if r.packet == packet]


def read_trace(dp, tr: int, want: int, timeout: float = 2.0):
    recs, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs += dp.trace_read(tr)
        if sum(1 for r in recs if r.stage in (TraceStage.TX, TraceStage.DROP)) >= want:
            break
        time.sleep(0.01)
    return recs


def test_trace_forwarded_and_ttl_expired(router, two):
    a, b = two
    dp = router.dp
    names = dp.counter_names()
    tr = dp.trace_start(2, "udp port 33", port=a)
    ok, dying = udp(33), udp(33, ttl=1)
    router.send(a, udp(34), ok, dying, udp(33))
    router.expect(b, 3)
    router.expect(a, 1)  # time exceeded
    recs = read_trace(dp, tr, 3)
    route, nh = dp.route_lookup(0, "10.0.1.2")
    fwd = stages(recs, 1)
    assert fwd[0] == ("RX", len(ok), 0)
    assert fwd[1] == ("IP", 0, 0)
    assert fwd[2][:2] == ("FIB", nh.id)
    assert fwd[3] == ("FORWARD", b, 63)
    assert fwd[4][0] == "NEIGH" and fwd[4][2] == 1
    assert fwd[5] == ("TX", b, 0)
    assert stages(recs, 2) == [("RX", len(dying), 0), ("IP", 0, 0), fwd[2],
                               ("ICMP_ERROR", 11, 0),
                               ("DROP", names.index("drop_ttl_expired"), 0)]
    assert not stages(recs, 3)  # only 2 packets were asked for
    assert dp.trace_stop(tr) == (2, 0)


def test_trace_names_the_nat_rule(router, two):
    a, b = two
    dp = router.dp
    dp.nat_rule_add(NatRule(id=7, type=NatType.SNAT, vrf=0, out_port=b, masquerade=True,
                            match=IPv4Network("10.0.0.0/24"), port_lo=1024, port_hi=65535))
    tr = dp.trace_start(2, "tcp", port=a)
    syn = (to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2") /
           TCP(sport=4000, dport=80, flags="S", seq=1))
    ack = (to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2") /
           TCP(sport=4000, dport=80, flags="A", seq=2))
    router.send(a, syn)
    (out,) = router.expect(b, 1)
    assert out[IP].src == "10.0.1.1"
    router.send(a, ack)
    router.expect(b, 1)
    recs = read_trace(dp, tr, 2)
    first = [s for s in stages(recs, 1) if s[0].startswith("NAT")]
    second = [s for s in stages(recs, 2) if s[0].startswith("NAT")]
    assert [(s[0], s[1]) for s in first] == [("NAT_POST", 7 | VR_TRACE_NAT_NEW)]
    # the second packet matches the session the first one made
    assert [(s[0], s[1], s[2]) for s in second] == [("NAT_PRE", 7, first[0][2]),
                                                     ("NAT_POST", 7, first[0][2])]
    dp.trace_stop(tr)


def test_trace_refuses_bad_requests(router, two):
    a, _ = two
    with pytest.raises(DataplaneError, match="count 0 out of range"):
        router.dp.trace_start(0)
    with pytest.raises(DataplaneError, match="port 99 does not exist"):
        router.dp.trace_start(1, port=99)
    with pytest.raises(DataplaneError, match="filter 'host 10.0.0.': unknown host"):
        router.dp.trace_start(1, "host 10.0.0.")
    with pytest.raises(DataplaneError, match="not running"):
        router.dp.trace_read(12345)
