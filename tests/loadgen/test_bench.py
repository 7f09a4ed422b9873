"""`vrouter bench --quick`: the whole benchmark pipeline on a few
contenders (time-bound; the numbers are not checked, a busy machine makes
them anything)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.needs_dpdk


def _found_or_disturbed(c: dict, which: str = "ndr") -> bool:
    """An NDR was found, or every trial that failed it was one the harness
    saw disturbed (another process had the CPUs: this machine is shared)."""
    search = c["ndr_search"]
    if search[which]["found"]:
        return True
    failed = [t for t in search["trials"]
              if not t["unpaced_probe"] and not t[f"passes_{which}"]]
    return bool(failed) and all((t.get("extra") or {}).get("disturbed") for t in failed)


def test_quick_bench(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    t = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-m", "vrouter.cli", "bench", "--quick", "--only",
         "vrouter,vrouter-nat,vrouter-nat-setup,kernel", "--trial-duration", "0.2",
         "--resolution", "0.1", "--no-probe", "--hugepages", "768", "--quiet-wait", "0.5",
         "--results-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT / "appliance")})
    elapsed = time.monotonic() - t
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    doc = json.loads(next(tmp_path.glob("ndr-*.json")).read_text())
    by = {c["name"]: c for c in doc["contenders"]}
    assert list(by) == ["ceiling", "vrouter", "vrouter-nat", "vrouter-nat-setup",
                        "ceiling-veth", "kernel"]
    for name in by:
        assert by[name]["status"] == "ok", by[name].get("reason")
    for name in ("ceiling", "vrouter", "vrouter-nat"):
        assert _found_or_disturbed(by[name]), (name, by[name]["ndr_search"]["trials"])
        assert by[name]["saturated"]["rx_mpps"] > 0
    vr = by["vrouter"]
    assert "port_a.ip_forwarded" in vr["saturated"]["dut_counters"]
    # the router's own cycle accounting came along with its counters
    assert vr["saturated"]["dut_counters"]["worker.packets"] >= \
        vr["saturated"]["dut_counters"]["port_a.rx_packets"]
    assert vr["saturated"]["router_cycles_per_packet"] > 0
    # NAT: the 100,000 sessions were established before the search, and
    # the search created none
    # (exactly 100,000 as a rule; a single extra session has been seen once
    # in many runs on a loaded machine, hence the 0.01% margin)
    nat = by["vrouter-nat"]
    assert 100_000 <= nat["established"]["sessions_created"] <= 100_010
    for tr in nat["ndr_search"]["trials"]:
        assert tr["extra"]["dut_counters"].get("port_a.nat_sessions_created", 0) <= 10
    # the setup rate: each trial started from an empty table, and every
    # packet the router forwarded opened a session
    setup = by["vrouter-nat-setup"]["new_sessions"]["saturated"]
    assert setup["sessions_created"] > 1000
    assert setup["new_per_received"] == pytest.approx(1.0, abs=0.001)
    assert setup["sessions_per_s"] > 0 and setup["router_cycles_per_session"] > 0
    assert doc["nat"]["setup_sessions_per_s"] > 0 and "nat_rate_target_met" in doc["nat"] \
        or not by["vrouter"]["ndr_search"]["ndr"]["found"]
    assert doc["machine"]["cpus_online"] >= 2 and doc["conditions"]["quick"]
    md = next(tmp_path.glob("ndr-*.md")).read_text()
    assert "## memif, one DUT core" in md and "## veth pairs" in md
    assert "vrouter, 1 route" in md and "Linux kernel forwarding" in md
    assert "## NAT (issue 4)" in md and "sessions/s" in md
    assert elapsed < 240
