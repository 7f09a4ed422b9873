"""Programs a dataplane from a RouterConfig over the control channel.

Static routes resolve here to next hops on connected subnets (a gateway must
be a neighbour on one of the VRF's subnets, or of `via_vrf`'s for a leaked
route). Next hops are shared: one id per (port, gateway), one per ECMP set.
"""

from __future__ import annotations

from ipaddress import IPv4Address

from .config.model import RouterConfig, Route
from .dataplane.client import DataplaneClient
from .dataplane.messages import NhType


class ProgramError(RuntimeError):
    pass


class Programmer:
    def __init__(self, dp: DataplaneClient, cfg: RouterConfig) -> None:
        self.dp = dp
        self.cfg = cfg
        self.port_ids: dict[str, int] = {}
        self._nh_ids: dict[tuple, int] = {}
        self._next_nh = 1

    def vrf_id(self, name: str) -> int:
        return self.cfg.vrf(name).id

    def apply(self) -> None:
        c, dp = self.cfg, self.dp
        d = c.dataplane
        dp.params_set(arp_reachable_ms=d.arp.reachable_ms, arp_retrans_ms=d.arp.retrans_ms,
                      arp_max_probes=d.arp.max_probes, arp_queue_len=d.arp.queue_len,
                      icmp_rate=d.icmp.rate, icmp_burst=d.icmp.burst,
                      idle_sleep_us=d.idle_sleep_us)
        for v in c.vrfs:
            if v.id != 0:
                dp.vrf_add(v.id, v.max_routes, v.num_tbl8)
        for itf in c.interfaces:
            self.port_ids[itf.name] = dp.port_add(
                itf.name, itf.device, vrf=self.vrf_id(itf.vrf), mtu=itf.mtu, rxd=itf.rxd,
                txd=itf.txd, mac=itf.mac, admin_up=itf.up)
            for a in itf.addresses:
                dp.addr_add(self.port_ids[itf.name], a)
        for n in c.neighbors:
            dp.neigh_add(self.port_ids[n.interface], n.ip, n.mac)
        for r in self._best_routes():
            nh = self._nexthop_for(r)
            dp.route_add(self.vrf_id(r.vrf), [(r.prefix, nh)])

    def _best_routes(self) -> list[Route]:
        best: dict[tuple, Route] = {}
        for r in self.cfg.routes:
            k = (r.vrf, r.prefix)
            if k not in best or (r.distance, r.metric) < (best[k].distance, best[k].metric):
                best[k] = r
        return list(best.values())

    def _gateway_port(self, vrf: str, gw: IPv4Address) -> int:
        for itf in self.cfg.interfaces:
            if itf.vrf == vrf and any(gw in a.network and gw != a.ip for a in itf.addresses):
                return self.port_ids[itf.name]
        raise ProgramError(f"gateway {gw} is not on a connected subnet of VRF {vrf}")

    def _nh(self, key: tuple, **kw) -> int:
        if key not in self._nh_ids:
            self.dp.nh_add(self._next_nh, **kw)
            self._nh_ids[key] = self._next_nh
            self._next_nh += 1
        return self._nh_ids[key]

    def _nexthop_for(self, r: Route) -> int:
        if r.blackhole:
            return self._nh(("blackhole",), type=NhType.BLACKHOLE)
        if r.reject:
            return self._nh(("reject",), type=NhType.REJECT)
        vrf = r.via_vrf or r.vrf
        members = []
        for gw in r.via:
            port = self._gateway_port(vrf, gw)
            members.append(self._nh(("gw", port, gw), type=NhType.GATEWAY, port=port, gw=gw))
        if len(members) == 1:
            return members[0]
        key = ("group", tuple(sorted(members)))
        return self._nh(key, type=NhType.GROUP, members=tuple(sorted(members)))
