"""Loss, reordering, duplicates and latency, detected against a forwarder
that misbehaves on purpose (vrouter-testfwd). Counts come from single
bursts at low rates: exact whatever the machine's speed."""

from __future__ import annotations

import pytest
from scapy.all import IP, UDP, Ether, Raw
from vrouter.loadgen.stats import bucket_bounds, bucket_index
from vrouter.loadgen.stl import (
    STLFlowLatencyStats,
    STLFlowStats,
    STLPktBuilder,
    STLStream,
    STLTXCont,
    STLTXSingleBurst,
)

pytestmark = pytest.mark.needs_dpdk


def burst(n, pps=50000, name="s", flow_stats=None, size=60):
    pkt = Ether() / IP(src="16.0.0.1", dst="48.0.0.1") / UDP(sport=1025, dport=12)
    pkt = pkt / Raw(b"x" * (size - len(pkt)))
    return STLStream(name=name, packet=STLPktBuilder(pkt=pkt), flow_stats=flow_stats,
                     mode=STLTXSingleBurst(pps=pps, total_pkts=n))


def test_clean_path(fwd_bench):
    fwd_bench.impair()
    res = fwd_bench.gen.run([burst(5000)], duration=5)
    s = res.streams[0]
    assert (s.tx_packets, s.rx_packets, s.lost, s.ooo, s.dup) == (5000, 5000, 0, 0, 0)
    assert res.loss_ratio == 0 and res.stop == "done"


def test_every_tenth_dropped(fwd_bench):
    fwd_bench.impair("drop_every 10")
    res = fwd_bench.gen.run([burst(10000)], duration=5)
    s = res.streams[0]
    assert s.tx_packets == 10000
    assert s.lost == 1000 == fwd_bench.fwd.stats()["dropped"]
    assert s.ooo == 0 and s.dup == 0
    assert res.loss_ratio == pytest.approx(0.1)


def test_swapped_pairs_are_out_of_order_not_lost(fwd_bench):
    fwd_bench.impair("swap_pairs 1")
    res = fwd_bench.gen.run([burst(4000)], duration=5)
    s = res.streams[0]
    assert s.rx_packets == 4000 and s.lost == 0 and s.dup == 0
    assert s.ooo == 2000 == fwd_bench.fwd.stats()["swapped"]


def test_duplicates_are_counted_once(fwd_bench):
    fwd_bench.impair("dup_every 50")
    res = fwd_bench.gen.run([burst(5000)], duration=5)
    s = res.streams[0]
    assert s.rx_packets == 5100 and s.dup == 100 and s.lost == 0 and s.ooo == 0


def test_loss_and_order_per_stream(fwd_bench):
    """Two streams interleaved: every seventh packet of the whole dropped;
    each stream's loss is its own, and the sum is the forwarder's count.
    (Seventh, not fifth: the 3:2 rates interleave in cycles of five, and
    every fifth packet could be the same stream's each time.)"""
    fwd_bench.impair("drop_every 7")
    res = fwd_bench.gen.run([burst(3000, 30000, "a", STLFlowStats(1)),
                             burst(2000, 20000, "b", STLFlowStats(2))], duration=5)
    a, b = res.streams
    assert a.tx_packets == 3000 and b.tx_packets == 2000
    assert a.lost + b.lost == 5000 // 7 == fwd_bench.fwd.stats()["dropped"]
    assert a.lost > 0 and b.lost > 0
    assert a.pg_id == 1 and a.latency is None        # STLFlowStats: no timestamps


def test_latency_of_a_delaying_forwarder_and_the_histogram(fwd_bench):
    fwd_bench.impair("delay_us 400")
    res = fwd_bench.gen.run([burst(2000, 20000, flow_stats=STLFlowLatencyStats(3))],
                            duration=5)
    s = res.streams[0]
    lat = s.latency
    assert s.rx_packets == 2000 and lat.count == 2000
    assert lat.min_ns >= 400_000 and lat.avg_ns >= 400_000
    # the histogram adds up, its buckets hold what they claim to
    assert sum(c for _, _, c in lat.buckets()) == lat.count
    lo0, hi0, _ = lat.buckets()[0]
    lo1, hi1, _ = lat.buckets()[-1]
    assert lo0 <= lat.min_ns < hi0 and lo1 <= lat.max_ns < hi1
    assert lat.min_ns <= lat.percentile(50) <= lat.percentile(99) <= lat.max_ns
    # summary buckets are within 1/16 of their values
    for lo, hi, _ in lat.buckets():
        assert hi - lo <= max(1, lo // 16)


def test_histogram_bucket_arithmetic():
    for ns in list(range(300)) + [10**k + d for k in range(3, 12) for d in (-1, 0, 1)]:
        lo, hi = bucket_bounds(bucket_index(ns))
        assert lo <= ns < hi
    prev_hi = 0
    for i in range(16 * 38):
        lo, hi = bucket_bounds(i)
        assert lo == prev_hi and hi > lo
        prev_hi = hi


def test_foreign_and_stale_packets_are_not_counted(fwd_bench):
    """Packets of an earlier trial still in flight, and anything without
    this trial's signature, land in the port's unattributed counter."""
    fwd_bench.impair("delay_us 200000")          # hold packets past the trial's end
    res1 = fwd_bench.gen.run([burst(100, 10000)], duration=1, drain=0.01)
    assert res1.streams[0].rx_packets == 0
    fwd_bench.impair()
    res2 = fwd_bench.gen.run([burst(100, 10000)], duration=1, drain=0.3)
    s = res2.streams[0]
    assert s.rx_packets == 100 and s.dup == 0 and s.ooo == 0
    assert sum(p.rx_other for p in res2.ports) == 100   # the first trial's packets


def test_continuous_stream_stops_by_itself(fwd_bench):
    fwd_bench.impair()
    pkt = STLPktBuilder(pkt=Ether() / IP() / UDP() / Raw(b"x" * 30))
    res = fwd_bench.gen.run([STLStream(packet=pkt, mode=STLTXCont(pps=10000))], duration=0.5)
    assert res.stop == "duration" and 0.49 < res.duration_s < 0.6
    res = fwd_bench.gen.run([STLStream(packet=pkt, mode=STLTXCont(pps=10000))], duration=5,
                            max_packets=777)
    assert res.stop == "packets" and res.tx_packets == 777
