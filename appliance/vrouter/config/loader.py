"""YAML -> RouterConfig, rejecting anything unknown or inconsistent.

Every error names the file, the path inside the document and what is wrong,
e.g. `router.yaml: routes[2].via: '10.0.0.300' is not an IPv4 address`.
"""

from __future__ import annotations

import re
from dataclasses import fields
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, ip_address
from pathlib import Path
from typing import Any

import yaml

from .model import (
    DEFAULT_VRF,
    ApiConfig,
    ArpSettings,
    DataplaneConfig,
    DemoHost,
    IcmpSettings,
    Interface,
    MetricsConfig,
    NatRule,
    NatTimeouts,
    Neighbor,
    PuntSettings,
    Prefix,
    RouterConfig,
    Route,
    Vrf,
)

MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,14}$")  # fits a Linux ifname


class ConfigError(ValueError):
    """A configuration that cannot be applied; the message says where and why."""


class _Ctx:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, msg: str) -> ConfigError:
        return ConfigError(f"{self.source}: {path}: {msg}" if path else f"{self.source}: {msg}")


def _mapping(ctx: _Ctx, path: str, value: Any, allowed: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ctx.fail(path, f"expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise ctx.fail(path, f"unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})")
    return value


def _list(ctx: _Ctx, path: str, value: Any) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ctx.fail(path, f"expected a list, got {type(value).__name__}")
    return value


def _int(ctx: _Ctx, path: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(path, f"expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise ctx.fail(path, f"{value} is out of range {lo}..{hi}")
    return value


def _bool(ctx: _Ctx, path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ctx.fail(path, f"expected true or false, got {value!r}")
    return value


def _str(ctx: _Ctx, path: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ctx.fail(path, f"expected a non-empty string, got {value!r}")
    return value


def _name(ctx: _Ctx, path: str, value: Any) -> str:
    s = _str(ctx, path, value)
    if not NAME_RE.match(s):
        raise ctx.fail(path, f"{s!r} is not a valid name (letter first, then letters, digits, "
                             "'_', '.', '-'; at most 15 characters)")
    return s


def _ip(ctx: _Ctx, path: str, value: Any) -> IPv4Address:
    try:
        return IPv4Address(_str(ctx, path, value))
    except ValueError:
        raise ctx.fail(path, f"{value!r} is not an IPv4 address") from None


def _prefix(ctx: _Ctx, path: str, value: Any) -> Prefix:
    try:
        return Prefix.parse(_str(ctx, path, value))
    except ValueError as e:
        raise ctx.fail(path, str(e)) from None


def _iface_addr(ctx: _Ctx, path: str, value: Any) -> IPv4Interface:
    s = _str(ctx, path, value)
    if "/" not in s:
        raise ctx.fail(path, f"{s!r} needs a prefix length, e.g. {s}/24")
    try:
        a = IPv4Interface(s)
    except ValueError:
        raise ctx.fail(path, f"{s!r} is not an IPv4 address with prefix length") from None
    if a.network.prefixlen <= 30 and a.ip in (a.network.network_address,
                                              a.network.broadcast_address):
        raise ctx.fail(path, f"{s} is the network or broadcast address of its subnet")
    return a


def _mac(ctx: _Ctx, path: str, value: Any) -> str:
    s = _str(ctx, path, value)
    if not MAC_RE.match(s):
        raise ctx.fail(path, f"{s!r} is not a MAC address like 02:00:00:00:00:01")
    if int(s.split(":")[0], 16) & 1:
        raise ctx.fail(path, f"{s} is a multicast MAC")
    return s.lower()


def _dataclass_ints(ctx: _Ctx, path: str, raw: dict, cls, ranges: dict[str, tuple[int, int]]):
    d = _mapping(ctx, path, raw, {f.name for f in fields(cls)})
    return cls(**{k: _int(ctx, f"{path}.{k}", v, *ranges[k]) for k, v in d.items()})


def _dataplane(ctx: _Ctx, raw: Any) -> DataplaneConfig:
    p = "dataplane"
    d = _mapping(ctx, p, raw, {"main_lcore", "workers", "hugepages", "memory_mb", "mbufs",
                               "nexthops", "idle_sleep_us", "extra_eal", "arp", "icmp",
                               "punt", "nat_sessions", "queue_size"})
    kw: dict[str, Any] = {}
    if "main_lcore" in d:
        kw["main_lcore"] = _int(ctx, f"{p}.main_lcore", d["main_lcore"], 0, 1023)
    if "workers" in d:
        ws = tuple(_int(ctx, f"{p}.workers[{i}]", w, 0, 1023)
                   for i, w in enumerate(_list(ctx, f"{p}.workers", d["workers"])))
        if not ws or len(set(ws)) != len(ws):
            raise ctx.fail(f"{p}.workers", "needs one or more distinct lcores")
        if kw.get("main_lcore", 0) in ws:
            raise ctx.fail(f"{p}.workers", "the main lcore runs the control thread; "
                                           "workers need their own lcores")
        kw["workers"] = ws
    if "hugepages" in d:
        v = d["hugepages"]
        v = {True: "yes", False: "no"}.get(v, v)
        if v not in ("auto", "yes", "no"):
            raise ctx.fail(f"{p}.hugepages", f"{d['hugepages']!r}: expected auto, yes or no")
        kw["hugepages"] = v
    for k, lo, hi in (("memory_mb", 64, 1 << 20), ("mbufs", 1024, 1 << 24),
                      ("nexthops", 16, 1 << 24), ("idle_sleep_us", 0, 100000),
                      ("nat_sessions", 32, 1 << 26), ("queue_size", 32, 1 << 20)):
        if k in d:
            kw[k] = _int(ctx, f"{p}.{k}", d[k], lo, hi)
    if "extra_eal" in d:
        kw["extra_eal"] = tuple(_str(ctx, f"{p}.extra_eal[{i}]", a)
                                for i, a in enumerate(_list(ctx, f"{p}.extra_eal", d["extra_eal"])))
    if "arp" in d:
        kw["arp"] = _dataclass_ints(ctx, f"{p}.arp", d["arp"], ArpSettings, {
            "reachable_ms": (10, 3600000), "retrans_ms": (10, 60000), "max_probes": (1, 100),
            "queue_len": (0, 256), "table_size": (8, 1 << 20),
            "request_rate": (0, 1000000), "request_burst": (1, 100000)})
    if "punt" in d:
        kw["punt"] = _dataclass_ints(ctx, f"{p}.punt", d["punt"], PuntSettings, {
            "rate": (0, 10000000), "burst": (0, 100000)})
    if "icmp" in d:
        kw["icmp"] = _dataclass_ints(ctx, f"{p}.icmp", d["icmp"], IcmpSettings, {
            "rate": (0, 1000000), "burst": (0, 100000)})
    return DataplaneConfig(**kw)


def _vrfs(ctx: _Ctx, raw: Any) -> tuple[Vrf, ...]:
    d = _mapping(ctx, "vrfs", raw, set(map(str, raw or {})))
    vrfs = [Vrf(DEFAULT_VRF, 0)]
    for name, spec in d.items():
        p = f"vrfs.{name}"
        _name(ctx, p, name)
        s = _mapping(ctx, p, spec, {"id", "max_routes", "num_tbl8"})
        if name == DEFAULT_VRF:
            if s.get("id", 0) != 0:
                raise ctx.fail(f"{p}.id", "the default VRF has id 0")
            vrfs[0] = Vrf(DEFAULT_VRF, 0, _int(ctx, f"{p}.max_routes", s.get("max_routes", 0), 0,
                                               1 << 26),
                          _int(ctx, f"{p}.num_tbl8", s.get("num_tbl8", 0), 0, 1 << 20))
            continue
        if "id" not in s:
            raise ctx.fail(p, "missing 'id' (1..255)")
        vid = _int(ctx, f"{p}.id", s["id"], 1, 255)
        if any(v.id == vid for v in vrfs):
            raise ctx.fail(f"{p}.id", f"id {vid} is already used by another VRF")
        vrfs.append(Vrf(name, vid, _int(ctx, f"{p}.max_routes", s.get("max_routes", 0), 0, 1 << 26),
                        _int(ctx, f"{p}.num_tbl8", s.get("num_tbl8", 0), 0, 1 << 20)))
    return tuple(vrfs)


def _interfaces(ctx: _Ctx, raw: Any, vrf_names: set[str]) -> tuple[Interface, ...]:
    d = _mapping(ctx, "interfaces", raw, set(map(str, raw or {})))
    out = []
    for name, spec in d.items():
        p = f"interfaces.{name}"
        _name(ctx, p, name)
        s = _mapping(ctx, p, spec, {"device", "vrf", "mac", "mtu", "up", "rxd", "txd",
                                    "addresses"})
        if "device" not in s:
            raise ctx.fail(p, "missing 'device' (DPDK devargs or a PCI address)")
        vrf = _str(ctx, f"{p}.vrf", s.get("vrf", DEFAULT_VRF))
        if vrf not in vrf_names:
            raise ctx.fail(f"{p}.vrf", f"unknown VRF {vrf!r}")
        addrs = tuple(_iface_addr(ctx, f"{p}.addresses[{i}]", a)
                      for i, a in enumerate(_list(ctx, f"{p}.addresses", s.get("addresses"))))
        out.append(Interface(
            name=name, device=_str(ctx, f"{p}.device", s["device"]), vrf=vrf,
            mac=_mac(ctx, f"{p}.mac", s["mac"]) if "mac" in s else None,
            mtu=_int(ctx, f"{p}.mtu", s.get("mtu", 1500), 68, 9600),
            up=_bool(ctx, f"{p}.up", s.get("up", True)),
            rxd=_int(ctx, f"{p}.rxd", s.get("rxd", 0), 0, 65535),
            txd=_int(ctx, f"{p}.txd", s.get("txd", 0), 0, 65535),
            addresses=addrs))
    return tuple(out)


def _routes(ctx: _Ctx, raw: Any, vrf_names: set[str]) -> tuple[Route, ...]:
    out = []
    for i, spec in enumerate(_list(ctx, "routes", raw)):
        p = f"routes[{i}]"
        s = _mapping(ctx, p, spec, {"prefix", "vrf", "via", "via_vrf", "blackhole", "reject",
                                    "distance", "metric"})
        if "prefix" not in s:
            raise ctx.fail(p, "missing 'prefix'")
        vrf = _str(ctx, f"{p}.vrf", s.get("vrf", DEFAULT_VRF))
        if vrf not in vrf_names:
            raise ctx.fail(f"{p}.vrf", f"unknown VRF {vrf!r}")
        via_raw = s.get("via")
        via_list = via_raw if isinstance(via_raw, list) else ([] if via_raw is None else [via_raw])
        via = tuple(_ip(ctx, f"{p}.via" + (f"[{k}]" if isinstance(via_raw, list) else ""), v)
                    for k, v in enumerate(via_list))
        via_vrf = s.get("via_vrf")
        if via_vrf is not None and via_vrf not in vrf_names:
            raise ctx.fail(f"{p}.via_vrf", f"unknown VRF {via_vrf!r}")
        blackhole = _bool(ctx, f"{p}.blackhole", s.get("blackhole", False))
        reject = _bool(ctx, f"{p}.reject", s.get("reject", False))
        if sum((bool(via), blackhole, reject)) != 1:
            raise ctx.fail(p, "needs exactly one of 'via', 'blackhole: true', 'reject: true'")
        if len(set(via)) != len(via):
            raise ctx.fail(f"{p}.via", "lists a gateway twice")
        out.append(Route(prefix=_prefix(ctx, f"{p}.prefix", s["prefix"]), vrf=vrf, via=via,
                         via_vrf=via_vrf, blackhole=blackhole, reject=reject,
                         distance=_int(ctx, f"{p}.distance", s.get("distance", 1), 1, 255),
                         metric=_int(ctx, f"{p}.metric", s.get("metric", 0), 0, 2**32 - 1)))
    return tuple(out)


def _neighbors(ctx: _Ctx, raw: Any, ifnames: set[str]) -> tuple[Neighbor, ...]:
    out = []
    for i, spec in enumerate(_list(ctx, "neighbors", raw)):
        p = f"neighbors[{i}]"
        s = _mapping(ctx, p, spec, {"interface", "ip", "mac"})
        for k in ("interface", "ip", "mac"):
            if k not in s:
                raise ctx.fail(p, f"missing {k!r}")
        if s["interface"] not in ifnames:
            raise ctx.fail(f"{p}.interface", f"unknown interface {s['interface']!r}")
        out.append(Neighbor(s["interface"], _ip(ctx, f"{p}.ip", s["ip"]),
                            _mac(ctx, f"{p}.mac", s["mac"])))
    return tuple(out)


def _endpoint(ctx: _Ctx, path: str, value: Any, with_port: bool) -> tuple[IPv4Address, int]:
    s = _str(ctx, path, value)
    if not with_port:
        return _ip(ctx, path, s), 0
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ctx.fail(path, f"{s!r} is not address:port (e.g. 192.0.2.1:8080)")
    return _ip(ctx, path, host), int(port)


def _nat(ctx: _Ctx, raw: Any, vrf_names: set[str], ifaces: dict[str, Interface]
         ) -> tuple[tuple[NatRule, ...], NatTimeouts]:
    d = _mapping(ctx, "nat", raw, {"source", "forwards", "static", "timeouts"})
    rules: list[NatRule] = []
    for i, spec in enumerate(_list(ctx, "nat.source", d.get("source"))):
        p = f"nat.source[{i}]"
        s = _mapping(ctx, p, spec, {"interface", "match", "masquerade", "pool", "ports"})
        itf = s.get("interface")
        if itf not in ifaces:
            raise ctx.fail(f"{p}.interface", f"unknown interface {itf!r}")
        if "match" not in s:
            raise ctx.fail(p, "missing 'match' (the inside sources, e.g. 10.0.0.0/8)")
        masq = _bool(ctx, f"{p}.masquerade", s.get("masquerade", False))
        pool = tuple(_ip(ctx, f"{p}.pool[{k}]", a)
                     for k, a in enumerate(_list(ctx, f"{p}.pool", s.get("pool"))))
        if masq == bool(pool) or len(pool) > 16:
            raise ctx.fail(p, "needs either 'masquerade: true' or 1..16 'pool' addresses")
        lo, hi = 1024, 65535
        if "ports" in s:
            text = _str(ctx, f"{p}.ports", str(s["ports"]))
            a, sep, b = text.partition("-")
            if not (sep and a.isdigit() and b.isdigit() and 0 < int(a) <= int(b) < 65536):
                raise ctx.fail(f"{p}.ports", f"{text!r} is not a range like 1024-65535")
            lo, hi = int(a), int(b)
        pfx = _prefix(ctx, f"{p}.match", s["match"])
        rules.append(NatRule("snat", vrf=ifaces[itf].vrf, interface=itf,
                             match=pfx.network, masquerade=masq, pool=pool, ports=(lo, hi)))
    for i, spec in enumerate(_list(ctx, "nat.forwards", d.get("forwards"))):
        p = f"nat.forwards[{i}]"
        s = _mapping(ctx, p, spec, {"vrf", "proto", "external", "internal"})
        proto = s.get("proto", "tcp")
        if proto not in ("tcp", "udp"):
            raise ctx.fail(f"{p}.proto", f"{proto!r}: a port forward is tcp or udp")
        vrf = _str(ctx, f"{p}.vrf", s.get("vrf", DEFAULT_VRF))
        if vrf not in vrf_names:
            raise ctx.fail(f"{p}.vrf", f"unknown VRF {vrf!r}")
        for k in ("external", "internal"):
            if k not in s:
                raise ctx.fail(p, f"missing {k!r} (address:port)")
        ext, ext_port = _endpoint(ctx, f"{p}.external", s["external"], True)
        inn, inn_port = _endpoint(ctx, f"{p}.internal", s["internal"], True)
        rules.append(NatRule("dnat", vrf=vrf, proto=proto, external=ext, external_port=ext_port,
                             internal=inn, internal_port=inn_port))
    for i, spec in enumerate(_list(ctx, "nat.static", d.get("static"))):
        p = f"nat.static[{i}]"
        s = _mapping(ctx, p, spec, {"vrf", "external", "internal"})
        vrf = _str(ctx, f"{p}.vrf", s.get("vrf", DEFAULT_VRF))
        if vrf not in vrf_names:
            raise ctx.fail(f"{p}.vrf", f"unknown VRF {vrf!r}")
        for k in ("external", "internal"):
            if k not in s:
                raise ctx.fail(p, f"missing {k!r}")
        rules.append(NatRule("static", vrf=vrf,
                             external=_endpoint(ctx, f"{p}.external", s["external"], False)[0],
                             internal=_endpoint(ctx, f"{p}.internal", s["internal"], False)[0]))
    timeouts = _dataclass_ints(ctx, "nat.timeouts", d.get("timeouts"), NatTimeouts, {
        "tcp_established": (1, 2592000), "tcp_transitory": (1, 2592000), "udp": (1, 2592000),
        "icmp": (1, 2592000), "other": (1, 2592000)})
    seen: dict[NatRule, int] = {}
    for i, r in enumerate(rules):
        if r in seen:
            raise ctx.fail("nat", f"rule {i} repeats rule {seen[r]}")
        seen[r] = i
    return tuple(rules), timeouts


def _demo_hosts(ctx: _Ctx, raw: Any, ifnames: set[str]) -> tuple[DemoHost, ...]:
    out = []
    for i, spec in enumerate(_list(ctx, "demo_hosts", raw)):
        p = f"demo_hosts[{i}]"
        s = _mapping(ctx, p, spec, {"name", "interface", "address", "gateway"})
        for k in ("name", "interface", "address"):
            if k not in s:
                raise ctx.fail(p, f"missing {k!r}")
        if s["interface"] not in ifnames:
            raise ctx.fail(f"{p}.interface", f"unknown interface {s['interface']!r}")
        out.append(DemoHost(_name(ctx, f"{p}.name", s["name"]), s["interface"],
                            _iface_addr(ctx, f"{p}.address", s["address"]),
                            _ip(ctx, f"{p}.gateway", s["gateway"]) if "gateway" in s else None))
    return tuple(out)


def _api(ctx: _Ctx, raw: Any) -> ApiConfig:
    d = _mapping(ctx, "api", raw, {"socket", "tcp", "tls", "insecure_tcp",
                                   "max_concurrent_rpcs", "max_request_bytes"})
    tls = _mapping(ctx, "api.tls", d.get("tls"), {"cert", "key", "client_ca"})
    tcp = _str(ctx, "api.tcp", d["tcp"]) if "tcp" in d else None
    if tcp is not None:
        host, sep, port = tcp.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: any free port
            raise ctx.fail("api.tcp", f"{tcp!r} is not host:port")
    if tls and tcp is None:
        raise ctx.fail("api.tls", "TLS applies to the TCP listener: set api.tcp too")
    if tls and not ("cert" in tls and "key" in tls):
        raise ctx.fail("api.tls", "needs both 'cert' and 'key'")
    for k in ("cert", "key", "client_ca"):
        if k in tls:
            _str(ctx, f"api.tls.{k}", tls[k])
    insecure = _bool(ctx, "api.insecure_tcp", d.get("insecure_tcp", False))
    if tcp is not None and "client_ca" not in tls and not insecure:
        raise ctx.fail("api.tcp", "a TCP listener needs mutual TLS (api.tls: cert, key and "
                                  "client_ca, so that only holders of a client certificate "
                                  "can reconfigure the router); to listen without it, say so "
                                  "with api.insecure_tcp: true (or vrouter run --insecure-tcp)")
    return ApiConfig(socket=_str(ctx, "api.socket", d.get("socket", ApiConfig.socket)), tcp=tcp,
                     tls_cert=tls.get("cert"), tls_key=tls.get("key"),
                     tls_client_ca=tls.get("client_ca"), insecure_tcp=insecure,
                     max_concurrent_rpcs=_int(ctx, "api.max_concurrent_rpcs",
                                              d.get("max_concurrent_rpcs",
                                                    ApiConfig.max_concurrent_rpcs), 1, 100000),
                     max_request_bytes=_int(ctx, "api.max_request_bytes",
                                            d.get("max_request_bytes",
                                                  ApiConfig.max_request_bytes),
                                            1024, (1 << 31) - 1))


def _metrics(ctx: _Ctx, raw: Any) -> MetricsConfig:
    """metrics: {listen: "127.0.0.1:9469"}; absent: no endpoint."""
    if raw is None:
        return MetricsConfig()
    d = _mapping(ctx, "metrics", raw, {"listen"})
    if "listen" not in d:
        raise ctx.fail("metrics", "missing 'listen' (host:port for the HTTP endpoint, "
                                  "e.g. 127.0.0.1:9469; leave 'metrics' out to turn it off)")
    v = d["listen"]
    if isinstance(v, int) and not isinstance(v, bool):
        raise ctx.fail("metrics.listen", f"{v!r}: give host:port, e.g. '127.0.0.1:{v}'")
    text = _str(ctx, "metrics.listen", v)
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ctx.fail("metrics.listen", f"{text!r} is not host:port (e.g. 127.0.0.1:9469)")
    if not 0 <= int(port) <= 65535:  # 0: any free port
        raise ctx.fail("metrics.listen", f"port {port} is out of range 0..65535")
    ip = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if host != "localhost":
        try:
            version = ip_address(ip).version
        except ValueError:
            raise ctx.fail("metrics.listen", f"host {host!r} is not an IP address "
                                             "(e.g. 127.0.0.1, 0.0.0.0, [::1])") from None
        if (version == 6) != (ip != host):
            raise ctx.fail("metrics.listen", f"{text!r}: an IPv6 address goes in brackets "
                                             "([::1]:9469), an IPv4 one does not")
    return MetricsConfig(listen=text)


def _check_consistency(ctx: _Ctx, cfg: RouterConfig) -> None:
    seen: dict[tuple[str, IPv4Address], str] = {}
    subnets: dict[tuple[str, IPv4Network], str] = {}
    for itf in cfg.interfaces:
        for k, a in enumerate(itf.addresses):
            p = f"interfaces.{itf.name}.addresses[{k}]"
            key = (itf.vrf, a.ip)
            if key in seen:
                raise ctx.fail(p, f"{a.ip} is already an address of {seen[key]} "
                                  f"in VRF {itf.vrf}")
            seen[key] = itf.name
            if a.network.prefixlen < 32:
                nkey = (itf.vrf, a.network)
                if nkey in subnets:
                    raise ctx.fail(p, f"subnet {a.network} is already connected on "
                                      f"{subnets[nkey]} in VRF {itf.vrf}")
                subnets[nkey] = itf.name
    devices = {}
    for itf in cfg.interfaces:
        dev = itf.device.split(",")[0]
        if dev in devices:
            raise ctx.fail(f"interfaces.{itf.name}.device",
                           f"device {dev} is already used by {devices[dev]}")
        devices[dev] = itf.name
    keys = set()
    for i, r in enumerate(cfg.routes):
        key = (r.vrf, r.prefix, r.distance)
        if key in keys:
            raise ctx.fail(f"routes[{i}]", f"{r.prefix} in VRF {r.vrf} is listed twice "
                                           f"with distance {r.distance}")
        keys.add(key)


def parse(data: Any, source: str = "<config>") -> RouterConfig:
    ctx = _Ctx(source)
    top = _mapping(ctx, "", data, {"dataplane", "vrfs", "interfaces", "routes", "neighbors",
                                   "nat", "control_plane", "demo_hosts", "api",
                                   "metrics"})
    api = _api(ctx, top.get("api"))
    vrfs = _vrfs(ctx, top.get("vrfs"))
    vrf_names = {v.name for v in vrfs}
    interfaces = _interfaces(ctx, top.get("interfaces"), vrf_names)
    ifnames = {i.name for i in interfaces}
    nat, nat_timeouts = _nat(ctx, top.get("nat"), vrf_names, {i.name: i for i in interfaces})
    cfg = RouterConfig(
        dataplane=_dataplane(ctx, top.get("dataplane")),
        vrfs=vrfs,
        interfaces=interfaces,
        routes=_routes(ctx, top.get("routes"), vrf_names),
        neighbors=_neighbors(ctx, top.get("neighbors"), ifnames),
        nat=nat, nat_timeouts=nat_timeouts,
        control_plane=_bool(ctx, "control_plane", top.get("control_plane", True)),
        demo_hosts=_demo_hosts(ctx, top.get("demo_hosts"), ifnames),
        api=api,
        metrics=_metrics(ctx, top.get("metrics")),
    )
    _check_consistency(ctx, cfg)
    if cfg.metrics.listen and cfg.metrics.listen == cfg.api.tcp \
            and not cfg.metrics.listen.endswith(":0"):
        raise ctx.fail("metrics.listen", f"{cfg.metrics.listen} is also api.tcp: give each "
                                          "its own port")
    return cfg


def load(path: str | Path) -> RouterConfig:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    return parse(data, str(path))
