"""VROUTER_LIMITS=tiny: the exhaustion pass (run-tests.sh, dataplane/fuzz/ci.sh).

Every dataplane a test starts, through the packet harness or an Appliance,
gets the smallest tables, queues and pool, so that the suite's ordinary
traffic runs into full tables and empty pools and the refusal paths run
under every test: new work refused and counted, existing flows untouched,
the API still answering. A packet test that sets a size itself keeps it.
Tests that need more than this are marked `@pytest.mark.capacity("why")`
and skipped in that pass only.
"""

from __future__ import annotations

import os
from dataclasses import replace

TINY = {"mbufs": 512, "neigh_table": 32, "nat_sessions": 32, "queue_size": 32}


def tiny() -> bool:
    return os.environ.get("VROUTER_LIMITS", "") == "tiny"


def shrink(settings):
    """DataplaneSettings with the tiny sizes (when VROUTER_LIMITS=tiny)."""
    return replace(settings, **TINY) if tiny() else settings
