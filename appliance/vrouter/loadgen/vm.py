"""The field engine, TRex style: variables that change per packet and
instructions that write them into the frame.

The classes take the arguments TRex's STL API documents (STLVmFlowVar,
STLVmWrFlowVar, STLVmWrMaskFlowVar, STLVmFixIpv4, STLVmFixChecksumHw,
STLVmTupleGen, STLVmFlowVarRepeatableRandom, STLScVmRaw and the STLVM
builder), so profiles written for TRex compile here unchanged. compile_vm()
turns a program into the generator's instruction list (loadgen/src/fe.h);
FieldEngineSim runs the same semantics in Python, for tests and for
`vrouter loadgen show`.

Semantics (the C side is the reference; these are the same rules):
- Every variable is updated once per packet, in order; the first packet
  gets the initial values.
- inc/dec move by `step` and wrap modulo the range [min, max]: with
  min=0, max=9, step=3 the values are 0 3 6 9 2 5 8 1 4 7 0 ...; the
  initial value is init_value, else min (inc) or max (dec).
- random draws uniformly from [min, max] with xorshift64*, from a seed
  (the stream's random_seed mixed with the variable's index; a fixed seed
  gives the same sequence every run).
- value_list: the variable walks the list (inc/dec/random over indexes).
- A variable with a "carry" source steps only when that source wrapped in
  the same packet (TRex's next_var, and the port half of a tuple
  generator); a limit restarts the sequence every `limit` packets (tuple
  limit_flows, repeatable random).
- Writes store value + add_val, big-endian unless is_big=False, the
  variable's size (masked writes: pkt_cast_size, TRex's mask/shift).
- Checksums: every IPv4 header checksum and L4 (UDP, TCP, ICMP, ICMPv6)
  checksum covering a byte that varies is recomputed for every packet,
  whether or not the program asks with STLVmFixIpv4 (so the signature the
  generator writes into the payload never leaves a bad UDP checksum).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from .errors import ProfileError

MASK64 = (1 << 64) - 1
MAX_VARS = 16
MAX_WRITES = 32
MAX_LIST = 65536


def _num(value: Any, what: str) -> int:
    """An integer, or an IPv4 address as a string (TRex accepts both)."""
    if isinstance(value, bool):
        raise ProfileError(f"{what}: {value!r} is not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(ipaddress.IPv4Address(value))
        except ValueError:
            pass
        try:
            return int(value, 0)
        except ValueError:
            raise ProfileError(f"{what}: {value!r} is neither a number nor an IPv4 address") \
                from None
    raise ProfileError(f"{what}: {value!r} is not a number")


# ---- instruction classes (TRex names and arguments) ----

class CTRexVmDescBase:
    """Base of every field-engine instruction."""


class STLVmFlowVar(CTRexVmDescBase):
    def __init__(self, name, init_value=None, min_value=0, max_value=255, size=4, step=1,
                 op="inc", value_list=None, next_var=None, split_to_cores=True):
        if not isinstance(name, str) or not name:
            raise ProfileError(f"STLVmFlowVar: name must be a non-empty string, not {name!r}")
        self.name = name
        self.size = size
        self.op = op
        self.step = step
        self.init_value = init_value
        self.min_value = min_value
        self.max_value = max_value
        self.value_list = value_list
        self.next_var = next_var
        if size not in (1, 2, 4, 8):
            raise ProfileError(f"flow var {name!r}: size {size!r} is not 1, 2, 4 or 8")
        if op not in ("inc", "dec", "random"):
            raise ProfileError(f"flow var {name!r}: op {op!r} is not inc, dec or random")


class STLVmFlowVarRepeatableRandom(CTRexVmDescBase):
    def __init__(self, name, size=4, min_value=0, max_value=None, seed=None, limit=100):
        self.name = name
        self.size = size
        self.min_value = min_value
        self.max_value = max_value
        self.seed = seed
        self.limit = limit
        if size not in (1, 2, 4, 8):
            raise ProfileError(f"flow var {name!r}: size {size!r} is not 1, 2, 4 or 8")


class STLVmTupleGen(CTRexVmDescBase):
    """Two variables, NAME.ip and NAME.port: the address moves first; the
    port moves each time the address wraps; after limit_flows packets both
    start over."""

    def __init__(self, name, ip_min="0.0.0.1", ip_max="0.0.0.10", port_min=1025,
                 port_max=65535, limit_flows=100000, flags=0):
        self.name = name
        self.ip_min = ip_min
        self.ip_max = ip_max
        self.port_min = port_min
        self.port_max = port_max
        self.limit_flows = limit_flows
        self.flags = flags


class STLVmWrFlowVar(CTRexVmDescBase):
    def __init__(self, fv_name, pkt_offset, offset_fixup=0, add_val=0, is_big=True):
        self.fv_name = fv_name
        self.pkt_offset = pkt_offset
        self.offset_fixup = offset_fixup
        self.add_val = add_val
        self.is_big = is_big


class STLVmWrMaskFlowVar(CTRexVmDescBase):
    def __init__(self, fv_name, pkt_offset, pkt_cast_size=1, mask=0xff, shift=0, add_value=0,
                 offset_fixup=0, is_big=True):
        self.fv_name = fv_name
        self.pkt_offset = pkt_offset
        self.pkt_cast_size = pkt_cast_size
        self.mask = mask
        self.shift = shift
        self.add_value = add_value
        self.offset_fixup = offset_fixup
        self.is_big = is_big


class STLVmFixIpv4(CTRexVmDescBase):
    """Accepted for compatibility: checksums over varying bytes are always
    fixed (see the module docstring)."""

    def __init__(self, offset):
        self.offset = offset


class STLVmFixChecksumHw(CTRexVmDescBase):
    def __init__(self, l3_offset, l4_offset, l4_type=None):
        self.l3_offset = l3_offset
        self.l4_offset = l4_offset
        self.l4_type = l4_type


class STLVmTrimPktSize(CTRexVmDescBase):
    def __init__(self, fv_name):
        self.fv_name = fv_name


class STLScVmRaw:
    """A field-engine program: a list of instructions."""

    def __init__(self, list_of_commands=None, cache_size=None, split_by_field=None):
        self.commands = list(list_of_commands or [])
        self.cache_size = cache_size
        self.split_by_field = split_by_field


class STLVM(STLScVmRaw):
    """The builder form: vm = STLVM(); vm.var(...); vm.write(...)."""

    def __init__(self):
        super().__init__()

    def var(self, name, min_value, max_value, size, op, step=1, init_value=None,
            value_list=None, next_var=None, split_to_cores=True):
        self.commands.append(STLVmFlowVar(name, init_value, min_value, max_value, size, step,
                                          op, value_list, next_var, split_to_cores))

    def repeatable_random_var(self, fv_name, size, min_value, max_value, limit, seed=0):
        self.commands.append(STLVmFlowVarRepeatableRandom(fv_name, size, min_value, max_value,
                                                          seed, limit))

    def tuple_var(self, name, ip_min, ip_max, port_min, port_max, limit_flows=0, flags=0):
        self.commands.append(STLVmTupleGen(name, ip_min, ip_max, port_min, port_max,
                                           limit_flows or 100000, flags))

    def write(self, fv_name, pkt_offset, offset_fixup=0, add_val=0, byte_order="big"):
        self.commands.append(STLVmWrFlowVar(fv_name, pkt_offset, offset_fixup, add_val,
                                            byte_order == "big"))

    def write_mask(self, fv_name, pkt_offset, pkt_cast_size, mask, shift=0, add_value=0,
                   offset_fixup=0, byte_order="big"):
        self.commands.append(STLVmWrMaskFlowVar(fv_name, pkt_offset, pkt_cast_size, mask,
                                                shift, add_value, offset_fixup,
                                                byte_order == "big"))

    def fix_chksum(self, offset="IP"):
        self.commands.append(STLVmFixIpv4(offset))

    def fix_chksum_hw(self, l3_offset, l4_offset, l4_type):
        self.commands.append(STLVmFixChecksumHw(l3_offset, l4_offset, l4_type))

    def trim(self, fv_name):
        self.commands.append(STLVmTrimPktSize(fv_name))

    def set_cached(self, size):
        self.cache_size = size


# TRex's older names for the same classes
CTRexScRaw = STLScVmRaw
CTRexVmDescFlowVar = STLVmFlowVar
CTRexVmDescWrFlowVar = STLVmWrFlowVar
CTRexVmDescWrMaskFlowVar = STLVmWrMaskFlowVar
CTRexVmDescFixIpv4 = STLVmFixIpv4
CTRexVmDescTupleGen = STLVmTupleGen
CTRexVmDescTrimPktSize = STLVmTrimPktSize
CTRexVmDescChecksumHw = STLVmFixChecksumHw


# ---- compiled form ----

@dataclass
class EngineVar:
    name: str
    size: int
    op: str                       # inc | dec | rand
    min: int
    max: int
    step: int = 1
    init: int = 0
    seed: int = 0
    limit: int = 0
    carry: int = -1
    values: list[int] | None = None

    def line(self) -> str:
        parts = [f"var size={self.size} op={self.op} min={self.min} max={self.max} "
                 f"step={self.step} init={self.init}"]
        if self.op == "rand":
            parts.append(f"seed={self.seed}")
        if self.limit:
            parts.append(f"limit={self.limit}")
        if self.carry >= 0:
            parts.append(f"carry={self.carry}")
        if self.values is not None:
            parts.append("list=" + ",".join(str(v) for v in self.values))
        return " ".join(parts)


@dataclass
class EngineWrite:
    var: int
    off: int
    size: int
    add: int = 0
    big: bool = True
    masked: bool = False
    mask: int = 0
    shift: int = 0

    def line(self) -> str:
        if self.masked:
            return (f"wmask var={self.var} off={self.off} size={self.size} mask={self.mask} "
                    f"shift={self.shift} add={self.add} big={int(self.big)}")
        return (f"write var={self.var} off={self.off} size={self.size} add={self.add} "
                f"big={int(self.big)}")


@dataclass
class CompiledVm:
    vars: list[EngineVar] = field(default_factory=list)
    writes: list[EngineWrite] = field(default_factory=list)
    fix_requested: bool = False   # the program had STLVmFixIpv4 / fix_chksum_hw

    def dirty_ranges(self) -> list[tuple[int, int]]:
        return [(w.off, w.off + w.size) for w in self.writes]


def splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def var_seed(stream_seed: int, index: int) -> int:
    """The PRNG seed of a stream's index-th variable: never 0."""
    return splitmix64((stream_seed + index * 0x632BE59BD9B4E019) & MASK64) or 1


def _commands(vm: Any) -> list:
    if vm is None:
        return []
    if isinstance(vm, STLScVmRaw):
        return list(vm.commands)
    if isinstance(vm, (list, tuple)):
        return list(vm)
    if isinstance(vm, CTRexVmDescBase):
        return [vm]
    raise ProfileError(f"vm: expected STLScVmRaw, STLVM or a list of instructions, not "
                       f"{type(vm).__name__}")


def compile_vm(vm: Any, resolve_offset, frame_len: int, stream_seed: int) -> CompiledVm:
    """vm: a program. resolve_offset(offset) -> byte offset for 'IP.src'-like
    strings (ints pass through). Raises ProfileError naming the instruction."""
    out = CompiledVm()
    index: dict[str, int] = {}
    sizes: dict[str, int] = {}
    pending_next: list[tuple[str, str]] = []
    cmds = _commands(vm)

    def add_var(v: EngineVar) -> None:
        if v.name in index:
            raise ProfileError(f"flow var {v.name!r} defined twice")
        if len(out.vars) == MAX_VARS:
            raise ProfileError(f"more than {MAX_VARS} flow variables in one stream")
        index[v.name] = len(out.vars)
        sizes[v.name] = v.size
        out.vars.append(v)

    for cmd in cmds:
        if isinstance(cmd, STLVmFlowVar):
            add_var(_flow_var(cmd, stream_seed, len(out.vars)))
            if cmd.next_var:
                pending_next.append((cmd.name, cmd.next_var))
        elif isinstance(cmd, STLVmFlowVarRepeatableRandom):
            size = cmd.size
            lo = _num(cmd.min_value, f"flow var {cmd.name!r} min_value")
            hi = (1 << (8 * size)) - 1 if cmd.max_value is None else \
                _num(cmd.max_value, f"flow var {cmd.name!r} max_value")
            _check_range(cmd.name, lo, hi, size)
            if not isinstance(cmd.limit, int) or cmd.limit < 1:
                raise ProfileError(f"flow var {cmd.name!r}: limit must be a positive integer")
            seed = cmd.seed if cmd.seed else var_seed(stream_seed, len(out.vars))
            add_var(EngineVar(cmd.name, size, "rand", lo, hi, seed=(seed & MASK64) or 1,
                              limit=cmd.limit))
        elif isinstance(cmd, STLVmTupleGen):
            ip_lo = _num(cmd.ip_min, f"tuple {cmd.name!r} ip_min")
            ip_hi = _num(cmd.ip_max, f"tuple {cmd.name!r} ip_max")
            _check_range(f"{cmd.name}.ip", ip_lo, ip_hi, 4)
            _check_range(f"{cmd.name}.port", cmd.port_min, cmd.port_max, 2)
            if not isinstance(cmd.limit_flows, int) or cmd.limit_flows < 1:
                raise ProfileError(f"tuple {cmd.name!r}: limit_flows must be a positive integer")
            add_var(EngineVar(f"{cmd.name}.ip", 4, "inc", ip_lo, ip_hi, 1, ip_lo,
                              limit=cmd.limit_flows))
            add_var(EngineVar(f"{cmd.name}.port", 2, "inc", cmd.port_min, cmd.port_max, 1,
                              cmd.port_min, carry=index[f"{cmd.name}.ip"]))
        elif isinstance(cmd, (STLVmWrFlowVar, STLVmWrMaskFlowVar)):
            if cmd.fv_name not in index:
                raise ProfileError(f"write of {cmd.fv_name!r}: no flow var by that name "
                                   "(define it before writing it)")
            off = resolve_offset(cmd.pkt_offset) + int(cmd.offset_fixup or 0)
            if isinstance(cmd, STLVmWrFlowVar):
                size = sizes[cmd.fv_name]
                w = EngineWrite(index[cmd.fv_name], off, size,
                                _num(cmd.add_val, "add_val") & MASK64, bool(cmd.is_big))
            else:
                size = cmd.pkt_cast_size
                if size not in (1, 2, 4):
                    raise ProfileError(f"write_mask of {cmd.fv_name!r}: pkt_cast_size must be "
                                       "1, 2 or 4")
                if not (-31 <= cmd.shift <= 31):
                    raise ProfileError(f"write_mask of {cmd.fv_name!r}: shift out of range")
                w = EngineWrite(index[cmd.fv_name], off, size,
                                _num(cmd.add_value, "add_value") & MASK64, bool(cmd.is_big),
                                True, cmd.mask & ((1 << (8 * size)) - 1), cmd.shift)
            if off < 0 or off + size > frame_len:
                raise ProfileError(f"write of {cmd.fv_name!r} at offset {off}: {size} bytes do "
                                   f"not fit a {frame_len}-byte frame")
            if len(out.writes) == MAX_WRITES:
                raise ProfileError(f"more than {MAX_WRITES} writes in one stream")
            out.writes.append(w)
        elif isinstance(cmd, (STLVmFixIpv4, STLVmFixChecksumHw)):
            off = cmd.offset if isinstance(cmd, STLVmFixIpv4) else cmd.l3_offset
            resolve_offset(off)  # must at least name a header that exists
            out.fix_requested = True
        elif isinstance(cmd, STLVmTrimPktSize):
            raise ProfileError("STLVmTrimPktSize (variable packet size) is not supported: "
                               "make one stream per size")
        else:
            raise ProfileError(f"unknown field-engine instruction {type(cmd).__name__}")

    # TRex's next_var: when `name` wraps, `nxt` steps.
    for name, nxt in pending_next:
        if nxt not in index:
            raise ProfileError(f"flow var {name!r}: next_var {nxt!r} is not defined")
        if index[nxt] <= index[name]:
            # Our engine updates in order: the dependent var must come after.
            raise ProfileError(f"flow var {name!r}: next_var {nxt!r} must be defined after it")
        out.vars[index[nxt]].carry = index[name]
    return out


def _check_range(name: str, lo: int, hi: int, size: int) -> None:
    if lo < 0 or hi < 0:
        raise ProfileError(f"flow var {name!r}: negative values")
    if lo > hi:
        raise ProfileError(f"flow var {name!r}: min_value {lo} > max_value {hi}")
    if hi >= 1 << (8 * size):
        raise ProfileError(f"flow var {name!r}: max_value {hi} does not fit in {size} bytes")


def _flow_var(cmd: STLVmFlowVar, stream_seed: int, idx: int) -> EngineVar:
    name, size = cmd.name, cmd.size
    op = {"inc": "inc", "dec": "dec", "random": "rand"}[cmd.op]
    step = cmd.step
    if not isinstance(step, int) or step < 1:
        raise ProfileError(f"flow var {name!r}: step must be a positive integer")
    seed = var_seed(stream_seed, idx)
    if cmd.value_list is not None:
        values = [_num(v, f"flow var {name!r} value_list") for v in cmd.value_list]
        if not values:
            raise ProfileError(f"flow var {name!r}: empty value_list")
        if len(values) > MAX_LIST:
            raise ProfileError(f"flow var {name!r}: more than {MAX_LIST} values")
        for v in values:
            _check_range(name, v, v, size)
        n = len(values)
        return EngineVar(name, size, op, 0, n - 1, step % n or n if op != "rand" else 1,
                         n - 1 if op == "dec" else 0, seed, values=values)
    lo = _num(cmd.min_value, f"flow var {name!r} min_value")
    hi = _num(cmd.max_value, f"flow var {name!r} max_value")
    _check_range(name, lo, hi, size)
    if cmd.init_value is not None:
        init = _num(cmd.init_value, f"flow var {name!r} init_value")
        if not lo <= init <= hi:
            raise ProfileError(f"flow var {name!r}: init_value {init} outside {lo}..{hi}")
    else:
        init = hi if op == "dec" else lo
    return EngineVar(name, size, op, lo, hi, step, init, seed)


# ---- the reference semantics ----

class _SimVar:
    def __init__(self, v: EngineVar):
        self.v = v
        self.range = (v.max - v.min + 1) & MASK64  # 0: all 2^64 values
        self.cur = 0
        self.rng = 0
        self.count = 0
        self.started = False
        self.wrapped = False
        self.reset = False

    def _rand(self) -> int:
        x = self.rng
        x ^= x >> 12
        x ^= (x << 25) & MASK64
        x ^= x >> 27
        self.rng = x
        return (x * 0x2545F4914F6CDD1D) & MASK64

    def _draw(self) -> int:
        r = self._rand()
        if self.range == 0:
            return r
        return self.v.min + ((r * self.range) >> 64)

    def restart(self) -> None:
        self.rng = self.v.seed
        self.cur = self._draw() if self.v.op == "rand" else self.v.init
        self.count = 1

    def step(self) -> None:
        v = self.v
        off = (self.cur - v.min) & MASK64
        step = v.step % self.range if self.range else v.step
        if v.op == "inc":
            if self.range == 0:
                self.cur = (self.cur + step) & MASK64
                self.wrapped = self.cur < step
            elif off >= self.range - step:
                self.cur = v.min + (off - (self.range - step))
                self.wrapped = True
            else:
                self.cur += step
        elif v.op == "dec":
            if self.range == 0:
                self.wrapped = self.cur < step
                self.cur = (self.cur - step) & MASK64
            elif off < step:
                self.cur = v.min + off + (self.range - step)
                self.wrapped = True
            else:
                self.cur -= step
        else:
            self.cur = self._draw()

    def update(self, sims: list[_SimVar]) -> None:
        self.wrapped = self.reset = False
        if not self.started:
            self.restart()
            self.started = True
            return
        if self.v.carry >= 0:
            src = sims[self.v.carry]
            if src.reset:
                self.restart()
                self.reset = True
            elif src.wrapped:
                self.step()
            return
        if self.v.limit and self.count == self.v.limit:
            self.restart()
            self.reset = True
            return
        self.step()
        self.count += 1

    @property
    def value(self) -> int:
        return self.v.values[self.cur] if self.v.values is not None else self.cur


class FieldEngineSim:
    """Runs a compiled program the way the generator does."""

    def __init__(self, vm: CompiledVm):
        self.vm = vm
        self.sims = [_SimVar(v) for v in vm.vars]

    def next_values(self) -> dict[str, int]:
        for s in self.sims:
            s.update(self.sims)
        return {s.v.name: s.value for s in self.sims}

    def apply(self, frame: bytearray) -> None:
        """One packet: update the variables, then write them into frame
        (checksums not included)."""
        self.next_values()
        for w in self.vm.writes:
            val = (self.sims[w.var].value + w.add) & MASK64
            size = w.size
            if w.masked:
                order = "big" if w.big else "little"
                tmpl = int.from_bytes(frame[w.off:w.off + size], order)
                v32 = val & 0xFFFFFFFF
                v32 = (v32 << w.shift) & 0xFFFFFFFF if w.shift >= 0 else v32 >> -w.shift
                val = (tmpl & ~w.mask) | (v32 & w.mask)
            val &= (1 << (8 * size)) - 1
            frame[w.off:w.off + size] = val.to_bytes(size, "big" if w.big else "little")

    def sequence(self, n: int) -> list[dict[str, int]]:
        return [self.next_values() for _ in range(n)]
