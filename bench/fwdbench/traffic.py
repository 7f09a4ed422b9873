"""The traffic every contender of the NDR benchmark gets, built with the
generator's STL API from a DUT's Flow (MACs, addresses, destinations):

  bulk     64-byte frames (60 + FCS), UDP, destinations flow.dst_ip + k *
           dst_step for k < dst_count (a field-engine variable), counted per
           port only (no per-packet signature: the cheapest for the
           generator)
  latency  the same frames at 0.1% of the rate, with sequence numbers and
           timestamps: loss, order and latency at every rate

NAT contenders get `sessions` distinct flows instead: source address and
port from a tuple generator (2 addresses x 64,511 ports), the destination
port following the source port, one destination address.

The NAT setup contender gets new_session_streams(): every packet a flow of
its own (65,534 source addresses, then the next source port: tens of
millions of packets before one repeats), no latency stream.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "appliance"))

from vrouter.loadgen.stl import (  # noqa: E402
    IP,
    UDP,
    Ether,
    Raw,
    STLFlowLatencyStats,
    STLPktBuilder,
    STLScVmRaw,
    STLStream,
    STLTXCont,
    STLVmFixIpv4,
    STLVmFlowVar,
    STLVmTupleGen,
    STLVmWrFlowVar,
)

LATENCY_SHARE = 0.001
FRAME = 60


def _frame(flow, size: int):
    base = (Ether(src=flow.src_mac, dst=flow.dst_mac) / IP(src=flow.src_ip, dst=flow.dst_ip)
            / UDP(sport=1024, dport=1025))
    return base / Raw(b"\0" * (size - len(base)))


def _vm(flow, sessions: int):
    if sessions > 1:
        first = ipaddress.IPv4Address(flow.src_ip)
        per_ip = 64511  # ports 1025..65535
        n_ip = (sessions + per_ip - 1) // per_ip
        return STLScVmRaw([
            STLVmTupleGen(name="t", ip_min=str(first), ip_max=str(first + n_ip - 1),
                          port_min=1025, port_max=65535, limit_flows=sessions),
            STLVmWrFlowVar(fv_name="t.ip", pkt_offset="IP.src"),
            STLVmWrFlowVar(fv_name="t.port", pkt_offset="UDP.sport"),
            # each session its own destination port: 100,000 distinct flows
            # (not more), which a NAT with one outside address can still
            # tell apart when it keys on the destination (the kernel's)
            STLVmWrFlowVar(fv_name="t.port", pkt_offset="UDP.dport"),
            STLVmFixIpv4(offset="IP")])
    if flow.dst_count > 1:
        first = int(ipaddress.IPv4Address(flow.dst_ip))
        return STLScVmRaw([
            # a range exactly count * step wide, stepped by step: the
            # destinations, then back to the first
            STLVmFlowVar(name="dst", min_value=first,
                         max_value=first + flow.dst_count * flow.dst_step - 1, size=4,
                         op="inc", step=flow.dst_step),
            STLVmWrFlowVar(fv_name="dst", pkt_offset="IP.dst"),
            STLVmFixIpv4(offset="IP")])
    return None


def streams(flow, size: int = FRAME, sessions: int = 0, latency: bool = True) -> list[STLStream]:
    vm = _vm(flow, sessions)
    out = [STLStream(name="bulk", packet=STLPktBuilder(pkt=_frame(flow, size), vm=vm),
                     mode=STLTXCont(pps=1 - (LATENCY_SHARE if latency else 0)),
                     mac_src_override_by_pkt=True, random_seed=1)]
    if latency:
        out.append(STLStream(name="latency", packet=STLPktBuilder(pkt=_frame(flow, size), vm=vm),
                             mode=STLTXCont(pps=LATENCY_SHARE), random_seed=2,
                             flow_stats=STLFlowLatencyStats(pg_id=1),
                             mac_src_override_by_pkt=True))
    return out


#: new_session_streams(): source addresses 198.18.0.1 - 198.18.255.254
NEW_SESSION_SOURCES = 65534
#: flows before the sequence repeats (far more than a trial sends)
NEW_SESSION_FLOWS = 64_000_000


def new_session_streams(flow, size: int = FRAME) -> list[STLStream]:
    """One unmarked stream, each packet from a source address:port no
    earlier packet of the trial had: for a NAT, each opens a session."""
    vm = STLScVmRaw([
        STLVmTupleGen(name="t", ip_min="198.18.0.1", ip_max="198.18.255.254",
                      port_min=1025, port_max=65535, limit_flows=NEW_SESSION_FLOWS),
        STLVmWrFlowVar(fv_name="t.ip", pkt_offset="IP.src"),
        STLVmWrFlowVar(fv_name="t.port", pkt_offset="UDP.sport"),
        STLVmFixIpv4(offset="IP")])
    return [STLStream(name="new-flows", packet=STLPktBuilder(pkt=_frame(flow, size), vm=vm),
                      mode=STLTXCont(pps=1), mac_src_override_by_pkt=True, random_seed=3)]
