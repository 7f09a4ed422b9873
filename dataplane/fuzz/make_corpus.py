#!/usr/bin/env python3
"""Seed corpus for fuzz_rx: the kinds of frames tests/packet sends (ARP,
IPv4 UDP/TCP/ICMP, options, fragments, NAT flows both ways, malformed
headers), addressed to the harness's topology (fuzz_rx.c topology()), in
its input format:

    record := flags:u8  length:u16be  frame[length]
    flags  := bits 0-1 ingress port (p0..p3), bits 2-3 rx IP checksum flag
              (0 unknown, 1 bad, 2 good, 3 none), bit 4 same rx burst as the
              previous record, bits 5-7 segment layout (fuzz_rx.c splits[])

Usage: make_corpus.py OUTDIR   (needs scapy: the test extra of .venv)
"""

from __future__ import annotations

import hashlib
import struct
import sys
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP, IPOption_RR, IPOption_Timestamp, fragment
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

# The harness's topology.
P0, P1, P2, P3 = 0, 1, 2, 3
RMAC = {P0: "02:00:00:00:00:01", P1: "02:00:00:00:00:02", P2: "02:00:00:00:00:03",
        P3: "02:00:00:00:00:04"}
HMAC = {P0: "02:00:00:00:10:03", P1: "02:00:00:00:10:02", P3: "02:00:00:00:10:04"}
NSMAC = "02:00:00:00:00:01"    # the control namespace's interface: p0's MAC
PEER_MAC = "02:76:72:00:00:01"  # what the namespace knows every neighbour by
IN1, IN2, OUT_ADDR, PEER = "10.0.0.2", "10.0.0.5", "10.0.1.1", "10.0.1.2"
FAR = "8.8.8.8"
BCAST = "ff:ff:ff:ff:ff:ff"

CKSUM_UNKNOWN, CKSUM_BAD, CKSUM_GOOD, CKSUM_NONE = range(4)


def rec(port: int, frame: bytes, cksum: int = CKSUM_UNKNOWN, same_burst: bool = False,
        layout: int = 0) -> bytes:
    flags = port | cksum << 2 | (0x10 if same_burst else 0) | layout << 5
    return struct.pack("!BH", flags, len(frame)) + frame


def eth(port: int, src: str | None = None, dst: str | None = None) -> Ether:
    return Ether(src=src or HMAC.get(port, "02:00:00:00:10:99"), dst=dst or RMAC[port])


def ip_in(dst: str, src: str = IN1, **kw) -> Ether:
    return eth(P0) / IP(src=src, dst=dst, **kw)


def ip_out(dst: str, src: str = FAR, **kw) -> Ether:
    return eth(P1) / IP(src=src, dst=dst, **kw)


def arp(port: int, op: int, psrc: str, pdst: str, hwsrc: str | None = None,
        dst: str = BCAST, hwdst: str = "00:00:00:00:00:00") -> bytes:
    hw = hwsrc or HMAC.get(port, "02:00:00:00:10:99")
    return bytes(Ether(src=hw, dst=dst) / ARP(op=op, hwsrc=hw, psrc=psrc, pdst=pdst,
                                              hwdst=hwdst))


def seeds() -> dict[str, bytes]:
    s: dict[str, bytes] = {}
    payload = Raw(b"fuzz" * 4)

    # ARP (tests/packet/test_arp.py)
    s["arp_request_for_us"] = rec(P0, arp(P0, 1, IN2, "10.0.0.1"))
    s["arp_request_not_us"] = rec(P0, arp(P0, 1, IN2, "10.0.0.7"))
    s["arp_probe"] = rec(P0, arp(P0, 1, "0.0.0.0", "10.0.0.1"))
    s["arp_gratuitous"] = rec(P1, arp(P1, 1, PEER, PEER))
    s["arp_reply_unsolicited"] = rec(P1, arp(P1, 2, "10.0.1.3", OUT_ADDR, dst=RMAC[P1],
                                             hwdst=RMAC[P1]))
    s["arp_sha_mismatch"] = rec(P0, bytes(Ether(src=HMAC[P0], dst=BCAST) /
                                          ARP(op=1, hwsrc="02:00:00:00:99:99", psrc=IN2,
                                              pdst="10.0.0.1")))
    s["arp_bad_opcode"] = rec(P0, bytes(Ether(src=HMAC[P0], dst=BCAST) /
                                        ARP(op=9, hwsrc=HMAC[P0], psrc=IN2, pdst="10.0.0.1")))
    s["arp_short"] = rec(P0, arp(P0, 1, IN2, "10.0.0.1")[:30])
    s["arp_request_chained"] = rec(P0, arp(P0, 1, IN2, "10.0.0.1") + b"\0" * 18, layout=3)
    s["arp_request_chained2"] = rec(P0, arp(P0, 1, IN2, "10.0.0.1") + b"\0" * 18, layout=6)
    # resolution: a packet held for 10.0.1.3, then its reply releases it
    held = bytes(ip_in("100.64.1.1") / UDP(sport=1000, dport=53) / payload)
    s["arp_hold_then_reply"] = (rec(P0, held) + rec(P0, held, same_burst=True) +
                                rec(P1, arp(P1, 2, "10.0.1.3", OUT_ADDR, dst=RMAC[P1],
                                            hwdst=RMAC[P1])))
    s["arp_hold_then_request"] = rec(P0, held) + rec(P1, arp(P1, 1, "10.0.1.3", OUT_ADDR))

    # forwarding, LPM, ECMP, blackhole, reject (test_forwarding.py, test_lpm_ecmp.py)
    for name, dst in {"default": FAR, "unresolved": "100.64.1.1", "via_p0": "172.16.1.1",
                      "blackhole": "192.0.2.1", "reject": "203.0.113.9",
                      "to_vrf1": "10.9.1.1", "connected_p1": PEER,
                      "connected_unknown": "10.0.1.77", "directed_bcast": "10.0.1.255",
                      "limited_bcast": "255.255.255.255", "multicast": "224.0.0.5"}.items():
        s[f"udp_{name}"] = rec(P1, bytes(ip_out(dst, src="10.0.1.2") /
                                         UDP(sport=4000, dport=4001) / payload))
    s["ecmp_flows"] = b"".join(
        rec(P1, bytes(ip_out(f"198.51.100.{i}", src="10.0.1.2") /
                      (TCP(sport=1000 + i, dport=80) if i % 2 else UDP(sport=i, dport=53)) /
                      payload), same_burst=i > 0)
        for i in range(8))
    s["ecmp_fragment"] = rec(P1, bytes(ip_out("198.51.100.7", src="10.0.1.2", flags="MF") /
                                       UDP(sport=1, dport=2) / payload))
    s["ttl_1"] = rec(P1, bytes(ip_out(FAR, src="10.0.1.2", ttl=1) / UDP() / payload))
    s["ttl_0_local"] = rec(P1, bytes(ip_out(OUT_ADDR, src="10.0.1.2", ttl=0) / UDP() / payload))
    s["padded_short"] = rec(P1, bytes(ip_out("172.16.0.9", src="10.0.1.2") / UDP() /
                                      b"x") + b"\0" * 20)
    s["padded_short_chained"] = rec(P1, bytes(ip_out("172.16.0.9", src="10.0.1.2") / UDP() /
                                              b"x") + b"\0" * 20, layout=2)
    s["l2_broadcast_unicast_ip"] = rec(P1, bytes(Ether(src=HMAC[P1], dst=BCAST) /
                                                 IP(src=PEER, dst=FAR) / UDP() / payload))
    s["other_host_mac"] = rec(P1, bytes(Ether(src=HMAC[P1], dst="02:00:00:00:77:77") /
                                        IP(src=PEER, dst=FAR) / UDP()))
    s["vrf1_out"] = rec(P3, bytes(eth(P3) / IP(src="10.0.0.9", dst=FAR) / UDP() / payload))
    s["vrf1_blackhole"] = rec(P3, bytes(eth(P3) / IP(src="10.0.0.9", dst="192.0.2.200") /
                                        UDP()))
    s["vrf1_local"] = rec(P3, bytes(eth(P3) / IP(src="10.0.0.9", dst="10.0.0.1") / ICMP()))

    # ICMP to the router (test_icmp.py)
    s["echo"] = rec(P0, bytes(ip_in("10.0.0.1") / ICMP(id=7, seq=1) / payload))
    s["echo_other_addr"] = rec(P0, bytes(ip_in("10.0.1.1") / ICMP(id=7, seq=1) / payload))
    s["echo_chained"] = rec(P0, bytes(ip_in("10.0.0.1") / ICMP(id=7, seq=1) / (b"p" * 300)),
                            layout=5)
    s["echo_options"] = rec(P0, bytes(ip_in("10.0.0.1", options=[IPOption_RR()]) /
                                      ICMP() / payload))
    s["echo_bad_icmp_cksum"] = rec(P0, bytes(ip_in("10.0.0.1") / ICMP(chksum=1) / payload))
    s["icmp_error_to_router"] = rec(P0, bytes(ip_in("10.0.0.1") / ICMP(type=3, code=3) /
                                              IP(src="10.0.0.1", dst=IN1) / UDP()))
    s["udp_to_router_p0"] = rec(P0, bytes(ip_in("10.0.0.1") / UDP(sport=5, dport=33434)))
    s["udp_to_router_p1"] = rec(P1, bytes(ip_out(OUT_ADDR, src=PEER) / UDP(sport=5,
                                                                           dport=33434)))
    s["tcp_to_router_p0"] = rec(P0, bytes(ip_in("10.0.0.1") / TCP(dport=22, flags="S")))
    s["local_fragment"] = rec(P0, bytes(ip_in("10.0.0.1", flags="MF") / ICMP() / payload))
    s["echo_big"] = rec(P0, bytes(ip_in("10.0.0.1") / ICMP() / (b"b" * 1400)))

    # fragmentation (test_fragmentation.py): p1's MTU is 1280, p3's 576
    big = ip_in(FAR, src="172.16.0.3") / UDP(sport=9, dport=9) / (b"F" * 1400)
    s["frag_needed_df"] = rec(P0, bytes(ip_in(FAR, src="172.16.0.3", flags="DF") /
                                        UDP() / (b"D" * 1400)))
    s["fragment_out"] = rec(P0, bytes(big))
    s["fragment_out_chained"] = rec(P0, bytes(big), layout=7)
    s["fragment_out_options"] = rec(P0, bytes(ip_in(FAR, src="172.16.0.3",
                                                    options=[IPOption_Timestamp()]) /
                                              UDP() / (b"O" * 1300)))
    s["fragment_vrf1"] = rec(P3, bytes(eth(P3) / IP(src="10.0.0.9", dst=FAR) /
                                       UDP() / (b"3" * 900)))

    # NAT (test_nat*.py): masquerade, pool, port forwards, 1:1, fragments, ICMP errors
    out_udp = ip_in(FAR) / UDP(sport=5000, dport=53) / payload
    s["snat_udp"] = rec(P0, bytes(out_udp))
    s["snat_udp_reply"] = (rec(P0, bytes(out_udp)) +
                           rec(P1, bytes(ip_out(OUT_ADDR) / UDP(sport=53, dport=5000) /
                                         payload)) +
                           rec(P1, bytes(ip_out(OUT_ADDR) / UDP(sport=53, dport=1024) /
                                         payload)))
    s["snat_tcp_handshake"] = (
        rec(P0, bytes(ip_in(FAR) / TCP(sport=40000, dport=443, flags="S"))) +
        rec(P1, bytes(ip_out(OUT_ADDR) / TCP(sport=443, dport=40000, flags="SA"))) +
        rec(P0, bytes(ip_in(FAR) / TCP(sport=40000, dport=443, flags="A"))) +
        rec(P0, bytes(ip_in(FAR) / TCP(sport=40000, dport=443, flags="FA"))) +
        rec(P1, bytes(ip_out(OUT_ADDR) / TCP(sport=443, dport=40000, flags="R"))))
    s["snat_icmp_echo"] = (rec(P0, bytes(ip_in(FAR) / ICMP(id=77) / payload)) +
                           rec(P1, bytes(ip_out(OUT_ADDR) / ICMP(type=0, id=77) / payload)))
    s["snat_pool"] = rec(P0, bytes(ip_in(FAR, src="192.168.7.0") / UDP(sport=7, dport=7)))
    s["snat_pool_tcp"] = rec(P0, bytes(ip_in(FAR, src="192.168.7.0") /
                                       TCP(sport=7, dport=7, flags="S")))
    s["snat_icmp_error_back"] = (
        rec(P0, bytes(out_udp)) +
        rec(P1, bytes(ip_out(OUT_ADDR, src=PEER) / ICMP(type=3, code=3) /
                      IP(src=OUT_ADDR, dst=FAR) / UDP(sport=1024, dport=53))))
    s["snat_icmp_error_ttl"] = rec(P0, bytes(ip_in(FAR, ttl=1) / UDP(sport=5000, dport=53)))
    s["snat_other_proto"] = rec(P0, bytes(ip_in(FAR, proto=47) / Raw(b"\0" * 8)))
    s["snat_chained"] = rec(P0, bytes(ip_in(FAR) / TCP(sport=40001, dport=80, flags="S") /
                                      (b"c" * 200)), layout=4)
    s["snat_chained_split_l4"] = rec(P0, bytes(ip_in(FAR) / TCP(sport=40001, dport=80) /
                                               (b"c" * 64)), layout=5)
    s["dnat_tcp"] = (rec(P1, bytes(ip_out(OUT_ADDR) / TCP(sport=3333, dport=8080, flags="S"))) +
                     rec(P0, bytes(ip_in(FAR) / TCP(sport=80, dport=3333, flags="SA"))))
    s["dnat_udp"] = (rec(P1, bytes(ip_out(OUT_ADDR) / UDP(sport=3333, dport=5353) / payload)) +
                     rec(P0, bytes(ip_in(FAR) / UDP(sport=53, dport=3333) / payload)))
    s["dnat_hairpin"] = rec(P0, bytes(ip_in(OUT_ADDR, src=IN2) /
                                      TCP(sport=3334, dport=8080, flags="S")))
    s["static_in"] = rec(P1, bytes(ip_out("10.0.1.100") / ICMP() / payload))
    s["static_out"] = rec(P0, bytes(ip_in(FAR, src="10.0.0.100") / UDP() / payload))
    frags = fragment(IP(src=FAR, dst=OUT_ADDR) / UDP(sport=4, dport=5353) / (b"R" * 600),
                     fragsize=256)
    s["nat_fragments_in_order"] = b"".join(
        rec(P1, bytes(eth(P1) / f), same_burst=i > 0) for i, f in enumerate(frags))
    s["nat_fragments_reversed"] = b"".join(
        rec(P1, bytes(eth(P1) / f)) for f in reversed(frags))
    s["nat_fragment_lone_later"] = rec(P1, bytes(eth(P1) / frags[-1]))
    s["nat_fragments_out"] = b"".join(
        rec(P0, bytes(eth(P0) / f))
        for f in fragment(IP(src=IN1, dst=FAR) / UDP(sport=6, dport=7) / (b"S" * 500),
                          fragsize=200))
    s["nat_fragments_overlap"] = b"".join(
        rec(P1, bytes(eth(P1) / IP(src=FAR, dst=OUT_ADDR, id=9, flags=fl, frag=off) / data))
        for fl, off, data in (("MF", 0, bytes(UDP(sport=4, dport=5353, len=48)) + b"a" * 16),
                              ("MF", 2, b"b" * 16), (0, 4, b"c" * 8)))

    # the exception port (p0's control namespace) and its ARP
    s["ns_arp"] = rec(P2, bytes(Ether(src=NSMAC, dst=BCAST) /
                                ARP(op=1, hwsrc=NSMAC, psrc="10.0.0.1", pdst=IN1)))
    s["ns_udp_out"] = rec(P2, bytes(Ether(src=NSMAC, dst=PEER_MAC) /
                                    IP(src="10.0.0.1", dst=FAR) / UDP(sport=179, dport=179)))
    s["ns_to_host"] = rec(P2, bytes(Ether(src=NSMAC, dst=PEER_MAC) /
                                    IP(src="10.0.0.1", dst=IN1) / ICMP()))
    s["ns_big"] = rec(P2, bytes(Ether(src=NSMAC, dst=PEER_MAC) /
                                IP(src="10.0.0.1", dst=FAR) / UDP() / (b"n" * 1400)))
    s["punt_to_ns"] = rec(P0, bytes(ip_in("10.0.0.1") / TCP(sport=1, dport=179, flags="S")))

    # malformed (test_malformed.py)
    good = bytes(ip_out("172.16.0.1", src=PEER) / UDP(sport=1, dport=2) / b"abcdefgh")
    h = good[14:]
    def with_hdr(b: bytes) -> bytes:
        return good[:14] + b
    s["bad_version"] = rec(P1, with_hdr(b"\x65" + h[1:]))
    s["bad_ihl_small"] = rec(P1, with_hdr(b"\x44" + h[1:]))
    s["bad_ihl_big"] = rec(P1, with_hdr(b"\x4f" + h[1:]))
    s["bad_total_big"] = rec(P1, with_hdr(h[:2] + b"\x05\xdc" + h[4:]))
    s["bad_total_small"] = rec(P1, with_hdr(h[:2] + b"\x00\x13" + h[4:]))
    s["bad_checksum"] = rec(P1, with_hdr(h[:10] + b"\x12\x34" + h[12:]))
    s["bad_checksum_flagged_good"] = rec(P1, with_hdr(h[:10] + b"\x12\x34" + h[12:]),
                                         cksum=CKSUM_GOOD)
    s["flagged_bad"] = rec(P1, good, cksum=CKSUM_BAD)
    s["truncated_ip"] = rec(P1, good[:30])
    s["runt"] = rec(P1, good[:10])
    s["empty"] = rec(P1, b"")
    s["bad_options"] = rec(P1, bytes(ip_out("172.16.0.1", src=PEER,
                                            options=[IPOption_RR()]))[:14 + 20] +
                           b"\x07\x09\x04\x00" + b"\0" * 4)
    s["martian_src"] = rec(P1, bytes(ip_out("172.16.0.1", src="127.0.0.1") / UDP()))
    s["martian_dst"] = rec(P1, bytes(ip_out("240.0.0.1", src=PEER) / UDP()))
    s["vlan"] = rec(P1, bytes(Ether(src=HMAC[P1], dst=RMAC[P1]) / Dot1Q(vlan=5) /
                              IP(src=PEER, dst=FAR) / UDP()))
    s["ipv6_ethertype"] = rec(P1, bytes(Ether(src=HMAC[P1], dst=RMAC[P1], type=0x86DD)) +
                              b"\x60" + b"\0" * 39)

    # every layout and checksum flag on a few of the above
    for name in ("snat_udp", "dnat_tcp", "echo", "fragment_out", "udp_default",
                 "snat_icmp_error_back"):
        base = s[name]
        for layout in range(1, 8):
            s[f"{name}_layout{layout}"] = relayout(base, layout)
        s[f"{name}_cksum_good"] = relayout(base, None, CKSUM_GOOD)
    return s


def relayout(data: bytes, layout: int | None, cksum: int | None = None) -> bytes:
    out, off = b"", 0
    while off + 3 <= len(data):
        flags, n = data[off], struct.unpack("!H", data[off + 1:off + 3])[0]
        if layout is not None:
            flags = (flags & 0x1F) | layout << 5
        if cksum is not None:
            flags = (flags & ~0x0C) | cksum << 2
        out += bytes([flags]) + data[off + 1:off + 3 + n]
        off += 3 + n
    return out


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds().items():
        digest = hashlib.sha1(data).hexdigest()[:12]
        (out / f"{name}-{digest}").write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
