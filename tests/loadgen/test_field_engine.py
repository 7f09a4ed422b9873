"""The field engine, end to end: what the generator writes into each packet
(captured by a pcap port) is exactly what the Python reference
(vrouter.loadgen.vm.FieldEngineSim) says, checksums are right, and the
signature carries consecutive sequence numbers."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from scapy.all import IP, TCP, UDP, Dot1Q, Ether, IPv6, Raw
from vrouter.loadgen.compiler import PortInfo, compile_streams
from vrouter.loadgen.stl import (
    STLVM,
    STLPktBuilder,
    STLScVmRaw,
    STLStream,
    STLTXSingleBurst,
    STLVmFixIpv4,
    STLVmFlowVar,
    STLVmFlowVarRepeatableRandom,
    STLVmTupleGen,
    STLVmWrFlowVar,
    STLVmWrMaskFlowVar,
)
from vrouter.loadgen.vm import FieldEngineSim

pytestmark = pytest.mark.needs_dpdk

N = 600


def burst(pkt, vm, n=N, seed=1234, pps=100000):
    return STLStream(packet=STLPktBuilder(pkt=pkt, vm=vm),
                     mode=STLTXSingleBurst(pps=pps, total_pkts=n), random_seed=seed)


def expected(stream, n=N):
    """The reference sequence for a stream, compiled as the generator gets it."""
    cs = compile_streams([stream], PortInfo(0))[0]
    sim = FieldEngineSim(cs.vm)
    return cs, [sim.next_values() for _ in range(n)]


def ip(v: int) -> str:
    return str(ipaddress.IPv4Address(v))


def base(payload=18):
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / \
        IP(src="16.0.0.1", dst="48.0.0.1") / UDP(sport=1025, dport=12) / Raw(b"x" * payload)


def check_checksums(pkts):
    for p in pkts:
        got_ip, got_l4 = p[IP].chksum, p[IP].payload.chksum
        fixed = p.__class__(bytes(p))
        del fixed[IP].chksum
        del fixed[IP].payload.chksum
        fixed = fixed.__class__(bytes(fixed))
        assert got_ip == fixed[IP].chksum
        assert got_l4 == fixed[IP].payload.chksum


def test_inc_dec_and_step_wrap(pcap_gen):
    vm = STLScVmRaw([
        STLVmFlowVar(name="src", min_value="16.0.0.1", max_value="16.0.0.10", size=4, op="inc"),
        STLVmWrFlowVar(fv_name="src", pkt_offset="IP.src"),
        STLVmFlowVar(name="dport", min_value=0, max_value=9, size=2, op="inc", step=3),
        STLVmWrFlowVar(fv_name="dport", pkt_offset="UDP.dport", add_val=1000),
        STLVmFlowVar(name="sport", min_value=100, max_value=104, size=2, op="dec"),
        STLVmWrFlowVar(fv_name="sport", pkt_offset="UDP.sport"),
        STLVmFixIpv4(offset="IP"),
    ])
    st = burst(base(), vm)
    _, want = expected(st)
    res, pkts = pcap_gen.run([st], duration=5)
    assert res.tx_packets == N == len(pkts)
    assert [p[IP].src for p in pkts] == [ip(w["src"]) for w in want]
    assert [p[UDP].dport for p in pkts] == [w["dport"] + 1000 for w in want]
    assert [p[UDP].sport for p in pkts] == [w["sport"] for w in want]
    # The documented semantics, independently of the simulator:
    assert [p[UDP].dport - 1000 for p in pkts[:11]] == [0, 3, 6, 9, 2, 5, 8, 1, 4, 7, 0]
    assert [p[UDP].sport for p in pkts[:7]] == [104, 103, 102, 101, 100, 104, 103]
    assert [p[IP].src for p in pkts[9:12]] == ["16.0.0.10", "16.0.0.1", "16.0.0.2"]
    check_checksums(pkts)


def test_random_is_seeded_and_matches_the_reference(pcap_gen):
    vm = STLVM()
    vm.var(name="dst", min_value="48.0.0.0", max_value="48.0.255.255", size=4, op="random")
    vm.write(fv_name="dst", pkt_offset="IP.dst")
    vm.var(name="tos", min_value=0, max_value=63, size=1, op="random")
    vm.write_mask(fv_name="tos", pkt_offset="IP.tos", pkt_cast_size=1, mask=0xfc, shift=2)
    vm.fix_chksum()
    st = burst(base(), vm, seed=99)
    _, want = expected(st)
    res, pkts = pcap_gen.run([st], duration=5)
    assert [p[IP].dst for p in pkts] == [ip(w["dst"]) for w in want]
    assert [p[IP].tos for p in pkts] == [w["tos"] << 2 for w in want]
    assert len({p[IP].dst for p in pkts}) > N * 0.9       # random, not constant
    res2, pkts2 = pcap_gen.run([burst(base(), vm, seed=99)], duration=5)
    assert [p[IP].dst for p in pkts2] == [p[IP].dst for p in pkts]   # same seed, same run
    check_checksums(pkts)


def test_repeatable_random_restarts_after_limit(pcap_gen):
    vm = [STLVmFlowVarRepeatableRandom("r", size=2, min_value=1, max_value=60000, seed=7,
                                       limit=50),
          STLVmWrFlowVar(fv_name="r", pkt_offset="UDP.sport")]
    res, pkts = pcap_gen.run([burst(base(), vm, n=200)], duration=5)
    s = [p[UDP].sport for p in pkts]
    assert s[:50] == s[50:100] == s[100:150] and len(set(s[:50])) > 40


def test_tuple_generator_and_value_list(pcap_gen):
    vm = STLScVmRaw([
        STLVmTupleGen(name="t", ip_min="10.0.0.1", ip_max="10.0.0.3", port_min=1025,
                      port_max=1026, limit_flows=5),
        STLVmWrFlowVar(fv_name="t.ip", pkt_offset="IP.src"),
        STLVmWrFlowVar(fv_name="t.port", pkt_offset="UDP.sport"),
        STLVmFlowVar(name="l", value_list=[5, 50, 500], op="inc", size=2),
        STLVmWrFlowVar(fv_name="l", pkt_offset="UDP.dport"),
    ])
    st = burst(base(), vm, n=12)
    _, want = expected(st, 12)
    res, pkts = pcap_gen.run([st], duration=5)
    got = [(p[IP].src, p[UDP].sport) for p in pkts]
    # the address moves first, the port when it wraps; 5 flows, then again
    flows = [("10.0.0.1", 1025), ("10.0.0.2", 1025), ("10.0.0.3", 1025),
             ("10.0.0.1", 1026), ("10.0.0.2", 1026)]
    assert got == (flows * 3)[:12]
    assert got == [(ip(w["t.ip"]), w["t.port"]) for w in want]
    assert [p[UDP].dport for p in pkts] == [5, 50, 500] * 4
    check_checksums(pkts)


def test_next_var_carries(pcap_gen):
    vm = [STLVmFlowVar(name="a", min_value=0, max_value=2, size=1, op="inc", next_var="b"),
          STLVmFlowVar(name="b", min_value=10, max_value=11, size=1, op="inc"),
          STLVmWrFlowVar(fv_name="a", pkt_offset="IP.ttl"),
          STLVmWrFlowVar(fv_name="b", pkt_offset="IP.tos")]
    res, pkts = pcap_gen.run([burst(base(), vm, n=8)], duration=5)
    assert [(p[IP].ttl, p[IP].tos) for p in pkts] == [
        (0, 10), (1, 10), (2, 10), (0, 11), (1, 11), (2, 11), (0, 10), (1, 10)]


def test_signature_sequence_and_l4_checksums(pcap_gen):
    """Without any program, the signature alone changes every packet: its
    sequence numbers count from 0 and the UDP (and TCP) checksums stay
    right; on a VLAN, and over IPv6 too."""
    tcp = Ether() / Dot1Q(vlan=5) / IP(src="1.1.1.1", dst="2.2.2.2") / TCP() / Raw(b"y" * 40)
    udp6 = Ether() / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP() / Raw(b"z" * 30)
    for pkt in (base(), tcp, udp6):
        res, pkts = pcap_gen.run([burst(pkt, None, n=100)], duration=5)
        frames = [bytes(p) for p in pkts]
        off = (len(frames[0]) - 16) & ~1
        seqs = [struct.unpack_from("<I", f, off + 6)[0] for f in frames]
        assert seqs == list(range(100))
        for p in pkts:
            l4 = p.getlayer(UDP) or p.getlayer(TCP)
            re = p.__class__(bytes(p))
            rl4 = re.getlayer(UDP) or re.getlayer(TCP)
            del rl4.chksum
            assert l4.chksum == (re.__class__(bytes(re)).getlayer(type(l4))).chksum


def test_masked_write_keeps_other_bits(pcap_gen):
    pkt = Ether() / Dot1Q(prio=5, vlan=1) / IP() / UDP() / Raw(b"q" * 30)
    vm = [STLVmFlowVar(name="vlan", min_value=100, max_value=103, size=2, op="inc"),
          STLVmWrMaskFlowVar(fv_name="vlan", pkt_offset="Dot1Q.vlan", pkt_cast_size=2,
                             mask=0x0fff)]
    res, pkts = pcap_gen.run([burst(pkt, vm, n=8)], duration=5)
    assert [p[Dot1Q].vlan for p in pkts] == [100, 101, 102, 103] * 2
    assert {p[Dot1Q].prio for p in pkts} == {5}


def test_frames_are_padded_to_60_bytes_with_room_for_the_signature(pcap_gen):
    short = Ether() / IP(src="16.0.0.1", dst="48.0.0.1") / UDP(dport=12, sport=1025) / (10 * "x")
    res, pkts = pcap_gen.run([burst(short, None, n=10)], duration=5)
    assert {len(p) for p in pkts} == {60}
    assert pkts[0][IP].len == 46 and res.streams[0].marked
    res, pkts = pcap_gen.run([burst(short, None, n=10)], duration=5, stream_stats="none")
    assert {len(p) for p in pkts} == {60} and pkts[0][IP].len == 38   # Ethernet padding


def test_unmarked_periodic_stream_uses_the_same_sequence(pcap_gen):
    """Without a signature, a stream whose variables repeat is built from a
    table of its whole period (trial.c): same packets, same checksums,
    across the period's wrap."""
    vm = [STLVmFlowVar(name="dst", min_value="16.0.0.0", max_value="16.15.255.255", size=4,
                       op="inc", step=256 * 256),
          STLVmWrFlowVar(fv_name="dst", pkt_offset="IP.dst"),
          STLVmFlowVar(name="sport", min_value=1000, max_value=1006, size=2, op="dec", step=3),
          STLVmWrFlowVar(fv_name="sport", pkt_offset="UDP.sport")]
    st = burst(base(), vm, n=2000)
    _, want = expected(st, 2000)
    res, pkts = pcap_gen.run([st], duration=5, stream_stats="none")
    assert res.tx_packets == 2000 and not res.streams[0].marked
    assert res.streams[0].table_period == 112            # lcm(16, 7): the table was used
    assert [p[IP].dst for p in pkts] == [ip(w["dst"]) for w in want]
    assert [p[UDP].sport for p in pkts] == [w["sport"] for w in want]
    assert len({p[IP].dst for p in pkts}) == 16                 # period 16: it wrapped
    check_checksums(pkts)
