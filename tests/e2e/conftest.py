"""End-to-end fixtures: the real appliance (dataplane with af_packet ports on
veth pairs) and real Linux hosts in network namespaces."""

from __future__ import annotations

import itertools
import os
import subprocess

import pytest
import yaml

import limits
from vrouter.appliance import Appliance
from vrouter.config import parse

_run = itertools.count()


def sh(ns: str, cmd: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
    """Runs a shell command inside network namespace `ns`."""
    r = subprocess.run(["ip", "netns", "exec", ns, "sh", "-c", cmd], capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"[{ns}] {cmd} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture
def appliance(tmp_path):
    """Starts an appliance from a YAML text (names unique per test); stops it after."""
    started = []

    def start(text: str) -> Appliance:
        n = next(_run)
        cfg = parse(yaml.safe_load(text), "<test>")
        app = Appliance(cfg, tmp_path / "run", name=f"e2e{os.getpid()}-{n}")
        app.start()
        started.append(app)
        if limits.tiny():  # the tiny pass is worth something only if the sizes took
            with app.engine.lock:
                pools = app.engine.executor.dp.mempool_stats()
            assert pools["mbufs"]["size"] == limits.TINY["mbufs"], pools
        return app

    before = _netns()
    yield start
    # servers the test started in its namespaces die with them
    for ns in _netns() - before:
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True,
                              text=True).stdout.split()
        for pid in pids:
            subprocess.run(["kill", "-9", pid], capture_output=True)
    for app in started:
        app.stop()


def _netns() -> set[str]:
    return set(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else set()
