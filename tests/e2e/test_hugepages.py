"""The dataplane runs with hugepages when they are mounted, and without."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from e2e.conftest import sh
from e2e.test_two_subnets import CONFIG
from vrouter.dataplane.process import hugepages_mounted

NR = Path("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages")


@pytest.fixture
def hugepages(tmp_path):
    """256 x 2 MB pages on a private hugetlbfs mount; the machine's state is
    restored afterwards."""
    before = int(NR.read_text())
    mnt = tmp_path / "huge"
    mnt.mkdir()
    NR.write_text(str(before + 256))
    if int(NR.read_text()) < before + 128:
        NR.write_text(str(before))
        pytest.fail("cannot reserve hugepages on this machine")
    subprocess.run(["mount", "-t", "hugetlbfs", "none", str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)
    NR.write_text(str(before))


def test_auto_picks_hugepages_when_mounted(hugepages, appliance):
    assert hugepages_mounted() is not None
    app = appliance(CONFIG.replace("hugepages: no", "hugepages: auto"))
    cmd = app.process.settings.command(app.process.binary)
    assert "--no-huge" not in cmd and "--socket-mem" in cmd
    assert "3 received" in sh("vt-h1", "ping -c 3 -i 0.2 -W 2 10.10.2.2").stdout


def test_no_hugepages_when_configured_off(appliance):
    app = appliance(CONFIG)  # hugepages: no
    cmd = app.process.settings.command(app.process.binary)
    assert "--no-huge" in cmd
    assert "2 received" in sh("vt-h1", "ping -c 2 -i 0.2 -W 2 10.10.2.2").stdout
