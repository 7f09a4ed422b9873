"""ctypes mirror of dataplane/include/vr_ctl.h, the control channel protocol.

Every struct, enum and constant of the header has a counterpart here, under
the same names (structs in CamelCase without the ``vr_`` prefix). Flexible
array members are left out of the ctypes structs: the client encodes and
decodes the variable part; FLEXIBLE records what it is made of.

tests/test_ctl_layout.py checks all of this against the DWARF of the built
dataplane, so a change to the header that is not mirrored here fails the suite.
Native byte order and alignment are intended: the dataplane runs on the host.
"""

from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint8, c_uint16, c_uint32, c_uint64
from enum import IntEnum

VR_CTL_VERSION = 1
VR_CTL_MAX_MSG = 60 * 1024  # largest body either side sends, header excluded

VR_NAME_LEN = 32
VR_DEVARGS_LEN = 256
VR_ERR_LEN = 256
VR_MAX_PORTS = 64
VR_MAX_ADDRS = 8
VR_MAX_ECMP = 16
VR_MAX_VRFS = 256

VR_F_MORE = 0x1

VR_PARAM_ARP_REACHABLE_MS = 1 << 0
VR_PARAM_ARP_RETRANS_MS = 1 << 1
VR_PARAM_ARP_MAX_PROBES = 1 << 2
VR_PARAM_ARP_QUEUE_LEN = 1 << 3
VR_PARAM_ICMP_RATE = 1 << 4
VR_PARAM_ICMP_BURST = 1 << 5
VR_PARAM_IDLE_SLEEP_US = 1 << 6
VR_PARAM_PUNT_RATE = 1 << 7
VR_PARAM_PUNT_BURST = 1 << 8
VR_PARAM_ARP_RATE = 1 << 9
VR_PARAM_ARP_BURST = 1 << 10

VR_PORT_SET_MTU = 1 << 0
VR_PORT_SET_VRF = 1 << 1
VR_PORT_SET_UP = 1 << 2
VR_PORT_SET_MAC = 1 << 3
VR_PORT_SET_PUNT = 1 << 4
VR_PORT_NONE = 0xFFFF

VR_ROUTE_REPLACE = 0x1

VR_DIR_RX = 0x1
VR_DIR_TX = 0x2
VR_FILTER_LEN = 256
VR_TRACE_NAT_NEW = 1 << 31
VR_TRACE_NAT_STATELESS = 0xFFFFFFFF

VR_NAT_MAX_POOL = 16
VR_NAT_ANY_VRF = 0xFFFF
VR_NAT_P_TCP_EST = 1 << 0
VR_NAT_P_TCP_TRANS = 1 << 1
VR_NAT_P_UDP = 1 << 2
VR_NAT_P_ICMP = 1 << 3
VR_NAT_P_OTHER = 1 << 4


class MsgType(IntEnum):
    HELLO = 1
    COUNTER_NAMES = 2
    PARAMS_GET = 3
    PARAMS_SET = 4

    PORT_ADD = 10
    PORT_DEL = 11
    PORT_SET = 12
    PORT_LIST = 13
    PORT_STATS = 14
    PORT_DEV_STATS = 15

    ADDR_ADD = 20
    ADDR_DEL = 21

    VRF_ADD = 30
    VRF_DEL = 31
    VRF_LIST = 32

    NH_ADD = 40
    NH_DEL = 41
    NH_LIST = 42

    ROUTE_ADD = 50
    ROUTE_DEL = 51
    ROUTE_LIST = 52
    ROUTE_LOOKUP = 53

    NEIGH_ADD = 60
    NEIGH_DEL = 61
    NEIGH_LIST = 62

    PG_INJECT = 70
    PG_CAPTURE = 71
    PG_FLOOD_START = 72
    PG_FLOOD_STATS = 73
    PG_FLOOD_STOP = 74

    NAT_RULE_ADD = 80
    NAT_RULE_DEL = 81
    NAT_RULE_LIST = 82
    NAT_SESSION_LIST = 83
    NAT_SESSION_FLUSH = 84
    NAT_PARAMS_GET = 85
    NAT_PARAMS_SET = 86
    NAT_CLOCK_ADVANCE = 87

    CAPTURE_START = 90
    CAPTURE_READ = 91
    CAPTURE_STOP = 92
    TRACE_START = 93
    TRACE_READ = 94
    TRACE_STOP = 95
    WORKER_STATS = 96

    MEMPOOL_LIST = 100


class TraceStage(IntEnum):
    RX = 1
    IP = 2
    NAT_PRE = 3
    FIB = 4
    LOCAL = 5
    FORWARD = 6
    NAT_POST = 7
    NEIGH = 8
    TX = 9
    DROP = 10
    ICMP_ERROR = 11
    ARP = 12


class NatType(IntEnum):
    SNAT = 1
    DNAT = 2
    STATIC = 3


class NatState(IntEnum):
    UDP = 1
    ICMP = 2
    OTHER = 3
    TCP_SYN = 4
    TCP_EST = 5
    TCP_FIN = 6
    TCP_CLOSING = 7


class PortKind(IntEnum):
    DEVARGS = 0
    RING = 1


class NhType(IntEnum):
    NONE = 0
    GATEWAY = 1
    BLACKHOLE = 2
    REJECT = 3
    GROUP = 4
    CONNECTED = 5
    LOCAL = 6
    BROADCAST = 7


class NeighState(IntEnum):
    INCOMPLETE = 1
    REACHABLE = 2
    PROBE = 3
    PERMANENT = 4


class _S(ctypes.Structure):
    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n, *_ in self._fields_ if n != "_pad")
        return f"{type(self).__name__}({inner})"


Mac = c_uint8 * 6


class MsgHdr(_S):
    _fields_ = [
        ("type", c_uint16),
        ("flags", c_uint16),
        ("len", c_uint32),
        ("seq", c_uint32),
        ("status", c_int32),
    ]


class Error(_S):
    _fields_ = [("msg", c_char * VR_ERR_LEN)]


class HelloReq(_S):
    _fields_ = [("version", c_uint32)]


class HelloResp(_S):
    _fields_ = [
        ("version", c_uint32),
        ("n_workers", c_uint32),
        ("n_counters", c_uint32),
        ("max_ports", c_uint32),
        ("max_vrfs", c_uint32),
        ("max_nexthops", c_uint32),
        ("neigh_table_size", c_uint32),
        ("pid", c_uint32),
        ("tsc_hz", c_uint64),
    ]


class CounterNamesResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + char names[n][VR_NAME_LEN]


class Params(_S):
    _fields_ = [
        ("mask", c_uint32),
        ("arp_reachable_ms", c_uint32),
        ("arp_retrans_ms", c_uint32),
        ("arp_max_probes", c_uint32),
        ("arp_queue_len", c_uint32),
        ("icmp_rate", c_uint32),
        ("icmp_burst", c_uint32),
        ("idle_sleep_us", c_uint32),
        ("punt_rate", c_uint32),
        ("punt_burst", c_uint32),
        ("arp_rate", c_uint32),
        ("arp_burst", c_uint32),
    ]


# Params field name -> its PARAMS_SET mask bit.
PARAM_BITS: dict[str, int] = {
    "arp_reachable_ms": VR_PARAM_ARP_REACHABLE_MS,
    "arp_retrans_ms": VR_PARAM_ARP_RETRANS_MS,
    "arp_max_probes": VR_PARAM_ARP_MAX_PROBES,
    "arp_queue_len": VR_PARAM_ARP_QUEUE_LEN,
    "icmp_rate": VR_PARAM_ICMP_RATE,
    "icmp_burst": VR_PARAM_ICMP_BURST,
    "idle_sleep_us": VR_PARAM_IDLE_SLEEP_US,
    "punt_rate": VR_PARAM_PUNT_RATE,
    "punt_burst": VR_PARAM_PUNT_BURST,
    "arp_rate": VR_PARAM_ARP_RATE,
    "arp_burst": VR_PARAM_ARP_BURST,
}


class PortAddReq(_S):
    _fields_ = [
        ("name", c_char * VR_NAME_LEN),
        ("devargs", c_char * VR_DEVARGS_LEN),
        ("kind", c_uint8),
        ("set_mac", c_uint8),
        ("mac", Mac),
        ("vrf", c_uint16),
        ("mtu", c_uint16),
        ("rxd", c_uint16),
        ("txd", c_uint16),
        ("admin_up", c_uint8),
        ("_pad", c_uint8 * 3),
    ]


class PortId(_S):
    _fields_ = [("port", c_uint16), ("_pad", c_uint16)]


class PortSetReq(_S):
    _fields_ = [
        ("port", c_uint16),
        ("mtu", c_uint16),
        ("mask", c_uint32),
        ("vrf", c_uint16),
        ("admin_up", c_uint8),
        ("mac", Mac),
        ("_pad", c_uint8),
        ("punt_port", c_uint16),
        ("_pad2", c_uint8 * 6),
    ]


class Addr(_S):
    _fields_ = [("ip", c_uint32), ("plen", c_uint8), ("_pad", c_uint8 * 3)]


class PortInfo(_S):
    _fields_ = [
        ("name", c_char * VR_NAME_LEN),
        ("driver", c_char * VR_NAME_LEN),
        ("devargs", c_char * VR_DEVARGS_LEN),
        ("port", c_uint16),
        ("vrf", c_uint16),
        ("mtu", c_uint16),
        ("mac", Mac),
        ("admin_up", c_uint8),
        ("link_up", c_uint8),
        ("kind", c_uint8),
        ("n_addrs", c_uint8),
        ("link_speed", c_uint32),
        ("punt_port", c_uint16),
        ("exception_of", c_uint16),
        ("n_rxq", c_uint16),
        ("n_txq", c_uint16),
        ("rxd", c_uint16),
        ("txd", c_uint16),
        ("addrs", Addr * VR_MAX_ADDRS),
    ]


class PortListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_port_info ports[n]


class PortStatsResp(_S):
    _fields_ = [("port", c_uint16), ("_pad", c_uint16), ("n", c_uint32)]  # + uint64 values[n]


class PortDevStats(_S):
    _fields_ = [
        ("port", c_uint16),
        ("_pad", c_uint16),
        ("_pad2", c_uint32),
        ("rx_packets", c_uint64),
        ("rx_bytes", c_uint64),
        ("tx_packets", c_uint64),
        ("tx_bytes", c_uint64),
        ("rx_missed", c_uint64),
        ("rx_errors", c_uint64),
        ("tx_errors", c_uint64),
        ("rx_nombuf", c_uint64),
    ]


class AddrReq(_S):
    _fields_ = [("port", c_uint16), ("_pad", c_uint16), ("addr", Addr)]


class VrfAddReq(_S):
    _fields_ = [
        ("vrf", c_uint16),
        ("_pad", c_uint16),
        ("max_routes", c_uint32),
        ("num_tbl8", c_uint32),
    ]


class VrfId(_S):
    _fields_ = [("vrf", c_uint16), ("_pad", c_uint16)]


class VrfInfo(_S):
    _fields_ = [
        ("vrf", c_uint16),
        ("n_ports", c_uint16),
        ("n_routes", c_uint32),
        ("max_routes", c_uint32),
        ("num_tbl8", c_uint32),
    ]


class VrfListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_vrf_info vrfs[n]


class Nh(_S):
    _fields_ = [
        ("id", c_uint32),
        ("type", c_uint8),
        ("n_members", c_uint8),
        ("port", c_uint16),
        ("gw", c_uint32),
        ("refcnt", c_uint32),
        ("members", c_uint32 * VR_MAX_ECMP),
    ]


class NhId(_S):
    _fields_ = [("id", c_uint32)]


class NhListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_nh nhs[n]


class Route(_S):
    _fields_ = [
        ("prefix", c_uint32),
        ("plen", c_uint8),
        ("flags", c_uint8),
        ("_pad", c_uint16),
        ("nh_id", c_uint32),
    ]


class RouteReq(_S):
    _fields_ = [("vrf", c_uint16), ("_pad", c_uint16), ("n", c_uint32)]  # + routes[n]


class RouteListReq(_S):
    _fields_ = [("vrf", c_uint16), ("_pad", c_uint16)]


class RouteListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_route routes[n]


class RouteLookupReq(_S):
    _fields_ = [("vrf", c_uint16), ("_pad", c_uint16), ("ip", c_uint32)]


class RouteLookupResp(_S):
    _fields_ = [("route", Route), ("nh", Nh)]


class Neigh(_S):
    _fields_ = [
        ("ip", c_uint32),
        ("port", c_uint16),
        ("mac", Mac),
        ("state", c_uint8),
        ("probes", c_uint8),
        ("held", c_uint16),
        ("age_ms", c_uint32),
        ("_pad", c_uint32),
    ]


class NeighListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_neigh neighs[n]


class PgFrames(_S):
    # + uint8_t data[]: n frames, each uint16 length then the bytes, padded to 2
    _fields_ = [("n", c_uint32), ("port", c_uint16), ("_pad", c_uint16)]


class PgFloodReq(_S):
    # + uint8_t data[]: the frames, encoded as in PgFrames
    _fields_ = [("count", c_uint64), ("n", c_uint32), ("port", c_uint16), ("_pad", c_uint16)]


class PgFloodStats(_S):
    _fields_ = [
        ("port", c_uint16),
        ("running", c_uint8),
        ("_pad", c_uint8 * 5),
        ("offered", c_uint64),
        ("accepted", c_uint64),
        ("no_mbuf", c_uint64),
    ]


class NatRule(_S):
    _fields_ = [
        ("id", c_uint32),
        ("type", c_uint8),
        ("proto", c_uint8),
        ("vrf", c_uint16),
        ("out_port", c_uint16),
        ("masquerade", c_uint8),
        ("n_pool", c_uint8),
        ("match", c_uint32),
        ("match_plen", c_uint8),
        ("_pad", c_uint8),
        ("port_lo", c_uint16),
        ("port_hi", c_uint16),
        ("ext_port", c_uint16),
        ("pool", c_uint32 * VR_NAT_MAX_POOL),
        ("ext_ip", c_uint32),
        ("int_ip", c_uint32),
        ("int_port", c_uint16),
        ("_pad2", c_uint16),
        ("_pad3", c_uint32),
        ("sessions", c_uint64),
    ]


class NatRuleId(_S):
    _fields_ = [("id", c_uint32)]


class NatRuleListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_nat_rule rules[n]


class NatFilter(_S):
    _fields_ = [
        ("vrf", c_uint16),
        ("proto", c_uint8),
        ("_pad", c_uint8),
        ("addr", c_uint32),
        ("port", c_uint16),
        ("_pad2", c_uint16),
        ("rule", c_uint32),
    ]


class NatSession(_S):
    _fields_ = [
        ("orig_src", c_uint32),
        ("orig_dst", c_uint32),
        ("orig_sport", c_uint16),
        ("orig_dport", c_uint16),
        ("xlat_src", c_uint32),
        ("xlat_dst", c_uint32),
        ("xlat_sport", c_uint16),
        ("xlat_dport", c_uint16),
        ("proto", c_uint8),
        ("state", c_uint8),
        ("vrf", c_uint16),
        ("rule", c_uint32),
        ("age_ms", c_uint32),
        ("timeout_s", c_uint32),
        ("worker", c_uint16),
        ("_pad", c_uint16),
        ("packets", c_uint64),
    ]


class NatSessionListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_nat_session sessions[n]


class NatParams(_S):
    _fields_ = [
        ("mask", c_uint32),
        ("tcp_established", c_uint32),
        ("tcp_transitory", c_uint32),
        ("udp", c_uint32),
        ("icmp", c_uint32),
        ("other", c_uint32),
        ("max_sessions", c_uint32),
        ("sessions", c_uint32),
        ("mappings", c_uint32),
        ("_pad", c_uint32),
    ]


class NatClock(_S):
    _fields_ = [("seconds", c_uint32), ("_pad", c_uint32)]


class CaptureStartReq(_S):
    _fields_ = [
        ("port", c_uint16),
        ("dirs", c_uint8),
        ("_pad", c_uint8),
        ("snaplen", c_uint32),
        ("count", c_uint32),
        ("_pad2", c_uint32),
        ("filter", c_char * VR_FILTER_LEN),
    ]


class CaptureId(_S):
    _fields_ = [("id", c_uint32), ("_pad", c_uint32)]


class Captured(_S):
    # + uint8_t data[caplen], padded to 8
    _fields_ = [
        ("time_ns", c_uint64),
        ("orig_len", c_uint32),
        ("caplen", c_uint16),
        ("port", c_uint16),
        ("dir", c_uint8),
        ("_pad", c_uint8 * 7),
    ]


class CaptureListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]


class CaptureStopResp(_S):
    _fields_ = [("captured", c_uint64), ("dropped", c_uint64)]


class TraceStartReq(_S):
    _fields_ = [
        ("port", c_uint16),
        ("_pad", c_uint16),
        ("count", c_uint32),
        ("filter", c_char * VR_FILTER_LEN),
    ]


class TraceRec(_S):
    _fields_ = [
        ("packet", c_uint32),
        ("stage", c_uint8),
        ("_pad", c_uint8),
        ("port", c_uint16),
        ("a", c_uint32),
        ("b", c_uint32),
        ("tsc", c_uint64),
    ]


class TraceListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_trace_rec recs[n]


class WorkerStats(_S):
    _fields_ = [
        ("busy_tsc", c_uint64),
        ("packets", c_uint64),
        ("loops", c_uint64),
        ("idle_loops", c_uint64),
    ]


class WorkerStatsResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32), ("tsc_hz", c_uint64)]


class MempoolInfo(_S):
    _fields_ = [
        ("name", c_char * VR_NAME_LEN),
        ("size", c_uint32),
        ("in_use", c_uint32),
        ("cache_size", c_uint32),
        ("_pad", c_uint32),
    ]


class MempoolListResp(_S):
    _fields_ = [("n", c_uint32), ("_pad", c_uint32)]  # + struct vr_mempool_info pools[n]


STRUCTS: dict[str, type[ctypes.Structure]] = {
    "vr_msg_hdr": MsgHdr,
    "vr_error": Error,
    "vr_hello_req": HelloReq,
    "vr_hello_resp": HelloResp,
    "vr_counter_names_resp": CounterNamesResp,
    "vr_params": Params,
    "vr_port_add_req": PortAddReq,
    "vr_port_id": PortId,
    "vr_port_set_req": PortSetReq,
    "vr_addr": Addr,
    "vr_port_info": PortInfo,
    "vr_port_list_resp": PortListResp,
    "vr_port_stats_resp": PortStatsResp,
    "vr_port_dev_stats": PortDevStats,
    "vr_addr_req": AddrReq,
    "vr_vrf_add_req": VrfAddReq,
    "vr_vrf_id": VrfId,
    "vr_vrf_info": VrfInfo,
    "vr_vrf_list_resp": VrfListResp,
    "vr_nh": Nh,
    "vr_nh_id": NhId,
    "vr_nh_list_resp": NhListResp,
    "vr_route": Route,
    "vr_route_req": RouteReq,
    "vr_route_list_req": RouteListReq,
    "vr_route_list_resp": RouteListResp,
    "vr_route_lookup_req": RouteLookupReq,
    "vr_route_lookup_resp": RouteLookupResp,
    "vr_neigh": Neigh,
    "vr_neigh_list_resp": NeighListResp,
    "vr_pg_frames": PgFrames,
    "vr_pg_flood_req": PgFloodReq,
    "vr_pg_flood_stats": PgFloodStats,
    "vr_nat_rule": NatRule,
    "vr_nat_rule_id": NatRuleId,
    "vr_nat_rule_list_resp": NatRuleListResp,
    "vr_nat_filter": NatFilter,
    "vr_nat_session": NatSession,
    "vr_nat_session_list_resp": NatSessionListResp,
    "vr_nat_params": NatParams,
    "vr_nat_clock": NatClock,
    "vr_capture_start_req": CaptureStartReq,
    "vr_capture_id": CaptureId,
    "vr_captured": Captured,
    "vr_capture_list_resp": CaptureListResp,
    "vr_capture_stop_resp": CaptureStopResp,
    "vr_trace_start_req": TraceStartReq,
    "vr_trace_rec": TraceRec,
    "vr_trace_list_resp": TraceListResp,
    "vr_worker_stats": WorkerStats,
    "vr_worker_stats_resp": WorkerStatsResp,
    "vr_mempool_info": MempoolInfo,
    "vr_mempool_list_resp": MempoolListResp,
}

# The flexible array member ending a struct: (member name, ctypes element type).
FLEXIBLE: dict[str, tuple[str, type]] = {
    "vr_counter_names_resp": ("names", c_char * VR_NAME_LEN),
    "vr_port_list_resp": ("ports", PortInfo),
    "vr_port_stats_resp": ("values", c_uint64),
    "vr_vrf_list_resp": ("vrfs", VrfInfo),
    "vr_nh_list_resp": ("nhs", Nh),
    "vr_route_req": ("routes", Route),
    "vr_route_list_resp": ("routes", Route),
    "vr_neigh_list_resp": ("neighs", Neigh),
    "vr_pg_frames": ("data", c_uint8),
    "vr_pg_flood_req": ("data", c_uint8),
    "vr_nat_rule_list_resp": ("rules", NatRule),
    "vr_nat_session_list_resp": ("sessions", NatSession),
    "vr_captured": ("data", c_uint8),
    "vr_trace_list_resp": ("recs", TraceRec),
    "vr_worker_stats_resp": ("workers", WorkerStats),
    "vr_mempool_list_resp": ("pools", MempoolInfo),
}

# C enum name -> (IntEnum, prefix of its enumerators in C).
ENUMS: dict[str, tuple[type[IntEnum], str]] = {
    "vr_msg_type": (MsgType, "VR_MSG_"),
    "vr_port_kind": (PortKind, "VR_PORT_"),
    "vr_nh_type": (NhType, "VR_NH_"),
    "vr_neigh_state": (NeighState, "VR_NEIGH_"),
    "vr_nat_type": (NatType, "VR_NAT_"),
    "vr_nat_state": (NatState, "VR_NAT_S_"),
    "vr_trace_stage": (TraceStage, "VR_TRACE_"),
}
