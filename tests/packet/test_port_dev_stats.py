"""PORT_DEV_STATS: what the device itself counted (rte_eth_stats), next to the
dataplane's own counters: every frame the device received, those the
dataplane then dropped included; what a full transmit ring refused is the
dataplane's drop_tx_full (a ring device does not call it an error)."""

from __future__ import annotations

import errno

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import counter_delta, host_mac, router_mac
from vrouter.dataplane.client import DataplaneError

PG_RING_SIZE = 4096  # dataplane/src/pg.c: a ring port's tx ring holds 4095 frames


@pytest.fixture
def two(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    return a, b


def udp(n: int = 0):
    return (Ether(src=host_mac(0), dst=router_mac(0)) / IP(src="10.0.0.2", dst="10.0.1.2") /
            UDP(sport=1000 + n % 50000, dport=2000) / Raw(b"x" * 50))


def test_the_device_counts_every_frame_the_dataplane_drops_included(router, two):
    a, b = two
    dev_a, dev_b, cnt_a = (router.dp.port_dev_stats(a), router.dp.port_dev_stats(b),
                           router.counters(a))
    other_host = (Ether(src=host_mac(0), dst="02:99:00:00:00:01") /
                  IP(src="10.0.0.2", dst="10.0.1.2") / UDP())
    router.send(a, *[udp()] * 5, *[other_host] * 3)
    router.expect(b, 5)
    assert counter_delta(dev_a, router.dp.port_dev_stats(a)) == {"rx_packets": 8}
    assert counter_delta(dev_b, router.dp.port_dev_stats(b)) == {"tx_packets": 5}
    d = counter_delta(cnt_a, router.counters(a))
    assert d["rx_packets"] == 8 and d["ip_forwarded"] == 5 and d["drop_other_host"] == 3


@pytest.mark.capacity("4300 mbufs held in a full tx ring")
def test_a_full_tx_ring_sends_what_fits_and_the_rest_is_drop_tx_full(router, two):
    a, b = two
    dev_b, cnt_b = router.dp.port_dev_stats(b), router.counters(b)
    total = PG_RING_SIZE + 200  # nobody takes b's frames: its tx ring fills up
    sent = 0
    while sent < total:  # in steps the rx ring of a has room for
        n = min(1000, total - sent)
        router.send(a, *(udp(sent + i) for i in range(n)))
        sent += n
        router.wait_counter(a, "ip_forwarded", sent, timeout=10)
    full = PG_RING_SIZE - 1
    dev = counter_delta(dev_b, router.dp.port_dev_stats(b))
    cnt = counter_delta(cnt_b, router.counters(b))
    assert dev == {"tx_packets": full}  # net_ring: a full ring is no device error
    assert cnt["tx_packets"] == full and cnt["drop_tx_full"] == total - full
    router.expect(b, full, timeout=10)  # the frames in the ring go back to their pool


def test_unknown_port_is_refused(router):
    with pytest.raises(DataplaneError) as e:
        router.dp.port_dev_stats(200)
    assert e.value.errno == errno.ENOENT and "port 200 does not exist" in str(e.value)
