"""Shared fixtures: every test that needs a dataplane starts its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "appliance"))
sys.path.insert(0, str(ROOT / "tests"))

import limits  # noqa: E402 - after the path


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "capacity(reason): needs more than the tiny limits of "
        "VROUTER_LIMITS=tiny (tables, queues, mbufs); skipped in that pass")
    if limits.tiny():
        # every appliance a test starts gets the tiny sizes, whatever its YAML says
        import vrouter.appliance as appliance
        sized = appliance.dataplane_settings
        appliance.dataplane_settings = lambda *a, **kw: limits.shrink(sized(*a, **kw))


def pytest_collection_modifyitems(config, items):
    # Packet and end-to-end tests need root (DPDK, namespaces).
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root")
        for item in items:
            if "/packet/" in item.nodeid or "/e2e/" in item.nodeid:
                item.add_marker(skip)
    if limits.tiny():
        for item in items:
            mark = item.get_closest_marker("capacity")
            if mark is not None:
                why = mark.args[0] if mark.args else "needs the default limits"
                item.add_marker(pytest.mark.skip(reason=f"tiny limits: {why}"))
