"""Exhaustion: a dataplane started with tiny limits (32 ARP entries, 32-entry
queues between threads, a pool of 256 mbufs) driven past each of them.
New work is refused and counted, work already accepted is finished, flows
that were there keep going, the control channel answers throughout, and
once the pressure is gone every mbuf is back in the pool (PacketRouter.close
checks that last part for every test). NAT sessions: test_nat_limits.py;
the whole packet suite also runs with tiny limits (VROUTER_LIMITS)."""

from __future__ import annotations

import errno

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Raw

from packet.harness import DEFAULT_LIMITS, PacketRouter, host_mac, router_mac
from packet.helpers import (arp_request_from_router, assert_counters, forwarded, merge, rx,
                            snapshot, to_router, tx, wait_for)
from vrouter.dataplane.client import DataplaneError


@pytest.fixture
def tiny(tmp_path):
    routers = []

    def start(**limits) -> PacketRouter:
        # the one limit under test, the others as usual (also in the tiny pass)
        r = PacketRouter(tmp_path / f"dp{len(routers)}", **{**DEFAULT_LIMITS, **limits})
        routers.append(r)
        return r
    yield start
    for r in routers:
        r.close()


def to_host(h: int, n: int = 0, size: int = 16) -> bytes:
    return bytes(to_router(0) / IP(src="10.0.0.2", dst=f"10.0.1.{h}", id=n) /
                 UDP(sport=1000 + n, dport=2) / Raw(b"e" * size))


def control_answers(router: PacketRouter) -> None:
    assert router.dp.hello().n_workers >= 1
    assert router.dp.port_list()
    assert "mbufs" in router.dp.mempool_stats()


def arp_reply(port_index: int, h: int) -> Ether:
    mac = host_mac(port_index, h)
    return Ether(src=mac, dst=router_mac(port_index)) / ARP(
        op=2, hwsrc=mac, psrc=f"10.0.{port_index}.{h}", pdst=f"10.0.{port_index}.1",
        hwdst=router_mac(port_index))


def test_full_arp_table_refuses_new_neighbours_and_keeps_the_known_ones(tiny):
    router = tiny(neigh_table=32)
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))  # 2 of the 32 entries
    scan = [to_host(h) for h in range(10, 74)]  # 64 addresses no one answers for
    before = snapshot(router)
    router.send(a, *scan)
    reqs = router.expect(b, 30)
    assert sorted(bytes(r) for r in reqs) == sorted(
        arp_request_from_router(1, r.pdst) for r in reqs)
    assert_counters(router, before, {
        a: merge(*map(rx, scan), {"ip_forwarded": 64}),
        b: merge(tx(*reqs), {"arp_requests_out": 30, "arp_held": 30,
                             "drop_arp_table_full": 34})})
    assert len(router.dp.neigh_list()) == 32
    control_answers(router)
    # the known neighbour's flow goes on, the table full or not
    flow = [to_host(2, n) for n in range(10)]
    router.send(a, *flow)
    outs = router.expect(b, 10)
    assert [bytes(o) for o in outs] == [forwarded(Ether(f), 1, host_mac(1)) for f in flow]
    # and a neighbour that answers gets its held packet
    h = reqs[0].pdst.split(".")[-1]
    router.send(b, arp_reply(1, int(h)))
    (out,) = router.expect(b, 1)
    assert out[IP].dst == f"10.0.1.{h}" and out.dst == host_mac(1, int(h))


def test_empty_pool_refuses_frames_then_recovers(tiny):
    """Packets held for a neighbour that never answers take every mbuf: the
    ports cannot receive (the ring port's injection is refused, as a NIC
    would miss frames), the router's own requests fail (drop_no_mbuf), the
    control channel answers; a static entry releases what was held, in
    order, and the pool is whole again."""
    router = tiny(mbufs=256)
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.params_set(arp_queue_len=256, arp_retrans_ms=50, arp_max_probes=100)
    sent = []
    with pytest.raises(DataplaneError) as refused:
        for n in range(0, 512, 16):
            chunk = [to_host(77, n + k) for k in range(16)]
            router.send(a, *chunk)
            sent += chunk
    assert refused.value.errno == errno.ENOBUFS
    size = router.dp.mempool_stats()["mbufs"]["size"]

    def held() -> int:
        return sum(x.held for x in router.dp.neigh_list())
    wait_for(lambda: held() == len(sent), what="every accepted frame held")
    # the router's own ARP retries find no mbuf either: counted
    wait_for(lambda: router.counters(b)["drop_no_mbuf"] > 0, what="a failed ARP retry")
    control_answers(router)
    assert len(sent) <= size

    def in_use_beyond_held() -> int:
        router.dp.pg_capture(b)  # the ARP requests that did go out
        return router.mbufs_in_use()["mbufs"] - len(sent)
    wait_for(lambda: in_use_beyond_held() == 0, what="every mbuf in use held")
    # resolution, by hand: everything held leaves, in order
    router.dp.neigh_add(b, "10.0.1.77", host_mac(1, 77))
    outs = router.expect(b, len(sent), timeout=5)
    assert [bytes(o) for o in outs] == [forwarded(Ether(f), 1, host_mac(1, 77)) for f in sent]
    assert router.counters(b)["arp_released"] == len(sent)
    router.assert_no_mbuf_leak()
    # and receiving works again
    router.send(a, to_host(77, 999))
    router.expect(b, 1)


def test_small_queues_refuse_what_does_not_fit_and_count_it(tiny):
    """32-entry queues between threads: a burst of packets for an unresolved
    neighbour overruns the queue to the control thread, and their release
    overruns the queue back to the worker. Whatever fitted is delivered;
    whatever did not is counted; nothing is lost uncounted."""
    router = tiny(queue_size=32)
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.params_set(arp_queue_len=256)
    burst = [to_host(9, n) for n in range(1024)]
    before = snapshot(router)
    router.send(a, *burst)
    (req,) = router.expect(b, 1)
    assert bytes(req) == arp_request_from_router(1, "10.0.1.9")

    def c(name: str) -> int:
        return router.counters(b)[name] - before[b][name]
    wait_for(lambda: c("arp_held") + c("drop_arp_queue_full") + c("drop_ctl_ring_full") == 1024,
             what="every frame held or counted")
    # how many reach the control thread depends on how the threads interleave
    held = c("arp_held")
    assert 0 < held <= 256 and c("drop_ctl_ring_full") > 0
    # the hold queue refuses only once full (exactly 256 may arrive: none refused)
    assert c("drop_arp_queue_full") == 0 or held == 256
    control_answers(router)
    router.send(b, arp_reply(1, 9))
    wait_for(lambda: c("arp_released") == held, what="the release")
    out = []
    wait_for(lambda: out.extend(router.dp.pg_capture(b)) or
             len(out) + c("drop_inject_ring_full") == held, what="released frames sent or counted")
    got = [Ether(f) for f in out]
    # what was sent is a subsequence of what was held, in order
    ids = [g[IP].id for g in got]
    assert ids == sorted(ids) and all(g.dst == host_mac(1, 9) for g in got)
    assert len(got) + c("drop_inject_ring_full") == held
    control_answers(router)
