"""Shared fixtures: every test that needs a dataplane starts its own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "appliance"))
sys.path.insert(0, str(ROOT / "tests"))


def pytest_collection_modifyitems(config, items):
    # Packet and end-to-end tests need root (DPDK, namespaces).
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="needs root")
        for item in items:
            if "/packet/" in item.nodeid or "/e2e/" in item.nodeid:
                item.add_marker(skip)
