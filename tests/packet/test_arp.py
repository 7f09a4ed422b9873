"""ARP (RFC 826): answering, learning, resolution with held packets, aging,
static entries, and malformed input."""

from __future__ import annotations

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from packet.harness import PacketRouter, host_mac, router_mac
from vrouter.dataplane.messages import NhType
from packet.helpers import (BCAST, arp_frame, arp_request_from_router, assert_counters,
                            forwarded, icmp_error, merge, neighs, rx, snapshot, to_router, tx,
                            wait_for)

REQUEST, REPLY = 1, 2


def request_for(tip, h=2, i=0) -> bytes:
    """A request from host h of port index i, padded to 60 bytes as on the wire."""
    return bytes(arp_frame(REQUEST, host_mac(i, h), BCAST, f"10.0.{i}.{h}", tip)).ljust(60, b"\0")


def reply_from(i, h=2, mac=None) -> bytes:
    mac = mac or host_mac(i, h)
    return bytes(arp_frame(REPLY, mac, router_mac(i), f"10.0.{i}.{h}", f"10.0.{i}.1",
                           hwdst=router_mac(i))).ljust(60, b"\0")


def our_reply(i, h=2, mac=None) -> bytes:
    """Our answer to host h of port index i (trimmed to the 42-byte ARP frame)."""
    mac = mac or host_mac(i, h)
    return bytes(arp_frame(REPLY, router_mac(i), mac, f"10.0.{i}.1", f"10.0.{i}.{h}",
                           hwdst=mac))


def to_host(dst, ip_id=1, ttl=64):
    return (to_router(0) / IP(src="10.0.0.2", dst=dst, id=ip_id, ttl=ttl) /
            UDP(sport=7, dport=7) / Raw(b"data"))


# ---- answering and learning ---------------------------------------------------


def test_request_for_our_address_is_answered_and_sender_learned(router):
    (a,) = router.add_ports(1)
    req = request_for("10.0.0.1")
    before = snapshot(router)
    router.send(a, req)
    (out,) = router.expect(a, 1)
    assert bytes(out) == our_reply(0) and len(out) == 42
    assert_counters(router, before, {a: merge(rx(req), tx(out), {
        "arp_requests_in": 1, "arp_replies_out": 1, "arp_learned": 1})})
    assert neighs(router) == {(a, "10.0.0.2"): (host_mac(0), "REACHABLE")}


def test_request_for_another_address_is_ignored(router):
    (a,) = router.add_ports(1)
    req = request_for("10.0.0.9")
    before = snapshot(router)
    router.send(a, req)
    router.expect_none(a)
    assert_counters(router, before, {a: merge(rx(req), {
        "arp_requests_in": 1, "drop_arp_ignored": 1})})
    assert neighs(router) == {}


def test_unsolicited_reply_is_not_learned(router):
    (a,) = router.add_ports(1)
    rep = reply_from(0)
    before = snapshot(router)
    router.send(a, rep)
    router.expect_none(a)
    assert_counters(router, before, {a: merge(rx(rep), {
        "arp_replies_in": 1, "drop_arp_unsolicited": 1})})
    assert neighs(router) == {}


# ---- resolution -----------------------------------------------------------------


def test_unresolved_host_is_resolved_and_held_packet_released(router):
    a, b = router.add_ports(2)
    pkt = to_host("10.0.1.5")
    before = snapshot(router)
    router.send(a, pkt)
    (req,) = router.expect(b, 1)
    assert bytes(req) == arp_request_from_router(1, "10.0.1.5")
    assert_counters(router, before, {
        a: merge(rx(pkt), {"ip_forwarded": 1}),
        b: merge(tx(req), {"arp_held": 1, "arp_requests_out": 1})})
    assert neighs(router) == {(b, "10.0.1.5"): ("00:00:00:00:00:00", "INCOMPLETE")}

    before = snapshot(router)
    rep = reply_from(1, 5)
    router.send(b, rep)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1, 5))
    assert_counters(router, before, {b: merge(rx(rep), tx(out), {
        "arp_replies_in": 1, "arp_learned": 1, "arp_released": 1})})
    assert neighs(router) == {(b, "10.0.1.5"): (host_mac(1, 5), "REACHABLE")}

    before = snapshot(router)  # now straight out, nothing held
    pkt2 = to_host("10.0.1.5", ip_id=2)
    router.send(a, pkt2)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt2, 1, host_mac(1, 5))
    assert_counters(router, before, {a: merge(rx(pkt2), {"ip_forwarded": 1}), b: tx(out)})


def test_gateway_next_hop_is_resolved_by_arp(router):
    a, b = router.add_ports(2)
    router.dp.nh_add(1, NhType.GATEWAY, b, "10.0.1.9")
    router.dp.route_add(0, [("20.0.0.0/8", 1)])
    pkts = [to_host("20.1.2.3", ip_id=i) for i in (1, 2)]
    before = snapshot(router)
    router.send(a, pkts[0])
    (req,) = router.expect(b, 1)
    assert bytes(req) == arp_request_from_router(1, "10.0.1.9")
    rep = reply_from(1, 9)
    router.send(b, rep)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkts[0], 1, host_mac(1, 9))
    assert_counters(router, before, {
        a: merge(rx(pkts[0]), {"ip_forwarded": 1}),
        b: merge(rx(rep), tx(req, out), {
            "arp_requests_out": 1, "arp_held": 1, "arp_replies_in": 1, "arp_learned": 1,
            "arp_released": 1})})
    before = snapshot(router)
    router.send(a, pkts[1])  # the next hop now has the MAC: straight out
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkts[1], 1, host_mac(1, 9))
    assert_counters(router, before, {a: merge(rx(pkts[1]), {"ip_forwarded": 1}), b: tx(out)})


def test_request_from_the_host_being_resolved_resolves_it(router):
    """RFC 826: a request for us from the host we are resolving teaches us
    its MAC just as well as a reply."""
    a, b = router.add_ports(2)
    pkt = to_host("10.0.1.5")
    router.send(a, pkt)
    (req,) = router.expect(b, 1)
    assert bytes(req) == arp_request_from_router(1, "10.0.1.5")
    before = snapshot(router)
    theirs = request_for("10.0.1.1", h=5, i=1)
    router.send(b, theirs)
    ans, out = router.expect(b, 2)
    assert bytes(ans) == our_reply(1, 5)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1, 5))
    assert_counters(router, before, {b: merge(rx(theirs), tx(ans, out), {
        "arp_requests_in": 1, "arp_replies_out": 1, "arp_learned": 1, "arp_released": 1})})


def test_held_packets_are_released_in_order(router):
    a, b = router.add_ports(2)
    pkts = [to_host("10.0.1.5", ip_id=i) for i in range(1, 6)]
    before = snapshot(router)
    router.send(a, *pkts)
    (req,) = router.expect(b, 1)
    assert bytes(req) == arp_request_from_router(1, "10.0.1.5")
    rep = reply_from(1, 5)
    router.send(b, rep)
    outs = router.expect(b, 5)
    assert [bytes(o) for o in outs] == [forwarded(p, 1, host_mac(1, 5)) for p in pkts]
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), {"ip_forwarded": 5}),
        b: merge(rx(rep), tx(req, *outs), {
            "arp_requests_out": 1, "arp_held": 5, "arp_replies_in": 1, "arp_learned": 1,
            "arp_released": 5})})


def test_hold_queue_limit_drops_the_excess(router):
    a, b = router.add_ports(2)
    router.dp.params_set(arp_queue_len=2)
    pkts = [to_host("10.0.1.5", ip_id=i) for i in range(1, 6)]
    before = snapshot(router)
    router.send(a, *pkts)
    (req,) = router.expect(b, 1)
    rep = reply_from(1, 5)
    router.send(b, rep)
    outs = router.expect(b, 2)
    assert [bytes(o) for o in outs] == [forwarded(p, 1, host_mac(1, 5)) for p in pkts[:2]]
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), {"ip_forwarded": 5}),
        b: merge(rx(rep), tx(req, *outs), {
            "arp_requests_out": 1, "arp_held": 2, "drop_arp_queue_full": 3,
            "arp_replies_in": 1, "arp_learned": 1, "arp_released": 2})})


def test_resolution_failure_sends_host_unreachable_quoting_original_ttl(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(a, "10.0.0.2", host_mac(0))
    router.dp.params_set(arp_retrans_ms=50, arp_max_probes=3)
    pkts = [to_host("10.0.1.5", ip_id=i, ttl=40 + i) for i in (1, 2)]
    before = snapshot(router)
    router.send(a, *pkts)
    errs = router.expect(a, 2, timeout=3)
    reqs = router.expect(b, 3)
    assert [bytes(r) for r in reqs] == [arp_request_from_router(1, "10.0.1.5")] * 3
    # The quote is the datagram as it arrived (TTL 41/42, not decremented);
    # the errors' IP ids are the router's choice, copied from them.
    assert [bytes(e) for e in errs] == [
        icmp_error(0, host_mac(0), "10.0.0.1", "10.0.0.2", 3, 1, bytes(p[IP]), e[IP].id)
        for p, e in zip(pkts, errs, strict=True)]
    assert_counters(router, before, {
        a: merge(*map(rx, pkts), tx(*errs), {"ip_forwarded": 2, "icmp_errors_sent": 2}),
        b: merge(tx(*reqs), {"arp_held": 2, "arp_requests_out": 3, "drop_arp_failed": 2})})
    assert neighs(router) == {(a, "10.0.0.2"): (host_mac(0), "PERMANENT")}


# ---- aging -----------------------------------------------------------------------


def learn(router, a, h=2):
    router.send(a, request_for("10.0.0.1", h=h))
    (ans,) = router.expect(a, 1)
    assert bytes(ans) == our_reply(0, h)
    wait_for(lambda: (a, f"10.0.0.{h}") in neighs(router), what="learning")


def test_aged_entry_is_reprobed_by_unicast_and_kept_by_a_reply(router):
    (a,) = router.add_ports(1)
    learn(router, a)
    before = snapshot(router)
    router.dp.params_set(arp_reachable_ms=300, arp_retrans_ms=200, arp_max_probes=2)
    (probe,) = router.expect(a, 1, timeout=3)
    assert bytes(probe) == arp_request_from_router(0, "10.0.0.2", dst_mac=host_mac(0))
    assert neighs(router) == {(a, "10.0.0.2"): (host_mac(0), "PROBE")}
    rep = reply_from(0)
    router.send(a, rep)
    wait_for(lambda: neighs(router)[(a, "10.0.0.2")] == (host_mac(0), "REACHABLE"),
             what="REACHABLE again")
    router.dp.params_set(arp_reachable_ms=3600000)  # no further round
    assert_counters(router, before, {a: merge(tx(probe), rx(rep), {
        "arp_requests_out": 1, "arp_replies_in": 1})})


def test_aged_entry_without_reply_is_removed(router):
    (a,) = router.add_ports(1)
    learn(router, a)
    before = snapshot(router)
    router.dp.params_set(arp_reachable_ms=100, arp_retrans_ms=50, arp_max_probes=2)
    wait_for(lambda: not neighs(router), what="entry removed")
    probes = router.expect(a, 2)
    assert [bytes(p) for p in probes] == [
        arp_request_from_router(0, "10.0.0.2", dst_mac=host_mac(0))] * 2
    assert_counters(router, before, {a: merge(tx(*probes), {"arp_requests_out": 2})})


def test_static_entry_is_never_probed_nor_overridden(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.5", host_mac(1, 5))
    router.dp.params_set(arp_reachable_ms=10, arp_retrans_ms=10, arp_max_probes=1)
    other = "02:00:00:00:99:99"  # 10.0.1.5 claims another MAC: reply, request, gratuitous
    claims = [reply_from(1, 5, mac=other),
              bytes(arp_frame(REQUEST, other, BCAST, "10.0.1.5", "10.0.1.1")),
              bytes(arp_frame(REQUEST, other, BCAST, "10.0.1.5", "10.0.1.5"))]
    before = snapshot(router)
    router.send(b, *claims)
    (ans,) = router.expect(b, 1)  # the request is still answered, to its sender
    assert bytes(ans) == our_reply(1, 5, mac=other)
    router.expect_none(b, wait=0.2)  # and no probe in 20 reachable periods
    assert neighs(router) == {(b, "10.0.1.5"): (host_mac(1, 5), "PERMANENT")}
    assert_counters(router, before, {b: merge(*map(rx, claims), tx(ans), {
        "arp_replies_in": 1, "arp_requests_in": 2, "arp_replies_out": 1,
        "drop_arp_ignored": 1})})
    pkt = to_host("10.0.1.5")
    router.send(a, pkt)
    (out,) = router.expect(b, 1)
    assert bytes(out) == forwarded(pkt, 1, host_mac(1, 5))


def test_gratuitous_arp_on_address_add(router):
    (a,) = router.add_ports(1, addresses=False)
    before = snapshot(router)
    router.dp.addr_add(a, "10.0.0.1/24")
    (out,) = router.expect(a, 1)
    assert bytes(out) == arp_request_from_router(0, "10.0.0.1")  # sender = target = us
    assert_counters(router, before, {a: merge(tx(out), {"arp_requests_out": 1})})


# ---- malformed -------------------------------------------------------------------


def patched(frame: bytes, off: int, value: bytes) -> bytes:
    return frame[:off] + value + frame[off + len(value):]


GOOD = request_for("10.0.0.1")
MALFORMED = {
    "bad_hardware_type": (patched(GOOD, 14, b"\x00\x06"), "drop_arp_bad_header"),
    "bad_protocol_type": (patched(GOOD, 16, b"\x86\xdd"), "drop_arp_bad_header"),
    "bad_hlen": (patched(GOOD, 18, b"\x08"), "drop_arp_bad_header"),
    "bad_plen": (patched(GOOD, 19, b"\x10"), "drop_arp_bad_header"),
    "truncated": (GOOD[:14 + 20], "drop_arp_bad_header"),
    "unknown_opcode": (patched(GOOD, 20, b"\x00\x03"), "drop_arp_bad_opcode"),
    "sender_mac_differs_from_ethernet_source": (
        bytes(arp_frame(REQUEST, host_mac(0), BCAST, "10.0.0.2", "10.0.0.1",
                        hwsrc=host_mac(0, 3))), "drop_arp_mac_mismatch"),
    "sender_ip_off_subnet": (request_for("10.0.0.1").replace(
        bytes([10, 0, 0, 2]), bytes([10, 9, 9, 9])), "drop_arp_bad_sender"),
    "sender_ip_is_ours": (bytes(arp_frame(REQUEST, host_mac(0), BCAST, "10.0.0.1",
                                          "10.0.0.1")), "drop_arp_bad_sender"),
}


@pytest.fixture(scope="module")
def one_port(shared_router):
    """All malformed cases share one dataplane: each leaves only counters."""
    (a,) = shared_router.add_ports(1)
    return shared_router, a


@pytest.mark.parametrize("frame, counter", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_arp_is_dropped_and_counted(one_port, frame, counter):
    router, a = one_port
    before = snapshot(router)
    router.send(a, frame)
    router.expect_none(a)
    seen = {}  # requests are counted once the header and opcode are sound
    if counter in ("drop_arp_mac_mismatch", "drop_arp_bad_sender"):
        seen = {"arp_requests_in": 1}
    assert_counters(router, before, {a: merge(rx(frame), seen, {counter: 1})})
    assert neighs(router) == {}


# ---- table size ------------------------------------------------------------------


def test_table_full_still_answers_but_learns_only_its_size(tmp_path):
    r = PacketRouter(tmp_path, neigh_table=8)
    try:
        (a,) = r.add_ports(1)
        reqs = [request_for("10.0.0.1", h=h) for h in range(2, 12)]  # 10 senders
        before = snapshot(r)
        r.send(a, *reqs)
        outs = r.expect(a, 10)
        assert [bytes(o) for o in outs] == [our_reply(0, h) for h in range(2, 12)]
        assert_counters(r, before, {a: merge(*map(rx, reqs), tx(*outs), {
            "arp_requests_in": 10, "arp_replies_out": 10, "arp_learned": 8,
            "drop_arp_table_full": 2})})
        assert neighs(r) == {(a, f"10.0.0.{h}"): (host_mac(0, h), "REACHABLE")
                             for h in range(2, 10)}
    finally:
        r.close()
