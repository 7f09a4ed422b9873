"""Rates as TRex users write them, and the arithmetic between packets per
second and bits per second.

A frame's length here is the Ethernet frame without its 4-byte FCS (what
the profile builds: a "64-byte packet" is a 60-byte frame). On the wire it
costs 4 bytes more at L2 (the FCS, as TRex counts bps_L2) and 24 bytes
more at L1 (plus 8 bytes of preamble and start delimiter and the 12-byte
inter-frame gap).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import RateError

FCS = 4
L1_OVERHEAD = FCS + 20  # FCS, preamble + SFD (8), inter-frame gap (12)

_UNITS = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9, "t": 1e12}


def l2_bits(frame_len: int) -> int:
    """Bits one frame takes at L2 (with FCS)."""
    return (frame_len + FCS) * 8


def l1_bits(frame_len: int) -> int:
    """Bits one frame takes on the wire (with FCS, preamble and gap)."""
    return (frame_len + L1_OVERHEAD) * 8


@dataclass(frozen=True)
class Rate:
    """A rate target: kind is one of
    pps     packets per second (value)
    bps_l2  bits per second at L2 (value)
    bps_l1  bits per second at L1 (value)
    percent percent of the port's line rate at L1 (value, 0..100)
    factor  multiply the profile's own stream rates (value)
    max     as fast as the ports take them (value unused)
    """

    kind: str
    value: float = 0.0

    def __str__(self) -> str:
        if self.kind == "max":
            return "max"
        if self.kind == "factor":
            return f"{self.value:g}x"
        if self.kind == "percent":
            return f"{self.value:g}%"
        return {"pps": format_pps, "bps_l2": format_bps, "bps_l1": _fmt_l1}[self.kind](self.value)


def _fmt_l1(v: float) -> str:
    return format_bps(v) + "l1"


def format_pps(v: float) -> str:
    for unit, scale in (("mpps", 1e6), ("kpps", 1e3)):
        if v >= scale:
            return f"{v / scale:.6g}{unit}"
    return f"{v:.6g}pps"


def format_bps(v: float) -> str:
    for unit, scale in (("gbps", 1e9), ("mbps", 1e6), ("kbps", 1e3)):
        if v >= scale:
            return f"{v / scale:.6g}{unit}"
    return f"{v:.6g}bps"


_RATE_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z%][a-z0-9%]*|)\s*$")


def parse_rate(text: str | float | Rate) -> Rate:
    """'1mpps', '500kpps', '10gbps' (L2), '10gbpsl1' (L1), '50%', '2x',
    'max'. A bare number is refused: TRex reads it as a multiplier and
    most people as pps, so we make the unit explicit."""
    if isinstance(text, Rate):
        return text
    if isinstance(text, (int, float)):
        raise RateError(f"rate {text!r}: give a unit (e.g. {text}pps, {text}x, {text}%)")
    s = str(text).strip().lower()
    if s in ("max", "line"):
        return Rate("max") if s == "max" else Rate("percent", 100.0)
    m = _RATE_RE.match(s)
    if not m:
        raise RateError(f"rate {text!r}: not a rate (examples: 1mpps, 500kpps, 10gbps, "
                        "10gbpsl1, 50%, 2x, max)")
    value, unit = float(m.group(1)), m.group(2)
    if unit == "":
        raise RateError(f"rate {text!r}: give a unit (pps, kpps, mpps, bps, gbps, gbpsl1, "
                        "%, x)")
    if unit == "%":
        kind, scale = "percent", 1.0
    elif unit == "x":
        kind, scale = "factor", 1.0
    elif unit.endswith("pps") and unit[:-3] in _UNITS:
        kind, scale = "pps", _UNITS[unit[:-3]]
    elif unit.endswith("bpsl1") and unit[:-5] in _UNITS:
        kind, scale = "bps_l1", _UNITS[unit[:-5]]
    elif unit.endswith("bpsl2") and unit[:-5] in _UNITS:
        kind, scale = "bps_l2", _UNITS[unit[:-5]]
    elif unit.endswith("bps") and unit[:-3] in _UNITS:
        kind, scale = "bps_l2", _UNITS[unit[:-3]]
    else:
        raise RateError(f"rate {text!r}: unknown unit {unit!r} (pps, kpps, mpps, bps, kbps, "
                        "mbps, gbps, gbpsl1, %, x)")
    value *= scale
    if value <= 0:
        raise RateError(f"rate {text!r}: must be positive")
    if kind == "percent" and value > 100:
        raise RateError(f"rate {text!r}: more than 100% of the line rate is impossible")
    return Rate(kind, value)


def parse_count(text: str | int) -> int:
    """'1000', '10k', '2m', '1e6' -> an integer count."""
    if isinstance(text, int):
        return text
    s = str(text).strip().lower()
    mult = 1
    if s and s[-1] in "kmg":
        mult = {"k": 1000, "m": 1000_000, "g": 1000_000_000}[s[-1]]
        s = s[:-1]
    try:
        v = float(s) * mult
    except ValueError:
        raise RateError(f"{text!r} is not a count (e.g. 1000, 10k, 2m)") from None
    if v < 0 or v != int(v):
        raise RateError(f"{text!r} is not a whole, non-negative count")
    return int(v)
