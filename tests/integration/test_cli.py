"""The `vrouter` command line against a real appliance (one for the module):
every command, its readable and its JSON output, the error paths and their
exit codes (1 refused, 2 bad arguments, 3 unreachable), --batch, and the
configuration workflow (load, diff, commit, history, rollback, save)."""

from __future__ import annotations

import os
import io
import json
import signal
import subprocess
import sys
import threading
import time
from argparse import Namespace

import pytest
import yaml
from vrouter import cli
from vrouter.appliance import Appliance
from vrouter.cli import main
from vrouter.cli import words as w
from vrouter.cli.routes import ROUTE_WORDS
from vrouter.config import load, parse

CONFIG = """
api: {{socket: {sock}}}
dataplane: {{hugepages: no, memory_mb: 384, mbufs: 8192}}  # a VRF's FIB: 64 MB (2^24 x 4 B)
vrfs:
  default: {{max_routes: 1024}}
  red: {{id: 1, max_routes: 1024}}
  blue: {{id: 2, max_routes: 1024}}
interfaces:
  eth0:  {{device: "net_null0,size=64", up: false, addresses: [10.0.0.1/24]}}
  red0:  {{device: "net_null1,size=64", vrf: red, up: false, addresses: [10.1.0.1/24]}}
  blue0: {{device: "net_null2,size=64", vrf: blue, up: false, addresses: [10.2.0.1/24]}}
routes:
  - {{prefix: 192.0.2.0/24, blackhole: true}}
"""


@pytest.fixture(scope="module")
def router(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    cfg = parse(yaml.safe_load(CONFIG.format(sock=d / "api.sock")), "<test>")
    app = Appliance(cfg, d / "run", name=f"clitest{os.getpid()}")
    app.start()
    app.sock = d / "api.sock"
    yield app
    app.stop()


class Run:
    """`vrouter --api <the router> ARGS...` in this process."""

    def __init__(self, router, capsys) -> None:
        self.router, self.capsys = router, capsys

    def __call__(self, *args: str, rc: int = 0, api: str | None = None) -> str:
        code = main(["--api", api or str(self.router.sock), *args])
        o = self.capsys.readouterr()
        self.err = o.err
        assert code == rc, f"vrouter {' '.join(args)}: exit {code}, not {rc}\n{o.out}\n{o.err}"
        if rc:
            assert o.err.startswith("vrouter: ") or "usage:" in o.err, o.err
        return o.out

    def json(self, *args: str, api: str | None = None):
        return json.loads(self("--json", *args, api=api))

    def fails(self, code_name: str, *args: str) -> str:
        """Refused by the server: exit 1, `vrouter: CODE: message`."""
        self(*args, rc=1)
        assert self.err.startswith(f"vrouter: {code_name}: "), self.err
        return self.err

    def table(self, *args: str, api: str | None = None) -> list[list[str]]:
        return [line.split() for line in self(*args, api=api).splitlines()]


@pytest.fixture
def vr(router, capsys):
    return Run(router, capsys)


def rows_by_first(table: list[list[str]]) -> dict[str, list[str]]:
    return {r[0]: r for r in table[1:] if r}


# ---- basics ----

def test_usage_help_and_default_verbs(vr):
    vr(rc=2)
    assert "missing command" in vr.err
    out = vr("-h")
    for obj in ("interface", "address", "vrf", "route", "arp", "config", "stats", "status",
                "events", "run"):
        assert f"    {obj}" in out
    out = vr("route", "add", "-h")
    assert "PREFIX [via GW[,GW...]]" in out and "blackhole|reject" in out
    assert "keywords:" in out and "via-vrf VRF" in out
    # An object alone is its `show`; aliases work.
    assert vr("route") == vr("route", "show")
    assert vr("interface") == vr("link", "ls") == vr("iface", "list")
    assert vr("neighbor") == vr("arp", "show")
    vr("stats", "nope!", rc=2)
    assert "'nope!' is not a valid name" in vr.err


def test_status(vr):
    out = vr("status")
    assert out.splitlines()[0].startswith("dataplane       up, pid ")
    assert "1 worker" in out and "config version" in out
    s = vr.json("status")
    assert s["dataplane_up"] is True and s["workers"] == 1 and s["config_version"] >= 1
    assert s["dataplane_pid"] == vr.router.process.pid


def test_unreachable_api_exits_3(vr, tmp_path):
    vr("status", api=str(tmp_path / "nope.sock"), rc=3)
    assert vr.err.startswith("vrouter: cannot reach the API at unix:") and "no such socket" in vr.err
    vr("route", "show", api="127.0.0.1:1", rc=3)
    assert "cannot reach the API at 127.0.0.1:1" in vr.err
    (tmp_path / "stale.sock").touch()  # not a listening socket
    vr("vrf", "show", api=f"unix:{tmp_path / 'stale.sock'}", rc=3)
    vr("status", api="host:port", rc=2)
    assert "--api: 'host:port' is not a socket path" in vr.err


@pytest.mark.parametrize("args, message", [
    (["route", "add", "10.0.0.300/24", "via", "10.0.0.2"],
     "argument PREFIX: '10.0.0.300/24' is not an IPv4 prefix"),
    (["route", "add", "10.9.0.0/16", "via", "10.0.0.2,x"], "via: 'x' is not an IPv4 address"),
    (["route", "add", "10.9.0.0/16"], "give `via GW[,GW...]`, or `blackhole` or `reject`"),
    (["route", "add", "10.9.0.0/16", "via", "10.0.0.2", "blackhole"], "(not both)"),
    (["route", "add", "10.9.0.0/16", "blackhole", "distance", "300"],
     "distance: 300 is out of range 1..255"),
    (["route", "add", "10.9.0.0/16", "blackhole", "vrf"], "vrf: needs a value (VRF)"),
    (["route", "add", "10.9.0.0/16", "blackhole", "vrf", "red", "vrf", "blue"],
     "vrf: given twice"),
    (["route", "show", "10.0.0.0/8", "10.1.0.0/16"], "unexpected '10.1.0.0/16'"),
    (["route", "lookup", "10.0.0"], "'10.0.0' is not an IPv4 address"),
    (["interface", "add", "x0", "vrf", "red"], "missing device DEVARGS"),
    (["interface", "add", "x0", "device", "net_null9", "mtu", "40"], "mtu: 40 is out of range"),
    (["interface", "add", "x0", "device", "net_null9", "colour", "red"],
     "unexpected 'colour' (expected: device, vrf, mtu, mac, address, rxd, txd, up, down)"),
    (["interface", "set", "eth0", "up", "down"], "down: conflicts with up"),
    (["interface", "set", "eth0"], "nothing to change"),
    (["interface", "set", "eth0", "mac", "02:00:00:00:00"], "is not a MAC address"),
    (["address", "add", "10.0.0.5", "dev", "eth0"], "is not an IPv4 address with a prefix"),
    (["address", "add", "10.0.0.5/24"], "missing dev NAME"),
    (["arp", "add", "10.0.0.9", "zz:00:00:00:00:01", "dev", "eth0"], "is not a MAC address"),
    (["vrf", "add", "green", "id", "0"], "id: 0 is out of range 1..255"),
    (["vrf", "add", "9green"], "'9green' is not a valid name"),
    (["events", "route_exploded"], "'route_exploded' is not an event type"),
    (["stats", "--watch", "0"], "out of range 0.05..3600 seconds"),
    (["config", "rollback", "-1"], "argument VERSION"),
    (["config", "load", "/nonexistent.yaml"], "/nonexistent.yaml: cannot read"),
    (["--timeout", "0", "status"], "argument --timeout"),
    (["route", "frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_exit_2_before_contacting_the_server(vr, tmp_path, args, message):
    # The API address does not exist: had the CLI tried it, the exit would be 3.
    vr(*args, rc=2, api=str(tmp_path / "absent.sock"))
    assert message in vr.err


# ---- interfaces and addresses ----

def test_interface_show(vr):
    t = vr.table("interface", "show")
    assert t[0] == ["NAME", "VRF", "ADMIN", "LINK", "MTU", "MAC", "ADDRESSES", "DEVICE"]
    rows = rows_by_first(t)
    assert rows["eth0"][1:5] == ["default", "down", "down", "1500"]
    assert rows["red0"][1] == "red" and rows["red0"][6:] == ["10.1.0.1/24", "net_null1,size=64"]
    assert rows["blue0"][1] == "blue"
    one = vr("interface", "show", "eth0")
    assert "device       net_null0,size=64" in one and "driver       net_null (port 0)" in one
    assert "addresses    10.0.0.1/24" in one
    js = {i["name"]: i for i in vr.json("interface", "show")}
    assert js["eth0"]["addresses"] == ["10.0.0.1/24"] and js["eth0"]["up"] is False
    assert js["blue0"]["vrf"] == "blue" and js["blue0"]["driver"] == "net_null"
    single = vr.json("interface", "show", "red0")
    assert single["name"] == "red0" and single["vrf"] == "red"
    # --json may also follow the command
    assert json.loads(vr("interface", "show", "red0", "--json")) == single
    vr.fails("NOT_FOUND", "interface", "show", "nope0")
    assert "interface nope0 does not exist" in vr.err


def test_interface_add_set_del(vr):
    added = vr.json("interface", "add", "lab0", "device", "net_null5,size=64", "vrf", "blue",
                    "mtu", "1400", "mac", "02:00:00:00:00:05", "address", "10.50.0.1/24",
                    "address", "10.51.0.1/24", "down")
    assert added["name"] == "lab0" and added["vrf"] == "blue" and added["mtu"] == 1400
    assert added["mac"] == "02:00:00:00:00:05" and added["up"] is False
    assert added["addresses"] == ["10.50.0.1/24", "10.51.0.1/24"]
    rows = rows_by_first(vr.table("interface", "show"))
    assert rows["lab0"][:5] == ["lab0", "blue", "down", "down", "1400"]
    vr.fails("ALREADY_EXISTS", "interface", "add", "lab0", "device", "net_null6,size=64", "down")

    assert vr("interface", "set", "lab0", "mtu", "9000", "vrf", "red",
              "mac", "02:00:00:00:00:06") == ""
    one = vr.json("interface", "show", "lab0")
    assert (one["mtu"], one["vrf"], one["mac"], one["up"]) == (9000, "red", "02:00:00:00:00:06",
                                                               False)
    assert "lab0" in vr.json("vrf", "show", "red")["interfaces"]
    vr.fails("INVALID_ARGUMENT", "interface", "set", "lab0", "mac", "01:00:5e:00:00:01")
    assert "is not a unicast MAC address" in vr.err
    vr.fails("NOT_FOUND", "interface", "set", "nope0", "mtu", "1400")

    assert vr("interface", "del", "lab0") == ""
    assert "lab0" not in rows_by_first(vr.table("interface", "show"))
    vr.fails("NOT_FOUND", "interface", "del", "lab0")
    assert vr.err == "vrouter: NOT_FOUND: interface lab0 does not exist\n"


def test_addresses(vr):
    vr("address", "add", "10.0.5.1/24", "dev", "eth0")
    vr("interface", "address", "add", "10.0.6.1/24", "dev", "eth0")
    t = vr.table("address", "show", "dev", "eth0")
    assert t == [["ADDRESS", "DEV", "VRF"], ["10.0.0.1/24", "eth0", "default"],
                 ["10.0.5.1/24", "eth0", "default"], ["10.0.6.1/24", "eth0", "default"]]
    js = vr.json("addr", "show")
    assert {"address": "10.1.0.1/24", "interface": "red0", "vrf": "red"} in js
    # The connected route came with it.
    assert "10.0.5.0/24" in vr("route", "show")
    vr.fails("ALREADY_EXISTS", "address", "add", "10.0.5.1/24", "dev", "eth0")
    vr.fails("NOT_FOUND", "address", "add", "10.0.7.1/24", "dev", "nope0")
    vr("address", "del", "10.0.5.1/24", "dev", "eth0")
    vr("interface", "address", "del", "10.0.6.1/24", "dev", "eth0")
    assert vr.json("interface", "show", "eth0")["addresses"] == ["10.0.0.1/24"]
    vr.fails("NOT_FOUND", "address", "del", "10.0.5.1/24", "dev", "eth0")
    assert "10.0.5.1/24 is not on interface eth0" in vr.err


# ---- VRFs ----

def test_vrfs(vr):
    t = vr.table("vrf", "show")
    assert t[0] == ["NAME", "ID", "ROUTES", "FIB", "MAX_ROUTES", "NAMESPACE", "INTERFACES"]
    rows = rows_by_first(t)
    assert rows["default"][1] == "0" and rows["red"][1] == "1" and rows["red"][6] == "red0"
    added = vr.json("vrf", "add", "green", "id", "7", "max-routes", "1024")
    assert (added["name"], added["id"], added["max_routes"]) == ("green", 7, 1024)
    assert rows_by_first(vr.table("vrf", "show"))["green"][:2] == ["green", "7"]
    assert [v["name"] for v in vr.json("vrf", "show")] == ["default", "red", "blue", "green"]
    vr.fails("ALREADY_EXISTS", "vrf", "add", "green", "id", "7", "max-routes", "1024")
    vr.fails("FAILED_PRECONDITION", "vrf", "del", "red")
    assert "red" in vr.err  # it names what is in the way
    vr("vrf", "del", "green")
    assert "green" not in rows_by_first(vr.table("vrf", "show"))
    vr.fails("NOT_FOUND", "vrf", "del", "green")
    assert vr.err == "vrouter: NOT_FOUND: vrf green does not exist\n"
    vr.fails("NOT_FOUND", "vrf", "show", "green")
    vr.fails("NOT_FOUND", "route", "show", "vrf", "green")


# ---- routes ----

def test_routes(vr):
    vr("route", "add", "10.9.0.0/16", "via", "10.0.0.2,10.0.0.3")
    vr("route", "add", "10.8.0.0/16", "via", "10.9.1.1", "metric", "20")
    vr("route", "add", "10.7.0.0/16", "reject", "distance", "10")
    vr("route", "add", "10.7.0.0/16", "via", "10.99.0.1", "distance", "5")
    vr("route", "add", "10.6.0.0/16", "via", "10.1.0.5", "via-vrf", "red")
    vr("route", "add", "10.66.0.0/16", "blackhole", "vrf", "red")
    out = vr("route", "show")
    lines = out.splitlines()
    assert lines[0].split() == ["PREFIX", "PROTO", "DIST/MET", "NEXT", "HOP"]
    assert lines[-1] == "(> selected, * installed in the FIB)"
    text = "\n".join(" ".join(line.split()) for line in lines)
    assert ">* 10.0.0.0/24 connected dev eth0" in text
    assert ">* 10.0.0.1/32 local dev eth0" in text
    assert ">* 10.9.0.0/16 static 1/0 via 10.0.0.2 dev eth0\nvia 10.0.0.3 dev eth0" in text
    assert ">* 10.8.0.0/16 static 1/20 via 10.9.1.1 (recursive)\nvia 10.0.0.2 dev eth0" in text
    assert ">* 10.6.0.0/16 static 1/0 via 10.1.0.5 dev red0 vrf red" in text
    assert ">* 192.0.2.0/24 static 1/0 blackhole" in text
    # The distance-5 route has no resolvable gateway: the reject (10) is selected.
    assert ">* 10.7.0.0/16 static 10/0 reject" in text and "10.99.0.1" not in text
    assert "10.66.0.0/16" not in text  # another VRF's
    every = " ".join(vr("route", "show", "--all-candidates").split())
    assert "10.7.0.0/16 static 5/0 via 10.99.0.1 (unresolved)" in every
    red = " ".join(vr("route", "show", "vrf", "red").split())
    assert ">* 10.66.0.0/16 static 1/0 blackhole" in red and "10.9.0.0" not in red
    assert "VRF" in vr("route", "show", "vrf", "all").splitlines()[0]
    within = vr.json("route", "show", "vrf", "all", "10.0.0.0/8")
    assert {(r["vrf"], r["prefix"]) for r in within} >= {("red", "10.66.0.0/16"),
                                                         ("default", "10.9.0.0/16")}
    assert all(r["prefix"].startswith("10.") for r in within)

    js = {r["prefix"]: r for r in vr.json("route", "show")}
    r9 = js["10.9.0.0/16"]
    assert r9["via"] == ["10.0.0.2", "10.0.0.3"] and r9["source"] == "ROUTE_SOURCE_STATIC"
    assert r9["selected"] and r9["installed"]
    assert [(h["gateway"], h["interface"]) for h in r9["nexthops"]] == [
        ("10.0.0.2", "eth0"), ("10.0.0.3", "eth0")]
    assert js["10.6.0.0/16"]["via_vrf"] == "red"
    assert js["10.7.0.0/16"]["action"] == "ROUTE_ACTION_REJECT"
    cands = [r for r in vr.json("route", "show", "-a", "10.7.0.0/16")]
    assert [(r["distance"], r["selected"]) for r in cands] == [(5, False), (10, True)]

    look = vr("route", "lookup", "10.9.4.4")
    assert "route    10.9.0.0/16 static via 10.0.0.2 dev eth0; via 10.0.0.3 dev eth0" in look
    assert "fib      10.9.0.0/16" in look
    lj = vr.json("route", "lookup", "10.66.1.1", "vrf", "red")
    assert lj["route"]["prefix"] == "10.66.0.0/16" and lj["fib_prefix"] == "10.66.0.0/16"
    assert vr("route", "lookup", "172.16.0.1") == "172.16.0.1: no route in vrf default\n"

    vr.fails("ALREADY_EXISTS", "route", "add", "10.9.0.0/16", "via", "10.0.0.2")
    vr.fails("INVALID_ARGUMENT", "route", "add", "10.9.1.0/16", "via", "10.0.0.2")
    assert "has host bits set (did you mean 10.9.0.0/16?)" in vr.err
    vr.fails("NOT_FOUND", "route", "add", "10.9.0.0/16", "blackhole", "vrf", "green")
    vr.fails("NOT_FOUND", "route", "lookup", "10.0.0.1", "vrf", "green")

    assert vr.json("route", "del", "10.7.0.0/16", "distance", "5") == {"deleted": 1}
    assert "10.99.0.1" not in vr("route", "show", "--all-candidates")
    for p in ("10.9.0.0/16", "10.8.0.0/16", "10.7.0.0/16", "10.6.0.0/16"):
        vr("route", "del", p)
    vr("route", "del", "10.66.0.0/16", "vrf", "red")
    vr.fails("NOT_FOUND", "route", "del", "10.9.0.0/16")
    assert vr.err == "vrouter: NOT_FOUND: routes[0]: no static route 10.9.0.0/16 in vrf default\n"
    assert "10.9.0.0" not in vr("route", "show")


# ---- ARP ----

def test_arp(vr):
    vr("arp", "add", "10.0.0.9", "02:00:00:00:00:09", "dev", "eth0")
    vr("neighbor", "add", "10.1.0.9", "02:00:00:00:01:09", "dev", "red0")
    t = vr.table("arp", "show")
    assert t[0] == ["IP", "MAC", "DEV", "VRF", "STATE", "AGE", "HELD"]
    rows = rows_by_first(t)
    assert rows["10.0.0.9"] == ["10.0.0.9", "02:00:00:00:00:09", "eth0", "default", "permanent",
                                "-"]
    assert rows["10.1.0.9"][2:4] == ["red0", "red"]
    assert [n["ip"] for n in vr.json("arp", "show", "dev", "red0")] == ["10.1.0.9"]
    only = vr.json("neigh", "show", "vrf", "default")
    assert {n["ip"] for n in only} == {"10.0.0.9"}
    assert only[0]["state"] == "NEIGHBOR_STATE_PERMANENT"
    vr.fails("INVALID_ARGUMENT", "arp", "add", "10.0.0.8", "01:00:5e:00:00:01", "dev", "eth0")
    assert "not a unicast MAC address" in vr.err
    vr.fails("NOT_FOUND", "arp", "add", "10.0.0.8", "02:00:00:00:00:08", "dev", "nope0")
    vr("arp", "del", "10.0.0.9", "dev", "eth0")
    vr("arp", "del", "10.1.0.9", "dev", "red0")
    assert "10.0.0.9" not in vr("arp", "show")
    vr.fails("NOT_FOUND", "arp", "del", "10.0.0.9", "dev", "eth0")
    vr.fails("NOT_FOUND", "arp", "del", "10.0.0.9", "dev", "nope0")


# ---- counters, status, events ----

def test_stats(vr):
    out = vr("stats")
    lines = out.splitlines()
    assert [x for x in lines if not x.startswith((" ", "!"))] == ["blue0", "eth0", "red0"]
    for line in lines:
        if line.startswith(("!", " ")) and "(all counters zero)" not in line:
            name, value = line[2:].split()[:2]
            assert int(value) > 0  # non-zero only by default
            assert line.startswith("!") == name.startswith("drop_"), line  # drops marked
    full = vr("stats", "eth0", "--all")
    assert full.splitlines()[0] == "eth0" and "rx_packets" in full and "blue0" not in full
    assert " rx_packets " in full and "! drop_no_route" in full  # zero, shown with --all
    js = vr.json("stats", "--all")
    assert set(js["interfaces"]) == {"eth0", "red0", "blue0"} and js["timestamp"]
    assert js["interfaces"]["eth0"]["rx_packets"] == 0
    nonzero = vr.json("stats", "eth0")
    assert list(nonzero["interfaces"]) == ["eth0"]
    assert all(v > 0 for v in nonzero["interfaces"]["eth0"].values())
    vr.fails("NOT_FOUND", "stats", "nope0")

    watched = vr("stats", "eth0", "--watch", "0.1", "--count", "2")
    assert watched.count("every 0.1s, ") == 2 and watched.count("\neth0\n") == 2
    stream = vr("--json", "stats", "-w", "0.1", "-n", "3", "--all").splitlines()
    assert len(stream) == 3
    assert all(set(json.loads(x)["interfaces"]) == {"eth0", "red0", "blue0"} for x in stream)


def _events_in_background(vr, args: list[str]) -> tuple[threading.Thread, list]:
    result: list = []
    bus = vr.router.engine.events
    before = len(bus._subs)
    t = threading.Thread(target=lambda: result.append(
        main(["--api", str(vr.router.sock), *args])), daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while len(bus._subs) == before and time.monotonic() < deadline:
        time.sleep(0.02)  # until it has subscribed
    return t, result


def test_events(vr, capsys):
    api = ["--api", str(vr.router.sock)]  # not vr(): it would take the events' output
    t, rc = _events_in_background(vr, ["--json", "events", "--count", "2", "route"])
    assert main([*api, "route", "add", "10.77.0.0/16", "blackhole"]) == 0
    assert main([*api, "route", "del", "10.77.0.0/16"]) == 0
    t.join(10)
    assert rc == [0]
    evs = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [(e["type"], e["prefix"], e["vrf"]) for e in evs] == [
        ("EVENT_TYPE_ROUTE_ADDED", "10.77.0.0/16", "default"),
        ("EVENT_TYPE_ROUTE_REMOVED", "10.77.0.0/16", "default")]

    t, rc = _events_in_background(vr, ["events", "-n", "1", "config_committed"])
    assert main([*api, "vrf", "add", "evt", "max-routes", "1024"]) == 0
    t.join(10)
    assert rc == [0]
    line = capsys.readouterr().out
    assert "config_committed" in line and "(version " in line and "vrf add evt" in line
    vr("vrf", "del", "evt")


# ---- configuration ----

def test_config_workflow(vr, tmp_path):
    running = vr("config", "show")
    assert "interfaces:" in running and "net_null0,size=64" in running
    doc = vr.json("config", "show")
    assert set(doc["vrfs"]) == {"default", "red", "blue"} and "eth0" in doc["interfaces"]
    vr.fails("FAILED_PRECONDITION", "config", "show", "--candidate")
    vr.fails("FAILED_PRECONDITION", "config", "commit")
    assert "no candidate configuration" in vr.err
    assert vr("config", "diff") == "no changes (or no candidate loaded)\n"

    doc["routes"].append({"prefix": "10.123.0.0/16", "blackhole": True})
    doc["interfaces"]["red0"]["mtu"] = 1400
    cand = tmp_path / "candidate.yaml"
    cand.write_text(yaml.safe_dump(doc))
    loaded = vr("config", "load", str(cand))
    assert "+ route 10.123.0.0/16" in loaded and "~ interface red0: mtu 1500 -> 1400" in loaded
    assert vr("config", "diff") == loaded
    d = vr.json("config", "diff")
    assert d["empty"] is False and d["diff"] == loaded.splitlines()
    assert "10.123.0.0/16" in vr("config", "show", "--candidate")
    assert "10.123.0.0/16" not in vr("route", "show")  # not yet

    v0 = vr.json("status")["config_version"]
    out = vr("config", "commit", "-m", "blackhole 10.123")
    assert out.startswith(f"committed version {v0 + 1}:\n") and "+ route 10.123.0.0/16" in out
    assert ">* 10.123.0.0/16 static" in " ".join(vr("route", "show").split())
    assert vr.json("interface", "show", "red0")["mtu"] == 1400
    assert vr("config", "diff") == "no changes (or no candidate loaded)\n"
    hist = vr.table("config", "history")
    assert hist[0] == ["VERSION", "TIME", "COMMENT"]
    assert hist[-1][0] == "*" and hist[-1][1] == str(v0 + 1) and hist[-1][3:] == ["blackhole",
                                                                                  "10.123"]
    hj = vr.json("config", "history")
    assert hj[-1] == {"version": v0 + 1, "timestamp": hj[-1]["timestamp"],
                      "comment": "blackhole 10.123", "running": True}
    assert [v["running"] for v in hj].count(True) == 1

    out = vr("config", "rollback")
    assert out.startswith(f"rolled back; now version {v0 + 2}:") and "- route 10.123.0.0/16" in out
    assert "10.123.0.0/16" not in vr("route", "show")
    assert vr.json("interface", "show", "red0")["mtu"] == 1500
    assert vr.table("config", "history")[-1][3:] == ["rollback", "to", "version", str(v0)]

    # Commit a file directly, then roll back to a version by number.
    out = vr.json("config", "commit", str(cand), "-m", "again")
    assert out["version"] == v0 + 3
    assert "+ route 10.123.0.0/16 blackhole vrf default" in out["diff"]
    assert "10.123.0.0/16" in vr("route", "show")
    assert vr.json("config", "rollback", str(v0))["version"] == v0 + 4
    assert "10.123.0.0/16" not in vr("route", "show")
    vr.fails("INVALID_ARGUMENT", "config", "rollback", str(v0 + 4))
    vr.fails("NOT_FOUND", "config", "rollback", "1")  # older than the kept history
    assert "older than the kept history" in vr.err

    saved = tmp_path / "saved.yaml"
    assert vr("config", "save", str(saved)) == f"saved to {saved}\n"
    assert load(saved) == parse(yaml.safe_load(vr("config", "show")), "running")
    assert vr.json("config", "save", str(saved)) == {"path": str(saved)}
    vr.fails("INVALID_ARGUMENT", "config", "save")  # started without a file
    assert "name one" in vr.err

    bad = tmp_path / "bad.yaml"
    bad.write_text("interfaces:\n  eth0: {device: net_null0, mtu: 20}\n")
    vr.fails("INVALID_ARGUMENT", "config", "load", str(bad))
    assert f"{bad}: interfaces.eth0.mtu: 20 is out of range 68..9600" in vr.err
    vr.fails("INVALID_ARGUMENT", "config", "commit", str(bad))


# ---- batch ----

def test_batch_stops_at_the_first_error(vr, tmp_path):
    f = tmp_path / "cmds"
    f.write_text("""\
# a VRF and two routes; line 5 fails
vrf add batchv id 9 max-routes 1024

vrouter route add 10.200.0.0/16 blackhole vrf batchv   # with a `vrouter` prefix
route del 10.201.0.0/16 vrf batchv
route add 10.202.0.0/16 blackhole vrf batchv
""")
    vr("--batch", str(f), rc=1)
    assert vr.err.splitlines() == [
        "vrouter: NOT_FOUND: routes[0]: no static route 10.201.0.0/16 in vrf batchv",
        (f"vrouter: {f} line 5: stopped at `route del 10.201.0.0/16 vrf batchv`; the 2 "
         "command(s) before it were applied, the rest not run")]
    routes = {r["prefix"] for r in vr.json("route", "show", "vrf", "batchv")}
    assert "10.200.0.0/16" in routes and "10.202.0.0/16" not in routes

    # A bad line: nothing runs at all.
    f.write_text("route del 10.200.0.0/16 vrf batchv\nroute add 10.300.0.0/16 blackhole\n")
    vr("--batch", str(f), rc=2)
    assert "'10.300.0.0/16' is not an IPv4 prefix" in vr.err
    assert f"vrouter: {f} line 2: bad command; nothing was run" in vr.err
    assert "10.200.0.0/16" in {r["prefix"] for r in vr.json("route", "show", "vrf", "batchv")}

    # Output of show commands, from stdin; then clean up.
    f.write_text("route del 10.200.0.0/16 vrf batchv\nvrf show batchv\nvrf del batchv\n")
    stdin, sys.stdin = sys.stdin, io.StringIO(f.read_text())
    try:
        out = vr("--json", "--batch", "-")
    finally:
        sys.stdin = stdin
    docs = [json.loads(x) for x in out.splitlines()]  # one line per command
    assert docs[0] == {"deleted": 1} and docs[1]["name"] == "batchv" and docs[2] == {}
    assert "batchv" not in vr("vrf", "show")
    vr("--batch", str(tmp_path / "missing"), rc=2)
    vr("--batch", str(f), "status", rc=2)


# ---- run, completion ----

def test_run_starts_the_appliance_until_sigint(vr, tmp_path):
    sock = tmp_path / "run.sock"
    cfg = tmp_path / "router.yaml"
    cfg.write_text(f"""
api: {{socket: {sock}}}
dataplane: {{hugepages: no, memory_mb: 256, mbufs: 8192}}
interfaces: {{lan0: {{device: "net_null7,size=64", up: false, addresses: [10.3.0.1/24]}}}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "vrouter.cli", "run", "-c", str(cfg),
                             "--run-dir", str(tmp_path / "run"), "--name", f"clirun{os.getpid()}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while main(["--api", str(sock), "status"]) != 0:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        vr.capsys.readouterr()
        assert vr.json("status", api=str(sock))["dataplane_up"] is True
        assert rows_by_first(vr.table("interface", api=str(sock)))["lan0"][1] == "default"
        vr("route", "add", "10.4.0.0/16", "via", "10.3.0.9", api=str(sock))
        # Started from a file: `config save` writes it back there.
        assert vr("config", "save", api=str(sock)) == f"saved to {cfg}\n"
        assert [str(r.prefix) for r in load(cfg).routes] == ["10.4.0.0/16"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"vrouter running (1 interfaces); API on unix:{sock}" in out
    assert not sock.exists()


def test_run_reports_a_bad_config_file(vr, tmp_path):
    vr("run", "-c", str(tmp_path / "absent.yaml"), "--run-dir", str(tmp_path), rc=2)
    assert "cannot read" in vr.err
    assert "embedded demo" in vr("run", "-h")
    assert "demo_hosts:" in cli.default_config_text()


def test_completion_helpers_ask_the_router(vr):
    ns = Namespace(api=str(vr.router.sock), words=[])
    assert {"eth0", "red0", "blue0"} <= set(w.interfaces(parsed_args=ns))
    assert set(w.vrfs(parsed_args=ns)) >= {"default", "red", "blue"}
    assert "via" in ROUTE_WORDS.completer("", ns)
    ns.words = ["via", "10.0.0.2", "vrf"]
    assert set(ROUTE_WORDS.completer("", ns)) >= {"red", "blue"}
    ns.api = "/nonexistent.sock"
    assert w.interfaces(parsed_args=ns) == []


def test_works_without_argcomplete(vr, monkeypatch):
    monkeypatch.setattr(cli, "argcomplete", None)
    assert "eth0" in vr("interface", "show")
