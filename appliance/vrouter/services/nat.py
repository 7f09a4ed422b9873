"""NatService: NAT rules like every other object, and the sessions."""

from __future__ import annotations

from ipaddress import IPv4Network

from ..config.model import DEFAULT_VRF, NatRule
from ..core import changes as ch
from ..core.errors import InvalidArgument, NotFound, Unavailable
from ..dataplane.messages import NatState
from ..v1 import nat_pb2 as pb
from ..v1 import nat_pb2_grpc as pb_grpc
from . import register
from .base import parse_ip, rpc

KINDS = {pb.NAT_KIND_SOURCE: "snat", pb.NAT_KIND_FORWARD: "dnat", pb.NAT_KIND_STATIC: "static"}
PROTOS = {"tcp": 6, "udp": 17, "icmp": 1}


def rule_from_pb(m: pb.NatRule, engine) -> NatRule:
    kind = KINDS.get(m.kind)
    if kind is None:
        raise InvalidArgument("rule.kind: source, forward or static")
    vrf = m.vrf or DEFAULT_VRF
    if kind == "snat":
        itf = engine.state.interfaces.get(m.interface)
        if itf is None:
            raise NotFound(f"rule.interface: interface {m.interface!r} does not exist")
        try:
            match = IPv4Network(m.match)
        except ValueError:
            raise InvalidArgument(f"rule.match: {m.match!r} is not an IPv4 prefix") from None
        for f in ("port_low", "port_high"):
            if getattr(m, f) > 65535:
                raise InvalidArgument(f"rule.{f}: {getattr(m, f)} is not a port")
        return NatRule("snat", vrf=m.vrf or itf.vrf, interface=m.interface, match=match,
                       masquerade=m.masquerade,
                       pool=tuple(parse_ip(f"rule.pool[{i}]", a) for i, a in enumerate(m.pool)),
                       ports=(m.port_low or 1024, m.port_high or 65535))
    ext = parse_ip("rule.external", m.external)
    inn = parse_ip("rule.internal", m.internal)
    if kind == "dnat":
        if m.protocol not in ("tcp", "udp"):
            raise InvalidArgument(f"rule.protocol: {m.protocol!r} is not tcp or udp")
        for f, v in (("external_port", m.external_port), ("internal_port", m.internal_port)):
            if not 0 < v < 65536:
                raise InvalidArgument(f"rule.{f}: {v} is not a port")
        return NatRule("dnat", vrf=vrf, proto=m.protocol, external=ext,
                       external_port=m.external_port, internal=inn,
                       internal_port=m.internal_port)
    return NatRule("static", vrf=vrf, external=ext, internal=inn)


def rule_to_pb(r: NatRule, rid: int = 0, created: int = 0) -> pb.NatRule:
    kind = {v: k for k, v in KINDS.items()}[r.kind]
    m = pb.NatRule(kind=kind, vrf=r.vrf, id=rid, sessions_created=created)
    if r.kind == "snat":
        m.interface, m.match, m.masquerade = r.interface, str(r.match), r.masquerade
        m.pool.extend(str(a) for a in r.pool)
        m.port_low, m.port_high = r.ports
    else:
        m.external, m.internal = str(r.external), str(r.internal)
        if r.kind == "dnat":
            m.protocol, m.external_port, m.internal_port = r.proto, r.external_port, \
                r.internal_port
    return m


@register(pb_grpc.add_NatServiceServicer_to_server)
class NatService(pb_grpc.NatServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine

    def _dp(self):
        dp = self.engine.executor.dp
        if dp is None or not self.engine.dataplane_up:
            raise Unavailable("the dataplane is down (restarting); try again shortly")
        return dp

    @rpc
    def ListRules(self, request, context):
        created = {r.id: r.sessions for r in self._dp().nat_rule_list()}
        with self.engine.lock:
            rules = list(self.engine.state.nat.items())
        return pb.NatRuleListResponse(rules=[rule_to_pb(r, i, created.get(i, 0))
                                             for r, i in rules])

    @rpc
    def AddRule(self, request, context):
        with self.engine.lock:
            r = rule_from_pb(request.rule, self.engine)
            if not (request.exist_ok and r in self.engine.state.nat):
                self.engine.transaction([ch.NatAdd(r)], f"nat add {ch.nat_text(r)}")
            return pb.NatRuleAddResponse(rule=rule_to_pb(r, self.engine.state.nat[r]))

    @rpc
    def DeleteRule(self, request, context):
        with self.engine.lock:
            nat = self.engine.state.nat
            if request.id:
                r = next((r for r, i in nat.items() if i == request.id), None)
            else:
                r = rule_from_pb(request.rule, self.engine)
                r = r if r in nat else None
            if r is None:
                if request.missing_ok:
                    return pb.NatRuleDeleteResponse()
                raise NotFound(f"no such NAT rule (id {request.id})" if request.id
                               else "no such NAT rule")
            self.engine.transaction([ch.NatDel(r)], f"nat delete {ch.nat_text(r)}")
        return pb.NatRuleDeleteResponse()

    def _filter(self, f: pb.NatSessionFilter) -> dict:
        kw: dict = {}
        if f.vrf:
            kw["vrf"] = self.engine.vrf(f.vrf).id
        if f.protocol:
            if f.protocol not in PROTOS:
                raise InvalidArgument(f"protocol: {f.protocol!r} is not tcp, udp or icmp")
            kw["proto"] = PROTOS[f.protocol]
        if f.address:
            kw["addr"] = parse_ip("address", f.address)
        if f.port:
            if f.port > 65535:
                raise InvalidArgument(f"port: {f.port} is not a port")
            kw["port"] = f.port
        if f.rule_id:
            with self.engine.lock:
                if f.rule_id not in self.engine.state.nat.values():
                    raise NotFound(f"rule_id: no NAT rule {f.rule_id}")
            kw["rule"] = f.rule_id
        return kw

    @rpc
    def ListSessions(self, request, context):
        names = {v.id: v.name for v in self.engine.state.vrfs.values()}
        pname = {v: k for k, v in PROTOS.items()}
        for s in self._dp().nat_session_list(**self._filter(request)):
            yield pb.NatSession(
                vrf=names.get(s.vrf, str(s.vrf)), protocol=pname.get(s.proto, str(s.proto)),
                inside=f"{s.orig[0]}:{s.orig[1]}", destination=f"{s.orig[2]}:{s.orig[3]}",
                translated_source=f"{s.xlat[0]}:{s.xlat[1]}",
                translated_destination=f"{s.xlat[2]}:{s.xlat[3]}",
                state=NatState(s.state).name.lower(), age_ms=s.age_ms, timeout_s=s.timeout_s,
                rule_id=s.rule, packets=s.packets)

    def _count(self, request) -> pb.NatSessionCount:
        dp = self._dp()
        p = dp.nat_params_get()
        kw = self._filter(request)
        n = len(dp.nat_session_list(**kw)) if kw else p["sessions"]
        return pb.NatSessionCount(sessions=n, mappings=p["mappings"],
                                  max_sessions=p["max_sessions"])

    @rpc
    def CountSessions(self, request, context):
        return self._count(request)

    @rpc
    def FlushSessions(self, request, context):
        self._dp().nat_session_flush(**self._filter(request))
        return self._count(request)

