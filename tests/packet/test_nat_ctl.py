"""NAT control: session listing with filters, flushing by filter, rule
deletion (its sessions and ports go with it), timeouts, and rule validation
(errno and message, nothing changed)."""

from __future__ import annotations

import errno
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from packet.harness import host_mac, router_mac
from packet.helpers import assert_counters, merge, rx, snapshot
from packet.nat_helpers import (FAR, FAR2, IN1, IN2, OUT_ADDR, PEER, NatRule, NatState, NatType,
                                forward_rule, from_inside, from_outside, in_mac, masquerade,
                                out_mac, setup, static_rule, xlated)
from vrouter.dataplane.client import DataplaneError

V1_IN, V1_OUT, V1_PEER = "10.0.2.2", "10.0.3.1", "10.0.3.2"  # VRF 1


def send_through(router, pin, pout, pkt):
    router.send(pin, pkt)
    return router.expect(pout, 1)[0]


@pytest.fixture
def five(router):
    """Five sessions of four rules in two VRFs:
    s1 UDP IN1:5000 -> FAR:7000 (rule 1), s2 TCP IN2:6000 -> FAR2:8443 (rule 1),
    s3 ICMP IN1 id 85 -> FAR (rule 1), s4 UDP PEER:4000 -> OUT_ADDR:8080 ->
    IN2:9090 (rule 2), s5 UDP V1_IN:5000 -> V1_PEER:7000 in VRF 1 (rule 5)."""
    a, b = setup(router)
    router.dp.vrf_add(1)
    c, d = router.add_ports(2, vrf=1)
    router.dp.neigh_add(d, V1_PEER, host_mac(3))
    masquerade(router, b)
    forward_rule(router, 17, 8080, IN2, 9090)
    masquerade(router, d, id=5, vrf=1, match=IPv4Network("10.0.2.0/24"))
    send_through(router, a, b, from_inside(2) / IP(src=IN1, dst=FAR) / UDP(sport=5000, dport=7000))
    send_through(router, a, b, from_inside(3) / IP(src=IN2, dst=FAR2) /
                 TCP(sport=6000, dport=8443, flags="S"))
    send_through(router, a, b, from_inside(2) / IP(src=IN1, dst=FAR) / ICMP(id=85))
    send_through(router, b, a, from_outside() / IP(src=PEER, dst=OUT_ADDR) /
                 UDP(sport=4000, dport=8080))
    send_through(router, c, d, Ether(src=host_mac(2), dst=router_mac(2)) /
                 IP(src=V1_IN, dst=V1_PEER) / UDP(sport=5000, dport=7000))
    return a, b, c, d


S = {
    1: (0, 17, (IN1, 5000, FAR, 7000), (OUT_ADDR, 5000, FAR, 7000), NatState.UDP, 1),
    2: (0, 6, (IN2, 6000, FAR2, 8443), (OUT_ADDR, 6000, FAR2, 8443), NatState.TCP_SYN, 1),
    3: (0, 1, (IN1, 85, FAR, 0), (OUT_ADDR, 85, FAR, 0), NatState.ICMP, 1),
    4: (0, 17, (PEER, 4000, OUT_ADDR, 8080), (PEER, 4000, IN2, 9090), NatState.UDP, 2),
    5: (1, 17, (V1_IN, 5000, V1_PEER, 7000), (V1_OUT, 5000, V1_PEER, 7000), NatState.UDP, 5),
}


def listed(router, **filt) -> set[int]:
    """Which of S the session list (with the filter) returns; anything else fails."""
    inv = {v: k for k, v in S.items()}
    out = set()
    for s in router.dp.nat_session_list(**filt):
        t = (s.vrf, s.proto, tuple(str(x) if isinstance(x, IPv4Address) else x for x in s.orig),
             tuple(str(x) if isinstance(x, IPv4Address) else x for x in s.xlat), s.state, s.rule)
        assert t in inv, t
        out.add(inv[t])
    return out


FILTERS = [
    ({}, {1, 2, 3, 4, 5}),
    ({"vrf": 0}, {1, 2, 3, 4}),
    ({"vrf": 1}, {5}),
    ({"vrf": 2}, set()),
    ({"proto": 17}, {1, 4, 5}),
    ({"proto": 6}, {2}),
    ({"proto": 1}, {3}),
    ({"addr": IN1}, {1, 3}),
    ({"addr": IN2}, {2, 4}),  # s4 by its translated destination
    ({"addr": OUT_ADDR}, {1, 2, 3, 4}),
    ({"addr": FAR}, {1, 3}),
    ({"addr": V1_OUT}, {5}),
    ({"port": 5000}, {1, 5}),
    ({"port": 8080}, {4}),
    ({"port": 9090}, {4}),
    ({"port": 85}, {3}),  # an ICMP session's identifier
    ({"rule": 1}, {1, 2, 3}),
    ({"rule": 2}, {4}),
    ({"rule": 5}, {5}),
    ({"rule": 9}, set()),
    ({"vrf": 0, "proto": 17, "port": 5000}, {1}),
    ({"addr": IN2, "proto": 6}, {2}),
]


def test_session_list_filters(router, five):
    got = {str(f): listed(router, **f) for f, _ in FILTERS}
    assert got == {str(f): want for f, want in FILTERS}


def test_flush_by_filter(router, five):
    a, b, _, _ = five
    router.dp.nat_session_flush(proto=6)
    assert listed(router) == {1, 3, 4, 5}
    router.dp.nat_session_flush(addr=IN1)
    assert listed(router) == {4, 5}
    router.dp.nat_session_flush(vrf=1)
    assert listed(router) == {4}
    p = router.dp.nat_params_get()
    assert (p["sessions"], p["mappings"]) == (1, 0)  # a port forward needs no mapping
    router.dp.nat_session_flush()
    assert listed(router) == set()
    # a flushed flow's reply is not translated any more
    reply = from_outside() / IP(src=FAR, dst=OUT_ADDR) / TCP(sport=8443, dport=6000, flags="SA")
    before = snapshot(router)
    router.send(b, reply)
    router.expect_none(a)
    assert_counters(router, before, {b: merge(rx(reply), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1})})


def test_rule_deletion_flushes_its_sessions_and_frees_its_ports(router, five):
    a, b, _, _ = five
    router.dp.nat_rule_del(1)
    assert listed(router) == {4, 5}
    assert router.dp.nat_params_get()["mappings"] == 1  # VRF 1's
    assert [r.id for r in router.dp.nat_rule_list()] == [2, 5]
    # IN1 now leaves untranslated, the port forward still works
    pkt = from_inside(2) / IP(src=IN1, dst=FAR) / UDP(sport=5000, dport=7000)
    out = send_through(router, a, b, pkt)
    assert bytes(out) == xlated(pkt, 1, out_mac())
    req = from_outside() / IP(src=PEER, dst=OUT_ADDR) / UDP(sport=4000, dport=8080)
    assert bytes(send_through(router, b, a, req)) == xlated(req, 0, in_mac(3), dst=IN2,
                                                            dport=9090)
    # back again: IN2's 5000 gets 5000, nobody holds it any more
    masquerade(router, b)
    pkt2 = from_inside(3) / IP(src=IN2, dst=FAR) / UDP(sport=5000, dport=7000)
    assert bytes(send_through(router, a, b, pkt2)) == xlated(pkt2, 1, out_mac(), src=OUT_ADDR)
    router.dp.nat_rule_del(2)
    router.dp.nat_rule_del(1)
    router.dp.nat_rule_del(5)
    assert router.dp.nat_session_list() == []
    p = router.dp.nat_params_get()
    assert (p["sessions"], p["mappings"]) == (0, 0)
    assert router.dp.nat_rule_list() == []
    # no NAT at all now: the forward's address is the router's again
    before = snapshot(router)
    router.send(b, req)
    (err,) = router.expect(b, 1)
    assert err[ICMP].type == 3 and err[ICMP].code == 3
    assert_counters(router, before, {b: merge(rx(req), {
        "ip_local": 1, "punted": 1, "drop_punt_no_consumer": 1, "icmp_errors_sent": 1,
        "tx_packets": 1, "tx_bytes": len(err)})})


def test_deleting_the_snat_rule_ends_hairpin_sessions_using_it(router):
    """A hairpin session is the port forward's (rule 2) but holds a mapping
    of the SNAT rule: it ends with the SNAT rule (whose outside address
    allocator goes), and an outside client's forward session stays."""
    a, b = setup(router)
    masquerade(router, b, port_lo=30000, port_hi=30000)
    forward_rule(router, 17, 8080, IN2, 9090)
    req = from_inside(2) / IP(src=IN1, dst=OUT_ADDR) / UDP(sport=5555, dport=8080)
    at_server = send_through(router, a, a, req)
    assert (at_server[IP].src, at_server[UDP].sport) == (OUT_ADDR, 30000)
    send_through(router, b, a, from_outside() / IP(src=PEER, dst=OUT_ADDR) /
                 UDP(sport=4000, dport=8080))
    assert len(router.dp.nat_session_list()) == 2
    router.dp.nat_rule_del(1)
    assert router.dp.nat_params_get()["mappings"] == 0
    assert [s.orig[0] for s in router.dp.nat_session_list()] == [IPv4Address(PEER)]
    # the port is free again for a new rule's flows
    masquerade(router, b, port_lo=30000, port_hi=30000)
    pkt = from_inside(3) / IP(src=IN2, dst=FAR) / UDP(sport=6666, dport=7000)
    assert bytes(send_through(router, a, b, pkt)) == xlated(pkt, 1, out_mac(), src=OUT_ADDR,
                                                            sport=30000)


def test_rule_list_counts_sessions(router, five):
    rules = {r.id: r for r in router.dp.nat_rule_list()}
    assert {i: r.sessions for i, r in rules.items()} == {1: 3, 2: 1, 5: 1}
    assert rules[1] == NatRule(id=1, type=NatType.SNAT, out_port=1, masquerade=True,
                               match=IPv4Network("10.0.0.0/24"), sessions=3)
    assert rules[2] == NatRule(id=2, type=NatType.DNAT, proto=17, ext_ip=IPv4Address(OUT_ADDR),
                               ext_port=8080, int_ip=IPv4Address(IN2), int_port=9090,
                               sessions=1)


def test_timeouts_can_be_set(router):
    a, b = setup(router)
    masquerade(router, b)
    router.dp.nat_params_set(udp=30, tcp_established=600)
    p = router.dp.nat_params_get()
    assert (p["udp"], p["tcp_established"], p["icmp"]) == (30, 600, 60)
    send_through(router, a, b, from_inside() / IP(src=IN1, dst=FAR) / UDP(sport=1, dport=2))
    assert [s.timeout_s for s in router.dp.nat_session_list()] == [30]
    router.dp.nat_clock_advance(29)
    assert len(router.dp.nat_session_list()) == 1
    router.dp.nat_clock_advance(2)
    assert router.dp.nat_session_list() == []
    with pytest.raises(DataplaneError) as e:
        router.dp.nat_params_set(icmp=0)
    assert e.value.errno == errno.EINVAL and "icmp" in e.value.msg
    assert router.dp.nat_params_get() == p


# ---- rule validation ---------------------------------------------------------------


@pytest.fixture(scope="module")
def cfg(shared_router):
    """VRF 0: a (inside), b (outside) with rules 1 (masquerade), 2 (UDP
    forward 8080), 3 (1:1 10.0.1.50 <-> IN2); VRF 1: port c."""
    router = shared_router
    a, b = setup(router)
    router.dp.vrf_add(1)
    (c,) = router.add_ports(1, vrf=1)
    masquerade(router, b)
    forward_rule(router, 17, 8080, IN2, 9090)
    static_rule(router, "10.0.1.50", IN2)
    return router, a, b, c


@contextmanager
def refused(router, err: int, *words: str):
    before = (router.dp.nat_rule_list(), router.dp.nat_params_get())
    with pytest.raises(DataplaneError) as e:
        yield
    assert e.value.errno == err, e.value
    for w in words:
        assert w in e.value.msg, e.value.msg
    assert (router.dp.nat_rule_list(), router.dp.nat_params_get()) == before


def snat(**kw):
    return NatRule(**({"id": 10, "type": NatType.SNAT, "out_port": 1, "masquerade": True,
                       "match": IPv4Network("10.0.0.0/24")} | kw))


def dnat(**kw):
    return NatRule(**({"id": 10, "type": NatType.DNAT, "proto": 17,
                       "ext_ip": IPv4Address(OUT_ADDR), "ext_port": 8081,
                       "int_ip": IPv4Address(IN1), "int_port": 80} | kw))


@pytest.mark.parametrize("rule, err, words", [
    (snat(id=1), errno.EEXIST, ["NAT rule 1 already exists"]),
    (dnat(id=2), errno.EEXIST, ["NAT rule 2 already exists"]),
    (dnat(ext_port=8080), errno.EEXIST, ["10.0.1.1:8080/udp", "rule 2"]),
    (snat(port_lo=2000, port_hi=1000), errno.EINVAL, ["port range 2000-1000"]),
    (snat(port_lo=0, port_hi=1000), errno.EINVAL, ["port range 0-1000"]),
    (snat(port_lo=1000, port_hi=0), errno.EINVAL, ["port range 1000-0"]),
    (snat(out_port=2), errno.EINVAL, ["p2", "not in vrf 0"]),
    (snat(vrf=1, out_port=1), errno.EINVAL, ["p1", "not in vrf 1"]),
    (snat(out_port=7), errno.ENOENT, ["port 7"]),
    (snat(id=0), errno.EINVAL, ["id 0"]),
    (snat(vrf=5, out_port=2), errno.ENOENT, ["vrf 5"]),
    (snat(masquerade=False), errno.EINVAL, ["masquerade or 1..16 pool"]),
    (snat(pool=(IPv4Address("192.0.2.1"),)), errno.EINVAL, ["masquerade or 1..16 pool"]),
    (snat(masquerade=False, pool=(IPv4Address("224.0.0.1"),)), errno.EINVAL, ["224.0.0.1"]),
    (snat(match=IPv4Network("10.0.0.0/24"), masquerade=True, type=9), errno.EINVAL,
     ["unknown type 9"]),
    (dnat(proto=1), errno.EINVAL, ["protocol 1"]),
    (dnat(int_port=0), errno.EINVAL, ["must be set"]),
    (NatRule(id=10, type=NatType.STATIC, ext_ip=IPv4Address("10.0.1.50"),
             int_ip=IPv4Address("10.0.0.9")), errno.EEXIST, ["10.0.1.50", "rule 3"]),
    (NatRule(id=10, type=NatType.STATIC, ext_ip=IPv4Address("10.0.1.51"),
             int_ip=IPv4Address(IN2)), errno.EEXIST, [IN2, "rule 3"]),
])
def test_bad_rule_refused(cfg, rule, err, words):
    router = cfg[0]
    with refused(router, err, *words):
        router.dp.nat_rule_add(rule)


def test_delete_unknown_rule_refused(cfg):
    router = cfg[0]
    with refused(router, errno.ENOENT, "NAT rule 42 does not exist"):
        router.dp.nat_rule_del(42)


def test_same_external_port_other_protocol_accepted(cfg):
    router = cfg[0]
    router.dp.nat_rule_add(dnat(id=11, proto=6, ext_port=8080))
    try:
        assert 11 in [r.id for r in router.dp.nat_rule_list()]
    finally:
        router.dp.nat_rule_del(11)
