from __future__ import annotations

import pytest

from packet.harness import PacketRouter


@pytest.fixture
def router(tmp_path):
    r = PacketRouter(tmp_path)
    yield r
    r.close()


@pytest.fixture(scope="module")
def shared_router(tmp_path_factory):
    """One dataplane for all the tests of a module, for tests that leave no
    state behind (malformed input is only counted, refused requests change
    nothing): saves a start per test. Tests compare counter deltas, so they
    do not see each other."""
    r = PacketRouter(tmp_path_factory.mktemp("dp"))
    # Its worker sleeps when idle: it lives on while the module's other tests
    # start their own dataplane, whose worker polls on the same core.
    r.dp.params_set(idle_sleep_us=100)
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _no_mbuf_leak_in_shared_router(request):
    """A test on the shared dataplane leaves every mbuf in its pool (tests
    with their own dataplane are checked when it stops: PacketRouter.close)."""
    yield
    if "shared_router" in request.fixturenames:
        request.getfixturevalue("shared_router").assert_no_mbuf_leak()
