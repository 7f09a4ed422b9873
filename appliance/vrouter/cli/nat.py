"""`vrouter nat ...`: source NAT, port forwards, 1:1 mappings, and sessions."""

from __future__ import annotations

from ..v1 import nat_pb2 as pb
from ..v1 import nat_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w
from .client import UsageError

group("nat", "NAT rules and connection-tracking sessions", rank=45)

KINDS = {"source": pb.NAT_KIND_SOURCE, "forward": pb.NAT_KIND_FORWARD,
         "static": pb.NAT_KIND_STATIC}


def _api(ctx):
    return ctx.api.stub(pb_grpc.NatServiceStub)


def _endpoint(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise w.BadValue(f"{text!r} is not address:port (e.g. 192.0.2.1:8080)")
    return w.ipv4(host), int(port)


def _ports(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    if not (sep and lo.isdigit() and hi.isdigit() and 0 < int(lo) <= int(hi) < 65536):
        raise w.BadValue(f"{text!r} is not a port range like 1024-65535")
    return int(lo), int(hi)


def _check(v: dict) -> None:
    if v["masquerade"] and v["pool"]:
        raise UsageError("masquerade and pool: one or the other")


ADD_WORDS = w.Words(
    w.W("match", w.prefix, metavar="PREFIX", help="source: the inside sources"),
    w.W("out", w.name, metavar="IFACE", help="source: the egress interface",
        complete=w.interfaces),
    w.flag("masquerade", "masquerade", help="source: to the interface's address"),
    w.W("pool", w.gateways, metavar="A[,B...]", help="source: to these addresses"),
    w.W("ports", _ports, metavar="LO-HI", help="source: outside ports (1024-65535)"),
    w.W("proto", str, metavar="tcp|udp", help="forward: the protocol"),
    w.W("external", str, metavar="ADDR[:PORT]", help="forward/static: the outside side"),
    w.W("internal", str, metavar="ADDR[:PORT]", help="forward/static: the inside side"),
    w.W("vrf", w.name, metavar="V", help="forward/static: the VRF (default: default)",
        complete=w.vrfs),
    check=_check)


def _rule(kind: str, a) -> pb.NatRule:
    r = pb.NatRule(kind=KINDS[kind], vrf=a.vrf or "")
    if kind == "source":
        if not a.match or not a.out or not (a.masquerade or a.pool):
            raise UsageError("source: needs match PREFIX, out IFACE, and masquerade or pool")
        r.interface, r.match, r.masquerade = a.out, a.match, bool(a.masquerade)
        r.pool.extend(a.pool or [])
        if a.ports:
            r.port_low, r.port_high = a.ports
        return r
    if not a.external or not a.internal:
        raise UsageError(f"{kind}: needs external and internal")
    try:
        if kind == "forward":
            if a.proto not in ("tcp", "udp"):
                raise UsageError("forward: needs proto tcp|udp")
            r.protocol = a.proto
            r.external, r.external_port = _endpoint(a.external)
            r.internal, r.internal_port = _endpoint(a.internal)
        else:
            r.external, r.internal = w.ipv4(a.external), w.ipv4(a.internal)
    except w.BadValue as e:
        raise UsageError(f"{kind}: {e}") from None
    return r


def _rule_text(r: pb.NatRule) -> str:
    if r.kind == pb.NAT_KIND_SOURCE:
        to = "masquerade" if r.masquerade else "pool " + ",".join(r.pool)
        return f"{r.match} out {r.interface} -> {to} ports {r.port_low}-{r.port_high}"
    if r.kind == pb.NAT_KIND_FORWARD:
        return (f"{r.protocol} {r.external}:{r.external_port} -> "
                f"{r.internal}:{r.internal_port}")
    return f"{r.external} <-> {r.internal}"


@command("nat show", "list the NAT rules")
def show(ctx, a):
    rules = _api(ctx).ListRules(pb.NatRuleListRequest()).rules
    if ctx.json:
        return out.emit_json([out.to_dict(r) for r in rules])
    names = {v: k for k, v in KINDS.items()}
    out.table(["ID", "KIND", "VRF", "RULE", "SESSIONS"],
              [(r.id, names[r.kind], r.vrf, _rule_text(r), r.sessions_created) for r in rules])


@command("nat add", "add a rule: source | forward | static",
         arg("kind", choices=list(KINDS), metavar="source|forward|static"), words=ADD_WORDS)
def add(ctx, a):
    resp = _api(ctx).AddRule(pb.NatRuleAddRequest(rule=_rule(a.kind, a)))
    if ctx.json:
        out.emit_json(out.to_dict(resp.rule))


@command("nat del", "delete a rule by id (its sessions go with it)",
         arg("id", type=w.uint(1, 1 << 31), metavar="ID"))
def delete(ctx, a):
    _api(ctx).DeleteRule(pb.NatRuleDeleteRequest(id=a.id))
    if ctx.json:
        out.emit_json({})


FILTER = w.Words(
    w.W("vrf", w.name, metavar="V", complete=w.vrfs),
    w.W("proto", str, metavar="tcp|udp|icmp"),
    w.W("addr", w.ipv4, metavar="A", help="any address of the session"),
    w.W("port", w.uint(1, 65535), metavar="N", help="any port of the session"),
    w.W("rule", w.uint(1, 1 << 31), metavar="ID"))


def _filter(a) -> pb.NatSessionFilter:
    return pb.NatSessionFilter(vrf=a.vrf or "", protocol=a.proto or "", address=a.addr or "",
                               port=a.port or 0, rule_id=a.rule or 0)


@command("nat sessions", "list the connection-tracking sessions", words=FILTER)
def sessions(ctx, a):
    rows = list(_api(ctx).ListSessions(_filter(a)))
    if ctx.json:
        return out.emit_json([out.to_dict(s) for s in rows])
    out.table(["PROTO", "INSIDE", "DESTINATION", "TRANSLATED", "STATE", "IDLE", "RULE"],
              [(s.protocol, s.inside, s.destination,
                f"{s.translated_source} -> {s.translated_destination}", s.state,
                f"{s.age_ms / 1000:.0f}/{s.timeout_s}s", s.rule_id) for s in rows])


@command("nat count", "count the sessions (matching the filter)", words=FILTER)
def count(ctx, a):
    c = _api(ctx).CountSessions(_filter(a))
    if ctx.json:
        return out.emit_json(out.to_dict(c))
    print(f"sessions {c.sessions} (of at most {c.max_sessions}), mappings {c.mappings}")


@command("nat flush", "delete sessions (matching the filter)", words=FILTER)
def flush(ctx, a):
    c = _api(ctx).FlushSessions(_filter(a))
    if ctx.json:
        return out.emit_json(out.to_dict(c))
    print(f"sessions left: {c.sessions}")
