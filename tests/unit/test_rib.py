"""The RIB through the engine: best-path selection, ECMP, recursive next-hop
resolution, VRFs and leaking, and the next-hop table, checked against what a
fake dataplane ends up programmed with."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface

import pytest
import yaml

from unit.fake_client import FakeDataplane
from vrouter.config import parse
from vrouter.config.model import Prefix, Route
from vrouter.core.changes import InterfaceUpdate, RouteAdd, RouteDel
from vrouter.core.engine import Engine
from vrouter.core.errors import AlreadyExists, InvalidArgument
from vrouter.core.rib import MAX_ECMP, Candidate, Source, Spec

# default: a 10.0.0.0/24, b 10.0.1.0/24; blue: c 10.0.0.0/24 (the same subnet
# as a, on purpose: VRFs are separate address spaces), d 10.0.2.0/24.
BASE = """
vrfs: {blue: {id: 2}}
interfaces:
  a: {device: net_null0, addresses: [10.0.0.1/24]}
  b: {device: net_null1, addresses: [10.0.1.1/24]}
  c: {device: net_null2, vrf: blue, addresses: [10.0.0.1/24]}
  d: {device: net_null3, vrf: blue, addresses: [10.0.2.1/24]}
"""


def R(prefix: str, *via: str, vrf: str = "default", via_vrf: str | None = None,
      distance: int = 1, metric: int = 0, blackhole: bool = False,
      reject: bool = False) -> Route:
    return Route(Prefix.parse(prefix), vrf, tuple(IPv4Address(g) for g in via), via_vrf,
                 blackhole, reject, distance, metric)


class Router:
    """An engine started on a config, programming a FakeDataplane."""

    def __init__(self, text: str = BASE) -> None:
        self.cfg = parse(yaml.safe_load(text), "t")
        self.e = Engine(self.cfg)
        self.fd = FakeDataplane()
        self.e.attach(self.fd)
        self.e.start(self.cfg)

    @property
    def rib(self):
        return self.e.state.rib

    def vid(self, vrf: str) -> int:
        return self.e.state.vrfs[vrf].id

    def add(self, *routes: Route) -> None:
        self.e.transaction([RouteAdd(routes)])
        check_consistent(self)

    def delete(self, *routes: Route) -> None:
        self.e.transaction([RouteDel(routes)])
        check_consistent(self)

    def swap(self, old: Route, new: Route) -> None:
        self.e.transaction([RouteDel((old,)), RouteAdd((new,))])
        check_consistent(self)

    def set_addresses(self, name: str, *addrs: str) -> None:
        old = self.e.state.interfaces[name]
        new = replace(old, addresses=tuple(IPv4Interface(a) for a in addrs))
        self.e.transaction([InterfaceUpdate(old, new)])
        check_consistent(self)

    def fib(self, vrf: str = "default") -> dict:
        """The fake's FIB of a VRF: prefix -> 'gw@itf' / 'blackhole' / ECMP tuple."""
        return self.fd.routes(self.vid(vrf))

    def nh(self, prefix: str, vrf: str = "default") -> int:
        return self.fd.fib[self.vid(vrf)][tuple(Prefix.parse(prefix))]

    def learn(self, prefix: str, *gws: str, distance: int, metric: int, label: str,
              vrf: str = "default", remove: bool = False) -> None:
        """A non-static candidate (what a routing protocol would feed the RIB),
        programmed through the engine's executor."""
        c = learned(prefix, *gws, distance=distance, metric=metric, label=label, vrf=vrf)
        entry = [(vrf, Prefix.parse(prefix), c)]
        ops = self.rib.update(dels=entry) if remove else self.rib.update(adds=entry)
        self.e.executor.begin()
        self.e.executor.run(ops)
        self.e.executor.begin()
        check_consistent(self)


def learned(prefix: str, *gws: str, distance: int, metric: int, label: str,
            vrf: str = "default", source: Source = Source.LEARNED) -> Candidate:
    spec = Spec("gw", tuple(sorted(int(IPv4Address(g)) for g in gws)), vrf)
    return Candidate(source, distance, metric, spec, label)


def check_consistent(r: Router) -> None:
    """The RIB's view of the FIB and next hops is exactly what the fake holds,
    and every next hop's refcount is its FIB users plus the groups using it."""
    rib, fd = r.rib, r.fd
    for vrf, vid in rib.vrf_ids.items():
        assert fd.fib[vid] == rib.fib[vrf], f"vrf {vrf}: RIB and dataplane FIB differ"
    assert set(fd.nhs) == set(rib.nhs.keys), "RIB and dataplane next hops differ"
    want = Counter(nh for fib in rib.fib.values() for nh in fib.values())
    for key in rib.nhs.keys.values():
        if key[0] == "group":
            want.update(key[1])
    assert rib.nhs.refs == dict(want)
    assert set(rib.nhs.by_key.values()) == set(rib.nhs.keys)


@pytest.fixture
def r() -> Router:
    return Router()


# ---- best path ----------------------------------------------------------------


def test_lower_distance_wins_whatever_the_order_of_arrival(r):
    r.add(R("10.9.0.0/16", "10.0.0.2", distance=10))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    r.add(R("10.9.0.0/16", "10.0.1.2", distance=5))
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b"}
    r.add(R("10.9.0.0/16", "10.0.1.3", distance=20))
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b"}
    # The losers keep no next hop in the dataplane.
    assert set(r.fd.describe_nh(n) for n in r.fd.nhs) == {"10.0.1.2@b"}


def test_metric_breaks_a_distance_tie(r):
    r.learn("10.9.0.0/16", "10.0.0.2", distance=20, metric=5, label="p1")
    r.learn("10.9.0.0/16", "10.0.1.2", distance=20, metric=1, label="p2")
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b"}
    # A lower distance beats any metric.
    r.learn("10.9.0.0/16", "10.0.0.3", distance=10, metric=1000, label="p3")
    assert r.fib() == {"10.9.0.0/16": "10.0.0.3@a"}
    r.learn("10.9.0.0/16", "10.0.0.3", distance=10, metric=1000, label="p3", remove=True)
    r.learn("10.9.0.0/16", "10.0.1.2", distance=20, metric=1, label="p2", remove=True)
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}


def test_floating_static_takes_over_and_gives_back(r):
    primary = R("10.9.0.0/16", "10.0.0.2")
    floating = R("10.9.0.0/16", "10.0.1.2", distance=5)
    r.add(primary, floating)
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    r.delete(primary)
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b"}
    assert [r.fd.describe_nh(n) for n in r.fd.nhs] == ["10.0.1.2@b"]
    assert r.fd.calls[-3:] == ["nh_add", "route_add", "nh_del"]  # replaced in place
    r.add(primary)
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    assert [r.fd.describe_nh(n) for n in r.fd.nhs] == ["10.0.0.2@a"]


def test_floating_static_takes_over_when_the_primary_gateway_becomes_unreachable(r):
    r.add(R("10.9.0.0/16", "10.0.1.2"), R("10.9.0.0/16", "10.0.0.2", distance=5))
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b"}
    r.set_addresses("b")  # 10.0.1.0/24 is no longer connected
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    r.set_addresses("b", "10.0.1.1/24")
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b"}


# ---- ECMP ---------------------------------------------------------------------


def test_route_with_several_gateways_is_a_group(r):
    r.add(R("10.9.0.0/16", "10.0.1.2", "10.0.0.2", "10.0.0.3"))
    assert r.fib() == {"10.9.0.0/16": ("10.0.0.2@a", "10.0.0.3@a", "10.0.1.2@b")}
    # Three gateway next hops and the group over them.
    assert len(r.fd.nhs) == 4
    r.delete(R("10.9.0.0/16", "10.0.1.2", "10.0.0.2", "10.0.0.3"))
    assert r.fib() == {} and r.fd.nhs == {}


def test_group_members_that_do_not_resolve_are_left_out(r):
    r.add(R("10.9.0.0/16", "10.0.0.2", "192.0.2.1"))  # 192.0.2.1: no route
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    r.add(R("192.0.2.0/24", "10.0.1.2"))
    assert r.fib()["10.9.0.0/16"] == ("10.0.0.2@a", "10.0.1.2@b")


def test_equal_static_candidates_merge_into_one_group(r):
    # The engine keys static routes by (vrf, prefix, distance), so two equal
    # statics only meet in the RIB itself.
    p = Prefix.parse("10.9.0.0/16")
    one = learned("10.9.0.0/16", "10.0.0.2", distance=1, metric=0, label="one",
                  source=Source.STATIC)
    two = learned("10.9.0.0/16", "10.0.1.2", distance=1, metric=0, label="two",
                  source=Source.STATIC)
    ops = r.rib.update(adds=[("default", p, one), ("default", p, two)])
    r.e.executor.run(ops)
    check_consistent(r)
    assert r.fib() == {"10.9.0.0/16": ("10.0.0.2@a", "10.0.1.2@b")}
    assert r.rib.selected("default", p) == [one, two]
    r.e.executor.run(r.rib.update(dels=[("default", p, two)]))
    check_consistent(r)
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    assert len(r.fd.nhs) == 1  # the group and the 10.0.1.2 member are gone


def test_engine_refuses_a_second_static_with_the_same_distance(r):
    r.add(R("10.9.0.0/16", "10.0.0.2"))
    with pytest.raises(AlreadyExists, match=r"route 10.9.0.0/16 distance 1 already exists "
                                            r"in vrf default"):
        r.add(R("10.9.0.0/16", "10.0.1.2", metric=7))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}


def test_a_static_and_a_learned_route_of_equal_rank_merge(r):
    r.add(R("10.9.0.0/16", "10.0.0.2", distance=20, metric=3))
    r.learn("10.9.0.0/16", "10.0.1.2", distance=20, metric=3, label="bgp")
    assert r.fib() == {"10.9.0.0/16": ("10.0.0.2@a", "10.0.1.2@b")}
    r.learn("10.9.0.0/16", "10.0.1.2", distance=20, metric=4, label="worse")
    assert r.fib() == {"10.9.0.0/16": ("10.0.0.2@a", "10.0.1.2@b")}
    r.learn("10.9.0.0/16", "10.0.1.2", distance=20, metric=3, label="bgp", remove=True)
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}


def test_ecmp_is_capped_at_max_ecmp_members(r):
    a = [f"10.0.0.{i}" for i in range(2, 2 + 12)]
    b = [f"10.0.1.{i}" for i in range(2, 2 + 12)]
    r.add(R("10.9.0.0/16", *a))
    r.learn("10.9.0.0/16", *b, distance=1, metric=0, label="more")
    members = r.fib()["10.9.0.0/16"]
    assert len(members) == MAX_ECMP == 16
    group = r.fd.nhs[r.nh("10.9.0.0/16")]
    assert len(group["members"]) == 16


def test_more_than_16_gateways_is_refused(r):
    with pytest.raises(InvalidArgument, match="17 gateways, at most 16"):
        r.add(R("10.9.0.0/16", *[f"10.0.0.{i}" for i in range(2, 19)]))
    assert r.fib() == {} and r.fd.nhs == {}


# ---- recursive resolution -----------------------------------------------------


def test_recursive_route_installs_the_resolved_neighbour(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"), R("172.16.0.0/16", "10.0.0.2"))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a", "172.16.0.0/16": "10.0.0.2@a"}
    # Both forward to the same neighbour: one next hop.
    assert r.nh("10.9.0.0/16") == r.nh("172.16.0.0/16")
    assert len(r.fd.nhs) == 1


def test_recursive_route_added_before_its_underlying_route(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"))
    assert r.fib() == {}
    assert r.e.state.routes  # kept, inactive
    r.add(R("172.16.0.0/16", "10.0.0.2"))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a", "172.16.0.0/16": "10.0.0.2@a"}


def test_recursion_through_an_ecmp_route_yields_the_group(r):
    r.add(R("172.16.0.0/16", "10.0.0.2", "10.0.1.2"), R("10.9.0.0/16", "172.16.0.1"))
    assert r.fib()["10.9.0.0/16"] == ("10.0.0.2@a", "10.0.1.2@b")
    assert r.nh("10.9.0.0/16") == r.nh("172.16.0.0/16")


def test_recursion_several_levels_deep(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"), R("172.16.0.0/16", "172.17.0.1"),
          R("172.17.0.0/16", "172.18.0.1"), R("172.18.0.0/16", "10.0.1.2"))
    assert set(r.fib().values()) == {"10.0.1.2@b"}
    assert len(r.fib()) == 4
    r.delete(R("172.18.0.0/16", "10.0.1.2"))
    assert r.fib() == {}


def test_recursive_route_follows_its_underlying_route(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"), R("172.16.0.0/16", "10.0.0.2"))
    # The underlying route's gateway changes: the recursive one follows.
    r.swap(R("172.16.0.0/16", "10.0.0.2"), R("172.16.0.0/16", "10.0.1.2"))
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b", "172.16.0.0/16": "10.0.1.2@b"}
    assert [r.fd.describe_nh(n) for n in r.fd.nhs] == ["10.0.1.2@b"]
    # Withdrawn with it...
    r.delete(R("172.16.0.0/16", "10.0.1.2"))
    assert r.fib() == {}
    assert r.fd.nhs == {}
    # ...and back when it returns.
    r.add(R("172.16.0.0/16", "10.0.0.2"))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a", "172.16.0.0/16": "10.0.0.2@a"}


def test_recursive_route_follows_a_more_specific_underlying_route(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"), R("172.16.0.0/16", "10.0.0.2"))
    r.add(R("172.16.0.0/24", "10.0.1.2"))
    assert r.fib()["10.9.0.0/16"] == "10.0.1.2@b"
    r.delete(R("172.16.0.0/24", "10.0.1.2"))
    assert r.fib()["10.9.0.0/16"] == "10.0.0.2@a"


def test_recursive_route_follows_its_floating_underlying_route(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"), R("172.16.0.0/16", "10.0.0.2"),
          R("172.16.0.0/16", "10.0.1.2", distance=5))
    assert r.fib()["10.9.0.0/16"] == "10.0.0.2@a"
    r.delete(R("172.16.0.0/16", "10.0.0.2"))
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b", "172.16.0.0/16": "10.0.1.2@b"}


def test_recursive_route_withdrawn_when_the_neighbour_subnet_goes(r):
    r.add(R("10.9.0.0/16", "172.16.0.1"), R("172.16.0.0/16", "10.0.1.2"))
    r.set_addresses("b")
    assert r.fib() == {}
    assert r.fd.nhs == {}
    r.set_addresses("b", "10.0.1.1/24")
    assert r.fib() == {"10.9.0.0/16": "10.0.1.2@b", "172.16.0.0/16": "10.0.1.2@b"}


def test_route_resolving_only_through_itself_stays_uninstalled(r):
    r.add(R("10.9.0.0/16", "10.9.0.1"))
    assert r.fib() == {}
    assert r.rib.selected("default", Prefix.parse("10.9.0.0/16")) == []
    assert r.fd.nhs == {}


def test_mutually_recursive_routes_stay_uninstalled(r):
    r.add(R("10.1.0.0/16", "10.2.0.1"), R("10.2.0.0/16", "10.1.0.1"))
    assert r.fib() == {}
    assert r.rib.lookup("default", int(IPv4Address("10.1.0.1"))) is None


def test_a_route_never_keeps_itself_alive(r):
    # Through a default route, 10.9.0.1 is reachable; once the default goes,
    # 10.9.0.0/16 must not survive on its own next hop.
    default = R("0.0.0.0/0", "10.0.0.2")
    r.add(default, R("10.9.0.0/16", "10.9.0.1"), R("10.1.0.0/16", "10.2.0.1"),
          R("10.2.0.0/16", "10.1.0.1"))
    assert r.fib() == {"0.0.0.0/0": "10.0.0.2@a", "10.9.0.0/16": "10.0.0.2@a",
                       "10.1.0.0/16": "10.0.0.2@a", "10.2.0.0/16": "10.0.0.2@a"}
    r.delete(default)
    assert r.fib() == {}
    assert r.fd.nhs == {}


def test_recursion_depth_is_bounded(r):
    # 11.k.0.0/16 via 11.(k+1).0.1, the last via a neighbour: 15 recursive
    # levels resolve (MAX_RESOLVE_ROUNDS = 16 rounds of the fixed point).
    chain = [R(f"11.{k}.0.0/16", f"11.{k + 1}.0.1") for k in range(15)]
    r.add(*chain, R("11.15.0.0/16", "10.0.0.2"))
    assert len(r.fib()) == 16


def test_gateway_that_is_our_own_address_does_not_resolve(r):
    r.add(R("10.9.0.0/16", "10.0.0.1"), R("10.8.0.0/16", "10.0.1.1"))
    assert r.fib() == {}
    assert r.fd.nhs == {}


def test_resolution_through_a_blackhole_or_reject_route_fails(r):
    r.add(R("172.16.0.0/16", blackhole=True), R("172.17.0.0/16", reject=True),
          R("10.9.0.0/16", "172.16.0.1"), R("10.8.0.0/16", "172.17.0.1"))
    assert r.fib() == {"172.16.0.0/16": "blackhole", "172.17.0.0/16": "reject"}


def test_a_more_specific_blackhole_hides_a_usable_covering_route(r):
    r.add(R("172.16.0.0/16", "10.0.0.2"), R("10.9.0.0/16", "172.16.0.1"))
    assert r.fib()["10.9.0.0/16"] == "10.0.0.2@a"
    r.add(R("172.16.0.0/24", blackhole=True))
    assert r.fib() == {"172.16.0.0/16": "10.0.0.2@a", "172.16.0.0/24": "blackhole"}
    r.delete(R("172.16.0.0/24", blackhole=True))
    assert r.fib()["10.9.0.0/16"] == "10.0.0.2@a"


def test_blackhole_and_reject_next_hops_are_shared(r):
    r.add(R("192.0.2.0/24", blackhole=True), R("198.51.100.0/24", blackhole=True),
          R("203.0.113.0/24", reject=True))
    assert r.nh("192.0.2.0/24") == r.nh("198.51.100.0/24") != r.nh("203.0.113.0/24")
    assert len(r.fd.nhs) == 2


# ---- connected prefixes --------------------------------------------------------


def test_connected_prefix_beats_a_static_of_the_same_prefix(r):
    r.add(R("10.0.1.0/24", "10.0.0.2"), R("10.0.1.1/32", "10.0.0.3"))
    assert r.fib() == {}  # connected and local are the dataplane's own
    assert r.fd.nhs == {}
    r.set_addresses("b")
    assert r.fib() == {"10.0.1.0/24": "10.0.0.2@a", "10.0.1.1/32": "10.0.0.3@a"}
    r.set_addresses("b", "10.0.1.1/24")
    assert r.fib() == {}
    assert r.fd.nhs == {}


# ---- VRFs ----------------------------------------------------------------------


def test_same_prefix_in_two_vrfs_keeps_its_own_next_hop(r):
    r.add(R("10.9.0.0/16", "10.0.0.2"), R("10.9.0.0/16", "10.0.0.3", vrf="blue"))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    assert r.fib("blue") == {"10.9.0.0/16": "10.0.0.3@c"}
    r.delete(R("10.9.0.0/16", "10.0.0.2"))
    assert r.fib() == {}
    assert r.fib("blue") == {"10.9.0.0/16": "10.0.0.3@c"}


def test_same_gateway_address_in_two_vrfs_is_two_next_hops(r):
    r.add(R("10.9.0.0/16", "10.0.0.2"), R("10.9.0.0/16", "10.0.0.2", vrf="blue"))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    assert r.fib("blue") == {"10.9.0.0/16": "10.0.0.2@c"}
    assert r.nh("10.9.0.0/16") != r.nh("10.9.0.0/16", "blue")


def test_gateway_only_in_another_vrf_does_not_resolve(r):
    # 10.0.1.0/24 is connected in default only; 10.0.2.0/24 in blue only.
    r.add(R("10.9.0.0/16", "10.0.1.2", vrf="blue"), R("10.8.0.0/16", "10.0.2.2"))
    assert r.fib() == {} and r.fib("blue") == {}
    # Nor through a static route of the other VRF.
    r.add(R("172.16.0.0/16", "10.0.1.2"), R("10.7.0.0/16", "172.16.0.1", vrf="blue"))
    assert r.fib("blue") == {}


def test_leaked_route_resolves_in_the_other_vrf(r):
    r.add(R("10.9.0.0/16", "10.0.1.2", vrf="blue", via_vrf="default"))
    assert r.fib("blue") == {"10.9.0.0/16": "10.0.1.2@b"}
    assert r.fib() == {}
    # The blue FIB points at a next hop on a default-VRF interface, shared
    # with default's own routes to the same neighbour.
    r.add(R("10.8.0.0/16", "10.0.1.2"))
    assert r.nh("10.9.0.0/16", "blue") == r.nh("10.8.0.0/16")


def test_leaked_route_follows_recursion_in_the_other_vrf(r):
    r.add(R("172.16.0.0/16", "10.0.0.2"),
          R("10.9.0.0/16", "172.16.0.1", vrf="blue", via_vrf="default"))
    assert r.fib("blue") == {"10.9.0.0/16": "10.0.0.2@a"}
    r.swap(R("172.16.0.0/16", "10.0.0.2"), R("172.16.0.0/16", "10.0.1.2"))
    assert r.fib("blue") == {"10.9.0.0/16": "10.0.1.2@b"}
    r.delete(R("172.16.0.0/16", "10.0.1.2"))
    assert r.fib("blue") == {}
    assert r.fd.nhs == {}


def test_leak_into_default_from_a_vrf(r):
    r.add(R("10.9.0.0/16", "10.0.2.2", via_vrf="blue"))
    assert r.fib() == {"10.9.0.0/16": "10.0.2.2@d"}
    r.set_addresses("d")
    assert r.fib() == {}


# ---- next-hop table ------------------------------------------------------------


def test_next_hops_are_shared_and_refcounted(r):
    one, two = R("10.9.0.0/16", "10.0.0.2"), R("10.8.0.0/16", "10.0.0.2")
    r.add(one)
    r.add(two)
    nh = r.nh("10.9.0.0/16")
    assert r.nh("10.8.0.0/16") == nh
    assert list(r.fd.nhs) == [nh]
    assert r.rib.nhs.refs == {nh: 2}
    r.delete(one)
    assert list(r.fd.nhs) == [nh] and r.rib.nhs.refs == {nh: 1}
    r.delete(two)
    assert r.fd.nhs == {} and r.rib.nhs.refs == {}
    assert r.fd.calls[-1] == "nh_del"


def test_group_members_are_shared_with_single_gateway_routes(r):
    r.add(R("10.9.0.0/16", "10.0.0.2", "10.0.1.2"), R("10.8.0.0/16", "10.0.0.2"),
          R("10.7.0.0/16", "10.0.1.2", "10.0.0.2"))
    group = r.nh("10.9.0.0/16")
    assert r.nh("10.7.0.0/16") == group
    assert r.nh("10.8.0.0/16") in r.fd.nhs[group]["members"]
    assert len(r.fd.nhs) == 3  # two gateways + one group
    r.delete(R("10.9.0.0/16", "10.0.0.2", "10.0.1.2"), R("10.7.0.0/16", "10.0.1.2", "10.0.0.2"))
    assert r.fib() == {"10.8.0.0/16": "10.0.0.2@a"}
    assert len(r.fd.nhs) == 1


def test_freed_next_hop_ids_are_reused(r):
    r.add(R("10.9.0.0/16", "10.0.0.2"))
    first = r.nh("10.9.0.0/16")
    r.delete(R("10.9.0.0/16", "10.0.0.2"))
    r.add(R("10.8.0.0/16", "10.0.1.2"))
    assert r.nh("10.8.0.0/16") == first


def test_next_hop_id_freed_and_needed_in_the_same_change():
    # In one RouteAdd, 10.1.0.0/16 moves from a floating route (the only user
    # of its next hop) to a new primary, and 10.k.0.0/16 (already in the RIB,
    # unresolved) gets a floating route to a new neighbour. Whether the bug
    # shows depends on the order the two prefixes are visited, so try a few.
    for k in range(3, 13):
        r = Router()
        r.add(R("10.1.0.0/16", "10.0.0.2", distance=5), R(f"10.{k}.0.0/16", "192.0.2.1"))
        r.add(R("10.1.0.0/16", "10.0.0.3"), R(f"10.{k}.0.0/16", "10.0.0.4", distance=5))
        assert r.fib() == {"10.1.0.0/16": "10.0.0.3@a", f"10.{k}.0.0/16": "10.0.0.4@a"}


def test_deleting_one_of_two_routes_to_the_same_gateway_keeps_the_other(r):
    # A primary and a floating route of one prefix to the same neighbour.
    r.add(R("10.9.0.0/16", "10.0.0.2"), R("10.9.0.0/16", "10.0.0.2", distance=5))
    r.delete(R("10.9.0.0/16", "10.0.0.2", distance=5))
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a"}
    r.add(R("10.8.0.0/16", "10.0.1.2"))  # any change that re-resolves
    r.add(R("10.9.0.0/16", "10.0.1.3", distance=10))  # re-evaluates 10.9.0.0/16
    assert r.fib() == {"10.9.0.0/16": "10.0.0.2@a", "10.8.0.0/16": "10.0.1.2@b"}


def test_bulk_add_and_delete_of_10000_routes_leaves_no_next_hops(r):
    gws = ["10.0.0.2", "10.0.0.3", "10.0.1.2", "10.0.1.3"]
    routes = tuple(
        Route(Prefix(0x14000000 + (i << 8), 24),
              via=(IPv4Address(gws[i % 4]),) if i % 10 else tuple(map(IPv4Address, gws[:2])))
        for i in range(10_000))
    r.add(*routes)
    assert len(r.fd.fib[0]) == 10_000
    assert len(r.fd.nhs) == 5  # four gateways and one group
    assert r.rib.count("default") == (10_000 + 4, 10_000)  # + connected and local
    r.delete(*routes)
    assert r.fd.fib[0] == {} and r.fd.nhs == {}
    assert r.rib.nhs.refs == {} and r.rib.nhs.by_key == {}
    assert r.rib.count("default") == (4, 0)


# ---- incremental == from scratch -------------------------------------------------


def _random_route(rnd: random.Random) -> Route:
    vrf = rnd.choice(["default", "blue"])
    prefix = rnd.choice(["172.16.0.0/16", "172.16.0.0/24", "10.9.0.0/16", "10.8.0.0/16",
                         "0.0.0.0/0", "10.0.1.0/24", "10.0.2.128/25"])
    distance = rnd.choice([1, 1, 5])
    if rnd.random() < 0.1:
        return R(prefix, vrf=vrf, distance=distance, blackhole=True)
    gws = rnd.sample(["10.0.0.2", "10.0.1.2", "10.0.2.2", "172.16.0.1", "10.9.0.1",
                      "10.8.0.1", "10.0.0.1", "192.0.2.1"], rnd.choice([1, 1, 2]))
    via_vrf = rnd.choice([None, None, None, "default" if vrf == "blue" else "blue"])
    return R(prefix, *gws, vrf=vrf, via_vrf=via_vrf, distance=distance)


def _described_fibs(router: Router) -> dict:
    return {v: router.fib(v) for v in ("default", "blue")}


def test_incremental_updates_match_a_fresh_start():
    """Random route and address changes, one transaction at a time: after each,
    the programmed FIB is what a router started on the running config has."""
    # Seeds 6 (a next-hop id freed and reused in one update) and 8, 10 (a
    # lost spec user) found the bugs the two tests above pin down.
    rnd = random.Random(1234)
    r = Router()
    for step in range(150):
        changes = []
        for _ in range(rnd.choice([1, 1, 2])):
            if rnd.random() < 0.15:
                name = rnd.choice(["b", "d"])
                old = r.e.state.interfaces[name]
                addr = {"b": "10.0.1.1/24", "d": "10.0.2.1/24"}[name]
                new = replace(old, addresses=() if old.addresses else (IPv4Interface(addr),))
                changes.append(InterfaceUpdate(old, new))
                break
            existing = list(r.e.state.routes.values())
            if existing and rnd.random() < 0.4:
                changes.append(RouteDel((rnd.choice(existing),)))
                break
            route = _random_route(rnd)
            if route.key not in r.e.state.routes and not any(
                    isinstance(c, RouteAdd) and c.routes[0].key == route.key for c in changes):
                changes.append(RouteAdd((route,)))
        r.e.transaction(changes)
        check_consistent(r)
        fresh = Router(BASE)  # the same config, from scratch
        for name in ("b", "d"):
            if not r.e.state.interfaces[name].addresses:
                fresh.set_addresses(name)
        if r.e.state.routes:
            fresh.add(*r.e.state.routes.values())
        assert _described_fibs(fresh) == _described_fibs(r), f"step {step}: {changes}"
