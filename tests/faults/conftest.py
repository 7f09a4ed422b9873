"""Faults and hostile clients against the management plane: the API's
security and bounds, malformed requests to every RPC, signals to both
processes. These need root (DPDK, namespaces) and the built dataplane."""

from __future__ import annotations

import itertools
import os

import grpc
import pytest
import yaml
from vrouter.appliance import Appliance
from vrouter.config import parse

_n = itertools.count()


def unique(prefix: str) -> str:
    """A name no other test process uses (DPDK file prefix, namespaces)."""
    return f"{prefix}{os.getpid() % 100000}{next(_n)}"


@pytest.fixture(autouse=True)
def _needs_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (DPDK, namespaces)")


@pytest.fixture
def router(tmp_path):
    """start(yaml_text) -> a running Appliance (in this process) whose API
    socket is tmp_path/api.sock; `{sock}` and `{n}` in the text are filled in
    (n: a number unique to this start, for device names). Stopped after."""
    started: list[Appliance] = []

    def start(text: str, **fmt) -> Appliance:
        name = unique("flt")
        sock = tmp_path / f"{name}.sock"
        cfg = parse(yaml.safe_load(text.format(sock=sock, n=next(_n) + 100, **fmt)), "<test>")
        app = Appliance(cfg, tmp_path / name, name=name)
        app.start()
        started.append(app)
        app.sock = sock
        app.channel = grpc.insecure_channel(f"unix:{sock}")
        return app

    yield start
    for app in started:
        app.channel.close()
        app.stop()

