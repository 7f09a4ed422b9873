"""Which DPDK ports the generator drives, written the short way:

    memif:/run/x.sock[,role=server][,zero-copy=yes][,rsize=10][,id=0]
                                     a memif port (client by default; the
                                     DUT is usually the server)
    af_packet:veth0[,qdisc_bypass=1] an af_packet port on a kernel interface
    tap:lg0                          a tap interface the generator creates
    pcap:rx=IN.pcap,tx=OUT.pcap      pcap files (tests)
    null                             a sink: discards what is sent
    pci:0000:00:04.0 | 0000:00:04.0  a NIC bound to a DPDK driver
    vdev:net_xxx0,key=value,...      any DPDK virtual device, as is
    loop[,zero-copy=yes][,rsize=10]  two memif ports joined inside the
                                     generator (a server that receives, a
                                     client that sends): its own ceiling

Two keys are ours, not the driver's, on any of them: dst_mac=MAC (the
destination written into every frame sent there, as TRex's port
configuration does) and line_rate=10gbps (for % rates when the driver
does not report a speed).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PortError
from .rates import Rate, parse_rate

_MAC_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", re.IGNORECASE)
_BDF_RE = re.compile(r"^([0-9a-f]{4}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$", re.IGNORECASE)
OUR_KEYS = ("dst_mac", "line_rate")


@dataclass
class PortSpec:
    """One port as the user named it; kind and the driver's arguments."""

    text: str
    kind: str                     # memif af_packet tap pcap null pci vdev loop
    target: str = ""              # socket path, interface, BDF, vdev name
    args: dict[str, str] = field(default_factory=dict)
    dst_mac: str | None = None
    line_rate: Rate | None = None

    @property
    def zero_copy(self) -> bool:
        return self.args.get("zero-copy", "no") in ("yes", "1", "true")

    @property
    def is_memif_client(self) -> bool:
        return self.kind == "memif" and self.args.get("role", "client") in ("client", "slave")


def parse_port(text: str) -> PortSpec:
    s = text.strip()
    if not s:
        raise PortError("empty port")
    if s == "loop" or s.startswith("loop,"):
        spec = PortSpec(s, "loop")
        for item in filter(None, s[5:].split(",")):
            k, eq, v = item.partition("=")
            if not eq or k not in ("rsize", "zero-copy"):
                raise PortError(f"port {text!r}: loop takes rsize=N and zero-copy=yes")
            spec.args[k] = v
        return spec
    if _BDF_RE.match(s):
        return PortSpec(s, "pci", s)
    m = re.match(r"^([A-Za-z_-]+)([:,]|$)(.*)$", s)
    kind, sep, rest = (m.group(1), m.group(2), m.group(3)) if m else (s, "", "")
    kind = kind.lower().replace("-", "_")
    if sep == "," and kind in ("null", "pcap"):
        sep = ":"  # null,dst_mac=...: options without a target
    if kind not in ("memif", "af_packet", "tap", "pcap", "null", "pci", "vdev"):
        raise PortError(f"port {text!r}: unknown kind {kind!r} (memif:SOCKET, af_packet:IFACE, "
                        "tap:NAME, pcap:rx=..,tx=.., null, pci:BDF, vdev:DEVARGS, loop)")
    if kind == "pci":
        if not _BDF_RE.match(rest):
            raise PortError(f"port {text!r}: {rest!r} is not a PCI address (0000:00:04.0)")
        return PortSpec(s, "pci", rest)
    if kind == "vdev":
        if not rest.startswith("net_"):
            raise PortError(f"port {text!r}: a vdev starts with the driver name (net_...)")
        name, _, argstr = rest.partition(",")
        spec = PortSpec(s, "vdev", name)
    else:
        if kind in ("pcap", "null"):
            target, argstr = "", rest
        else:
            target, _, argstr = rest.partition(",")
            if not target:
                raise PortError(f"port {text!r}: {kind} needs a "
                                f"{'socket path' if kind == 'memif' else 'name'}")
        spec = PortSpec(s, kind, target)
    for item in filter(None, argstr.split(",")):
        k, eq, v = item.partition("=")
        if not eq:
            raise PortError(f"port {text!r}: {item!r} is not key=value")
        spec.args[k.strip()] = v.strip()
    if "dst_mac" in spec.args:
        mac = spec.args.pop("dst_mac")
        if not _MAC_RE.match(mac):
            raise PortError(f"port {text!r}: dst_mac {mac!r} is not a MAC address")
        spec.dst_mac = mac.lower()
    if "line_rate" in spec.args:
        rate = parse_rate(spec.args.pop("line_rate"))
        if rate.kind not in ("bps_l1", "bps_l2"):
            raise PortError(f"port {text!r}: line_rate is in bits per second (10gbps)")
        spec.line_rate = Rate("bps_l1", rate.value)
    if spec.kind == "pcap" and not ({"rx", "tx", "rx_pcap", "tx_pcap"} & spec.args.keys()):
        raise PortError(f"port {text!r}: pcap needs rx=FILE and/or tx=FILE")
    if spec.kind == "memif" and spec.args.get("role", "client") not in (
            "client", "server", "slave", "master"):
        raise PortError(f"port {text!r}: memif role is client or server")
    return spec


@dataclass
class EalPort:
    """One DPDK port of the generator process: how it is created and which
    user port (and side of a loop) it belongs to."""

    spec: PortSpec
    name: str                     # the ethdev name DPDK will give it
    vdev: str | None              # --vdev argument, or None (PCI: -a)
    side: str = ""                # loop: "rx" (server) or "tx" (client)


def eal_ports(specs: list[PortSpec], workdir: Path) -> list[EalPort]:
    """The DPDK devices for the user's ports, in port order. memif sockets
    of a loop go into workdir."""
    out: list[EalPort] = []
    counters: dict[str, int] = {}

    def next_name(driver: str) -> str:
        n = counters.get(driver, 0)
        counters[driver] = n + 1
        return f"{driver}{n}"

    for i, spec in enumerate(specs):
        if spec.kind == "loop":
            sock = workdir / f"loop{i}.sock"
            # The server must be probed first: memif keys sockets by path and
            # the first port on a path decides whether it listens.
            rsize = spec.args.get("rsize", "10")
            for side, role in (("rx", "server"), ("tx", "client")):
                name = next_name("net_memif")
                zc = ",zero-copy=yes" if side == "tx" and spec.zero_copy else ""
                out.append(EalPort(spec, name, f"{name},role={role},id=0,socket={sock},"
                                   f"socket-abstract=no,rsize={rsize}{zc}", side))
            continue
        if spec.kind == "pci":
            out.append(EalPort(spec, spec.target, None))
            continue
        if spec.kind == "memif":
            name = next_name("net_memif")
            args = {"role": "client", "id": "0", "socket-abstract": "no", **spec.args,
                    "socket": spec.target}
        elif spec.kind == "af_packet":
            name = next_name("net_af_packet")
            args = {"iface": spec.target, **spec.args}
        elif spec.kind == "tap":
            name = next_name("net_tap")
            args = {"iface": spec.target, **spec.args}
        elif spec.kind == "pcap":
            name = next_name("net_pcap")
            args = {}
            for k, v in spec.args.items():
                args[{"rx": "rx_pcap", "tx": "tx_pcap"}.get(k, k)] = v
        elif spec.kind == "null":
            name = next_name("net_null")
            args = dict(spec.args)
        else:  # vdev
            name = spec.target
            if name in counters:
                raise PortError(f"port {spec.text!r}: two vdevs named {name}")
            counters[name] = 1
            args = dict(spec.args)
        argstr = ",".join(f"{k}={v}" for k, v in args.items())
        out.append(EalPort(spec, name, name + ("," + argstr if argstr else "")))
    return out


def check_port(spec: PortSpec) -> None:
    """What can be checked before starting anything: the interface, the
    socket, the device exists. Raises PortError saying what is missing."""
    if spec.kind == "af_packet":
        if not Path(f"/sys/class/net/{spec.target}").exists():
            raise PortError(f"port {spec.text!r}: no network interface {spec.target!r} "
                            "(ip link show)")
    elif spec.kind == "tap":
        if len(spec.target) > 15:
            raise PortError(f"port {spec.text!r}: interface names are at most 15 characters")
    elif spec.kind == "memif" and spec.is_memif_client:
        p = Path(spec.target)
        try:
            ok = stat.S_ISSOCK(p.stat().st_mode)
        except OSError:
            ok = False
        if not ok:
            raise PortError(f"port {spec.text!r}: no memif server listening at {p} (start the "
                            "device under test first, or use role=server)")
    elif spec.kind == "pci":
        bdf = spec.target if spec.target.count(":") == 2 else "0000:" + spec.target
        if not Path(f"/sys/bus/pci/devices/{bdf}").exists():
            raise PortError(f"port {spec.text!r}: no PCI device {bdf}")
    elif spec.kind == "pcap":
        rx = spec.args.get("rx") or spec.args.get("rx_pcap")
        if rx and not os.path.exists(rx):
            raise PortError(f"port {spec.text!r}: no file {rx}")
