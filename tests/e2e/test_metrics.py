"""Metrics and `vrouter top` with real hosts and real traffic: what the HTTP
endpoint serves is what the API reports, counter for counter; `top` shows
the ports moving while traffic flows."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from e2e.conftest import sh
from vrouter.cli import main
from vrouter.v1 import (nat_pb2, nat_pb2_grpc, neighbor_pb2, neighbor_pb2_grpc, stats_pb2,
                        stats_pb2_grpc, vrf_pb2, vrf_pb2_grpc)

CONFIG = """
api: {{socket: {sock}}}
metrics: {{listen: "127.0.0.1:0"}}
control_plane: false
dataplane: {{workers: [1], hugepages: no, memory_mb: 256, mbufs: 8192}}
interfaces:
  lan:  {{device: "net_af_packet50,iface=mx-r-in",  addresses: [10.47.1.1/24]}}
  wan:  {{device: "net_af_packet51,iface=mx-r-out", addresses: [10.47.2.1/24]}}
routes:
  - {{prefix: 192.0.2.0/24, blackhole: true}}
nat:
  source: [{{interface: wan, match: 10.47.1.0/24, masquerade: true}}]
demo_hosts:
  - {{name: mx-in,  interface: lan, address: 10.47.1.2/24, gateway: 10.47.1.1}}
  - {{name: mx-out, interface: wan, address: 10.47.2.2/24, gateway: 10.47.2.1}}
"""


@pytest.fixture
def router(appliance, tmp_path):
    app = appliance(CONFIG.format(sock=tmp_path / "api.sock"))
    app.sock = tmp_path / "api.sock"
    app.channel = grpc.insecure_channel(f"unix:{app.sock}")
    yield app
    app.channel.close()


def scrape(app) -> dict[tuple[str, tuple], float]:
    """GET /metrics -> {(sample name, sorted labels): value}."""
    text = urllib.request.urlopen(app.metrics.url, timeout=10).read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def api_view(app) -> dict:
    """Everything the API reports that the metrics also carry."""
    ch = app.channel
    stats = stats_pb2_grpc.StatsServiceStub(ch)
    nat = nat_pb2_grpc.NatServiceStub(ch)
    workers = stats.Workers(stats_pb2.WorkerStatsRequest(), timeout=10)
    count = nat.CountSessions(nat_pb2.NatSessionFilter(), timeout=10)
    states: dict[str, int] = {}
    for n in neighbor_pb2_grpc.NeighborServiceStub(ch).List(
            neighbor_pb2.NeighborListRequest(), timeout=10).neighbors:
        state = neighbor_pb2.NeighborState.Name(n.state).removeprefix("NEIGHBOR_STATE_").lower()
        states[state] = states.get(state, 0) + 1
    status = stats.Status(stats_pb2.StatusRequest(), timeout=10)
    return {
        "ports": {i.interface: dict(i.counters)
                  for i in stats.Get(stats_pb2.StatsRequest(), timeout=10).interfaces},
        # loop counts move all the time; work done does not while nothing arrives
        "workers": {w.worker: (w.busy_cycles, w.packets) for w in workers.workers},
        "tsc_hz": workers.tsc_hz,
        "nat": (count.sessions, count.mappings, count.max_sessions),
        "rules": {r.id: r.sessions_created for r in nat_pb2_grpc.NatServiceStub(ch).ListRules(
            nat_pb2.NatRuleListRequest(), timeout=10).rules},
        "neighbors": states,
        "vrfs": {v.name: (v.routes, v.fib_routes) for v in vrf_pb2_grpc.VrfServiceStub(ch).List(
            vrf_pb2.VrfListRequest(), timeout=10).vrfs},
        "status": (status.dataplane_up, status.dataplane_restarts, status.config_version,
                   status.workers),
    }


def stable_scrape(app) -> tuple[dict, dict]:
    """A scrape taken between two identical API views (nothing moved meanwhile)."""
    for _ in range(20):
        before = api_view(app)
        m = scrape(app)
        if api_view(app) == before:
            return before, m
    raise AssertionError("the counters kept moving with no traffic")


def value(m: dict, name: str, **labels: str) -> float:
    return m[(name, tuple(sorted(labels.items())))]


def test_scraped_metrics_are_the_counters_the_api_reports(router):
    # forwarded and translated both ways
    sh("mx-in", "ping -c 20 -i 0.01 -W 2 -q 10.47.2.2")
    # dropped for named reasons: TTL 1 (time exceeded), no route, a blackhole route
    sh("mx-in", "ping -c 3 -i 0.01 -t 1 -W 1 -q 10.47.2.2", check=False)
    sh("mx-in", "ping -c 2 -i 0.01 -W 1 -q 198.51.100.7", check=False)
    sh("mx-in", "ping -c 4 -i 0.01 -W 1 -q 192.0.2.9", check=False)

    api, m = stable_scrape(router)

    # every per-port counter, under its own name, or as a reason of the drops metric
    assert set(api["ports"]) == {"lan", "wan"}
    for port, counters in api["ports"].items():
        for name, v in counters.items():
            if name.startswith("drop_"):
                got = value(m, "vrouter_port_drops_total", port=port, reason=name[5:])
            else:
                got = value(m, f"vrouter_port_{name}_total", port=port)
            assert got == v, (port, name, got, v)
    lan = api["ports"]["lan"]
    # the device's own losses too (af_packet counts none of these here)
    assert {"rx_missed", "rx_errors", "tx_errors", "rx_nombuf"} <= set(lan)
    assert lan["rx_packets"] >= 29 and lan["ip_forwarded"] >= 20
    assert lan["drop_ttl_expired"] == 3 and lan["drop_no_route"] == 2
    assert lan["drop_blackhole"] == 4
    assert api["ports"]["wan"]["tx_packets"] >= 20

    # router-wide sums
    ports = api["ports"].values()
    assert value(m, "vrouter_vrf_forwarded_packets_total", vrf="default") == \
        sum(c["ip_forwarded"] for c in ports)
    assert value(m, "vrouter_vrf_dropped_packets_total", vrf="default") == \
        sum(v for c in ports for k, v in c.items() if k.startswith("drop_"))
    assert value(m, "vrouter_arp_requests_sent_total") == sum(c["arp_requests_out"] for c in ports)
    assert value(m, "vrouter_arp_drops_total", reason="bad_sender") == \
        sum(c["drop_arp_bad_sender"] for c in ports)

    # NAT: the table, the translations (20 requests out, 20 replies back), the rule
    assert (value(m, "vrouter_nat_sessions"), value(m, "vrouter_nat_mappings"),
            value(m, "vrouter_nat_sessions_max")) == api["nat"]
    assert api["nat"][0] >= 1
    translated = value(m, "vrouter_nat_translated_packets_total")
    assert translated == sum(c["nat_translated"] for c in ports) and translated >= 40
    assert value(m, "vrouter_nat_drops_total", reason="table_full") == 0
    (rule_id, created), = api["rules"].items()
    assert created >= 1
    assert value(m, "vrouter_nat_rule_sessions_created_total", rule=str(rule_id),
                 kind="snat") == created

    # ARP: both hosts learned
    for state in ("incomplete", "reachable", "probe", "permanent"):
        assert value(m, "vrouter_arp_entries", state=state) == api["neighbors"].get(state, 0)
    assert api["neighbors"].get("reachable", 0) + api["neighbors"].get("probe", 0) == 2

    # VRF route counts
    rib, fib = api["vrfs"]["default"]
    assert value(m, "vrouter_vrf_rib_routes", vrf="default") == rib
    assert value(m, "vrouter_vrf_fib_routes", vrf="default") == fib

    # the workers: cycles and packets as the API reports them
    for w, (busy, packets) in api["workers"].items():
        labels = {"worker": str(w), "lcore": "1"}
        assert value(m, "vrouter_worker_busy_cycles_total", **labels) == busy
        assert value(m, "vrouter_worker_packets_total", **labels) == packets
        assert packets >= lan["rx_packets"] and busy > 0
        assert value(m, "vrouter_worker_cycles_per_packet", **labels) == \
            pytest.approx(busy / packets)
        assert value(m, "vrouter_worker_loops_total", **labels) >= \
            value(m, "vrouter_worker_idle_loops_total", **labels)
    assert value(m, "vrouter_dataplane_tsc_hz") == api["tsc_hz"]

    # the management plane
    up, restarts, version, workers = api["status"]
    assert (value(m, "vrouter_dataplane_up"), value(m, "vrouter_dataplane_restarts_total"),
            value(m, "vrouter_config_version"), value(m, "vrouter_dataplane_workers")) == \
        (1, restarts, version, workers)
    assert value(m, "vrouter_port_link_up", port="lan") == 1


def run_cli(capsys, *args: str) -> str:
    code = main(list(args))
    o = capsys.readouterr()
    assert code == 0, o.err
    return o.out


def test_top_shows_the_ports_moving_while_traffic_flows(router, capsys):
    api = ("--api", str(router.sock))
    flows = [subprocess.Popen(["ip", "netns", "exec", "mx-in", *cmd],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for cmd in (["ping", "-q", "-i", "0.01", "-c", "1500", "10.47.2.2"],
                         ["ping", "-q", "-i", "0.05", "-c", "300", "-t", "1", "10.47.2.2"])]
    try:
        sh("mx-in", "ping -c 1 -W 2 10.47.2.2")  # the path is up before measuring
        text = run_cli(capsys, *api, "top", "--once", "-i", "0.5")
        doc = json.loads(run_cli(capsys, *api, "-j", "top", "--once", "-i", "0.5"))
        stream = run_cli(capsys, *api, "-j", "top", "-n", "2", "-i", "0.2").splitlines()
    finally:
        for p in flows:
            p.kill()
            p.wait()

    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    assert rows["PORT"] == ["PORT", "RX", "PPS", "RX", "BIT/S", "TX", "PPS", "TX", "BIT/S",
                            "DROPS/S"]
    # port, rx pps, rx bit/s, tx pps, tx bit/s, drops/s
    for port, moving in (("lan", (1, 2, 3, 4)), ("wan", (1, 2, 3, 4))):
        assert len(rows[port]) == 6, rows[port]
        for col in moving:
            assert rows[port][col] != "0", (port, rows[port])
    assert rows["lan"][5] != "0"  # the TTL-1 pings
    drops = {line.split()[1]: line.split() for line in text.splitlines()
             if len(line.split()) == 3 and line.split()[1].islower()}
    assert drops["ttl_expired"][2] == "lan" and drops["ttl_expired"][0] != "0"
    assert rows["0"][1] == "1" and rows["0"][2] != "0"  # worker 0 on lcore 1, busy
    assert rows["0"][4] != "-"  # cycles per packet
    assert "NAT sessions" in text

    lan, wan = doc["ports"]["lan"], doc["ports"]["wan"]
    assert lan["rx_pps"] > 0 and lan["tx_pps"] > 0 and wan["rx_pps"] > 0 and wan["tx_pps"] > 0
    assert 8 * 42 <= lan["rx_bps"] / lan["rx_pps"] <= 8 * 1514  # bits per frame
    assert lan["drops"]["ttl_expired"] > 0 and doc["drops"]["ttl_expired"]["ports"] == ["lan"]
    (w,) = doc["workers"]
    assert w["pps"] > 0 and w["cycles_per_packet"] > 0 and 0 < w["busy_percent"] <= 100
    assert doc["nat"]["sessions"] >= 1 and doc["nat"]["translated_per_s"] > 0
    assert len(stream) == 2 and all(json.loads(s)["ports"]["lan"]["rx_pps"] > 0
                                    for s in stream)
