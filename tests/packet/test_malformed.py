"""Malformed input (RFC 1812 5.2.2 header validation, 5.3.7 martians): each
dropped with its own counter, nothing sent."""

from __future__ import annotations

import struct

import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import checksum

from packet.harness import host_mac
from packet.helpers import assert_counters, forwarded, merge, rx, snapshot, to_router

ETH = bytes(to_router(0) / b"")[:12] + b"\x08\x00"  # host 10.0.0.2 -> router, IPv4
PAYLOAD = bytes(UDP(sport=1, dport=2) / b"abcdefgh")


def ipv4(ver_ihl=0x45, total=None, options=b"", src="10.0.0.2", dst="10.0.1.2",
         good_checksum=True, payload=PAYLOAD) -> bytes:
    """An IPv4 header by hand, so that any field can be wrong."""
    hlen = 20 + len(options)
    total = hlen + len(payload) if total is None else total
    hdr = struct.pack("!BBHHHBBH4s4s", ver_ihl, 0, total, 1, 0, 64, 17, 0,
                      bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))) + options
    ck = checksum(hdr) if good_checksum else checksum(hdr) ^ 0x00FF
    return hdr[:10] + struct.pack("!H", ck) + hdr[12:] + payload


CASES = {
    "runt_shorter_than_ethernet": (ETH[:10], "drop_runt"),
    "ip_shorter_than_20_bytes": (ETH + ipv4()[:19], "drop_ip_truncated"),
    "version_6": (ETH + ipv4(ver_ihl=0x65), "drop_ip_version"),
    "ihl_below_5": (ETH + ipv4(ver_ihl=0x44), "drop_ip_bad_ihl"),
    "ihl_beyond_the_frame": (ETH + ipv4(ver_ihl=0x4F), "drop_ip_bad_ihl"),
    "total_length_above_frame": (ETH + ipv4(total=20 + len(PAYLOAD) + 1), "drop_ip_bad_length"),
    "total_length_below_header": (ETH + ipv4(total=19), "drop_ip_bad_length"),
    "ihl_beyond_the_total_length": (ETH + ipv4(0x4F, total=28, options=b"\x01" * 40),
                                    "drop_ip_bad_length"),
    "bad_header_checksum": (ETH + ipv4(good_checksum=False), "drop_ip_bad_checksum"),
    "option_length_past_header": (ETH + ipv4(0x46, options=b"\x88\x09\x00\x00"),
                                  "drop_ip_bad_options"),
    "option_length_below_2": (ETH + ipv4(0x46, options=b"\x88\x01\x00\x00"),
                              "drop_ip_bad_options"),
    "option_without_length_byte": (ETH + ipv4(0x46, options=b"\x01\x01\x01\x88"),
                                   "drop_ip_bad_options"),
}
for _src in ("0.1.2.3", "127.0.0.1", "224.1.2.3", "240.1.2.3", "255.255.255.255"):
    CASES[f"martian_source_{_src}"] = (ETH + ipv4(src=_src), "drop_martian_src")
for _dst in ("0.1.2.3", "127.0.0.1", "240.1.2.3"):
    CASES[f"martian_destination_{_dst}"] = (ETH + ipv4(dst=_dst), "drop_martian_dst")


@pytest.fixture(scope="module")
def router(shared_router):
    """All cases share one dataplane: a dropped frame leaves only counters."""
    return shared_router


@pytest.fixture(scope="module")
def two(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    return a, b


def test_well_formed_reference_frame_is_forwarded(router, two):
    """The frame the cases below break, intact: forwarded."""
    a, b = two
    frame = ETH + ipv4()
    router.send(a, frame)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(to_router(0) / IP(ipv4()), 1, host_mac(1))


def test_well_formed_options_are_accepted(router, two):
    a, b = two
    frame = ETH + ipv4(0x47, options=b"\x01\x88\x04\x12\x34\x00\x00\x00")  # NOP, SID, EOL
    router.send(a, frame)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(to_router(0) / IP(frame[14:]), 1, host_mac(1))


@pytest.mark.parametrize("frame, counter", CASES.values(), ids=CASES.keys())
def test_malformed_frame_is_dropped_and_counted(router, two, frame, counter):
    a, b = two
    before = snapshot(router)
    router.send(a, frame)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(frame), {counter: 1})})


@pytest.mark.parametrize("src", ["10.0.1.255", "10.0.0.255"], ids=["other_subnet", "own_subnet"])
def test_subnet_broadcast_source_is_martian(router, two, src):
    """RFC 1812 5.3.7 with 4.2.2.11: a directed broadcast address of a
    connected subnet (the ingress port's or another's) is not a valid
    source; such a packet is not forwarded."""
    a, b = two
    frame = ETH + ipv4(src=src)
    before = snapshot(router)
    router.send(a, frame)
    router.expect_none(a, b)
    assert_counters(router, before, {a: merge(rx(frame), {"drop_martian_src": 1})})


def test_source_ending_in_ones_off_the_connected_subnets_is_forwarded(router, two):
    """Only connected subnets' broadcasts are martian: 20.0.0.255 may be a
    host of a subnet the router cannot see into (a /23, say)."""
    a, b = two
    frame = ETH + ipv4(src="20.0.0.255")
    router.send(a, frame)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(to_router(0) / IP(frame[14:]), 1, host_mac(1))
