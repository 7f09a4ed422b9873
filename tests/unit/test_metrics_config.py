"""The `metrics` configuration key: off by default, one line to enable,
errors that say where and what, shown in the dump, startup-only; and the
rate arithmetic of `vrouter top`."""

from __future__ import annotations

import pytest
import yaml

from unit.fake_client import FakeDataplane
from vrouter.cli import top
from vrouter.config import ConfigError, parse
from vrouter.config.dump import to_dict, to_yaml
from vrouter.core.engine import Engine
from vrouter.core.errors import FailedPrecondition
from vrouter.v1 import nat_pb2
from vrouter.v1 import stats_pb2 as pb

IFACES = "interfaces: {a: {device: net_null0, addresses: [10.0.0.1/24]}}\n"


def cfg(text: str):
    return parse(yaml.safe_load(text), "r.yaml")


def test_off_by_default_and_absent_from_the_dump():
    c = cfg(IFACES)
    assert c.metrics.listen is None
    assert "metrics" not in to_dict(c)


@pytest.mark.parametrize("listen", ["127.0.0.1:9469", "0.0.0.0:9469", "[::1]:9469",
                                    "localhost:9469", "127.0.0.1:0"])
def test_one_line_enables_it_and_the_dump_shows_it(listen):
    c = cfg(f"metrics: {{listen: \"{listen}\"}}\n" + IFACES)
    assert c.metrics.listen == listen
    text = to_yaml(c)
    assert yaml.safe_load(text)["metrics"] == {"listen": listen}
    assert cfg(text) == c  # the dump loads back to the same configuration


@pytest.mark.parametrize("metrics, where, what", [
    ("{}", "metrics", "missing 'listen'"),
    ("{port: 9469}", "metrics", "unknown key 'port' (allowed: listen)"),
    ("yes", "metrics", "expected a mapping, got bool"),
    ("{listen: 9469}", "metrics.listen", "9469: give host:port, e.g. '127.0.0.1:9469'"),
    ("{listen: '9469'}", "metrics.listen", "'9469' is not host:port"),
    ("{listen: ':9469'}", "metrics.listen", "':9469' is not host:port"),
    ("{listen: '127.0.0.1:http'}", "metrics.listen", "is not host:port"),
    ("{listen: '127.0.0.1:70000'}", "metrics.listen", "port 70000 is out of range 0..65535"),
    ("{listen: 'prometheus:9469'}", "metrics.listen", "host 'prometheus' is not an IP address"),
    ("{listen: '10.0.0.300:9469'}", "metrics.listen", "host '10.0.0.300' is not an IP address"),
    ("{listen: '::1:9469'}", "metrics.listen", "an IPv6 address goes in brackets"),
    ("{listen: ''}", "metrics.listen", "expected a non-empty string"),
])
def test_errors_name_the_file_the_key_and_the_problem(metrics, where, what):
    with pytest.raises(ConfigError) as e:
        cfg(f"metrics: {metrics}\n" + IFACES)
    msg = str(e.value)
    assert msg.startswith(f"r.yaml: {where}: "), msg
    assert what in msg, msg


def test_the_api_port_is_not_the_metrics_port():
    with pytest.raises(ConfigError, match=r"^r\.yaml: metrics\.listen: 127\.0\.0\.1:9000 is "
                                          r"also api\.tcp"):
        cfg("api: {tcp: '127.0.0.1:9000', insecure_tcp: true}\n"
            "metrics: {listen: '127.0.0.1:9000'}\n" + IFACES)


def test_changing_it_in_a_running_router_is_refused_as_startup_only():
    base = cfg("metrics: {listen: '127.0.0.1:9469'}\n" + IFACES)
    e = Engine(base)
    e.attach(FakeDataplane())
    e.start(base)
    for text in (IFACES, "metrics: {listen: '127.0.0.1:9470'}\n" + IFACES):
        with pytest.raises(FailedPrecondition, match=r"^metrics only take effect at start"):
            e.commit(text, "cand.yaml")
    # the running configuration still has it, as it started
    assert e.running_config().metrics == base.metrics
    assert yaml.safe_load(to_yaml(e.running_config()))["metrics"] == {"listen": "127.0.0.1:9469"}


# ---- vrouter top: rates from two samples ----

def sample(at: float, ports: dict, workers: list[tuple[int, int]], nat=(0, 0, 100),
           hz: int = 1_000_000) -> top.Sample:
    w = pb.WorkerStatsResponse(tsc_hz=hz)
    for i, (busy, packets) in enumerate(workers):
        w.workers.add(worker=i, lcore=i + 1, busy_cycles=busy, packets=packets)
    return top.Sample(at=at, timestamp="t", ports=ports, workers=w,
                      nat=nat_pb2.NatSessionCount(sessions=nat[0], mappings=nat[1],
                                                  max_sessions=nat[2]),
                      status=pb.StatusResponse(dataplane_up=True, config_version=3))


def test_top_rates_are_counter_differences_over_the_interval():
    zero = {"rx_packets": 0, "rx_bytes": 0, "tx_packets": 0, "tx_bytes": 0,
            "drop_no_route": 0, "drop_ttl_expired": 0, "nat_translated": 0}
    a = sample(10.0, {"lan1": dict(zero), "lan2": dict(zero)}, [(0, 0), (500, 10)])
    b = sample(12.0, {
        "lan1": {**zero, "rx_packets": 200, "rx_bytes": 20000, "drop_no_route": 6,
                 "drop_ttl_expired": 2, "nat_translated": 100},
        "lan2": {**zero, "tx_packets": 190, "tx_bytes": 19000, "drop_ttl_expired": 4},
    }, [(400_000, 200), (500, 10)], nat=(3, 2, 100))
    v = top.view(a, b)
    assert v["interval_s"] == 2.0
    assert v["ports"]["lan1"] == {"rx_pps": 100.0, "tx_pps": 0.0, "rx_bps": 80000.0,
                                  "tx_bps": 0.0, "drops_per_s": 4.0,
                                  "drops": {"no_route": 3.0, "ttl_expired": 1.0}}
    assert v["ports"]["lan2"]["tx_pps"] == 95.0 and v["ports"]["lan2"]["tx_bps"] == 76000.0
    assert list(v["drops"]) == ["no_route", "ttl_expired"]  # the biggest first
    assert v["drops"]["ttl_expired"] == {"per_s": 3.0, "ports": ["lan1", "lan2"]}
    w0, w1 = v["workers"]
    assert w0 == {"worker": 0, "lcore": 1, "pps": 100.0, "busy_percent": 20.0,
                  "cycles_per_packet": 2000.0}
    assert w1["pps"] == 0.0 and w1["cycles_per_packet"] is None  # idle: no packet, no ratio
    assert v["nat"] == {"sessions": 3, "mappings": 2, "max_sessions": 100,
                        "translated_per_s": 50.0}


def test_top_counts_from_zero_after_a_dataplane_restart():
    a = sample(0.0, {"lan1": {"rx_packets": 1000}}, [(9000, 900)])
    b = sample(1.0, {"lan1": {"rx_packets": 30}}, [(600, 30)])
    v = top.view(a, b)
    assert v["ports"]["lan1"]["rx_pps"] == 30.0
    assert v["workers"][0]["cycles_per_packet"] == 20.0


def test_si_numbers_for_columns():
    assert [top.si(x) for x in (0, 7, 2.5, 1234, 98765432, 3.2e9, None)] == \
        ["0", "7", "2.5", "1.23k", "98.8M", "3.2G", "-"]
