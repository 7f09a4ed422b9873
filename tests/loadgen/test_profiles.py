"""Profiles: TRex STL profiles load unchanged; mistakes are reported with
the file, the line or the stream, before anything is sent. These tests
compile offline: no DPDK, no root."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from vrouter.loadgen import Generator
from vrouter.loadgen.errors import PortError, ProfileError, RateError
from vrouter.loadgen.profile import REPO_PROFILES, parse_tunables
from vrouter.loadgen.rates import Rate, parse_rate


def offline(profile, ports=("null",), **kw):
    gen = Generator(list(ports))
    return gen.plan(profile, offline=True, **kw)


def write(tmp_path: Path, text: str, name: str = "p.py") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.mark.parametrize("name", sorted(p.stem for p in REPO_PROFILES.glob("*.py")))
def test_shipped_profiles_compile(name):
    plan = offline(name)
    assert plan.streams and all(cs.length >= 60 for cs in plan.streams)


def test_trex_imix_unchanged():
    plan = offline("imix", rate="1mpps")
    assert [cs.length for cs in plan.streams] == [60, 590, 1514]
    assert sum(cs.pps for cs in plan.streams) == pytest.approx(1e6)
    ratios = [cs.pps / plan.streams[2].pps for cs in plan.streams]
    assert ratios == pytest.approx([7, 5, 1])                       # 28:20:4
    assert [v.name for v in plan.streams[0].vm.vars] == ["src", "dst"]
    assert all(cs.isg_s == pytest.approx(i * 0.1e-6) for i, cs in enumerate(plan.streams))
    # direction 1 swaps the ranges (TRex passes direction = port % 2)
    plan1 = offline("imix", ports=("null", "null"), tx_ports=[1])
    assert plan1.streams[0].vm.vars[0].min == (8 << 24) + 1


def test_csit_imix_mix():
    plan = offline("imix_csit", rate="12kpps")
    assert [cs.length + 4 for cs in plan.streams] == [64, 570, 1518]
    assert [round(cs.pps) for cs in plan.streams] == [7000, 4000, 1000]


def test_tunables_old_and_new_style():
    plan = offline("udp_64b", tunables=parse_tunables(["size=128,src=10.1.1.1"]))
    assert plan.streams[0].length == 124
    with pytest.raises(ProfileError, match="refused its tunables"):
        offline("udp_64b", tunables={"nope": "1"})
    plan = offline("udp_tuple_flows", tunables={"flows": "1000"})
    assert plan.streams[0].vm.vars[0].limit == 1000



def test_unknown_tunable(tmp_path):
    p = write(tmp_path, """
        from trex_stl_lib.api import *
        def get_streams(direction=0, size=64):
            return [STLStream(packet=STLPktBuilder(pkt=Ether()/IP()/UDP()/('x'*20)))]
        """)
    assert offline(p, tunables={"size": "128"}).streams
    with pytest.raises(ProfileError, match="takes no tunable bogus"):
        offline(p, tunables={"bogus": "1"})


def test_all_trex_import_forms(tmp_path):
    for imp in ("from trex_stl_lib.api import *", "from trex.stl.api import *",
                "from trex_stl_api import *", "from vrouter.loadgen.stl import *"):
        p = write(tmp_path, f"""
            {imp}
            def get_streams(direction=0, **kw):
                return STLProfile([STLStream(packet=STLPktBuilder(pkt=Ether()/IP()/UDP()/('x'*20)),
                                             mode=STLTXSingleBurst(total_pkts=5))]).get_streams()
            """)
        assert offline(p).streams[0].mode == "burst"


def test_pcap_and_raw_buffer_templates(tmp_path):
    from scapy.all import IP, UDP, Ether, wrpcap
    wrpcap(str(tmp_path / "one.pcap"), [Ether() / IP(dst="1.2.3.4") / UDP() / ("y" * 30)])
    p = write(tmp_path, """
        from trex_stl_lib.api import *
        def get_streams(direction=0, **kw):
            return [STLStream(packet=STLPktBuilder(pkt="one.pcap"), mode=STLTXCont(pps=10)),
                    STLStream(packet=STLPktBuilder(pkt_buffer=bytes(Ether()/IP()/UDP()/('z'*30))))]
        """)
    plan = offline(p)
    assert [cs.length for cs in plan.streams] == [72, 72]
    assert plan.streams[0].frame[30:34] == bytes([1, 2, 3, 4])


@pytest.mark.parametrize("body, match", [
    ("x = = 1", r"p\.py line 2"),                                    # syntax error
    ("def get_streams(direction=0):\n    return [1/0]", r"p\.py line 3.*ZeroDivisionError"),
    ("def get_streams(direction=0):\n    return 'streams'", "not a list of STLStream"),
    ("y = 1", "neither register"),
])
def test_broken_profiles(tmp_path, body, match):
    p = write(tmp_path, "from trex_stl_lib.api import *\n" + body + "\n")
    with pytest.raises(ProfileError, match=match):
        offline(p)


def stream_with(vm=None, pkt="Ether()/IP()/UDP()/('x'*30)", mode="STLTXCont(pps=100)", extra=""):
    return f"""
from trex_stl_lib.api import *
def get_streams(direction=0, **kw):
    return [STLStream(packet=STLPktBuilder(pkt={pkt}, vm={vm}), mode={mode}{extra})]
"""


@pytest.mark.parametrize("vm, match", [
    ("[STLVmFlowVar(name='a', min_value=0, max_value=300, size=1)]", "does not fit in 1 bytes"),
    ("[STLVmWrFlowVar(fv_name='nope', pkt_offset='IP.src')]", "no flow var by that name"),
    ("[STLVmFlowVar(name='a', size=4), STLVmWrFlowVar(fv_name='a', pkt_offset='TCP.sport')]",
     "no such header"),
    ("[STLVmFlowVar(name='a', size=4), STLVmWrFlowVar(fv_name='a', pkt_offset='IP.nope')]",
     "has no field 'nope'"),
    ("[STLVmFlowVar(name='a', size=4), STLVmWrFlowVar(fv_name='a', pkt_offset=70)]",
     "do not fit a 72-byte frame"),
    ("[STLVmFlowVar(name='a', size=4), STLVmWrFlowVar(fv_name='a', pkt_offset=60)]",
     "signature"),
    ("[STLVmFlowVar(name='a', size=3)]", "size 3"),
    ("[STLVmFlowVar(name='a', op='sideways')]", "op 'sideways'"),
    ("[STLVmFlowVar(name='a', init_value=500, min_value=0, max_value=10)]", "init_value 500"),
    ("[STLVmTrimPktSize('a')]", "not supported"),
])
def test_bad_field_engine_programs(tmp_path, vm, match):
    with pytest.raises(ProfileError, match=match):
        offline(write(tmp_path, stream_with(vm=vm)))


def test_other_stream_mistakes(tmp_path):
    with pytest.raises(ProfileError, match="at most 2044"):
        offline(write(tmp_path, stream_with(pkt="Ether()/IP()/UDP()/('x'*3000)")))
    with pytest.raises(ProfileError, match="total_pkts"):
        offline(write(tmp_path, stream_with(mode="STLTXSingleBurst(total_pkts=0)")))
    with pytest.raises(ProfileError, match="only one of"):
        offline(write(tmp_path, stream_with(mode="STLTXCont(pps=1, bps_L1=1000)")))
    with pytest.raises(ProfileError, match="next='S9'"):
        offline(write(tmp_path, stream_with(extra=", name='S0', next='S9'")))
    with pytest.raises(ProfileError, match="flow_stats"):
        # explicit flow stats on a frame with no payload for the signature
        offline(write(tmp_path, stream_with(pkt="Ether()/IP()/TCP()/('x'*8)",
                                            extra=", flow_stats=STLFlowStats(pg_id=1)")))
    # the same frame without flow_stats: counted per port only, with a warning
    plan = offline(write(tmp_path, stream_with(pkt="Ether()/IP()/TCP()/('x'*8)")))
    assert not plan.streams[0].marked and "per port only" in plan.streams[0].warnings[0]


def test_rates():
    assert parse_rate("1.5mpps") == Rate("pps", 1.5e6)
    assert parse_rate("10gbps") == Rate("bps_l2", 10e9)
    assert parse_rate("10Gbpsl1") == Rate("bps_l1", 10e9)
    assert parse_rate("50%") == Rate("percent", 50)
    assert parse_rate("2x") == Rate("factor", 2)
    assert parse_rate("max") == Rate("max")
    for bad, match in (("1000", "give a unit"), ("12 furlongs", "not a rate|unknown unit"),
                       ("150%", "impossible"), ("-1mpps", "not a rate"),
                       ("0pps", "positive")):
        with pytest.raises(RateError, match=match):
            parse_rate(bad)


def test_rate_conversions_and_limits():
    # 64-byte frames (60 + FCS): 10 Gb/s at L1 is 14.88 Mpps, at L2 19.53 Mpps
    plan = offline("udp_64b", ports=("null,line_rate=10gbps",), rate="100%")
    assert plan.streams[0].pps == pytest.approx(10e9 / (84 * 8))
    plan = offline("udp_64b", rate="10gbps")
    assert plan.streams[0].pps == pytest.approx(10e9 / (64 * 8))
    with pytest.raises(RateError, match="line rate"):
        offline("udp_64b", ports=("null,line_rate=1gbps",), rate="2gbpsl1")
    with pytest.raises(RateError, match="reports no line rate"):
        offline("udp_64b", rate="50%")
    with pytest.raises(RateError, match="more than any port"):
        offline("udp_64b", rate="2000mpps")


@pytest.mark.parametrize("spec, match", [
    ("af_packet:no-such-if0", "no network interface"),
    ("memif:/nonexistent/x.sock", "no memif server"),
    ("pci:0000:ff:1f.7", "no PCI device"),
    ("carrier-pigeon:1", "unknown kind"),
    ("memif:/x.sock,role=sideways", "role"),
    ("null,dst_mac=zz", "not a MAC"),
])
def test_bad_ports(spec, match):
    with pytest.raises(PortError, match=match):
        Generator([spec])


def test_bad_transmit_port():
    with pytest.raises(PortError, match="ports 0..0"):
        offline("imix", tx_ports=[3])
