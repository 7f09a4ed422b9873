"""A packet's path through the router, as steps: what `vrouter trace` shows
for packets the dataplane handled and `vrouter explain` works out for a flow
it has not seen. Both name things the same way, from one snapshot of the
router's tables (`Names`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import IPv4Address

from ..config.model import NatRule
from ..dataplane.messages import (VR_TRACE_NAT_NEW, VR_TRACE_NAT_STATELESS, NhType,
                                  TraceStage)
from ..dataplane.types import Nexthop, TraceRecord
from .changes import nat_text

PROTOS = {1: "icmp", 6: "tcp", 17: "udp"}
ICMP_ERRORS = {(3, 0): "network unreachable", (3, 1): "host unreachable",
               (3, 4): "fragmentation needed", (11, 0): "time exceeded"}


@dataclass
class Step:
    stage: str     # rx, ip, nat, route, local, forward, neighbor, tx, drop, icmp-error, arp
    summary: str
    details: dict[str, str] = field(default_factory=dict)
    rule: tuple[NatRule, int] | None = None  # nat: the rule and its id


@dataclass
class Path:
    steps: list[Step] = field(default_factory=list)
    verdict: str = ""    # forwarded, dropped, local, held
    reason: str = ""     # dropped: the drop counter
    egress: str = ""
    translated: str = ""

    def add(self, stage: str, summary: str, rule=None, **details) -> None:
        self.steps.append(Step(stage, summary, {k: str(v) for k, v in details.items()}, rule))

    def drop(self, reason: str, why: str) -> Path:
        self.add("drop", f"dropped: {why} (counted as {reason})", reason=reason)
        self.verdict, self.reason = "dropped", reason
        return self


@dataclass
class Names:
    """Ids in the dataplane -> the names the API uses."""
    ports: dict[int, str]
    vrfs: dict[int, str]
    nexthops: dict[int, Nexthop]
    counters: list[str]
    rules: dict[int, NatRule]

    @classmethod
    def of(cls, engine, dp) -> Names:
        with engine.lock:
            ports = {v: k for k, v in engine.executor.ports.items()}
            vrfs = {v: k for k, v in engine.executor.vrf_ids.items()}
            rules = {i: r for r, i in engine.state.nat.items()}
        return cls(ports, vrfs, {n.id: n for n in dp.nh_list()}, dp.counter_names(), rules)

    def port(self, p: int) -> str:
        return self.ports.get(p, f"port {p}")

    def vrf(self, v: int) -> str:
        return self.vrfs.get(v, f"vrf id {v}")

    def nexthop(self, nh: Nexthop | int) -> str:
        if isinstance(nh, int):
            if nh not in self.nexthops:
                return f"next hop {nh}"
            nh = self.nexthops[nh]
        t = NhType(nh.type) if nh.type in NhType._value2member_map_ else nh.type
        if t == NhType.GATEWAY:
            return f"via {nh.gw} on {self.port(nh.port)}"
        if t == NhType.CONNECTED:
            return f"directly connected on {self.port(nh.port)}"
        if t == NhType.GROUP:
            return "ECMP group of " + ", ".join(self.nexthop(m) for m in nh.members)
        return {NhType.LOCAL: "the router itself", NhType.BLACKHOLE: "blackhole",
                NhType.REJECT: "reject (unreachable)", NhType.BROADCAST: "subnet broadcast",
                NhType.NONE: "no route"}.get(t, f"next hop type {t}")

    def counter(self, i: int) -> str:
        return self.counters[i] if 0 <= i < len(self.counters) else f"counter {i}"

    def rule(self, rid: int) -> tuple[NatRule, int] | None:
        r = self.rules.get(rid)
        return (r, rid) if r is not None else None


def trace_path(names: Names, recs: list[TraceRecord]) -> Path:
    """The stages the dataplane recorded for one traced packet, in order."""
    p = Path()
    for r in recs:
        stage = TraceStage(r.stage) if r.stage in TraceStage._value2member_map_ else r.stage
        match stage:
            case TraceStage.RX:
                p.add("rx", f"received on {names.port(r.port)}, {r.a} bytes",
                      interface=names.port(r.port), length=r.a)
            case TraceStage.IP:
                p.add("ip", f"valid IPv4, vrf {names.vrf(r.a)}", vrf=names.vrf(r.a))
            case TraceStage.NAT_PRE | TraceStage.NAT_POST:
                _nat_step(p, names, r, stage == TraceStage.NAT_PRE)
            case TraceStage.FIB:
                p.add("route", f"route lookup: {names.nexthop(r.a)}", next_hop=r.a,
                      next_hop_text=names.nexthop(r.a))
            case TraceStage.LOCAL:
                proto = PROTOS.get(r.a, str(r.a))
                if r.b:
                    p.add("local", f"addressed to the router: {proto} answered by the "
                          "dataplane", protocol=proto)
                else:
                    p.add("local", f"addressed to the router: {proto} handed to its "
                          "control stack", protocol=proto)
                p.verdict = "local"
            case TraceStage.FORWARD:
                p.add("forward", f"forwarded out of {names.port(r.a)}, TTL now {r.b}",
                      interface=names.port(r.a), ttl=r.b)
                p.egress = names.port(r.a)
            case TraceStage.NEIGH:
                if r.b:
                    p.add("neighbor", "next hop's MAC known", resolved="yes")
                else:
                    p.add("neighbor", "next hop's MAC unknown: held, ARP request sent",
                          resolved="no")
                    p.verdict = "held"
            case TraceStage.TX:
                p.add("tx", f"sent out of {names.port(r.a)}", interface=names.port(r.a))
                if p.verdict in ("", "held"):
                    p.verdict = "forwarded"
            case TraceStage.DROP:
                reason = names.counter(r.a)
                p.add("drop", f"dropped: {reason}", reason=reason)
                p.verdict, p.reason = "dropped", reason
            case TraceStage.ICMP_ERROR:
                what = ICMP_ERRORS.get((r.a, r.b), f"type {r.a} code {r.b}")
                p.add("icmp-error", f"ICMP error sent to the source: {what}", type=r.a,
                      code=r.b)
            case TraceStage.ARP:
                op = {1: "request", 2: "reply"}.get(r.a, f"opcode {r.a}")
                p.add("arp", f"ARP {op} handled", opcode=r.a)
                p.verdict = "local"
            case _:
                p.add(str(stage), f"stage {stage}: {r.a} {r.b}")
    return p


def _nat_step(p: Path, names: Names, r: TraceRecord, pre: bool) -> None:
    rid, new = r.a & ~VR_TRACE_NAT_NEW, bool(r.a & VR_TRACE_NAT_NEW)
    rule = names.rule(rid)
    text = nat_text(rule[0]) if rule else f"rule {rid}"
    where = "before routing" if pre else "after routing"
    if r.b == VR_TRACE_NAT_STATELESS:
        what = f"translated by {text}"
    else:
        reply = r.b & 1
        what = ("new session by " if new else
                "reply of a session of " if reply else "session of ") + text
    p.add("nat", f"NAT {where}: {what}", rule, nat_rule_id=rid, new_session=str(new).lower(),
          phase="pre-routing" if pre else "post-routing")


# ---- explain ---------------------------------------------------------------------


def jhash_3words(a: int, b: int, c: int, initval: int = 0) -> int:
    """DPDK's rte_jhash_3words (the dataplane's ECMP flow hash)."""
    M = 0xFFFFFFFF

    def rot(x: int, k: int) -> int:
        return ((x << k) | (x >> (32 - k))) & M
    v = [(x + 12 + 0xDEADBEEF + initval) & M for x in (a, b, c)]
    for x, y, k in ((2, 1, 14), (0, 2, 11), (1, 0, 25), (2, 1, 16), (0, 2, 4), (1, 0, 14),
                    (2, 1, 24)):  # __rte_jhash_final
        v[x] = ((v[x] ^ v[y]) - rot(v[y], k)) & M
    return v[2]


def flow_hash(proto: int, src: IPv4Address, dst: IPv4Address, sport: int, dport: int) -> int:
    """ip4_flow_hash() in ip4_forward.c: the words as a little-endian CPU loads
    them from the packet."""
    def le32(raw: bytes) -> int:
        return int.from_bytes(raw, "little")
    ports = le32(sport.to_bytes(2, "big") + dport.to_bytes(2, "big")) \
        if proto in (6, 17) else 0
    return jhash_3words(le32(src.packed), le32(dst.packed), ports ^ proto)
