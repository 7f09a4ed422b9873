"""The paths a flood could turn against the router are rate-limited, each
limit counted: ARP requests the router sends (per port: a scan of a
connected subnet is not an ARP storm; requests over the rate wait for the
next timer tick, the entry keeps its place and its packets) and punted
traffic, whether a control namespace or the control thread itself consumes
it. Small rates make the counts exact."""

from __future__ import annotations

import time

import pytest
from scapy.layers.inet import IP, TCP, UDP, UDPerror
from scapy.packet import Raw

from packet.harness import host_mac
from packet.helpers import (arp_request_from_router, assert_counters, icmp_error, merge, rx,
                            snapshot, to_router, tx, wait_for)


@pytest.fixture
def two(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    return a, b


def to_host(h: int) -> bytes:
    return bytes(to_router(0) / IP(src="10.0.0.2", dst=f"10.0.1.{h}") / UDP(sport=1, dport=2) /
                 Raw(b"scan"))


def test_arp_requests_over_the_port_rate_wait_and_are_counted(router, two):
    a, b = two
    router.dp.params_set(arp_rate=0, arp_burst=4)  # the burst, then nothing: exact counts
    scan = [to_host(h) for h in range(10, 26)]  # 16 addresses no one has
    before = snapshot(router)
    router.send(a, *scan)
    reqs = router.expect(b, 4)
    assert {r.pdst for r in reqs} <= {f"10.0.1.{h}" for h in range(10, 26)}
    assert all(bytes(r) == arp_request_from_router(1, r.pdst) for r in reqs)
    assert_counters(router, before, {
        a: merge(*map(rx, scan), {"ip_forwarded": 16}),
        b: merge(tx(*reqs), {"arp_held": 16, "arp_requests_out": 4,
                             "arp_requests_ratelimited": 12})})
    # each waiting entry keeps its packet, and the control channel answers
    held = {str(n.ip): n.held for n in router.dp.neigh_list() if n.port == b}
    assert held == {f"10.0.1.{h}": 1 for h in range(10, 26)}
    assert router.dp.hello().n_workers == 1
    # a higher rate lets the waiting requests go: one each, no more
    router.dp.params_set(arp_rate=1000, arp_burst=100)
    rest = router.expect(b, 12)
    assert sorted(r.pdst for r in reqs + rest) == sorted(f"10.0.1.{h}" for h in range(10, 26))


def test_punts_to_the_control_thread_are_rate_limited(router, two):
    """No control namespace: UDP to the router's address is the control
    thread's to answer (port unreachable), within the punt rate."""
    a, b = two
    router.dp.params_set(punt_rate=0, punt_burst=5)
    flood = [bytes(to_router(0) / IP(src="10.0.0.2", dst="10.0.0.1", id=i) /
                   UDP(sport=4000 + i, dport=9) / Raw(b"x")) for i in range(50)]
    before = snapshot(router)
    router.send(a, *flood)
    errs = router.expect(a, 5)
    for e in errs:
        sport = e[UDPerror].sport  # the quoted datagram's
        assert bytes(e) == icmp_error(0, host_mac(0), "10.0.0.1", "10.0.0.2", 3, 3,
                                      flood[sport - 4000][14:], e[IP].id)
    assert_counters(router, before, {a: merge(*map(rx, flood), tx(*errs), {
        "ip_local": 50, "punted": 50, "drop_punt_ratelimited": 45,
        "icmp_errors_sent": 5, "drop_punt_no_consumer": 5})})


def test_punts_to_a_control_namespace_are_rate_limited_per_protocol(router, two):
    """Through an exception port: each protocol class has its own bucket, so
    a UDP flood leaves room for TCP (a BGP session, say)."""
    a, b = two
    (x,) = router.add_ports(1, addresses=False)
    router.dp.port_set(a, punt_port=x)
    router.dp.params_set(punt_rate=0, punt_burst=5)
    udp = [bytes(to_router(0) / IP(src="10.0.0.2", dst="10.0.0.1", id=i) /
                 UDP(sport=4000 + i, dport=9) / Raw(b"x")) for i in range(40)]
    tcp = [bytes(to_router(0) / IP(src="10.0.0.2", dst="10.0.0.1", id=100 + i) /
                 TCP(sport=5000 + i, dport=179, flags="S")) for i in range(3)]
    before = snapshot(router)
    router.send(a, *udp, *tcp)
    got = router.expect(x, 8)
    assert sum(1 for g in got if g.haslayer(UDP)) == 5
    assert sum(1 for g in got if g.haslayer(TCP)) == 3
    assert_counters(router, before, {
        a: merge(*map(rx, udp + tcp), {"ip_local": 43, "punted": 43, "punt_delivered": 8,
                                       "drop_punt_ratelimited": 35}),
        x: tx(*got)})
    wait_for(lambda: router.dp.hello(), what="control channel")


def test_a_rate_below_the_burst_refills_at_the_rate(router, two):
    """ICMP errors at 1/s with a burst of 5: the burst, then one a second,
    not a new burst every second (the token bucket filled itself whole once
    a second had passed, whatever the rate)."""
    a, b = two
    router.dp.params_set(icmp_rate=1, icmp_burst=5)
    expired = [to_router(0) / IP(src="10.0.0.2", dst="10.0.1.2", ttl=1, id=i) / UDP() / Raw(b"t")
               for i in range(10)]
    router.send(a, *expired)
    assert len(router.expect(a, 5)) == 5
    time.sleep(1.2)
    router.send(a, *expired)
    got = []
    wait_for(lambda: got.extend(router.dp.pg_capture(a)) or got, what="an error a second later")
    time.sleep(0.2)
    got += router.dp.pg_capture(a)
    assert len(got) in (1, 2), f"{len(got)} errors one second after the burst"  # 2: a slow CI
    assert router.counters(a)["icmp_errors_ratelimited"] == 5 + 10 - len(got)
