"""Capture, trace and explain on a running appliance with real hosts: the
capture file tcpdump reads holds exactly the frames sent; a trace names the
drop reason of a TTL-1 packet and the NAT rule of a masqueraded one; explain
says what real traffic then does."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import grpc
import pytest
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import PcapNgReader

from e2e.conftest import sh
from vrouter.v1 import stats_pb2, stats_pb2_grpc, trace_pb2, trace_pb2_grpc

CONFIG = """
api: {{socket: {sock}}}
dataplane: {{workers: [1], hugepages: no, memory_mb: 256, mbufs: 8192}}
interfaces:
  lan: {{device: "net_af_packet60,iface=dg-r-in",  addresses: [10.60.0.1/24]}}
  wan: {{device: "net_af_packet61,iface=dg-r-out", addresses: [198.51.100.1/24]}}
nat:
  source: [{{interface: wan, match: 10.60.0.0/24, masquerade: true}}]
demo_hosts:
  - {{name: dg-in,  interface: lan, address: 10.60.0.2/24, gateway: 10.60.0.1}}
  - {{name: dg-out, interface: wan, address: 198.51.100.2/24}}
"""


@pytest.fixture
def router(appliance, tmp_path):
    app = appliance(CONFIG.format(sock=tmp_path / "api.sock"))
    app.sock = tmp_path / "api.sock"
    app.channel = grpc.insecure_channel(f"unix:{app.sock}")
    # both hosts' MACs known: nothing is held for ARP below
    sh("dg-in", "ping -c 1 -W 2 198.51.100.2")
    global to_router
    to_router = Ether(src=host_mac("dg-in"), dst=mac("dg-r-in"))
    yield app
    app.channel.close()


def mac(ifname: str) -> str:
    out = subprocess.run(["ip", "-j", "link", "show", ifname], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)[0]["address"]


def host_mac(ns: str) -> str:
    return json.loads(sh(ns, "ip -j link show eth0").stdout)[0]["address"]


to_router = Ether()  # from dg-in to the router's lan port: set by the fixture


def send_frames(ns: str, frames: list[bytes]) -> None:
    """Sends the exact frames out of the host's eth0."""
    hexes = ",".join(repr(f.hex()) for f in frames)
    code = ("from scapy.all import sendp, conf; conf.verb = 0\n"
            f"for h in [{hexes}]: sendp(bytes.fromhex(h), iface='eth0')")
    subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], check=True,
                   timeout=30)


def vrouter(app, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "vrouter.cli", "--api", f"unix:{app.sock}",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **kw)


def udp_frame(payload: bytes, ttl: int = 64, sport: int = 4000, dport: int = 7777) -> bytes:
    return bytes(to_router / IP(src="10.60.0.2", dst="198.51.100.2", ttl=ttl, id=sport) /
                 UDP(sport=sport, dport=dport) / Raw(payload))


def test_capture_file_read_by_tcpdump_holds_the_exact_frames(router, tmp_path):
    out = tmp_path / "lan.pcapng"
    p = vrouter(router, "capture", "lan", "-d", "rx", "-f", "udp port 7777", "-c", "3",
                "-w", str(out))
    assert p.stderr.readline().startswith("capturing on lan")
    sent = [udp_frame(b"one"), udp_frame(b"two" * 100), udp_frame(b"three", sport=4001)]
    # a frame the filter leaves out, between the others
    send_frames("dg-in", sent[:1] + [udp_frame(b"other", dport=7778)] + sent[1:])
    assert p.wait(timeout=20) == 0, p.stderr.read()
    assert "3 packets captured (count)" in p.stderr.read()

    # tcpdump reads it: every byte of every frame, in order
    r = subprocess.run(["tcpdump", "-r", str(out), "-nn", "-xx"], capture_output=True,
                       text=True, check=True)
    frames, cur = [], []
    for line in r.stdout.splitlines():
        if line.startswith("\t0x"):
            cur.append(line.split(":", 1)[1].replace(" ", ""))
        elif cur:
            frames.append(bytes.fromhex("".join(cur)))
            cur = []
    if cur:
        frames.append(bytes.fromhex("".join(cur)))
    assert frames == sent
    assert r.stdout.count("UDP") == 3 and "10.60.0.2.4000 > 198.51.100.2.7777" in r.stdout

    # the pcapng says where and which way (Wireshark shows both)
    pkts = list(PcapNgReader(str(out)))
    assert [bytes(k) for k in pkts] == sent
    assert {(k.sniffed_on, k.direction) for k in pkts} == {("lan", 1)}


def test_capture_both_sides_of_the_nat(router, tmp_path):
    out = tmp_path / "both.pcapng"
    p = vrouter(router, "capture", "lan", "wan", "-f", "udp port 7777", "-c", "2",
                "-w", str(out))
    assert p.stderr.readline().startswith("capturing on lan, wan")
    frame = udp_frame(b"natted")
    send_frames("dg-in", [frame])
    assert p.wait(timeout=20) == 0, p.stderr.read()
    rx_lan, tx_wan = list(PcapNgReader(str(out)))
    assert (rx_lan.sniffed_on, rx_lan.direction, bytes(rx_lan)) == ("lan", 1, frame)
    assert (tx_wan.sniffed_on, tx_wan.direction) == ("wan", 2)
    assert tx_wan[IP].src == "198.51.100.1" and tx_wan[IP].ttl == 63
    assert tx_wan[UDP].dport == 7777 and bytes(tx_wan[Raw]) == b"natted"
    assert tx_wan[Ether].dst == host_mac("dg-out")


def test_capture_refuses_a_bad_filter_and_an_unknown_interface(router):
    p = vrouter(router, "capture", "lan", "-f", "udp port")
    assert p.wait(timeout=20) == 1
    err = p.stderr.read()
    assert "INVALID_ARGUMENT" in err and "udp port" in err and "syntax error" in err
    p = vrouter(router, "capture", "nope")
    assert p.wait(timeout=20) == 1
    assert "NOT_FOUND" in p.stderr.read()


def start_trace(router, **req):
    """Starts a trace; returns once the dataplane traces, and the events later."""
    stub = trace_pb2_grpc.TraceServiceStub(router.channel)
    call = stub.Trace(trace_pb2.TraceRequest(**req), timeout=30)
    assert "trace-started" in dict(call.initial_metadata())
    events: list = []
    t = threading.Thread(target=lambda: events.extend(call), daemon=True)
    t.start()
    return t, events


def test_trace_names_ttl_drop_and_the_nat_rule(router):
    t, events = start_trace(router, interface="lan", filter="udp port 7777", count=2)
    send_frames("dg-in", [udp_frame(b"dies", ttl=1), udp_frame(b"lives", sport=4002)])
    t.join(30)
    packets = [e.packet for e in events if e.HasField("packet")]
    summary = events[-1].summary
    assert (summary.traced, summary.timed_out, summary.lost_records) == (2, False, 0)

    dead, live = packets
    assert (dead.number, dead.interface, dead.verdict, dead.reason) == \
        (1, "lan", "dropped", "drop_ttl_expired")
    assert [s.stage for s in dead.steps] == ["rx", "ip", "route", "icmp-error", "drop"]
    assert dead.steps[3].details["type"] == "11"

    assert (live.verdict, live.reason) == ("forwarded", "")
    stages = [s.stage for s in live.steps]
    assert stages == ["rx", "ip", "route", "forward", "nat", "neighbor", "tx"]
    nat = live.steps[4]
    assert nat.nat_rule.match == "10.60.0.0/24" and nat.nat_rule.masquerade
    assert nat.nat_rule.interface == "wan" and nat.nat_rule.id > 0
    assert nat.details["new_session"] == "true" and nat.details["phase"] == "post-routing"
    assert live.steps[3].details == {"interface": "wan", "ttl": "63"}
    assert live.steps[-1].details == {"interface": "wan"}

    # the CLI shows the same
    p = vrouter(router, "trace", "lan", "-f", "udp port 7777", "-t", "20")
    time.sleep(1.0)  # the CLI has connected and the trace runs
    send_frames("dg-in", [udp_frame(b"cli", ttl=1)])
    stdout, stderr = p.communicate(timeout=30)
    assert p.returncode == 0, stderr
    assert "dropped (drop_ttl_expired)" in stdout and "time exceeded" in stdout


def counters(router, name: str) -> dict[str, int]:
    stub = stats_pb2_grpc.StatsServiceStub(router.channel)
    return dict(stub.Get(stats_pb2.StatsRequest(interface=name)).interfaces[0].counters)


def explain(router, **req) -> trace_pb2.ExplainResponse:
    stub = trace_pb2_grpc.TraceServiceStub(router.channel)
    return stub.Explain(trace_pb2.ExplainRequest(interface="lan", **req))


def test_explain_agrees_with_real_traffic(router, tmp_path):
    # a masqueraded UDP flow: out of wan, source now the router's, port kept
    e = explain(router, protocol="udp", source="10.60.0.2", destination="198.51.100.2",
                source_port=5555, destination_port=9999)
    assert (e.verdict, e.egress_interface) == ("forwarded", "wan")
    assert e.translated == "198.51.100.1:5555 > 198.51.100.2:9999"
    nat = [s for s in e.steps if s.stage == "nat"]
    assert len(nat) == 1 and nat[0].nat_rule.match == "10.60.0.0/24"
    neighbor = next(s for s in e.steps if s.stage == "neighbor")
    assert neighbor.details["mac"] == host_mac("dg-out")

    # real traffic: the server sees the translated source explain named
    srv = tmp_path / "udpsrv.py"
    srv.write_text("import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   "s.bind(('198.51.100.2', 9999)); s.settimeout(10)\n"
                   "d, peer = s.recvfrom(100); print(f'{peer[0]}:{peer[1]}')\n")
    server = subprocess.Popen(["ip", "netns", "exec", "dg-out", sys.executable, str(srv)],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    sh("dg-in", f"{sys.executable} -c \"import socket; s = socket.socket(socket.AF_INET, "
       "socket.SOCK_DGRAM); s.bind(('10.60.0.2', 5555)); "
       "s.sendto(b'hi', ('198.51.100.2', 9999))\"")
    seen = server.communicate(timeout=15)[0].strip()
    assert seen == e.translated.split(" > ")[0]
    # and now the session exists, explain says so
    e2 = explain(router, protocol="udp", source="10.60.0.2", destination="198.51.100.2",
                 source_port=5555, destination_port=9999)
    nat2 = [s for s in e2.steps if s.stage == "nat"]
    assert nat2[0].details["new_session"] == "false" and e2.translated == e.translated

    # TTL 1: dropped, counted as explain said
    e = explain(router, protocol="udp", source="10.60.0.2", destination="198.51.100.2",
                source_port=5555, destination_port=9999, ttl=1)
    assert (e.verdict, e.reason) == ("dropped", "drop_ttl_expired")
    check_counted(router, e.reason, [udp_frame(b"x", ttl=1)])

    # no route: dropped, counted
    e = explain(router, protocol="udp", source="10.60.0.2", destination="192.0.2.9",
                source_port=1, destination_port=2)
    assert (e.verdict, e.reason) == ("dropped", "drop_no_route")
    frame = bytes(to_router / IP(src="10.60.0.2", dst="192.0.2.9") / UDP(sport=1, dport=2))
    check_counted(router, e.reason, [frame])

    # martian source
    e = explain(router, protocol="icmp", source="127.0.0.5", destination="198.51.100.2")
    assert (e.verdict, e.reason) == ("dropped", "drop_martian_src")
    frame = bytes(to_router / IP(src="127.0.0.5", dst="198.51.100.2") / ICMP())
    check_counted(router, e.reason, [frame])

    # the router itself: a ping is answered
    e = explain(router, protocol="icmp", source="10.60.0.2", destination="10.60.0.1")
    assert e.verdict == "local" and "answered" in e.steps[-1].summary
    sh("dg-in", "ping -c 1 -W 2 10.60.0.1")


def check_counted(router, reason: str, frames: list[bytes]) -> None:
    before = counters(router, "lan").get(reason, 0)
    send_frames("dg-in", frames)
    deadline = time.monotonic() + 5
    while counters(router, "lan").get(reason, 0) < before + len(frames) and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert counters(router, "lan").get(reason, 0) == before + len(frames)


def test_explain_refuses_bad_input(router):
    stub = trace_pb2_grpc.TraceServiceStub(router.channel)
    for req, words in [
        (dict(interface="lan", protocol="udp", source="10.60.0.x", destination="1.1.1.1",
              source_port=1, destination_port=1), "source"),
        (dict(interface="lan", protocol="sctpx", source="10.60.0.2", destination="1.1.1.1"),
         "protocol"),
        (dict(interface="nope", protocol="icmp", source="10.60.0.2", destination="1.1.1.1"),
         "interface nope"),
        (dict(interface="lan", protocol="tcp", source="10.60.0.2", destination="1.1.1.1"),
         "source_port"),
        (dict(interface="lan", protocol="icmp", source="10.60.0.2", destination="1.1.1.1",
              ttl=300), "ttl"),
    ]:
        with pytest.raises(grpc.RpcError) as ei:
            stub.Explain(trace_pb2.ExplainRequest(**req))
        assert ei.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
        assert words in ei.value.details()


def test_capture_shows_packets_as_they_come(router):
    p = vrouter(router, "capture", "wan", "-d", "tx", "-f", "udp", "-c", "1")
    assert p.stderr.readline().startswith("capturing on wan")
    send_frames("dg-in", [udp_frame(b"shown")])
    stdout, stderr = p.communicate(timeout=20)
    assert p.returncode == 0, stderr
    (line,) = stdout.splitlines()
    assert " wan > " in line and "198.51.100.1:4000 > 198.51.100.2:7777" in line
    assert line.endswith(f"length {len(udp_frame(b'shown'))}")
