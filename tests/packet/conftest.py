from __future__ import annotations

import pytest

from packet.harness import PacketRouter


@pytest.fixture
def router(tmp_path):
    r = PacketRouter(tmp_path)
    yield r
    r.close()
