"""DataplaneClient against a fake dataplane speaking vr_ctl.h over SOCK_SEQPACKET."""

from __future__ import annotations

import errno
import struct
import threading
import time
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

import pytest
from unit.fake_dataplane import HDR, FakeDataplane

from vrouter.dataplane import messages as m
from vrouter.dataplane.client import (
    ROUTES_PER_MSG, DataplaneClient, DataplaneError, DataplaneUnavailable, ProtocolError,
)
from vrouter.dataplane.types import Nexthop, Route


@pytest.fixture
def fake(tmp_path):
    dp = FakeDataplane(tmp_path / "ctl.sock").start()
    yield dp
    dp.stop()


@pytest.fixture
def client(fake):
    with DataplaneClient(fake.path, timeout=5) as c:
        yield c


def prefixes(n: int, plen: int = 24) -> list[str]:
    return [f"{10 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}.0/{plen}" for i in range(n)]


def sent_of(fake: FakeDataplane, msg_type: int) -> list[bytes]:
    return [d for d in fake.sent if struct.unpack_from("=H", d)[0] == msg_type]


# ---- session, errors, transport -------------------------------------------------------


def test_hello_and_increasing_seq(client, fake):
    hello = client.hello()
    assert (hello.version, hello.n_counters, hello.tsc_hz) == (1, 41, 2_000_000_000)
    client.hello()
    assert [seq for _, seq, _ in fake.log] == [1, 2]


def test_error_reply_is_decoded(client, fake):
    client.nh_add(1, m.NhType.BLACKHOLE)
    client.route_add(0, [("10.0.0.0/8", 1)])
    with pytest.raises(DataplaneError) as exc:
        client.route_add(0, [("10.0.0.0/8", 1)])
    e = exc.value
    assert e.errno == errno.EEXIST and isinstance(e, OSError)
    assert e.msg == "route 0xa000000/8 exists"  # NUL padding of vr_error stripped
    assert str(e) == "route 0xa000000/8 exists (EEXIST)"
    # The client stays usable after an error.
    assert client.route_list(0) == [Route(IPv4Network("10.0.0.0/8"), 1)]


def test_unknown_type_and_empty_error_body(client, fake):
    with pytest.raises(DataplaneError, match="unknown message type 99") as exc:
        client.request(99, b"")
    assert exc.value.errno == errno.EOPNOTSUPP

    def bare_error(conn, mtype, seq):  # a status without a vr_error body
        conn.send(HDR.pack(mtype, 0, 0, seq, -errno.EBUSY))
    fake.before_reply = bare_error
    with pytest.raises(DataplaneError) as exc:
        client.hello()
    assert exc.value.errno == errno.EBUSY and exc.value.msg == "Device or resource busy"


def test_reply_to_an_earlier_request_is_skipped(client, fake):
    def stale(conn, mtype, seq):
        conn.send(HDR.pack(m.MsgType.PARAMS_GET, 0, 4, seq - 1, 0) + b"junk")
    client.hello()
    fake.before_reply = stale
    assert client.hello().version == 1


def test_malformed_reply_is_a_protocol_error(client, fake):
    fake.handlers[m.MsgType.HELLO] = lambda body: b"\0" * 8  # too short for vr_hello_resp
    with pytest.raises(ProtocolError):
        client.hello()


def test_connect_waits_for_the_socket(tmp_path):
    dp = FakeDataplane(tmp_path / "ctl.sock")
    threading.Timer(0.3, dp.start).start()
    try:
        with DataplaneClient(dp.path, timeout=5) as c:
            assert c.hello().pid == 1234
    finally:
        dp.stop()


def test_unavailable(tmp_path, fake):
    t0 = time.monotonic()
    with pytest.raises(DataplaneUnavailable):
        DataplaneClient(tmp_path / "missing.sock", timeout=0.2).connect()
    assert time.monotonic() - t0 >= 0.2  # retried until the timeout

    c = DataplaneClient(fake.path, timeout=5)
    with pytest.raises(DataplaneUnavailable, match="not connected"):
        c.hello()
    c.connect()
    fake.before_reply = lambda conn, mtype, seq: fake.drop_connection()
    with pytest.raises(DataplaneUnavailable):
        c.hello()
    assert not c.connected


def test_no_reply_times_out(fake):
    fake.before_reply = lambda conn, mtype, seq: time.sleep(0.5)
    with DataplaneClient(fake.path, timeout=0.1) as c:
        with pytest.raises(DataplaneUnavailable, match="no reply to HELLO"):
            c.hello()


# ---- routes -------------------------------------------------------------------------


def test_route_bulk_is_split_and_lists_back(client, fake):
    client.nh_add(7, m.NhType.GATEWAY, port=1, gw="192.0.2.1")
    want = prefixes(2 * ROUTES_PER_MSG + 100)
    assert client.route_add(3, ((p, 7) for p in want)) == len(want)

    bulks = sent_of(fake, m.MsgType.ROUTE_ADD)
    assert [struct.unpack_from("=I", d, HDR.size + 4)[0] for d in bulks] == \
        [ROUTES_PER_MSG, ROUTES_PER_MSG, 100]
    assert all(len(d) <= m.VR_CTL_MAX_MSG for d in bulks)
    assert len(fake.routes) == len(want)

    fake.list_max_entries = 1000  # the list comes back in 11 datagrams
    got = client.route_list(3)
    assert sorted(str(r.prefix) for r in got) == sorted(want)
    assert {(r.nh_id, r.flags) for r in got} == {(7, 0)}


def test_route_bulk_is_atomic_per_message(client, fake):
    client.nh_add(1, m.NhType.BLACKHOLE)
    routes = [(p, 1) for p in prefixes(3 * ROUTES_PER_MSG)]
    routes[ROUTES_PER_MSG + 5] = (routes[ROUTES_PER_MSG + 5][0], 99)  # unknown next hop
    with pytest.raises(DataplaneError) as exc:
        client.route_add(0, routes)
    assert exc.value.errno == errno.ENOENT and "next hop 99" in exc.value.msg
    assert exc.value.applied == ROUTES_PER_MSG
    # First message applied, the failing one not at all, the third never sent.
    assert len(fake.routes) == ROUTES_PER_MSG
    assert len(sent_of(fake, m.MsgType.ROUTE_ADD)) == 2


def test_route_replace_and_delete(client, fake):
    client.nh_add(1, m.NhType.BLACKHOLE)
    client.nh_add(2, m.NhType.REJECT)
    client.route_add(0, [("10.1.0.0/16", 1), (IPv4Network("0.0.0.0/0"), 1)])
    client.route_add(0, [("10.1.0.0/16", 2)], replace=True)
    assert fake.routes[(0, 0x0A010000, 16)] == (2, m.VR_ROUTE_REPLACE)
    assert client.route_del(0, ["10.1.0.0/16"]) == 1
    assert list(fake.routes) == [(0, 0, 0)]
    with pytest.raises(DataplaneError) as exc:
        client.route_del(0, ["10.1.0.0/16"])
    assert exc.value.errno == errno.ENOENT


@pytest.mark.parametrize("bad", ["10.0.0.1/24", "10.0.0.0/33", "10.0.0/8", "10.0.0.0/+8", "x/1"])
def test_bad_prefixes_are_rejected_before_sending(client, fake, bad):
    with pytest.raises(ValueError):
        client.route_add(0, [("10.0.0.0/8", 1), (bad, 1)])
    assert sent_of(fake, m.MsgType.ROUTE_ADD) == []


def test_route_lookup(client, fake):
    client.nh_add(4, m.NhType.GATEWAY, port=2, gw=IPv4Address("192.0.2.9"))
    client.route_add(1, [("10.0.0.0/8", 4), ("10.2.0.0/16", 4)])
    route, nh = client.route_lookup(1, "10.2.3.4")
    assert route == Route(IPv4Network("10.2.0.0/16"), 4)
    assert nh == Nexthop(4, m.NhType.GATEWAY, port=2, gw=IPv4Address("192.0.2.9"))
    assert client.route_lookup(1, "11.0.0.1") == (None, None)


# ---- packet generator frames ----------------------------------------------------------


def test_frames_wire_encoding(client, fake):
    client.pg_inject(5, [b"abc", b"", b"wxyz"])
    (datagram,) = sent_of(fake, m.MsgType.PG_INJECT)
    body = datagram[HDR.size:]
    # n=3, port=5, then each frame: uint16 length, bytes, pad to even.
    assert body == (struct.pack("=IHH", 3, 5, 0) + struct.pack("=H", 3) + b"abc\0"
                    + struct.pack("=H", 0) + struct.pack("=H", 4) + b"wxyz")
    assert client.pg_capture(5) == [b"abc", b"", b"wxyz"]
    assert client.pg_capture(5) == []


def test_many_frames_are_split_both_ways(client, fake):
    frames = [bytes([i % 256]) * (60 + i * 37 % 1455) for i in range(200)]  # ~160 kB, odd and even
    client.pg_inject(1, frames)
    bulks = sent_of(fake, m.MsgType.PG_INJECT)
    assert len(bulks) > 1 and all(len(d) <= m.VR_CTL_MAX_MSG for d in bulks)
    assert fake.rings[1] == frames
    assert client.pg_capture(1) == frames  # several VR_F_MORE datagrams


def test_oversized_frame_is_refused(client):
    with pytest.raises(ValueError):
        client.pg_inject(1, [b"\0" * m.VR_CTL_MAX_MSG])


# ---- other typed calls ----------------------------------------------------------------


def test_port_stats_zips_cached_counter_names(client, fake):
    fake.list_max_entries = 16  # names arrive in 3 datagrams
    stats = client.port_stats(2)
    assert list(stats) == fake.counter_names
    assert stats["counter_0"] == 2000 and stats["drop_no_route"] == 2040
    client.port_stats(3)
    assert len(sent_of(fake, m.MsgType.COUNTER_NAMES)) == 1


def test_params_set_sends_only_given_fields(client, fake):
    client.params_set(arp_retrans_ms=250, icmp_rate=0)
    (datagram,) = sent_of(fake, m.MsgType.PARAMS_SET)
    req = m.Params.from_buffer_copy(datagram, HDR.size)
    assert req.mask == m.VR_PARAM_ARP_RETRANS_MS | m.VR_PARAM_ICMP_RATE
    p = client.params_get()
    assert (p.arp_reachable_ms, p.arp_retrans_ms, p.icmp_rate) == (30000, 250, 0)
    with pytest.raises(TypeError):
        client.params_set(arp_retrans=1)


def test_port_list_decoding(client, fake):
    info = m.PortInfo(name=b"eth0", driver=b"net_ring", port=3, vrf=2, mtu=9000,
                      admin_up=1, kind=m.PortKind.RING, n_addrs=2)
    info.mac[:] = bytes.fromhex("020000aabbcc")
    info.addrs[0] = m.Addr(ip=0x0A000001, plen=24)
    info.addrs[1] = m.Addr(ip=0xC0A80101, plen=32)
    fake.ports = [info]
    (port,) = client.port_list()
    assert (port.name, port.port, port.vrf, port.mtu) == ("eth0", 3, 2, 9000)
    assert port.kind is m.PortKind.RING
    assert port.mac == "02:00:00:aa:bb:cc" and port.admin_up and not port.link_up
    assert port.addrs == (IPv4Interface("10.0.0.1/24"), IPv4Interface("192.168.1.1/32"))


def test_request_bodies(client, fake):
    fake.handlers[m.MsgType.PORT_ADD] = lambda body: bytes(m.PortId(port=7))
    for t in (m.MsgType.ADDR_ADD, m.MsgType.NEIGH_ADD, m.MsgType.PORT_SET):
        fake.handlers[t] = lambda body: b""
    assert client.port_add("eth1", "net_tap0", vrf=4, mac="02:00:00:00:00:01") == 7
    client.addr_add(7, "10.9.8.7/20")
    client.neigh_add(7, "10.9.8.1", "02:00:00:00:00:99")
    client.port_set(7, mtu=1400, admin_up=False)
    add, addr, neigh, pset = (d[HDR.size:] for d in fake.sent)
    req = m.PortAddReq.from_buffer_copy(add)
    assert (req.name, req.devargs, req.vrf) == (b"eth1", b"net_tap0", 4)
    assert (req.kind, req.set_mac, req.admin_up) == (m.PortKind.DEVARGS, 1, 1)
    assert bytes(req.mac) == bytes.fromhex("020000000001")
    a = m.AddrReq.from_buffer_copy(addr)
    assert (a.port, a.addr.ip, a.addr.plen) == (7, 0x0A090807, 20)
    n = m.Neigh.from_buffer_copy(neigh)
    assert (n.port, n.ip, bytes(n.mac)) == (7, 0x0A090801, bytes.fromhex("020000000099"))
    s = m.PortSetReq.from_buffer_copy(pset)
    assert (s.mask, s.mtu, s.admin_up) == (m.VR_PORT_SET_MTU | m.VR_PORT_SET_UP, 1400, 0)
    with pytest.raises(ValueError):
        client.port_add("x" * m.VR_NAME_LEN)  # no room for the NUL
