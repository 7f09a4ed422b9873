"""An in-process stand-in for the dataplane's control socket, for unit tests.

Serves vr_ctl.h on a unix SOCK_SEQPACKET socket from a thread, the way
dataplane/src/ctl.c does: replies echo type and seq, failures carry a
struct vr_error and leave the state unchanged, list replies are split into
datagrams (VR_F_MORE on all but the last), each starting with its count.
Bodies are decoded here by hand, not with the client's encoders, so that the
tests compare two independent readings of the header.
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from vrouter.dataplane import messages as m

HDR = struct.Struct("=HHIIi")
ROUTE = struct.Struct("=IBBHI")
MAX_BODY = m.VR_CTL_MAX_MSG - HDR.size  # what a list datagram may carry


class Fail(Exception):
    def __init__(self, err: int, msg: str) -> None:
        super().__init__(msg)
        self.err, self.msg = err, msg


class FakeDataplane:
    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.log: list[tuple[int, int, int]] = []  # (type, seq, body length) of each request
        self.sent: list[bytes] = []  # raw request datagrams
        self.list_max_entries: int | None = None  # force small list datagrams
        self.counter_names = [f"counter_{i}" for i in range(40)] + ["drop_no_route"]
        # (vrf, prefix, plen) -> (nh_id, flags)
        self.routes: dict[tuple[int, int, int], tuple[int, int]] = {}
        self.nhs: dict[int, m.Nh] = {}
        self.params = m.Params(arp_reachable_ms=30000, arp_retrans_ms=1000, arp_max_probes=3)
        self.ports: list[m.PortInfo] = []
        self.rings: dict[int, list[bytes]] = {}  # port -> frames injected, captured back
        self.before_reply: Callable[[socket.socket, int, int], None] | None = None
        self.handlers: dict[int, Callable[[bytes], list[bytes] | bytes]] = {
            m.MsgType.HELLO: self._hello,
            m.MsgType.COUNTER_NAMES: lambda b: self._list(
                [n.encode().ljust(m.VR_NAME_LEN, b"\0") for n in self.counter_names]),
            m.MsgType.PORT_STATS: self._port_stats,
            m.MsgType.PORT_LIST: lambda b: self._list([bytes(p) for p in self.ports]),
            m.MsgType.PARAMS_GET: lambda b: bytes(self.params),
            m.MsgType.PARAMS_SET: self._params_set,
            m.MsgType.NH_ADD: self._nh_add,
            m.MsgType.ROUTE_ADD: self._route_add,
            m.MsgType.ROUTE_DEL: self._route_del,
            m.MsgType.ROUTE_LIST: self._route_list,
            m.MsgType.ROUTE_LOOKUP: self._route_lookup,
            m.MsgType.PG_INJECT: self._pg_inject,
            m.MsgType.PG_CAPTURE: self._pg_capture,
        }
        self._conn: socket.socket | None = None
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeDataplane:
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._listener.bind(self.path)
        self._listener.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._listener:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            self._listener.close()
        self.drop_connection()
        if self._thread:
            self._thread.join(5)

    def drop_connection(self) -> None:
        try:
            if self._conn:
                self._conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conn = conn
            with conn:
                try:
                    while (data := conn.recv(HDR.size + m.VR_CTL_MAX_MSG)):
                        self._dispatch(conn, data)
                except OSError:
                    pass  # the client went away, like ctl.c: wait for the next one

    def _dispatch(self, conn: socket.socket, data: bytes) -> None:
        mtype, _, length, seq, _ = HDR.unpack_from(data)
        body = data[HDR.size:]
        assert length == len(body), "client header len disagrees with datagram"
        self.log.append((mtype, seq, length))
        self.sent.append(data)
        if self.before_reply:
            self.before_reply(conn, mtype, seq)
        try:
            if mtype not in self.handlers:
                raise Fail(errno.EOPNOTSUPP, f"unknown message type {mtype}")
            out = self.handlers[mtype](body)
        except Fail as f:
            err = m.Error(msg=f.msg.encode())
            conn.send(HDR.pack(mtype, 0, ctypes.sizeof(err), seq, -f.err) + bytes(err))
            return
        bodies = out if isinstance(out, list) else [out]
        for i, b in enumerate(bodies):
            flags = m.VR_F_MORE if i < len(bodies) - 1 else 0
            assert HDR.size + len(b) <= HDR.size + m.VR_CTL_MAX_MSG
            conn.send(HDR.pack(mtype, flags, len(b), seq, 0) + b)

    def _list(self, entries: list[bytes], head: bytes = b"\0" * 4) -> list[bytes]:
        """Datagrams of `uint32 n` + head rest + entries, as many as needed."""
        size = len(entries[0]) if entries else 1
        per = (MAX_BODY - 4 - len(head)) // size
        per = min(per, self.list_max_entries or per)
        chunks = [entries[i:i + per] for i in range(0, len(entries), per)] or [[]]
        return [struct.pack("=I", len(c)) + head + b"".join(c) for c in chunks]

    # -- handlers

    def _hello(self, body: bytes) -> bytes:
        (version,) = struct.unpack("=I", body)
        if version != m.VR_CTL_VERSION:
            raise Fail(errno.EPROTO, f"client speaks version {version}")
        return bytes(m.HelloResp(version=1, n_workers=2, n_counters=len(self.counter_names),
                                 max_ports=64, max_vrfs=256, max_nexthops=65536,
                                 neigh_table_size=4096, pid=1234, tsc_hz=2_000_000_000))

    def _port_stats(self, body: bytes) -> bytes:
        (port,) = struct.unpack_from("=H", body)
        values = [port * 1000 + i for i in range(len(self.counter_names))]
        return struct.pack(f"=HHI{len(values)}Q", port, 0, len(values), *values)

    def _params_set(self, body: bytes) -> bytes:
        req = m.Params.from_buffer_copy(body)
        for name, bit in m.PARAM_BITS.items():
            if req.mask & bit:
                setattr(self.params, name, getattr(req, name))
        return b""

    def _nh_add(self, body: bytes) -> bytes:
        nh = m.Nh.from_buffer_copy(body)
        self.nhs[nh.id] = nh
        return b""

    def _routes(self, body: bytes) -> tuple[int, list[tuple[int, int, int, int]]]:
        vrf, _, n = struct.unpack_from("=HHI", body)
        if len(body) != 8 + n * ROUTE.size:
            raise Fail(errno.EINVAL, f"{n} routes in a body of {len(body)} bytes")
        return vrf, [(p, pl, fl, nh) for p, pl, fl, _, nh in ROUTE.iter_unpack(body[8:])]

    def _route_add(self, body: bytes) -> bytes:
        vrf, routes = self._routes(body)
        for prefix, plen, flags, nh in routes:  # validate everything, then apply
            if nh not in self.nhs:
                raise Fail(errno.ENOENT, f"route {prefix:#x}/{plen}: next hop {nh} does not exist")
            if (vrf, prefix, plen) in self.routes and not flags & m.VR_ROUTE_REPLACE:
                raise Fail(errno.EEXIST, f"route {prefix:#x}/{plen} exists")
        for prefix, plen, flags, nh in routes:
            self.routes[(vrf, prefix, plen)] = (nh, flags)
        return b""

    def _route_del(self, body: bytes) -> bytes:
        vrf, routes = self._routes(body)
        keys = [(vrf, p, pl) for p, pl, _, _ in routes]
        missing = [k for k in keys if k not in self.routes]
        if missing:
            raise Fail(errno.ENOENT, f"no route {missing[0][1]:#x}/{missing[0][2]}")
        for k in keys:
            del self.routes[k]
        return b""

    def _route_list(self, body: bytes) -> list[bytes]:
        (vrf,) = struct.unpack_from("=H", body)
        return self._list([ROUTE.pack(p, pl, fl, 0, nh)
                           for (v, p, pl), (nh, fl) in self.routes.items() if v == vrf])

    def _route_lookup(self, body: bytes) -> bytes:
        vrf, _, ip = struct.unpack("=HHI", body)
        resp = m.RouteLookupResp()
        best = [(pl, p) for (v, p, pl) in self.routes if v == vrf and not (ip ^ p) >> (32 - pl)]
        if best:
            plen, prefix = max(best)
            nh_id, flags = self.routes[(vrf, prefix, plen)]
            resp.route = m.Route(prefix=prefix, plen=plen, flags=flags, nh_id=nh_id)
            resp.nh = self.nhs[nh_id]
        return bytes(resp)

    def _pg_inject(self, body: bytes) -> bytes:
        n, port, _ = struct.unpack_from("=IHH", body)
        off, frames = 8, []
        for _ in range(n):
            (length,) = struct.unpack_from("=H", body, off)
            frames.append(body[off + 2:off + 2 + length])
            off += 2 + length + length % 2
        if off != len(body):
            raise Fail(errno.EINVAL, f"{n} frames but {len(body) - off} bytes left over")
        self.rings.setdefault(port, []).extend(frames)
        return b""

    def _pg_capture(self, body: bytes) -> list[bytes]:
        (port,) = struct.unpack_from("=H", body)
        frames, self.rings[port] = self.rings.get(port, []), []
        out, cur, n = [], b"", 0
        for f in frames:
            rec = struct.pack("=H", len(f)) + f + b"\0" * (len(f) % 2)
            if 8 + len(cur) + len(rec) > MAX_BODY:
                out.append(struct.pack("=IHH", n, port, 0) + cur)
                cur, n = b"", 0
            cur, n = cur + rec, n + 1
        return out + [struct.pack("=IHH", n, port, 0) + cur]
