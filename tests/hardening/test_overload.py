"""Overload: a traffic generator thread inside the dataplane (VR_MSG_PG_FLOOD:
not an lcore, it takes CPU from the router like traffic from outside would)
offers frames far faster than the router takes them, into an rx ring of 256
entries. What the ring refuses is the overload (a NIC's missed frames); all
that is counted, not timed:

- the router finishes every frame it took, and says what became of each
  (throughput levels off at what it can take; it does not collapse into
  losing what it accepted, and it forwards normally right after);
- a flow on another port goes through untouched, frame for frame;
- punted traffic and the ARP requests a scan causes stay within their
  rates (the bound is burst + rate x elapsed, with a second of slack);
- the control channel answers all along, each request well within a
  generous bound (no speed is asserted: the bound only catches a control
  thread that stopped answering)."""

from __future__ import annotations

import time

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import DEFAULT_LIMITS, PacketRouter, host_mac
from packet.helpers import forwarded, snapshot, to_router, wait_for

RING = 256
ANSWER_BOUND = 5.0  # seconds: a stuck control thread, not a slow one


@pytest.fixture
def router(tmp_path):
    """Usual sizes, also in the tiny-limits pass: this is about load."""
    r = PacketRouter(tmp_path, **DEFAULT_LIMITS)
    yield r
    r.close()


@pytest.fixture
def ports(router):
    """a and c receive; b and d are their way out (host .2 on each); the
    flood comes in on a, the flow that must stay untouched from c to d."""
    a, b, c, d = router.add_ports(4, rxd=RING)
    for i, p in enumerate((a, b, c, d)):
        router.dp.neigh_add(p, f"10.0.{i}.2", host_mac(i))
    return a, b, c, d


def udp(src_port: int, dst: str, n: int = 0, src: str = "10.0.0.2") -> bytes:
    return bytes(to_router(src_port) / IP(src=src, dst=dst, id=n) / UDP(sport=1000 + n, dport=9) /
                 Raw(b"f" * 18))


class Watch:
    """While the generator runs: a flow of 10-frame batches from c to d,
    each batch checked frame for frame, and control requests timed."""

    def __init__(self, router: PacketRouter, c: int, d: int) -> None:
        self.router, self.c, self.d = router, c, d
        self.sent: list[bytes] = []
        self.got: list[bytes] = []
        self.slowest = 0.0
        self.answers = 0

    def during(self, flooded: int, rounds: int = 25) -> dict[str, int]:
        """`rounds` of the above while the generator on `flooded` runs (it
        runs until stopped), then stops it; its final counts."""
        dp = self.router.dp
        for _ in range(rounds):
            t = time.monotonic()
            stats = dp.pg_flood_stats(flooded)
            dp.hello()
            self.router.counters(flooded)
            self.slowest = max(self.slowest, time.monotonic() - t)
            self.answers += 1
            batch = [udp(2, "10.0.3.2", len(self.sent) + k, src="10.0.2.2") for k in range(10)]
            dp.pg_inject(self.c, batch)
            self.sent += batch
            self.got += dp.pg_capture(self.d)
            assert stats["running"]
            time.sleep(0.02)
        return dp.pg_flood_stop(flooded)

    def check(self) -> None:
        deadline = time.monotonic() + 3
        while len(self.got) < len(self.sent) and time.monotonic() < deadline:
            self.got += self.router.dp.pg_capture(self.d)
        want = [forwarded(Ether(f), 3, host_mac(3)) for f in self.sent]
        assert self.got == want, f"{len(self.got)} of {len(self.sent)} frames of the flow"
        assert self.answers > 0 and self.slowest < ANSWER_BOUND, self.slowest


def test_forwarding_under_overload_finishes_what_it_takes(router, ports):
    a, b, c, d = ports
    flood = [udp(0, "10.0.1.2", n) for n in range(64)]
    watch = Watch(router, c, d)
    before = snapshot(router)
    router.dp.pg_flood_start(a, flood)
    st = watch.during(a)
    assert st["no_mbuf"] == 0
    took = st["accepted"]
    assert 0 < took < st["offered"], st  # the ring refused some: the router was overrun
    # what the ring still held when the generator stopped is processed next
    wait_for(lambda: router.counters(a)["rx_packets"] - before[a]["rx_packets"] == took,
             what="the rx ring emptied")
    after = snapshot(router)

    def delta(p, name):
        return after[p][name] - before[p][name]
    # everything it took was forwarded; out of b, or counted where b's
    # (uncollected) transmit ring was full
    assert delta(a, "rx_packets") == took and delta(a, "ip_forwarded") == took
    assert delta(b, "tx_packets") + delta(b, "drop_tx_full") == took
    assert {k for k, v in after[a].items() if k.startswith("drop_") and v != before[a][k]} == set()
    watch.check()
    # no lasting harm: the next frame on a goes straight through
    router.dp.pg_capture(b)
    probe = udp(0, "10.0.1.2", 4242)
    router.send(a, probe)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(Ether(probe), 1, host_mac(1))


def test_punt_floods_stay_within_the_punt_rate(router, ports):
    """UDP to the router's own addresses: on a through a control namespace's
    exception port x, on c to the control thread itself (it answers with
    port unreachable, within the ICMP rate). Both within the punt rate; the
    control thread, flooded, still answers."""
    a, b, c, d = ports
    (x,) = router.add_ports(1, addresses=False)
    router.dp.port_set(a, punt_port=x)
    p = router.dp.params_get()
    start = time.monotonic()
    router.dp.pg_flood_start(a, [udp(0, "10.0.0.1", n) for n in range(64)])
    # the second generator on b, not c: c carries the watched flow
    router.dp.pg_flood_start(b, [udp(1, "10.0.1.1", n, src="10.0.1.2") for n in range(64)])
    watch = Watch(router, c, d)
    st_a = watch.during(a)
    st_b = router.dp.pg_flood_stop(b)
    wait_for(lambda: router.counters(a)["punted"] == st_a["accepted"] and
             router.counters(b)["punted"] == st_b["accepted"], what="the rx rings emptied")
    sa, sb = router.counters(a), router.counters(b)
    elapsed = time.monotonic() - start
    allowed = p.punt_burst + p.punt_rate * (elapsed + 1)
    # a: to the namespace, within the rate
    assert sa["punted"] == st_a["accepted"]
    assert sa["punt_delivered"] + sa["drop_punt_ratelimited"] == sa["punted"]
    assert 0 < sa["punt_delivered"] <= allowed and sa["drop_punt_ratelimited"] > 0
    # b: to the control thread, within the same rate, then the ICMP rate
    assert sb["punted"] == st_b["accepted"]
    to_ctl = sb["punted"] - sb["drop_punt_ratelimited"]
    assert 0 < to_ctl <= allowed
    assert sb["drop_punt_no_consumer"] + sb["drop_ctl_ring_full"] == to_ctl
    assert sb["icmp_errors_sent"] <= p.icmp_burst + p.icmp_rate * (elapsed + 1)
    watch.check()
    router.dp.pg_capture(x)
    router.dp.pg_capture(b)


def test_a_scan_under_flood_sends_arp_requests_within_the_arp_rate(router, ports):
    """Frames to 900 addresses no one has, on a /16 that b is on: the ARP
    table fills with entries to resolve, but the requests leave at the
    port's ARP rate; held packets are bounded by the hold queues."""
    a, b, c, d = ports
    router.dp.addr_add(b, "10.1.0.1/16")
    router.expect(b, 1)  # its gratuitous ARP
    router.dp.params_set(arp_queue_len=2)
    p = router.dp.params_get()
    scan = [udp(0, f"10.1.{n // 200}.{n % 200 + 2}", n) for n in range(900)]
    start = time.monotonic()
    router.dp.pg_flood_start(a, scan)
    watch = Watch(router, c, d)
    st = watch.during(a)
    wait_for(lambda: router.counters(a)["rx_packets"] == st["accepted"], what="the rx ring emptied")
    sa, sb = router.counters(a), router.counters(b)
    elapsed = time.monotonic() - start
    assert 0 < sb["arp_requests_out"] <= p.arp_burst + p.arp_rate * (elapsed + 1)
    assert sb["arp_requests_ratelimited"] > 0
    # every frame taken was forwarded, then held or refused, and counted
    assert sa["rx_packets"] == st["accepted"] == sa["ip_forwarded"]
    wait_for(lambda: sum(router.counters(b)[k] for k in (
        "arp_held", "drop_arp_queue_full", "drop_ctl_ring_full", "drop_arp_table_full")) ==
        st["accepted"], what="every frame held or counted")
    sb = router.counters(b)
    assert sb["arp_held"] + sb["drop_arp_queue_full"] + sb["drop_ctl_ring_full"] + \
        sb["drop_arp_table_full"] == st["accepted"]
    held = sum(n.held for n in router.dp.neigh_list())
    assert held <= 900 * p.arp_queue_len
    watch.check()
    router.dp.pg_capture(b)
