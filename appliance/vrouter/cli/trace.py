"""`vrouter trace` (the path of the next packets that match a filter, as the
dataplane handled them) and `vrouter explain` (the path a flow would take,
without sending anything)."""

from __future__ import annotations

import sys

from ..v1 import trace_pb2 as pb
from ..v1 import trace_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("trace", "trace the next packets matching a filter through the dataplane", rank=71)
group("explain", "what the router would do with a flow, without sending it", rank=72)


def print_steps(steps) -> None:
    width = max((len(s.stage) for s in steps), default=0)
    for s in steps:
        line = f"  {s.stage.ljust(width)}  {s.summary}"
        print(out.red(line) if s.stage == "drop" else line)


def verdict_text(verdict: str, reason: str, egress: str = "") -> str:
    if verdict == "dropped":
        return out.red(f"dropped ({reason})")
    return f"{verdict} out of {egress}" if verdict == "forwarded" and egress else verdict


@command("trace", "trace the next packets: trace [IFACE] -f 'udp port 53' -c 5",
         arg("interface", nargs="?", type=w.name, metavar="IFACE", complete=w.interfaces,
             help="only packets arriving here (default: any interface)"),
         arg("-f", "--filter", default="", metavar="EXPR",
             help="pcap-filter(7) expression (default: every packet)"),
         arg("-c", "--count", type=w.uint(1, 10000), default=1, metavar="N",
             help="how many packets (default 1)"),
         arg("-t", "--wait", type=w.seconds, default=10.0, metavar="SECONDS",
             help="wait at most this long for them (default 10)"))
def trace(ctx, a):
    req = pb.TraceRequest(interface=a.interface or "", filter=a.filter, count=a.count,
                          timeout_ms=int(a.wait * 1000))
    stream = ctx.api.stub(pb_grpc.TraceServiceStub).Trace(req, timeout=a.wait + ctx.api.timeout)
    try:
        for ev in stream:
            if ev.HasField("summary"):
                s = ev.summary
                if ctx.json:
                    out.emit_json({"summary": out.to_dict(s)}, stream=True)
                elif s.timed_out:
                    print(f"{s.traced} of {a.count} packets matched within {a.wait:g}s",
                          file=sys.stderr)
                if s.lost_records:
                    print(f"{s.lost_records} stages not recorded (trace ring full)",
                          file=sys.stderr)
                continue
            p = ev.packet
            if ctx.json:
                out.emit_json(out.to_dict(p), stream=True)
                continue
            print(f"packet {p.number} on {p.interface}: {verdict_text(p.verdict, p.reason)}")
            print_steps(p.steps)
    except KeyboardInterrupt:
        pass
    finally:
        stream.close()


def _endpoint(text: str) -> tuple[str, int]:
    host, sep, port = text.partition(":")
    if sep and not (port.isdigit() and 0 <= int(port) < 65536):
        raise w.BadValue(f"{text!r}: the port is not 0..65535")
    return w.ipv4(host), int(port) if sep else 0


@command("explain", "explain IFACE PROTO SRC[:PORT] DST[:PORT]: the path, without sending it",
         arg("interface", type=w.name, metavar="IFACE", complete=w.interfaces,
             help="where the packet arrives"),
         arg("protocol", metavar="PROTO", help="tcp, udp, icmp or a protocol number"),
         arg("source", type=_endpoint, metavar="SRC[:PORT]"),
         arg("destination", type=_endpoint, metavar="DST[:PORT]"),
         arg("--ttl", type=w.uint(0, 255), default=64, metavar="N",
             help="the packet's TTL (default 64)"),
         arg("--id", type=w.uint(0, 65535), default=0, metavar="N",
             help="icmp: the echo identifier"))
def explain(ctx, a):
    (src, sport), (dst, dport) = a.source, a.destination
    if a.protocol == "icmp":
        sport = a.id or sport
    r = ctx.api.stub(pb_grpc.TraceServiceStub).Explain(pb.ExplainRequest(
        interface=a.interface, protocol=a.protocol, source=src, destination=dst,
        source_port=sport, destination_port=dport, ttl=a.ttl))
    if ctx.json:
        return out.emit_json(out.to_dict(r))
    print_steps(r.steps)
    line = verdict_text(r.verdict, r.reason, r.egress_interface)
    if r.translated:
        line += f", translated to {r.translated}"
    print(line)

