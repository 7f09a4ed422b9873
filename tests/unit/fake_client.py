"""A fake DataplaneClient for unit tests of the management plane: the same
methods, the dataplane's rules for what is refused, and a switch to make the
n-th call of a kind fail, so rollbacks can be tested."""

from __future__ import annotations

import errno
from ipaddress import IPv4Address, IPv4Interface

from vrouter.config.model import Prefix
from vrouter.dataplane.client import DataplaneError
from vrouter.dataplane.messages import NhType


class FakeDataplane:
    def __init__(self) -> None:
        self.vrfs: set[int] = {0}
        self.ports: dict[int, dict] = {}
        self.addrs: dict[int, set[IPv4Interface]] = {}
        self.neighs: dict[tuple[int, IPv4Address], str] = {}
        self.nhs: dict[int, dict] = {}
        self.fib: dict[int, dict[tuple[int, int], int]] = {0: {}}
        self.params: dict = {}
        self.nat_params: dict = {}
        self.nat_rules: dict = {}
        self.calls: list[str] = []
        self.fail_at: dict[str, int] = {}  # method -> fail on this call number (1-based)
        self._count: dict[str, int] = {}

    def _call(self, name: str) -> None:
        self.calls.append(name)
        self._count[name] = self._count.get(name, 0) + 1
        if self.fail_at.get(name) == self._count[name]:
            raise DataplaneError(errno.EIO, f"injected failure of {name}")

    @staticmethod
    def _err(code: int, msg: str) -> DataplaneError:
        return DataplaneError(code, msg)

    def params_set(self, **kw) -> None:
        self._call("params_set")
        self.params.update(kw)

    def nat_params_set(self, **kw) -> None:
        self._call("nat_params_set")
        self.nat_params.update(kw)

    def nat_rule_add(self, rule) -> None:
        self._call("nat_rule_add")
        if rule.id in self.nat_rules:
            raise self._err(errno.EEXIST, f"NAT rule {rule.id} exists")
        if rule.type == 1 and rule.out_port not in self.ports:
            raise self._err(errno.ENOENT, f"port {rule.out_port}")
        self.nat_rules[rule.id] = rule

    def nat_rule_del(self, rule_id: int) -> None:
        self._call("nat_rule_del")
        if rule_id not in self.nat_rules:
            raise self._err(errno.ENOENT, f"NAT rule {rule_id}")
        del self.nat_rules[rule_id]

    def vrf_add(self, vrf: int, max_routes: int = 0, num_tbl8: int = 0) -> None:
        self._call("vrf_add")
        if vrf in self.vrfs:
            raise self._err(errno.EEXIST, f"vrf {vrf} exists")
        self.vrfs.add(vrf)
        self.fib[vrf] = {}

    def vrf_del(self, vrf: int) -> None:
        self._call("vrf_del")
        if any(p["vrf"] == vrf for p in self.ports.values()) or self.fib[vrf]:
            raise self._err(errno.EBUSY, f"vrf {vrf} busy")
        self.vrfs.remove(vrf)
        del self.fib[vrf]

    def port_add(self, name, devargs="", kind=0, vrf=0, mtu=0, rxd=0, txd=0, mac=None,
                 admin_up=True) -> int:
        self._call("port_add")
        if vrf not in self.vrfs:
            raise self._err(errno.ENOENT, f"vrf {vrf}")
        pid = next(i for i in range(64) if i not in self.ports)
        self.ports[pid] = dict(name=name, devargs=devargs, vrf=vrf, mtu=mtu or 1500, mac=mac,
                               admin_up=admin_up)
        self.addrs[pid] = set()
        return pid

    def port_del(self, port: int) -> None:
        self._call("port_del")
        if any(n.get("port") == port for n in self.nhs.values()):
            raise self._err(errno.EBUSY, "port used by next hops")
        del self.ports[port], self.addrs[port]
        self.neighs = {k: v for k, v in self.neighs.items() if k[0] != port}

    def port_set(self, port: int, mtu=None, vrf=None, admin_up=None, mac=None) -> None:
        self._call("port_set")
        p = self.ports[port]
        if vrf is not None and vrf != p["vrf"] and self.addrs[port]:
            raise self._err(errno.EBUSY, "port has addresses")
        for k, v in (("mtu", mtu), ("vrf", vrf), ("admin_up", admin_up), ("mac", mac)):
            if v is not None:
                p[k] = v

    def addr_add(self, port: int, addr) -> None:
        self._call("addr_add")
        a = IPv4Interface(str(addr))
        if a in self.addrs[port]:
            raise self._err(errno.EEXIST, f"{a} exists")
        self.addrs[port].add(a)

    def addr_del(self, port: int, addr) -> None:
        self._call("addr_del")
        self.addrs[port].remove(IPv4Interface(str(addr)))

    def neigh_add(self, port: int, ip, mac: str) -> None:
        self._call("neigh_add")
        self.neighs[(port, IPv4Address(str(ip)))] = mac

    def neigh_del(self, port: int, ip) -> None:
        self._call("neigh_del")
        del self.neighs[(port, IPv4Address(str(ip)))]

    def nh_add(self, id: int, type, port: int = 0, gw=None, members=()) -> None:
        self._call("nh_add")
        if id in self.nhs:
            raise self._err(errno.EEXIST, f"next hop {id} exists")
        if type == NhType.GATEWAY:
            gwa = IPv4Address(str(gw))
            if port not in self.ports or not any(gwa in a.network and gwa != a.ip
                                                 for a in self.addrs[port]):
                raise self._err(errno.EINVAL, f"gateway {gw} not on port {port}")
        for m in members:
            if m not in self.nhs:
                raise self._err(errno.ENOENT, f"member {m}")
        self.nhs[id] = dict(type=type, port=port if type == NhType.GATEWAY else None,
                            gw=str(gw) if gw else None, members=tuple(members))

    def nh_del(self, id: int) -> None:
        self._call("nh_del")
        if any(id == nh for f in self.fib.values() for nh in f.values()) or \
                any(id in n["members"] for n in self.nhs.values()):
            raise self._err(errno.EBUSY, f"next hop {id} in use")
        del self.nhs[id]

    def route_add(self, vrf: int, routes, replace: bool = False) -> int:
        self._call("route_add")
        routes = [(tuple(p), nh) for p, nh in routes]
        fib = self.fib[vrf]
        for p, nh in routes:
            if nh not in self.nhs:
                raise self._err(errno.ENOENT, f"next hop {nh}")
            if (p in fib) != replace:
                raise self._err(errno.EEXIST if not replace else errno.ENOENT,
                                f"{Prefix(*p)} {'exists' if not replace else 'missing'}")
        for p, nh in routes:
            fib[p] = nh
        return len(routes)

    def route_del(self, vrf: int, prefixes) -> int:
        self._call("route_del")
        fib = self.fib[vrf]
        ps = [tuple(p) for p in prefixes]
        for p in ps:
            if p not in fib:
                raise self._err(errno.ENOENT, f"{Prefix(*p)} missing")
        for p in ps:
            del fib[p]
        return len(ps)

    # views for assertions
    def routes(self, vrf: int = 0) -> dict[str, object]:
        """prefix -> gateway string, 'blackhole', 'reject' or sorted gateways (ECMP)."""
        out = {}
        for p, nh in self.fib[vrf].items():
            out[str(Prefix(*p))] = self.describe_nh(nh)
        return out

    def describe_nh(self, nh: int):
        n = self.nhs[nh]
        if n["type"] == NhType.GATEWAY:
            return f"{n['gw']}@{self.ports[n['port']]['name']}"
        if n["type"] == NhType.GROUP:
            return tuple(sorted(self.describe_nh(m) for m in n["members"]))
        return "blackhole" if n["type"] == NhType.BLACKHOLE else "reject"
