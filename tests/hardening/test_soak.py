"""Soak: the dataplane under a sustained mix of everything at once, for
VROUTER_SOAK_SECONDS (default 20 here; `make soak` runs it for 10 minutes).

Two generators (VR_MSG_PG_FLOOD) offer, without pause:
- on a: forwarded UDP, frames to addresses still being resolved (ARP holds),
  TTL 1 (ICMP errors), frames for the router itself (punts), and malformed
  frames of every kind the hostile-packet tests name;
- on c: an inside network behind masquerade opening new UDP, TCP and ICMP
  flows from 1000 source ports, and fragments that never complete.
Meanwhile the NAT clock moves 30 s a second (what pauses expires) and every
5 s the sessions are flushed, so new ones replace them: the table churns and
fills (refusals are counted).

What must hold throughout and after (counted, never timed):
- the control channel answers every sample;
- every frame a generator put in an rx ring was taken (rx_packets);
- the process's resident memory stops growing once warm;
- at the end: every mbuf back in its pool, and the NAT table empties past
  the longest timeout (PacketRouter.close).
"""

from __future__ import annotations

import os
import time
from ipaddress import IPv4Network

import pytest
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw

from packet.harness import DEFAULT_LIMITS, PacketRouter, host_mac, router_mac
from packet.nat_helpers import masquerade

SECONDS = float(os.environ.get("VROUTER_SOAK_SECONDS", "20"))
ANSWER_BOUND = 5.0  # seconds: a stuck control thread, not a slow one
WARM_MB = 16  # resident growth allowed in the second half (allocator slack)
RING = 256
NAT_SESSIONS = 512  # fewer than the 1000 flows on c: the table fills


def to_router(port: int, h: int = 2) -> Ether:
    return Ether(src=host_mac(port, h), dst=router_mac(port))


def mix_a() -> list[bytes]:
    e = to_router(0)
    frames = []
    for n in range(256):
        frames.append(e / IP(src="10.0.0.2", dst="10.0.1.2", id=n) / UDP(sport=n, dport=9) /
                      Raw(b"x" * 18))
        # 16 addresses no one answers: held (16 x arp queue_len mbufs at
        # most), requested within the ARP rate, given up after max_probes
        frames.append(e / IP(src="10.0.0.2", dst=f"10.1.0.{n % 16 + 2}") /
                      UDP(sport=n, dport=9))
        if n % 4 == 0:
            frames.append(e / IP(src="10.0.0.2", dst="10.0.1.2", ttl=1) / UDP(sport=n))
            frames.append(e / IP(src="10.0.0.2", dst="10.0.0.1") / UDP(sport=n, dport=53))
    malformed = [
        bytes(e)[:14] + b"\x45\x00",  # shorter than IPv4
        bytes(e / IP(src="10.0.0.2", dst="10.0.1.2", version=6) / UDP()),
        bytes(e / IP(src="10.0.0.2", dst="10.0.1.2", ihl=4) / UDP()),
        bytes(e / IP(src="10.0.0.2", dst="10.0.1.2", len=400) / UDP()),
        bytes(e / IP(src="10.0.0.2", dst="10.0.1.2", chksum=0x1234) / UDP()),
        bytes(e / IP(src="127.0.0.1", dst="10.0.1.2") / UDP()),
        bytes(e / IP(src="10.0.0.2", dst="10.0.1.2", options=b"\x07\x30\x04") / UDP()),
        bytes(e / IP(src="10.0.0.2", dst="10.0.1.2", ttl=0) / UDP()),
        bytes(Ether(src=host_mac(0), dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"\x00\x07" * 14)),
    ]
    return [bytes(f) for f in frames] + malformed * 8


def mix_c() -> list[bytes]:
    e = to_router(2)
    frames = []
    for n in range(1000):
        src = f"10.0.2.{n % 8 + 2}"
        kind = n % 5
        if kind < 3:
            frames.append(e / IP(src=src, dst="10.0.3.2") / UDP(sport=20000 + n, dport=53) /
                          Raw(b"q" * 20))
        elif kind == 3:
            frames.append(e / IP(src=src, dst="10.0.3.2") / TCP(sport=20000 + n, dport=80,
                                                                flags="S"))
        else:
            frames.append(e / IP(src=src, dst="10.0.3.2") / ICMP(id=n, seq=1))
    for n in range(24):  # first halves only: given up after the reassembly timeout
        frames.append(e / IP(src="10.0.2.2", dst="10.0.3.2", id=5000 + n, flags="MF") /
                      UDP(sport=7, dport=7) / Raw(b"f" * 64))
    return [bytes(f) for f in frames]


def resident_kb(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.fixture
def router(tmp_path):
    """Usual sizes but a small NAT table, so churn fills it; also in the
    tiny-limits pass (this is about time, not size)."""
    r = PacketRouter(tmp_path, **{**DEFAULT_LIMITS, "nat_sessions": NAT_SESSIONS})
    yield r
    r.close()


def test_soak_mixed_traffic_leaves_nothing_behind(router):
    # small rings: full ones (the generators keep rx rings full, and nothing
    # collects the tx rings) hold a bounded share of the pool
    a, b, c, d = router.add_ports(4, rxd=RING, txd=RING)
    dp = router.dp
    router.dp.addr_add(b, "10.1.0.1/16")
    router.expect(b, 1)  # its gratuitous ARP
    for i, p in enumerate((a, b, c, d)):
        dp.neigh_add(p, f"10.0.{i}.2", host_mac(i))
    masquerade(router, d, match=IPv4Network("10.0.2.0/24"))
    dp.pg_flood_start(a, mix_a())
    dp.pg_flood_start(c, mix_c())
    pid = router.proc.pid
    samples: list[tuple[float, int, int]] = []  # (t, resident KB, NAT sessions)
    slowest = 0.0
    start = time.monotonic()
    while (t := time.monotonic() - start) < SECONDS:
        q = time.monotonic()
        nat = dp.nat_params_get()
        stats = [dp.pg_flood_stats(p) for p in (a, c)]
        dp.nat_clock_advance(30)
        if len(samples) % 5 == 4:
            dp.nat_session_flush()  # flows that never pause never expire: churn them
        slowest = max(slowest, time.monotonic() - q)
        assert all(s["running"] for s in stats), stats
        samples.append((t, resident_kb(pid), nat["sessions"]))
        time.sleep(1.0)
    st_a, st_c = dp.pg_flood_stop(a), dp.pg_flood_stop(c)
    for port, st in ((a, st_a), (c, st_c)):
        assert st["accepted"] > 0, st
        # every frame in an rx ring was taken, none lost on the way
        deadline = time.monotonic() + 5
        while router.counters(port)["rx_packets"] < st["accepted"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert router.counters(port)["rx_packets"] == st["accepted"]
    assert slowest < ANSWER_BOUND, slowest
    names = router.counters(a)
    total = {k: sum(router.counters(p)[k] for p in (a, b, c, d)) for k in names}
    # the mix really ran everything it names
    for name in ("ip_forwarded", "arp_held", "icmp_errors_sent", "punted",
                 "drop_ip_bad_checksum", "drop_ttl_expired", "drop_ip_version"):
        assert total[name] > 0, (name, st_a, st_c, {k: v for k, v in total.items() if v})
    # the table filled, refused, and churned: more created than it holds
    assert total["nat_sessions_created"] > NAT_SESSIONS, total
    assert total["drop_nat_table_full"] > 0, total
    assert max(s for _, _, s in samples) <= NAT_SESSIONS
    # warm after the first half: resident memory then stays put
    half = [kb for t, kb, _ in samples if t >= SECONDS / 2]
    assert half and half[-1] - half[0] < WARM_MB * 1024, samples
    print(f"soak {SECONDS:.0f}s: a {st_a}, c {st_c}; resident KB {samples[0][1]} -> "
          f"{samples[-1][1]}; NAT sessions max {max(s for _, _, s in samples)}")
