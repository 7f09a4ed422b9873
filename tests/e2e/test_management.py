"""The management plane with the real dataplane and real hosts: VRFs with
overlapping prefixes, transactions that fail half-way, a dataplane that dies,
save and restart."""

from __future__ import annotations

import os
import signal
import time

import grpc
import pytest
import yaml

from e2e.conftest import sh
from vrouter.config import parse
from vrouter.config.dump import to_yaml
from vrouter.v1 import (config_pb2, config_pb2_grpc, events_pb2, events_pb2_grpc, route_pb2,
                        route_pb2_grpc, stats_pb2, stats_pb2_grpc)

TWO_VRFS = """
api: {{socket: {sock}}}
dataplane: {{workers: [1], hugepages: no, memory_mb: 512, mbufs: 8192}}
vrfs: {{red: {{id: 1}}, blue: {{id: 2}}}}
interfaces:
  red1:  {{device: "net_af_packet30,iface=vm-r1", vrf: red,  addresses: [10.1.0.1/24]}}
  red2:  {{device: "net_af_packet31,iface=vm-r2", vrf: red,  addresses: [10.2.0.1/24]}}
  blue1: {{device: "net_af_packet32,iface=vm-b1", vrf: blue, addresses: [10.1.0.1/24]}}
  blue2: {{device: "net_af_packet33,iface=vm-b2", vrf: blue, addresses: [10.2.0.1/24]}}
demo_hosts:
  - {{name: vm-red1,  interface: red1,  address: 10.1.0.2/24, gateway: 10.1.0.1}}
  - {{name: vm-red2,  interface: red2,  address: 10.2.0.2/24, gateway: 10.2.0.1}}
  - {{name: vm-blue1, interface: blue1, address: 10.1.0.2/24, gateway: 10.1.0.1}}
  - {{name: vm-blue2, interface: blue2, address: 10.2.0.2/24, gateway: 10.2.0.1}}
"""


@pytest.fixture
def two_vrfs(appliance, tmp_path):
    app = appliance(TWO_VRFS.format(sock=tmp_path / "api.sock"))
    app.channel = grpc.insecure_channel(f"unix:{tmp_path / 'api.sock'}")
    return app


def serve_name(ns: str, port: int = 8080) -> None:
    """An HTTP server in `ns` that answers with the namespace's name."""
    sh(ns, f"mkdir -p /tmp/{ns} && echo {ns} > /tmp/{ns}/index.html && cd /tmp/{ns} && "
           f"(python3 -m http.server {port} >/dev/null 2>&1 &)")


def fetch(ns: str, url: str) -> str:
    r = sh(ns, f"for i in $(seq 40); do curl -s -m 2 {url} && exit 0; sleep 0.1; done; exit 1",
           check=False)
    return r.stdout.strip()


def test_overlapping_prefixes_in_two_vrfs_never_leak(two_vrfs):
    serve_name("vm-red2")
    serve_name("vm-blue2")
    # Same addresses, different tables: each request lands in its own VRF.
    assert fetch("vm-red1", "http://10.2.0.2:8080/") == "vm-red2"
    assert fetch("vm-blue1", "http://10.2.0.2:8080/") == "vm-blue2"
    # The same prefix routed differently per VRF: red sends 10.9/16 to red2's
    # host, blue blackholes it.
    r = route_pb2_grpc.RouteServiceStub(two_vrfs.channel)
    r.Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(vrf="red", prefix="10.9.0.0/16", via=["10.2.0.2"]),
        route_pb2.Route(vrf="blue", prefix="10.9.0.0/16",
                        action=route_pb2.ROUTE_ACTION_BLACKHOLE)]))
    sh("vm-red2", "ip addr add 10.9.0.9/32 dev lo")
    sh("vm-blue2", "ip addr add 10.9.0.9/32 dev lo")
    assert "1 received" in sh("vm-red1", "ping -c 1 -W 2 10.9.0.9").stdout
    assert "0 received" in sh("vm-blue1", "ping -c 1 -W 1 10.9.0.9", check=False).stdout
    blue1 = two_vrfs.dp.port_stats(two_vrfs.engine.executor.ports["blue1"])
    assert blue1["drop_blackhole"] >= 1


def test_commit_failing_half_way_changes_nothing(two_vrfs, tmp_path):
    c = config_pb2_grpc.ConfigServiceStub(two_vrfs.channel)
    before_yaml = c.Show(config_pb2.ConfigShowRequest()).yaml
    dp = two_vrfs.dp
    before_dp = (dp.port_list(), dp.nh_list(), dp.route_list(1), dp.route_list(2), dp.vrf_list())
    cand = yaml.safe_load(before_yaml)
    cand["vrfs"]["green"] = {"id": 3}
    cand["routes"] = [{"prefix": "10.50.0.0/16", "vrf": "red", "via": "10.2.0.2"},
                      {"prefix": "10.51.0.0/16", "vrf": "blue", "blackhole": True}]
    cand["interfaces"]["green1"] = {"device": "net_bogus0", "vrf": "green",
                                    "addresses": ["10.60.0.1/24"]}
    with pytest.raises(grpc.RpcError) as e:
        c.Commit(config_pb2.ConfigCommitRequest(yaml=yaml.safe_dump(cand), source="cand.yaml"))
    assert e.value.code() == grpc.StatusCode.ABORTED
    assert "net_bogus0" in e.value.details()
    assert c.Show(config_pb2.ConfigShowRequest()).yaml == before_yaml
    after_dp = (dp.port_list(), dp.nh_list(), dp.route_list(1), dp.route_list(2), dp.vrf_list())
    assert after_dp == before_dp
    # still forwarding
    serve_name("vm-red2")
    assert fetch("vm-red1", "http://10.2.0.2:8080/") == "vm-red2"


def test_killed_dataplane_comes_back_with_its_routes(two_vrfs):
    r = route_pb2_grpc.RouteServiceStub(two_vrfs.channel)
    s = stats_pb2_grpc.StatsServiceStub(two_vrfs.channel)
    r.Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(vrf="red", prefix="10.9.0.0/16", via=["10.2.0.2"])]))
    sh("vm-red2", "ip addr add 10.9.0.9/32 dev lo")
    assert "1 received" in sh("vm-red1", "ping -c 1 -W 2 10.9.0.9").stdout
    events = events_pb2_grpc.EventServiceStub(two_vrfs.channel).Subscribe(
        events_pb2.SubscribeRequest(types=[events_pb2.EVENT_TYPE_DATAPLANE_DOWN,
                                           events_pb2.EVENT_TYPE_DATAPLANE_UP]))
    time.sleep(0.3)  # the subscription is in place
    old_pid = s.Status(stats_pb2.StatusRequest()).dataplane_pid
    os.kill(old_pid, signal.SIGKILL)
    seen = []
    for ev in events:
        seen.append(ev.type)
        if ev.type == events_pb2.EVENT_TYPE_DATAPLANE_UP:
            break
    events.cancel()
    assert seen == [events_pb2.EVENT_TYPE_DATAPLANE_DOWN, events_pb2.EVENT_TYPE_DATAPLANE_UP]
    st = s.Status(stats_pb2.StatusRequest())
    assert st.dataplane_up and st.dataplane_restarts == 1 and st.dataplane_pid != old_pid
    fib = {str(x.prefix) for x in two_vrfs.dp.route_list(1)}
    assert "10.9.0.0/16" in fib
    assert " 0% packet loss" in sh("vm-red1", "ping -c 2 -W 2 10.9.0.9", check=False).stdout


def test_save_then_restart_comes_back_the_same(appliance, tmp_path):
    sock = tmp_path / "api.sock"
    app = appliance(TWO_VRFS.format(sock=sock))
    ch = grpc.insecure_channel(f"unix:{sock}")
    route_pb2_grpc.RouteServiceStub(ch).Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(vrf="blue", prefix="172.16.0.0/12", via=["10.2.0.2"], distance=7)]))
    path = tmp_path / "saved.yaml"
    config_pb2_grpc.ConfigServiceStub(ch).Save(config_pb2.ConfigSaveRequest(path=str(path)))
    running = app.engine.running_config()
    fib_before = app.dp.route_list(2)
    ch.close()
    app.stop()

    saved = parse(yaml.safe_load(path.read_text()), str(path))
    assert saved == running
    app2 = appliance(path.read_text())
    assert app2.engine.running_config() == running
    assert to_yaml(app2.engine.running_config()) == to_yaml(running)
    assert app2.dp.route_list(2) == fib_before
