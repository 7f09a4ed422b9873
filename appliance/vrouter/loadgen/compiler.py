"""From streams to the generator's trial description (loadgen/src/config.c).

compile_streams() builds each stream's frame (the port's MAC addresses
in), finds its headers, compiles its field-engine program, places the
signature (sequence number and timestamp) in the payload, and lists the
checksums the varying bytes touch. apply_rate() turns the profile's
stream rates and the run's rate into packets per second per stream, and
refuses what the ports cannot carry. trial_text() writes it all out.

Everything here runs before any traffic: a mistake is a ProfileError or
RateError naming the stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import ProfileError, RateError
from .packet import MAX_FRAME, MIN_FRAME, Checksum, FrameInfo, analyse, layer_classes, set_macs
from .rates import Rate, format_bps, format_pps, l1_bits, l2_bits
from .streams import STLFlowLatencyStats, STLStream, STLTXMultiBurst, STLTXSingleBurst
from .vm import CompiledVm, compile_vm

SIG_SIZE = 16
MAX_CSUMS = 4
MAX_PPS = 1e9

#: stream statistics: every stream marked (default), only those with
#: flow_stats (TRex's behaviour), or none (counted per port only)
STREAM_STATS = ("all", "flow", "none")


@dataclass
class PortInfo:
    """What the compiler needs to know about a port."""

    index: int                      # the generator's port id
    label: str = ""                 # as the user named it
    mac: str | None = None          # its own MAC (source of what it sends)
    dst_mac: str | None = None      # destination written into its frames
    line_bps: float | None = None   # L1 line rate, if known
    driver: str = ""


@dataclass
class CompiledStream:
    id: int
    name: str
    port: int
    pg_id: int | None
    frame: bytes
    info: FrameInfo
    vm: CompiledVm
    mode: str                       # cont | burst | multi
    total: int = 0                  # burst/multi: packets per burst
    bursts: int = 0
    ibg_s: float = 0.0
    isg_s: float = 0.0
    self_start: bool = True
    next_name: str | None = None
    next: int = -1
    base_kind: str = "pps"
    base_value: float = 1.0
    base_pps: float = 0.0
    pps: float = 0.0                # 0: unpaced
    weight: float = 1.0
    sig_off: int = -1
    latency: bool = False
    checksums: list[Checksum] = field(default_factory=list)
    seed: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.frame)

    @property
    def marked(self) -> bool:
        return self.sig_off >= 0

    @property
    def packets(self) -> int | None:
        """Packets it sends in all, for bursts; None for continuous."""
        if self.mode == "burst":
            return self.total
        if self.mode == "multi":
            return self.total * self.bursts
        return None

    def engine_lines(self) -> list[str]:
        lines = [
            f"stream port={self.port} len={self.length} pps={self.pps:.6f} "
            f"weight={self.weight:.6g} mode={self.mode} total={self.total} "
            f"bursts={self.bursts} ibg={self.ibg_s:.9f} isg={self.isg_s:.9f} "
            f"self_start={int(self.self_start)} next={self.next} sig={self.sig_off} "
            f"latency={int(self.latency)}",
            f"data {self.frame.hex()}",
        ]
        lines += [v.line() for v in self.vm.vars]
        lines += [w.line() for w in self.vm.writes]
        lines += [c.line() for c in self.checksums]
        return lines

    def describe(self) -> dict:
        return {
            "id": self.id, "name": self.name, "port": self.port, "pg_id": self.pg_id,
            "frame_bytes": self.length, "mode": self.mode,
            "packets": self.packets, "pps": self.pps or None, "weight": self.weight,
            "rate": f"{self.base_value:g} {self.base_kind}",
            "stats": "latency" if self.latency else ("seq" if self.marked else "none"),
            "vars": [v.name for v in self.vm.vars], "writes": len(self.vm.writes),
            "checksums_fixed": len(self.checksums), "headers": [h.name for h in self.info.headers],
            "warnings": self.warnings,
        }


def _build(pkt) -> bytes:
    try:
        return bytes(pkt)
    except Exception as e:  # noqa: BLE001 - scapy raises anything
        raise ProfileError(f"cannot build the packet: {type(e).__name__}: {e}") from None


def _extend_payload(pkt, need: int):
    """Grow the innermost payload by `need` bytes (lengths recomputed by
    scapy), so a short frame reaches 60 bytes with room for the signature
    inside the L4 payload rather than in Ethernet padding."""
    from scapy.all import Padding, Raw
    pkt = pkt.copy()
    pad = pkt.getlayer(Padding)
    if pad is not None:
        pad.underlayer.remove_payload()
    raw = pkt.getlayer(Raw)
    if raw is not None and not raw.payload:  # the last layer
        raw.load = bytes(raw.load) + b"\0" * need
        return pkt
    return pkt / Raw(b"\0" * need)


def compile_streams(streams: list[STLStream], port: PortInfo, first_id: int = 0,
                    stream_stats: str = "all", seed: int | None = None) -> list[CompiledStream]:
    if stream_stats not in STREAM_STATS:
        raise ProfileError(f"stream statistics {stream_stats!r}: one of {', '.join(STREAM_STATS)}")
    out: list[CompiledStream] = []
    rnd = random.Random(seed)
    names: dict[str, int] = {}
    for i, st in enumerate(s for s in streams if s.enabled):
        sid = first_id + len(out)
        label = st.name if st.name is not None else f"stream{i}"
        where = f"stream {label!r} (port {port.label or port.index})"
        try:
            cs = _compile_one(st, port, sid, label, stream_stats, rnd)
        except ProfileError as e:
            raise ProfileError(f"{where}: {e}") from None
        if st.name is not None:
            if st.name in names:
                raise ProfileError(f"{where}: two streams named {st.name!r}")
            names[st.name] = sid
        out.append(cs)
    for cs in out:
        if cs.next_name is not None:
            if cs.next_name not in names:
                raise ProfileError(f"stream {cs.name!r}: next={cs.next_name!r}: no enabled stream "
                                   "of that name on this port")
            cs.next = names[cs.next_name]
    if out and not any(cs.self_start for cs in out):
        raise ProfileError(f"port {port.label or port.index}: no stream starts by itself "
                           "(every one has self_start=False)")
    return out


def _compile_one(st: STLStream, port: PortInfo, sid: int, label: str, stream_stats: str,
                 rnd: random.Random) -> CompiledStream:
    builder = st.packet
    pkt = builder.scapy_packet()
    keep_dst = st.mac_dst_override_mode == 1
    pkt = set_macs(pkt, port.mac, port.dst_mac, bool(st.mac_src_override_by_pkt), keep_dst)

    fs = st.flow_stats
    if stream_stats == "none":
        level = "none"
    elif fs is not None:
        level = "latency" if isinstance(fs, STLFlowLatencyStats) else "seq"
    else:
        level = "latency" if stream_stats == "all" else "none"

    frame = _build(pkt)
    warnings: list[str] = []
    if len(frame) < MIN_FRAME:
        if level != "none":
            ext = _extend_payload(pkt, MIN_FRAME - len(frame))
            frame2 = _build(ext)
            if len(frame2) == MIN_FRAME:
                frame, pkt = frame2, ext
        if len(frame) < MIN_FRAME:
            frame = frame + b"\0" * (MIN_FRAME - len(frame))  # Ethernet padding, as TRex
    if len(frame) > MAX_FRAME:
        raise ProfileError(f"a {len(frame)}-byte frame: at most {MAX_FRAME} (no jumbo frames)")
    info = analyse(frame, layer_classes(pkt))

    stream_seed = st.random_seed or rnd.getrandbits(64) or 1
    vm = compile_vm(builder.vm, info.offset, len(frame), stream_seed)

    sig_off = -1
    if level != "none":
        off = (len(frame) - SIG_SIZE) & ~1
        room = info.payload_start is not None and off >= info.payload_start and (
            info.ip_end is None or info.ip_end >= len(frame))
        if not room:
            why = (f"needs {SIG_SIZE} bytes of payload at the end of the frame (this one has "
                   f"{max(0, len(frame) - (info.payload_start or len(frame)))})")
            if fs is not None:
                raise ProfileError(f"flow_stats: the sequence number and timestamp {why}")
            warnings.append(f"no per-stream statistics: the signature {why}; counted per port "
                            "only")
            level = "none"
        else:
            sig_off = off
            for w in vm.writes:
                if w.off < off + SIG_SIZE and off < w.off + w.size:
                    raise ProfileError(
                        f"the field engine writes bytes {w.off}..{w.off + w.size - 1}, where "
                        f"the generator puts its signature ({off}..{off + SIG_SIZE - 1}): make "
                        "the payload longer or use stream statistics 'none'")

    dirty = vm.dirty_ranges() + ([(sig_off, sig_off + SIG_SIZE)] if sig_off >= 0 else [])
    csums = [c for c in info.checksums if any(c.covers(a, b) for a, b in dirty)]
    if len(csums) > MAX_CSUMS:
        raise ProfileError(f"varying bytes under {len(csums)} checksums; at most {MAX_CSUMS}")

    mode = st.mode
    cs = CompiledStream(
        id=sid, name=label, port=port.index,
        pg_id=fs.pg_id if fs is not None else None,
        frame=frame, info=info, vm=vm, mode="cont",
        isg_s=st.isg / 1e6, self_start=bool(st.self_start), next_name=st.next,
        base_kind=mode.rate_kind, base_value=float(mode.rate_value),
        sig_off=sig_off, latency=level == "latency", checksums=csums, seed=stream_seed,
        warnings=warnings)
    if isinstance(mode, STLTXSingleBurst):
        cs.mode, cs.total = "burst", mode.total_pkts
    elif isinstance(mode, STLTXMultiBurst):
        cs.mode, cs.total, cs.bursts, cs.ibg_s = "multi", mode.pkts_per_burst, mode.count, \
            mode.ibg / 1e6
    return cs


def _base_pps(cs: CompiledStream, port: PortInfo) -> float:
    k, v = cs.base_kind, cs.base_value
    if k == "pps":
        return v
    if k == "bps_L2":
        return v / l2_bits(cs.length)
    if k == "bps_L1":
        return v / l1_bits(cs.length)
    if port.line_bps is None:
        raise RateError(f"stream {cs.name!r}: percentage={v:g} but port {port.label or port.index} "
                        f"reports no line rate (give line_rate=10gbps in its port spec)")
    return v / 100.0 * port.line_bps / l1_bits(cs.length)


def apply_rate(streams: list[CompiledStream], ports: dict[int, PortInfo],
               rate: Rate | None) -> None:
    """Set each stream's pps (0 = unpaced, with a weight) from its own rate
    and the run's rate, which applies per transmitting port as in TRex
    (an absolute rate is that port's total, the streams keeping their
    proportions). Refuses rates a port's line cannot carry."""
    by_port: dict[int, list[CompiledStream]] = {}
    for cs in streams:
        by_port.setdefault(cs.port, []).append(cs)
    for p, group in by_port.items():
        port = ports[p]
        where = f"port {port.label or p}"
        for cs in group:
            cs.base_pps = _base_pps(cs, port)
        if rate is None or rate.kind == "factor":
            f = 1.0 if rate is None else rate.value
            for cs in group:
                cs.pps = cs.base_pps * f
        elif rate.kind == "max":
            top = max(cs.base_pps for cs in group)
            for cs in group:
                cs.pps = 0.0
                cs.weight = cs.base_pps / top
            continue
        else:
            if rate.kind == "pps":
                have = sum(cs.base_pps for cs in group)
                target = rate.value
            elif rate.kind == "bps_l2":
                have = sum(cs.base_pps * l2_bits(cs.length) for cs in group)
                target = rate.value
            else:
                have = sum(cs.base_pps * l1_bits(cs.length) for cs in group)
                if rate.kind == "percent":
                    if port.line_bps is None:
                        raise RateError(f"rate {rate}: {where} reports no line rate (give "
                                        "line_rate=10gbps in its port spec, or a rate in "
                                        "pps/bps)")
                    target = rate.value / 100.0 * port.line_bps
                else:
                    target = rate.value
            scale = target / have
            for cs in group:
                cs.pps = cs.base_pps * scale
        total_pps = sum(cs.pps for cs in group)
        total_l1 = sum(cs.pps * l1_bits(cs.length) for cs in group)
        if total_pps > MAX_PPS:
            raise RateError(f"{where}: {format_pps(total_pps)} is more than any port here can "
                            "take")
        if port.line_bps is not None and total_l1 > port.line_bps * 1.001:
            raise RateError(f"{where}: {format_bps(total_l1)} at L1 ({format_pps(total_pps)}) "
                            f"is more than its {format_bps(port.line_bps)} line rate")
        for cs in group:
            if 0 < cs.pps < 0.01:
                raise RateError(f"stream {cs.name!r}: {cs.pps:.3g} pps is too slow to send")


def trial_text(streams: list[CompiledStream], *, trial_id: int, duration_s: float,
               n_ports: int, max_packets: int = 0, drain_s: float = 0.1, sample_s: float = 0.1,
               progress_s: float = 0.5, epoch: int = 0, catchup_s: float = 50e-6) -> str:
    head = (f"trial id={trial_id} duration={duration_s:.6f} drain={drain_s:.3f} "
            f"max_packets={max_packets} sample={sample_s:.3f} progress={progress_s:.3f} "
            f"epoch={epoch} catchup={catchup_s:.6f} ports={n_ports}")
    lines = ["# written by vrouter.loadgen.compiler; format in loadgen/src/config.c", head]
    for cs in streams:
        lines += cs.engine_lines()
    lines.append("end")
    return "\n".join(lines) + "\n"
