"""Configuration loading: what is accepted, and errors that name the place."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

import pytest
import yaml

from vrouter.cli import default_config_text
from vrouter.config import ConfigError, load, parse
from vrouter.config.model import Prefix

ROOT = Path(__file__).resolve().parents[2]


def cfg(text: str):
    return parse(yaml.safe_load(text), "t.yaml")


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    c = load(path)
    assert c.interfaces


def test_reference_config_names_every_dataplane_key_with_its_default():
    from dataclasses import fields
    from vrouter.config.model import DataplaneConfig
    raw = yaml.safe_load((ROOT / "configs" / "reference.yaml").read_text())["dataplane"]
    default = DataplaneConfig()
    assert set(raw) == {f.name for f in fields(DataplaneConfig)}
    for section in ("arp", "icmp", "punt"):
        assert set(raw[section]) == {f.name for f in fields(getattr(default, section))}, section
    assert load(ROOT / "configs" / "reference.yaml").dataplane == default


def test_embedded_default_has_demo_hosts_on_each_interface():
    c = parse(yaml.safe_load(default_config_text()), "default")
    assert {h.interface for h in c.demo_hosts} == {i.name for i in c.interfaces}


def test_routes_parse_ecmp_and_leak():
    c = cfg("""
vrfs: {blue: {id: 3}}
interfaces: {a: {device: "net_null0", vrf: blue, addresses: [10.0.0.1/24]}}
routes:
  - {prefix: 10.9.0.0/16, vrf: blue, via: [10.0.0.2, 10.0.0.3]}
  - {prefix: 10.8.0.0/16, vrf: blue, via: 10.0.0.2, via_vrf: default}
""")
    assert c.routes[0].via == (IPv4Address("10.0.0.2"), IPv4Address("10.0.0.3"))
    assert c.routes[0].prefix == Prefix.parse("10.9.0.0/16")
    assert str(c.routes[0].prefix) == "10.9.0.0/16"
    assert c.routes[1].via_vrf == "default"
    assert c.vrf("blue").id == 3


@pytest.mark.parametrize("text, where, what", [
    ("bogus: 1", "t.yaml", "unknown key 'bogus'"),
    ("interfaces: {a: {device: x, addresses: [10.0.0.1]}}",
     "interfaces.a.addresses[0]", "needs a prefix length"),
    ("interfaces: {a: {device: x, addresses: [10.0.0.0/24]}}",
     "interfaces.a.addresses[0]", "network or broadcast"),
    ("interfaces: {a: {device: x, vrf: red}}", "interfaces.a.vrf", "unknown VRF 'red'"),
    ("interfaces: {a: {device: x, mtu: 20}}", "interfaces.a.mtu", "out of range 68..9600"),
    ("interfaces: {a: {device: x, mac: '01:00:00:00:00:01'}}", "interfaces.a.mac", "multicast"),
    ("interfaces: {a: {device: x, addresses: [10.0.0.1/24]}, "
     "b: {device: y, addresses: [10.0.0.1/24]}}", "interfaces.b.addresses[0]", "already"),
    ("interfaces: {a: {device: x}, b: {device: x}}", "interfaces.b.device", "already used"),
    ("routes: [{prefix: 10.0.0.1/8, via: 1.2.3.4}]", "routes[0].prefix", "host bits"),
    ("routes: [{prefix: 10.0.0.0/8, via: 10.0.0.300}]", "routes[0].via", "not an IPv4 address"),
    ("routes: [{prefix: 10.0.0.0/8}]", "routes[0]", "exactly one of"),
    ("routes: [{prefix: 10.0.0.0/8, via: 1.1.1.1, blackhole: true}]", "routes[0]",
     "exactly one of"),
    ("routes: [{prefix: 10.0.0.0/8, via: 1.1.1.1, vrf: nope}]", "routes[0].vrf", "unknown VRF"),
    ("vrfs: {a: {id: 1}, b: {id: 1}}", "vrfs.b.id", "already used"),
    ("vrfs: {a: {}}", "vrfs.a", "missing 'id'"),
    ("dataplane: {workers: [0]}", "dataplane.workers", "main lcore"),
    ("dataplane: {hugepages: maybe}", "dataplane.hugepages", "expected auto, yes or no"),
    ("dataplane: {arp: {queue_len: 1000}}", "dataplane.arp.queue_len", "out of range"),
    ("dataplane: {arp: {request_burst: 0}}", "dataplane.arp.request_burst", "out of range 1"),
    ("dataplane: {queue_size: 16}", "dataplane.queue_size", "out of range 32"),
    ("neighbors: [{interface: nope, ip: 1.1.1.1, mac: '02:00:00:00:00:01'}]",
     "neighbors[0].interface", "unknown interface"),
])
def test_errors_name_the_file_path_and_problem(text, where, what):
    with pytest.raises(ConfigError) as e:
        cfg(text)
    msg = str(e.value)
    assert msg.startswith("t.yaml: "), msg
    assert where in msg and what in msg, msg


def test_unreadable_and_invalid_yaml_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("interfaces: [\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load(bad)
