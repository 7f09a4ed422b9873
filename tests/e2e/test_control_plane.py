"""The router's own TCP/IP stack: a control namespace per VRF, punt and
inject, and routes learned from BIRD over BGP."""

from __future__ import annotations

import re
import subprocess
import textwrap
import time

import pytest
from pyroute2 import netns

from e2e.conftest import sh

CONFIG = """
api: {{socket: {sock}}}
dataplane:
  workers: [1]
  hugepages: no
  memory_mb: 512
  mbufs: 8192
  punt: {{rate: 200, burst: 50}}
vrfs: {{red: {{id: 1}}, blue: {{id: 2}}}}
interfaces:
  red1:  {{device: "net_af_packet50,iface=v6-r-red",  vrf: red,  addresses: [10.41.0.1/24]}}
  red2:  {{device: "net_af_packet51,iface=v6-r-peer", vrf: red,  addresses: [10.43.0.1/24]}}
  blue1: {{device: "net_af_packet52,iface=v6-r-blue", vrf: blue, addresses: [10.42.0.1/24]}}
demo_hosts:
  - {{name: v6-red,  interface: red1,  address: 10.41.0.2/24, gateway: 10.41.0.1}}
  - {{name: v6-peer, interface: red2,  address: 10.43.0.2/24, gateway: 10.43.0.1}}
  - {{name: v6-blue, interface: blue1, address: 10.42.0.2/24, gateway: 10.42.0.1}}
"""


@pytest.fixture
def router(appliance, tmp_path):
    app = appliance(CONFIG.format(sock=tmp_path / "api.sock"))
    app.tmp = tmp_path
    return app


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_namespaces_mirror_the_interfaces_of_each_vrf(router):
    red, blue = router.hoststack.namespace("red"), router.hoststack.namespace("blue")
    assert {red, blue} <= set(netns.listnetns())
    addrs = sh(red, "ip -br -4 addr show").stdout
    assert "red1" in addrs and "10.41.0.1/24" in addrs and "10.43.0.1/24" in addrs
    assert "blue1" not in addrs
    ports = {p.name: p for p in router.dp.port_list()}
    mac = sh(red, "cat /sys/class/net/red1/address").stdout.strip()
    assert mac == ports["red1"].mac
    # kept in sync: a new address appears in the namespace
    from vrouter.v1 import interface_pb2, interface_pb2_grpc
    import grpc
    ch = grpc.insecure_channel(f"unix:{router.tmp / 'api.sock'}")
    interface_pb2_grpc.InterfaceServiceStub(ch).AddAddress(
        interface_pb2.AddressRequest(interface="red1", address="10.41.9.1/24"))
    wait_for(lambda: "10.41.9.1/24" in sh(red, "ip -br -4 addr show red1").stdout,
             what="the new address in the namespace")


def test_tcp_server_in_the_red_namespace_is_reachable_only_in_red(router):
    red = router.hoststack.namespace("red")
    sh(red, "(python3 -m http.server 8080 --bind 0.0.0.0 >/dev/null 2>&1 &)")
    code = sh("v6-red", "for i in $(seq 40); do c=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "
                        "http://10.41.0.1:8080/) && [ \"$c\" = 200 ] && echo $c && exit 0; "
                        "sleep 0.1; done; exit 1").stdout.strip()
    assert code == "200"
    # blue's namespace has no such server: refused (a TCP reset), not a timeout
    r = sh("v6-blue", "curl -s -m 3 http://10.42.0.1:8080/; echo rc=$?", check=False)
    assert "rc=7" in r.stdout  # curl: connection refused
    # and red's server is not reachable on blue's address from red either
    r = sh("v6-red", "curl -s -m 2 http://10.42.0.1:8080/; echo rc=$?", check=False)
    assert "rc=0" not in r.stdout


def test_ping_and_traceroute_of_the_routers_addresses(router):
    assert "2 received" in sh("v6-red", "ping -c 2 -i 0.2 -W 2 10.41.0.1").stdout
    assert "2 received" in sh("v6-red", "ping -c 2 -i 0.2 -W 2 10.43.0.1").stdout
    out = sh("v6-red", "traceroute -n -q 1 -w 2 10.43.0.1").stdout
    assert [ln.split()[1] for ln in out.splitlines()[1:]] == ["10.43.0.1"], out
    # and the router pings from its own stack (what `vrouter ping` runs)
    assert "1 received" in sh(router.hoststack.namespace("red"),
                              "ping -c 1 -W 2 10.43.0.2").stdout


BIRD_ROUTER = """
router id 10.43.0.1;
protocol device {{ }}
protocol kernel {{ ipv4 {{ import none; export all; }}; }}
protocol bgp downstream {{
  local 10.43.0.1 as 65001; neighbor 10.43.0.2 as 65002;
  hold time 6; connect retry time 1;
  ipv4 {{ import all; export none; }};
}}
"""

BIRD_PEER = """
router id 10.43.0.2;
protocol device {{ }}
protocol static announced {{ ipv4; route 10.77.0.0/24 blackhole; }}
protocol bgp upstream {{
  local 10.43.0.2 as 65002; neighbor 10.43.0.1 as 65001;
  hold time 6; connect retry time 1;
  ipv4 {{ import none; export all; }};
}}
"""


def bird(ns: str, tmp, name: str, conf: str) -> str:
    path = tmp / f"{name}.conf"
    path.write_text(textwrap.dedent(conf.format()))
    sock = tmp / f"{name}.ctl"
    sh(ns, f"bird -c {path} -s {sock} -P {tmp / name}.pid")
    return str(sock)


@pytest.fixture
def birds(router):
    if subprocess.run(["which", "bird"], capture_output=True).returncode != 0:
        pytest.fail("bird (Debian's bird2) is not installed: ./install.sh --test installs it")
    red = router.hoststack.namespace("red")
    socks = (bird(red, router.tmp, "router", BIRD_ROUTER),
             bird("v6-peer", router.tmp, "peer", BIRD_PEER))
    yield socks
    for name in ("router", "peer"):
        pid = (router.tmp / f"{name}.pid")
        if pid.exists():
            subprocess.run(["kill", pid.read_text().strip()], check=False)


def test_routes_learned_over_bgp_carry_traffic_and_go_when_withdrawn(router, birds):
    _, peer_sock = birds
    sh("v6-peer", "ip addr add 10.77.0.1/32 dev lo")

    def in_fib():
        return any(str(r.prefix) == "10.77.0.0/24" for r in router.dp.route_list(1))
    wait_for(in_fib, timeout=30, what="10.77.0.0/24 learned from BGP in the FIB")
    learned = [c for c in router.engine.state.learned.get("red", {}).items()
               if str(c[0]) == "10.77.0.0/24"]
    assert learned and learned[0][1].origin == "bird"
    assert "2 received" in sh("v6-red", "ping -c 2 -i 0.2 -W 2 10.77.0.1").stdout
    # withdrawn: the peer stops announcing it
    sh("v6-peer", f"birdc -s {peer_sock} disable announced")
    wait_for(lambda: not in_fib(), timeout=30, what="10.77.0.0/24 withdrawn from the FIB")
    assert "0 received" in sh("v6-red", "ping -c 1 -W 1 10.77.0.1", check=False).stdout


def test_a_configured_static_route_beats_a_learned_one(router, birds):
    import grpc
    from vrouter.v1 import route_pb2, route_pb2_grpc

    def fib_nh():
        for r in router.dp.route_list(1):
            if str(r.prefix) == "10.77.0.0/24":
                return r.nh_id
        return None
    wait_for(lambda: fib_nh() is not None, timeout=30, what="the learned route")
    learned_nh = fib_nh()
    ch = grpc.insecure_channel(f"unix:{router.tmp / 'api.sock'}")
    route_pb2_grpc.RouteServiceStub(ch).Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(vrf="red", prefix="10.77.0.0/24",
                        action=route_pb2.ROUTE_ACTION_BLACKHOLE)]))
    assert fib_nh() != learned_nh  # distance 1 beats BGP's 20
    routes = list(route_pb2_grpc.RouteServiceStub(ch).List(route_pb2.RouteListRequest(
        vrf="red", prefix="10.77.0.0/24")))
    by_source = {r.source: r for r in routes}
    assert by_source[route_pb2.ROUTE_SOURCE_STATIC].selected
    assert not by_source[route_pb2.ROUTE_SOURCE_LEARNED].selected
    assert by_source[route_pb2.ROUTE_SOURCE_LEARNED].origin == "bird"


def test_a_punt_flood_is_rate_limited_and_forwarding_goes_on(router):
    port = router.engine.executor.ports["red1"]
    before = router.dp.port_stats(port)
    flood = ("python3 -c \"import socket\ns=socket.socket(2,2)\n"
             "for i in range(20000): s.sendto(b'x'*32, ('10.41.0.1', 9999))\"")
    # forwarding through the router while it is flooded (from another port:
    # the flooded port's own receive ring may simply overflow)
    pinger = subprocess.Popen(["ip", "netns", "exec", "v6-peer", "ping", "-c", "10", "-i", "0.1",
                               "-W", "1", "10.41.0.2"], stdout=subprocess.PIPE, text=True)
    sh("v6-red", flood, timeout=120)
    out = pinger.communicate(timeout=30)[0]
    after = router.dp.port_stats(port)
    refused = after["drop_punt_ratelimited"] - before["drop_punt_ratelimited"]
    delivered = after["punt_delivered"] - before["punt_delivered"]
    assert refused > 0 and delivered > 0, (refused, delivered)
    assert refused + delivered <= after["punted"] - before["punted"]
    # forwarding went on: on two busy cores the flooding host itself may miss
    # a reply now and then, so not every one of the ten is required
    received = int(re.search(r"(\d+) received", out).group(1))
    assert received >= 8, out


def test_namespaces_go_with_the_appliance_and_a_crashs_leftovers_are_cleared(tmp_path):
    import yaml

    from vrouter.appliance import Appliance
    from vrouter.config import parse
    # what a crashed run of an appliance named "v6left" would have left
    subprocess.run(["ip", "netns", "add", "v6left-red"], check=True)
    sh("v6left-red", "ip link add marker0 type veth peer name marker1")
    cfg = parse(yaml.safe_load(CONFIG.format(sock=tmp_path / "api.sock")), "t")
    app = Appliance(cfg, tmp_path / "run", name="v6left")
    try:
        app.start()
        names = {app.hoststack.namespace(v) for v in ("default", "red", "blue")}
        assert names <= set(netns.listnetns())
        assert "marker0" not in sh("v6left-red", "ip -br link").stdout  # a fresh one
    finally:
        app.stop()
    assert not names & set(netns.listnetns())
