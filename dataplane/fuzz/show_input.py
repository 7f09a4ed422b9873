#!/usr/bin/env python3
"""Prints a fuzz_rx input (a crash, a corpus file) record by record, with
scapy's view of each frame: show_input.py FILE..."""

from __future__ import annotations

import struct
import sys

from scapy.layers.l2 import Ether

CKSUM = ("unknown", "bad", "good", "none")


def show(data: bytes) -> None:
    off = 0
    while off + 3 <= len(data):
        flags = data[off]
        n = min(struct.unpack("!H", data[off + 1:off + 3])[0], len(data) - off - 3)
        frame = data[off + 3:off + 3 + n]
        off += 3 + n
        print(f"p{flags & 3} cksum={CKSUM[flags >> 2 & 3]} "
              f"{'same-burst ' if flags & 0x10 else ''}layout={flags >> 5} len={n}")
        print(f"  {frame.hex()}")
        try:
            print("  " + Ether(frame).show(dump=True).replace("\n", "\n  "))
        except Exception as e:  # noqa: BLE001 - any frame at all
            print(f"  (scapy: {e})")
    if off < len(data):
        print(f"trailing {len(data) - off} bytes ignored")


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"== {path}")
        with open(path, "rb") as f:
            show(f.read())
