"""The router's own TCP/IP stack: one Linux network namespace per VRF (its
"control namespace"), holding for every router interface of the VRF a TAP
with the interface's name, MAC, MTU and addresses.

The TAP is a DPDK net_tap port of the dataplane, the interface's exception
port: traffic for the router that the fast path does not answer comes out of
it into the namespace, and what the namespace sends is routed by the
dataplane. So a server bound in the namespace (ssh, a BGP speaker) is
reachable on the router's addresses in that VRF, and only there.

`sync()` makes the namespaces match the running state; it runs after every
transaction and after a dataplane restart (the TAPs die with the dataplane).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import subprocess
from dataclasses import dataclass, field, replace
from ipaddress import IPv4Interface

from pyroute2 import netns

from ..config.model import Interface
from ..dataplane.client import DataplaneClient, DataplaneError
from ..dataplane.messages import VR_PORT_NONE

log = logging.getLogger("vrouter.hoststack")

_tap_ids = itertools.count()
# Descriptors of an exception (TAP) port: net_tap fills its rx ring with
# mbufs from the shared pool when the port starts, and the router's own
# traffic is light (punts are rate-limited), so a small ring leaves the pool
# to forwarding: a thousand VRF interfaces must not empty it.
EXCEPTION_DESC = 128


def namespace_name(appliance: str, vrf: str) -> str:
    return f"vr-{vrf}" if appliance == "vrouter" else f"{appliance}-{vrf}"


def _sysctl(ns: str, key: str, value: str) -> None:
    subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", f"{key}={value}"],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _ip(*args: str) -> None:
    """iproute2 rather than pyroute2's NetNS, which forks: unsafe from the
    threads of a gRPC server."""
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


def _link(ns: str, name: str) -> tuple[str, int, tuple[IPv4Interface, ...]] | None:
    """(MAC, MTU, IPv4 addresses) of interface `name` in namespace `ns`, or None."""
    r = subprocess.run(["ip", "-n", ns, "-j", "addr", "show", "dev", name],
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        return None
    try:
        info = json.loads(r.stdout)[0]
    except (ValueError, IndexError):
        return None
    addrs = tuple(IPv4Interface(f"{a['local']}/{a['prefixlen']}")
                  for a in info.get("addr_info", []) if a.get("family") == "inet")
    return info.get("address", ""), info.get("mtu", 0), addrs


@dataclass
class Mirror:
    """What is in place for one router interface."""

    interface: Interface
    namespace: str
    tap_port: int
    owner_port: int
    mac: str


@dataclass
class ControlNamespaces:
    appliance: str = "vrouter"
    mirrors: dict[str, Mirror] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)

    def prefix(self) -> str:
        return namespace_name(self.appliance, "")

    def cleanup_leftovers(self) -> None:
        """A crashed run's namespaces (ours by name) go before we start."""
        for ns in netns.listnetns():
            if ns.startswith(self.prefix()):
                _ip("netns", "del", ns)

    def adopt(self, dp: DataplaneClient, interfaces: dict[str, Interface],
              ports: dict[str, int], vrfs: set[str]) -> None:
        """A running dataplane adopted: the TAPs a previous management plane
        made for it, in place in their namespaces, become our mirrors (sync()
        then corrects what differs); its other TAPs, and namespaces of ours
        no VRF wants, go."""
        live = {p.port: p for p in dp.port_list()}
        existing = set(netns.listnetns())
        for name, itf in interfaces.items():
            owner = live.get(ports.get(name, VR_PORT_NONE))
            if owner is None or owner.punt_port not in live:
                continue
            ns = namespace_name(self.appliance, itf.vrf)
            found = _link(ns, name) if ns in existing else None
            if found is None:
                continue
            mac, mtu, addrs = found
            as_found = replace(itf, addresses=addrs, mtu=mtu)
            self.mirrors[name] = Mirror(as_found, ns, owner.punt_port, owner.port, mac)
            self.namespaces.add(ns)
        kept = {m.tap_port for m in self.mirrors.values()}
        for p in live.values():
            if p.exception_of == VR_PORT_NONE or p.port in kept:
                continue
            try:
                owner = live.get(p.exception_of)
                if owner is not None and owner.punt_port == p.port:
                    dp.port_set(owner.port, punt_port=VR_PORT_NONE)
                dp.port_del(p.port)
            except DataplaneError as e:
                log.warning("removing the stale control interface %s: %s", p.name, e)
        wanted = {namespace_name(self.appliance, v) for v in vrfs}
        for ns in existing:
            if ns.startswith(self.prefix()) and ns not in wanted:
                _ip("netns", "del", ns)

    def _ensure_ns(self, ns: str) -> None:
        if ns in self.namespaces:
            return
        if ns not in netns.listnetns():
            _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        # IPv4 only, no forwarding of its own: the dataplane forwards
        _sysctl(ns, "net.ipv6.conf.all.disable_ipv6", "1")
        _sysctl(ns, "net.ipv6.conf.default.disable_ipv6", "1")
        _sysctl(ns, "net.ipv4.ip_forward", "0")
        self.namespaces.add(ns)

    def sync(self, dp: DataplaneClient, interfaces: dict[str, Interface],
             ports: dict[str, int], vrfs: set[str]) -> None:
        """Creates, updates and removes mirrors and namespaces to match."""
        live = {p.port: p for p in dp.port_list()}
        for name, m in list(self.mirrors.items()):
            itf = interfaces.get(name)
            gone = itf is None or m.tap_port not in live or ports.get(name) != m.owner_port
            if gone or itf.vrf != m.interface.vrf:
                self._remove(dp, m, live)
            elif itf != m.interface:
                self._update(m, itf)
        for name, itf in interfaces.items():
            if name not in self.mirrors and name in ports:
                self._add(dp, itf, ports[name], live)
        wanted = {namespace_name(self.appliance, v) for v in vrfs}
        for ns in wanted:
            self._ensure_ns(ns)
        for ns in list(self.namespaces - wanted):
            _ip("netns", "del", ns)
            self.namespaces.discard(ns)

    def _add(self, dp: DataplaneClient, itf: Interface, owner: int, live: dict) -> None:
        ns = namespace_name(self.appliance, itf.vrf)
        self._ensure_ns(ns)
        tmp = f"vt{os.getpid() % 10000}x{next(_tap_ids)}"  # root-namespace name, briefly
        idx = next(_tap_ids)
        try:
            tap = dp.port_add(f"x-{itf.name}"[:31], f"net_tap{idx},iface={tmp}", vrf=0,
                              mtu=itf.mtu, rxd=EXCEPTION_DESC, txd=EXCEPTION_DESC)
        except DataplaneError as e:
            log.error("no control-namespace interface for %s: %s", itf.name, e)
            return
        mac = live[owner].mac if owner in live else itf.mac
        _ip("link", "set", "dev", tmp, "netns", ns)
        _ip("-n", ns, "link", "set", "dev", tmp, "name", itf.name, "address", mac,
            "mtu", str(itf.mtu))
        for a in itf.addresses:
            _ip("-n", ns, "addr", "add", str(a), "dev", itf.name)
        _ip("-n", ns, "link", "set", "dev", itf.name, "up")
        dp.port_set(owner, punt_port=tap)
        self.mirrors[itf.name] = Mirror(itf, ns, tap, owner, mac)

    def _update(self, m: Mirror, itf: Interface) -> None:
        _ip("-n", m.namespace, "link", "set", "dev", itf.name, "mtu", str(itf.mtu))
        if itf.mac and itf.mac != m.mac:
            _ip("-n", m.namespace, "link", "set", "dev", itf.name, "address", itf.mac)
            m.mac = itf.mac
        for a in m.interface.addresses:
            if a not in itf.addresses:
                _ip("-n", m.namespace, "addr", "del", str(a), "dev", itf.name)
        for a in itf.addresses:
            if a not in m.interface.addresses:
                _ip("-n", m.namespace, "addr", "add", str(a), "dev", itf.name)
        m.interface = itf

    def _remove(self, dp: DataplaneClient, m: Mirror, live: dict) -> None:
        try:
            if m.owner_port in live:
                dp.port_set(m.owner_port, punt_port=VR_PORT_NONE)
            if m.tap_port in live:
                dp.port_del(m.tap_port)
        except DataplaneError as e:
            log.warning("removing the control interface of %s: %s", m.interface.name, e)
        del self.mirrors[m.interface.name]

    def forget_taps(self) -> None:
        """The dataplane restarted: its TAPs (and what was on them) are gone."""
        self.mirrors.clear()

    def teardown(self) -> None:
        for ns in list(self.namespaces):
            if ns in netns.listnetns():
                _ip("netns", "del", ns)
        self.namespaces.clear()
        self.mirrors.clear()
