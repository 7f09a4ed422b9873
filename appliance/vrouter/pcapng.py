"""A pcapng writer (draft-ietf-opsawg-pcapng) for `vrouter capture`: one
interface description per router interface (named, nanosecond timestamps),
enhanced packet blocks with the direction flag, so tcpdump and Wireshark show
where and which way each packet went. scapy's writer keeps microseconds and
takes the interface and direction only from its own packet objects."""

from __future__ import annotations

import struct
from typing import BinaryIO

LINKTYPE_ETHERNET = 1
INBOUND, OUTBOUND = 1, 2  # epb_flags bits 0-1


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _option(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + _pad(value)


def _block(kind: int, body: bytes) -> bytes:
    length = 12 + len(body)
    return struct.pack("<II", kind, length) + body + struct.pack("<I", length)


class PcapNgWriter:
    def __init__(self, f: BinaryIO, application: str = "vrouter capture") -> None:
        self.f = f
        self.ifaces: dict[str, int] = {}
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
        shb += _option(4, application.encode()) + _option(0, b"")  # shb_userappl
        f.write(_block(0x0A0D0D0A, shb))

    def _iface(self, name: str, snaplen: int) -> int:
        if name not in self.ifaces:
            idb = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, snaplen)
            idb += _option(2, name.encode())                 # if_name
            idb += _option(9, bytes([9]))                    # if_tsresol: nanoseconds
            idb += _option(0, b"")
            self.f.write(_block(1, idb))
            self.ifaces[name] = len(self.ifaces)
        return self.ifaces[name]

    def write(self, data: bytes, time_ns: int, interface: str, direction: int = 0,
              original_length: int | None = None, snaplen: int = 0) -> None:
        """One packet; direction INBOUND, OUTBOUND or 0 (unknown)."""
        iid = self._iface(interface, snaplen)
        epb = struct.pack("<IIIII", iid, time_ns >> 32, time_ns & 0xFFFFFFFF, len(data),
                          original_length or len(data)) + _pad(data)
        if direction:
            epb += _option(2, struct.pack("<I", direction)) + _option(0, b"")  # epb_flags
        self.f.write(_block(6, epb))

    def flush(self) -> None:
        self.f.flush()
