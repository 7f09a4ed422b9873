"""Packet templates: STLPktBuilder (a scapy packet, a pcap file or raw
bytes, plus a field-engine program) and what the compiler needs to know
about the built frame: where each header and field is, which checksums
cover which bytes, where the payload is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ProfileError

MIN_FRAME = 60          # without FCS: a 64-byte Ethernet frame
MAX_FRAME = 2044        # one mbuf, one memif descriptor

#: set by the profile loader: pcap paths relative to the profile resolve here
PROFILE_DIR: list[Path] = []


def _scapy():
    from scapy import all as scapy_all  # heavy: import on first use
    return scapy_all


class STLPktBuilder:
    """TRex's packet builder: pkt is a scapy packet or a pcap file path (its
    first packet); pkt_buffer raw bytes; vm a field-engine program."""

    def __init__(self, pkt=None, pkt_buffer=None, vm=None, path_relative_to_profile=False,
                 build_raw=False, remove_fcs=True):
        if pkt is None and pkt_buffer is None:
            raise ProfileError("STLPktBuilder: give pkt (a scapy packet or pcap path) or "
                               "pkt_buffer (bytes)")
        if pkt is not None and pkt_buffer is not None:
            raise ProfileError("STLPktBuilder: pkt and pkt_buffer are exclusive")
        self.pkt = pkt
        self.pkt_buffer = pkt_buffer
        self.vm = vm
        self.path_relative_to_profile = path_relative_to_profile
        self.remove_fcs = remove_fcs

    def scapy_packet(self):
        """The template as a scapy packet (a copy: the profile's own object
        is never modified)."""
        sc = _scapy()
        if self.pkt_buffer is not None:
            data = self.pkt_buffer
            if isinstance(data, str):
                data = data.encode("latin-1")
            return sc.Ether(bytes(data))
        if isinstance(self.pkt, (str, os.PathLike)):
            return self._from_pcap(Path(self.pkt))
        if isinstance(self.pkt, sc.Packet):
            return self.pkt.copy()
        raise ProfileError(f"STLPktBuilder: pkt must be a scapy packet or a pcap path, not "
                           f"{type(self.pkt).__name__}")

    def _from_pcap(self, path: Path):
        sc = _scapy()
        candidates = [path] if path.is_absolute() else (
            [d / path for d in PROFILE_DIR] + [Path.cwd() / path])
        for p in candidates:
            if p.exists():
                try:
                    pkts = sc.rdpcap(str(p), count=1)
                except Exception as e:  # noqa: BLE001 - scapy raises many kinds
                    raise ProfileError(f"STLPktBuilder: cannot read {p}: {e}") from None
                if not pkts:
                    raise ProfileError(f"STLPktBuilder: {p} holds no packet")
                return pkts[0]
        raise ProfileError(f"STLPktBuilder: no pcap file {path} (looked in "
                           f"{', '.join(str(c.parent) for c in candidates)})")

    # a few helpers TRex's builder has and profiles call
    def get_pkt_len(self) -> int:
        return len(bytes(self.scapy_packet()))

    def get_vm_data(self):
        return self.vm


# ---- the built frame ----

@dataclass
class Header:
    name: str                     # scapy layer name: Ether, IP, UDP...
    offset: int
    length: int                   # header only
    layer: Any                    # the dissected scapy layer


@dataclass
class Checksum:
    """A 16-bit checksum at `off` over frame ranges (the generator's csum)."""

    off: int
    ranges: list[tuple[int, int]]
    udp: bool = False

    def covers(self, start: int, end: int) -> bool:
        return any(a < end and start < b for a, b in self.ranges)

    def line(self) -> str:
        return f"csum off={self.off} udp={int(self.udp)} " + " ".join(
            f"range={a}:{b}" for a, b in self.ranges)


@dataclass
class FrameInfo:
    frame: bytes
    headers: list[Header] = field(default_factory=list)
    checksums: list[Checksum] = field(default_factory=list)   # innermost first
    payload_start: int | None = None  # first byte of the innermost L4 payload / Raw
    ip_end: int | None = None         # end of the outermost IP datagram

    def header(self, name: str, index: int = 0) -> Header:
        found = [h for h in self.headers if h.name.lower() == name.lower()]
        if len(found) <= index:
            have = ", ".join(h.name for h in self.headers)
            raise ProfileError(f"offset {name!r}{':' + str(index) if index else ''}: the packet "
                               f"has no such header (it has {have})")
        return found[index]

    def offset(self, spec: Any) -> int:
        """TRex offsets: an int, 'IP', 'IP.src', 'IP:1.dst' (second IP)."""
        if isinstance(spec, bool):
            raise ProfileError(f"offset {spec!r} is not valid")
        if isinstance(spec, int):
            if not 0 <= spec < len(self.frame):
                raise ProfileError(f"offset {spec} is outside the {len(self.frame)}-byte frame")
            return spec
        if not isinstance(spec, str):
            raise ProfileError(f"offset {spec!r}: give an int or 'Layer.field'")
        m = re.match(r"^\s*([A-Za-z0-9_]+)(?::(\d+))?(?:\.([A-Za-z0-9_]+))?\s*$", spec)
        if not m:
            raise ProfileError(f"offset {spec!r}: expected 'Layer', 'Layer.field' or "
                               "'Layer:N.field'")
        h = self.header(m.group(1), int(m.group(2) or 0))
        if not m.group(3):
            return h.offset
        return h.offset + field_offset(h.layer, m.group(3), spec)


def field_offset(layer, name: str, spec: str) -> int:
    """Byte offset of a field inside its layer, walking the fields the way
    scapy builds them (bit fields add up to bytes)."""
    sc = _scapy()
    from scapy.fields import _BitField
    built = b""
    bits = 0  # pending bits of a bit-field run
    for f in layer.fields_desc:
        fld = f
        if isinstance(f, sc.ConditionalField):
            if not f._evalcond(layer):
                continue
            fld = f.fld
        if hasattr(fld, "_find_fld_pkt"):  # MultipleTypeField
            fld = fld._find_fld_pkt(layer)
        if fld.name == name:
            # A bit field inside a byte: the byte it starts in (what TRex
            # gives, e.g. for a masked write to Dot1Q.vlan).
            return len(built) + bits // 8
        val = layer.getfieldval(fld.name)
        if isinstance(fld, _BitField):
            bits += abs(fld.size)
            if bits % 8 == 0:
                built += b"\0" * (bits // 8)
                bits = 0
            continue
        if bits:
            raise ProfileError(f"offset {spec!r}: cannot follow the bit fields of "
                               f"{layer.__class__.__name__}")
        built = fld.addfield(layer, built, val)
    raise ProfileError(f"offset {spec!r}: {layer.__class__.__name__} has no field {name!r} "
                       f"(it has {', '.join(f.name for f in layer.fields_desc)})")


def set_macs(pkt, src: str | None, dst: str | None, keep_src: bool, keep_dst: bool):
    """Put the port's addresses into the first Ethernet header: src unless
    the stream keeps the packet's (mac_src_override_by_pkt), dst when the
    port has one unless the stream keeps the packet's. An address the
    packet leaves unset would make scapy resolve it (ARP on the host
    network!): it gets the port's, or a placeholder."""
    sc = _scapy()
    eth = pkt.getlayer(sc.Ether)
    if eth is None:
        return pkt
    if src and not (keep_src and "src" in eth.fields):
        eth.src = src
    elif "src" not in eth.fields:
        eth.src = "00:00:00:00:00:00"
    if dst and not (keep_dst and "dst" in eth.fields):
        eth.dst = dst
    elif "dst" not in eth.fields:
        eth.dst = "ff:ff:ff:ff:ff:ff"
    return pkt


def analyse(frame: bytes, layers: list[type] | None = None) -> FrameInfo:
    """Headers, checksums and payload of a built frame. layers: the classes
    of the packet as the profile built it (Ether, IP, UDP, Raw...): each
    header is dissected from its offset as that class, so a payload is
    never taken for a protocol the profile did not build (scapy would read
    UDP port 53's payload as DNS). Without layers, scapy's guesses."""
    sc = _scapy()
    info = FrameInfo(frame=frame)
    if layers is None:
        layers = []
        p = sc.Ether(frame)
        while p is not None and not isinstance(p, sc.NoPayload):
            layers.append(type(p))
            p = p.payload
    off = 0
    for cls in layers:
        if off >= len(frame) or cls in (sc.Padding, sc.NoPayload):
            break
        if cls is sc.Raw:
            info.payload_start = off
            break
        try:
            layer = cls(frame[off:])
            hlen = len(layer.self_build())
        except Exception as e:  # noqa: BLE001 - scapy raises anything
            raise ProfileError(f"cannot dissect the frame's {cls.__name__} header: {e}") from None
        info.headers.append(Header(cls.__name__, off, hlen, layer))
        off += hlen
    _checksums(info)
    return info


def layer_classes(pkt) -> list[type]:
    """The classes of a scapy packet's layers, outermost first."""
    sc = _scapy()
    out = []
    p = pkt
    while p is not None and not isinstance(p, sc.NoPayload):
        out.append(type(p))
        p = p.payload
    return out


_L4_CSUM = {"UDP": 6, "TCP": 16, "ICMP": 2, "ICMPv6EchoRequest": 2, "ICMPv6EchoReply": 2}


def _checksums(info: FrameInfo) -> None:
    """Every IPv4 header checksum and the checksum of the L4 header right
    after each IP header; innermost first (an inner checksum lies inside
    an outer L4 payload and must be written before the outer one)."""
    found: list[Checksum] = []
    hs = info.headers
    for i, h in enumerate(hs):
        if h.name == "IP":
            ip = h.layer
            ihl = (ip.ihl or 5) * 4
            end = h.offset + ip.len if ip.len else len(info.frame)
            if info.ip_end is None:
                info.ip_end = end
            found.append(Checksum(h.offset + 10, [(h.offset, h.offset + ihl)]))
            fragment = bool(ip.frag) or bool(int(ip.flags) & 1)
            nxt = hs[i + 1] if i + 1 < len(hs) else None
            if fragment or nxt is None or nxt.name not in _L4_CSUM:
                continue
            rng = [(nxt.offset, min(end, len(info.frame)))]
            if nxt.name in ("UDP", "TCP"):
                rng.append((h.offset + 12, h.offset + 20))   # pseudo-header addresses
            udp = nxt.name == "UDP"
            if udp and nxt.layer.chksum == 0:
                continue  # no checksum: leave it so
            found.append(Checksum(nxt.offset + _L4_CSUM[nxt.name], rng, udp))
        elif h.name == "IPv6":
            ip6 = h.layer
            end = h.offset + 40 + (ip6.plen or 0)
            if info.ip_end is None:
                info.ip_end = end
            nxt = hs[i + 1] if i + 1 < len(hs) else None
            if nxt is None or not (nxt.name in _L4_CSUM or nxt.name.startswith("ICMPv6")):
                continue
            off = _L4_CSUM.get(nxt.name, 2)
            udp = nxt.name == "UDP"
            if udp and nxt.layer.chksum == 0:
                continue
            found.append(Checksum(nxt.offset + off,
                                  [(nxt.offset, min(end, len(info.frame))),
                                   (h.offset + 8, h.offset + 40)], udp))
    # innermost first: deeper headers come later in the list
    info.checksums = list(reversed(found))
