"""Control replies are built in an aligned buffer (fuzzer finding,
UndefinedBehaviorSanitizer: ctl.c's reply body started at an odd offset of
struct ctl_resp, and every handler writes its reply struct there, 2-, 4- and
8-byte fields alike). Each kind of reply is asked for here, with frames
counted in between so 64-bit counters are not all zero; against the
sanitizer build (run-tests.sh) the old layout aborts on the first reply."""

from __future__ import annotations

from scapy.layers.inet import IP, UDP

from packet.harness import host_mac
from packet.helpers import to_router
from vrouter.dataplane.messages import NhType


def test_every_reply_kind_round_trips(router):
    a, b = router.add_ports(2)
    router.dp.neigh_add(b, "10.0.1.2", host_mac(1))
    router.dp.nh_add(1, NhType.GATEWAY, b, "10.0.1.2")
    router.dp.route_add(0, [("20.0.0.0/8", 1)])
    frame = to_router(0) / IP(src="10.0.0.2", dst="20.0.0.1") / UDP() / b"payload"
    router.send(a, *[frame] * 3)
    router.expect(b, 3)

    assert router.dp.hello().n_workers >= 1
    assert len(router.dp.counter_names()) > 10
    assert router.dp.params_get().icmp_burst > 0
    assert {p.port for p in router.dp.port_list()} >= {a, b}
    stats = router.counters(a)
    assert stats["rx_packets"] == 3 and stats["rx_bytes"] == 3 * len(frame)
    assert router.counters(b)["tx_packets"] == 1 + 3  # its gratuitous ARP, the frames
    assert any(v.vrf == 0 for v in router.dp.vrf_list())
    assert any(n.id == 1 for n in router.dp.nh_list())
    assert any(str(r.prefix) == "20.0.0.0/8" for r in router.dp.route_list(0))
    route, nh = router.dp.route_lookup(0, "20.1.2.3")
    assert str(route.prefix) == "20.0.0.0/8" and nh.id == 1
    assert any(str(n.ip) == "10.0.1.2" for n in router.dp.neigh_list())
    assert router.dp.nat_rule_list() == []
    assert router.dp.nat_session_list() == []
    assert router.dp.nat_params_get()["udp"] > 0
