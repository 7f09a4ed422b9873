"""Signals to the real appliance (`vrouter run`, a separate process) and
traffic through it between network namespaces:

- SIGTERM: the management plane and the dataplane exit 0 within a bound and
  leave no namespace, interface, socket, shared memory or DPDK runtime file.
- SIGKILL of the dataplane: restarted, the running state replayed (a route
  added through the API after the start included); the outage as traffic
  sees it is measured.
- SIGKILL of the management plane: the dataplane goes on forwarding; a new
  `vrouter run` adopts it without a gap, or with a changed configuration
  changes only what differs; --no-adopt stops it instead.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest
import yaml
from faults.conftest import unique
from faults.lifecycle import (Pinger, VrouterRun, dataplane_dump, leftovers,
                              wait_for_replies)

from vrouter.cli import default_config_text
from vrouter.config import load, parse
from vrouter.v1 import route_pb2, route_pb2_grpc

STOP_BOUND_S = 20.0     # SIGTERM -> both processes gone, everything removed
RESUME_BOUND_S = 10.0   # dataplane SIGKILL -> traffic forwarded again

CONFIG = """
api: {{socket: {run}/api.sock}}
dataplane: {{workers: [1], hugepages: no, memory_mb: 256, mbufs: 8192}}
vrfs: {{blue: {{id: 1}}}}
interfaces:
  a1: {{device: "net_af_packet{n}0,iface={t}a1", addresses: [10.{o}.1.1/24]}}
  a2: {{device: "net_af_packet{n}1,iface={t}a2", addresses: [10.{o}.2.1/24]}}
  b1: {{device: "net_null{n}2,size=64", up: false, vrf: blue, addresses: [10.{o}.9.1/24]}}
routes:
  - {{prefix: 10.{o}.99.0/24, via: 10.{o}.2.2}}
  - {{prefix: 10.{o}.98.0/24, via: [10.{o}.2.2, 10.{o}.1.2]}}
  - {{prefix: 192.0.2.0/24, blackhole: true}}
  - {{prefix: 10.{o}.97.0/24, vrf: blue, reject: true}}
neighbors:
  - {{interface: a2, ip: 10.{o}.2.9, mac: "02:00:00:00:00:09"}}
nat:
  static:
    - {{external: 10.{o}.2.50, internal: 10.{o}.1.50}}
demo_hosts:
  - {{name: {t}h1, interface: a1, address: 10.{o}.1.2/24, gateway: 10.{o}.1.1}}
  - {{name: {t}h2, interface: a2, address: 10.{o}.2.2/24, gateway: 10.{o}.2.1}}
"""

_o = iter(range(160, 250))


@pytest.fixture
def runs():
    made: list[VrouterRun] = []
    yield made
    for r in made:
        r.cleanup()


@pytest.fixture
def router(tmp_path, runs):
    """A test configuration in a file, and a `vrouter run` for it (not started)."""
    t = "l" + unique("")[-5:]
    name = f"v{t}"
    run_dir = tmp_path / "run"
    o = next(_o)
    path = tmp_path / "router.yaml"
    path.write_text(CONFIG.format(run=run_dir, n=next(_o), t=t, o=o))
    r = VrouterRun(load(path), run_dir, name, config=path)
    r.h1, r.h2 = f"{t}h1", f"{t}h2"
    r.net = o  # 10.<o>.x.y: the addresses of this test
    runs.append(r)
    return r


def running(pid: int) -> bool:
    """Alive, not a zombie (an orphan's exit is reaped by whoever is init)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


def net(r: VrouterRun, rest: str) -> str:
    return f"10.{r.net}.{rest}"


def stop_and_check(r: VrouterRun, mp_pids: tuple[int, ...]) -> float:
    """SIGTERM to `vrouter run`: exit 0 within the bound, the dataplane's exit
    0 too (the management plane logs it), nothing left behind."""
    r.signal(signal.SIGTERM)
    rc, took = r.wait(STOP_BOUND_S)
    assert rc == 0, r.log()
    assert leftovers(r, mp_pids) == [], r.log()
    return took


# ---- SIGTERM ----

def test_sigterm_demo_configuration(tmp_path, runs):
    """`vrouter run` with the embedded demo, as the README starts it."""
    cfg = parse(yaml.safe_load(default_config_text()), "<default>")
    r = VrouterRun(cfg, tmp_path / "run", "vrouter")
    busy = leftovers(r)
    if busy:
        pytest.skip(f"the demo's names are in use on this host: {busy}")
    runs.append(r)
    r.start()
    wait_for_replies("h1", "10.0.2.2")
    wait_for_replies("h1", "10.0.3.2")
    dp = r.dataplane_pid()
    took = stop_and_check(r, (r.proc.pid,))
    assert f"dataplane (pid {dp}) stopped, exit status 0" in r.log()
    print(f"\ndemo: SIGTERM -> both processes gone and everything removed in {took:.2f}s")


def test_sigterm_test_configuration(router):
    r = router.start()
    wait_for_replies(r.h1, net(r, "2.2"))
    dp = r.dataplane_pid()
    took = stop_and_check(r, (r.proc.pid,))
    assert f"dataplane (pid {dp}) stopped, exit status 0" in r.log()
    print(f"\ntest config: SIGTERM -> everything gone in {took:.2f}s")


def test_sigterm_to_both_processes_at_once(router):
    """A service manager stopping the whole group: the dataplane exiting is
    not a crash to recover from."""
    r = router.start()
    dp = r.dataplane_pid()
    r.signal(signal.SIGTERM)
    os.kill(dp, signal.SIGTERM)
    rc, _ = r.wait(STOP_BOUND_S)
    assert rc == 0, r.log()
    assert "restarting it" not in r.log()
    assert f"dataplane (pid {dp}) stopped, exit status 0" in r.log()
    assert leftovers(r, (r.proc.pid,)) == []


# ---- SIGKILL of the dataplane ----

def test_killed_dataplane_is_restarted_and_forwarding_resumes(router):
    r = router.start()
    # Runtime state, not in the configuration: it must be replayed too.
    with grpc.insecure_channel(r.api) as ch:
        route_pb2_grpc.RouteServiceStub(ch).Add(route_pb2.RouteAddRequest(routes=[
            route_pb2.Route(prefix=net(r, "77.0/24"), via=[net(r, "2.2")])]), timeout=10)
    subprocess.run(["ip", "netns", "exec", r.h2, "ip", "addr", "add", net(r, "77.7/32"),
                    "dev", "lo"], check=True)
    dst = net(r, "77.7")
    wait_for_replies(r.h1, dst)
    old = r.dataplane_pid()
    ping = Pinger(r.h1, dst)
    time.sleep(1.0)
    t_kill = time.time()
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + RESUME_BOUND_S + 5
    while "state replayed" not in r.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2.0)
    replies = ping.stop()
    outage = replies.gap_around(t_kill)
    new = r.dataplane_pid()
    assert new != old
    assert outage < RESUME_BOUND_S, r.log()
    # After it: steady again, nothing lost.
    after = t_kill + outage + 0.2
    assert replies.lost_between(after, after + 1.5, ping.interval) == 0
    print(f"\ndataplane SIGKILL -> forwarding again after {outage:.3f}s "
          f"({replies.sent - replies.received} of {replies.sent} echo requests lost)")
    stop_and_check(r, (r.proc.pid,))


# ---- SIGKILL of the management plane ----

def test_killed_management_plane_leaves_forwarding_and_is_adopted_without_gap(router):
    r = router.start()
    for a in ("99.9/32", "55.5/32"):
        subprocess.run(["ip", "netns", "exec", r.h2, "ip", "addr", "add", net(r, a),
                        "dev", "lo"], check=True)
    # A route a routing daemon would put in the control namespace: learned.
    subprocess.run(["ip", "-n", f"{r.name}-default", "route", "add", net(r, "55.0/24"),
                    "via", net(r, "2.2"), "proto", "static"], check=True)
    dst = net(r, "99.9")  # through a configured route
    wait_for_replies(r.h1, dst)
    wait_for_replies(r.h1, net(r, "55.5"))
    with r.dataplane() as dp:
        before = dataplane_dump(dp)
    dp_pid, mp1 = r.dataplane_pid(), r.proc.pid
    ping = Pinger(r.h1, dst)
    ping_learned = Pinger(r.h1, net(r, "55.5"))
    time.sleep(0.5)
    t_kill = time.time()
    r.kill()
    time.sleep(1.5)  # nobody manages it: it forwards all the same
    t_restart = time.time()
    r.start()
    t_adopted = time.time()
    assert f"adopted the dataplane left running (pid {dp_pid}); changed in it: nothing" \
        in r.log()
    assert r.dataplane_pid() == dp_pid
    time.sleep(1.0)
    replies, learned = ping.stop(), ping_learned.stop()
    gap = replies.longest_gap(t_kill - 0.3, t_adopted + 1.0)
    lost = replies.lost_between(t_kill - 0.3, t_adopted + 1.0, ping.interval)
    lost_learned = learned.lost_between(t_kill - 0.3, t_adopted + 1.0, ping.interval)
    print(f"\nmanagement plane SIGKILL, {t_adopted - t_restart:.2f}s to restart and adopt: "
          f"longest silence {gap * 1000:.1f} ms, {lost} echo requests lost "
          f"({lost_learned} through the learned route)")
    # (the silence is reported, not asserted: it is the host's scheduling)
    assert lost == 0 and lost_learned == 0
    with r.dataplane() as dp:
        assert dataplane_dump(dp) == before
    # The adopter manages it: a change through the API, and a clean stop.
    with grpc.insecure_channel(r.api) as ch:
        route_pb2_grpc.RouteServiceStub(ch).Add(route_pb2.RouteAddRequest(routes=[
            route_pb2.Route(prefix=net(r, "77.0/24"), via=[net(r, "2.2")])]), timeout=10)
    subprocess.run(["ip", "netns", "exec", r.h2, "ip", "addr", "add", net(r, "77.7/32"),
                    "dev", "lo"], check=True)
    wait_for_replies(r.h1, net(r, "77.7"))
    stop_and_check(r, (mp1, r.proc.pid))
    assert f"dataplane (pid {dp_pid}) stopped" in r.log()


def test_adoption_with_a_changed_configuration_changes_only_the_differences(router, tmp_path):
    r = router.start()
    subprocess.run(["ip", "netns", "exec", r.h2, "ip", "addr", "add", net(r, "99.9/32"),
                    "dev", "lo"], check=True)
    dst = net(r, "99.9")
    wait_for_replies(r.h1, dst)
    mp1, dp_pid = r.proc.pid, r.dataplane_pid()
    r.kill()
    # Meanwhile the configuration changed: a route gone, one new, an address
    # more, a neighbour's MAC, another NAT mapping, an MTU.
    text = r.config.read_text()
    o = r.net
    for old, new in [
        (f"  - {{prefix: 10.{o}.98.0/24, via: [10.{o}.2.2, 10.{o}.1.2]}}\n",
         f"  - {{prefix: 10.{o}.96.0/24, via: 10.{o}.1.2}}\n"),
        (f"addresses: [10.{o}.2.1/24]", f"addresses: [10.{o}.2.1/24, 10.{o}.3.1/24], mtu: 1400"),
        ("02:00:00:00:00:09", "02:00:00:00:00:0a"),
        (f"external: 10.{o}.2.50, internal: 10.{o}.1.50",
         f"external: 10.{o}.2.51, internal: 10.{o}.1.51"),
    ]:
        assert old in text
        text = text.replace(old, new)
    r.config.write_text(text)
    r.cfg = load(r.config)
    ping = Pinger(r.h1, dst)
    time.sleep(0.3)
    t0 = time.time()
    r.start()
    t1 = time.time()
    time.sleep(0.5)
    replies = ping.stop()
    log = r.log()
    assert f"adopted the dataplane left running (pid {dp_pid}); changed in it: " in log
    changed = log.split("changed in it: ", 1)[1].splitlines()[0]
    for what in ("2 addresses added", "1 nat rules set", "1 neighbors set", "1 ports changed",
                 "1 routes added", "1 routes removed", "1 next hops removed"):
        assert what in changed, changed
    # What did not change kept forwarding throughout.
    assert replies.lost_between(t0 - 0.2, t1 + 0.5, ping.interval) == 0
    # The control namespace's mirror of a2 follows too.
    a2 = json.loads(subprocess.run(["ip", "-n", f"{r.name}-default", "-j", "addr", "show",
                                    "dev", "a2"], capture_output=True, text=True,
                                   check=True).stdout)[0]
    assert a2["mtu"] == 1400
    assert {f"{a['local']}/{a['prefixlen']}" for a in a2["addr_info"]} == \
        {f"10.{o}.2.1/24", f"10.{o}.3.1/24"}
    with r.dataplane() as dp:
        adopted = dataplane_dump(dp, macs=False)
    stop_and_check(r, (mp1, r.proc.pid))
    # The same configuration started afresh programs the same dataplane.
    r.start("--no-adopt")
    with r.dataplane() as dp:
        assert dataplane_dump(dp, macs=False) == adopted
    stop_and_check(r, (mp1, r.proc.pid))


def test_no_adopt_stops_the_dataplane_left_running(router):
    r = router.start()
    mp1, old = r.proc.pid, r.dataplane_pid()
    r.kill()
    assert running(old)
    r.start("--no-adopt")
    assert "stopping the dataplane a previous management plane left" in r.log()
    assert not running(old)
    assert r.dataplane_pid() != old
    wait_for_replies(r.h1, net(r, "2.2"))
    stop_and_check(r, (mp1, r.proc.pid))
