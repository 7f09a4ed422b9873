"""Output: aligned tables and key/value blocks for people, JSON for programs.

JSON is the API's messages in the proto3 JSON mapping with the .proto field
names (as grpcurl prints them): one document per command, one object per
line for streams.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from google.protobuf import json_format


def to_dict(msg) -> dict:
    kw = {"preserving_proto_field_name": True, "always_print_fields_with_no_presence": True}
    try:
        return json_format.MessageToDict(msg, unquote_int64_if_possible=True, **kw)
    except TypeError:  # older protobuf
        return json_format.MessageToDict(msg, **kw)


one_per_line = False  # set while a --batch runs: a document per command, a line each


def emit_json(obj: Any, stream: bool = False) -> None:
    """A whole document (indented), or one line of a stream."""
    compact = stream or one_per_line
    print(json.dumps(obj) if compact else json.dumps(obj, indent=2), flush=compact)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "") -> None:
    """Columns two spaces apart, the last one not padded. `empty`: printed
    instead when there are no rows (nothing if "")."""
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    if not rows:
        if empty:
            print(empty)
        return
    widths = [max(len(str(h)), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for r in [list(headers), *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def kv(pairs: Iterable[tuple[str, Any]]) -> None:
    """`key  value` lines, values aligned."""
    pairs = [(k, v) for k, v in pairs if v not in (None, "")]
    width = max((len(k) for k, _ in pairs), default=0)
    for k, v in pairs:
        print(f"{k.ljust(width)}  {v}")


def color_enabled() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def red(text: str) -> str:
    return f"\x1b[1;31m{text}\x1b[0m" if color_enabled() else text


def short_enum(enum_type, value: int) -> str:
    """ROUTE_SOURCE_STATIC -> "static"."""
    name = enum_type.Name(value)
    parts = name.split("_")
    prefix = os.path.commonprefix([n.split("_") for n in enum_type.DESCRIPTOR.values_by_name])
    return "_".join(parts[len(prefix):]).lower()
