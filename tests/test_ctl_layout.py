"""messages.py must match vr_ctl.h as the compiler laid it out in the dataplane.

Reads the DWARF of the built dataplane (dataplane/build/vrouter-dataplane, or
$VROUTER_DATAPLANE) and compares every struct in messages.STRUCTS: byte size,
member names, offsets and sizes, and the flexible array member the client
encodes by hand. Enums are compared with their DWARF enumerators; #define
constants, which DWARF does not carry, with the header text.

Any ELF object built with -g that uses every struct will do, e.g. to check
messages.py without DPDK: a C file declaring one global of each struct and
enum, `gcc -g -c -I dataplane/include stub.c -o /tmp/stub.o`, then run with
VROUTER_DATAPLANE=/tmp/stub.o.
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from vrouter.dataplane import messages

REPO = Path(__file__).resolve().parents[1]
HEADER = REPO / "dataplane" / "include" / "vr_ctl.h"


@dataclass(frozen=True)
class Member:
    name: str
    offset: int
    size: int | None  # None: flexible array member
    elem_size: int  # arrays: one element of the first dimension


@dataclass(frozen=True)
class Struct:
    size: int
    members: tuple[Member, ...]
    from_header: bool  # declared in vr_ctl.h


@dataclass
class Dwarf:
    structs: dict[str, set[Struct]]  # a set: each CU has its copy, they must agree
    enums: dict[str, dict[str, int]]


def _binary() -> Path:
    return Path(os.environ.get("VROUTER_DATAPLANE") or REPO / "dataplane/build/vrouter-dataplane")


def _strip(die):
    while die.tag in ("DW_TAG_typedef", "DW_TAG_const_type", "DW_TAG_volatile_type"):
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def _type_size(die) -> tuple[int | None, int]:
    """(total size or None if flexible, size of one element of the first dimension)."""
    die = _strip(die)
    if die.tag != "DW_TAG_array_type":
        return die.attributes["DW_AT_byte_size"].value, die.attributes["DW_AT_byte_size"].value
    dims: list[int | None] = []
    for sub in die.iter_children():
        attrs = sub.attributes
        if "DW_AT_count" in attrs:
            dims.append(attrs["DW_AT_count"].value)
        elif "DW_AT_upper_bound" in attrs and attrs["DW_AT_upper_bound"].value not in (
            -1, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF,  # old compilers' way to say "unknown"
        ):
            dims.append(attrs["DW_AT_upper_bound"].value + 1)
        else:
            dims.append(None)
    elem = _type_size(die.get_DIE_from_attribute("DW_AT_type"))[0]
    for d in dims[1:]:
        elem *= d
    return (None if dims[0] is None else dims[0] * elem), elem


def _offset(member) -> int:
    loc = member.attributes["DW_AT_data_member_location"].value
    if isinstance(loc, int):
        return loc
    assert loc[0] == 0x23, f"unexpected member location {loc}"  # DW_OP_plus_uconst ULEB128
    value = 0
    for shift, byte in enumerate(loc[1:]):
        value |= (byte & 0x7F) << (7 * shift)
    return value


def _decl_file(dwarf, cu, die, cache: dict) -> str:
    if "DW_AT_decl_file" not in die.attributes:
        return "?"
    if cu.cu_offset not in cache:
        lp = dwarf.line_program_for_CU(cu)
        cache[cu.cu_offset] = (lp.header.version, [f.name for f in lp.header.file_entry])
    version, files = cache[cu.cu_offset]
    index = die.attributes["DW_AT_decl_file"].value
    index = index if version >= 5 else index - 1  # DWARF 5 counts from 0
    return files[index].decode() if 0 <= index < len(files) else "?"


@functools.cache
def _load(path: Path) -> Dwarf:
    structs: dict[str, set[Struct]] = {}
    enums: dict[str, dict[str, int]] = {}
    files: dict = {}
    with open(path, "rb") as f:
        elf = ELFFile(f)
        if not elf.has_dwarf_info() or elf.get_section_by_name(".debug_info") is None:
            pytest.fail(f"{path} has no DWARF: build the dataplane with -g (not stripped)")
        dwarf = elf.get_dwarf_info()
        for cu in dwarf.iter_CUs():
            # File-scope types are children of the CU: no need to walk function bodies.
            for die in cu.get_top_DIE().iter_children():
                name_attr = die.attributes.get("DW_AT_name")
                if name_attr is None or "DW_AT_declaration" in die.attributes:
                    continue
                name = name_attr.value.decode()
                if die.tag == "DW_TAG_structure_type" and name.startswith("vr_"):
                    members = tuple(
                        Member(c.attributes["DW_AT_name"].value.decode(), _offset(c),
                               *_type_size(c.get_DIE_from_attribute("DW_AT_type")))
                        for c in die.iter_children() if c.tag == "DW_TAG_member"
                    )
                    header = _decl_file(dwarf, cu, die, files).endswith("vr_ctl.h")
                    structs.setdefault(name, set()).add(
                        Struct(die.attributes["DW_AT_byte_size"].value, members, header))
                elif die.tag == "DW_TAG_enumeration_type" and name in messages.ENUMS:
                    enums[name] = {
                        e.attributes["DW_AT_name"].value.decode():
                            e.attributes["DW_AT_const_value"].value
                        for e in die.iter_children() if e.tag == "DW_TAG_enumerator"
                    }
    return Dwarf(structs, enums)


def dwarf() -> Dwarf:
    """Called by each test (not a fixture) so that a missing binary FAILS, not errors/skips."""
    path = _binary()
    if not path.is_file():
        pytest.fail(
            f"dataplane binary {path} not found: build the dataplane first "
            f"(dataplane/build/vrouter-dataplane) or point VROUTER_DATAPLANE at it"
        )
    return _load(path)


def dwarf_struct(name: str) -> Struct:
    found = dwarf().structs.get(name)
    if not found:
        pytest.fail(f"struct {name} is not in the DWARF of {_binary()}: the dataplane must use it")
    assert len(found) == 1, f"struct {name} has different layouts in different CUs: {found}"
    return next(iter(found))


def ctypes_members(cls: type[ctypes.Structure]) -> list[Member]:
    out = []
    for name, ctype in cls._fields_:
        field = getattr(cls, name)
        elem = ctypes.sizeof(ctype._type_) if issubclass(ctype, ctypes.Array) else field.size
        out.append(Member(name, field.offset, field.size, elem))
    return out


@pytest.mark.parametrize("name", sorted(messages.STRUCTS))
def test_struct_layout(name: str) -> None:
    cls = messages.STRUCTS[name]
    st = dwarf_struct(name)
    c_fixed = [mb for mb in st.members if mb.size is not None]
    c_flex = [mb for mb in st.members if mb.size is None]

    assert [mb.name for mb in c_fixed] == [mb.name for mb in ctypes_members(cls)]
    assert c_fixed == ctypes_members(cls)
    assert ctypes.sizeof(cls) == st.size, f"sizeof(struct {name})"

    if name in messages.FLEXIBLE:
        fname, elem = messages.FLEXIBLE[name]
        assert len(c_flex) == 1, f"struct {name}: expected flexible member {fname}"
        flex = c_flex[0]
        assert (flex.name, flex.elem_size) == (fname, ctypes.sizeof(elem))
        # The client appends the items right after the ctypes struct.
        assert flex.offset == ctypes.sizeof(cls), f"{name}.{fname} offset"
    else:
        assert not c_flex, f"struct {name} has a flexible member missing from FLEXIBLE"


def test_every_header_struct_is_mirrored() -> None:
    in_header = set(re.findall(r"^struct (vr_\w+)\s*\{", HEADER.read_text(), re.M))
    in_dwarf = {n for n, layouts in dwarf().structs.items() if any(s.from_header for s in layouts)}
    assert in_dwarf <= in_header, "DWARF names vr_ctl.h structs the header text parse missed"
    assert sorted(in_header - set(messages.STRUCTS)) == [], "structs without a ctypes mirror"
    assert sorted(set(messages.STRUCTS) - in_header) == [], "mirrors of structs not in vr_ctl.h"


@pytest.mark.parametrize("name", sorted(messages.ENUMS))
def test_enum_values(name: str) -> None:
    enum, prefix = messages.ENUMS[name]
    values = dwarf().enums.get(name)
    if values is None:
        pytest.fail(f"enum {name} is not in the DWARF of {_binary()}: the dataplane must use it")
    assert {prefix + e.name: e.value for e in enum} == values


def test_defines_match_header() -> None:
    # DWARF has no macros (without -g3): compare with the header text instead.
    defines = re.findall(r"^#define (VR_\w+)\s+([^/\n]+)", HEADER.read_text(), re.M)
    defines = [(n, v.strip()) for n, v in defines if n != "VR_CTL_H" and v.strip()]
    assert defines, "no #define parsed from vr_ctl.h"
    for name, expr in defines:
        py_expr = re.sub(r"(?<=[0-9a-fA-F])[uUlL]+\b", "", expr)
        assert re.fullmatch(r"[0-9a-fA-Fx()*<>+|\- ]+", py_expr), f"{name}: cannot evaluate {expr}"
        assert getattr(messages, name, None) == eval(py_expr, {"__builtins__": {}}), name
