"""Topology and frame builders shared by the NAT packet tests (test_nat*.py).

Port a (index 0, 10.0.0.1/24) is the inside: hosts 10.0.0.2 and 10.0.0.3.
Port b (index 1, 10.0.1.1/24) is the outside: host 10.0.1.2, which is also
the gateway to 20.0.0.0/8 (distant servers).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether

from packet.harness import PacketRouter, host_mac, router_mac
from vrouter.dataplane.messages import NatState, NatType, NhType  # noqa: F401 (for the tests)
from vrouter.dataplane.types import NatRule

IN1, IN2 = "10.0.0.2", "10.0.0.3"  # inside hosts (port index 0, hosts 2 and 3)
OUT_ADDR = "10.0.1.1"  # the router's outside address (masquerade)
PEER = "10.0.1.2"  # outside host, and gateway to FAR_NET
FAR = "20.1.2.3"  # a distant server, via PEER
FAR2 = "20.4.5.6"
INSIDE_NET = IPv4Network("10.0.0.0/24")


def in_mac(h: int = 2) -> str:
    return host_mac(0, h)


def out_mac() -> str:
    return host_mac(1, 2)


def setup(router: PacketRouter) -> tuple[int, int]:
    """Ports a (inside) and b (outside), the hosts' neighbour entries, and
    20.0.0.0/8 via PEER (once: a shared dataplane has them already)."""
    if len(router.ports) >= 2:
        return router.ports[0], router.ports[1]
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, IN1, in_mac(2))
    router.dp.neigh_add(a, IN2, in_mac(3))
    router.dp.neigh_add(b, PEER, out_mac())
    router.dp.nh_add(1, NhType.GATEWAY, b, PEER)
    router.dp.route_add(0, [("20.0.0.0/8", 1)])
    return a, b


@pytest.fixture
def router(shared_router):
    """For a NAT test module: the module's one dataplane (its tests add no
    ports), its NAT state reset before each test: a start per test would
    double the run time."""
    return reset_nat(shared_router)


DEFAULT_TIMEOUTS = {"tcp_established": 7440, "tcp_transitory": 240, "udp": 300, "icmp": 60,
                    "other": 300}


def reset_nat(router: PacketRouter) -> PacketRouter:
    """A dataplane shared by a module's tests, as a fresh one for NAT: no
    rules (their sessions and mappings go with them), default timeouts,
    nothing left in the capture queues. (The NAT clock only moves on.)"""
    for r in router.dp.nat_rule_list():
        router.dp.nat_rule_del(r.id)
    router.dp.nat_session_flush()
    router.dp.nat_params_set(**DEFAULT_TIMEOUTS)
    p = router.dp.nat_params_get()
    assert (p["sessions"], p["mappings"]) == (0, 0)
    for port in router.ports:
        router.dp.pg_capture(port)
    return router


def masquerade(router: PacketRouter, out_port: int, id: int = 1, **kw) -> NatRule:
    rule = NatRule(id=id, type=NatType.SNAT, out_port=out_port, masquerade=True,
                   match=kw.pop("match", INSIDE_NET), **kw)
    router.dp.nat_rule_add(rule)
    return rule


def pool_rule(router: PacketRouter, out_port: int, pool, id: int = 1, **kw) -> NatRule:
    rule = NatRule(id=id, type=NatType.SNAT, out_port=out_port,
                   pool=tuple(IPv4Address(p) for p in pool),
                   match=kw.pop("match", INSIDE_NET), **kw)
    router.dp.nat_rule_add(rule)
    return rule


def forward_rule(router: PacketRouter, proto: int, ext_port: int, int_ip: str, int_port: int,
                 id: int = 2, ext_ip: str = OUT_ADDR) -> NatRule:
    rule = NatRule(id=id, type=NatType.DNAT, proto=proto, ext_ip=IPv4Address(ext_ip),
                   ext_port=ext_port, int_ip=IPv4Address(int_ip), int_port=int_port)
    router.dp.nat_rule_add(rule)
    return rule


def static_rule(router: PacketRouter, ext_ip: str, int_ip: str, id: int = 3) -> NatRule:
    rule = NatRule(id=id, type=NatType.STATIC, ext_ip=IPv4Address(ext_ip),
                   int_ip=IPv4Address(int_ip))
    router.dp.nat_rule_add(rule)
    return rule


def from_inside(h: int = 2) -> Ether:
    """Ethernet header of a frame from inside host h to the router."""
    return Ether(src=in_mac(h), dst=router_mac(0))


def from_outside() -> Ether:
    return Ether(src=out_mac(), dst=router_mac(1))


def xlated(pkt, out: int, dst_mac: str, *, src: str | None = None, dst: str | None = None,
           sport: int | None = None, dport: int | None = None, icmp_id: int | None = None,
           ttl_dec: int = 1) -> bytes:
    """The frame the router sends out of port index `out` for `pkt` after
    translation: Ethernet rewritten, TTL decremented, the given fields
    replaced, and every checksum recomputed from scratch by scapy (so a
    byte comparison checks the router's incremental updates). A UDP checksum
    of 0 (none) stays 0."""
    ip = IP(bytes(pkt[IP]))
    ip.ttl -= ttl_dec
    if src is not None:
        ip.src = src
    if dst is not None:
        ip.dst = dst
    del ip.chksum
    if ip.frag or ip.flags.MF:
        pass  # a fragment: its L4 checksum covers the whole datagram
    elif ip.haslayer(TCP) or ip.haslayer(UDP):
        l4 = ip[TCP] if ip.haslayer(TCP) else ip[UDP]
        if sport is not None:
            l4.sport = sport
        if dport is not None:
            l4.dport = dport
        if not (isinstance(l4, UDP) and l4.chksum == 0):
            del l4.chksum
    elif ip.haslayer(ICMP):
        if icmp_id is not None:
            ip[ICMP].id = icmp_id
        del ip[ICMP].chksum
    return bytes(Ether(src=router_mac(out), dst=dst_mac) / ip)


def session_tuples(router: PacketRouter, **filt) -> set[tuple]:
    """The sessions as (proto, orig, xlat, state, rule), addresses as strings."""
    return {(s.proto, tuple(str(x) if isinstance(x, IPv4Address) else x for x in s.orig),
             tuple(str(x) if isinstance(x, IPv4Address) else x for x in s.xlat),
             s.state, s.rule)
            for s in router.dp.nat_session_list(**filt)}
