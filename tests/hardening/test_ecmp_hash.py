"""ECMP hashing reads the L4 ports of any header length (fuzzer finding,
UndefinedBehaviorSanitizer: ip4_flow_hash() loaded the 32-bit port pair
through a cast pointer, which is misaligned for every frame: the IP header
sits 14 bytes into the buffer). Flows of one address pair spread over the
group by their ports, options or not, and each flow keeps its path. Run
against the sanitizer build (run-tests.sh), the old code aborts here."""

from __future__ import annotations

from collections import Counter

import pytest
from scapy.layers.inet import IP, TCP, UDP, IPOption_RR
from scapy.packet import Raw

from packet.harness import host_mac
from packet.helpers import to_router
from vrouter.dataplane.messages import NhType

GWS = (8, 9, 10, 11)


@pytest.fixture
def ecmp(router):
    a, b = router.add_ports(2)
    for i, h in enumerate(GWS):
        router.dp.neigh_add(b, f"10.0.1.{h}", host_mac(1, h))
        router.dp.nh_add(i + 1, NhType.GATEWAY, b, f"10.0.1.{h}")
    router.dp.nh_add(10, NhType.GROUP, members=[1, 2, 3, 4])
    router.dp.route_add(0, [("20.0.0.0/8", 10)])
    return a, b


@pytest.mark.parametrize("options", [[], [IPOption_RR()]], ids=["ihl5", "ihl_with_options"])
@pytest.mark.parametrize("l4", [UDP, TCP], ids=["udp", "tcp"])
def test_flows_spread_by_ports_and_keep_their_path(router, ecmp, options, l4):
    a, b = ecmp
    frames = [to_router(0) / IP(src="10.0.0.2", dst="20.1.1.1", options=options) /
              l4(sport=1000 + i, dport=443) / Raw(b"x") for i in range(32)]
    router.send(a, *frames)
    out = router.expect(b, len(frames))
    path = {}
    for f in out:
        path[f[l4].sport] = f.dst
    assert len(path) == 32
    assert len(Counter(path.values())) > 1, "every flow took the same member"
    assert set(path.values()) <= {host_mac(1, h) for h in GWS}
    # the same flows again: the same paths
    router.send(a, *frames)
    again = {f[l4].sport: f.dst for f in router.expect(b, len(frames))}
    assert again == path
