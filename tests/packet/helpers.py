"""Frame builders and counter assertions shared by the packet tests.

Conventions (from harness.PacketRouter.add_ports): port index i is 10.0.i.1/24
with MAC router_mac(i); host h on it is 10.0.i.h with MAC host_mac(i, h).
"""

from __future__ import annotations

import time

from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from packet.harness import PacketRouter, counter_delta, host_mac, router_mac

BCAST = "ff:ff:ff:ff:ff:ff"


def host_ip(i: int, h: int = 2) -> str:
    return f"10.0.{i}.{h}"


def router_ip(i: int) -> str:
    return f"10.0.{i}.1"


def to_router(i: int, h: int = 2) -> Ether:
    """Ethernet header of a frame from host h of port index i to the router."""
    return Ether(src=host_mac(i, h), dst=router_mac(i))


def forwarded(pkt, out: int, dst_mac: str, ttl_dec: int = 1) -> bytes:
    """The frame the router sends out of port index `out` for `pkt`: Ethernet
    rewritten, TTL decremented, header checksum recomputed from scratch (so
    comparing bytes checks the router's incremental update)."""
    ip = IP(bytes(pkt[IP]))
    ip.ttl -= ttl_dec
    del ip.chksum
    return bytes(Ether(src=router_mac(out), dst=dst_mac) / ip)


def icmp_error(out: int, dst_mac: str, src: str, dst: str, typ: int, code: int, quote: bytes,
               ip_id: int, **icmp_fields) -> bytes:
    """An ICMP error as the router builds it (RFC 1812 4.3.2): TOS 0xc0, TTL 64,
    DF clear, quoting `quote` cut to fit 576 bytes. `ip_id` is the router's free
    choice: callers copy it from the frame they compare against."""
    return bytes(Ether(src=router_mac(out), dst=dst_mac) /
                 IP(src=src, dst=dst, tos=0xC0, ttl=64, id=ip_id, flags=0) /
                 ICMP(type=typ, code=code, **icmp_fields) / Raw(quote[:576 - 28]))


def arp_frame(op: int, src_mac: str, dst_mac: str, psrc: str, pdst: str,
              hwdst: str = "00:00:00:00:00:00", hwsrc: str | None = None) -> Ether:
    return Ether(src=src_mac, dst=dst_mac) / ARP(
        op=op, hwsrc=hwsrc or src_mac, psrc=psrc, hwdst=hwdst, pdst=pdst)


def arp_request_from_router(i: int, tip: str, dst_mac: str = BCAST,
                            sip: str | None = None) -> bytes:
    """An ARP request the router sends out of port index i (42 bytes, no padding)."""
    return bytes(arp_frame(1, router_mac(i), dst_mac, sip or router_ip(i), tip))


def snapshot(router: PacketRouter) -> dict[int, dict[str, int]]:
    return {p: router.counters(p) for p in router.ports}


def deltas(router: PacketRouter, before: dict[int, dict[str, int]]) -> dict[int, dict[str, int]]:
    """Counter increases per port, ports without changes left out."""
    out = {}
    for p, old in before.items():
        d = counter_delta(old, router.counters(p))
        if d:
            out[p] = d
    return out


def assert_counters(router: PacketRouter, before, expected: dict[int, dict[str, int]],
                    timeout: float = 2.0, settle: float = 0.03) -> None:
    """The counters of every port changed by exactly `expected` since `before`.
    Waits until they do (the dataplane counts asynchronously), then a little
    longer to catch anything extra."""
    deadline = time.monotonic() + timeout
    got = deltas(router, before)
    while got != expected and time.monotonic() < deadline:
        time.sleep(0.005)
        got = deltas(router, before)
    time.sleep(settle)
    got = deltas(router, before)
    assert got == expected, f"counter changes {got} != expected {expected}"


def rx(pkt) -> dict[str, int]:
    """Counters of a port that received one frame `pkt`."""
    return {"rx_packets": 1, "rx_bytes": len(pkt)}


def tx(*frames) -> dict[str, int]:
    """Counters of a port that sent `frames`."""
    return {"tx_packets": len(frames), "tx_bytes": sum(len(bytes(f)) for f in frames)}


def merge(*dicts: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def wait_for(cond, timeout: float = 3.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def neighs(router: PacketRouter) -> dict[tuple[int, str], tuple[str, str]]:
    """(port, ip) -> (mac, state name) of the neighbour table."""
    return {(n.port, str(n.ip)): (n.mac, getattr(n.state, "name", n.state))
            for n in router.dp.neigh_list()}
