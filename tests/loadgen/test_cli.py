"""`vrouter loadgen`: time-bound smoke runs of the real command, and its
answers to bad input (exit status 2, a clear message, nothing sent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "appliance")}


def vrouter(*args, timeout=60, **kw):
    return subprocess.run([sys.executable, "-m", "vrouter.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env=ENV, cwd=kw.pop("cwd", None), **kw)


def test_show_compiles_without_sending():
    r = vrouter("loadgen", "show", "imix", "--rate", "1mpps")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("latency") == 3 and "Ether/IP/UDP" in r.stdout
    r = vrouter("-j", "loadgen", "show", "imix_csit")
    assert [s["frame_bytes"] for s in json.loads(r.stdout)["streams"]] == [60, 566, 1514]


@pytest.mark.parametrize("args, match", [
    (["nonexistent_profile"], "no profile 'nonexistent_profile'"),
    (["imix", "--port", "af_packet:nope-if0"], "no network interface 'nope-if0'"),
    (["imix", "--rate", "150%"], "impossible"),
    (["imix", "--rate", "1000"], "give a unit"),
    (["imix", "--duration", "0"], "must be positive"),
    (["imix", "--tx", "4"], "ports 0..0"),
])
def test_bad_input_exits_2_before_sending(args, match):
    t = time.monotonic()
    r = vrouter("loadgen", "run", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert match in r.stderr
    assert time.monotonic() - t < 15      # no generator was started (it takes seconds)


def test_broken_profile_names_the_line_or_the_stream(tmp_path):
    p = tmp_path / "bad.py"
    p.write_text("from trex_stl_lib.api import *\n\ndef get_streams(direction=0):\n"
                 "    return [STLStream(packet=STLPktBuilder(pkt=Ether()/IPv5()/UDP()))]\n")
    r = vrouter("loadgen", "run", str(p))
    assert r.returncode == 2 and "bad.py line 4: get_streams() failed: NameError" in r.stderr, \
        r.stderr
    # scapy checks addresses only when it builds the frame: the stream is named
    p.write_text("from trex_stl_lib.api import *\n\ndef get_streams(direction=0):\n"
                 "    pkt = Ether()/IP(dst='1.2.3')/UDP()\n"
                 "    return [STLStream(name='s1', packet=STLPktBuilder(pkt=pkt))]\n")
    r = vrouter("loadgen", "run", str(p))
    assert r.returncode == 2 and "stream 's1'" in r.stderr and "cannot build" in r.stderr


@pytest.mark.needs_dpdk
def test_run_smoke(tmp_path):
    out = tmp_path / "run.json"
    r = vrouter("-j", "loadgen", "run", "imix", "--rate", "20kpps", "--duration", "1",
                "--hugepages", "no", "--out", str(out), timeout=60)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    res = doc["result"]
    assert res["tx_packets"] > 15000 and res["loss_ratio"] == 0
    assert [s["frame_bytes"] for s in res["streams"]] == [60, 590, 1514]
    assert res["latency"]["count"] == res["rx_packets"]
    assert json.loads(out.read_text())["result"]["tx_packets"] == res["tx_packets"]


@pytest.mark.needs_dpdk
def test_run_table_and_progress():
    r = vrouter("loadgen", "run", "udp_1pkt_simple", "--rate", "10kpps", "--duration", "1.2",
                "--hugepages", "no", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "loss %" in r.stdout and "total" in r.stdout
    assert "/1.2 s  tx" in r.stderr          # the progress line (not a terminal: lines)


@pytest.mark.needs_dpdk
def test_ctrl_c_stops_the_run_and_still_reports():
    p = subprocess.Popen([sys.executable, "-m", "vrouter.cli", "loadgen", "run", "udp_64b",
                          "--rate", "10kpps", "--duration", "60", "--hugepages", "no"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 130, err
    assert "(signal)" in out and "total" in out


@pytest.mark.needs_dpdk
def test_ndr_smoke(tmp_path):
    prefix = tmp_path / "ndr"
    r = vrouter("loadgen", "ndr", "udp_64b", "--hugepages", "no", "--max-rate", "100kpps",
                "--trial-duration", "0.3", "--out", str(prefix), timeout=90)
    assert r.returncode == 0, r.stderr
    doc = json.loads(prefix.with_suffix(".json").read_text())["ndr"]
    assert doc["ndr"]["found"] and doc["pdr"]["found"]
    assert doc["ndr"]["mpps"] == pytest.approx(0.1)         # a loop drops nothing
    assert prefix.with_suffix(".png").stat().st_size > 10000
    assert "NDR" in r.stdout and "PDR" in r.stdout
