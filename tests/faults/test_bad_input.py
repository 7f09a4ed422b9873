"""Malformed and out-of-range values to every RPC of the API.

The RPCs are enumerated from the generated descriptors (every vrouter.v1
service), so a new RPC fails test_every_rpc_has_cases until its bad inputs
are listed in CASES. For each:

- the listed bad values: the exact status code, a message naming the bad
  field (or value), and the router's whole state unchanged (the running
  configuration, version history and candidate, and a dump of everything the
  dataplane holds);
- bytes that are not the request message at all: INVALID_ARGUMENT, nothing
  changed;
- hostile values in every field of a plausible request, generated from the
  descriptor (NUL bytes, 4 KiB strings, non-ASCII text, the largest integers,
  unknown enum numbers): never UNKNOWN, INTERNAL or a hang; when refused,
  refused with a message and nothing changed; when accepted, undone.
"""

from __future__ import annotations

import copy
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import yaml
from faults.lifecycle import dataplane_dump
from google.protobuf import message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from vrouter.api import proto_modules
from vrouter.appliance import Appliance
from vrouter.config import parse
from vrouter.config.dump import to_yaml
from vrouter.v1 import (capture_pb2, config_pb2, events_pb2, interface_pb2, nat_pb2,
                        neighbor_pb2, route_pb2, stats_pb2, trace_pb2, vrf_pb2)

C = grpc.StatusCode
N = 50 + os.getpid() % 40  # net_null device numbers of this process

CONFIG = f"""
api: {{socket: SOCK}}
dataplane: {{hugepages: no, memory_mb: 256, mbufs: 8192}}
control_plane: false
vrfs: {{blue: {{id: 1}}}}
interfaces:
  a: {{device: "net_null{N}0,size=64", up: false, addresses: [10.0.0.1/24]}}
  b: {{device: "net_null{N}1,size=64", up: false, vrf: blue, addresses: [10.1.0.1/24]}}
routes:
  - {{prefix: 10.9.0.0/16, via: 10.0.0.2}}
  - {{prefix: 10.8.0.0/16, via: [10.0.0.2, 10.0.0.3]}}
  - {{prefix: 192.0.2.0/24, blackhole: true}}
  - {{prefix: 10.7.0.0/16, vrf: blue, reject: true}}
neighbors:
  - {{interface: a, ip: 10.0.0.3, mac: "02:00:00:00:00:03"}}
nat:
  source:
    - {{interface: a, match: 10.1.0.0/16, masquerade: true}}
  forwards:
    - {{proto: tcp, external: "10.0.0.1:8080", internal: "10.0.0.5:80"}}
"""


# ---- the RPCs ----

def methods() -> dict[str, object]:
    """'Service/Method' -> method descriptor, for every vrouter.v1 service."""
    return {f"{s.name}/{m.name}": m for mod in proto_modules()
            for s in mod.DESCRIPTOR.services_by_name.values() for m in s.methods}


@dataclass
class Bad:
    request: Message | bytes
    code: grpc.StatusCode
    words: tuple[str, ...] = ()


NO_INPUT = "no input"  # the request has no fields: nothing to get wrong but its bytes

I, V, R, Nb, Nt, Cf, Ev, St, Cp, Tr = (interface_pb2, vrf_pb2, route_pb2, neighbor_pb2,
                                        nat_pb2, config_pb2, events_pb2, stats_pb2, capture_pb2,
                                        trace_pb2)


def itf(**kw) -> I.InterfaceAddRequest:
    base = {"name": "z1", "device": f"net_null{N}9,size=64", "up": False}
    return I.InterfaceAddRequest(interface=I.Interface(**{**base, **kw}))


def route(**kw) -> R.RouteAddRequest:
    return R.RouteAddRequest(routes=[R.Route(**{"prefix": "10.60.0.0/16", "via": ["10.0.0.2"],
                                                **kw})])


def snat(**kw) -> Nt.NatRuleAddRequest:
    base = {"kind": Nt.NAT_KIND_SOURCE, "interface": "a", "match": "10.2.0.0/16",
            "masquerade": True}
    return Nt.NatRuleAddRequest(rule=Nt.NatRule(**{**base, **kw}))


def dnat(**kw) -> Nt.NatRuleAddRequest:
    base = {"kind": Nt.NAT_KIND_FORWARD, "protocol": "udp", "external": "10.0.0.1",
            "external_port": 53, "internal": "10.0.0.6", "internal_port": 53}
    return Nt.NatRuleAddRequest(rule=Nt.NatRule(**{**base, **kw}))


def explain(**kw) -> Tr.ExplainRequest:
    base = {"interface": "a", "protocol": "udp", "source": "10.0.0.2",
            "destination": "10.9.1.1", "source_port": 1000, "destination_port": 53}
    return Tr.ExplainRequest(**{**base, **kw})


CASES: dict[str, list[Bad] | str] = {
    "InterfaceService/List": NO_INPUT,
    "InterfaceService/Get": [
        Bad(I.InterfaceGetRequest(name="nope"), C.NOT_FOUND, ("interface nope",)),
        Bad(I.InterfaceGetRequest(), C.INVALID_ARGUMENT, ("name",))],
    "InterfaceService/Add": [
        Bad(I.InterfaceAddRequest(), C.INVALID_ARGUMENT, ("interface.name",)),
        Bad(itf(name="1bad"), C.INVALID_ARGUMENT, ("interface.name", "1bad")),
        Bad(itf(name="a" * 16), C.INVALID_ARGUMENT, ("interface.name",)),
        Bad(itf(device=""), C.INVALID_ARGUMENT, ("interface.device",)),
        Bad(itf(device="x" * 300), C.INVALID_ARGUMENT, ("interface.device",)),
        Bad(itf(device="net_null9\x00"), C.INVALID_ARGUMENT, ("interface.device",)),
        Bad(itf(device="net_bogus0"), C.ABORTED, ("net_bogus0",)),
        Bad(itf(mtu=67), C.INVALID_ARGUMENT, ("interface.mtu", "67")),
        Bad(itf(mtu=9601), C.INVALID_ARGUMENT, ("interface.mtu", "9601")),
        Bad(itf(mac="01:00:5e:00:00:01"), C.INVALID_ARGUMENT, ("interface.mac",)),
        Bad(itf(mac="02:00:00:00:00"), C.INVALID_ARGUMENT, ("interface.mac",)),
        Bad(itf(rxd=70000), C.INVALID_ARGUMENT, ("interface.rxd", "70000")),
        Bad(itf(txd=1 << 31), C.INVALID_ARGUMENT, ("interface.txd",)),
        Bad(itf(addresses=["10.5.0.300/24"]), C.INVALID_ARGUMENT,
            ("interface.addresses[0]", "10.5.0.300/24")),
        Bad(itf(addresses=["10.5.0.1"]), C.INVALID_ARGUMENT, ("interface.addresses[0]",)),
        Bad(itf(addresses=["10.5.0.0/24"]), C.INVALID_ARGUMENT, ("10.5.0.0/24",)),
        Bad(itf(addresses=["10.0.0.9/24"]), C.ALREADY_EXISTS, ("10.0.0.0/24",)),
        Bad(itf(vrf="nope"), C.NOT_FOUND, ("vrf nope",)),
        Bad(itf(name="a"), C.ALREADY_EXISTS, ("interface a",)),
        Bad(itf(device=f"net_null{N}0,size=64"), C.ALREADY_EXISTS, ("device",))],
    "InterfaceService/Delete": [
        Bad(I.InterfaceDeleteRequest(name="nope"), C.NOT_FOUND, ("interface nope",)),
        Bad(I.InterfaceDeleteRequest(name="a"), C.FAILED_PRECONDITION, ("interface a",))],
    "InterfaceService/Set": [
        Bad(I.InterfaceSetRequest(name="nope", mtu=1400), C.NOT_FOUND, ("interface nope",)),
        Bad(I.InterfaceSetRequest(name="a", mtu=10), C.INVALID_ARGUMENT, ("mtu", "10")),
        Bad(I.InterfaceSetRequest(name="a", mtu=1 << 31), C.INVALID_ARGUMENT, ("mtu",)),
        Bad(I.InterfaceSetRequest(name="a", mac="zz"), C.INVALID_ARGUMENT, ("mac", "zz")),
        Bad(I.InterfaceSetRequest(name="a", vrf="nope"), C.NOT_FOUND, ("vrf nope",))],
    "InterfaceService/AddAddress": [
        Bad(I.AddressRequest(interface="nope", address="10.5.0.1/24"), C.NOT_FOUND,
            ("interface nope",)),
        Bad(I.AddressRequest(interface="a", address="10.5.0.1"), C.INVALID_ARGUMENT,
            ("address", "10.5.0.1")),
        Bad(I.AddressRequest(interface="a", address="10.5.0.1/33"), C.INVALID_ARGUMENT,
            ("address", "10.5.0.1/33")),
        Bad(I.AddressRequest(interface="a", address="10.0.0.1/24"), C.ALREADY_EXISTS,
            ("10.0.0.1/24",)),
        Bad(I.AddressRequest(interface="a", address="10.5.0.255/24"), C.INVALID_ARGUMENT,
            ("10.5.0.255/24", "broadcast"))],
    "InterfaceService/DeleteAddress": [
        Bad(I.AddressRequest(interface="a", address="10.5.0.1/24"), C.NOT_FOUND,
            ("10.5.0.1/24",)),
        Bad(I.AddressRequest(interface="a", address="x"), C.INVALID_ARGUMENT, ("address",)),
        # the static neighbour 10.0.0.3 needs it (the dataplane would drop it)
        Bad(I.AddressRequest(interface="a", address="10.0.0.1/24"), C.FAILED_PRECONDITION,
            ("static neighbor 10.0.0.3",)),
        Bad(I.AddressRequest(interface="nope", address="10.0.0.1/24"), C.NOT_FOUND,
            ("interface nope",))],
    "VrfService/List": NO_INPUT,
    "VrfService/Get": [Bad(V.VrfGetRequest(name="nope"), C.NOT_FOUND, ("vrf nope",))],
    "VrfService/Add": [
        Bad(V.VrfAddRequest(), C.INVALID_ARGUMENT, ("vrf.name",)),
        Bad(V.VrfAddRequest(vrf=V.Vrf(name="green", id=256)), C.INVALID_ARGUMENT,
            ("256", "1..255")),
        Bad(V.VrfAddRequest(vrf=V.Vrf(name="green", id=1)), C.ALREADY_EXISTS, ("vrf id 1",)),
        Bad(V.VrfAddRequest(vrf=V.Vrf(name="blue", id=7)), C.ALREADY_EXISTS, ("vrf blue",)),
        Bad(V.VrfAddRequest(vrf=V.Vrf(name="green", max_routes=(1 << 32) - 1)),
            C.INVALID_ARGUMENT, ("vrf.max_routes",)),
        Bad(V.VrfAddRequest(vrf=V.Vrf(name="green", num_tbl8=(1 << 32) - 1)),
            C.INVALID_ARGUMENT, ("vrf.num_tbl8",))],
    "VrfService/Delete": [
        Bad(V.VrfDeleteRequest(name="nope"), C.NOT_FOUND, ("vrf nope",)),
        Bad(V.VrfDeleteRequest(name="default"), C.FAILED_PRECONDITION, ("default vrf",)),
        Bad(V.VrfDeleteRequest(name="blue"), C.FAILED_PRECONDITION, ("vrf blue",))],
    "RouteService/List": [
        Bad(R.RouteListRequest(vrf="nope"), C.NOT_FOUND, ("vrf nope",)),
        Bad(R.RouteListRequest(prefix="10.0.0.1/8"), C.INVALID_ARGUMENT,
            ("prefix", "host bits"))],
    "RouteService/Add": [
        Bad(route(prefix="10.60.0.1/16"), C.INVALID_ARGUMENT, ("routes[0].prefix", "host bits")),
        Bad(route(prefix="10.60.0.0/33"), C.INVALID_ARGUMENT, ("routes[0].prefix",)),
        Bad(route(prefix=""), C.INVALID_ARGUMENT, ("routes[0].prefix",)),
        Bad(route(via=["10.0.0.300"]), C.INVALID_ARGUMENT, ("routes[0].via", "10.0.0.300")),
        Bad(route(via=[]), C.INVALID_ARGUMENT, ("routes[0]",)),
        Bad(route(action=R.ROUTE_ACTION_BLACKHOLE), C.INVALID_ARGUMENT, ("routes[0]",)),
        Bad(route(action=77, via=[]), C.INVALID_ARGUMENT, ("routes[0].action", "77")),
        Bad(route(distance=256), C.INVALID_ARGUMENT, ("routes[0].distance", "256")),
        Bad(route(vrf="nope"), C.NOT_FOUND, ("vrf nope",)),
        Bad(route(via_vrf="nope"), C.NOT_FOUND, ("via_vrf nope",)),
        Bad(route(via=["255.255.255.255"]), C.INVALID_ARGUMENT, ("255.255.255.255",)),
        Bad(route(via=[f"10.0.0.{i}" for i in range(2, 19)]), C.INVALID_ARGUMENT,
            ("17 gateways",)),
        Bad(R.RouteAddRequest(batches=[R.RouteBatch(target=R.Route(via=["10.0.0.2"]),
                                                    prefixes=["10.61.0.0/16", "nope"])]),
            C.INVALID_ARGUMENT, ("batches[0].prefixes", "nope")),
        Bad(R.RouteAddRequest(batches=[R.RouteBatch(target=R.Route(prefix="10.1.0.0/16",
                                                                   via=["10.0.0.2"]))]),
            C.INVALID_ARGUMENT, ("batches[0].target.prefix",))],
    "RouteService/Delete": [
        Bad(R.RouteDeleteRequest(routes=[R.RouteKey(prefix="nope")]), C.INVALID_ARGUMENT,
            ("routes[0].prefix", "nope")),
        Bad(R.RouteDeleteRequest(routes=[R.RouteKey(prefix="10.9.0.0/16"),
                                         R.RouteKey(prefix="10.99.0.0/16")]),
            C.NOT_FOUND, ("routes[1]", "10.99.0.0/16")),
        Bad(R.RouteDeleteRequest(routes=[R.RouteKey(prefix="10.9.0.0/16", vrf="nope")]),
            C.NOT_FOUND, ("vrf nope",)),
        Bad(R.RouteDeleteRequest(routes=[R.RouteKey(prefix="10.9.0.0/16", distance=300)]),
            C.INVALID_ARGUMENT, ("routes[0].distance", "300"))],
    "RouteService/Lookup": [
        Bad(R.RouteLookupRequest(address="10.0.0.300"), C.INVALID_ARGUMENT,
            ("address", "10.0.0.300")),
        Bad(R.RouteLookupRequest(address="10.0.0.1", vrf="nope"), C.NOT_FOUND, ("vrf nope",))],
    "NeighborService/List": [
        Bad(Nb.NeighborListRequest(interface="nope"), C.NOT_FOUND, ("interface nope",)),
        Bad(Nb.NeighborListRequest(vrf="nope"), C.NOT_FOUND, ("vrf nope",))],
    "NeighborService/Add": [
        Bad(Nb.NeighborAddRequest(neighbor=Nb.Neighbor(interface="a", ip="10.0.0.300",
                                                       mac="02:00:00:00:00:04")),
            C.INVALID_ARGUMENT, ("neighbor.ip", "10.0.0.300")),
        Bad(Nb.NeighborAddRequest(neighbor=Nb.Neighbor(interface="a", ip="10.0.0.4",
                                                       mac="ff:ff:ff:ff:ff:ff")),
            C.INVALID_ARGUMENT, ("neighbor.mac",)),
        Bad(Nb.NeighborAddRequest(neighbor=Nb.Neighbor(interface="nope", ip="10.0.0.4",
                                                       mac="02:00:00:00:00:04")),
            C.NOT_FOUND, ("interface nope",)),
        Bad(Nb.NeighborAddRequest(neighbor=Nb.Neighbor(interface="a", ip="10.6.0.4",
                                                       mac="02:00:00:00:00:04")),
            C.INVALID_ARGUMENT, ("10.6.0.4", "not on a subnet")),
        Bad(Nb.NeighborAddRequest(neighbor=Nb.Neighbor(interface="a", ip="10.0.0.3",
                                                       mac="02:00:00:00:00:05")),
            C.ALREADY_EXISTS, ("10.0.0.3",))],
    "NeighborService/Delete": [
        Bad(Nb.NeighborDeleteRequest(interface="a", ip="x"), C.INVALID_ARGUMENT, ("ip", "'x'")),
        Bad(Nb.NeighborDeleteRequest(interface="nope", ip="10.0.0.3"), C.NOT_FOUND,
            ("interface nope",)),
        Bad(Nb.NeighborDeleteRequest(interface="a", ip="10.0.0.99"), C.NOT_FOUND,
            ("10.0.0.99",))],
    "NatService/ListRules": NO_INPUT,
    "NatService/AddRule": [
        Bad(Nt.NatRuleAddRequest(), C.INVALID_ARGUMENT, ("rule.kind",)),
        Bad(snat(kind=42), C.INVALID_ARGUMENT, ("rule.kind",)),
        Bad(snat(interface="nope"), C.NOT_FOUND, ("rule.interface", "nope")),
        Bad(snat(match="10.2.0.0/33"), C.INVALID_ARGUMENT, ("rule.match",)),
        Bad(snat(match="10.2.0.1/16"), C.INVALID_ARGUMENT, ("rule.match",)),
        Bad(snat(masquerade=False, pool=["10.0.0.300"]), C.INVALID_ARGUMENT,
            ("rule.pool[0]", "10.0.0.300")),
        Bad(snat(port_low=70000), C.INVALID_ARGUMENT, ("rule.port_low", "70000")),
        Bad(snat(port_low=2000, port_high=1000), C.INVALID_ARGUMENT, ("2000-1000",)),
        Bad(snat(vrf="nope"), C.NOT_FOUND, ("vrf nope",)),
        Bad(dnat(protocol="sctp"), C.INVALID_ARGUMENT, ("rule.protocol", "sctp")),
        Bad(dnat(external_port=70000), C.INVALID_ARGUMENT, ("rule.external_port", "70000")),
        Bad(dnat(internal_port=0), C.INVALID_ARGUMENT, ("rule.internal_port",)),
        Bad(dnat(external="x"), C.INVALID_ARGUMENT, ("rule.external", "'x'")),
        Bad(dnat(internal="10.0.0.256"), C.INVALID_ARGUMENT, ("rule.internal",)),
        Bad(dnat(protocol="tcp", external_port=8080), C.ALREADY_EXISTS, ("8080",))],
    "NatService/DeleteRule": [
        Bad(Nt.NatRuleDeleteRequest(id=999), C.NOT_FOUND, ("id 999",)),
        Bad(Nt.NatRuleDeleteRequest(rule=Nt.NatRule(kind=42)), C.INVALID_ARGUMENT,
            ("rule.kind",)),
        Bad(Nt.NatRuleDeleteRequest(rule=dnat().rule), C.NOT_FOUND, ("no such NAT rule",))],
    **{f"NatService/{m}": [
        Bad(Nt.NatSessionFilter(protocol="sctp"), C.INVALID_ARGUMENT, ("protocol", "sctp")),
        Bad(Nt.NatSessionFilter(address="10.0.0.300"), C.INVALID_ARGUMENT,
            ("address", "10.0.0.300")),
        Bad(Nt.NatSessionFilter(vrf="nope"), C.NOT_FOUND, ("vrf nope",)),
        Bad(Nt.NatSessionFilter(port=70000), C.INVALID_ARGUMENT, ("port", "70000")),
        Bad(Nt.NatSessionFilter(rule_id=999), C.NOT_FOUND, ("rule_id", "999"))]
       for m in ("ListSessions", "CountSessions", "FlushSessions")},
    "ConfigService/Show": [
        Bad(Cf.ConfigShowRequest(candidate=True), C.FAILED_PRECONDITION, ("no candidate",))],
    "ConfigService/Load": [
        Bad(Cf.ConfigLoadRequest(yaml="{", source="c.yaml"), C.INVALID_ARGUMENT,
            ("c.yaml", "not valid YAML")),
        Bad(Cf.ConfigLoadRequest(yaml="bogus: 1", source="c.yaml"), C.INVALID_ARGUMENT,
            ("c.yaml", "bogus")),
        Bad(Cf.ConfigLoadRequest(yaml="routes: [{prefix: 10.1.0.1/16, blackhole: true}]",
                                 source="c.yaml"),
            C.INVALID_ARGUMENT, ("c.yaml: routes[0].prefix",)),
        Bad(Cf.ConfigLoadRequest(yaml="- 1\n- 2"), C.INVALID_ARGUMENT, ("expected a mapping",)),
        Bad(Cf.ConfigLoadRequest(yaml="api: {socket: /tmp/other.sock}"),
            C.FAILED_PRECONDITION, ("api",))],
    "ConfigService/Diff": NO_INPUT,
    "ConfigService/Commit": [
        Bad(Cf.ConfigCommitRequest(), C.FAILED_PRECONDITION, ("no candidate",)),
        Bad(Cf.ConfigCommitRequest(yaml="interfaces: {a: {device: x, mtu: 5}}",
                                   source="c.yaml"),
            C.INVALID_ARGUMENT, ("c.yaml: interfaces.a.mtu",))],
    "ConfigService/Rollback": [
        Bad(Cf.ConfigRollbackRequest(version=999), C.INVALID_ARGUMENT, ("version 999",)),
        Bad(Cf.ConfigRollbackRequest(version=(1 << 32) - 1), C.INVALID_ARGUMENT,
            ("version",))],
    "ConfigService/Save": [
        Bad(Cf.ConfigSaveRequest(), C.INVALID_ARGUMENT, ("path",)),
        Bad(Cf.ConfigSaveRequest(path="relative.yaml"), C.INVALID_ARGUMENT,
            ("path", "absolute")),
        Bad(Cf.ConfigSaveRequest(path="/proc/version/x.yaml"),  # under a file
            C.FAILED_PRECONDITION, ("path", "/proc/version/x.yaml")),
        Bad(Cf.ConfigSaveRequest(path="/tmp/a\x00b.yaml"), C.INVALID_ARGUMENT, ("path",)),
        Bad(Cf.ConfigSaveRequest(path="/" + "x" * 5000), C.FAILED_PRECONDITION, ("path",))],
    "ConfigService/History": NO_INPUT,
    "EventService/Subscribe": [
        Bad(Ev.SubscribeRequest(types=[999]), C.INVALID_ARGUMENT, ("types[0]", "999"))],
    "StatsService/Get": [
        Bad(St.StatsRequest(interface="nope"), C.NOT_FOUND, ("interface nope",))],
    "StatsService/Watch": [
        Bad(St.StatsWatchRequest(interface="nope"), C.NOT_FOUND, ("interface nope",)),
        Bad(St.StatsWatchRequest(interval_ms=1), C.INVALID_ARGUMENT, ("interval_ms", "1")),
        Bad(St.StatsWatchRequest(interval_ms=(1 << 32) - 1), C.INVALID_ARGUMENT,
            ("interval_ms",))],
    "StatsService/Status": NO_INPUT,
    "StatsService/Workers": NO_INPUT,
    "CaptureService/Capture": [
        Bad(Cp.CaptureRequest(), C.INVALID_ARGUMENT, ("interfaces",)),
        Bad(Cp.CaptureRequest(interfaces=["nope"]), C.NOT_FOUND, ("interface nope",)),
        Bad(Cp.CaptureRequest(interfaces=["a", "a"]), C.INVALID_ARGUMENT, ("interfaces",)),
        Bad(Cp.CaptureRequest(interfaces=["a"], direction=99), C.INVALID_ARGUMENT,
            ("direction", "99")),
        Bad(Cp.CaptureRequest(interfaces=["a"], snaplen=70000), C.INVALID_ARGUMENT,
            ("snaplen", "70000")),
        Bad(Cp.CaptureRequest(interfaces=["a"], filter="udp and " * 40), C.INVALID_ARGUMENT,
            ("filter",)),
        Bad(Cp.CaptureRequest(interfaces=["a"], filter="udp and and"), C.INVALID_ARGUMENT,
            ("filter",))],
    "TraceService/Trace": [
        Bad(Tr.TraceRequest(count=1 << 30), C.INVALID_ARGUMENT, ("count",)),
        Bad(Tr.TraceRequest(timeout_ms=(1 << 32) - 1), C.INVALID_ARGUMENT, ("timeout_ms",)),
        Bad(Tr.TraceRequest(interface="nope"), C.NOT_FOUND, ("interface nope",)),
        Bad(Tr.TraceRequest(filter="x" * 300), C.INVALID_ARGUMENT, ("filter",))],
    "TraceService/Explain": [
        Bad(explain(interface=""), C.INVALID_ARGUMENT, ("interface",)),
        Bad(explain(interface="nope"), C.NOT_FOUND, ("interface nope",)),
        Bad(explain(protocol="sctp"), C.INVALID_ARGUMENT, ("protocol", "sctp")),
        Bad(explain(source="10.0.0.300"), C.INVALID_ARGUMENT, ("source", "10.0.0.300")),
        Bad(explain(destination="x"), C.INVALID_ARGUMENT, ("destination",)),
        Bad(explain(source_port=70000), C.INVALID_ARGUMENT, ("source_port", "70000")),
        Bad(explain(destination_port=1 << 31), C.INVALID_ARGUMENT, ("destination_port",)),
        Bad(explain(ttl=300), C.INVALID_ARGUMENT, ("ttl", "300"))],
}

# Plausible requests the hostile values go into, one field at a time (the
# other methods get them in an empty request).
BASES: dict[str, Message] = {
    "InterfaceService/Get": I.InterfaceGetRequest(name="a"),
    "InterfaceService/Add": itf(addresses=["10.5.0.1/24"], mac="02:00:00:00:00:99", mtu=1400),
    "InterfaceService/Set": I.InterfaceSetRequest(name="a", mtu=1400, mac="02:00:00:00:00:98",
                                                  vrf="default"),
    "InterfaceService/AddAddress": I.AddressRequest(interface="a", address="10.5.0.1/24"),
    "InterfaceService/DeleteAddress": I.AddressRequest(interface="a", address="10.0.0.1/24"),
    "VrfService/Add": V.VrfAddRequest(vrf=V.Vrf(name="green", id=9)),
    "RouteService/Add": route(metric=5, distance=3),
    "RouteService/Delete": R.RouteDeleteRequest(routes=[R.RouteKey(prefix="10.9.0.0/16")]),
    "RouteService/Lookup": R.RouteLookupRequest(address="10.9.1.1"),
    "NeighborService/Add": Nb.NeighborAddRequest(neighbor=Nb.Neighbor(
        interface="a", ip="10.0.0.4", mac="02:00:00:00:00:04")),
    "NeighborService/Delete": Nb.NeighborDeleteRequest(interface="a", ip="10.0.0.3"),
    "NatService/AddRule": dnat(),
    "StatsService/Watch": St.StatsWatchRequest(interface="a", interval_ms=100),
    "CaptureService/Capture": Cp.CaptureRequest(interfaces=["a"], duration_ms=200, count=1),
    "TraceService/Trace": Tr.TraceRequest(count=1, timeout_ms=200),
    "TraceService/Explain": explain(),
}


# ---- calling any RPC with any bytes ----

def call(ch: grpc.Channel, name: str, request: Message | bytes,
         timeout: float = 10.0) -> tuple[grpc.StatusCode, str, int]:
    """(status, details, messages received). A stream that is still running
    at the deadline counts as OK (it was accepted)."""
    m = methods()[name]
    path = f"/{m.containing_service.full_name}/{m.name}"
    data = request if isinstance(request, bytes) else request.SerializeToString()
    got = 0
    try:
        if m.server_streaming:
            it = ch.unary_stream(path)(data, timeout=timeout)
            for _ in it:
                got += 1
        else:
            ch.unary_unary(path)(data, timeout=timeout)
            got = 1
    except grpc.RpcError as e:
        if e.code() == C.DEADLINE_EXCEEDED and m.server_streaming:
            return C.OK, "", got
        return e.code(), e.details() or "", got
    return C.OK, "", got


def canonical(text: str):
    """A configuration's YAML as data with every list sorted: an undo that
    puts a route back at the end of the list put back the same thing."""
    def norm(x):
        if isinstance(x, dict):
            return {k: norm(v) for k, v in x.items()}
        if isinstance(x, list):
            return sorted((norm(v) for v in x), key=repr)
        return x
    return norm(yaml.safe_load(text))


def snapshot(app: Appliance) -> dict:
    e = app.engine
    with e.lock:
        text = to_yaml(e.running_config())
        return {"config": canonical(text), "config_yaml": text,
                "candidate": to_yaml(e.candidate) if e.candidate is not None else None,
                "version": e.version,
                "history": [(v.number, v.comment) for v in e.history],
                "learned": {k: dict(v) for k, v in e.state.learned.items()},
                "dataplane": dataplane_dump(app.dp),
                "dataplane_nomac": dataplane_dump(app.dp, macs=False)}


def undo(app: Appliance, ch: grpc.Channel, before: dict) -> None:
    """An accepted hostile request: back to `before` (configuration and
    dataplane; the versions recorded meanwhile stay)."""
    now = snapshot(app)
    if now["config"] != before["config"]:
        code, details, _ = call(ch, "ConfigService/Commit",
                                Cf.ConfigCommitRequest(yaml=before["config_yaml"],
                                                       comment="undo"))
        assert code == C.OK, details
    if now["candidate"] != before["candidate"]:
        app.engine.candidate = None if before["candidate"] is None else \
            parse(yaml.safe_load(before["candidate"]))
    after = snapshot(app)
    assert after["config"] == before["config"]
    # (ports deleted and added again have new MACs)
    assert dataplane_dump(app.dp, macs=False) == before["dataplane_nomac"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    cfg = parse(yaml.safe_load(CONFIG.replace("SOCK", str(d / "api.sock"))), "<test>")
    a = Appliance(cfg, d / "run", name=f"bad{os.getpid()}")
    a.start()
    a.channel = grpc.insecure_channel(f"unix:{d / 'api.sock'}")
    yield a
    a.channel.close()
    a.stop()


ALL = sorted(methods())


# ---- the tests ----

def test_every_rpc_has_cases():
    ms = methods()
    missing = [n for n in ALL if n not in CASES]
    assert not missing, ("no malformed-input cases for these RPCs: add them to CASES in "
                         f"tests/faults/test_bad_input.py: {missing}")
    stale = [n for n in CASES if n not in ms]
    assert not stale, f"CASES lists RPCs that do not exist: {stale}"
    for n, cases in CASES.items():
        if cases == NO_INPUT:
            assert not ms[n].input_type.fields, \
                f"{n} takes {ms[n].input_type.name}, which has fields now: list bad values"
        else:
            assert cases, n


@pytest.mark.parametrize("name", [n for n in ALL if CASES.get(n) not in (None, NO_INPUT)])
def test_bad_values_get_a_clear_error_and_change_nothing(app, name):
    for case in CASES[name]:
        before = snapshot(app)
        code, details, _ = call(app.channel, name, case.request)
        shown = f"{name}({case.request!r}) -> {code.name}: {details}"
        assert code == case.code, shown
        assert all(w in details for w in case.words), shown
        assert snapshot(app) == before, f"{shown} changed the router"


GARBAGE = [b"\x0a\xff",              # field 1, 255 bytes long, 0 present
           b"\x0a\x02\xff\xfe",      # field 1: a string that is not UTF-8
           b"\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",  # a varint of 11 bytes
           b"\x07"]                  # wire type 7 does not exist


@pytest.mark.parametrize("name", ALL)
def test_undecodable_request_is_invalid_argument(app, name):
    m = methods()[name]
    for data in GARBAGE:
        before = snapshot(app)
        code, details, _ = call(app.channel, name, data)
        if code == C.OK:
            # some bytes are valid for this message (a field 1 that is not a
            # string takes any UTF-8 ...): fine, as long as it did nothing
            # harmful; hand them to undo() like any accepted request
            undo(app, app.channel, before)
            continue
        assert code == C.INVALID_ARGUMENT, f"{name} {data!r}: {code.name} {details}"
        assert f"request: not a valid {m.input_type.full_name}" in details, details
        assert snapshot(app) == before


HOSTILE_STRINGS = ["\x00", "x" * 4096, "10.0.0.1\x00junk", "\u00e9\u2202\U0001f600",
                   "../../../../etc/passwd", "-1", " a"]
EXTREMES = {FieldDescriptor.TYPE_UINT32: [(1 << 32) - 1, 1 << 31],
            FieldDescriptor.TYPE_UINT64: [(1 << 64) - 1],
            FieldDescriptor.TYPE_INT32: [-(1 << 31), -1],
            FieldDescriptor.TYPE_INT64: [-(1 << 63)]}


def _repeated(f) -> bool:
    r = getattr(f, "is_repeated", None)
    return r if r is not None else f.label == FieldDescriptor.LABEL_REPEATED


def mutations(msg: Message, depth: int = 0):
    """(field path, a copy of msg with one field set to a hostile value)."""
    for f in msg.DESCRIPTOR.fields:
        if f.message_type is not None:
            if depth >= 2:
                continue
            if _repeated(f):
                n = len(getattr(msg, f.name))
                for path, sub in mutations(getattr(msg, f.name)[0] if n else
                                           message_factory.GetMessageClass(f.message_type)(),
                                           depth + 1):
                    out = copy.deepcopy(msg)
                    items = getattr(out, f.name)
                    if n:
                        items[0].CopyFrom(sub)
                    else:
                        items.add().CopyFrom(sub)
                    yield f"{f.name}[0].{path}", out
            else:
                for path, sub in mutations(getattr(msg, f.name), depth + 1):
                    out = copy.deepcopy(msg)
                    getattr(out, f.name).CopyFrom(sub)
                    yield f"{f.name}.{path}", out
            continue
        if f.type == FieldDescriptor.TYPE_STRING:
            values = HOSTILE_STRINGS
        elif f.type == FieldDescriptor.TYPE_ENUM:
            values = [12345, -7]
        else:
            values = EXTREMES.get(f.type, [])
        for v in values:
            out = copy.deepcopy(msg)
            if _repeated(f):
                items = getattr(out, f.name)
                if items:
                    items[0] = v
                else:
                    items.append(v)
            else:
                setattr(out, f.name, v)
            yield f"{f.name}={v!r:.40}", out


@pytest.mark.parametrize("name", ALL)
def test_hostile_values_in_every_field(app, name):
    m = methods()[name]
    base = BASES.get(name) or message_factory.GetMessageClass(m.input_type)()
    seen = 0
    for path, req in itertools.chain([("(base)", base)], mutations(base)):
        seen += 1
        before = snapshot(app)
        code, details, _ = call(app.channel, name, req, timeout=5)
        shown = f"{name} {path} -> {code.name}: {details}"
        assert code not in (C.UNKNOWN, C.INTERNAL, C.UNIMPLEMENTED, C.DEADLINE_EXCEEDED,
                            C.UNAVAILABLE), shown
        if code == C.OK:
            undo(app, app.channel, before)
        else:
            assert details, shown
            assert snapshot(app) == before, f"{shown}: changed the router"
    assert app.engine.dataplane_up and app.process.alive()
    assert seen > 0


def test_save_writes_only_where_asked(app, tmp_path):
    """The one RPC that writes a file: an absolute path, atomically; the
    refused ones leave no file behind."""
    target = tmp_path / "saved.yaml"
    code, details, _ = call(app.channel, "ConfigService/Save",
                            Cf.ConfigSaveRequest(path=str(target)))
    assert code == C.OK, details
    assert parse(yaml.safe_load(target.read_text())) == app.engine.running_config()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved.yaml"]
    assert not Path("relative.yaml").exists()
