"""Hardening tests (issue 8; dataplane/fuzz/README.md): hostile and malformed
input the feature tests in tests/packet do not cover, every finding of the
fuzzer (dataplane/fuzz/) as a crafted frame, exhaustion of each table, queue
and the mbuf pool, throttles and overload. Crafted frames through the real
dataplane's ring ports, exact frames and counter changes out, each test
named after the behaviour it pins down. run-tests.sh also runs them, with
tests/packet, against the AddressSanitizer + UndefinedBehaviorSanitizer
build of the dataplane, where a memory error aborts the process (the fixture
then sees a non-zero exit) and a leak is reported when it exits.
"""

from __future__ import annotations

import os

import pytest

from packet.harness import PacketRouter


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (DPDK)")


@pytest.fixture
def router(tmp_path):
    r = PacketRouter(tmp_path)
    yield r
    r.close()
