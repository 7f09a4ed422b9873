"""RouterConfig -> YAML that loads back to the same RouterConfig, and the
changes that turn one config into another."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import yaml

from ..core.errors import FailedPrecondition
from ..core.changes import (
    Change,
    InterfaceAdd,
    InterfaceDel,
    InterfaceUpdate,
    NatAdd,
    NatDel,
    NeighborAdd,
    NeighborDel,
    RouteAdd,
    RouteDel,
    VrfAdd,
    VrfDel,
)
from .model import (DEFAULT_VRF, ApiConfig, DataplaneConfig, Interface, NatTimeouts, Route,
                    RouterConfig)


def _dataplane(d: DataplaneConfig) -> dict[str, Any]:
    base = DataplaneConfig()
    out: dict[str, Any] = {}
    for f in fields(d):
        v, dv = getattr(d, f.name), getattr(base, f.name)
        if v == dv:
            continue
        if f.name in ("arp", "icmp", "punt"):
            out[f.name] = {k: x for k, x in asdict(v).items() if asdict(dv)[k] != x}
        elif isinstance(v, tuple):
            out[f.name] = list(v)
        else:
            out[f.name] = v
    return out


def _interface(i: Interface) -> dict[str, Any]:
    d: dict[str, Any] = {"device": i.device}
    if i.vrf != DEFAULT_VRF:
        d["vrf"] = i.vrf
    if i.mac:
        d["mac"] = i.mac
    for k, default in (("mtu", 1500), ("up", True), ("rxd", 0), ("txd", 0)):
        if getattr(i, k) != default:
            d[k] = getattr(i, k)
    if i.addresses:
        d["addresses"] = [str(a) for a in i.addresses]
    return d


def _route(r: Route) -> dict[str, Any]:
    d: dict[str, Any] = {"prefix": str(r.prefix)}
    if r.vrf != DEFAULT_VRF:
        d["vrf"] = r.vrf
    if r.via:
        d["via"] = str(r.via[0]) if len(r.via) == 1 else [str(g) for g in r.via]
    if r.via_vrf:
        d["via_vrf"] = r.via_vrf
    if r.blackhole:
        d["blackhole"] = True
    if r.reject:
        d["reject"] = True
    if r.distance != 1:
        d["distance"] = r.distance
    if r.metric:
        d["metric"] = r.metric
    return d


def to_dict(cfg: RouterConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    dp = _dataplane(cfg.dataplane)
    if dp:
        out["dataplane"] = dp
    a = cfg.api
    api: dict[str, Any] = {}
    if a.socket != ApiConfig.socket:
        api["socket"] = a.socket
    if a.tcp:
        api["tcp"] = a.tcp
    tls = {k: v for k, v in (("cert", a.tls_cert), ("key", a.tls_key),
                             ("client_ca", a.tls_client_ca)) if v}
    if tls:
        api["tls"] = tls
    if a.insecure_tcp:
        api["insecure_tcp"] = True
    for k in ("max_concurrent_rpcs", "max_request_bytes"):
        if getattr(a, k) != getattr(ApiConfig, k):
            api[k] = getattr(a, k)
    if api:
        out["api"] = api
    if cfg.metrics.listen is not None:
        out["metrics"] = {"listen": cfg.metrics.listen}
    vrfs = {}
    for v in cfg.vrfs:
        spec = {k: getattr(v, k) for k in ("id", "max_routes", "num_tbl8") if getattr(v, k)}
        if v.name != DEFAULT_VRF or spec:
            vrfs[v.name] = spec
    if vrfs:
        out["vrfs"] = vrfs
    if cfg.interfaces:
        out["interfaces"] = {i.name: _interface(i) for i in cfg.interfaces}
    if cfg.routes:
        out["routes"] = [_route(r) for r in cfg.routes]
    if cfg.neighbors:
        out["neighbors"] = [{"interface": n.interface, "ip": str(n.ip), "mac": n.mac}
                            for n in cfg.neighbors]
    nat = _nat(cfg)
    if nat:
        out["nat"] = nat
    if not cfg.control_plane:
        out["control_plane"] = False
    if cfg.demo_hosts:
        out["demo_hosts"] = [
            {"name": h.name, "interface": h.interface, "address": str(h.address),
             **({"gateway": str(h.gateway)} if h.gateway else {})} for h in cfg.demo_hosts]
    return out


def _nat(cfg: RouterConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}
    src, fwd, stat = [], [], []
    for r in cfg.nat:
        if r.kind == "snat":
            d: dict[str, Any] = {"interface": r.interface, "match": str(r.match)}
            if r.masquerade:
                d["masquerade"] = True
            else:
                d["pool"] = [str(a) for a in r.pool]
            if r.ports != (1024, 65535):
                d["ports"] = f"{r.ports[0]}-{r.ports[1]}"
            src.append(d)
        elif r.kind == "dnat":
            fwd.append({**({"vrf": r.vrf} if r.vrf != DEFAULT_VRF else {}), "proto": r.proto,
                        "external": f"{r.external}:{r.external_port}",
                        "internal": f"{r.internal}:{r.internal_port}"})
        else:
            stat.append({**({"vrf": r.vrf} if r.vrf != DEFAULT_VRF else {}),
                         "external": str(r.external), "internal": str(r.internal)})
    for key, items in (("source", src), ("forwards", fwd), ("static", stat)):
        if items:
            out[key] = items
    t = {k: v for k, v in asdict(cfg.nat_timeouts).items()
         if v != getattr(NatTimeouts(), k)}
    if t:
        out["timeouts"] = t
    return out


class _Dumper(yaml.SafeDumper):
    pass


def _flow_small(dumper: yaml.SafeDumper, data: dict) -> yaml.Node:
    flow = len(data) <= 4 and all(not isinstance(v, (dict, list)) for v in data.values())
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


_Dumper.add_representer(dict, _flow_small)


def to_yaml(cfg: RouterConfig) -> str:
    return yaml.dump(to_dict(cfg), Dumper=_Dumper, sort_keys=False, width=100)


def save_atomic(text: str, path: str | Path) -> None:
    """Write then rename, so a crash leaves the old file or the new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def diff(old: RouterConfig, new: RouterConfig) -> list[Change]:
    """Changes from `old` to `new`, ordered so that each one's dependencies
    are in place (routes and neighbours go before their interfaces, VRFs
    come before what uses them)."""
    ov, nv = {v.name: v for v in old.vrfs}, {v.name: v for v in new.vrfs}
    oi, ni = {i.name: i for i in old.interfaces}, {i.name: i for i in new.interfaces}
    orts, nrts = {r.key: r for r in old.routes}, {r.key: r for r in new.routes}
    on = {(n.interface, n.ip): n for n in old.neighbors}
    nn = {(n.interface, n.ip): n for n in new.neighbors}

    changes: list[Change] = []
    gone_routes = tuple(r for k, r in orts.items() if nrts.get(k) != r)
    if gone_routes:
        changes.append(RouteDel(gone_routes))
    changes += [NeighborDel(n) for k, n in on.items() if nn.get(k) != n]
    changes += [NatDel(r) for r in old.nat if r not in new.nat]
    replaced = {n for n in oi if n in ni and oi[n].device != ni[n].device}
    changes += [InterfaceDel(i) for n, i in oi.items() if n not in ni or n in replaced]
    vrf_replaced = {n for n in ov if n in nv and ov[n] != nv[n]}
    changes += [VrfAdd(v) for n, v in nv.items() if n not in ov]
    changes += [InterfaceUpdate(oi[n], i) for n, i in ni.items()
                if n in oi and n not in replaced and oi[n] != i]
    changes += [InterfaceAdd(i) for n, i in ni.items() if n not in oi or n in replaced]
    changes += [VrfDel(v) for n, v in ov.items() if n not in nv]
    if vrf_replaced:
        name = sorted(vrf_replaced)[0]
        raise FailedPrecondition(f"vrf {name}: its id or table sizes cannot change while it "
                                 "exists; remove it (and what uses it) first")
    changes += [NeighborAdd(n) for k, n in nn.items() if on.get(k) != n]
    changes += [NatAdd(r) for r in new.nat if r not in old.nat]
    new_routes = tuple(r for k, r in nrts.items() if orts.get(k) != r)
    if new_routes:
        changes.append(RouteAdd(new_routes))
    return changes
