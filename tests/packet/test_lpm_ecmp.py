"""Longest-prefix match, special next hops, VRFs and ECMP."""

from __future__ import annotations

from collections import defaultdict
from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP, fragment
from scapy.packet import Raw

from packet.harness import host_mac
from packet.helpers import (arp_request_from_router, assert_counters, forwarded, icmp_error,
                            merge, rx, snapshot, to_router, tx)
from vrouter.core.path import flow_hash
from vrouter.dataplane.messages import NhType

GW = {8: 1, 16: 2, 24: 3, 32: 4}  # gateway host 10.0.1.<h> on port b -> next-hop id


@pytest.fixture
def gws(router):
    """Ports a, b; next hops 1..4 via gateways 10.0.1.8/.16/.24/.32 on b (static
    neighbours); sender 10.0.0.2 known on a (for ICMP errors)."""
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    for h, nh in GW.items():
        router.dp.neigh_add(b, f"10.0.1.{h}", host_mac(1, h))
        router.dp.nh_add(nh, NhType.GATEWAY, b, f"10.0.1.{h}")
    return a, b


def udp(dst, sport=1000, src="10.0.0.2", i=0):
    return (to_router(i) / IP(src=src, dst=dst, id=9) / UDP(sport=sport, dport=53) /
            Raw(b"query"))


def gateway_of(router, a, b, dst) -> int:
    """Sends one packet to dst; returns the gateway host number it went to,
    after checking the frame byte for byte."""
    pkt = udp(dst)
    before = snapshot(router)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    h = next(h for h in GW if host_mac(1, h) == out.dst)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1, h))
    assert_counters(router, before, {a: merge(rx(pkt), {"ip_forwarded": 1}), b: tx(out)})
    return h


def test_longest_prefix_wins_and_delete_falls_back(router, gws):
    a, b = gws
    router.dp.route_add(0, [("20.0.0.0/8", 1), ("20.1.0.0/16", 2), ("20.1.1.0/24", 3),
                            ("20.1.1.1/32", 4)])
    assert [gateway_of(router, a, b, d) for d in
            ("20.9.9.9", "20.1.9.9", "20.1.1.9", "20.1.1.1")] == [8, 16, 24, 32]

    router.dp.route_del(0, ["20.1.1.0/24"])
    assert [gateway_of(router, a, b, d) for d in
            ("20.9.9.9", "20.1.9.9", "20.1.1.9", "20.1.1.1")] == [8, 16, 16, 32]


def test_default_route_catches_everything_else(router, gws):
    a, b = gws
    router.dp.route_add(0, [("0.0.0.0/0", 1), ("20.0.0.0/8", 2)])
    assert gateway_of(router, a, b, "99.1.2.3") == 8
    assert gateway_of(router, a, b, "20.1.2.3") == 16


def test_blackhole_route_drops_silently(router, gws):
    a, b = gws
    router.dp.nh_add(10, NhType.BLACKHOLE)
    router.dp.route_add(0, [("30.0.0.0/8", 10)])
    pkt = udp("30.1.2.3")
    before = snapshot(router)
    router.send(a, pkt)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(pkt), {"drop_blackhole": 1})})


def test_reject_route_answers_host_unreachable(router, gws):
    a, b = gws
    router.dp.nh_add(10, NhType.REJECT)
    router.dp.route_add(0, [("30.0.0.0/8", 10)])
    pkt = udp("30.1.2.3")
    before = snapshot(router)
    router.send(a, pkt)
    (err,) = router.expect(a, 1)
    router.expect_none(b)
    # the IP id of the error is the router's choice: copied from the output
    assert bytes(err) == icmp_error(0, host_mac(0), "10.0.0.1", "10.0.0.2", 3, 1,
                                    bytes(pkt[IP]), err[IP].id)
    assert_counters(router, before, {
        a: merge(rx(pkt), {"drop_reject": 1, "icmp_errors_sent": 1}, tx(err))})


def test_route_replace_changes_the_path(router, gws):
    a, b = gws
    router.dp.route_add(0, [("20.0.0.0/8", 1)])
    assert gateway_of(router, a, b, "20.1.2.3") == 8
    router.dp.route_add(0, [("20.0.0.0/8", 3)], replace=True)
    assert gateway_of(router, a, b, "20.1.2.3") == 24
    client_nh = router.dp.hello().max_nexthops  # ids above are the interfaces' routes
    assert [(str(r.prefix), r.nh_id) for r in router.dp.route_list(0)
            if r.nh_id < client_nh] == [("20.0.0.0/8", 3)]


@pytest.fixture
def vrfs(router):
    """VRF 0: p0 10.0.0.1/24, p1 10.0.1.1/24. VRF 1: p2 and p3 with the very
    same addresses. 172.16.0.0/16 goes via 10.0.1.2 in VRF 0 and via
    10.0.1.3 in VRF 1."""
    router.dp.vrf_add(1)
    p0, p1 = router.add_ports(2, vrf=0)
    p2, p3 = router.add_ports(2, vrf=1, addresses=False)
    for i, p, ip in ((2, p2, "10.0.0.1"), (3, p3, "10.0.1.1")):
        router.dp.addr_add(p, ip + "/24")
        (garp,) = router.expect(p, 1)
        assert bytes(garp) == arp_request_from_router(i, ip, sip=ip)
    router.dp.neigh_add(p1, "10.0.1.2", host_mac(1))
    router.dp.neigh_add(p3, "10.0.1.3", host_mac(3, 3))
    router.dp.nh_add(1, NhType.GATEWAY, p1, "10.0.1.2")
    router.dp.nh_add(2, NhType.GATEWAY, p3, "10.0.1.3")
    router.dp.route_add(0, [("172.16.0.0/16", 1)])
    router.dp.route_add(1, [("172.16.0.0/16", 2)])
    return p0, p1, p2, p3


def test_vrfs_route_the_same_prefix_differently(router, vrfs):
    p0, p1, p2, p3 = vrfs
    from_vrf0 = udp("172.16.1.1")
    from_vrf1 = to_router(2) / from_vrf0[IP].copy()
    before = snapshot(router)
    router.send(p0, from_vrf0)
    (out0,) = router.expect(p1, 1)
    assert bytes(out0) == forwarded(from_vrf0, 1, host_mac(1))
    router.expect_none(p2, p3)

    router.send(p2, from_vrf1)
    (out1,) = router.expect(p3, 1)
    assert bytes(out1) == forwarded(from_vrf1, 3, host_mac(3, 3))
    router.expect_none(p0, p1)
    assert_counters(router, before, {
        p0: merge(rx(from_vrf0), {"ip_forwarded": 1}), p1: tx(out0),
        p2: merge(rx(from_vrf1), {"ip_forwarded": 1}), p3: tx(out1)})


def test_vrf_connected_subnets_are_separate(router, vrfs):
    """10.0.1.2 is a neighbour on p1 (VRF 0) only: from VRF 1 it must be
    resolved on p3, never reached through p1."""
    p0, p1, p2, p3 = vrfs
    pkt = to_router(2) / IP(src="10.0.0.2", dst="10.0.1.2") / UDP(sport=1, dport=2)
    before = snapshot(router)
    router.send(p2, pkt)
    (req,) = router.expect(p3, 1)  # ARP for 10.0.1.2 on p3, the packet held
    assert bytes(req) == arp_request_from_router(3, "10.0.1.2", sip="10.0.1.1")
    router.expect_none(p0, p1)
    assert_counters(router, before, {
        p2: merge(rx(pkt), {"ip_forwarded": 1}),
        p3: merge(tx(req), {"arp_held": 1, "arp_requests_out": 1})})


def test_route_leak_from_vrf1_via_vrf0_gateway(router, vrfs):
    p0, p1, p2, p3 = vrfs
    router.dp.route_add(1, [("192.168.0.0/24", 1)])  # nh 1: 10.0.1.2 on p1, VRF 0
    pkt = to_router(2) / IP(src="10.0.0.2", dst="192.168.0.7") / UDP(sport=1, dport=2)
    before = snapshot(router)
    router.send(p2, pkt)
    (out,) = router.expect(p1, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1))
    router.expect_none(p0, p3)
    assert_counters(router, before, {p2: merge(rx(pkt), {"ip_forwarded": 1}), p1: tx(out)})


# ---- ECMP -------------------------------------------------------------------


@pytest.fixture
def ecmp(router, gws):
    a, b = gws
    router.dp.nh_add(100, NhType.GROUP, members=[1, 2, 3, 4])
    router.dp.route_add(0, [("20.0.0.0/8", 100)])
    return a, b


def spread(router, a, b, pkts, key) -> dict:
    """Sends pkts, returns key(pkt) -> gateway MAC; each output checked bytewise."""
    before = snapshot(router)
    router.send(a, *pkts)
    outs = router.expect(b, len(pkts))
    sent = {key(p): p for p in pkts}
    macs = {host_mac(1, h) for h in GW}
    path = {}
    for out in outs:
        p = sent[key(out)]
        assert out.dst in macs
        assert bytes(out) == forwarded(p, 1, out.dst)
        path[key(out)] = out.dst
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), {"ip_forwarded": len(pkts)}), b: tx(*outs)})
    return path


def test_ecmp_spreads_flows_over_all_gateways(router, ecmp):
    a, b = ecmp
    flows = [udp("20.1.2.3", sport=10000 + i) for i in range(200)]
    path = spread(router, a, b, flows, key=lambda p: p[UDP].sport)
    per_gw = defaultdict(int)
    for mac in path.values():
        per_gw[mac] += 1
    assert set(per_gw) == {host_mac(1, h) for h in GW}  # each gateway gets some
    assert max(per_gw.values()) < 200


def test_ecmp_keeps_each_flow_on_one_gateway(router, ecmp):
    a, b = ecmp
    first = spread(router, a, b, [udp("20.1.2.3", sport=10000 + i) for i in range(50)],
                   key=lambda p: p[UDP].sport)
    for _ in range(3):
        again = spread(router, a, b, [udp("20.1.2.3", sport=10000 + i) for i in range(50)],
                       key=lambda p: p[UDP].sport)
        assert again == first


def test_ecmp_sends_all_fragments_of_a_datagram_the_same_way(router, ecmp):
    a, b = ecmp
    frags = []
    for i in range(16):  # 16 datagrams from 16 sources, 4 fragments each
        dgram = (to_router(0) / IP(src=f"10.0.0.{10 + i}", dst="20.1.2.3", id=500 + i) /
                 UDP(sport=4000 + i, dport=53) / Raw(bytes(range(200)) * 2))
        frags += [to_router(0) / f for f in fragment(dgram[IP], fragsize=104)]
    assert len(frags) == 64
    path = spread(router, a, b, frags, key=lambda p: (p[IP].src, p[IP].frag))
    by_dgram = defaultdict(set)
    for (src, _), mac in path.items():
        by_dgram[src].add(mac)
    assert all(len(macs) == 1 for macs in by_dgram.values())
    assert len(set().union(*by_dgram.values())) > 1  # sources still spread


def test_explain_predicts_the_ecmp_member_of_each_flow(router, ecmp):
    """vrouter explain computes the dataplane's flow hash (core/path.py): for
    every flow, the gateway it names is the one the packet really takes."""
    a, b = ecmp
    flows = [udp("20.1.2.3", sport=10000 + i) for i in range(64)]
    path = spread(router, a, b, flows, key=lambda p: p[UDP].sport)
    mac_of_nh = {nh: host_mac(1, h) for h, nh in GW.items()}
    members = [1, 2, 3, 4]
    for p in flows:
        h = flow_hash(17, IPv4Address(p[IP].src), IPv4Address(p[IP].dst), p[UDP].sport,
                      p[UDP].dport)
        assert mac_of_nh[members[(h * len(members)) >> 32]] == path[p[UDP].sport]
