"""The metrics endpoint of a real appliance: nothing listens unless it is
configured; when it is, one HTTP listener that serves every metric with its
HELP line, in Prometheus text or OpenMetrics; a port already taken fails the
start with a clear message; the endpoint keeps answering while the dataplane
restarts, and says so; so does `vrouter top`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from vrouter.appliance import Appliance
from vrouter.cli import main
from vrouter.config import parse

CONFIG = """
api: {{socket: {sock}}}
{metrics}
control_plane: false
dataplane: {{hugepages: no, memory_mb: 256, mbufs: 8192}}
interfaces:
  a: {{device: "net_null{n},size=64", up: false, addresses: [10.0.0.1/24]}}
  b: {{device: "net_null{m},size=64", up: false, addresses: [10.0.1.1/24]}}
nat:
  source: [{{interface: b, match: 10.0.0.0/24, masquerade: true}}]
"""

_n = iter(range(60, 120, 2))


@pytest.fixture
def start(tmp_path):
    apps = []

    def go(metrics: str = "") -> Appliance:
        n = next(_n)
        text = CONFIG.format(sock=tmp_path / "api.sock", metrics=metrics, n=n, m=n + 1)
        app = Appliance(parse(yaml.safe_load(text), "t"), tmp_path / "run",
                        name=f"metrics{os.getpid()}-{n}")
        apps.append(app)
        app.start()
        return app

    yield go
    for a in apps:
        a.stop()


def listening_tcp() -> set[tuple[str, int]]:
    """(address, port) of the TCP sockets this process listens on."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
        if m:
            mine.add(m.group(1))
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in mine:  # LISTEN
                addr, port = f[1].split(":")
                out.add((addr, int(port, 16)))
    return out


def get(url: str, accept: str | None = None) -> tuple[str, str]:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["Content-Type"], r.read().decode()


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def test_off_by_default_nothing_listens(start, capsys):
    before = listening_tcp()
    app = start()
    assert app.metrics is None
    assert listening_tcp() == before  # the appliance opened no TCP listener at all
    assert main(["--api", app.cfg.api.socket, "config", "show"]) == 0
    assert "metrics" not in capsys.readouterr().out


def test_one_config_line_opens_one_listener_serving_documented_metrics(start, capsys):
    before = listening_tcp()
    app = start('metrics: {listen: "127.0.0.1:0"}')
    assert listening_tcp() - before == {("0100007F", app.metrics.port)}  # 127.0.0.1, ours
    ctype, text = get(app.metrics.url)
    assert ctype.startswith("text/plain; version=0.0.4")
    families = list(text_string_to_metric_families(text))
    names = {f.name for f in families}
    assert {"vrouter_port_rx_packets", "vrouter_port_tx_bytes", "vrouter_port_drops",
            "vrouter_vrf_rib_routes", "vrouter_vrf_fib_routes", "vrouter_nat_sessions",
            "vrouter_nat_drops", "vrouter_arp_entries", "vrouter_arp_requests_sent",
            "vrouter_arp_drops", "vrouter_worker_busy_cycles", "vrouter_worker_packets",
            "vrouter_worker_cycles_per_packet", "vrouter_config_version",
            "vrouter_dataplane_up", "vrouter_dataplane_restarts", "vrouter_port_rx_missed",
            "vrouter_port_rx_errors", "vrouter_port_tx_errors", "vrouter_port_rx_nombuf"} <= names
    for f in families:
        assert f.documentation.strip(), f"{f.name} has no HELP line"
        assert f.name.startswith("vrouter_")
    for f in families:  # counters are named ..._total (Prometheus conventions)
        if f.type == "counter":
            assert all(s.name.endswith("_total") for s in f.samples), f.name

    m = samples(text)
    # every drop reason the dataplane counts is a label value of one metric, per port
    drops = {dict(k[1])["reason"] for k in m if k[0] == "vrouter_port_drops_total"}
    assert {"ttl_expired", "no_route", "ip_bad_checksum", "arp_queue_full",
            "nat_table_full"} <= drops
    assert all(("vrouter_port_drops_total", (("port", p), ("reason", r))) in m
               for p in ("a", "b") for r in drops)
    assert m[("vrouter_port_link_up", (("port", "a"),))] == 0  # configured down
    assert m[("vrouter_config_version", ())] == 1
    assert m[("vrouter_nat_sessions_max", ())] == 65536
    assert m[("vrouter_arp_table_size", ())] == 4096
    assert m[("vrouter_dataplane_workers", ())] == 1

    # OpenMetrics when the scraper asks for it
    ctype, om = get(app.metrics.url, "application/openmetrics-text; version=1.0.0")
    assert ctype.startswith("application/openmetrics-text; version=1.0.0")
    assert om.rstrip().endswith("# EOF")
    assert "# TYPE vrouter_port_drops counter" in om

    # the running configuration shows it
    assert main(["--api", app.cfg.api.socket, "config", "show"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown["metrics"] == {"listen": "127.0.0.1:0"}

    app.stop()  # and the listener goes with it
    assert listening_tcp() == before


def test_a_taken_port_fails_the_start_and_says_which_setting(start, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(OSError, match=rf"^\[Errno 98\] metrics\.listen 127\.0\.0\.1:{port}: "
                                          "Address already in use"):
            start(f'metrics: {{listen: "127.0.0.1:{port}"}}')
        assert not (tmp_path / "api.sock").exists()  # the half-started appliance is gone
    finally:
        taken.close()


def test_the_endpoint_answers_through_a_dataplane_restart(start):
    app = start('metrics: {listen: "127.0.0.1:0"}')
    os.kill(app.process.pid, signal.SIGKILL)
    seen_down = False
    deadline = time.monotonic() + 60
    while True:
        m = samples(get(app.metrics.url)[1])  # every scrape answers
        up, restarts = m[("vrouter_dataplane_up", ())], m[("vrouter_dataplane_restarts_total", ())]
        if up == 0:
            seen_down = True
            # nothing read from a dataplane that is not there
            assert not any(k[0].startswith(("vrouter_port_", "vrouter_worker_")) for k in m)
        if up == 1 and restarts == 1:
            break
        assert time.monotonic() < deadline, "the dataplane did not come back"
        time.sleep(0.02)
    assert seen_down
    assert ("vrouter_port_rx_packets_total", (("port", "a"),)) in m  # reading the new one


def test_top_outlasts_a_dataplane_restart(start, tmp_path):
    app = start()
    out, err = tmp_path / "top.out", tmp_path / "top.err"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "appliance")}
    with open(out, "w") as o, open(err, "w") as e:
        top = subprocess.Popen([sys.executable, "-m", "vrouter.cli", "--api", app.cfg.api.socket,
                                "top", "-i", "0.1"], stdout=o, stderr=e, env=env)
    try:
        def views() -> int:
            return out.read_text().count("vrouter top ")

        deadline = time.monotonic() + 30
        while views() < 2:
            assert top.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.05)
        os.kill(app.process.pid, signal.SIGKILL)
        while not (app.restarts == 1 and app.engine.dataplane_up):
            assert time.monotonic() < deadline + 30, "the dataplane did not come back"
            time.sleep(0.05)
        after = views()
        while views() < after + 2:  # views of the new dataplane
            assert top.poll() is None and time.monotonic() < deadline + 60, err.read_text()
            time.sleep(0.05)
    finally:
        top.send_signal(signal.SIGINT)
        rc = top.wait(10)
    assert rc == 0, err.read_text()
    assert "UNAVAILABLE: " in err.read_text()  # it said the dataplane was away, and went on
    assert out.read_text().rstrip().endswith("packets translated/s")
