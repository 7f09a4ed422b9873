"""`vrouter capture`: packets at the router's interfaces, with a tcpdump-style
filter, to a pcapng file (tcpdump -r, Wireshark) or shown as they come."""

from __future__ import annotations

import datetime
import sys

import grpc

from ..pcapng import INBOUND, OUTBOUND, PcapNgWriter
from ..v1 import capture_pb2 as pb
from ..v1 import capture_pb2_grpc as pb_grpc
from . import arg, command, group
from . import output as out
from . import words as w

group("capture", "capture packets at interfaces (pcap-filter, pcapng)", rank=70)

DIRECTIONS = {"both": pb.CAPTURE_DIRECTION_BOTH, "rx": pb.CAPTURE_DIRECTION_RX,
              "tx": pb.CAPTURE_DIRECTION_TX}
PCAPNG_DIR = {pb.CAPTURE_DIRECTION_RX: INBOUND, pb.CAPTURE_DIRECTION_TX: OUTBOUND}


def summary_line(p: pb.CapturedPacket) -> str:
    import scapy.layers.inet  # noqa: F401 (binds IP, TCP, UDP, ICMP under Ether)
    from scapy.layers.l2 import Ether
    t = datetime.datetime.fromtimestamp(p.time_ns / 1e9).strftime("%H:%M:%S.%f")
    way = "<" if p.direction == pb.CAPTURE_DIRECTION_RX else ">"
    return f"{t} {p.interface} {way} {Ether(p.data).summary()}, length {p.original_length}"


@command("capture", "capture packets: capture lan0 [wan0] -f 'tcp port 80' -w out.pcapng",
         arg("interfaces", nargs="+", type=w.name, metavar="IFACE", complete=w.interfaces),
         arg("-f", "--filter", default="", metavar="EXPR",
             help="pcap-filter(7) expression, as tcpdump takes (default: every packet)"),
         arg("-w", "--write", metavar="FILE",
             help="write pcapng to FILE ('-': stdout) instead of showing the packets"),
         arg("-d", "--direction", choices=sorted(DIRECTIONS), default="both",
             help="received (rx), sent (tx) or both (default)"),
         arg("-c", "--count", type=w.uint(1, 1 << 31), metavar="N", help="stop after N packets"),
         arg("--max-bytes", type=w.uint(1, 1 << 62), metavar="BYTES",
             help="stop after this many captured bytes"),
         arg("--duration", type=w.seconds, metavar="SECONDS", help="stop after this long"),
         arg("-s", "--snaplen", type=w.uint(0, 65535), default=0, metavar="BYTES",
             help="keep this much of each packet (default 0: all of it)"))
def capture(ctx, a):
    req = pb.CaptureRequest(interfaces=a.interfaces, direction=DIRECTIONS[a.direction],
                            filter=a.filter, count=a.count or 0, max_bytes=a.max_bytes or 0,
                            duration_ms=int((a.duration or 0) * 1000), snaplen=a.snaplen)
    call = pb_grpc.CaptureServiceStub(ctx.api.channel).Capture(req)
    try:
        if "capture-started" not in dict(call.initial_metadata()):
            list(call)  # refused: raises the error
    except grpc.RpcError as e:
        raise ctx.api.error(e) from None
    if not ctx.json:
        print(f"capturing on {', '.join(a.interfaces)}"
              + (f", filter {a.filter!r}" if a.filter else ""), file=sys.stderr, flush=True)
    f = None
    if a.write:
        f = sys.stdout.buffer if a.write == "-" else open(a.write, "wb")  # noqa: SIM115
        writer = PcapNgWriter(f)
    n, why = 0, "interrupted"
    try:
        for ev in call:
            if ev.HasField("summary"):
                why = ev.summary.stopped_by or why
                if ev.summary.lost:
                    print(f"{ev.summary.lost} packets not captured (capture ring full)",
                          file=sys.stderr)
                break
            p, n = ev.packet, n + 1
            if f is not None:
                writer.write(p.data, p.time_ns, p.interface, PCAPNG_DIR.get(p.direction, 0),
                             p.original_length, a.snaplen)
                writer.flush()
            elif ctx.json:
                out.emit_json({"time_ns": p.time_ns, "interface": p.interface,
                               "direction": "rx" if p.direction == pb.CAPTURE_DIRECTION_RX
                               else "tx", "length": p.original_length,
                               "data": p.data.hex()}, stream=True)
            else:
                print(summary_line(p), flush=True)
    except KeyboardInterrupt:
        pass
    except grpc.RpcError as e:
        raise ctx.api.error(e) from None
    finally:
        call.cancel()
        if f is not None and f is not sys.stdout.buffer:
            f.close()
    if not ctx.json:
        print(f"{n} packet{'s' * (n != 1)} captured ({why})", file=sys.stderr)
