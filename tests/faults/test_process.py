"""The dataplane launcher's bookkeeping: where DPDK keeps its runtime files,
the state file that lets a dataplane outlive its management plane, and what
is cleaned up after a dataplane that died."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from vrouter.dataplane.process import (DataplaneProcess, DataplaneRecord, DataplaneSettings,
                                       dpdk_runtime_dir)


def test_runtime_dir_follows_eal():
    assert dpdk_runtime_dir("p", {}, uid=0) == Path("/var/run/dpdk/p")
    assert dpdk_runtime_dir("p", {"XDG_RUNTIME_DIR": "/run/user/1000"}, uid=0) == \
        Path("/var/run/dpdk/p")
    assert dpdk_runtime_dir("p", {"XDG_RUNTIME_DIR": "/run/user/1000"}, uid=1000) == \
        Path("/run/user/1000/dpdk/p")
    assert dpdk_runtime_dir("p", {}, uid=1000) == Path("/tmp/dpdk/p")


def test_state_file_round_trip_and_garbage(tmp_path):
    f = tmp_path / "dataplane.json"
    rec = DataplaneRecord(os.getpid(), 0, "/x.sock", "pfx", ["a", "b"], 1.0)
    rec.save(f)
    assert DataplaneRecord.load(f) == rec
    assert not rec.alive()  # a start time that is not ours: another process
    stat = Path(f"/proc/{os.getpid()}/stat").read_text()
    me = DataplaneRecord(os.getpid(), int(stat.rsplit(")", 1)[1].split()[19]), "", "", [], 0)
    assert me.alive()
    for junk in ("", "{", '{"pid": 1}', "[]"):
        f.write_text(junk)
        assert DataplaneRecord.load(f) is None
    assert DataplaneRecord.load(tmp_path / "absent.json") is None


def test_leftovers_of_a_dead_dataplane_are_removed(tmp_path):
    """A dataplane that died with its management plane (a host crash, both
    killed): the next start removes its runtime directory, socket and state
    file; a live dataplane of another appliance is left alone."""
    prefix = f"leftover{os.getpid()}"
    s = DataplaneSettings(socket=tmp_path / "dp.sock", file_prefix=prefix)
    proc = DataplaneProcess(s, binary=Path("/bin/true"), state_path=tmp_path / "dataplane.json")
    rt = proc.runtime_dir()
    rt.mkdir(parents=True)
    (rt / "config").write_text("x")
    s.socket.write_text("")
    dead = subprocess.Popen(["true"])
    dead.wait()
    DataplaneRecord(dead.pid, 1, str(s.socket), prefix, [], time.time()).save(proc.state_path)
    assert proc.recorded() is None and proc.adopt() is None
    proc.clear_leftovers()
    assert not rt.exists() and not s.socket.exists() and not proc.state_path.exists()

    other = subprocess.Popen(["sleep", "30"])
    try:
        stat = Path(f"/proc/{other.pid}/stat").read_text()
        start = int(stat.rsplit(")", 1)[1].split()[19])
        DataplaneRecord(other.pid, start, str(s.socket), "someone-else", [],
                        time.time()).save(proc.state_path)
        assert proc.adopt() is None  # not ours to adopt
        proc.clear_leftovers()
        assert other.poll() is None and proc.state_path.exists()  # nor to stop
    finally:
        other.kill()
        other.wait()
