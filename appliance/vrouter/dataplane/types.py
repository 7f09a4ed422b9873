"""Plain values returned by DataplaneClient, decoded from the wire structs."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from .messages import NeighState, NhType, PortKind


@dataclass(frozen=True, slots=True)
class Hello:
    version: int
    n_workers: int
    n_counters: int
    max_ports: int
    max_vrfs: int
    max_nexthops: int  # ids 1..max_nexthops-1 are the client's
    neigh_table_size: int
    pid: int
    tsc_hz: int


@dataclass(frozen=True, slots=True)
class WorkerCycles:
    """One worker's loop counters (vr_worker_stats): cycles/packet = busy_tsc / packets."""
    worker: int       # index, in the order of the dataplane's worker lcores
    busy_tsc: int     # TSC cycles in loop iterations that had packets
    packets: int      # received and injected
    loops: int
    idle_loops: int


@dataclass(frozen=True, slots=True)
class Params:
    arp_reachable_ms: int
    arp_retrans_ms: int
    arp_max_probes: int
    arp_queue_len: int
    icmp_rate: int
    icmp_burst: int
    idle_sleep_us: int
    punt_rate: int
    punt_burst: int
    arp_rate: int = 1000
    arp_burst: int = 500


@dataclass(frozen=True, slots=True)
class Port:
    port: int
    name: str
    driver: str
    devargs: str
    kind: PortKind | int  # int: a kind this client does not know
    vrf: int
    mtu: int
    mac: str
    admin_up: bool
    link_up: bool
    link_speed: int  # Mbit/s
    n_rxq: int
    n_txq: int
    rxd: int
    txd: int
    addrs: tuple[IPv4Interface, ...] = ()
    punt_port: int = 0xFFFF     # its exception port (0xFFFF: none)
    exception_of: int = 0xFFFF  # it is that port's exception port


@dataclass(frozen=True, slots=True)
class Vrf:
    vrf: int
    n_ports: int
    n_routes: int
    max_routes: int
    num_tbl8: int


@dataclass(frozen=True, slots=True)
class Nexthop:
    id: int
    type: NhType | int
    port: int = 0
    gw: IPv4Address | None = None  # None when the wire value is 0.0.0.0
    refcnt: int = 0
    members: tuple[int, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Route:
    prefix: IPv4Network
    nh_id: int
    flags: int = 0


@dataclass(frozen=True, slots=True)
class Neigh:
    ip: IPv4Address
    port: int
    mac: str
    state: NeighState | int
    probes: int
    held: int
    age_ms: int


@dataclass(frozen=True, slots=True)
class NatRule:
    """A NAT rule as the dataplane holds it (addresses as IPv4Address)."""

    id: int
    type: int  # NatType
    vrf: int = 0
    proto: int = 0  # DNAT: 6 or 17
    out_port: int = 0  # SNAT
    masquerade: bool = False
    pool: tuple[IPv4Address, ...] = ()
    match: IPv4Network | None = None  # SNAT inside prefix
    port_lo: int = 0
    port_hi: int = 0
    ext_ip: IPv4Address | None = None
    ext_port: int = 0
    int_ip: IPv4Address | None = None
    int_port: int = 0
    sessions: int = 0  # created so far (replies)


@dataclass(frozen=True, slots=True)
class NatSession:
    proto: int
    vrf: int
    orig: tuple[IPv4Address, int, IPv4Address, int]  # src, sport, dst, dport
    xlat: tuple[IPv4Address, int, IPv4Address, int]
    state: int  # NatState
    rule: int
    age_ms: int
    timeout_s: int
    worker: int
    packets: int


@dataclass(frozen=True, slots=True)
class Captured:
    """A copy of a packet a capture took at a port."""
    time_ns: int      # since the epoch
    port: int
    direction: int    # VR_DIR_RX or VR_DIR_TX
    orig_len: int     # on the wire; len(data) is less with a snap length
    data: bytes


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One stage a traced packet went through (VR_TRACE_*: what a and b mean)."""
    packet: int       # 1.. in the order the trace picked them
    stage: int        # TraceStage
    port: int         # the ingress port
    a: int
    b: int
    tsc: int
