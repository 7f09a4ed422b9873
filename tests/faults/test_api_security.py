"""The API facing clients it should not trust: TCP only with mutual TLS
unless plaintext is asked for by name, the CLI's TLS options, a bound on
RPCs running at once and on the size of a request."""

from __future__ import annotations

import contextlib
import io
import logging
import time

import grpc
import pytest
import yaml
from certs import make_ca, make_certs, sign
from vrouter.cli import main
from vrouter.config import ConfigError, parse
from vrouter.v1 import route_pb2, route_pb2_grpc, stats_pb2, stats_pb2_grpc, vrf_pb2, vrf_pb2_grpc

BASE = """
api: {{socket: {sock}{api}}}
dataplane: {{hugepages: no, memory_mb: 256, mbufs: 8192}}
control_plane: false
interfaces:
  a: {{device: "net_null{n},size=64", up: false, addresses: [10.0.0.1/24]}}
"""


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return rc, out.getvalue(), err.getvalue()


# ---- TCP needs mutual TLS unless asked otherwise ----

@pytest.mark.parametrize("api", [
    {"tcp": "127.0.0.1:0"},
    {"tcp": "127.0.0.1:0", "tls": {"cert": "s.pem", "key": "s.key"}},  # no client auth
])
def test_tcp_without_mutual_tls_is_refused_unless_opted_in(api):
    with pytest.raises(ConfigError) as e:
        parse({"api": api}, "r.yaml")
    msg = str(e.value)
    assert msg.startswith("r.yaml: api.tcp: a TCP listener needs mutual TLS")
    assert "api.insecure_tcp: true" in msg and "--insecure-tcp" in msg
    cfg = parse({"api": {**api, "insecure_tcp": True}}, "r.yaml")
    assert cfg.api.insecure_tcp and cfg.api.tcp == "127.0.0.1:0"


def test_api_limits_are_checked_and_dumped():
    with pytest.raises(ConfigError, match=r"api.max_concurrent_rpcs: 0 is out of range"):
        parse({"api": {"max_concurrent_rpcs": 0}})
    with pytest.raises(ConfigError, match=r"api.max_request_bytes: expected an integer"):
        parse({"api": {"max_request_bytes": "1M"}})
    with pytest.raises(ConfigError, match=r"api.insecure_tcp: expected true or false"):
        parse({"api": {"insecure_tcp": "yes"}})
    from vrouter.config.dump import to_dict
    cfg = parse({"api": {"tcp": "127.0.0.1:9", "insecure_tcp": True,
                         "max_concurrent_rpcs": 5, "max_request_bytes": 4096}})
    assert to_dict(cfg)["api"] == {"tcp": "127.0.0.1:9", "insecure_tcp": True,
                                   "max_concurrent_rpcs": 5, "max_request_bytes": 4096}
    assert parse(to_dict(cfg)) == cfg


def test_plaintext_tcp_opt_in_warns_and_serves(router, caplog):
    caplog.set_level(logging.WARNING, logger="vrouter.api")
    app = router(BASE, api=", tcp: '127.0.0.1:0', insecure_tcp: true")
    assert any("WITHOUT client authentication" in r.getMessage() and "plaintext" in
               r.getMessage() for r in caplog.records)
    ch = grpc.insecure_channel(f"127.0.0.1:{app.api.port}")
    assert [v.name for v in vrf_pb2_grpc.VrfServiceStub(ch).List(
        vrf_pb2.VrfListRequest(), timeout=5).vrfs] == ["default"]


def test_mutual_tls_through_the_cli(router, tmp_path, monkeypatch):
    c = make_certs(tmp_path)
    make_ca(tmp_path, "rogue")  # a client certificate the server's CA did not sign
    sign(tmp_path, "intruder", ca="rogue")
    app = router(BASE, api=f", tcp: '127.0.0.1:0', tls: {{cert: {c['server.pem']}, "
                           f"key: {c['server.key']}, client_ca: {c['ca.pem']}}}")
    addr = f"127.0.0.1:{app.api.port}"
    tls = ["--tls-ca", str(c["ca.pem"]), "--tls-cert", str(c["client.pem"]),
           "--tls-key", str(c["client.key"])]
    rc, out, err = cli("--api", addr, *tls, "--json", "vrf", "show")
    assert rc == 0, err
    assert [v["name"] for v in yaml.safe_load(out)] == ["default"]
    # the same from the environment
    monkeypatch.setenv("VROUTER_TLS_CA", str(c["ca.pem"]))
    monkeypatch.setenv("VROUTER_TLS_CERT", str(c["client.pem"]))
    monkeypatch.setenv("VROUTER_TLS_KEY", str(c["client.key"]))
    rc, out, err = cli("--api", addr, "route", "add", "10.7.0.0/16", "blackhole")
    assert rc == 0, err
    assert "10.7.0.0/16" in {str(k[1]) for k in app.engine.state.routes}
    monkeypatch.delenv("VROUTER_TLS_CERT")
    monkeypatch.delenv("VROUTER_TLS_KEY")
    # TLS without a client certificate: the handshake fails, nothing is done
    rc, _, err = cli("--api", addr, "--timeout", "3", "route", "add", "10.8.0.0/16", "blackhole")
    assert rc == 3, err
    # a certificate from another CA: refused alike
    rc, _, err = cli("--api", addr, "--timeout", "3", "--tls-cert",
                     str(tmp_path / "intruder.pem"), "--tls-key", str(tmp_path / "intruder.key"),
                     "route", "add", "10.8.0.0/16", "blackhole")
    assert rc == 3, err
    monkeypatch.delenv("VROUTER_TLS_CA")
    # plaintext to a TLS port: unreachable, with a hint about the TLS options
    rc, _, err = cli("--api", addr, "--timeout", "3", "vrf", "show")
    assert rc == 3 and "--tls-ca" in err, err
    # a certificate without its key is a usage error, found before connecting
    rc, _, err = cli("--api", addr, "--tls-cert", str(c["client.pem"]), "vrf", "show")
    assert rc == 2 and "--tls-cert and --tls-key go together" in err
    rc, _, err = cli("--api", addr, "--tls-ca", str(tmp_path / "none.pem"), "vrf", "show")
    assert rc == 2 and "--tls-ca: cannot read" in err
    assert not any(str(k[1]) == "10.8.0.0/16" for k in app.engine.state.routes)


# ---- bounds ----

def test_concurrent_rpcs_past_the_bound_get_resource_exhausted(router):
    app = router(BASE, api=", max_concurrent_rpcs: 3")
    stats = stats_pb2_grpc.StatsServiceStub(app.channel)
    # Three long-running streams hold every slot; each has answered once, so
    # the server has admitted it.
    watches = [stats.Watch(stats_pb2.StatsWatchRequest(interval_ms=60000)) for _ in range(3)]
    for w in watches:
        next(w)
    vrfs = vrf_pb2_grpc.VrfServiceStub(app.channel)
    with pytest.raises(grpc.RpcError) as e:
        vrfs.List(vrf_pb2.VrfListRequest(), timeout=5)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # Refused at once, not queued behind the streams; and so is a fourth stream.
    with pytest.raises(grpc.RpcError) as e:
        next(stats.Watch(stats_pb2.StatsWatchRequest(interval_ms=60000), timeout=5))
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # A slot freed is a slot usable again.
    watches[0].cancel()
    deadline = time.monotonic() + 10
    while True:
        try:
            got = vrfs.List(vrf_pb2.VrfListRequest(), timeout=5)
            break
        except grpc.RpcError as err:
            assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert time.monotonic() < deadline, "the cancelled stream's slot never came back"
            time.sleep(0.05)
    assert [v.name for v in got.vrfs] == ["default"]
    for w in watches[1:]:
        w.cancel()


def test_oversize_request_is_refused_and_changes_nothing(router):
    app = router(BASE, api=", max_request_bytes: 65536")
    routes = route_pb2_grpc.RouteServiceStub(app.channel)
    big = route_pb2.RouteAddRequest(routes=[
        route_pb2.Route(prefix=f"10.{100 + i // 256}.{i % 256}.0/24", via=["10.0.0.2"])
        for i in range(4000)])
    assert big.ByteSize() > 65536
    before = app.engine.version, dict(app.engine.state.routes)
    with pytest.raises(grpc.RpcError) as e:
        routes.Add(big, timeout=10)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in e.value.details()
    assert (app.engine.version, dict(app.engine.state.routes)) == before
    # below the bound: fine, on the same channel
    small = route_pb2.RouteAddRequest(routes=big.routes[:1000])
    assert small.ByteSize() < 65536
    assert routes.Add(small, timeout=10).added == 1000


def test_run_insecure_tcp_flag_is_the_opt_in(tmp_path):
    """`vrouter run --insecure-tcp` says what api.insecure_tcp says."""
    from vrouter.cli.run import _config
    f = tmp_path / "r.yaml"
    f.write_text("api: {tcp: '127.0.0.1:0'}\n")
    with pytest.raises(ConfigError, match="needs mutual TLS"):
        _config(str(f))
    assert _config(str(f), insecure_tcp=True).api.insecure_tcp
    f.write_text("control_plane: false\n")  # no api section at all: still fine
    assert _config(str(f), insecure_tcp=True).api.tcp is None
    f.write_text("api: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        _config(str(f), insecure_tcp=True)
