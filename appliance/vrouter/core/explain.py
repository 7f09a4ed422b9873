"""`vrouter explain`: what the router would do with a packet of a flow,
worked out from the dataplane's own tables (its route lookup, next hops,
neighbours, NAT rules and sessions) without sending anything. The order of
the checks is the dataplane's (ip4_input.c, nat_worker.c, ip4_forward.c), so
the answer is what real traffic gets; tests/e2e/test_diagnostics.py holds
the two side by side."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from ..dataplane.messages import NeighState, NhType
from ..dataplane.types import NatSession, Nexthop, Port
from .errors import InvalidArgument, NotFound
from .changes import nat_text as rule_text
from .path import PROTOS, Names, Path, flow_hash

PROTO_NUMBERS = {v: k for k, v in PROTOS.items()}


@dataclass(frozen=True)
class Flow:
    interface: str
    proto: int
    src: IPv4Address
    dst: IPv4Address
    sport: int = 0   # icmp: the echo identifier
    dport: int = 0
    ttl: int = 64

    def text(self) -> str:
        if self.proto in (6, 17):
            return f"{self.src}:{self.sport} > {self.dst}:{self.dport}"
        return f"{self.src} > {self.dst}"


def parse_flow(interface: str, protocol: str, source: str, destination: str,
               sport: int, dport: int, ttl: int) -> Flow:
    """The request's fields, checked; InvalidArgument names the bad one."""
    proto = PROTO_NUMBERS.get(protocol.lower())
    if proto is None:
        if not protocol.isdigit() or not 0 <= int(protocol) <= 255:
            raise InvalidArgument(f"protocol: {protocol!r} is not tcp, udp, icmp or 0..255")
        proto = int(protocol)
    addrs = []
    for field, value in (("source", source), ("destination", destination)):
        try:
            addrs.append(IPv4Address(value))
        except ValueError:
            raise InvalidArgument(f"{field}: {value!r} is not an IPv4 address") from None
    for field, value in (("source_port", sport), ("destination_port", dport)):
        if not 0 <= value <= 65535:
            raise InvalidArgument(f"{field}: {value} is not a port (0..65535)")
    if proto in (6, 17) and (sport == 0 or dport == 0):
        raise InvalidArgument(f"{PROTOS[proto]} needs source_port and destination_port")
    if not 0 <= ttl <= 255:
        raise InvalidArgument(f"ttl: {ttl} out of range 0..255")
    if not interface:
        raise InvalidArgument("interface: the ingress interface is required")
    return Flow(interface, proto, addrs[0], addrs[1], sport, dport if proto != 1 else 0,
                ttl or 64)


def _martian_src(ip: IPv4Address) -> bool:
    first = int(ip) >> 24
    return first in (0, 127) or first >= 224


def _martian_dst(ip: IPv4Address) -> bool:
    first = int(ip) >> 24
    return first in (0, 127) or (first >= 240 and int(ip) != 0xFFFFFFFF)


class Explainer:
    def __init__(self, engine, dp) -> None:
        self.engine, self.dp = engine, dp
        self.names = Names.of(engine, dp)
        self.ports: dict[int, Port] = {p.port: p for p in dp.port_list()}

    def explain(self, f: Flow) -> Path:
        e, names, p = self.engine, self.names, Path()
        with e.lock:
            itf = e.state.interfaces.get(f.interface)
            port = e.executor.ports.get(f.interface)
            nat_vrfs = {r.vrf for r in e.state.nat}
        if itf is None or port is None:
            raise NotFound(f"interface {f.interface} does not exist")
        vrf_id = e.executor.vrf_ids[itf.vrf]
        p.add("rx", f"arrives on {f.interface}: {PROTOS.get(f.proto, f.proto)} {f.text()}, "
              f"TTL {f.ttl}", interface=f.interface)
        if not self.ports[port].admin_up:
            return p.drop("drop_port_down", f"{f.interface} is down: nothing is received")
        if _martian_src(f.src):
            return p.drop("drop_martian_src", f"source {f.src} is never valid (RFC 1812 5.3.7)")
        if _martian_dst(f.dst):
            return p.drop("drop_martian_dst", f"destination {f.dst} is never forwarded")
        p.add("ip", f"valid IPv4, vrf {itf.vrf}", vrf=itf.vrf)
        if int(f.dst) == 0xFFFFFFFF or f.dst.is_multicast:
            p.add("local", "broadcast or multicast: stays on the link, handed to the "
                  "router's control stack")
            p.verdict = "local"
            return p

        src, sport, dst, dport = f.src, f.sport, f.dst, f.dport
        nat = itf.vrf in nat_vrfs
        sessions = self.dp.nat_session_list(vrf=vrf_id, proto=f.proto) if nat else []
        post: NatSession | None = None
        if nat:
            key = (src, sport, dst, dport)
            orig = next((s for s in sessions if s.orig == key), None)
            reply = next((s for s in sessions
                          if (s.xlat[2], s.xlat[3], s.xlat[0], s.xlat[1]) == key), None)
            if orig is not None and (orig.xlat[2], orig.xlat[3]) != (dst, dport):
                dst, dport = orig.xlat[2], orig.xlat[3]
                self._nat(p, orig.rule, "pre-routing", f"session of {{}}: destination now "
                          f"{dst}:{dport}", new=False)
            elif orig is not None:
                post = orig  # source only: after routing and the TTL check
            elif reply is not None:
                src, sport, dst, dport = reply.orig[2], reply.orig[3], reply.orig[0], \
                    reply.orig[1]
                self._nat(p, reply.rule, "pre-routing", f"reply of a session of {{}}: "
                          f"now {src}:{sport} > {dst}:{dport}", new=False)
            else:
                dst, dport = self._dnat(p, f, itf.vrf, dst, dport)

        route, nh = self.dp.route_lookup(vrf_id, dst)
        if nh is None:
            p.add("route", f"no route to {dst} in vrf {itf.vrf}", vrf=itf.vrf)
            p.add("icmp-error", "ICMP error sent to the source: network unreachable",
                  type=3, code=0)
            return p.drop("drop_no_route", "no route")
        p.add("route", f"route {route.prefix}: {names.nexthop(nh)}", route=route.prefix,
              next_hop=nh.id, next_hop_text=names.nexthop(nh))
        t = nh.type
        if t == NhType.LOCAL:
            return self._local(p, f, port)
        if t == NhType.BROADCAST:
            return p.drop("drop_directed_broadcast", "directed broadcasts are not forwarded "
                          "(RFC 2644)")
        if t == NhType.BLACKHOLE:
            return p.drop("drop_blackhole", "blackhole route")
        if t == NhType.REJECT:
            p.add("icmp-error", "ICMP error sent to the source: host unreachable", type=3,
                  code=1)
            return p.drop("drop_reject", "reject route")
        if f.ttl <= 1:
            p.add("icmp-error", "ICMP error sent to the source: time exceeded", type=11,
                  code=0)
            return p.drop("drop_ttl_expired", f"TTL {f.ttl} expires here")
        if t == NhType.GROUP:
            if not nh.members:
                return p.drop("drop_no_route", "empty ECMP group")
            h = flow_hash(f.proto, src, dst, sport, dport)
            member = nh.members[(h * len(nh.members)) >> 32]
            nh = names.nexthops[member]
            p.add("route", f"ECMP: this flow hashes to {names.nexthop(nh)}", next_hop=nh.id)
        out = names.port(nh.port)
        if not self.ports[nh.port].admin_up:
            return p.drop("drop_port_down", f"{out} is down")
        p.add("forward", f"forwarded out of {out}, TTL now {f.ttl - 1}", interface=out,
              ttl=f.ttl - 1)
        p.egress = out
        if nat and post is not None:
            src, sport = post.xlat[0], post.xlat[1]
            self._nat(p, post.rule, "post-routing", f"session of {{}}: source now "
                      f"{src}:{sport}", new=False)
        elif nat:
            src, sport = self._snat(p, f, itf.vrf, out, src, sport, sessions)
        if (src, sport, dst, dport) != (f.src, f.sport, f.dst, f.dport):
            p.translated = Flow(f.interface, f.proto, src, dst, sport, dport).text()
        return self._neighbor(p, nh, dst)

    def _nat(self, p: Path, rid: int, phase: str, text: str, new: bool) -> None:
        rule = self.names.rule(rid)
        what = text.format(rule_text(rule[0]) if rule else f"rule {rid}")
        p.add("nat", f"NAT {phase}: {what}", rule, nat_rule_id=rid, phase=phase,
              new_session=str(new).lower())

    def _rules(self, vrf: str, kind: str):
        with self.engine.lock:
            return [(r, i) for r, i in self.engine.state.nat.items()
                    if r.vrf == vrf and r.kind == kind]

    def _dnat(self, p: Path, f: Flow, vrf: str, dst, dport):
        for r, rid in self._rules(vrf, "dnat"):
            if r.external == dst and r.external_port == dport and \
                    PROTO_NUMBERS.get(r.proto or "") == f.proto:
                self._nat(p, rid, "pre-routing", "new session by {}: destination now "
                          f"{r.internal}:{r.internal_port}", new=True)
                return r.internal, r.internal_port
        for r, rid in self._rules(vrf, "static"):
            if r.external == dst:
                self._nat(p, rid, "pre-routing", f"translated by {{}}: destination now "
                          f"{r.internal}", new=False)
                return r.internal, dport
        return dst, dport

    def _snat(self, p: Path, f: Flow, vrf: str, out: str, src, sport, sessions):
        for r, rid in self._rules(vrf, "static"):
            if r.internal == src:
                self._nat(p, rid, "post-routing", f"translated by {{}}: source now "
                          f"{r.external}", new=False)
                return r.external, sport
        for r, rid in self._rules(vrf, "snat"):
            if r.interface != out or src not in r.match:
                continue
            if f.proto not in (1, 6, 17):
                p.add("nat", f"NAT post-routing: {rule_text(r)} cannot translate protocol "
                      f"{f.proto}", nat_rule_id=rid)
                p.drop("drop_nat_unsupported", "no session can be made for this protocol")
                return src, sport
            # endpoint-independent mapping: the source's existing one, if any
            mapped = next((s for s in sessions if s.rule == rid and s.orig[:2] == (src, sport)),
                          None)
            if mapped is not None:
                new_src, new_port, how = mapped.xlat[0], mapped.xlat[1], \
                    "its existing mapping"
            else:
                addrs = self.ports[self.engine.executor.ports[out]].addrs
                if r.masquerade:
                    new_src = addrs[0].ip if addrs else "(no address on the interface)"
                else:  # which pool address the dataplane picks is its own choice
                    new_src = r.pool[0] if len(r.pool) == 1 else \
                        "one of " + "/".join(map(str, r.pool))
                new_port = sport if r.ports[0] <= sport <= r.ports[1] or f.proto == 1 else 0
                how = "the source port kept if free, else another from " \
                    f"{r.ports[0]}-{r.ports[1]}"
            self._nat(p, rid, "post-routing", f"new session by {{}}: source now "
                      f"{new_src}:{new_port or '*'} ({how})", new=True)
            return new_src, new_port
        return src, sport

    def _local(self, p: Path, f: Flow, port: int) -> Path:
        p.verdict = "local"
        if f.proto == 1:
            p.add("local", "addressed to the router: ICMP echo answered by the dataplane",
                  protocol="icmp")
            return p
        punt = self.ports[port].punt_port
        where = "its control namespace" if punt != 0xFFFF else "the management plane"
        p.add("local", f"addressed to the router: {PROTOS.get(f.proto, f.proto)} handed to "
              f"{where} (rate-limited)", protocol=PROTOS.get(f.proto, str(f.proto)))
        return p

    def _neighbor(self, p: Path, nh: Nexthop, dst: IPv4Address) -> Path:
        if p.verdict == "dropped":
            return p
        ip = nh.gw if nh.type == NhType.GATEWAY and nh.gw else dst
        out = self.names.port(nh.port)
        n = next((n for n in self.dp.neigh_list() if n.port == nh.port and n.ip == ip), None)
        if n is None or n.state == NeighState.INCOMPLETE:
            p.add("neighbor", f"{ip} on {out}: MAC unknown, the packet is held and an ARP "
                  "request sent", next_hop_ip=ip, resolved="no")
            p.verdict = "held"
            return p
        src_mac = self.ports[nh.port].mac
        p.add("neighbor", f"{ip} on {out} is at {n.mac}", next_hop_ip=ip, mac=n.mac,
              resolved="yes")
        p.add("tx", f"sent out of {out}: {src_mac} > {n.mac}", interface=out, mac=n.mac)
        p.verdict = "forwarded"
        return p
