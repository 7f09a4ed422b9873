"""Demo hosts: Linux network namespaces wired to router interfaces by veth pairs.

The embedded default configuration uses them so that `ip netns exec h1 ping
10.0.2.2` works through the router right away, with no NIC. Tests use the
same code to build their hosts.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface

from pyroute2 import IPRoute, NetNS, netns

from .config.model import DemoHost, RouterConfig


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def device_iface(devargs: str) -> str | None:
    """The kernel interface an af_packet/af_xdp/pcap port sits on, if any."""
    for part in devargs.split(",")[1:]:
        key, _, value = part.partition("=")
        if key in ("iface", "rx_iface", "tx_iface", "iface_name") and value:
            return value
    return None


@dataclass
class HostLink:
    """One host namespace and the veth pair joining it to the router."""

    name: str          # namespace
    router_if: str     # veth end the router's port opens (root namespace)
    host_if: str = "eth0"

    def create(self, address: IPv4Interface, gateway: IPv4Address | None = None,
               mtu: int = 1500) -> None:
        self.destroy()  # leftovers of a crashed run
        netns.create(self.name)
        with IPRoute() as ipr:
            ipr.link("add", ifname=self.router_if, kind="veth",
                     peer={"ifname": self.host_if, "net_ns_fd": self.name})
            idx = ipr.link_lookup(ifname=self.router_if)[0]
            ipr.link("set", index=idx, mtu=mtu, state="up")
        with NetNS(self.name) as ns:
            lo = ns.link_lookup(ifname="lo")[0]
            ns.link("set", index=lo, state="up")
            idx = ns.link_lookup(ifname=self.host_if)[0]
            ns.link("set", index=idx, mtu=mtu, state="up")
            ns.addr("add", index=idx, address=str(address.ip), prefixlen=address.network.prefixlen)
            if gateway is not None:
                ns.route("add", dst="0.0.0.0/0", gateway=str(gateway))
        # No IPv6 chatter on the wires, and no tx checksum offload on veth:
        # with it, TCP through an af_packet port stalls (frames carry partial
        # checksums the router forwards as they are).
        _run("sysctl", "-qw", f"net.ipv6.conf.{self.router_if}.disable_ipv6=1")
        _run("ip", "netns", "exec", self.name, "sysctl", "-qw",
             f"net.ipv6.conf.{self.host_if}.disable_ipv6=1")
        _run("ip", "netns", "exec", self.name, "ethtool", "-K", self.host_if, "tx", "off")
        _run("ethtool", "-K", self.router_if, "tx", "off")

    def exists(self) -> bool:
        """Both ends are in place (a management plane that crashed left them,
        with the dataplane's port still open on the router end)."""
        if self.name not in netns.listnetns():
            return False
        with IPRoute() as ipr:
            if not ipr.link_lookup(ifname=self.router_if):
                return False
        r = subprocess.run(["ip", "-n", self.name, "link", "show", "dev", self.host_if],
                           capture_output=True, check=False)
        return r.returncode == 0

    def destroy(self) -> None:
        with IPRoute() as ipr:
            for idx in ipr.link_lookup(ifname=self.router_if):
                ipr.link("del", index=idx)
        if self.name in netns.listnetns():
            netns.remove(self.name)


def demo_links(cfg: RouterConfig) -> list[tuple[DemoHost, HostLink]]:
    out = []
    for h in cfg.demo_hosts:
        itf = cfg.interface(h.interface)
        router_if = device_iface(itf.device)
        if router_if is None:
            raise ValueError(f"demo host {h.name}: interface {itf.name}'s device "
                             f"{itf.device!r} names no kernel interface (iface=...)")
        out.append((h, HostLink(h.name, router_if)))
    return out


def create_demo_hosts(cfg: RouterConfig, keep: bool = False) -> list[HostLink]:
    """keep: hosts already in place stay as they are (adopting a running
    dataplane, whose ports are open on them); the others are created."""
    links = []
    try:
        for h, link in demo_links(cfg):
            if not (keep and link.exists()):
                link.create(h.address, h.gateway, cfg.interface(h.interface).mtu)
            links.append(link)
    except Exception:
        for link in links:
            link.destroy()
        raise
    return links
