"""Two workers: each port's rx queue belongs to one worker, every worker has
its own tx queue per port, and counters are summed over workers. (This
machine has two cores: the two worker lcores share CPU 1.)"""

from __future__ import annotations

import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import PacketRouter, host_mac, router_mac
from packet.helpers import arp_frame, assert_counters, forwarded, merge, rx, snapshot, tx


@pytest.fixture
def router2(tmp_path):
    r = PacketRouter(tmp_path, worker_lcores=(1, 2), cpus=(0, 1, 1))
    yield r
    r.close()


def test_two_workers_forward_both_ways_and_sum_counters(router2):
    assert router2.dp.hello().n_workers == 2
    a, b = router2.add_ports(2)
    # ring ports have one rx queue: port 0 is worker 0's, port 1 worker 1's
    info = {p.port: p for p in router2.dp.port_list()}
    assert (info[a].n_rxq, info[a].n_txq) == (1, 2)
    router2.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router2.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    there = [Ether(src=host_mac(0), dst=router_mac(0)) / IP(src="10.0.0.2", dst="10.0.1.2") /
             UDP(sport=1000 + i, dport=53) / Raw(b"q%d" % i) for i in range(20)]
    back = [Ether(src=host_mac(1), dst=router_mac(1)) / IP(src="10.0.1.2", dst="10.0.0.2") /
            UDP(sport=53, dport=1000 + i) / Raw(b"a%d" % i) for i in range(20)]
    before = snapshot(router2)
    router2.send(a, *there)
    router2.send(b, *back)
    out_b = router2.expect(b, 20)
    out_a = router2.expect(a, 20)
    # each direction is one worker's, so order within it is kept
    assert [bytes(f) for f in out_b] == [forwarded(p, 1, host_mac(1)) for p in there]
    assert [bytes(f) for f in out_a] == [forwarded(p, 0, host_mac(0)) for p in back]
    assert_counters(router2, before, {
        a: merge(*map(rx, there), tx(*out_a), {"ip_forwarded": 20}),
        b: merge(*map(rx, back), tx(*out_b), {"ip_forwarded": 20})})


def test_two_workers_answer_ping_and_resolve_arp(router2):
    a, b = router2.add_ports(2)
    ping = (Ether(src=host_mac(1), dst=router_mac(1)) /
            IP(src="10.0.1.2", dst="10.0.0.1") / ICMP(id=5, seq=1) / (b"x" * 8))
    router2.send(b, ping)
    (req,) = router2.expect(b, 1)  # the reply waits for ARP of 10.0.1.2
    assert req.op == 1 and req.pdst == "10.0.1.2"
    router2.send(b, arp_frame(2, host_mac(1), router_mac(1), "10.0.1.2", "10.0.1.1",
                              hwdst=router_mac(1)))
    (rep,) = router2.expect(b, 1)
    assert rep[IP].src == "10.0.0.1" and rep[ICMP].type == 0 and rep[Ether].dst == host_mac(1)
