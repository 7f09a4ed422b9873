"""The gRPC API itself: socket permissions, health, reflection, TLS and mutual
TLS, streaming counters and events, error codes."""

from __future__ import annotations

import os
import stat
import threading
import time
from pathlib import Path

import grpc
import pytest
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from certs import make_certs
from vrouter.appliance import Appliance
from vrouter.config import parse
from vrouter.v1 import (events_pb2, events_pb2_grpc, route_pb2, route_pb2_grpc, stats_pb2,
                        stats_pb2_grpc, vrf_pb2, vrf_pb2_grpc)

CONFIG = """
api: {{socket: {sock}{tls}}}
dataplane: {{hugepages: no, memory_mb: 256, mbufs: 8192}}
interfaces:
  a: {{device: "net_null{n},size=64", up: false, addresses: [10.0.0.1/24]}}
"""


_n = iter(range(40, 100))


@pytest.fixture
def start(tmp_path):
    apps = []

    def go(tls: str = ', tcp: "127.0.0.1:0", insecure_tcp: true') -> Appliance:
        n = next(_n)
        cfg = parse(yaml.safe_load(CONFIG.format(sock=tmp_path / "api.sock", tls=tls, n=n)), "t")
        app = Appliance(cfg, tmp_path / "run", name=f"api{os.getpid()}-{n}")
        app.start()
        apps.append(app)
        return app

    yield go
    for a in apps:
        a.stop()


def unix(tmp_path) -> grpc.Channel:
    return grpc.insecure_channel(f"unix:{tmp_path / 'api.sock'}")


def test_unix_socket_is_group_only_and_health_serves(start, tmp_path):
    start()
    mode = stat.S_IMODE((tmp_path / "api.sock").stat().st_mode)
    assert mode == 0o660
    h = health_pb2_grpc.HealthStub(unix(tmp_path))
    for svc in ("", "vrouter.v1.RouteService"):
        assert h.Check(health_pb2.HealthCheckRequest(service=svc)).status == \
            health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_every_service(start, tmp_path):
    start()
    stub = reflection_pb2_grpc.ServerReflectionStub(unix(tmp_path))
    resp = next(stub.ServerReflectionInfo(iter([
        reflection_pb2.ServerReflectionRequest(list_services="")])))
    names = {s.name for s in resp.list_services_response.service}
    assert {"vrouter.v1.InterfaceService", "vrouter.v1.VrfService", "vrouter.v1.RouteService",
            "vrouter.v1.NeighborService", "vrouter.v1.ConfigService",
            "vrouter.v1.StatsService", "vrouter.v1.EventService",
            "grpc.health.v1.Health"} <= names
    # and the descriptors themselves, so grpcurl needs no .proto
    resp = next(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(
        file_containing_symbol="vrouter.v1.RouteService")])))
    assert resp.file_descriptor_response.file_descriptor_proto


def test_mutual_tls_accepts_the_client_cert_and_refuses_others(start, tmp_path):
    c = make_certs(tmp_path)
    app = start(f", tcp: '127.0.0.1:0', tls: {{cert: {c['server.pem']}, "
                f"key: {c['server.key']}, client_ca: {c['ca.pem']}}}")
    target = f"127.0.0.1:{app.api.port}"
    ca = c["ca.pem"].read_bytes()
    good = grpc.secure_channel(target, grpc.ssl_channel_credentials(
        ca, c["client.key"].read_bytes(), c["client.pem"].read_bytes()))
    vrfs = vrf_pb2_grpc.VrfServiceStub(good).List(vrf_pb2.VrfListRequest(), timeout=5)
    assert [v.name for v in vrfs.vrfs] == ["default"]
    no_cert = grpc.secure_channel(target, grpc.ssl_channel_credentials(ca))
    with pytest.raises(grpc.RpcError) as e:
        vrf_pb2_grpc.VrfServiceStub(no_cert).List(vrf_pb2.VrfListRequest(), timeout=5)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    plain = grpc.insecure_channel(target)
    with pytest.raises(grpc.RpcError):
        vrf_pb2_grpc.VrfServiceStub(plain).List(vrf_pb2.VrfListRequest(), timeout=5)


def test_server_only_tls_is_an_explicit_opt_in(start, tmp_path):
    c = make_certs(tmp_path)
    app = start(f", tcp: '127.0.0.1:0', insecure_tcp: true, "
                f"tls: {{cert: {c['server.pem']}, key: {c['server.key']}}}")
    ch = grpc.secure_channel(f"127.0.0.1:{app.api.port}",
                             grpc.ssl_channel_credentials(c["ca.pem"].read_bytes()))
    st = stats_pb2_grpc.StatsServiceStub(ch).Status(stats_pb2.StatusRequest(), timeout=5)
    assert st.dataplane_up and st.workers == 1


def test_counter_stream_and_route_events(start, tmp_path):
    start()
    ch = unix(tmp_path)
    watch = stats_pb2_grpc.StatsServiceStub(ch).Watch(
        stats_pb2.StatsWatchRequest(interval_ms=100))
    snaps = [next(watch) for _ in range(3)]
    watch.cancel()
    assert all(s.interfaces[0].interface == "a" for s in snaps)
    assert "drop_no_route" in snaps[0].interfaces[0].counters

    got: list = []
    sub = events_pb2_grpc.EventServiceStub(ch).Subscribe(events_pb2.SubscribeRequest(
        types=[events_pb2.EVENT_TYPE_ROUTE_ADDED, events_pb2.EVENT_TYPE_ROUTE_REMOVED]))
    reader = threading.Thread(target=lambda: got.extend(e for _, e in zip(range(2), sub)))
    reader.start()
    time.sleep(0.3)
    r = route_pb2_grpc.RouteServiceStub(ch)
    r.Add(route_pb2.RouteAddRequest(routes=[route_pb2.Route(prefix="10.7.0.0/16",
                                                            via=["10.0.0.2"])]))
    r.Delete(route_pb2.RouteDeleteRequest(routes=[route_pb2.RouteKey(prefix="10.7.0.0/16")]))
    reader.join(5)
    sub.cancel()
    assert [(e.type, e.prefix, e.vrf) for e in got] == [
        (events_pb2.EVENT_TYPE_ROUTE_ADDED, "10.7.0.0/16", "default"),
        (events_pb2.EVENT_TYPE_ROUTE_REMOVED, "10.7.0.0/16", "default")]


@pytest.mark.parametrize("call, code, words", [
    (lambda r: r.Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(prefix="10.7.0.1/16", via=["10.0.0.2"])])),
     grpc.StatusCode.INVALID_ARGUMENT, ["routes[0].prefix", "10.7.0.1/16", "host bits"]),
    (lambda r: r.Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(prefix="10.7.0.0/16", via=["10.0.0.300"])])),
     grpc.StatusCode.INVALID_ARGUMENT, ["routes[0].via", "10.0.0.300"]),
    (lambda r: r.Add(route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(prefix="10.7.0.0/16", vrf="nope", via=["10.0.0.2"])])),
     grpc.StatusCode.NOT_FOUND, ["vrf nope"]),
    (lambda r: r.Delete(route_pb2.RouteDeleteRequest(routes=[
        route_pb2.RouteKey(prefix="10.99.0.0/16")])),
     grpc.StatusCode.NOT_FOUND, ["10.99.0.0/16"]),
])
def test_errors_carry_code_and_the_offending_value(start, tmp_path, call, code, words):
    start()
    r = route_pb2_grpc.RouteServiceStub(unix(tmp_path))
    with pytest.raises(grpc.RpcError) as e:
        call(r)
    assert e.value.code() == code
    assert all(w in e.value.details() for w in words), e.value.details()


def test_route_batches_add_many_prefixes_sharing_a_target(start, tmp_path):
    app = start()
    r = route_pb2_grpc.RouteServiceStub(unix(tmp_path))
    resp = r.Add(route_pb2.RouteAddRequest(
        routes=[route_pb2.Route(prefix="10.50.0.0/16", via=["10.0.0.3"])],
        batches=[route_pb2.RouteBatch(target=route_pb2.Route(via=["10.0.0.2"], distance=5),
                                      prefixes=[f"10.60.{i}.0/24" for i in range(100)])]))
    assert resp.added == 101
    got = {x.prefix: (list(x.via), x.distance) for x in r.List(route_pb2.RouteListRequest())
           if x.source == route_pb2.ROUTE_SOURCE_STATIC}
    assert got["10.60.99.0/24"] == (["10.0.0.2"], 5) and got["10.50.0.0/16"] == (["10.0.0.3"], 1)
    assert len(got) == 101
    assert sum(1 for x in app.dp.route_list(0) if str(x.prefix).startswith("10.60.")) == 100
    # a bad prefix in a batch names its place, and nothing of the request is applied
    with pytest.raises(grpc.RpcError) as e:
        r.Add(route_pb2.RouteAddRequest(batches=[route_pb2.RouteBatch(
            target=route_pb2.Route(via=["10.0.0.2"]), prefixes=["10.70.0.0/24", "10.70.1.1/24"])]))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "batches[0].prefixes" in e.value.details() and "10.70.1.1/24" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        r.Add(route_pb2.RouteAddRequest(batches=[route_pb2.RouteBatch(
            target=route_pb2.Route(via=["nope"]), prefixes=["10.70.0.0/24"])]))
    assert "batches[0].target.via" in e.value.details()
    assert not any(str(x.prefix).startswith("10.70.") for x in app.dp.route_list(0))
