"""Client of the dataplane control channel (dataplane/include/vr_ctl.h).

One request at a time over a unix SOCK_SEQPACKET socket: header + body out,
then reply datagrams with the same seq until one without VR_F_MORE. Calls are
serialised by a lock, so one client may be shared between threads.

Request bodies where the header leaves a choice (the C side must agree):
  COUNTER_NAMES, PARAMS_GET, PORT_LIST, VRF_LIST, NH_LIST, NEIGH_LIST: empty
  PORT_DEL, PORT_STATS, PG_CAPTURE: struct vr_port_id
  NEIGH_ADD, NEIGH_DEL: struct vr_neigh (ip, port, mac; other fields 0)
  ROUTE_DEL: struct vr_route_req (nh_id and flags 0)
Replies of requests that only change state are not inspected.
"""

from __future__ import annotations

import ctypes
import errno as errno_mod
import gc
import os
import socket
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from . import messages as m
from .messages import VR_CTL_MAX_MSG, MsgType, NeighState, NhType, PortKind
from .types import Captured, Hello, NatRule, NatSession, Neigh, Nexthop, Params, Port, Route, TraceRecord, Vrf
from .types import WorkerCycles

# struct.Struct twins of the structs on the hot paths (bulk routes, frames, headers).
_HDR = struct.Struct("=HHIIi")  # vr_msg_hdr
_ROUTE = struct.Struct("=IBBHI")  # vr_route
_ROUTE_REQ = struct.Struct("=HHI")  # vr_route_req without routes[]
_PG = struct.Struct("=IHH")  # vr_pg_frames without data[]: n, port, _pad
_LIST_HEAD = 8  # every *_list_resp: uint32 n, uint32 _pad
_U32 = struct.Struct("=I")
assert _HDR.size == ctypes.sizeof(m.MsgHdr) and _ROUTE.size == ctypes.sizeof(m.Route)
assert _ROUTE_REQ.size == ctypes.sizeof(m.RouteReq) and _PG.size == ctypes.sizeof(m.PgFrames)

# vr_ctl.h caps datagrams at VR_CTL_MAX_MSG; ctl.c's buffers read it as a cap on
# bodies (header + MAX). Send within the stricter reading, receive the larger.
MAX_BODY = VR_CTL_MAX_MSG - _HDR.size
_RECV_MAX = _HDR.size + VR_CTL_MAX_MSG
ROUTES_PER_MSG = (MAX_BODY - _ROUTE_REQ.size) // _ROUTE.size
FRAME_BYTES_PER_MSG = MAX_BODY - _PG.size

_PLEN = {str(i): i for i in range(33)}
_HOSTMASK = [(1 << (32 - i)) - 1 for i in range(33)]


class DataplaneError(OSError):
    """The dataplane refused a request; its state is unchanged by that message.

    `.errno` is the positive errno, `.msg` the dataplane's explanation. For
    multi-message requests (route_add/route_del) `.applied` counts the entries
    of the earlier messages, which were applied.
    """

    def __init__(self, errno_value: int, msg: str) -> None:
        super().__init__(errno_value, msg or os.strerror(errno_value))
        self.msg: str = self.strerror
        self.applied: int | None = None

    def __str__(self) -> str:
        return f"{self.msg} ({errno_mod.errorcode.get(self.errno, self.errno)})"


class DataplaneUnavailable(ConnectionError):
    """No dataplane to talk to: socket missing, refused, closed, or no reply."""


class ProtocolError(RuntimeError):
    """A reply that does not follow vr_ctl.h (sizes, types): a version skew or bug."""


# ---- encoding helpers -------------------------------------------------------------


def _ip(value: str | int | IPv4Address) -> int:
    return int(IPv4Address(value))


def _mac(value: str) -> bytes:
    raw = bytes.fromhex(value.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError(f"invalid MAC address {value!r}")
    return raw


def _mac_str(raw: Iterable[int]) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def _cstr(value: str, size: int, what: str) -> bytes:
    raw = value.encode()
    if len(raw) >= size:  # keep room for the NUL the C side relies on
        raise ValueError(f"{what} {value!r} longer than {size - 1} bytes")
    return raw


def _enum(cls: type[IntEnum], value: int) -> IntEnum | int:
    try:
        return cls(value)
    except ValueError:
        return value


def parse_prefix(prefix: str | IPv4Network | tuple[int, int]) -> tuple[int, int]:
    """'a.b.c.d/n', IPv4Network or (address, plen) such as config.model.Prefix ->
    (host-order address, plen); host bits must be 0."""
    if type(prefix) is not str and isinstance(prefix, tuple):
        ip, plen = prefix
        if not 0 <= plen <= 32 or ip & _HOSTMASK[plen]:
            raise ValueError(f"invalid IPv4 prefix {prefix!r}")
        return ip, plen
    if isinstance(prefix, str):
        # Hand-rolled rather than IPv4Network(): this runs once per route of a bulk load.
        addr, _, plen_s = prefix.partition("/")
        try:
            ip = int.from_bytes(socket.inet_pton(socket.AF_INET, addr), "big")
            plen = _PLEN[plen_s or "32"]
        except (OSError, KeyError):
            raise ValueError(f"invalid IPv4 prefix {prefix!r}") from None
        if ip & _HOSTMASK[plen]:
            raise ValueError(f"{prefix!r} has host bits set")
        return ip, plen
    if isinstance(prefix, IPv4Network):
        return int(prefix.network_address), prefix.prefixlen
    raise TypeError(f"expected an IPv4 prefix, got {prefix!r}")


def encode_routes(
    vrf: int, routes: Iterable[tuple[str | IPv4Network, int]], flags: int = 0,
    per_msg: int = ROUTES_PER_MSG,
) -> Iterator[tuple[bytes, int]]:
    """Yield (struct vr_route_req body, number of routes) filling each message."""
    pack_into = _ROUTE.pack_into
    buf = bytearray(_ROUTE_REQ.size + per_msg * _ROUTE.size)
    n, off = 0, _ROUTE_REQ.size
    for prefix, nh_id in routes:
        ip, plen = parse_prefix(prefix)
        try:
            pack_into(buf, off, ip, plen, flags, 0, nh_id)
        except struct.error as e:
            raise ValueError(f"route {prefix} -> {nh_id!r}: {e}") from None
        n += 1
        off += _ROUTE.size
        if n == per_msg:
            _ROUTE_REQ.pack_into(buf, 0, vrf, 0, n)
            yield bytes(buf), n
            n, off = 0, _ROUTE_REQ.size
    if n:
        _ROUTE_REQ.pack_into(buf, 0, vrf, 0, n)
        yield bytes(buf[:off]), n


def encode_frames(port: int, frames: Iterable[bytes]) -> Iterator[bytes]:
    """Yield struct vr_pg_frames bodies: uint16 length + bytes, padded to 2, per frame."""
    parts: list[bytes] = []
    size = 0
    for frame in frames:
        frame = bytes(frame)
        rec = struct.pack("=H", len(frame)) + frame + b"\0" * (len(frame) & 1)
        if len(rec) > FRAME_BYTES_PER_MSG:
            raise ValueError(f"frame of {len(frame)} bytes does not fit a message")
        if size + len(rec) > FRAME_BYTES_PER_MSG:
            yield _PG.pack(len(parts), port, 0) + b"".join(parts)
            parts, size = [], 0
        parts.append(rec)
        size += len(rec)
    if parts:
        yield _PG.pack(len(parts), port, 0) + b"".join(parts)


def decode_frames(body: bytes) -> list[bytes]:
    """Frames of one struct vr_pg_frames body."""
    if len(body) < _PG.size:
        raise ProtocolError(f"vr_pg_frames of {len(body)} bytes")
    n, _, _ = _PG.unpack_from(body)
    frames, off = [], _PG.size
    for _ in range(n):
        if off + 2 > len(body):
            raise ProtocolError("vr_pg_frames: truncated")
        (length,) = struct.unpack_from("=H", body, off)
        off += 2
        if off + length > len(body):
            raise ProtocolError("vr_pg_frames: truncated frame")
        frames.append(body[off:off + length])
        off += length + (length & 1)
    if off != len(body):
        raise ProtocolError(f"vr_pg_frames: {len(body) - off} trailing bytes")
    return frames


def _list_payloads(bodies: list[bytes], item_size: int) -> Iterator[memoryview]:
    """The items[] part of each datagram of a list reply (uint32 n, _pad, items[n])."""
    for body in bodies:
        if len(body) < _LIST_HEAD:
            raise ProtocolError(f"list reply of {len(body)} bytes")
        (n,) = _U32.unpack_from(body)
        if len(body) != _LIST_HEAD + n * item_size:
            raise ProtocolError(f"list reply of {len(body)} bytes for {n} items of {item_size}")
        yield memoryview(body)[_LIST_HEAD:]


def _list_items(bodies: list[bytes], item_size: int) -> Iterator[memoryview]:
    for payload in _list_payloads(bodies, item_size):
        for off in range(0, len(payload), item_size):
            yield payload[off:off + item_size]


def _decode(cls: type[ctypes.Structure], body: bytes) -> ctypes.Structure:
    if len(body) != ctypes.sizeof(cls):
        raise ProtocolError(f"{cls.__name__}: {len(body)} bytes, expected {ctypes.sizeof(cls)}")
    return cls.from_buffer_copy(body)


def _nexthop(nh: m.Nh) -> Nexthop:
    return Nexthop(
        id=nh.id, type=_enum(NhType, nh.type), port=nh.port,
        gw=IPv4Address(nh.gw) if nh.gw else None, refcnt=nh.refcnt,
        members=tuple(nh.members[: min(nh.n_members, m.VR_MAX_ECMP)]),
    )


def _port(p: m.PortInfo) -> Port:
    addrs = p.addrs[: min(p.n_addrs, m.VR_MAX_ADDRS)]
    return Port(
        port=p.port, name=p.name.decode(errors="replace"),
        driver=p.driver.decode(errors="replace"), devargs=p.devargs.decode(errors="replace"),
        kind=_enum(PortKind, p.kind), vrf=p.vrf, mtu=p.mtu, mac=_mac_str(p.mac),
        admin_up=bool(p.admin_up), link_up=bool(p.link_up), link_speed=p.link_speed,
        n_rxq=p.n_rxq, n_txq=p.n_txq, rxd=p.rxd, txd=p.txd,
        addrs=tuple(IPv4Interface((a.ip, a.plen)) for a in addrs),
        punt_port=p.punt_port, exception_of=p.exception_of,
    )


# ---- the client -------------------------------------------------------------------


class DataplaneClient:
    def __init__(self, path: str | os.PathLike[str], timeout: float = 10.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout  # connect() retry budget, and per reply datagram
        self._sock: socket.socket | None = None
        self._seq = 0
        self._lock = threading.Lock()
        self._counter_names: list[str] | None = None

    # -- connection

    def connect(self) -> None:
        """Connect, retrying while the socket is missing or refusing, up to timeout."""
        self.close()
        deadline = time.monotonic() + self.timeout
        while True:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                sock.settimeout(self.timeout)
                sock.connect(self.path)
            except (FileNotFoundError, ConnectionRefusedError, BlockingIOError) as e:
                sock.close()
                if time.monotonic() >= deadline:
                    raise DataplaneUnavailable(f"{self.path}: {e.strerror}") from e
                time.sleep(0.05)
                continue
            except BaseException:
                sock.close()
                raise
            self._sock = sock
            self._counter_names = None  # a new dataplane process may count differently
            return

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def __enter__(self) -> DataplaneClient:
        if self._sock is None:
            self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- raw requests

    def request(self, msg_type: int, body: bytes = b"") -> list[bytes]:
        """Send one message, return the reply bodies (several for list replies)."""
        if _HDR.size + len(body) > VR_CTL_MAX_MSG:
            raise ValueError(f"message of {_HDR.size + len(body)} bytes > {VR_CTL_MAX_MSG}")
        with self._lock:
            sock = self._sock
            if sock is None:
                raise DataplaneUnavailable(f"{self.path}: not connected")
            self._seq = (self._seq + 1) & 0xFFFFFFFF
            seq = self._seq
            try:
                sock.sendmsg([_HDR.pack(msg_type, 0, len(body), seq, 0), body])
                return self._replies(sock, msg_type, seq)
            except TimeoutError:
                # Keep the socket: a late reply carries an old seq and is skipped.
                raise DataplaneUnavailable(
                    f"{self.path}: no reply to {_name(msg_type)} within {self.timeout}s"
                ) from None
            except (ConnectionError, EOFError) as e:
                self.close()
                raise DataplaneUnavailable(f"{self.path}: connection lost ({e})") from e

    def _replies(self, sock: socket.socket, msg_type: int, seq: int) -> list[bytes]:
        bodies: list[bytes] = []
        error: DataplaneError | None = None
        while True:
            data, _, flags, _ = sock.recvmsg(_RECV_MAX)
            if not data:
                raise EOFError("closed by the dataplane")
            if flags & socket.MSG_TRUNC:
                raise ProtocolError(f"reply to {_name(msg_type)} > {_RECV_MAX} bytes")
            if len(data) < _HDR.size:
                raise ProtocolError(f"reply of {len(data)} bytes")
            rtype, rflags, length, rseq, status = _HDR.unpack_from(data)
            if rseq != seq:
                continue  # answer to an earlier request that timed out
            if rtype != msg_type or length != len(data) - _HDR.size:
                raise ProtocolError(
                    f"reply type {rtype} len {length} to {_name(msg_type)}, "
                    f"datagram of {len(data)} bytes"
                )
            body = data[_HDR.size:]
            if status:
                error = error or DataplaneError(-status, _error_text(body))
            else:
                bodies.append(body)
            if not rflags & m.VR_F_MORE:
                break
        if error:
            raise error
        return bodies

    def _one(self, msg_type: MsgType, req: ctypes.Structure | bytes = b"") -> bytes:
        bodies = self.request(msg_type, bytes(req))
        if len(bodies) != 1:
            raise ProtocolError(f"{len(bodies)} replies to {msg_type.name}, expected 1")
        return bodies[0]

    # -- session

    def hello(self) -> Hello:
        r = _decode(m.HelloResp, self._one(MsgType.HELLO, m.HelloReq(m.VR_CTL_VERSION)))
        if r.version != m.VR_CTL_VERSION:
            raise ProtocolError(f"dataplane speaks version {r.version}, not {m.VR_CTL_VERSION}")
        return Hello(**{name: getattr(r, name) for name, _ in m.HelloResp._fields_})

    def counter_names(self) -> list[str]:
        """Per-port counter names, in port_stats order; cached per connection."""
        if self._counter_names is None:
            bodies = self.request(MsgType.COUNTER_NAMES)
            self._counter_names = [
                bytes(v).split(b"\0", 1)[0].decode(errors="replace")
                for v in _list_items(bodies, m.VR_NAME_LEN)
            ]
        return list(self._counter_names)

    def params_get(self) -> Params:
        r = _decode(m.Params, self._one(MsgType.PARAMS_GET))
        return Params(**{name: getattr(r, name) for name in m.PARAM_BITS})

    def params_set(self, **fields: int) -> None:
        """Set the given tunables (names of Params fields), leave the others alone."""
        unknown = set(fields) - set(m.PARAM_BITS)
        if unknown:
            raise TypeError(f"unknown dataplane parameters: {', '.join(sorted(unknown))}")
        req = m.Params(**fields)
        req.mask = sum(m.PARAM_BITS[name] for name in fields)
        self.request(MsgType.PARAMS_SET, bytes(req))

    def mempool_stats(self) -> dict[str, dict[str, int]]:
        """Each packet buffer pool by name: its size, the mbufs in use (not in
        the pool nor in a per-lcore cache) and the per-lcore cache size."""
        out = {}
        for v in _list_items(self.request(MsgType.MEMPOOL_LIST), ctypes.sizeof(m.MempoolInfo)):
            e = m.MempoolInfo.from_buffer_copy(v)
            out[e.name.decode()] = {"size": e.size, "in_use": e.in_use,
                                    "cache_size": e.cache_size}
        return out

    def worker_stats(self) -> tuple[int, list[WorkerCycles]]:
        """(TSC cycles per second, each worker's loop counters). The control
        thread reads the counters the workers keep, with relaxed loads: no
        lock, nothing asked of the workers."""
        head = ctypes.sizeof(m.WorkerStatsResp)
        size = ctypes.sizeof(m.WorkerStats)
        tsc_hz, out = 0, []
        for body in self.request(MsgType.WORKER_STATS):
            if len(body) < head:
                raise ProtocolError(f"worker stats reply of {len(body)} bytes")
            r = m.WorkerStatsResp.from_buffer_copy(body[:head])
            if len(body) != head + r.n * size:
                raise ProtocolError(f"worker stats reply of {len(body)} bytes for {r.n} workers")
            tsc_hz = tsc_hz or r.tsc_hz
            for off in range(head, len(body), size):
                w = m.WorkerStats.from_buffer_copy(body, off)
                out.append(WorkerCycles(len(out), w.busy_tsc, w.packets, w.loops, w.idle_loops))
        return tsc_hz, out

    # -- ports

    def port_add(
        self, name: str, devargs: str = "", kind: PortKind = PortKind.DEVARGS, vrf: int = 0,
        mtu: int = 0, rxd: int = 0, txd: int = 0, mac: str | None = None, admin_up: bool = True,
    ) -> int:
        req = m.PortAddReq(
            name=_cstr(name, m.VR_NAME_LEN, "port name"),
            devargs=_cstr(devargs, m.VR_DEVARGS_LEN, "devargs"),
            kind=kind, vrf=vrf, mtu=mtu, rxd=rxd, txd=txd, admin_up=admin_up,
        )
        if mac is not None:
            req.set_mac = 1
            req.mac[:] = _mac(mac)
        return _decode(m.PortId, self._one(MsgType.PORT_ADD, req)).port

    def port_del(self, port: int) -> None:
        self.request(MsgType.PORT_DEL, bytes(m.PortId(port=port)))

    def port_set(
        self, port: int, mtu: int | None = None, vrf: int | None = None,
        admin_up: bool | None = None, mac: str | None = None, punt_port: int | None = None,
    ) -> None:
        """Change the given fields. punt_port: the port's exception port
        (VR_PORT_NONE to remove it)."""
        req = m.PortSetReq(port=port)
        if punt_port is not None:
            req.punt_port, req.mask = punt_port, req.mask | m.VR_PORT_SET_PUNT
        if mtu is not None:
            req.mtu, req.mask = mtu, req.mask | m.VR_PORT_SET_MTU
        if vrf is not None:
            req.vrf, req.mask = vrf, req.mask | m.VR_PORT_SET_VRF
        if admin_up is not None:
            req.admin_up, req.mask = admin_up, req.mask | m.VR_PORT_SET_UP
        if mac is not None:
            req.mac[:], req.mask = _mac(mac), req.mask | m.VR_PORT_SET_MAC
        self.request(MsgType.PORT_SET, bytes(req))

    def port_list(self) -> list[Port]:
        bodies = self.request(MsgType.PORT_LIST)
        size = ctypes.sizeof(m.PortInfo)
        return [_port(m.PortInfo.from_buffer_copy(v)) for v in _list_items(bodies, size)]

    def port_stats(self, port: int) -> dict[str, int]:
        names = self.counter_names()
        body = self._one(MsgType.PORT_STATS, m.PortId(port=port))
        head = ctypes.sizeof(m.PortStatsResp)
        n = m.PortStatsResp.from_buffer_copy(body[:head]).n if len(body) >= head else -1
        if len(body) != head + 8 * n or n != len(names):
            raise ProtocolError(f"port stats of {len(body)} bytes for {len(names)} counters")
        return dict(zip(names, struct.unpack_from(f"={n}Q", body, head)))

    DEV_COUNTERS = ("rx_missed", "rx_errors", "tx_errors", "rx_nombuf")

    def port_dev_stats(self, port: int) -> dict[str, int]:
        """What the device itself counted (rte_eth_stats): rx_packets, rx_bytes,
        tx_packets, tx_bytes, and the losses the dataplane's counters cannot
        see: rx_missed (rx queue full), rx_errors, tx_errors, rx_nombuf."""
        r = _decode(m.PortDevStats, self._one(MsgType.PORT_DEV_STATS, m.PortId(port=port)))
        return {name: getattr(r, name) for name, _ in m.PortDevStats._fields_
                if not name.startswith("_") and name != "port"}

    # -- interface addresses

    def addr_add(self, port: int, addr: str | IPv4Interface) -> None:
        self.request(MsgType.ADDR_ADD, _addr_req(port, addr))

    def addr_del(self, port: int, addr: str | IPv4Interface) -> None:
        self.request(MsgType.ADDR_DEL, _addr_req(port, addr))

    # -- VRFs

    def vrf_add(self, vrf: int, max_routes: int = 0, num_tbl8: int = 0) -> None:
        req = m.VrfAddReq(vrf=vrf, max_routes=max_routes, num_tbl8=num_tbl8)
        self.request(MsgType.VRF_ADD, bytes(req))

    def vrf_del(self, vrf: int) -> None:
        self.request(MsgType.VRF_DEL, bytes(m.VrfId(vrf=vrf)))

    def vrf_list(self) -> list[Vrf]:
        bodies = self.request(MsgType.VRF_LIST)
        size = ctypes.sizeof(m.VrfInfo)
        infos = (m.VrfInfo.from_buffer_copy(v) for v in _list_items(bodies, size))
        return [Vrf(i.vrf, i.n_ports, i.n_routes, i.max_routes, i.num_tbl8) for i in infos]

    # -- next hops

    def nh_add(
        self, id: int, type: NhType, port: int = 0,
        gw: str | IPv4Address | None = None, members: Iterable[int] = (),
    ) -> None:
        members = list(members)
        if len(members) > m.VR_MAX_ECMP:
            raise ValueError(f"{len(members)} group members > {m.VR_MAX_ECMP}")
        req = m.Nh(id=id, type=type, port=port, n_members=len(members))
        req.gw = _ip(gw) if gw is not None else 0
        req.members[: len(members)] = members
        self.request(MsgType.NH_ADD, bytes(req))

    def nh_del(self, id: int) -> None:
        self.request(MsgType.NH_DEL, bytes(m.NhId(id=id)))

    def nh_list(self) -> list[Nexthop]:
        bodies = self.request(MsgType.NH_LIST)
        size = ctypes.sizeof(m.Nh)
        return [_nexthop(m.Nh.from_buffer_copy(v)) for v in _list_items(bodies, size)]

    # -- routes

    def route_add(
        self, vrf: int, routes: Iterable[tuple[str | IPv4Network, int]], replace: bool = False,
    ) -> int:
        """Add (prefix, nh_id) routes; returns how many were sent.

        Sent as few messages as VR_CTL_MAX_MSG allows (ROUTES_PER_MSG each). The
        dataplane applies each message all-or-nothing, but the bulk is atomic per
        message only: on DataplaneError, `.applied` routes (earlier messages) stay.
        """
        flags = m.VR_ROUTE_REPLACE if replace else 0
        return self._route_bulk(MsgType.ROUTE_ADD, vrf, routes, flags)

    def route_del(self, vrf: int, prefixes: Iterable[str | IPv4Network]) -> int:
        """Delete prefixes; split and atomic per message like route_add."""
        return self._route_bulk(MsgType.ROUTE_DEL, vrf, ((p, 0) for p in prefixes), 0)

    def _route_bulk(
        self, msg_type: MsgType, vrf: int, routes: Iterable[tuple[str | IPv4Network, int]],
        flags: int,
    ) -> int:
        done = 0
        for body, n in encode_routes(vrf, routes, flags):
            try:
                self.request(msg_type, body)
            except DataplaneError as e:
                e.applied = done
                raise
            done += n
        return done

    def route_list(self, vrf: int) -> list[Route]:
        bodies = self.request(MsgType.ROUTE_LIST, bytes(m.RouteListReq(vrf=vrf)))
        # Millions of acyclic objects: collector passes would double the decode time.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return [
                Route(IPv4Network((prefix, plen)), nh_id, flags)
                for payload in _list_payloads(bodies, _ROUTE.size)
                for prefix, plen, flags, _, nh_id in _ROUTE.iter_unpack(payload)
            ]
        finally:
            if was_enabled:
                gc.enable()

    def route_lookup(
        self, vrf: int, ip: str | IPv4Address,
    ) -> tuple[Route | None, Nexthop | None]:
        """Longest match of ip in vrf and its next hop; (None, None) when none."""
        req = m.RouteLookupReq(vrf=vrf, ip=_ip(ip))
        r = _decode(m.RouteLookupResp, self._one(MsgType.ROUTE_LOOKUP, req))
        if r.route.nh_id == 0:
            return None, None
        route = Route(IPv4Network((r.route.prefix, r.route.plen)), r.route.nh_id, r.route.flags)
        return route, (_nexthop(r.nh) if r.nh.id else None)

    # -- neighbours

    def neigh_add(self, port: int, ip: str | IPv4Address, mac: str) -> None:
        req = m.Neigh(ip=_ip(ip), port=port)
        req.mac[:] = _mac(mac)
        self.request(MsgType.NEIGH_ADD, bytes(req))

    def neigh_del(self, port: int, ip: str | IPv4Address) -> None:
        self.request(MsgType.NEIGH_DEL, bytes(m.Neigh(ip=_ip(ip), port=port)))

    def neigh_list(self) -> list[Neigh]:
        bodies = self.request(MsgType.NEIGH_LIST)
        out = []
        for v in _list_items(bodies, ctypes.sizeof(m.Neigh)):
            n = m.Neigh.from_buffer_copy(v)
            out.append(Neigh(
                ip=IPv4Address(n.ip), port=n.port, mac=_mac_str(n.mac),
                state=_enum(NeighState, n.state), probes=n.probes, held=n.held, age_ms=n.age_ms,
            ))
        return out

    # -- NAT

    def nat_rule_add(self, rule: NatRule) -> None:
        r = rule
        req = m.NatRule(id=r.id, type=r.type, proto=r.proto, vrf=r.vrf, out_port=r.out_port,
                        masquerade=int(r.masquerade), n_pool=len(r.pool),
                        match=int(r.match.network_address) if r.match else 0,
                        match_plen=r.match.prefixlen if r.match else 0, port_lo=r.port_lo,
                        port_hi=r.port_hi, ext_port=r.ext_port,
                        ext_ip=_ip(r.ext_ip) if r.ext_ip else 0,
                        int_ip=_ip(r.int_ip) if r.int_ip else 0, int_port=r.int_port)
        if len(r.pool) > m.VR_NAT_MAX_POOL:
            raise ValueError(f"at most {m.VR_NAT_MAX_POOL} pool addresses")
        for i, a in enumerate(r.pool):
            req.pool[i] = _ip(a)
        self.request(MsgType.NAT_RULE_ADD, bytes(req))

    def nat_rule_del(self, rule_id: int) -> None:
        self.request(MsgType.NAT_RULE_DEL, bytes(m.NatRuleId(id=rule_id)))

    def nat_rule_list(self) -> list[NatRule]:
        out = []
        for v in _list_items(self.request(MsgType.NAT_RULE_LIST), ctypes.sizeof(m.NatRule)):
            r = m.NatRule.from_buffer_copy(v)
            out.append(NatRule(
                id=r.id, type=r.type, vrf=r.vrf, proto=r.proto, out_port=r.out_port,
                masquerade=bool(r.masquerade),
                pool=tuple(IPv4Address(a) for a in r.pool[:r.n_pool]),
                match=IPv4Network((r.match, r.match_plen)) if r.type == 1 else None,
                port_lo=r.port_lo, port_hi=r.port_hi,
                ext_ip=IPv4Address(r.ext_ip) if r.ext_ip else None, ext_port=r.ext_port,
                int_ip=IPv4Address(r.int_ip) if r.int_ip else None, int_port=r.int_port,
                sessions=r.sessions))
        return out

    @staticmethod
    def _nat_filter(vrf: int | None, proto: int, addr, port: int, rule: int) -> bytes:
        return bytes(m.NatFilter(vrf=m.VR_NAT_ANY_VRF if vrf is None else vrf, proto=proto,
                                 addr=_ip(addr) if addr else 0, port=port, rule=rule))

    def nat_session_list(self, vrf: int | None = None, proto: int = 0, addr=None,
                         port: int = 0, rule: int = 0) -> list[NatSession]:
        bodies = self.request(MsgType.NAT_SESSION_LIST,
                              self._nat_filter(vrf, proto, addr, port, rule))
        out = []
        for v in _list_items(bodies, ctypes.sizeof(m.NatSession)):
            s = m.NatSession.from_buffer_copy(v)
            out.append(NatSession(
                proto=s.proto, vrf=s.vrf,
                orig=(IPv4Address(s.orig_src), s.orig_sport, IPv4Address(s.orig_dst),
                      s.orig_dport),
                xlat=(IPv4Address(s.xlat_src), s.xlat_sport, IPv4Address(s.xlat_dst),
                      s.xlat_dport),
                state=s.state, rule=s.rule, age_ms=s.age_ms, timeout_s=s.timeout_s,
                worker=s.worker, packets=s.packets))
        return out

    def nat_session_flush(self, vrf: int | None = None, proto: int = 0, addr=None,
                          port: int = 0, rule: int = 0) -> None:
        self.request(MsgType.NAT_SESSION_FLUSH, self._nat_filter(vrf, proto, addr, port, rule))

    _NAT_PARAMS = {"tcp_established": m.VR_NAT_P_TCP_EST, "tcp_transitory": m.VR_NAT_P_TCP_TRANS,
                   "udp": m.VR_NAT_P_UDP, "icmp": m.VR_NAT_P_ICMP, "other": m.VR_NAT_P_OTHER}

    def nat_params_get(self) -> dict[str, int]:
        r = _decode(m.NatParams, self._one(MsgType.NAT_PARAMS_GET))
        return {name: getattr(r, name) for name, _ in m.NatParams._fields_
                if name not in ("mask", "_pad")}

    def nat_params_set(self, **timeouts: int) -> None:
        unknown = set(timeouts) - set(self._NAT_PARAMS)
        if unknown:
            raise TypeError(f"unknown NAT timeouts: {', '.join(sorted(unknown))}")
        req = m.NatParams(**timeouts)
        req.mask = sum(self._NAT_PARAMS[k] for k in timeouts)
        self.request(MsgType.NAT_PARAMS_SET, bytes(req))

    def nat_clock_advance(self, seconds: int) -> None:
        """Tests: move the NAT clock forward and expire what timed out."""
        self.request(MsgType.NAT_CLOCK_ADVANCE, bytes(m.NatClock(seconds=seconds)))

    # -- capture and trace

    def capture_start(self, port: int, dirs: int, filter: str = "", count: int = 0,
                      snaplen: int = 0) -> int:
        """Start copying what `port` receives/sends (dirs: VR_DIR_RX|VR_DIR_TX)
        that matches the pcap-filter(7) expression; the capture's id."""
        req = m.CaptureStartReq(port=port, dirs=dirs, count=count, snaplen=snaplen,
                                filter=_cstr(filter, m.VR_FILTER_LEN, "filter"))
        return _decode(m.CaptureId, self._one(MsgType.CAPTURE_START, req)).id

    def capture_read(self, capture: int) -> list[Captured]:
        """The copies taken since the last read (as many as one reply holds)."""
        bodies = self.request(MsgType.CAPTURE_READ, bytes(m.CaptureId(id=capture)))
        head, size = ctypes.sizeof(m.CaptureListResp), ctypes.sizeof(m.Captured)
        out = []
        for body in bodies:
            if len(body) < head:
                raise ProtocolError(f"capture reply of {len(body)} bytes")
            n, off = m.CaptureListResp.from_buffer_copy(body).n, head
            for _ in range(n):
                if off + size > len(body):
                    raise ProtocolError("capture reply truncated")
                e = m.Captured.from_buffer_copy(body, off)
                end = off + size + e.caplen
                if end > len(body):
                    raise ProtocolError("captured packet truncated")
                out.append(Captured(time_ns=e.time_ns, port=e.port, direction=e.dir,
                                    orig_len=e.orig_len, data=bytes(body[off + size:end])))
                off += size + ((e.caplen + 7) & ~7)
        return out

    def capture_stop(self, capture: int) -> tuple[int, int]:
        """Stop and free the capture: (packets captured, copies lost)."""
        r = _decode(m.CaptureStopResp,
                    self._one(MsgType.CAPTURE_STOP, bytes(m.CaptureId(id=capture))))
        return r.captured, r.dropped

    def trace_start(self, count: int, filter: str = "", port: int | None = None) -> int:
        """Trace the next `count` packets matching the filter (arriving at
        `port`, or any); replaces a running trace. The trace's id."""
        req = m.TraceStartReq(port=m.VR_PORT_NONE if port is None else port, count=count,
                              filter=_cstr(filter, m.VR_FILTER_LEN, "filter"))
        return _decode(m.CaptureId, self._one(MsgType.TRACE_START, req)).id

    def trace_read(self, trace: int) -> list[TraceRecord]:
        bodies = self.request(MsgType.TRACE_READ, bytes(m.CaptureId(id=trace)))
        return [TraceRecord(packet=r.packet, stage=r.stage, port=r.port, a=r.a, b=r.b,
                            tsc=r.tsc)
                for r in (m.TraceRec.from_buffer_copy(v)
                          for v in _list_items(bodies, ctypes.sizeof(m.TraceRec)))]

    def trace_stop(self, trace: int) -> tuple[int, int]:
        """Stop the trace: (packets picked, records lost)."""
        r = _decode(m.CaptureStopResp,
                    self._one(MsgType.TRACE_STOP, bytes(m.CaptureId(id=trace))))
        return r.captured, r.dropped

    # -- ring ports

    def pg_inject(self, port: int, frames: Iterable[bytes]) -> None:
        """Feed frames into a ring port; several messages when they do not fit one."""
        for body in encode_frames(port, frames):
            self.request(MsgType.PG_INJECT, body)

    def pg_capture(self, port: int) -> list[bytes]:
        """Take the frames the ring port has sent out since the last capture."""
        bodies = self.request(MsgType.PG_CAPTURE, bytes(m.PortId(port=port)))
        return [f for body in bodies for f in decode_frames(body)]

    def pg_flood_start(self, port: int, frames: Iterable[bytes], count: int = 0) -> None:
        """Start the ring port's traffic generator: a thread copying `frames`
        (at most 1024, each at most 1900 bytes), in turn, into the port's rx
        ring as fast as it can, `count` of them (0: until stopped)."""
        bodies = list(encode_frames(port, frames))
        if len(bodies) != 1:
            raise ValueError("the generator's frames must fit one message")
        n, _, _ = _PG.unpack_from(bodies[0])
        req = m.PgFloodReq(count=count, n=n, port=port)
        self.request(MsgType.PG_FLOOD_START, bytes(req) + bodies[0][_PG.size:])

    def _pg_flood(self, msg_type: MsgType, port: int) -> dict[str, int]:
        r = _decode(m.PgFloodStats, self._one(msg_type, bytes(m.PortId(port=port))))
        return {"running": bool(r.running), "offered": r.offered, "accepted": r.accepted,
                "no_mbuf": r.no_mbuf}

    def pg_flood_stats(self, port: int) -> dict[str, int]:
        """The generator's counts: offered, accepted by the rx ring (the rest
        found it full), no_mbuf (not made: the pool was empty), running."""
        return self._pg_flood(MsgType.PG_FLOOD_STATS, port)

    def pg_flood_stop(self, port: int) -> dict[str, int]:
        """Stop the generator; its final counts."""
        return self._pg_flood(MsgType.PG_FLOOD_STOP, port)


def _addr_req(port: int, addr: str | IPv4Interface) -> bytes:
    iface = IPv4Interface(addr)
    req = m.AddrReq(port=port)
    req.addr.ip, req.addr.plen = int(iface.ip), iface.network.prefixlen
    return bytes(req)


def _error_text(body: bytes) -> str:
    return body[: m.VR_ERR_LEN].split(b"\0", 1)[0].decode(errors="replace").strip()


def _name(msg_type: int) -> str:
    return MsgType(msg_type).name if msg_type in MsgType._value2member_map_ else str(msg_type)
