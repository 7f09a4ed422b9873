"""NAT with real hosts: an inside host behind masquerade, a port forward to an
inside server, hairpinning, traceroute through the NAT, many flows."""

from __future__ import annotations

import subprocess
import textwrap

import grpc
import pytest

from e2e.conftest import sh
from vrouter.v1 import nat_pb2, nat_pb2_grpc

CONFIG = """
api: {{socket: {sock}}}
dataplane: {{workers: [1], hugepages: no, memory_mb: 256, mbufs: 16384, nat_sessions: 16384}}
interfaces:
  lan:  {{device: "net_af_packet40,iface=vn-r-in",  addresses: [10.30.0.1/24]}}
  dmz:  {{device: "net_af_packet41,iface=vn-r-srv", addresses: [10.31.0.1/24]}}
  wan:  {{device: "net_af_packet42,iface=vn-r-out", addresses: [203.0.113.1/24]}}
nat:
  source: [{{interface: wan, match: 10.30.0.0/15, masquerade: true}}]
  forwards:
    - {{proto: tcp, external: "203.0.113.1:8080", internal: "10.31.0.2:80"}}
demo_hosts:
  - {{name: vn-in,  interface: lan, address: 10.30.0.2/24, gateway: 10.30.0.1}}
  - {{name: vn-srv, interface: dmz, address: 10.31.0.2/24, gateway: 10.31.0.1}}
  - {{name: vn-out, interface: wan, address: 203.0.113.2/24}}
"""

# An HTTP server that answers with the client's address: who does it see?
WHOAMI = textwrap.dedent("""
    import http.server, socketserver, sys
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = self.client_address[0].encode()
            self.send_response(200); self.send_header("Content-Length", str(len(body)))
            self.end_headers(); self.wfile.write(body)
        def log_message(self, *a): pass
    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True; request_queue_size = 512
    S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
""")

UDP_ECHO = textwrap.dedent("""
    import socket, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2])))
    while True:
        data, peer = s.recvfrom(2048); s.sendto(data + b" from " + peer[0].encode(), peer)
""")

TCP_ECHO = textwrap.dedent("""
    import socketserver, sys
    class H(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                self.wfile.write(line)
    class S(socketserver.ThreadingTCPServer):
        daemon_threads = True; allow_reuse_address = True
    S((sys.argv[1], int(sys.argv[2])), H).serve_forever()
""")


@pytest.fixture
def nat_router(appliance, tmp_path):
    app = appliance(CONFIG.format(sock=tmp_path / "api.sock"))
    (tmp_path / "whoami.py").write_text(WHOAMI)
    (tmp_path / "udpecho.py").write_text(UDP_ECHO)
    (tmp_path / "tcpecho.py").write_text(TCP_ECHO)
    app.tmp = tmp_path
    app.channel = grpc.insecure_channel(f"unix:{tmp_path / 'api.sock'}")
    app.servers = []
    yield app
    for p in app.servers:
        p.kill()
        p.wait()


def serve(app, ns: str, script: str, addr: str, port: int) -> None:
    """A server in namespace `ns`, stopped with the test."""
    app.servers.append(subprocess.Popen(
        ["ip", "netns", "exec", ns, "python3", str(app.tmp / script), addr, str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def curl(ns: str, url: str) -> str:
    r = sh(ns, f"for i in $(seq 40); do curl -s -m 2 {url} && exit 0; sleep 0.1; done; exit 1",
           check=False)
    return r.stdout.strip()


def test_masquerade_http_udp_and_ping(nat_router):
    serve(nat_router, "vn-out", "whoami.py", "203.0.113.2", 80)
    # the outside server sees the router's address, not the inside host's
    assert curl("vn-in", "http://203.0.113.2/") == "203.0.113.1"
    serve(nat_router, "vn-out", "udpecho.py", "203.0.113.2", 5353)
    # the echo server may still be starting: ask again until it answers
    out = sh("vn-in", "python3 -c \"import socket; s=socket.socket(2,2); s.settimeout(0.2)\n"
                      "for i in range(50):\n"
                      "  s.sendto(b'hello', ('203.0.113.2', 5353))\n"
                      "  try: print(s.recv(100).decode()); break\n"
                      "  except TimeoutError: pass\"")
    assert out.stdout.strip() == "hello from 203.0.113.1"
    assert "3 received" in sh("vn-in", "ping -c 3 -i 0.2 -W 2 203.0.113.2").stdout
    stub = nat_pb2_grpc.NatServiceStub(nat_router.channel)
    sessions = list(stub.ListSessions(nat_pb2.NatSessionFilter(address="10.30.0.2")))
    protos = {s.protocol for s in sessions}
    assert protos == {"tcp", "udp", "icmp"}
    assert all(s.translated_source.startswith("203.0.113.1:") for s in sessions)


def test_port_forward_and_hairpin(nat_router):
    serve(nat_router, "vn-srv", "whoami.py", "10.31.0.2", 80)
    # from outside: the forward reaches the inside server, which sees the real client
    assert curl("vn-out", "http://203.0.113.1:8080/") == "203.0.113.2"
    # from inside, through the outside address (hairpinning): the server sees
    # the client's mapped outside address
    assert curl("vn-in", "http://203.0.113.1:8080/") == "203.0.113.1"


def test_traceroute_through_the_nat_shows_the_hops(nat_router):
    out = sh("vn-in", "traceroute -n -q 1 -w 2 203.0.113.2").stdout
    hops = [line.split()[1] for line in out.splitlines()[1:]]
    assert hops == ["10.30.0.1", "203.0.113.2"], out


@pytest.mark.capacity("2000 NAT sessions")
def test_thousands_of_concurrent_flows_all_complete(nat_router):
    serve(nat_router, "vn-out", "whoami.py", "203.0.113.2", 80)
    assert curl("vn-in", "http://203.0.113.2/") == "203.0.113.1"
    script = textwrap.dedent("""
        import concurrent.futures, http.client
        def get(i):
            c = http.client.HTTPConnection("203.0.113.2", 80, timeout=10)
            c.request("GET", "/")
            port = c.sock.getsockname()[1]
            body = c.getresponse().read()
            c.close()
            return port, body
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            got = list(ex.map(get, range(2000)))
        print(sum(1 for _, b in got if b == b"203.0.113.1"), len({p for p, _ in got}))
    """)
    (nat_router.tmp / "many.py").write_text(script)
    stub = nat_pb2_grpc.NatServiceStub(nat_router.channel)

    def created() -> int:
        return sum(r.sessions_created for r in stub.ListRules(nat_pb2.NatRuleListRequest()).rules)
    # no earlier session for a reused source port to reopen
    assert stub.FlushSessions(nat_pb2.NatSessionFilter(protocol="tcp")).sessions == 0
    before = created()
    out = sh("vn-in", f"python3 {nat_router.tmp / 'many.py'}", timeout=300)
    ok, tuples = map(int, out.stdout.split())
    assert ok == 2000
    # one session per distinct 4-tuple: the server closes first, so the client
    # may reuse a source port at once, and that SYN reopens the closing session
    # (as Linux conntrack does) instead of creating one
    assert created() - before == tuples
    count = stub.CountSessions(nat_pb2.NatSessionFilter(protocol="tcp"))
    assert count.sessions > 0
    left = stub.FlushSessions(nat_pb2.NatSessionFilter(protocol="tcp"))
    assert left.sessions == 0


def test_established_connection_survives_a_dataplane_restart(nat_router):
    """Sessions live in the dataplane, so a killed one loses them; the inside
    host's next segment makes a new one, and since the mapping keeps the
    inside port when it is free, it is the same outside port: the
    connection goes on, unknown to the server."""
    import os
    import signal
    import time
    serve(nat_router, "vn-out", "tcpecho.py", "203.0.113.2", 7)
    sh("vn-out", "for i in $(seq 50); do ss -ltn | grep -q ':7 ' && exit 0; sleep 0.1; done; "
                 "exit 1")
    client = subprocess.Popen(["ip", "netns", "exec", "vn-in", "python3", "-c", textwrap.dedent("""
        import socket
        t = socket.create_connection(("203.0.113.2", 7), timeout=20)
        t.sendall(b"one\\n"); print(t.recv(100).decode().strip(), t.getsockname()[1], flush=True)
        input()
        t.sendall(b"two\\n"); print(t.recv(100).decode().strip(), flush=True)
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        first, port = client.stdout.readline().split()
        assert first == "one"
        stub = nat_pb2_grpc.NatServiceStub(nat_router.channel)

        def mapped() -> list[str]:
            return [s.translated_source for s in stub.ListSessions(
                nat_pb2.NatSessionFilter(protocol="tcp", port=int(port)))]
        assert mapped() == [f"203.0.113.1:{port}"]  # the inside port kept
        old, restarts = nat_router.process.pid, nat_router.restarts
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while nat_router.restarts == restarts and time.monotonic() < deadline:
            time.sleep(0.05)
        assert nat_router.restarts == restarts + 1 and nat_router.process.pid != old
        assert mapped() == []  # the session went with the old dataplane
        out, _ = client.communicate("\n", timeout=30)
        assert out.strip() == "two"
        assert mapped() == [f"203.0.113.1:{port}"]  # remade, the same mapping
    finally:
        client.kill()
