"""The router's configuration as frozen, validated objects.

Built from YAML (loader.py) or from API requests; compared to find what
changed. Nothing here talks to the dataplane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import socket
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import NamedTuple

DEFAULT_VRF = "default"


@dataclass(frozen=True)
class ArpSettings:
    reachable_ms: int = 30000
    retrans_ms: int = 1000
    max_probes: int = 3
    queue_len: int = 16
    table_size: int = 4096
    request_rate: int = 1000  # ARP requests/s per port (resolving, probing); a throttle
    request_burst: int = 500


@dataclass(frozen=True)
class IcmpSettings:
    rate: int = 1000  # errors per second per thread (RFC 1812 4.3.2.8)
    burst: int = 50


@dataclass(frozen=True)
class PuntSettings:
    """Traffic to the control namespaces, per port, per protocol, per worker."""

    rate: int = 2000  # packets per second
    burst: int = 500


@dataclass(frozen=True)
class NatTimeouts:
    """Idle timeouts in seconds (RFC 5382, RFC 4787, RFC 5508 minimums)."""

    tcp_established: int = 7440
    tcp_transitory: int = 240
    udp: int = 300
    icmp: int = 60
    other: int = 300


@dataclass(frozen=True)
class DataplaneConfig:
    main_lcore: int = 0
    workers: tuple[int, ...] = (1,)
    hugepages: str = "auto"  # auto | yes | no
    memory_mb: int = 512
    mbufs: int = 32768
    nexthops: int = 65536
    idle_sleep_us: int = 0
    extra_eal: tuple[str, ...] = ()
    arp: ArpSettings = field(default_factory=ArpSettings)
    icmp: IcmpSettings = field(default_factory=IcmpSettings)
    punt: PuntSettings = field(default_factory=PuntSettings)
    nat_sessions: int = 65536  # all workers together; a startup setting
    queue_size: int = 4096  # entries of each ring between threads; a startup setting


@dataclass(frozen=True)
class Vrf:
    name: str
    id: int
    max_routes: int = 0  # 0: the dataplane's default
    num_tbl8: int = 0


@dataclass(frozen=True)
class Interface:
    name: str
    device: str  # DPDK devargs ("net_af_packet0,iface=veth0") or a PCI address
    vrf: str = DEFAULT_VRF
    mac: str | None = None
    mtu: int = 1500
    up: bool = True
    rxd: int = 0
    txd: int = 0
    addresses: tuple[IPv4Interface, ...] = ()


class Prefix(NamedTuple):
    """An IPv4 prefix as two ints: light enough for a million routes."""

    net: int
    plen: int

    @classmethod
    def parse(cls, text: str) -> Prefix:
        """'10.1.0.0/16' -> Prefix; ValueError naming the text if malformed or
        if host bits are set."""
        return _parse_prefix(text)

    def __str__(self) -> str:
        n = self.net
        return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}/{self.plen}"

    def contains(self, ip: int) -> bool:
        return (ip ^ self.net) >> (32 - self.plen) == 0 if self.plen else True

    @property
    def network(self) -> IPv4Network:
        return IPv4Network((self.net, self.plen))


_HOST_MASK = [(1 << (32 - n)) - 1 for n in range(33)]
_PLENS = {str(n): n for n in range(33)}


def _parse_prefix(text: str) -> Prefix:
    # Hand-rolled (not ipaddress): it runs once per route of a million-route load.
    addr, sep, plen_s = text.partition("/")
    plen = _PLENS.get(plen_s)
    try:
        if plen is None or addr.count(".") != 3:
            raise OSError
        net = int.from_bytes(socket.inet_aton(addr), "big")
    except OSError:
        raise ValueError(f"{text!r} is not an IPv4 prefix like 10.1.0.0/16") from None
    if net & _HOST_MASK[plen]:
        masked = net & ~_HOST_MASK[plen]
        raise ValueError(f"{text!r} has host bits set (did you mean {Prefix(masked, plen)}?)")
    return Prefix(net, plen)


class Route(NamedTuple):
    """A configured route. Identity: (vrf, prefix, distance)."""

    prefix: Prefix
    vrf: str = DEFAULT_VRF
    via: tuple[IPv4Address, ...] = ()  # several: ECMP
    via_vrf: str | None = None  # gateways resolved in another VRF (leaking)
    blackhole: bool = False
    reject: bool = False
    distance: int = 1
    metric: int = 0

    @property
    def key(self) -> tuple[str, Prefix, int]:
        return (self.vrf, self.prefix, self.distance)


@dataclass(frozen=True)
class Neighbor:
    interface: str
    ip: IPv4Address
    mac: str


@dataclass(frozen=True)
class NatRule:
    """One NAT rule. Identity is its content; `kind` says which fields count.

    snat:   inside sources `match` leaving `interface`, to its address
            (masquerade) or to `pool` addresses, ports from `ports`
    dnat:   a port forward, `external`:`external_port` -> `internal`:`internal_port`
    static: 1:1 between `external` and `internal`, every protocol
    """

    kind: str
    vrf: str = DEFAULT_VRF
    interface: str | None = None        # snat
    match: IPv4Network | None = None    # snat
    masquerade: bool = False
    pool: tuple[IPv4Address, ...] = ()
    ports: tuple[int, int] = (1024, 65535)
    proto: str | None = None            # dnat: tcp or udp
    external: IPv4Address | None = None
    external_port: int = 0
    internal: IPv4Address | None = None
    internal_port: int = 0


@dataclass(frozen=True)
class DemoHost:
    """A host in its own network namespace, wired to an interface by a veth pair."""

    name: str
    interface: str
    address: IPv4Interface
    gateway: IPv4Address | None = None


@dataclass(frozen=True)
class ApiConfig:
    socket: str = "/run/vrouter/api.sock"  # unix socket, mode 0660
    tcp: str | None = None                 # "host:port" to also listen on TCP
    tls_cert: str | None = None            # PEM files; with client_ca: mutual TLS
    tls_key: str | None = None
    tls_client_ca: str | None = None
    # TCP without mutual TLS (plaintext, or TLS without client certificates):
    # only when asked for, since anyone reaching the port could reconfigure
    insecure_tcp: bool = False
    max_concurrent_rpcs: int = 64          # more at once: RESOURCE_EXHAUSTED
    max_request_bytes: int = 64 << 20      # a bigger request: RESOURCE_EXHAUSTED


@dataclass(frozen=True)
class MetricsConfig:
    """The Prometheus/OpenMetrics endpoint (HTTP GET /metrics); off unless `listen` is set."""

    listen: str | None = None  # "host:port", e.g. "127.0.0.1:9469" (port 0: any free one)


@dataclass(frozen=True)
class RouterConfig:
    dataplane: DataplaneConfig = field(default_factory=DataplaneConfig)
    vrfs: tuple[Vrf, ...] = (Vrf(DEFAULT_VRF, 0),)
    interfaces: tuple[Interface, ...] = ()
    routes: tuple[Route, ...] = ()
    neighbors: tuple[Neighbor, ...] = ()
    nat: tuple[NatRule, ...] = ()
    nat_timeouts: NatTimeouts = field(default_factory=NatTimeouts)
    control_plane: bool = True  # control namespaces per VRF (the router's own stack)
    demo_hosts: tuple[DemoHost, ...] = ()
    api: ApiConfig = field(default_factory=ApiConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def vrf(self, name: str) -> Vrf:
        return next(v for v in self.vrfs if v.name == name)

    def interface(self, name: str) -> Interface:
        return next(i for i in self.interfaces if i.name == name)
