"""Control channel errors: every bad request fails with the right errno and a
message naming the bad value, and leaves the dataplane exactly as it was."""

from __future__ import annotations

import errno
import socket
import struct
from contextlib import contextmanager

import pytest
from scapy.layers.inet import IP, UDP

from packet.harness import host_mac
from packet.helpers import forwarded, to_router
from vrouter.dataplane.client import DataplaneError
from vrouter.dataplane.messages import MsgType, NhType, PortKind

HDR = struct.Struct("=HHIIi")  # struct vr_msg_hdr
ROUTE = struct.Struct("=IBBHI")  # struct vr_route


def configure(router):
    """p0 10.0.0.1/24 (VRF 0), p1 10.0.1.1/24 (VRF 1); next hop 1 via 10.0.0.2
    on p0, route 20.1.0.0/16 via it in VRF 0."""
    router.dp.vrf_add(1)
    router.add_ports(1, vrf=0)
    router.add_ports(1, vrf=1)
    router.dp.neigh_add(0, "10.0.0.2", host_mac(0))
    router.dp.nh_add(1, NhType.GATEWAY, 0, "10.0.0.2")
    router.dp.route_add(0, [("20.1.0.0/16", 1)])
    return router.dp


@pytest.fixture(scope="module")
def dp(shared_router):
    """Shared by the tests of refused requests: they change nothing."""
    return configure(shared_router)


@pytest.fixture
def own_dp(router):
    """For tests that change the state themselves."""
    return configure(router)


def state(dp) -> dict:
    """Everything a client can read back (neighbour ages excepted)."""
    return {
        "ports": dp.port_list(),
        "vrfs": dp.vrf_list(),
        "routes": {v.vrf: dp.route_list(v.vrf) for v in dp.vrf_list()},
        "nhs": dp.nh_list(),
        "neighs": [(n.ip, n.port, n.mac, n.state) for n in dp.neigh_list()],
        "params": dp.params_get(),
    }


@contextmanager
def refused(dp, err: int, *names: str):
    """The block must raise DataplaneError(err) whose message names every one
    of `names`, and change nothing."""
    before = state(dp)
    with pytest.raises(DataplaneError) as e:
        yield
    assert e.value.errno == err, e.value
    for name in names:
        assert name in e.value.msg, e.value.msg
    assert state(dp) == before


def raw_routes(vrf: int, routes) -> bytes:
    """struct vr_route_req, unchecked by the client: (prefix, plen, flags, nh)."""
    body = struct.pack("=HHI", vrf, 0, len(routes))
    for prefix, plen, flags, nh in routes:
        body += ROUTE.pack(int.from_bytes(socket.inet_aton(prefix), "big"), plen, flags, 0, nh)
    return body


# ---- routes ---------------------------------------------------------------------


def test_route_with_host_bits_set(dp):
    with refused(dp, errno.EINVAL, "20.1.2.0/16", "host bits"):
        dp.request(MsgType.ROUTE_ADD, raw_routes(0, [("20.1.2.0", 16, 0, 1)]))


def test_route_to_missing_next_hop(dp):
    with refused(dp, errno.ENOENT, "next hop 77"):
        dp.route_add(0, [("30.0.0.0/8", 77)])


def test_duplicate_route_without_replace(dp):
    with refused(dp, errno.EEXIST, "20.1.0.0/16"):
        dp.route_add(0, [("20.1.0.0/16", 1)])


def test_route_to_missing_vrf(dp):
    with refused(dp, errno.ENOENT, "vrf 9"):
        dp.route_add(9, [("30.0.0.0/8", 1)])


def test_bulk_route_add_failing_at_the_third_applies_none(own_dp, router):
    dp = own_dp
    dp.nh_add(2, NhType.GATEWAY, 0, "10.0.0.3")
    with refused(dp, errno.ENOENT, "20.3.0.0/16", "next hop 77"):
        dp.route_add(0, [("20.1.0.0/16", 2), ("20.2.0.0/16", 2), ("20.3.0.0/16", 77),
                         ("20.4.0.0/16", 2), ("20.5.0.0/16", 2)], replace=True)
    # the FIB, not only the list, still sends 20.1/16 to 10.0.0.2 (next hop 1)
    pkt = to_router(1) / IP(src="10.0.1.2", dst="20.1.2.3") / UDP(sport=1, dport=2)
    dp.route_add(1, [("20.1.0.0/16", 1)])  # leak from p1's VRF 1 to reach it
    router.send(1, pkt)
    (out,) = router.expect(0, 1)
    assert bytes(out) == forwarded(pkt, 0, host_mac(0))


def test_bulk_route_add_rolls_back_a_route_kept_under_a_connected_one(own_dp):
    """10.0.0.0/24 is p0's subnet: a client route for it is kept aside. A
    failing bulk must not leave it there."""
    dp = own_dp
    with refused(dp, errno.EEXIST, "20.1.0.0/16"):
        dp.route_add(0, [("10.0.0.0/24", 1), ("20.1.0.0/16", 1)])
    dp.route_add(0, [("10.0.0.0/24", 1)])  # not "already exists"
    assert {n.id: n.refcnt for n in dp.nh_list()}[1] == 2


def test_route_del_of_missing_prefix_deletes_nothing(own_dp):
    dp = own_dp
    dp.route_add(0, [("20.2.0.0/16", 1)])
    with refused(dp, errno.ENOENT, "20.3.0.0/16"):
        dp.route_del(0, ["20.2.0.0/16", "20.3.0.0/16"])


# ---- next hops --------------------------------------------------------------------


@pytest.mark.parametrize("gw", ["10.9.9.9", "10.0.0.1"], ids=["off_subnet", "our_address"])
def test_gateway_not_a_neighbour_on_the_port(dp, gw):
    with refused(dp, errno.EINVAL, gw):
        dp.nh_add(5, NhType.GATEWAY, 0, gw)


def test_duplicate_next_hop_id(dp):
    with refused(dp, errno.EEXIST, "next hop 1"):
        dp.nh_add(1, NhType.BLACKHOLE)


def test_next_hop_in_use_is_not_deleted(dp):
    with refused(dp, errno.EBUSY, "next hop 1"):
        dp.nh_del(1)


def test_group_with_missing_member(dp):
    with refused(dp, errno.ENOENT, "member 42"):
        dp.nh_add(5, NhType.GROUP, members=[1, 42])


# ---- VRFs and ports -------------------------------------------------------------------


def test_vrf_with_ports_is_not_deleted(dp):
    with refused(dp, errno.EBUSY, "vrf 1"):
        dp.vrf_del(1)


def test_port_with_duplicate_name(dp):
    with refused(dp, errno.EEXIST, "p0"):
        dp.port_add("p0", kind=PortKind.RING)


def test_port_in_unknown_vrf(dp):
    with refused(dp, errno.ENOENT, "vrf 7"):
        dp.port_add("p9", kind=PortKind.RING, vrf=7)


@pytest.mark.parametrize("mtu", [67, 9601])
def test_port_with_bad_mtu(dp, mtu):
    with refused(dp, errno.EINVAL, f"MTU {mtu}"):
        dp.port_add("p9", kind=PortKind.RING, mtu=mtu)


def test_port_set_with_bad_mtu(dp):
    with refused(dp, errno.EINVAL, "MTU 20"):
        dp.port_set(0, mtu=20)


def test_port_with_bogus_devargs(dp):
    with refused(dp, errno.ENODEV, "net_bogus0"):
        dp.port_add("p9", devargs="net_bogus0")


# ---- addresses ------------------------------------------------------------------------


def test_duplicate_address(dp):
    with refused(dp, errno.EEXIST, "10.0.0.1"):
        dp.addr_add(0, "10.0.0.1/24")


@pytest.mark.parametrize("addr", ["10.0.5.0/24", "10.0.5.255/24"])
def test_address_equal_to_network_or_broadcast(dp, addr):
    with refused(dp, errno.EINVAL, addr):
        dp.addr_add(0, addr)


# ---- parameters -----------------------------------------------------------------------


@pytest.mark.parametrize("fields, name", [
    ({"arp_max_probes": 0}, "arp_max_probes 0"),
    ({"icmp_rate": 2000000}, "icmp_rate 2000000"),
    ({"arp_queue_len": 5, "arp_retrans_ms": 1}, "arp_retrans_ms 1"),  # nothing applied
])
def test_params_out_of_range(dp, fields, name):
    with refused(dp, errno.EINVAL, name):
        dp.params_set(**fields)


# ---- malformed messages ---------------------------------------------------------------


def raw_exchange(router, datagram: bytes) -> tuple[tuple, str]:
    """Sends one datagram on a fresh connection; returns the reply header and
    its error text."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(str(router.proc.settings.socket))
        s.send(datagram)
        reply = s.recv(128 * 1024)
    hdr = HDR.unpack_from(reply)
    return hdr, reply[HDR.size:].split(b"\0", 1)[0].decode()


def test_header_claiming_more_bytes_than_sent(dp, shared_router):
    before = state(dp)
    (typ, _, length, seq, status), msg = raw_exchange(
        shared_router, HDR.pack(MsgType.ROUTE_ADD, 0, 100, 7, 0) + b"\0" * 10)
    assert (typ, seq, status) == (MsgType.ROUTE_ADD, 7, -errno.EINVAL)
    assert "100" in msg and "10" in msg, msg
    assert dp.hello().version == 1 and state(dp) == before


def test_datagram_shorter_than_a_header(dp, shared_router):
    (_, _, _, _, status), msg = raw_exchange(shared_router, b"\x01\x00\x00")
    assert status == -errno.EINVAL and "3 bytes" in msg, msg
    assert dp.hello().version == 1


def test_oversized_datagram(dp, shared_router):
    (_, _, _, _, status), msg = raw_exchange(
        shared_router, HDR.pack(MsgType.HELLO, 0, 64 * 1024, 1, 0) + b"\0" * (64 * 1024))
    assert status == -errno.EMSGSIZE, msg
    assert dp.hello().version == 1


def test_unknown_message_type(dp):
    with refused(dp, errno.EOPNOTSUPP, "99"):
        dp.request(99, b"")
    assert dp.hello().version == 1


def test_body_shorter_than_its_struct(dp):
    with refused(dp, errno.EINVAL, "10 bytes"):
        dp.request(MsgType.PORT_ADD, b"\0" * 10)
    assert dp.hello().version == 1
