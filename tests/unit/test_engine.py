"""The engine: all-or-nothing transactions (dataplane and state), validation,
candidate configs with diff/commit/rollback, live parameters, save, and
replay onto a fresh dataplane -- all against the fake dataplane client."""

from __future__ import annotations

import copy
import os
from collections import Counter
from dataclasses import replace
from ipaddress import IPv4Address, IPv4Interface

import pytest
import yaml

from unit.fake_client import FakeDataplane
from vrouter.config import parse
from vrouter.config.dump import to_yaml
from vrouter.config.model import Interface, Neighbor, Prefix, Route, Vrf
from vrouter.core import changes as ch
from vrouter.core.engine import Engine
from vrouter.core.errors import (
    AlreadyExists,
    DataplaneRejected,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unavailable,
)

BASE = """
vrfs: {blue: {id: 2}}
interfaces:
  a: {device: net_null0, addresses: [10.0.0.1/24]}
  b: {device: net_null1, addresses: [10.0.1.1/24]}
  c: {device: net_null2, vrf: blue, addresses: [10.0.0.1/24]}
neighbors:
  - {interface: a, ip: 10.0.0.9, mac: "02:00:00:00:00:09"}
routes:
  - {prefix: 192.0.2.0/24, blackhole: true}
  - {prefix: 172.16.0.0/16, via: 10.0.0.2}
  - {prefix: 10.9.0.0/16, via: 172.16.0.1}
  - {prefix: 10.8.0.0/16, via: [10.0.0.2, 10.0.1.2]}
  - {prefix: 10.7.0.0/16, vrf: blue, via: 10.0.0.3}
  - {prefix: 10.6.0.0/16, vrf: blue, via: 10.0.1.2, via_vrf: default}
"""

# What BASE programs (the fake's view: prefix -> neighbour@interface).
BASE_FIB = {
    0: {"192.0.2.0/24": "blackhole", "172.16.0.0/16": "10.0.0.2@a",
        "10.9.0.0/16": "10.0.0.2@a", "10.8.0.0/16": ("10.0.0.2@a", "10.0.1.2@b")},
    2: {"10.7.0.0/16": "10.0.0.3@c", "10.6.0.0/16": "10.0.1.2@b"},
}


# The RIB's abort() restores its FIB view from a log that bulk ("fresh")
# adds do not write to; undoing such an add then logs the fresh next hop as
# the prefix's old value, so the aborted route comes back in the RIB's view.


def R(prefix: str, *via: str, vrf: str = "default", via_vrf: str | None = None,
      distance: int = 1, blackhole: bool = False) -> Route:
    return Route(Prefix.parse(prefix), vrf, tuple(IPv4Address(g) for g in via), via_vrf,
                 blackhole, False, distance, 0)


def config(text: str):
    return parse(yaml.safe_load(text), "t")


def started(text: str = BASE, **kw) -> tuple[Engine, FakeDataplane]:
    cfg = config(text)
    e = Engine(cfg, **kw)
    fd = FakeDataplane()
    e.attach(fd)
    e.start(cfg)
    return e, fd


def fail_next(fd: FakeDataplane, method: str, nth: int = 1) -> None:
    """Make the nth call of `method` from now on fail."""
    fd.fail_at = {method: fd._count.get(method, 0) + nth}


def fibs(fd: FakeDataplane) -> dict:
    return {vid: fd.routes(vid) for vid in sorted(fd.fib)}


def fake_snapshot(fd: FakeDataplane) -> dict:
    return copy.deepcopy(dict(vrfs=fd.vrfs, ports=fd.ports, addrs=fd.addrs, neighs=fd.neighs,
                              nhs=fd.nhs, fib=fd.fib, params=fd.params))


def fake_view(fd: FakeDataplane) -> dict:
    """What a fake holds, independent of port ids."""
    name = {pid: p["name"] for pid, p in fd.ports.items()}
    nhs = {i: {**n, "port": name.get(n["port"])} for i, n in fd.nhs.items()}
    return dict(
        vrfs=set(fd.vrfs),
        ports={p["name"]: {k: v for k, v in p.items()} for p in fd.ports.values()},
        addrs={name[pid]: set(a) for pid, a in fd.addrs.items()},
        neighs={(name[pid], ip): mac for (pid, ip), mac in fd.neighs.items()},
        nhs=nhs, fib=copy.deepcopy(fd.fib), routes=fibs(fd))


def engine_snapshot(e: Engine) -> dict:
    """Everything a transaction may touch, in a comparable form."""
    s, rib = e.state, e.state.rib
    return copy.deepcopy(dict(
        version=e.version, history=len(e.history),
        vrfs=s.vrfs, interfaces=s.interfaces, routes=s.routes, neighbors=s.neighbors,
        # candidate order within a prefix carries no meaning
        entries={v: {p: Counter(cs) for p, cs in es.items()} for v, es in rib.entries.items()},
        fib=rib.fib, users={v: {k: u for k, u in us.items() if u} for v, us in rib.users.items()},
        res=rib.res, vrf_ids=rib.vrf_ids,
        nhs=(rib.nhs.by_key, rib.nhs.refs, rib.nhs.keys, rib.nhs._next, rib.nhs._free),
        ex_ports=e.executor.ports, ex_vrfs=getattr(e.executor, "vrf_ids", None)))


def normalized(cfg) -> dict:
    """A config with its object lists as sets (their order carries no meaning)."""
    return dict(dataplane=cfg.dataplane, vrfs=set(cfg.vrfs), interfaces=set(cfg.interfaces),
                routes=set(cfg.routes), neighbors=set(cfg.neighbors),
                demo_hosts=cfg.demo_hosts, api=cfg.api)


@pytest.fixture
def router() -> tuple[Engine, FakeDataplane]:
    return started()


def test_start_programs_the_config(router):
    e, fd = router
    assert e.version == 1
    assert fibs(fd) == BASE_FIB
    assert {p["name"]: p["vrf"] for p in fd.ports.values()} == {"a": 0, "b": 0, "c": 2}
    assert fd.vrfs == {0, 2}
    assert list(fd.neighs.values()) == ["02:00:00:00:00:09"]
    assert normalized(e.running_config()) == normalized(config(BASE))


# ---- all or nothing ------------------------------------------------------------

FIVE = tuple(R(f"10.{20 + i}.0.0/16", gw) for i, gw in
             enumerate(["10.0.0.4", "10.0.0.5", "10.0.1.4", "10.0.0.4", "10.0.1.5"]))


@pytest.mark.parametrize("method,nth", [("nh_add", 1), ("nh_add", 3), ("route_add", 1),
                                        ("route_add", 2), ("route_add", 4)])
def test_failed_route_add_leaves_everything_as_it_was(router, method, nth):
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    fail_next(fd, method, nth)
    with pytest.raises(DataplaneRejected, match=f"injected failure of {method}"):
        e.transaction([ch.RouteAdd(FIVE)])
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before
    assert fibs(fd) == BASE_FIB
    # Next-hop ids, refcounts and the free list are as they were: the same
    # transaction now goes through, and undoing it frees everything it took.
    fd.fail_at = {}
    assert e.transaction([ch.RouteAdd(FIVE)]) == 2
    assert fibs(fd)[0] == {**BASE_FIB[0], "10.20.0.0/16": "10.0.0.4@a",
                           "10.21.0.0/16": "10.0.0.5@a", "10.22.0.0/16": "10.0.1.4@b",
                           "10.23.0.0/16": "10.0.0.4@a", "10.24.0.0/16": "10.0.1.5@b"}
    e.transaction([ch.RouteDel(FIVE)])
    assert fake_snapshot(fd) == before_fake
    after = engine_snapshot(e)
    assert after["fib"] == before["fib"] and after["nhs"][:3] == before["nhs"][:3]


@pytest.mark.parametrize("method", ["route_add", "route_del", "nh_del", "addr_del"])
def test_failed_route_replace_puts_the_old_next_hops_back(router, method):
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    # b loses 10.0.1.0/24: the ECMP route 10.8.0.0/16 shrinks to one gateway
    # (a replace), the leaked blue route via 10.0.1.2 goes (a delete), then
    # the 10.0.1.2 next hops and the address go.
    b = e.state.interfaces["b"]
    fail_next(fd, method)
    with pytest.raises(DataplaneRejected, match=f"injected failure of {method}"):
        e.transaction([ch.InterfaceUpdate(b, replace(b, addresses=()))])
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before
    fd.fail_at = {}
    e.transaction([ch.InterfaceUpdate(b, replace(b, addresses=()))])
    assert fibs(fd) == {0: {**BASE_FIB[0], "10.8.0.0/16": "10.0.0.2@a"},
                        2: {"10.7.0.0/16": "10.0.0.3@c"}}


MULTI = [
    ch.VrfAdd(Vrf("green", 5)),
    ch.InterfaceAdd(Interface("e", "net_null9", vrf="green",
                              addresses=(IPv4Interface("10.5.0.1/24"),
                                         IPv4Interface("10.55.0.1/24")))),
    ch.NeighborAdd(Neighbor("e", IPv4Address("10.5.0.7"), "02:00:00:00:00:07")),
    ch.RouteAdd((R("10.50.0.0/16", "10.5.0.2", vrf="green"),
                 R("10.51.0.0/16", "10.5.0.2", "10.55.0.2", vrf="green"),
                 R("10.52.0.0/16", "10.0.1.2", vrf="green", via_vrf="default"))),
    ch.RouteAdd((R("10.53.0.0/16", "10.5.0.3", via_vrf="green"),
                 R("10.54.0.0/16", "10.0.0.2"))),
]


@pytest.mark.parametrize("method,nth", [
    ("vrf_add", 1), ("port_add", 1), ("addr_add", 1), ("addr_add", 2), ("neigh_add", 1),
    ("nh_add", 1), ("nh_add", 2), ("nh_add", 3), ("route_add", 1), ("route_add", 2),
    ("route_add", 3),
    # failures after a bulk add of fresh prefixes went through:
    ("nh_add", 4),
    ("route_add", 4),
])
def test_failure_at_any_step_of_a_multi_change_transaction_rolls_back(router, method, nth):
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    fail_next(fd, method, nth)
    with pytest.raises(DataplaneRejected):
        e.transaction(MULTI)
    assert fd.fail_at[method] == fd._count[method]  # the failure was reached
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before
    fd.fail_at = {}
    e.transaction(MULTI)
    assert fd.routes(5) == {"10.50.0.0/16": "10.5.0.2@e",
                            "10.51.0.0/16": ("10.5.0.2@e", "10.55.0.2@e"),
                            "10.52.0.0/16": "10.0.1.2@b"}
    assert fd.routes(0) == {**BASE_FIB[0], "10.53.0.0/16": "10.5.0.3@e",
                            "10.54.0.0/16": "10.0.0.2@a"}


@pytest.mark.parametrize("method", ["vrf_del", "neigh_add"])
def test_failed_commit_that_removes_a_vrf_rolls_back(router, method):
    e, fd = router
    cand = BASE.replace("vrfs: {blue: {id: 2}}", "").replace(
        "  c: {device: net_null2, vrf: blue, addresses: [10.0.0.1/24]}\n", "").replace(
        "  - {prefix: 10.7.0.0/16, vrf: blue, via: 10.0.0.3}\n", "").replace(
        "  - {prefix: 10.6.0.0/16, vrf: blue, via: 10.0.1.2, via_vrf: default}\n", "").replace(
        "neighbors:\n", "neighbors:\n  - {interface: b, ip: 10.0.1.8, mac: 02:00:00:00:00:08}\n")
    assert e.load_candidate(cand, "cand.yaml").splitlines() == [
        "- route 10.7.0.0/16 via 10.0.0.3 vrf blue",
        "- route 10.6.0.0/16 via 10.0.1.2 (vrf default) vrf blue",
        "- interface c", "- vrf blue id 2", "+ neighbor 10.0.1.8 02:00:00:00:00:08 on b"]
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    fail_next(fd, method)
    with pytest.raises(DataplaneRejected, match=f"injected failure of {method}"):
        e.commit()
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before


# ---- validation ----------------------------------------------------------------

INVALID = {
    "unknown vrf": (ch.RouteAdd((R("10.30.0.0/16", "10.0.0.2", vrf="nope"),)),
                    NotFound, "route 10.30.0.0/16: vrf nope does not exist"),
    "interface in unknown vrf": (ch.InterfaceAdd(Interface("z", "net_null7", vrf="nope")),
                                 NotFound, "vrf nope does not exist"),
    "duplicate route": (ch.RouteAdd((R("172.16.0.0/16", "10.0.1.2"),)),
                        AlreadyExists, "route 172.16.0.0/16 distance 1 already exists in vrf "
                                       "default"),
    "duplicate within the batch": (ch.RouteAdd((R("10.30.0.0/16", "10.0.0.2"),
                                                R("10.30.0.0/16", "10.0.1.2"))),
                                   AlreadyExists, "route 10.30.0.0/16 distance 1 already "
                                                  "exists in vrf default"),
    "unknown via_vrf": (ch.RouteAdd((R("10.30.0.0/16", "10.0.0.2", via_vrf="nope"),)),
                        NotFound, "route 10.30.0.0/16: via_vrf nope does not exist"),
    "vrf with interfaces": (ch.VrfDel(Vrf("blue", 2)), FailedPrecondition,
                            "vrf blue still has interfaces: c"),
    "default vrf": (ch.VrfDel(Vrf("default", 0)), FailedPrecondition,
                    "the default vrf cannot be deleted"),
    "missing route": (ch.RouteDel((R("10.30.0.0/16", "10.0.0.2"),)), NotFound,
                      "route 10.30.0.0/16 distance 1 not found in vrf default"),
    "route with other target": (ch.RouteDel((R("172.16.0.0/16", "10.0.1.2"),)), NotFound,
                                "route 172.16.0.0/16 distance 1 not found in vrf default"),
    "overlapping subnet": (ch.InterfaceAdd(Interface(
        "z", "net_null7", addresses=(IPv4Interface("10.0.0.77/24"),))), AlreadyExists,
        "subnet 10.0.0.0/24 is already connected on interface a in vrf default"),
    "address in use": (ch.InterfaceAdd(Interface(
        "z", "net_null7", addresses=(IPv4Interface("10.0.1.1/16"),))), AlreadyExists,
        "address 10.0.1.1 is already on interface b"),
    "device in use": (ch.InterfaceAdd(Interface("z", "net_null1,iface=x")), AlreadyExists,
                      "device net_null1 is already interface b"),
    "interface with neighbours": (ch.InterfaceDel(Interface("a", "net_null0")),
                                  FailedPrecondition, "interface a has static neighbors"),
    "neighbour off-subnet": (ch.NeighborAdd(Neighbor("b", IPv4Address("10.0.0.5"),
                                                     "02:00:00:00:00:05")),
                             InvalidArgument, "neighbor 10.0.0.5 is not on a subnet of "
                                              "interface b"),
    "vrf id taken": (ch.VrfAdd(Vrf("green", 2)), AlreadyExists,
                     "vrf id 2 is already used by vrf blue"),
    "too many gateways": (ch.RouteAdd((R("10.30.0.0/16",
                                         *[f"10.0.0.{i}" for i in range(2, 19)]),)),
                          InvalidArgument, "route 10.30.0.0/16: 17 gateways, at most 16"),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
def test_invalid_change_changes_nothing(router, case):
    change, error, message = INVALID[case]
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    calls = len(fd.calls)
    # A valid change first: it is undone too.
    with pytest.raises(error) as info:
        e.transaction([ch.RouteDel((R("10.8.0.0/16", "10.0.0.2", "10.0.1.2"),)), change])
    assert str(info.value).startswith(message)
    assert fd.calls[calls:] == ["route_del", "nh_del", "nh_add", "route_add"]
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before


def test_invalid_change_after_a_new_route_undoes_it(router):
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    with pytest.raises(NotFound):
        e.transaction([ch.RouteAdd((R("10.40.0.0/16", "10.0.1.9"),)),
                       ch.RouteDel((R("10.30.0.0/16", "10.0.0.2"),))])
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before


def test_replay_after_a_failed_transaction(router):
    e, fd = router
    fail_next(fd, "route_add")
    with pytest.raises(DataplaneRejected):
        e.transaction([ch.RouteAdd((R("10.40.0.0/16", "10.0.1.9"),))])
    first = fake_view(fd)
    e.detach()
    fd2 = FakeDataplane()
    e.attach(fd2)  # the RIB must not replay the aborted route
    assert fake_view(fd2) == first


def test_empty_transaction_is_no_new_version(router):
    e, fd = router
    calls = len(fd.calls)
    assert e.transaction([]) == 1
    assert e.transaction([ch.RouteAdd(()), ch.RouteDel(())]) == 1
    assert fd.calls[calls:] == []


def test_running_out_of_next_hops_changes_nothing():
    e, fd = started("""
dataplane: {nexthops: 16}
interfaces:
  a: {device: net_null0, addresses: [10.0.0.1/24]}
""")
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    routes = tuple(R(f"11.0.{i}.0/24", f"10.0.0.{i + 2}") for i in range(16))  # 16 > 15 ids
    with pytest.raises(FailedPrecondition):
        e.transaction([ch.RouteAdd(routes)])
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before


# ---- candidate, commit, rollback ---------------------------------------------

CANDIDATE = BASE.replace(
    "  - {prefix: 10.8.0.0/16, via: [10.0.0.2, 10.0.1.2]}\n",
    "  - {prefix: 10.5.0.0/16, via: 10.0.1.7, distance: 5}\n",
).replace(
    "  b: {device: net_null1, addresses: [10.0.1.1/24]}\n",
    "  b: {device: net_null1, mtu: 9000, addresses: [10.0.1.1/24, 10.0.3.1/24]}\n"
    "  d: {device: net_null3, vrf: red, addresses: [10.0.4.1/24]}\n",
).replace("vrfs: {blue: {id: 2}}", "vrfs: {blue: {id: 2}, red: {id: 7}}")

CANDIDATE_DIFF = """\
- route 10.8.0.0/16 via 10.0.0.2,10.0.1.2 vrf default
+ vrf red id 7
~ interface b: mtu 1500 -> 9000, +address 10.0.3.1/24
+ interface d net_null3 vrf red mtu 1500 10.0.4.1/24
+ route 10.5.0.0/16 via 10.0.1.7 vrf default distance 5"""


def test_commit_a_candidate_then_roll_back(router):
    e, fd = router
    v1_fake = fake_snapshot(fd)
    assert e.load_candidate(CANDIDATE, "cand.yaml") == CANDIDATE_DIFF
    assert e.diff_text() == CANDIDATE_DIFF
    assert fibs(fd) == BASE_FIB  # loading changes nothing
    version, described = e.commit(comment="grow")
    assert (version, described) == (2, CANDIDATE_DIFF)
    assert e.candidate is None and e.diff_text() == ""
    assert fd.routes(0) == {**{k: v for k, v in BASE_FIB[0].items() if k != "10.8.0.0/16"},
                            "10.5.0.0/16": "10.0.1.7@b"}
    assert fd.vrfs == {0, 2, 7}
    b = next(p for p in fd.ports.values() if p["name"] == "b")
    assert b["mtu"] == 9000
    assert normalized(e.running_config()) == normalized(config(CANDIDATE))
    assert e.history[-1].comment == "grow"

    version, described = e.rollback(1)
    assert version == 3
    assert described.splitlines() == [
        "- route 10.5.0.0/16 via 10.0.1.7 vrf default distance 5",
        "- interface d", "~ interface b: mtu 9000 -> 1500, -address 10.0.3.1/24",
        "- vrf red id 7", "+ route 10.8.0.0/16 via 10.0.0.2,10.0.1.2 vrf default"]
    assert fake_snapshot(fd) == v1_fake
    assert normalized(e.running_config()) == normalized(config(BASE))
    assert e.history[-1].comment == "rollback to version 1"
    # A rollback is a version too: rolling it back re-applies the commit.
    e.rollback()
    assert normalized(e.running_config()) == normalized(config(CANDIDATE))


def test_commit_text_directly(router):
    e, fd = router
    version, described = e.commit(CANDIDATE, "direct.yaml")
    assert (version, described) == (2, CANDIDATE_DIFF)
    assert fd.routes(0)["10.5.0.0/16"] == "10.0.1.7@b"


def test_commit_without_a_candidate(router):
    e, _ = router
    with pytest.raises(FailedPrecondition, match="no candidate configuration"):
        e.commit()


def test_bad_candidate_text_is_invalid_argument(router):
    e, _ = router
    with pytest.raises(InvalidArgument, match=r"cand.yaml: routes\[0\]\.via: '10.0.0.300' is "
                                              r"not an IPv4 address"):
        e.load_candidate("routes: [{prefix: 10.1.0.0/16, via: 10.0.0.300}]", "cand.yaml")
    with pytest.raises(InvalidArgument, match="cand.yaml: not valid YAML"):
        e.load_candidate("routes: [", "cand.yaml")


def test_failed_commit_keeps_the_running_config_and_the_candidate(router):
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    e.load_candidate(CANDIDATE, "cand.yaml")
    fail_next(fd, "port_add")
    with pytest.raises(DataplaneRejected, match="adding interface d"):
        e.commit()
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before
    assert e.diff_text() == CANDIDATE_DIFF  # still there, to retry
    fd.fail_at = {}
    assert e.commit()[0] == 2


def test_rollback_beyond_the_kept_history(router):
    e, fd = started(history=3)
    for i in range(4):  # versions 2..5; history keeps 3..5
        e.transaction([ch.RouteAdd((R(f"10.{30 + i}.0.0/16", "10.0.0.2"),))])
    assert e.version == 5
    with pytest.raises(NotFound, match="version 1 is older than the kept history"):
        e.rollback(1)
    with pytest.raises(InvalidArgument, match="version 5: the running version is 5"):
        e.rollback(5)
    assert e.version == 5
    # Version 2 is still reachable: undoing versions 3..5 needs only those.
    assert e.rollback(2)[0] == 6
    assert set(fd.routes(0)) == set(BASE_FIB[0]) | {"10.30.0.0/16"}


def test_startup_only_change_in_a_candidate_is_refused(router):
    e, fd = router
    before_fake, before = fake_snapshot(fd), engine_snapshot(e)
    text = "dataplane: {workers: [1, 2]}\n" + CANDIDATE
    with pytest.raises(FailedPrecondition, match=r"^dataplane\.workers only take effect at "
                                                 r"start"):
        e.load_candidate(text, "cand.yaml")
    with pytest.raises(FailedPrecondition, match=r"dataplane\.workers"):
        e.commit(text, "cand.yaml")
    assert fake_snapshot(fd) == before_fake
    assert engine_snapshot(e) == before


def test_arp_table_size_change_is_startup_only(router):
    e, _ = router
    with pytest.raises(FailedPrecondition, match=r"dataplane\.arp\.table_size"):
        e.commit("dataplane: {arp: {table_size: 8192}}\n" + BASE, "cand.yaml")


def test_queue_size_is_startup_only(router):
    e, _ = router
    with pytest.raises(FailedPrecondition, match=r"dataplane\.queue_size"):
        e.commit("dataplane: {queue_size: 64}\n" + BASE, "cand.yaml")


def test_arp_and_icmp_settings_apply_live(router):
    e, fd = router
    text = ("dataplane: {arp: {reachable_ms: 5000, max_probes: 5, request_rate: 20},"
            " icmp: {rate: 10, burst: 2}, idle_sleep_us: 50}\n" + BASE)
    want = ("~ dataplane: arp.reachable_ms 30000 -> 5000, arp.max_probes 3 -> 5, "
            "arp.request_rate 1000 -> 20, "
            "icmp.rate 1000 -> 10, icmp.burst 50 -> 2, idle_sleep_us 0 -> 50")
    assert e.load_candidate(text, "cand.yaml") == want  # only the live settings change
    calls = len(fd.calls)
    assert e.commit() == (2, want)  # a version of its own, so rollback undoes it
    assert fd.calls[calls:] == ["params_set"]
    assert fd.params == dict(arp_reachable_ms=5000, arp_retrans_ms=1000, arp_max_probes=5,
                             arp_queue_len=16, arp_rate=20, arp_burst=500, icmp_rate=10,
                             icmp_burst=2, idle_sleep_us=50, punt_rate=2000, punt_burst=500)
    d = e.running_config().dataplane
    assert (d.arp.reachable_ms, d.icmp.rate, d.idle_sleep_us) == (5000, 10, 50)
    # A fresh dataplane gets them too.
    fd2 = FakeDataplane()
    e.attach(fd2)
    assert fd2.params == fd.params


def test_rollback_restores_live_parameters(router):
    e, fd = router
    e.commit("dataplane: {icmp: {rate: 10}}\n" + CANDIDATE, "cand.yaml")
    e.rollback(1)
    assert e.running_config().dataplane.icmp.rate == 1000
    assert fd.params["icmp_rate"] == 1000


# ---- save -----------------------------------------------------------------------


def test_save_round_trips_the_running_config(router, tmp_path):
    e, _ = router
    e.commit("dataplane: {arp: {reachable_ms: 5000}}\n" + CANDIDATE, "cand.yaml")
    path = tmp_path / "etc" / "router.yaml"
    assert e.save(str(path)) == str(path)
    assert parse(yaml.safe_load(path.read_text()), "saved") == e.running_config()
    assert sorted(os.listdir(path.parent)) == ["router.yaml"]  # no temp files left


def test_save_replaces_the_file_whole_or_not_at_all(router, tmp_path, monkeypatch):
    e, _ = router
    path = tmp_path / "router.yaml"
    path.write_text("old contents\n")
    e.save(str(path))
    assert path.read_text() == to_yaml(e.running_config())

    def crash(*a, **kw):
        raise OSError("disk gone")

    e.transaction([ch.RouteAdd((R("10.30.0.0/16", "10.0.0.2"),))])
    saved = path.read_text()
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk gone"):
        e.save(str(path))
    assert path.read_text() == saved  # the old file, complete
    assert os.listdir(tmp_path) == ["router.yaml"]


def test_save_uses_the_config_path_or_needs_one(tmp_path):
    e, _ = started(config_path=str(tmp_path / "r.yaml"))
    assert e.save() == str(tmp_path / "r.yaml")
    e2, _ = started()
    with pytest.raises(InvalidArgument, match="path"):
        e2.save()


# ---- replay onto a fresh dataplane ---------------------------------------------


def test_replay_onto_a_fresh_dataplane(router):
    e, fd = router
    e.commit(CANDIDATE, "cand.yaml")
    e.transaction(MULTI)
    e.transaction([ch.InterfaceDel(e.state.interfaces["c"])])  # leaves a hole in port ids
    first = fake_view(fd)
    assert first["routes"][5]  # red has routes
    e.detach()
    fd2 = FakeDataplane()
    e.attach(fd2)
    assert fake_view(fd2) == first
    # And it keeps working on the new one.
    e.transaction([ch.RouteAdd((R("10.30.0.0/16", "10.0.1.2"),))])
    assert fd2.routes(0)["10.30.0.0/16"] == "10.0.1.2@b"
    assert "10.30.0.0/16" not in fd.routes(0)


def test_unavailable_while_detached(router):
    e, fd = router
    e.transaction([ch.RouteAdd((R("10.30.0.0/16", "10.0.0.2"),))])
    before = engine_snapshot(e)
    e.detach()
    assert not e.dataplane_up and e.down_since
    with pytest.raises(Unavailable, match="the dataplane is down"):
        e.transaction([ch.RouteAdd((R("10.31.0.0/16", "10.0.0.2"),))])
    with pytest.raises(Unavailable):
        e.commit(CANDIDATE, "cand.yaml")
    with pytest.raises(Unavailable):
        e.rollback(1)
    assert engine_snapshot(e) == before
    assert e.diff_text() == ""  # reading still works
    assert "10.30.0.0/16" in {str(r.prefix) for r in e.running_config().routes}
    fd2 = FakeDataplane()
    e.attach(fd2)
    assert e.dataplane_up and e.down_since is None
    assert fibs(fd2) == {0: {**BASE_FIB[0], "10.30.0.0/16": "10.0.0.2@a"}, 2: BASE_FIB[2]}
    assert e.rollback(1)[0] == 3
    assert fibs(fd2) == BASE_FIB
