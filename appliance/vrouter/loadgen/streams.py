"""Streams, TRex style: STLStream (a packet, a transmit mode, flow
statistics, chaining), the modes STLTXCont / STLTXSingleBurst /
STLTXMultiBurst, STLFlowStats / STLFlowLatencyStats and STLProfile.

Arguments and defaults follow TRex's STL API documentation; what our
generator cannot do is refused with a ProfileError when the profile is
compiled, before anything is sent.
"""

from __future__ import annotations

import inspect
from typing import Any

from .errors import ProfileError
from .packet import STLPktBuilder

# mac_dst_override_mode values (TRex)
STLStreamDstMAC_CFG_FILE = 0
STLStreamDstMAC_PKT = 1
STLStreamDstMAC_ARP = 2


class STLError(ProfileError):
    """TRex's exception name, for profiles that raise or catch it."""


class STLTXMode:
    """A rate: exactly one of pps, bps_L1, bps_L2, percentage (default 1 pps)."""

    def __init__(self, pps=None, bps_L1=None, bps_L2=None, percentage=None):
        given = {k: v for k, v in (("pps", pps), ("bps_L1", bps_L1), ("bps_L2", bps_L2),
                                   ("percentage", percentage)) if v is not None}
        if len(given) > 1:
            raise ProfileError(f"{type(self).__name__}: give only one of pps, bps_L1, bps_L2, "
                               f"percentage (got {', '.join(given)})")
        if not given:
            given = {"pps": 1}
        (self.rate_kind, self.rate_value), = given.items()
        v = self.rate_value
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v <= 0:
            raise ProfileError(f"{type(self).__name__}: {self.rate_kind} must be a positive "
                               f"number, not {v!r}")
        if self.rate_kind == "percentage" and v > 100:
            raise ProfileError(f"{type(self).__name__}: percentage {v} is over 100")

    @property
    def rate(self) -> dict:
        return {self.rate_kind: self.rate_value}


class STLTXCont(STLTXMode):
    """Send until the run ends."""


class STLTXSingleBurst(STLTXMode):
    """Send total_pkts packets, then stop."""

    def __init__(self, pps=None, bps_L1=None, bps_L2=None, percentage=None, total_pkts=1):
        super().__init__(pps, bps_L1, bps_L2, percentage)
        if not isinstance(total_pkts, int) or isinstance(total_pkts, bool) or total_pkts < 1:
            raise ProfileError(f"STLTXSingleBurst: total_pkts must be a positive integer, not "
                               f"{total_pkts!r}")
        self.total_pkts = total_pkts


class STLTXMultiBurst(STLTXMode):
    """count bursts of pkts_per_burst packets, ibg microseconds apart."""

    def __init__(self, pps=None, bps_L1=None, bps_L2=None, percentage=None, pkts_per_burst=1,
                 ibg=0.0, count=1):
        super().__init__(pps, bps_L1, bps_L2, percentage)
        for name, v in (("pkts_per_burst", pkts_per_burst), ("count", count)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ProfileError(f"STLTXMultiBurst: {name} must be a positive integer, not "
                                   f"{v!r}")
        if not isinstance(ibg, (int, float)) or ibg < 0:
            raise ProfileError(f"STLTXMultiBurst: ibg must be >= 0 microseconds, not {ibg!r}")
        self.pkts_per_burst = pkts_per_burst
        self.ibg = float(ibg)
        self.count = count


class STLFlowStats:
    """Per-stream counters (sequence numbers: loss, order, duplicates)."""

    latency = False

    def __init__(self, pg_id):
        if not isinstance(pg_id, int) or isinstance(pg_id, bool) or pg_id < 0:
            raise ProfileError(f"{type(self).__name__}: pg_id must be a non-negative integer")
        self.pg_id = pg_id


class STLFlowLatencyStats(STLFlowStats):
    """Per-stream counters plus latency (timestamps in the payload)."""

    latency = True


class STLStream:
    """One stream: TRex's arguments. isg is in microseconds; next names the
    stream started when this one is done; self_start=False waits for one."""

    _count = 0

    def __init__(self, name=None, packet=None, mode=None, enabled=True, self_start=True,
                 isg=0, flow_stats=None, next=None, stream_id=None, action_count=0,
                 random_seed=0, mac_src_override_by_pkt=None, mac_dst_override_mode=None,
                 dummy_stream=False, start_paused=False, core_id=-1):
        STLStream._count += 1
        if packet is None:
            raise ProfileError(f"STLStream {name or ''}: packet= (an STLPktBuilder) is required")
        if not isinstance(packet, STLPktBuilder):
            raise ProfileError(f"STLStream {name or ''}: packet must be an STLPktBuilder, not "
                               f"{type(packet).__name__}")
        mode = STLTXCont() if mode is None else mode
        if not isinstance(mode, STLTXMode):
            raise ProfileError(f"STLStream {name or ''}: mode must be STLTXCont, "
                               f"STLTXSingleBurst or STLTXMultiBurst")
        if flow_stats is not None and not isinstance(flow_stats, STLFlowStats):
            raise ProfileError(f"STLStream {name or ''}: flow_stats must be STLFlowStats or "
                               "STLFlowLatencyStats")
        if not isinstance(isg, (int, float)) or isg < 0:
            raise ProfileError(f"STLStream {name or ''}: isg must be >= 0 microseconds")
        self.name = name
        self.packet = packet
        self.mode = mode
        self.enabled = enabled
        self.self_start = self_start
        self.isg = float(isg)
        self.flow_stats = flow_stats
        self.next = next
        self.stream_id = stream_id
        self.action_count = action_count
        self.random_seed = random_seed
        self.mac_src_override_by_pkt = mac_src_override_by_pkt
        self.mac_dst_override_mode = mac_dst_override_mode
        self.dummy_stream = dummy_stream
        self.start_paused = start_paused

    def __repr__(self) -> str:
        return f"STLStream(name={self.name!r}, mode={type(self.mode).__name__})"

    def get_name(self):
        return self.name


class STLProfile:
    """A list of streams, as TRex profiles return it."""

    def __init__(self, streams=None):
        if streams is None:
            streams = []
        if isinstance(streams, STLStream):
            streams = [streams]
        if not isinstance(streams, (list, tuple)) or not all(
                isinstance(s, STLStream) for s in streams):
            raise ProfileError("STLProfile: expects a list of STLStream")
        self.streams = list(streams)

    def get_streams(self, *args, **kwargs):
        return list(self.streams)

    def __len__(self) -> int:
        return len(self.streams)

    @staticmethod
    def load_py(python_file, direction=0, port_id=0, **tunables):
        from .profile import load_streams
        return STLProfile(load_streams(python_file, direction=direction, port_id=port_id,
                                       tunables=tunables))

    @staticmethod
    def load(filename, direction=0, port_id=0, **tunables):
        return STLProfile.load_py(filename, direction, port_id, **tunables)


def call_get_streams(obj: Any, direction: int, port_id: int, tunables: dict[str, str],
                     where: str) -> list:
    """Call a profile's get_streams() the way its signature asks: TRex's
    newer profiles take `tunables` (a list of --key value strings for their
    own argparse), older ones keyword arguments (direction, and the
    tunables as keywords)."""
    fn = obj.get_streams
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    has_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    kwargs: dict[str, Any] = {}
    if "tunables" in params:
        argv: list[str] = []
        for k, v in tunables.items():
            argv += [f"--{k}", str(v)]
        kwargs["tunables"] = argv
        extra: dict[str, Any] = {}
    else:
        extra = dict(tunables)
        unknown = [k for k in extra if k not in params and not has_kwargs]
        if unknown:
            raise ProfileError(f"{where}: the profile takes no tunable {', '.join(unknown)} "
                               f"(get_streams accepts: "
                               f"{', '.join(p for p in params if p != 'self') or 'nothing'})")
    for k, v in (("direction", direction), ("port_id", port_id)):
        if k in params or has_kwargs:
            kwargs[k] = v
    kwargs.update(extra)
    try:
        streams = fn(**kwargs)
    except SystemExit as e:  # the profile's own argparse refused the tunables
        raise ProfileError(f"{where}: the profile refused its tunables ({e})") from None
    except ProfileError:
        raise
    except Exception as e:  # noqa: BLE001 - any error in the profile's code
        raise ProfileError(f"{where}: get_streams() failed: {type(e).__name__}: {e}") from e
    if isinstance(streams, STLProfile):
        streams = streams.get_streams()
    if isinstance(streams, STLStream):
        streams = [streams]
    if not isinstance(streams, (list, tuple)):
        raise ProfileError(f"{where}: get_streams() returned {type(streams).__name__}, not a list "
                           "of STLStream")
    for i, s in enumerate(streams):
        if not isinstance(s, STLStream):
            raise ProfileError(f"{where}: get_streams() item {i} is {type(s).__name__}, not an "
                               "STLStream")
    return list(streams)
