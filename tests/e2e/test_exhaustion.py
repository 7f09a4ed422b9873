"""A full NAT session table with real hosts: new flows are refused and
counted, the flows already there go on, the API keeps answering, and room
made by a flush is used again."""

from __future__ import annotations

import json
import subprocess
import textwrap

import grpc
import pytest

from e2e.conftest import sh
from e2e.test_nat import CONFIG, TCP_ECHO, UDP_ECHO, serve
from vrouter.v1 import nat_pb2, nat_pb2_grpc, stats_pb2, stats_pb2_grpc

SESSIONS = 32  # the smallest table the dataplane takes (--nat-sessions)

# Inside: one TCP connection, then UDP flows from `n` source ports, one
# datagram each; which got an answer; then the TCP connection once more.
CLIENT = textwrap.dedent("""
    import json, select, socket, sys, time
    n = int(sys.argv[1])
    t = socket.create_connection(("203.0.113.2", 7), timeout=5)
    t.sendall(b"before\\n"); before = t.recv(100).decode()
    socks = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(("203.0.113.2", 9)); s.send(b"flow %d" % i); socks.append(s)
    answered, deadline = set(), time.time() + 3
    while time.time() < deadline and len(answered) < n:
        ready, _, _ = select.select([s for s in socks if s not in answered], [], [], 0.2)
        for s in ready:
            s.recv(100); answered.add(s)
    print(json.dumps({"before": before, "udp_answered": len(answered)}), flush=True)
    input()  # the test looks at the table now
    t.sendall(b"after\\n"); after = t.recv(100).decode()
    print(json.dumps({"after": after}))
""")


@pytest.fixture
def small_nat(appliance, tmp_path):
    text = CONFIG.replace("nat_sessions: 16384", f"nat_sessions: {SESSIONS}")
    app = appliance(text.format(sock=tmp_path / "api.sock"))
    for name, src in (("tcpecho.py", TCP_ECHO), ("udpecho.py", UDP_ECHO), ("client.py", CLIENT)):
        (tmp_path / name).write_text(src)
    app.tmp = tmp_path
    app.channel = grpc.insecure_channel(f"unix:{tmp_path / 'api.sock'}")
    app.servers = []
    yield app
    app.channel.close()
    for p in app.servers:
        p.kill()
        p.wait()


def dropped_table_full(app) -> int:
    stub = stats_pb2_grpc.StatsServiceStub(app.channel)
    return sum(i.counters["drop_nat_table_full"]
               for i in stub.Get(stats_pb2.StatsRequest()).interfaces)


def test_full_table_refuses_new_flows_and_keeps_the_old(small_nat):
    tmp = small_nat.tmp
    serve(small_nat, "vn-out", "tcpecho.py", "203.0.113.2", 7)
    serve(small_nat, "vn-out", "udpecho.py", "203.0.113.2", 9)
    sh("vn-out", "for i in $(seq 50); do ss -ltn | grep -q ':7 ' && ss -lun | grep -q ':9 ' "
                 "&& exit 0; sleep 0.1; done; exit 1")
    nat = nat_pb2_grpc.NatServiceStub(small_nat.channel)
    dropped = dropped_table_full(small_nat)
    flows = 100
    client = subprocess.Popen(
        ["ip", "netns", "exec", "vn-in", "python3", str(tmp / "client.py"), str(flows)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        mid = json.loads(client.stdout.readline())  # the client's own timeouts bound this
        assert mid["before"] == "before\n"
        # the TCP flow holds one session; the first UDP flows take the rest
        assert mid["udp_answered"] == SESSIONS - 1
        # the API answers with the table full, and shows it full
        assert nat.CountSessions(nat_pb2.NatSessionFilter()).sessions == SESSIONS
        # every refused flow's datagram was counted, nothing else
        assert dropped_table_full(small_nat) - dropped == flows - (SESSIONS - 1)
        # the established flow goes on
        out, _ = client.communicate("\n", timeout=10)  # what follows the first line
        assert json.loads(out) == {"after": "after\n"}
    finally:
        client.kill()
    # room made by a flush is used by new flows
    assert nat.FlushSessions(nat_pb2.NatSessionFilter(protocol="udp")).sessions == 0
    got = sh("vn-in", "python3 -c \"import socket; s = socket.socket(2, 2); "
                      "s.settimeout(3); s.sendto(b'x', ('203.0.113.2', 9)); "
                      "print(s.recv(100).decode())\"").stdout
    assert got.strip() == "x from 203.0.113.1"
