"""IPv4 forwarding between ring ports, byte for byte."""

from __future__ import annotations

from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import counter_delta, host_mac, router_mac


def test_forward_decrements_ttl_and_rewrites_ethernet(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    pkt = (Ether(src=host_mac(0), dst=router_mac(0)) /
           IP(src="10.0.0.2", dst="10.0.1.2", ttl=64, id=77) / UDP(sport=1000, dport=2000) /
           Raw(b"payload" * 4))
    before = router.counters(a)
    router.send(a, pkt)
    (out,) = router.expect(b, 1)

    want = pkt.copy()
    want[Ether].src, want[Ether].dst = router_mac(1), host_mac(1)
    want[IP].ttl = 63
    del want[IP].chksum
    assert bytes(out) == bytes(Ether(bytes(want)))
    assert counter_delta(before, router.counters(a)) == {
        "rx_packets": 1, "rx_bytes": len(pkt), "ip_forwarded": 1}
